/*
 * The OTLP payload (see otlp.h and docs/metrics.md): the tracker's gauges
 * and cumulative sums as an ExportMetricsServiceRequest built with cJSON,
 * in the OTLP/HTTP JSON encoding.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "export.h"
#include "otlp.h"
#include "tracker.h"

#ifndef RATETAP_VERSION
#define RATETAP_VERSION "unknown"
#endif

/* --- payload ----------------------------------------------------------- */

struct pb {
	cJSON *metrics;		/* the scope's metrics[] */
	char start[24];		/* startTimeUnixNano of sums */
	char now[24];		/* timeUnixNano */
	int oom;
};

struct mref {
	cJSON *points;		/* dataPoints[] */
	int sum;
};

/*
 * Add a metric (a gauge, or a cumulative sum, monotonic when mono) and
 * return its data point array in *m.
 */
static void
metric(struct pb *pb, struct mref *m, const char *name, const char *unit,
    const char *desc, int sum, int mono)
{
	cJSON *o = NULL, *data;

	m->points = NULL;
	m->sum = sum;
	if (pb->oom)
		return;
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "name", name) == NULL ||
	    cJSON_AddStringToObject(o, "description", desc) == NULL ||
	    cJSON_AddStringToObject(o, "unit", unit) == NULL ||
	    (data = cJSON_AddObjectToObject(o, sum ? "sum" : "gauge")) == NULL ||
	    (m->points = cJSON_AddArrayToObject(data, "dataPoints")) == NULL)
		goto oom;
	if (sum && (cJSON_AddNumberToObject(data, "aggregationTemporality",
	    2) == NULL ||
	    cJSON_AddBoolToObject(data, "isMonotonic", mono) == NULL))
		goto oom;
	if (!cJSON_AddItemToArray(pb->metrics, o))
		goto oom;
	return;
oom:
	cJSON_Delete(o);
	m->points = NULL;
	pb->oom = 1;
}

