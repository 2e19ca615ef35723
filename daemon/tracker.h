/*
 * The tracker: ratetapd's model of the user's rate limits, fed by shim
 * events (response headers and usage) and by the usage poll, persisted to
 * the state file and read by the control socket, the metrics and OTLP.
 *
 * Rules (docs/tracker.md, "Rules as implemented"): header utilizations are 0-1 fractions
 * stored x100, the poll's are percentages stored as is; header resets are
 * unix seconds, the poll's RFC 3339, all stored as UTC time_t; a window rolls
 * over (its token counters zeroed exactly once) when a reset time later than
 * the stored one by more than TRK_JITTER_SECS arrives from either source, or
 * when an event arrives after the stored reset time has passed; an earlier
 * reset time never replaces a stored one that is still in the future.
 *
 * The struct is public so that the daemon's readers (status JSON, metrics,
 * OTLP) can read it.  Its writers are tracker.c (the rules), state.c (which
 * fills it from the state file) and journal.c (its struct trk_jrn, the
 * journal reader's position, kept here to be saved with the counts).
 * Single-threaded: the daemon calls everything from its event loop.
 */
#ifndef RATETAP_TRACKER_H
#define RATETAP_TRACKER_H

#include <stdint.h>
#include <time.h>

#include "ratetap/proto.h"
#include "ratetap/rtime.h"

#include "forecast.h"

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
#define TRK_TIME_MAX		RT_TIME_MAX	/* 9999-12-31T23:59:59Z */

/*
 * Windows.  The first TRK_WIN_FIXED are always there, at these indices;
 * the usage endpoint's `limits` array, its other flat `seven_day_*` keys
 * and the headers' `unified-<window>-*` names add more (up to
 * TRK_WIN_MAX), each named in lower case [a-z0-9_] (`seven_day_fable`).
 */
enum trk_win {
	TRK_FIVE_HOUR,
	TRK_SEVEN_DAY,
	TRK_SEVEN_DAY_SONNET,
	TRK_SEVEN_DAY_OPUS,
	TRK_WIN_FIXED
};

#define TRK_WIN_MAX		32	/* windows at most; more are dropped */
#define TRK_WIN_NAME_LEN	40	/* window names, NUL included */
#define TRK_LABEL_LEN		32	/* a scope's display name, NUL incl. */

/*
 * Where a window's figure (its utilization) came from.  A figure is kept
 * with the time it was observed; a newer observation replaces it, where a
 * source's observation counts as made TRK_*_LAG_SECS before its time
 * (docs/tracker.md, "Which figure wins").
 */
enum trk_src {
	TRK_SRC_NONE,		/* no figure */
	TRK_SRC_HEADER,		/* a response's anthropic-ratelimit-* header */
	TRK_SRC_POLL,		/* GET /api/oauth/usage */
	TRK_SRC_STATUSLINE,	/* Claude Code's statusLine JSON */
	TRK_SRC_ROLLOVER,	/* 0, set by the tracker when a window rolled
				   over: until a source reports on the new one */
	TRK_SRC_COUNT
};

#define TRK_POLL_LAG_SECS	60	/* the usage endpoint trails headers */
#define TRK_STATUSLINE_LAG_SECS	0
#define TRK_WARN_REARM_PCT	10.0	/* a fall this far below the threshold
					   re-arms its warning (a reset that
					   was not seen) */

/* Which responses' tokens a window counts (enum trk_match). */
enum trk_match {
	TRK_MATCH_ALL,		/* every /v1/messages response */
	TRK_MATCH_MODEL,	/* models whose name holds match[] */
	TRK_MATCH_NONE		/* none: a scope ratetap cannot attribute */
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
	char name[TRK_WIN_NAME_LEN];	/* "five_hour", "seven_day_fable" */
	char label[TRK_LABEL_LEN];	/* scope's display name, "" if none */
	int match;			/* enum trk_match */
	char match_word[TRK_LABEL_LEN];	/* lower-case letters and digits */
	int has_util;		/* utilization known */
	double utilization;	/* percent, 0-100 (may exceed 100) */
	int source;		/* enum trk_src of the figure */
	time_t observed_at;	/* when the figure was observed; 0 unknown */
	time_t resets_at;	/* UTC; 0 when unknown */
	time_t prev_reset;	/* reset of the instance that ended last: a
				   reset near it is stale (0: none) */
	int status;		/* enum rtp_ustatus from headers, 0 unknown */
	struct trk_tokens tokens; /* used in the current window */
	int64_t rollovers;	/* times the window was seen to roll over */
	int warned;		/* warning logged in this window instance */
	struct fc_ring fc;	/* the instance's figures, for the forecast
				   (not persisted) */
};

