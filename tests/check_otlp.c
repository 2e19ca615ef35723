/*
 * Unit tests of the OTLP exporter (daemon/otlp_config.c, otlp_payload.c,
 * otlp.c): the payload built from a tracker fed through its public
 * functions, the OTEL_* environment, the key=value list parser, back-off,
 * and pushes to a collector served from the same event loop.  Includes otlp_config.c, otlp_payload.c and otlp.c to
 * reach their static functions.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../daemon/otlp_config.c"
#include "../daemon/otlp_payload.c"
#include "../daemon/otlp.c"
#include "daemontest.h"
#include "otlp_metrics.pb-c.h"

#define NOW	((time_t)1795000000)
#define SEC	UINT64_C(1000000000)

static const char *const otel_vars[] = {
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
	"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
	"OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME",
	"OTEL_METRIC_EXPORT_INTERVAL", "OTEL_EXPORTER_OTLP_TIMEOUT",
	"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "OTEL_SDK_DISABLED",
	"OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_SEMCONV_STABILITY_OPT_IN",
	NULL
};

static void
clear_env(void)
{
	int i;

	for (i = 0; otel_vars[i] != NULL; i++)
		unsetenv(otel_vars[i]);
	capture_reset();
}

static struct trk *
populated(void)
{
	struct trk *t = trk_new(NULL);
	struct rtp_event ev;

	ck_assert_ptr_nonnull(t);
	ev = msg_event("claude-sonnet-4-5", "curl", 11, 22, 3, 5);
	ev.present = RTP_PRESENT_D(RTP_D_UTIL_5H) |
	    RTP_PRESENT_I(RTP_I_RESET_5H) | RTP_PRESENT_I(RTP_I_REQ_LIMIT) |
	    RTP_PRESENT_I(RTP_I_REQ_REMAINING);
	ev.d[RTP_D_UTIL_5H] = 0.25;
	ev.i[RTP_I_RESET_5H] = NOW + 3600;
	ev.i[RTP_I_REQ_LIMIT] = 50;
	ev.i[RTP_I_REQ_REMAINING] = 49;
	trk_event(t, &ev, NOW);
	ev = msg_event("claude-opus-4-1", "python3", 100, 200, 0, 1000);
	trk_event(t, &ev, NOW);
	ev = msg_event("", "curl", 0, 0, 0, 0);
	ev.http_status = 429;
	ev.usage_state = RTP_USAGE_NONE;
	trk_event(t, &ev, NOW);
	return t;
}

/* The metric named name in a payload, NULL when absent. */
static cJSON *
find_metric(cJSON *root, const char *name)
{
	cJSON *rm = cJSON_GetArrayItem(cJSON_GetObjectItem(root,
	    "resourceMetrics"), 0);
	cJSON *sm = cJSON_GetArrayItem(cJSON_GetObjectItem(rm,
	    "scopeMetrics"), 0);
	cJSON *m;

	cJSON_ArrayForEach(m, cJSON_GetObjectItem(sm, "metrics")) {
		cJSON *n = cJSON_GetObjectItem(m, "name");

		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return m;
	}
	return NULL;
}

static const char *
attr_of(cJSON *dp, const char *key)
{
	cJSON *a;

	cJSON_ArrayForEach(a, cJSON_GetObjectItem(dp, "attributes")) {
		cJSON *k = cJSON_GetObjectItem(a, "key");
		cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(a, "value"),
		    "stringValue");

		if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
			return cJSON_IsString(v) ? v->valuestring : NULL;
	}
	return NULL;
}

/* The data point of metric name whose attribute k1 (and k2) match. */
static cJSON *
find_point(cJSON *root, const char *name, const char *k1, const char *v1,
    const char *k2, const char *v2)
{
	cJSON *m = find_metric(root, name), *data, *dp;

	if (m == NULL)
		return NULL;
	if ((data = cJSON_GetObjectItem(m, "gauge")) == NULL)
		data = cJSON_GetObjectItem(m, "sum");
	cJSON_ArrayForEach(dp, cJSON_GetObjectItem(data, "dataPoints")) {
		const char *a1 = k1 ? attr_of(dp, k1) : NULL;
		const char *a2 = k2 ? attr_of(dp, k2) : NULL;

		if ((k1 == NULL || (a1 && strcmp(a1, v1) == 0)) &&
		    (k2 == NULL || (a2 && strcmp(a2, v2) == 0)))
			return dp;
	}
	return NULL;
}

static const char *
as_int(cJSON *dp)
{
	cJSON *v = cJSON_GetObjectItem(dp, "asInt");

	ck_assert_msg(cJSON_IsString(v), "asInt is not a string");
	return v->valuestring;
}

