/*
 * ratetap wire protocol: one datagram per finished transfer, sent by the
 * shim (libratetap.so) to ratetapd over an AF_UNIX SOCK_DGRAM socket.
 *
 * The datagram is exactly one struct rtp_event in host byte order (sender and
 * receiver are on the same machine, the receiver checks the sender's uid with
 * SO_PASSCRED).  It is versioned by magic + version + length; a receiver
 * rejects anything whose magic, version or length differ from its own, and
 * validates every field (see rtp_validate()).  An event flagged
 * RTP_F_DROPS_ONLY describes no transfer: only its dropped count matters.
 * docs/protocol.md describes it.
 *
 * Only numbers, status codes, the model name, host, URL path, pid, program
 * name and request id travel: never headers' other values, credentials,
 * request or response content.
 */
#ifndef RATETAP_PROTO_H
#define RATETAP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define RTP_MAGIC	0x31505452u	/* bytes "RTP1" on little endian */
#define RTP_VERSION	1

/* Bits of rtp_event.flags */
#define RTP_F_STREAM		0x0001u	/* body was an SSE stream */
#define RTP_F_TLS		0x0002u	/* https:// */
#define RTP_F_NO_DONE		0x0004u	/* removed from its multi handle before a
					   CURLMSG_DONE was seen: completion unknown */
#define RTP_F_HEADERS_UNREAD	0x0008u	/* headers not teed and libcurl lacks
					   curl_easy_nextheader() */
#define RTP_F_ERROR_BODY	0x0010u	/* body was {"type":"error",...} */
#define RTP_F_DROPS_ONLY	0x0020u	/* no transfer: carries only the
					   process's unreported drops (sent
					   when it exits) */
#define RTP_F_CUT_SHORT		0x0040u	/* a stream that ended early: its usage
					   is what was seen so far */
#define RTP_F_TLS_TAP		0x0080u	/* seen by the TLS-layer tap (OpenSSL,
					   GnuTLS), not through libcurl;
					   curl_code is then 0 or 56 */
#define RTP_F_ALL		0x00ffu

/* rtp_event.usage_state */
enum rtp_usage_state {
	RTP_USAGE_NONE = 0,	/* endpoint carries no usage (count_tokens,
				   error, non-messages path) */
	RTP_USAGE_OK = 1,	/* model and usage read from the body */
	RTP_USAGE_UNREADABLE = 2, /* a /v1/messages body whose usage could not
				   be read (truncated, malformed, not teed) */
	RTP_USAGE_MAX = 2
};

/* rtp_event.method */
enum rtp_method {
	RTP_M_OTHER = 0, RTP_M_GET, RTP_M_POST, RTP_M_PUT, RTP_M_DELETE,
	RTP_M_HEAD, RTP_M_PATCH, RTP_M_MAX = RTP_M_PATCH
};

/* anthropic-ratelimit-unified-status, -5h-status, -7d-status,
 * -overage-status */
enum rtp_ustatus {
	RTP_US_ABSENT = 0, RTP_US_ALLOWED, RTP_US_ALLOWED_WARNING,
	RTP_US_REJECTED, RTP_US_OTHER, RTP_US_MAX = RTP_US_OTHER
};

/* anthropic-ratelimit-unified-representative-claim */
enum rtp_claim {
	RTP_CLAIM_ABSENT = 0, RTP_CLAIM_FIVE_HOUR, RTP_CLAIM_SEVEN_DAY,
	RTP_CLAIM_SEVEN_DAY_OPUS, RTP_CLAIM_SEVEN_DAY_SONNET,
	RTP_CLAIM_OVERAGE, RTP_CLAIM_OTHER, RTP_CLAIM_MAX = RTP_CLAIM_OTHER
};

/*
 * Optional numeric fields.  Bit (1 << RTP_X) of rtp_event.present says the
 * field was present (and parsed) in the response; absent fields are 0.
 */
