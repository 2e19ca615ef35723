/*
 * Unit tests of the ingest socket's reader (daemon/ingest.c) over real
 * AF_UNIX datagram sockets, with the real tracker.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ratetap/proto.h"

#include "../daemon/ingest.h"
#include "../daemon/loop.h"
#include "../daemon/tracker.h"

static int rx = -1, tx = -1;
static struct trk *t;

static void
setup(void)
{
	int sv[2], one = 1, sndbuf = 1 << 20;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv),
	    0);
	rx = sv[0];
	tx = sv[1];
	/* room for a hundred unread events in flight (the kernel caps it
	   at net.core.wmem_max, twice that counted) */
	(void)setsockopt(tx, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	ck_assert_int_eq(setsockopt(rx, SOL_SOCKET, SO_PASSCRED, &one,
	    sizeof(one)), 0);
	ck_assert_ptr_nonnull(t = trk_new(NULL));
}

static void
teardown(void)
{
	close(rx);
	close(tx);
	trk_free(t);
}

static void
good_event(struct rtp_event *ev)
{
	rtp_init(ev);
	ev->pid = getpid();
	ev->seq = 1;
	ev->http_status = 200;
	ev->method = RTP_M_POST;
	ev->usage_state = RTP_USAGE_OK;
	ev->input_tokens = 11;
	ev->output_tokens = 22;
	ev->cache_creation_input_tokens = 3;
	ev->cache_read_input_tokens = 5;
	rtp_strlcpy(ev->model, "claude-sonnet-4-5", sizeof(ev->model));
	rtp_strlcpy(ev->host, "api.anthropic.com", sizeof(ev->host));
	rtp_strlcpy(ev->path, "/v1/messages", sizeof(ev->path));
	rtp_strlcpy(ev->prog, "curl", sizeof(ev->prog));
}

static void
send_bytes(const void *buf, size_t len)
{
	ck_assert_int_eq(send(tx, buf, len, 0), (ssize_t)len);
}

START_TEST(a_good_datagram_is_counted)
{
	struct rtp_event ev;

	good_event(&ev);
	send_bytes(&ev, sizeof(ev));
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), 1);
	ck_assert_int_eq(t->datagrams_accepted, 1);
	ck_assert_int_eq(t->requests_total, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 11);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].tokens.output, 22);
	ck_assert_int_eq(t->nmodels, 1);
	ck_assert_str_eq(t->models[0].name, "claude-sonnet-4-5");
	/* nothing more waiting: 0, not an error */
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), 0);
}
END_TEST

START_TEST(every_waiting_datagram_is_read_in_one_wakeup)
{
	struct rtp_event ev;
	int i;

	good_event(&ev);
	for (i = 0; i < 50; i++) {
		ev.seq = (uint32_t)i + 1;
		send_bytes(&ev, sizeof(ev));
	}
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), 50);
	ck_assert_int_eq(t->datagrams_accepted, 50);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 50 * 11);
}
END_TEST

START_TEST(truncated_and_oversize_datagrams_are_rejected_by_size)
{
	struct rtp_event ev;
	char big[ING_BUF_SIZE * 2];

	good_event(&ev);
	send_bytes(&ev, sizeof(ev) - 1);	/* truncated */
	send_bytes(&ev, 10);
	memset(big, 0, sizeof(big));
	memcpy(big, &ev, sizeof(ev));
	send_bytes(big, sizeof(ev) + 1);	/* one byte too many */
	send_bytes(big, sizeof(big));		/* beyond the buffer */
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), 4);
	ck_assert_int_eq(t->datagrams_rejected[RTP_E_SIZE], 4);
	ck_assert_int_eq(t->datagrams_accepted, 0);
	ck_assert_int_eq(t->requests_total, 0);
}
END_TEST

