/*
 * Unit tests of the daemon's retry rules (daemon/backoff.c): the delay
 * after failures, Retry-After values and logging a failure once per kind.
 */
#include <check.h>
#include <stdlib.h>

#include "../daemon/backoff.h"

START_TEST(the_delay_doubles_per_failure_up_to_the_cap)
{
	ck_assert_int_eq(backoff_delay(300, 0, 3600, -1, 86400), 300);
	ck_assert_int_eq(backoff_delay(300, 1, 3600, -1, 86400), 600);
	ck_assert_int_eq(backoff_delay(300, 3, 3600, -1, 86400), 2400);
	ck_assert_int_eq(backoff_delay(300, 4, 3600, -1, 86400), 3600);
	ck_assert_int_eq(backoff_delay(300, 1000, 3600, -1, 86400), 3600);
	/* an interval above the cap is the cap */
	ck_assert_int_eq(backoff_delay(7200, 5, 3600, -1, 86400), 7200);
	/* no base: 1 */
	ck_assert_int_eq(backoff_delay(0, 0, 3600, -1, 86400), 1);
	ck_assert_int_eq(backoff_delay(-5, 2, 3600, -1, 86400), 4);
}
END_TEST

START_TEST(a_longer_retry_after_wins_up_to_its_cap)
{
	ck_assert_int_eq(backoff_delay(300, 1, 3600, 5000, 86400), 5000);
	ck_assert_int_eq(backoff_delay(300, 1, 3600, 10, 86400), 600);
	ck_assert_int_eq(backoff_delay(300, 1, 3600, 999999, 86400), 86400);
}
END_TEST

START_TEST(retry_after_takes_delta_seconds_only)
{
	ck_assert_int_eq(backoff_retry_after("7"), 7);
	ck_assert_int_eq(backoff_retry_after(" 120 \r\n"), 120);
	ck_assert_int_eq(backoff_retry_after("0"), 0);
	ck_assert_int_eq(backoff_retry_after(NULL), -1);
	ck_assert_int_eq(backoff_retry_after(""), -1);
	ck_assert_int_eq(backoff_retry_after("-3"), -1);
	ck_assert_int_eq(backoff_retry_after("7s"), -1);
	ck_assert_int_eq(backoff_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"),
	    -1);
	ck_assert_int_eq(backoff_retry_after("99999999999999999999999"), -1);
}
END_TEST

START_TEST(a_failure_is_first_once_per_kind)
{
	char last[32] = "";

	ck_assert_int_eq(backoff_first(last, sizeof(last), "HTTP 500"), 1);
	ck_assert_int_eq(backoff_first(last, sizeof(last), "HTTP 500"), 0);
	ck_assert_int_eq(backoff_first(last, sizeof(last), "HTTP 429"), 1);
	ck_assert_int_eq(backoff_first(last, sizeof(last), "HTTP 500"), 1);
	last[0] = '\0';		/* a success */
	ck_assert_int_eq(backoff_first(last, sizeof(last), "HTTP 500"), 1);
}
END_TEST

static Suite *
backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, the_delay_doubles_per_failure_up_to_the_cap);
	tcase_add_test(tc, a_longer_retry_after_wins_up_to_its_cap);
	tcase_add_test(tc, retry_after_takes_delta_seconds_only);
	tcase_add_test(tc, a_failure_is_first_once_per_kind);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(backoff_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
