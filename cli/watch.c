/*
 * `ratetap watch`: a live full-screen view of the daemon's status
 * (docs/watch.md), redrawn every second from GET /v1/status: each window
 * as a bar with a marker for the elapsed time, its forecast and reset
 * countdown, the binding limit, the top programs and models.  `q` quits;
 * it follows the terminal's size.  With --once, or when stdout is not a
 * terminal, one frame is printed as plain text.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>
#include <cjson/cJSON.h>

#include "ratetap/paths.h"
#include "cli.h"

#define TOP_N	5

static const cJSON *
jget(const cJSON *o, const char *k)
{
	return o != NULL ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static int
jtime(const cJSON *o, const char *k, time_t *out)
{
	const cJSON *v = jget(o, k);
	struct tm tm;
	char *end;

	if (!cJSON_IsString(v))
		return -1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(v->valuestring, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* A bar of width w for pct, with '|' where the elapsed share is. */
static void
bar(FILE *f, int w, double pct, double elapsed)
{
	int i, fill = (int)lround(pct / 100.0 * w), mark = -1;

	if (fill > w)
		fill = w;
	if (elapsed >= 0 && elapsed <= 100)
		mark = (int)lround(elapsed / 100.0 * (w - 1));
	fputc('[', f);
	for (i = 0; i < w; i++)
		fputc(i == mark ? '|' : i < fill ? '#' : '.', f);
	fputc(']', f);
}

struct top {
	const char *name;
	double requests;
};

static int
cmp_top(const void *a, const void *b)
{
	const struct top *x = a, *y = b;

	return x->requests < y->requests ? 1 : x->requests > y->requests ?
	    -1 : strcmp(x->name, y->name);
}

static void
tops(FILE *f, const cJSON *o, const char *title)
{
	struct top t[256];
	const cJSON *e;
	char cnt[32];
	int n = 0, i;

	cJSON_ArrayForEach(e, o) {
		const cJSON *r = jget(e, "requests");

		if (n < 256 && e->string != NULL)
			t[n++] = (struct top){ e->string, cJSON_IsNumber(r) ?
			    r->valuedouble : 0 };
	}
	qsort(t, (size_t)n, sizeof(t[0]), cmp_top);
	fprintf(f, "%s\n", title);
	if (n == 0)
		fprintf(f, "  (none yet)\n");
	for (i = 0; i < n && i < TOP_N; i++) {
		cli_fmt_count(llround(t[i].requests), cnt, sizeof(cnt));
		fprintf(f, "  %-32.32s %12s requests\n", t[i].name, cnt);
	}
}

/*
 * Render one frame of status st at now, cols wide, into a malloc'ed
 * string (caller frees).  NULL on ENOMEM.
 */
