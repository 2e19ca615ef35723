/*
 * The ledger: ratetapd's history in SQLite ($XDG_STATE_HOME/ratetap/
 * ledger.db, docs/ledger.md).  One row per counted request and the
 * windows' utilization samples over time.  The daemon owns it (WAL mode,
 * one writer); `ratetap report` reads it.
 *
 * Rows are buffered in memory and written in one transaction by
 * ldg_flush(), which the daemon calls just before it saves the state.
 * Each request row carries the tracker's event number (base + the
 * state's datagrams_accepted); at start ldg_reconcile() deletes rows the
 * state does not cover, so after a SIGKILL the replayed journal records
 * land once: the ledger's totals equal the state's counters.
 *
 * Nothing in it that the state file does not already hold: no prompts,
 * no request or response content, no credentials.
 */
#ifndef RATETAP_LEDGER_H
#define RATETAP_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#define LDG_SCHEMA_VERSION	1	/* PRAGMA user_version we write */
#define LDG_RETENTION_DAYS	400	/* default retention */
#define LDG_MAX_BYTES		(256LL << 20) /* default size bound */
#define LDG_PENDING_MAX		200000	/* rows buffered at most */
#define LDG_BATCH_ROWS		256	/* rows written at once, without
					   waiting for the next save */
#define LDG_SAMPLE_SECS		60	/* an unchanged figure is sampled at
					   most this often per window */
#define LDG_ERR_LEN		256

/* The stream of a request row: which counter its seq follows. */
#define LDG_STREAM_EVENTS	"events" /* shim datagrams and journal */
#define LDG_STREAM_CLAUDE	"claude" /* Claude Code's transcripts: seq is
					   struct tx_entry's */

struct ldg;

struct ldg_config {
	int retention_days;	/* rows older than this go; 0: default */
	int64_t max_bytes;	/* database size bound; 0: default */
};

/* One counted request (strings are copied; NULL or "" is stored NULL). */
struct ldg_request {
	const char *stream;	/* LDG_STREAM_EVENTS, ... */
	int64_t seq;		/* unique within the stream */
	time_t at;		/* when it was counted, UTC */
	const char *source;	/* "libcurl", "tls", "claude_code_transcript" */
	const char *program;
	const char *project;	/* NULL when unknown */
	const char *model;	/* NULL when the response named none */
	int64_t input;
	int64_t output;
	int64_t cache_creation_input;
	int64_t cache_read_input;
	int http_status;	/* 0: no response */
	int rate_limited;
};

/* One utilization figure of a window. */
struct ldg_sample {
	const char *window;	/* "five_hour", ... */
	time_t at;		/* when it was observed */
	double utilization;	/* percent */
	const char *source;	/* "header", "poll", "statusline", "rollover" */
	time_t resets_at;	/* the instance's reset, 0 unknown */
};

/*
 * Open (creating or migrating) the ledger at path.  A file that is not a
 * database, fails its integrity check or cannot be migrated is moved
 * aside (path.corrupt-<time>) and a fresh one created; a file of a newer
 * schema is left alone and the ledger stays off.  Returns the ledger (off
 * when it cannot work: ldg_status_json() says why), NULL only on ENOMEM.
 */
struct ldg *ldg_open(const char *path, const struct ldg_config *cfg);

/* 1 when the WAL is checkpointed by the ledger's own thread (its commits
 * only signal it), 0 when SQLite checkpoints inside the commits. */
int ldg_checkpoints_in_thread(const struct ldg *l);

/* Flush nothing, close, free.  NULL is fine. */
void ldg_close(struct ldg *l);

/* Is the ledger writing (open and not failed)? */
int ldg_ok(const struct ldg *l);

/*
 * Make the events stream agree with the state: applied is the state's
 * event count (datagrams_accepted); fresh says the state started empty
 * (no file, or a corrupt one moved aside).  Rows beyond what a loaded
 * state covers are deleted (their events come again from the journal);
 * a fresh state starts a new numbering above every row kept.
 */
int ldg_reconcile(struct ldg *l, int64_t applied, int fresh);

/* The seq of the events stream's event number n. */
int64_t ldg_events_seq(const struct ldg *l, int64_t n);

/* Buffer a row (copied).  Returns 0, or -1 when dropped (full, off). */
int ldg_add_request(struct ldg *l, const struct ldg_request *r);
int ldg_add_sample(struct ldg *l, const struct ldg_sample *s);

/*
 * Write every buffered row in one transaction; once an hour (and at the
 * first call) also apply retention and the size bound.  Returns 0, or -1
 * (rows stay buffered; the reason is in the status).
 */
int ldg_flush(struct ldg *l, time_t now);

/* Add the status JSON's "ledger" object's members to o. */
int ldg_status_json(const struct ldg *l, cJSON *o);

/* Rows buffered, not yet written (0 for NULL). */
size_t ldg_pending(const struct ldg *l);

/* Rows written since open (requests, samples), for tests. */
int64_t ldg_written(const struct ldg *l);

#endif /* RATETAP_LEDGER_H */
