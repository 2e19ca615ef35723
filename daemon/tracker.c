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

#include <cjson/cJSON.h>

#include "ratetap/status_keys.h"

#include "log.h"
#include "tracker.h"

static const char *const win_names[TRK_WIN_FIXED] = {
	RT_WIN_FIVE_HOUR, RT_WIN_SEVEN_DAY, RT_WIN_SEVEN_DAY_SONNET,
	RT_WIN_SEVEN_DAY_OPUS
};

static const char *const src_names[TRK_SRC_COUNT] = {
	NULL, "header", "poll", "statusline", "rollover"
};

static const char *const api_names[TRK_API_COUNT] = {
	"requests", "tokens", "input_tokens", "output_tokens"
};

/*
 * A hash index over a per-model or per-program table, kept in the same
 * allocation right after the table's rows (see table_new()), so that an
 * event finds its row without comparing its name with every row's.  It is
 * a cache of the rows: rebuilt whenever the row count differs from the one
 * it indexed (a table filled by state_load() or reset by trk_reset()), and a
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
static const int win_util_d[TRK_WIN_FIXED] = {
	RTP_D_UTIL_5H, RTP_D_UTIL_7D, RTP_D_UTIL_7D_SONNET, RTP_D_UTIL_7D_OPUS
};
static const int win_reset_i[TRK_WIN_FIXED] = {
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
	if (w < 0 || w >= TRK_WIN_FIXED)
		return NULL;
	return win_names[w];
}

const char *
trk_src_name(int s)
{
	if (s <= TRK_SRC_NONE || s >= TRK_SRC_COUNT)
		return NULL;
	return src_names[s];
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

static void win_init(struct trk_window *, const char *);

/* The fixed windows, named, at their indices. */
static void
wins_init(struct trk *t)
{
	int w;

	for (w = 0; w < TRK_WIN_FIXED; w++)
		win_init(&t->win[w], win_names[w]);
	t->nwin = TRK_WIN_FIXED;
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
	wins_init(t);
	t->spend.enabled = -1;
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
	cJSON_Delete(t->tx.loaded);
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
	struct trk_ext tx = t->tx;

	cJSON_Delete(tx.loaded);
	tx.loaded = NULL;
	memset(t, 0, sizeof(*t));
	t->tx = tx;
	memset(models, 0, TRK_MAX_MODELS * sizeof(*models));
	memset(progs, 0, TRK_MAX_PROGS * sizeof(*progs));
	table_index(models, TRK_MAX_MODELS)->n = -1;
	table_index(progs, TRK_MAX_PROGS)->n = -1;
	t->cfg = cfg;
	t->models = models;
	t->progs = progs;
	t->retry_after = -1;
	t->spend.enabled = -1;
	wins_init(t);
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

/* ---- windows ---- */

static int
valid_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* A window name: 1 to TRK_WIN_NAME_LEN - 1 of [a-z0-9_]. */
static int
valid_win_name(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!valid_name_char((unsigned char)s[i]) ||
		    i + 1 >= TRK_WIN_NAME_LEN)
			return 0;
	return 1;
}

size_t
trk_name_part(const char *s, char *out, size_t len)
{
	size_t n = 0;
	int gap = 0;

	if (len == 0)
		return 0;
	for (; s != NULL && *s != '\0'; s++) {
		int c = lower((unsigned char)*s);

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			if (gap && n > 0) {
				if (n + 2 >= len)
					break;
				out[n++] = '_';
			}
			gap = 0;
			if (n + 1 >= len)
				break;
			out[n++] = (char)c;
		} else
			gap = 1;
	}
	out[n] = '\0';
	return n;
}

/* Letters and digits of s, lower case, into out (len). */
static void
alnum_lower(const char *s, char *out, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return;
	for (; s != NULL && *s != '\0' && n + 1 < len; s++) {
		int c = lower((unsigned char)*s);

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			out[n++] = (char)c;
	}
	out[n] = '\0';
}

