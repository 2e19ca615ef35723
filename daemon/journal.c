/*
 * The journal's reader (see journal.h and docs/protocol.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ratetap/paths.h"
#include "ratetap/proto.h"
#include "ratetap/safe.h"

#include "journal.h"
#include "log.h"
#include "loop.h"
#include "tracker.h"

#define JRN_BUF		(1024 * 1024)	/* bytes read at once */
#define JRN_TICK_MS	1000		/* the timer's period */
#define JRN_TORN_MS	2000		/* an incomplete last record that
					   stays so this long is torn */
#define JRN_PUNCH_ALIGN	4096
/*
 * After an inotify wakeup the journal is read this much later, with the
 * inotify descriptor out of the loop meanwhile, and again every so long
 * while each read finds records: a steady trickle from many writers costs
 * one wakeup per window, not one (or two) per record.  A wakeup costs
 * 50-200 us of CPU on a small VM, a record about 1 us.  Nobody waits for
 * it: every request that reads counts catches the journal up first
 * (jrn_catch_up()); only the ledger, warnings and the OTLP push see an
 * event up to this much later.  When a read finds nothing, inotify wakes
 * the next one.
 */
#define JRN_COALESCE_MS	500
/* The 1 s tick (torn records, the disk, a journal that was refused or is
 * followed without inotify) may wait this much for another wakeup while
 * inotify follows a healthy journal (none of those), else none. */
#define JRN_TICK_SLACK_MS 4000

struct jrn {
	struct loop *l;
	struct trk *t;
	char path[RT_FILE_MAX];
	char dir[RT_FILE_MAX];
	char marker[RT_FILE_MAX + 16];	/* RTJ_READER_NAME, ours while we run */
	int marked;
	int fd;
	int ino_fd;		/* inotify, -1 if none */
	int64_t timer;		/* the 1 s timer */
	int64_t soon;		/* a 0 ms timer while a backlog remains */
	int64_t window;		/* the coalescing timer, 0 when none */
	int64_t punched;	/* freed below this */
	int punch_failed;	/* said once */
	int64_t tail_off;	/* an incomplete record waits here, -1 none */
	int64_t tail_size;
	int64_t tail_since;	/* loop ms */
	char *buf;
};

static void
set_error(struct jrn *j, const char *msg)
{
	struct trk_jrn *tj = &j->t->jrn;

	if (strcmp(tj->error, msg) == 0)
		return;
	if (msg[0] != '\0') {
		log_warnx("journal: %s", msg);
		tj->refused++;
		j->t->dirty = 1;
	} else if (tj->error[0] != '\0')
		log_info("journal %s is read again", j->path);
	snprintf(tj->error, sizeof(tj->error), "%s", msg);
}

/* (Re)open the journal; 0 or -1 (refused or missing: said, retried). */
static int
reopen(struct jrn *j)
{
	char err[512];
	struct stat st;
	int fd;

	if (j->fd != -1) {
		close(j->fd);
		j->fd = -1;
	}
	if (rt_dir_check(j->dir, err, sizeof(err)) == -1) {
		set_error(j, err);
		return -1;
	}
	fd = rt_open_private(j->path, O_RDWR | O_CREAT, 0600, &st, err,
	    sizeof(err));
	if (fd == -1) {
		set_error(j, err);
		return -1;
	}
	j->fd = fd;
	j->tail_off = -1;
	j->punched = 0;
	set_error(j, "");
	return 0;
}

/* Hash slot of (pid, stamp) in t->jrn.index. */
static unsigned
slot_of(int32_t pid, uint64_t stamp)
{
	uint64_t h = (stamp ^ ((uint64_t)(uint32_t)pid << 32)) *
	    UINT64_C(0x9e3779b97f4a7c15);

	return (unsigned)(h >> 40) % (TRK_SEEN_MAX * 4);
}

