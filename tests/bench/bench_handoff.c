/*
 * bench_handoff: the CPU cost of handing one event from the shim to the
 * daemon, through the shim's own code (shim/send.c, linked in).
 *
 *	bench_handoff DIR [--count N]
 *
 * In DIR (a private directory; the runtime directory is tmpfs in use, so
 * DIR should be too) it binds ingest.sock, drained by a reader thread so
 * that its queue never fills, then sends --count events (default 200000)
 * twice, interleaved in rounds of 1000: as a datagram (the journal turned
 * off: socket, sendto, close per event, the hand-off before the journal)
 * and as a journal record (the kept descriptor's fstat, one write, into
 * DIR/events.journal, removed after each round so that it is reopened
 * once per 1000 events; DIR/events.reader says a daemon reads it).  Prints one JSON object
 * with the calling thread's CPU microseconds per event for each.
 *
 *	bench_handoff --to SOCKET [--procs N] [--rate R] [--seconds S]
 *	              [--count C]
 *
 * Feeds a running daemon through the shim's path (its journal beside
 * SOCKET): N processes (default 4) each send R/N events a second, evenly
 * spaced, for S seconds (default 10); with --rate 0 each sends C events
 * (default 250000) as fast as it can.  Prints one JSON object: events
 * sent and seconds taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../shim/shim.h"

/* What send.c needs of the rest of the shim. */
struct shim_cfg shim_cfg;
_Atomic int shim_cfg_ready;
static char sock_path[RT_PATH_MAX], journal_path[RT_PATH_MAX];
static int use_journal;

const char *
cfg_sock(void)
{
	return sock_path;
}

const char *
cfg_journal(void)
{
	return use_journal ? journal_path : NULL;
}

const char *
cfg_prog(void)
{
	return "bench";
}

void
shim_debug(const char *fmt, ...)
{
	(void)fmt;
}

static int rx_fd;

static void *
reader(void *arg)
{
	char buf[4096];

	(void)arg;
	for (;;)
		if (recv(rx_fd, buf, sizeof(buf), 0) == -1 && errno != EINTR)
			return NULL;
}

static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One sender of feed(): n events, one every gap seconds (0: no pause). */
static long
feed_one(struct rtp_event *ev, long n, double gap)
{
	struct timespec ts;
	double next = mono_s(), d;
	long i, sent = 0;

	for (i = 0; i < n; i++) {
		if (gap > 0) {
			next += gap;
			if ((d = next - mono_s()) > 0) {
				ts.tv_sec = (time_t)d;
				ts.tv_nsec = (long)((d - (double)ts.tv_sec) *
				    1e9);
				nanosleep(&ts, NULL);
			}
		}
		if (send_event(sock_path, ev) == 0)
			sent++;
	}
	return sent;
}

