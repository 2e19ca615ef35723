/*
 * Unit tests of a transfer's lifecycle through the hooks (shim/hooks.c,
 * xfer.c, tee.c, record.c) against the fake libcurl of shimtest.h: each
 * transfer (easy, multi with and without CURLMSG_DONE, cleanup, reset,
 * duphandle, plugin mode, CURLU, CURLOPT_PORT) yields exactly one event,
 * the header tee does what libcurl would have done, and the application's
 * callbacks are left as they were.
 */
#include "shimtest.h"

/* ---- lifecycle ------------------------------------------------------------ */

START_TEST(easy_perform_sends_exactly_one_event)
{
	struct fake_easy e;
	struct rtp_event ev[4];

	easy_init(&e, "https://api.test/v1/messages?beta=true", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(fake_internal_calls, 1);
	ck_assert_int_eq(rx_events(ev, 4), 1);
	check_event(&ev[0], 1);
	ck_assert_str_eq(ev[0].host, "api.test");
	ck_assert_uint_eq(ev[0].flags, RTP_F_TLS);
	ck_assert_uint_eq(ev[0].seq, 1);
	/* the application got every byte, and its callbacks are back */
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert_int_eq(memcmp(app_buf, json_body, app_len), 0);
	ck_assert(e.wf == app_write);
	ck_assert_ptr_eq(e.wd, &app_data);
	/* again on the same handle: one more event */
	app_len = 0;
	e.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 4), 1);
	ck_assert_uint_eq(ev[0].seq, 2);
	curl_easy_cleanup((CURL *)&e);
	ck_assert_int_eq(rx_events(ev, 4), 0);
}
END_TEST

START_TEST(an_untapped_host_gets_no_tee_and_no_event)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	easy_init(&e, "https://example.com/v1/messages", json_body);
	e.wf = NULL;			/* reveal any tee: it would set it */
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_WRITEFUNCTION,
	    app_write), CURLE_OK);
	last.count = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(last.count, 0);	/* no setopt of ours */
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_uint_eq(app_len, strlen(json_body));
	/* port-qualified entries: only that port */
	easy_init(&e, "http://[::1]:8080/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	easy_init(&e, "http://[::1]:8443/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "[::1]:8443");
	easy_init(&e, "HTTPS://user:pw@API.Test:444/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "api.test:444");
}
END_TEST

START_TEST(multi_done_read_sends_once_and_remove_adds_nothing)
{
	struct fake_easy a, b;
	struct fake_multi m;
	struct rtp_event ev[4];
	CURLMsg *msg;
	int left, done = 0;

	memset(&m, 0, sizeof(m));
	easy_init(&a, "https://api.test/v1/messages", json_body);
	easy_init(&b, "https://api.test/v1/messages/count_tokens",
	    "{\"input_tokens\":9}");
	b.eff_url = "https://api.test/v1/messages/count_tokens";
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m, (CURL *)&a),
	    CURLM_OK);
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m, (CURL *)&b),
	    CURLM_OK);
	ck_assert(a.wf != app_write);	/* the tee is in */
	fake_multi_perform(&m);
	while ((msg = curl_multi_info_read((CURLM *)&m, &left)) != NULL) {
		ck_assert_int_eq(msg->msg, CURLMSG_DONE);
		done++;
	}
	ck_assert_int_eq(done, 2);
	ck_assert_int_eq(rx_events(ev, 4), 2);
	check_event(&ev[0], 1);
	ck_assert_str_eq(ev[1].path, "/v1/messages/count_tokens");
	ck_assert_uint_eq(ev[1].usage_state, RTP_USAGE_NONE);
	ck_assert_int_eq(ev[1].input_tokens, 0);
	ck_assert(a.wf == app_write && b.wf == app_write);
	curl_multi_remove_handle((CURLM *)&m, (CURL *)&a);
	curl_multi_remove_handle((CURLM *)&m, (CURL *)&b);
	curl_easy_cleanup((CURL *)&a);
	curl_easy_cleanup((CURL *)&b);
	curl_multi_cleanup((CURLM *)&m);
	ck_assert_int_eq(rx_events(ev, 4), 0);
}
END_TEST

