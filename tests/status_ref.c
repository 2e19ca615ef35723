/*
 * The status JSON as daemon/status.c built it before it wrote text
 * directly: a cJSON tree, printed by cJSON_Print().  Kept as the reference
 * the writer is checked against (tests/check_status.c #includes it); the
 * daemon's add_source hook is left out (it writes into the new writer).
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ratetap/status_keys.h"
#include "../daemon/status.h"
#include "../daemon/tracker.h"

/*
 * Each helper adds one member to obj and returns it, or NULL when out of
 * memory; callers chain them and check once through ok().
 */
static int
ok(const cJSON *item)
{
	return item != NULL;
}

static cJSON *
add_int(cJSON *obj, const char *key, int64_t v)
{
	return cJSON_AddNumberToObject(obj, key, (double)v);
}

static cJSON *
add_time(cJSON *obj, const char *key, time_t t)
{
	char buf[32];

	if (t <= 0)
		return cJSON_AddNullToObject(obj, key);
	rt_time_format(t, buf, sizeof(buf));
	return cJSON_AddStringToObject(obj, key, buf);
}

static cJSON *
add_opt_number(cJSON *obj, const char *key, int has, double v)
{
	if (!has)
		return cJSON_AddNullToObject(obj, key);
	return cJSON_AddNumberToObject(obj, key, v);
}

static cJSON *
add_opt_string(cJSON *obj, const char *key, const char *s)
{
	if (s == NULL)
		return cJSON_AddNullToObject(obj, key);
	return cJSON_AddStringToObject(obj, key, s);
}

static cJSON *
add_tokens(cJSON *obj, const char *key, const struct trk_tokens *tk)
{
	cJSON *o = cJSON_AddObjectToObject(obj, key);

	if (o == NULL || !ok(add_int(o, RT_SK_INPUT, tk->input)) ||
	    !ok(add_int(o, RT_SK_OUTPUT, tk->output)) ||
	    !ok(add_int(o, RT_SK_CACHE_CREATION_INPUT,
	    tk->cache_creation_input)) ||
	    !ok(add_int(o, RT_SK_CACHE_READ_INPUT, tk->cache_read_input)))
		return NULL;
	return o;
}

static int
add_windows(cJSON *root, const struct trk *t, time_t now)
{
	cJSON *ws, *o;
	int w, base;

	if ((ws = cJSON_AddObjectToObject(root, RT_SK_WINDOWS)) == NULL)
		return -1;
	for (w = 0; w < t->nwin && w < TRK_WIN_MAX; w++) {
		const struct trk_window *win = &t->win[w];
		time_t reset = trk_win_reset(t, w, &base);
		int fig = win->has_util && win->source != TRK_SRC_NONE &&
		    win->observed_at > 0;

		o = cJSON_AddObjectToObject(ws, win->name);
		if (o == NULL ||
		    !ok(add_opt_number(o, RT_SK_UTILIZATION, win->has_util,
		    win->utilization)) ||
		    !ok(add_time(o, RT_SK_RESETS_AT, reset)) ||
		    !ok(add_opt_string(o, "resets_with", base >= 0 ?
		    t->win[base].name : NULL)) ||
		    !ok(add_tokens(o, RT_SK_TOKENS, &win->tokens)) ||
		    !ok(add_int(o, "rollovers", win->rollovers)) ||
		    !ok(add_opt_string(o, RT_SK_SOURCE, fig ?
		    trk_src_name(win->source) : NULL)) ||
		    !ok(add_time(o, "observed_at", fig ? win->observed_at : 0)) ||
		    !ok(fig ? add_int(o, RT_SK_AGE_SECONDS,
		    now > win->observed_at ?
		    (int64_t)(now - win->observed_at) : 0) :
		    cJSON_AddNullToObject(o, RT_SK_AGE_SECONDS)) ||
		    !ok(add_opt_string(o, "status",
		    trk_ustatus_name(win->status))) ||
		    !ok(add_opt_string(o, RT_SK_LABEL, win->label[0] != '\0' ?
		    win->label : NULL)) ||
		    !ok(cJSON_AddBoolToObject(o, RT_SK_COUNTS_TOKENS,
		    win->match != TRK_MATCH_NONE)) ||
		    fc_json(o, &win->fc, win->has_util, win->utilization,
		    reset, fc_window_length(win->name), now) == -1)
			return -1;
	}
	return 0;
}

