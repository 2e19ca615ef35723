/*
 * The usage poll (see poll.h): one loop timer, one request at a time.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "backoff.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "poll.h"
#include "token.h"
#include "pollparse.h"
#include "tracker.h"

#define REASON_LEN	192
#define RETRY_AFTER_MAX	(24 * 3600)	/* a longer retry-after is capped */

struct poll_ctx {
	struct loop *l;
	struct trk *t;
	char *url;		/* {api_base}/api/oauth/usage */
	char *cred;		/* credentials file or NULL */
	int interval;		/* seconds */
	int64_t timer_id;	/* 0: none (a request is in flight) */
	int64_t req_id;		/* 0: none in flight */
	int failures;		/* consecutive failed polls */
	int enabled;		/* token found at the last look */
	int token_seen;		/* -1 never looked, 0 none, 1 found, 2 bad */
	char logged[512];	/* kind of failure last logged, "" none */
	time_t next_at;
	time_t started_at;	/* when the request in flight was sent */
	uint64_t rng;
	long skipped;		/* polls skipped for fresher sources */
};

static uint64_t
rnd(struct poll_ctx *p)
{
	/* xorshift64*: jitter only, nothing secret */
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return p->rng * UINT64_C(2685821657736338717);
}

/* secs with +-5 % jitter (only + when early is not allowed), in ms;
 * intervals under 2 s get none. */
static int64_t
jitter_ms(struct poll_ctx *p, long secs, int never_early)
{
	int64_t ms = (int64_t)secs * 1000, span;

	if (secs < 2)
		return ms;
	span = ms / 20;		/* 5 % */
	if (never_early)
		return ms + (int64_t)(rnd(p) % (uint64_t)(span + 1));
	return ms - span + (int64_t)(rnd(p) % (uint64_t)(2 * span + 1));
}

static int64_t on_timer(struct loop *, int64_t, void *);

static void
schedule(struct poll_ctx *p, long secs, int never_early)
{
	int64_t ms = jitter_ms(p, secs, never_early);

	p->next_at = time(NULL) + (time_t)((ms + 999) / 1000);
	if (p->timer_id != 0 && loop_set_timer(p->l, p->timer_id, ms) == 0)
		return;
	if ((p->timer_id = loop_add_timer(p->l, ms, on_timer, p)) == -1) {
		log_warnx("usage poll: cannot add a timer; polling stops");
		p->timer_id = 0;
		p->next_at = 0;
	}
}

/* Log a failure once per kind (not at every poll). */
static void
log_failure(struct poll_ctx *p, const char *kind, const char *msg)
{
	if (!backoff_first(p->logged, sizeof(p->logged), kind)) {
		log_debug("usage poll failed again: %s", msg);
		return;
	}
	log_warnx("usage poll failed: %s", msg);
}

static void
failed(struct poll_ctx *p, const char *kind, const char *reason,
    const char *logmsg, long retry_after)
{
	p->failures++;
	trk_poll_failed(p->t, reason, time(NULL));
	log_failure(p, kind, logmsg != NULL ? logmsg : reason);
	schedule(p, (long)backoff_delay(p->interval, p->failures,
	    POLL_MAX_BACKOFF, retry_after, RETRY_AFTER_MAX), retry_after >= 0);
}

