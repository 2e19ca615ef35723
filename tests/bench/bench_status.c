/*
 * bench_status: latency of GET /v1/status on ratetapd's control socket.
 *
 *	bench_status --control PATH [-n N] [--interval-ms MS]
 *	    [--hammer H] [--half-open K]
 *
 * Makes N requests (default 1000), one after the other, each on a new
 * connection as `ratetap status` makes it, pausing MS milliseconds (default
 * 0) between them, and times each from connect() to the end of the response.
 * A request counts as ok when the response is HTTP 200 and its body holds
 * "windows".
 *
 * Meanwhile H processes (default 0) hammer the socket with the same
 * request in a tight loop, and K connections (default 0), opened first by
 * processes of 16 connections each (as many clients), hold half a request
 * each until the end: the latency of one more client while others abuse the
 * socket.  "hammered" in the output counts the hammers' answers, "held" the
 * half-open connections still open at the end.
 *
 * Prints one JSON object: n, ok, p50_us, p90_us, p99_us, max_us (over the
 * ok requests), bytes (size of the last response).  Exit status 0 when
 * every request was ok, 1 otherwise, 2 on usage errors.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RESP_MAX	(4 * 1024 * 1024)

static void
usage(void)
{
	fprintf(stderr, "usage: bench_status --control PATH [-n N] "
	    "[--interval-ms MS]\n");
	exit(2);
}

static int
parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/*
 * One request: 0 with the response in buf (*len bytes), -1 on a connection
 * or protocol error.
 */