/* {amount, amount_minor, currency, exponent}, or null */
static cJSON *
add_money(cJSON *obj, const char *key, const struct trk_money *m)
{
	cJSON *o;
	double div = 1.0;
	int i;

	if (!m->known)
		return cJSON_AddNullToObject(obj, key);
	for (i = 0; i < m->exponent; i++)
		div *= 10.0;
	if ((o = cJSON_AddObjectToObject(obj, key)) == NULL ||
	    !ok(cJSON_AddNumberToObject(o, "amount",
	    (double)m->amount_minor / div)) ||
	    !ok(add_int(o, "amount_minor", m->amount_minor)) ||
	    !ok(add_opt_string(o, "currency", m->currency[0] != '\0' ?
	    m->currency : NULL)) ||
	    !ok(add_int(o, "exponent", m->exponent)))
		return NULL;
	return o;
}

static int
add_spend(cJSON *root, const struct trk *t)
{
	const struct trk_spend *sp = &t->spend;
	cJSON *o;

	if (!sp->known)
		return cJSON_AddNullToObject(root, "spend") != NULL ? 0 : -1;
	if ((o = cJSON_AddObjectToObject(root, "spend")) == NULL ||
	    !ok(add_money(o, "used", &sp->used)) ||
	    !ok(add_money(o, "limit", &sp->limit)) ||
	    !ok(add_opt_number(o, "percent", sp->has_percent, sp->percent)) ||
	    !ok(sp->enabled >= 0 ? cJSON_AddBoolToObject(o, RT_SK_ENABLED,
	    sp->enabled) : cJSON_AddNullToObject(o, RT_SK_ENABLED)) ||
	    !ok(add_opt_string(o, "disabled_reason",
	    sp->disabled_reason[0] != '\0' ? sp->disabled_reason : NULL)))
		return -1;
	return 0;
}

static int
add_extra(cJSON *root, const struct trk *t)
{
	const struct trk_extra *e = &t->extra;
	cJSON *o;

	if ((o = cJSON_AddObjectToObject(root, "extra_usage")) == NULL)
		return -1;
	if (!ok(e->known ? cJSON_AddBoolToObject(o, "is_enabled",
	    e->is_enabled) : cJSON_AddNullToObject(o, "is_enabled")) ||
	    !ok(add_opt_number(o, "monthly_limit", e->known &&
	    e->has_monthly_limit, e->monthly_limit)) ||
	    !ok(add_opt_number(o, "used_credits", e->known &&
	    e->has_used_credits, e->used_credits)) ||
	    !ok(add_opt_number(o, RT_SK_UTILIZATION, e->known && e->has_util,
	    e->utilization)) ||
	    !ok(cJSON_AddStringToObject(o, "unit", "cents")) ||
	    !ok(add_opt_string(o, "currency", t->spend.known &&
	    t->spend.used.currency[0] != '\0' ? t->spend.used.currency :
	    t->spend.known && t->spend.limit.currency[0] != '\0' ?
	    t->spend.limit.currency : NULL)))
		return -1;
	return 0;
}

static int
add_requests(cJSON *root, const struct trk *t)
{
	cJSON *o;

	if ((o = cJSON_AddObjectToObject(root, RT_SK_REQUESTS)) == NULL ||
	    !ok(add_int(o, RT_SK_TOTAL, t->requests_total)) ||
	    !ok(add_int(o, RT_SK_RATE_LIMITED, t->requests_rate_limited)) ||
	    !ok(add_int(o, RT_SK_OVERLOADED, t->requests_overloaded)) ||
	    !ok(add_int(o, RT_SK_ERRORS, t->requests_errors)) ||
	    !ok(add_int(o, RT_SK_USAGE_UNREADABLE, t->usage_unreadable)) ||
	    !ok(add_int(o, "cut_short", t->requests_cut_short)))
		return -1;
	return 0;
}

