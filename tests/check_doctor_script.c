/*
 * Unit tests of `ratetap doctor`'s #! handling (cli/script.c): the #! line
 * split as the kernel and env(1) do, and a script's imports read into the
 * ways in of its verdict.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "../cli/doctor.h"

const char *cli_progname = "ratetap";

/* Split line; want: the program then its arguments, NULL-terminated. */
static void
expect(const char *line, const char *const *want)
{
	struct doc_args a;
	const char *interp;
	char buf[512], err[512];
	int i;

	snprintf(buf, sizeof(buf), "%s", line);
	ck_assert_msg(doc_shebang(buf, &interp, &a, err, sizeof(err)) == 0,
	    "%s: %s", line, err);
	ck_assert_str_eq(interp, want[0]);
	for (i = 0; want[i + 1] != NULL; i++) {
		ck_assert_int_lt(i, a.n);
		ck_assert_str_eq(a.v[i], want[i + 1]);
	}
	ck_assert_int_eq(a.n, i);
}

static void
refused(const char *line, const char *why)
{
	struct doc_args a;
	const char *interp;
	char buf[512], err[512];

	snprintf(buf, sizeof(buf), "%s", line);
	ck_assert_int_eq(doc_shebang(buf, &interp, &a, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, why) != NULL, "%s: %s", line, err);
}

START_TEST(shebang_takes_the_interpreter_and_its_argument)
{
	expect("/usr/bin/python3", (const char *const[]){ "/usr/bin/python3",
	    NULL });
	expect(" /usr/bin/python3 -S  ", (const char *const[]){
	    "/usr/bin/python3", "-S", NULL });
	expect("/usr/bin/php -n -d extension=curl", (const char *const[]){
	    "/usr/bin/php", "-n", "-d", "extension=curl", NULL });
}
END_TEST

START_TEST(shebang_through_env_finds_the_program)
{
	expect("/usr/bin/env python3", (const char *const[]){ "python3",
	    NULL });
	expect("/usr/bin/env -S python3 -u", (const char *const[]){
	    "python3", "-u", NULL });
	expect("/usr/bin/env -Sruby -w", (const char *const[]){ "ruby", "-w",
	    NULL });
	expect("/usr/bin/env -S -u HOME -i A=1 B=2 lua5.2 -E",
	    (const char *const[]){ "lua5.2", "-E", NULL });
	expect("/usr/bin/env -S -C /tmp --unset=X -- perl -T",
	    (const char *const[]){ "perl", "-T", NULL });
	expect("/usr/bin/env --split-string=php -n", (const char *const[]){
	    "php", "-n", NULL });
}
END_TEST

START_TEST(shebang_refuses_what_would_not_run)
{
	refused("", "names no interpreter");
	refused("   ", "names no interpreter");
	refused("/usr/bin/env", "without a program");
	refused("/usr/bin/env -S", "without a program");
	refused("/usr/bin/env -S A=1 -i", "without a program");
	refused("/usr/bin/env python3 -u", "'python3 -u'");
	refused("/usr/bin/env python3 -u", "env -S python3 -u");
	refused("/bin/sh\r", "carriage return");
	refused("/usr/bin/python3 -S\r", "carriage return");
}
END_TEST

/* Run doc_script_uses on text as lang with the interpreter's verdict
 * seen (its binding is visible), into *v. */
static void uses_tls(const char *, const char *, int, int,
    struct verdict *);

static void
uses(const char *lang, const char *text, int seen, struct verdict *v)
{
	uses_tls(lang, text, seen, 0, v);
}

/* The same, the interpreter's way around libcurl seen (tls_seen: at the
 * TLS layer) or not. */
static void
uses_tls(const char *lang, const char *text, int seen, int tls_seen,
    struct verdict *v)
{
	char path[PATH_MAX];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/rt-check-script.XXXXXX");
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	memset(v, 0, sizeof(*v));
	snprintf(v->lang, sizeof(v->lang), "%s", lang);
	doc_path_add(v, 1, seen, "the binding", seen ? NULL : "not installed");
	doc_path_add(v, 0, tls_seen, "the rest", tls_seen ? "at the TLS "
	    "layer" : "no libcurl");
	v->visible = seen || tls_seen;
	doc_script_uses(path, "dir/tool", lang, v);
	unlink(path);
}

static int
has(const struct verdict *v, const char *what, int seen)
{
	size_t i;

	for (i = 0; i < v->npaths; i++)
		if (strcmp(v->paths[i].what, what) == 0)
			return v->paths[i].seen == seen;
	return 0;
}

