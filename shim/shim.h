/*
 * Private interfaces of libratetap.so: configuration (config.c), the
 * per-handle state table (handle.c), the transfer lifecycle (xfer.c), the
 * body tee (tee.c), response headers (headers.c) and the datagram sender
 * (send.c).  The exported curl_* hooks are in hooks.c.
 *
 * Everything here is hidden (the shim is built with -fvisibility=hidden);
 * only the hooks in hooks.c and the dlopen hook are exported.
 */
#ifndef RATETAP_SHIM_H
#define RATETAP_SHIM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "ratetap/hosts.h"
#include "ratetap/paths.h"
#include "ratetap/proto.h"
#include "init.h"
#include "resolve.h"
#include "scan.h"

/* ---- config.c ---------------------------------------------------------- */

#define CFG_MAX_HOSTS	RT_HOSTS_MAX
#define CFG_HOST_MAX	RT_HOST_MAX	/* longest host name kept */

struct cfg_host {
	char name[CFG_HOST_MAX];	/* lower case; IPv6 as "[addr]" */
	int port;			/* -1: any port */
};

struct shim_cfg {
	int off;			/* 1: pure pass-through */
	int sock_ok;			/* sock holds a usable path */
	int sock_default;		/* sock is the default path (no
					   RATETAP_SOCKET): its directory is
					   checked before the first send */
	char sock[RT_PATH_MAX];		/* ingest socket path */
	char journal[RT_PATH_MAX];	/* the journal beside it, "" if its
					   path does not fit */
	struct cfg_host *hosts;		/* CFG_MAX_HOSTS entries (allocated
					   by the first cfg_load()) */
	size_t nhosts;
};

/* The configuration, read once (cfg_ensure) from the environment. */
extern struct shim_cfg shim_cfg;

/* Set (release) once shim_cfg has been read; the shim's constructor does
 * it, so after start-up shim_off() is a plain load. */
extern _Atomic int shim_cfg_ready;

/* A parsed URL: only what the shim needs to decide and to report. */
struct cfg_url {
	char host[CFG_HOST_MAX];	/* lower case, IPv6 as "[addr]" */
	int port;			/* explicit or the scheme's default,
					   0 when unknown */
	int explicit_port;		/* the URL named the port */
	int tls;			/* https:// */
};

/*
 * Read the configuration from the environment into shim_cfg (RATETAP_DISABLE,
 * RATETAP_DEBUG for shim_debug(), RATETAP_HOSTS, RATETAP_SOCKET, the program name, the daemon
 * marker, AT_SECURE).  cfg_ensure() does it once per process; cfg_load()
 * re-reads unconditionally (tests).
 */
void cfg_load(void);
void cfg_ensure(void);

/* 1 when the shim only forwards calls (disabled, inside ratetapd,
 * setuid). */
int cfg_off(void);

/* cfg_off() for the hooks' fast paths: one load once the configuration
 * is read. */
static inline int
shim_off(void)
{
	if (__builtin_expect(!atomic_load_explicit(&shim_cfg_ready,
	    memory_order_acquire), 0))
		cfg_ensure();
	return shim_cfg.off;
}

/* Parse url into *out.  Returns 0, or -1 when it names no usable host. */
int cfg_parse_url(const char *url, struct cfg_url *out);

/*
 * Copy what cfg_parse_url() reads of url (scheme and host[:port], never
 * the userinfo: it is a credential) into buf (size len), so that url can
 * be parsed later from buf with the same result.  A NULL url, or one whose
 * part does not fit, gives "", which parses as no usable host.
 */
void cfg_url_keep(const char *url, char *buf, size_t len);

/* The program name for events: read from /proc/self/cmdline at the first
 * call (not at start-up: most programs never send an event). */
const char *cfg_prog(void);

/*
 * The ingest socket path to send to, or NULL when there is none or it must
 * not be used: for the default path (RATETAP_SOCKET unset) its directory is
 * created (0700) when missing and checked once per process, at the first
 * call, with rt_dir_check(): ours, private, not someone else's symbolic
 * link, every directory above it ours or root's and not writable by others
 * unless sticky; another user may have created /tmp/ratetap-$UID to
 * receive the events.  A refusal is said once under RATETAP_DEBUG=1.
 */
const char *cfg_sock(void);

/* The journal beside the ingest socket (events.journal), under the same
 * rule as cfg_sock(); NULL when it must not be used. */
const char *cfg_journal(void);

/* 1 when a transfer to u is to be tapped (RATETAP_HOSTS), else 0. */
int cfg_tapped(const struct cfg_url *u);

