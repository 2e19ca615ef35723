/*
 * OTLP/HTTP JSON metrics exporter (see otlp.h and docs/metrics.md).
 *
 * Every interval a timer builds an ExportMetricsServiceRequest from the
 * tracker with cJSON and POSTs it with the asynchronous HTTP client; the
 * completion callback arms the next push, later after failures (doubling up
 * to a cap, or as the collector's Retry-After says).  At most one push is
 * in flight.  A failure is logged when it differs from the previous one,
 * and recovery once.
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
#include "http.h"
#include "log.h"
#include "loop.h"
#include "otlp.h"
#include "tracker.h"

#ifndef RATETAP_VERSION
#define RATETAP_VERSION "unknown"
#endif

#define MAX_INTERVAL_MS		86400000L	/* a day */
#define MAX_TIMEOUT_MS		600000L		/* ten minutes */
#define BACKOFF_CAP_MS		300000L		/* five minutes */
#define RETRY_AFTER_CAP_MS	3600000L	/* an hour */
#define MAX_RESPONSE_BYTES	65536
#define URL_LOG_LEN		256

/* --- configuration --------------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static void
wipe_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

static void
kv_free_all(struct otlp_kv *kv, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		wipe_free(kv[i].value);
	}
	free(kv);
}

void
otlp_config_free(struct otlp_config *c)
{
	if (c == NULL)
		return;
	free(c->endpoint);
	kv_free_all(c->headers, c->nheaders);
	kv_free_all(c->resource, c->nresource);
	memset(c, 0, sizeof(*c));
}

static int
is_tchar(int ch)
{
	return isalnum(ch) || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch));
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decode n bytes of %-encoded s into a new string.  NULL with *bad set
 * when an escape is malformed, with *bad clear on ENOMEM. */
static char *
pct_decode(const char *s, size_t n, int *bad)
{
	char *out;
	size_t i, k = 0;

	*bad = 0;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] != '%') {
			out[k++] = s[i];
			continue;
		}
		if (i + 2 >= n ||	/* fewer than two characters follow */
		    (hi = hexval((unsigned char)s[i + 1])) < 0 ||
		    (lo = hexval((unsigned char)s[i + 2])) < 0) {
			explicit_bzero(out, k);
			free(out);
			*bad = 1;
			return NULL;
		}
		out[k++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[k] = '\0';
	/* an embedded NUL (%00) would cut the value short */
	if (strlen(out) != k) {
		explicit_bzero(out, k);
		free(out);
		*bad = 1;
		return NULL;
	}
	return out;
}

/* 1 when s is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static int
utf8_ok(const unsigned char *s)
{
	while (*s != '\0') {
		unsigned int c = *s, min;
		int len, i;

		if (c < 0x80) {
			s++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			c &= 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			c &= 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			c &= 0x07;
			min = 0x10000;
		} else
			return 0;
		for (i = 1; i < len; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (s[i] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		s += len;
	}
	return 1;
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int
key_eq(const char *a, const char *b, int ci)
{
	return ci ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

/* Index of key in kv[0..n), or -1. */
static int
kv_find(const struct otlp_kv *kv, int n, const char *key, int ci)
{
	int i;

	for (i = 0; i < n; i++)
		if (key_eq(kv[i].key, key, ci))
			return i;
	return -1;
}

static int
is_blank(int ch)
{
	return ch == ' ' || ch == '\t';
}

