/*
 * The control endpoint: HTTP over the AF_UNIX control socket, served by
 * libmicrohttpd in external-epoll mode inside ratetapd's loop.  The loop
 * watches the listening socket (we accept, then hand each connection to
 * MHD) and MHD's epoll fd; MHD_run() runs after every wake-up and from a
 * timer set from MHD_get_timeout() and the request deadlines.
 *
 * Abuse limits, so that no client can keep others out: at most 256
 * connections, 32 per client (the peer's pid on AF_UNIX, its address on
 * TCP: a client over its share loses its own oldest connection), and at the
 * limit the oldest connection is dropped for the new one; a request must
 * arrive whole within 5 s of the connection (or of the previous answer);
 * an AF_UNIX peer of another uid than ours (or root) is refused.
 *
 *   GET /v1/status   the status JSON (application/json)
 *   GET /metrics     Prometheus text (text/plain; version=0.0.4)
 *   GET /v1/health   200 "ok"
 *   POST /v1/statusline  a `rate_limits` object of Claude Code's statusLine
 *                    (at most 16 KiB), applied by h.statusline; answers
 *                    the status JSON after it (400 with the reason when
 *                    refused)
 *
 * anything else is 404 (unknown path) or 405 (method other than GET/HEAD)
 * with a JSON error body.  The same code serves the optional TCP metrics
 * listener with only /metrics and /v1/health.
 */
#ifndef RATETAP_CONTROL_H
#define RATETAP_CONTROL_H

#include <stddef.h>

struct loop;
struct ctl;

/* What the endpoints serve; called from the loop for each request. */
struct ctl_handlers {
	int (*status)(void *arg, char **out, size_t *len); /* the status
					   JSON, malloc'ed text; 0 or -1 */
	int (*metrics)(void *arg, char **out, size_t *len); /* malloc'ed
					   text; 0 or -1 */
	void *arg;
	const char *bearer;		/* non-NULL: /metrics needs the header
					   "Authorization: Bearer <bearer>"
					   (copied; compared in constant
					   time); others get 401 */
	int (*statusline)(void *arg, const char *body, size_t len,
	    char *err, size_t errlen);	/* POST /v1/statusline (NULL: 404);
					   0 or -1 with a reason */
};

#define CTL_FULL	0	/* control socket: every endpoint */
#define CTL_METRICS	1	/* TCP listener: /metrics and /v1/health */

/*
 * Serve HTTP on listen_fd (a listening, nonblocking socket; ownership
 * passes to the server, which closes it on ctl_stop()) on loop l.  mode is
 * CTL_FULL or CTL_METRICS.  h is copied.  Returns the server, or NULL with
 * a reason in err.
 */
struct ctl *ctl_start(struct loop *l, int listen_fd, int mode,
    const struct ctl_handlers *h, char *err, size_t errlen);

/* Counters of a server, for the status and the metrics. */
struct ctl_stats {
	unsigned long open;		/* connections now */
	unsigned long accepted;		/* connections taken */
	unsigned long timed_out;	/* request not in within its deadline */
	unsigned long evicted;		/* oldest dropped at the limit */
	unsigned long per_client;	/* dropped: client over its share */
	unsigned long refused;		/* closed at once (out of fds) */
	unsigned long foreign;		/* AF_UNIX peer of another uid */
	unsigned long unauthorized;	/* /metrics without the bearer token */
};

/* Copy c's counters into st (zeros for NULL). */
void ctl_get_stats(const struct ctl *c, struct ctl_stats *st);

/* Stop serving: close connections and the listening socket.  NULL is
 * fine. */
void ctl_stop(struct ctl *c);

#endif /* RATETAP_CONTROL_H */