START_TEST(multi_removed_without_done_sends_once_flagged_no_done)
{
	struct fake_easy a;
	struct fake_multi m;
	struct rtp_event ev[2];

	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	fake_multi_perform(&m);
	ck_assert_int_eq(curl_multi_remove_handle((CURLM *)&m, (CURL *)&a),
	    CURLM_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert_uint_eq(ev[0].flags, RTP_F_NO_DONE);
	ck_assert(a.wf == app_write);
	curl_easy_cleanup((CURL *)&a);
	curl_multi_cleanup((CURLM *)&m);
	ck_assert_int_eq(rx_events(ev, 2), 0);
}
END_TEST

START_TEST(cleanup_and_multi_cleanup_finalize_what_is_left)
{
	struct fake_easy a, b, c;
	struct fake_multi m;
	struct rtp_event ev[4];

	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	easy_init(&b, "http://api.test/v1/messages", json_body);
	easy_init(&c, "http://api.test/v1/messages", json_body);
	c.code = 0;			/* never got a response */
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	curl_multi_add_handle((CURLM *)&m, (CURL *)&b);
	curl_multi_add_handle((CURLM *)&m, (CURL *)&c);
	fake_multi_perform(&m);
	curl_easy_cleanup((CURL *)&a);	/* still in the multi handle */
	ck_assert_int_eq(rx_events(ev, 4), 1);
	ck_assert_uint_eq(ev[0].flags, RTP_F_NO_DONE);
	curl_multi_cleanup((CURLM *)&m);
	ck_assert_int_eq(rx_events(ev, 4), 1);	/* b; c had no response */
	ck_assert_uint_eq(ev[0].flags, RTP_F_NO_DONE);
	check_event(&ev[0], 1);
	ck_assert(b.wf == app_write && c.wf == app_write);
	curl_easy_cleanup((CURL *)&b);
	curl_easy_cleanup((CURL *)&c);
	ck_assert_int_eq(rx_events(ev, 4), 0);
}
END_TEST

START_TEST(a_failed_add_begins_nothing)
{
	struct fake_easy a;
	struct fake_multi m, m2;
	struct rtp_event ev[2];

	memset(&m, 0, sizeof(m));
	memset(&m2, 0, sizeof(m2));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m, (CURL *)&a),
	    CURLM_OK);
	/* a second add, even to another multi, leaves the transfer alone */
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m2, (CURL *)&a),
	    CURLM_ADDED_ALREADY);
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_FAILED_INIT);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	fake_multi_perform(&m);
	curl_multi_remove_handle((CURLM *)&m, (CURL *)&a);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
}
END_TEST

START_TEST(writefunction_set_during_a_transfer_is_kept_for_later)
{
	struct fake_easy a;
	struct fake_multi m;
	struct rtp_event ev[2];
	int left;

	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	last.count = 0;
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_WRITEFUNCTION,
	    app_write2), CURLE_OK);
	ck_assert_int_eq(last.count, 0);	/* recorded, not forwarded */
	fake_multi_perform(&m);
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert_ptr_nonnull(curl_multi_info_read((CURLM *)&m, &left));
	ck_assert(a.wf == app_write2);
	ck_assert_ptr_eq(a.wd, &app_data);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
}
END_TEST

START_TEST(default_callbacks_are_restored_as_defaults)
{
	struct fake_easy a;
	struct rtp_event ev[2];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	memset(&a, 0, sizeof(a));
	easy_new(&a);
	a.code = 200;
	a.method = "POST";
	a.eff_url = "http://api.test/v1/messages";
	a.body = json_body;
	curl_easy_setopt((CURL *)&a, CURLOPT_URL, a.eff_url);
	curl_easy_setopt((CURL *)&a, CURLOPT_WRITEDATA, f);
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	fclose(f);
	ck_assert_uint_eq(len, strlen(json_body));
	ck_assert(a.wf == NULL);
	ck_assert_ptr_eq(a.wd, f);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_OK);
	free(buf);
}
END_TEST