enum rtp_dbl {			/* index into rtp_event.d[] */
	RTP_D_UTIL_5H,		/* unified-5h-utilization, fraction 0-1+ */
	RTP_D_UTIL_7D,		/* unified-7d-utilization */
	RTP_D_UTIL_7D_SONNET,	/* unified-7d_sonnet-utilization */
	RTP_D_UTIL_7D_OPUS,	/* unified-7d_opus-utilization */
	RTP_D_UTIL_OVERAGE,	/* unified-overage-utilization */
	RTP_D_FALLBACK_PCT,	/* unified-fallback-percentage */
	RTP_D_SURPASSED_5H,	/* unified-5h-surpassed-threshold */
	RTP_D_SURPASSED_7D,	/* unified-7d-surpassed-threshold */
	RTP_D_COUNT
};

enum rtp_int {			/* index into rtp_event.i[] */
	RTP_I_RESET_5H,		/* unified-5h-reset, unix seconds */
	RTP_I_RESET_7D,		/* unified-7d-reset */
	RTP_I_RESET_7D_SONNET,	/* unified-7d_sonnet-reset */
	RTP_I_RESET_7D_OPUS,	/* unified-7d_opus-reset */
	RTP_I_RESET,		/* unified-reset */
	RTP_I_RESET_OVERAGE,	/* unified-overage-reset */
	RTP_I_REQ_LIMIT,	/* requests-limit */
	RTP_I_REQ_REMAINING,	/* requests-remaining */
	RTP_I_REQ_RESET,	/* requests-reset (RFC 3339 -> unix s) */
	RTP_I_TOK_LIMIT,	/* tokens-limit */
	RTP_I_TOK_REMAINING,
	RTP_I_TOK_RESET,
	RTP_I_IN_LIMIT,		/* input-tokens-limit */
	RTP_I_IN_REMAINING,
	RTP_I_IN_RESET,
	RTP_I_OUT_LIMIT,	/* output-tokens-limit */
	RTP_I_OUT_REMAINING,
	RTP_I_OUT_RESET,
	RTP_I_RETRY_AFTER,	/* retry-after, seconds */
	RTP_I_COUNT
};

#define RTP_PRESENT_D(x)	(UINT64_C(1) << (x))
#define RTP_PRESENT_I(x)	(UINT64_C(1) << (RTP_D_COUNT + (x)))
#define RTP_PRESENT_ALL		((UINT64_C(1) << (RTP_D_COUNT + RTP_I_COUNT)) - 1)

#define RTP_MODEL_LEN	64	/* sizes include the terminating NUL */
#define RTP_HOST_LEN	64
#define RTP_PATH_LEN	96
#define RTP_PROG_LEN	32
#define RTP_REQID_LEN	64
#define RTP_REASON_LEN	32

/*
 * A window a header names beyond the fixed fields above
 * (anthropic-ratelimit-unified-<name>-{utilization,reset,status}, e.g.
 * "7d_fable"): rtp_event.win[], the first rtp_event.nwin entries used.
 */
#define RTP_WIN_SLOTS		4
#define RTP_WIN_NAME_LEN	24	/* [a-z0-9_], NUL-terminated */
#define RTP_W_UTIL		0x01u	/* rtp_win.util present */
#define RTP_W_RESET		0x02u	/* rtp_win.reset present */
#define RTP_W_STATUS		0x04u	/* rtp_win.status present */
#define RTP_W_ALL		0x07u

struct rtp_win {
	char name[RTP_WIN_NAME_LEN];	/* the header's window, lower case */
	double util;		/* -utilization, fraction 0-1+ */
	int64_t reset;		/* -reset, unix seconds */
	uint8_t present;	/* RTP_W_* */
	uint8_t status;		/* -status, enum rtp_ustatus */
	uint8_t pad[6];		/* zero */
};

/* Largest token count accepted (a sanity bound, not an API limit). */
#define RTP_TOKENS_MAX	INT64_C(1000000000000)

