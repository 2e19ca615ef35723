/*
 * Unit tests of common/curlname.c: the file names the shim and
 * `ratetap doctor` both take for a libcurl's.
 */
#include <check.h>
#include <stdlib.h>

#include "ratetap/curlname.h"

START_TEST(every_libcurl_flavour_is_one_in_a_path_or_a_soname)
{
	static const char *const yes[] = {
		"libcurl.so", "libcurl.so.4", "libcurl.so.4.8.0",
		"libcurl-gnutls.so.4", "libcurl-nss.so.4",
		"/usr/lib/x86_64-linux-gnu/libcurl.so.4",
		"/opt/x/lib/libcurl-openssl.so.4.5", "libcurl.4.so",
	};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ck_assert_msg(rt_libcurl_name(yes[i]) == 1, "%s", yes[i]);
}
END_TEST

START_TEST(look_alikes_are_not)
{
	static const char *const no[] = {
		"", "libcurlpp.so.1", "libcurl.a", "libcurl", "libcurl-",
		"libcur.so", "curl", "/usr/lib/libcurl.so.4/libssl.so.3",
		"libcurl-gnutls", "xlibcurl.so.4", "/libcurl.so.4/",
	};
	size_t i;

	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ck_assert_msg(rt_libcurl_name(no[i]) == 0, "%s", no[i]);
	ck_assert_int_eq(rt_libcurl_name(NULL), 0);
}
END_TEST

static Suite *
curlname_suite(void)
{
	Suite *s = suite_create("curlname");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_libcurl_flavour_is_one_in_a_path_or_a_soname);
	tcase_add_test(tc, look_alikes_are_not);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(curlname_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
