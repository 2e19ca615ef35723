/*
 * Unit tests of the event loop (daemon/loop.c).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../daemon/loop.h"

struct rec {
	int order[16];
	int n;
	int left;		/* repeats before LOOP_NOMORE */
	int64_t delay;
	int64_t other;		/* a timer to delete */
	int64_t self;
};

static int64_t
record_once(struct loop *l, int64_t id, void *arg)
{
	struct rec *r = arg;

	(void)l;
	if (r->n < 16)
		r->order[r->n++] = (int)id;
	return LOOP_NOMORE;
}

static int
run_for(struct loop *l, int64_t ms)
{
	int64_t end = loop_now_ms() + ms;
	int rounds = 0;

	while (loop_now_ms() < end) {
		ck_assert_int_ge(loop_once(l, (int)(end - loop_now_ms())), 0);
		rounds++;
	}
	return rounds;
}

START_TEST(timers_fire_in_the_order_of_their_deadlines)
{
	struct loop *l = loop_new();
	struct rec r;
	int64_t a, b, c;

	memset(&r, 0, sizeof(r));
	ck_assert_ptr_nonnull(l);
	a = loop_add_timer(l, 60, record_once, &r);
	b = loop_add_timer(l, 20, record_once, &r);
	c = loop_add_timer(l, 40, record_once, &r);
	ck_assert(a > 0 && b > 0 && c > 0);
	run_for(l, 150);
	ck_assert_int_eq(r.n, 3);
	ck_assert_int_eq(r.order[0], (int)b);
	ck_assert_int_eq(r.order[1], (int)c);
	ck_assert_int_eq(r.order[2], (int)a);
	loop_free(l);
}
END_TEST

static int64_t
repeat(struct loop *l, int64_t id, void *arg)
{
	struct rec *r = arg;

	(void)l;
	(void)id;
	r->n++;
	return --r->left > 0 ? r->delay : LOOP_NOMORE;
}

START_TEST(a_timer_returning_a_delay_runs_again_after_it)
{
	struct loop *l = loop_new();
	struct rec r;
	int64_t t0 = loop_now_ms(), id;

	memset(&r, 0, sizeof(r));
	r.left = 4;
	r.delay = 15;
	id = loop_add_timer(l, 0, repeat, &r);
	ck_assert(id > 0);
	while (r.left > 0 && loop_now_ms() - t0 < 2000)
		ck_assert_int_ge(loop_once(l, 100), 0);
	ck_assert_int_eq(r.n, 4);
	/* three gaps of 15 ms at least */
	ck_assert_int_ge(loop_now_ms() - t0, 45);
	/* LOOP_NOMORE removed it */
	ck_assert_int_eq(loop_set_timer(l, id, 10), -1);
	ck_assert_int_eq(loop_del_timer(l, id), -1);
	run_for(l, 40);
	ck_assert_int_eq(r.n, 4);
	loop_free(l);
}
END_TEST

static int64_t
delete_other(struct loop *l, int64_t id, void *arg)
{
	struct rec *r = arg;

	(void)id;
	/* the first run deletes the victim; later ones find it gone */
	ck_assert_int_eq(loop_del_timer(l, r->other), r->n == 0 ? 0 : -1);
	r->n++;
	return 5;
}

static int64_t
delete_self(struct loop *l, int64_t id, void *arg)
{
	struct rec *r = arg;

	r->n++;
	ck_assert_int_eq(loop_del_timer(l, id), 0);
	return 1;	/* ignored after deleting itself */
}

