/*
 * A small asynchronous HTTP client for ratetapd on libcurl's multi socket
 * interface, driven by the event loop (CURLMOPT_SOCKETFUNCTION and
 * CURLMOPT_TIMERFUNCTION map onto loop fds and a loop timer).  Used by the
 * usage poll and the OTLP exporter.
 *
 * Each loop gets its own multi handle, created on the first request.  The
 * callback of a request always runs later from the loop, never from inside
 * http_request(), and exactly once unless the request is cancelled (by
 * http_cancel() or http_shutdown()).
 *
 * Nothing here logs a header or a body: request headers may carry
 * credentials (they are wiped from memory once the transfer ends).
 */
#ifndef RATETAP_HTTP_H
#define RATETAP_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct loop;

struct http_response {
	long status;		/* HTTP status code, 0 when no response */
	int curl_code;		/* CURLcode of the transfer */
	const char *error;	/* NULL when a response arrived (any status);
				   else a short reason: "timeout",
				   "connection refused", "body too large", ... */
	const char *body;	/* NUL-terminated (body_len bytes before the
				   NUL); "" when empty; valid during the
				   callback only */
	size_t body_len;
	double total_secs;	/* duration of the transfer */
	void *priv;		/* for http_header() */
};

/* Completion callback: r is valid only while it runs. */
typedef void http_fn(const struct http_response *r, void *arg);

/*
 * Start an asynchronous request on loop l.  method is "GET", "POST", ...;
 * url an http:// or https:// URL (other schemes are refused, redirects are
 * not followed); headers a NULL-terminated array of "Name: value" strings
 * (or NULL), copied; body a NUL-terminated request body (or NULL), copied;
 * timeout_ms the total time allowed (connecting is allowed at most 10 s of
 * it); max_body_bytes the largest response body accepted (a larger one
 * aborts the transfer with error "body too large").
 *
 * Returns a request id (> 0) for http_cancel(), or -1 when the request
 * could not be started (no callback is made then).
 */
int64_t http_request(struct loop *l, const char *method, const char *url,
    const char *const *headers, const char *body, long timeout_ms,
    size_t max_body_bytes, http_fn *cb, void *arg);

/* http_request() with a body of body_len bytes that may hold NULs. */
int64_t http_request_len(struct loop *l, const char *method, const char *url,
    const char *const *headers, const char *body, size_t body_len,
    long timeout_ms, size_t max_body_bytes, http_fn *cb, void *arg);

/*
 * Value of the last response's header name (case-insensitive) during a
 * callback, or NULL when absent.  Valid during the callback only.
 */
const char *http_header(const struct http_response *r, const char *name);

/*
 * Verify the servers of every later request with the CA certificates in
 * path (CURLOPT_CAINFO) instead of the system store; NULL goes back to the
 * system store.  Verification is never turned off.  path is copied.
 * Returns 0, or -1 on ENOMEM (the setting is then unchanged).
 */
int http_set_ca_file(const char *path);

/*
 * Check that path names a readable regular file, for a start-up error
 * before any request.  Returns 0, or -1 with a one-line reason in err.
 */
int http_check_ca_file(const char *path, char *err, size_t errlen);

/*
 * Check with libcurl's URL parser (curl_url()) that url is an absolute
 * http:// or https:// URL naming a host.  Returns 0, or -1 with a one-line
 * reason in err.
 */
int http_check_url(const char *url, char *err, size_t errlen);

/* Abort request id without calling its callback.  Unknown ids are fine. */
void http_cancel(struct loop *l, int64_t id);

/*
 * Abort every request of loop l (no callbacks) and free its multi handle.
 * Call before loop_free().  Safe when no request was ever made.
 */
void http_shutdown(struct loop *l);

#endif /* RATETAP_HTTP_H */
