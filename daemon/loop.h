/*
 * ratetapd's event loop: one epoll instance, file-descriptor callbacks and
 * timers whose callback returns its next delay (redis ae.c style).  No
 * threads; every callback runs on the thread that calls loop_run().
 *
 * Timers are one-shot by default: the callback returns the delay in ms until
 * it should run again, or LOOP_NOMORE to end (the timer is then freed).  A
 * timer may delete itself or any other timer from a callback.  Delays are
 * measured on CLOCK_MONOTONIC.
 */
#ifndef RATETAP_LOOP_H
#define RATETAP_LOOP_H

#include <stdint.h>

#define LOOP_NOMORE	(-1)	/* timer callback: do not run again */

/* Events of an fd callback (and the interest given to loop_add_fd()). */
#define LOOP_READ	0x1	/* readable, or an error / hang-up to read */
#define LOOP_WRITE	0x2	/* writable */

struct loop;

/*
 * Called when fd is ready; events is a mask of LOOP_READ | LOOP_WRITE.  An
 * error or hang-up on the fd is reported as LOOP_READ (plus LOOP_WRITE when
 * write interest is set) so that the callback meets it in read()/write().
 */
typedef void loop_fd_fn(struct loop *l, int fd, int events, void *arg);

/*
 * Called when timer id is due.  Returns the delay in ms before it runs
 * again (0 runs it on the next iteration), or LOOP_NOMORE to remove it.
 */
typedef int64_t loop_timer_fn(struct loop *l, int64_t id, void *arg);

/* Create a loop (epoll fd, close-on-exec).  NULL with errno on failure. */
struct loop *loop_new(void);

/*
 * Free the loop and its timers.  It does not close the fds it watched:
 * their owners do.  NULL is fine.
 */
void loop_free(struct loop *l);

/*
 * Watch fd for events (LOOP_READ | LOOP_WRITE), calling fn(l, fd, ev, arg).
 * Watching an fd that is already watched replaces its callback, argument
 * and interest.  Returns 0, or -1 with errno set.
 */
int loop_add_fd(struct loop *l, int fd, int events, loop_fd_fn *fn,
    void *arg);

/* Change the interest of a watched fd.  Returns 0, or -1 with errno. */
int loop_mod_fd(struct loop *l, int fd, int events);

/*
 * Stop watching fd (call it before closing the fd).  Pending events of fd
 * in the current iteration are dropped.  Unknown fds are ignored.
 */
void loop_del_fd(struct loop *l, int fd);

/*
 * Run fn(l, id, arg) once ms milliseconds from now (ms <= 0: on the next
 * iteration).  Returns the timer's id (> 0), or -1 on ENOMEM.
 */
int64_t loop_add_timer(struct loop *l, int64_t ms, loop_timer_fn *fn,
    void *arg);

/*
 * Move timer id to ms milliseconds from now.  Returns 0, or -1 when there
 * is no such timer.
 */
int loop_set_timer(struct loop *l, int64_t id, int64_t ms);

/*
 * Let timer id run up to ms milliseconds after its deadline (kept for
 * every later run): it then shares a wakeup with whatever else is due,
 * instead of waking the process on its own.  For housekeeping whose
 * exact time does not matter (each wakeup of an idle process costs far
 * more than the work of such a timer).  Returns 0, or -1 when there is no
 * such timer.
 */
int loop_set_slack(struct loop *l, int64_t id, int64_t ms);

/*
 * Remove timer id (from anywhere, its own callback included).  Returns 0,
 * or -1 when there is no such timer.
 */
int loop_del_timer(struct loop *l, int64_t id);

/*
 * Called before each wait for events (after the previous round's
 * callbacks): to adjust timers by what those callbacks changed, e.g. to
 * take the slack off a timer that now has work to do.
 */
typedef void loop_prepare_fn(struct loop *l, void *arg);

/* Set (or, with NULL, remove) the loop's prepare callback. */
void loop_set_prepare(struct loop *l, loop_prepare_fn *fn, void *arg);

/*
 * Wait for and dispatch one round of events and due timers, sleeping at most
 * max_wait_ms (-1: until the next timer or event).  Returns the number of
 * callbacks run, or -1 with errno on an epoll failure (EINTR is not one).
 */
int loop_once(struct loop *l, int max_wait_ms);

/*
 * Dispatch events until loop_stop() is called.  Returns 0 after
 * loop_stop(), -1 with errno when epoll fails.
 */
int loop_run(struct loop *l);

/* Make loop_run() return after the current iteration. */
void loop_stop(struct loop *l);

/* Monotonic clock in milliseconds (the loop's clock). */
int64_t loop_now_ms(void);

#endif /* RATETAP_LOOP_H */