START_TEST(wrong_magic_version_and_fields_are_rejected_by_reason)
{
	struct rtp_event ev;
	char garbage[sizeof(ev)];
	size_t i;

	good_event(&ev);
	ev.version = RTP_VERSION + 1;
	send_bytes(&ev, sizeof(ev));
	good_event(&ev);
	ev.magic = 0xdeadbeef;
	send_bytes(&ev, sizeof(ev));
	good_event(&ev);
	ev.method = 200;
	send_bytes(&ev, sizeof(ev));
	good_event(&ev);
	ev.model[0] = '\n';
	send_bytes(&ev, sizeof(ev));
	for (i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char)(i * 7 + 3);
	send_bytes(garbage, sizeof(garbage));
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), 5);
	ck_assert_int_eq(t->datagrams_rejected[RTP_E_VERSION], 1);
	ck_assert_int_eq(t->datagrams_rejected[RTP_E_MAGIC], 2);
	ck_assert_int_eq(t->datagrams_rejected[RTP_E_FIELD], 1);
	ck_assert_int_eq(t->datagrams_rejected[RTP_E_STRING], 1);
	ck_assert_int_eq(t->datagrams_accepted, 0);
	ck_assert_int_eq(t->nmodels, 0);
	/* and a good one after them still counts */
	good_event(&ev);
	send_bytes(&ev, sizeof(ev));
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), 1);
	ck_assert_int_eq(t->datagrams_accepted, 1);
}
END_TEST

START_TEST(a_datagram_from_another_uid_is_foreign)
{
	struct rtp_event ev;
	pid_t pid;
	int status;

	good_event(&ev);
	if (getuid() == 0) {
		/* as root: send from a child that became another user */
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			if (setgid(65534) == -1 || setuid(65534) == -1)
				_exit(2);
			_exit(send(tx, &ev, sizeof(ev), 0) ==
			    (ssize_t)sizeof(ev) ? 0 : 3);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), 1);
		ck_assert_int_eq(t->datagrams_foreign, 1);
		ck_assert_int_eq(t->datagrams_accepted, 0);
	}
	/* any user: a daemon of another uid sees our datagram as foreign */
	send_bytes(&ev, sizeof(ev));
	ck_assert_int_eq(ing_drain(rx, t, getuid() + 1, time(NULL)), 1);
	ck_assert_int_eq(t->datagrams_foreign, getuid() == 0 ? 2 : 1);
	ck_assert_int_eq(t->datagrams_accepted, 0);
}
END_TEST

/* Make tx nonblocking with a large send buffer; returns how many copies of
 * ev (seq numbered from 1) were queued, at most n. */
static int
send_many(struct rtp_event *ev, int n)
{
	int big = 4 << 20, i;

	ck_assert_int_eq(setsockopt(tx, SOL_SOCKET, SO_SNDBUF, &big,
	    sizeof(big)), 0);
	for (i = 0; i < n; i++) {
		ev->seq = (uint32_t)i + 1;
		if (send(tx, ev, sizeof(*ev), MSG_DONTWAIT) == -1) {
			ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
			break;
		}
	}
	return i;
}

START_TEST(a_wakeup_reads_at_most_a_batch_over_several_calls)
{
	struct rtp_event ev;
	int sent, first;

	good_event(&ev);
	sent = send_many(&ev, ING_BATCH_MAX + ING_MMSG_VLEN + 5);
	ck_assert_int_gt(sent, 2 * ING_MMSG_VLEN + 1);
	first = sent < ING_BATCH_MAX ? sent : ING_BATCH_MAX;
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), first);
	ck_assert_int_eq(t->datagrams_accepted, first);
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), sent - first);
	ck_assert_int_eq(t->datagrams_accepted, sent);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, (int64_t)sent * 11);
	ck_assert_int_eq(t->requests_total, sent);
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), 0);
}
END_TEST