static int
add_tables(cJSON *root, const struct trk *t)
{
	cJSON *ms, *ps, *o;
	int i;

	if ((ms = cJSON_AddObjectToObject(root, RT_SK_MODELS)) == NULL)
		return -1;
	for (i = 0; i < t->nmodels; i++) {
		const struct trk_named *m = &t->models[i];

		o = cJSON_AddObjectToObject(ms, m->name);
		if (o == NULL ||
		    !ok(add_int(o, RT_SK_INPUT, m->tokens.input)) ||
		    !ok(add_int(o, RT_SK_OUTPUT, m->tokens.output)) ||
		    !ok(add_int(o, RT_SK_CACHE_CREATION_INPUT,
		    m->tokens.cache_creation_input)) ||
		    !ok(add_int(o, RT_SK_CACHE_READ_INPUT,
		    m->tokens.cache_read_input)) ||
		    !ok(add_int(o, RT_SK_REQUESTS, m->requests)))
			return -1;
	}
	if ((ps = cJSON_AddObjectToObject(root, RT_SK_PROCESSES)) == NULL)
		return -1;
	for (i = 0; i < t->nprogs; i++) {
		const struct trk_named *p = &t->progs[i];

		o = cJSON_AddObjectToObject(ps, p->name);
		if (o == NULL ||
		    !ok(add_int(o, RT_SK_REQUESTS, p->requests)) ||
		    !ok(add_int(o, RT_SK_INPUT, p->tokens.input)) ||
		    !ok(add_int(o, RT_SK_OUTPUT, p->tokens.output)) ||
		    !ok(add_int(o, RT_SK_CACHE_CREATION_INPUT,
		    p->tokens.cache_creation_input)) ||
		    !ok(add_int(o, RT_SK_CACHE_READ_INPUT,
		    p->tokens.cache_read_input)))
			return -1;
	}
	return 0;
}

static int
add_api(cJSON *root, const struct trk *t, time_t now)
{
	cJSON *as, *o;
	int a;

	if ((as = cJSON_AddObjectToObject(root, "api_limits")) == NULL)
		return -1;
	for (a = 0; a < TRK_API_COUNT; a++) {
		const struct trk_api_limit *l = &t->api[a];

		if (!l->known) {
			if (cJSON_AddNullToObject(as, trk_api_name(a)) == NULL)
				return -1;
			continue;
		}
		o = cJSON_AddObjectToObject(as, trk_api_name(a));
		if (o == NULL || !ok(add_int(o, "limit", l->limit)) ||
		    !ok(add_int(o, "remaining", l->remaining)) ||
		    !ok(add_time(o, RT_SK_RESETS_AT, l->reset)) ||
		    !ok(cJSON_AddBoolToObject(o, "stale", l->reset > 0 &&
		    l->reset <= now)))
			return -1;
	}
	return 0;
}

static int
add_misc(cJSON *root, const struct trk *t)
{
	cJSON *o, *r;
	int e;

	if ((o = cJSON_AddObjectToObject(root, "unified")) == NULL ||
	    !ok(add_opt_string(o, "status",
	    trk_ustatus_name(t->unified_status))) ||
	    !ok(add_opt_string(o, "representative_claim",
	    trk_claim_name(t->representative_claim))))
		return -1;

	if (t->retry_after < 0) {
		if (cJSON_AddNullToObject(root, "retry_after") == NULL)
			return -1;
	} else if ((o = cJSON_AddObjectToObject(root, "retry_after")) ==
	    NULL || !ok(add_int(o, "seconds", t->retry_after)) ||
	    !ok(add_time(o, "at", t->retry_after_at)))
		return -1;

	if ((o = cJSON_AddObjectToObject(root, RT_SK_POLL)) == NULL ||
	    !ok(add_time(o, RT_SK_LAST_OK, t->poll_last_ok)) ||
	    !ok(add_opt_string(o, RT_SK_LAST_ERROR, t->poll_last_error[0] ?
	    t->poll_last_error : NULL)) ||
	    !ok(add_time(o, RT_SK_LAST_ATTEMPT, t->poll_last_attempt)) ||
	    !ok(add_int(o, "ok_total", t->poll_ok_total)) ||
	    !ok(add_int(o, "fail_total", t->poll_fail_total)))
		return -1;

	if ((o = cJSON_AddObjectToObject(root, "ingest")) == NULL ||
	    !ok(add_int(o, "accepted", t->datagrams_accepted)) ||
	    (r = cJSON_AddObjectToObject(o, "rejected")) == NULL)
		return -1;
	for (e = RTP_OK + 1; e < RTP_E_COUNT; e++)
		if (!ok(add_int(r, rtp_strerror(e), t->datagrams_rejected[e])))
			return -1;
	if (!ok(add_int(o, "foreign_uid", t->datagrams_foreign)) ||
	    !ok(add_int(o, "client_drops", t->client_drops)))
		return -1;
	return 0;
}

/* s, or null when it is NULL or "" */
static cJSON *
add_opt_text(cJSON *obj, const char *key, const char *s)
{
	return add_opt_string(obj, key, s != NULL && s[0] != '\0' ? s : NULL);
}

