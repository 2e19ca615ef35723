/*
 * Claude Code's transcripts: ratetapd follows the .jsonl files under
 * projects/ Claude Code appends one JSON object per line to (under each
 * directory of CLAUDE_CONFIG_DIR, a comma list, else ~/.claude and
 * ~/.config/claude), with inotify and a periodic rescan, reading only
 * appended bytes, in bounded chunks per loop tick.  Each assistant entry
 * with usage counts once per (message.id, requestId) (a larger copy adds
 * the difference; a sidechain replay of a counted message, nothing) into
 * the models, the program row "claude", a project (its cwd), and the
 * windows its timestamp falls in (recomputed as reset times become known).
 *
 * Of a line, only timestamp, requestId, isSidechain, cwd and message.{id,
 * model, usage} are read, into locals; the parsed line is freed at once.
 * Nothing else of a transcript is kept, logged or exposed.
 *
 * The offsets, the dedupe memory and what the windows got are saved in
 * the state file with the counts (struct trk_ext), so that a restart
 * neither loses nor repeats an entry.  See docs/claude-code.md.
 */
#ifndef RATETAP_TRANSCRIPTS_H
#define RATETAP_TRANSCRIPTS_H

#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "tracker.h"

struct loop;
struct tx;

#define TX_PROGRAM	"claude"	/* the program row of Claude Code */
#define TX_SOURCE	"Claude Code transcript"
#define TX_LINE_MAX	(1024 * 1024)	/* longer lines are bad lines */
#define TX_SEEN_MAX	8192	/* entries remembered (dedupe, windows) */
#define TX_FILES_MAX	4096	/* files followed at most */
#define TX_PROJ_MAX	256	/* projects; beyond, "other" */
#define TX_BACKFILL	(7 * 86400) /* entries older than this: skipped */

/* One counted entry, for a ledger (tx_set_entry_cb()). */
struct tx_entry {
	time_t ts;			/* its timestamp */
	const char *model;		/* message.model, printable */
	const char *project;		/* its cwd, printable */
	struct trk_tokens tokens;	/* added now (a larger copy of an
					   entry already counted: only the
					   difference) */
	int is_new;			/* 1: a new request; 0: a larger
					   copy of one counted before */
	const char *source;		/* TX_SOURCE */
	int64_t seq;			/* 1, 2, ...: entries and larger
					   copies counted so far, persisted
					   with the state, so that an entry
					   read again after a restart that
					   lost its count has its number
					   again */
};

typedef void tx_entry_fn(void *arg, const struct tx_entry *e);

/*
 * Follow the transcripts on loop l into tracker t, taking what t->tx
 * loaded from the state file and installing its save hook.  The roots are
 * read from CLAUDE_CONFIG_DIR / HOME now.  Returns the follower, or NULL
 * on ENOMEM (a root that does not exist is fine: the rescan finds it).
 */
struct tx *tx_start(struct loop *l, struct trk *t);

/* Stop following (t's save hook removed).  NULL is fine. */
void tx_stop(struct tx *x);

/* Call fn(arg, entry) for each entry as it is counted (NULL: none). */
void tx_set_entry_cb(struct tx *x, tx_entry_fn *fn, void *arg);

/*
 * Add "transcripts" (files, bytes read, entries, duplicates, bad lines,
 * errors, ...) and "projects" (name: requests and tokens) to the status
 * object st.  Returns 0 or -1 on ENOMEM.
 */
int tx_status_json(const struct tx *x, cJSON *st);

/*
 * Feed one line (len bytes, no newline) as read at now: exposed for the
 * unit tests, which drive the parser and the dedupe without files.
 */
void tx_feed_line(struct tx *x, const char *line, size_t len, time_t now);

/* Bring the windows' tokens in line with the entries' times at now. */
void tx_recompute(struct tx *x, time_t now);

#endif /* RATETAP_TRANSCRIPTS_H */