/* Parse a RATETAP_HOSTS value into hosts (at most max) with
 * rt_hosts_parse() (include/ratetap/hosts.h).  Entries that cannot be
 * used are skipped, and said under RATETAP_DEBUG=1.  Returns the number
 * of entries kept. */
size_t cfg_parse_hosts(const char *list, struct cfg_host *hosts, size_t max);

/* The program name for cmdline (NUL-separated argv, len bytes) into prog
 * (size len): argv[0]'s basename, or the script's for interpreters. */
void cfg_prog_name(const char *cmdline, size_t len, char *prog,
    size_t proglen);

/* ---- handle.c ---------------------------------------------------------- */

#define HDR_PART_MAX	512	/* a header line delivered in pieces is
					   joined up to this length */

/* The header tee's reading of one transfer's responses (headers.c). */
struct hdr_tee {
	struct rtp_event ev;		/* header fields of the current
					   response */
	char part[HDR_PART_MAX];	/* a line not yet complete */
	size_t partlen;
	int skip;			/* dropping the rest of a long line */
	int ended;			/* the blank line after the current
					   response's headers was seen */
};

/* State of one transfer in progress on a tapped handle. */
struct shim_xfer {
	struct scan_state scan;		/* body scanner */
	struct hdr_tee hdr;		/* response headers, as they arrive */
	char host[RTP_HOST_LEN];	/* host[:port] as reported */
	int tls;			/* https:// */
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
	uint64_t fed;			/* bytes given to the scanner */
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

#define URL_KEEP_MAX	(CFG_HOST_MAX + 32)	/* scheme://host:port */

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
	int stale;			/* url_keep, port_opt or curlu changed
					   since the target was worked out */
	char url_keep[URL_KEEP_MAX];	/* CURLOPT_URL as cfg_url_keep()
					   keeps it, parsed when a transfer
					   begins */
	int url_ok;			/* url holds the parsed CURLOPT_URL */
	struct cfg_url url;		/* CURLOPT_URL, parsed */
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

/* Unlink the state of easy from the table and return it (NULL if none);
 * the caller frees it with hdl_free(). */
struct shim_handle *hdl_remove(CURL *easy);

/* Free a state returned by hdl_remove(). */
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

/*
 * Apply one response header to ev when it is one of the rate-limit headers
 * of proto.h (name matched case-insensitively).  Returns 1 when applied, 0
 * for a header we do not read, -1 for one of ours with a malformed value
 * (ev unchanged).
 */
int hdr_apply(struct rtp_event *ev, const char *name, const char *value);

/* Read the last response's headers of easy with f->easy_nextheader and
 * apply them to ev; without curl_easy_nextheader sets
 * RTP_F_HEADERS_UNREAD.  The fallback for transfers not header-teed. */
void hdr_read(const struct curl_fns *f, CURL *easy, struct rtp_event *ev);

/* Start reading a transfer's headers afresh. */
void hdr_tee_init(struct hdr_tee *t);

/*
 * One header line (len bytes at p, as libcurl hands it to a header
 * callback) of a transfer: a status line ("HTTP/...") starts the set
 * afresh, ours are applied to t->ev, others are skipped at the cost of a
 * compare or two.  Lines after a response's blank line (trailers) are not
 * read.
 */
void hdr_tee_feed(struct hdr_tee *t, const char *p, size_t len);

/* Copy the header fields of h (built by the header tee) into ev. */
void hdr_merge(struct rtp_event *ev, const struct rtp_event *h);

/* ---- send.c ------------------------------------------------------------ */

/*
 * Send ev (pid, seq and dropped filled in here) to the ingest socket path,
 * never blocking.  A failure drops it and counts it; the count travels in
 * the next datagram that gets through.  Returns 0 when sent, -1 when
 * dropped.
 */
int send_event(const char *path, struct rtp_event *ev);

/* Datagrams dropped since the last one delivered. */
uint32_t send_dropped(void);

/*
 * When this process holds unreported drops, send one RTP_F_DROPS_ONLY
 * datagram carrying them to path (prog names the program).  Tried once
 * (with send_event's bounded retries); never blocks, takes no lock.
 * Returns 0 when there was nothing to report or it was sent, -1 when
 * dropped.  Runs from the shim's destructor.
 */
int send_report_drops(const char *path, const char *prog);

/* In a forked child: start the sequence and the drop count afresh. */
void send_atfork_child(void);

#endif /* RATETAP_SHIM_H */
