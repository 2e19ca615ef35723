/*
 * The forecast (see forecast.h, docs/forecast.md).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "forecast.h"

time_t
fc_window_length(const char *name)
{
	if (name != NULL && strncmp(name, "five_hour", 9) == 0)
		return 5 * 3600;
	return 7 * 86400;
}

void
fc_clear(struct fc_ring *r)
{
	r->head = r->n = 0;
	r->resets_at = 0;
}

static struct fc_sample *
newest(struct fc_ring *r)
{
	return &r->s[(r->head + r->n - 1) % FC_SAMPLES];
}

void
fc_add(struct fc_ring *r, time_t at, double pct, time_t resets_at,
    time_t len)
{
	time_t gap = len / 256 > 0 ? len / 256 : 1;
	struct fc_sample *last;

	if (!isfinite(pct) || pct < 0 || at <= 0)
		return;
	if (resets_at != 0 && r->resets_at != 0 &&
	    (resets_at > r->resets_at + FC_JITTER_SECS ||
	    resets_at < r->resets_at - FC_JITTER_SECS))
		fc_clear(r);		/* another instance */
	if (resets_at != 0 && r->n == 0)
		r->resets_at = resets_at;
	else if (resets_at != 0 && r->resets_at == 0)
		r->resets_at = resets_at;
	if (r->n > 0) {
		last = newest(r);
		if (at < last->at)
			return;		/* older than what we have */
		if (pct < last->pct - FC_DROP_PCT) {
			fc_clear(r);	/* fell: a reset not seen */
			r->resets_at = resets_at;
		} else if (r->n > 1 && at - r->s[(r->head + r->n - 2) %
		    FC_SAMPLES].at < gap) {
			last->at = at;	/* thin: the newest moves on */
			last->pct = pct;
			return;
		}
	}
	if (r->n == FC_SAMPLES) {
		r->head = (r->head + 1) % FC_SAMPLES;
		r->n--;
	}
	r->s[(r->head + r->n) % FC_SAMPLES].at = at;
	r->s[(r->head + r->n) % FC_SAMPLES].pct = pct;
	r->n++;
}

int
fc_estimate(const struct fc_ring *r, int has, double pct, time_t resets_at,
    time_t len, time_t now, struct fc_result *out)
{
	double sw = 0, st = 0, sp = 0, stt = 0, stp = 0, half, t0, cur;
	time_t start, first = 0, last = 0;
	int i;

	memset(out, 0, sizeof(*out));
	if (resets_at <= 0 || len <= 0)
		return -1;
	cur = has ? pct : (r->n > 0 ? r->s[(r->head + r->n - 1) %
	    FC_SAMPLES].pct : 0);
	start = resets_at - len;
	if ((has || r->n > 0) && now > start) {
		double elapsed = (double)(now - start) / (double)len * 100.0;

		if (elapsed > 0) {
			out->has_pace = 1;
			out->pace = cur / (elapsed > 100 ? 100 : elapsed);
		}
	}
	half = (double)len / 10.0;
	t0 = (double)now;
	for (i = 0; i < r->n; i++) {
		const struct fc_sample *s = &r->s[(r->head + i) % FC_SAMPLES];
		double age = t0 - (double)s->at, w, x;

		if (age < 0)
			age = 0;
		w = exp2(-age / half);
		x = ((double)s->at - t0) / 3600.0;	/* hours, <= 0 */
		sw += w;
		st += w * x;
		sp += w * s->pct;
		stt += w * x * x;
		stp += w * x * s->pct;
		if (first == 0)
			first = s->at;
		last = s->at;
	}
	if (r->n < 2 || last - first < 1)
		return 0;		/* one point: no slope */
	{
		double den = sw * stt - st * st, rate;

		if (den <= 1e-12)
			return 0;
		rate = (sw * stp - st * sp) / den;
		if (!isfinite(rate))
			return 0;
		out->known = 1;
		out->rate_per_hour = rate > 0 ? rate : 0;
	}
	if (cur >= 100.0)
		out->exhausted_at = last > 0 && last < now ? last : now;
	else if (out->rate_per_hour > 1e-9) {
		double secs = (100.0 - cur) / out->rate_per_hour * 3600.0;

		if (secs < (double)(resets_at - now))
			out->exhausted_at = now + (time_t)llround(secs);
	}
	if (out->exhausted_at >= resets_at)
		out->exhausted_at = 0;
	return 0;
}

int
fc_json(cJSON *o, const struct fc_ring *r, int has, double pct,
    time_t resets_at, time_t len, time_t now)
{
	struct fc_result f;
	char buf[32];
	struct tm tm;
	cJSON *fo;
	int rc;

	if ((fo = cJSON_AddObjectToObject(o, "forecast")) == NULL)
		return -1;
	rc = fc_estimate(r, has, pct, resets_at, len, now, &f);
	if (rc == 0 && f.exhausted_at > 0 &&
	    gmtime_r(&f.exhausted_at, &tm) != NULL) {
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (cJSON_AddStringToObject(fo, "exhausted_at", buf) == NULL)
			return -1;
	} else if (cJSON_AddNullToObject(fo, "exhausted_at") == NULL)
		return -1;
	if ((rc == 0 && f.known ? cJSON_AddNumberToObject(fo, "rate_per_hour",
	    round(f.rate_per_hour * 1000) / 1000) :
	    cJSON_AddNullToObject(fo, "rate_per_hour")) == NULL)
		return -1;
	if ((rc == 0 && f.has_pace ? cJSON_AddNumberToObject(fo, "pace",
	    round(f.pace * 1000) / 1000) :
	    cJSON_AddNullToObject(fo, "pace")) == NULL)
		return -1;
	return 0;
}
