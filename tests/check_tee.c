/*
 * Unit tests of shim/tee.c: the application sees exactly what libcurl
 * delivered and libcurl sees exactly what the application returned; the
 * scanner (body) and the header reader (headers) see only bytes the
 * application accepted, once.  The header tee does what libcurl does
 * without it: the header callback with HEADERDATA, else the write callback
 * (or fwrite) with HEADERDATA when that is set, else nothing.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shim/tee.c"

__thread int shim_busy;

/* The scanner, faked: it records what it is fed. */
static char fed[4096];
static size_t fed_len;
static int feeds;

void
scan_feed(struct scan_state *st, const char *buf, size_t len)
{
	(void)st;
	ck_assert_uint_le(fed_len + len, sizeof(fed));
	memcpy(fed + fed_len, buf, len);
	fed_len += len;
	feeds++;
}

/* Judging a CURLU transfer's URL (xfer.c), faked: never asked here. */
void
xfer_confirm(struct shim_handle *h)
{
	(void)h;
	ck_abort_msg("xfer_confirm called");
}

/* The header reader, faked: it records the lines it is fed. */
static char hfed[4096];
static size_t hfed_len;
static int hfeeds;

void
hdr_tee_feed(struct hdr_tee *t, const char *p, size_t len)
{
	(void)t;
	ck_assert_uint_le(hfed_len + len, sizeof(hfed));
	memcpy(hfed + hfed_len, p, len);
	hfed_len += len;
	hfeeds++;
}

/* The application's write callback, scripted. */
static size_t script[16];	/* return values, in order; 0 = accept */
static int calls;
static char got[4096];
static size_t got_len;
static void *got_ud;
static int busy_in_cb = -1;

#define ACCEPT	((size_t)-2)

static size_t
app_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	size_t r = script[calls++], len = size * nmemb;

	got_ud = ud;
	busy_in_cb = shim_busy;
	if (r == ACCEPT)
		r = len;
	if (r == len) {
		memcpy(got + got_len, ptr, len);
		got_len += len;
	}
	return r;
}

static struct shim_handle sh;
static struct shim_xfer xf;
static int app_data;

static void
setup(void)
{
	memset(&sh, 0, sizeof(sh));
	memset(&xf, 0, sizeof(xf));
	sh.x = &xf;
	sh.user_wf = app_write;
	sh.user_wd = &app_data;
	sh.wd_set = 1;
	fed_len = got_len = hfed_len = 0;
	feeds = calls = hfeeds = 0;
	busy_in_cb = -1;
	memset(script, 0, sizeof(script));
}

static size_t
deliver(const char *s)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", s);
	return tee_write(buf, 1, strlen(s), &sh);
}

START_TEST(accepted_bytes_reach_the_application_and_the_scanner)
{
	setup();
	script[0] = script[1] = ACCEPT;
	ck_assert_uint_eq(deliver("{\"model\":"), 9);
	ck_assert_uint_eq(deliver("\"x\"}"), 4);
	ck_assert_uint_eq(got_len, 13);
	ck_assert_int_eq(memcmp(got, "{\"model\":\"x\"}", 13), 0);
	ck_assert_uint_eq(fed_len, 13);
	ck_assert_int_eq(memcmp(fed, got, 13), 0);
	ck_assert_ptr_eq(got_ud, &app_data);
	ck_assert_uint_eq(xf.rec.fed, 13);
}
END_TEST

START_TEST(a_short_write_is_returned_unchanged_and_not_scanned)
{
	setup();
	script[0] = 3;
	ck_assert_uint_eq(deliver("abcdef"), 3);
	ck_assert_uint_eq(fed_len, 0);
	script[1] = 0;
	ck_assert_uint_eq(deliver("abcdef"), 0);
	ck_assert_uint_eq(fed_len, 0);
	ck_assert_int_eq(feeds, 0);
}
END_TEST

START_TEST(a_paused_chunk_is_scanned_once_when_delivered_again)
{
	setup();
	script[0] = ACCEPT;
	script[1] = CURL_WRITEFUNC_PAUSE;
	script[2] = CURL_WRITEFUNC_PAUSE;
	script[3] = ACCEPT;
	ck_assert_uint_eq(deliver("one,"), 4);
	ck_assert_uint_eq(deliver("two,"), CURL_WRITEFUNC_PAUSE);
	ck_assert_uint_eq(deliver("two,"), CURL_WRITEFUNC_PAUSE);
	ck_assert_uint_eq(fed_len, 4);
	ck_assert_uint_eq(deliver("two,"), 4);
	ck_assert_uint_eq(fed_len, 8);
	ck_assert_int_eq(memcmp(fed, "one,two,", 8), 0);
	ck_assert_int_eq(feeds, 2);
	ck_assert_int_eq(calls, 4);
}
END_TEST