static int
all_digits(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static cJSON *
payload_of(struct trk *t, struct otlp_config *c)
{
	cJSON *p = otlp_payload(t, c, NOW * SEC, (NOW + 10) * SEC + 5);
	char *s;

	ck_assert_ptr_nonnull(p);
	/* what goes on the wire parses back */
	s = cJSON_PrintUnformatted(p);
	ck_assert_ptr_nonnull(s);
	cJSON_Delete(p);
	p = cJSON_Parse(s);
	free(s);
	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(otlp_payload_has_the_export_metrics_service_request_shape)
{
	struct otlp_config c;
	struct trk *t = populated();
	char err[OTLP_ERR_LEN];
	cJSON *p, *rm, *res, *scope, *m;
	int nmetrics = 0;

	clear_env();
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318", 1);
	setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 1);
	p = payload_of(t, &c);

	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(p,
	    "resourceMetrics")), 1);
	rm = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "resourceMetrics"), 0);
	res = cJSON_GetObjectItem(rm, "resource");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(res, "attributes"), 0), "key")->valuestring,
	    "service.name");
	ck_assert_str_eq(attr_of(res, "service.name"), "ratetapd");
	ck_assert_str_eq(attr_of(res, "service.version"), RATETAP_VERSION);
	ck_assert_str_eq(attr_of(res, "deployment.environment"), "test");
	scope = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(rm,
	    "scopeMetrics"), 0), "scope");
	ck_assert_str_eq(cJSON_GetObjectItem(scope, "name")->valuestring,
	    "ratetap");
	ck_assert_str_eq(cJSON_GetObjectItem(scope, "version")->valuestring,
	    RATETAP_VERSION);

	/* every metric: name, unit, one of gauge / sum with points; every
	 * point: string timestamps, one value, string attributes */
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(rm, "scopeMetrics"), 0), "metrics")) {
		cJSON *g = cJSON_GetObjectItem(m, "gauge");
		cJSON *s = cJSON_GetObjectItem(m, "sum");
		cJSON *data = g ? g : s, *dp, *a;

		nmetrics++;
		ck_assert(cJSON_IsString(cJSON_GetObjectItem(m, "name")));
		ck_assert(cJSON_IsString(cJSON_GetObjectItem(m, "unit")));
		ck_assert_msg((g == NULL) != (s == NULL), "gauge xor sum");
		if (s != NULL) {
			ck_assert_int_eq(cJSON_GetObjectItem(s,
			    "aggregationTemporality")->valueint, 2);
			ck_assert(cJSON_IsBool(cJSON_GetObjectItem(s,
			    "isMonotonic")));
		}
		ck_assert_int_gt(cJSON_GetArraySize(cJSON_GetObjectItem(data,
		    "dataPoints")), 0);
		cJSON_ArrayForEach(dp, cJSON_GetObjectItem(data, "dataPoints")) {
			cJSON *ai = cJSON_GetObjectItem(dp, "asInt");
			cJSON *ad = cJSON_GetObjectItem(dp, "asDouble");

			ck_assert_str_eq(cJSON_GetObjectItem(dp,
			    "timeUnixNano")->valuestring, "1795000010000000005");
			if (s != NULL)
				ck_assert_str_eq(cJSON_GetObjectItem(dp,
				    "startTimeUnixNano")->valuestring,
				    "1795000000000000000");
			else
				ck_assert_ptr_null(cJSON_GetObjectItem(dp,
				    "startTimeUnixNano"));
			ck_assert_msg((ai == NULL) != (ad == NULL), "one value");
			if (ai != NULL)
				ck_assert(cJSON_IsString(ai) &&
				    all_digits(ai->valuestring));
			else
				ck_assert(cJSON_IsNumber(ad));
			cJSON_ArrayForEach(a, cJSON_GetObjectItem(dp,
			    "attributes"))
				ck_assert(cJSON_IsString(cJSON_GetObjectItem(
				    cJSON_GetObjectItem(a, "value"),
				    "stringValue")));
		}
	}
	ck_assert_int_ge(nmetrics, 20);

	/* values */
	m = find_point(p, "ratetap.window.utilization", "ratetap.window",
	    "five_hour", NULL, NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_double_eq(cJSON_GetObjectItem(m, "asDouble")->valuedouble, 25.0);
	ck_assert_ptr_null(find_point(p, "ratetap.window.utilization",
	    "ratetap.window", "seven_day", NULL, NULL));
	ck_assert_str_eq(as_int(find_point(p, "ratetap.window.reset.remaining",
	    "ratetap.window", "five_hour", NULL, NULL)), "3590");
	ck_assert_str_eq(as_int(find_point(p, "ratetap.window.tokens",
	    "ratetap.window", "seven_day_opus", "ratetap.token.type",
	    "cache_read_input")), "1000");
	ck_assert_str_eq(as_int(find_point(p, "ratetap.requests", NULL, NULL,
	    NULL, NULL)), "3");
	ck_assert_str_eq(as_int(find_point(p, "ratetap.requests.rate_limited",
	    NULL, NULL, NULL, NULL)), "1");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(
	    find_metric(p, "ratetap.requests"), "sum"), "isMonotonic")));
	ck_assert_str_eq(as_int(find_point(p, "ratetap.api_key.remaining",
	    "ratetap.limit.kind", "requests", NULL, NULL)), "49");
	ck_assert_str_eq(as_int(find_point(p, "ratetap.program.tokens",
	    "ratetap.program", "python3", "ratetap.token.type", "output")),
	    "200");
	ck_assert_str_eq(as_int(find_point(p, "ratetap.model.requests",
	    "gen_ai.response.model", "claude-opus-4-1", NULL, NULL)), "1");
	ck_assert_str_eq(cJSON_GetObjectItem(find_metric(p,
	    "ratetap.window.utilization"), "unit")->valuestring, "%");
	/* unknown values: no metric at all */
	ck_assert_ptr_null(find_metric(p, "ratetap.extra_usage.utilization"));
	ck_assert_ptr_null(find_metric(p, "ratetap.poll.last_success.time"));
	ck_assert_ptr_null(find_metric(p, "ratetap.retry_after"));

	cJSON_Delete(p);
	otlp_config_free(&c);
	trk_free(t);
}
END_TEST

