/*
 * Unit tests of the journal: the record format (common/proto.c), the
 * de-duplication and the reader (daemon/journal.c), and the reader's
 * position saved with the state (daemon/state.c).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ratetap/proto.h"

#include "../daemon/journal.h"
#include "../daemon/log.h"
#include "../daemon/loop.h"
#include "../daemon/state.h"
#include "../daemon/tracker.h"

static struct rtp_event
event(int32_t pid, uint32_t seq)
{
	struct rtp_event ev;

	rtp_init(&ev);
	ev.pid = pid;
	ev.seq = seq;
	ev.http_status = 200;
	ev.method = RTP_M_POST;
	ev.usage_state = RTP_USAGE_OK;
	ev.input_tokens = 11;
	ev.output_tokens = 22;
	rtp_strlcpy(ev.model, "claude-sonnet-4-5", sizeof(ev.model));
	rtp_strlcpy(ev.host, "api.anthropic.com", sizeof(ev.host));
	rtp_strlcpy(ev.path, "/v1/messages", sizeof(ev.path));
	rtp_strlcpy(ev.prog, "unit", sizeof(ev.prog));
	return ev;
}

START_TEST(a_record_frames_its_event_and_detects_damage)
{
	struct rtj_record rec;
	struct rtp_event ev = event(42, 7), out;
	struct rtj_hdr h;
	unsigned char *p = (unsigned char *)&rec;
	size_t len, got, i;

	len = rtj_encode(&rec, &ev, 1234);
	ck_assert_uint_eq(len % RTJ_ALIGN, 0);
	ck_assert_int_eq(rtj_frame(&rec, len, &h, &got), RTJ_OK);
	ck_assert_uint_eq(got, len);
	ck_assert_int_eq(h.pid, 42);
	ck_assert_uint_eq(h.seq, 7);
	ck_assert_uint_eq(h.stamp, 1234);
	ck_assert_int_eq(rtp_validate(p + sizeof(h), h.payload, &out), RTP_OK);
	ck_assert_int_eq(memcmp(&out, &ev, sizeof(ev)), 0);
	/* every prefix is short (wait), never accepted */
	for (i = 0; i < len; i++)
		ck_assert_int_eq(rtj_frame(&rec, i, &h, &got), RTJ_SHORT);
	/* any flipped byte is refused */
	for (i = 0; i < len; i += 7) {
		p[i] ^= 0x40;
		ck_assert_int_ne(rtj_frame(&rec, len, &h, &got), RTJ_OK);
		p[i] ^= 0x40;
	}
	ck_assert_int_eq(rtj_frame("garbage!", 8, &h, &got), RTJ_BAD);
}
END_TEST

START_TEST(repeats_are_refused_within_and_across_processes)
{
	struct trk *t = trk_new(NULL);
	uint32_t q;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(jrn_seen(t, 10, 1, 1), 0);
	ck_assert_int_eq(jrn_seen(t, 10, 1, 1), 1);
	/* out of order (threads), each once */
	ck_assert_int_eq(jrn_seen(t, 10, 1, 5), 0);
	ck_assert_int_eq(jrn_seen(t, 10, 1, 3), 0);
	ck_assert_int_eq(jrn_seen(t, 10, 1, 2), 0);
	ck_assert_int_eq(jrn_seen(t, 10, 1, 3), 1);
	ck_assert_int_eq(jrn_seen(t, 10, 1, 4), 0);
	ck_assert_int_eq(jrn_seen(t, 10, 1, 5), 1);
	/* a forked child: new pid, its own sequence from 1 */
	ck_assert_int_eq(jrn_seen(t, 11, 2, 1), 0);
	/* the same pid later (reused) with a new stamp is another writer */
	ck_assert_int_eq(jrn_seen(t, 10, 3, 1), 0);
	/* far ahead, then far behind the window: never counted twice */
	ck_assert_int_eq(jrn_seen(t, 10, 1, 1000), 0);
	ck_assert_int_eq(jrn_seen(t, 10, 1, 900), 1);
	/* more writers than remembered: the least recent is forgotten */
	for (q = 0; q < TRK_SEEN_MAX + 10; q++)
		ck_assert_int_eq(jrn_seen(t, 1000 + (int32_t)q, 9, 1), 0);
	ck_assert_int_le(t->jrn.nseen, TRK_SEEN_MAX);
	ck_assert_int_eq(jrn_seen(t, 1000 + TRK_SEEN_MAX + 9, 9, 1), 1);
	trk_free(t);
}
END_TEST

