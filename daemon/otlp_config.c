/*
 * OTLP exporter configuration (see otlp.h and docs/metrics.md): the
 * standard OTEL_* environment variables read into a struct otlp_config,
 * and the key=value list parser behind OTEL_EXPORTER_OTLP_HEADERS and
 * OTEL_RESOURCE_ATTRIBUTES.  Header values are secrets: they are wiped on
 * release and never put in an error message.
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

#include "ratetap/errbuf.h"

#include "http.h"
#include "otlp.h"

#ifndef RATETAP_VERSION
#define RATETAP_VERSION "unknown"
#endif

#define MAX_INTERVAL_MS		86400000L	/* a day */
#define MAX_TIMEOUT_MS		600000L		/* ten minutes */

/* --- configuration --------------------------------------------------- */

/* Wipe and free a string that may hold a secret; NULL is fine. */
void
otlp_wipe_free(char *s)
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
		otlp_wipe_free(kv[i].value);
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
			rt_seterr(err, errlen, "member %d has no '='", member);
			goto err;
		}
		ke = eq;
		vs = eq + 1;
		while (ke > ks && is_blank(ke[-1]))
			ke--;
		while (vs < ve && is_blank(*vs))
			vs++;
		if (ke == ks) {
			rt_seterr(err, errlen, "member %d has an empty key",
			    member);
			goto err;
		}
		for (k = 0; ks + k < ke; k++) {
			int ch = (unsigned char)ks[k];

			if (headers ? !is_tchar(ch) : (ch <= 0x20 || ch >= 0x7f)) {
				rt_seterr(err, errlen, "member %d: the key is not "
				    "a valid %s", member, headers ?
				    "header name" : "attribute name");
				goto err;
			}
		}
		if ((key = strndup(ks, (size_t)(ke - ks))) == NULL)
			goto oom;
		if ((val = pct_decode(vs, (size_t)(ve - vs), &bad)) == NULL) {
			if (bad)
				rt_seterr(err, errlen, "member %d (%s): bad "
				    "percent-encoding in the value", member,
				    key);
			else
				rt_seterr(err, errlen, "out of memory");
			free(key);
			goto err;
		}
		if (has_ctl(val) || (headers && val[0] == '\0') ||
		    (!headers && !utf8_ok((const unsigned char *)val))) {
			rt_seterr(err, errlen, "member %d (%s): the value is %s",
			    member, key, val[0] == '\0' ? "empty" :
			    has_ctl(val) ? "holding a control character" :
			    "not valid UTF-8");
			free(key);
			otlp_wipe_free(val);
			goto err;
		}
		if ((at = kv_find(tmp, ntmp, key, headers)) >= 0) {
			free(tmp[at].key);
			otlp_wipe_free(tmp[at].value);
			tmp[at].key = key;
			tmp[at].value = val;
			continue;
		}
		if (ntmp == cap) {
			int ncap = cap ? cap * 2 : 4;

			if ((grown = realloc(tmp, sizeof(*tmp) *
			    (size_t)ncap)) == NULL) {
				free(key);
				otlp_wipe_free(val);
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
			otlp_wipe_free((*kv)[at].value);
			(*kv)[at] = tmp[i];
		} else
			(*kv)[(*n)++] = tmp[i];
	}
	free(tmp);
	return 0;
oom:
	rt_seterr(err, errlen, "out of memory");
err:
	kv_free_all(tmp, ntmp);
	return -1;
}

/* Value of an environment variable, NULL when unset or blank. */
const char *
otlp_env(const char *name)
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
	const char *v = otlp_env(name);
	char *end;
	long long x;

	if (v == NULL)
		return 0;
	errno = 0;
	x = strtoll(v, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno != 0 || end == v || *end != '\0' || x < min || x > max) {
		rt_seterr(err, errlen, "%s: want a whole number of milliseconds "
		    "from %ld to %ld", name, min, max);
		return -1;
	}
	*out = (long)x;
	return 0;
}