START_TEST(headerdata_without_headerfunction_keeps_headers_away_from_the_tee)
{
	struct fake_easy a;
	struct rtp_event ev[2];
	char *hbuf = NULL;
	size_t hlen = 0;
	FILE *hf = open_memstream(&hbuf, &hlen);

	ck_assert_ptr_nonnull(hf);
	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_easy_setopt((CURL *)&a, CURLOPT_WRITEFUNCTION, NULL);
	curl_easy_setopt((CURL *)&a, CURLOPT_WRITEDATA, stdout);
	curl_easy_setopt((CURL *)&a, CURLOPT_HEADERDATA, hf);
	a.wd = NULL;
	/* body to a memstream too, so that nothing is printed */
	{
		char *bbuf = NULL;
		size_t blen = 0;
		FILE *bf = open_memstream(&bbuf, &blen);

		curl_easy_setopt((CURL *)&a, CURLOPT_WRITEDATA, bf);
		ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
		fclose(bf);
		ck_assert_uint_eq(blen, strlen(json_body));
		free(bbuf);
	}
	fclose(hf);
	{
		char want[512];

		header_block(&a, want, sizeof(want));
		ck_assert_uint_eq(hlen, strlen(want));
		ck_assert_int_eq(memcmp(hbuf, want, hlen), 0);
	}
	ck_assert(a.hf == NULL);	/* restored */
	ck_assert_ptr_eq(a.hd, hf);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_OK);
	check_event(&ev[0], 1);
	free(hbuf);
}
END_TEST

/* ---- the header tee -------------------------------------------------------- */

static void preloaded(struct fake_easy *e, const char *url);

static void
preloaded_for_api_test(struct fake_easy *e)
{
	preloaded(e, "http://api.test/v1/messages");
}

/* The application's header callback: records the lines it takes; returns
 * hdr_short for the line starting with hdr_refuse. */
static char hdr_buf[1024];
static size_t hdr_len;
static int hdr_data;
static const char *hdr_refuse;
static size_t hdr_short;

static size_t
app_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	size_t len = size * nmemb;

	ck_assert_ptr_eq(ud, &hdr_data);
	ck_assert_uint_eq(size, 1);
	if (hdr_refuse != NULL && len >= strlen(hdr_refuse) &&
	    memcmp(ptr, hdr_refuse, strlen(hdr_refuse)) == 0)
		return hdr_short;
	ck_assert_uint_le(hdr_len + len, sizeof(hdr_buf));
	memcpy(hdr_buf + hdr_len, ptr, len);
	hdr_len += len;
	return len;
}

static void
header_setup(struct fake_easy *e, const char *url)
{
	easy_init(e, url, json_body);
	hdr_len = 0;
	hdr_refuse = NULL;
	ck_assert_int_eq(curl_easy_setopt((CURL *)e, CURLOPT_HEADERFUNCTION,
	    app_header), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)e, CURLOPT_HEADERDATA,
	    &hdr_data), CURLE_OK);
}

START_TEST(the_header_tee_forwards_identical_bytes_and_reads_headers)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char want[512];

	header_setup(&e, "https://api.test/v1/messages");
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	header_block(&e, want, sizeof(want));
	ck_assert_uint_eq(hdr_len, strlen(want));
	ck_assert_int_eq(memcmp(hdr_buf, want, hdr_len), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	/* read on the way, not from libcurl's header API afterwards */
	ck_assert_int_eq(nextheader_calls, 0);
	/* the application's callbacks are back */
	ck_assert(e.hf == app_header);
	ck_assert_ptr_eq(e.hd, &hdr_data);
	ck_assert(e.wf == app_write);
	ck_assert_ptr_eq(e.wd, &app_data);
	ck_assert_uint_eq(app_len, strlen(json_body));
}
END_TEST

START_TEST(a_short_header_return_aborts_the_transfer_unchanged)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	header_setup(&e, "https://api.test/v1/messages");
	hdr_refuse = "request-id";
	hdr_short = 3;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_WRITE_ERROR);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_int_eq(ev[0].curl_code, CURLE_WRITE_ERROR);
	/* the line the application refused was not read, those before
	   were */
	ck_assert_str_eq(ev[0].request_id, "");
	ck_assert_uint_eq(ev[0].present, RTP_PRESENT_D(RTP_D_UTIL_5H));
	ck_assert_uint_eq(app_len, 0);	/* no body after the abort */
	ck_assert(e.hf == app_header);
	ck_assert_ptr_eq(e.hd, &hdr_data);
	/* CURL_WRITEFUNC_ERROR (0xFFFFFFFF) comes back as it is too */
	e.delivered = 0;
	hdr_short = (size_t)0xFFFFFFFF;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_WRITE_ERROR);
	ck_assert_int_eq(rx_events(ev, 2), 1);
}
END_TEST

