/*
 * Private interfaces of libratetap.so that every tap layer shares, none of
 * them with a libcurl type: configuration and host matching (config.c),
 * response headers (headers.c), the record of one HTTP exchange and the
 * event built from it (record.c), and the sender (send.c).  A layer (the
 * libcurl hooks, curltap.h) fills a struct rec as the exchange goes by and
 * hands what it read to rec_report() when it ends.
 *
 * Everything here is hidden (the shim is built with -fvisibility=hidden);
 * only the hooks are exported.
 */
#ifndef RATETAP_SHIM_H
#define RATETAP_SHIM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ratetap/hosts.h"
#include "ratetap/paths.h"
#include "ratetap/proto.h"
#include "init.h"
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

/* ---- headers.c --------------------------------------------------------- */

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

/*
 * Apply one response header to ev when it is one of the rate-limit headers
 * of proto.h (name matched case-insensitively).  Returns 1 when applied, 0
 * for a header we do not read, -1 for one of ours with a malformed value
 * (ev unchanged).
 */
int hdr_apply(struct rtp_event *ev, const char *name, const char *value);

/* Start reading a transfer's headers afresh. */
void hdr_tee_init(struct hdr_tee *t);

/*
 * One header line (len bytes at p, as a header callback gets it, line
 * end included) of a transfer: a status line ("HTTP/...") starts the set
 * afresh, ours are applied to t->ev, others are skipped at the cost of a
 * compare or two.  Lines after a response's blank line (trailers) are not
 * read.
 */
void hdr_tee_feed(struct hdr_tee *t, const char *p, size_t len);

/* Copy the header fields of h (built by the header tee) into ev. */
void hdr_merge(struct rtp_event *ev, const struct rtp_event *h);

/* ---- record.c ---------------------------------------------------------- */

/* One HTTP exchange being watched, whichever layer sees its bytes. */
struct rec {
	struct scan_state scan;		/* body scanner */
	struct hdr_tee hdr;		/* response headers, as they arrive */
	char host[RTP_HOST_LEN];	/* host[:port] as reported */
	int tls;			/* over TLS */
	uint64_t fed;			/* bytes given to the scanner */
};

/* Start r afresh for an exchange with host (host[:port] as events report
 * it), over TLS when tls is 1. */
void rec_begin(struct rec *r, const char *host, int tls);

/* Give the scanner of r len response body bytes at p. */
static inline void
rec_body(struct rec *r, const char *p, size_t len)
{
	if (len > 0) {
		scan_feed(&r->scan, p, len);
		r->fed += len;
	}
}

/* One response header line of r (see hdr_tee_feed). */
static inline void
rec_header(struct rec *r, const char *p, size_t len)
{
	hdr_tee_feed(&r->hdr, p, len);
}

/* What a layer read of an exchange that ended, for its event. */
struct rec_end {
	const char *host;		/* as reported */
	int tls;
	int teed;			/* the body went through the scanner */
	const struct scan_result *res;	/* NULL when not teed */
	const struct rtp_event *hdrs;	/* the header tee's reading; NULL:
					   read_hdrs reads them */
	uint64_t fed;			/* body bytes seen */
	int32_t result;			/* the layer's result (libcurl: the
					   CURLcode) */
	long status;			/* HTTP status, 0: no response */
	const char *method;		/* request method, NULL: unknown */
	const char *url;		/* the URL or the request's path,
					   NULL: unknown */
	/* headers for a response not header-teed (hdrs NULL); may be
	   NULL */
	void (*read_hdrs)(void *arg, struct rtp_event *ev);
	void *read_arg;
};

/*
 * Build the event of an exchange from e (and flags, RTP_F_*): path and
 * method, headers, the scanner's usage judged against the status, the
 * program name; and send it to the ingest socket.  With RTP_F_NO_DONE in
 * flags and no response, nothing is sent.
 */
void rec_report(const struct rec_end *e, uint32_t flags);

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