START_TEST(otlp_token_usage_follows_the_genai_conventions)
{
	struct trk *t = populated();
	cJSON *p, *m, *dp;
	static const struct {
		const char *kind, *type, *value;
	} want[] = {
		{ "input", "input", "11" },
		{ "cache_creation_input", "input", "3" },
		{ "cache_read_input", "input", "5" },
		{ "output", "output", "22" },
	};
	size_t i;
	int n = 0;

	p = payload_of(t, NULL);
	m = find_metric(p, "gen_ai.client.token.usage");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "unit")->valuestring, "{token}");
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "sum"),
	    "aggregationTemporality")->valueint, 2);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		dp = find_point(p, "gen_ai.client.token.usage",
		    "gen_ai.response.model", "claude-sonnet-4-5",
		    "ratetap.token.type", want[i].kind);
		ck_assert_ptr_nonnull(dp);
		ck_assert_str_eq(attr_of(dp, "gen_ai.token.type"), want[i].type);
		ck_assert_str_eq(attr_of(dp, "gen_ai.provider.name"), "anthropic");
		ck_assert_str_eq(attr_of(dp, "gen_ai.operation.name"), "chat");
		ck_assert_str_eq(attr_of(dp, "gen_ai.request.model"),
		    "claude-sonnet-4-5");
		ck_assert_str_eq(as_int(dp), want[i].value);
	}
	cJSON_ArrayForEach(dp, cJSON_GetObjectItem(cJSON_GetObjectItem(m,
	    "sum"), "dataPoints"))
		n++;
	ck_assert_int_eq(n, 8);		/* two models, four kinds */
	cJSON_Delete(p);
	trk_free(t);
}
END_TEST

/* The payload under OTEL_SEMCONV_STABILITY_OPT_IN=opt (NULL: unset). */
static cJSON *
payload_opt_in(struct trk *t, const char *opt)
{
	struct otlp_config c;
	char err[OTLP_ERR_LEN];
	cJSON *p;

	clear_env();
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318", 1);
	if (opt != NULL)
		setenv("OTEL_SEMCONV_STABILITY_OPT_IN", opt, 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 1);
	p = payload_of(t, &c);
	otlp_config_free(&c);
	return p;
}

#define NEW_IN	"gen_ai.client.inference.usage.input_tokens"
#define NEW_OUT	"gen_ai.client.inference.usage.output_tokens"
#define NEW_CR	"gen_ai.client.inference.usage.cache_read.input_tokens"
#define NEW_CW	"gen_ai.client.inference.usage.cache_write.input_tokens"