START_TEST(python_imports_are_read_in_every_form)
{
	struct verdict v;

	uses("python", "#!/usr/bin/python3\nimport os, pycurl as pc\n"
	    "from urllib.request import urlopen\n  import requests  # x\n"
	    "import http.client\nx = 'import httpx'\n", 1, &v);
	ck_assert_str_eq(v.subject, "tool uses");
	ck_assert(has(&v, "pycurl", 1));
	ck_assert(has(&v, "urllib", 0));
	ck_assert(has(&v, "requests", 0));
	ck_assert(has(&v, "http.client", 0));
	ck_assert(!has(&v, "httpx", 0));	/* a string, not an import */
	ck_assert_int_eq(v.visible, 1);

	uses("python", "from tornado.httpclient import AsyncHTTPClient\n"
	    "AsyncHTTPClient.configure(\"tornado.curl_httpclient."
	    "CurlAsyncHTTPClient\")\n", 1, &v);
	ck_assert(has(&v, "tornado", 0));
	ck_assert(has(&v, "tornado's curl_httpclient (pycurl)", 1));
	ck_assert_int_eq(v.visible, 1);

	uses("python", "import anthropic\n", 1, &v);
	ck_assert(has(&v, "anthropic (httpx)", 0));
	ck_assert_int_eq(v.visible, 0);

	uses("python", "import pycurl\n", 0, &v);	/* not installed */
	ck_assert(has(&v, "pycurl", 0));
	ck_assert_int_eq(v.visible, 0);
	ck_assert_str_eq(v.paths[0].note, "not installed");
}
END_TEST

START_TEST(ruby_lua_perl_requires_are_read)
{
	struct verdict v;

	uses("ruby", "require 'curb'\nrequire(\"net/http\")\n"
	    "  # require 'faraday'\nrequire_relative 'curl'\n", 1, &v);
	ck_assert(has(&v, "curb", 1));
	ck_assert(has(&v, "net/http", 0));
	ck_assert_int_eq((int)v.npaths, 2);	/* comments import nothing */
	uses("lua", "local c = require(\"cURL\")\nlocal h = require "
	    "'socket.http'\n-- require 'ssl.https'\n", 1, &v);
	ck_assert_int_eq((int)v.npaths, 2);
	ck_assert(has(&v, "cURL", 1));
	ck_assert(has(&v, "socket.http", 0));
	uses("perl", "use strict;\nuse WWW::Curl::Easy;\nuse LWP::UserAgent;"
	    "\n", 1, &v);
	ck_assert(has(&v, "WWW::Curl", 1));
	ck_assert(has(&v, "LWP", 0));
}
END_TEST

START_TEST(php_stream_wrapper_and_guzzle_stream_are_not_seen)
{
	struct verdict v;

	uses("php", "<?php\n$c = curl_init('https://x');\n", 1, &v);
	ck_assert(has(&v, "curl_* (curl extension)", 1));
	ck_assert_int_eq(v.visible, 1);
	uses("php", "<?php\necho file_get_contents('https://x/');\n", 1, &v);
	ck_assert(has(&v, "file_get_contents / fopen on a URL (stream "
	    "wrapper)", 0));
	ck_assert_int_eq(v.visible, 0);
	uses("php", "<?php\n$g = new GuzzleHttp\\Client();\n$g->get('u', "
	    "['stream' => true]);\n", 1, &v);
	ck_assert(has(&v, "Guzzle with 'stream' => true (stream wrapper)",
	    0));
	ck_assert(has(&v, "Guzzle without it (curl extension)", 1));
}
END_TEST

START_TEST(clients_around_libcurl_take_the_interpreters_tls_verdict)
{
	struct verdict v;

	uses_tls("python", "import requests\n", 0, 1, &v);
	ck_assert(has(&v, "requests", 1));
	ck_assert_str_eq(v.paths[0].note, "at the TLS layer");
	ck_assert_int_eq(v.visible, 1);
	uses_tls("php", "<?php\necho file_get_contents('https://x/');\n", 1,
	    1, &v);
	ck_assert(has(&v, "file_get_contents / fopen on a URL (stream "
	    "wrapper)", 1));
	ck_assert_int_eq(v.visible, 1);
	/* the binding missing, the TLS layer seeing the rest: a script
	   using only the binding is not visible, and says why */
	uses_tls("python", "import pycurl\n", 0, 1, &v);
	ck_assert(has(&v, "pycurl", 0));
	ck_assert_int_eq(v.visible, 0);
	ck_assert_ptr_nonnull(strstr(v.why, "not installed"));
	uses_tls("ruby", "require 'net/http'\n", 0, 0, &v);
	ck_assert(has(&v, "net/http", 0));
	ck_assert_int_eq(v.visible, 0);
	ck_assert_ptr_nonnull(strstr(v.why, "TLS layer does not reach"));
}
END_TEST

START_TEST(a_script_naming_no_known_client_keeps_the_verdict)
{
	struct verdict v;

	uses("python", "import os\nprint('hi')\n", 1, &v);
	ck_assert_int_eq((int)v.npaths, 2);
	ck_assert_int_eq(v.visible, 1);
	ck_assert_str_eq(v.subject, "");
}
END_TEST

static Suite *
doctor_script_suite(void)
{
	Suite *s = suite_create("doctor_script");
	TCase *tc = tcase_create("script");

	tcase_add_test(tc, shebang_takes_the_interpreter_and_its_argument);
	tcase_add_test(tc, shebang_through_env_finds_the_program);
	tcase_add_test(tc, shebang_refuses_what_would_not_run);
	tcase_add_test(tc, python_imports_are_read_in_every_form);
	tcase_add_test(tc, ruby_lua_perl_requires_are_read);
	tcase_add_test(tc, php_stream_wrapper_and_guzzle_stream_are_not_seen);
	tcase_add_test(tc,
	    clients_around_libcurl_take_the_interpreters_tls_verdict);
	tcase_add_test(tc, a_script_naming_no_known_client_keeps_the_verdict);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(doctor_script_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
