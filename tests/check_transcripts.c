/*
 * Unit tests of the transcripts' line parser and dedupe
 * (daemon/transcripts.c), fed lines directly: one count per (message.id,
 * requestId), the larger copy adding its difference, sidechain replays
 * and entries without an id skipped, bad lines counted, windows by the
 * entries' times, the saved state round trip.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../daemon/log.h"
#include "../daemon/tracker.h"
#include "../daemon/transcripts.h"

#define NOW	((time_t)1800000000)

static struct trk *t;
static struct tx *x;

static void
setup(void)
{
	t = trk_new(NULL);
	ck_assert_ptr_nonnull(t);
	x = tx_start(NULL, t);
	ck_assert_ptr_nonnull(x);
}

static void
teardown(void)
{
	tx_stop(x);
	trk_free(t);
}

static void
feed(const char *s)
{
	tx_feed_line(x, s, strlen(s), NOW);
}

/* An assistant line at NOW - ago seconds. */
static void
entry(const char *id, const char *req, long ago, int in, int out,
    int sidechain, const char *model)
{
	char ts[32], line[1024];

	rt_time_format(NOW - ago, ts, sizeof(ts));
	snprintf(line, sizeof(line), "{\"type\":\"assistant\",\"timestamp\":"
	    "\"%s\",\"isSidechain\":%s,\"cwd\":\"/p\",\"requestId\":\"%s\","
	    "\"message\":{\"id\":\"%s\",\"model\":\"%s\",\"content\":[{"
	    "\"type\":\"text\",\"text\":\"hi\"}],\"usage\":{\"input_tokens\":"
	    "%d,\"output_tokens\":%d,\"cache_creation_input_tokens\":0,"
	    "\"cache_read_input_tokens\":0}}}", ts,
	    sidechain ? "true" : "false", req, id, model, in, out);
	feed(line);
}

static int64_t
stat_of(const char *key)
{
	cJSON *st = cJSON_CreateObject(), *v;
	int64_t n;

	ck_assert_int_eq(tx_status_json(x, st), 0);
	v = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "transcripts"), key);
	ck_assert_ptr_nonnull(v);
	n = (int64_t)v->valuedouble;
	cJSON_Delete(st);
	return n;
}

START_TEST(copies_of_an_entry_count_once_and_the_larger_wins)
{
	entry("m1", "r1", 10, 5, 1, 0, "claude-opus-4-5");
	entry("m1", "r1", 10, 5, 1, 0, "claude-opus-4-5");
	entry("m1", "r1", 10, 5, 9, 0, "claude-opus-4-5");
	entry("m1", "r1", 10, 5, 3, 0, "claude-opus-4-5");	/* smaller */
	ck_assert_int_eq(t->requests_total, 1);
	ck_assert_int_eq(t->tokens_total.input, 5);
	ck_assert_int_eq(t->tokens_total.output, 9);
	ck_assert_int_eq(stat_of("entries"), 1);
	ck_assert_int_eq(stat_of("duplicates"), 3);
	ck_assert_int_eq(stat_of("grown"), 1);
	/* the same message under another request id is another request */
	entry("m1", "r2", 10, 1, 1, 0, "claude-opus-4-5");
	ck_assert_int_eq(t->requests_total, 2);
}
END_TEST

START_TEST(sidechain_replays_and_entries_without_an_id_are_skipped)
{
	entry("m1", "r1", 10, 5, 1, 0, "m");
	entry("m1", "r9", 10, 5, 1, 1, "m");	/* replay */
	entry("m2", "r2", 10, 2, 2, 1, "m");	/* a new sidechain one */
	entry("", "r3", 10, 7, 7, 0, "m");
	feed("{\"message\":{\"usage\":{\"input_tokens\":3}},"
	    "\"timestamp\":\"2027-01-15T08:00:00Z\"}");
	ck_assert_int_eq(t->requests_total, 2);
	ck_assert_int_eq(t->tokens_total.input, 7);
	ck_assert_int_eq(stat_of("sidechain_replays"), 1);
	ck_assert_int_eq(stat_of("no_id"), 2);
}
END_TEST