int
otlp_parse_kv(const char *s, int headers, struct otlp_kv **kv, int *n,
    char *err, size_t errlen)
{
	struct otlp_kv *tmp = NULL, *grown;
	int ntmp = 0, cap = 0, member = 0, i;
	const char *p = s;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ','), *eq, *ks, *ke, *vs, *ve;
		char *key = NULL, *val = NULL;
		int bad, at;
		size_t k;

		if (end == NULL)
			end = p + strlen(p);
		member++;
		ks = p;
		ve = end;
		p = *end == ',' ? end + 1 : end;
		while (ks < ve && is_blank(*ks))
			ks++;
		while (ve > ks && is_blank(ve[-1]))
			ve--;
		if (ks == ve)
			continue;	/* empty member */
		if ((eq = memchr(ks, '=', (size_t)(ve - ks))) == NULL) {
			seterr(err, errlen, "member %d has no '='", member);
			goto err;
		}
		ke = eq;
		vs = eq + 1;
		while (ke > ks && is_blank(ke[-1]))
			ke--;
		while (vs < ve && is_blank(*vs))
			vs++;
		if (ke == ks) {
			seterr(err, errlen, "member %d has an empty key",
			    member);
			goto err;
		}
		for (k = 0; ks + k < ke; k++) {
			int ch = (unsigned char)ks[k];

			if (headers ? !is_tchar(ch) : (ch <= 0x20 || ch >= 0x7f)) {
				seterr(err, errlen, "member %d: the key is not "
				    "a valid %s", member, headers ?
				    "header name" : "attribute name");
				goto err;
			}
		}
		if ((key = strndup(ks, (size_t)(ke - ks))) == NULL)
			goto oom;
		if ((val = pct_decode(vs, (size_t)(ve - vs), &bad)) == NULL) {
			if (bad)
				seterr(err, errlen, "member %d (%s): bad "
				    "percent-encoding in the value", member,
				    key);
			else
				seterr(err, errlen, "out of memory");
			free(key);
			goto err;
		}
		if (has_ctl(val) || (headers && val[0] == '\0') ||
		    (!headers && !utf8_ok((const unsigned char *)val))) {
			seterr(err, errlen, "member %d (%s): the value is %s",
			    member, key, val[0] == '\0' ? "empty" :
			    has_ctl(val) ? "holding a control character" :
			    "not valid UTF-8");
			free(key);
			wipe_free(val);
			goto err;
		}
		if ((at = kv_find(tmp, ntmp, key, headers)) >= 0) {
			free(tmp[at].key);
			wipe_free(tmp[at].value);
			tmp[at].key = key;
			tmp[at].value = val;
			continue;
		}
		if (ntmp == cap) {
			int ncap = cap ? cap * 2 : 4;

			if ((grown = realloc(tmp, sizeof(*tmp) *
			    (size_t)ncap)) == NULL) {
				free(key);
				wipe_free(val);
				goto oom;
			}
			tmp = grown;
			cap = ncap;
		}
		tmp[ntmp].key = key;
		tmp[ntmp].value = val;
		ntmp++;
	}
	if (ntmp == 0) {
		free(tmp);
		return 0;
	}

	/* merge: allocate first so that nothing can fail half-way */
	if ((grown = realloc(*kv, sizeof(**kv) * (size_t)(*n + ntmp))) == NULL)
		goto oom;
	*kv = grown;
	for (i = 0; i < ntmp; i++) {
		int at = kv_find(*kv, *n, tmp[i].key, headers);

		if (at >= 0) {
			free((*kv)[at].key);
			wipe_free((*kv)[at].value);
			(*kv)[at] = tmp[i];
		} else
			(*kv)[(*n)++] = tmp[i];
	}
	free(tmp);
	return 0;
oom:
	seterr(err, errlen, "out of memory");
err:
	kv_free_all(tmp, ntmp);
	return -1;
}

/* Value of an environment variable, NULL when unset or blank. */
static const char *
env(const char *name)
{
	const char *v = getenv(name);
	const char *p;

	if (v == NULL)
		return NULL;
	for (p = v; *p != '\0'; p++)
		if (!isspace((unsigned char)*p))
			return v;
	return NULL;
}

/* Whole positive number of milliseconds in [min, max]. */
static int
env_ms(const char *name, long min, long max, long *out, char *err,
    size_t errlen)
{
	const char *v = env(name);
	char *end;
	long long x;

	if (v == NULL)
		return 0;
	errno = 0;
	x = strtoll(v, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno != 0 || end == v || *end != '\0' || x < min || x > max) {
		seterr(err, errlen, "%s: want a whole number of milliseconds "
		    "from %ld to %ld", name, min, max);
		return -1;
	}
	*out = (long)x;
	return 0;
}

static int
url_ok(const char *u)
{
	const char *h;

	if (strncasecmp(u, "http://", 7) == 0)
		h = u + 7;
	else if (strncasecmp(u, "https://", 8) == 0)
		h = u + 8;
	else
		return 0;
	if (*h == '\0' || *h == '/')
		return 0;
	for (; *u != '\0'; u++)
		if ((unsigned char)*u <= 0x20 || (unsigned char)*u >= 0x7f)
			return 0;
	return 1;
}

