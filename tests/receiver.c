/*
 * rt-receiver: the integration tests' stand-in for ratetapd's ingest socket.
 *
 *	rt-receiver PATH
 *
 * Binds an AF_UNIX datagram socket at PATH (removing a stale one first) and
 * prints one JSON object per line on stdout for each datagram received,
 * flushed at once: the fields of struct rtp_event by name, or
 * {"invalid": "<rtp_strerror reason>", "len": N} for one that rtp_validate()
 * rejects.  Every line also carries "sender_pid" and "sender_uid" from the
 * datagram's SCM_CREDENTIALS.
 *
 * It also reads the journal beside PATH (events.journal, the shim's durable
 * hand-off, see docs/protocol.md) from its start, as ratetapd does, every
 * 5 ms: each record's event is printed likewise, with "sender_pid" the
 * record's pid, "sender_uid" the file's owner and "via": "journal" (a
 * datagram's line says "via": "datagram"); bytes that are not a record
 * give {"invalid": "journal", "len": N}.  A repeated (pid, stamp, seq) is
 * printed again: the receiver shows what arrives, the daemon de-duplicates.
 * SIGTERM and SIGINT stop it (after a last read of the journal); it removes
 * PATH on the way out.  See docs/hacking.md ("The test receiver").
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ratetap/paths.h"
#include "ratetap/proto.h"

#define RCVBUF_BYTES	(8 << 20)
#define MAXDGRAM	65536

static volatile sig_atomic_t stop_sig;

static const char *const method_names[RTP_M_MAX + 1] = {
	"OTHER", "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"
};
static const char *const usage_names[RTP_USAGE_MAX + 1] = {
	"none", "ok", "unreadable"
};
static const char *const ustatus_names[RTP_US_MAX + 1] = {
	"absent", "allowed", "allowed_warning", "rejected", "other"
};
static const char *const claim_names[RTP_CLAIM_MAX + 1] = {
	"absent", "five_hour", "seven_day", "seven_day_opus",
	"seven_day_sonnet", "overage", "other"
};
static const struct {
	uint32_t bit;
	const char *name;
} flag_names[] = {
	{ RTP_F_STREAM, "stream" },
	{ RTP_F_TLS, "tls" },
	{ RTP_F_NO_DONE, "no_done" },
	{ RTP_F_HEADERS_UNREAD, "headers_unread" },
	{ RTP_F_ERROR_BODY, "error_body" },
	{ RTP_F_DROPS_ONLY, "drops_only" },
	{ RTP_F_CUT_SHORT, "cut_short" },
	{ RTP_F_TLS_TAP, "tls_tap" },
};
static const char *const dbl_names[RTP_D_COUNT] = {
	"util_5h", "util_7d", "util_7d_sonnet", "util_7d_opus",
	"util_overage", "fallback_pct", "surpassed_5h", "surpassed_7d"
};
static const char *const int_names[RTP_I_COUNT] = {
	"reset_5h", "reset_7d", "reset_7d_sonnet", "reset_7d_opus", "reset",
	"reset_overage", "req_limit", "req_remaining", "req_reset",
	"tok_limit", "tok_remaining", "tok_reset", "in_limit", "in_remaining",
	"in_reset", "out_limit", "out_remaining", "out_reset", "retry_after"
};

_Static_assert(sizeof(flag_names) / sizeof(flag_names[0]) ==
    __builtin_popcount(RTP_F_ALL),
    "one name per RTP_F_ bit");

static void
on_signal(int sig)
{
	stop_sig = sig;
}

static int
add_num(cJSON *o, const char *name, double v)
{
	return cJSON_AddNumberToObject(o, name, v) == NULL ? -1 : 0;
}

static int
add_str(cJSON *o, const char *name, const char *v)
{
	return cJSON_AddStringToObject(o, name, v) == NULL ? -1 : 0;
}

/* The JSON object describing a valid event; NULL on allocation failure. */
static cJSON *
event_json(const struct rtp_event *ev)
{
	cJSON *o, *flags;
	size_t k;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (add_num(o, "pid", ev->pid) == -1 ||
	    add_num(o, "seq", ev->seq) == -1 ||
	    add_num(o, "dropped", ev->dropped) == -1 ||
	    add_num(o, "curl_code", ev->curl_code) == -1 ||
	    add_num(o, "http_status", ev->http_status) == -1 ||
	    add_str(o, "method", method_names[ev->method]) == -1 ||
	    add_str(o, "usage_state", usage_names[ev->usage_state]) == -1 ||
	    add_num(o, "input_tokens", (double)ev->input_tokens) == -1 ||
	    add_num(o, "output_tokens", (double)ev->output_tokens) == -1 ||
	    add_num(o, "cache_creation_input_tokens",
	    (double)ev->cache_creation_input_tokens) == -1 ||
	    add_num(o, "cache_read_input_tokens",
	    (double)ev->cache_read_input_tokens) == -1 ||
	    add_str(o, "model", ev->model) == -1 ||
	    add_str(o, "host", ev->host) == -1 ||
	    add_str(o, "path", ev->path) == -1 ||
	    add_str(o, "prog", ev->prog) == -1 ||
	    add_str(o, "request_id", ev->request_id) == -1 ||
	    add_str(o, "unified_status",
	    ustatus_names[ev->unified_status]) == -1 ||
	    add_str(o, "status_5h", ustatus_names[ev->status_5h]) == -1 ||
	    add_str(o, "status_7d", ustatus_names[ev->status_7d]) == -1 ||
	    add_str(o, "overage_status",
	    ustatus_names[ev->overage_status]) == -1 ||
	    add_str(o, "claim", claim_names[ev->claim]) == -1 ||
	    add_str(o, "overage_reason", ev->overage_reason) == -1)
		goto err;
	{
		cJSON *ws, *w;
		int i;

		/* the windows only headers name */
		if ((ws = cJSON_AddArrayToObject(o, "windows")) == NULL)
			goto err;
		for (i = 0; i < ev->nwin && i < RTP_WIN_SLOTS; i++) {
			const struct rtp_win *hw = &ev->win[i];

			if ((w = cJSON_CreateObject()) == NULL ||
			    !cJSON_AddItemToArray(ws, w)) {
				cJSON_Delete(w);
				goto err;
			}
			if (add_str(w, "name", hw->name) == -1 ||
			    ((hw->present & RTP_W_UTIL) &&
			    add_num(w, "utilization", hw->util) == -1) ||
			    ((hw->present & RTP_W_RESET) &&
			    add_num(w, "reset", (double)hw->reset) == -1) ||
			    ((hw->present & RTP_W_STATUS) &&
			    add_str(w, "status", ustatus_names[hw->status]) ==
			    -1))
				goto err;
		}
	}
	if ((flags = cJSON_AddArrayToObject(o, "flags")) == NULL)
		goto err;
	for (k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++) {
		cJSON *s;

		if (!(ev->flags & flag_names[k].bit))
			continue;
		if ((s = cJSON_CreateString(flag_names[k].name)) == NULL ||
		    !cJSON_AddItemToArray(flags, s)) {
			cJSON_Delete(s);
			goto err;
		}
	}
	for (k = 0; k < RTP_D_COUNT; k++)
		if ((ev->present & RTP_PRESENT_D(k)) &&
		    add_num(o, dbl_names[k], ev->d[k]) == -1)
			goto err;
	for (k = 0; k < RTP_I_COUNT; k++)
		if ((ev->present & RTP_PRESENT_I(k)) &&
		    add_num(o, int_names[k], (double)ev->i[k]) == -1)
			goto err;
	return o;
err:
	cJSON_Delete(o);
	return NULL;
}