int
trk_header_window(const char *token, char *out, size_t len)
{
	char part[TRK_WIN_NAME_LEN];
	const char *base = NULL, *rest = token;

	if (token == NULL || len == 0)
		return -1;
	if (strncmp(token, "5h", 2) == 0 &&
	    (token[2] == '\0' || token[2] == '_')) {
		base = RT_WIN_FIVE_HOUR;
		rest = token + 2;
	} else if (strncmp(token, "7d", 2) == 0 &&
	    (token[2] == '\0' || token[2] == '_')) {
		base = RT_WIN_SEVEN_DAY;
		rest = token + 2;
	}
	trk_name_part(rest, part, sizeof(part));
	if (base == NULL) {
		if (part[0] == '\0')
			return -1;
		snprintf(out, len, "%s", part);
	} else if (part[0] == '\0')
		snprintf(out, len, "%s", base);
	else
		snprintf(out, len, "%s_%s", base, part);
	/* a cut may leave a trailing '_' */
	while (out[0] != '\0' && out[strlen(out) - 1] == '_')
		out[strlen(out) - 1] = '\0';
	return valid_win_name(out) ? 0 : -1;
}

/* An empty window named name, counting tokens by its name's rule. */
static void
win_init(struct trk_window *win, const char *name)
{
	memset(win, 0, sizeof(*win));
	snprintf(win->name, sizeof(win->name), "%s", name);
	if (strcmp(name, RT_WIN_FIVE_HOUR) == 0 ||
	    strcmp(name, RT_WIN_SEVEN_DAY) == 0) {
		win->match = TRK_MATCH_ALL;
	} else if (strncmp(name, RT_WIN_SEVEN_DAY_, 10) == 0 ||
	    strncmp(name, RT_WIN_FIVE_HOUR_, 10) == 0) {
		/* a model's window until the usage endpoint says otherwise */
		win->match = TRK_MATCH_MODEL;
		alnum_lower(name + 10, win->match_word,
		    sizeof(win->match_word));
		if (win->match_word[0] == '\0')
			win->match = TRK_MATCH_NONE;
	} else
		win->match = TRK_MATCH_NONE;
}

int
trk_win_find(const struct trk *t, const char *name)
{
	int w;

	if (name == NULL)
		return -1;
	for (w = 0; w < t->nwin && w < TRK_WIN_MAX; w++)
		if (strcmp(t->win[w].name, name) == 0)
			return w;
	return -1;
}

int
trk_win_get(struct trk *t, const char *name)
{
	int w;

	if (!valid_win_name(name))
		return -1;
	if ((w = trk_win_find(t, name)) != -1)
		return w;
	if (t->nwin >= TRK_WIN_MAX) {
		if (!t->win_full_logged)
			log_warnx("more than %d rate-limit windows: window "
			    "%s and any further ones are not tracked",
			    TRK_WIN_MAX, name);
		t->win_full_logged = 1;
		return -1;
	}
	w = t->nwin++;
	win_init(&t->win[w], name);
	t->dirty = 1;
	log_debug("new rate-limit window %s", name);
	return w;
}

/* The window a scoped window without its own reset follows, or -1. */
static int
win_base(const struct trk *t, int w)
{
	const char *n = t->win[w].name;

	if (w == TRK_FIVE_HOUR || w == TRK_SEVEN_DAY)
		return -1;
	if (strncmp(n, RT_WIN_SEVEN_DAY_, 10) == 0)
		return TRK_SEVEN_DAY;
	if (strncmp(n, RT_WIN_FIVE_HOUR_, 10) == 0)
		return TRK_FIVE_HOUR;
	return -1;
}

