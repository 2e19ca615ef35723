/*
 * The tracker in the Prometheus text exposition format, version 0.0.4
 * (docs/metrics.md lists every family).  One pass over the tracker into one
 * growing buffer; every family has HELP and TYPE lines, values that are not
 * known are left out rather than exported as 0.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratetap/proto.h"
#include "export.h"
#include "metrics.h"
#include "tracker.h"

#ifndef RATETAP_VERSION
#define RATETAP_VERSION "unknown"
#endif

#define BUF_INITIAL	16384

struct buf {
	char *p;
	size_t len;		/* bytes used, without the NUL */
	size_t cap;
	int oom;		/* an allocation failed: output is void */
};

static int
buf_reserve(struct buf *b, size_t more)
{
	size_t need, cap;
	char *np;

	if (b->oom)
		return -1;
	if (more > SIZE_MAX - b->len - 1)
		goto err;
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : BUF_INITIAL;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			goto err;
		cap *= 2;
	}
	if ((np = realloc(b->p, cap)) == NULL)
		goto err;
	b->p = np;
	b->cap = cap;
	return 0;
err:
	b->oom = 1;
	return -1;
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (buf_reserve(b, 64) == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (buf_reserve(b, (size_t)n) == -1)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0 || (size_t)n >= b->cap - b->len) {
			b->oom = 1;
			return;
		}
	}
	b->len += (size_t)n;
}

/*
 * A label value as the text format wants it: backslash, double quote and
 * line feed escaped, at most maxlen bytes of s read.
 */
static void
buf_label_value(struct buf *b, const char *s, size_t maxlen)
{
	size_t i, start = 0;

	for (i = 0; i < maxlen && s[i] != '\0'; i++) {
		const char *esc;

		switch (s[i]) {
		case '\\':
			esc = "\\\\";
			break;
		case '"':
			esc = "\\\"";
			break;
		case '\n':
			esc = "\\n";
			break;
		default:
			continue;
		}
		buf_add(b, s + start, i - start);
		buf_str(b, esc);
		start = i + 1;
	}
	buf_add(b, s + start, i - start);
}

/* Shortest of %.15g / %.17g that reads back as v; Go's spelling of the
 * special values. */
