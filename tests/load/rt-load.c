/*
 * rt-load: a load generator for ratetapd's ingest socket.
 *
 *	rt-load --socket PATH [--procs N] [--seconds S | --count N]
 *	        [--kind valid|garbage|oversize] [--pause-ms MS] [--names N]
 *	        [--give-up-ms MS]
 *
 * Forks N sender processes (default 1) that send datagrams to PATH as fast
 * as they can, for S seconds (default 2) or exactly N datagrams each, and
 * then prints one JSON object on stdout with their totals.
 *
 * valid: well-formed events, as the shim sends them.  Each datagram carries
 *   the process's sequence number and, like the shim, the number of its
 *   datagrams that failed to send since its last delivered one.  When the
 *   time is up a sender pauses --pause-ms (default 200) and sends one last
 *   event carrying the drops still unreported, retrying until it is
 *   delivered (for at most --give-up-ms, default 10000), so that for a
 *   daemon that stays up:
 *       accepted == sent  and  client_drops == failed  (exactly).
 *   Model and program names cycle through --names N values (default 300,
 *   beyond the daemon's table limits) to show that its memory stays bounded.
 * garbage: datagrams the daemon must reject, in turn: random bytes of a
 *   wrong length (size), the right length with a bad magic (magic), a bad
 *   version (version), an out-of-range field (field), a string that is not
 *   NUL-terminated or not printable (string).  Counted per reason.
 * oversize: datagrams longer than an event, up to 60000 bytes (size).
 *
 * A send that fails (a full receive queue: EAGAIN, or no daemon) is counted
 * as failed and not retried (except the final valid event).  Output keys:
 * kind, procs, seconds (measured), attempts, sent, failed, final_failed
 * (valid: final events never delivered), sent_by_reason {size, magic,
 * version, field, string} (datagrams delivered, by the reason the daemon
 * must give), errors {errno name: count}, rate (sent per second).
 *
 * Exit status 0, 1 when a sender could not run or a final event was never
 * delivered, 2 on usage errors.
 */
#include <errno.h>
#include <getopt.h>
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

#define MAX_PROCS	256
#define OVERSIZE_MAX	60000

enum kind { K_VALID, K_GARBAGE, K_OVERSIZE };

/* Garbage variants, in turn; each maps to the reason the daemon gives. */
enum garbage { G_SIZE, G_MAGIC, G_VERSION, G_FIELD, G_STRING, G_COUNT };

static const int garbage_reason[G_COUNT] = {
	RTP_E_SIZE, RTP_E_MAGIC, RTP_E_VERSION, RTP_E_FIELD, RTP_E_STRING
};

#define N_ERRNO	5
static const int watched_errno[N_ERRNO] = {
	EAGAIN, ENOENT, ECONNREFUSED, ENOBUFS, EACCES
};

struct opts {
	const char *socket;
	int procs;
	double seconds;		/* 0 with count */
	long count;		/* 0: run for seconds */
	enum kind kind;
	int pause_ms;
	int names;
	int give_up_ms;		/* retrying the final valid event */
};

/* One sender's totals, written to the parent through a pipe. */
struct totals {
	uint64_t attempts;
	uint64_t sent;
	uint64_t failed;
	uint64_t final_failed;
	uint64_t by_reason[RTP_E_COUNT];
	uint64_t errors[N_ERRNO + 1];	/* last: any other errno */
	int ok;				/* the sender ran */
};

static void
usage(void)
{
	fprintf(stderr, "usage: rt-load --socket PATH [--procs N] "
	    "[--seconds S | --count N] [--kind valid|garbage|oversize] "
	    "[--pause-ms MS] [--names N] [--give-up-ms MS]\n");
	exit(2);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* xorshift64*: test data only */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static long
parse_long(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
		fprintf(stderr, "rt-load: %s \"%s\": expected %ld to %ld\n",
		    what, s, min, max);
		exit(2);
	}
	return v;
}

/* A well-formed event as the shim would send it after a /v1/messages
 * transfer: usage, rate-limit headers, names cycling through o->names. */
