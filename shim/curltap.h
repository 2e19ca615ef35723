/*
 * The libcurl layer of libratetap.so: the per-handle state table
 * (handle.c), the transfer lifecycle (xfer.c), the body and header tees
 * (tee.c), and hdr_read() of headers.c.  The exported curl_* hooks are in
 * hooks.c, the resolver of the caller's libcurl in resolve.c, got.c and
 * dlhook.c (resolve.h).  It fills the shared record of shim.h.
 */
#ifndef RATETAP_SHIM_CURLTAP_H
#define RATETAP_SHIM_CURLTAP_H

#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "resolve.h"
#include "shim.h"

/* ---- handle.c ---------------------------------------------------------- */

/* State of one transfer in progress on a tapped handle. */
struct shim_xfer {
	struct rec rec;			/* what every layer records */
	int tee_on;			/* our WRITEFUNCTION is installed */
	int hdr_on;			/* our HEADERFUNCTION is installed */
	int wmode;			/* enum tee_wmode: where the write
					   callback's stream is */
	int wblank;			/* W_HDR: the current line is blank
					   so far */
	size_t wpre;			/* W_BOUNDARY: bytes of "HTTP/" seen
					   at the end of the last delivery */
	int confirm;			/* the URL libcurl requests is to be
					   read at the first callback
					   (xfer_confirm) */
	int drop;			/* it was not a tapped one: pass
					   everything through, report
					   nothing */
};

/*
 * Where the bytes given to the write callback are.  With CURLOPT_HEADER
 * (PHP's CURLINFO_HEADER_SIZE idiom, pycurl's HEADER) libcurl passes every
 * response's header block through the write callback before the body: a
 * block begins with a status line ("HTTP/1.1 100 Continue", "HTTP/2 200",
 * a redirect's, a proxy's CONNECT answer) and ends with a blank line.
 */
enum tee_wmode {
	W_BOUNDARY = 0,		/* a header block may begin here */
	W_HDR,			/* inside a header block */
	W_BODY			/* the body: everything is fed */
};

/* What the shim knows about one easy handle.  Fields other than easy,
 * next and multi are only touched by the thread that owns the handle (as
 * libcurl requires); the table lock guards easy, next and multi. */

struct shim_handle {
	CURL *easy;			/* key */
	struct shim_handle *next;	/* hash chain */
	CURLM *multi;			/* multi handle it was added to */

	/* the application's settings, as it made them */
	curl_write_callback user_wf;	/* CURLOPT_WRITEFUNCTION, NULL=fwrite */
	void *user_wd;			/* CURLOPT_WRITEDATA */
	int wd_set;			/* user_wd was set (else stdout) */
	int wf_set;			/* user_wf was set (else fwrite) */
	curl_write_callback user_hf;	/* CURLOPT_HEADERFUNCTION, NULL:
					   libcurl's default */
	void *user_hd;			/* CURLOPT_HEADERDATA */
	int hf_set;			/* user_hf was set */
	int hd_set;			/* user_hd was set */
	int created;			/* its creation (or reset) was seen */
	int cb_known;			/* the write callback and data above are
					   the handle's: created, or both were
					   set since.  Else no tee (plugin
					   mode) */
	int hcb_known;			/* the same for the header callback
					   and data */

	/* where a transfer goes (xfer_target) */
	int url_seen;			/* CURLOPT_URL or CURLOPT_CURLU seen */
	int stale;			/* url, port_opt or curlu changed
					   since the target was worked out */
	int url_ok;			/* url holds the parsed CURLOPT_URL */
	struct cfg_url url;		/* CURLOPT_URL, parsed when set (the
					   userinfo is never read) */
	CURLU *curlu;			/* CURLOPT_CURLU (overrides the URL) */
	long port_opt;			/* CURLOPT_PORT, 0: the URL's */
	int follow;			/* CURLOPT_FOLLOWLOCATION: an untracked
					   transfer's effective URL is
					   checked when it ends */
	int tapped;			/* host in RATETAP_HOSTS */
	int tls;
	char host[RTP_HOST_LEN];	/* host[:port] for events */

	/* the transfer */
	int active;			/* begun, not yet finalized */
	pid_t owner;			/* the process that began it: a
					   forked child reports nothing of a
					   transfer it inherited */
	const struct curl_fns *fns;	/* libcurl it was begun with */
	struct shim_xfer *x;		/* allocated on first tapped transfer */
};

/* Find the state of easy, or NULL. */
struct shim_handle *hdl_lookup(CURL *easy);

/* Find or create the state of easy.  NULL when out of memory. */
struct shim_handle *hdl_get(CURL *easy);

/* A fresh state for easy (a new handle, or one reset), in place of any
 * it had.  NULL when out of memory. */
struct shim_handle *hdl_fresh(CURL *easy);

/* Unlink the state of easy from the table and return it (NULL if none);
 * the caller frees it with hdl_free(). */
struct shim_handle *hdl_remove(CURL *easy);