START_TEST(without_header_callback_or_data_headers_go_nowhere)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	/* the write callback must see the body only */
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert_int_eq(memcmp(app_buf, json_body, app_len), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert_int_eq(nextheader_calls, 0);
	ck_assert(e.hf == NULL);
	ck_assert_ptr_null(e.hd);
}
END_TEST

static char wh_buf[1024];
static size_t wh_len;

/* A write callback that also takes headers (HEADERDATA = &hdr_data). */
static size_t
app_write_both(char *ptr, size_t size, size_t nmemb, void *ud)
{
	size_t len = size * nmemb;

	if (ud == &hdr_data) {
		ck_assert_uint_le(wh_len + len, sizeof(wh_buf));
		memcpy(wh_buf + wh_len, ptr, len);
		wh_len += len;
		return len;
	}
	return app_write(ptr, size, nmemb, ud);
}

START_TEST(headerdata_alone_sends_headers_to_the_application_write_callback)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char want[512];

	easy_init(&e, "http://api.test/v1/messages", json_body);
	wh_len = 0;
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_WRITEFUNCTION,
	    app_write_both), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_HEADERDATA,
	    &hdr_data), CURLE_OK);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	header_block(&e, want, sizeof(want));
	ck_assert_uint_eq(wh_len, strlen(want));
	ck_assert_int_eq(memcmp(wh_buf, want, wh_len), 0);
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert(e.hf == NULL);
	ck_assert_ptr_eq(e.hd, &hdr_data);
	ck_assert(e.wf == app_write_both);
}
END_TEST

START_TEST(only_the_final_response_headers_count_after_redirects)
{
	static const char *const pre[] = {
		"HTTP/1.1 307 Temporary Redirect\r\n",
		"anthropic-ratelimit-unified-7d-utilization: 0.9\r\n",
		"request-id: req_redirected\r\n",
		"location: /v1/messages\r\n",
		"\r\n",
		NULL
	};
	struct fake_easy e;
	struct rtp_event ev[2];
	char want[1024];

	header_setup(&e, "https://api.test/v1/messages");
	e.pre = pre;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	header_block(&e, want, sizeof(want));
	ck_assert_uint_eq(hdr_len, strlen(want));	/* all forwarded */
	ck_assert_int_eq(memcmp(hdr_buf, want, hdr_len), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);		/* request-id and 5h only */
}
END_TEST

START_TEST(a_100_continue_response_is_left_out)
{
	static const char *const pre[] = {
		"HTTP/1.1 100 Continue\r\n",
		"\r\n",
		NULL
	};
	struct fake_easy e;
	struct rtp_event ev[2];

	header_setup(&e, "https://api.test/v1/messages");
	e.pre = pre;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert_uint_eq(ev[0].http_status, 200);
}
END_TEST

START_TEST(a_header_callback_set_during_a_transfer_is_kept_for_later)
{
	struct fake_easy a;
	struct fake_multi m;
	struct rtp_event ev[2];
	int left;

	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	hdr_len = 0;
	hdr_refuse = NULL;
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	last.count = 0;
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_HEADERFUNCTION,
	    app_header), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_HEADERDATA,
	    &hdr_data), CURLE_OK);
	ck_assert_int_eq(last.count, 0);	/* recorded, not forwarded */
	fake_multi_perform(&m);
	ck_assert_uint_gt(hdr_len, 0);		/* the tee followed it */
	ck_assert_ptr_nonnull(curl_multi_info_read((CURLM *)&m, &left));
	ck_assert(a.hf == app_header);
	ck_assert_ptr_eq(a.hd, &hdr_data);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
}
END_TEST

START_TEST(headers_are_read_without_the_header_api)
{
	struct fake_easy e, pre;
	struct rtp_event ev[2];

	/* a libcurl older than 7.84 */
	fake_fns.easy_nextheader = NULL;
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert_uint_eq(ev[0].flags & RTP_F_HEADERS_UNREAD, 0);
	/* a handle configured before loading still has no headers then */
	preloaded_for_api_test(&pre);
	ck_assert_int_eq(curl_easy_perform((CURL *)&pre), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].flags & RTP_F_HEADERS_UNREAD,
	    RTP_F_HEADERS_UNREAD);
	ck_assert_uint_eq(ev[0].present, 0);
	fake_fns.easy_nextheader = fake_nextheader;
}
END_TEST

