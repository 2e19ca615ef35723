/*
 * The tracker (see tracker.h and docs/tracker.md): windows, rollovers,
 * warning thresholds, counters and per-model / per-program totals, fed by
 * shim events and by the usage poll.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tracker.h"

static const char *const win_names[TRK_WIN_COUNT] = {
	"five_hour", "seven_day", "seven_day_sonnet", "seven_day_opus"
};

static const char *const api_names[TRK_API_COUNT] = {
	"requests", "tokens", "input_tokens", "output_tokens"
};

/*
 * A hash index over a per-model or per-program table, kept in the same
 * allocation right after the table's rows (see table_new()), so that an
 * event finds its row without comparing its name with every row's.  It is
 * a cache of the rows: rebuilt whenever the row count differs from the one
 * it indexed (a table filled by trk_load() or reset by trk_reset()), and a
 * hit is always confirmed by comparing the names.
 */
#define NAMED_SLOTS	512	/* power of two, at least twice the rows */

struct named_index {
	int n;				/* rows indexed; -1: rebuild */
	uint32_t hash[NAMED_SLOTS];	/* name hash of each used slot */
	uint16_t row[NAMED_SLOTS];	/* row + 1; 0: free slot */
};

_Static_assert(NAMED_SLOTS >= 2 * TRK_MAX_MODELS &&
    NAMED_SLOTS >= 2 * TRK_MAX_PROGS && TRK_MAX_MODELS < 65535 &&
    TRK_MAX_PROGS < 65535 && (NAMED_SLOTS & (NAMED_SLOTS - 1)) == 0,
    "named index size");

/* Header fields of each window: utilization (d[]) and reset (i[]). */
static const int win_util_d[TRK_WIN_COUNT] = {
	RTP_D_UTIL_5H, RTP_D_UTIL_7D, RTP_D_UTIL_7D_SONNET, RTP_D_UTIL_7D_OPUS
};
static const int win_reset_i[TRK_WIN_COUNT] = {
	RTP_I_RESET_5H, RTP_I_RESET_7D, RTP_I_RESET_7D_SONNET,
	RTP_I_RESET_7D_OPUS
};

/* Header fields of each API-key limit: limit, remaining, reset. */
static const int api_i[TRK_API_COUNT][3] = {
	{ RTP_I_REQ_LIMIT, RTP_I_REQ_REMAINING, RTP_I_REQ_RESET },
	{ RTP_I_TOK_LIMIT, RTP_I_TOK_REMAINING, RTP_I_TOK_RESET },
	{ RTP_I_IN_LIMIT, RTP_I_IN_REMAINING, RTP_I_IN_RESET },
	{ RTP_I_OUT_LIMIT, RTP_I_OUT_REMAINING, RTP_I_OUT_RESET }
};

const char *
trk_win_name(int w)
{
	if (w < 0 || w >= TRK_WIN_COUNT)
		return NULL;
	return win_names[w];
}

const char *
trk_api_name(int a)
{
	if (a < 0 || a >= TRK_API_COUNT)
		return NULL;
	return api_names[a];
}

const char *
trk_ustatus_name(int s)
{
	switch (s) {
	case RTP_US_ALLOWED:
		return "allowed";
	case RTP_US_ALLOWED_WARNING:
		return "allowed_warning";
	case RTP_US_REJECTED:
		return "rejected";
	case RTP_US_OTHER:
		return "other";
	default:
		return NULL;
	}
}

const char *
trk_claim_name(int c)
{
	switch (c) {
	case RTP_CLAIM_FIVE_HOUR:
		return "five_hour";
	case RTP_CLAIM_SEVEN_DAY:
		return "seven_day";
	case RTP_CLAIM_SEVEN_DAY_OPUS:
		return "seven_day_opus";
	case RTP_CLAIM_SEVEN_DAY_SONNET:
		return "seven_day_sonnet";
	case RTP_CLAIM_OVERAGE:
		return "overage";
	case RTP_CLAIM_OTHER:
		return "other";
	default:
		return NULL;
	}
}