static int
one_request(const char *path, char *buf, size_t cap, size_t *len)
{
	static const char req[] = "GET /v1/status HTTP/1.1\r\n"
	    "Host: localhost\r\nConnection: close\r\n\r\n";
	struct sockaddr_un sun;
	size_t off = 0;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		goto err;
	while (off < sizeof(req) - 1) {
		ssize_t n = write(fd, req + off, sizeof(req) - 1 - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto err;
		off += (size_t)n;
	}
	off = 0;
	for (;;) {
		ssize_t n;

		if (off + 1 >= cap)
			goto err;
		n = read(fd, buf + off, cap - 1 - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto err;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	*len = off;
	close(fd);
	return 0;
err:
	close(fd);
	return -1;
}

#define HALF_PER_PROC	16

struct shared {
	atomic_long hammered;
	atomic_int held;
	atomic_int ready;
};

static void
hammer(const char *path, struct shared *sh)
{
	char *buf = malloc(RESP_MAX);
	size_t len;

	atomic_fetch_add(&sh->ready, 1);
	if (buf == NULL)
		_exit(1);
	for (;;)
		if (one_request(path, buf, RESP_MAX, &len) == 0)
			atomic_fetch_add(&sh->hammered, 1);
}

/* Hold n connections with half a request each until killed; count in
 * sh->held those the daemon has not closed when asked (SIGUSR1). */
static volatile sig_atomic_t count_held;

static void
on_usr1(int sig)
{
	(void)sig;
	count_held = 1;
}

static void
hold_half_open(const char *path, int n, struct shared *sh)
{
	static const char half[] = "GET /v1/status HTTP/1.1\r\nHost: loc";
	struct sockaddr_un sun;
	int fds[HALF_PER_PROC], i;
	char c;

	signal(SIGUSR1, on_usr1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] == -1 || connect(fds[i], (struct sockaddr *)&sun,
		    sizeof(sun)) == -1 || write(fds[i], half,
		    sizeof(half) - 1) != (ssize_t)(sizeof(half) - 1)) {
			if (fds[i] != -1)
				close(fds[i]);
			fds[i] = -1;
		}
	}
	atomic_fetch_add(&sh->ready, 1);
	while (!count_held)
		pause();
	for (i = 0; i < n; i++)
		if (fds[i] != -1 && recv(fds[i], &c, 1, MSG_DONTWAIT) == -1 &&
		    errno == EAGAIN)
			atomic_fetch_add(&sh->held, 1);
	atomic_fetch_add(&sh->ready, 1);
	pause();
	_exit(0);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0-1) of the sorted v[0..n-1], nearest rank. */
static double
quantile(const double *v, int n, double q)
{
	int i = (int)(q * n + 0.999999) - 1;

	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

int
main(int argc, char **argv)
{
	const char *control = NULL;
	int n = 1000, interval_ms = 0, i, ok = 0, nhammer = 0, nhalf = 0;
	pid_t kids[256 + 100000 / HALF_PER_PROC + 1];
	int nkids = 0, nhold = 0, k;
	struct shared *sh;
	double *lat;
	char *buf;
	size_t len = 0;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--control") == 0)
			control = argv[++i];
		else if (strcmp(argv[i], "-n") == 0) {
			if (parse_int(argv[++i], 1, 10000000, &n) == -1)
				usage();
		} else if (strcmp(argv[i], "--interval-ms") == 0) {
			if (parse_int(argv[++i], 0, 60000, &interval_ms) == -1)
				usage();
		} else if (strcmp(argv[i], "--hammer") == 0) {
			if (parse_int(argv[++i], 0, 256, &nhammer) == -1)
				usage();
		} else if (strcmp(argv[i], "--half-open") == 0) {
			if (parse_int(argv[++i], 0, 100000, &nhalf) == -1)
				usage();
		} else
			usage();
	}
	if (control == NULL || strlen(control) >= sizeof(
	    ((struct sockaddr_un *)NULL)->sun_path))
		usage();
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	for (k = 0; k < nhalf; k += HALF_PER_PROC) {
		int m = nhalf - k < HALF_PER_PROC ? nhalf - k : HALF_PER_PROC;

		if ((kids[nkids] = fork()) == 0)
			hold_half_open(control, m, sh);
		if (kids[nkids] > 0)
			nkids++;
	}
	nhold = nkids;
	for (k = 0; k < nhammer; k++) {
		if ((kids[nkids] = fork()) == 0)
			hammer(control, sh);
		if (kids[nkids] > 0)
			nkids++;
	}
	while (atomic_load(&sh->ready) < nkids)
		usleep(1000);
	lat = calloc((size_t)n, sizeof(*lat));
	buf = malloc(RESP_MAX);
	if (lat == NULL || buf == NULL) {
		fprintf(stderr, "bench_status: out of memory\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		double t0 = now_us(), t1;

		if (one_request(control, buf, RESP_MAX, &len) == 0 &&
		    strncmp(buf, "HTTP/1.1 200", 12) == 0 &&
		    strstr(buf, "\"windows\"") != NULL) {
			t1 = now_us();
			lat[ok++] = t1 - t0;
		}
		if (interval_ms > 0) {
			struct timespec ts = { interval_ms / 1000,
			    (long)(interval_ms % 1000) * 1000000L };

			while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
				;
		}
	}
	for (k = 0; k < nhold; k++)
		kill(kids[k], SIGUSR1);
	while (atomic_load(&sh->ready) < nkids + nhold)
		usleep(1000);
	for (k = 0; k < nkids; k++) {
		kill(kids[k], SIGKILL);
		waitpid(kids[k], NULL, 0);
	}
	if (ok == 0) {
		printf("{\"n\": %d, \"ok\": 0}\n", n);
		fprintf(stderr, "bench_status: no request succeeded on %s\n",
		    control);
		return 1;
	}
	qsort(lat, (size_t)ok, sizeof(*lat), cmp_double);
	printf("{\"n\": %d, \"ok\": %d, \"p50_us\": %.1f, \"p90_us\": %.1f, "
	    "\"p99_us\": %.1f, \"max_us\": %.1f, \"bytes\": %zu, \"hammered\": %ld, \"held\": %d}\n", n, ok,
	    quantile(lat, ok, 0.50), quantile(lat, ok, 0.90),
	    quantile(lat, ok, 0.99), lat[ok - 1], len,
	    (long)atomic_load(&sh->hammered), atomic_load(&sh->held));
	free(lat);
	free(buf);
	return ok == n ? 0 : 1;
}