/* The connection counters of an HTTP server (docs/daemon.md). */
static int
add_ctl_stats(cJSON *root, const char *key, const struct ctl_stats *st)
{
	cJSON *o;

	if ((o = cJSON_AddObjectToObject(root, key)) == NULL ||
	    !ok(add_int(o, "open", (int64_t)st->open)) ||
	    !ok(add_int(o, "accepted", (int64_t)st->accepted)) ||
	    !ok(add_int(o, "timed_out", (int64_t)st->timed_out)) ||
	    !ok(add_int(o, "evicted", (int64_t)st->evicted)) ||
	    !ok(add_int(o, "per_client", (int64_t)st->per_client)) ||
	    !ok(add_int(o, "refused", (int64_t)st->refused)) ||
	    !ok(add_int(o, "foreign", (int64_t)st->foreign)) ||
	    !ok(add_int(o, "unauthorized", (int64_t)st->unauthorized)))
		return -1;
	return 0;
}

/* The "journal" object (docs/daemon.md). */
static int
add_journal(cJSON *root, const struct trk *t, const char *path)
{
	const struct trk_jrn *tj = &t->jrn;
	cJSON *o;

	if ((o = cJSON_AddObjectToObject(root, "journal")) == NULL ||
	    !ok(cJSON_AddStringToObject(o, "path", path != NULL ? path : "")) ||
	    !ok(add_int(o, "bytes_pending",
	    tj->size > tj->offset ? tj->size - tj->offset : 0)) ||
	    !ok(add_int(o, "bytes_held", tj->held)) ||
	    !ok(add_int(o, "bytes_cap", tj->cap)) ||
	    !ok(add_int(o, "records", tj->records)) ||
	    !ok(add_int(o, "repeats", tj->repeats)) ||
	    !ok(add_int(o, "corrupt_bytes", tj->corrupt_bytes)) ||
	    !ok(add_int(o, "refused", tj->refused)) ||
	    !ok(cJSON_AddBoolToObject(o, "disk_full", tj->disk_full)) ||
	    !ok(add_opt_text(o, "error", tj->error)))
		return -1;
	return 0;
}

/* What only the running daemon knows (struct status_daemon). */
static int
add_daemon(cJSON *root, const struct trk *t, const struct status_daemon *d)
{
	cJSON *o;

	if ((o = cJSON_AddObjectToObject(root, "daemon")) == NULL ||
	    !ok(cJSON_AddStringToObject(o, "version", d->version != NULL ?
	    d->version : "")) ||
	    !ok(add_int(o, "pid", d->pid)) ||
	    !ok(add_time(o, "started_at", d->started_at)))
		return -1;
	if ((o = cJSON_GetObjectItemCaseSensitive(root, RT_SK_POLL)) == NULL ||
	    !ok(cJSON_AddBoolToObject(o, RT_SK_ENABLED, d->poll_enabled)) ||
	    !ok(add_time(o, RT_SK_NEXT_AT, d->poll_next_at)) ||
	    !ok(add_int(o, "interval", d->poll_interval)) ||
	    !ok(add_int(o, "skipped", d->poll_skipped)))
		return -1;
	if (add_ctl_stats(root, "control", &d->control) == -1 ||
	    (d->has_metrics_listener &&
	    add_ctl_stats(root, "metrics_listener", &d->metrics_listener) ==
	    -1))
		return -1;
	if (add_journal(root, t, d->journal_path) == -1)
		return -1;
	if ((o = cJSON_AddObjectToObject(root, "state")) == NULL ||
	    !ok(cJSON_AddStringToObject(o, "path", d->state_path != NULL ?
	    d->state_path : "")) ||
	    !ok(add_time(o, "last_saved_at", d->state_saved_at)) ||
	    !ok(add_opt_text(o, "last_save_error", d->state_save_error)) ||
	    !ok(add_opt_text(o, "recovered_from", d->state_recovered_from)))
		return -1;
	return 0;
}

static cJSON *
ref_status_json(const struct trk *t, time_t now, const struct status_daemon *d)
{
	cJSON *root;

	if ((root = cJSON_CreateObject()) == NULL)
		return NULL;
	if (add_windows(root, t, now) == -1 || add_extra(root, t) == -1 ||
	    add_spend(root, t) == -1 ||
	    add_requests(root, t) == -1 ||
	    !ok(add_tokens(root, "tokens_total", &t->tokens_total)) ||
	    add_tables(root, t) == -1 || add_api(root, t, now) == -1 ||
	    add_misc(root, t) == -1 ||
	    !ok(add_time(root, "generated_at", now)) ||
	    (d != NULL && add_daemon(root, t, d) == -1))
		goto err;
	return root;
err:
	cJSON_Delete(root);
	return NULL;
}
