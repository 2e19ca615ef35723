/*
 * Parser of the usage endpoint's body (GET /api/oauth/usage) into a
 * struct trk_poll (see tracker.h and docs/tracker.md).  Strict on the keys
 * it knows, silent on the keys it does not; errors name the key, never
 * quote the body.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tracker.h"

#define POLL_BODY_MAX	(1024 * 1024)

static const char *const poll_win_keys[TRK_WIN_COUNT] = {
	"five_hour", "seven_day", "seven_day_sonnet", "seven_day_opus"
};

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Set *out to obj's member key (case-sensitive), NULL when absent.
 * Returns -1 when the key appears twice (which one counts would be a
 * guess), else 0.
 */
static int
member(const cJSON *obj, const char *key, const cJSON **out)
{
	const cJSON *c;
	int n = 0;

	*out = NULL;
	cJSON_ArrayForEach(c, obj) {
		if (c->string != NULL && strcmp(c->string, key) == 0) {
			*out = c;
			n++;
		}
	}
	return n > 1 ? -1 : 0;
}

/*
 * Optional number: null/absent leaves *has 0; otherwise it must be a
 * finite number in [0, max].
 */
static int
opt_number(const cJSON *obj, const char *ctx, const char *key, double max,
    int *has, double *v, char *err, size_t errlen)
{
	const cJSON *c;

	*has = 0;
	*v = 0.0;
	if (member(obj, key, &c) == -1) {
		seterr(err, errlen, "%s.%s appears twice", ctx, key);
		return -1;
	}
	if (c == NULL || cJSON_IsNull(c))
		return 0;
	if (!cJSON_IsNumber(c)) {
		seterr(err, errlen, "%s.%s is not a number", ctx, key);
		return -1;
	}
	if (!isfinite(c->valuedouble) || c->valuedouble < 0.0 ||
	    c->valuedouble > max) {
		seterr(err, errlen, "%s.%s is out of range", ctx, key);
		return -1;
	}
	*has = 1;
	*v = c->valuedouble;
	return 0;
}

static int
parse_window(const cJSON *root, int w, struct trk_poll_window *pw,
    char *err, size_t errlen)
{
	const char *key = poll_win_keys[w];
	const cJSON *o, *r;

	memset(pw, 0, sizeof(*pw));
	if (member(root, key, &o) == -1) {
		seterr(err, errlen, "%s appears twice", key);
		return -1;
	}
	if (o == NULL || cJSON_IsNull(o))
		return 0;
	if (!cJSON_IsObject(o)) {
		seterr(err, errlen, "%s is not an object", key);
		return -1;
	}
	if (opt_number(o, key, "utilization", TRK_UTIL_MAX, &pw->has_util,
	    &pw->utilization, err, errlen) == -1)
		return -1;
	if (member(o, "resets_at", &r) == -1) {
		seterr(err, errlen, "%s.resets_at appears twice", key);
		return -1;
	}
	if (r != NULL && !cJSON_IsNull(r)) {
		if (!cJSON_IsString(r) || r->valuestring == NULL) {
			seterr(err, errlen, "%s.resets_at is not a string",
			    key);
			return -1;
		}
		if (trk_parse_time(r->valuestring, &pw->resets_at) == -1) {
			seterr(err, errlen, "%s.resets_at is not an RFC 3339 "
			    "time", key);
			return -1;
		}
	}
	pw->present = 1;
	return 0;
}

static int
parse_extra(const cJSON *root, struct trk_extra *e, char *err,
    size_t errlen)
{
	const cJSON *o, *b;

	memset(e, 0, sizeof(*e));
	if (member(root, "extra_usage", &o) == -1) {
		seterr(err, errlen, "extra_usage appears twice");
		return -1;
	}
	if (o == NULL || cJSON_IsNull(o))
		return 0;
	if (!cJSON_IsObject(o)) {
		seterr(err, errlen, "extra_usage is not an object");
		return -1;
	}
	if (member(o, "is_enabled", &b) == -1) {
		seterr(err, errlen, "extra_usage.is_enabled appears twice");
		return -1;
	}
	if (b != NULL && !cJSON_IsNull(b)) {
		if (!cJSON_IsBool(b)) {
			seterr(err, errlen, "extra_usage.is_enabled is not a "
			    "boolean");
			return -1;
		}
		e->is_enabled = cJSON_IsTrue(b) ? 1 : 0;
	}
	if (opt_number(o, "extra_usage", "monthly_limit", TRK_CREDITS_MAX,
	    &e->has_monthly_limit, &e->monthly_limit, err, errlen) == -1 ||
	    opt_number(o, "extra_usage", "used_credits", TRK_CREDITS_MAX,
	    &e->has_used_credits, &e->used_credits, err, errlen) == -1 ||
	    opt_number(o, "extra_usage", "utilization", TRK_UTIL_MAX,
	    &e->has_util, &e->utilization, err, errlen) == -1)
		return -1;
	e->known = 1;
	return 0;
}

int
poll_parse(const char *body, size_t len, struct trk_poll *p, char *err,
    size_t errlen)
{
	cJSON *root = NULL;
	const char *end = NULL;
	char *copy = NULL;
	size_t i;
	int w;

	memset(p, 0, sizeof(*p));
	if (body == NULL || len == 0) {
		seterr(err, errlen, "empty body");
		goto err;
	}
	if (len > POLL_BODY_MAX) {
		seterr(err, errlen, "body larger than %d bytes",
		    POLL_BODY_MAX);
		goto err;
	}
	/* a NUL-terminated copy: the parser never reads past it */
	copy = malloc(len + 1);
	if (copy == NULL) {
		seterr(err, errlen, "out of memory");
		goto err;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	root = cJSON_ParseWithLengthOpts(copy, len, &end, 0);
	if (root == NULL) {
		seterr(err, errlen, "body is not JSON");
		goto err;
	}
	for (i = end != NULL ? (size_t)(end - copy) : len; i < len; i++) {
		if (copy[i] != ' ' && copy[i] != '\t' && copy[i] != '\n' &&
		    copy[i] != '\r') {
			seterr(err, errlen, "trailing data after the JSON "
			    "value");
			goto err;
		}
	}
	if (!cJSON_IsObject(root)) {
		seterr(err, errlen, "body is not a JSON object");
		goto err;
	}
	for (w = 0; w < TRK_WIN_COUNT; w++)
		if (parse_window(root, w, &p->win[w], err, errlen) == -1)
			goto err;
	if (parse_extra(root, &p->extra, err, errlen) == -1)
		goto err;
	cJSON_Delete(root);
	free(copy);
	return 0;
err:
	cJSON_Delete(root);
	free(copy);
	memset(p, 0, sizeof(*p));
	return -1;
}