START_TEST(otlp_semconv_opt_in_picks_old_new_or_both_names)
{
	static const struct {
		const char *opt;
		int old, new;
	} cases[] = {
		{ NULL, 1, 0 },
		{ "", 1, 0 },
		{ "http", 1, 0 },
		{ "gen_ai_latest_experimental", 0, 1 },
		{ " http , gen_ai_latest_experimental ", 0, 1 },
		{ "gen_ai_latest_experimental/dup", 1, 1 },
		{ "gen_ai_latest_experimental,gen_ai_latest_experimental/dup",
		  1, 1 },
		{ "gen_ai_latest_experimentalX", 1, 0 },
	};
	struct trk *t = populated();
	size_t i;
	cJSON *p;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = payload_opt_in(t, cases[i].opt);
		ck_assert_msg((find_metric(p, "gen_ai.client.token.usage") !=
		    NULL) == cases[i].old, "old names, case %zu", i);
		ck_assert_msg((find_metric(p, NEW_IN) != NULL) == cases[i].new,
		    "new names, case %zu", i);
		ck_assert_msg((find_metric(p, NEW_CW) != NULL) == cases[i].new,
		    "new names, case %zu", i);
		/* ratetap's own names never change */
		ck_assert_ptr_nonnull(find_metric(p, "ratetap.model.tokens"));
		cJSON_Delete(p);
	}
	trk_free(t);
}
END_TEST

START_TEST(otlp_new_genai_counters_count_cached_input_as_input)
{
	static const struct {
		const char *name, *sonnet, *opus;
	} want[] = {
		{ NEW_IN, "19", "1100" },	/* 11+3+5, 100+0+1000 */
		{ NEW_OUT, "22", "200" },
		{ NEW_CR, "5", "1000" },
		{ NEW_CW, "3", "0" },
	};
	struct trk *t = populated();
	cJSON *p, *m, *dp;
	size_t i;

	p = payload_opt_in(t, "gen_ai_latest_experimental");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		m = find_metric(p, want[i].name);
		ck_assert_ptr_nonnull(m);
		ck_assert_str_eq(cJSON_GetObjectItem(m, "unit")->valuestring,
		    "{token}");
		ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(
		    cJSON_GetObjectItem(m, "sum"), "isMonotonic")));
		dp = find_point(p, want[i].name, "gen_ai.response.model",
		    "claude-sonnet-4-5", NULL, NULL);
		ck_assert_ptr_nonnull(dp);
		ck_assert_str_eq(as_int(dp), want[i].sonnet);
		ck_assert_str_eq(attr_of(dp, "gen_ai.provider.name"),
		    "anthropic");
		ck_assert_str_eq(attr_of(dp, "gen_ai.request.model"),
		    "claude-sonnet-4-5");
		ck_assert_ptr_null(attr_of(dp, "gen_ai.token.type"));
		dp = find_point(p, want[i].name, "gen_ai.response.model",
		    "claude-opus-4-1", NULL, NULL);
		ck_assert_str_eq(as_int(dp), want[i].opus);
	}
	cJSON_Delete(p);
	trk_free(t);
}
END_TEST

START_TEST(otlp_protobuf_body_unpacks_to_the_json_payload)
{
	struct trk *t = populated();
	Ratetap__Otlp__ExportMetricsServiceRequest *r;
	Ratetap__Otlp__ScopeMetrics *sm;
	cJSON *p, *jm, *jdp;
	uint8_t *buf;
	size_t len, i, nm = 0;

	p = payload_of(t, NULL);
	buf = otlp_pb_encode(p, &len);
	ck_assert_ptr_nonnull(buf);
	r = ratetap__otlp__export_metrics_service_request__unpack(NULL, len,
	    buf);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->n_resource_metrics, 1);
	ck_assert_uint_eq(r->resource_metrics[0]->n_scope_metrics, 1);
	sm = r->resource_metrics[0]->scope_metrics[0];
	ck_assert_str_eq(sm->scope->name, "ratetap");
	cJSON_ArrayForEach(jm, cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(p,
	    "resourceMetrics"), 0), "scopeMetrics"), 0), "metrics"))
		nm++;
	ck_assert_uint_eq(sm->n_metrics, nm);
	for (i = 0; i < sm->n_metrics; i++) {
		Ratetap__Otlp__Metric *m = sm->metrics[i];
		Ratetap__Otlp__NumberDataPoint *dp;

		jm = find_metric(p, m->name);
		ck_assert_ptr_nonnull(jm);
		ck_assert_str_eq(m->unit, cJSON_GetObjectItem(jm,
		    "unit")->valuestring);
		if (m->data_case == RATETAP__OTLP__METRIC__DATA_SUM) {
			ck_assert_int_eq(m->sum->aggregation_temporality, 2);
			dp = m->sum->data_points[0];
			jdp = cJSON_GetArrayItem(cJSON_GetObjectItem(
			    cJSON_GetObjectItem(jm, "sum"), "dataPoints"), 0);
			ck_assert_uint_eq(dp->start_time_unix_nano, NOW * SEC);
		} else {
			ck_assert_int_eq(m->data_case,
			    RATETAP__OTLP__METRIC__DATA_GAUGE);
			dp = m->gauge->data_points[0];
			jdp = cJSON_GetArrayItem(cJSON_GetObjectItem(
			    cJSON_GetObjectItem(jm, "gauge"), "dataPoints"), 0);
		}
		ck_assert_uint_eq(dp->time_unix_nano, (NOW + 10) * SEC + 5);
		if (dp->value_case ==
		    RATETAP__OTLP__NUMBER_DATA_POINT__VALUE_AS_INT)
			ck_assert_int_eq(dp->as_int, strtoll(cJSON_GetObjectItem(
			    jdp, "asInt")->valuestring, NULL, 10));
		else
			ck_assert_double_eq(dp->as_double, cJSON_GetObjectItem(
			    jdp, "asDouble")->valuedouble);
		ck_assert_int_eq((int)dp->n_attributes,
		    cJSON_GetArraySize(cJSON_GetObjectItem(jdp,
		    "attributes")));
	}
	ratetap__otlp__export_metrics_service_request__free_unpacked(r, NULL);
	free(buf);
	cJSON_Delete(p);
	trk_free(t);
}
END_TEST