time_t
trk_win_reset(const struct trk *t, int w, int *base)
{
	int b;

	if (base != NULL)
		*base = -1;
	if (w < 0 || w >= t->nwin)
		return 0;
	if (t->win[w].resets_at != 0)
		return t->win[w].resets_at;
	if ((b = win_base(t, w)) == -1 || t->win[b].resets_at == 0)
		return 0;
	if (base != NULL)
		*base = b;
	return t->win[b].resets_at;
}

/* Effective time of an observation: its time less its source's lag. */
static time_t
obs_time(int source, time_t at)
{
	switch (source) {
	case TRK_SRC_POLL:
		return at - TRK_POLL_LAG_SECS;
	case TRK_SRC_STATUSLINE:
		return at - TRK_STATUSLINE_LAG_SECS;
	default:
		return at;
	}
}

/* The window's counters start afresh; its figure is 0 until a source
 * reports on the new instance. */
static void
win_zero(struct trk *t, struct trk_window *win, time_t at)
{
	memset(&win->tokens, 0, sizeof(win->tokens));
	win->rollovers = cadd(win->rollovers, 1);
	win->warned = 0;
	if (win->has_util) {
		win->utilization = 0.0;
		win->source = TRK_SRC_ROLLOVER;
		win->observed_at = at;
	}
	t->dirty = 1;
}

/*
 * Zero window w's token counters: it rolled over at `at`.  newr is the new
 * reset time (0: unknown, the stored one has passed).  The windows that
 * follow w's reset roll over with it.
 */
static void
win_rollover(struct trk *t, int w, time_t newr, time_t at)
{
	struct trk_window *win = &t->win[w];
	char o[32], n[32];
	int f;

	rt_time_format(win->resets_at, o, sizeof(o));
	if (newr != 0)
		rt_time_format(newr, n, sizeof(n));
	else
		snprintf(n, sizeof(n), "unknown");
	log_info("%s window rolled over (reset %s -> %s; %lld input, "
	    "%lld output tokens counted in the old window)", win->name, o,
	    n, (long long)win->tokens.input, (long long)win->tokens.output);
	if (win->resets_at != 0)
		win->prev_reset = win->resets_at;
	win->has_util = 1;	/* a new instance starts at 0 */
	win_zero(t, win, at);
	win->resets_at = newr;
	for (f = 0; f < t->nwin; f++) {
		if (f == w || t->win[f].resets_at != 0 || win_base(t, f) != w)
			continue;
		log_info("%s window rolled over with %s", t->win[f].name,
		    win->name);
		win_zero(t, &t->win[f], at);
	}
}

/*
 * A reset time newr for window w arrived from a source at now.  Returns 1
 * when the source's data is about the window's current instance (apply
 * its figure too), 0 when it is stale and must be ignored: a reset that
 * has already passed, one earlier than the stored (future) reset by more
 * than the jitter, or one within the jitter of the instance that has just
 * ended (a lagging source after a rollover).  Assumes trk_tick(now) ran:
 * a stored reset is in the future or unknown.
 */
static int
win_reset(struct trk *t, int w, time_t newr, time_t now)
{
	struct trk_window *win = &t->win[w];

	if (newr <= now)
		return 0;
	if (win->resets_at == 0) {
		if (win->prev_reset != 0 &&
		    newr <= win->prev_reset + TRK_JITTER_SECS &&
		    newr >= win->prev_reset - TRK_JITTER_SECS) {
			log_debug("%s: ignoring reset time %lld of the window "
			    "that ended", win->name, (long long)newr);
			return 0;
		}
		win->resets_at = newr;
		t->dirty = 1;
		return 1;
	}
	if (newr > win->resets_at + TRK_JITTER_SECS) {
		win_rollover(t, w, newr, now);
		return 1;
	}
	if (newr < win->resets_at - TRK_JITTER_SECS) {
		log_debug("%s: ignoring reset time %lld, earlier than the "
		    "stored %lld", win->name, (long long)newr,
		    (long long)win->resets_at);
		return 0;
	}
	return 1;		/* jitter: keep the stored time */
}

