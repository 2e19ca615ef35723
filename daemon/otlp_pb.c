/*
 * The OTLP/HTTP protobuf encoding (see otlp.h): the ExportMetricsServiceRequest
 * otlp_payload() builds as the JSON encoding's tree, packed with protobuf-c
 * from daemon/otlp_metrics.proto (field numbers of the OTLP
 * specification), and the partialSuccess of a protobuf response.  Building
 * the body from the one JSON tree keeps the two encodings equal by
 * construction.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "otlp.h"
#include "otlp_metrics.pb-c.h"

/* Every structure of one request, freed together. */
struct arena {
	void **p;
	size_t n, cap;
	int oom;
};

static void *
alloc(struct arena *a, size_t size)
{
	void *x, **np;

	if (a->oom)
		return NULL;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;

		if ((np = realloc(a->p, cap * sizeof(*np))) == NULL)
			goto oom;
		a->p = np;
		a->cap = cap;
	}
	if ((x = calloc(1, size)) == NULL)
		goto oom;
	a->p[a->n++] = x;
	return x;
oom:
	a->oom = 1;
	return NULL;
}

static void
arena_free(struct arena *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->p[i]);
	free(a->p);
}

static char *
str(const cJSON *o, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : (char *)"";
}

static uint64_t
u64(const cJSON *o, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? strtoull(v->valuestring, NULL, 10) : 0;
}

/* A repeated field of n pointers. */
#define ARRAY(a, n)	alloc((a), ((n) ? (size_t)(n) : 1) * sizeof(void *))

static Ratetap__Otlp__KeyValue **
attrs(struct arena *a, const cJSON *list, size_t *n)
{
	Ratetap__Otlp__KeyValue **kv;
	const cJSON *it;
	size_t i = 0;

	*n = 0;
	if ((kv = ARRAY(a, cJSON_GetArraySize(list))) == NULL)
		return NULL;
	cJSON_ArrayForEach(it, list) {
		Ratetap__Otlp__KeyValue *k = alloc(a, sizeof(*k));
		Ratetap__Otlp__AnyValue *v = alloc(a, sizeof(*v));

		if (k == NULL || v == NULL)
			return NULL;
		ratetap__otlp__key_value__init(k);
		ratetap__otlp__any_value__init(v);
		k->key = str(it, "key");
		v->value_case = RATETAP__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
		v->string_value = str(cJSON_GetObjectItemCaseSensitive(it,
		    "value"), "stringValue");
		k->value = v;
		kv[i++] = k;
	}
	*n = i;
	return kv;
}

static Ratetap__Otlp__NumberDataPoint **
points(struct arena *a, const cJSON *list, size_t *n)
{
	Ratetap__Otlp__NumberDataPoint **dp;
	const cJSON *it, *v;
	size_t i = 0;

	*n = 0;
	if ((dp = ARRAY(a, cJSON_GetArraySize(list))) == NULL)
		return NULL;
	cJSON_ArrayForEach(it, list) {
		Ratetap__Otlp__NumberDataPoint *p = alloc(a, sizeof(*p));

		if (p == NULL)
			return NULL;
		ratetap__otlp__number_data_point__init(p);
		p->attributes = attrs(a, cJSON_GetObjectItemCaseSensitive(it,
		    "attributes"), &p->n_attributes);
		p->start_time_unix_nano = u64(it, "startTimeUnixNano");
		p->time_unix_nano = u64(it, "timeUnixNano");
		if ((v = cJSON_GetObjectItemCaseSensitive(it, "asDouble")) !=
		    NULL && cJSON_IsNumber(v)) {
			p->value_case =
			    RATETAP__OTLP__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
			p->as_double = v->valuedouble;
		} else if ((v = cJSON_GetObjectItemCaseSensitive(it,
		    "asInt")) != NULL && cJSON_IsString(v)) {
			p->value_case =
			    RATETAP__OTLP__NUMBER_DATA_POINT__VALUE_AS_INT;
			p->as_int = strtoll(v->valuestring, NULL, 10);
		}
		dp[i++] = p;
	}
	*n = i;
	return dp;
}

static Ratetap__Otlp__Metric *
metric(struct arena *a, const cJSON *m)
{
	Ratetap__Otlp__Metric *pm = alloc(a, sizeof(*pm));
	const cJSON *data;

	if (pm == NULL)
		return NULL;
	ratetap__otlp__metric__init(pm);
	pm->name = str(m, "name");
	pm->description = str(m, "description");
	pm->unit = str(m, "unit");
	if ((data = cJSON_GetObjectItemCaseSensitive(m, "sum")) != NULL) {
		Ratetap__Otlp__Sum *s = alloc(a, sizeof(*s));

		if (s == NULL)
			return NULL;
		ratetap__otlp__sum__init(s);
		s->data_points = points(a, cJSON_GetObjectItemCaseSensitive(
		    data, "dataPoints"), &s->n_data_points);
		s->aggregation_temporality = (Ratetap__Otlp__AggregationTemporality)
		    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(data,
		    "aggregationTemporality"));
		s->is_monotonic = cJSON_IsTrue(
		    cJSON_GetObjectItemCaseSensitive(data, "isMonotonic"));
		pm->data_case = RATETAP__OTLP__METRIC__DATA_SUM;
		pm->sum = s;
	} else {
		Ratetap__Otlp__Gauge *g = alloc(a, sizeof(*g));

		if (g == NULL)
			return NULL;
		ratetap__otlp__gauge__init(g);
		data = cJSON_GetObjectItemCaseSensitive(m, "gauge");
		g->data_points = points(a, cJSON_GetObjectItemCaseSensitive(
		    data, "dataPoints"), &g->n_data_points);
		pm->data_case = RATETAP__OTLP__METRIC__DATA_GAUGE;
		pm->gauge = g;
	}
	return pm;
}