/* Endpoint from OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (as is) or
 * OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/metrics".  1, 0 (none) or -1. */
static int
config_endpoint(struct otlp_config *c, char *err, size_t errlen)
{
	const char *v, *name = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
	char why[128];
	size_t len;

	if ((v = otlp_env(name)) != NULL) {
		while (isspace((unsigned char)*v))
			v++;
		len = strlen(v);
		while (len > 0 && isspace((unsigned char)v[len - 1]))
			len--;
		if ((c->endpoint = strndup(v, len)) == NULL)
			goto oom;
	} else if ((v = otlp_env(name = "OTEL_EXPORTER_OTLP_ENDPOINT")) != NULL) {
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
	if (http_check_url(c->endpoint, why, sizeof(why)) == -1) {
		rt_seterr(err, errlen, "%s: not an http:// or https:// URL (%s)",
		    name, why);
		return -1;
	}
	return 1;
oom:
	rt_seterr(err, errlen, "out of memory");
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
		otlp_wipe_free((*kv)[at].value);
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
	rt_seterr(err, errlen, "out of memory");
	return -1;
}

static int
config_resource(struct otlp_config *c, char *err, size_t errlen)
{
	const char *v;
	char why[OTLP_ERR_LEN];
	int at;

	if ((v = otlp_env("OTEL_RESOURCE_ATTRIBUTES")) != NULL &&
	    otlp_parse_kv(v, 0, &c->resource, &c->nresource, why,
	    sizeof(why)) == -1) {
		rt_seterr(err, errlen, "OTEL_RESOURCE_ATTRIBUTES: %s", why);
		return -1;
	}
	if ((v = otlp_env("OTEL_SERVICE_NAME")) != NULL) {
		if (has_ctl(v) || !utf8_ok((const unsigned char *)v)) {
			rt_seterr(err, errlen, "OTEL_SERVICE_NAME: not printable "
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
		const char *v = otlp_env(names[i]);

		if (v != NULL && otlp_parse_kv(v, 1, &c->headers,
		    &c->nheaders, why, sizeof(why)) == -1) {
			rt_seterr(err, errlen, "%s: %s", names[i], why);
			return -1;
		}
	}
	return 0;
}

static int
env_true(const char *name)
{
	const char *v = otlp_env(name);

	return v != NULL && strcasecmp(v, "true") == 0;
}

/* 1 when OTEL_METRICS_EXPORTER is set and does not list "otlp". */
static int
exporter_not_otlp(void)
{
	const char *v = otlp_env("OTEL_METRICS_EXPORTER"), *p;

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

/*
 * OTEL_SEMCONV_STABILITY_OPT_IN: a comma list of categories; unknown ones
 * are another convention's business and ignored.  The default is the old
 * names, as the convention's transition rule says: an instrumentation
 * keeps what it emitted until the user opts in.
 */
static int
semconv_opt_in(void)
{
	const char *v = otlp_env("OTEL_SEMCONV_STABILITY_OPT_IN");
	int bits = OTLP_SEMCONV_OLD;
	size_t n;

	while (v != NULL && *v != '\0') {
		while (*v == ',' || is_blank((unsigned char)*v))
			v++;
		n = strcspn(v, ",");
		while (n > 0 && is_blank((unsigned char)v[n - 1]))
			n--;
		if (n == 30 && strncmp(v, "gen_ai_latest_experimental/dup",
		    n) == 0)
			return OTLP_SEMCONV_OLD | OTLP_SEMCONV_NEW;
		if (n == 26 && strncmp(v, "gen_ai_latest_experimental", n) == 0)
			bits = OTLP_SEMCONV_NEW;
		v += strcspn(v, ",");
	}
	return bits;
}

int
otlp_config_env(struct otlp_config *c, char *err, size_t errlen)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->interval_ms = OTLP_DEFAULT_INTERVAL_MS;
	c->timeout_ms = OTLP_DEFAULT_TIMEOUT_MS;
	c->semconv = semconv_opt_in();
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