/* Print one event's line; -1 when stdout fails. */
static int
report(const unsigned char *buf, size_t len, const struct ucred *cred,
    const char *via)
{
	struct rtp_event ev;
	cJSON *o;
	char *line;
	int rc, ret = -1;

	rc = rtp_validate(buf, len, &ev);
	if (rc == RTP_OK)
		o = event_json(&ev);
	else if ((o = cJSON_CreateObject()) != NULL &&
	    (add_str(o, "invalid", rtp_strerror(rc)) == -1 ||
	    add_num(o, "len", (double)len) == -1)) {
		cJSON_Delete(o);
		o = NULL;
	}
	if (o == NULL) {
		fprintf(stderr, "rt-receiver: out of memory\n");
		return -1;
	}
	if (cred != NULL && (add_num(o, "sender_pid", cred->pid) == -1 ||
	    add_num(o, "sender_uid", cred->uid) == -1))
		goto err;
	if (add_str(o, "via", via) == -1)
		goto err;
	if ((line = cJSON_PrintUnformatted(o)) == NULL)
		goto err;
	if (printf("%s\n", line) < 0 || fflush(stdout) == EOF)
		fprintf(stderr, "rt-receiver: stdout: %s\n", strerror(errno));
	else
		ret = 0;
	cJSON_free(line);
err:
	cJSON_Delete(o);
	return ret;
}