/* Endpoint from OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (as is) or
 * OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/metrics".  1, 0 (none) or -1. */
static int
config_endpoint(struct otlp_config *c, char *err, size_t errlen)
{
	const char *v, *name = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
	size_t len;

	if ((v = env(name)) != NULL) {
		while (isspace((unsigned char)*v))
			v++;
		len = strlen(v);
		while (len > 0 && isspace((unsigned char)v[len - 1]))
			len--;
		if ((c->endpoint = strndup(v, len)) == NULL)
			goto oom;
	} else if ((v = env(name = "OTEL_EXPORTER_OTLP_ENDPOINT")) != NULL) {
		while (isspace((unsigned char)*v))
			v++;
		len = strlen(v);
		while (len > 0 && (isspace((unsigned char)v[len - 1]) ||
		    v[len - 1] == '/'))
			len--;
		if (asprintf(&c->endpoint, "%.*s/v1/metrics", (int)len,
		    v) == -1) {
			c->endpoint = NULL;
			goto oom;
		}
	} else
		return 0;
	if (!url_ok(c->endpoint)) {
		seterr(err, errlen, "%s: not an http:// or https:// URL", name);
		return -1;
	}
	return 1;
oom:
	seterr(err, errlen, "out of memory");
	return -1;
}

static int
kv_put(struct otlp_kv **kv, int *n, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct otlp_kv *grown;
	char *k = NULL, *v = NULL;
	int at;

	if ((k = strdup(key)) == NULL || (v = strdup(value)) == NULL)
		goto oom;
	if ((at = kv_find(*kv, *n, key, 0)) >= 0) {
		free((*kv)[at].key);
		wipe_free((*kv)[at].value);
		(*kv)[at].key = k;
		(*kv)[at].value = v;
		return 0;
	}
	if ((grown = realloc(*kv, sizeof(**kv) * (size_t)(*n + 1))) == NULL)
		goto oom;
	*kv = grown;
	(*kv)[*n].key = k;
	(*kv)[*n].value = v;
	(*n)++;
	return 0;
oom:
	free(k);
	free(v);
	seterr(err, errlen, "out of memory");
	return -1;
}

static int
config_resource(struct otlp_config *c, char *err, size_t errlen)
{
	const char *v;
	char why[OTLP_ERR_LEN];
	int at;

	if ((v = env("OTEL_RESOURCE_ATTRIBUTES")) != NULL &&
	    otlp_parse_kv(v, 0, &c->resource, &c->nresource, why,
	    sizeof(why)) == -1) {
		seterr(err, errlen, "OTEL_RESOURCE_ATTRIBUTES: %s", why);
		return -1;
	}
	if ((v = env("OTEL_SERVICE_NAME")) != NULL) {
		if (has_ctl(v) || !utf8_ok((const unsigned char *)v)) {
			seterr(err, errlen, "OTEL_SERVICE_NAME: not printable "
			    "UTF-8");
			return -1;
		}
		if (kv_put(&c->resource, &c->nresource, "service.name", v,
		    err, errlen) == -1)
			return -1;
	} else if (kv_find(c->resource, c->nresource, "service.name", 0) < 0 &&
	    kv_put(&c->resource, &c->nresource, "service.name",
	    OTLP_DEFAULT_SERVICE, err, errlen) == -1)
		return -1;
	if (kv_find(c->resource, c->nresource, "service.version", 0) < 0 &&
	    kv_put(&c->resource, &c->nresource, "service.version",
	    RATETAP_VERSION, err, errlen) == -1)
		return -1;
	/* service.name first */
	if ((at = kv_find(c->resource, c->nresource, "service.name", 0)) > 0) {
		struct otlp_kv sn = c->resource[at];

		memmove(&c->resource[1], &c->resource[0],
		    sizeof(sn) * (size_t)at);
		c->resource[0] = sn;
	}
	return 0;
}

static int
config_headers(struct otlp_config *c, char *err, size_t errlen)
{
	static const char *const names[] = {
		"OTEL_EXPORTER_OTLP_HEADERS",	/* generic first ... */
		"OTEL_EXPORTER_OTLP_METRICS_HEADERS", /* ... overridden */
	};
	char why[OTLP_ERR_LEN];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = env(names[i]);

		if (v != NULL && otlp_parse_kv(v, 1, &c->headers,
		    &c->nheaders, why, sizeof(why)) == -1) {
			seterr(err, errlen, "%s: %s", names[i], why);
			return -1;
		}
	}
	return 0;
}

