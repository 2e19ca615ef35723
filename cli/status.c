/*
 * `ratetap status`: fetch GET /v1/status from the daemon and print it as a
 * table a person reads at a glance, or as the JSON itself (--json).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ratetap/paths.h"
#include "ratetap/rtime.h"
#include "ratetap/status_keys.h"
#include "cli.h"

#define BAR_WIDTH	20
#define TOP_N		5
#define DASH		"\xe2\x80\x93"	/* U+2013, shown for unknown values */

/* ANSI sequences, empty when colour is off. */
struct style {
	const char *bold, *dim, *red, *yellow, *green, *reset;
};

static const struct {
	const char *key;
	const char *label;
} windows[] = {
	{ RT_WIN_FIVE_HOUR, "5-hour" },
	{ RT_WIN_SEVEN_DAY, "7-day" },
	{ RT_WIN_SEVEN_DAY_SONNET, "7-day Sonnet" },
	{ RT_WIN_SEVEN_DAY_OPUS, "7-day Opus" },
};

static const struct {
	const char *key;
	const char *label;
} api_kinds[] = {
	{ "requests", "requests" },
	{ "tokens", "tokens" },
	{ "input_tokens", "input tokens" },
	{ "output_tokens", "output tokens" },
};

static const char *const token_keys[] = {
	RT_SK_INPUT, RT_SK_OUTPUT, RT_SK_CACHE_CREATION_INPUT,
	RT_SK_CACHE_READ_INPUT
};

/* One program or model, for the top-N lists. */
struct named {
	const char *name;
	double requests;	/* < 0 when unknown */
	double tokens;
};

static const cJSON *
obj(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsObject(v) ? v : NULL;
}

/* 1 and *out when o[key] is a number, else 0. */
static int
num(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return 0;
	*out = v->valuedouble;
	return 1;
}

/* o[key] when it is a non-empty string, else NULL. */
static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v) || v->valuestring == NULL ||
	    v->valuestring[0] == '\0')
		return NULL;
	return v->valuestring;
}

void
cli_fmt_relative(long long secs, char *buf, size_t len)
{
	unsigned long long a = secs < 0 ? -(unsigned long long)secs :
	    (unsigned long long)secs;
	unsigned long long big, small;
	const char *bu, *su;
	char span[64];

	if (secs == 0) {
		snprintf(buf, len, "now");
		return;
	}
	if (a < 60) {
		snprintf(span, sizeof(span), "%llus", a);
	} else {
		if (a < 3600) {
			big = a / 60; small = a % 60; bu = "m"; su = "s";
		} else if (a < 86400) {
			big = a / 3600; small = a % 3600 / 60; bu = "h"; su = "m";
		} else {
			big = a / 86400; small = a % 86400 / 3600; bu = "d";
			su = "h";
		}
		if (small != 0)
			snprintf(span, sizeof(span), "%llu%s %llu%s", big, bu,
			    small, su);
		else
			snprintf(span, sizeof(span), "%llu%s", big, bu);
	}
	if (secs > 0)
		snprintf(buf, len, "in %s", span);
	else
		snprintf(buf, len, "%s ago", span);
}