static void
make_valid(const struct opts *o, struct rtp_event *ev, uint32_t seq,
    uint32_t dropped)
{
	char buf[64];
	uint32_t k = seq % (uint32_t)o->names;

	rtp_init(ev);
	ev->flags = RTP_F_TLS;
	ev->pid = (int32_t)getpid();
	ev->seq = seq;
	ev->dropped = dropped;
	ev->http_status = 200;
	ev->method = RTP_M_POST;
	ev->usage_state = RTP_USAGE_OK;
	ev->unified_status = RTP_US_ALLOWED;
	ev->claim = RTP_CLAIM_FIVE_HOUR;
	ev->input_tokens = 11;
	ev->output_tokens = 22;
	ev->cache_creation_input_tokens = 3;
	ev->cache_read_input_tokens = 5;
	ev->present = RTP_PRESENT_D(RTP_D_UTIL_5H) |
	    RTP_PRESENT_D(RTP_D_UTIL_7D);
	ev->d[RTP_D_UTIL_5H] = 0.25;
	ev->d[RTP_D_UTIL_7D] = 0.5;
	snprintf(buf, sizeof(buf), "claude-sonnet-load-%u", (unsigned)k);
	rtp_strlcpy(ev->model, buf, sizeof(ev->model));
	rtp_strlcpy(ev->host, "api.anthropic.com", sizeof(ev->host));
	rtp_strlcpy(ev->path, "/v1/messages", sizeof(ev->path));
	snprintf(buf, sizeof(buf), "rt-load-%u", (unsigned)k);
	rtp_strlcpy(ev->prog, buf, sizeof(ev->prog));
	snprintf(buf, sizeof(buf), "req_load_%ld_%u", (long)getpid(),
	    (unsigned)seq);
	rtp_strlcpy(ev->request_id, buf, sizeof(ev->request_id));
}

/* Fill buf with garbage variant g; returns its length. */
static size_t
make_garbage(const struct opts *o, int g, unsigned char *buf, size_t cap,
    uint64_t *rs, uint32_t seq)
{
	struct rtp_event ev;
	size_t len, i;

	if (g == G_SIZE) {
		/* any length but an event's (today's or version 1's shorter
		   one), 0 included */
		len = (size_t)(rnd(rs) % (2 * RTP_EVENT_SIZE));
		if (len == RTP_EVENT_SIZE || len == RTP_EVENT_SIZE_V1)
			len++;
		for (i = 0; i < len && i < cap; i++)
			buf[i] = (unsigned char)rnd(rs);
		return len;
	}
	make_valid(o, &ev, seq, 0);
	switch (g) {
	case G_MAGIC:
		ev.magic = (uint32_t)rnd(rs) | 1;
		if (ev.magic == RTP_MAGIC)
			ev.magic ^= 2;
		break;
	case G_VERSION:
		ev.version = (uint16_t)(RTP_VERSION + 1 + rnd(rs) % 1000);
		break;
	case G_FIELD:
		switch (rnd(rs) % 4) {
		case 0:
			ev.method = RTP_M_MAX + 1;
			break;
		case 1:
			ev.pad[1] = 1;
			break;
		case 2:
			ev.input_tokens = -1;
			break;
		default:
			ev.pid = 0;
			break;
		}
		break;
	case G_STRING:
		if (rnd(rs) % 2)
			memset(ev.model, 'x', sizeof(ev.model));
		else
			ev.prog[0] = '\x01';
		break;
	}
	memcpy(buf, &ev, sizeof(ev));
	return sizeof(ev);
}

static int
errno_slot(int e)
{
	int k;

	for (k = 0; k < N_ERRNO; k++)
		if (watched_errno[k] == e ||
		    (watched_errno[k] == EAGAIN && e == EWOULDBLOCK))
			return k;
	return N_ERRNO;
}

/* One non-blocking send; 0, or -1 with the errno counted in tot. */
static int
send_one(int fd, const struct sockaddr_un *sun, const void *buf, size_t len,
    struct totals *tot)
{
	ssize_t n;

	do
		n = sendto(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
		    (const struct sockaddr *)sun, sizeof(*sun));
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	tot->errors[errno_slot(n == -1 ? errno : EMSGSIZE)]++;
	return -1;
}

