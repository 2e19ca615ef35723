/*
 * The ingest socket's reader (see ingest.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ratetap/proto.h"

#include "ingest.h"
#include "log.h"
#include "loop.h"
#include "tracker.h"

/*
 * One recvmmsg() slot: a datagram buffer (8-aligned so that the event's
 * 64-bit fields may be copied out) and its own control buffer, since every
 * datagram carries its own sender's credentials.
 */
struct slot {
	union {
		char buf[ING_BUF_SIZE];
		uint64_t align;
	} data;
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
};

/*
 * The slots live in static storage (too large for the stack); the daemon
 * is single-threaded and ing_drain() is not reentrant.
 */
static struct slot slots[ING_MMSG_VLEN];
static struct mmsghdr mmsg[ING_MMSG_VLEN];
static struct iovec iov[ING_MMSG_VLEN];

/*
 * The sender's uid from a received message: 0 with *uid set, 1 when the
 * kernel recorded no credentials (a datagram queued before SO_PASSCRED was
 * set, e.g. on a socket passed by a service manager without
 * PassCredentials=yes: pid 0), -1 when the message has none at all.
 */
static int
sender_uid(struct msghdr *msg, uid_t *uid)
{
	struct cmsghdr *c;
	struct ucred cred;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(cred))) {
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			*uid = cred.uid;
			return cred.pid == 0 ? 1 : 0;
		}
	}
	return -1;
}

/* Check one received datagram of n bytes and apply it to t. */
static void
ingest_one(struct trk *t, struct msghdr *msg, size_t n, uid_t uid,
    time_t now)
{
	struct rtp_event ev;
	uid_t from;
	int err, cr;

	/*
	 * Unrecorded credentials are accepted: the socket is 0600 in a 0700
	 * directory, so only our uid could send to it by path.
	 */
	cr = sender_uid(msg, &from);
	if (cr == -1 || (cr == 0 && from != uid)) {
		log_debug("ingest: datagram from uid %ld ignored",
		    cr == -1 ? -1L : (long)from);
		trk_foreign(t);
		return;
	}
	if (msg->msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		err = RTP_E_SIZE;
	else
		err = rtp_validate(msg->msg_iov[0].iov_base, n, &ev);
	if (err != RTP_OK) {
		log_debug("ingest: datagram of %zu bytes rejected: %s", n,
		    rtp_strerror(err));
		trk_rejected(t, err);
		return;
	}
	trk_event(t, &ev, now);
}

int
ing_drain(int fd, struct trk *t, uid_t uid, time_t now)
{
	unsigned int want, i;
	int count = 0, got;

	while (count < ING_BATCH_MAX) {
		want = ING_BATCH_MAX - count;
		if (want > ING_MMSG_VLEN)
			want = ING_MMSG_VLEN;
		for (i = 0; i < want; i++) {
			struct msghdr *h = &mmsg[i].msg_hdr;

			iov[i].iov_base = slots[i].data.buf;
			iov[i].iov_len = sizeof(slots[i].data.buf);
			memset(h, 0, sizeof(*h));
			h->msg_iov = &iov[i];
			h->msg_iovlen = 1;
			h->msg_control = slots[i].ctl.buf;
			h->msg_controllen = sizeof(slots[i].ctl.buf);
			mmsg[i].msg_len = 0;
		}
		got = recvmmsg(fd, mmsg, want, MSG_DONTWAIT |
		    MSG_CMSG_CLOEXEC, NULL);
		if (got == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		for (i = 0; i < (unsigned int)got; i++)
			ingest_one(t, &mmsg[i].msg_hdr, mmsg[i].msg_len, uid,
			    now);
		count += got;
		if ((unsigned int)got < want)
			break;		/* the queue is empty */
	}
	return count;
}

static void
on_readable(struct loop *l, int fd, int events, void *arg)
{
	static int last_errno;	/* log a persistent error once */
	struct trk *t = arg;

	(void)l;
	(void)events;
	if (ing_drain(fd, t, getuid(), time(NULL)) != -1) {
		last_errno = 0;
		return;
	}
	if (errno != last_errno)
		log_warn("ingest socket");
	last_errno = errno;
}

int
ing_start(struct loop *l, int fd, struct trk *t)
{
	return loop_add_fd(l, fd, LOOP_READ, on_readable, t);
}

void
ing_stop(struct loop *l, int fd)
{
	loop_del_fd(l, fd);
}