void
cli_fmt_count(long long n, char *buf, size_t len)
{
	char digits[32], out[48];
	unsigned long long a = n < 0 ? -(unsigned long long)n :
	    (unsigned long long)n;
	int nd, i, o = 0;

	nd = snprintf(digits, sizeof(digits), "%llu", a);
	if (n < 0)
		out[o++] = '-';
	for (i = 0; i < nd; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	snprintf(buf, len, "%s", out);
}

/* A JSON number as a rounded count, "–" when missing. */
static void
fmt_num(const cJSON *o, const char *key, char *buf, size_t len)
{
	double v;

	if (o != NULL && num(o, key, &v))
		cli_fmt_count(llround(v), buf, len);
	else
		snprintf(buf, len, DASH);
}

/* Absolute local time: weekday and time when near, else the date. */
static void
fmt_abs(time_t t, time_t now, char *buf, size_t len)
{
	struct tm tm;
	long long d = (long long)t - (long long)now;

	if (localtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "?");
		return;
	}
	if (d > -6 * 86400LL && d < 6 * 86400LL)
		strftime(buf, len, "%a %H:%M", &tm);
	else
		strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

/* The time of the rendering: weekday, date, time and time zone. */
static void
fmt_asof(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		snprintf(buf, len, "?");
}

/* "in 3h 12m (Sat 21:00)" from an RFC 3339 string, or "unknown". */
static void
fmt_when(const char *rfc, time_t now, char *buf, size_t len)
{
	char rel[64], abs[64];
	time_t t;

	if (rfc == NULL || rt_time_parse(rfc, &t) == -1) {
		snprintf(buf, len, "unknown");
		return;
	}
	cli_fmt_relative((long long)t - (long long)now, rel, sizeof(rel));
	fmt_abs(t, now, abs, sizeof(abs));
	snprintf(buf, len, "%s (%s)", rel, abs);
}

/* Columns count characters, not bytes: DASH is one column. */
static size_t
columns(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* s padded to width columns, right-aligned when right is set. */
static void
pad(FILE *out, const char *s, size_t width, int right)
{
	size_t c = columns(s);

	if (right)
		for (; c < width; c++)
			fputc(' ', out);
	fputs(s, out);
	if (!right)
		for (; c < width; c++)
			fputc(' ', out);
}

static const char *
util_colour(const struct style *sy, double u)
{
	if (u >= 80.0)
		return sy->red;
	if (u >= 50.0)
		return sy->yellow;
	return sy->green;
}

static void
render_bar(FILE *out, const struct style *sy, int known, double u)
{
	int fill, i;

	fputc('[', out);
	if (!known) {
		for (i = 0; i < BAR_WIDTH; i++)
			fputc(' ', out);
		fputc(']', out);
		return;
	}
	fill = (int)lround(u / 100.0 * BAR_WIDTH);
	if (fill < 0)
		fill = 0;
	if (fill > BAR_WIDTH)
		fill = BAR_WIDTH;
	if (u > 0.0 && fill == 0)
		fill = 1;	/* any use shows */
	fputs(util_colour(sy, u), out);
	for (i = 0; i < fill; i++)
		fputc('#', out);
	fputs(sy->reset, out);
	fputs(sy->dim, out);
	for (; i < BAR_WIDTH; i++)
		fputc('.', out);
	fputs(sy->reset, out);
	fputc(']', out);
}

#define LABEL_MIN	14	/* window label column, at least */
#define LABEL_MAX	28	/* and at most; longer labels are cut */
#define COUNT_MIN	12	/* token count columns, at least */

/* s cut to width columns with an ellipsis when longer, into buf. */
static void
ellipsize(const char *s, size_t width, char *buf, size_t len)
{
	size_t c = 0, i = 0;

	if (columns(s) <= width) {
		snprintf(buf, len, "%s", s);
		return;
	}
	/* width - 1 columns of s, then U+2026 */
	while (s[i] != '\0' && i + 4 < len) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (c + 1 >= width)
				break;
			c++;
		}
		buf[i] = s[i];
		i++;
	}
	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;	/* never half a character */
	snprintf(buf + i, len - i, "\xe2\x80\xa6");
}

/* The label of window key w (a member of the status's "windows"). */
static void
win_label(const char *key, const cJSON *w, char *buf, size_t len)
{
	const char *l = w != NULL ? str(w, RT_SK_LABEL) : NULL;
	const char *rest;
	size_t i;

	for (i = 0; i < sizeof(windows) / sizeof(windows[0]); i++)
		if (strcmp(key, windows[i].key) == 0) {
			snprintf(buf, len, "%s", windows[i].label);
			return;
		}
	if (strncmp(key, RT_WIN_SEVEN_DAY_, 10) == 0 ||
	    strncmp(key, RT_WIN_FIVE_HOUR_, 10) == 0) {
		rest = key + 10;
		snprintf(buf, len, "%s %s", key[0] == 's' ? "7-day" : "5-hour",
		    l != NULL ? l : rest);
	} else
		snprintf(buf, len, "%s", l != NULL ? l : key);
}

/* The windows to show: the four named ones always, then the others the
 * daemon reports, in its order (at most MAX_ROWS). */
#define MAX_ROWS	40

struct wrow {
	const char *key;
	const cJSON *w;		/* NULL when absent */
	char label[96];
};