START_TEST(each_datagram_of_a_batch_is_judged_on_its_own)
{
	struct rtp_event ev, bad;
	pid_t pid;
	int i, status, good = 0, size = 0, magic = 0, foreign = 0;
	int root = getuid() == 0;

	good_event(&ev);
	bad = ev;
	bad.magic = 0xdeadbeef;
	/* spread over more than one recvmmsg() call */
	for (i = 0; i < 3 * ING_MMSG_VLEN; i++) {
		switch (i % 4) {
		case 0:
			send_bytes(&ev, sizeof(ev));
			good++;
			break;
		case 1:
			send_bytes(&ev, sizeof(ev) - 1 - (size_t)(i % 7));
			size++;
			break;
		case 2:
			send_bytes(&bad, sizeof(bad));
			magic++;
			break;
		default:
			if (!root) {
				send_bytes(&ev, sizeof(ev));
				good++;
				break;
			}
			/* as root: a datagram from another user in between */
			pid = fork();
			ck_assert_int_ge(pid, 0);
			if (pid == 0) {
				if (setgid(65534) == -1 || setuid(65534) == -1)
					_exit(2);
				_exit(send(tx, &ev, sizeof(ev), 0) ==
				    (ssize_t)sizeof(ev) ? 0 : 3);
			}
			ck_assert_int_eq(waitpid(pid, &status, 0), pid);
			ck_assert(WIFEXITED(status) &&
			    WEXITSTATUS(status) == 0);
			foreign++;
			break;
		}
	}
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)),
	    3 * ING_MMSG_VLEN);
	ck_assert_int_eq(t->datagrams_accepted, good);
	ck_assert_int_eq(t->datagrams_rejected[RTP_E_SIZE], size);
	ck_assert_int_eq(t->datagrams_rejected[RTP_E_MAGIC], magic);
	ck_assert_int_eq(t->datagrams_foreign, foreign);
	ck_assert_int_eq(t->requests_total, good);
}
END_TEST

/* Sum of the requests of a table's rows. */
static int64_t
table_requests(const struct trk_named *tab, int n)
{
	int64_t r = 0;
	int i;

	for (i = 0; i < n; i++)
		r += tab[i].requests;
	return r;
}

/* Row count of name in a table (a name must never have two rows). */
static int
rows_named(const struct trk_named *tab, int n, const char *name)
{
	int i, c = 0;

	for (i = 0; i < n; i++)
		c += strcmp(tab[i].name, name) == 0;
	return c;
}

START_TEST(many_programs_fold_into_other_and_every_request_is_counted)
{
	struct rtp_event ev;
	char name[RTP_PROG_LEN];
	int round, i, j, total = 0;

	good_event(&ev);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < TRK_MAX_PROGS + 100; i++) {
			snprintf(name, sizeof(name), "prog-%d", i);
			memset(ev.prog, 0, sizeof(ev.prog));
			rtp_strlcpy(ev.prog, name, sizeof(ev.prog));
			send_bytes(&ev, sizeof(ev));
			total++;
			if (i % 50 == 49) {
				ck_assert_int_eq(ing_drain(rx, t, getuid(),
				    time(NULL)), 50);
			}
		}
		while (ing_drain(rx, t, getuid(), time(NULL)) > 0)
			;
		ck_assert_int_eq(t->datagrams_accepted, total);
		ck_assert_int_eq(t->nprogs, TRK_MAX_PROGS);
		ck_assert_int_eq(table_requests(t->progs, t->nprogs), total);
		ck_assert_int_eq(rows_named(t->progs, t->nprogs, "other"), 1);
		for (j = 0; j < TRK_MAX_PROGS - 1; j++) {
			snprintf(name, sizeof(name), "prog-%d", j);
			ck_assert_str_eq(t->progs[j].name, name);
			ck_assert_int_eq(t->progs[j].requests, round + 1);
		}
		ck_assert_str_eq(t->progs[TRK_MAX_PROGS - 1].name, "other");
		ck_assert_int_eq(t->progs[TRK_MAX_PROGS - 1].requests,
		    (int64_t)(round + 1) * 101);
	}
	/* after a reset the names start over from an empty table */
	trk_reset(t);
	send_bytes(&ev, sizeof(ev));
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), 1);
	ck_assert_int_eq(t->nprogs, 1);
	ck_assert_str_eq(t->progs[0].name, ev.prog);
	ck_assert_int_eq(t->progs[0].requests, 1);
}
END_TEST

