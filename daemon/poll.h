/*
 * The usage poll: GET {api_base}/api/oauth/usage with the user's OAuth
 * token, at start and every interval (with +-5 % jitter), backing off
 * exponentially on errors (interval x 2^n, capped at an hour) and honouring
 * retry-after on 429.  Results go to the tracker (trk_poll_ok() /
 * trk_poll_failed()).  The token is read afresh at every poll (token.h) and
 * wiped after use; it is never logged or stored.  Without a token the
 * daemon runs from response headers alone and says so once.
 *
 * Each poll is one timer of the loop; at most one request is in flight.
 */
#ifndef RATETAP_POLL_H
#define RATETAP_POLL_H

#include <stddef.h>
#include <time.h>

struct loop;
struct trk;
struct poll_ctx;

#define POLL_PATH		"/api/oauth/usage"
#define POLL_BETA		"oauth-2025-04-20"
#define POLL_MAX_BACKOFF	3600		/* seconds */
#define POLL_TOTAL_TIMEOUT	30		/* seconds, at most */

struct poll_cfg {
	const char *api_base;	/* e.g. "https://api.anthropic.com", no
				   trailing slash; copied */
	int interval;		/* seconds, >= 1 */
	const char *credentials; /* credentials file, NULL for the default;
				   copied */
};

/*
 * Start polling on loop l into tracker t; the first poll runs on the next
 * loop iteration.  Returns the poller, or NULL on ENOMEM.
 */
struct poll_ctx *poll_start(struct loop *l, struct trk *t,
    const struct poll_cfg *cfg);

/* Stop polling (an in-flight request is abandoned).  NULL is fine. */
void poll_stop(struct poll_ctx *p);

/* 1 when the last look for a token found one (the poll is active). */
int poll_enabled(const struct poll_ctx *p);

/* Wall-clock time of the next poll (0 while one is in flight). */
time_t poll_next_at(const struct poll_ctx *p);

/*
 * Polls skipped because headers or the statusline had updated every
 * window with a figure within the interval (the poll would have told
 * nothing new).
 */
long poll_skipped(const struct poll_ctx *p);

#endif /* RATETAP_POLL_H */