static size_t
window_rows(const cJSON *ws, struct wrow *rows, size_t max)
{
	const cJSON *it;
	size_t n = 0, i, k;

	for (i = 0; i < sizeof(windows) / sizeof(windows[0]) && n < max; i++) {
		rows[n].key = windows[i].key;
		rows[n].w = ws ? obj(ws, windows[i].key) : NULL;
		n++;
	}
	if (ws != NULL) {
		cJSON_ArrayForEach(it, ws) {
			int known = 0;

			if (it->string == NULL || !cJSON_IsObject(it))
				continue;
			for (k = 0; k < sizeof(windows) / sizeof(windows[0]);
			    k++)
				if (strcmp(it->string, windows[k].key) == 0)
					known = 1;
			if (known || n >= max)
				continue;
			rows[n].key = it->string;
			rows[n].w = it;
			n++;
		}
	}
	for (i = 0; i < n; i++) {
		char full[96];

		win_label(rows[i].key, rows[i].w, full, sizeof(full));
		ellipsize(full, LABEL_MAX, rows[i].label,
		    sizeof(rows[i].label));
	}
	return n;
}

/* "header, 5s ago" from a window's source and age, or "". */
static void
fmt_source(const cJSON *w, char *buf, size_t len)
{
	const char *src = w != NULL ? str(w, RT_SK_SOURCE) : NULL;
	char rel[64];
	double age;

	buf[0] = '\0';
	if (src == NULL)
		return;
	if (num(w, RT_SK_AGE_SECONDS, &age) && age >= 0) {
		cli_fmt_relative(-(long long)llround(age), rel, sizeof(rel));
		snprintf(buf, len, "%s, %s", src, rel);
	} else
		snprintf(buf, len, "%s", src);
}

/*
 * The forecast line under a window (docs/forecast.md): "at this pace:
 * 100 % at 17:42, 38 min before reset", "on pace" or "well within";
 * nothing when the daemon gave no forecast.
 */
static void
render_forecast(FILE *out, const cJSON *w, size_t lw, const struct style *sy,
    time_t now)
{
	const cJSON *f = w != NULL ? obj(w, "forecast") : NULL;
	const char *ex = f != NULL ? str(f, "exhausted_at") : NULL;
	char hm[16], rel[64];
	time_t t, reset;
	struct tm tm;
	double pace;

	if (f == NULL)
		return;
	if (ex != NULL && rt_time_parse(ex, &t) == 0 &&
	    localtime_r(&t, &tm) != NULL) {
		fputc(' ', out);
		pad(out, "", lw, 0);
		strftime(hm, sizeof(hm), "%H:%M", &tm);
		if (str(w, "resets_at") != NULL &&
		    rt_time_parse(str(w, "resets_at"), &reset) == 0 &&
		    reset > t) {
			cli_fmt_relative(reset - t, rel, sizeof(rel));
			/* "in 38m" -> "38m before reset" */
			fprintf(out, " %sat this pace: 100 %% at %s, %s before "
			    "reset%s\n", sy->bold, hm, strncmp(rel, "in ", 3) ==
			    0 ? rel + 3 : rel, sy->reset);
		} else
			fprintf(out, " %sat this pace: 100 %% at %s%s\n",
			    sy->bold, hm, sy->reset);
		return;
	}
	(void)now;
	if (!num(f, "pace", &pace))
		return;		/* nothing known: no empty line */
	fputc(' ', out);
	pad(out, "", lw, 0);
	fprintf(out, " %s%s (pace %.2f)%s\n", sy->dim, pace > 0.8 ?
	    "on pace" : "well within", pace, sy->reset);
}