struct rtp_event {
	uint32_t magic;		/* RTP_MAGIC */
	uint16_t version;	/* RTP_VERSION */
	uint16_t length;	/* sizeof(struct rtp_event) */
	uint32_t flags;		/* RTP_F_* */
	int32_t pid;		/* sender's pid */
	uint32_t seq;		/* per-process sequence number, from 1 */
	uint32_t dropped;	/* datagrams this process failed to send
				   since its last delivered one */
	int32_t curl_code;	/* CURLcode of the transfer */
	uint16_t http_status;	/* final response code, 0 if none */
	uint8_t method;		/* enum rtp_method */
	uint8_t usage_state;	/* enum rtp_usage_state */
	uint8_t unified_status;	/* enum rtp_ustatus */
	uint8_t status_5h;	/* enum rtp_ustatus */
	uint8_t status_7d;	/* enum rtp_ustatus */
	uint8_t overage_status;	/* enum rtp_ustatus */
	uint8_t claim;		/* enum rtp_claim */
	uint8_t pad[3];		/* zero */
	uint64_t present;	/* RTP_PRESENT_* bits */
	int64_t input_tokens;	/* usage.input_tokens (excludes cache) */
	int64_t output_tokens;
	int64_t cache_creation_input_tokens;
	int64_t cache_read_input_tokens;
	double d[RTP_D_COUNT];	/* see enum rtp_dbl */
	int64_t i[RTP_I_COUNT];	/* see enum rtp_int */
	char model[RTP_MODEL_LEN];	/* response model, "" if unknown */
	char host[RTP_HOST_LEN];	/* host[:port] of the URL */
	char path[RTP_PATH_LEN];	/* URL path, no query string */
	char prog[RTP_PROG_LEN];	/* program name (script for interpreters) */
	char request_id[RTP_REQID_LEN];	/* request-id header */
	char overage_reason[RTP_REASON_LEN]; /* overage-disabled-reason */
	/* appended: windows named only by headers */
	uint8_t nwin;		/* entries of win[] used, 0-RTP_WIN_SLOTS */
	uint8_t wpad[7];	/* zero */
	struct rtp_win win[RTP_WIN_SLOTS]; /* unused entries all zero */
};

#define RTP_EVENT_SIZE	sizeof(struct rtp_event)
/* The size of a version 1 event before the window tail was appended:
 * rtp_validate() still accepts it (from shims already running), as an
 * event with no header-named windows. */
#define RTP_EVENT_SIZE_V1	offsetof(struct rtp_event, nwin)

_Static_assert(sizeof(struct rtp_event) <= 1024,
    "an event must fit one small datagram");
_Static_assert(RTP_D_COUNT + RTP_I_COUNT <= 64, "present bits");
_Static_assert(offsetof(struct rtp_event, present) == 40,
    "no implicit padding before the 64-bit fields");
_Static_assert(offsetof(struct rtp_event, nwin) == 648,
    "the version 1 layout ends where the window tail begins");
_Static_assert(offsetof(struct rtp_event, win) ==
    offsetof(struct rtp_event, nwin) + 8 && sizeof(struct rtp_win) == 48,
    "no implicit padding in the window entries");

/* Why rtp_validate() rejected a datagram. */
enum rtp_err {
	RTP_OK = 0,
	RTP_E_SIZE,		/* length is neither RTP_EVENT_SIZE nor RTP_EVENT_SIZE_V1 */
	RTP_E_MAGIC,
	RTP_E_VERSION,
	RTP_E_FIELD,		/* a field out of its type's range */
	RTP_E_STRING,		/* a string not NUL-terminated or not printable */
	RTP_E_COUNT
};

/*
 * Check that buf (len bytes, as received) is a well-formed event: size,
 * magic, version, every enum, flag, count and string.  On RTP_OK copies it
 * into *out.  Never reads past len.  Returns an enum rtp_err.
 */
int rtp_validate(const void *buf, size_t len, struct rtp_event *out);

/* Short name of an enum rtp_err, for logs and metrics labels. */
const char *rtp_strerror(int err);

/*
 * Initialise ev as an empty event of this protocol version (all fields
 * zero, magic, version and length set).
 */
