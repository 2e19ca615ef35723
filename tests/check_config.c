/*
 * Unit tests of the shim's configuration (shim/config.c) as the hooks see
 * it: the default ingest socket's directory check, an explicit socket,
 * host lists and URLs, program names.
 */
#include "shimtest.h"

START_TEST(urls_parse_to_their_host_port_and_scheme_never_the_userinfo)
{
	static const struct {
		const char *url;
		int rc;
		const char *host;
		int port, explicit_port, tls;
	} cases[] = {
		{ "https://api.test/v1/messages?beta=true", 0, "api.test",
		    443, 0, 1 },
		{ "HTTPS://user:pw@API.Test:444/v1/messages", 0, "api.test",
		    444, 1, 1 },
		{ "http://[::1]:8443/v1/messages#frag", 0, "[::1]", 8443, 1,
		    0 },
		{ "  api.test:8080?q", 0, "api.test", 8080, 1, 0 },
		{ "api.test/v1/messages", 0, "api.test", 80, 0, 0 },
		{ "api.test.", 0, "api.test", 80, 0, 0 },
		{ "weird+scheme.1://host/x", 0, "host", 0, 0, 0 },
		/* no scheme: what precedes the path is the host */
		{ "not a scheme://host/x", 0, "not a scheme", 80, 0, 0 },
		{ "http://h:99999/", -1, "", 0, 0, 0 },
		{ "http:///x", -1, "", 0, 0, 0 },
		{ "ftp://a@b@c:21", 0, "c", 21, 1, 0 },
		{ "http://u:p@h@/", -1, "", 0, 0, 0 },
		{ "http://h?x@evil/", 0, "h", 80, 0, 0 },
		{ "http://h#@evil/", 0, "h", 80, 0, 0 },
		{ "", -1, "", 0, 0, 0 },
	};
	struct cfg_url u;
	size_t k;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		int rc = cfg_parse_url(cases[k].url, &u);

		ck_assert_msg(rc == cases[k].rc, "%s: %d", cases[k].url, rc);
		if (cases[k].rc != 0)
			continue;
		ck_assert_str_eq(u.host, cases[k].host);
		ck_assert_int_eq(u.port, cases[k].port);
		ck_assert_int_eq(u.explicit_port, cases[k].explicit_port);
		ck_assert_int_eq(u.tls, cases[k].tls);
		ck_assert_ptr_null(memmem(&u, sizeof(u), "pw", 2));
		ck_assert_ptr_null(memmem(&u, sizeof(u), "user", 4));
	}
	ck_assert_int_eq(cfg_parse_url(NULL, &u), -1);
}
END_TEST

/* The default ingest path: $XDG_RUNTIME_DIR/ratetap/ingest.sock. */
static char xdg[80];

static void
default_socket_env(mode_t mode)
{
	char dir[sizeof(sockpath)];

	ck_assert_int_lt(snprintf(xdg, sizeof(xdg), "%s/xdg", sockdir),
	    (int)sizeof(xdg));
	ck_assert_int_eq(mkdir(xdg, 0700), 0);
	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/ratetap", xdg),
	    (int)sizeof(dir));
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, mode), 0);
	/* the test's receiving socket, moved to the default path */
	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/ratetap/ingest.sock",
	    xdg), (int)sizeof(dir));
	ck_assert_int_eq(rename(sockpath, dir), 0);
	snprintf(sockpath, sizeof(sockpath), "%s", dir);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	unsetenv("RATETAP_SOCKET");
	cfg_load();
}

static void
default_socket_cleanup(void)
{
	char dir[128], jp[sizeof(jpath)];

	if (rt_journal_path(sockpath, jp, sizeof(jp)) == 0)
		unlink(jp);
	unlink(sockpath);
	snprintf(dir, sizeof(dir), "%s/ratetap", xdg);
	rmdir(dir);
	rmdir(xdg);
	snprintf(sockpath, sizeof(sockpath), "%s/in.sock", sockdir);
}

START_TEST(the_default_socket_is_used_in_a_private_directory)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	default_socket_env(0700);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(send_dropped(), 0);
	default_socket_cleanup();
}
END_TEST

START_TEST(a_default_socket_directory_others_can_write_is_not_used)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	default_socket_env(0770);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_uint_eq(send_dropped(), 1);
	/* decided once: made private later, still not used */
	{
		char dir[128];

		snprintf(dir, sizeof(dir), "%s/ratetap", xdg);
		ck_assert_int_eq(chmod(dir, 0700), 0);
	}
	e.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_uint_eq(send_dropped(), 2);
	default_socket_cleanup();
}
END_TEST