static int
keep_going(const struct opts *o, const struct totals *tot, double end)
{
	if (o->count > 0)
		return tot->attempts < (uint64_t)o->count;
	/* the clock is read every 64 datagrams */
	return (tot->attempts & 63) != 0 || now_s() < end;
}

static void
sender(const struct opts *o, int id, struct totals *tot)
{
	static unsigned char buf[OVERSIZE_MAX];
	struct sockaddr_un sun;
	struct rtp_event ev;
	uint64_t rs;
	uint32_t seq = 0, unreported = 0;
	double end = now_s() + o->seconds, give_up;
	size_t len;
	int fd, g = 0, reason;

	memset(tot, 0, sizeof(*tot));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, o->socket, strlen(o->socket) + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		perror("rt-load: socket");
		return;
	}
	/* a send buffer that holds the largest datagram */
	len = OVERSIZE_MAX + 4096;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ (int)len },
	    sizeof(int));
	rs = (uint64_t)getpid() * UINT64_C(0x9e3779b97f4a7c15) + (uint64_t)id;
	if (rs == 0)
		rs = 1;

	while (keep_going(o, tot, end)) {
		tot->attempts++;
		switch (o->kind) {
		case K_VALID:
			make_valid(o, &ev, ++seq, unreported);
			if (send_one(fd, &sun, &ev, sizeof(ev), tot) == 0) {
				tot->sent++;
				tot->by_reason[RTP_OK]++;
				unreported = 0;
			} else {
				tot->failed++;
				unreported++;
			}
			continue;
		case K_GARBAGE:
			len = make_garbage(o, g, buf, sizeof(buf), &rs, ++seq);
			reason = garbage_reason[g];
			g = (g + 1) % G_COUNT;
			break;
		default:
			len = RTP_EVENT_SIZE + 1 + (size_t)(rnd(&rs) %
			    (OVERSIZE_MAX - RTP_EVENT_SIZE));
			memset(buf, 'A' + (int)(len % 26), len);
			reason = RTP_E_SIZE;
			break;
		}
		if (send_one(fd, &sun, buf, len, tot) == 0) {
			tot->sent++;
			tot->by_reason[reason]++;
		} else
			tot->failed++;
	}

	if (o->kind == K_VALID) {
		/* the last word: whatever drops are still unreported */
		sleep_ms(o->pause_ms);
		make_valid(o, &ev, ++seq, unreported);
		tot->attempts++;
		give_up = now_s() + o->give_up_ms / 1000.0;
		while (send_one(fd, &sun, &ev, sizeof(ev), tot) == -1) {
			if (now_s() > give_up) {
				tot->final_failed = 1;
				break;
			}
			sleep_ms(1);
		}
		if (tot->final_failed) {
			tot->failed++;
		} else {
			tot->sent++;
			tot->by_reason[RTP_OK]++;
		}
	}
	close(fd);
	tot->ok = 1;
}