START_TEST(a_pause_equal_to_the_length_is_not_confused_with_acceptance)
{
	/* CURL_WRITEFUNC_PAUSE is a return value, never a length libcurl
	   delivers (CURL_MAX_WRITE_SIZE is far smaller) */
	ck_assert_uint_lt(CURL_MAX_WRITE_SIZE, CURL_WRITEFUNC_PAUSE);
}
END_TEST

START_TEST(the_default_writes_to_writedata_with_fwrite)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	setup();
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	sh.user_wf = NULL;
	sh.user_wd = f;
	ck_assert_uint_eq(deliver("hello"), 5);
	ck_assert_uint_eq(deliver(" world"), 6);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_uint_eq(len, 11);
	ck_assert_int_eq(memcmp(buf, "hello world", 11), 0);
	ck_assert_uint_eq(fed_len, 11);
	free(buf);
}
END_TEST

START_TEST(the_default_writes_to_stdout_when_writedata_was_never_set)
{
	FILE *tmp = tmpfile();
	char buf[64];
	int fd;
	ssize_t n;

	ck_assert_ptr_nonnull(tmp);
	fd = fileno(tmp);
	ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);
	setup();
	sh.user_wf = NULL;
	sh.user_wd = NULL;
	sh.wd_set = 0;
	ck_assert_uint_eq(deliver("to stdout"), 9);
	fflush(stdout);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, buf, sizeof(buf));
	ck_assert_int_eq(n, 9);
	ck_assert_int_eq(memcmp(buf, "to stdout", 9), 0);
	ck_assert_uint_eq(fed_len, 9);
	fclose(tmp);
}
END_TEST

START_TEST(a_null_stream_fails_the_write_without_crashing)
{
	setup();
	sh.user_wf = NULL;
	sh.user_wd = NULL;
	sh.wd_set = 1;
	ck_assert_uint_eq(deliver("x"), 0);
	ck_assert_uint_eq(fed_len, 0);
}
END_TEST

START_TEST(the_application_callback_runs_outside_the_busy_flag)
{
	setup();
	script[0] = ACCEPT;
	shim_busy = 1;
	ck_assert_uint_eq(deliver("abc"), 3);
	ck_assert_int_eq(busy_in_cb, 0);
	ck_assert_int_eq(shim_busy, 1);
	shim_busy = 0;
	script[1] = ACCEPT;
	ck_assert_uint_eq(deliver("abc"), 3);
	ck_assert_int_eq(shim_busy, 0);
}
END_TEST

START_TEST(empty_deliveries_are_forwarded_but_not_scanned)
{
	setup();
	script[0] = 0;
	ck_assert_uint_eq(tee_write(got, 1, 0, &sh), 0);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(feeds, 0);
}
END_TEST

START_TEST(without_a_transfer_state_only_the_application_is_called)
{
	setup();
	sh.x = NULL;
	script[0] = ACCEPT;
	ck_assert_uint_eq(deliver("abc"), 3);
	ck_assert_uint_eq(got_len, 3);
	ck_assert_int_eq(feeds, 0);
}
END_TEST


/* ---- the header tee ------------------------------------------------------ */

static int app_hdata;

static size_t
hdeliver(const char *s)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", s);
	return tee_header(buf, 1, strlen(s), &sh);
}

START_TEST(the_header_callback_gets_the_same_bytes_and_its_return_value)
{
	setup();
	sh.user_hf = app_write;
	sh.user_hd = &app_hdata;
	script[0] = script[1] = ACCEPT;
	ck_assert_uint_eq(hdeliver("HTTP/1.1 200 OK\r\n"), 17);
	ck_assert_uint_eq(hdeliver("request-id: req_1\r\n"), 19);
	ck_assert_ptr_eq(got_ud, &app_hdata);
	ck_assert_uint_eq(got_len, 36);
	ck_assert_int_eq(memcmp(got, "HTTP/1.1 200 OK\r\nrequest-id: req_1\r\n",
	    36), 0);
	ck_assert_uint_eq(hfed_len, 36);
	ck_assert_int_eq(memcmp(hfed, got, 36), 0);
	ck_assert_int_eq(hfeeds, 2);
	ck_assert_int_eq(feeds, 0);	/* headers never reach the scanner */
}
END_TEST