static void
render_windows(FILE *out, const cJSON *st, const struct style *sy, time_t now)
{
	const cJSON *ws = obj(st, RT_SK_WINDOWS), *w, *tok, *ct;
	struct wrow rows[MAX_ROWS];
	char pct[32], when[160], cell[48], src[96];
	size_t width[4], lw = LABEL_MIN, i, k, n;
	double u;
	int known;

	n = window_rows(ws, rows, MAX_ROWS);
	for (i = 0; i < n; i++)
		if (columns(rows[i].label) > lw)
			lw = columns(rows[i].label);

	fputs(sy->bold, out);
	pad(out, "Window", lw, 0);
	fprintf(out, " %7s  %-22s  %s%s\n", "Used", "", "Resets", sy->reset);
	for (i = 0; i < n; i++) {
		w = rows[i].w;
		known = w != NULL && num(w, RT_SK_UTILIZATION, &u);
		if (known)
			snprintf(pct, sizeof(pct), "%.1f%%", u);
		else
			snprintf(pct, sizeof(pct), DASH);
		pad(out, rows[i].label, lw, 0);
		fputc(' ', out);
		if (known)
			fputs(util_colour(sy, u), out);
		pad(out, pct, 7, 1);
		if (known)
			fputs(sy->reset, out);
		fputs("  ", out);
		render_bar(out, sy, known, known ? u : 0.0);
		fmt_when(w ? str(w, RT_SK_RESETS_AT) : NULL, now, when,
		    sizeof(when));
		fmt_source(w, src, sizeof(src));
		if (src[0] != '\0')
			fprintf(out, "  %s  %s(%s)%s\n", when, sy->dim, src,
			    sy->reset);
		else
			fprintf(out, "  %s\n", when);
		render_forecast(out, w, lw, sy, now);
	}

	/* token columns as wide as their widest count */
	for (k = 0; k < 4; k++)
		width[k] = COUNT_MIN;
	for (i = 0; i < n; i++) {
		tok = rows[i].w ? obj(rows[i].w, RT_SK_TOKENS) : NULL;
		for (k = 0; k < 4; k++) {
			fmt_num(tok, token_keys[k], cell, sizeof(cell));
			if (columns(cell) > width[k])
				width[k] = columns(cell);
		}
	}
	fputc('\n', out);
	fputs(sy->bold, out);
	pad(out, "Tokens", lw, 0);
	{
		static const char *const heads[4] = {
			"input", "output", "cache write", "cache read"
		};

		for (k = 0; k < 4; k++) {
			fputc(' ', out);
			pad(out, heads[k], width[k], 1);
		}
	}
	fprintf(out, "%s\n", sy->reset);
	for (i = 0; i < n; i++) {
		w = rows[i].w;
		ct = w ? cJSON_GetObjectItemCaseSensitive(w,
		    RT_SK_COUNTS_TOKENS) : NULL;
		if (cJSON_IsFalse(ct))
			continue;	/* a scope ratetap cannot attribute */
		tok = w ? obj(w, RT_SK_TOKENS) : NULL;
		pad(out, rows[i].label, lw, 0);
		for (k = 0; k < 4; k++) {
			fmt_num(tok, token_keys[k], cell, sizeof(cell));
			fputc(' ', out);
			pad(out, cell, width[k], 1);
		}
		fputc('\n', out);
	}
}

/* Major units of an amount in minor units (10^-exp). */
static double
major(double minor, int exp)
{
	while (exp-- > 0)
		minor /= 10.0;
	return minor;
}

/* "$12.34", "€5.00", "12.34 CHF", or "12.34" without a currency. */
static void
fmt_money(double amount, int exp, const char *cur, char *buf, size_t len)
{
	char n[32];

	if (exp < 0 || exp > 9)
		exp = 2;
	if (!(amount > -1e15 && amount < 1e15))
		amount = 0.0;
	snprintf(n, sizeof(n), "%.*f", exp, amount);
	if (cur == NULL)
		snprintf(buf, len, "%s", n);
	else if (strcmp(cur, "USD") == 0)
		snprintf(buf, len, "$%s", n);
	else if (strcmp(cur, "EUR") == 0)
		snprintf(buf, len, "\xe2\x82\xac%s", n);
	else if (strcmp(cur, "GBP") == 0)
		snprintf(buf, len, "\xc2\xa3%s", n);
	else
		snprintf(buf, len, "%s %s", n, cur);
}

/* A spend amount {amount, currency, exponent}: 1 and buf, else 0. */
static int
spend_money(const cJSON *sp, const char *key, char *buf, size_t len)
{
	const cJSON *m = sp != NULL ? obj(sp, key) : NULL;
	double a, e = 2;

	if (m == NULL || !num(m, "amount", &a))
		return 0;
	(void)num(m, "exponent", &e);
	fmt_money(a, (int)e, str(m, "currency"), buf, len);
	return 1;
}

/*
 * Extra usage: money with its currency where the usage endpoint's spend
 * gives one; else extra_usage's amounts, which the API gives in cents
 * (shown as hundredths, its currency unknown).
 */