/*
 * Pack req (as otlp_payload() builds it) as the protobuf encoding of an
 * ExportMetricsServiceRequest.  Returns a malloc'ed buffer of *len bytes
 * (the caller frees it), or NULL on ENOMEM.
 */
uint8_t *
otlp_pb_encode(const cJSON *req, size_t *len)
{
	Ratetap__Otlp__ExportMetricsServiceRequest r =
	    RATETAP__OTLP__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	struct arena a = { NULL, 0, 0, 0 };
	const cJSON *rml, *rm, *sm, *m;
	uint8_t *out = NULL;
	size_t i = 0, j, k;

	rml = cJSON_GetObjectItemCaseSensitive(req, "resourceMetrics");
	if ((r.resource_metrics = ARRAY(&a, cJSON_GetArraySize(rml))) == NULL)
		goto out;
	cJSON_ArrayForEach(rm, rml) {
		Ratetap__Otlp__ResourceMetrics *prm = alloc(&a, sizeof(*prm));
		Ratetap__Otlp__Resource *res = alloc(&a, sizeof(*res));
		const cJSON *sml;

		if (prm == NULL || res == NULL)
			goto out;
		ratetap__otlp__resource_metrics__init(prm);
		ratetap__otlp__resource__init(res);
		res->attributes = attrs(&a, cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(rm, "resource"),
		    "attributes"), &res->n_attributes);
		prm->resource = res;
		sml = cJSON_GetObjectItemCaseSensitive(rm, "scopeMetrics");
		if ((prm->scope_metrics = ARRAY(&a, cJSON_GetArraySize(sml))) ==
		    NULL)
			goto out;
		j = 0;
		cJSON_ArrayForEach(sm, sml) {
			Ratetap__Otlp__ScopeMetrics *psm = alloc(&a,
			    sizeof(*psm));
			Ratetap__Otlp__InstrumentationScope *sc = alloc(&a,
			    sizeof(*sc));
			const cJSON *ml, *scope;

			if (psm == NULL || sc == NULL)
				goto out;
			ratetap__otlp__scope_metrics__init(psm);
			ratetap__otlp__instrumentation_scope__init(sc);
			scope = cJSON_GetObjectItemCaseSensitive(sm, "scope");
			sc->name = str(scope, "name");
			sc->version = str(scope, "version");
			psm->scope = sc;
			ml = cJSON_GetObjectItemCaseSensitive(sm, "metrics");
			if ((psm->metrics = ARRAY(&a, cJSON_GetArraySize(ml))) ==
			    NULL)
				goto out;
			k = 0;
			cJSON_ArrayForEach(m, ml)
				if ((psm->metrics[k++] = metric(&a, m)) == NULL)
					goto out;
			psm->n_metrics = k;
			prm->scope_metrics[j++] = psm;
		}
		prm->n_scope_metrics = j;
		r.resource_metrics[i++] = prm;
	}
	r.n_resource_metrics = i;
	if (a.oom)
		goto out;
	*len = ratetap__otlp__export_metrics_service_request__get_packed_size(
	    &r);
	if ((out = malloc(*len ? *len : 1)) != NULL)
		ratetap__otlp__export_metrics_service_request__pack(&r, out);
out:
	arena_free(&a);
	return out;
}

/*
 * Read the partialSuccess of a protobuf ExportMetricsServiceResponse:
 * *rejected and msg (truncated to msglen).  Returns 0, or -1 when body is
 * no such message.
 */
int
otlp_pb_partial(const char *body, size_t len, long long *rejected,
    char *msg, size_t msglen)
{
	Ratetap__Otlp__ExportMetricsServiceResponse *r;

	*rejected = 0;
	if (msglen > 0)
		msg[0] = '\0';
	if ((r = ratetap__otlp__export_metrics_service_response__unpack(NULL,
	    len, (const uint8_t *)body)) == NULL)
		return -1;
	if (r->partial_success != NULL) {
		*rejected = r->partial_success->rejected_data_points;
		if (r->partial_success->error_message != NULL && msglen > 0)
			snprintf(msg, msglen, "%s",
			    r->partial_success->error_message);
	}
	ratetap__otlp__export_metrics_service_response__free_unpacked(r, NULL);
	return 0;
}