START_TEST(otlp_payload_folds_models_beyond_fifty_into_other)
{
	struct trk *t = trk_new(NULL);
	struct rtp_event ev;
	cJSON *p, *dp;
	char name[32];
	int i, n = 0;

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < 55; i++) {
		snprintf(name, sizeof(name), "model-%02d", i);
		ev = msg_event(name, "curl", i + 1, 0, 0, 0);
		trk_event(t, &ev, NOW);
	}
	p = payload_of(t, NULL);
	cJSON_ArrayForEach(dp, cJSON_GetObjectItem(cJSON_GetObjectItem(
	    find_metric(p, "ratetap.model.requests"), "sum"), "dataPoints"))
		n++;
	ck_assert_int_eq(n, 51);
	ck_assert_str_eq(as_int(find_point(p, "ratetap.model.requests",
	    "gen_ai.response.model", "other", NULL, NULL)), "5");
	ck_assert_str_eq(as_int(find_point(p, "gen_ai.client.token.usage",
	    "gen_ai.response.model", "other", "ratetap.token.type", "input")),
	    "15");
	cJSON_Delete(p);
	trk_free(t);
}
END_TEST

START_TEST(otlp_env_picks_the_endpoint_and_honours_disable_switches)
{
	struct otlp_config c;
	char err[OTLP_ERR_LEN];

	clear_env();
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 0);
	ck_assert_ptr_null(c.endpoint);

	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", " http://127.0.0.1:4318// ", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 1);
	ck_assert_str_eq(c.endpoint, "http://127.0.0.1:4318/v1/metrics");
	ck_assert_int_eq(c.interval_ms, 60000);
	ck_assert_int_eq(c.timeout_ms, 10000);
	otlp_config_free(&c);

	setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
	    "https://collector.example:4318/custom/path", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 1);
	ck_assert_str_eq(c.endpoint, "https://collector.example:4318/custom/path");
	otlp_config_free(&c);

	setenv("OTEL_METRICS_EXPORTER", "console, otlp", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 1);
	otlp_config_free(&c);
	setenv("OTEL_METRICS_EXPORTER", "none", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 0);
	unsetenv("OTEL_METRICS_EXPORTER");
	setenv("OTEL_SDK_DISABLED", "TRUE", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 0);
	unsetenv("OTEL_SDK_DISABLED");

	setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "ftp://host/x", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"));
	ck_assert_ptr_null(c.endpoint);
	setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http:///nohost", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), -1);
	clear_env();
}
END_TEST

START_TEST(otlp_env_reads_interval_and_timeouts_strictly)
{
	struct otlp_config c;
	char err[OTLP_ERR_LEN];
	static const char *const bad[] = { "abc", "0", "-5", "50", "10s",
	    "1e3", "99999999999999999999" };
	size_t i;

	clear_env();
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318", 1);
	setenv("OTEL_METRIC_EXPORT_INTERVAL", "1000", 1);
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 1);
	ck_assert_int_eq(c.interval_ms, 1000);
	ck_assert_int_eq(c.timeout_ms, 2500);
	otlp_config_free(&c);
	setenv("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "700", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 1);
	ck_assert_int_eq(c.timeout_ms, 700);
	otlp_config_free(&c);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("OTEL_METRIC_EXPORT_INTERVAL", bad[i], 1);
		ck_assert_msg(otlp_config_env(&c, err, sizeof(err)) == -1,
		    "interval %s accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "OTEL_METRIC_EXPORT_INTERVAL"));
	}
	setenv("OTEL_METRIC_EXPORT_INTERVAL", "1000", 1);
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "OTEL_EXPORTER_OTLP_TIMEOUT"));
	clear_env();
}
END_TEST

