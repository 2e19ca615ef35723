/*
 * Unit tests of the ledger (daemon/ledger.c): schema and migration,
 * batched writes, the reconciliation with the state, retention, damaged
 * files moved aside.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../daemon/ledger.h"
#include "../daemon/log.h"

static char dir[256], path[300];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/rt-ck-ledger-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ledger.db", dir);
	log_init("check_ledger", 0);
}

static void
teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

static int64_t
scalar(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
add(struct ldg *l, int64_t n, time_t at)
{
	struct ldg_request r;

	memset(&r, 0, sizeof(r));
	r.stream = LDG_STREAM_EVENTS;
	r.seq = ldg_events_seq(l, n);
	r.at = at;
	r.source = "libcurl";
	r.program = "curl";
	r.model = "claude-sonnet-4-5";
	r.input = 11;
	r.output = 22;
	r.cache_creation_input = 3;
	r.cache_read_input = 5;
	r.http_status = 200;
	ck_assert_int_eq(ldg_add_request(l, &r), 0);
}

START_TEST(a_new_ledger_has_the_schema_and_takes_batches)
{
	struct ldg *l = ldg_open(path, NULL);
	time_t now = time(NULL);
	int i;

	ck_assert(ldg_ok(l));
	for (i = 1; i <= 1000; i++)
		add(l, i, now);
	ck_assert_int_eq(ldg_flush(l, now), 0);
	ck_assert_int_eq(ldg_written(l), 1000);
	/* the same rows again (a replay) are not doubled */
	for (i = 1; i <= 1000; i++)
		add(l, i, now);
	ck_assert_int_eq(ldg_flush(l, now), 0);
	ldg_close(l);
	ck_assert_int_eq(scalar("PRAGMA user_version"), LDG_SCHEMA_VERSION);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM requests"), 1000);
	ck_assert_int_eq(scalar("SELECT SUM(input) FROM requests"), 11000);
}
END_TEST

/* A burst is written a batch at a time as it comes, not held in memory
 * until the next save; what is left of it waits for the save. */
START_TEST(a_burst_is_written_a_batch_at_a_time)
{
	struct ldg *l = ldg_open(path, NULL);
	time_t now = time(NULL);
	int64_t i, n = 3 * LDG_BATCH_ROWS + 5;

	ck_assert(ldg_ok(l));
	for (i = 1; i <= n; i++)
		add(l, i, now);
	ck_assert_int_eq(ldg_written(l), 3 * LDG_BATCH_ROWS);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM requests"),
	    3 * LDG_BATCH_ROWS);
	ck_assert_int_eq(ldg_flush(l, now), 0);
	ck_assert_int_eq(ldg_written(l), n);
	ldg_close(l);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM requests"), n);
	ck_assert_int_eq(scalar("SELECT MAX(seq) FROM requests"), n);
}
END_TEST

/* The WAL is copied into the database by the checkpoint thread, not in
 * the writes: the file grows while the ledger stays open. */
START_TEST(the_wal_is_checkpointed_by_the_ledgers_thread)
{
	struct ldg *l = ldg_open(path, NULL);
	time_t now = time(NULL);
	struct stat st0, st;
	int64_t i;
	int tries;

	ck_assert(ldg_ok(l));
	ck_assert_int_eq(ldg_checkpoints_in_thread(l), 1);
	ck_assert_int_eq(stat(path, &st0), 0);
	/* well over LDG_CKPT_PAGES pages of WAL */
	for (i = 1; i <= 40000; i++) {
		add(l, i, now);
		if (i % 1000 == 0)
			ck_assert_int_eq(ldg_flush(l, now), 0);
	}
	/* (SQLite's own checkpoints in the commits are off: the hook
	   replaced them) */
	for (tries = 0; tries < 250; tries++) {
		ck_assert_int_eq(stat(path, &st), 0);
		if (st.st_size > st0.st_size + 256 * 1024)
			break;
		usleep(10000);
	}
	ck_assert_int_gt(st.st_size, st0.st_size + 256 * 1024);
	ldg_close(l);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM requests"), 40000);
}
END_TEST