static void
on_done(const struct http_response *r, void *arg)
{
	struct poll_ctx *p = arg;
	struct trk_poll res;
	char reason[REASON_LEN], kind[64], perr[160], logmsg[256];
	long ra;

	p->req_id = 0;
	/* the request that carried the token is over */
	token_scrub_stack();
	if (r->error != NULL) {
		snprintf(reason, sizeof(reason), "%s", r->error);
		snprintf(kind, sizeof(kind), "%s", r->error);
		failed(p, kind, reason, NULL, -1);
		return;
	}
	snprintf(kind, sizeof(kind), "HTTP %ld", r->status);
	if (r->status == 401 || r->status == 403) {
		snprintf(reason, sizeof(reason), "HTTP %ld: OAuth token "
		    "rejected (expired, or lacking the user:profile scope)",
		    r->status);
		snprintf(logmsg, sizeof(logmsg), "OAuth token rejected (HTTP "
		    "%ld): expired, or lacking the user:profile scope; run "
		    "claude to refresh it", r->status);
		failed(p, kind, reason, logmsg, -1);
		return;
	}
	if (r->status == 429) {
		ra = backoff_retry_after(http_header(r, "retry-after"));
		if (ra >= 0)
			snprintf(reason, sizeof(reason), "HTTP 429: rate "
			    "limited (retry after %ld s)", ra);
		else
			snprintf(reason, sizeof(reason), "HTTP 429: rate "
			    "limited");
		failed(p, kind, reason, NULL, ra);
		return;
	}
	if (r->status != 200) {
		snprintf(reason, sizeof(reason), "HTTP %ld", r->status);
		failed(p, kind, reason, NULL, -1);
		return;
	}
	memset(&res, 0, sizeof(res));
	if (poll_parse(r->body, r->body_len, &res, perr, sizeof(perr)) == -1) {
		snprintf(reason, sizeof(reason), "invalid JSON: %s", perr);
		failed(p, "invalid JSON", reason, NULL, -1);
		return;
	}
	res.requested_at = p->started_at;	/* figures no newer than this */
	trk_poll_ok(p->t, &res, time(NULL));
	if (p->logged[0] != '\0' || p->failures > 0)
		log_info("usage poll working again");
	else
		log_debug("usage poll ok");
	p->logged[0] = '\0';
	p->failures = 0;
	schedule(p, p->interval, 0);
}

/* Say once that there is no token (and again only after one appeared). */
static void
no_token(struct poll_ctx *p)
{
	char where[4096];

	if (p->token_seen != 0) {
		if (p->cred != NULL)
			snprintf(where, sizeof(where), "%s", p->cred);
		else if (token_default_file(where, sizeof(where)) == -1)
			snprintf(where, sizeof(where), "the credentials file");
		log_info("no OAuth token (RATETAP_OAUTH_TOKEN, "
		    "CLAUDE_CODE_OAUTH_TOKEN, %s): usage poll off, running "
		    "from response headers alone", where);
	}
	p->token_seen = 0;
	p->enabled = 0;
}

static void
start_poll(struct poll_ctx *p)
{
	char tok[TOKEN_MAX], auth[TOKEN_MAX + 32], err[512];
	const char *hdrs[5];
	int src;

	src = token_get(p->cred, tok, sizeof(tok), err, sizeof(err));
	if (src == -1) {
		if (p->token_seen != 2 || strcmp(p->logged, err) != 0) {
			log_warnx("usage poll: %s", err);
			snprintf(p->logged, sizeof(p->logged), "%s", err);
		}
		p->token_seen = 2;
		p->enabled = 0;
		trk_poll_failed(p->t, err, time(NULL));
		schedule(p, p->interval, 0);
		goto out;
	}
	if (src == TOKEN_NONE) {
		no_token(p);
		schedule(p, p->interval, 0);
		goto out;
	}
	if (p->token_seen != 1)
		log_info("usage poll on: OAuth token from %s, every %d s",
		    token_source_name(src), p->interval);
	p->token_seen = 1;
	p->enabled = 1;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
	hdrs[0] = auth;
	hdrs[1] = "anthropic-beta: " POLL_BETA;
	hdrs[2] = "User-Agent: ratetap/" RATETAP_VERSION;
	hdrs[3] = "Accept: application/json";
	hdrs[4] = NULL;
	p->next_at = 0;
	p->started_at = time(NULL);
	p->req_id = http_request(p->l, "GET", p->url, hdrs, NULL,
	    (long)(p->interval > POLL_TOTAL_TIMEOUT ? POLL_TOTAL_TIMEOUT :
	    (p->interval < 2 ? 2 : p->interval)) * 1000L,
	    POLL_MAX_BODY, on_done, p);
	if (p->req_id == -1) {
		p->req_id = 0;
		failed(p, "request", "cannot start the request", NULL, -1);
	}
out:
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(auth, sizeof(auth));
	token_scrub_stack();
}

