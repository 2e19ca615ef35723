/*
 * Parser of the usage endpoint's body (GET /api/oauth/usage) into a
 * struct trk_poll (see pollparse.h and docs/tracker.md).  Strict on the keys
 * it knows, silent on the keys it does not; errors name the key, never
 * quote the body.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ratetap/errbuf.h"
#include "ratetap/status_keys.h"

#include "pollparse.h"
#include "tracker.h"

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
		rt_seterr(err, errlen, "%s.%s appears twice", ctx, key);
		return -1;
	}
	if (c == NULL || cJSON_IsNull(c))
		return 0;
	if (!cJSON_IsNumber(c)) {
		rt_seterr(err, errlen, "%s.%s is not a number", ctx, key);
		return -1;
	}
	if (!isfinite(c->valuedouble) || c->valuedouble < 0.0 ||
	    c->valuedouble > max) {
		rt_seterr(err, errlen, "%s.%s is out of range", ctx, key);
		return -1;
	}
	*has = 1;
	*v = c->valuedouble;
	return 0;
}

/* A window object {utilization, resets_at} named key into *pw. */
static int
parse_window_obj(const cJSON *o, const char *key, struct trk_poll_window *pw,
    char *err, size_t errlen)
{
	const cJSON *r;

	memset(pw, 0, sizeof(*pw));
	if (opt_number(o, key, "utilization", TRK_UTIL_MAX, &pw->has_util,
	    &pw->utilization, err, errlen) == -1)
		return -1;
	if (member(o, "resets_at", &r) == -1) {
		rt_seterr(err, errlen, "%s.resets_at appears twice", key);
		return -1;
	}
	if (r != NULL && !cJSON_IsNull(r)) {
		if (!cJSON_IsString(r) || r->valuestring == NULL) {
			rt_seterr(err, errlen, "%s.resets_at is not a string",
			    key);
			return -1;
		}
		if (rt_time_parse(r->valuestring, &pw->resets_at) == -1) {
			rt_seterr(err, errlen, "%s.resets_at is not an RFC 3339 "
			    "time", key);
			return -1;
		}
	}
	pw->present = 1;
	return 0;
}

static int
parse_window(const cJSON *root, int w, struct trk_poll_window *pw,
    char *err, size_t errlen)
{
	const char *key = trk_win_name(w);
	const cJSON *o;

	memset(pw, 0, sizeof(*pw));
	if (member(root, key, &o) == -1) {
		rt_seterr(err, errlen, "%s appears twice", key);
		return -1;
	}
	if (o == NULL || cJSON_IsNull(o))
		return 0;
	if (!cJSON_IsObject(o)) {
		rt_seterr(err, errlen, "%s is not an object", key);
		return -1;
	}
	return parse_window_obj(o, key, pw, err, errlen);
}

/*
 * Window key's entry in p: a fixed index, the dynamic one already named
 * so, or a new one; NULL when the table is full.
 */
static struct trk_poll_window *
poll_slot(struct trk_poll *p, const char *name)
{
	struct trk_poll_window *pw;
	int w;

	for (w = 0; w < TRK_WIN_FIXED; w++)
		if (strcmp(name, trk_win_name(w)) == 0)
			return &p->win[w];
	for (w = TRK_WIN_FIXED; w < p->nwin; w++)
		if (strcmp(p->win[w].name, name) == 0)
			return &p->win[w];
	if (p->nwin >= TRK_WIN_MAX)
		return NULL;
	pw = &p->win[p->nwin++];
	memset(pw, 0, sizeof(*pw));
	snprintf(pw->name, sizeof(pw->name), "%s", name);
	return pw;
}

/*
 * The other flat windows (seven_day_cowork, five_hour_x, ...), which come
 * and go: an object of the usual shape becomes a window; null, another
 * shape or a bad value is ignored like any unknown key.
 */