static void
render_extra(FILE *out, const cJSON *st)
{
	const cJSON *e = obj(st, "extra_usage"), *sp = obj(st, "spend");
	const cJSON *en = e ? cJSON_GetObjectItemCaseSensitive(e,
	    "is_enabled") : NULL;
	const cJSON *sen = sp ? cJSON_GetObjectItemCaseSensitive(sp,
	    RT_SK_ENABLED) : NULL;
	const char *cur = e != NULL ? str(e, "currency") : NULL, *why;
	char used[64], lim[64];
	double u, l, p;
	int have_used;

	fputs("Extra usage:    ", out);
	if (!cJSON_IsBool(en) && cJSON_IsBool(sen))
		en = sen;
	if (!cJSON_IsBool(en)) {
		fputs("unknown\n", out);
		return;
	}
	if (cJSON_IsFalse(en)) {
		fputs("off", out);
		if (sp != NULL && (why = str(sp, "disabled_reason")) != NULL)
			fprintf(out, " (%s)", why);
		fputc('\n', out);
		return;
	}
	fputs("on", out);
	if ((have_used = spend_money(sp, "used", used, sizeof(used)))) {
		if (spend_money(sp, "limit", lim, sizeof(lim)))
			fprintf(out, ", %s of %s used", used, lim);
		else
			fprintf(out, ", %s used (no monthly limit)", used);
	} else if (e != NULL && num(e, "used_credits", &u)) {
		have_used = 1;
		fmt_money(major(u, 2), 2, cur, used, sizeof(used));
		if (num(e, "monthly_limit", &l)) {
			fmt_money(major(l, 2), 2, cur, lim, sizeof(lim));
			fprintf(out, ", %s of %s used", used, lim);
		} else
			fprintf(out, ", %s used (no monthly limit)", used);
	}
	if ((e != NULL && num(e, RT_SK_UTILIZATION, &p)) ||
	    (sp != NULL && num(sp, "percent", &p)))
		fprintf(out, " (%.1f%%)", p);
	if (have_used && cur == NULL && !spend_money(sp, "used", used,
	    sizeof(used)))
		fputs("; currency not reported", out);
	fputc('\n', out);
}

static void
render_api_limits(FILE *out, const cJSON *st, const struct style *sy,
    time_t now)
{
	const cJSON *a = obj(st, "api_limits"), *k;
	char rem[32], lim[32], when[160];
	size_t i;
	int header = 0;
	time_t rt;

	if (a == NULL)
		return;
	for (i = 0; i < sizeof(api_kinds) / sizeof(api_kinds[0]); i++) {
		if ((k = obj(a, api_kinds[i].key)) == NULL)
			continue;
		if (!header) {
			fprintf(out, "\n%sAPI-key limits%s\n", sy->bold,
			    sy->reset);
			header = 1;
		}
		fmt_num(k, "remaining", rem, sizeof(rem));
		fmt_num(k, "limit", lim, sizeof(lim));
		fmt_when(str(k, RT_SK_RESETS_AT), now, when, sizeof(when));
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k,
		    "stale")) || (str(k, RT_SK_RESETS_AT) != NULL &&
		    rt_time_parse(str(k, RT_SK_RESETS_AT), &rt) == 0 &&
		    rt <= now))
			fprintf(out, "  %-14s %sstale%s: %s of %s left when "
			    "last seen; it reset %s\n", api_kinds[i].label,
			    sy->yellow, sy->reset, rem, lim, when);
		else
			fprintf(out, "  %-14s %s of %s left, resets %s\n",
			    api_kinds[i].label, rem, lim, when);
	}
}

static int
cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;

	if (x->tokens != y->tokens)
		return x->tokens < y->tokens ? 1 : -1;
	if (x->requests != y->requests)
		return x->requests < y->requests ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void