static int
feed(int argc, char **argv, struct rtp_event *ev)
{
	long procs = 4, count = 250000, n, sent = 0;
	double rate = 200, secs = 10, t0;
	int i, st, fds[2];
	pid_t pid;

	for (i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--procs") == 0)
			procs = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--rate") == 0)
			rate = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0)
			secs = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--count") == 0)
			count = atol(argv[i + 1]);
		else
			return 2;
	}
	if (i != argc || procs < 1 || rate < 0 || secs <= 0 ||
	    rt_journal_path(argv[2], journal_path,
	    sizeof(journal_path)) == -1)
		return 2;
	snprintf(sock_path, sizeof(sock_path), "%s", argv[2]);
	use_journal = 1;
	n = rate > 0 ? (long)(rate * secs / (double)procs) : count;
	if (pipe(fds) == -1)
		return 1;
	t0 = mono_s();
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) == -1)
			return 1;
		if (pid == 0) {
			long k;

			send_atfork_child();
			k = feed_one(ev, n, rate > 0 ? (double)procs / rate :
			    0);
			(void)!write(fds[1], &k, sizeof(k));
			_exit(0);
		}
		if (rate > 0)	/* spread the senders over one gap */
			usleep((useconds_t)(1e6 / rate));
	}
	close(fds[1]);
	while (read(fds[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
		sent += n;
	while (wait(&st) > 0)
		;
	printf("{\"sent\": %ld, \"seconds\": %.3f}\n", sent, mono_s() - t0);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun;
	struct rtp_event ev;
	pthread_t th;
	long count = 200000, i, done;
	double t_dgram = 0, t_journal = 0, t0;
	char marker[RT_PATH_MAX + 32];
	int sz = 8 << 20, mfd;

	if (argc >= 3 && strcmp(argv[1], "--to") == 0) {
		rtp_init(&ev);
		ev.http_status = 200;
		ev.usage_state = RTP_USAGE_OK;
		ev.input_tokens = 11;
		ev.output_tokens = 22;
		rtp_strlcpy(ev.model, "claude-sonnet-4-5", sizeof(ev.model));
		rtp_strlcpy(ev.host, "api.anthropic.com", sizeof(ev.host));
		rtp_strlcpy(ev.path, "/v1/messages", sizeof(ev.path));
		rtp_strlcpy(ev.prog, "bench", sizeof(ev.prog));
		if ((i = feed(argc, argv, &ev)) == 2)
			goto usage;
		return (int)i;
	}
	if (argc < 2)
		goto usage;
	if (argc == 4 && strcmp(argv[2], "--count") == 0)
		count = atol(argv[3]);
	else if (argc != 2)
		goto usage;
	snprintf(sock_path, sizeof(sock_path), "%s/ingest.sock", argv[1]);
	snprintf(journal_path, sizeof(journal_path), "%s/events.journal",
	    argv[1]);
	unlink(sock_path);
	unlink(journal_path);
	/* the mark of a daemon that reads the journal: without it the shim
	   would take the socket for an older daemon's and send datagrams */
	snprintf(marker, sizeof(marker), "%s/%s", argv[1], RTJ_READER_NAME);
	if ((mfd = open(marker, O_WRONLY | O_CREAT, 0600)) == -1) {
		perror("bench_handoff: marker");
		return 1;
	}
	close(mfd);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	if ((rx_fd = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
	    bind(rx_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror("bench_handoff: bind");
		return 1;
	}
	(void)setsockopt(rx_fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	pthread_create(&th, NULL, reader, NULL);

	rtp_init(&ev);
	ev.http_status = 200;
	ev.usage_state = RTP_USAGE_OK;
	ev.input_tokens = 11;
	ev.output_tokens = 22;
	rtp_strlcpy(ev.model, "claude-sonnet-4-5", sizeof(ev.model));
	rtp_strlcpy(ev.host, "api.anthropic.com", sizeof(ev.host));
	rtp_strlcpy(ev.path, "/v1/messages", sizeof(ev.path));
	rtp_strlcpy(ev.prog, "bench", sizeof(ev.prog));
	for (done = 0; done < count; done += 1000) {
		use_journal = 0;
		t0 = cpu_s();
		for (i = 0; i < 1000; i++)
			(void)send_event(sock_path, &ev);
		t_dgram += cpu_s() - t0;
		use_journal = 1;
		t0 = cpu_s();
		for (i = 0; i < 1000; i++)
			(void)send_event(sock_path, &ev);
		t_journal += cpu_s() - t0;
		unlink(journal_path);
	}
	printf("{\"events\": %ld, \"datagram_us\": %.2f, \"journal_us\": "
	    "%.2f, \"dropped\": %u}\n", done, t_dgram * 1e6 / (double)done,
	    t_journal * 1e6 / (double)done, (unsigned)send_dropped());
	unlink(sock_path);
	unlink(marker);
	return 0;
usage:
	fprintf(stderr, "usage: bench_handoff DIR [--count N]\n"
	    "       bench_handoff --to SOCKET [--procs N] [--rate R] "
	    "[--seconds S] [--count C]\n");
	return 2;
}