static int
write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len > 0) {
		n = write(fd, c, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_all(int fd, void *p, size_t len)
{
	char *c = p;
	ssize_t n;

	while (len > 0) {
		n = read(fd, c, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static const char *
kind_name(enum kind k)
{
	return k == K_VALID ? "valid" : k == K_GARBAGE ? "garbage" :
	    "oversize";
}

static const char *
errno_name(int slot)
{
	static const char *const names[N_ERRNO + 1] = {
		"EAGAIN", "ENOENT", "ECONNREFUSED", "ENOBUFS", "EACCES", "other"
	};

	return names[slot];
}

static void
print_totals(const struct opts *o, const struct totals *sum, int ran,
    double secs)
{
	int k, first = 1;

	printf("{\"kind\": \"%s\", \"procs\": %d, \"ran\": %d, "
	    "\"seconds\": %.3f, \"attempts\": %llu, \"sent\": %llu, "
	    "\"failed\": %llu, \"final_failed\": %llu, \"sent_by_reason\": {",
	    kind_name(o->kind), o->procs, ran, secs,
	    (unsigned long long)sum->attempts, (unsigned long long)sum->sent,
	    (unsigned long long)sum->failed,
	    (unsigned long long)sum->final_failed);
	for (k = 0; k < RTP_E_COUNT; k++) {
		printf("%s\"%s\": %llu", k ? ", " : "",
		    k == RTP_OK ? "ok" : rtp_strerror(k),
		    (unsigned long long)sum->by_reason[k]);
	}
	printf("}, \"errors\": {");
	for (k = 0; k <= N_ERRNO; k++) {
		if (sum->errors[k] == 0)
			continue;
		printf("%s\"%s\": %llu", first ? "" : ", ", errno_name(k),
		    (unsigned long long)sum->errors[k]);
		first = 0;
	}
	printf("}, \"rate\": %.0f}\n", secs > 0 ? (double)sum->sent / secs : 0);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "procs", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "kind", required_argument, NULL, 'k' },
		{ "pause-ms", required_argument, NULL, 'P' },
		{ "names", required_argument, NULL, 'n' },
		{ "give-up-ms", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { NULL, 1, 2.0, 0, K_VALID, 200, 300, 10000 };
	struct totals sum, t;
	pid_t pids[MAX_PROCS];
	int fds[MAX_PROCS];
	double start;
	int c, i, k, started, ran = 0, status, rc = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o.socket = optarg;
			break;
		case 'p':
			o.procs = (int)parse_long(optarg, 1, MAX_PROCS,
			    "--procs");
			break;
		case 't':
			o.seconds = (double)parse_long(optarg, 1, 86400,
			    "--seconds");
			break;
		case 'c':
			o.count = parse_long(optarg, 1, 1000000000L,
			    "--count");
			break;
		case 'k':
			if (strcmp(optarg, "valid") == 0)
				o.kind = K_VALID;
			else if (strcmp(optarg, "garbage") == 0)
				o.kind = K_GARBAGE;
			else if (strcmp(optarg, "oversize") == 0)
				o.kind = K_OVERSIZE;
			else
				usage();
			break;
		case 'P':
			o.pause_ms = (int)parse_long(optarg, 0, 60000,
			    "--pause-ms");
			break;
		case 'n':
			o.names = (int)parse_long(optarg, 1, 100000,
			    "--names");
			break;
		case 'g':
			o.give_up_ms = (int)parse_long(optarg, 0, 3600000,
			    "--give-up-ms");
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o.socket == NULL)
		usage();
	if (o.socket[0] == '\0' || strlen(o.socket) >=
	    sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "rt-load: --socket: empty or too long\n");
		return 2;
	}
	if (o.count > 0)
		o.seconds = 0;

	/* a sender that cannot be started is reported as not run; those
	   already running are still waited for */
	start = now_s();
	for (started = 0; started < o.procs; started++) {
		int p[2];

		if (pipe(p) == -1) {
			perror("rt-load: pipe");
			break;
		}
		if ((pids[started] = fork()) == -1) {
			perror("rt-load: fork");
			close(p[0]);
			close(p[1]);
			break;
		}
		if (pids[started] == 0) {
			close(p[0]);
			sender(&o, started, &t);
			_exit(write_all(p[1], &t, sizeof(t)) == 0 && t.ok ?
			    0 : 1);
		}
		close(p[1]);
		fds[started] = p[0];
	}

	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < started; i++) {
		if (read_all(fds[i], &t, sizeof(t)) == 0 && t.ok) {
			ran++;
			sum.attempts += t.attempts;
			sum.sent += t.sent;
			sum.failed += t.failed;
			sum.final_failed += t.final_failed;
			for (k = 0; k < RTP_E_COUNT; k++)
				sum.by_reason[k] += t.by_reason[k];
			for (k = 0; k <= N_ERRNO; k++)
				sum.errors[k] += t.errors[k];
		}
		close(fds[i]);
		while (waitpid(pids[i], &status, 0) == -1 && errno == EINTR)
			;
	}
	print_totals(&o, &sum, ran, now_s() - start);
	if (ran != o.procs || sum.final_failed != 0)
		rc = 1;
	return rc;
}
