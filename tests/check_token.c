/*
 * Unit tests of the OAuth token sources (daemon/token.c).
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../daemon/token.h"

#define CANARY	"sk-ant-oat01-CANARY-7f3a9c"

static char dir[64];
static char cred[128];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/rt-token-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cred, sizeof(cred), "%s/.credentials.json", dir);
	unsetenv("RATETAP_OAUTH_TOKEN");
	unsetenv("CLAUDE_CODE_OAUTH_TOKEN");
	setenv("CLAUDE_CONFIG_DIR", dir, 1);
}

static void
teardown(void)
{
	unlink(cred);
	rmdir(dir);
}

static void
write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
write_cred(const char *json)
{
	write_file(cred, json, strlen(json));
}

START_TEST(ratetap_oauth_token_comes_first)
{
	char buf[TOKEN_MAX], err[512];

	setenv("RATETAP_OAUTH_TOKEN", "tok-ratetap", 1);
	setenv("CLAUDE_CODE_OAUTH_TOKEN", "tok-claude", 1);
	write_cred("{\"claudeAiOauth\":{\"accessToken\":\"tok-file\"}}");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    TOKEN_ENV_RATETAP);
	ck_assert_str_eq(buf, "tok-ratetap");
}
END_TEST

START_TEST(tokens_taken_from_the_environment_leave_it_and_stay_usable)
{
	char buf[TOKEN_MAX], err[512], *v, *w;

	setenv("RATETAP_OAUTH_TOKEN", CANARY, 1);
	setenv("CLAUDE_CODE_OAUTH_TOKEN", "tok-claude", 1);
	v = getenv("RATETAP_OAUTH_TOKEN");
	w = getenv("CLAUDE_CODE_OAUTH_TOKEN");
	ck_assert_int_eq(token_take_env(), 0);
	ck_assert_ptr_null(getenv("RATETAP_OAUTH_TOKEN"));
	ck_assert_ptr_null(getenv("CLAUDE_CODE_OAUTH_TOKEN"));
	/* wiped where the environment kept it */
	ck_assert_int_eq(v[0], '\0');
	ck_assert_int_eq(w[0], '\0');
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    TOKEN_ENV_RATETAP);
	ck_assert_str_eq(buf, CANARY);
	/* taken again: still the one from the start */
	ck_assert_int_eq(token_take_env(), 0);
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    TOKEN_ENV_RATETAP);
	ck_assert_str_eq(buf, CANARY);
	token_forget_env();
	write_cred("{\"claudeAiOauth\":{\"accessToken\":\"tok-file\"}}");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    TOKEN_FILE);
	ck_assert_str_eq(buf, "tok-file");
}
END_TEST

START_TEST(a_taken_claude_code_token_still_comes_before_the_file)
{
	char buf[TOKEN_MAX], err[512];

	setenv("CLAUDE_CODE_OAUTH_TOKEN", "tok-claude", 1);
	ck_assert_int_eq(token_take_env(), 0);
	write_cred("{\"claudeAiOauth\":{\"accessToken\":\"tok-file\"}}");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    TOKEN_ENV_CLAUDE);
	ck_assert_str_eq(buf, "tok-claude");
	token_forget_env();
}
END_TEST

START_TEST(claude_code_oauth_token_comes_before_the_file)
{
	char buf[TOKEN_MAX], err[512];

	setenv("RATETAP_OAUTH_TOKEN", "", 1);	/* empty: as if unset */
	setenv("CLAUDE_CODE_OAUTH_TOKEN", "tok-claude", 1);
	write_cred("{\"claudeAiOauth\":{\"accessToken\":\"tok-file\"}}");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    TOKEN_ENV_CLAUDE);
	ck_assert_str_eq(buf, "tok-claude");
}
END_TEST

START_TEST(the_credentials_file_is_read_when_no_variable_is_set)
{
	char buf[TOKEN_MAX], err[512];

	write_cred("{\"claudeAiOauth\":{\"accessToken\":\"tok-file\","
	    "\"refreshToken\":\"r\",\"expiresAt\":1,\"scopes\":[\"a\"]},"
	    "\"other\":{\"x\":[1,2,3]}}");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    TOKEN_FILE);
	ck_assert_str_eq(buf, "tok-file");
	/* read afresh: once the file is gone, so is the token */
	unlink(cred);
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    TOKEN_NONE);
}
END_TEST

START_TEST(an_explicit_credentials_file_replaces_the_default_one)
{
	char buf[TOKEN_MAX], err[512], other[160];

	write_cred("{\"claudeAiOauth\":{\"accessToken\":\"tok-default\"}}");
	snprintf(other, sizeof(other), "%s/mine.json", dir);
	write_file(other, "{\"claudeAiOauth\":{\"accessToken\":\"tok-mine\"}}",
	    strlen("{\"claudeAiOauth\":{\"accessToken\":\"tok-mine\"}}"));
	ck_assert_int_eq(token_get(other, buf, sizeof(buf), err, sizeof(err)),
	    TOKEN_FILE);
	ck_assert_str_eq(buf, "tok-mine");
	unlink(other);
}
END_TEST