static void
parse_flat_others(const cJSON *root, struct trk_poll *p)
{
	const cJSON *c;
	struct trk_poll_window tmp, *pw;
	char name[TRK_WIN_NAME_LEN], err[8];
	int w, fixed;

	cJSON_ArrayForEach(c, root) {
		if (c->string == NULL || !cJSON_IsObject(c) ||
		    (strncmp(c->string, RT_WIN_SEVEN_DAY_, 10) != 0 &&
		    strncmp(c->string, RT_WIN_FIVE_HOUR_, 10) != 0))
			continue;
		for (fixed = 0, w = 0; w < TRK_WIN_FIXED; w++)
			if (strcmp(c->string, trk_win_name(w)) == 0)
				fixed = 1;
		if (fixed || trk_name_part(c->string, name, sizeof(name)) ==
		    0 || strcmp(name, c->string) != 0)
			continue;
		if (parse_window_obj(c, name, &tmp, err, sizeof(err)) == -1)
			continue;
		if ((pw = poll_slot(p, name)) == NULL)
			return;
		pw->present = 1;
		pw->has_util = tmp.has_util;
		pw->utilization = tmp.utilization;
		pw->resets_at = tmp.resets_at;
	}
}

/* obj[key] when it is a non-empty string, else NULL. */
static const char *
opt_str(const cJSON *obj, const char *key)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsString(c) || c->valuestring == NULL ||
	    c->valuestring[0] == '\0')
		return NULL;
	return c->valuestring;
}

/*
 * One entry of the `limits` array: {kind, percent, resets_at, scope,
 * ...}.  session is five_hour, weekly_all seven_day, weekly_scoped
 * seven_day_<scope>; another kind is a window of its own name (with
 * _<scope> when scoped).  An entry without a kind, or scoped without a
 * name for its scope, cannot be named and is skipped.
 */
static int
parse_limit(const cJSON *e, int i, struct trk_poll *p, char *err,
    size_t errlen)
{
	const cJSON *k, *sc, *m, *sf, *r;
	const char *base, *scope_name = NULL;
	char ctx[32], name[TRK_WIN_NAME_LEN], part[TRK_WIN_NAME_LEN];
	struct trk_poll_window *pw;
	int has = 0, match = TRK_MATCH_NONE;
	double pct = 0.0;
	time_t reset = 0;

	snprintf(ctx, sizeof(ctx), "limits[%d]", i);
	if (!cJSON_IsObject(e)) {
		rt_seterr(err, errlen, "%s is not an object", ctx);
		return -1;
	}
	if (member(e, "kind", &k) == -1) {
		rt_seterr(err, errlen, "%s.kind appears twice", ctx);
		return -1;
	}
	if (k != NULL && !cJSON_IsNull(k) && !cJSON_IsString(k)) {
		rt_seterr(err, errlen, "%s.kind is not a string", ctx);
		return -1;
	}
	if (opt_number(e, ctx, "percent", TRK_UTIL_MAX, &has, &pct, err,
	    errlen) == -1)
		return -1;
	if (member(e, "resets_at", &r) == -1) {
		rt_seterr(err, errlen, "%s.resets_at appears twice", ctx);
		return -1;
	}
	if (r != NULL && !cJSON_IsNull(r)) {
		if (!cJSON_IsString(r) || r->valuestring == NULL ||
		    rt_time_parse(r->valuestring, &reset) == -1) {
			rt_seterr(err, errlen, "%s.resets_at is not an RFC 3339 "
			    "time", ctx);
			return -1;
		}
	}
	if (member(e, "scope", &sc) == -1) {
		rt_seterr(err, errlen, "%s.scope appears twice", ctx);
		return -1;
	}
	if (sc != NULL && !cJSON_IsNull(sc)) {
		if (!cJSON_IsObject(sc)) {
			rt_seterr(err, errlen, "%s.scope is not an object", ctx);
			return -1;
		}
		m = cJSON_GetObjectItemCaseSensitive(sc, "model");
		sf = cJSON_GetObjectItemCaseSensitive(sc, "surface");
		if (cJSON_IsObject(m)) {
			if ((scope_name = opt_str(m, "display_name")) == NULL)
				scope_name = opt_str(m, "id");
			match = TRK_MATCH_MODEL;
		} else if (cJSON_IsObject(sf))
			scope_name = opt_str(sf, "display_name");
		if (scope_name == NULL || trk_name_part(scope_name, part,
		    sizeof(part)) == 0)
			return 0;	/* a scope without a usable name */
	}
	if (k == NULL || !cJSON_IsString(k) || k->valuestring == NULL)
		return 0;
	if (strcmp(k->valuestring, "session") == 0)
		base = RT_WIN_FIVE_HOUR;
	else if (strcmp(k->valuestring, "weekly_all") == 0 ||
	    strcmp(k->valuestring, "weekly_scoped") == 0)
		base = RT_WIN_SEVEN_DAY;
	else {
		char kn[TRK_WIN_NAME_LEN];

		if (trk_name_part(k->valuestring, kn, sizeof(kn)) == 0)
			return 0;
		snprintf(name, sizeof(name), "%s", kn);
		base = NULL;
	}
	if (base != NULL)
		snprintf(name, sizeof(name), "%s", base);
	if (scope_name != NULL) {
		size_t n = strlen(name);

		if (n + 2 >= sizeof(name))
			return 0;
		size_t j;

		name[n++] = '_';
		for (j = 0; part[j] != '\0' && n + 1 < sizeof(name); j++)
			name[n++] = part[j];
		name[n] = '\0';
		while (name[strlen(name) - 1] == '_')
			name[strlen(name) - 1] = '\0';
	} else if (strcmp(k->valuestring, "weekly_scoped") == 0)
		return 0;	/* scoped, but to what? */
	if ((pw = poll_slot(p, name)) == NULL)
		return 0;	/* full: bounded */
	pw->present = 1;
	if (has) {
		pw->has_util = 1;
		pw->utilization = pct;
	}
	if (reset != 0)
		pw->resets_at = reset;
	if (scope_name != NULL && pw >= &p->win[TRK_WIN_FIXED]) {
		rtp_strlcpy(pw->label, scope_name, sizeof(pw->label));
		pw->match = match;
		if (match == TRK_MATCH_MODEL)
			snprintf(pw->match_word, sizeof(pw->match_word), "%s",
			    scope_name);
	} else if (pw >= &p->win[TRK_WIN_FIXED])
		pw->match = TRK_MATCH_NONE;
	return 0;
}