static int
env_true(const char *name)
{
	const char *v = env(name);

	return v != NULL && strcasecmp(v, "true") == 0;
}

/* 1 when OTEL_METRICS_EXPORTER is set and does not list "otlp". */
static int
exporter_not_otlp(void)
{
	const char *v = env("OTEL_METRICS_EXPORTER"), *p;

	if (v == NULL)
		return 0;
	for (p = v; *p != '\0';) {
		size_t n;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		n = strcspn(p, ", \t");
		if (n == 4 && strncasecmp(p, "otlp", 4) == 0)
			return 0;
		p += n;
	}
	return 1;
}

int
otlp_config_env(struct otlp_config *c, char *err, size_t errlen)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->interval_ms = OTLP_DEFAULT_INTERVAL_MS;
	c->timeout_ms = OTLP_DEFAULT_TIMEOUT_MS;
	if (env_true("OTEL_SDK_DISABLED") || exporter_not_otlp())
		return 0;
	if ((rc = config_endpoint(c, err, errlen)) != 1)
		goto out;
	if (env_ms("OTEL_METRIC_EXPORT_INTERVAL", OTLP_MIN_INTERVAL_MS,
	    MAX_INTERVAL_MS, &c->interval_ms, err, errlen) == -1 ||
	    env_ms("OTEL_EXPORTER_OTLP_TIMEOUT", 1, MAX_TIMEOUT_MS,
	    &c->timeout_ms, err, errlen) == -1 ||
	    env_ms("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", 1, MAX_TIMEOUT_MS,
	    &c->timeout_ms, err, errlen) == -1 ||
	    config_headers(c, err, errlen) == -1 ||
	    config_resource(c, err, errlen) == -1) {
		rc = -1;
		goto out;
	}
	return 1;
out:
	otlp_config_free(c);
	c->interval_ms = OTLP_DEFAULT_INTERVAL_MS;
	c->timeout_ms = OTLP_DEFAULT_TIMEOUT_MS;
	return rc;
}

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

static int
pay_named(struct pb *pb, const struct trk *t)
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
	metric(pb, &genai, "gen_ai.client.token.usage", "{token}",
	    "Measures number of input and output tokens used (cumulative)",
	    1, 1);
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
	if (pay_named(&pb, t) == -1 || pb.oom)
		goto err;
	drop_empty(pb.metrics);
	return root;
err:
	cJSON_Delete(root);
	return NULL;
}

/* --- the exporter ------------------------------------------------------ */

static struct {
	struct loop *loop;
	const struct trk *trk;
	struct otlp_config cfg;
	char **hdrs;		/* "Name: value" lines, NULL-terminated */
	char url[URL_LOG_LEN];	/* endpoint without credentials, for logs */
	uint64_t start_ns;
	int64_t timer;		/* 0 when none */
	int64_t req;		/* push in flight, 0 when none */
	int fails;		/* consecutive failed pushes */
	char last_err[160];	/* last failure logged, "" after success */
	char last_partial[160];	/* last partialSuccess logged, "" none */
} ex;

/* The URL without user:password@ and query, for logs. */
static void
url_for_log(const char *u, char *out, size_t len)
{
	const char *h = strstr(u, "://"), *at, *end;

	h = h != NULL ? h + 3 : u;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	if (at != NULL)
		snprintf(out, len, "%.*s%.*s", (int)(h - u), u,
		    (int)strcspn(at + 1, "?#"), at + 1);
	else
		snprintf(out, len, "%.*s", (int)strcspn(u, "?#"), u);
}

