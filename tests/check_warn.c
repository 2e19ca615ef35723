/*
 * Unit tests of the warnings' threshold list (daemon/warn.c).  Firing,
 * restarts and the command's environment are tested with the real daemon
 * in tests/integration/test_warn.py.
 */
#include <check.h>
#include <stdlib.h>

#include "../daemon/warn.h"

START_TEST(a_threshold_list_is_parsed_sorted_and_deduplicated)
{
	struct warn_config c = { 0 };

	ck_assert_int_eq(warn_parse_thresholds("95,50, 80,50", &c), 0);
	ck_assert_int_eq(c.nthresholds, 3);
	ck_assert(c.thresholds[0] == 50 && c.thresholds[1] == 80 &&
	    c.thresholds[2] == 95);
	ck_assert_int_eq(warn_parse_thresholds("80", &c), 0);
	ck_assert_int_eq(c.nthresholds, 1);
	ck_assert_int_eq(warn_parse_thresholds("12.5,1000", &c), 0);
	ck_assert(c.thresholds[0] == 12.5 && c.thresholds[1] == 1000);
}
END_TEST

START_TEST(a_bad_threshold_list_is_refused)
{
	static const char *const bad[] = { "", ",", "50,", ",50", "50,,80",
	    "0", "-5", "1001", "abc", "50;80", "nan", "inf",
	    "1,2,3,4,5,6,7,8,9" };
	struct warn_config c = { 0 };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(warn_parse_thresholds(bad[i], &c) == -1, "%s",
		    bad[i]);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("warn");
	TCase *tc = tcase_create("warn");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, a_threshold_list_is_parsed_sorted_and_deduplicated);
	tcase_add_test(tc, a_bad_threshold_list_is_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
