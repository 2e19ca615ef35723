/*
 * The statusline source: Claude Code's own `rate_limits`, forwarded by
 * `ratetap statusline` (see statusline.h and docs/claude-code.md).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "statusline.h"
#include "tracker.h"

static const char *const sl_names[] = { "five_hour", "seven_day" };
#define SL_NWIN	2

/* Is key given more than once in o? */
static int
duplicated(const cJSON *o, const char *key)
{
	const cJSON *c;
	int n = 0;

	cJSON_ArrayForEach(c, o)
		if (c->string != NULL && strcmp(c->string, key) == 0)
			n++;
	return n > 1;
}

/* One window object into *ob; 1 when it gives something, 0 when not,
 * -1 on a bad value. */
static int
parse_window(const cJSON *w, const char *name, struct trk_obs *ob,
    char *err, size_t errlen)
{
	const cJSON *u, *r;

	if (w == NULL || cJSON_IsNull(w))
		return 0;
	if (!cJSON_IsObject(w)) {
		snprintf(err, errlen, "%s is not an object", name);
		return -1;
	}
	if (duplicated(w, "used_percentage") || duplicated(w, "resets_at")) {
		snprintf(err, errlen, "%s has a key given twice", name);
		return -1;
	}
	u = cJSON_GetObjectItemCaseSensitive(w, "used_percentage");
	r = cJSON_GetObjectItemCaseSensitive(w, "resets_at");
	if (u != NULL && !cJSON_IsNull(u)) {
		if (!cJSON_IsNumber(u) || !isfinite(u->valuedouble) ||
		    u->valuedouble < 0 || u->valuedouble > TRK_UTIL_MAX) {
			snprintf(err, errlen, "%s.used_percentage is not a "
			    "percentage", name);
			return -1;
		}
		ob->has_util = 1;
		ob->utilization = u->valuedouble;
	}
	if (r != NULL && !cJSON_IsNull(r)) {
		if (!cJSON_IsNumber(r) || !isfinite(r->valuedouble) ||
		    r->valuedouble < 1 || r->valuedouble > (double)TRK_TIME_MAX) {
			snprintf(err, errlen, "%s.resets_at is not a time in "
			    "unix seconds", name);
			return -1;
		}
		ob->resets_at = (time_t)floor(r->valuedouble);
	}
	return ob->has_util || ob->resets_at != 0;
}

int
sl_apply(struct trk *t, const char *body, size_t len, time_t now,
    char *err, size_t errlen)
{
	struct trk_obs ob[SL_NWIN];
	int give[SL_NWIN];
	const char *end = NULL;
	cJSON *j = NULL;
	int i, n = 0;

	if (len == 0 || len > SL_MAX_BODY) {
		snprintf(err, errlen, len == 0 ? "empty body" :
		    "body larger than %d bytes", SL_MAX_BODY);
		return -1;
	}
	if ((j = cJSON_ParseWithLengthOpts(body, len, &end, 0)) == NULL) {
		snprintf(err, errlen, "body is not JSON");
		goto err;
	}
	if (end == NULL)
		end = body;
	while (end < body + len && (*end == ' ' ||
	    *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (end != body + len) {
		snprintf(err, errlen, "body holds more than one JSON value");
		goto err;
	}
	if (!cJSON_IsObject(j)) {
		snprintf(err, errlen, "body is not a JSON object");
		goto err;
	}
	for (i = 0; i < SL_NWIN; i++) {
		memset(&ob[i], 0, sizeof(ob[i]));
		ob[i].source = TRK_SRC_STATUSLINE;
		ob[i].observed_at = now;
		ob[i].match = -1;
		if (duplicated(j, sl_names[i])) {
			snprintf(err, errlen, "%s given twice", sl_names[i]);
			goto err;
		}
		give[i] = parse_window(cJSON_GetObjectItemCaseSensitive(j,
		    sl_names[i]), sl_names[i], &ob[i], err, errlen);
		if (give[i] == -1)
			goto err;
	}
	cJSON_Delete(j);
	for (i = 0; i < SL_NWIN; i++)
		if (give[i] == 1 && trk_observe(t, sl_names[i], &ob[i],
		    now) == 0)
			n++;
	return n;
err:
	cJSON_Delete(j);
	return -1;
}
