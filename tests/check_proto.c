/*
 * Unit tests of common/proto.c: event initialisation, string copying and
 * the validator every received datagram goes through.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "ratetap/proto.h"

/* A complete, valid event such as the shim sends. */
static void
good_event(struct rtp_event *ev)
{
	rtp_init(ev);
	ev->flags = RTP_F_TLS | RTP_F_STREAM;
	ev->pid = 4242;
	ev->seq = 7;
	ev->dropped = 2;
	ev->curl_code = 0;
	ev->http_status = 200;
	ev->method = RTP_M_POST;
	ev->usage_state = RTP_USAGE_OK;
	ev->unified_status = RTP_US_ALLOWED_WARNING;
	ev->status_5h = RTP_US_ALLOWED;
	ev->status_7d = RTP_US_REJECTED;
	ev->overage_status = RTP_US_OTHER;
	ev->claim = RTP_CLAIM_SEVEN_DAY_OPUS;
	ev->input_tokens = 11;
	ev->output_tokens = 22;
	ev->cache_creation_input_tokens = 3;
	ev->cache_read_input_tokens = 5;
	ev->d[RTP_D_UTIL_5H] = 0.25;
	ev->present |= RTP_PRESENT_D(RTP_D_UTIL_5H);
	ev->d[RTP_D_UTIL_7D] = 1.5;	/* may exceed 1 */
	ev->present |= RTP_PRESENT_D(RTP_D_UTIL_7D);
	ev->i[RTP_I_RESET_5H] = 1790000000;
	ev->present |= RTP_PRESENT_I(RTP_I_RESET_5H);
	ev->i[RTP_I_RETRY_AFTER] = 0;
	ev->present |= RTP_PRESENT_I(RTP_I_RETRY_AFTER);
	rtp_strlcpy(ev->model, "claude-sonnet-4-5", sizeof(ev->model));
	rtp_strlcpy(ev->host, "api.anthropic.com", sizeof(ev->host));
	rtp_strlcpy(ev->path, "/v1/messages", sizeof(ev->path));
	rtp_strlcpy(ev->prog, "curl", sizeof(ev->prog));
	rtp_strlcpy(ev->request_id, "req_0123", sizeof(ev->request_id));
	rtp_strlcpy(ev->overage_reason, "org_level_disabled",
	    sizeof(ev->overage_reason));
}

static int
check(const struct rtp_event *ev)
{
	struct rtp_event out;

	return rtp_validate(ev, sizeof(*ev), &out);
}

START_TEST(init_sets_magic_version_length_and_zeroes_the_rest)
{
	struct rtp_event ev;
	const unsigned char *b = (const unsigned char *)&ev;
	size_t k;

	memset(&ev, 0xa5, sizeof(ev));
	rtp_init(&ev);
	ck_assert_uint_eq(ev.magic, RTP_MAGIC);
	ck_assert_uint_eq(ev.version, RTP_VERSION);
	ck_assert_uint_eq(ev.length, sizeof(ev));
	for (k = offsetof(struct rtp_event, flags); k < sizeof(ev); k++)
		ck_assert_uint_eq(b[k], 0);
	ck_assert_uint_eq(memcmp(&ev, "RTP1", 4), 0);
}
END_TEST

START_TEST(validate_accepts_a_complete_event_and_copies_it)
{
	struct rtp_event ev, out;

	good_event(&ev);
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), &out), RTP_OK);
	ck_assert_int_eq(memcmp(&ev, &out, sizeof(ev)), 0);
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), NULL), RTP_OK);
}
END_TEST

START_TEST(validate_accepts_an_empty_event_with_a_pid)
{
	struct rtp_event ev;

	rtp_init(&ev);
	ev.pid = 1;
	ck_assert_int_eq(check(&ev), RTP_OK);
}
END_TEST

START_TEST(validate_rejects_wrong_sizes)
{
	struct rtp_event ev;
	unsigned char big[sizeof(ev) + 8];

	good_event(&ev);
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev) - 1, NULL), RTP_E_SIZE);
	ck_assert_int_eq(rtp_validate(&ev, 0, NULL), RTP_E_SIZE);
	ck_assert_int_eq(rtp_validate(NULL, sizeof(ev), NULL), RTP_E_SIZE);
	memset(big, 0, sizeof(big));
	memcpy(big, &ev, sizeof(ev));
	ck_assert_int_eq(rtp_validate(big, sizeof(big), NULL), RTP_E_SIZE);
	ev.length = (uint16_t)(sizeof(ev) + 8);
	ck_assert_int_eq(check(&ev), RTP_E_SIZE);
}
END_TEST