/* The index of a table of max rows allocated by table_new(). */
static struct named_index *
table_index(struct trk_named *tab, int max)
{
	return (struct named_index *)(void *)(tab + max);
}

/* A zeroed table of max rows followed by its (empty, valid) index. */
static struct trk_named *
table_new(int max)
{
	return calloc(1, (size_t)max * sizeof(struct trk_named) +
	    sizeof(struct named_index));
}

struct trk *
trk_new(const struct trk_config *cfg)
{
	struct trk *t;

	_Static_assert(sizeof(struct trk_named) % _Alignof(struct named_index)
	    == 0, "index alignment");
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->models = table_new(TRK_MAX_MODELS);
	t->progs = table_new(TRK_MAX_PROGS);
	if (t->models == NULL || t->progs == NULL) {
		trk_free(t);
		return NULL;
	}
	t->cfg.warn_pct = TRK_DEFAULT_WARN_PCT;
	if (cfg != NULL && isfinite(cfg->warn_pct) && cfg->warn_pct > 0.0 &&
	    cfg->warn_pct <= TRK_UTIL_MAX)
		t->cfg.warn_pct = cfg->warn_pct;
	t->retry_after = -1;
	return t;
}

void
trk_free(struct trk *t)
{
	if (t == NULL)
		return;
	free(t->models);
	free(t->progs);
	free(t);
}

void
trk_clear_dirty(struct trk *t)
{
	t->dirty = 0;
}

void
trk_reset(struct trk *t)
{
	struct trk_config cfg = t->cfg;
	struct trk_named *models = t->models, *progs = t->progs;

	memset(t, 0, sizeof(*t));
	memset(models, 0, TRK_MAX_MODELS * sizeof(*models));
	memset(progs, 0, TRK_MAX_PROGS * sizeof(*progs));
	table_index(models, TRK_MAX_MODELS)->n = -1;
	table_index(progs, TRK_MAX_PROGS)->n = -1;
	t->cfg = cfg;
	t->models = models;
	t->progs = progs;
	t->retry_after = -1;
}

void
trk_format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (len == 0)
		return;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/* Parse exactly n digits at *s into *v; advance *s. */
static int
digits(const char **s, int n, int *v)
{
	int i, r = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return -1;
		r = r * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*v = r;
	return 0;
}

static int
days_in_month(int year, int mon)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (mon == 2 && leap)
		return 29;
	return mdays[mon - 1];
}

int
trk_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	int nfrac = 0;
	time_t r;

	if (s == NULL)
		return -1;
	if (digits(&s, 4, &year) == -1 || *s++ != '-' ||
	    digits(&s, 2, &mon) == -1 || *s++ != '-' ||
	    digits(&s, 2, &day) == -1)
		return -1;
	if (*s != 'T' && *s != 't')
		return -1;
	s++;
	if (digits(&s, 2, &hour) == -1 || *s++ != ':' ||
	    digits(&s, 2, &min) == -1 || *s++ != ':' ||
	    digits(&s, 2, &sec) == -1)
		return -1;
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			s++;
			nfrac++;
		}
		if (nfrac == 0 || nfrac > 18)
			return -1;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (digits(&s, 2, &oh) == -1 || *s++ != ':' ||
		    digits(&s, 2, &om) == -1)
			return -1;
	} else
		return -1;
	if (*s != '\0')
		return -1;
	if (year < 1970 || year > 9999 || mon < 1 || mon > 12 || day < 1 ||
	    day > days_in_month(year, mon) || hour > 23 || min > 59 ||
	    sec > 60 || oh > 23 || om > 59)
		return -1;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;	/* a leap second 60 normalises to :00 */
	r = timegm(&tm);
	if (r == (time_t)-1)
		return -1;
	r -= (time_t)sign * (oh * 3600 + om * 60);
	if (r < 0 || r > (time_t)TRK_TIME_MAX)
		return -1;
	*out = r;
	return 0;
}

