/*
 * Warnings that act (docs/warnings.md): each upward crossing of each
 * threshold of --warn-threshold by each window instance, and a forecast
 * that a window runs out before its reset, run --warn-command once
 * (posix_spawn, no shell, with a timeout, reaped) and send a desktop
 * notification through notify-send when a session bus is there.  What
 * has fired is kept in <state dir>/warnings.json, written before the
 * command starts, so a restart never repeats a warning.
 */
#ifndef RATETAP_WARN_H
#define RATETAP_WARN_H

#include <stddef.h>
#include <time.h>

#define WARN_MAX_THRESHOLDS	8
#define WARN_TIMEOUT_SECS	10	/* a command still running is killed */
#define WARN_MAX_CHILDREN	16

struct trk;
struct warn;

struct warn_config {
	double thresholds[WARN_MAX_THRESHOLDS];	/* ascending, percent */
	int nthresholds;
	const char *command;	/* NULL: none; split at blanks, no shell */
	int notify;		/* desktop notifications */
	const char *state_dir;	/* where warnings.json lives */
};

/*
 * Parse a comma list of percentages ("50,80,95") into cfg, ascending, at
 * most WARN_MAX_THRESHOLDS, each above 0 and at most 1000.  Returns 0 or
 * -1.
 */
int warn_parse_thresholds(const char *s, struct warn_config *cfg);

/* Start (loads warnings.json).  NULL on ENOMEM. */
struct warn *warn_new(const struct warn_config *cfg);

/*
 * Look at every window of t at now: fire what has newly crossed, reap
 * finished commands and kill late ones.  Never blocks.
 */
void warn_check(struct warn *w, const struct trk *t, time_t now);

/* Commands run (for the status), and free. */
long warn_fired(const struct warn *w);
void warn_free(struct warn *w);

#endif /* RATETAP_WARN_H */