START_TEST(validate_accepts_the_shorter_layout_of_earlier_shims)
{
	struct rtp_event ev, out;

	good_event(&ev);
	ev.length = (uint16_t)RTP_EVENT_SIZE_V1;
	memset(&out, 0xa5, sizeof(out));
	ck_assert_int_eq(rtp_validate(&ev, RTP_EVENT_SIZE_V1, &out), RTP_OK);
	/* the tail it lacks reads as no windows; the copy has today's length */
	ck_assert_uint_eq(out.nwin, 0);
	ck_assert_uint_eq(out.length, sizeof(out));
	ck_assert_int_eq(out.input_tokens, ev.input_tokens);
	ck_assert_str_eq(out.model, ev.model);
	/* the length field must agree with the bytes received */
	ev.length = (uint16_t)sizeof(ev);
	ck_assert_int_eq(rtp_validate(&ev, RTP_EVENT_SIZE_V1, NULL),
	    RTP_E_SIZE);
	ev.length = (uint16_t)RTP_EVENT_SIZE_V1;
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), NULL), RTP_E_SIZE);
	ck_assert_int_eq(rtp_validate(&ev, RTP_EVENT_SIZE_V1 - 8, NULL),
	    RTP_E_SIZE);
}
END_TEST

START_TEST(validate_rejects_bad_magic_and_version)
{
	struct rtp_event ev;

	good_event(&ev);
	ev.magic = 0x32505452u;		/* "RTP2" */
	ck_assert_int_eq(check(&ev), RTP_E_MAGIC);
	good_event(&ev);
	ev.version = RTP_VERSION + 1;
	ck_assert_int_eq(check(&ev), RTP_E_VERSION);
	good_event(&ev);
	ev.version = 0;
	ck_assert_int_eq(check(&ev), RTP_E_VERSION);
}
END_TEST

/* Each out-of-range field on its own is RTP_E_FIELD. */
START_TEST(validate_rejects_each_bad_field_kind)
{
	struct rtp_event ev;
	int k;

	for (k = 0; k < 24; k++) {
		good_event(&ev);
		switch (k) {
		case 0: ev.flags = RTP_F_ALL + 1; break;
		case 1: ev.pid = 0; break;
		case 2: ev.pid = -5; break;
		case 3: ev.http_status = 1000; break;
		case 4: ev.method = RTP_M_MAX + 1; break;
		case 5: ev.usage_state = RTP_USAGE_MAX + 1; break;
		case 6: ev.unified_status = RTP_US_MAX + 1; break;
		case 7: ev.status_5h = 200; break;
		case 8: ev.status_7d = RTP_US_MAX + 1; break;
		case 9: ev.overage_status = RTP_US_MAX + 1; break;
		case 10: ev.claim = RTP_CLAIM_MAX + 1; break;
		case 11: ev.pad[1] = 1; break;
		case 12: ev.present |= UINT64_C(1) << 63; break;
		case 13: ev.input_tokens = -1; break;
		case 14: ev.output_tokens = RTP_TOKENS_MAX + 1; break;
		case 15: ev.cache_read_input_tokens = -7; break;
		case 16:	/* tokens without usage */
			ev.usage_state = RTP_USAGE_UNREADABLE;
			break;
		case 17: ev.d[RTP_D_UTIL_5H] = NAN; break;
		case 18: ev.d[RTP_D_UTIL_7D] = -0.5; break;
		case 19: ev.d[RTP_D_UTIL_7D] = INFINITY; break;
		case 20:	/* a value without its present bit */
			ev.d[RTP_D_FALLBACK_PCT] = 0.5;
			break;
		case 21: ev.i[RTP_I_RESET_5H] = -1; break;
		case 22: ev.i[RTP_I_RESET_5H] = INT64_C(253402300800); break;
		case 23: ev.i[RTP_I_TOK_LIMIT] = 100; break;
		default: break;
		}
		ck_assert_msg(check(&ev) == RTP_E_FIELD,
		    "bad field case %d accepted (%s)", k,
		    rtp_strerror(check(&ev)));
	}
}
END_TEST