static void
reindex(struct trk_jrn *tj)
{
	int i;

	for (i = 0; i < TRK_SEEN_MAX * 4; i++)
		tj->index[i] = -1;
	for (i = 0; i < tj->nseen; i++) {
		unsigned s = slot_of(tj->seen[i].pid, tj->seen[i].stamp);

		while (tj->index[s] != -1)
			s = (s + 1) % (TRK_SEEN_MAX * 4);
		tj->index[s] = (int16_t)i;
	}
	tj->indexed = 1;
}

int
jrn_seen(struct trk *t, int32_t pid, uint64_t stamp, uint32_t seq)
{
	struct trk_jrn *tj = &t->jrn;
	struct trk_seen *w = NULL;
	unsigned s;
	uint32_t d;
	int i, old;

	if (!tj->indexed)
		reindex(tj);
	tj->tick++;
	for (s = slot_of(pid, stamp); tj->index[s] != -1;
	    s = (s + 1) % (TRK_SEEN_MAX * 4)) {
		w = &tj->seen[tj->index[s]];
		if (w->pid == pid && w->stamp == stamp)
			break;
		w = NULL;
	}
	if (w == NULL) {
		if (tj->nseen < TRK_SEEN_MAX)
			w = &tj->seen[tj->nseen++];
		else {
			/* forget the writer heard from least recently */
			for (old = 0, i = 1; i < tj->nseen; i++)
				if (tj->seen[i].used < tj->seen[old].used)
					old = i;
			w = &tj->seen[old];
			tj->indexed = 0;
		}
		w->pid = pid;
		w->stamp = stamp;
		w->max_seq = seq;
		w->below = 0;
		w->used = tj->tick;
		if (tj->indexed) {
			while (tj->index[s] != -1)
				s = (s + 1) % (TRK_SEEN_MAX * 4);
			tj->index[s] = (int16_t)(w - tj->seen);
		}
		return 0;
	}
	w->used = tj->tick;
	if (seq > w->max_seq) {
		d = seq - w->max_seq;
		w->below = d >= TRK_SEEN_WINDOW ? 0 :
		    (w->below << d) | (UINT64_C(1) << (d - 1));
		if (d == TRK_SEEN_WINDOW)
			w->below = UINT64_C(1) << (TRK_SEEN_WINDOW - 1);
		w->max_seq = seq;
		return 0;
	}
	if (seq == w->max_seq)
		return 1;
	d = w->max_seq - seq;		/* >= 1 */
	if (d > TRK_SEEN_WINDOW)
		return 1;		/* older than what is remembered: taken
					   (never count twice) */
	if (w->below & (UINT64_C(1) << (d - 1)))
		return 1;
	w->below |= UINT64_C(1) << (d - 1);
	return 0;
}

void
jrn_take(struct trk *t, const struct rtj_hdr *h, const void *buf,
    time_t now)
{
	const char *p = buf;
	struct rtp_event ev;
	int err;

	err = rtp_validate(p + sizeof(*h), h->payload, &ev);
	if (err == RTP_OK && (ev.pid != h->pid || ev.seq != h->seq ||
	    ev.seq == 0))
		err = RTP_E_FIELD;
	if (err != RTP_OK) {
		log_debug("journal: record of pid %ld seq %lu rejected: %s",
		    (long)h->pid, (unsigned long)h->seq, rtp_strerror(err));
		trk_rejected(t, err);
		return;
	}
	if (jrn_seen(t, h->pid, h->stamp, h->seq)) {
		log_debug("journal: pid %ld seq %lu already taken",
		    (long)h->pid, (unsigned long)h->seq);
		t->jrn.repeats++;
		t->dirty = 1;
		return;
	}
	t->jrn.records++;
	trk_event(t, &ev, now);
}

/* The offset of the next "RTJ1" in buf[from, n), or n - 3 when there is
 * none (a magic may start in the last 3 bytes). */
static size_t
resync(const char *buf, size_t from, size_t n)
{
	static const uint32_t magic = RTJ_MAGIC;
	const char *q;

	if (from >= n)
		return n;
	q = memmem(buf + from, n - from, &magic, sizeof(magic));
	if (q != NULL)
		return (size_t)(q - buf);
	return n - from > 3 ? n - 3 : from;
}