START_TEST(a_symlink_of_ours_to_a_private_directory_is_used)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char dir[128], real[128];

	default_socket_env(0700);
	/* ratetap -> ratetap.real, both ours and private */
	snprintf(dir, sizeof(dir), "%s/ratetap", xdg);
	snprintf(real, sizeof(real), "%s/ratetap.real", xdg);
	ck_assert_int_eq(rename(dir, real), 0);
	ck_assert_int_eq(symlink("ratetap.real", dir), 0);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(send_dropped(), 0);
	default_socket_cleanup();
	unlink(dir);
	rmdir(real);
	rmdir(xdg);
}
END_TEST

START_TEST(a_symlink_to_a_directory_of_another_user_is_not_used)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char dir[128], real[128];

	if (geteuid() != 0)
		return;		/* needs chown */
	default_socket_env(0700);
	snprintf(dir, sizeof(dir), "%s/ratetap", xdg);
	snprintf(real, sizeof(real), "%s/ratetap.real", xdg);
	ck_assert_int_eq(rename(dir, real), 0);
	ck_assert_int_eq(symlink("ratetap.real", dir), 0);
	ck_assert_int_eq(chown(real, 65534, 65534), 0);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_uint_eq(send_dropped(), 1);
	unlink(dir);
	ck_assert_int_eq(chown(real, 0, 0), 0);
	ck_assert_int_eq(rename(real, dir), 0);
	default_socket_cleanup();
}
END_TEST

START_TEST(an_explicit_socket_is_used_as_given)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	/* RATETAP_SOCKET names it: no check of its directory */
	ck_assert_int_eq(chmod(sockdir, 0777), 0);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_int_eq(chmod(sockdir, 0700), 0);
}
END_TEST

START_TEST(program_names_come_from_scripts_for_interpreters)
{
	static const struct {
		const char cmd[64];
		size_t len;
		const char *want;
	} t[] = {
		{ "/usr/bin/curl\0-s\0", 17, "curl" },
		{ "python3\0-u\0/home/a/agent.py\0x\0", 31, "agent.py" },
		{ "/usr/bin/python3.11\0-m\0pytest\0", 30, "pytest" },
		{ "python3\0-c\0print(1)\0", 20, "python3" },
		{ "php\0-d\0x=1\0run.php\0", 19, "run.php" },
		{ "bash\0./go.sh\0", 13, "go.sh" },
		{ "node\0--\0srv.js\0", 15, "srv.js" },
		{ "", 0, "unknown" },
	};
	char prog[RTP_PROG_LEN];
	size_t k;

	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		cfg_prog_name(t[k].cmd, t[k].len, prog, sizeof(prog));
		ck_assert_msg(strcmp(prog, t[k].want) == 0, "%zu: %s != %s",
		    k, prog, t[k].want);
	}
}
END_TEST

START_TEST(host_lists_and_urls_parse_as_documented)
{
	struct cfg_host h[CFG_MAX_HOSTS];
	struct cfg_url u;

	ck_assert_uint_eq(cfg_parse_hosts(" API.anthropic.com ,x:443,[::1]:80,"
	    "bad:port,:80,[::1,,y:0", h, CFG_MAX_HOSTS), 3);
	ck_assert_str_eq(h[0].name, "api.anthropic.com");
	ck_assert_int_eq(h[0].port, -1);
	ck_assert_str_eq(h[1].name, "x");
	ck_assert_int_eq(h[1].port, 443);
	ck_assert_str_eq(h[2].name, "[::1]");
	ck_assert_int_eq(h[2].port, 80);
	ck_assert_int_eq(cfg_parse_url("https://a.b/v1", &u), 0);
	ck_assert_str_eq(u.host, "a.b");
	ck_assert_int_eq(u.port, 443);
	ck_assert_int_eq(u.tls, 1);
	ck_assert_int_eq(u.explicit_port, 0);
	ck_assert_int_eq(cfg_parse_url("a.b:8080?q", &u), 0);
	ck_assert_str_eq(u.host, "a.b");
	ck_assert_int_eq(u.port, 8080);
	ck_assert_int_eq(cfg_parse_url("http://u:p@[::1]:9/x", &u), 0);
	ck_assert_str_eq(u.host, "[::1]");
	ck_assert_int_eq(u.port, 9);
	ck_assert_int_eq(cfg_parse_url("http:///x", &u), -1);
	ck_assert_int_eq(cfg_parse_url("http://h:99999/", &u), -1);
	ck_assert_int_eq(cfg_parse_url(NULL, &u), -1);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    urls_parse_to_their_host_port_and_scheme_never_the_userinfo);
	tcase_add_test(tc, the_default_socket_is_used_in_a_private_directory);
	tcase_add_test(tc,
	    a_default_socket_directory_others_can_write_is_not_used);
	tcase_add_test(tc, a_symlink_of_ours_to_a_private_directory_is_used);
	tcase_add_test(tc,
	    a_symlink_to_a_directory_of_another_user_is_not_used);
	tcase_add_test(tc, an_explicit_socket_is_used_as_given);
	tcase_add_test(tc, program_names_come_from_scripts_for_interpreters);
	tcase_add_test(tc, host_lists_and_urls_parse_as_documented);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
