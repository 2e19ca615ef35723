/*
 * Unit tests of common/buf.c: the growable buffer the daemon's HTTP
 * client and the CLI's control client read answers into.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratetap/buf.h"

START_TEST(bytes_are_appended_and_kept_nul_terminated_across_growth)
{
	struct rt_buf b = { NULL, 0, 0 };
	char chunk[1000];
	size_t i;

	ck_assert_int_eq(rt_buf_add(&b, "", 0), 0);
	ck_assert_ptr_nonnull(b.p);
	ck_assert_str_eq(b.p, "");
	for (i = 0; i < 100; i++) {
		memset(chunk, 'a' + (int)(i % 26), sizeof(chunk));
		ck_assert_int_eq(rt_buf_add(&b, chunk, sizeof(chunk)), 0);
	}
	ck_assert_uint_eq(b.len, 100000);
	ck_assert_uint_ge(b.cap, b.len + 1);
	ck_assert_int_eq(b.p[b.len], '\0');
	ck_assert_int_eq(b.p[0], 'a');
	ck_assert_int_eq(b.p[99999], 'a' + 99 % 26);
	ck_assert_uint_eq(strlen(b.p), b.len);
	free(b.p);
}
END_TEST

START_TEST(a_size_that_cannot_fit_is_refused_and_changes_nothing)
{
	struct rt_buf b = { NULL, 0, 0 };

	ck_assert_int_eq(rt_buf_add(&b, "abc", 3), 0);
	ck_assert_int_eq(rt_buf_add(&b, "x", SIZE_MAX - 2), -1);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_str_eq(b.p, "abc");
	free(b.p);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc,
	    bytes_are_appended_and_kept_nul_terminated_across_growth);
	tcase_add_test(tc, a_size_that_cannot_fit_is_refused_and_changes_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(buf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