START_TEST(a_timer_may_delete_itself_or_another_from_its_callback)
{
	struct loop *l = loop_new();
	struct rec killer, victim, self;

	memset(&killer, 0, sizeof(killer));
	memset(&victim, 0, sizeof(victim));
	memset(&self, 0, sizeof(self));
	victim.left = 100;
	victim.delay = 1;
	killer.other = loop_add_timer(l, 30, repeat, &victim);
	ck_assert(loop_add_timer(l, 10, delete_other, &killer) > 0);
	ck_assert(loop_add_timer(l, 5, delete_self, &self) > 0);
	run_for(l, 80);
	ck_assert_int_eq(victim.n, 0);
	ck_assert_int_eq(self.n, 1);
	/* delete_other returned 5: it ran again and its victim is gone */
	ck_assert_int_ge(killer.n, 2);
	loop_free(l);
}
END_TEST

START_TEST(moving_a_timer_changes_when_it_fires)
{
	struct loop *l = loop_new();
	struct rec r;
	int64_t id, t0 = loop_now_ms();

	memset(&r, 0, sizeof(r));
	id = loop_add_timer(l, 10, record_once, &r);
	ck_assert_int_eq(loop_set_timer(l, id, 80), 0);
	run_for(l, 50);
	ck_assert_int_eq(r.n, 0);
	while (r.n == 0 && loop_now_ms() - t0 < 2000)
		ck_assert_int_ge(loop_once(l, -1), 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_ge(loop_now_ms() - t0, 80);
	loop_free(l);
}
END_TEST

struct fdrec {
	int calls;
	int events;
	char got[16];
};

static void
on_fd(struct loop *l, int fd, int events, void *arg)
{
	struct fdrec *f = arg;
	ssize_t n;

	(void)l;
	f->calls++;
	f->events |= events;
	if (events & LOOP_READ) {
		n = read(fd, f->got, sizeof(f->got) - 1);
		if (n > 0)
			f->got[n] = '\0';
	}
}

START_TEST(an_fd_callback_runs_when_its_fd_is_readable)
{
	struct loop *l = loop_new();
	struct fdrec f;
	int p[2];

	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(loop_add_fd(l, p[0], LOOP_READ, on_fd, &f), 0);
	/* nothing to read: a bounded wait runs nothing */
	ck_assert_int_eq(loop_once(l, 20), 0);
	ck_assert_int_eq(f.calls, 0);
	ck_assert_int_eq(write(p[1], "hello", 5), 5);
	ck_assert_int_eq(loop_once(l, 1000), 1);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.events, LOOP_READ);
	ck_assert_str_eq(f.got, "hello");
	/* removed: data waits, no callback */
	loop_del_fd(l, p[0]);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(loop_once(l, 20), 0);
	ck_assert_int_eq(f.calls, 1);
	/* a hang-up is reported as readable */
	ck_assert_int_eq(loop_add_fd(l, p[0], LOOP_READ, on_fd, &f), 0);
	close(p[1]);
	ck_assert_int_eq(loop_once(l, 1000), 1);
	ck_assert_int_eq(loop_once(l, 1000), 1);	/* reads EOF */
	ck_assert_int_eq(f.calls, 3);
	loop_del_fd(l, p[0]);
	close(p[0]);
	loop_free(l);
}
END_TEST

START_TEST(write_interest_reports_a_writable_fd_and_can_be_changed)
{
	struct loop *l = loop_new();
	struct fdrec f;
	int sv[2];

	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(loop_add_fd(l, sv[0], LOOP_WRITE, on_fd, &f), 0);
	ck_assert_int_eq(loop_once(l, 1000), 1);
	ck_assert_int_eq(f.events, LOOP_WRITE);
	ck_assert_int_eq(loop_mod_fd(l, sv[0], LOOP_READ), 0);
	f.calls = 0;
	ck_assert_int_eq(loop_once(l, 20), 0);
	ck_assert_int_eq(f.calls, 0);
	ck_assert_int_eq(loop_mod_fd(l, 12345, LOOP_READ), -1);
	/* adding a watched fd again replaces it */
	ck_assert_int_eq(loop_add_fd(l, sv[0], LOOP_WRITE, on_fd, &f), 0);
	ck_assert_int_eq(loop_once(l, 1000), 1);
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}
END_TEST