render_top(FILE *out, const cJSON *st, const char *key, const char *title,
    const struct style *sy)
{
	const cJSON *o = obj(st, key), *it;
	struct named *v = NULL;
	char req[32], tok[32], name[128];
	double x;
	size_t n = 0, cap, i, k, rw = 10, tw = 14;

	cap = o ? (size_t)cJSON_GetArraySize(o) : 0;
	/* counts up to 10^15 stay aligned: columns as wide as the widest */
	if (o != NULL) {
		cJSON_ArrayForEach(it, o) {
			double sum = 0.0;

			if (!cJSON_IsObject(it))
				continue;
			if (num(it, RT_SK_REQUESTS, &x)) {
				cli_fmt_count(llround(x), req, sizeof(req));
				if (columns(req) > rw)
					rw = columns(req);
			}
			for (k = 0; k < 4; k++)
				if (num(it, token_keys[k], &x))
					sum += x;
			cli_fmt_count(llround(sum), tok, sizeof(tok));
			if (columns(tok) > tw)
				tw = columns(tok);
		}
	}
	fprintf(out, "\n%s%-30s ", sy->bold, title);
	pad(out, "requests", rw, 1);
	fputc(' ', out);
	pad(out, "tokens", tw, 1);
	fprintf(out, "%s\n", sy->reset);
	if (cap == 0) {
		fprintf(out, "  (none yet)\n");
		return;
	}
	if ((v = calloc(cap, sizeof(*v))) == NULL) {
		fprintf(out, "  (out of memory)\n");
		return;
	}
	cJSON_ArrayForEach(it, o) {
		if (!cJSON_IsObject(it) || it->string == NULL || n >= cap)
			continue;
		v[n].name = it->string;
		v[n].requests = num(it, RT_SK_REQUESTS, &x) ? x : -1.0;
		v[n].tokens = 0.0;
		for (k = 0; k < 4; k++)
			if (num(it, token_keys[k], &x))
				v[n].tokens += x;
		n++;
	}
	qsort(v, n, sizeof(*v), cmp_named);
	for (i = 0; i < n && i < TOP_N; i++) {
		if (v[i].requests >= 0)
			cli_fmt_count(llround(v[i].requests), req, sizeof(req));
		else
			snprintf(req, sizeof(req), DASH);
		cli_fmt_count(llround(v[i].tokens), tok, sizeof(tok));
		fputs("  ", out);
		ellipsize(v[i].name, 28, name, sizeof(name));
		pad(out, name, 28, 0);
		fputc(' ', out);
		pad(out, req, rw, 1);
		fputc(' ', out);
		pad(out, tok, tw, 1);
		fputc('\n', out);
	}
	if (n > TOP_N)
		fprintf(out, "  (%zu more)\n", n - TOP_N);
	free(v);
}

/* The window label of a representative claim, else the claim itself. */
static const char *
claim_label(const char *claim)
{
	size_t i;

	for (i = 0; i < sizeof(windows) / sizeof(windows[0]); i++)
		if (strcmp(claim, windows[i].key) == 0)
			return windows[i].label;
	if (strcmp(claim, "overage") == 0)
		return "extra usage";
	return claim;
}

static void
render_requests(FILE *out, const cJSON *st, time_t now)
{
	const cJSON *r = obj(st, RT_SK_REQUESTS), *ra, *u;
	char a[32], b[32], c[32], d[32], when[160];
	double x, y;
	const char *s;

	fmt_num(r, RT_SK_TOTAL, a, sizeof(a));
	fmt_num(r, RT_SK_RATE_LIMITED, b, sizeof(b));
	fprintf(out, "\nRequests:       %s total, %s rate-limited", a, b);
	if (r != NULL && num(r, RT_SK_OVERLOADED, &x) &&
	    num(r, RT_SK_ERRORS, &y)) {
		cli_fmt_count(llround(x), c, sizeof(c));
		cli_fmt_count(llround(y), d, sizeof(d));
		fprintf(out, ", %s overloaded, %s other errors", c, d);
	}
	if (r != NULL && num(r, RT_SK_USAGE_UNREADABLE, &x) && x > 0) {
		cli_fmt_count(llround(x), c, sizeof(c));
		fprintf(out, ", %s with unreadable usage", c);
	}
	fputc('\n', out);

	if ((u = obj(st, "unified")) != NULL && (s = str(u, "status")) != NULL) {
		fprintf(out, "Limit status:   %s", s);
		if ((s = str(u, "representative_claim")) != NULL)
			fprintf(out, " (binding limit: %s)", claim_label(s));
		fputc('\n', out);
	}
	if ((ra = obj(st, "retry_after")) != NULL && num(ra, "seconds", &x)) {
		fmt_when(str(ra, "at"), now, when, sizeof(when));
		fprintf(out, "Retry-after:    %llds, seen %s\n", llround(x),
		    when);
	}
}

