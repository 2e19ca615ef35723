/*
 * The tracker: ratetapd's model of the user's rate limits, fed by shim
 * events (response headers and usage) and by the usage poll, persisted to
 * the state file and read by the control socket, the metrics and OTLP.
 *
 * Rules (DESIGN.md, "Tracker rules"): header utilizations are 0-1 fractions
 * stored x100, the poll's are percentages stored as is; header resets are
 * unix seconds, the poll's RFC 3339, all stored as UTC time_t; a window rolls
 * over (its token counters zeroed exactly once) when a reset time later than
 * the stored one by more than TRK_JITTER_SECS arrives from either source, or
 * when an event arrives after the stored reset time has passed; an earlier
 * reset time never replaces a stored one that is still in the future.
 *
 * The struct is public so that the daemon's readers (status JSON, metrics,
 * OTLP) can read it; only tracker.c writes it.  Single-threaded: the daemon
 * calls everything from its event loop.
 */
#ifndef RATETAP_TRACKER_H
#define RATETAP_TRACKER_H

#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ratetap/proto.h"

#define TRK_JITTER_SECS		600	/* reset moves within this are jitter */
#define TRK_DEFAULT_WARN_PCT	80.0
#define TRK_NAME_LEN		64
#define TRK_MAX_MODELS		256	/* beyond this, models fold into "other" */
#define TRK_MAX_PROGS		256	/* likewise programs */
#define TRK_ERR_LEN		256
#define TRK_COUNT_MAX		INT64_C(999999999999999) /* counters saturate
					   here: 15 digits print exactly in JSON */
#define TRK_UTIL_MAX		1e6	/* largest utilization accepted, percent */
#define TRK_CREDITS_MAX		1e15	/* largest credit amount accepted */
#define TRK_TIME_MAX		INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

enum trk_win {
	TRK_FIVE_HOUR,
	TRK_SEVEN_DAY,
	TRK_SEVEN_DAY_SONNET,
	TRK_SEVEN_DAY_OPUS,
	TRK_WIN_COUNT
};

/* API-key limits, anthropic-ratelimit-<kind>-{limit,remaining,reset} */
enum trk_api {
	TRK_API_REQUESTS,
	TRK_API_TOKENS,
	TRK_API_INPUT_TOKENS,
	TRK_API_OUTPUT_TOKENS,
	TRK_API_COUNT
};

struct trk_tokens {
	int64_t input;			/* usage.input_tokens */
	int64_t output;			/* usage.output_tokens */
	int64_t cache_creation_input;	/* usage.cache_creation_input_tokens */
	int64_t cache_read_input;	/* usage.cache_read_input_tokens */
};

struct trk_window {
	int has_util;		/* utilization known */
	double utilization;	/* percent, 0-100 (may exceed 100) */
	time_t resets_at;	/* UTC; 0 when unknown */
	struct trk_tokens tokens; /* used in the current window */
	int64_t rollovers;	/* times the window was seen to roll over */
	int warned;		/* warning threshold crossing logged */
};

struct trk_extra {
	int known;		/* the poll reported extra_usage */
	int is_enabled;
	int has_monthly_limit;
	double monthly_limit;	/* credits (cents) */
	int has_used_credits;
	double used_credits;	/* credits (cents) */
	int has_util;
	double utilization;	/* percent */
};

struct trk_api_limit {
	int known;		/* seen in a response */
	int64_t limit;
	int64_t remaining;
	time_t reset;		/* 0 when unknown */
};

/* Per model or per program totals (never reset by rollovers). */
struct trk_named {
	char name[TRK_NAME_LEN];
	int64_t requests;
	struct trk_tokens tokens;
};

/*
 * What the daemon has taken from the journal (daemon/journal.c), kept in
 * the tracker so that trk_save() writes it in the same file, in the same
 * rename, as the counts derived from it: a SIGKILL at any moment neither
 * loses nor replays an event.
 */
#define TRK_SEEN_MAX	1024	/* writers remembered (least recent go) */
#define TRK_SEEN_WINDOW	64	/* seqs below the highest still tracked */

struct trk_seen {		/* one writer's sequence: (pid, stamp) */
	int32_t pid;
	uint32_t max_seq;	/* highest seq taken */
	uint64_t stamp;
	uint64_t below;		/* bit k: seq max_seq - 1 - k taken */
	int64_t used;		/* trk_jrn.tick when last seen (LRU) */
};

struct trk_jrn {
	/* persisted */
	int64_t offset;		/* next byte of the journal to read */
	uint64_t ino;		/* inode of the journal offset is in, 0: none */
	int64_t records;	/* records taken */
	int64_t repeats;	/* records refused as already taken */
	int64_t corrupt_bytes;	/* skipped: garbage, torn records */
	int64_t refused;	/* journal files refused (not ours, a link,
				   a FIFO, ...) */
	int64_t tick;
	struct trk_seen seen[TRK_SEEN_MAX];
	int nseen;
	/* not persisted */
	int16_t index[TRK_SEEN_MAX * 4]; /* hash of seen[], -1: empty */
	int indexed;		/* index[] matches seen[] */
	int64_t size;		/* the journal's size when last read */
	int64_t held;		/* bytes it occupies (not yet freed) */
	int64_t cap;		/* its cap (RATETAP_JOURNAL_MAX) */
	int disk_full;		/* its file system has no space left */
	char error[TRK_ERR_LEN]; /* why it is not read, "" when it is */
};

struct trk_config {
	double warn_pct;	/* warning threshold, percent (default 80) */
};

struct trk {
	struct trk_config cfg;
	struct trk_window win[TRK_WIN_COUNT];
	struct trk_extra extra;
	struct trk_api_limit api[TRK_API_COUNT];