START_TEST(options_the_shim_does_not_record_create_no_state)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_TIMEOUT, 5L),
	    CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_USERAGENT,
	    "ua"), CURLE_OK);
	ck_assert_ptr_null(hdl_lookup((CURL *)&e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_URL,
	    "https://api.test/v1/messages"), CURLE_OK);
	ck_assert_ptr_nonnull(hdl_lookup((CURL *)&e));
	/* parsed when set, once; tapped or not is worked out when a
	   transfer begins (CURLOPT_PORT may still change it) */
	ck_assert_int_eq(hdl_lookup((CURL *)&e)->url_ok, 1);
	ck_assert_str_eq(hdl_lookup((CURL *)&e)->url.host, "api.test");
	ck_assert_int_eq(hdl_lookup((CURL *)&e)->stale, 1);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	hdl_free(hdl_remove((CURL *)&e));
}
END_TEST

START_TEST(duphandle_copies_the_state_and_the_application_callbacks)
{
	struct fake_easy a, *d;
	struct fake_multi m;
	struct rtp_event ev[2];

	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	d = (struct fake_easy *)curl_easy_duphandle((CURL *)&a);
	ck_assert_ptr_nonnull(d);
	ck_assert(d->wf == app_write);	/* not the tee */
	ck_assert_ptr_eq(d->wd, &app_data);
	ck_assert_int_eq(curl_easy_perform((CURL *)d), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);	/* the copy is tapped */
	check_event(&ev[0], 1);
	curl_easy_cleanup((CURL *)d);
	free(d);
	fake_multi_perform(&m);
	curl_multi_remove_handle((CURLM *)&m, (CURL *)&a);
	ck_assert_int_eq(rx_events(ev, 2), 1);
}
END_TEST

START_TEST(reset_forgets_the_url)
{
	struct fake_easy a;
	struct rtp_event ev[2];

	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_easy_reset((CURL *)&a);
	ck_assert_int_eq(resets, 1);
	a.wf = app_write;
	a.wd = &app_data;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
}
END_TEST

START_TEST(disabled_is_pure_pass_through)
{
	struct fake_easy a;
	struct fake_multi m;
	struct rtp_event ev[2];
	int left;

	setenv("RATETAP_DISABLE", "1", 1);
	cfg_load();
	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	a.delivered = 0;
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	ck_assert(a.wf == app_write);
	fake_multi_perform(&m);
	ck_assert_ptr_nonnull(curl_multi_info_read((CURLM *)&m, &left));
	curl_multi_remove_handle((CURLM *)&m, (CURL *)&a);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_uint_eq(app_len, 2 * strlen(json_body));
}
END_TEST

START_TEST(a_truncated_messages_body_is_unreadable)
{
	struct fake_easy a;
	struct rtp_event ev[2];

	easy_init(&a, "http://api.test/v1/messages",
	    "{\"type\":\"message\",\"model\":\"claude-opus-4-1\",\"usage\":{\"in");
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_UNREADABLE);
	ck_assert_int_eq(ev[0].input_tokens, 0);
	a.code = 500;
	a.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_NONE);
}
END_TEST

/* ---- plugin mode, reused handles, CURLU and CURLOPT_PORT ------------------ */

/* A handle the application configured before the shim was loaded: the
 * fake holds the settings, the hooks never saw them. */
static void
preloaded(struct fake_easy *e, const char *url)
{
	memset(e, 0, sizeof(*e));
	e->code = 200;
	e->method = "POST";
	e->eff_url = url;
	e->body = json_body;
	e->wf = app_write;
	e->wd = &app_data;
	snprintf(e->url, sizeof(e->url), "%s", url);
	e->hdrs[0].name = (char *)(uintptr_t)"anthropic-ratelimit-unified-5h-utilization";
	e->hdrs[0].value = (char *)(uintptr_t)"0.75";
	e->hdrs[1].name = (char *)(uintptr_t)"request-id";
	e->hdrs[1].value = (char *)(uintptr_t)"req_unit_1";
	e->nhdrs = 2;
}

static void
check_unreadable(const struct rtp_event *ev, const char *host)
{
	ck_assert_uint_eq(ev->usage_state, RTP_USAGE_UNREADABLE);
	ck_assert_uint_eq(ev->http_status, 200);
	ck_assert_str_eq(ev->host, host);
	ck_assert_str_eq(ev->path, "/v1/messages");
	ck_assert_str_eq(ev->request_id, "req_unit_1");
	ck_assert_uint_eq(ev->present, RTP_PRESENT_D(RTP_D_UTIL_5H));
	ck_assert_str_eq(ev->model, "");
	ck_assert_int_eq(ev->output_tokens, 0);
}