static int
parse_limits(const cJSON *root, struct trk_poll *p, char *err,
    size_t errlen)
{
	const cJSON *a, *e;
	int i = 0;

	if (member(root, "limits", &a) == -1) {
		rt_seterr(err, errlen, "limits appears twice");
		return -1;
	}
	if (a == NULL || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a)) {
		rt_seterr(err, errlen, "limits is not an array");
		return -1;
	}
	cJSON_ArrayForEach(e, a) {
		if (parse_limit(e, i, p, err, errlen) == -1)
			return -1;
		i++;
	}
	return 0;
}

/* spend.used / spend.limit: null, or {amount_minor, currency, exponent} */
static int
parse_money(const cJSON *o, const char *key, struct trk_money *m,
    char *err, size_t errlen)
{
	const cJSON *v, *c;
	char ctx[32];
	double amt, ex;
	int has_amt, has_ex;
	size_t i;

	memset(m, 0, sizeof(*m));
	snprintf(ctx, sizeof(ctx), "spend.%s", key);
	if (member(o, key, &v) == -1) {
		rt_seterr(err, errlen, "%s appears twice", ctx);
		return -1;
	}
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsObject(v)) {
		rt_seterr(err, errlen, "%s is not an object", ctx);
		return -1;
	}
	if (opt_number(v, ctx, "amount_minor", TRK_CREDITS_MAX, &has_amt,
	    &amt, err, errlen) == -1 ||
	    opt_number(v, ctx, "exponent", 9, &has_ex, &ex, err, errlen) == -1)
		return -1;
	if ((has_amt && floor(amt) != amt) || (has_ex && floor(ex) != ex)) {
		rt_seterr(err, errlen, "%s has a fractional amount or exponent",
		    ctx);
		return -1;
	}
	if (member(v, "currency", &c) == -1) {
		rt_seterr(err, errlen, "%s.currency appears twice", ctx);
		return -1;
	}
	if (c != NULL && !cJSON_IsNull(c)) {
		if (!cJSON_IsString(c) || c->valuestring == NULL ||
		    strlen(c->valuestring) == 0 ||
		    strlen(c->valuestring) >= sizeof(m->currency)) {
			rt_seterr(err, errlen, "%s.currency is not a currency "
			    "code", ctx);
			return -1;
		}
		for (i = 0; c->valuestring[i] != '\0'; i++) {
			char ch = c->valuestring[i];

			if (!((ch >= 'A' && ch <= 'Z') ||
			    (ch >= 'a' && ch <= 'z'))) {
				rt_seterr(err, errlen, "%s.currency is not a "
				    "currency code", ctx);
				return -1;
			}
			m->currency[i] = ch >= 'a' ? (char)(ch - 32) : ch;
		}
	}
	if (!has_amt)
		return 0;	/* no amount: nothing to show */
	m->known = 1;
	m->amount_minor = (int64_t)amt;
	m->exponent = has_ex ? (int)ex : 2;
	return 0;
}