/* Delay before the next push after fails consecutive failures. */
static int64_t
next_delay(long interval, int fails, int64_t retry_after_ms)
{
	int64_t d = interval, cap = interval > BACKOFF_CAP_MS ?
	    interval : BACKOFF_CAP_MS;
	int i;

	for (i = 0; i < fails && i < 12 && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	if (retry_after_ms > d)
		d = retry_after_ms > RETRY_AFTER_CAP_MS ?
		    RETRY_AFTER_CAP_MS : retry_after_ms;
	return d;
}

static void
wipe_hdrs(void)
{
	size_t i;

	if (ex.hdrs == NULL)
		return;
	for (i = 0; ex.hdrs[i] != NULL; i++)
		wipe_free(ex.hdrs[i]);
	free(ex.hdrs);
	ex.hdrs = NULL;
}

static int
build_hdrs(void)
{
	int i, k = 0;

	if ((ex.hdrs = calloc((size_t)ex.cfg.nheaders + 3,
	    sizeof(*ex.hdrs))) == NULL)
		return -1;
	if ((ex.hdrs[k++] = strdup("Content-Type: application/json")) == NULL)
		goto err;
	/* no "Expect: 100-continue" round trip before the body */
	if ((ex.hdrs[k++] = strdup("Expect:")) == NULL)
		goto err;
	for (i = 0; i < ex.cfg.nheaders; i++) {
		const struct otlp_kv *h = &ex.cfg.headers[i];

		if (strcasecmp(h->key, "Content-Type") == 0 ||
		    strcasecmp(h->key, "Expect") == 0) {
			log_warnx("OTLP: ignoring header %s: ratetapd sets it",
			    h->key);
			continue;
		}
		if (asprintf(&ex.hdrs[k], "%s: %s", h->key, h->value) == -1) {
			ex.hdrs[k] = NULL;
			goto err;
		}
		k++;
	}
	return 0;
err:
	wipe_hdrs();
	return -1;
}

static int64_t on_timer(struct loop *l, int64_t id, void *arg);

static void
arm(int64_t delay)
{
	if ((ex.timer = loop_add_timer(ex.loop, delay, on_timer, NULL)) == -1) {
		ex.timer = 0;
		log_warnx("OTLP: cannot set a timer: metrics export stopped");
	}
}

/* Log a failure once per distinct reason. */
static void
failed(const char *why, int64_t delay)
{
	ex.fails++;
	if (strcmp(why, ex.last_err) != 0) {
		log_warnx("OTLP export to %s failed: %s (next attempt in "
		    "%lld s)", ex.url, why, (long long)((delay + 999) / 1000));
		snprintf(ex.last_err, sizeof(ex.last_err), "%s", why);
	}
}

/*
 * Log data points the collector refused (partialSuccess): once per
 * distinct refusal, and once when a push is accepted whole again.
 */
static void
partial(const struct http_response *r)
{
	cJSON *j = NULL, *ps, *n, *msg;
	char why[sizeof(ex.last_partial)];
	double rejected = 0;

	why[0] = '\0';
	if (r->body_len > 0 && (j = cJSON_ParseWithLength(r->body,
	    r->body_len)) != NULL) {
		ps = cJSON_GetObjectItemCaseSensitive(j, "partialSuccess");
		n = cJSON_GetObjectItemCaseSensitive(ps, "rejectedDataPoints");
		msg = cJSON_GetObjectItemCaseSensitive(ps, "errorMessage");
		if (cJSON_IsString(n))
			rejected = strtod(n->valuestring, NULL);
		else if (cJSON_IsNumber(n))
			rejected = n->valuedouble;
		if (rejected > 0 || (cJSON_IsString(msg) &&
		    msg->valuestring[0]))
			snprintf(why, sizeof(why), "collector rejected %.0f "
			    "data points: %.80s", rejected,
			    cJSON_IsString(msg) ? msg->valuestring : "");
		cJSON_Delete(j);
	}
	if (strcmp(why, ex.last_partial) == 0)
		return;
	if (why[0] != '\0')
		log_warnx("OTLP export to %s: %s", ex.url, why);
	else
		log_info("OTLP export to %s: the collector accepts every "
		    "data point again", ex.url);
	snprintf(ex.last_partial, sizeof(ex.last_partial), "%s", why);
}

static void
on_done(const struct http_response *r, void *arg)
{
	char why[sizeof(ex.last_err)];
	int64_t retry_ms = 0, delay;

	(void)arg;
	ex.req = 0;
	if (r->error == NULL && r->status >= 200 && r->status < 300) {
		if (ex.fails > 0)
			log_info("OTLP export to %s works again", ex.url);
		ex.fails = 0;
		ex.last_err[0] = '\0';
		partial(r);
		arm(ex.cfg.interval_ms);
		return;
	}
	if (r->error != NULL)
		snprintf(why, sizeof(why), "%s", r->error);
	else {
		const char *ra = http_header(r, "Retry-After");

		snprintf(why, sizeof(why), "HTTP %ld", r->status);
		if (ra != NULL && (r->status == 429 || r->status == 503)) {
			char *end;
			long long s = strtoll(ra, &end, 10);

			if (end != ra && s > 0 && s < RETRY_AFTER_CAP_MS / 1000)
				retry_ms = s * 1000;
		}
	}
	delay = next_delay(ex.cfg.interval_ms, ex.fails + 1, retry_ms);
	failed(why, delay);
	arm(delay);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return (uint64_t)time(NULL) * UINT64_C(1000000000);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) +
	    (uint64_t)ts.tv_nsec;
}