static void
check_space(struct jrn *j)
{
	struct statvfs sv;
	int full;

	if (fstatvfs(j->fd, &sv) == -1)
		return;
	full = sv.f_bavail == 0;
	if (full && !j->t->jrn.disk_full)
		log_warnx("journal: the file system of %s is full: events "
		    "that cannot be kept are counted as client drops",
		    j->path);
	else if (!full && j->t->jrn.disk_full)
		log_info("journal: %s has space again", j->path);
	j->t->jrn.disk_full = full;
}

long
jrn_drain(struct jrn *j, long max, time_t now, int *more)
{
	struct trk_jrn *tj = &j->t->jrn;
	struct stat st, pst;
	struct rtj_hdr h;
	int64_t off, data;
	size_t n, pos, len;
	ssize_t got;
	long taken = 0;
	int r;

	*more = 0;
	tj->cap = (int64_t)rt_journal_cap();
	if (j->fd == -1 && reopen(j) == -1)
		return 0;
again:
	if (fstat(j->fd, &st) == -1) {
		log_warn("journal: fstat");
		return taken;
	}
	if ((uint64_t)st.st_ino != tj->ino || st.st_size < tj->offset) {
		if (tj->ino != 0)
			log_info("journal %s is a new file: reading it from "
			    "its start", j->path);
		tj->ino = (uint64_t)st.st_ino;
		tj->offset = 0;
		j->punched = 0;
		j->tail_off = -1;
		j->t->dirty = 1;
	}
	/* space freed below a saved offset reads as zeros: skip it */
	if (tj->offset < st.st_size &&
	    (data = lseek(j->fd, tj->offset, SEEK_DATA)) > tj->offset) {
		tj->offset = data;
		j->t->dirty = 1;
	}
	off = tj->offset;
	while (off < st.st_size && (max == 0 || taken < max)) {
		n = (size_t)(st.st_size - off) > JRN_BUF ? JRN_BUF :
		    (size_t)(st.st_size - off);
		got = pread(j->fd, j->buf, n, off);
		if (got == -1) {
			if (errno == EINTR)
				continue;
			log_warn("journal: read");
			break;
		}
		if (got == 0)
			break;
		n = (size_t)got;
		pos = 0;
		while (pos < n && (max == 0 || taken < max)) {
			r = rtj_frame(j->buf + pos, n - pos, &h, &len);
			if (r == RTJ_OK) {
				jrn_take(j->t, &h, j->buf + pos, now);
				pos += len;
				taken++;
				continue;
			}
			if (r == RTJ_SHORT)
				break;
			/* garbage, or a record torn by a short write */
			len = resync(j->buf, pos + 1, n);
			tj->corrupt_bytes += (int64_t)(len - pos);
			log_debug("journal: %zu bytes at %lld skipped",
			    len - pos, (long long)(off + (int64_t)pos));
			pos = len;
		}
		if (pos == 0 && off + (int64_t)n >= st.st_size) {
			/* an incomplete record at the end: being written,
			   or torn for good if it stays so */
			int64_t now_ms = loop_now_ms();

			if (j->tail_off != off || j->tail_size != st.st_size) {
				j->tail_off = off;
				j->tail_size = st.st_size;
				j->tail_since = now_ms;
			} else if (now_ms - j->tail_since >= JRN_TORN_MS) {
				tj->corrupt_bytes += st.st_size - off;
				log_debug("journal: torn last record of %lld "
				    "bytes skipped",
				    (long long)(st.st_size - off));
				off = st.st_size;
				j->tail_off = -1;
			}
			break;
		}
		off += (int64_t)pos;
		if (pos == 0)
			break;
	}
	if (off != tj->offset) {
		tj->offset = off;
		j->t->dirty = 1;
	}
	tj->size = st.st_size;
	tj->held = (int64_t)st.st_blocks * 512;
	if (max != 0 && taken >= max) {
		*more = off < st.st_size;
		return taken;
	}
	/* all read: has the path been given to another file meanwhile?
	   (what was appended to the old one is read first) */
	if (lstat(j->path, &pst) == -1 || pst.st_ino != st.st_ino ||
	    pst.st_dev != st.st_dev) {
		if (reopen(j) == 0)
			goto again;
	}
	return taken;
}