	/* last unified status seen in headers (enum rtp_ustatus, rtp_claim) */
	int unified_status;
	int representative_claim;
	time_t last_event;	/* time of the last accepted event, 0 if none */
	int64_t retry_after;	/* last retry-after seen, seconds; -1 none */
	time_t retry_after_at;	/* when it was seen */

	/* counters since the state was created (persisted) */
	int64_t requests_total;		/* tapped transfers with a response */
	int64_t requests_rate_limited;	/* HTTP 429 or unified status rejected */
	int64_t requests_overloaded;	/* HTTP 529 */
	int64_t requests_errors;	/* other HTTP >= 400, or no response */
	int64_t usage_unreadable;	/* /v1/messages whose usage was unread */
	struct trk_tokens tokens_total;

	/* datagram accounting (persisted) */
	int64_t datagrams_accepted;
	int64_t datagrams_rejected[RTP_E_COUNT]; /* by enum rtp_err; [0] unused */
	int64_t datagrams_foreign;	/* from another uid */
	int64_t client_drops;		/* reported by shims */

	/* usage poll */
	time_t poll_last_ok;		/* 0 if never */
	time_t poll_last_attempt;
	char poll_last_error[TRK_ERR_LEN]; /* "" when the last poll succeeded */
	int64_t poll_ok_total;
	int64_t poll_fail_total;

	/* per model / per program */
	struct trk_named *models;
	int nmodels;
	struct trk_named *progs;
	int nprogs;

	struct trk_jrn jrn;	/* the journal's reader (daemon/journal.c) */

	int dirty;		/* changed since the last trk_clear_dirty() */
};

/* Poll result, as parsed from GET /api/oauth/usage (see poll_parse()). */
struct trk_poll_window {
	int present;		/* key present and not null */
	int has_util;
	double utilization;	/* percent */
	time_t resets_at;	/* 0 when null/absent */
};

struct trk_poll {
	struct trk_poll_window win[TRK_WIN_COUNT];
	struct trk_extra extra;
};

/* Create an empty tracker.  cfg may be NULL for defaults.  NULL on ENOMEM. */
struct trk *trk_new(const struct trk_config *cfg);
void trk_free(struct trk *t);

/*
 * Empty t back to the state of trk_new(), keeping its configuration and
 * its tables' storage.
 */
void trk_reset(struct trk *t);

/* Mark t as saved: clears t->dirty (set by every change). */
void trk_clear_dirty(struct trk *t);

/*
 * Names used in the status JSON, state file, logs and metrics:
 * "five_hour", "seven_day", "seven_day_sonnet", "seven_day_opus";
 * "requests", "tokens", "input_tokens", "output_tokens"; unified status
 * ("allowed", "allowed_warning", "rejected", "other") and representative
 * claim ("five_hour", ..., "overage", "other").  NULL when out of range or
 * absent (RTP_US_ABSENT, RTP_CLAIM_ABSENT).
 */
const char *trk_win_name(int w);
const char *trk_api_name(int a);
const char *trk_ustatus_name(int s);
const char *trk_claim_name(int c);

/*
 * Apply one validated event (rtp_validate() returned RTP_OK) that arrived at
 * now.  Updates utilizations, resets (with rollover), API-key limits,
 * retry-after, counters, per-model and per-program totals.  An event flagged
 * RTP_F_DROPS_ONLY (a process reporting its last drops at exit) only adds
 * its dropped count.
 */
void trk_event(struct trk *t, const struct rtp_event *ev, time_t now);

/* Count a datagram refused by rtp_validate() (err) or from another uid. */
void trk_rejected(struct trk *t, int err);
void trk_foreign(struct trk *t);

/* A poll succeeded with *p at now: apply it (rollover rules included). */
void trk_poll_ok(struct trk *t, const struct trk_poll *p, time_t now);

/* A poll failed at now; msg is a one-line reason without secrets. */
void trk_poll_failed(struct trk *t, const char *msg, time_t now);

/*
 * Time passes: roll over every window whose stored reset time is <= now.
 * The daemon calls this from a timer; trk_event() calls it too.
 */
void trk_tick(struct trk *t, time_t now);

/*
 * Parse a /api/oauth/usage body (len bytes, not NUL-terminated) into *p.
 * Nulls, missing and unknown keys are fine; anything that is not a JSON
 * object, or a known key of the wrong type, is an error.  Returns 0, or -1
 * with a one-line reason in err (never a copy of the body).
 */
int poll_parse(const char *body, size_t len, struct trk_poll *p, char *err,
    size_t errlen);

/*
 * Parse an RFC 3339 time ("2026-11-28T20:00:00Z", with or without fractional
 * seconds, "Z" or a numeric offset) into UTC seconds.  Returns 0 or -1.
 */
int trk_parse_time(const char *s, time_t *out);

/* Format t as RFC 3339 UTC ("2026-11-28T20:00:00Z") into buf (>= 21). */
void trk_format_time(time_t t, char *buf, size_t len);

/*
 * The status JSON of DESIGN.md ("windows", "extra_usage", "requests",
 * "models", "processes", "poll", plus extra keys).  Caller frees it.
 */
cJSON *trk_status_json(const struct trk *t, time_t now);

/*
 * Persist to path atomically (write path.tmp, fsync, rename, fsync the
 * directory).  Returns 0, or -1 with errno set and a reason in err.
 */
int trk_save(const struct trk *t, const char *path, char *err, size_t errlen);

/*
 * Load state from path into t (which must be fresh from trk_new()).
 * Returns 0 when loaded, 1 when the file does not exist, -1 when it is
 * unreadable or corrupt (reason in err; t is left empty).
 */
int trk_load(struct trk *t, const char *path, char *err, size_t errlen);

#endif /* RATETAP_TRACKER_H */