START_TEST(the_loop_sleeps_until_the_next_timer_instead_of_spinning)
{
	struct loop *l = loop_new();
	struct rec r;
	int64_t t0 = loop_now_ms();
	int rounds = 0;

	memset(&r, 0, sizeof(r));
	ck_assert(loop_add_timer(l, 150, record_once, &r) > 0);
	while (r.n == 0 && loop_now_ms() - t0 < 2000) {
		ck_assert_int_ge(loop_once(l, -1), 0);
		rounds++;
	}
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_ge(loop_now_ms() - t0, 150);
	/* one sleep, maybe one more for rounding: never a busy loop */
	ck_assert_int_le(rounds, 3);
	/* no timer, no fd: a bounded wait sleeps its whole bound */
	t0 = loop_now_ms();
	ck_assert_int_eq(loop_once(l, 60), 0);
	ck_assert_int_ge(loop_now_ms() - t0, 55);
	loop_free(l);
}
END_TEST

/* A timer with slack waits for a wakeup that is due anyway (here the
 * other timer's), or for its deadline plus its slack: never its own
 * wakeup at its deadline. */
START_TEST(a_timer_with_slack_shares_the_next_wakeup)
{
	struct loop *l = loop_new();
	struct rec r;
	int64_t lazy, exact, t0 = loop_now_ms(), t;
	int rounds = 0;

	memset(&r, 0, sizeof(r));
	ck_assert((lazy = loop_add_timer(l, 50, record_once, &r)) > 0);
	ck_assert_int_eq(loop_set_slack(l, lazy, 1000), 0);
	ck_assert((exact = loop_add_timer(l, 200, record_once, &r)) > 0);
	while (r.n < 2 && loop_now_ms() - t0 < 3000) {
		ck_assert_int_ge(loop_once(l, -1), 0);
		rounds++;
	}
	t = loop_now_ms() - t0;
	/* both ran at the exact one's deadline, in one wakeup */
	ck_assert_int_eq(r.n, 2);
	ck_assert_int_ge(t, 200);
	ck_assert_int_lt(t, 800);
	ck_assert_int_le(rounds, 2);
	/* alone, it runs by its deadline plus its slack */
	r.n = 0;
	t0 = loop_now_ms();
	ck_assert((lazy = loop_add_timer(l, 50, record_once, &r)) > 0);
	ck_assert_int_eq(loop_set_slack(l, lazy, 100), 0);
	while (r.n == 0 && loop_now_ms() - t0 < 3000)
		ck_assert_int_ge(loop_once(l, -1), 0);
	t = loop_now_ms() - t0;
	ck_assert_int_ge(t, 150);
	ck_assert_int_lt(t, 1000);
	ck_assert_int_eq(loop_set_slack(l, 999999, 10), -1);
	loop_free(l);
}
END_TEST

struct prep {
	struct loop *l;
	int64_t timer;
	int calls;
	int urgent;		/* set by an fd callback */
};

static void
prepare_cb(struct loop *l, void *arg)
{
	struct prep *p = arg;

	p->calls++;
	if (p->urgent)
		(void)loop_set_slack(l, p->timer, 0);
}

static void
urgent_cb(struct loop *l, int fd, int events, void *arg)
{
	struct prep *p = arg;
	char c;

	(void)l;
	(void)events;
	ck_assert_int_eq(read(fd, &c, 1), 1);
	p->urgent = 1;
}

/* The prepare callback runs before each wait and may take a timer's
 * slack off after a callback found work for it. */
