/*
 * rt-jwrite: writes journal records as the shim does, for the journal's
 * tests and benchmarks.
 *
 *	rt-jwrite PATH [--procs N] [--count N] [--usage IN,OUT,CC,CR]
 *	          [--garbage N] [--torn] [--same-stamp]
 *
 * Forks N writers (default 1) that each append --count records (default
 * 1000) to the journal at PATH, each with one write(2) on a descriptor
 * opened O_APPEND per record, exactly like libratetap.so: a finished
 * POST /v1/messages to api.anthropic.com with status 200 and the given
 * usage (default 11,22,3,5), program "rt-jwrite".  --garbage N appends N
 * bytes of noise after each writer's records; --torn ends each writer with
 * the first half of one more record (a short write); --same-stamp writes
 * every record twice (a replay the reader must refuse).  Prints one JSON
 * object: written, failed, seconds.  Exit 0 when every record was
 * written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ratetap/proto.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
append(const char *path, const void *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	n = write(fd, buf, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static int
writer(const char *path, long count, const int64_t usage[4], long garbage,
    int torn, int twice)
{
	struct rtj_record rec;
	struct rtp_event ev;
	struct timespec ts;
	uint64_t stamp;
	size_t len;
	long i, fails = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	stamp = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	rtp_init(&ev);
	ev.pid = (int32_t)getpid();
	ev.http_status = 200;
	ev.method = RTP_M_POST;
	ev.usage_state = RTP_USAGE_OK;
	ev.input_tokens = usage[0];
	ev.output_tokens = usage[1];
	ev.cache_creation_input_tokens = usage[2];
	ev.cache_read_input_tokens = usage[3];
	ev.flags = RTP_F_TLS;
	rtp_strlcpy(ev.model, "claude-sonnet-4-5", sizeof(ev.model));
	rtp_strlcpy(ev.host, "api.anthropic.com", sizeof(ev.host));
	rtp_strlcpy(ev.path, "/v1/messages", sizeof(ev.path));
	rtp_strlcpy(ev.prog, "rt-jwrite", sizeof(ev.prog));
	for (i = 0; i < count; i++) {
		ev.seq = (uint32_t)i + 1;
		len = rtj_encode(&rec, &ev, stamp);
		if (append(path, &rec, len) == -1)
			fails++;
		if (twice && append(path, &rec, len) == -1)
			fails++;
	}
	if (garbage > 0) {
		char *g = malloc((size_t)garbage);
		long k;

		if (g == NULL)
			return 1;
		for (k = 0; k < garbage; k++)
			g[k] = (char)(k * 131 + 7);
		if (append(path, g, (size_t)garbage) == -1)
			fails++;
		free(g);
	}
	if (torn) {
		ev.seq = (uint32_t)count + 1;
		len = rtj_encode(&rec, &ev, stamp);
		if (append(path, &rec, len / 2) == -1)
			fails++;
	}
	return fails > 255 ? 255 : (int)fails;
}

int
main(int argc, char **argv)
{
	const char *path;
	int64_t usage[4] = { 11, 22, 3, 5 };
	long procs = 1, count = 1000, garbage = 0, i, failed = 0;
	int torn = 0, twice = 0, st;
	double t0;

	if (argc < 2)
		goto usage;
	path = argv[1];
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--procs") == 0 && i + 1 < argc)
			procs = atol(argv[++i]);
		else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			count = atol(argv[++i]);
		else if (strcmp(argv[i], "--garbage") == 0 && i + 1 < argc)
			garbage = atol(argv[++i]);
		else if (strcmp(argv[i], "--usage") == 0 && i + 1 < argc) {
			long long a, b, c, d;

			if (sscanf(argv[++i], "%lld,%lld,%lld,%lld", &a, &b, &c,
			    &d) != 4)
				goto usage;
			usage[0] = a;
			usage[1] = b;
			usage[2] = c;
			usage[3] = d;
		} else if (strcmp(argv[i], "--torn") == 0)
			torn = 1;
		else if (strcmp(argv[i], "--same-stamp") == 0)
			twice = 1;
		else
			goto usage;
	}
	if (procs < 1 || procs > 256 || count < 0)
		goto usage;
	t0 = now_s();
	for (i = 0; i < procs; i++) {
		pid_t p = fork();

		if (p == -1) {
			perror("fork");
			return 1;
		}
		if (p == 0)
			_exit(writer(path, count, usage, garbage, torn, twice));
	}
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed += WIFEXITED(st) ? WEXITSTATUS(st) : count;
	printf("{\"written\": %ld, \"failed\": %ld, \"seconds\": %.6f}\n",
	    procs * count * (twice ? 2 : 1) - failed, failed, now_s() - t0);
	return failed == 0 ? 0 : 1;
usage:
	fprintf(stderr, "usage: rt-jwrite PATH [--procs N] [--count N] "
	    "[--usage IN,OUT,CC,CR] [--garbage N] [--torn] [--same-stamp]\n");
	return 2;
}