START_TEST(a_short_header_return_aborts_and_is_not_read)
{
	setup();
	sh.user_hf = app_write;
	sh.user_hd = &app_hdata;
	script[0] = 4;			/* libcurl aborts the transfer */
	ck_assert_uint_eq(hdeliver("request-id: req_1\r\n"), 4);
	script[1] = CURL_WRITEFUNC_PAUSE;
	ck_assert_uint_eq(hdeliver("request-id: req_2\r\n"),
	    CURL_WRITEFUNC_PAUSE);
	ck_assert_int_eq(hfeeds, 0);
	/* a paused line comes again and is read then, once */
	script[2] = ACCEPT;
	ck_assert_uint_eq(hdeliver("request-id: req_2\r\n"), 19);
	ck_assert_int_eq(hfeeds, 1);
	ck_assert_int_eq(calls, 3);
}
END_TEST

START_TEST(headerdata_alone_sends_headers_to_the_write_callback)
{
	setup();
	sh.user_hf = NULL;
	sh.user_hd = &app_hdata;	/* libcurl: the write callback */
	script[0] = ACCEPT;
	ck_assert_uint_eq(hdeliver("retry-after: 7\r\n"), 16);
	ck_assert_ptr_eq(got_ud, &app_hdata);
	ck_assert_uint_eq(got_len, 16);
	ck_assert_int_eq(hfeeds, 1);
	ck_assert_int_eq(feeds, 0);
	/* and its return value is libcurl's */
	script[1] = 0;
	ck_assert_uint_eq(hdeliver("retry-after: 8\r\n"), 0);
	ck_assert_int_eq(hfeeds, 1);
}
END_TEST

START_TEST(headerdata_alone_without_a_write_callback_uses_fwrite)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	setup();
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	sh.user_wf = NULL;
	sh.user_hf = NULL;
	sh.user_hd = f;
	ck_assert_uint_eq(hdeliver("HTTP/1.1 200 OK\r\n"), 17);
	ck_assert_uint_eq(hdeliver("\r\n"), 2);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_uint_eq(len, 19);
	ck_assert_int_eq(memcmp(buf, "HTTP/1.1 200 OK\r\n\r\n", 19), 0);
	ck_assert_int_eq(hfeeds, 2);
	ck_assert_int_eq(calls, 0);
	free(buf);
}
END_TEST

START_TEST(without_header_callback_or_data_headers_are_read_and_dropped)
{
	setup();
	sh.user_hf = NULL;
	sh.user_hd = NULL;		/* libcurl: nobody gets them */
	ck_assert_uint_eq(hdeliver("HTTP/1.1 200 OK\r\n"), 17);
	ck_assert_uint_eq(hdeliver("request-id: req_1\r\n"), 19);
	ck_assert_int_eq(calls, 0);
	ck_assert_uint_eq(got_len, 0);
	ck_assert_int_eq(hfeeds, 2);
}
END_TEST

START_TEST(the_header_callback_runs_outside_the_busy_flag)
{
	setup();
	sh.user_hf = app_write;
	script[0] = ACCEPT;
	shim_busy = 1;
	ck_assert_uint_eq(hdeliver("a: b\r\n"), 6);
	ck_assert_int_eq(busy_in_cb, 0);
	ck_assert_int_eq(shim_busy, 1);
	shim_busy = 0;
}
END_TEST

START_TEST(without_a_transfer_state_the_header_reader_is_not_fed)
{
	setup();
	sh.x = NULL;
	sh.user_hf = app_write;
	script[0] = ACCEPT;
	ck_assert_uint_eq(hdeliver("a: b\r\n"), 6);
	ck_assert_int_eq(hfeeds, 0);
}
END_TEST


/* Deliver each of the lines (as libcurl does, one call each) with every
 * delivery accepted; return what the scanner was fed. */
static void
deliver_all(const char *const *lines)
{
	int k;

	for (k = 0; lines[k] != NULL; k++) {
		script[k] = ACCEPT;
		ck_assert_uint_eq(deliver(lines[k]), strlen(lines[k]));
	}
}

#define BODY	"{\"usage\":{}}"

