/*
 * The hand-off of events to ratetapd.  Each event is one record appended
 * to the journal beside the ingest socket (docs/protocol.md) with one
 * write(2) of the whole record.  The journal is opened O_APPEND | O_CREAT |
 * O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC and checked to be a private regular
 * file of ours; the descriptor is kept (moved to a high number, where the
 * application is unlikely to reuse it) for the next events.  The
 * application may close it or dup2() over it at will: before every write
 * fstat() must still show the same file, with a link (not removed), under
 * its cap; otherwise the descriptor is forgotten (never closed: it may be
 * the application's now) and the journal opened again.  Threads share it
 * (O_APPEND writes of one record do not interleave); a forked child
 * shares its parent's.  Nothing waits: the daemon need not be running, it
 * reads the journal when it can.
 *
 * While a daemon older than the journal runs (its socket is there, the
 * marker a journal-reading daemon keeps beside the journal is not) events
 * go as datagrams, which it counts; the journal only when that fails.
 * When the journal cannot take the record (refused, at its cap, a full
 * disk, a path that does not fit) the event goes as a datagram to the
 * ingest socket as before: a fresh AF_UNIX/SOCK_DGRAM socket, non-blocking,
 * a full queue tried twice more after sched_yield().  Only when that fails
 * too is the event dropped and counted; the count travels in the next
 * event that gets through and is then subtracted.  Drops still unreported
 * when the process exits go in one drops-only event from the destructor.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ratetap/safe.h"

#include "shim.h"

#define SEND_RETRIES	2	/* more attempts on a full queue */

static _Atomic uint32_t send_seq;
static _Atomic uint32_t send_drops;
static _Atomic pid_t send_drops_pid;	/* process that counted them */
static _Atomic uint64_t send_stamp;	/* when this sequence began, ns */
static _Atomic int journal_said;	/* a journal refusal was logged */

/* The journal's cap in bytes, read once. */
static uint64_t
journal_cap(void)
{
	static _Atomic uint64_t cap;
	uint64_t c = atomic_load_explicit(&cap, memory_order_relaxed);

	if (c == 0) {
		c = rt_journal_cap();
		atomic_store_explicit(&cap, c, memory_order_relaxed);
	}
	return c;
}

/* This process's sequence stamp (set at its first event, reset by the
 * fork handler), never 0. */
static uint64_t
stamp(void)
{
	uint64_t s = atomic_load(&send_stamp), want = 0;
	struct timespec ts;

	if (s != 0)
		return s;
	clock_gettime(CLOCK_REALTIME, &ts);
	s = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (s == 0)
		s = 1;
	if (!atomic_compare_exchange_strong(&send_stamp, &want, s))
		s = want;	/* another thread was first */
	return s;
}

#define JOURNAL_FD_MIN	512	/* the kept descriptor is moved up here */

/* The kept descriptor of the journal and what it must be. */
static pthread_mutex_t journal_mu = PTHREAD_MUTEX_INITIALIZER;
static int journal_fd = -1;
static dev_t journal_dev;
static ino_t journal_ino;

/* The kept descriptor if it is still the journal (*st its fstat), else a
 * new one (kept), or -1. */
static int
journal_get(const char *path, struct stat *st)
{
	char err[256];
	int fd, hi, e;

	pthread_mutex_lock(&journal_mu);
	fd = journal_fd;
	if (fd != -1 && fstat(fd, st) == 0 && st->st_dev == journal_dev &&
	    st->st_ino == journal_ino && S_ISREG(st->st_mode) &&
	    st->st_nlink > 0) {
		pthread_mutex_unlock(&journal_mu);
		return fd;
	}
	/* closed, replaced by the application, or the file removed: forget
	   it, do not close it (the number may be the application's) */
	journal_fd = -1;
	fd = rt_open_private(path, O_WRONLY | O_APPEND | O_CREAT, 0600, st,
	    err, sizeof(err));
	if (fd == -1) {
		e = errno;
		pthread_mutex_unlock(&journal_mu);
		if (e != EACCES && e != ENOENT &&
		    !atomic_exchange(&journal_said, 1))
			shim_debug("journal %s", err);
		errno = e;
		return -1;
	}
	if ((hi = fcntl(fd, F_DUPFD_CLOEXEC, JOURNAL_FD_MIN)) != -1) {
		close(fd);
		fd = hi;
	}
	journal_fd = fd;
	journal_dev = st->st_dev;
	journal_ino = st->st_ino;
	pthread_mutex_unlock(&journal_mu);
	return fd;
}