/*
 * Seconds until the poll is due when fresher sources (headers, the
 * statusline) updated every window with a figure within the interval, so
 * that the poll would tell nothing new; 0 when it is due now.  Never
 * before the first successful poll (it names the windows it reports), nor
 * after a failed one (its backoff rules).
 */
static long
poll_fresh_for(const struct poll_ctx *p, time_t now)
{
	const struct trk *t = p->t;
	time_t oldest = 0;
	int w, n = 0;

	if (t->poll_last_ok == 0 || p->failures > 0)
		return 0;
	for (w = 0; w < t->nwin; w++) {
		const struct trk_window *win = &t->win[w];

		if (!win->has_util)
			continue;
		if ((win->source != TRK_SRC_HEADER &&
		    win->source != TRK_SRC_STATUSLINE) ||
		    win->observed_at <= t->poll_last_ok ||
		    win->observed_at + p->interval <= now)
			return 0;
		if (n++ == 0 || win->observed_at < oldest)
			oldest = win->observed_at;
	}
	return n == 0 ? 0 : (long)(oldest + p->interval - now);
}

static int64_t
on_timer(struct loop *l, int64_t id, void *arg)
{
	struct poll_ctx *p = arg;
	long wait;

	(void)l;
	(void)id;
	p->timer_id = 0;	/* schedule() makes a new one */
	if (p->req_id != 0)
		return LOOP_NOMORE;
	if ((wait = poll_fresh_for(p, time(NULL))) > 0) {
		p->skipped++;
		log_debug("usage poll skipped: every window is fresher from "
		    "headers or the statusline (next look in %ld s)", wait);
		schedule(p, wait, 1);
		return LOOP_NOMORE;
	}
	start_poll(p);
	return LOOP_NOMORE;
}

long
poll_skipped(const struct poll_ctx *p)
{
	return p != NULL ? p->skipped : 0;
}

struct poll_ctx *
poll_start(struct loop *l, struct trk *t, const struct poll_cfg *cfg)
{
	struct poll_ctx *p;
	size_t n;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->l = l;
	p->t = t;
	p->interval = cfg->interval >= 1 ? cfg->interval : 1;
	p->token_seen = -1;
	n = strlen(cfg->api_base) + sizeof(POLL_PATH);
	if ((p->url = malloc(n)) == NULL)
		goto err;
	snprintf(p->url, n, "%s%s", cfg->api_base, POLL_PATH);
	if (cfg->credentials != NULL &&
	    (p->cred = strdup(cfg->credentials)) == NULL)
		goto err;
	if (getrandom(&p->rng, sizeof(p->rng), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(p->rng))
		p->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (p->rng == 0)
		p->rng = 0x9e3779b97f4a7c15ULL;
	if ((p->timer_id = loop_add_timer(l, 0, on_timer, p)) == -1)
		goto err;
	p->next_at = time(NULL);
	return p;
err:
	free(p->url);
	free(p->cred);
	free(p);
	return NULL;
}

void
poll_stop(struct poll_ctx *p)
{
	if (p == NULL)
		return;
	if (p->timer_id != 0)
		loop_del_timer(p->l, p->timer_id);
	if (p->req_id != 0)
		http_cancel(p->l, p->req_id);
	free(p->url);
	free(p->cred);
	free(p);
}

int
poll_enabled(const struct poll_ctx *p)
{
	return p != NULL && p->enabled;
}

time_t
poll_next_at(const struct poll_ctx *p)
{
	return p != NULL ? p->next_at : 0;
}
