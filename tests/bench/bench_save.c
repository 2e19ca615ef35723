/*
 * bench_save: what one save of the daemon's state costs at a tracker size.
 *
 *	bench_save DIR [--entries N] [-n K]
 *
 * Fills a tracker with N program and model rows (N/2 of each, at least
 * one), then saves it K times (default 20) to DIR/state.json with the
 * daemon's own state_save() (build, print, write, fsync, rename, fsync of
 * the directory).  Prints one JSON object: the median CPU and wall
 * microseconds of a save and the file's size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../../daemon/state.h"
#include "../../daemon/tracker.h"

static double
clock_us(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
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
	int entries = 1000, iters = 20, progs, models, i;
	char m[64], p[64], path[4096], err[256];
	double *cpu, *wall, c0, w0;
	struct trk *t;
	struct stat st;

	if (argc < 2)
		goto usage;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc)
			entries = atoi(argv[++i]);
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			iters = atoi(argv[++i]);
		else
			goto usage;
	}
	progs = entries / 2 > 0 ? entries / 2 : 1;
	models = entries - progs > 0 ? entries - progs : 1;
	snprintf(path, sizeof(path), "%s/state.json", argv[1]);
	if (iters < 1 || (t = trk_new(NULL)) == NULL ||
	    (cpu = calloc((size_t)iters, sizeof(*cpu))) == NULL ||
	    (wall = calloc((size_t)iters, sizeof(*wall))) == NULL)
		return 1;
	for (i = 0; i < (progs > models ? progs : models); i++) {
		snprintf(m, sizeof(m), "claude-sonnet-4-%d-20250514",
		    i % models);
		snprintf(p, sizeof(p), "program-%d", i % progs);
		trk_usage_add(t, m, p, &tk, 1);
	}
	for (i = 0; i < iters; i++) {
		c0 = clock_us(CLOCK_PROCESS_CPUTIME_ID);
		w0 = clock_us(CLOCK_MONOTONIC);
		if (state_save(t, path, err, sizeof(err)) == -1) {
			fprintf(stderr, "bench_save: %s\n", err);
			return 1;
		}
		cpu[i] = clock_us(CLOCK_PROCESS_CPUTIME_ID) - c0;
		wall[i] = clock_us(CLOCK_MONOTONIC) - w0;
	}
	qsort(cpu, (size_t)iters, sizeof(*cpu), cmp);
	qsort(wall, (size_t)iters, sizeof(*wall), cmp);
	if (stat(path, &st) == -1)
		return 1;
	printf("{\"entries\": %d, \"models\": %d, \"programs\": %d, "
	    "\"bytes\": %lld, \"cpu_us\": %.1f, \"wall_us\": %.1f}\n",
	    t->nmodels + t->nprogs, t->nmodels, t->nprogs,
	    (long long)st.st_size, cpu[iters / 2], wall[iters / 2]);
	trk_free(t);
	free(cpu);
	free(wall);
	return 0;
usage:
	fprintf(stderr, "usage: bench_save DIR [--entries N] [-n K]\n");
	return 2;
}