/* Saturating addition of non-negative counts. */
static int64_t
cadd(int64_t a, int64_t b)
{
	if (b <= 0)
		return a;
	if (a >= TRK_COUNT_MAX || b >= TRK_COUNT_MAX - a)
		return TRK_COUNT_MAX;
	return a + b;
}

static void
tokens_add(struct trk_tokens *dst, const struct trk_tokens *src)
{
	dst->input = cadd(dst->input, src->input);
	dst->output = cadd(dst->output, src->output);
	dst->cache_creation_input = cadd(dst->cache_creation_input,
	    src->cache_creation_input);
	dst->cache_read_input = cadd(dst->cache_read_input,
	    src->cache_read_input);
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive substring search, ASCII; needle is lowercase. */
static int
contains_ci(const char *hay, const char *needle)
{
	size_t i;

	for (; *hay != '\0'; hay++) {
		if (lower((unsigned char)*hay) != needle[0])
			continue;
		for (i = 1; needle[i] != '\0'; i++)
			if (lower((unsigned char)hay[i]) != needle[i])
				break;	/* also at hay's NUL */
		if (needle[i] == '\0')
			return 1;
	}
	return 0;
}

/* FNV-1a of a NUL-terminated name. */
static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Add row r of tab, named with hash h, to ix (the first row wins). */
static void
index_add(struct named_index *ix, uint32_t h, int r)
{
	uint32_t s = h & (NAMED_SLOTS - 1);

	while (ix->row[s] != 0)
		s = (s + 1) & (NAMED_SLOTS - 1);
	ix->hash[s] = h;
	ix->row[s] = (uint16_t)(r + 1);
}

/* Index the first n rows of tab afresh. */
static void
index_build(struct named_index *ix, const struct trk_named *tab, int n)
{
	int i;

	memset(ix->row, 0, sizeof(ix->row));
	for (i = 0; i < n; i++)
		index_add(ix, name_hash(tab[i].name), i);
	ix->n = n;
}

/* The first row of tab named name (hash h), or NULL. */
static struct trk_named *
index_find(const struct named_index *ix, struct trk_named *tab,
    const char *name, uint32_t h)
{
	uint32_t s = h & (NAMED_SLOTS - 1);

	for (; ix->row[s] != 0; s = (s + 1) & (NAMED_SLOTS - 1))
		if (ix->hash[s] == h &&
		    strcmp(tab[ix->row[s] - 1].name, name) == 0)
			return &tab[ix->row[s] - 1];
	return NULL;
}

/*
 * The row of name in a table of at most max rows (n in use): an existing
 * one, a new one, or, when the table has max - 1 named rows, the shared
 * row "other".  The name is copied as printable ASCII; an empty name
 * becomes "unknown".
 */
static struct trk_named *
named_row(struct trk_named *tab, int *n, int max, const char *name)
{
	struct named_index *ix = table_index(tab, max);
	struct trk_named *row;
	char clean[TRK_NAME_LEN];
	uint32_t h;

	if (*n < 0 || *n > max)		/* never written so; be safe */
		*n = *n < 0 ? 0 : max;
	if (ix->n != *n)
		index_build(ix, tab, *n);
	rtp_strlcpy(clean, name, sizeof(clean));
	if (clean[0] == '\0')
		snprintf(clean, sizeof(clean), "unknown");
	h = name_hash(clean);
	if ((row = index_find(ix, tab, clean, h)) != NULL)
		return row;
	if (*n >= max - 1) {
		snprintf(clean, sizeof(clean), "other");
		h = name_hash(clean);
		if ((row = index_find(ix, tab, clean, h)) != NULL)
			return row;
		if (*n >= max)	/* cannot happen: "other" takes the last row */
			return &tab[max - 1];
	}
	row = &tab[*n];
	memset(row, 0, sizeof(*row));
	snprintf(row->name, sizeof(row->name), "%s", clean);
	index_add(ix, h, *n);
	ix->n = ++*n;
	return row;
}

/*
 * Zero window w's token counters: it rolled over.  newr is the new reset
 * time (0: unknown, the stored one has passed).
 */
static void
win_rollover(struct trk *t, int w, time_t newr)
{
	struct trk_window *win = &t->win[w];
	char o[32], n[32];

	trk_format_time(win->resets_at, o, sizeof(o));
	if (newr != 0)
		trk_format_time(newr, n, sizeof(n));
	else
		snprintf(n, sizeof(n), "unknown");
	log_info("%s window rolled over (reset %s -> %s; %lld input, "
	    "%lld output tokens counted in the old window)", win_names[w], o,
	    n, (long long)win->tokens.input, (long long)win->tokens.output);
	memset(&win->tokens, 0, sizeof(win->tokens));
	win->rollovers = cadd(win->rollovers, 1);
	win->warned = 0;
	win->resets_at = newr;
	t->dirty = 1;
}

/*
 * A reset time newr for window w arrived from a header or the poll at now.
 * Returns 1 when the source's data for the window is current (apply its
 * utilization too), 0 when it is stale and must be ignored: a reset that
 * has already passed, or one earlier than the stored (future) reset by more
 * than the jitter.  Assumes trk_tick(now) ran: a stored reset is in the
 * future or unknown.
 */
static int
win_reset(struct trk *t, int w, time_t newr, time_t now)
{
	struct trk_window *win = &t->win[w];

	if (newr <= now)
		return 0;
	if (win->resets_at == 0) {
		win->resets_at = newr;
		t->dirty = 1;
		return 1;
	}
	if (newr > win->resets_at + TRK_JITTER_SECS) {
		win_rollover(t, w, newr);
		return 1;
	}
	if (newr < win->resets_at - TRK_JITTER_SECS) {
		log_debug("%s: ignoring reset time %lld, earlier than the "
		    "stored %lld", win_names[w], (long long)newr,
		    (long long)win->resets_at);
		return 0;
	}
	return 1;		/* jitter: keep the stored time */
}

/* Log an upward crossing of the warning threshold once per window. */
static void
win_check_warn(struct trk *t, int w)
{
	struct trk_window *win = &t->win[w];
	char r[32];

	if (!win->has_util)
		return;
	if (win->utilization < t->cfg.warn_pct) {
		if (win->warned)
			t->dirty = 1;
		win->warned = 0;
		return;
	}
	if (win->warned)
		return;
	win->warned = 1;
	t->dirty = 1;
	if (win->resets_at != 0)
		trk_format_time(win->resets_at, r, sizeof(r));
	else
		snprintf(r, sizeof(r), "unknown");
	log_warnx("%s window at %.1f%% of its limit (warning threshold "
	    "%.0f%%), resets %s", win_names[w], win->utilization,
	    t->cfg.warn_pct, r);
}

static void
win_set_util(struct trk *t, int w, double pct)
{
	struct trk_window *win = &t->win[w];

	if (!isfinite(pct) || pct < 0.0 || pct > TRK_UTIL_MAX)
		return;
	if (!win->has_util || win->utilization != pct)
		t->dirty = 1;
	win->has_util = 1;
	win->utilization = pct;
}

void
trk_tick(struct trk *t, time_t now)
{
	int w;

	for (w = 0; w < TRK_WIN_COUNT; w++) {
		struct trk_window *win = &t->win[w];

		if (win->resets_at == 0 || win->resets_at > now)
			continue;
		win_rollover(t, w, 0);
		win->has_util = 1;
		win->utilization = 0.0;
	}
}

static void
event_headers(struct trk *t, const struct rtp_event *ev, time_t now)
{
	int w, a;

	for (w = 0; w < TRK_WIN_COUNT; w++) {
		int current = 1;

		if (ev->present & RTP_PRESENT_I(win_reset_i[w]))
			current = win_reset(t, w,
			    (time_t)ev->i[win_reset_i[w]], now);
		if (current && (ev->present & RTP_PRESENT_D(win_util_d[w])))
			win_set_util(t, w, ev->d[win_util_d[w]] * 100.0);
		win_check_warn(t, w);
	}

	for (a = 0; a < TRK_API_COUNT; a++) {
		struct trk_api_limit *l = &t->api[a];
		uint64_t lim = RTP_PRESENT_I(api_i[a][0]);
		uint64_t rem = RTP_PRESENT_I(api_i[a][1]);
		uint64_t rst = RTP_PRESENT_I(api_i[a][2]);

		if ((ev->present & (lim | rem | rst)) == 0)
			continue;
		l->known = 1;
		if (ev->present & lim)
			l->limit = ev->i[api_i[a][0]];
		if (ev->present & rem)
			l->remaining = ev->i[api_i[a][1]];
		if (ev->present & rst)
			l->reset = (time_t)ev->i[api_i[a][2]];
	}

	if (ev->present & RTP_PRESENT_I(RTP_I_RETRY_AFTER)) {
		t->retry_after = ev->i[RTP_I_RETRY_AFTER];
		t->retry_after_at = now;
	}
	if (ev->unified_status != RTP_US_ABSENT &&
	    ev->unified_status <= RTP_US_MAX)
		t->unified_status = ev->unified_status;
	if (ev->claim != RTP_CLAIM_ABSENT && ev->claim <= RTP_CLAIM_MAX)
		t->representative_claim = ev->claim;
}

static int
tokens_ok(int64_t v)
{
	return v >= 0 && v <= RTP_TOKENS_MAX;
}

void
trk_event(struct trk *t, const struct rtp_event *ev, time_t now)
{
	struct trk_named *row;
	struct trk_tokens tk;
	int counted;

	t->dirty = 1;
	t->datagrams_accepted = cadd(t->datagrams_accepted, 1);
	t->client_drops = cadd(t->client_drops, ev->dropped);
	if (ev->flags & RTP_F_DROPS_ONLY)
		return;		/* a process's last word: no request */
	trk_tick(t, now);
	t->last_event = now;

	event_headers(t, ev, now);

	if (ev->http_status != 0)
		t->requests_total = cadd(t->requests_total, 1);
	if (ev->http_status == 429 || ev->unified_status == RTP_US_REJECTED)
		t->requests_rate_limited = cadd(t->requests_rate_limited, 1);
	else if (ev->http_status == 529)
		t->requests_overloaded = cadd(t->requests_overloaded, 1);
	else if (ev->http_status == 0 || ev->http_status >= 400)
		t->requests_errors = cadd(t->requests_errors, 1);
	if (ev->usage_state == RTP_USAGE_UNREADABLE)
		t->usage_unreadable = cadd(t->usage_unreadable, 1);
	if (ev->flags & RTP_F_CUT_SHORT)
		t->requests_cut_short = cadd(t->requests_cut_short, 1);

	memset(&tk, 0, sizeof(tk));
	counted = ev->usage_state == RTP_USAGE_OK &&
	    strncmp(ev->path, "/v1/messages", sizeof(ev->path)) == 0 &&
	    tokens_ok(ev->input_tokens) && tokens_ok(ev->output_tokens) &&
	    tokens_ok(ev->cache_creation_input_tokens) &&
	    tokens_ok(ev->cache_read_input_tokens);
	if (counted) {
		char model[RTP_MODEL_LEN];

		tk.input = ev->input_tokens;
		tk.output = ev->output_tokens;
		tk.cache_creation_input = ev->cache_creation_input_tokens;
		tk.cache_read_input = ev->cache_read_input_tokens;
		rtp_strlcpy(model, ev->model, sizeof(model));

		tokens_add(&t->win[TRK_FIVE_HOUR].tokens, &tk);
		tokens_add(&t->win[TRK_SEVEN_DAY].tokens, &tk);
		if (contains_ci(model, "sonnet"))
			tokens_add(&t->win[TRK_SEVEN_DAY_SONNET].tokens, &tk);
		if (contains_ci(model, "opus"))
			tokens_add(&t->win[TRK_SEVEN_DAY_OPUS].tokens, &tk);
		tokens_add(&t->tokens_total, &tk);

		row = named_row(t->models, &t->nmodels, TRK_MAX_MODELS, model);
		row->requests = cadd(row->requests, 1);
		tokens_add(&row->tokens, &tk);
	}

	if (ev->http_status != 0 || counted) {
		char prog[RTP_PROG_LEN];

		rtp_strlcpy(prog, ev->prog, sizeof(prog));
		row = named_row(t->progs, &t->nprogs, TRK_MAX_PROGS, prog);
		if (ev->http_status != 0)
			row->requests = cadd(row->requests, 1);
		tokens_add(&row->tokens, &tk);
	}
}

void
trk_rejected(struct trk *t, int err)
{
	if (err <= RTP_OK || err >= RTP_E_COUNT)
		err = RTP_E_FIELD;	/* never out of the array */
	t->datagrams_rejected[err] = cadd(t->datagrams_rejected[err], 1);
	t->dirty = 1;
}

void
trk_foreign(struct trk *t)
{
	t->datagrams_foreign = cadd(t->datagrams_foreign, 1);
	t->dirty = 1;
}

void
trk_poll_ok(struct trk *t, const struct trk_poll *p, time_t now)
{
	int w;

	trk_tick(t, now);
	for (w = 0; w < TRK_WIN_COUNT; w++) {
		const struct trk_poll_window *pw = &p->win[w];
		int current = 1;

		if (pw->present) {
			if (pw->resets_at != 0)
				current = win_reset(t, w, pw->resets_at, now);
			if (current && pw->has_util)
				win_set_util(t, w, pw->utilization);
		}
		win_check_warn(t, w);
	}
	if (p->extra.known) {
		const struct trk_extra *e = &p->extra;

		t->extra.known = 1;
		t->extra.is_enabled = e->is_enabled != 0;
		t->extra.has_monthly_limit = e->has_monthly_limit &&
		    isfinite(e->monthly_limit) && e->monthly_limit >= 0.0 &&
		    e->monthly_limit <= TRK_CREDITS_MAX;
		t->extra.monthly_limit = t->extra.has_monthly_limit ?
		    e->monthly_limit : 0.0;
		t->extra.has_used_credits = e->has_used_credits &&
		    isfinite(e->used_credits) && e->used_credits >= 0.0 &&
		    e->used_credits <= TRK_CREDITS_MAX;
		t->extra.used_credits = t->extra.has_used_credits ?
		    e->used_credits : 0.0;
		t->extra.has_util = e->has_util && isfinite(e->utilization) &&
		    e->utilization >= 0.0 && e->utilization <= TRK_UTIL_MAX;
		t->extra.utilization = t->extra.has_util ?
		    e->utilization : 0.0;
	}
	t->poll_last_ok = now;
	t->poll_last_attempt = now;
	t->poll_last_error[0] = '\0';
	t->poll_ok_total = cadd(t->poll_ok_total, 1);
	t->dirty = 1;
	log_debug("usage poll: five_hour %.1f%%, seven_day %.1f%%",
	    t->win[TRK_FIVE_HOUR].utilization,
	    t->win[TRK_SEVEN_DAY].utilization);
}

void
trk_poll_failed(struct trk *t, const char *msg, time_t now)
{
	t->poll_last_attempt = now;
	rtp_strlcpy(t->poll_last_error, msg != NULL && *msg != '\0' ? msg :
	    "unknown error", sizeof(t->poll_last_error));
	t->poll_fail_total = cadd(t->poll_fail_total, 1);
	t->dirty = 1;
}
