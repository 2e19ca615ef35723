/*
 * The forecast: when will a window reach 100 %, from the utilization
 * samples of its current instance (docs/forecast.md).  Pure functions on a
 * bounded ring of samples the tracker keeps per window (in memory; the
 * ledger keeps them on disk).
 */
#ifndef RATETAP_FORECAST_H
#define RATETAP_FORECAST_H

#include <time.h>

#include <cjson/cJSON.h>

#define FC_SAMPLES	128	/* samples kept per window instance */
#define FC_JITTER_SECS	600	/* reset times this close: one instance */
#define FC_DROP_PCT	10.0	/* a fall this large: a new instance */

struct fc_sample {
	time_t at;
	double pct;
};

struct fc_ring {
	struct fc_sample s[FC_SAMPLES];
	int head;		/* index of the oldest sample */
	int n;			/* samples held */
	time_t resets_at;	/* the instance they belong to, 0 unknown */
};

struct fc_result {
	int known;		/* a rate could be estimated (>= 2 samples) */
	double rate_per_hour;	/* percentage points per hour */
	int has_pace;
	double pace;		/* used % / elapsed % of the window */
	time_t exhausted_at;	/* reaches 100 % then; 0: not before reset */
};

/* The length of a window by its name: five_hour* 5 h, else 7 days. */
time_t fc_window_length(const char *name);

/* Forget every sample. */
void fc_clear(struct fc_ring *r);

/*
 * Add a figure pct observed at `at` of the instance ending resets_at (0
 * unknown).  Samples closer than len / 256 to the newest replace it; a
 * different instance (reset moved by more than FC_JITTER_SECS) or a fall
 * of more than FC_DROP_PCT starts the ring afresh.  Out-of-order samples
 * older than the newest are ignored.
 */
void fc_add(struct fc_ring *r, time_t at, double pct, time_t resets_at,
    time_t len);

/*
 * Estimate from r at now for a window of length len resetting at
 * resets_at (0 unknown: no forecast), whose current figure is pct (has:
 * known).  The rate is a least-squares slope with weights halving every
 * len / 10 of age; never negative.  Returns 0 (r->known says whether a
 * rate was found), -1 when there is nothing to say.
 */
int fc_estimate(const struct fc_ring *r, int has, double pct,
    time_t resets_at, time_t len, time_t now, struct fc_result *out);

/*
 * Add "forecast": {exhausted_at, rate_per_hour, pace} to the window
 * object o (every member null when unknown).  Returns 0 or -1.
 */
int fc_json(cJSON *o, const struct fc_ring *r, int has, double pct,
    time_t resets_at, time_t len, time_t now);

#endif /* RATETAP_FORECAST_H */