/* Free a state returned by hdl_remove() (kept for reuse, a few of them). */
void hdl_free(struct shim_handle *sh);

/* Record (under the table lock) the multi handle sh was added to. */
void hdl_set_multi(struct shim_handle *sh, CURLM *multi);

/*
 * The active handles added to multi: a malloc'ed array in *out (caller
 * frees) of *n entries.  Returns 0, or -1 when out of memory.
 */
int hdl_collect_multi(CURLM *multi, struct shim_handle ***out, size_t *n);

/* Register the fork handlers of the table lock (once; every locked
 * operation on the table makes sure of it first). */
void hdl_atfork_init(void);

/* ---- xfer.c ------------------------------------------------------------ */

/* Record url as the handle's CURLOPT_URL; it is parsed (and the target
 * worked out) by xfer_refresh() when a transfer begins. */
void xfer_set_url(struct shim_handle *sh, const char *url);

/* Work out the target of sh again (xfer_target) when its URL or port
 * changed since the last time.  Cheap when nothing changed. */
void xfer_refresh(const struct curl_fns *f, struct shim_handle *sh);

/*
 * Work out where a transfer on sh goes (tapped, tls, host) from its
 * CURLOPT_CURLU (read with f->url_get; without it, or with f NULL, a CURLU
 * handle counts as untapped), else its CURLOPT_URL, and CURLOPT_PORT.
 */
void xfer_target(const struct curl_fns *f, struct shim_handle *sh);

/*
 * The first response of a transfer on a handle with a CURLOPT_CURLU is
 * arriving (or the transfer ended without one): judge the URL libcurl
 * actually requested (CURLINFO_EFFECTIVE_URL, before any redirect), set
 * the reported host from it, or mark the transfer dropped when that host
 * is not tapped.
 */
void xfer_confirm(struct shim_handle *sh);

/*
 * A transfer on easy ended (result cc) that the shim did not see begin:
 * a handle configured before the shim was loaded (plugin mode).  When its
 * effective URL's host is tapped, send the event with the headers and the
 * usage unreadable (the body was not teed).
 */
void xfer_report_unseen(const struct curl_fns *f, CURL *easy, CURLcode cc);

/*
 * A transfer starts on sh (curl_easy_perform or curl_multi_add_handle):
 * when the host is tapped, install the tee and start the scanner.  Returns
 * 1 when the transfer is tracked, 0 when not.
 */
int xfer_begin(const struct curl_fns *f, struct shim_handle *sh);

/* Undo xfer_begin() for a transfer that never started (the real
 * curl_multi_add_handle failed): restore the callbacks, send nothing. */
void xfer_abort(const struct curl_fns *f, struct shim_handle *sh);

/*
 * The transfer on sh ended (result code cc), or, with RTP_F_NO_DONE in
 * flags, was abandoned before its completion was seen.  Exactly once per
 * transfer: builds and sends the event (for NO_DONE only when a response
 * code was received) and restores the application's callbacks.
 */
void xfer_finalize(const struct curl_fns *f, struct shim_handle *sh,
    CURLcode cc, uint32_t flags);

/* Put the application's write callback and data back on easy, and, when
 * header is 1, its header callback and data (used after finalizing and on
 * a duplicated handle). */
void xfer_restore_callbacks(const struct curl_fns *f, CURL *easy,
    const struct shim_handle *sh, int write, int header);

/* ---- tee.c ------------------------------------------------------------- */

/*
 * The WRITEFUNCTION installed on tapped handles; userdata is the
 * struct shim_handle.  Calls the application's write callback (or fwrite to
 * its WRITEDATA, stdout by default) with the same bytes and returns its
 * result unchanged; feeds the scanner only bytes the application accepted.
 */
size_t tee_write(char *ptr, size_t size, size_t nmemb, void *userdata);

/*
 * Feed the scanner of x the body bytes among len bytes at p that the
 * application accepted from the write callback, leaving out response
 * header blocks (CURLOPT_HEADER, see enum tee_wmode).  Advances x->wmode.
 */
void tee_scan(struct shim_xfer *x, const char *p, size_t len);

/*
 * The HEADERFUNCTION installed on tapped handles; userdata is the struct
 * shim_handle.  Does what libcurl would have done with the header line:
 * the application's header callback with its HEADERDATA; without one, its
 * write callback (or fwrite) with HEADERDATA when that is set; else
 * nothing (the line is accepted).  Returns that result unchanged; a line
 * the application accepted goes to the header reader (hdr_tee_feed).
 */
size_t tee_header(char *ptr, size_t size, size_t nmemb, void *userdata);

/* ---- headers.c --------------------------------------------------------- */

/* Read the last response's headers of easy with f->easy_nextheader and
 * apply them to ev; without curl_easy_nextheader sets
 * RTP_F_HEADERS_UNREAD.  The fallback for transfers not header-teed. */
void hdr_read(const struct curl_fns *f, CURL *easy, struct rtp_event *ev);

#endif /* RATETAP_SHIM_CURLTAP_H */
