/*
 * The datagram sender.  Each event is one sendto() on a fresh
 * AF_UNIX/SOCK_DGRAM socket that is non-blocking and close-on-exec, closed
 * right after: no descriptor lives on in the application (which may close or
 * reuse descriptor numbers at will), nothing is shared between threads or
 * across fork().  Any failure (no daemon, full queue) drops the datagram and
 * counts it; the count travels in the next datagram that gets through and is
 * then subtracted.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim.h"

static _Atomic uint32_t send_seq;
static _Atomic uint32_t send_drops;

int
send_event(const char *path, struct rtp_event *ev)
{
	struct sockaddr_un sun;
	uint32_t drops;
	size_t plen;
	ssize_t n;
	int fd = -1, saved = errno, why = 0;

	ev->pid = (int32_t)getpid();	/* a forked child reports itself */
	ev->seq = atomic_fetch_add(&send_seq, 1) + 1;
	drops = atomic_load(&send_drops);
	ev->dropped = drops;
	if (path == NULL || (plen = strlen(path)) == 0 ||
	    plen >= sizeof(sun.sun_path)) {
		why = ENAMETOOLONG;
		goto err;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		why = errno;
		goto err;
	}
	do
		n = sendto(fd, ev, sizeof(*ev), MSG_DONTWAIT | MSG_NOSIGNAL,
		    (struct sockaddr *)&sun, sizeof(sun));
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(*ev)) {
		why = n == -1 ? errno : EMSGSIZE;
		goto err;
	}
	close(fd);
	atomic_fetch_sub(&send_drops, drops);
	errno = saved;
	return 0;
err:
	shim_debug("event dropped (%s), %u unsent", strerror(why),
	    (unsigned)drops + 1);
	if (fd != -1)
		close(fd);
	atomic_fetch_add(&send_drops, 1);
	errno = saved;
	return -1;
}

uint32_t
send_dropped(void)
{
	return atomic_load(&send_drops);
}

void
send_atfork_child(void)
{
	atomic_store(&send_seq, 0);
	atomic_store(&send_drops, 0);
}