/* An amount of money as the usage endpoint's `spend` gives it. */
struct trk_money {
	int known;
	int64_t amount_minor;	/* in 10^-exponent units of currency */
	int exponent;		/* 0-9 */
	char currency[8];	/* ISO 4217 code, "" when not given */
};

/* The usage endpoint's `spend` object. */
struct trk_spend {
	int known;		/* the poll reported it */
	struct trk_money used;
	struct trk_money limit;
	int has_percent;
	double percent;
	int enabled;		/* -1 unknown, 0, 1 */
	char disabled_reason[48];
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
 * the tracker so that state_save() writes it in the same file, in the same
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

/*
 * State of another module saved in the state file, in the same rename as
 * the counts derived from it (Claude Code's transcripts: their offsets and
 * dedupe memory).  state.c writes save(arg) as the root key "transcripts"
 * (or, without save, what it loaded, so that nothing is lost) and keeps
 * that key as loaded in `loaded` for its owner to take.
 */
struct cJSON;				/* <cjson/cJSON.h>: only state.c and
					   the owner look inside */

struct trk_ext {
	struct cJSON *(*save)(void *arg); /* a new object, or NULL on ENOMEM */
	void *arg;
	struct cJSON *loaded;		/* owned by the tracker until taken */
};

/*
 * One counted request, as the tracker hands it to cfg.on_request (the
 * ledger): every event with a response or with counted tokens.  Strings
 * live only for the call.
 */
struct trk_req {
	int64_t seq;		/* the event's number: datagrams_accepted */
	time_t at;
	const char *source;	/* "libcurl", "tls", "claude_code_transcript" */
	const char *prog;
	const char *project;	/* NULL when unknown */
	const char *model;	/* "" when none was counted */
	struct trk_tokens tokens; /* as counted (0 when not counted) */
	int http_status;	/* 0: no response */
	int rate_limited;
};

struct trk_config {
	double warn_pct;	/* warning threshold, percent (default 80) */
	/* optional hooks, called from the tracker (NULL: none) */
	void (*on_request)(void *arg, const struct trk_req *r);
	void (*on_sample)(void *arg, const char *window, int source,
	    time_t at, double pct, time_t resets_at); /* a figure kept */
	void *hook_arg;
};

struct trk {
	struct trk_config cfg;
	struct trk_window win[TRK_WIN_MAX];
	int nwin;		/* windows in use, >= TRK_WIN_FIXED */
	struct trk_extra extra;
	struct trk_spend spend;
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
	int64_t requests_cut_short;	/* streams ended early (RTP_F_CUT_SHORT) */
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
	struct trk_ext tx;	/* daemon/transcripts.c's saved state */