/* Rows go in many to a statement, the rest one by one: every row lands
 * once, with its own values, whatever the batch's size, and a row already
 * there (a replay overlapping the history) is skipped alone. */
START_TEST(batches_of_any_size_land_row_for_row)
{
	struct ldg *l = ldg_open(path, NULL);
	time_t now = time(NULL);
	struct ldg_request r;
	int i;

	ck_assert(ldg_ok(l));
	for (i = 1; i <= 40; i++)
		add(l, i, now);
	ck_assert_int_eq(ldg_flush(l, now), 0);
	ck_assert_int_eq(ldg_written(l), 40);
	/* 30..102: 11 are there already, 62 new, in 2 full statements of
	   many and 9 single rows; the last one distinct */
	for (i = 30; i <= 101; i++)
		add(l, i, now);
	memset(&r, 0, sizeof(r));
	r.stream = LDG_STREAM_EVENTS;
	r.seq = ldg_events_seq(l, 102);
	r.at = now - 60;
	r.source = "tls";
	r.project = "p";
	r.input = 1000;
	r.http_status = 429;
	r.rate_limited = 1;
	ck_assert_int_eq(ldg_add_request(l, &r), 0);
	ck_assert_uint_eq(ldg_pending(l), 73);
	ck_assert_int_eq(ldg_flush(l, now), 0);
	ck_assert_uint_eq(ldg_pending(l), 0);
	ck_assert_int_eq(ldg_written(l), 102);
	ldg_close(l);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM requests"), 102);
	ck_assert_int_eq(scalar("SELECT COUNT(DISTINCT seq) FROM requests"),
	    102);
	ck_assert_int_eq(scalar("SELECT SUM(input) FROM requests"),
	    101 * 11 + 1000);
	ck_assert_int_eq(scalar("SELECT SUM(output) FROM requests"), 101 * 22);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM requests WHERE seq = 102"
	    " AND source = 'tls' AND program IS NULL AND model IS NULL AND"
	    " project = 'p' AND http_status = 429 AND rate_limited = 1"), 1);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM requests WHERE seq <="
	    " 101 AND program = 'curl' AND cache_read_input = 5 AND"
	    " cache_creation_input = 3"), 101);
}
END_TEST

START_TEST(rows_beyond_a_loaded_state_are_dropped_at_start)
{
	struct ldg *l = ldg_open(path, NULL);
	time_t now = time(NULL);
	int i;

	for (i = 1; i <= 10; i++)
		add(l, i, now);
	ck_assert_int_eq(ldg_flush(l, now), 0);
	ldg_close(l);
	/* the state saved after event 6: 7-10 come again from the journal */
	l = ldg_open(path, NULL);
	ck_assert_int_eq(ldg_reconcile(l, 6, 0), 0);
	ldg_close(l);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM requests"), 6);
	ck_assert_int_eq(scalar("SELECT MAX(seq) FROM requests"), 6);
}
END_TEST

START_TEST(a_fresh_state_numbers_its_events_above_the_history)
{
	struct ldg *l = ldg_open(path, NULL);
	time_t now = time(NULL);
	int i;

	for (i = 1; i <= 10; i++)
		add(l, i, now);
	ck_assert_int_eq(ldg_flush(l, now), 0);
	ldg_close(l);
	l = ldg_open(path, NULL);
	ck_assert_int_eq(ldg_reconcile(l, 0, 1), 0);
	ck_assert_int_eq(ldg_events_seq(l, 1), 11);
	add(l, 1, now);
	ck_assert_int_eq(ldg_flush(l, now), 0);
	ldg_close(l);
	/* the base survives a restart with the state now loaded */
	l = ldg_open(path, NULL);
	ck_assert_int_eq(ldg_reconcile(l, 1, 0), 0);
	ck_assert_int_eq(ldg_events_seq(l, 2), 12);
	ldg_close(l);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM requests"), 11);
}
END_TEST

