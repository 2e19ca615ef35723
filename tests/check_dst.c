/*
 * Unit tests of common/dst.c: $ORIGIN and $PLATFORM in a search-path
 * element, the way the loader expands them.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ratetap/dst.h"

static int
expand(const char *dir, char *out, size_t len)
{
	return rt_dst_expand(dir, strlen(dir), "/opt/app/bin", "x86_64", out,
	    len);
}

START_TEST(origin_and_platform_are_expanded_with_or_without_braces)
{
	char out[256];

	ck_assert_int_eq(expand("$ORIGIN/../lib", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/opt/app/bin/../lib");
	ck_assert_int_eq(expand("${ORIGIN}/lib/$PLATFORM", out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "/opt/app/bin/lib/x86_64");
	ck_assert_int_eq(expand("/usr/lib/${PLATFORM}x", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/usr/lib/x86_64x");
	ck_assert_int_eq(expand("/usr/lib", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/usr/lib");
	/* only len bytes count: the next element is not read */
	ck_assert_int_eq(rt_dst_expand("$ORIGIN:/x", 7, "/o", NULL, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "/o");
}
END_TEST

START_TEST(other_tokens_missing_values_and_overflow_are_refused)
{
	char out[16];

	ck_assert_int_eq(expand("$LIB/x", out, sizeof(out)), -1);
	ck_assert_int_eq(expand("/a/$", out, sizeof(out)), -1);
	ck_assert_int_eq(expand("${ORIGIN", out, sizeof(out)), -1);
	ck_assert_int_eq(rt_dst_expand("$PLATFORM", 9, "/o", NULL, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(expand("$ORIGIN/0123456789", out, sizeof(out)), -1);
	ck_assert_int_eq(expand("/0123456789abcdef", out, sizeof(out)), -1);
	ck_assert_int_eq(expand("/0123456789abcd", out, sizeof(out)), 0);
	ck_assert_int_eq(expand("/x", out, 0), -1);
}
END_TEST

static Suite *
dst_suite(void)
{
	Suite *s = suite_create("dst");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc,
	    origin_and_platform_are_expanded_with_or_without_braces);
	tcase_add_test(tc, other_tokens_missing_values_and_overflow_are_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dst_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
