/*
 * The state file (daemon/state.c, docs/tracker.md "State file"): the
 * whole tracker as versioned JSON, written atomically and read back with
 * every field checked, and what the daemon does with one it cannot read.
 */
#ifndef RATETAP_STATE_H
#define RATETAP_STATE_H

#include <stddef.h>
#include <time.h>

#include "tracker.h"

/*
 * Persist to path atomically (write path.tmp, fsync, rename, fsync the
 * directory).  Returns 0, or -1 with errno set and a reason in err.
 */
int state_save(const struct trk *t, const char *path, char *err,
    size_t errlen);

/*
 * Load state from path into t (which must be fresh from trk_new()).
 * Returns 0 when loaded, 1 when the file does not exist, -1 when it is
 * unreadable or corrupt (reason in err; t is left empty).
 */
int state_load(struct trk *t, const char *path, char *err, size_t errlen);

/* What state_open() did. */
enum state_open_result {
	STATE_LOADED,		/* t holds the saved state */
	STATE_ABSENT,		/* no file yet: t is empty */
	STATE_RECOVERED,	/* corrupt (reason in err): moved aside, t empty */
	STATE_UNREADABLE,	/* cannot be opened (errno): left alone */
	STATE_STUCK		/* corrupt (reason in err) and cannot be moved
				   aside (errno) */
};

/*
 * Load the state file path into t (fresh from trk_new()) at start.  A file
 * that cannot be opened is left alone: it is not ours to discard.  One that
 * is corrupt is renamed to path.corrupt-<now> (path.corrupt-<now>-<n> when
 * that exists: an earlier corrupt file kept aside is never replaced), the
 * new path put in aside, and t left empty.  Returns an enum
 * state_open_result.
 */
int state_open(struct trk *t, const char *path, time_t now, char *aside,
    size_t asidelen, char *err, size_t errlen);

#endif /* RATETAP_STATE_H */