/*
 * Log an upward crossing of the warning threshold once per window
 * instance: a rollover re-arms it, and so does a fall of more than
 * TRK_WARN_REARM_PCT below the threshold (a reset that was not seen); two
 * sources a little apart around the threshold never repeat it.
 */
static void
win_check_warn(struct trk *t, int w)
{
	struct trk_window *win = &t->win[w];
	char r[32];
	time_t reset;

	if (!win->has_util)
		return;
	if (win->utilization < t->cfg.warn_pct) {
		if (win->warned && win->utilization < t->cfg.warn_pct -
		    TRK_WARN_REARM_PCT) {
			win->warned = 0;
			t->dirty = 1;
		}
		return;
	}
	if (win->warned)
		return;
	win->warned = 1;
	t->dirty = 1;
	if ((reset = trk_win_reset(t, w, NULL)) != 0)
		rt_time_format(reset, r, sizeof(r));
	else
		snprintf(r, sizeof(r), "unknown");
	log_warnx("%s window at %.1f%% of its limit (warning threshold "
	    "%.0f%%), resets %s", win->name, win->utilization,
	    t->cfg.warn_pct, r);
}

/*
 * The figure of an observation: kept when it is the freshest one, or when
 * it replaces the tracker's own 0 after a rollover and the source's reset
 * showed it is about the new instance (confirmed).
 */
static void
win_set_figure(struct trk *t, int w, const struct trk_obs *o, int confirmed)
{
	struct trk_window *win = &t->win[w];
	double pct = o->utilization;

	if (!isfinite(pct) || pct < 0.0 || pct > TRK_UTIL_MAX)
		return;
	if (win->has_util && win->source != TRK_SRC_NONE &&
	    !(win->source == TRK_SRC_ROLLOVER && confirmed) &&
	    obs_time(o->source, o->observed_at) <
	    obs_time(win->source, win->observed_at)) {
		log_debug("%s: keeping the %s figure %.1f%%; the %s figure "
		    "%.1f%% is older", win->name, src_names[win->source],
		    win->utilization, trk_src_name(o->source) != NULL ?
		    trk_src_name(o->source) : "?", pct);
		return;
	}
	if (!win->has_util || win->utilization != pct ||
	    win->source != o->source || win->observed_at != o->observed_at)
		t->dirty = 1;
	win->has_util = 1;
	win->utilization = pct;
	win->source = o->source;
	win->observed_at = o->observed_at;
	fc_add(&win->fc, o->observed_at, pct, trk_win_reset(t, w, NULL),
	    fc_window_length(win->name));
	if (t->cfg.on_sample != NULL)
		t->cfg.on_sample(t->cfg.hook_arg, win->name, o->source,
		    o->observed_at, pct, trk_win_reset(t, w, NULL));
}

int
trk_observe(struct trk *t, const char *name, const struct trk_obs *o,
    time_t now)
{
	struct trk_window *win;
	int w, confirmed = 0;

	if ((w = trk_win_get(t, name)) == -1)
		return -1;
	win = &t->win[w];
	if (w >= TRK_WIN_FIXED) {
		if (o->label != NULL && o->label[0] != '\0' &&
		    strcmp(win->label, o->label) != 0) {
			rtp_strlcpy(win->label, o->label, sizeof(win->label));
			t->dirty = 1;
		}
		if (o->match >= TRK_MATCH_ALL && o->match <= TRK_MATCH_NONE &&
		    (win->match != o->match || (o->match_word != NULL &&
		    strcmp(win->match_word, o->match_word) != 0))) {
			win->match = o->match == TRK_MATCH_ALL ?
			    TRK_MATCH_NONE : o->match;
			alnum_lower(o->match_word, win->match_word,
			    sizeof(win->match_word));
			if (win->match == TRK_MATCH_MODEL &&
			    win->match_word[0] == '\0')
				win->match = TRK_MATCH_NONE;
			t->dirty = 1;
		}
	}
	if (o->resets_at != 0) {
		if (!win_reset(t, w, o->resets_at, now))
			return 0;	/* stale: nothing of it counts */
		confirmed = 1;
	}
	if (o->has_util)
		win_set_figure(t, w, o, confirmed);
	if (o->status > RTP_US_ABSENT && o->status <= RTP_US_MAX &&
	    win->status != o->status) {
		win->status = o->status;
		t->dirty = 1;
	}
	win_check_warn(t, w);
	return 0;
}