	int dirty;		/* changed since the last trk_clear_dirty() */
	int win_full_logged;	/* "too many windows" said (not persisted) */
};

/* Poll result, as parsed from GET /api/oauth/usage (pollparse.h). */
struct trk_poll_window {
	char name[TRK_WIN_NAME_LEN];	/* "" at a fixed index: its name */
	char label[TRK_LABEL_LEN];	/* scope's display name or "" */
	int match;		/* enum trk_match */
	char match_word[TRK_LABEL_LEN];
	int present;		/* key present and not null */
	int has_util;
	double utilization;	/* percent */
	time_t resets_at;	/* 0 when null/absent */
};

struct trk_poll {
	/* the TRK_WIN_FIXED windows at their indices, then the others */
	struct trk_poll_window win[TRK_WIN_MAX];
	int nwin;		/* entries used (at least TRK_WIN_FIXED) */
	struct trk_extra extra;
	struct trk_spend spend;
	time_t requested_at;	/* when the request was sent; 0: use the
				   time trk_poll_ok() is given */
};

/* One observation of a window by a source, for trk_observe(). */
struct trk_obs {
	int source;		/* enum trk_src */
	time_t observed_at;	/* when the source saw it */
	int has_util;
	double utilization;	/* percent */
	time_t resets_at;	/* 0: not given */
	int status;		/* enum rtp_ustatus, 0: not given */
	const char *label;	/* scope display name or NULL */
	int match;		/* enum trk_match, or -1: keep / default */
	const char *match_word;
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
 * the fixed windows "five_hour", "seven_day", "seven_day_sonnet",
 * "seven_day_opus" (others are named in struct trk_window);
 * "requests", "tokens", "input_tokens", "output_tokens"; unified status
 * ("allowed", "allowed_warning", "rejected", "other"), representative
 * claim ("five_hour", ..., "overage", "other") and figure source
 * ("header", "poll", "statusline", "rollover").  NULL when out of range or
 * absent (RTP_US_ABSENT, RTP_CLAIM_ABSENT, TRK_SRC_NONE).
 */
const char *trk_win_name(int w);
const char *trk_src_name(int s);
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

/*
 * Usage from a source other than a shim event (Claude Code's transcripts):
 * tk (signed: a later, larger copy of an entry gives the difference; no
 * counter goes below 0) into the totals and the rows of model and prog,
 * and requests (0 or 1) into requests.total and both rows.  Windows are
 * left alone: the caller knows which ones the entry's time falls in and
 * uses trk_win_tokens_add().
 */
void trk_usage_add(struct trk *t, const char *model, const char *prog,
    const struct trk_tokens *tk, int requests);

/* Add tk (signed) to window w's token counters, kept in [0, max]. */
void trk_win_tokens_add(struct trk *t, int w, const struct trk_tokens *tk);

/* 1 when a response of model counts in window w (its match rule). */
int trk_win_counts(const struct trk *t, int w, const char *model);

/* Count a datagram refused by rtp_validate() (err) or from another uid. */
void trk_rejected(struct trk *t, int err);
void trk_foreign(struct trk *t);

/*
 * The window named name (lower case [a-z0-9_], 1 to TRK_WIN_NAME_LEN - 1
 * characters), or -1 when there is none.  trk_win_get() creates it when
 * absent and there is room; -1 when the name is bad or the table full.
 */
int trk_win_find(const struct trk *t, const char *name);
int trk_win_get(struct trk *t, const char *name);

/*
 * Sanitise a scope or header name into a window name part: lower case,
 * every run of other characters one '_', no '_' at either end, cut to
 * fit len.  Returns the length written (0: nothing usable).
 */
size_t trk_name_part(const char *s, char *out, size_t len);

/*
 * The window name a header's window token names: "5h" five_hour, "7d"
 * seven_day, "7d_<x>" seven_day_<x>, "5h_<x>" five_hour_<x>, anything
 * else itself.  Returns 0, or -1 when nothing usable remains.
 */
int trk_header_window(const char *token, char *out, size_t len);

/*
 * One observation of window name by a source at now: resets (rollover,
 * jitter, stale rules) and the figure (the freshest observation wins),
 * then the warning.  Creates the window when there is room.  Returns 0,
 * or -1 when the window could not be created.
 */
int trk_observe(struct trk *t, const char *name, const struct trk_obs *o,
    time_t now);

/*
 * The reset time window w goes by: its own, or (a scoped window without
 * one) that of the window it follows, *base set to that window's index
 * (else to -1).  0 when unknown.
 */
time_t trk_win_reset(const struct trk *t, int w, int *base);

/* A poll succeeded with *p at now: apply it (rollover rules included). */
void trk_poll_ok(struct trk *t, const struct trk_poll *p, time_t now);

/* A poll failed at now; msg is a one-line reason without secrets. */
void trk_poll_failed(struct trk *t, const char *msg, time_t now);

/*
 * Time passes: roll over every window whose stored reset time is <= now.
 * The daemon calls this from a timer; trk_event() calls it too.
 */
void trk_tick(struct trk *t, time_t now);

#endif /* RATETAP_TRACKER_H */