static void
buf_double(struct buf *b, double v)
{
	char tmp[40];

	if (isnan(v)) {
		buf_str(b, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_str(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.15g", v);
	if (strtod(tmp, NULL) != v)
		snprintf(tmp, sizeof(tmp), "%.17g", v);
	buf_str(b, tmp);
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1",k2="v2"} with either label pair optional (NULL key). */
static void
series(struct buf *b, const char *name, const char *k1, const char *v1,
    const char *k2, const char *v2)
{
	buf_str(b, name);
	if (k1 == NULL && k2 == NULL) {
		buf_add(b, " ", 1);
		return;
	}
	buf_add(b, "{", 1);
	if (k1 != NULL) {
		buf_str(b, k1);
		buf_add(b, "=\"", 2);
		buf_label_value(b, v1, TRK_NAME_LEN);
		buf_add(b, "\"", 1);
	}
	if (k2 != NULL) {
		if (k1 != NULL)
			buf_add(b, ",", 1);
		buf_str(b, k2);
		buf_add(b, "=\"", 2);
		buf_label_value(b, v2, TRK_NAME_LEN);
		buf_add(b, "\"", 1);
	}
	buf_add(b, "} ", 2);
}

static void
sample_i(struct buf *b, const char *name, const char *k1, const char *v1,
    const char *k2, const char *v2, int64_t v)
{
	series(b, name, k1, v1, k2, v2);
	buf_printf(b, "%lld\n", (long long)v);
}

static void
sample_d(struct buf *b, const char *name, const char *k1, const char *v1,
    const char *k2, const char *v2, double v)
{
	series(b, name, k1, v1, k2, v2);
	buf_double(b, v);
	buf_add(b, "\n", 1);
}

/* A state set: one series per state, 1 for the current one; nothing when
 * the state is unknown (0 or out of range). */
static void
state_set(struct buf *b, const char *name, const char *label,
    const char *(*names)(int), int max, int cur)
{
	int s;

	if (cur <= 0 || cur > max || names(cur) == NULL)
		return;
	for (s = 1; s <= max; s++)
		if (names(s) != NULL)
			sample_i(b, name, label, names(s), NULL, NULL,
			    s == cur);
}

static void
render_windows(struct buf *b, const struct trk *t, time_t now)
{
	int w, k;

	family(b, "ratetap_window_utilization_percent", "gauge",
	    "Utilization of the rate-limit window in percent (may exceed 100); absent when unknown.");
	for (w = 0; w < t->nwin; w++)
		if (t->win[w].has_util)
			sample_d(b, "ratetap_window_utilization_percent",
			    "window", t->win[w].name, NULL, NULL,
			    t->win[w].utilization);

	family(b, "ratetap_window_exhausted_timestamp_seconds", "gauge",
	    "When the window reaches 100 % at the current pace, as a unix timestamp; absent when not before its reset, or unknown.");
	for (w = 0; w < t->nwin; w++) {
		struct fc_result f;

		if (fc_estimate(&t->win[w].fc, t->win[w].has_util,
		    t->win[w].utilization, trk_win_reset(t, w, NULL),
		    fc_window_length(t->win[w].name), now, &f) == 0 &&
		    f.exhausted_at > 0)
			sample_i(b, "ratetap_window_exhausted_timestamp_seconds",
			    "window", t->win[w].name, NULL, NULL,
			    (int64_t)f.exhausted_at);
	}

	family(b, "ratetap_window_pace_ratio", "gauge",
	    "Utilization divided by the elapsed share of the window (1: on pace to reach 100 % at the reset); absent when unknown.");
	for (w = 0; w < t->nwin; w++) {
		struct fc_result f;

		if (fc_estimate(&t->win[w].fc, t->win[w].has_util,
		    t->win[w].utilization, trk_win_reset(t, w, NULL),
		    fc_window_length(t->win[w].name), now, &f) == 0 &&
		    f.has_pace)
			sample_d(b, "ratetap_window_pace_ratio", "window",
			    t->win[w].name, NULL, NULL, f.pace);
	}

	family(b, "ratetap_window_reset_timestamp_seconds", "gauge",
	    "When the window resets, as a unix timestamp; absent when unknown.");
	for (w = 0; w < t->nwin; w++)
		if (trk_win_reset(t, w, NULL) > 0)
			sample_i(b, "ratetap_window_reset_timestamp_seconds",
			    "window", t->win[w].name, NULL, NULL,
			    (int64_t)trk_win_reset(t, w, NULL));

	family(b, "ratetap_window_time_until_reset_seconds", "gauge",
	    "Seconds until the window resets (0 once the reset time has passed); absent when unknown.");
	for (w = 0; w < t->nwin; w++) {
		int64_t left;

		if (trk_win_reset(t, w, NULL) <= 0)
			continue;
		left = (int64_t)trk_win_reset(t, w, NULL) - (int64_t)now;
		sample_i(b, "ratetap_window_time_until_reset_seconds",
		    "window", t->win[w].name, NULL, NULL,
		    left > 0 ? left : 0);
	}

	family(b, "ratetap_window_tokens", "gauge",
	    "Tokens used in the current window by type; zeroed when the window rolls over.");
	for (w = 0; w < t->nwin; w++)
		for (k = 0; k < EXPORT_TOK_COUNT; k++)
			sample_i(b, "ratetap_window_tokens",
			    "window", t->win[w].name,
			    "type", export_tok_name(k),
			    export_tok_get(&t->win[w].tokens, k));

	family(b, "ratetap_window_rollovers_total", "counter",
	    "Times the window was seen to roll over.");
	for (w = 0; w < t->nwin; w++)
		sample_i(b, "ratetap_window_rollovers_total",
		    "window", t->win[w].name, NULL, NULL,
		    t->win[w].rollovers);

	family(b, "ratetap_window_observed_timestamp_seconds", "gauge",
	    "When the window's utilization figure was observed by its source, as a unix timestamp; absent when unknown.");
	for (w = 0; w < t->nwin; w++)
		if (t->win[w].has_util && t->win[w].source != TRK_SRC_NONE &&
		    t->win[w].observed_at > 0)
			sample_i(b, "ratetap_window_observed_timestamp_seconds",
			    "window", t->win[w].name, NULL, NULL,
			    (int64_t)t->win[w].observed_at);

	family(b, "ratetap_window_source", "gauge",
	    "Source of the window's utilization figure: 1 for the current one; absent when unknown.");
	for (w = 0; w < t->nwin; w++) {
		int src;

		if (!t->win[w].has_util || t->win[w].source == TRK_SRC_NONE)
			continue;
		for (src = TRK_SRC_NONE + 1; src < TRK_SRC_COUNT; src++)
			sample_i(b, "ratetap_window_source", "window",
			    t->win[w].name, "source", trk_src_name(src),
			    src == t->win[w].source);
	}

	family(b, "ratetap_warning_threshold_percent", "gauge",
	    "Utilization above which ratetapd warns, in percent.");
	sample_d(b, "ratetap_warning_threshold_percent", NULL, NULL, NULL,
	    NULL, t->cfg.warn_pct);

	family(b, "ratetap_unified_status", "gauge",
	    "Last anthropic-ratelimit-unified-status seen: 1 for the current state; absent when never seen.");
	state_set(b, "ratetap_unified_status", "status", trk_ustatus_name,
	    RTP_US_MAX, t->unified_status);

	family(b, "ratetap_representative_claim", "gauge",
	    "Last anthropic-ratelimit-unified-representative-claim seen: 1 for the limiting window; absent when never seen.");
	state_set(b, "ratetap_representative_claim", "claim", trk_claim_name,
	    RTP_CLAIM_MAX, t->representative_claim);
}

static void
render_extra(struct buf *b, const struct trk *t)
{
	const struct trk_extra *x = &t->extra;

	family(b, "ratetap_extra_usage_enabled", "gauge",
	    "1 when extra usage (pay as you go beyond the plan) is enabled; absent when unknown.");
	if (x->known)
		sample_i(b, "ratetap_extra_usage_enabled", NULL, NULL, NULL,
		    NULL, x->is_enabled ? 1 : 0);

	family(b, "ratetap_extra_usage_monthly_limit_credits", "gauge",
	    "Monthly extra usage limit in credits (cents); absent when unknown.");
	if (x->known && x->has_monthly_limit)
		sample_d(b, "ratetap_extra_usage_monthly_limit_credits", NULL,
		    NULL, NULL, NULL, x->monthly_limit);

	family(b, "ratetap_extra_usage_used_credits", "gauge",
	    "Extra usage used this month in credits (cents); absent when unknown.");
	if (x->known && x->has_used_credits)
		sample_d(b, "ratetap_extra_usage_used_credits", NULL, NULL,
		    NULL, NULL, x->used_credits);

	family(b, "ratetap_extra_usage_utilization_percent", "gauge",
	    "Extra usage used this month in percent of the monthly limit; absent when unknown.");
	if (x->known && x->has_util)
		sample_d(b, "ratetap_extra_usage_utilization_percent", NULL,
		    NULL, NULL, NULL, x->utilization);
}

static void
render_api(struct buf *b, const struct trk *t)
{
	int k;

	family(b, "ratetap_api_key_limit", "gauge",
	    "API-key rate limit by kind (anthropic-ratelimit-<kind>-limit); absent until seen.");
	for (k = 0; k < TRK_API_COUNT; k++)
		if (t->api[k].known)
			sample_i(b, "ratetap_api_key_limit", "kind",
			    trk_api_name(k), NULL, NULL, t->api[k].limit);

	family(b, "ratetap_api_key_remaining", "gauge",
	    "API-key allowance left by kind (anthropic-ratelimit-<kind>-remaining); absent until seen.");
	for (k = 0; k < TRK_API_COUNT; k++)
		if (t->api[k].known)
			sample_i(b, "ratetap_api_key_remaining", "kind",
			    trk_api_name(k), NULL, NULL,
			    t->api[k].remaining);

	family(b, "ratetap_api_key_reset_timestamp_seconds", "gauge",
	    "When the API-key limit of this kind is fully replenished, as a unix timestamp; absent when unknown.");
	for (k = 0; k < TRK_API_COUNT; k++)
		if (t->api[k].known && t->api[k].reset > 0)
			sample_i(b, "ratetap_api_key_reset_timestamp_seconds",
			    "kind", trk_api_name(k), NULL, NULL,
			    (int64_t)t->api[k].reset);

	family(b, "ratetap_retry_after_seconds", "gauge",
	    "Last retry-after the API asked for, in seconds; absent when never seen.");
	if (t->retry_after >= 0 && t->retry_after_at > 0)
		sample_i(b, "ratetap_retry_after_seconds", NULL, NULL, NULL,
		    NULL, t->retry_after);

	family(b, "ratetap_retry_after_timestamp_seconds", "gauge",
	    "When the last retry-after was seen, as a unix timestamp; absent when never seen.");
	if (t->retry_after >= 0 && t->retry_after_at > 0)
		sample_i(b, "ratetap_retry_after_timestamp_seconds", NULL,
		    NULL, NULL, NULL, (int64_t)t->retry_after_at);
}

static void
counter1(struct buf *b, const char *name, const char *help, int64_t v)
{
	family(b, name, "counter", help);
	sample_i(b, name, NULL, NULL, NULL, NULL, v);
}

static void
render_requests(struct buf *b, const struct trk *t)
{
	int k;

	counter1(b, "ratetap_requests_total",
	    "Tapped API transfers that got an HTTP response.",
	    t->requests_total);
	counter1(b, "ratetap_requests_rate_limited_total",
	    "Requests answered 429 or with unified status rejected.",
	    t->requests_rate_limited);
	counter1(b, "ratetap_requests_overloaded_total",
	    "Requests answered 529 (overloaded).", t->requests_overloaded);
	counter1(b, "ratetap_requests_errors_total",
	    "Requests answered with another HTTP error, or without a response.",
	    t->requests_errors);
	counter1(b, "ratetap_usage_unreadable_total",
	    "/v1/messages responses whose usage could not be read.",
	    t->usage_unreadable);

	family(b, "ratetap_tokens_total", "counter",
	    "Tokens used by every tapped request, by type.");
	for (k = 0; k < EXPORT_TOK_COUNT; k++)
		sample_i(b, "ratetap_tokens_total", "type", export_tok_name(k),
		    NULL, NULL, export_tok_get(&t->tokens_total, k));
}

static int
render_named(struct buf *b, const struct trk_named *src, int n,
    const char *label, const char *req_name, const char *req_help,
    const char *tok_name, const char *tok_help)
{
	struct export_row *rows;
	int nrows, i, k;

	if ((nrows = export_top(src, n, EXPORT_MAX_NAMED, &rows)) == -1) {
		b->oom = 1;
		return -1;
	}
	family(b, req_name, "counter", req_help);
	for (i = 0; i < nrows; i++)
		sample_i(b, req_name, label, rows[i].name, NULL, NULL,
		    rows[i].requests);
	family(b, tok_name, "counter", tok_help);
	for (i = 0; i < nrows; i++)
		for (k = 0; k < EXPORT_TOK_COUNT; k++)
			sample_i(b, tok_name, label, rows[i].name, "type",
			    export_tok_name(k),
			    export_tok_get(&rows[i].tokens, k));
	free(rows);
	return 0;
}

static void
render_datagrams(struct buf *b, const struct trk *t)
{
	int e;

	counter1(b, "ratetap_datagrams_accepted_total",
	    "Datagrams from shims accepted.", t->datagrams_accepted);

	family(b, "ratetap_datagrams_rejected_total", "counter",
	    "Datagrams refused as malformed, by reason.");
	for (e = 1; e < RTP_E_COUNT; e++)
		sample_i(b, "ratetap_datagrams_rejected_total", "reason",
		    rtp_strerror(e), NULL, NULL, t->datagrams_rejected[e]);

	counter1(b, "ratetap_datagrams_foreign_total",
	    "Datagrams refused because they came from another user.",
	    t->datagrams_foreign);
	counter1(b, "ratetap_client_drops_total",
	    "Events shims reported they could not hand off.", t->client_drops);

	/* the journal (docs/protocol.md) */
	counter1(b, "ratetap_journal_records_total",
	    "Journal records taken.", t->jrn.records);
	counter1(b, "ratetap_journal_repeats_total",
	    "Journal records refused as already taken.", t->jrn.repeats);
	counter1(b, "ratetap_journal_corrupt_bytes_total",
	    "Journal bytes skipped as garbage or torn records.",
	    t->jrn.corrupt_bytes);
	counter1(b, "ratetap_journal_refused_total",
	    "Journal files refused (not a private file of ours).",
	    t->jrn.refused);
	family(b, "ratetap_journal_pending_bytes", "gauge",
	    "Journal bytes not yet read.");
	sample_i(b, "ratetap_journal_pending_bytes", NULL, NULL, NULL, NULL,
	    t->jrn.size > t->jrn.offset ? t->jrn.size - t->jrn.offset : 0);
	family(b, "ratetap_journal_held_bytes", "gauge",
	    "Space the journal occupies; shims stop appending at the cap.");
	sample_i(b, "ratetap_journal_held_bytes", NULL, NULL, NULL, NULL,
	    t->jrn.held);
	family(b, "ratetap_journal_cap_bytes", "gauge",
	    "The journal's cap (RATETAP_JOURNAL_MAX).");
	sample_i(b, "ratetap_journal_cap_bytes", NULL, NULL, NULL, NULL,
	    t->jrn.cap);
}

static void
render_poll(struct buf *b, const struct trk *t)
{
	counter1(b, "ratetap_poll_success_total",
	    "Usage polls that succeeded.", t->poll_ok_total);
	counter1(b, "ratetap_poll_failures_total",
	    "Usage polls that failed.", t->poll_fail_total);

	family(b, "ratetap_poll_last_success_timestamp_seconds", "gauge",
	    "When the usage poll last succeeded, as a unix timestamp; absent when never.");
	if (t->poll_last_ok > 0)
		sample_i(b, "ratetap_poll_last_success_timestamp_seconds",
		    NULL, NULL, NULL, NULL, (int64_t)t->poll_last_ok);

	family(b, "ratetap_poll_last_attempt_timestamp_seconds", "gauge",
	    "When the usage poll was last attempted, as a unix timestamp; absent when never.");
	if (t->poll_last_attempt > 0)
		sample_i(b, "ratetap_poll_last_attempt_timestamp_seconds",
		    NULL, NULL, NULL, NULL, (int64_t)t->poll_last_attempt);

	family(b, "ratetap_poll_last_ok", "gauge",
	    "1 when the last usage poll succeeded, 0 when it failed; absent before the first.");
	if (t->poll_last_attempt > 0 || t->poll_last_ok > 0)
		sample_i(b, "ratetap_poll_last_ok", NULL, NULL, NULL, NULL,
		    t->poll_last_error[0] == '\0' ? 1 : 0);

	family(b, "ratetap_last_event_timestamp_seconds", "gauge",
	    "When the last datagram was accepted, as a unix timestamp; absent when none.");
	if (t->last_event > 0)
		sample_i(b, "ratetap_last_event_timestamp_seconds", NULL, NULL,
		    NULL, NULL, (int64_t)t->last_event);
}

int
metrics_render(const struct trk *t, time_t now, char **out, size_t *len)
{
	struct buf b;

	memset(&b, 0, sizeof(b));
	*out = NULL;
	*len = 0;
	if (buf_reserve(&b, BUF_INITIAL / 2) == -1)
		goto err;

	family(&b, "ratetap_build_info", "gauge",
	    "Always 1; the version label is the running ratetapd's.");
	sample_i(&b, "ratetap_build_info", "version", RATETAP_VERSION, NULL,
	    NULL, 1);

	render_windows(&b, t, now);
	render_extra(&b, t);
	render_api(&b, t);
	render_requests(&b, t);
	if (render_named(&b, t->models, t->nmodels, "model",
	    "ratetap_model_requests_total",
	    "Requests by response model (top models; the rest as \"other\").",
	    "ratetap_model_tokens_total",
	    "Tokens by response model and type (top models; the rest as \"other\").") == -1)
		goto err;
	if (render_named(&b, t->progs, t->nprogs, "program",
	    "ratetap_program_requests_total",
	    "Requests by program (top programs; the rest as \"other\").",
	    "ratetap_program_tokens_total",
	    "Tokens by program and type (top programs; the rest as \"other\").") == -1)
		goto err;
	render_datagrams(&b, t);
	render_poll(&b, t);
	if (b.oom)
		goto err;

	*out = b.p;
	*len = b.len;
	return 0;
err:
	free(b.p);
	errno = ENOMEM;
	return -1;
}