START_TEST(a_handle_configured_before_loading_is_reported_unreadable)
{
	struct fake_easy e;
	struct fake_multi m;
	struct rtp_event ev[4];
	int left;

	preloaded(&e, "http://API.test:8080/v1/messages");
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 4), 1);
	check_unreadable(&ev[0], "api.test:8080");
	/* the application's own callback got the body, untouched */
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert(e.wf == app_write);
	ck_assert_ptr_eq(e.wd, &app_data);

	/* through a multi handle: reported when its CURLMSG_DONE is read */
	e.delivered = 0;
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m, (CURL *)&e),
	    CURLM_OK);
	fake_multi_perform(&m);
	ck_assert_int_eq(rx_events(ev, 4), 0);
	ck_assert_ptr_nonnull(curl_multi_info_read((CURLM *)&m, &left));
	ck_assert_ptr_null(curl_multi_info_read((CURLM *)&m, &left));
	ck_assert_int_eq(curl_multi_remove_handle((CURLM *)&m, (CURL *)&e),
	    CURLM_OK);
	ck_assert_int_eq(rx_events(ev, 4), 1);
	check_unreadable(&ev[0], "api.test:8080");

	/* an untapped host stays silent */
	preloaded(&e, "http://example.com/v1/messages");
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 4), 0);
}
END_TEST

START_TEST(a_handle_with_unknown_callbacks_is_not_teed)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	/* configured before loading; only the URL is set again after */
	preloaded(&e, "http://example.com/v1/messages");
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_URL,
	    "http://api.test/v1/messages"), CURLE_OK);
	e.eff_url = "http://api.test/v1/messages";
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert(e.wf == app_write);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_unreadable(&ev[0], "api.test");
	/* once both are set through the shim, the body is read */
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_WRITEFUNCTION,
	    app_write2), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_WRITEDATA,
	    &app_data), CURLE_OK);
	e.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert(e.wf == app_write2);
}
END_TEST

START_TEST(a_reused_address_starts_with_fresh_state)
{
	struct fake_easy a;
	struct rtp_event ev[2];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	easy_init(&a, "http://api.test/v1/messages", json_body);
	/* freed without the shim seeing it; the address comes back from
	   curl_easy_init for a handle that writes with libcurl's default */
	memset(&a, 0, sizeof(a));
	a.code = 200;
	a.method = "POST";
	a.eff_url = "http://api.test/v1/messages";
	a.body = json_body;
	easy_new(&a);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_URL,
	    a.eff_url), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_WRITEDATA, f),
	    CURLE_OK);
	/* a stale state would call app_write, which insists on &app_data */
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	fclose(f);
	ck_assert_uint_eq(len, strlen(json_body));
	ck_assert_uint_eq(app_len, 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_OK);
	free(buf);
}
END_TEST

/* The fake requests what a.eff_url says: the shim must judge that, with
 * CURLOPT_URL and CURLOPT_CURLU both set, whichever of them this libcurl
 * takes (7.88 takes the URL; the documentation says the CURLU). */