START_TEST(bad_lines_are_counted_and_change_nothing)
{
	static const char *const bad[] = {
		"not json",
		"[1,2]",
		"{\"message\": 7}",
		"{\"message\": {\"id\": \"a\", \"usage\": 5}}",
		"{\"message\": {\"id\": \"a\", \"usage\": {\"input_tokens\": "
		    "\"1\"}}, \"timestamp\": \"2027-01-15T08:00:00Z\"}",
		"{\"message\": {\"id\": \"a\", \"usage\": {\"input_tokens\": "
		    "-1}}, \"timestamp\": \"2027-01-15T08:00:00Z\"}",
		"{\"message\": {\"id\": \"a\", \"usage\": {\"input_tokens\": "
		    "1.5}}, \"timestamp\": \"2027-01-15T08:00:00Z\"}",
		"{\"message\": {\"id\": \"a\", \"usage\": {\"input_tokens\": "
		    "1e300}}, \"timestamp\": \"2027-01-15T08:00:00Z\"}",
		"{\"message\": {\"id\": 5, \"usage\": {}}, \"timestamp\": "
		    "\"2027-01-15T08:00:00Z\"}",
		"{\"message\": {\"id\": \"a\", \"usage\": {}}, \"timestamp\": "
		    "\"yesterday\"}",
		"{\"message\": {\"id\": \"a\", \"usage\": {}}, \"timestamp\": "
		    "\"2027-01-15T08:00:00Z\", \"isSidechain\": \"yes\"}",
		"{\"message\": {\"id\": \"a\", \"model\": [], \"usage\": {}}}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		feed(bad[i]);
	ck_assert_int_eq(stat_of("bad_lines"), (int64_t)i);
	ck_assert_int_eq(t->requests_total, 0);
	ck_assert_int_eq(t->nmodels, 0);
	/* lines without usage (a user's, a summary) are not bad */
	feed("{\"type\":\"user\",\"message\":{\"role\":\"user\","
	    "\"content\":\"x\"}}");
	feed("{\"type\":\"summary\",\"summary\":\"x\"}");
	feed("   ");
	ck_assert_int_eq(stat_of("bad_lines"), (int64_t)i);
}
END_TEST

START_TEST(a_huge_line_is_bad_without_being_parsed)
{
	size_t n = TX_LINE_MAX + 10;
	char *s = malloc(n);

	ck_assert_ptr_nonnull(s);
	memset(s, 'x', n);
	tx_feed_line(x, s, n, NOW);
	free(s);
	ck_assert_int_eq(stat_of("bad_lines"), 1);
}
END_TEST

START_TEST(windows_count_the_entries_their_times_fall_in)
{
	struct trk_obs o;

	entry("m1", "r1", 4 * 3600, 100, 0, 0, "claude-opus-4-5");
	entry("m2", "r2", 3600, 10, 0, 0, "claude-sonnet-4-5");
	entry("m3", "r3", 2 * 86400, 1000, 0, 0, "claude-opus-4-5");
	entry("m4", "r4", 8 * 86400, 10000, 0, 0, "claude-opus-4-5");
	tx_recompute(x, NOW);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 110);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].tokens.input, 1110);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].tokens.input, 10);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].tokens.input, 1100);
	ck_assert_int_eq(stat_of("too_old"), 1);
	/* the 5-hour window started 3 hours ago */
	memset(&o, 0, sizeof(o));
	o.source = TRK_SRC_STATUSLINE;
	o.observed_at = NOW;
	o.match = -1;
	o.resets_at = NOW + 2 * 3600;
	ck_assert_int_eq(trk_observe(t, "five_hour", &o, NOW), 0);
	tx_recompute(x, NOW);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 10);
	/* it rolls over: the new instance holds none of them */
	trk_tick(t, NOW + 2 * 3600);
	tx_recompute(x, NOW + 2 * 3600);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 0);
	entry("m5", "r5", -2 * 3600 - 60, 7, 0, 0, "claude-opus-4-5");
	tx_recompute(x, NOW + 2 * 3600 + 60);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 7);
}
END_TEST

START_TEST(the_saved_state_brings_back_the_dedupe_memory)
{
	static const char line[] = "{\"timestamp\":\"2027-01-15T07:59:50Z\","
	    "\"requestId\":\"r1\",\"message\":{\"id\":\"m1\",\"model\":"
	    "\"claude-opus-4-5\",\"usage\":{\"input_tokens\":5,"
	    "\"output_tokens\":1}}}";
	struct trk *t2;
	struct tx *x2;
	cJSON *saved;

	entry("m1", "r1", 10, 5, 1, 0, "claude-opus-4-5");
	tx_recompute(x, NOW);
	saved = t->tx.save(t->tx.arg);
	ck_assert_ptr_nonnull(saved);
	t2 = trk_new(NULL);
	t2->tx.loaded = saved;
	x2 = tx_start(NULL, t2);
	ck_assert_ptr_nonnull(x2);
	ck_assert_ptr_null(t2->tx.loaded);
	/* the same entry again: a duplicate, not a request */
	tx_feed_line(x2, line, strlen(line), NOW);
	ck_assert_int_eq(t2->requests_total, 0);
	tx_stop(x2);
	trk_free(t2);
}
END_TEST

static Suite *
transcripts_suite(void)
{
	Suite *s = suite_create("transcripts");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, copies_of_an_entry_count_once_and_the_larger_wins);
	tcase_add_test(tc,
	    sidechain_replays_and_entries_without_an_id_are_skipped);
	tcase_add_test(tc, bad_lines_are_counted_and_change_nothing);
	tcase_add_test(tc, a_huge_line_is_bad_without_being_parsed);
	tcase_add_test(tc, windows_count_the_entries_their_times_fall_in);
	tcase_add_test(tc, the_saved_state_brings_back_the_dedupe_memory);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(transcripts_suite());
	int failed;

	log_init("check_transcripts", 0);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