static int
parse_spend(const cJSON *root, struct trk_spend *sp, char *err,
    size_t errlen)
{
	const cJSON *o, *b, *r;

	memset(sp, 0, sizeof(*sp));
	sp->enabled = -1;
	if (member(root, "spend", &o) == -1) {
		rt_seterr(err, errlen, "spend appears twice");
		return -1;
	}
	if (o == NULL || cJSON_IsNull(o))
		return 0;
	if (!cJSON_IsObject(o)) {
		rt_seterr(err, errlen, "spend is not an object");
		return -1;
	}
	if (parse_money(o, "used", &sp->used, err, errlen) == -1 ||
	    parse_money(o, "limit", &sp->limit, err, errlen) == -1 ||
	    opt_number(o, "spend", "percent", TRK_UTIL_MAX, &sp->has_percent,
	    &sp->percent, err, errlen) == -1)
		return -1;
	if (member(o, "enabled", &b) == -1 ||
	    member(o, "disabled_reason", &r) == -1) {
		rt_seterr(err, errlen, "a key of spend appears twice");
		return -1;
	}
	if (b != NULL && !cJSON_IsNull(b)) {
		if (!cJSON_IsBool(b)) {
			rt_seterr(err, errlen, "spend.enabled is not a boolean");
			return -1;
		}
		sp->enabled = cJSON_IsTrue(b) ? 1 : 0;
	}
	if (r != NULL && !cJSON_IsNull(r)) {
		if (!cJSON_IsString(r) || r->valuestring == NULL) {
			rt_seterr(err, errlen, "spend.disabled_reason is not a "
			    "string");
			return -1;
		}
		rtp_strlcpy(sp->disabled_reason, r->valuestring,
		    sizeof(sp->disabled_reason));
	}
	sp->known = 1;
	return 0;
}

static int
parse_extra(const cJSON *root, struct trk_extra *e, char *err,
    size_t errlen)
{
	const cJSON *o, *b;

	memset(e, 0, sizeof(*e));
	if (member(root, "extra_usage", &o) == -1) {
		rt_seterr(err, errlen, "extra_usage appears twice");
		return -1;
	}
	if (o == NULL || cJSON_IsNull(o))
		return 0;
	if (!cJSON_IsObject(o)) {
		rt_seterr(err, errlen, "extra_usage is not an object");
		return -1;
	}
	if (member(o, "is_enabled", &b) == -1) {
		rt_seterr(err, errlen, "extra_usage.is_enabled appears twice");
		return -1;
	}
	if (b != NULL && !cJSON_IsNull(b)) {
		if (!cJSON_IsBool(b)) {
			rt_seterr(err, errlen, "extra_usage.is_enabled is not a "
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
		rt_seterr(err, errlen, "empty body");
		goto err;
	}
	if (len > POLL_MAX_BODY) {
		rt_seterr(err, errlen, "body larger than %d bytes",
		    POLL_MAX_BODY);
		goto err;
	}
	/* a NUL-terminated copy: the parser never reads past it */
	copy = malloc(len + 1);
	if (copy == NULL) {
		rt_seterr(err, errlen, "out of memory");
		goto err;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	root = cJSON_ParseWithLengthOpts(copy, len, &end, 0);
	if (root == NULL) {
		rt_seterr(err, errlen, "body is not JSON");
		goto err;
	}
	for (i = end != NULL ? (size_t)(end - copy) : len; i < len; i++) {
		if (copy[i] != ' ' && copy[i] != '\t' && copy[i] != '\n' &&
		    copy[i] != '\r') {
			rt_seterr(err, errlen, "trailing data after the JSON "
			    "value");
			goto err;
		}
	}
	if (!cJSON_IsObject(root)) {
		rt_seterr(err, errlen, "body is not a JSON object");
		goto err;
	}
	for (w = 0; w < TRK_WIN_FIXED; w++)
		if (parse_window(root, w, &p->win[w], err, errlen) == -1)
			goto err;
	p->nwin = TRK_WIN_FIXED;
	parse_flat_others(root, p);
	if (parse_limits(root, p, err, errlen) == -1 ||
	    parse_extra(root, &p->extra, err, errlen) == -1 ||
	    parse_spend(root, &p->spend, err, errlen) == -1)
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