START_TEST(a_missing_file_means_no_token)
{
	char buf[TOKEN_MAX], err[512];

	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    TOKEN_NONE);
	ck_assert_int_eq(token_read_file("/nonexistent/x.json", buf,
	    sizeof(buf), err, sizeof(err)), 0);
	/* a file without claudeAiOauth (e.g. only an API key): no token */
	write_cred("{\"primaryApiKey\":\"x\"}");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    TOKEN_NONE);
}
END_TEST

START_TEST(a_file_that_is_not_json_is_an_error_without_its_content)
{
	char buf[TOKEN_MAX], err[512];

	/* cut short: the canary is in the file but it is not JSON */
	write_cred("{\"claudeAiOauth\":{\"accessToken\":\"" CANARY);
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "not a JSON object"));
	ck_assert_ptr_nonnull(strstr(err, cred));
	ck_assert_ptr_null(strstr(err, "CANARY"));
	write_cred("[\"" CANARY "\"]");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    -1);
	ck_assert_ptr_null(strstr(err, "CANARY"));
	write_cred("");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    -1);
}
END_TEST

START_TEST(wrong_types_in_the_file_are_errors)
{
	char buf[TOKEN_MAX], err[512];

	write_cred("{\"claudeAiOauth\":\"" CANARY "\"}");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "claudeAiOauth is not an object"));
	ck_assert_ptr_null(strstr(err, "CANARY"));
	write_cred("{\"claudeAiOauth\":{\"accessToken\":12345}}");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "accessToken is not a string"));
	write_cred("{\"claudeAiOauth\":{\"accessToken\":[\"" CANARY "\"]}}");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    -1);
	ck_assert_ptr_null(strstr(err, "CANARY"));
	/* a token that could inject a header line */
	write_cred("{\"claudeAiOauth\":{\"accessToken\":\"" CANARY
	    "\\r\\nX-Evil: 1\"}}");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    -1);
	ck_assert_ptr_null(strstr(err, "CANARY"));
	write_cred("{\"claudeAiOauth\":{\"accessToken\":\"\"}}");
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    -1);
}
END_TEST

START_TEST(a_huge_file_is_refused)
{
	char buf[TOKEN_MAX], err[512];
	size_t n = TOKEN_FILE_MAX + 100;
	char *big = malloc(n);

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', n);
	memcpy(big, "{\"claudeAiOauth\":{\"accessToken\":\"" CANARY "\"}}",
	    strlen("{\"claudeAiOauth\":{\"accessToken\":\"" CANARY "\"}}"));
	write_file(cred, big, n);
	free(big);
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "too large"));
	ck_assert_ptr_null(strstr(err, "CANARY"));
}
END_TEST

START_TEST(a_directory_or_unreadable_path_is_an_error)
{
	char buf[TOKEN_MAX], err[512];

	ck_assert_int_eq(token_read_file(dir, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
}
END_TEST

START_TEST(a_bad_token_in_a_variable_is_an_error_that_does_not_show_it)
{
	char buf[TOKEN_MAX], err[512];

	setenv("RATETAP_OAUTH_TOKEN", CANARY "\nX-Injected: 1", 1);
	ck_assert_int_eq(token_get(NULL, buf, sizeof(buf), err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "RATETAP_OAUTH_TOKEN"));
	ck_assert_ptr_null(strstr(err, "CANARY"));
	setenv("RATETAP_OAUTH_TOKEN", CANARY, 1);
	/* too small a buffer: refused, not truncated */
	ck_assert_int_eq(token_get(NULL, buf, 8, err, sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, "CANARY"));
}
END_TEST

START_TEST(the_default_file_follows_claude_config_dir_then_home)
{
	char buf[256], want[256];

	ck_assert_int_eq(token_default_file(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, cred);
	unsetenv("CLAUDE_CONFIG_DIR");
	setenv("HOME", "/home/someone", 1);
	ck_assert_int_eq(token_default_file(buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "/home/someone/.claude/.credentials.json");
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(token_default_file(buf, 10), -1);
}
END_TEST

static Suite *
token_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("token");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ratetap_oauth_token_comes_first);
	tcase_add_test(tc, claude_code_oauth_token_comes_before_the_file);
	tcase_add_test(tc,
	    tokens_taken_from_the_environment_leave_it_and_stay_usable);
	tcase_add_test(tc, a_taken_claude_code_token_still_comes_before_the_file);
	tcase_add_test(tc, the_credentials_file_is_read_when_no_variable_is_set);
	tcase_add_test(tc,
	    an_explicit_credentials_file_replaces_the_default_one);
	tcase_add_test(tc, a_missing_file_means_no_token);
	tcase_add_test(tc,
	    a_file_that_is_not_json_is_an_error_without_its_content);
	tcase_add_test(tc, wrong_types_in_the_file_are_errors);
	tcase_add_test(tc, a_huge_file_is_refused);
	tcase_add_test(tc, a_directory_or_unreadable_path_is_an_error);
	tcase_add_test(tc,
	    a_bad_token_in_a_variable_is_an_error_that_does_not_show_it);
	tcase_add_test(tc, the_default_file_follows_claude_config_dir_then_home);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(token_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