START_TEST(rows_older_than_the_retention_go)
{
	struct ldg_config cfg = { .retention_days = 30 };
	struct ldg *l = ldg_open(path, &cfg);
	time_t now = time(NULL);
	struct ldg_sample s = { "five_hour", 0, 10.0, "header", 0 };

	add(l, 1, now - 31 * 86400);
	add(l, 2, now - 29 * 86400);
	ck_assert_int_eq(ldg_flush(l, now - 29 * 86400), 0);
	s.at = now - 40 * 86400;
	ck_assert_int_eq(ldg_add_sample(l, &s), 0);
	ck_assert_int_eq(ldg_flush(l, now), 0);
	ldg_close(l);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM requests"), 1);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM samples"), 0);
}
END_TEST

START_TEST(an_unchanged_figure_is_sampled_once_a_minute)
{
	struct ldg *l = ldg_open(path, NULL);
	struct ldg_sample s = { "five_hour", 1000, 10.0, "header", 5000 };
	time_t now = time(NULL);
	int i;

	s.at = now;
	for (i = 0; i < 100; i++) {
		s.at = now + i;		/* 100 s of the same figure */
		(void)ldg_add_sample(l, &s);
	}
	s.utilization = 11.0;
	(void)ldg_add_sample(l, &s);
	ck_assert_int_eq(ldg_flush(l, now), 0);
	ldg_close(l);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM samples"), 3);
}
END_TEST

START_TEST(a_damaged_file_is_moved_aside_and_a_fresh_one_made)
{
	FILE *f = fopen(path, "w");
	cJSON *o = cJSON_CreateObject();
	const cJSON *v;
	struct ldg *l;
	char aside[400];
	struct stat st;

	fputs("SQLite format 3", f);
	fputc(0, f);
	fputs("this is not a database page at all", f);
	fclose(f);
	l = ldg_open(path, NULL);
	ck_assert(ldg_ok(l));
	ck_assert_int_eq(ldg_status_json(l, o), 0);
	v = cJSON_GetObjectItem(o, "recovered_from");
	ck_assert(cJSON_IsString(v));
	ck_assert_int_eq(strncmp(v->valuestring, "ledger.db.corrupt-", 18), 0);
	snprintf(aside, sizeof(aside), "%s/%s", dir, v->valuestring);
	ck_assert_int_eq(stat(aside, &st), 0);
	add(l, 1, time(NULL));
	ck_assert_int_eq(ldg_flush(l, time(NULL)), 0);
	ldg_close(l);
	cJSON_Delete(o);
	ck_assert_int_eq(scalar("SELECT COUNT(*) FROM requests"), 1);
}
END_TEST

START_TEST(a_file_of_a_newer_schema_is_left_alone)
{
	sqlite3 *db;
	struct ldg *l;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t (x);"
	    "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	l = ldg_open(path, NULL);
	ck_assert(!ldg_ok(l));
	ck_assert_int_eq(ldg_add_request(l, &(struct ldg_request){
	    .stream = "events" }), -1);
	ldg_close(l);
	ck_assert_int_eq(scalar("PRAGMA user_version"), 7);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("ledger");
	TCase *tc = tcase_create("ledger");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_new_ledger_has_the_schema_and_takes_batches);
	tcase_add_test(tc, a_burst_is_written_a_batch_at_a_time);
	tcase_add_test(tc, the_wal_is_checkpointed_by_the_ledgers_thread);
	tcase_add_test(tc, batches_of_any_size_land_row_for_row);
	tcase_add_test(tc, rows_beyond_a_loaded_state_are_dropped_at_start);
	tcase_add_test(tc, a_fresh_state_numbers_its_events_above_the_history);
	tcase_add_test(tc, rows_older_than_the_retention_go);
	tcase_add_test(tc, an_unchanged_figure_is_sampled_once_a_minute);
	tcase_add_test(tc, a_damaged_file_is_moved_aside_and_a_fresh_one_made);
	tcase_add_test(tc, a_file_of_a_newer_schema_is_left_alone);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