static void
render_poll(FILE *out, const cJSON *st, const struct style *sy, time_t now)
{
	const cJSON *p = obj(st, RT_SK_POLL), *en;
	const char *ok, *e;
	char when[160], next[160];

	fputs("Usage poll:     ", out);
	if (p == NULL) {
		fputs("unknown\n", out);
		return;
	}
	en = cJSON_GetObjectItemCaseSensitive(p, RT_SK_ENABLED);
	ok = str(p, RT_SK_LAST_OK);
	e = str(p, RT_SK_LAST_ERROR);
	if (cJSON_IsFalse(en)) {
		fputs("off: no OAuth token found (utilization comes from "
		    "response headers only; set RATETAP_OAUTH_TOKEN or log in "
		    "with claude)\n", out);
		return;
	}
	if (e != NULL) {
		fmt_when(str(p, RT_SK_LAST_ATTEMPT), now, when, sizeof(when));
		fprintf(out, "%sfailed%s %s: %s", sy->red, sy->reset, when, e);
		if (ok != NULL) {
			fmt_when(ok, now, when, sizeof(when));
			fprintf(out, "; last ok %s", when);
		} else {
			fputs("; never succeeded", out);
		}
	} else if (ok != NULL) {
		fmt_when(ok, now, when, sizeof(when));
		fprintf(out, "%sok%s %s", sy->green, sy->reset, when);
	} else {
		fputs("not run yet", out);
	}
	if (str(p, RT_SK_NEXT_AT) != NULL) {
		fmt_when(str(p, RT_SK_NEXT_AT), now, next, sizeof(next));
		fprintf(out, "; next %s", next);
	}
	fputc('\n', out);
}

/* The journal's warnings (docs/daemon.md): nothing when all is well. */
static void
render_journal(FILE *out, const cJSON *j, const struct style *sy)
{
	double held = 0, cap = 0, pending = 0, corrupt = 0, repeats = 0;
	const cJSON *full;
	const char *v;

	if (j == NULL)
		return;
	if ((v = str(j, "error")) != NULL)
		fprintf(out, "%sWarning:%s the journal is not read: %s\n",
		    sy->yellow, sy->reset, v);
	full = cJSON_GetObjectItemCaseSensitive(j, "disk_full");
	if (cJSON_IsTrue(full))
		fprintf(out, "%sWarning:%s the runtime directory is full: "
		    "events it cannot keep go to the daemon's socket or are "
		    "lost\n", sy->yellow, sy->reset);
	if (num(j, "bytes_held", &held) && num(j, "bytes_cap", &cap) &&
	    cap > 0 && held >= 0.9 * cap)
		fprintf(out, "%sWarning:%s the journal holds %.0f of its %.0f "
		    "MiB; at the cap events go to the daemon's socket or are "
		    "lost\n", sy->yellow, sy->reset, held / 1048576.0,
		    cap / 1048576.0);
	if (num(j, "bytes_pending", &pending) && pending >= 1048576.0)
		fprintf(out, "Catching up: %.0f MiB of the journal not read "
		    "yet\n", pending / 1048576.0);
	(void)num(j, "corrupt_bytes", &corrupt);
	(void)num(j, "repeats", &repeats);
	if (corrupt > 0 || repeats > 0)
		fprintf(out, "%sWarning:%s journal: %lld damaged bytes skipped, "
		    "%lld repeated events refused\n", sy->yellow, sy->reset,
		    llround(corrupt), llround(repeats));
}

static void
render_health(FILE *out, const cJSON *st, const struct style *sy)
{
	const cJSON *ing = obj(st, "ingest"), *rej, *it, *s = obj(st, "state");
	double x, bad = 0.0, drops = 0.0, foreign = 0.0;
	const char *v;

	if (ing != NULL) {
		if ((rej = obj(ing, "rejected")) != NULL)
			cJSON_ArrayForEach(it, rej)
				if (cJSON_IsNumber(it))
					bad += it->valuedouble;
		if (num(ing, "client_drops", &x))
			drops = x;
		if (num(ing, "foreign_uid", &x))
			foreign = x;
		if (bad > 0 || drops > 0 || foreign > 0)
			fprintf(out, "%sWarning:%s %lld malformed datagrams, "
			    "%lld from other users, %lld lost by clients\n",
			    sy->yellow, sy->reset, llround(bad),
			    llround(foreign), llround(drops));
	}
	if (s != NULL && (v = str(s, "recovered_from")) != NULL)
		fprintf(out, "%sWarning:%s the state file was corrupt and set "
		    "aside as %s; counting started afresh\n", sy->yellow,
		    sy->reset, v);
	if (s != NULL && (v = str(s, "last_save_error")) != NULL)
		fprintf(out, "%sWarning:%s the state cannot be saved: %s\n",
		    sy->yellow, sy->reset, v);
	render_journal(out, obj(st, "journal"), sy);
}

