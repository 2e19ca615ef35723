/*
 * The status JSON (every key listed in docs/tracker.md and docs/daemon.md),
 * rendered from a tracker and the daemon's own figures (status.h), written
 * straight into text by the JSON writer (jsonw.h): no tree is built, so
 * that a status of hundreds of models and programs costs little more than
 * its bytes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ratetap/status_keys.h"
#include "jsonw.h"
#include "status.h"
#include "tracker.h"

static void
put_tokens(struct jw *w, const char *key, const struct trk_tokens *tk)
{
	jw_open(w, key);
	jw_int(w, RT_SK_INPUT, tk->input);
	jw_int(w, RT_SK_OUTPUT, tk->output);
	jw_int(w, RT_SK_CACHE_CREATION_INPUT, tk->cache_creation_input);
	jw_int(w, RT_SK_CACHE_READ_INPUT, tk->cache_read_input);
	jw_close(w);
}

static void
put_opt_number(struct jw *w, const char *key, int has, double v)
{
	if (has)
		jw_num(w, key, v);
	else
		jw_null(w, key);
}

/* A window's "forecast" object (forecast.h, as fc_json() writes it). */
static void
put_forecast(struct jw *w, const struct trk_window *win, time_t reset,
    time_t now)
{
	struct fc_result f;
	char buf[32];
	struct tm tm;
	int rc;

	rc = fc_estimate(&win->fc, win->has_util, win->utilization, reset,
	    fc_window_length(win->name), now, &f);
	jw_open(w, "forecast");
	if (rc == 0 && f.exhausted_at > 0 &&
	    gmtime_r(&f.exhausted_at, &tm) != NULL) {
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		jw_str(w, "exhausted_at", buf);
	} else
		jw_null(w, "exhausted_at");
	put_opt_number(w, "rate_per_hour", rc == 0 && f.known,
	    round(f.rate_per_hour * 1000) / 1000);
	put_opt_number(w, "pace", rc == 0 && f.has_pace,
	    round(f.pace * 1000) / 1000);
	jw_close(w);
}

static void
put_windows(struct jw *w, const struct trk *t, time_t now)
{
	int i, base;

	jw_open(w, RT_SK_WINDOWS);
	for (i = 0; i < t->nwin && i < TRK_WIN_MAX; i++) {
		const struct trk_window *win = &t->win[i];
		time_t reset = trk_win_reset(t, i, &base);
		int fig = win->has_util && win->source != TRK_SRC_NONE &&
		    win->observed_at > 0;

		jw_open(w, win->name);
		put_opt_number(w, RT_SK_UTILIZATION, win->has_util,
		    win->utilization);
		jw_time(w, RT_SK_RESETS_AT, reset);
		jw_str(w, "resets_with", base >= 0 ? t->win[base].name : NULL);
		put_tokens(w, RT_SK_TOKENS, &win->tokens);
		jw_int(w, "rollovers", win->rollovers);
		jw_str(w, RT_SK_SOURCE, fig ? trk_src_name(win->source) : NULL);
		jw_time(w, "observed_at", fig ? win->observed_at : 0);
		if (fig)
			jw_int(w, RT_SK_AGE_SECONDS, now > win->observed_at ?
			    (int64_t)(now - win->observed_at) : 0);
		else
			jw_null(w, RT_SK_AGE_SECONDS);
		jw_str(w, "status", trk_ustatus_name(win->status));
		jw_str(w, RT_SK_LABEL, win->label[0] != '\0' ? win->label :
		    NULL);
		jw_bool(w, RT_SK_COUNTS_TOKENS, win->match != TRK_MATCH_NONE);
		put_forecast(w, win, reset, now);
		jw_close(w);
	}
	jw_close(w);
}

/* {amount, amount_minor, currency, exponent}, or null */
static void
put_money(struct jw *w, const char *key, const struct trk_money *m)
{
	double div = 1.0;
	int i;

	if (!m->known) {
		jw_null(w, key);
		return;
	}
	for (i = 0; i < m->exponent; i++)
		div *= 10.0;
	jw_open(w, key);
	jw_num(w, "amount", (double)m->amount_minor / div);
	jw_int(w, "amount_minor", m->amount_minor);
	jw_str(w, "currency", m->currency[0] != '\0' ? m->currency : NULL);
	jw_int(w, "exponent", m->exponent);
	jw_close(w);
}

static void
put_spend(struct jw *w, const struct trk *t)
{
	const struct trk_spend *sp = &t->spend;

	if (!sp->known) {
		jw_null(w, "spend");
		return;
	}
	jw_open(w, "spend");
	put_money(w, "used", &sp->used);
	put_money(w, "limit", &sp->limit);
	put_opt_number(w, "percent", sp->has_percent, sp->percent);
	if (sp->enabled >= 0)
		jw_bool(w, RT_SK_ENABLED, sp->enabled);
	else
		jw_null(w, RT_SK_ENABLED);
	jw_str(w, "disabled_reason", sp->disabled_reason[0] != '\0' ?
	    sp->disabled_reason : NULL);
	jw_close(w);
}