START_TEST(rows_written_outside_the_tracker_are_found_by_name)
{
	struct rtp_event ev;

	/* as state_load() fills a table: rows and count, no events */
	snprintf(t->models[0].name, TRK_NAME_LEN, "claude-opus-4-1");
	t->models[0].requests = 7;
	snprintf(t->models[1].name, TRK_NAME_LEN, "claude-sonnet-4-5");
	t->models[1].requests = 5;
	t->nmodels = 2;
	good_event(&ev);
	send_bytes(&ev, sizeof(ev));
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), 1);
	ck_assert_int_eq(t->nmodels, 2);
	ck_assert_int_eq(t->models[1].requests, 6);
	/* reset, then refilled with other rows but the same count */
	trk_reset(t);
	snprintf(t->models[0].name, TRK_NAME_LEN, "claude-sonnet-4-5");
	t->models[0].requests = 1;
	snprintf(t->models[1].name, TRK_NAME_LEN, "claude-haiku-4-5");
	t->nmodels = 2;
	send_bytes(&ev, sizeof(ev));
	ck_assert_int_eq(ing_drain(rx, t, getuid(), time(NULL)), 1);
	ck_assert_int_eq(t->nmodels, 2);
	ck_assert_int_eq(rows_named(t->models, t->nmodels,
	    "claude-sonnet-4-5"), 1);
	ck_assert_int_eq(t->models[0].requests, 2);
}
END_TEST

START_TEST(the_loop_reads_the_socket_when_it_becomes_readable)
{
	struct loop *l = loop_new();
	struct rtp_event ev;

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(ing_start(l, rx, t), 0);
	good_event(&ev);
	send_bytes(&ev, sizeof(ev));
	send_bytes(&ev, 3);
	ck_assert_int_eq(loop_once(l, 1000), 1);
	ck_assert_int_eq(t->datagrams_accepted, 1);
	ck_assert_int_eq(t->datagrams_rejected[RTP_E_SIZE], 1);
	ing_stop(l, rx);
	send_bytes(&ev, sizeof(ev));
	ck_assert_int_eq(loop_once(l, 20), 0);
	ck_assert_int_eq(t->datagrams_accepted, 1);
	loop_free(l);
}
END_TEST

START_TEST(a_socket_error_is_reported_not_looped_on)
{
	int p[2];

	/* not a socket: recvmsg fails with ENOTSOCK, not EAGAIN */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(ing_drain(p[0], t, getuid(), time(NULL)), -1);
	ck_assert_int_eq(errno, ENOTSOCK);
	ck_assert_int_eq(t->datagrams_accepted, 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

static Suite *
ingest_suite(void)
{
	Suite *s = suite_create("ingest");
	TCase *tc = tcase_create("ingest");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_good_datagram_is_counted);
	tcase_add_test(tc, every_waiting_datagram_is_read_in_one_wakeup);
	tcase_add_test(tc,
	    truncated_and_oversize_datagrams_are_rejected_by_size);
	tcase_add_test(tc,
	    wrong_magic_version_and_fields_are_rejected_by_reason);
	tcase_add_test(tc, a_datagram_from_another_uid_is_foreign);
	tcase_add_test(tc, a_wakeup_reads_at_most_a_batch_over_several_calls);
	tcase_add_test(tc, each_datagram_of_a_batch_is_judged_on_its_own);
	tcase_add_test(tc,
	    many_programs_fold_into_other_and_every_request_is_counted);
	tcase_add_test(tc, rows_written_outside_the_tracker_are_found_by_name);
	tcase_add_test(tc, the_loop_reads_the_socket_when_it_becomes_readable);
	tcase_add_test(tc, a_socket_error_is_reported_not_looped_on);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ingest_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