int
cli_status_render(FILE *out, const cJSON *st, const struct cli_render_opts *o)
{
	static const struct style plain = { "", "", "", "", "", "" };
	static const struct style ansi = { "\033[1m", "\033[2m", "\033[31m",
	    "\033[33m", "\033[32m", "\033[0m" };
	const struct style *sy = o->color ? &ansi : &plain;
	const cJSON *d;
	const char *v;
	char when[64];
	double pid;

	if (!cJSON_IsObject(st))
		return -1;
	fprintf(out, "%sratetap status%s", sy->bold, sy->reset);
	if ((d = obj(st, "daemon")) != NULL) {
		if ((v = str(d, "version")) != NULL)
			fprintf(out, "  ratetapd %s", v);
		if (num(d, "pid", &pid))
			fprintf(out, ", pid %lld", llround(pid));
	}
	fmt_asof(o->now, when, sizeof(when));
	fprintf(out, ", as of %s\n\n", when);

	render_windows(out, st, sy, o->now);
	fputc('\n', out);
	render_extra(out, st);
	render_api_limits(out, st, sy, o->now);
	render_top(out, st, "processes", "Top programs", sy);
	render_top(out, st, "models", "Top models", sy);
	render_requests(out, st, o->now);
	render_poll(out, st, sy, o->now);
	render_health(out, st, sy);
	return 0;
}

static void
status_usage(FILE *f)
{
	fprintf(f,
	    "usage: ratetap status [--json] [--control PATH]\n"
	    "\n"
	    "Show how much of your rate limits you have used, as reported by\n"
	    "ratetapd.\n"
	    "\n"
	    "  --json          print the daemon's status JSON\n"
	    "  --control PATH  the daemon's control socket (default\n"
	    "                  $RATETAP_CONTROL or $XDG_RUNTIME_DIR/ratetap/"
	    "control.sock)\n"
	    "  --help          this text\n"
	    "  --version       print the version\n");
}

static int
use_colour(void)
{
	const char *nc = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	if (nc != NULL && nc[0] != '\0')
		return 0;
	if (term != NULL && strcmp(term, "dumb") == 0)
		return 0;
	return isatty(STDOUT_FILENO);
}

int
cli_status_main(int argc, char **argv, const char *control)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_render_opts ro;
	char path[RT_FILE_MAX], err[256];
	char *body = NULL, *text = NULL;
	cJSON *st = NULL;
	size_t len;
	long code;
	int c, json = 0, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+jc:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'c':
			control = optarg;
			break;
		case 'h':
			status_usage(stdout);
			return 0;
		case 'V':
			printf("ratetap %s\n", RATETAP_VERSION);
			return 0;
		default:
			status_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_errx("status: unexpected argument '%s'", argv[optind]);
		status_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (cli_control_path(control, path, sizeof(path)) == -1) {
		cli_errx("the control socket path is too long; set "
		    "RATETAP_CONTROL or use --control");
		return 1;
	}
	if (cli_control_get(path, "/v1/status", 5000, &body, &len, &code,
	    err, sizeof(err)) == -1) {
		cli_errx("no daemon answers on %s; start it with `ratetapd &` "
		    "or use `ratetap run`", path);
		return 1;
	}
	if (code != 200) {
		cli_errx("the daemon on %s answered HTTP %ld to /v1/status",
		    path, code);
		goto err;
	}
	if ((st = cJSON_ParseWithLength(body, len)) == NULL ||
	    !cJSON_IsObject(st)) {
		cli_errx("the daemon on %s sent a status that is not a JSON "
		    "object", path);
		goto err;
	}
	if (json) {
		if ((text = cJSON_Print(st)) == NULL) {
			cli_errx("%s", strerror(ENOMEM));
			goto err;
		}
		printf("%s\n", text);
	} else {
		ro.color = use_colour();
		ro.now = time(NULL);
		if (cli_status_render(stdout, st, &ro) == -1)
			goto err;
		if (!cli_enable_present() && (getenv("LD_PRELOAD") == NULL ||
		    strstr(getenv("LD_PRELOAD"), "libratetap.so") == NULL))
			cli_errx("tapping is not enabled for your shells: "
			    "`ratetap enable` taps every program you start");
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_errx("writing the status: %s", strerror(errno));
		goto err;
	}
	rc = 0;
err:
	free(text);
	cJSON_Delete(st);
	free(body);
	return rc;
}
