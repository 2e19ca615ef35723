/*
 * The event loop (see loop.h): epoll for fds, an unsorted list of timers
 * (the daemon has a handful), deletion by marking so that callbacks may
 * remove anything at any time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define MAX_EVENTS	64

struct loop_fd {
	loop_fd_fn *fn;		/* NULL: not watched */
	void *arg;
	int events;		/* LOOP_READ | LOOP_WRITE */
};

struct loop_timer {
	int64_t id;		/* 0 once deleted */
	int64_t when;		/* loop_now_ms() deadline */
	int64_t slack;		/* may run this much later (loop_set_slack()) */
	loop_timer_fn *fn;
	void *arg;
	struct loop_timer *next;
};

struct loop {
	int epfd;
	struct loop_fd *fds;	/* indexed by fd */
	int nfds;		/* size of fds */
	struct loop_timer *timers;
	int64_t last_id;
	int ndeleted;		/* timers marked deleted, not yet freed */
	int stop;
	loop_prepare_fn *prepare;	/* before each wait, NULL: none */
	void *prepare_arg;
};

int64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *
loop_new(void)
{
	struct loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(l);
		return NULL;
	}
	return l;
}

void
loop_free(struct loop *l)
{
	struct loop_timer *t, *next;

	if (l == NULL)
		return;
	for (t = l->timers; t != NULL; t = next) {
		next = t->next;
		free(t);
	}
	close(l->epfd);
	free(l->fds);
	free(l);
}

static uint32_t
epoll_mask(int events)
{
	uint32_t m = 0;

	if (events & LOOP_READ)
		m |= EPOLLIN;
	if (events & LOOP_WRITE)
		m |= EPOLLOUT;
	return m;
}

static int
grow_fds(struct loop *l, int fd)
{
	struct loop_fd *n;
	int size = l->nfds > 0 ? l->nfds : 64;

	while (size <= fd)
		size *= 2;
	if ((n = realloc(l->fds, (size_t)size * sizeof(*n))) == NULL)
		return -1;
	memset(n + l->nfds, 0, (size_t)(size - l->nfds) * sizeof(*n));
	l->fds = n;
	l->nfds = size;
	return 0;
}

int
loop_add_fd(struct loop *l, int fd, int events, loop_fd_fn *fn, void *arg)
{
	struct epoll_event ev;

	if (fd < 0 || fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (fd >= l->nfds && grow_fds(l, fd) == -1)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = epoll_mask(events);
	ev.data.fd = fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		/* already watched (or a closed fd's number reused) */
		if (errno != EEXIST ||
		    epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == -1)
			return -1;
	}
	l->fds[fd].fn = fn;
	l->fds[fd].arg = arg;
	l->fds[fd].events = events;
	return 0;
}

int
loop_mod_fd(struct loop *l, int fd, int events)
{
	struct epoll_event ev;

	if (fd < 0 || fd >= l->nfds || l->fds[fd].fn == NULL) {
		errno = ENOENT;
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = epoll_mask(events);
	ev.data.fd = fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == -1)
		return -1;
	l->fds[fd].events = events;
	return 0;
}

void
loop_del_fd(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds || l->fds[fd].fn == NULL)
		return;
	/* fails harmlessly when the fd was closed already */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(&l->fds[fd], 0, sizeof(l->fds[fd]));
}

