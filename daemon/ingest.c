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

int
ing_drain(int fd, struct trk *t, uid_t uid, time_t now)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	/* 8-aligned so that the event's 64-bit fields may be copied out */
	union {
		char buf[ING_BUF_SIZE];
		uint64_t align;
	} data;
	struct rtp_event ev;
	struct msghdr msg;
	struct iovec iov;
	uid_t from;
	ssize_t n;
	int count = 0, err, cr;

	while (count < ING_BATCH_MAX) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = data.buf;
		iov.iov_len = sizeof(data.buf);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		count++;
		/*
		 * Unrecorded credentials are accepted: the socket is 0600 in a
		 * 0700 directory, so only our uid could send to it by path.
		 */
		cr = sender_uid(&msg, &from);
		if (cr == -1 || (cr == 0 && from != uid)) {
			log_debug("ingest: datagram from uid %ld ignored",
			    cr == -1 ? -1L : (long)from);
			trk_foreign(t);
			continue;
		}
		if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
			err = RTP_E_SIZE;
		else
			err = rtp_validate(data.buf, (size_t)n, &ev);
		if (err != RTP_OK) {
			log_debug("ingest: datagram of %zd bytes rejected: %s",
			    n, rtp_strerror(err));
			trk_rejected(t, err);
			continue;
		}
		trk_event(t, &ev, now);
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