void
jrn_skip_to_end(struct jrn *j)
{
	struct trk_jrn *tj = &j->t->jrn;
	struct stat st;

	if (j->fd == -1 || fstat(j->fd, &st) == -1)
		return;
	tj->ino = (uint64_t)st.st_ino;
	tj->offset = st.st_size;
	tj->size = st.st_size;
	j->t->dirty = 1;
	if (st.st_size > 0)
		log_warnx("journal: %lld bytes already in %s are not read: "
		    "the state they would add to was lost",
		    (long long)st.st_size, j->path);
}

void
jrn_saved(struct jrn *j)
{
	int64_t upto;

	if (j == NULL || j->fd == -1 ||
	    (uint64_t)j->t->jrn.ino == 0)
		return;
	upto = j->t->jrn.offset / JRN_PUNCH_ALIGN * JRN_PUNCH_ALIGN;
	if (upto <= j->punched || j->punch_failed)
		return;
	if (fallocate(j->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    j->punched, upto - j->punched) == -1) {
		log_warn("journal: cannot free the space of what was read "
		    "(%s keeps growing up to its cap)", j->path);
		j->punch_failed = 1;
		return;
	}
	j->punched = upto;
}

static long drain_now(struct jrn *);

static int64_t
on_soon(struct loop *l, int64_t id, void *arg)
{
	struct jrn *j = arg;

	(void)l;
	(void)id;
	j->soon = 0;
	(void)drain_now(j);
	return LOOP_NOMORE;
}

static long
drain_now(struct jrn *j)
{
	long taken;
	int more;

	taken = jrn_drain(j, JRN_BATCH_MAX, time(NULL), &more);
	/* an incomplete last record: the tick must come on time to find
	   it torn */
	if (j->tail_off != -1 && j->l != NULL && j->timer > 0)
		(void)loop_set_slack(j->l, j->timer, 0);
	if (more && j->soon == 0 && j->l != NULL)
		j->soon = loop_add_timer(j->l, 0, on_soon, j);
	if (j->soon == -1)
		j->soon = 0;
	return taken;
}

/* Read and forget what inotify queued; 1 when the journal's own name (or
 * an overflow) is among it. */
static int
ino_consume(struct jrn *j)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	const char *base = strrchr(j->path, '/');
	ssize_t n, off;
	int ours = 0;

	base = base != NULL ? base + 1 : j->path;
	/* only the journal's own changes (the daemon's log may be in the
	   same directory: its writes must not wake a read) */
	while ((n = read(j->ino_fd, buf, sizeof(buf))) > 0)
		for (off = 0; off + (ssize_t)sizeof(*ev) <= n;
		    off += (ssize_t)(sizeof(*ev) + ev->len)) {
			ev = (const struct inotify_event *)(buf + off);
			if ((ev->mask & IN_Q_OVERFLOW) ||
			    (ev->len > 0 && strcmp(ev->name, base) == 0))
				ours = 1;
		}
	return ours;
}

static int64_t
on_window(struct loop *l, int64_t id, void *arg)
{
	struct jrn *j = arg;

	(void)id;
	/* what inotify queued in the window (the kernel merges repeated
	   IN_MODIFY of one name into one event) is covered by this read */
	(void)ino_consume(j);
	if (drain_now(j) > 0)
		return JRN_COALESCE_MS;	/* more are likely: read again then,
					   inotify still out of the loop */
	/* quiet: the next append wakes us (one appended since the read
	   above is still queued in inotify, so none is missed) */
	j->window = 0;
	if (loop_mod_fd(l, j->ino_fd, LOOP_READ) == -1)
		log_warn("journal: inotify");
	return LOOP_NOMORE;
}