static int
open_socket(const char *path)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, on = 1, sz = RCVBUF_BYTES;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "rt-receiver: path too long (max %zu): %s\n",
		    sizeof(sun.sun_path) - 1, path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "rt-receiver: socket: %s\n", strerror(errno));
		return -1;
	}
	/* SO_RCVBUFFORCE needs CAP_NET_ADMIN; otherwise take what rmem_max
	   allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == -1 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) == -1)
		fprintf(stderr, "rt-receiver: SO_RCVBUF: %s\n", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == -1) {
		fprintf(stderr, "rt-receiver: SO_PASSCRED: %s\n",
		    strerror(errno));
		goto err;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		fprintf(stderr, "rt-receiver: unlink %s: %s\n", path,
		    strerror(errno));
		goto err;
	}
	old = umask(0077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "rt-receiver: bind %s: %s\n", path,
		    strerror(errno));
		umask(old);
		goto err;
	}
	umask(old);
	return fd;
err:
	close(fd);
	return -1;
}

/* Receive one datagram and report it; -1 on a fatal error. */
static int
receive_one(int fd)
{
	static unsigned char buf[MAXDGRAM];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg;
	struct cmsghdr *cm;
	const struct ucred *cred = NULL;
	struct ucred uc;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	/* MSG_TRUNC: the real length, also of an oversized datagram */
	n = recvmsg(fd, &msg, MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		fprintf(stderr, "rt-receiver: recvmsg: %s\n", strerror(errno));
		return -1;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(uc))) {
			memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
			cred = &uc;
		}
	}
	/* A datagram longer than buf is reported with its real length;
	   rtp_validate() rejects it on size before reading anything. */
	return report(buf, (size_t)n, cred, "datagram");
}

/* The journal beside the socket: where reading stopped, and its fd. */
static char jpath[4096];
static int jfd = -1;
static off_t joff;
static unsigned char jbuf[1 << 20];

/* Print a line for bytes of the journal that are not a record. */
static int
report_garbage(size_t len)
{
	printf("{\"invalid\":\"journal\",\"len\":%zu,\"via\":"
	    "\"journal\"}\n", len);
	return fflush(stdout) == EOF ? -1 : 0;
}

/* Report what was appended to the journal since the last call. */
static int
read_journal(void)
{
	struct stat st;
	struct rtj_hdr h;
	struct ucred uc;
	size_t pos, len, skip;
	ssize_t n;
	int r;

	if (jfd == -1) {
		jfd = open(jpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
		if (jfd == -1)
			return 0;
		if (fstat(jfd, &st) == -1 || !S_ISREG(st.st_mode)) {
			close(jfd);
			jfd = -1;
			return 0;
		}
	}
	for (;;) {
		if (fstat(jfd, &st) == -1 || st.st_size <= joff)
			return 0;
		n = pread(jfd, jbuf, sizeof(jbuf), joff);
		if (n <= 0)
			return 0;
		pos = 0;
		skip = 0;
		while (pos < (size_t)n) {
			r = rtj_frame(jbuf + pos, (size_t)n - pos, &h, &len);
			if (r == RTJ_SHORT)
				break;
			if (r == RTJ_BAD) {
				pos++;
				skip++;
				continue;
			}
			if (skip > 0 && report_garbage(skip) == -1)
				return -1;
			skip = 0;
			uc.pid = h.pid;
			uc.uid = st.st_uid;
			uc.gid = st.st_gid;
			if (report(jbuf + pos + sizeof(h), h.payload, &uc,
			    "journal") == -1)
				return -1;
			pos += len;
		}
		if (skip > 0 && report_garbage(skip) == -1)
			return -1;
		joff += (off_t)pos;
		if (pos == 0)
			return 0;	/* an incomplete record: later */
	}
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	struct pollfd pfd;
	sigset_t block, orig;
	int fd, ret = 1;

	if (argc != 2 || argv[1][0] == '\0') {
		fprintf(stderr, "usage: rt-receiver PATH\n");
		return 2;
	}
	/* Block the stop signals except inside ppoll(), so that one arriving
	   between the check and the wait cannot be lost. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	if (sigprocmask(SIG_BLOCK, &block, &orig) == -1) {
		perror("rt-receiver: sigprocmask");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1) {
		perror("rt-receiver: sigaction");
		return 1;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {	/* EPIPE ends the loop */
		perror("rt-receiver: signal");
		return 1;
	}
	if ((fd = open_socket(argv[1])) == -1)
		return 1;
	if (rt_journal_path(argv[1], jpath, sizeof(jpath)) == -1) {
		fprintf(stderr, "rt-receiver: path too long: %s\n", argv[1]);
		goto err;
	}

	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!stop_sig) {
		struct timespec tick = { 0, 5 * 1000 * 1000 };
		int r = ppoll(&pfd, 1, &tick, &orig), e = errno;

		if (read_journal() == -1)
			goto err;
		errno = e;

		if (r == -1) {
			if (errno == EINTR)
				continue;
			perror("rt-receiver: ppoll");
			goto err;
		}
		if ((pfd.revents & POLLIN) && receive_one(fd) == -1)
			goto err;
	}
	ret = read_journal() == -1 ? 1 : 0;
err:
	close(fd);
	if (unlink(argv[1]) == -1 && errno != ENOENT)
		fprintf(stderr, "rt-receiver: unlink %s: %s\n", argv[1],
		    strerror(errno));
	return ret;
}
