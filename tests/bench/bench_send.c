/*
 * bench_send: load for the ratetapd ingest benchmark.
 *
 *	bench_send --socket PATH [--procs N] [--count N] [--progs N]
 *	           [--models N]
 *
 * Forks N sender processes (default 4) that each send exactly --count
 * well-formed events (default 250000) to the ingest socket at PATH with
 * blocking sends: when the daemon's receive queue is full a sender waits,
 * so the rate measured is the rate the daemon ingests, and nothing is lost.
 * The events look like the shim's for a finished /v1/messages transfer:
 * usage, model, unified rate-limit headers.  Event g (counting over all
 * senders) names program "bench-prog-<g % progs>" (default 1000) and model
 * "claude-bench-<g % models>" (default 100).
 *
 * Prints one JSON object: procs, sent, failed, seconds (first send to last,
 * over all senders), rate (sent per second).  Exit status 0 when every event
 * was sent, 1 otherwise, 2 on usage errors.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ratetap/proto.h"

#define MAX_PROCS	64

struct opts {
	const char *socket;
	int procs;
	long count;
	long progs;
	long models;
};

/* One sender's result, written to the parent through a pipe. */
struct result {
	uint64_t sent;
	uint64_t failed;
	double start;		/* CLOCK_MONOTONIC seconds */
	double end;
	int err;		/* errno of the first failure, 0 if none */
};

static void
usage(void)
{
	fprintf(stderr, "usage: bench_send --socket PATH [--procs N] "
	    "[--count N] [--progs N] [--models N]\n");
	exit(2);
}

