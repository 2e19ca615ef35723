/*
 * Unit tests of the curl_easy_setopt hook (shim/hooks.c) against the fake
 * libcurl of shimtest.h: it forwards exactly one argument of every option
 * type unchanged and returns what libcurl returns, and a hook without a
 * libcurl fails the call.
 */
#include "shimtest.h"

/* ---- setopt -------------------------------------------------------------- */

static size_t
dummy_cb(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

START_TEST(setopt_forwards_longs_unchanged)
{
	struct fake_easy e;
	static const long vals[] = { 0, 1, -1, LONG_MAX, LONG_MIN, 0x7fffffffL };
	size_t k;

	memset(&e, 0, sizeof(e));
	for (k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
		ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_TIMEOUT,
		    vals[k]), CURLE_OK);
		ck_assert_int_eq(last.opt, CURLOPT_TIMEOUT);
		ck_assert_int_eq(last.kind, K_LONG);
		ck_assert_int_eq(last.l, vals[k]);
	}
}
END_TEST

START_TEST(setopt_forwards_object_string_and_slist_pointers_unchanged)
{
	struct fake_easy e;
	struct curl_slist sl = { (char *)(uintptr_t)"a: b", NULL };
	char errbuf[CURL_ERROR_SIZE];

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_USERAGENT,
	    "ua/1"), CURLE_OK);
	ck_assert_int_eq(last.kind, K_PTR);
	ck_assert_str_eq((const char *)last.p, "ua/1");
	curl_easy_setopt((CURL *)&e, CURLOPT_HTTPHEADER, &sl);
	ck_assert_ptr_eq(last.p, &sl);
	curl_easy_setopt((CURL *)&e, CURLOPT_ERRORBUFFER, errbuf);
	ck_assert_ptr_eq(last.p, errbuf);
	curl_easy_setopt((CURL *)&e, CURLOPT_PRIVATE, NULL);
	ck_assert_ptr_null(last.p);
	ck_assert_int_eq(last.opt, CURLOPT_PRIVATE);
}
END_TEST

START_TEST(setopt_forwards_function_pointers_unchanged)
{
	struct fake_easy e;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_READFUNCTION,
	    dummy_cb), CURLE_OK);
	ck_assert_int_eq(last.kind, K_FN);
	ck_assert(last.fn == (void (*)(void))dummy_cb);
	curl_easy_setopt((CURL *)&e, CURLOPT_HEADERFUNCTION, NULL);
	ck_assert(last.fn == NULL);
	ck_assert_int_eq(last.opt, CURLOPT_HEADERFUNCTION);
}
END_TEST

START_TEST(setopt_forwards_curl_off_t_unchanged)
{
	struct fake_easy e;
	static const curl_off_t vals[] = {
		0, -1, (curl_off_t)1 << 40, INT64_MAX, INT64_MIN
	};
	size_t k;

	memset(&e, 0, sizeof(e));
	for (k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
		ck_assert_int_eq(curl_easy_setopt((CURL *)&e,
		    CURLOPT_MAXFILESIZE_LARGE, vals[k]), CURLE_OK);
		ck_assert_int_eq(last.kind, K_OFF);
		ck_assert(last.o == vals[k]);
	}
}
END_TEST

START_TEST(setopt_forwards_blobs_unchanged)
{
	struct fake_easy e;
	struct curl_blob b = { (void *)(uintptr_t)"pem", 3, CURL_BLOB_COPY };

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_SSLCERT_BLOB,
	    &b), CURLE_OK);
	ck_assert_int_eq(last.kind, K_PTR);
	ck_assert_ptr_eq(last.p, &b);
}
END_TEST

START_TEST(setopt_returns_what_libcurl_returns)
{
	struct fake_easy e;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, (CURLoption)9999, 5L),
	    CURLE_UNKNOWN_OPTION);
	ck_assert_int_eq(last.l, 5);
}
END_TEST

START_TEST(hooks_fail_the_call_without_a_libcurl)
{
	struct fake_easy e;
	int left;

	memset(&e, 0, sizeof(e));
	no_libcurl = 1;
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_TIMEOUT, 1L),
	    CURLE_FAILED_INIT);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_FAILED_INIT);
	ck_assert_ptr_null(curl_easy_duphandle((CURL *)&e));
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&e, (CURL *)&e),
	    CURLM_INTERNAL_ERROR);
	ck_assert_int_eq(curl_multi_remove_handle((CURLM *)&e, (CURL *)&e),
	    CURLM_INTERNAL_ERROR);
	ck_assert_ptr_null(curl_multi_info_read((CURLM *)&e, &left));
	ck_assert_int_eq(curl_multi_cleanup((CURLM *)&e),
	    CURLM_INTERNAL_ERROR);
	curl_easy_reset((CURL *)&e);
	curl_easy_cleanup((CURL *)&e);
	ck_assert_int_eq(last.count, 0);
	ck_assert_int_eq(resets + cleanups, 0);
}
END_TEST

static Suite *
setopt_suite(void)
{
	Suite *s = suite_create("setopt");
	TCase *tc = tcase_create("setopt");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, setopt_forwards_longs_unchanged);
	tcase_add_test(tc,
	    setopt_forwards_object_string_and_slist_pointers_unchanged);
	tcase_add_test(tc, setopt_forwards_function_pointers_unchanged);
	tcase_add_test(tc, setopt_forwards_curl_off_t_unchanged);
	tcase_add_test(tc, setopt_forwards_blobs_unchanged);
	tcase_add_test(tc, setopt_returns_what_libcurl_returns);
	tcase_add_test(tc, hooks_fail_the_call_without_a_libcurl);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(setopt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
