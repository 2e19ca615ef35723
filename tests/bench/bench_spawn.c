/*
 * bench_spawn: start-up cost of preloading a library into a program.
 *
 *	bench_spawn [-n N] --preload LIB -- CMD [ARG...]
 *
 * Runs CMD N times plainly and N times with LIB in LD_PRELOAD (default
 * 500 each), interleaved in the order A B B A A B B A ... so that drifts of
 * the machine's speed fall on both alike.  Each run's stdout and stderr go
 * to /dev/null; its wall time is taken from just before posix_spawn() to
 * the return of wait4(), its CPU time (user + system) from wait4()'s
 * rusage.  A run that does not exit 0 is an error.
 *
 * Prints one JSON object: n, plain and preload (each with median_us,
 * mean_us, min_us for the wall time, cpu_us the mean CPU time),
 * ratio_median (preload / plain median wall time), ratio_mean,
 * ratio_cpu.  Exit status 0, 1 when a run failed, 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct series {
	double *wall;		/* microseconds, one per run */
	double cpu;		/* total CPU microseconds */
	int n;
};

static void
usage(void)
{
	fprintf(stderr, "usage: bench_spawn [-n N] --preload LIB -- CMD "
	    "[ARG...]\n");
	exit(2);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* environ without LD_PRELOAD, plus preload (an "LD_PRELOAD=..." string)
 * when it is not NULL.  NULL when out of memory. */
static char **
make_env(char *preload)
{
	size_t n = 0, k = 0;
	char **e;

	while (environ[n] != NULL)
		n++;
	if ((e = calloc(n + 2, sizeof(*e))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			e[k++] = environ[i];
	if (preload != NULL)
		e[k++] = preload;
	e[k] = NULL;
	return e;
}

/* One run of argv under env: 0 with *wall and *cpu in microseconds. */
static int
run_once(char **argv, char **env, const posix_spawn_file_actions_t *fa,
    double *wall, double *cpu)
{
	struct rusage ru;
	double t0;
	pid_t pid;
	int rc, ws;

	t0 = now_us();
	if ((rc = posix_spawnp(&pid, argv[0], fa, NULL, argv, env)) != 0) {
		fprintf(stderr, "bench_spawn: %s: %s\n", argv[0],
		    strerror(rc));
		return -1;
	}
	while (wait4(pid, &ws, 0, &ru) == -1)
		if (errno != EINTR) {
			perror("bench_spawn: wait4");
			return -1;
		}
	*wall = now_us() - t0;
	*cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		fprintf(stderr, "bench_spawn: %s did not exit 0 (status "
		    "0x%x)\n", argv[0], ws);
		return -1;
	}
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double
mean(const double *v, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	return s / n;
}

static void
print_series(const char *name, struct series *s)
{
	double m = mean(s->wall, s->n), md = median(s->wall, s->n);

	printf("\"%s\": {\"median_us\": %.1f, \"mean_us\": %.1f, "
	    "\"min_us\": %.1f, \"cpu_us\": %.1f}", name, md, m, s->wall[0],
	    s->cpu / s->n);
}

int
main(int argc, char **argv)
{
	const char *lib = NULL;
	char *preload = NULL, **env_plain = NULL, **env_pre = NULL;
	posix_spawn_file_actions_t fa;
	struct series plain = { 0 }, pre = { 0 };
	char *end;
	long n = 500;
	int i, cmd = -1, status = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			cmd = i + 1;
			break;
		}
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "-n") == 0) {
			errno = 0;
			n = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || n < 1 || n > 1000000)
				usage();
		} else if (strcmp(argv[i], "--preload") == 0)
			lib = argv[++i];
		else
			usage();
	}
	if (lib == NULL || cmd == -1 || cmd >= argc)
		usage();
	if (access(lib, R_OK) == -1) {
		fprintf(stderr, "bench_spawn: %s: %s\n", lib, strerror(errno));
		return 1;
	}
	if (asprintf(&preload, "LD_PRELOAD=%s", lib) == -1) {
		preload = NULL;
		goto out;
	}
	env_plain = make_env(NULL);
	env_pre = make_env(preload);
	plain.wall = calloc((size_t)n, sizeof(double));
	pre.wall = calloc((size_t)n, sizeof(double));
	if (env_plain == NULL || env_pre == NULL || plain.wall == NULL ||
	    pre.wall == NULL) {
		fprintf(stderr, "bench_spawn: out of memory\n");
		goto out;
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		fprintf(stderr, "bench_spawn: posix_spawn_file_actions\n");
		goto out;
	}
	if (posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY,
	    0) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY,
	    0) != 0) {
		fprintf(stderr, "bench_spawn: posix_spawn_file_actions\n");
		goto fa_out;
	}
	for (i = 0; i < 2 * n; i++) {
		/* A B B A: runs 0 and 3 of every four are plain */
		int is_pre = (i % 4 == 1 || i % 4 == 2);
		struct series *s = is_pre ? &pre : &plain;
		double wall, cpu;

		if (s->n >= n)
			s = is_pre ? &plain : &pre;
		if (run_once(argv + cmd, s == &pre ? env_pre : env_plain, &fa,
		    &wall, &cpu) == -1)
			goto fa_out;
		s->wall[s->n++] = wall;
		s->cpu += cpu;
	}
	printf("{\"n\": %ld, ", n);
	print_series("plain", &plain);
	printf(", ");
	print_series("preload", &pre);
	/* print_series sorted the samples: index 0 is the minimum */
	printf(", \"ratio_median\": %.4f, \"ratio_mean\": %.4f, "
	    "\"ratio_cpu\": %.4f}\n", median(pre.wall, (int)n) /
	    median(plain.wall, (int)n), mean(pre.wall, (int)n) /
	    mean(plain.wall, (int)n), plain.cpu > 0 ? pre.cpu / plain.cpu : 0);
	status = 0;
fa_out:
	posix_spawn_file_actions_destroy(&fa);
out:
	free(preload);
	free(env_plain);
	free(env_pre);
	free(plain.wall);
	free(pre.wall);
	return status;
}