int64_t
loop_add_timer(struct loop *l, int64_t ms, loop_timer_fn *fn, void *arg)
{
	struct loop_timer *t;

	if (fn == NULL || (t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->id = ++l->last_id;
	t->when = loop_now_ms() + (ms > 0 ? ms : 0);
	t->fn = fn;
	t->arg = arg;
	t->next = l->timers;
	l->timers = t;
	return t->id;
}

static struct loop_timer *
find_timer(struct loop *l, int64_t id)
{
	struct loop_timer *t;

	if (id <= 0)
		return NULL;
	for (t = l->timers; t != NULL; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

int
loop_set_timer(struct loop *l, int64_t id, int64_t ms)
{
	struct loop_timer *t = find_timer(l, id);

	if (t == NULL)
		return -1;
	t->when = loop_now_ms() + (ms > 0 ? ms : 0);
	return 0;
}

int
loop_set_slack(struct loop *l, int64_t id, int64_t ms)
{
	struct loop_timer *t = find_timer(l, id);

	if (t == NULL)
		return -1;
	t->slack = ms > 0 ? ms : 0;
	return 0;
}

int
loop_del_timer(struct loop *l, int64_t id)
{
	struct loop_timer *t = find_timer(l, id);

	if (t == NULL)
		return -1;
	t->id = 0;		/* freed by sweep_timers() */
	l->ndeleted++;
	return 0;
}

static void
sweep_timers(struct loop *l)
{
	struct loop_timer **pp = &l->timers, *t;

	while (l->ndeleted > 0 && (t = *pp) != NULL) {
		if (t->id == 0) {
			*pp = t->next;
			free(t);
			l->ndeleted--;
		} else
			pp = &t->next;
	}
	l->ndeleted = 0;
}

/*
 * Milliseconds until a timer must run (0 if one is due), -1 if none.  A
 * timer with slack need not wake the loop at its deadline: it runs at the
 * first wakeup after it, at the latest its deadline plus its slack.
 */
static int64_t
next_timer_ms(struct loop *l, int64_t now)
{
	struct loop_timer *t;
	int64_t best = -1, d;

	for (t = l->timers; t != NULL; t = t->next) {
		if (t->id == 0)
			continue;
		d = t->when + t->slack - now;
		if (d < 0)
			d = 0;
		if (best == -1 || d < best)
			best = d;
	}
	return best;
}

static int
run_timers(struct loop *l)
{
	struct loop_timer *t;
	int64_t now = loop_now_ms(), max_id = l->last_id, next, id;
	int ran = 0;

	/* timers created by these callbacks wait for the next round */
	for (t = l->timers; t != NULL; t = t->next) {
		if (t->id == 0 || t->id > max_id || t->when > now)
			continue;
		id = t->id;
		next = t->fn(l, id, t->arg);
		ran++;
		if (t->id != id)	/* deleted by its own callback */
			continue;
		if (next == LOOP_NOMORE || next < 0) {
			t->id = 0;
			l->ndeleted++;
		} else
			t->when = loop_now_ms() + next;
	}
	return ran;
}

void
loop_set_prepare(struct loop *l, loop_prepare_fn *fn, void *arg)
{
	l->prepare = fn;
	l->prepare_arg = arg;
}

int
loop_once(struct loop *l, int max_wait_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	int64_t wait;
	int i, n, ran = 0;

	if (l->prepare != NULL)
		l->prepare(l, l->prepare_arg);
	wait = next_timer_ms(l, loop_now_ms());

	if (max_wait_ms >= 0 && (wait == -1 || wait > max_wait_ms))
		wait = max_wait_ms;
	if (wait > 24 * 3600 * 1000)
		wait = 24 * 3600 * 1000;
	n = epoll_wait(l->epfd, evs, MAX_EVENTS, (int)wait);
	if (n == -1) {
		if (errno != EINTR)
			return -1;
		n = 0;
	}
	for (i = 0; i < n; i++) {
		int fd = evs[i].data.fd, mask = 0;
		struct loop_fd *f;

		if (fd < 0 || fd >= l->nfds || l->fds[fd].fn == NULL)
			continue;	/* removed by an earlier callback */
		f = &l->fds[fd];
		if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			mask |= LOOP_READ;
		if (evs[i].events & EPOLLOUT)
			mask |= LOOP_WRITE;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			mask |= f->events & LOOP_WRITE;
		mask &= f->events | LOOP_READ;
		if (mask == 0)
			continue;
		f->fn(l, fd, mask, f->arg);
		ran++;
	}
	ran += run_timers(l);
	sweep_timers(l);
	return ran;
}

int
loop_run(struct loop *l)
{
	l->stop = 0;
	while (!l->stop)
		if (loop_once(l, -1) == -1)
			return -1;
	return 0;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}