void
trk_tick(struct trk *t, time_t now)
{
	int w;

	for (w = 0; w < t->nwin; w++) {
		struct trk_window *win = &t->win[w];

		if (win->resets_at == 0 || win->resets_at > now)
			continue;
		win_rollover(t, w, 0, win->resets_at);
	}
}

static void
event_headers(struct trk *t, const struct rtp_event *ev, time_t now)
{
	char name[TRK_WIN_NAME_LEN];
	struct trk_obs o;
	int w, a, k;

	for (w = 0; w < TRK_WIN_FIXED; w++) {
		memset(&o, 0, sizeof(o));
		o.source = TRK_SRC_HEADER;
		o.observed_at = now;
		o.match = -1;
		if (ev->present & RTP_PRESENT_I(win_reset_i[w]))
			o.resets_at = (time_t)ev->i[win_reset_i[w]];
		if (ev->present & RTP_PRESENT_D(win_util_d[w])) {
			o.has_util = 1;
			o.utilization = ev->d[win_util_d[w]] * 100.0;
		}
		if (w == TRK_FIVE_HOUR)
			o.status = ev->status_5h;
		else if (w == TRK_SEVEN_DAY)
			o.status = ev->status_7d;
		if (o.resets_at == 0 && !o.has_util && o.status == 0)
			continue;
		(void)trk_observe(t, win_names[w], &o, now);
	}
	/* the windows only named by headers (unified-<window>-*) */
	for (k = 0; k < ev->nwin && k < RTP_WIN_SLOTS; k++) {
		const struct rtp_win *hw = &ev->win[k];
		char tok[RTP_WIN_NAME_LEN];

		rtp_strlcpy(tok, hw->name, sizeof(tok));
		if (trk_header_window(tok, name, sizeof(name)) == -1)
			continue;
		memset(&o, 0, sizeof(o));
		o.source = TRK_SRC_HEADER;
		o.observed_at = now;
		o.match = -1;
		if (hw->present & RTP_W_RESET)
			o.resets_at = (time_t)hw->reset;
		if (hw->present & RTP_W_UTIL) {
			o.has_util = 1;
			o.utilization = hw->util * 100.0;
		}
		if (hw->present & RTP_W_STATUS)
			o.status = hw->status;
		(void)trk_observe(t, name, &o, now);
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
		char model[RTP_MODEL_LEN], folded[RTP_MODEL_LEN];
		int w;

		tk.input = ev->input_tokens;
		tk.output = ev->output_tokens;
		tk.cache_creation_input = ev->cache_creation_input_tokens;
		tk.cache_read_input = ev->cache_read_input_tokens;
		rtp_strlcpy(model, ev->model, sizeof(model));

		alnum_lower(model, folded, sizeof(folded));
		for (w = 0; w < t->nwin; w++) {
			struct trk_window *win = &t->win[w];

			if (win->match == TRK_MATCH_ALL ||
			    (win->match == TRK_MATCH_MODEL &&
			    win->match_word[0] != '\0' &&
			    strstr(folded, win->match_word) != NULL))
				tokens_add(&win->tokens, &tk);
		}
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
		if (t->cfg.on_request != NULL) {
			struct trk_req r;

			memset(&r, 0, sizeof(r));
			r.seq = t->datagrams_accepted;
			r.at = now;
			r.source = "libcurl";
			r.prog = prog[0] != '\0' ? prog : row->name;
			r.model = counted ? ev->model : "";
			r.tokens = tk;
			r.http_status = ev->http_status;
			r.rate_limited = ev->http_status == 429 ||
			    ev->unified_status == RTP_US_REJECTED;
			t->cfg.on_request(t->cfg.hook_arg, &r);
		}
	}
}