#define READER_CHECK_MS	1000	/* how long the answer below is kept */

/*
 * Whether the journal is the way to the daemon: 1 when a daemon that reads
 * it runs (it keeps RTJ_READER_NAME beside the journal) or none runs at all
 * (no socket: the next daemon will read the journal), 0 when the socket is
 * there without the marker: a daemon older than the journal, which counts
 * only datagrams.  Looked up at most once a second per process.
 */
static int
journal_wanted(const char *journal, const char *sock)
{
	static _Atomic int64_t checked_ms;
	static _Atomic int wanted = 1;
	struct timespec ts;
	struct stat st;
	char marker[RT_PATH_MAX + 16];
	const char *slash;
	int64_t now;
	int w, saved = errno;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (now - atomic_load(&checked_ms) < READER_CHECK_MS &&
	    atomic_load(&checked_ms) != 0)
		return atomic_load(&wanted);
	slash = strrchr(journal, '/');
	snprintf(marker, sizeof(marker), "%.*s%s",
	    slash != NULL ? (int)(slash - journal + 1) : 0, journal,
	    RTJ_READER_NAME);
	if (lstat(marker, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_uid == geteuid())
		w = 1;
	else
		w = lstat(sock, &st) == -1 && errno == ENOENT;
	atomic_store(&wanted, w);
	atomic_store(&checked_ms, now != 0 ? now : 1);
	errno = saved;
	return w;
}

/* Append ev to the journal at path: 0, or -1 with errno (and, for a
 * refusal worth saying, a reason logged once). */
static int
journal_append(const char *path, const struct rtp_event *ev)
{
	struct rtj_record rec;
	struct stat st;
	size_t len;
	ssize_t n;
	int fd;

	len = rtj_encode(&rec, ev, stamp());
	if ((fd = journal_get(path, &st)) == -1)
		return -1;
	/* the cap: what the daemon has not yet taken (it punches out what
	   it has, so the blocks in use are what waits) */
	if ((uint64_t)st.st_blocks * 512 + len > journal_cap()) {
		errno = EFBIG;
		return -1;
	}
	do
		n = write(fd, &rec, len);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	/* a short write (full disk) leaves a torn record that the daemon
	   skips and counts */
	if (n != -1)
		errno = ENOSPC;
	return -1;
}

static int
datagram(const char *path, const struct rtp_event *ev)
{
	struct sockaddr_un sun;
	size_t plen;
	ssize_t n;
	int fd, tries = 0, e;

	if ((plen = strlen(path)) == 0 || plen >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
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
	e = n == -1 ? errno : EMSGSIZE;
	close(fd);
	if (n == (ssize_t)sizeof(*ev))
		return 0;
	errno = e;
	return -1;
}

int
send_event(const char *path, struct rtp_event *ev)
{
	const char *journal;
	uint32_t drops;
	int saved = errno, why = 0, jwhy = 0, wanted;

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
	journal = cfg_journal();
	wanted = journal != NULL && journal_wanted(journal, path);
	if (wanted && journal_append(journal, ev) == 0)
		goto sent;
	jwhy = wanted ? errno : 0;
	if (datagram(path, ev) == 0)
		goto sent;
	why = errno;
	/* a daemon older than the journal that is not running after all:
	   the journal keeps the event for the next daemon */
	if (journal != NULL && !wanted) {
		if (journal_append(journal, ev) == 0)
			goto sent;
		jwhy = errno;
	}
	goto err;
sent:
	atomic_fetch_sub(&send_drops, drops);
	errno = saved;
	return 0;
err:
	shim_debug("%s dropped (%s%s%s%s), %u unsent",
	    (ev->flags & RTP_F_DROPS_ONLY) ? "drops report" : "event",
	    jwhy != 0 ? "journal: " : "", jwhy != 0 ? strerror(jwhy) : "",
	    jwhy != 0 ? "; socket: " : "",
	    why != 0 ? strerror(why) : "no usable socket",
	    (unsigned)drops + 1);
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
	atomic_store(&send_stamp, 0);	/* a new sequence, of a new pid */
	/* the parent may have held the lock at fork(); the descriptor is
	   shared and stays usable */
	pthread_mutex_init(&journal_mu, NULL);
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