START_TEST(the_prepare_callback_runs_before_each_wait)
{
	struct loop *l = loop_new();
	struct prep p;
	struct rec r;
	int sv[2];
	int64_t t0;

	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p.l = l;
	ck_assert((p.timer = loop_add_timer(l, 100, record_once, &r)) > 0);
	ck_assert_int_eq(loop_set_slack(l, p.timer, 5000), 0);
	ck_assert_int_eq(loop_add_fd(l, sv[0], LOOP_READ, urgent_cb, &p), 0);
	loop_set_prepare(l, prepare_cb, &p);
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	t0 = loop_now_ms();
	while (r.n == 0 && loop_now_ms() - t0 < 3000)
		ck_assert_int_ge(loop_once(l, -1), 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_lt(loop_now_ms() - t0, 1000);	/* not 5.1 s */
	ck_assert_int_ge(p.calls, 2);
	loop_set_prepare(l, NULL, NULL);
	p.calls = 0;
	ck_assert_int_eq(loop_once(l, 10), 0);
	ck_assert_int_eq(p.calls, 0);
	loop_del_fd(l, sv[0]);
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}
END_TEST

static int64_t
stopper(struct loop *l, int64_t id, void *arg)
{
	int *n = arg;

	(void)id;
	if (++*n == 3) {
		loop_stop(l);
		return LOOP_NOMORE;
	}
	return 5;
}

START_TEST(loop_run_returns_after_loop_stop)
{
	struct loop *l = loop_new();
	int n = 0;

	ck_assert(loop_add_timer(l, 0, stopper, &n) > 0);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(n, 3);
	loop_free(l);
}
END_TEST

static int64_t
adder(struct loop *l, int64_t id, void *arg)
{
	struct rec *r = arg;

	(void)id;
	r->n++;
	/* a timer added by a callback waits for the next round */
	ck_assert(loop_add_timer(l, 0, record_once, &r[1]) > 0);
	return LOOP_NOMORE;
}

START_TEST(a_timer_added_by_a_callback_waits_for_the_next_round)
{
	struct loop *l = loop_new();
	struct rec r[2];

	memset(r, 0, sizeof(r));
	ck_assert(loop_add_timer(l, 0, adder, r) > 0);
	ck_assert_int_eq(loop_once(l, 0), 1);
	ck_assert_int_eq(r[0].n, 1);
	ck_assert_int_eq(r[1].n, 0);
	ck_assert_int_eq(loop_once(l, 0), 1);
	ck_assert_int_eq(r[1].n, 1);
	loop_free(l);
}
END_TEST

START_TEST(bad_arguments_are_refused)
{
	struct loop *l = loop_new();
	struct fdrec f;

	ck_assert_int_eq(loop_add_fd(l, -1, LOOP_READ, on_fd, &f), -1);
	ck_assert_int_eq(loop_add_fd(l, 0, LOOP_READ, NULL, &f), -1);
	ck_assert_int_eq(loop_add_timer(l, 10, NULL, NULL), -1);
	ck_assert_int_eq(loop_del_timer(l, 0), -1);
	ck_assert_int_eq(loop_del_timer(l, 99), -1);
	loop_del_fd(l, 999);	/* unknown: ignored */
	loop_free(l);
	loop_free(NULL);
}
END_TEST

static Suite *
loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, timers_fire_in_the_order_of_their_deadlines);
	tcase_add_test(tc, a_timer_returning_a_delay_runs_again_after_it);
	tcase_add_test(tc,
	    a_timer_may_delete_itself_or_another_from_its_callback);
	tcase_add_test(tc, moving_a_timer_changes_when_it_fires);
	tcase_add_test(tc, an_fd_callback_runs_when_its_fd_is_readable);
	tcase_add_test(tc,
	    write_interest_reports_a_writable_fd_and_can_be_changed);
	tcase_add_test(tc,
	    the_loop_sleeps_until_the_next_timer_instead_of_spinning);
	tcase_add_test(tc, loop_run_returns_after_loop_stop);
	tcase_add_test(tc, a_timer_with_slack_shares_the_next_wakeup);
	tcase_add_test(tc, the_prepare_callback_runs_before_each_wait);
	tcase_add_test(tc, a_timer_added_by_a_callback_waits_for_the_next_round);
	tcase_add_test(tc, bad_arguments_are_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(loop_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
