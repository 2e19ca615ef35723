/*
 * Unit tests of `ratetap report` (cli/report.c): the price table, and the
 * aggregation of known rows, written with chosen times through the
 * ledger's own API (daemon/ledger.c): across a local day boundary, weeks,
 * months, groups, and window instances across a reset.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../cli/report.h"
#include "../daemon/ledger.h"
#include "../daemon/log.h"

const char *cli_progname = "ratetap";

static char dir[256], path[300];
static struct rpt_pricing pricing;
static struct ldg *lg;
static int64_t seq;

/* 2026-12-06T23:30:00Z, a Sunday */
#define T0	((time_t)1796599800)

static void
setup(void)
{
	char err[256];

	snprintf(dir, sizeof(dir), "/tmp/rt-ck-report-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ledger.db", dir);
	log_init("check_report", 0);
	ck_assert_int_eq(rpt_pricing_parse(rpt_builtin_pricing,
	    strlen(rpt_builtin_pricing), &pricing, err, sizeof(err)), 0);
	lg = ldg_open(path, NULL);
	ck_assert(ldg_ok(lg));
	seq = 0;
	setenv("TZ", "UTC", 1);
	tzset();
}

static void
teardown(void)
{
	char cmd[300];

	ldg_close(lg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

static void
req(time_t at, const char *model, const char *prog, int64_t in,
    int64_t out)
{
	struct ldg_request r;

	memset(&r, 0, sizeof(r));
	r.stream = LDG_STREAM_EVENTS;
	r.seq = ++seq;
	r.at = at;
	r.source = "libcurl";
	r.program = prog;
	r.model = model;
	r.input = in;
	r.output = out;
	r.cache_creation_input = 1000000;
	r.cache_read_input = 1000000;
	r.http_status = 200;
	ck_assert_int_eq(ldg_add_request(lg, &r), 0);
}

static void
sample(const char *w, time_t at, double u, time_t reset)
{
	struct ldg_sample s = { w, at, u, "header", reset };

	ck_assert_int_eq(ldg_add_sample(lg, &s), 0);
}

static void
query(int kind, int by, time_t since, time_t until, struct rpt_result *res)
{
	char err[256];
	sqlite3 *db;

	ck_assert_int_eq(ldg_flush(lg, T0), 0);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	ck_assert_msg(rpt_query(db, kind, by, since, until, &pricing, res,
	    err, sizeof(err)) == 0, "%s", err);
	sqlite3_close(db);
}

START_TEST(the_price_table_names_each_family)
{
	const struct rpt_price *p;

	ck_assert_str_eq(pricing.date, "2026-11-01");
	p = rpt_price_for(&pricing, "claude-opus-4-5-20251101");
	ck_assert(p != NULL && p->input == 5 && p->output == 25);
	p = rpt_price_for(&pricing, "claude-opus-4-1-20250805");
	ck_assert(p != NULL && p->input == 15);
	p = rpt_price_for(&pricing, "claude-opus-4-20250514");
	ck_assert(p != NULL && p->input == 15);
	p = rpt_price_for(&pricing, "Claude-Sonnet-4-5");
	ck_assert(p != NULL && p->input == 3 && p->cache_read == 0.3 &&
	    p->cache_write_5m == 3.75 && p->cache_write_1h == 6);
	p = rpt_price_for(&pricing, "claude-3-5-haiku-20241022");
	ck_assert(p != NULL && p->input == 0.8);
	p = rpt_price_for(&pricing, "claude-haiku-4-5");
	ck_assert(p != NULL && p->input == 1);
	ck_assert_ptr_null(rpt_price_for(&pricing, "gpt-5"));
	ck_assert_ptr_null(rpt_price_for(&pricing, ""));
}
END_TEST

START_TEST(a_bad_price_file_is_refused_with_a_reason)
{
	static const char *const bad[] = {
		"", "[]", "{\"models\": []}",
		"{\"date\": \"2026-11-01\"}",
		"{\"date\": \"2026-11-01\", \"models\": []}",
		"{\"date\": \"2026-11-01\", \"models\": [{\"match\": \"x\"}]}",
		"{\"date\": \"2026-11-01\", \"models\": [{\"match\": \"x\","
		    " \"input\": -1, \"output\": 1, \"cache_write_5m\": 1,"
		    " \"cache_write_1h\": 1, \"cache_read\": 1}]}",
		"{\"date\": \"2026-11-01\", \"models\": [{\"match\": \"\","
		    " \"input\": 1, \"output\": 1, \"cache_write_5m\": 1,"
		    " \"cache_write_1h\": 1, \"cache_read\": 1}]}",
	};
	struct rpt_pricing p;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(rpt_pricing_parse(bad[i], strlen(bad[i]), &p,
		    err, sizeof(err)), -1);
		ck_assert(err[0] != '\0');
	}
}
END_TEST

START_TEST(days_are_local_and_cost_comes_from_the_table)
{
	struct rpt_result res;

	req(T0, "claude-sonnet-4-5", "curl", 1000000, 1000000);
	req(T0 + 3600, "claude-sonnet-4-5", "curl", 1000000, 0);
	query(RPT_DAILY, RPT_BY_NONE, 0, 0, &res);
	ck_assert_uint_eq(res.n, 2);
	ck_assert_str_eq(res.rows[0].period, "2026-12-06");
	ck_assert_str_eq(res.rows[1].period, "2026-12-07");
	ck_assert_int_eq(res.rows[0].requests, 1);
	/* 1M input $3 + 1M output $15 + 1M cache write $3.75 + read $0.30 */
	ck_assert_double_eq_tol(res.rows[0].cost_usd, 22.05, 1e-9);
	ck_assert_double_eq_tol(res.total.cost_usd, 22.05 + 7.05, 1e-9);
	ck_assert_int_eq(res.total.requests, 2);
	ck_assert_int_eq(res.total.input, 2000000);
	rpt_result_free(&res);

	/* five hours west of UTC both are on the 6th */
	setenv("TZ", "EST5", 1);
	tzset();
	query(RPT_DAILY, RPT_BY_NONE, 0, 0, &res);
	ck_assert_uint_eq(res.n, 1);
	ck_assert_str_eq(res.rows[0].period, "2026-12-06");
	ck_assert_int_eq(res.rows[0].requests, 2);
	rpt_result_free(&res);
}
END_TEST

START_TEST(weeks_start_on_monday_and_months_group_days)
{
	struct rpt_result res;

	req(T0, "claude-sonnet-4-5", "curl", 1, 1);		/* Sun 6th */
	req(T0 + 3600, "claude-sonnet-4-5", "curl", 1, 1);	/* Mon 7th */
	req(T0 - 5 * 86400, "claude-sonnet-4-5", "curl", 1, 1);	/* Tue 1st */
	req(T0 - 7 * 86400, "claude-sonnet-4-5", "curl", 1, 1);	/* Nov 29 */
	query(RPT_WEEKLY, RPT_BY_NONE, 0, 0, &res);
	ck_assert_uint_eq(res.n, 3);
	ck_assert_str_eq(res.rows[0].period, "2026-11-23");
	ck_assert_str_eq(res.rows[1].period, "2026-11-30");
	ck_assert_int_eq(res.rows[1].requests, 2);
	ck_assert_str_eq(res.rows[2].period, "2026-12-07");
	rpt_result_free(&res);
	query(RPT_MONTHLY, RPT_BY_NONE, 0, 0, &res);
	ck_assert_uint_eq(res.n, 2);
	ck_assert_str_eq(res.rows[0].period, "2026-11");
	ck_assert_int_eq(res.rows[1].requests, 3);
	rpt_result_free(&res);
}
END_TEST

START_TEST(groups_and_dates_select_rows)
{
	struct rpt_result res;
	time_t since, until;

	req(T0, "claude-sonnet-4-5", "curl", 1, 1);
	req(T0, "claude-opus-4-5", "php", 1, 1);
	req(T0, "claude-opus-4-5", "php", 1, 1);
	req(T0 + 3600, "claude-opus-4-5", "php", 1, 1);
	req(T0 + 86400 * 2, "claude-opus-4-5", "php", 1, 1);
	query(RPT_DAILY, RPT_BY_MODEL, 0, 0, &res);
	ck_assert_uint_eq(res.n, 4);
	ck_assert_str_eq(res.rows[0].group, "claude-opus-4-5");
	ck_assert_int_eq(res.rows[0].requests, 2);
	ck_assert_str_eq(res.rows[1].group, "claude-sonnet-4-5");
	rpt_result_free(&res);
	ck_assert_int_eq(rpt_parse_date("2026-12-07", 0, &since), 0);
	ck_assert_int_eq(rpt_parse_date("2026-12-07", 1, &until), 0);
	query(RPT_DAILY, RPT_BY_PROGRAM, since, until, &res);
	ck_assert_uint_eq(res.n, 1);
	ck_assert_str_eq(res.rows[0].group, "php");
	ck_assert_str_eq(res.rows[0].period, "2026-12-07");
	rpt_result_free(&res);
	ck_assert_int_eq(rpt_parse_date("2026-02-31", 0, &since), -1);
	ck_assert_int_eq(rpt_parse_date("2026-1-01", 0, &since), -1);
	ck_assert_int_eq(rpt_parse_date("yesterday", 0, &since), -1);
}
END_TEST

START_TEST(window_instances_have_their_peak_and_their_usage)
{
	time_t r1 = T0 + 1800, r2 = r1 + 5 * 3600;
	struct rpt_result res;

	/* first instance [r1 - 5h, r1): two samples, the poll's reset a few
	   minutes off the header's (jitter: the same instance) */
	sample("five_hour", r1 - 3600, 40.0, r1);
	sample("five_hour", r1 - 600, 72.5, r1 + 120);
	/* after the reset: the next instance */
	sample("five_hour", r1 + 60, 3.0, r2);
	sample("seven_day_sonnet", r1, 10.0, r1 + 6 * 86400);
	req(r1 - 6 * 3600, "claude-sonnet-4-5", "curl", 5, 5); /* before */
	req(r1 - 100, "claude-sonnet-4-5", "curl", 1, 1);
	req(r1 - 50, "claude-opus-4-5", "curl", 1, 1);
	req(r1 + 100, "claude-sonnet-4-5", "curl", 1, 1);
	query(RPT_WINDOWS, RPT_BY_NONE, 0, 0, &res);
	ck_assert_uint_eq(res.n, 3);
	ck_assert_str_eq(res.rows[0].period, "five_hour");
	ck_assert_int_eq(res.rows[0].end, r1);
	ck_assert_double_eq(res.rows[0].peak, 72.5);
	ck_assert_int_eq(res.rows[0].requests, 2);
	ck_assert_str_eq(res.rows[1].period, "five_hour");
	ck_assert_int_eq(res.rows[1].end, r2);
	ck_assert_int_eq(res.rows[1].requests, 1);
	ck_assert_double_eq(res.rows[1].peak, 3.0);
	/* the sonnet window counts sonnet models only, over 7 days */
	ck_assert_str_eq(res.rows[2].period, "seven_day_sonnet");
	ck_assert_int_eq(res.rows[2].requests, 3);
	rpt_result_free(&res);
}
END_TEST

START_TEST(the_outputs_carry_the_contract_keys)
{
	struct rpt_result res;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	cJSON *j;
	const cJSON *row;

	req(T0, "claude-sonnet-4-5", "curl", 10, 20);
	query(RPT_DAILY, RPT_BY_MODEL, 0, 0, &res);
	f = open_memstream(&buf, &len);
	ck_assert_int_eq(rpt_print(f, &res, RPT_DAILY, RPT_BY_MODEL, RPT_JSON,
	    &pricing), 0);
	fclose(f);
	j = cJSON_Parse(buf);
	ck_assert_ptr_nonnull(j);
	row = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(row, "period")->valuestring,
	    "2026-12-06");
	ck_assert_str_eq(cJSON_GetObjectItem(row, "model")->valuestring,
	    "claude-sonnet-4-5");
	ck_assert_int_eq(cJSON_GetObjectItem(row, "requests")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(row, "input")->valueint, 10);
	ck_assert_int_eq(cJSON_GetObjectItem(row, "output")->valueint, 20);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(row,
	    "cache_creation_input"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(row, "cache_read_input"));
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(row, "cost_usd")));
	cJSON_Delete(j);
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	ck_assert_int_eq(rpt_print(f, &res, RPT_DAILY, RPT_BY_MODEL, RPT_CSV,
	    &pricing), 0);
	fclose(f);
	ck_assert_str_eq(buf, "period,model,requests,input,output,"
	    "cache_creation_input,cache_read_input,cost_usd\n"
	    "2026-12-06,claude-sonnet-4-5,1,10,20,1000000,1000000,4.050330\n");
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	ck_assert_int_eq(rpt_print(f, &res, RPT_DAILY, RPT_BY_MODEL,
	    RPT_TABLE, &pricing), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "total"));
	ck_assert_ptr_nonnull(strstr(buf, "1,000,000"));
	free(buf);
	rpt_result_free(&res);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, the_price_table_names_each_family);
	tcase_add_test(tc, a_bad_price_file_is_refused_with_a_reason);
	tcase_add_test(tc, days_are_local_and_cost_comes_from_the_table);
	tcase_add_test(tc, weeks_start_on_monday_and_months_group_days);
	tcase_add_test(tc, groups_and_dates_select_rows);
	tcase_add_test(tc, window_instances_have_their_peak_and_their_usage);
	tcase_add_test(tc, the_outputs_carry_the_contract_keys);
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