void rtp_init(struct rtp_event *ev);

/* Copy src into dst (size dstlen), truncating and keeping only printable
 * ASCII (others become '?'); always NUL-terminates. */
void rtp_strlcpy(char *dst, const char *src, size_t dstlen);

/*
 * The journal: the durable hand-off (docs/protocol.md, "The journal").
 * The shim appends one record per finished transfer, with one write(2) on
 * a file opened O_APPEND, to <dir of the ingest socket>/events.journal;
 * ratetapd reads it from the offset it saved with its state.  A record is
 * a header followed by the event (struct rtp_event, as in a datagram) and
 * zero padding to a multiple of 8 bytes.  The header frames the record
 * whatever the event's size: a reader skips an event it cannot validate
 * by its length and goes on with the next record.
 *
 * (pid, stamp, seq) names an event uniquely: stamp is the CLOCK_REALTIME
 * time in ns at which the process's sequence began (at its first event,
 * and anew in a forked child, whose pid differs anyway), seq counts from
 * 1 within it.  A reader that sees the same triple twice counts it once.
 */
#define RTJ_MAGIC	0x314a5452u	/* bytes "RTJ1" on little endian */
#define RTJ_VERSION	1
#define RTJ_NAME	"events.journal"
#define RTJ_READER_NAME	"events.reader"	/* beside it while a daemon that
					   reads the journal runs */
#define RTJ_ALIGN	8
#define RTJ_RECORD_MAX	4096		/* a larger length is garbage */
#define RTJ_CAP_DEFAULT_MB 256		/* bytes not yet taken by the daemon,
					   at most (RATETAP_JOURNAL_MAX) */
#define RTJ_CAP_MAX_MB	65536

struct rtj_hdr {
	uint32_t magic;		/* RTJ_MAGIC */
	uint16_t version;	/* RTJ_VERSION (of this header) */
	uint16_t length;	/* whole record, header included, multiple
				   of RTJ_ALIGN */
	uint32_t sum;		/* rtj_sum() of the record with sum = 0 */
	int32_t pid;		/* writer's pid (as in the event) */
	uint64_t stamp;		/* see above, never 0 */
	uint32_t seq;		/* as in the event */
	uint16_t payload;	/* bytes of event after the header */
	uint16_t flags;		/* zero */
};

_Static_assert(sizeof(struct rtj_hdr) == 32, "journal header layout");

#define RTJ_RECORD_LEN(payload) \
	((sizeof(struct rtj_hdr) + (payload) + RTJ_ALIGN - 1) & \
	~(size_t)(RTJ_ALIGN - 1))

/* One record of this version: header and event. */
struct rtj_record {
	struct rtj_hdr h;
	struct rtp_event ev;
	char pad[RTJ_RECORD_LEN(sizeof(struct rtp_event)) -
	    sizeof(struct rtj_hdr) - sizeof(struct rtp_event) + 1];
};

/* Checksum of len bytes (a multiple of 8) at buf: a fast 32-bit mix that
 * detects torn and overwritten records, not a defence against forgery
 * (the file is private to its owner). */
uint32_t rtj_sum(const void *buf, size_t len);

/*
 * Fill rec (header, event, padding) for ev, named by (pid, stamp, seq) as
 * in ev.  Returns the record's length (the bytes to write).
 */
size_t rtj_encode(struct rtj_record *rec, const struct rtp_event *ev,
    uint64_t stamp);

/* Why rtj_frame() refused a record. */
enum rtj_err {
	RTJ_OK = 0,
	RTJ_SHORT,		/* fewer bytes than the record needs: wait */
	RTJ_BAD,		/* not a record here: garbage or torn */
};

/*
 * Check the record that starts at buf (avail bytes readable): magic,
 * version, length, checksum.  On RTJ_OK *len is its length and *h its
 * header; the event is the hdr->payload bytes after the header.
 */
int rtj_frame(const void *buf, size_t avail, struct rtj_hdr *h,
    size_t *len);

#endif /* RATETAP_PROTO_H */