static void
put_extra(struct jw *w, const struct trk *t)
{
	const struct trk_extra *e = &t->extra;

	jw_open(w, "extra_usage");
	if (e->known)
		jw_bool(w, "is_enabled", e->is_enabled);
	else
		jw_null(w, "is_enabled");
	put_opt_number(w, "monthly_limit", e->known && e->has_monthly_limit,
	    e->monthly_limit);
	put_opt_number(w, "used_credits", e->known && e->has_used_credits,
	    e->used_credits);
	put_opt_number(w, RT_SK_UTILIZATION, e->known && e->has_util,
	    e->utilization);
	jw_str(w, "unit", "cents");
	jw_str(w, "currency", t->spend.known &&
	    t->spend.used.currency[0] != '\0' ? t->spend.used.currency :
	    t->spend.known && t->spend.limit.currency[0] != '\0' ?
	    t->spend.limit.currency : NULL);
	jw_close(w);
}

static void
put_requests(struct jw *w, const struct trk *t)
{
	jw_open(w, RT_SK_REQUESTS);
	jw_int(w, RT_SK_TOTAL, t->requests_total);
	jw_int(w, RT_SK_RATE_LIMITED, t->requests_rate_limited);
	jw_int(w, RT_SK_OVERLOADED, t->requests_overloaded);
	jw_int(w, RT_SK_ERRORS, t->requests_errors);
	jw_int(w, RT_SK_USAGE_UNREADABLE, t->usage_unreadable);
	jw_int(w, "cut_short", t->requests_cut_short);
	jw_close(w);
}

static void
put_tables(struct jw *w, const struct trk *t)
{
	int i;

	jw_open(w, RT_SK_MODELS);
	for (i = 0; i < t->nmodels; i++) {
		const struct trk_named *m = &t->models[i];

		jw_open(w, m->name);
		jw_int(w, RT_SK_INPUT, m->tokens.input);
		jw_int(w, RT_SK_OUTPUT, m->tokens.output);
		jw_int(w, RT_SK_CACHE_CREATION_INPUT,
		    m->tokens.cache_creation_input);
		jw_int(w, RT_SK_CACHE_READ_INPUT, m->tokens.cache_read_input);
		jw_int(w, RT_SK_REQUESTS, m->requests);
		jw_close(w);
	}
	jw_close(w);
	jw_open(w, RT_SK_PROCESSES);
	for (i = 0; i < t->nprogs; i++) {
		const struct trk_named *p = &t->progs[i];

		jw_open(w, p->name);
		jw_int(w, RT_SK_REQUESTS, p->requests);
		jw_int(w, RT_SK_INPUT, p->tokens.input);
		jw_int(w, RT_SK_OUTPUT, p->tokens.output);
		jw_int(w, RT_SK_CACHE_CREATION_INPUT,
		    p->tokens.cache_creation_input);
		jw_int(w, RT_SK_CACHE_READ_INPUT, p->tokens.cache_read_input);
		jw_close(w);
	}
	jw_close(w);
}

static void
put_api(struct jw *w, const struct trk *t, time_t now)
{
	int a;

	jw_open(w, "api_limits");
	for (a = 0; a < TRK_API_COUNT; a++) {
		const struct trk_api_limit *l = &t->api[a];

		if (!l->known) {
			jw_null(w, trk_api_name(a));
			continue;
		}
		jw_open(w, trk_api_name(a));
		jw_int(w, "limit", l->limit);
		jw_int(w, "remaining", l->remaining);
		jw_time(w, RT_SK_RESETS_AT, l->reset);
		jw_bool(w, "stale", l->reset > 0 && l->reset <= now);
		jw_close(w);
	}
	jw_close(w);
}

/* "unified", "retry_after", "poll" (with the daemon's schedule when d is
   not NULL) and "ingest" */
static void
put_misc(struct jw *w, const struct trk *t, const struct status_daemon *d)
{
	int e;

	jw_open(w, "unified");
	jw_str(w, "status", trk_ustatus_name(t->unified_status));
	jw_str(w, "representative_claim",
	    trk_claim_name(t->representative_claim));
	jw_close(w);

	if (t->retry_after < 0)
		jw_null(w, "retry_after");
	else {
		jw_open(w, "retry_after");
		jw_int(w, "seconds", t->retry_after);
		jw_time(w, "at", t->retry_after_at);
		jw_close(w);
	}

	jw_open(w, RT_SK_POLL);
	jw_time(w, RT_SK_LAST_OK, t->poll_last_ok);
	jw_str(w, RT_SK_LAST_ERROR, t->poll_last_error[0] ?
	    t->poll_last_error : NULL);
	jw_time(w, RT_SK_LAST_ATTEMPT, t->poll_last_attempt);
	jw_int(w, "ok_total", t->poll_ok_total);
	jw_int(w, "fail_total", t->poll_fail_total);
	if (d != NULL) {
		jw_bool(w, RT_SK_ENABLED, d->poll_enabled);
		jw_time(w, RT_SK_NEXT_AT, d->poll_next_at);
		jw_int(w, "interval", d->poll_interval);
		jw_int(w, "skipped", d->poll_skipped);
	}
	jw_close(w);

	jw_open(w, "ingest");
	jw_int(w, "accepted", t->datagrams_accepted);
	jw_open(w, "rejected");
	for (e = RTP_OK + 1; e < RTP_E_COUNT; e++)
		jw_int(w, rtp_strerror(e), t->datagrams_rejected[e]);
	jw_close(w);
	jw_int(w, "foreign_uid", t->datagrams_foreign);
	jw_int(w, "client_drops", t->client_drops);
	jw_close(w);
}