START_TEST(otlp_env_headers_are_decoded_and_merged_per_signal)
{
	struct otlp_config c;
	char err[OTLP_ERR_LEN];

	clear_env();
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318", 1);
	setenv("OTEL_EXPORTER_OTLP_HEADERS",
	    "api-key=s3cr%20t%2Cx%3D1 , X-Tenant = acme,", 1);
	setenv("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "X-TENANT=metrics-team", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 1);
	ck_assert_int_eq(c.nheaders, 2);
	ck_assert_str_eq(c.headers[0].key, "api-key");
	ck_assert_str_eq(c.headers[0].value, "s3cr t,x=1");
	ck_assert_str_eq(c.headers[1].key, "X-TENANT");
	ck_assert_str_eq(c.headers[1].value, "metrics-team");
	otlp_config_free(&c);

	/* a malformed header list is an error that never quotes the value */
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20s3cret%0D%0AX: y", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "OTEL_EXPORTER_OTLP_HEADERS"));
	ck_assert_ptr_null(strstr(err, "s3cret"));
	ck_assert_ptr_null(c.headers);
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization Bearer s3cret", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, "s3cret"));
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization Bearer=s3cret", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, "s3cret"));
	clear_env();
}
END_TEST

START_TEST(otlp_env_resource_attributes_and_service_name)
{
	struct otlp_config c;
	char err[OTLP_ERR_LEN];

	clear_env();
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318", 1);
	setenv("OTEL_RESOURCE_ATTRIBUTES",
	    "host.name=box,service.name=from-attrs,note=caf%C3%A9%20ok", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 1);
	ck_assert_str_eq(c.resource[0].key, "service.name");
	ck_assert_str_eq(c.resource[0].value, "from-attrs");
	ck_assert_str_eq(c.resource[kv_find(c.resource, c.nresource, "note", 0)].value,
	    "caf\xc3\xa9 ok");
	ck_assert_int_ge(kv_find(c.resource, c.nresource, "host.name", 0), 1);
	ck_assert_int_ge(kv_find(c.resource, c.nresource, "service.version", 0), 1);
	otlp_config_free(&c);

	setenv("OTEL_SERVICE_NAME", "my-ratetap", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), 1);
	ck_assert_str_eq(c.resource[0].value, "my-ratetap");
	ck_assert_int_eq(c.nresource, 4);
	otlp_config_free(&c);

	setenv("OTEL_RESOURCE_ATTRIBUTES", "ok=1,bad=%ff%fe", 1);
	ck_assert_int_eq(otlp_config_env(&c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "OTEL_RESOURCE_ATTRIBUTES"));
	ck_assert_ptr_nonnull(strstr(err, "UTF-8"));
	clear_env();
}
END_TEST