START_TEST(validate_rejects_each_bad_string)
{
	struct rtp_event ev;
	char *fields[6];
	size_t sizes[6];
	int k;

	for (k = 0; k < 6 * 3; k++) {
		good_event(&ev);
		fields[0] = ev.model;		sizes[0] = sizeof(ev.model);
		fields[1] = ev.host;		sizes[1] = sizeof(ev.host);
		fields[2] = ev.path;		sizes[2] = sizeof(ev.path);
		fields[3] = ev.prog;		sizes[3] = sizeof(ev.prog);
		fields[4] = ev.request_id;	sizes[4] = sizeof(ev.request_id);
		fields[5] = ev.overage_reason;
		sizes[5] = sizeof(ev.overage_reason);
		switch (k % 3) {
		case 0:		/* no terminating NUL */
			memset(fields[k / 3], 'a', sizes[k / 3]);
			break;
		case 1:		/* a control character */
			fields[k / 3][0] = '\n';
			break;
		case 2:		/* garbage after the NUL */
			fields[k / 3][sizes[k / 3] - 1] = 'x';
			break;
		}
		ck_assert_msg(check(&ev) == RTP_E_STRING,
		    "bad string case %d accepted", k);
	}
}
END_TEST

START_TEST(validate_accepts_boundary_values)
{
	struct rtp_event ev;

	good_event(&ev);
	ev.http_status = 999;
	ev.input_tokens = RTP_TOKENS_MAX;
	ev.d[RTP_D_UTIL_5H] = 1e6;
	ev.i[RTP_I_RESET_5H] = INT64_C(253402300799);
	ck_assert_int_eq(check(&ev), RTP_OK);
}
END_TEST

START_TEST(validate_accepts_drops_only_events_that_describe_no_transfer)
{
	struct rtp_event ev, out;

	rtp_init(&ev);
	ev.pid = 4242;
	ev.seq = 12;
	ev.flags = RTP_F_DROPS_ONLY;
	ev.dropped = 9;
	rtp_strlcpy(ev.prog, "curl", sizeof(ev.prog));
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), &out), RTP_OK);
	ck_assert_uint_eq(out.dropped, 9);
	ck_assert_uint_eq(out.flags, RTP_F_DROPS_ONLY);

	ev.http_status = 200;
	ck_assert_int_eq(check(&ev), RTP_E_FIELD);
	ev.http_status = 0;
	ev.usage_state = RTP_USAGE_UNREADABLE;
	ck_assert_int_eq(check(&ev), RTP_E_FIELD);
	ev.usage_state = RTP_USAGE_OK;
	ck_assert_int_eq(check(&ev), RTP_E_FIELD);
	ev.usage_state = RTP_USAGE_NONE;
	ev.d[RTP_D_UTIL_5H] = 0.5;
	ev.present = RTP_PRESENT_D(RTP_D_UTIL_5H);
	ck_assert_int_eq(check(&ev), RTP_E_FIELD);
	ev.d[RTP_D_UTIL_5H] = 0.0;
	ev.present = RTP_PRESENT_I(RTP_I_RETRY_AFTER);
	ck_assert_int_eq(check(&ev), RTP_E_FIELD);
	ev.present = 0;
	ck_assert_int_eq(check(&ev), RTP_OK);
	/* the bit above it is still unknown */
	ev.flags = RTP_F_ALL + 1;
	ck_assert_int_eq(check(&ev), RTP_E_FIELD);
}
END_TEST

/* An event whose header-named windows are all well formed. */
static void
win_event(struct rtp_event *ev)
{
	good_event(ev);
	ev->nwin = 2;
	snprintf(ev->win[0].name, sizeof(ev->win[0].name), "7d_fable");
	ev->win[0].present = RTP_W_UTIL | RTP_W_RESET;
	ev->win[0].util = 0.5;
	ev->win[0].reset = 1800000000;
	snprintf(ev->win[1].name, sizeof(ev->win[1].name), "7d_sonnet");
	ev->win[1].present = RTP_W_STATUS;
	ev->win[1].status = RTP_US_REJECTED;
}