START_TEST(curlopt_header_blocks_are_passed_on_but_not_scanned)
{
	static const char *const cases[][8] = {
		/* HTTP/1.1 */
		{ "HTTP/1.1 200 OK\r\n", "content-type: x\r\n", "\r\n", BODY,
		  NULL },
		/* an interim 100 Continue, then the response */
		{ "HTTP/1.1 100 Continue\r\n", "\r\n", "HTTP/1.1 200 OK\r\n",
		  "a: b\r\n", "\r\n", BODY, NULL },
		/* HTTP/2, as libcurl writes its status line */
		{ "HTTP/2 200 \r\n", "anthropic-ratelimit-x: 1\r\n", "\r\n",
		  BODY, NULL },
		/* a redirect followed within the transfer (its body is
		   not delivered), then the final response */
		{ "HTTP/1.1 301 Moved\r\n", "location: /v1/messages\r\n",
		  "\r\n", "HTTP/1.1 200 OK\r\n", "\r\n", BODY, NULL },
		/* a proxy's CONNECT answer, then the response; bare LF */
		{ "HTTP/1.1 200 Connection established\n", "\n",
		  "HTTP/2 200 \n", "\n", BODY, NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup();
		deliver_all(cases[i]);
		ck_assert_uint_eq(fed_len, strlen(BODY));
		ck_assert_int_eq(memcmp(fed, BODY, fed_len), 0);
		ck_assert_uint_eq(xf.rec.fed, strlen(BODY));
		ck_assert_int_eq(xf.wmode, W_BODY);
	}
}
END_TEST

START_TEST(curlopt_header_blocks_split_anywhere_are_still_skipped)
{
	static char all[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
	    "x: y\r\n\r\n" BODY;
	size_t len = strlen(all), cut;

	/* a header block that came in one piece with the body, or cut
	   after any byte */
	for (cut = 1; cut <= len; cut++) {
		setup();
		script[0] = script[1] = ACCEPT;
		ck_assert_uint_eq(tee_write(all, 1, cut, &sh), cut);
		if (cut < len)
			ck_assert_uint_eq(tee_write(all + cut, 1,
			    len - cut, &sh), len - cut);
		ck_assert_uint_eq(fed_len, strlen(BODY));
		ck_assert_int_eq(memcmp(fed, BODY, fed_len), 0);
		ck_assert_uint_eq(got_len, len);
	}
}
END_TEST

START_TEST(a_body_is_never_taken_for_headers)
{
	setup();
	script[0] = script[1] = ACCEPT;
	deliver("event: message_start\n");
	deliver("HTTP/1.1 200 OK\r\n\r\n");
	ck_assert_uint_eq(fed_len, 21 + 19);

	/* a body that begins like a status line but is not one */
	setup();
	script[0] = script[1] = ACCEPT;
	deliver("HTT");
	ck_assert_uint_eq(fed_len, 0);
	deliver("P-ish {}");
	ck_assert_uint_eq(fed_len, 11);
	ck_assert_int_eq(memcmp(fed, "HTTP-ish {}", 11), 0);
}
END_TEST

START_TEST(a_refused_header_line_does_not_advance_the_header_state)
{
	setup();
	script[0] = CURL_WRITEFUNC_PAUSE;
	script[1] = script[2] = script[3] = ACCEPT;
	ck_assert_uint_eq(deliver("HTTP/1.1 200 OK\r\n"),
	    CURL_WRITEFUNC_PAUSE);
	ck_assert_int_eq(xf.wmode, W_BOUNDARY);
	deliver("HTTP/1.1 200 OK\r\n");
	deliver("\r\n");
	deliver(BODY);
	ck_assert_uint_eq(fed_len, strlen(BODY));
}
END_TEST

static Suite *
tee_suite(void)
{
	Suite *s = suite_create("tee");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, accepted_bytes_reach_the_application_and_the_scanner);
	tcase_add_test(tc, a_short_write_is_returned_unchanged_and_not_scanned);
	tcase_add_test(tc, a_paused_chunk_is_scanned_once_when_delivered_again);
	tcase_add_test(tc,
	    a_pause_equal_to_the_length_is_not_confused_with_acceptance);
	tcase_add_test(tc, the_default_writes_to_writedata_with_fwrite);
	tcase_add_test(tc,
	    the_default_writes_to_stdout_when_writedata_was_never_set);
	tcase_add_test(tc, a_null_stream_fails_the_write_without_crashing);
	tcase_add_test(tc, the_application_callback_runs_outside_the_busy_flag);
	tcase_add_test(tc, empty_deliveries_are_forwarded_but_not_scanned);
	tcase_add_test(tc,
	    without_a_transfer_state_only_the_application_is_called);
	tcase_add_test(tc,
	    the_header_callback_gets_the_same_bytes_and_its_return_value);
	tcase_add_test(tc, a_short_header_return_aborts_and_is_not_read);
	tcase_add_test(tc, headerdata_alone_sends_headers_to_the_write_callback);
	tcase_add_test(tc,
	    headerdata_alone_without_a_write_callback_uses_fwrite);
	tcase_add_test(tc,
	    without_header_callback_or_data_headers_are_read_and_dropped);
	tcase_add_test(tc, the_header_callback_runs_outside_the_busy_flag);
	tcase_add_test(tc,
	    without_a_transfer_state_the_header_reader_is_not_fed);
	tcase_add_test(tc, curlopt_header_blocks_are_passed_on_but_not_scanned);
	tcase_add_test(tc,
	    curlopt_header_blocks_split_anywhere_are_still_skipped);
	tcase_add_test(tc, a_body_is_never_taken_for_headers);
	tcase_add_test(tc,
	    a_refused_header_line_does_not_advance_the_header_state);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tee_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