START_TEST(the_position_and_memory_are_saved_with_the_state)
{
	char dir[] = "/tmp/rt-cj-XXXXXX", path[64];
	struct trk *t = trk_new(NULL), *u = trk_new(NULL);
	char err[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	t->jrn.offset = 6720;
	t->jrn.ino = 77;
	t->jrn.records = 10;
	t->jrn.repeats = 2;
	t->jrn.corrupt_bytes = 5;
	ck_assert_int_eq(jrn_seen(t, 10, UINT64_C(1765000000123456789), 9), 0);
	ck_assert_int_eq(jrn_seen(t, 10, UINT64_C(1765000000123456789), 7), 0);
	ck_assert_int_eq(state_save(t, path, err, sizeof(err)), 0);
	ck_assert_int_eq(state_load(u, path, err, sizeof(err)), 0);
	ck_assert_int_eq(u->jrn.offset, 6720);
	ck_assert_uint_eq(u->jrn.ino, 77);
	ck_assert_int_eq(u->jrn.records, 10);
	ck_assert_int_eq(u->jrn.repeats, 2);
	ck_assert_int_eq(u->jrn.corrupt_bytes, 5);
	ck_assert_int_eq(u->jrn.nseen, 1);
	/* the loaded memory refuses what the saved one had taken */
	ck_assert_int_eq(jrn_seen(u, 10, UINT64_C(1765000000123456789), 9), 1);
	ck_assert_int_eq(jrn_seen(u, 10, UINT64_C(1765000000123456789), 7), 1);
	ck_assert_int_eq(jrn_seen(u, 10, UINT64_C(1765000000123456789), 8), 0);
	unlink(path);
	rmdir(dir);
	trk_free(t);
	trk_free(u);
}
END_TEST

static void
append(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

START_TEST(the_reader_takes_records_skips_garbage_and_waits_for_a_tail)
{
	char dir[] = "/tmp/rt-cj-XXXXXX", path[64], err[256];
	struct trk *t = trk_new(NULL);
	struct rtj_record rec;
	struct rtp_event ev;
	struct jrn *j;
	size_t len;
	int more, i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/events.journal", dir);
	for (i = 1; i <= 3; i++) {
		ev = event(5, (uint32_t)i);
		len = rtj_encode(&rec, &ev, 99);
		append(path, &rec, len);
	}
	append(path, "\x01\x02garbage", 9);
	ev = event(5, 4);
	len = rtj_encode(&rec, &ev, 99);
	append(path, &rec, len);
	append(path, &rec, len);		/* a repeat */
	ev = event(5, 5);
	len = rtj_encode(&rec, &ev, 99);
	append(path, &rec, len / 2);		/* being written */
	j = jrn_open(NULL, t, path, err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(jrn_drain(j, 0, time(NULL), &more), 5);
	ck_assert_int_eq(t->requests_total, 4);
	ck_assert_int_eq(t->jrn.repeats, 1);
	ck_assert_int_eq(t->jrn.corrupt_bytes, 9);
	ck_assert_int_eq(t->tokens_total.input, 44);
	/* the rest of the record arrives: taken */
	append(path, (char *)&rec + len / 2, len - len / 2);
	ck_assert_int_eq(jrn_drain(j, 0, time(NULL), &more), 1);
	ck_assert_int_eq(t->requests_total, 5);
	/* a batch limit leaves the rest for later */
	for (i = 6; i <= 10; i++) {
		ev = event(5, (uint32_t)i);
		len = rtj_encode(&rec, &ev, 99);
		append(path, &rec, len);
	}
	ck_assert_int_eq(jrn_drain(j, 2, time(NULL), &more), 2);
	ck_assert_int_eq(more, 1);
	ck_assert_int_eq(jrn_drain(j, 0, time(NULL), &more), 3);
	ck_assert_int_eq(t->requests_total, 10);
	jrn_close(j);
	unlink(path);
	rmdir(dir);
	trk_free(t);
}
END_TEST

/* A writer appending every 10 ms for 1.5 s: the reader takes every record
 * by itself (no catch-up), in a handful of wakeups (one a window), not
 * one or two per record. */
START_TEST(a_trickle_of_records_costs_a_few_wakeups)
{
	char dir[] = "/tmp/rt-cj-XXXXXX", path[64], err[256];
	struct trk *t = trk_new(NULL);
	struct loop *l = loop_new();
	struct rtj_record rec;
	struct rtp_event ev;
	struct jrn *j;
	int64_t t0;
	int i, rounds = 0, status;
	pid_t pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/events.journal", dir);
	j = jrn_open(l, t, path, err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	/* the start: the first tick */
	ck_assert_int_ge(loop_once(l, 100), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (i = 1; i <= 150; i++) {
			ev = event(7, (uint32_t)i);
			append(path, &rec, rtj_encode(&rec, &ev, 8));
			usleep(10000);
		}
		_exit(0);
	}
	t0 = loop_now_ms();
	while (t->requests_total < 150 && loop_now_ms() - t0 < 10000) {
		ck_assert_int_ge(loop_once(l, -1), 0);
		rounds++;
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(t->requests_total, 150);
	/* about 1.5 s / 500 ms windows, the first wakeup and a tick or two */
	ck_assert_int_le(rounds, 12);
	jrn_close(j);
	loop_free(l);
	unlink(path);
	rmdir(dir);
	trk_free(t);
}
END_TEST

static Suite *
journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");

	tcase_add_test(tc, a_record_frames_its_event_and_detects_damage);
	tcase_add_test(tc, repeats_are_refused_within_and_across_processes);
	tcase_add_test(tc, the_position_and_memory_are_saved_with_the_state);
	tcase_add_test(tc,
	    the_reader_takes_records_skips_garbage_and_waits_for_a_tail);
	tcase_add_test(tc, a_trickle_of_records_costs_a_few_wakeups);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	log_init("check_journal", 0);
	sr = srunner_create(journal_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
