/*
 * Unit tests of common/hosts.c: RATETAP_HOSTS entries in every form a
 * user may write a host, and the refusals, which say why and never echo
 * an entry that names a user.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratetap/hosts.h"

static char said[8][200];
static int nsaid;

static void
collect(void *arg, const char *msg)
{
	(void)arg;
	if (nsaid < 8)
		snprintf(said[nsaid], sizeof(said[nsaid]), "%s", msg);
	nsaid++;
}

static int
one(const char *s, struct rt_host *h)
{
	const char *why;
	int r = rt_host_parse(s, strlen(s), h, &why);

	ck_assert_msg((r == -1) == (why != NULL), "%s: why %s", s,
	    why ? why : "(none)");
	return r;
}

START_TEST(every_way_of_writing_a_host_is_taken)
{
	static const struct {
		const char *in, *name;
		int port;
	} t[] = {
		{ "api.anthropic.com", "api.anthropic.com", -1 },
		{ "  API.Anthropic.COM\t", "api.anthropic.com", -1 },
		{ "api.anthropic.com.", "api.anthropic.com", -1 },
		{ "api.anthropic.com:443", "api.anthropic.com", 443 },
		{ "api.anthropic.com.:8443", "api.anthropic.com", 8443 },
		{ "api.anthropic.com:", "api.anthropic.com", -1 },
		{ "https://api.anthropic.com", "api.anthropic.com", 443 },
		{ "https://api.anthropic.com/", "api.anthropic.com", 443 },
		{ "HTTPS://Api.Anthropic.Com:8443/v1/messages?x#y",
		  "api.anthropic.com", 8443 },
		{ "http://127.0.0.1:8080", "127.0.0.1", 8080 },
		{ "http://localhost", "localhost", 80 },
		{ "api.anthropic.com/v1", "api.anthropic.com", -1 },
		{ "[::1]", "[::1]", -1 },
		{ "[::1]:8443", "[::1]", 8443 },
		{ "::1", "[::1]", -1 },
		{ "[FE80::1]", "[fe80::1]", -1 },
		{ "https://[::1]:9/", "[::1]", 9 },
		{ "my_host-1.internal", "my_host-1.internal", -1 },
	};
	struct rt_host h;
	size_t k;

	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		memset(&h, 0x55, sizeof(h));
		ck_assert_msg(one(t[k].in, &h) == 1, "%s refused", t[k].in);
		ck_assert_msg(strcmp(h.name, t[k].name) == 0, "%s: %s",
		    t[k].in, h.name);
		ck_assert_msg(h.port == t[k].port, "%s: port %d", t[k].in,
		    h.port);
	}
}
END_TEST

START_TEST(empty_entries_are_skipped_quietly)
{
	struct rt_host h[4];

	ck_assert_int_eq(one("", &h[0]), 0);
	ck_assert_int_eq(one("   ", &h[0]), 0);
	nsaid = 0;
	ck_assert_uint_eq(rt_hosts_parse(",a, ,,b,", h, 4, collect, NULL), 2);
	ck_assert_int_eq(nsaid, 0);
	ck_assert_str_eq(h[0].name, "a");
	ck_assert_str_eq(h[1].name, "b");
}
END_TEST

START_TEST(what_cannot_be_meant_is_refused_with_a_reason)
{
	static const char *const bad[] = {
		"host:0", "host:65536", "host:http", "host:-1", "ho st",
		"host*", "[::1", "[]", "[::1]x", "[zz::1]", "[abc]", ".",
		"..", "a..b", ".a", "ftp://host", "https://", "https:///x",
		"user@host", "https://user:secret@host/", "ws://host:1",
		":80", "host:80:90x",
	};
	struct rt_host h;
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		ck_assert_msg(one(bad[k], &h) == -1, "%s taken as %s:%d",
		    bad[k], h.name, h.port);
}
END_TEST

START_TEST(a_host_too_long_is_refused)
{
	char buf[RT_HOST_MAX + 8];
	struct rt_host h;

	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	ck_assert_int_eq(one(buf, &h), -1);
	buf[RT_HOST_MAX - 1] = '\0';
	ck_assert_int_eq(one(buf, &h), 1);
}
END_TEST

START_TEST(refusals_name_the_entry_but_never_a_user)
{
	struct rt_host h[4];

	nsaid = 0;
	ck_assert_uint_eq(rt_hosts_parse("ok, bad host ,https://me:pw@x/,y",
	    h, 4, collect, NULL), 2);
	ck_assert_int_eq(nsaid, 2);
	ck_assert_ptr_nonnull(strstr(said[0], "entry 2"));
	ck_assert_ptr_nonnull(strstr(said[0], "\"bad host\""));
	ck_assert_ptr_nonnull(strstr(said[1], "entry 3"));
	ck_assert_ptr_null(strstr(said[1], "pw"));
	ck_assert_ptr_null(strstr(said[1], "me:"));
}
END_TEST

START_TEST(entries_beyond_the_limit_are_refused_loudly)
{
	struct rt_host h[2];

	nsaid = 0;
	ck_assert_uint_eq(rt_hosts_parse("a,b,c", h, 2, collect, NULL), 2);
	ck_assert_int_eq(nsaid, 1);
	ck_assert_ptr_nonnull(strstr(said[0], "too many"));
}
END_TEST

START_TEST(the_environment_check_counts_problems)
{
	nsaid = 0;
	unsetenv("RATETAP_HOSTS");
	ck_assert_int_eq(rt_hosts_check_env(collect, NULL), 0);
	setenv("RATETAP_HOSTS", "https://api.anthropic.com/", 1);
	ck_assert_int_eq(rt_hosts_check_env(collect, NULL), 0);
	setenv("RATETAP_HOSTS", "a b,c", 1);
	ck_assert_int_eq(rt_hosts_check_env(collect, NULL), 1);
	/* nothing usable at all: said too */
	nsaid = 0;
	setenv("RATETAP_HOSTS", "a b", 1);
	ck_assert_int_eq(rt_hosts_check_env(collect, NULL), 2);
	ck_assert_ptr_nonnull(strstr(said[1], "no usable host"));
	unsetenv("RATETAP_HOSTS");
}
END_TEST

START_TEST(url_hosts_normalise_like_entries)
{
	char out[RT_HOST_MAX];

	ck_assert_int_eq(rt_host_norm("API.Anthropic.com.", 18, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "api.anthropic.com");
	ck_assert_int_eq(rt_host_norm("::1", 3, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "[::1]");
	ck_assert_int_eq(rt_host_norm(".", 1, out, sizeof(out)), -1);
	ck_assert_int_eq(rt_host_norm("abc", 3, out, 3), -1);
}
END_TEST

static Suite *
hosts_suite(void)
{
	Suite *s = suite_create("hosts");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_way_of_writing_a_host_is_taken);
	tcase_add_test(tc, empty_entries_are_skipped_quietly);
	tcase_add_test(tc, what_cannot_be_meant_is_refused_with_a_reason);
	tcase_add_test(tc, a_host_too_long_is_refused);
	tcase_add_test(tc, refusals_name_the_entry_but_never_a_user);
	tcase_add_test(tc, entries_beyond_the_limit_are_refused_loudly);
	tcase_add_test(tc, the_environment_check_counts_problems);
	tcase_add_test(tc, url_hosts_normalise_like_entries);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hosts_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