START_TEST(validate_checks_every_header_window_entry)
{
	struct rtp_event ev;
	int k;

	ck_assert_uint_le(sizeof(struct rtp_event), 1024);
	win_event(&ev);
	ck_assert_int_eq(check(&ev), RTP_OK);
	for (k = 0; k < 16; k++) {
		win_event(&ev);
		switch (k) {
		case 0: ev.nwin = RTP_WIN_SLOTS + 1; break;
		case 1: ev.wpad[3] = 1; break;
		case 2: ev.win[0].name[0] = '\0'; break;
		case 3: ev.win[0].name[1] = 'D'; break;
		case 4: ev.win[0].name[2] = '-'; break;
		case 5: ev.win[0].name[sizeof(ev.win[0].name) - 1] = 'x'; break;
		case 6: ev.win[0].present = 0; break;
		case 7: ev.win[0].present = 0x08; break;
		case 8: ev.win[0].util = NAN; break;
		case 9: ev.win[0].util = -1.0; break;
		case 10: ev.win[0].reset = -1; break;
		case 11: ev.win[1].status = RTP_US_MAX + 1; break;
		case 12: ev.win[1].util = 0.5; break;	/* not present */
		case 13: ev.win[1].pad[0] = 1; break;
		case 14:	/* an unused entry with data */
			ev.win[3].util = 0.1;
			break;
		case 15:	/* the same window twice */
			memcpy(ev.win[1].name, ev.win[0].name,
			    sizeof(ev.win[0].name));
			break;
		default: break;
		}
		ck_assert_msg(check(&ev) == RTP_E_FIELD,
		    "bad window case %d accepted (%s)", k,
		    rtp_strerror(check(&ev)));
	}
	/* a drops-only event names no window */
	rtp_init(&ev);
	ev.pid = 1;
	ev.flags = RTP_F_DROPS_ONLY;
	ev.nwin = 1;
	snprintf(ev.win[0].name, sizeof(ev.win[0].name), "7d_x");
	ev.win[0].present = RTP_W_UTIL;
	ck_assert_int_eq(check(&ev), RTP_E_FIELD);
}
END_TEST

START_TEST(strlcpy_truncates_and_replaces_unprintables)
{
	char buf[8];

	rtp_strlcpy(buf, "abcdefghij", sizeof(buf));
	ck_assert_str_eq(buf, "abcdefg");
	rtp_strlcpy(buf, "a\tb\xc3\xa9", sizeof(buf));
	ck_assert_str_eq(buf, "a?b??");
	rtp_strlcpy(buf, NULL, sizeof(buf));
	ck_assert_str_eq(buf, "");
	buf[0] = 'z';
	rtp_strlcpy(buf, "abc", 0);
	ck_assert_int_eq(buf[0], 'z');
}
END_TEST

/* Every byte value at every position of strings of 1 to 33 bytes, copied
 * into buffers of sizes around the 8-byte steps: the word-at-a-time copy
 * gives what a byte loop gives, and never writes past the buffer. */
START_TEST(strlcpy_matches_a_byte_loop_for_every_byte_and_length)
{
	static const size_t sizes[] = { 1, 2, 8, 9, 16, 17, 25, 42 };
	char src[48], dst[48], want[48];
	size_t len, pos, k, i;
	int c, bad = 0;

	for (len = 1; len <= 33; len++) {
		for (pos = 0; pos < len; pos++) {
			for (c = 1; c < 256; c++) {
				memset(src, 'a', len);
				src[len] = '\0';
				src[pos] = (char)c;
				for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]);
				    k++) {
					size_t dl = sizes[k];

					memset(dst, '#', sizeof(dst));
					memset(want, '#', sizeof(want));
					for (i = 0; i + 1 < dl && i < len; i++) {
						unsigned char b =
						    (unsigned char)src[i];

						want[i] = b >= 0x20 && b < 0x7f ?
						    (char)b : '?';
					}
					want[i] = '\0';
					rtp_strlcpy(dst, src, dl);
					bad += memcmp(dst, want,
					    sizeof(dst)) != 0;
				}
			}
		}
	}
	ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(strerror_names_every_error)
{
	ck_assert_str_eq(rtp_strerror(RTP_OK), "ok");
	ck_assert_str_eq(rtp_strerror(RTP_E_STRING), "string");
	ck_assert_str_eq(rtp_strerror(RTP_E_COUNT), "unknown");
	ck_assert_str_eq(rtp_strerror(-1), "unknown");
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, init_sets_magic_version_length_and_zeroes_the_rest);
	tcase_add_test(tc, validate_accepts_a_complete_event_and_copies_it);
	tcase_add_test(tc, validate_accepts_an_empty_event_with_a_pid);
	tcase_add_test(tc, validate_rejects_wrong_sizes);
	tcase_add_test(tc, validate_accepts_the_shorter_layout_of_earlier_shims);
	tcase_add_test(tc, validate_rejects_bad_magic_and_version);
	tcase_add_test(tc, validate_rejects_each_bad_field_kind);
	tcase_add_test(tc, validate_rejects_each_bad_string);
	tcase_add_test(tc, validate_accepts_boundary_values);
	tcase_add_test(tc,
	    validate_accepts_drops_only_events_that_describe_no_transfer);
	tcase_add_test(tc, validate_checks_every_header_window_entry);
	tcase_add_test(tc, strlcpy_truncates_and_replaces_unprintables);
	tcase_add_test(tc,
	    strlcpy_matches_a_byte_loop_for_every_byte_and_length);
	tcase_add_test(tc, strerror_names_every_error);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
