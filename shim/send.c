/*
 * The datagram sender.  Each event is one sendto() on a fresh
 * AF_UNIX/SOCK_DGRAM socket that is non-blocking and close-on-exec, closed
 * right after: no descriptor lives on in the application (which may close or
 * reuse descriptor numbers at will), nothing is shared between threads or
 * across fork().  A full queue (the kernel holds only net.unix.max_dgram_qlen
 * datagrams, 10 by default, per unread socket) is tried twice more after
 * sched_yield(), never waiting longer.  Any failure (no daemon, queue still
 * full) drops the datagram and counts it; the count travels in the next
 * datagram that gets through and is then subtracted.  Drops still unreported
 * when the process exits go in one drops-only datagram from the destructor.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim.h"

#define SEND_RETRIES	2	/* more attempts on a full queue */

static _Atomic uint32_t send_seq;
static _Atomic uint32_t send_drops;
static _Atomic pid_t send_drops_pid;	/* process that counted them */

int
send_event(const char *path, struct rtp_event *ev)
{
	struct sockaddr_un sun;
	uint32_t drops;
	size_t plen;
	ssize_t n;
	int fd = -1, saved = errno, why = 0, tries = 0;

	drops = atomic_load(&send_drops);
	if ((ev->flags & RTP_F_DROPS_ONLY) && drops == 0)
		return 0;	/* reported meanwhile by another thread */
	ev->pid = (int32_t)getpid();	/* a forked child reports itself */
	ev->seq = atomic_fetch_add(&send_seq, 1) + 1;
	ev->dropped = drops;
	if (path == NULL) {
		why = 0;	/* no socket that may be used */
		goto err;
	}
	if ((plen = strlen(path)) == 0 || plen >= sizeof(sun.sun_path)) {
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
	for (;;) {
		n = sendto(fd, ev, sizeof(*ev), MSG_DONTWAIT | MSG_NOSIGNAL,
		    (struct sockaddr *)&sun, sizeof(sun));
		if (n != -1)
			break;
		if (errno == EINTR)
			continue;
		/* the receiver's queue is full: let it run, briefly */
		if ((errno != EAGAIN && errno != EWOULDBLOCK) ||
		    tries++ == SEND_RETRIES)
			break;
		(void)sched_yield();
	}
	if (n != (ssize_t)sizeof(*ev)) {
		why = n == -1 ? errno : EMSGSIZE;
		goto err;
	}
	close(fd);
	atomic_fetch_sub(&send_drops, drops);
	errno = saved;
	return 0;
err:
	shim_debug("%s dropped (%s), %u unsent",
	    (ev->flags & RTP_F_DROPS_ONLY) ? "drops report" : "event",
	    why != 0 ? strerror(why) : "no usable socket",
	    (unsigned)drops + 1);
	if (fd != -1)
		close(fd);
	atomic_fetch_add(&send_drops, 1);
	atomic_store(&send_drops_pid, getpid());
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
	atomic_store(&send_drops_pid, 0);
}

int
send_report_drops(const char *path, const char *prog)
{
	struct rtp_event ev;

	/* drops counted by a parent whose memory this process copied
	   without the fork handlers (clone, vfork) are not ours */
	if (atomic_load(&send_drops) == 0 ||
	    atomic_load(&send_drops_pid) != getpid())
		return 0;
	rtp_init(&ev);
	ev.flags = RTP_F_DROPS_ONLY;
	rtp_strlcpy(ev.prog, prog, sizeof(ev.prog));
	return send_event(path, &ev);
}

/* At exit (also of a forked child, whose counts the fork handler reset):
 * report what never got through. */
__attribute__((destructor)) static void
send_fini(void)
{
	const char *path;

	/* no hook ever ran (most programs): nothing was sent, and no page
	   of the shim's data is touched on the way out */
	if (!atomic_load_explicit(&shim_cfg_ready, memory_order_relaxed) ||
	    shim_cfg.off || atomic_load(&send_drops) == 0 ||
	    (path = cfg_sock()) == NULL)
		return;
	(void)send_report_drops(path, cfg_prog());
}