static void
on_inotify(struct loop *l, int fd, int events, void *arg)
{
	struct jrn *j = arg;

	(void)events;
	if (!ino_consume(j) || j->window != 0)
		return;
	/* out of the loop until the window ends: appends meanwhile wake
	   nothing */
	if ((j->window = loop_add_timer(l, JRN_COALESCE_MS, on_window,
	    j)) == -1) {
		j->window = 0;
		(void)drain_now(j);
		return;
	}
	(void)loop_mod_fd(l, fd, 0);
}

void
jrn_catch_up(struct jrn *j)
{
	int more;

	if (j == NULL)
		return;
	do
		(void)jrn_drain(j, JRN_BATCH_MAX, time(NULL), &more);
	while (more);
}

static int64_t
on_tick(struct loop *l, int64_t id, void *arg)
{
	struct jrn *j = arg;

	(void)id;
	(void)drain_now(j);
	if (j->fd != -1)
		check_space(j);
	(void)loop_set_slack(l, j->timer, j->ino_fd != -1 && j->fd != -1 &&
	    j->tail_off == -1 && j->t->jrn.error[0] == '\0' ?
	    JRN_TICK_SLACK_MS : 0);
	return JRN_TICK_MS;
}

struct jrn *
jrn_open(struct loop *l, struct trk *t, const char *path, char *err,
    size_t errlen)
{
	struct jrn *j;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->buf = malloc(JRN_BUF)) == NULL) {
		snprintf(err, errlen, "journal: out of memory");
		goto err;
	}
	j->l = l;
	j->t = t;
	j->fd = j->ino_fd = -1;
	j->tail_off = -1;
	if (snprintf(j->path, sizeof(j->path), "%s", path) >=
	    (int)sizeof(j->path) ||
	    rt_dirname(path, j->dir, sizeof(j->dir)) == -1) {
		snprintf(err, errlen, "journal %s: path too long", path);
		goto err;
	}
	t->jrn.cap = (int64_t)rt_journal_cap();
	(void)reopen(j);
	if (l == NULL)
		return j;
	/* tell shims that this daemon reads the journal (a daemon older than
	   it reads only datagrams, and shims send it those) */
	if (snprintf(j->marker, sizeof(j->marker), "%s/%s", j->dir,
	    RTJ_READER_NAME) < (int)sizeof(j->marker) && j->fd != -1) {
		int fd = rt_open_private(j->marker, O_WRONLY | O_CREAT, 0600,
		    NULL, err, errlen);

		if (fd != -1) {
			close(fd);
			j->marked = 1;
		} else
			log_warnx("journal: %s", err);
		err[0] = '\0';
	}
	if ((j->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1 ||
	    inotify_add_watch(j->ino_fd, j->dir, IN_MODIFY | IN_CREATE |
	    IN_MOVED_TO | IN_CLOSE_WRITE) == -1 ||
	    loop_add_fd(l, j->ino_fd, LOOP_READ, on_inotify, j) == -1) {
		/* the timer alone still reads it, once a second */
		log_warn("journal: inotify on %s", j->dir);
		if (j->ino_fd != -1)
			close(j->ino_fd);
		j->ino_fd = -1;
	}
	if ((j->timer = loop_add_timer(l, 0, on_tick, j)) == -1) {
		snprintf(err, errlen, "journal: out of memory");
		goto err;
	}
	return j;
err:
	if (j != NULL) {
		if (j->ino_fd != -1) {
			loop_del_fd(l, j->ino_fd);
			close(j->ino_fd);
		}
		if (j->fd != -1)
			close(j->fd);
		free(j->buf);
	}
	free(j);
	return NULL;
}

void
jrn_close(struct jrn *j)
{
	if (j == NULL)
		return;
	if (j->l != NULL) {
		if (j->timer > 0)
			loop_del_timer(j->l, j->timer);
		if (j->soon > 0)
			loop_del_timer(j->l, j->soon);
		if (j->window > 0)
			loop_del_timer(j->l, j->window);
		if (j->ino_fd != -1)
			loop_del_fd(j->l, j->ino_fd);
	}
	if (j->ino_fd != -1)
		close(j->ino_fd);
	if (j->fd != -1)
		close(j->fd);
	if (j->marked)
		unlink(j->marker);
	free(j->buf);
	free(j);
}