/* Signed, saturating at both ends. */
static int64_t
sadd(int64_t a, int64_t b)
{
	if (b >= 0)
		return cadd(a, b);
	return a + b < 0 ? 0 : a + b;
}

static void
tokens_sadd(struct trk_tokens *dst, const struct trk_tokens *src)
{
	dst->input = sadd(dst->input, src->input);
	dst->output = sadd(dst->output, src->output);
	dst->cache_creation_input = sadd(dst->cache_creation_input,
	    src->cache_creation_input);
	dst->cache_read_input = sadd(dst->cache_read_input,
	    src->cache_read_input);
}

void
trk_usage_add(struct trk *t, const char *model, const char *prog,
    const struct trk_tokens *tk, int requests)
{
	struct trk_named *row;

	t->dirty = 1;
	t->requests_total = cadd(t->requests_total, requests);
	tokens_sadd(&t->tokens_total, tk);
	row = named_row(t->models, &t->nmodels, TRK_MAX_MODELS, model);
	row->requests = cadd(row->requests, requests);
	tokens_sadd(&row->tokens, tk);
	row = named_row(t->progs, &t->nprogs, TRK_MAX_PROGS, prog);
	row->requests = cadd(row->requests, requests);
	tokens_sadd(&row->tokens, tk);
}

void
trk_win_tokens_add(struct trk *t, int w, const struct trk_tokens *tk)
{
	if (w < 0 || w >= t->nwin)
		return;
	tokens_sadd(&t->win[w].tokens, tk);
	t->dirty = 1;
}

int
trk_win_counts(const struct trk *t, int w, const char *model)
{
	const struct trk_window *win;
	char folded[RTP_MODEL_LEN];

	if (w < 0 || w >= t->nwin)
		return 0;
	win = &t->win[w];
	if (win->match == TRK_MATCH_ALL)
		return 1;
	if (win->match != TRK_MATCH_MODEL || win->match_word[0] == '\0')
		return 0;
	alnum_lower(model, folded, sizeof(folded));
	return strstr(folded, win->match_word) != NULL;
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
	struct trk_obs o;
	int w, n;

	trk_tick(t, now);
	n = p->nwin > TRK_WIN_FIXED ? p->nwin : TRK_WIN_FIXED;
	if (n > TRK_WIN_MAX)
		n = TRK_WIN_MAX;
	for (w = 0; w < n; w++) {
		const struct trk_poll_window *pw = &p->win[w];
		char name[TRK_WIN_NAME_LEN];

		if (!pw->present)
			continue;
		if (pw->name[0] != '\0')
			rtp_strlcpy(name, pw->name, sizeof(name));
		else if (w < TRK_WIN_FIXED)
			snprintf(name, sizeof(name), "%s", win_names[w]);
		else
			continue;
		memset(&o, 0, sizeof(o));
		o.source = TRK_SRC_POLL;
		/* the endpoint's figures are no newer than the request */
		o.observed_at = p->requested_at > 0 && p->requested_at <= now ?
		    p->requested_at : now;
		o.has_util = pw->has_util;
		o.utilization = pw->utilization;
		o.resets_at = pw->resets_at;
		o.label = pw->label;
		o.match = pw->name[0] != '\0' && pw->match != TRK_MATCH_ALL ?
		    pw->match : -1;
		o.match_word = pw->match_word;
		(void)trk_observe(t, name, &o, now);
	}
	if (p->spend.known) {
		t->spend = p->spend;
		t->spend.disabled_reason[sizeof(t->spend.disabled_reason) - 1] =
		    '\0';
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
