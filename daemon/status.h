/*
 * The status JSON (daemon/status.c; every key in docs/tracker.md and
 * docs/daemon.md), the document `ratetap status --json` prints and
 * GET /v1/status serves.  Built in one place: the tracker's figures plus
 * what only the running daemon knows, handed over in struct status_daemon.
 */
#ifndef RATETAP_STATUS_H
#define RATETAP_STATUS_H

#include <time.h>

#include <cjson/cJSON.h>

#include "control.h"
#include "jsonw.h"
#include "tracker.h"

/* What the daemon adds to the tracker's figures. */
struct status_daemon {
	const char *version;		/* daemon.version */
	long pid;			/* daemon.pid */
	time_t started_at;		/* daemon.started_at */
	int poll_enabled;		/* poll.enabled */
	time_t poll_next_at;		/* poll.next_at, 0: none */
	int poll_interval;		/* poll.interval, seconds */
	struct ctl_stats control;	/* the control socket's counters */
	int has_metrics_listener;	/* a metrics listener runs */
	struct ctl_stats metrics_listener; /* its counters */
	const char *journal_path;	/* journal.path */
	const char *state_path;		/* state.path */
	time_t state_saved_at;		/* state.last_saved_at, 0: never */
	const char *state_save_error;	/* "" or NULL when the last save
					   worked */
	const char *state_recovered_from; /* corrupt file moved aside, ""
					   or NULL: none */
	long poll_skipped;		/* poll.skipped */
	/* the daemon's own sources and stores write their objects as
	   members of the document's root (Claude Code's transcripts:
	   "transcripts", "projects"; the ledger: "ledger"); returns 0 or
	   -1; NULL: none */
	int (*add_source)(void *arg, struct jw *root);
	void *source_arg;
};

/*
 * The status JSON of t at now, as text (the layout of cJSON_Print()):
 * what status_json() holds, written without building it.  0 with the
 * NUL-terminated text in *out (*len bytes; the caller frees it), -1 when
 * out of memory or add_source failed.
 */
int status_render(const struct trk *t, time_t now,
    const struct status_daemon *d, char **out, size_t *len);

/*
 * The status JSON of t at now ("windows", "extra_usage", "spend",
 * "requests", "models", "processes", "poll", ...), with the daemon's
 * "daemon", "control", "metrics_listener", "journal" and "state" objects
 * and the poll's schedule when d is not NULL.  Caller frees it; NULL when
 * out of memory.
 */
cJSON *status_json(const struct trk *t, time_t now,
    const struct status_daemon *d);

#endif /* RATETAP_STATUS_H */