static cJSON *
attr(const char *key, const char *value)
{
	cJSON *a, *v;

	if ((a = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(a, "key", key) == NULL ||
	    (v = cJSON_AddObjectToObject(a, "value")) == NULL ||
	    cJSON_AddStringToObject(v, "stringValue", value) == NULL) {
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

/*
 * Add a data point to m: a double (dbl) or an int64 value, attributes as
 * key, value, ..., NULL.
 */
static void
point(struct pb *pb, const struct mref *m, int dbl, double d, int64_t i,
    const char *const *attrs)
{
	cJSON *p = NULL, *arr, *a;
	char num[24];

	if (pb->oom || m->points == NULL)
		return;
	if (dbl && !isfinite(d))
		return;		/* JSON has no NaN: leave the point out */
	if ((p = cJSON_CreateObject()) == NULL ||
	    (arr = cJSON_AddArrayToObject(p, "attributes")) == NULL)
		goto oom;
	for (; attrs != NULL && attrs[0] != NULL; attrs += 2)
		if ((a = attr(attrs[0], attrs[1])) == NULL ||
		    !cJSON_AddItemToArray(arr, a)) {
			cJSON_Delete(a);
			goto oom;
		}
	if (m->sum && cJSON_AddStringToObject(p, "startTimeUnixNano",
	    pb->start) == NULL)
		goto oom;
	if (cJSON_AddStringToObject(p, "timeUnixNano", pb->now) == NULL)
		goto oom;
	if (dbl) {
		if (cJSON_AddNumberToObject(p, "asDouble", d) == NULL)
			goto oom;
	} else {
		snprintf(num, sizeof(num), "%" PRId64, i);
		if (cJSON_AddStringToObject(p, "asInt", num) == NULL)
			goto oom;
	}
	if (!cJSON_AddItemToArray(m->points, p))
		goto oom;
	return;
oom:
	cJSON_Delete(p);
	pb->oom = 1;
}

#define ATTRS(...)	((const char *const[]){ __VA_ARGS__, NULL })

static void
one_int(struct pb *pb, const char *name, const char *unit, const char *desc,
    int sum, int64_t v)
{
	struct mref m;

	metric(pb, &m, name, unit, desc, sum, 1);
	point(pb, &m, 0, 0.0, v, NULL);
}

static void
pay_windows(struct pb *pb, const struct trk *t, time_t now)
{
	struct mref util, reset, left, tok, roll;
	int w, k;

	metric(pb, &util, "ratetap.window.utilization", "%",
	    "Utilization of the rate-limit window (may exceed 100)", 0, 0);
	metric(pb, &reset, "ratetap.window.reset.time", "s",
	    "When the window resets, unix time", 0, 0);
	metric(pb, &left, "ratetap.window.reset.remaining", "s",
	    "Time until the window resets", 0, 0);
	metric(pb, &tok, "ratetap.window.tokens", "{token}",
	    "Tokens used in the current window; zeroed at rollover", 0, 0);
	metric(pb, &roll, "ratetap.window.rollovers", "{rollover}",
	    "Times the window rolled over", 1, 1);
	for (w = 0; w < t->nwin; w++) {
		const struct trk_window *win = &t->win[w];
		const char *wn = win->name;
		time_t rs = trk_win_reset(t, w, NULL);

		if (win->has_util)
			point(pb, &util, 1, win->utilization, 0,
			    ATTRS("ratetap.window", wn));
		if (rs > 0) {
			int64_t l = (int64_t)rs - (int64_t)now;

			point(pb, &reset, 0, 0.0, (int64_t)rs,
			    ATTRS("ratetap.window", wn));
			point(pb, &left, 0, 0.0, l > 0 ? l : 0,
			    ATTRS("ratetap.window", wn));
		}
		for (k = 0; k < EXPORT_TOK_COUNT; k++)
			point(pb, &tok, 0, 0.0, export_tok_get(&win->tokens, k),
			    ATTRS("ratetap.window", wn,
			    "ratetap.token.type", export_tok_name(k)));
		point(pb, &roll, 0, 0.0, win->rollovers,
		    ATTRS("ratetap.window", wn));
	}
}

static void
state_point(struct pb *pb, const char *name, const char *desc,
    const char *key, const char *(*names)(int), int max, int cur)
{
	struct mref m;
	int s;

	metric(pb, &m, name, "1", desc, 0, 0);
	if (cur <= 0 || cur > max || names(cur) == NULL)
		return;
	for (s = 1; s <= max; s++)
		if (names(s) != NULL)
			point(pb, &m, 0, 0.0, s == cur, ATTRS(key, names(s)));
}

static void
pay_status(struct pb *pb, const struct trk *t)
{
	const struct trk_extra *x = &t->extra;
	struct mref m;
	int k;

	metric(pb, &m, "ratetap.warning.threshold", "%",
	    "Utilization above which ratetapd warns", 0, 0);
	point(pb, &m, 1, t->cfg.warn_pct, 0, NULL);
	state_point(pb, "ratetap.unified.status",
	    "Last unified rate-limit status: 1 for the current one",
	    "ratetap.status", trk_ustatus_name, RTP_US_MAX, t->unified_status);
	state_point(pb, "ratetap.representative_claim",
	    "Last representative claim: 1 for the limiting window",
	    "ratetap.claim", trk_claim_name, RTP_CLAIM_MAX,
	    t->representative_claim);

	metric(pb, &m, "ratetap.extra_usage.enabled", "1",
	    "1 when extra usage is enabled", 0, 0);
	if (x->known)
		point(pb, &m, 0, 0.0, x->is_enabled ? 1 : 0, NULL);
	metric(pb, &m, "ratetap.extra_usage.limit", "{credit}",
	    "Monthly extra usage limit, credits (cents)", 0, 0);
	if (x->known && x->has_monthly_limit)
		point(pb, &m, 1, x->monthly_limit, 0, NULL);
	metric(pb, &m, "ratetap.extra_usage.used", "{credit}",
	    "Extra usage used this month, credits (cents)", 0, 0);
	if (x->known && x->has_used_credits)
		point(pb, &m, 1, x->used_credits, 0, NULL);
	metric(pb, &m, "ratetap.extra_usage.utilization", "%",
	    "Extra usage used this month, percent of the limit", 0, 0);
	if (x->known && x->has_util)
		point(pb, &m, 1, x->utilization, 0, NULL);

	metric(pb, &m, "ratetap.api_key.limit", "1",
	    "API-key rate limit by kind", 0, 0);
	for (k = 0; k < TRK_API_COUNT; k++)
		if (t->api[k].known)
			point(pb, &m, 0, 0.0, t->api[k].limit,
			    ATTRS("ratetap.limit.kind", trk_api_name(k)));
	metric(pb, &m, "ratetap.api_key.remaining", "1",
	    "API-key allowance left by kind", 0, 0);
	for (k = 0; k < TRK_API_COUNT; k++)
		if (t->api[k].known)
			point(pb, &m, 0, 0.0, t->api[k].remaining,
			    ATTRS("ratetap.limit.kind", trk_api_name(k)));
	metric(pb, &m, "ratetap.api_key.reset.time", "s",
	    "When the API-key limit is replenished, unix time", 0, 0);
	for (k = 0; k < TRK_API_COUNT; k++)
		if (t->api[k].known && t->api[k].reset > 0)
			point(pb, &m, 0, 0.0, (int64_t)t->api[k].reset,
			    ATTRS("ratetap.limit.kind", trk_api_name(k)));
	metric(pb, &m, "ratetap.retry_after", "s",
	    "Last retry-after the API asked for", 0, 0);
	if (t->retry_after >= 0 && t->retry_after_at > 0)
		point(pb, &m, 0, 0.0, t->retry_after, NULL);
}

static void
pay_counters(struct pb *pb, const struct trk *t)
{
	struct mref m;
	int k, e;

	one_int(pb, "ratetap.requests", "{request}",
	    "Tapped API transfers that got a response", 1,
	    t->requests_total);
	one_int(pb, "ratetap.requests.rate_limited", "{request}",
	    "Requests answered 429 or with unified status rejected", 1,
	    t->requests_rate_limited);
	one_int(pb, "ratetap.requests.overloaded", "{request}",
	    "Requests answered 529", 1, t->requests_overloaded);
	one_int(pb, "ratetap.requests.errors", "{request}",
	    "Requests answered with another error, or without a response", 1,
	    t->requests_errors);
	one_int(pb, "ratetap.usage.unreadable", "{response}",
	    "Responses whose usage could not be read", 1, t->usage_unreadable);
	metric(pb, &m, "ratetap.tokens", "{token}",
	    "Tokens used by every tapped request", 1, 1);
	for (k = 0; k < EXPORT_TOK_COUNT; k++)
		point(pb, &m, 0, 0.0, export_tok_get(&t->tokens_total, k),
		    ATTRS("ratetap.token.type", export_tok_name(k)));

	one_int(pb, "ratetap.datagrams.accepted", "{datagram}",
	    "Datagrams from shims accepted", 1, t->datagrams_accepted);
	metric(pb, &m, "ratetap.datagrams.rejected", "{datagram}",
	    "Datagrams refused as malformed", 1, 1);
	for (e = 1; e < RTP_E_COUNT; e++)
		point(pb, &m, 0, 0.0, t->datagrams_rejected[e],
		    ATTRS("ratetap.reason", rtp_strerror(e)));
	one_int(pb, "ratetap.datagrams.foreign", "{datagram}",
	    "Datagrams refused as coming from another user", 1,
	    t->datagrams_foreign);
	one_int(pb, "ratetap.client.drops", "{datagram}",
	    "Datagrams shims could not send", 1, t->client_drops);

	one_int(pb, "ratetap.poll.successes", "{poll}",
	    "Usage polls that succeeded", 1, t->poll_ok_total);
	one_int(pb, "ratetap.poll.failures", "{poll}",
	    "Usage polls that failed", 1, t->poll_fail_total);
	metric(pb, &m, "ratetap.poll.last_success.time", "s",
	    "When the usage poll last succeeded, unix time", 0, 0);
	if (t->poll_last_ok > 0)
		point(pb, &m, 0, 0.0, (int64_t)t->poll_last_ok, NULL);
	metric(pb, &m, "ratetap.poll.last_ok", "1",
	    "1 when the last usage poll succeeded", 0, 0);
	if (t->poll_last_attempt > 0 || t->poll_last_ok > 0)
		point(pb, &m, 0, 0.0, t->poll_last_error[0] == '\0', NULL);
	metric(pb, &m, "ratetap.last_event.time", "s",
	    "When the last datagram was accepted, unix time", 0, 0);
	if (t->last_event > 0)
		point(pb, &m, 0, 0.0, (int64_t)t->last_event, NULL);
}

/*
 * The GenAI conventions' newer counters, one per token kind.  Their input
 * count includes the cached tokens (Anthropic's input_tokens does not);
 * the cache counters are the parts of it read from and written to the
 * cache.
 */
static const struct {
	const char *name;
	const char *desc;
	int kinds[3];		/* EXPORT_TOK_* added up, -1 ends */
} genai_new[] = {
	{ "gen_ai.client.inference.usage.input_tokens",
	  "Input tokens used, cached ones included (cumulative)",
	  { EXPORT_TOK_INPUT, EXPORT_TOK_CACHE_CREATION,
	    EXPORT_TOK_CACHE_READ } },
	{ "gen_ai.client.inference.usage.output_tokens",
	  "Output tokens used (cumulative)", { EXPORT_TOK_OUTPUT, -1, -1 } },
	{ "gen_ai.client.inference.usage.cache_read.input_tokens",
	  "Input tokens read from the prompt cache (cumulative)",
	  { EXPORT_TOK_CACHE_READ, -1, -1 } },
	{ "gen_ai.client.inference.usage.cache_write.input_tokens",
	  "Input tokens written to the prompt cache (cumulative)",
	  { EXPORT_TOK_CACHE_CREATION, -1, -1 } },
};
#define NGENAI_NEW	(sizeof(genai_new) / sizeof(genai_new[0]))

static void
pay_genai_new(struct pb *pb, const struct export_row *rows, int n)
{
	struct mref m;
	size_t g;
	int i, j;

	for (g = 0; g < NGENAI_NEW; g++) {
		metric(pb, &m, genai_new[g].name, "{token}",
		    genai_new[g].desc, 1, 1);
		for (i = 0; i < n; i++) {
			int64_t v = 0;

			for (j = 0; j < 3 && genai_new[g].kinds[j] != -1; j++)
				v += export_tok_get(&rows[i].tokens,
				    genai_new[g].kinds[j]);
			point(pb, &m, 0, 0.0, v,
			    ATTRS("gen_ai.operation.name", "chat",
			    "gen_ai.provider.name", "anthropic",
			    "gen_ai.request.model", rows[i].name,
			    "gen_ai.response.model", rows[i].name));
		}
	}
}

static int
pay_named(struct pb *pb, const struct trk *t, int semconv)
{
	struct export_row *rows = NULL;
	struct mref req, tok, genai;
	int n, i, k;

	if ((n = export_top(t->models, t->nmodels, EXPORT_MAX_NAMED,
	    &rows)) == -1)
		return -1;
	metric(pb, &req, "ratetap.model.requests", "{request}",
	    "Requests by response model", 1, 1);
	metric(pb, &tok, "ratetap.model.tokens", "{token}",
	    "Tokens by response model and type", 1, 1);
	if (semconv & OTLP_SEMCONV_OLD)
		metric(pb, &genai, "gen_ai.client.token.usage", "{token}",
		    "Measures number of input and output tokens used "
		    "(cumulative)", 1, 1);
	else
		genai.points = NULL;	/* point() leaves it alone */
	for (i = 0; i < n; i++) {
		const char *mn = rows[i].name;

		point(pb, &req, 0, 0.0, rows[i].requests,
		    ATTRS("gen_ai.response.model", mn));
		for (k = 0; k < EXPORT_TOK_COUNT; k++) {
			int64_t v = export_tok_get(&rows[i].tokens, k);
			const char *kn = export_tok_name(k);

			point(pb, &tok, 0, 0.0, v,
			    ATTRS("gen_ai.response.model", mn,
			    "ratetap.token.type", kn));
			point(pb, &genai, 0, 0.0, v,
			    ATTRS("gen_ai.operation.name", "chat",
			    "gen_ai.provider.name", "anthropic",
			    "gen_ai.token.type",
			    k == EXPORT_TOK_OUTPUT ? "output" : "input",
			    "gen_ai.request.model", mn,
			    "gen_ai.response.model", mn,
			    "ratetap.token.type", kn));
		}
	}
	if (semconv & OTLP_SEMCONV_NEW)
		pay_genai_new(pb, rows, n);
	free(rows);

	if ((n = export_top(t->progs, t->nprogs, EXPORT_MAX_NAMED,
	    &rows)) == -1)
		return -1;
	metric(pb, &req, "ratetap.program.requests", "{request}",
	    "Requests by program", 1, 1);
	metric(pb, &tok, "ratetap.program.tokens", "{token}",
	    "Tokens by program and type", 1, 1);
	for (i = 0; i < n; i++) {
		point(pb, &req, 0, 0.0, rows[i].requests,
		    ATTRS("ratetap.program", rows[i].name));
		for (k = 0; k < EXPORT_TOK_COUNT; k++)
			point(pb, &tok, 0, 0.0,
			    export_tok_get(&rows[i].tokens, k),
			    ATTRS("ratetap.program", rows[i].name,
			    "ratetap.token.type", export_tok_name(k)));
	}
	free(rows);
	return 0;
}

/* Drop the metrics that got no data point (unknown values). */
static void
drop_empty(cJSON *metrics)
{
	cJSON *m = metrics->child, *next;

	for (; m != NULL; m = next) {
		cJSON *data = cJSON_GetObjectItemCaseSensitive(m, "gauge");

		next = m->next;
		if (data == NULL)
			data = cJSON_GetObjectItemCaseSensitive(m, "sum");
		if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(data,
		    "dataPoints")) == 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(metrics, m));
	}
}

cJSON *
otlp_payload(const struct trk *t, const struct otlp_config *c,
    uint64_t start_ns, uint64_t now_ns)
{
	cJSON *root, *rm, *res, *attrs, *sm, *scope, *a;
	struct pb pb;
	time_t now = (time_t)(now_ns / UINT64_C(1000000000));
	int i;

	memset(&pb, 0, sizeof(pb));
	snprintf(pb.start, sizeof(pb.start), "%" PRIu64, start_ns);
	snprintf(pb.now, sizeof(pb.now), "%" PRIu64, now_ns);

	if ((root = cJSON_CreateObject()) == NULL)
		return NULL;
	if ((rm = cJSON_AddArrayToObject(root, "resourceMetrics")) == NULL ||
	    (a = cJSON_CreateObject()) == NULL)
		goto err;
	if (!cJSON_AddItemToArray(rm, a)) {
		cJSON_Delete(a);
		goto err;
	}
	rm = a;
	if ((res = cJSON_AddObjectToObject(rm, "resource")) == NULL ||
	    (attrs = cJSON_AddArrayToObject(res, "attributes")) == NULL)
		goto err;
	for (i = 0; c != NULL && i < c->nresource; i++) {
		if ((a = attr(c->resource[i].key, c->resource[i].value)) == NULL)
			goto err;
		if (!cJSON_AddItemToArray(attrs, a)) {
			cJSON_Delete(a);
			goto err;
		}
	}
	if ((sm = cJSON_AddArrayToObject(rm, "scopeMetrics")) == NULL ||
	    (a = cJSON_CreateObject()) == NULL)
		goto err;
	if (!cJSON_AddItemToArray(sm, a)) {
		cJSON_Delete(a);
		goto err;
	}
	sm = a;
	if ((scope = cJSON_AddObjectToObject(sm, "scope")) == NULL ||
	    cJSON_AddStringToObject(scope, "name", "ratetap") == NULL ||
	    cJSON_AddStringToObject(scope, "version", RATETAP_VERSION) == NULL ||
	    (pb.metrics = cJSON_AddArrayToObject(sm, "metrics")) == NULL)
		goto err;

	pay_windows(&pb, t, now);
	pay_status(&pb, t);
	pay_counters(&pb, t);
	if (pay_named(&pb, t, c != NULL && c->semconv != 0 ? c->semconv :
	    OTLP_SEMCONV_OLD) == -1 || pb.oom)
		goto err;
	drop_empty(pb.metrics);
	return root;
err:
	cJSON_Delete(root);
	return NULL;
}