static char *
frame(const cJSON *st, time_t now, int cols)
{
	const cJSON *ws = jget(st, "windows"), *w, *u, *fc;
	char *buf = NULL, rel[64], when[64], hm[16];
	size_t len = 0;
	struct tm tm;
	FILE *f;
	int bw = cols - 44;

	if (bw < 10)
		bw = 10;
	if (bw > 60)
		bw = 60;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	localtime_r(&now, &tm);
	strftime(hm, sizeof(hm), "%H:%M:%S", &tm);
	fprintf(f, "ratetap watch  %s  (q quits)\n\n", hm);
	cJSON_ArrayForEach(w, ws) {
		time_t reset = 0, ex;
		double pct = -1, elapsed = -1;

		u = jget(w, "utilization");
		if (cJSON_IsNumber(u))
			pct = u->valuedouble;
		if (jtime(w, "resets_at", &reset) == 0) {
			double length = strncmp(w->string, "five_hour", 9) ==
			    0 ? 5 * 3600.0 : 7 * 86400.0;

			elapsed = 100.0 - (double)(reset - now) / length *
			    100.0;
		}
		fprintf(f, "%-18.18s ", w->string);
		bar(f, bw, pct < 0 ? 0 : pct, elapsed);
		if (pct >= 0)
			fprintf(f, " %6.1f%%", pct);
		else
			fprintf(f, "      -");
		if (reset > 0) {
			cli_fmt_relative((long long)(reset - now), rel,
			    sizeof(rel));
			fprintf(f, "  resets %s", rel);
		}
		fputc('\n', f);
		fc = jget(w, "forecast");
		if (jtime(fc, "exhausted_at", &ex) == 0) {
			localtime_r(&ex, &tm);
			strftime(when, sizeof(when), "%H:%M", &tm);
			fprintf(f, "%19s at this pace: 100 %% at %s\n", "",
			    when);
		} else if (cJSON_IsNumber(jget(fc, "pace")))
			fprintf(f, "%19s %s (pace %.2f)\n", "",
			    jget(fc, "pace")->valuedouble > 0.8 ? "on pace" :
			    "well within", jget(fc, "pace")->valuedouble);
	}
	u = jget(jget(st, "unified"), "representative_claim");
	fprintf(f, "\nbinding limit: %s\n\n", cJSON_IsString(u) ?
	    u->valuestring : "unknown");
	tops(f, jget(st, "processes"), "top programs");
	fputc('\n', f);
	tops(f, jget(st, "models"), "top models");
	u = jget(jget(st, "requests"), "total");
	cli_fmt_count(cJSON_IsNumber(u) ? llround(u->valuedouble) : 0, rel,
	    sizeof(rel));
	fprintf(f, "\nrequests counted: %s\n", rel);
	fclose(f);
	return buf;
}

static cJSON *
fetch(const char *path, char *err, size_t errlen)
{
	char *body = NULL;
	size_t len;
	long code;
	cJSON *st;

	if (cli_control_get(path, "/v1/status", 3000, &body, &len, &code, err,
	    errlen) == -1)
		return NULL;
	st = code == 200 ? cJSON_ParseWithLength(body, len) : NULL;
	free(body);
	if (st == NULL)
		snprintf(err, errlen, "unusable answer (HTTP %ld)", code);
	return st;
}

static void
watch_usage(FILE *f)
{
	fprintf(f, "usage: ratetap watch [--once]\n"
	    "A live view of the windows, forecasts, programs and models; "
	    "q quits.\n--once (or output that is not a terminal) prints "
	    "one frame.\n");
}

int
cli_watch_main(int argc, char **argv, const char *control)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char path[RT_FILE_MAX], err[256], *txt;
	int c, once = 0, key = 0;
	cJSON *st;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			once = 1;
			break;
		case 'h':
			watch_usage(stdout);
			return 0;
		default:
			watch_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_errx("watch: unexpected argument '%s'", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (cli_control_path(control, path, sizeof(path)) == -1) {
		cli_errx("the control socket path is too long");
		return 1;
	}
	if (once || !isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
		if ((st = fetch(path, err, sizeof(err))) == NULL) {
			cli_errx("no daemon answers on %s: %s", path, err);
			return 1;
		}
		txt = frame(st, time(NULL), 80);
		cJSON_Delete(st);
		if (txt == NULL)
			return 1;
		fputs(txt, stdout);
		free(txt);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (initscr() == NULL) {
		cli_errx("watch: cannot use this terminal");
		return 1;
	}
	cbreak();
	noecho();
	curs_set(0);
	keypad(stdscr, TRUE);
	timeout(1000);			/* redraw every second */
	while (key != 'q' && key != 'Q') {
		int y = 0;
		char *line, *save;

		erase();
		st = fetch(path, err, sizeof(err));
		txt = st != NULL ? frame(st, time(NULL), COLS) : NULL;
		cJSON_Delete(st);
		if (txt == NULL)
			mvprintw(0, 0, "no daemon answers on %.*s (q quits)",
			    COLS > 40 ? COLS - 40 : 1, path);
		for (line = txt != NULL ? strtok_r(txt, "\n", &save) : NULL;
		    line != NULL && y < LINES;
		    line = strtok_r(NULL, "\n", &save))
			mvaddnstr(y++, 0, line, COLS);
		free(txt);
		refresh();
		key = getch();		/* KEY_RESIZE: redrawn at the new size */
	}
	endwin();
	return 0;
}
