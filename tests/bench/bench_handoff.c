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
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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
	fprintf(stderr, "usage: bench_handoff DIR [--count N]\n");
	return 2;
}