START_TEST(otlp_parse_kv_rejects_malformed_lists_and_changes_nothing)
{
	struct otlp_kv *kv = NULL;
	int n = 0;
	char err[OTLP_ERR_LEN];
	static const struct {
		const char *s;
		int headers;
		const char *why;
	} bad[] = {
		{ "novalue", 1, "no '='" },
		{ "a=1,=x", 1, "empty key" },
		{ "a=%zz", 1, "percent" },
		{ "a=%4", 1, "percent" },
		{ "a=abc%", 1, "percent" },
		{ "a=x%0D%0AInjected: 1", 1, "control" },
		{ "a=x%00y", 1, "percent" },
		{ "bad key=v", 1, "header name" },
		{ "a:b=v", 1, "header name" },
		{ "a=", 1, "empty" },
		{ "k=%ff", 0, "UTF-8" },
		{ "k=%c0%af", 0, "UTF-8" },
		{ "k=a%09b", 0, "control" },
	};
	size_t i;

	ck_assert_int_eq(otlp_parse_kv("keep=me", 1, &kv, &n, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(n, 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(otlp_parse_kv(bad[i].s, bad[i].headers, &kv, &n,
		    err, sizeof(err)) == -1, "accepted %s", bad[i].s);
		ck_assert_msg(strstr(err, bad[i].why) != NULL,
		    "%s: reason '%s' lacks '%s'", bad[i].s, err, bad[i].why);
		ck_assert_int_eq(n, 1);
		ck_assert_str_eq(kv[0].value, "me");
	}
	/* a bad member after good ones changes nothing either */
	ck_assert_int_eq(otlp_parse_kv("keep=changed,x=1,broken", 1, &kv, &n,
	    err, sizeof(err)), -1);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(kv[0].value, "me");

	/* empty members are skipped, blanks trimmed, last value wins */
	ck_assert_int_eq(otlp_parse_kv(" , a = 1 ,,b=2, a=3 ,", 0, &kv, &n,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(kv[1].key, "a");
	ck_assert_str_eq(kv[1].value, "3");
	ck_assert_str_eq(kv[2].value, "2");
	ck_assert_int_eq(otlp_parse_kv("empty=", 0, &kv, &n, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(kv[3].value, "");
	ck_assert_int_eq(otlp_parse_kv("", 1, &kv, &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 4);
	kv_free_all(kv, n);
}
END_TEST

START_TEST(otlp_backs_off_and_honours_retry_after)
{
	ck_assert_int_eq(next_delay(1000, 0, 0), 1000);
	ck_assert_int_eq(next_delay(1000, 1, 0), 2000);
	ck_assert_int_eq(next_delay(1000, 3, 0), 8000);
	ck_assert_int_eq(next_delay(1000, 40, 0), BACKOFF_CAP_MS);
	ck_assert_int_eq(next_delay(600000, 3, 0), 600000);
	ck_assert_int_eq(next_delay(1000, 1, 7000), 7000);
	ck_assert_int_eq(next_delay(60000, 1, 1000), 120000);
	ck_assert_int_eq(next_delay(1000, 1, INT64_C(99999999)),
	    RETRY_AFTER_CAP_MS);
}
END_TEST

START_TEST(otlp_logs_urls_without_credentials)
{
	char out[URL_LOG_LEN];

	url_for_log("https://user:pw@host:4318/v1/metrics?token=x", out,
	    sizeof(out));
	ck_assert_str_eq(out, "https://host:4318/v1/metrics");
	url_for_log("http://127.0.0.1:4318/v1/metrics", out, sizeof(out));
	ck_assert_str_eq(out, "http://127.0.0.1:4318/v1/metrics");
	url_for_log("http://a@b@host/p#frag", out, sizeof(out));
	ck_assert_str_eq(out, "http://b@host/p");
}
END_TEST

/* --- a collector on the test's own loop ------------------------------ */

struct collector {
	int lfd;
	int cfd;
	char req[65536];
	size_t len;
	int requests;		/* complete requests answered */
	int status;		/* what to answer */
	char last[65536];	/* the last complete request */
};

static void
coll_client(struct loop *l, int fd, int events, void *arg)
{
	struct collector *c = arg;
	char *hend, *cl;
	ssize_t r;
	size_t need;

	(void)events;
	r = read(fd, c->req + c->len, sizeof(c->req) - 1 - c->len);
	if (r <= 0) {
		loop_del_fd(l, fd);
		close(fd);
		c->cfd = -1;
		c->len = 0;
		return;
	}
	c->len += (size_t)r;
	c->req[c->len] = '\0';
	if ((hend = strstr(c->req, "\r\n\r\n")) == NULL)
		return;
	cl = strcasestr(c->req, "\r\nContent-Length:");
	need = (size_t)(hend + 4 - c->req) +
	    (cl != NULL ? strtoul(cl + 17, NULL, 10) : 0);
	if (c->len < need)
		return;
	memcpy(c->last, c->req, c->len + 1);
	c->requests++;
	{
		char resp[128];
		int n = snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\n"
		    "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
		    c->status);

		ck_assert_int_eq(write(fd, resp, (size_t)n), n);
	}
	loop_del_fd(l, fd);
	close(fd);
	c->cfd = -1;
	c->len = 0;
}

static void
coll_accept(struct loop *l, int fd, int events, void *arg)
{
	struct collector *c = arg;
	int s;

	(void)events;
	if ((s = accept(fd, NULL, NULL)) == -1)
		return;
	c->cfd = s;
	c->len = 0;
	ck_assert_int_eq(loop_add_fd(l, s, LOOP_READ, coll_client, c), 0);
}

static int
listen_loopback(int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
run_until(struct loop *l, const int *what, int want, int ms)
{
	int64_t end = loop_now_ms() + ms;

	while (*what < want && loop_now_ms() < end)
		ck_assert_int_ge(loop_once(l, 50), 0);
}

START_TEST(otlp_pushes_to_a_collector_and_logs_each_failure_once)
{
	struct collector *c = calloc(1, sizeof(*c));
	struct loop *l = loop_new();
	struct trk *t = populated();
	char url[128];
	int port;
	const char *body;

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(l);
	clear_env();
	c->lfd = listen_loopback(&port);
	c->cfd = -1;
	c->status = 200;
	ck_assert_int_eq(loop_add_fd(l, c->lfd, LOOP_READ, coll_accept, c), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url, 1);
	setenv("OTEL_METRIC_EXPORT_INTERVAL", "100", 1);
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=top%20secret", 1);
	setenv("OTEL_SERVICE_NAME", "unit-test", 1);
	ck_assert_int_eq(otlp_start(l, t, NOW), 0);

	run_until(l, &c->requests, 2, 5000);
	ck_assert_int_ge(c->requests, 2);
	ck_assert_ptr_nonnull(strstr(c->last, "POST /v1/metrics HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strcasestr(c->last,
	    "\r\nContent-Type: application/json\r\n"));
	ck_assert_ptr_nonnull(strstr(c->last, "\r\nx-api-key: top secret\r\n"));
	body = strstr(c->last, "\r\n\r\n") + 4;
	ck_assert_ptr_nonnull(strstr(body, "\"resourceMetrics\""));
	ck_assert_ptr_nonnull(strstr(body, "\"unit-test\""));
	ck_assert_ptr_nonnull(strstr(body, "\"gen_ai.client.token.usage\""));
	ck_assert_ptr_null(strstr(cap_text, "secret"));

	/* the collector fails: one warning however many pushes fail */
	c->status = 503;
	run_until(l, &ex.fails, 3, 10000);
	ck_assert_int_ge(ex.fails, 3);
	ck_assert_ptr_nonnull(strstr(cap_text, "HTTP 503"));
	ck_assert_ptr_null(strstr(strstr(cap_text, "HTTP 503") + 1, "HTTP 503"));
	ck_assert_ptr_null(strstr(cap_text, "works again"));

	/* and recovers: logged once */
	c->status = 200;
	{
		int ok = 0;
		int64_t end = loop_now_ms() + 10000;

		while (ex.fails != 0 && loop_now_ms() < end)
			ck_assert_int_ge(loop_once(l, 50), 0);
		ok = ex.fails == 0;
		ck_assert(ok);
	}
	ck_assert_ptr_nonnull(strstr(cap_text, "works again"));
	ck_assert_ptr_null(strstr(cap_text, "secret"));

	otlp_stop(l);
	ck_assert_ptr_null(ex.loop);
	http_shutdown(l);
	loop_del_fd(l, c->lfd);
	close(c->lfd);
	if (c->cfd >= 0) {
		loop_del_fd(l, c->cfd);
		close(c->cfd);
	}
	loop_free(l);
	trk_free(t);
	free(c);
	clear_env();
}
END_TEST

START_TEST(otlp_start_refuses_a_malformed_environment_and_skips_none)
{
	struct loop *l = loop_new();
	struct trk *t = trk_new(NULL);

	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(t);
	clear_env();
	ck_assert_int_eq(otlp_start(l, t, NOW), 0);
	ck_assert_ptr_null(ex.loop);

	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", 1);
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=hunter2%zz", 1);
	ck_assert_int_eq(otlp_start(l, t, NOW), -1);
	ck_assert_ptr_null(ex.loop);
	ck_assert_ptr_nonnull(strstr(cap_text, "OTEL_EXPORTER_OTLP_HEADERS"));
	ck_assert_ptr_null(strstr(cap_text, "hunter2"));
	otlp_stop(l);		/* harmless when not started */
	http_shutdown(l);
	loop_free(l);
	trk_free(t);
	clear_env();
}
END_TEST

static Suite *
otlp_suite(void)
{
	Suite *s = suite_create("otlp");
	TCase *tc = tcase_create("otlp");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, otlp_payload_has_the_export_metrics_service_request_shape);
	tcase_add_test(tc, otlp_token_usage_follows_the_genai_conventions);
	tcase_add_test(tc, otlp_semconv_opt_in_picks_old_new_or_both_names);
	tcase_add_test(tc, otlp_new_genai_counters_count_cached_input_as_input);
	tcase_add_test(tc, otlp_protobuf_body_unpacks_to_the_json_payload);
	tcase_add_test(tc, otlp_payload_folds_models_beyond_fifty_into_other);
	tcase_add_test(tc, otlp_env_picks_the_endpoint_and_honours_disable_switches);
	tcase_add_test(tc, otlp_env_reads_interval_and_timeouts_strictly);
	tcase_add_test(tc, otlp_env_headers_are_decoded_and_merged_per_signal);
	tcase_add_test(tc, otlp_env_resource_attributes_and_service_name);
	tcase_add_test(tc, otlp_parse_kv_rejects_malformed_lists_and_changes_nothing);
	tcase_add_test(tc, otlp_backs_off_and_honours_retry_after);
	tcase_add_test(tc, otlp_logs_urls_without_credentials);
	tcase_add_test(tc, otlp_pushes_to_a_collector_and_logs_each_failure_once);
	tcase_add_test(tc, otlp_start_refuses_a_malformed_environment_and_skips_none);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(otlp_suite());
	int failed;

	log_set_sink(capture, NULL);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