static int64_t
on_timer(struct loop *l, int64_t id, void *arg)
{
	cJSON *p;
	char *body;
	int64_t delay;

	(void)id;
	(void)arg;
	if (ex.req != 0)	/* the previous push is still in flight */
		return ex.cfg.interval_ms;
	ex.timer = 0;
	if ((p = otlp_payload(ex.trk, &ex.cfg, ex.start_ns, now_ns())) == NULL ||
	    (body = cJSON_PrintUnformatted(p)) == NULL) {
		cJSON_Delete(p);
		delay = next_delay(ex.cfg.interval_ms, ex.fails + 1, 0);
		failed("out of memory building the payload", delay);
		ex.timer = id;
		return delay;
	}
	cJSON_Delete(p);
	ex.req = http_request(l, "POST", ex.cfg.endpoint,
	    (const char *const *)ex.hdrs, body, ex.cfg.timeout_ms,
	    MAX_RESPONSE_BYTES, on_done, NULL);
	free(body);
	if (ex.req == -1) {
		ex.req = 0;
		delay = next_delay(ex.cfg.interval_ms, ex.fails + 1, 0);
		failed("the request could not be started", delay);
		ex.timer = id;
		return delay;
	}
	return LOOP_NOMORE;	/* on_done() arms the next push */
}

int
otlp_start(struct loop *l, const struct trk *t, time_t now)
{
	char err[OTLP_ERR_LEN];
	int rc;

	if (ex.loop != NULL) {
		log_warnx("OTLP: exporter already started");
		return -1;
	}
	rc = otlp_config_env(&ex.cfg, err, sizeof(err));
	if (rc == 0)
		return 0;
	if (rc == -1) {
		log_warnx("OTLP: %s; metrics are not exported", err);
		return -1;
	}
	{
		const char *proto = env("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL");

		if (proto == NULL)
			proto = env("OTEL_EXPORTER_OTLP_PROTOCOL");
		if (proto != NULL && strcmp(proto, "http/json") != 0)
			log_warnx("OTLP: protocol %.32s is not supported; "
			    "sending http/json", proto);
	}
	if (build_hdrs() == -1) {
		log_warnx("OTLP: out of memory; metrics are not exported");
		goto err;
	}
	ex.loop = l;
	ex.trk = t;
	ex.start_ns = (uint64_t)(now > 0 ? now : 0) * UINT64_C(1000000000);
	ex.fails = 0;
	ex.last_err[0] = '\0';
	ex.last_partial[0] = '\0';
	url_for_log(ex.cfg.endpoint, ex.url, sizeof(ex.url));
	if ((ex.timer = loop_add_timer(l, ex.cfg.interval_ms, on_timer,
	    NULL)) == -1) {
		ex.timer = 0;
		log_warnx("OTLP: cannot set a timer; metrics are not exported");
		goto err;
	}
	log_info("OTLP: exporting metrics to %s every %ld ms", ex.url,
	    ex.cfg.interval_ms);
	return 0;
err:
	wipe_hdrs();
	otlp_config_free(&ex.cfg);
	memset(&ex, 0, sizeof(ex));
	return -1;
}

void
otlp_stop(struct loop *l)
{
	if (ex.loop == NULL || ex.loop != l)
		return;
	if (ex.timer != 0)
		(void)loop_del_timer(l, ex.timer);
	if (ex.req != 0)
		http_cancel(l, ex.req);
	wipe_hdrs();
	otlp_config_free(&ex.cfg);
	memset(&ex, 0, sizeof(ex));
}
