/*
 * Unit tests of the daemon's HTTP client (daemon/http.c) that need no
 * server: which URLs it takes for an endpoint.
 */
#include <check.h>
#include <stdlib.h>

#include "../daemon/http.h"

START_TEST(http_and_https_urls_with_a_host_are_taken)
{
	static const char *const ok[] = {
		"http://127.0.0.1:8080", "https://api.anthropic.com",
		"https://api.anthropic.com/", "HTTPS://Example.COM/base",
		"http://[::1]:9/x", "http://user@host/",
	};
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(http_check_url(ok[i], err, sizeof(err)) == 0,
		    "%s: %s", ok[i], err);
}
END_TEST

START_TEST(other_schemes_and_urls_without_a_host_are_refused)
{
	static const char *const bad[] = {
		"", "ftp://x", "file:///etc/passwd", "api.anthropic.com",
		"http://", "http://host:99999/", "//host/x", "http:///nohost",
		"https:////x",
	};
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(http_check_url(bad[i], err, sizeof(err)) == -1,
		    "%s", bad[i]);
		ck_assert_msg(err[0] != '\0', "%s: no reason", bad[i]);
	}
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, http_and_https_urls_with_a_host_are_taken);
	tcase_add_test(tc, other_schemes_and_urls_without_a_host_are_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