static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A connected, blocking datagram socket to path, or -1. */
static int
connect_to(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The event a finished /v1/messages transfer of program prog, model model
 * would produce. */
static void
make_event(struct rtp_event *ev, uint32_t seq, long prog, long model,
    int64_t reset_5h, int64_t reset_7d)
{
	rtp_init(ev);
	ev->flags = RTP_F_TLS;
	ev->pid = (int32_t)getpid();
	ev->seq = seq;
	ev->http_status = 200;
	ev->method = RTP_M_POST;
	ev->usage_state = RTP_USAGE_OK;
	ev->unified_status = RTP_US_ALLOWED;
	ev->status_5h = RTP_US_ALLOWED;
	ev->status_7d = RTP_US_ALLOWED;
	ev->claim = RTP_CLAIM_FIVE_HOUR;
	ev->input_tokens = 11 + (seq % 50);
	ev->output_tokens = 22 + (seq % 300);
	ev->cache_creation_input_tokens = 3;
	ev->cache_read_input_tokens = 5;
	ev->present = RTP_PRESENT_D(RTP_D_UTIL_5H) |
	    RTP_PRESENT_D(RTP_D_UTIL_7D) | RTP_PRESENT_I(RTP_I_RESET_5H) |
	    RTP_PRESENT_I(RTP_I_RESET_7D);
	ev->d[RTP_D_UTIL_5H] = 0.25;
	ev->d[RTP_D_UTIL_7D] = 0.5;
	ev->i[RTP_I_RESET_5H] = reset_5h;
	ev->i[RTP_I_RESET_7D] = reset_7d;
	snprintf(ev->model, sizeof(ev->model), "claude-bench-%ld", model);
	snprintf(ev->prog, sizeof(ev->prog), "bench-prog-%ld", prog);
	snprintf(ev->host, sizeof(ev->host), "api.anthropic.com");
	snprintf(ev->path, sizeof(ev->path), "/v1/messages");
	snprintf(ev->request_id, sizeof(ev->request_id), "req_bench_%d_%u",
	    (int)ev->pid, seq);
}

/* Sender number id: count events, blocking, results into *r. */
static void
sender(const struct opts *o, int id, struct result *r)
{
	struct rtp_event ev;
	time_t t = time(NULL);
	int64_t reset_5h = (int64_t)(t / 3600 * 3600 + 5 * 3600);
	int64_t reset_7d = (int64_t)(t / 3600 * 3600 + 7 * 86400);
	long k;
	int fd;

	memset(r, 0, sizeof(*r));
	if ((fd = connect_to(o->socket)) == -1) {
		r->err = errno;
		r->failed = (uint64_t)o->count;
		return;
	}
	r->start = now();
	for (k = 0; k < o->count; k++) {
		long g = (long)id + k * o->procs;
		ssize_t n;

		make_event(&ev, (uint32_t)(k + 1), g % o->progs,
		    g % o->models, reset_5h, reset_7d);
		do
			n = send(fd, &ev, sizeof(ev), 0);
		while (n == -1 && errno == EINTR);
		if (n == (ssize_t)sizeof(ev))
			r->sent++;
		else {
			if (r->err == 0)
				r->err = n == -1 ? errno : EMSGSIZE;
			r->failed++;
		}
	}
	r->end = now();
	close(fd);
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o = { .procs = 4, .count = 250000, .progs = 1000,
	    .models = 100 };
	pid_t pids[MAX_PROCS];
	int pipes[MAX_PROCS];
	uint64_t sent = 0, failed = 0;
	double start = 0, end = 0;
	int i, status = 0, first_err = 0;
	long v;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--socket") == 0)
			o.socket = argv[++i];
		else if (strcmp(argv[i], "--procs") == 0) {
			if (parse_long(argv[++i], 1, MAX_PROCS, &v) == -1)
				usage();
			o.procs = (int)v;
		} else if (strcmp(argv[i], "--count") == 0) {
			if (parse_long(argv[++i], 1, 100000000, &o.count) == -1)
				usage();
		} else if (strcmp(argv[i], "--progs") == 0) {
			if (parse_long(argv[++i], 1, 1000000, &o.progs) == -1)
				usage();
		} else if (strcmp(argv[i], "--models") == 0) {
			if (parse_long(argv[++i], 1, 1000000, &o.models) == -1)
				usage();
		} else
			usage();
	}
	if (o.socket == NULL)
		usage();

	for (i = 0; i < o.procs; i++) {
		int p[2];

		if (pipe(p) == -1) {
			perror("bench_send: pipe");
			return 1;
		}
		if ((pids[i] = fork()) == -1) {
			perror("bench_send: fork");
			return 1;
		}
		if (pids[i] == 0) {
			struct result r;

			close(p[0]);
			sender(&o, i, &r);
			_exit(write_all(p[1], &r, sizeof(r)) == 0 ? 0 : 1);
		}
		close(p[1]);
		pipes[i] = p[0];
	}
	for (i = 0; i < o.procs; i++) {
		struct result r;
		int ws;

		if (read_all(pipes[i], &r, sizeof(r)) == -1) {
			fprintf(stderr, "bench_send: sender %d gave no result\n",
			    i);
			status = 1;
			memset(&r, 0, sizeof(r));
			r.failed = (uint64_t)o.count;
		}
		close(pipes[i]);
		while (waitpid(pids[i], &ws, 0) == -1 && errno == EINTR)
			;
		sent += r.sent;
		failed += r.failed;
		if (r.err != 0 && first_err == 0)
			first_err = r.err;
		if (r.sent > 0) {
			if (start == 0 || r.start < start)
				start = r.start;
			if (r.end > end)
				end = r.end;
		}
	}
	if (failed > 0) {
		fprintf(stderr, "bench_send: %llu event(s) not sent: %s\n",
		    (unsigned long long)failed, strerror(first_err));
		status = 1;
	}
	printf("{\"procs\": %d, \"sent\": %llu, \"failed\": %llu, "
	    "\"seconds\": %.6f, \"rate\": %.1f}\n", o.procs,
	    (unsigned long long)sent, (unsigned long long)failed, end - start,
	    end > start ? (double)sent / (end - start) : 0.0);
	return status;
}