/* s, or null when it is NULL or "" */
static void
put_opt_text(struct jw *w, const char *key, const char *s)
{
	jw_str(w, key, s != NULL && s[0] != '\0' ? s : NULL);
}

/* The connection counters of an HTTP server (docs/daemon.md). */
static void
put_ctl_stats(struct jw *w, const char *key, const struct ctl_stats *st)
{
	jw_open(w, key);
	jw_int(w, "open", (int64_t)st->open);
	jw_int(w, "accepted", (int64_t)st->accepted);
	jw_int(w, "timed_out", (int64_t)st->timed_out);
	jw_int(w, "evicted", (int64_t)st->evicted);
	jw_int(w, "per_client", (int64_t)st->per_client);
	jw_int(w, "refused", (int64_t)st->refused);
	jw_int(w, "foreign", (int64_t)st->foreign);
	jw_int(w, "unauthorized", (int64_t)st->unauthorized);
	jw_close(w);
}

/* The "journal" object (docs/daemon.md). */
static void
put_journal(struct jw *w, const struct trk *t, const char *path)
{
	const struct trk_jrn *tj = &t->jrn;

	jw_open(w, "journal");
	jw_str(w, "path", path != NULL ? path : "");
	jw_int(w, "bytes_pending", tj->size > tj->offset ?
	    tj->size - tj->offset : 0);
	jw_int(w, "bytes_held", tj->held);
	jw_int(w, "bytes_cap", tj->cap);
	jw_int(w, "records", tj->records);
	jw_int(w, "repeats", tj->repeats);
	jw_int(w, "corrupt_bytes", tj->corrupt_bytes);
	jw_int(w, "refused", tj->refused);
	jw_bool(w, "disk_full", tj->disk_full);
	put_opt_text(w, "error", tj->error);
	jw_close(w);
}

/* What only the running daemon knows (struct status_daemon). */
static int
put_daemon(struct jw *w, const struct trk *t, const struct status_daemon *d)
{
	jw_open(w, "daemon");
	jw_str(w, "version", d->version != NULL ? d->version : "");
	jw_int(w, "pid", d->pid);
	jw_time(w, "started_at", d->started_at);
	jw_close(w);
	if (d->add_source != NULL && d->add_source(d->source_arg, w) == -1)
		return -1;
	put_ctl_stats(w, "control", &d->control);
	if (d->has_metrics_listener)
		put_ctl_stats(w, "metrics_listener", &d->metrics_listener);
	put_journal(w, t, d->journal_path);
	jw_open(w, "state");
	jw_str(w, "path", d->state_path != NULL ? d->state_path : "");
	jw_time(w, "last_saved_at", d->state_saved_at);
	put_opt_text(w, "last_save_error", d->state_save_error);
	put_opt_text(w, "recovered_from", d->state_recovered_from);
	jw_close(w);
	return 0;
}

/* About the size of the document, to allocate it at once. */
static size_t
size_hint(const struct trk *t)
{
	return 8192 + (size_t)t->nwin * 900 +
	    (size_t)(t->nmodels + t->nprogs) * 240;
}

int
status_render(const struct trk *t, time_t now, const struct status_daemon *d,
    char **out, size_t *len)
{
	struct jw w;

	jw_init(&w, size_hint(t));
	jw_open(&w, NULL);
	put_windows(&w, t, now);
	put_extra(&w, t);
	put_spend(&w, t);
	put_requests(&w, t);
	put_tokens(&w, "tokens_total", &t->tokens_total);
	put_tables(&w, t);
	put_api(&w, t, now);
	put_misc(&w, t, d);
	jw_time(&w, "generated_at", now);
	if (d != NULL && put_daemon(&w, t, d) == -1) {
		jw_discard(&w);
		return -1;
	}
	jw_close(&w);
	return jw_finish(&w, out, len);
}

cJSON *
status_json(const struct trk *t, time_t now, const struct status_daemon *d)
{
	cJSON *j;
	char *s;
	size_t n;

	if (status_render(t, now, d, &s, &n) == -1)
		return NULL;
	j = cJSON_ParseWithLength(s, n);
	free(s);
	return j;
}