START_TEST(a_curlu_handle_is_judged_by_the_url_libcurl_requests)
{
	struct fake_curlu cu = { "https://api.test:444/v1/messages" };
	struct fake_easy a;
	struct fake_multi m;
	struct rtp_event ev[2];
	int left;

	easy_init(&a, "http://example.com/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_CURLU, &cu),
	    CURLE_OK);
	ck_assert_ptr_eq(last.p, &cu);
	/* this libcurl takes the CURLU */
	a.eff_url = cu.url;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "api.test:444");
	ck_assert_uint_eq(ev[0].flags, RTP_F_TLS);
	check_event(&ev[0], 1);

	/* the application changes the URL in the CURLU handle */
	cu.url = "https://example.com/v1/messages";
	a.eff_url = cu.url;
	a.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);

	cu.url = "http://api.test/v1/messages";
	a.eff_url = cu.url;
	a.delivered = 0;
	app_len = 0;
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m, (CURL *)&a),
	    CURLM_OK);
	fake_multi_perform(&m);
	ck_assert_ptr_nonnull(curl_multi_info_read((CURLM *)&m, &left));
	ck_assert_int_eq(curl_multi_remove_handle((CURLM *)&m, (CURL *)&a),
	    CURLM_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "api.test");

	/* a libcurl that takes the URL over the CURLU: tapped URL,
	   untapped CURLU */
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_URL,
	    "http://api.test/v1/messages"), CURLE_OK);
	cu.url = "https://example.com/v1/messages";
	a.eff_url = "http://api.test/v1/messages";
	a.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "api.test");
	check_event(&ev[0], 1);
	/* and the other way round: untapped URL, tapped CURLU */
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_URL,
	    "http://example.com/v1/messages"), CURLE_OK);
	cu.url = "https://api.test/v1/messages";
	a.eff_url = "http://example.com/v1/messages";
	a.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);

	/* unset: CURLOPT_URL counts again */
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_CURLU, NULL),
	    CURLE_OK);
	a.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);

	/* a libcurl without curl_url_get: a CURLU handle is judged by
	   its URL */
	fake_fns.url_get = NULL;
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_CURLU, &cu),
	    CURLE_OK);
	a.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	fake_fns.url_get = fake_url_get;
}
END_TEST

START_TEST(port_option_decides_the_port_matched_and_reported)
{
	struct fake_easy a, b;
	struct rtp_event ev[2];

	/* RATETAP_HOSTS is "api.test, [::1]:8443" */
	easy_init(&a, "http://[::1]:8080/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_PORT, 8443L),
	    CURLE_OK);
	ck_assert_int_eq(last.l, 8443);
	a.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "[::1]:8443");
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_PORT, 0L),
	    CURLE_OK);
	a.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);

	easy_init(&b, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&b, CURLOPT_PORT, 8080L),
	    CURLE_OK);
	ck_assert_int_eq(curl_easy_perform((CURL *)&b), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "api.test:8080");
}
END_TEST

static Suite *
xfer_suite(void)
{
	Suite *s = suite_create("xfer");
	TCase *tc = tcase_create("lifecycle");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, easy_perform_sends_exactly_one_event);
	tcase_add_test(tc, an_untapped_host_gets_no_tee_and_no_event);
	tcase_add_test(tc, multi_done_read_sends_once_and_remove_adds_nothing);
	tcase_add_test(tc,
	    multi_removed_without_done_sends_once_flagged_no_done);
	tcase_add_test(tc, cleanup_and_multi_cleanup_finalize_what_is_left);
	tcase_add_test(tc, a_failed_add_begins_nothing);
	tcase_add_test(tc,
	    writefunction_set_during_a_transfer_is_kept_for_later);
	tcase_add_test(tc, default_callbacks_are_restored_as_defaults);
	tcase_add_test(tc,
	    headerdata_without_headerfunction_keeps_headers_away_from_the_tee);
	tcase_add_test(tc,
	    duphandle_copies_the_state_and_the_application_callbacks);
	tcase_add_test(tc,
	    the_header_tee_forwards_identical_bytes_and_reads_headers);
	tcase_add_test(tc, a_short_header_return_aborts_the_transfer_unchanged);
	tcase_add_test(tc, without_header_callback_or_data_headers_go_nowhere);
	tcase_add_test(tc,
	    headerdata_alone_sends_headers_to_the_application_write_callback);
	tcase_add_test(tc,
	    only_the_final_response_headers_count_after_redirects);
	tcase_add_test(tc, a_100_continue_response_is_left_out);
	tcase_add_test(tc,
	    a_header_callback_set_during_a_transfer_is_kept_for_later);
	tcase_add_test(tc, headers_are_read_without_the_header_api);
	tcase_add_test(tc, options_the_shim_does_not_record_create_no_state);
	tcase_add_test(tc, reset_forgets_the_url);
	tcase_add_test(tc, disabled_is_pure_pass_through);
	tcase_add_test(tc, a_truncated_messages_body_is_unreadable);
	tcase_add_test(tc,
	    a_handle_configured_before_loading_is_reported_unreadable);
	tcase_add_test(tc, a_handle_with_unknown_callbacks_is_not_teed);
	tcase_add_test(tc, a_reused_address_starts_with_fresh_state);
	tcase_add_test(tc,
	    a_curlu_handle_is_judged_by_the_url_libcurl_requests);
	tcase_add_test(tc, port_option_decides_the_port_matched_and_reported);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(xfer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
