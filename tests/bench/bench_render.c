/*
 * bench_render: the cost of rendering the status JSON, in process.
 *
 *	bench_render [--progs N] [--models M] [--mode MODE] [-n K]
 *
 * Fills a tracker with N programs and M models (beyond the tracker's
 * tables they fold into "other", as in the daemon) and renders its status
 * K times (default 200) with MODE:
 *	direct    status_render(), the JSON writer (what the daemon does)
 *	tree      the cJSON tree and cJSON_Print() (what it did before)
 *	buffered  the same tree and cJSON_PrintBuffered() with a size hint
 * Prints one JSON object: mode, progs, models, listed_models,
 * listed_progs, bytes, us (median microseconds per render).  The renders
 * are in render_once(): `valgrind --tool=callgrind
 * --toggle-collect=render_once` counts their instructions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "../../daemon/status.h"
#include "../../daemon/tracker.h"
#include "../status_ref.c"

#define T0	((time_t)1800000000)

enum { M_DIRECT, M_TREE, M_BUFFERED };

static size_t
render_once(const struct trk *t, int mode) __attribute__((noinline));

static size_t
render_once(const struct trk *t, int mode)
{
	struct status_daemon d;
	cJSON *j;
	char *s = NULL;
	size_t n = 0;

	memset(&d, 0, sizeof(d));
	d.version = "0.1.0";
	d.pid = 1;
	d.journal_path = "/run/user/1000/ratetap/events.journal";
	d.state_path = "/home/u/.local/state/ratetap/state.json";
	if (mode == M_DIRECT) {
		if (status_render(t, T0, &d, &s, &n) == -1)
			exit(1);
	} else {
		if ((j = ref_status_json(t, T0, &d)) == NULL)
			exit(1);
		s = mode == M_TREE ? cJSON_Print(j) :
		    cJSON_PrintBuffered(j, (int)(64 * 1024 +
		    (t->nmodels + t->nprogs) * 260), 1);
		cJSON_Delete(j);
		if (s == NULL)
			exit(1);
		n = strlen(s);
	}
	free(s);
	return n;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct trk_tokens tk = { 1200, 340, 5000, 90000 };
	int progs = 1000, models = 100, iters = 200, mode = M_DIRECT, i;
	char m[64], p[64];
	struct trk *t;
	double *us;
	size_t bytes = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--progs") == 0 && i + 1 < argc)
			progs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--models") == 0 && i + 1 < argc)
			models = atoi(argv[++i]);
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			iters = atoi(argv[++i]);
		else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			i++;
			mode = strcmp(argv[i], "tree") == 0 ? M_TREE :
			    strcmp(argv[i], "buffered") == 0 ? M_BUFFERED :
			    M_DIRECT;
		} else {
			fprintf(stderr, "usage: bench_render [--progs N] "
			    "[--models M] [--mode direct|tree|buffered] "
			    "[-n K]\n");
			return 2;
		}
	}
	if (progs < 1 || models < 1 || iters < 1 ||
	    (t = trk_new(NULL)) == NULL ||
	    (us = calloc((size_t)iters, sizeof(*us))) == NULL)
		return 1;
	for (i = 0; i < (progs > models ? progs : models); i++) {
		snprintf(m, sizeof(m), "claude-sonnet-4-%d-20250514",
		    i % models);
		snprintf(p, sizeof(p), "program-%d", i % progs);
		trk_usage_add(t, m, p, &tk, 1);
	}
	for (i = 0; i < iters; i++) {
		double t0 = now_us();

		bytes = render_once(t, mode);
		us[i] = now_us() - t0;
	}
	qsort(us, (size_t)iters, sizeof(*us), cmp);
	printf("{\"mode\": \"%s\", \"progs\": %d, \"models\": %d, "
	    "\"listed_models\": %d, \"listed_progs\": %d, \"bytes\": %zu, "
	    "\"us\": %.1f}\n", mode == M_DIRECT ? "direct" : mode == M_TREE ?
	    "tree" : "buffered", progs, models, t->nmodels, t->nprogs, bytes,
	    us[iters / 2]);
	free(us);
	trk_free(t);
	return 0;
}
