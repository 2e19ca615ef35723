/*
 * Unit tests of shim/headers.c: every rate-limit header to its event
 * field, case-insensitive names, strict values (malformed ones leave the
 * field absent), the header tee's reading of header lines as they arrive
 * (only the final response's headers count), and the fallback read through
 * curl_easy_nextheader.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../shim/headers.c"

#define RL	"anthropic-ratelimit-"

static struct rtp_event ev;

static void
fresh(void)
{
	rtp_init(&ev);
	ev.pid = 1;
}

static int
has_d(int k)
{
	return (ev.present & RTP_PRESENT_D(k)) != 0;
}

static int
has_i(int k)
{
	return (ev.present & RTP_PRESENT_I(k)) != 0;
}

START_TEST(every_fraction_header_sets_its_field)
{
	static const struct {
		const char *name;
		int idx;
	} t[] = {
		{ RL "unified-5h-utilization", RTP_D_UTIL_5H },
		{ RL "unified-7d-utilization", RTP_D_UTIL_7D },
		{ RL "unified-7d_sonnet-utilization", RTP_D_UTIL_7D_SONNET },
		{ RL "unified-7d_opus-utilization", RTP_D_UTIL_7D_OPUS },
		{ RL "unified-overage-utilization", RTP_D_UTIL_OVERAGE },
		{ RL "unified-fallback-percentage", RTP_D_FALLBACK_PCT },
		{ RL "unified-5h-surpassed-threshold", RTP_D_SURPASSED_5H },
		{ RL "unified-7d-surpassed-threshold", RTP_D_SURPASSED_7D },
	};
	size_t k;

	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		fresh();
		ck_assert_int_eq(hdr_apply(&ev, t[k].name, "0.375"), 1);
		ck_assert_msg(has_d(t[k].idx), "%s not present", t[k].name);
		ck_assert_double_eq(ev.d[t[k].idx], 0.375);
		ck_assert_uint_eq(ev.present, RTP_PRESENT_D(t[k].idx));
		ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), NULL), RTP_OK);
	}
}
END_TEST

START_TEST(every_integer_header_sets_its_field)
{
	static const struct {
		const char *name;
		int idx;
	} t[] = {
		{ RL "unified-5h-reset", RTP_I_RESET_5H },
		{ RL "unified-7d-reset", RTP_I_RESET_7D },
		{ RL "unified-7d_sonnet-reset", RTP_I_RESET_7D_SONNET },
		{ RL "unified-7d_opus-reset", RTP_I_RESET_7D_OPUS },
		{ RL "unified-reset", RTP_I_RESET },
		{ RL "unified-overage-reset", RTP_I_RESET_OVERAGE },
		{ RL "requests-limit", RTP_I_REQ_LIMIT },
		{ RL "requests-remaining", RTP_I_REQ_REMAINING },
		{ RL "tokens-limit", RTP_I_TOK_LIMIT },
		{ RL "tokens-remaining", RTP_I_TOK_REMAINING },
		{ RL "input-tokens-limit", RTP_I_IN_LIMIT },
		{ RL "input-tokens-remaining", RTP_I_IN_REMAINING },
		{ RL "output-tokens-limit", RTP_I_OUT_LIMIT },
		{ RL "output-tokens-remaining", RTP_I_OUT_REMAINING },
		{ "retry-after", RTP_I_RETRY_AFTER },
	};
	size_t k;

	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		fresh();
		ck_assert_int_eq(hdr_apply(&ev, t[k].name, "1790003600"), 1);
		ck_assert_msg(has_i(t[k].idx), "%s not present", t[k].name);
		ck_assert_int_eq(ev.i[t[k].idx], 1790003600);
		ck_assert_uint_eq(ev.present, RTP_PRESENT_I(t[k].idx));
	}
}
END_TEST

START_TEST(every_rfc3339_reset_header_becomes_unix_seconds)
{
	static const struct {
		const char *name;
		int idx;
	} t[] = {
		{ RL "requests-reset", RTP_I_REQ_RESET },
		{ RL "tokens-reset", RTP_I_TOK_RESET },
		{ RL "input-tokens-reset", RTP_I_IN_RESET },
		{ RL "output-tokens-reset", RTP_I_OUT_RESET },
	};
	size_t k;

	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		fresh();
		ck_assert_int_eq(hdr_apply(&ev, t[k].name,
		    "2026-11-28T20:00:00Z"), 1);
		ck_assert(has_i(t[k].idx));
		ck_assert_int_eq(ev.i[t[k].idx], 1795896000);
	}
}
END_TEST

START_TEST(rfc3339_handles_fractions_offsets_and_leap_days)
{
	fresh();
	ck_assert_int_eq(hdr_apply(&ev, RL "requests-reset",
	    "2026-11-28T21:30:00.123456+01:30"), 1);
	ck_assert_int_eq(ev.i[RTP_I_REQ_RESET], 1795896000);
	ck_assert_int_eq(hdr_apply(&ev, RL "tokens-reset",
	    "2024-02-29t00:00:00-00:00"), 1);
	ck_assert_int_eq(ev.i[RTP_I_TOK_RESET], 1709164800);
	ck_assert_int_eq(hdr_apply(&ev, RL "input-tokens-reset",
	    "1970-01-01T00:00:00Z"), 1);
	ck_assert_int_eq(ev.i[RTP_I_IN_RESET], 0);
}
END_TEST

START_TEST(statuses_and_claims_become_enums)
{
	fresh();
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-status", "allowed"), 1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-5h-status",
	    "allowed_warning"), 1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d-status", "rejected"),
	    1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-overage-status",
	    "something_new"), 1);
	ck_assert_int_eq(ev.unified_status, RTP_US_ALLOWED);
	ck_assert_int_eq(ev.status_5h, RTP_US_ALLOWED_WARNING);
	ck_assert_int_eq(ev.status_7d, RTP_US_REJECTED);
	ck_assert_int_eq(ev.overage_status, RTP_US_OTHER);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-representative-claim",
	    "seven_day_sonnet"), 1);
	ck_assert_int_eq(ev.claim, RTP_CLAIM_SEVEN_DAY_SONNET);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-representative-claim",
	    "five_hour"), 1);
	ck_assert_int_eq(ev.claim, RTP_CLAIM_FIVE_HOUR);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-representative-claim",
	    "seven_day"), 1);
	ck_assert_int_eq(ev.claim, RTP_CLAIM_SEVEN_DAY);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-representative-claim",
	    "seven_day_opus"), 1);
	ck_assert_int_eq(ev.claim, RTP_CLAIM_SEVEN_DAY_OPUS);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-representative-claim",
	    "overage"), 1);
	ck_assert_int_eq(ev.claim, RTP_CLAIM_OVERAGE);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-representative-claim",
	    "ten_year"), 1);
	ck_assert_int_eq(ev.claim, RTP_CLAIM_OTHER);
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), NULL), RTP_OK);
}
END_TEST

START_TEST(strings_are_copied)
{
	fresh();
	ck_assert_int_eq(hdr_apply(&ev, "request-id", "req_mock_17"), 1);
	ck_assert_str_eq(ev.request_id, "req_mock_17");
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-overage-disabled-reason",
	    "org_level_disabled"), 1);
	ck_assert_str_eq(ev.overage_reason, "org_level_disabled");
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), NULL), RTP_OK);
}
END_TEST

START_TEST(names_match_case_insensitively)
{
	fresh();
	ck_assert_int_eq(hdr_apply(&ev,
	    "Anthropic-RateLimit-Unified-5H-Utilization", "0.5"), 1);
	ck_assert_double_eq(ev.d[RTP_D_UTIL_5H], 0.5);
	ck_assert_int_eq(hdr_apply(&ev, "RETRY-AFTER", "7"), 1);
	ck_assert_int_eq(ev.i[RTP_I_RETRY_AFTER], 7);
	ck_assert_int_eq(hdr_apply(&ev, "Request-Id", "req_x"), 1);
	ck_assert_str_eq(ev.request_id, "req_x");
	ck_assert_int_eq(hdr_apply(&ev, "ANTHROPIC-RATELIMIT-UNIFIED-STATUS",
	    "rejected"), 1);
	ck_assert_int_eq(ev.unified_status, RTP_US_REJECTED);
}
END_TEST

START_TEST(surrounding_blanks_are_ignored)
{
	fresh();
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d-utilization",
	    "  1.25 \t"), 1);
	ck_assert_double_eq(ev.d[RTP_D_UTIL_7D], 1.25);
}
END_TEST

START_TEST(other_headers_are_not_ours)
{
	fresh();
	ck_assert_int_eq(hdr_apply(&ev, "content-type", "application/json"),
	    0);
	ck_assert_int_eq(hdr_apply(&ev, "authorization", "Bearer x"), 0);
	ck_assert_int_eq(hdr_apply(&ev, "x-" RL "unified-5h-utilization",
	    "0.1"), 0);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-5h-utilizationx", "0.1"),
	    0);
	ck_assert_int_eq(hdr_apply(&ev, NULL, "0.1"), 0);
	ck_assert_uint_eq(ev.present, 0);
}
END_TEST

START_TEST(malformed_values_leave_the_field_absent)
{
	static const struct {
		const char *name;
		const char *value;
	} t[] = {
		{ RL "unified-5h-utilization", "" },
		{ RL "unified-5h-utilization", "abc" },
		{ RL "unified-5h-utilization", "-0.5" },
		{ RL "unified-5h-utilization", "+0.5" },
		{ RL "unified-5h-utilization", "0.5x" },
		{ RL "unified-5h-utilization", "0x1p3" },
		{ RL "unified-5h-utilization", "nan" },
		{ RL "unified-5h-utilization", "inf" },
		{ RL "unified-5h-utilization", ".5" },
		{ RL "unified-5h-utilization", "5." },
		{ RL "unified-5h-utilization", "1e" },
		{ RL "unified-5h-utilization", "1e400" },
		{ RL "unified-5h-utilization", "0,5" },
		{ RL "unified-5h-reset", "1790003600.5" },
		{ RL "unified-5h-reset", "-1" },
		{ RL "unified-5h-reset", "99999999999999999999999" },
		{ RL "unified-5h-reset", "253402300800" },
		{ RL "unified-5h-reset", "17 90" },
		{ RL "requests-limit", "fifty" },
		{ RL "requests-reset", "2026-11-28" },
		{ RL "requests-reset", "2026-13-01T00:00:00Z" },
		{ RL "requests-reset", "2026-02-30T00:00:00Z" },
		{ RL "requests-reset", "2025-02-29T00:00:00Z" },
		{ RL "requests-reset", "2026-11-28T24:00:00Z" },
		{ RL "requests-reset", "2026-11-28T20:00:00" },
		{ RL "requests-reset", "2026-11-28T20:00:00+0100" },
		{ RL "requests-reset", "2026-11-28T20:00:00Zjunk" },
		{ RL "requests-reset", "1969-12-31T23:59:59Z" },
		{ "retry-after", "Wed, 21 Oct 2015 07:28:00 GMT" },
		{ "request-id", "" },
		{ "request-id", "req with spaces" },
		{ "request-id", "req_\x01" },
		{ "request-id", "req_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
		{ RL "unified-status", "" },
		{ RL "unified-representative-claim", "  " },
	};
	size_t k;

	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		fresh();
		ck_assert_msg(hdr_apply(&ev, t[k].name, t[k].value) == -1,
		    "%s: %s accepted", t[k].name, t[k].value);
		ck_assert_msg(ev.present == 0 && ev.request_id[0] == '\0' &&
		    ev.unified_status == RTP_US_ABSENT &&
		    ev.claim == RTP_CLAIM_ABSENT,
		    "%s: %s changed the event", t[k].name, t[k].value);
	}
}
END_TEST

START_TEST(a_malformed_repeat_keeps_the_good_value)
{
	fresh();
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-5h-utilization", "0.25"),
	    1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-5h-utilization", "bad"),
	    -1);
	ck_assert(has_d(RTP_D_UTIL_5H));
	ck_assert_double_eq(ev.d[RTP_D_UTIL_5H], 0.25);
}
END_TEST

START_TEST(fractions_parse_exactly_without_the_locale)
{
	static const struct {
		const char *s;
		double v;
	} t[] = {
		{ "0", 0.0 }, { "1", 1.0 }, { "0.25", 0.25 }, { "0.5", 0.5 },
		{ "1.5", 1.5 }, { "0.1", 0.1 }, { "0.07", 0.07 },
		{ "2.5e-1", 0.25 }, { "25E-2", 0.25 }, { "1e3", 1000.0 },
		{ "0.000001", 0.000001 }, { "80", 80.0 },
		{ "0.123456789012345", 0.123456789012345 },
	};
	size_t k;

	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		fresh();
		ck_assert_int_eq(hdr_apply(&ev, RL "unified-fallback-percentage",
		    t[k].s), 1);
		ck_assert_msg(ev.d[RTP_D_FALLBACK_PCT] == t[k].v,
		    "%s -> %.17g", t[k].s, ev.d[RTP_D_FALLBACK_PCT]);
	}
}
END_TEST

/* A fake curl_easy_nextheader over a fixed list. */
static struct curl_header fake_hdrs[8];
static size_t fake_nhdrs;
static int fake_calls;

static struct curl_header *
fake_nextheader(CURL *easy, unsigned int origin, int request,
    struct curl_header *prev)
{
	size_t next;

	(void)easy;
	fake_calls++;
	ck_assert_uint_eq(origin, CURLH_HEADER);
	ck_assert_int_eq(request, -1);
	next = prev == NULL ? 0 : (size_t)(prev - fake_hdrs) + 1;
	return next < fake_nhdrs ? &fake_hdrs[next] : NULL;
}

static void
add_hdr(const char *name, const char *value)
{
	fake_hdrs[fake_nhdrs].name = (char *)(uintptr_t)name;
	fake_hdrs[fake_nhdrs].value = (char *)(uintptr_t)value;
	fake_nhdrs++;
}

START_TEST(read_walks_every_header_once)
{
	struct curl_fns f;

	memset(&f, 0, sizeof(f));
	f.easy_nextheader = fake_nextheader;
	fake_nhdrs = 0;
	fake_calls = 0;
	add_hdr("Content-Type", "application/json");
	add_hdr("anthropic-ratelimit-unified-5h-utilization", "0.25");
	add_hdr("Anthropic-Ratelimit-Unified-7d-Utilization", "0.5");
	add_hdr("anthropic-ratelimit-unified-5h-reset", "1790003600");
	add_hdr("anthropic-ratelimit-requests-remaining", "49");
	add_hdr("request-id", "req_mock_3");
	add_hdr("set-cookie", "secret=1");
	fresh();
	hdr_read(&f, (CURL *)&f, &ev);
	ck_assert_int_eq(fake_calls, (int)fake_nhdrs + 1);
	ck_assert_double_eq(ev.d[RTP_D_UTIL_5H], 0.25);
	ck_assert_double_eq(ev.d[RTP_D_UTIL_7D], 0.5);
	ck_assert_int_eq(ev.i[RTP_I_RESET_5H], 1790003600);
	ck_assert_int_eq(ev.i[RTP_I_REQ_REMAINING], 49);
	ck_assert_str_eq(ev.request_id, "req_mock_3");
	ck_assert_uint_eq(ev.present, RTP_PRESENT_D(RTP_D_UTIL_5H) |
	    RTP_PRESENT_D(RTP_D_UTIL_7D) | RTP_PRESENT_I(RTP_I_RESET_5H) |
	    RTP_PRESENT_I(RTP_I_REQ_REMAINING));
	ck_assert_uint_eq(ev.flags & RTP_F_HEADERS_UNREAD, 0);
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), NULL), RTP_OK);
}
END_TEST

/*
 * Found by tests/fuzz/fuzz_headers: a repeated string header whose second
 * value is shorter left the end of the first behind the NUL, and the
 * daemon refuses such an event whole (RTP_E_STRING): the transfer was
 * lost.
 */
START_TEST(a_shorter_repeat_of_a_string_header_still_validates)
{
	fresh();
	ck_assert_int_eq(hdr_apply(&ev, "request-id", "re_hour"), 1);
	ck_assert_int_eq(hdr_apply(&ev, "request-id", "0"), 1);
	ck_assert_str_eq(ev.request_id, "0");
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), NULL), RTP_OK);

	ck_assert_int_eq(hdr_apply(&ev, RL "unified-overage-disabled-reason",
	    "org_level_disabled"), 1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-overage-disabled-reason",
	    "x"), 1);
	ck_assert_str_eq(ev.overage_reason, "x");
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), NULL), RTP_OK);
}
END_TEST

START_TEST(read_without_nextheader_flags_headers_unread)
{
	struct curl_fns f;

	memset(&f, 0, sizeof(f));
	fresh();
	hdr_read(&f, (CURL *)&f, &ev);
	ck_assert_uint_eq(ev.flags, RTP_F_HEADERS_UNREAD);
	ck_assert_uint_eq(ev.present, 0);
}
END_TEST


/* lower_copy() lowers A-Z and nothing else, at every position of names
 * of every length it takes, with every byte value, and says whether it
 * lowered anything. */
START_TEST(lower_copy_lowers_ascii_letters_only)
{
	char in[NAME_LC_MAX], out[NAME_LC_MAX + 8];
	size_t len, pos, i;
	int c, bad = 0;

	for (len = 1; len < NAME_LC_MAX; len++) {
		for (pos = 0; pos < len; pos++) {
			for (c = 0; c < 256; c++) {
				memset(in, pos % 2 ? 'q' : '-', len);
				in[pos] = (char)c;
				memset(out, '#', sizeof(out));
				/* 1 when it lowered something */
				bad += lower_copy(out, in, len) !=
				    (c >= 'A' && c <= 'Z');
				for (i = 0; i < len; i++) {
					int b = (unsigned char)in[i];
					int want = b >= 'A' && b <= 'Z' ?
					    b + 32 : b;

					bad += (unsigned char)out[i] != want;
				}
				bad += out[len] != '#';
			}
		}
	}
	ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(the_table_is_ordered_for_the_search_by_length)
{
	size_t k;

	for (k = 0; k < HDR_NDEFS; k++) {
		ck_assert_uint_eq(hdr_defs[k].len, strlen(hdr_defs[k].name));
		ck_assert_int_eq(hdr_defs[k].rl, k < HDR_NRL);
		if (k > 0 && k < HDR_NRL)
			ck_assert_uint_le(hdr_defs[k - 1].len, hdr_defs[k].len);
		if (k < HDR_NRL)
			ck_assert_uint_lt(hdr_defs[k].len, HDR_RL_LEN_MAX);
	}
	/* the index by length names the first entry of each length */
	for (k = 0; k < HDR_RL_LEN_MAX; k++) {
		size_t i, first = 0;

		for (i = HDR_NRL; i-- > 0;)
			if (hdr_defs[i].len == k)
				first = i + 1;
		ck_assert_uint_eq(rl_first1[k], first);
	}
	/* every entry is found by its own name, and in any case once
	   lower_copy() lowered it (find_def() takes lower case) */
	for (k = 0; k < HDR_NDEFS; k++) {
		char name[128], upper[128], lc[NAME_LC_MAX];
		size_t i;

		snprintf(name, sizeof(name), "%s%s", hdr_defs[k].rl ? RL : "",
		    hdr_defs[k].name);
		ck_assert_uint_lt(strlen(name), NAME_LC_MAX);
		for (i = 0; name[i] != '\0'; i++)
			upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ?
			    name[i] - 32 : name[i]);
		upper[i] = '\0';
		ck_assert_ptr_eq(find_def(name, strlen(name)), &hdr_defs[k]);
		ck_assert_ptr_null(find_def(upper, strlen(upper)));
		ck_assert_int_eq(lower_copy(lc, upper, strlen(upper)), 1);
		ck_assert_int_eq(lower_copy(lc, name, strlen(name)), 0);
		lower_copy(lc, upper, strlen(upper));
		ck_assert_ptr_eq(find_def(lc, strlen(upper)), &hdr_defs[k]);
		ck_assert_ptr_null(find_def(name, strlen(name) - 1));
		/* one byte changed anywhere: not that entry */
		for (i = 0; name[i] != '\0'; i++) {
			char c = name[i];

			name[i] = c == 'x' ? 'y' : 'x';
			ck_assert_ptr_ne(find_def(name, strlen(name)),
			    &hdr_defs[k]);
			name[i] = c;
		}
	}
	ck_assert_ptr_null(find_def(RL, strlen(RL)));
	ck_assert_ptr_null(find_def(RL "unified-5h-utilizatioN_", 43));
}
END_TEST

/* ---- the header tee's reader --------------------------------------------- */

static struct hdr_tee tee;

static void
feed(const char *line)
{
	hdr_tee_feed(&tee, line, strlen(line));
}

/* The headers of a response as a server sends them, line by line. */
static void
feed_response(const char *status, const char *util5h, const char *reqid)
{
	char buf[128];

	feed(status);
	feed("Date: Sat, 28 Nov 2026 18:00:00 GMT\r\n");
	snprintf(buf, sizeof(buf), "Anthropic-Ratelimit-Unified-5h-Utilization:"
	    " %s\r\n", util5h);
	feed(buf);
	snprintf(buf, sizeof(buf), "request-id: %s\r\n", reqid);
	feed(buf);
	feed("content-type: application/json\r\n");
	feed("\r\n");
}

START_TEST(the_tee_reads_header_lines_as_they_arrive)
{
	struct rtp_event out;

	hdr_tee_init(&tee);
	feed("HTTP/1.1 200 OK\r\n");
	feed("content-type: application/json\r\n");
	feed("ANTHROPIC-RATELIMIT-UNIFIED-STATUS: allowed_warning\r\n");
	feed("anthropic-ratelimit-unified-7d-utilization:0.5\r\n");
	feed("anthropic-ratelimit-unified-7d-reset: 1790003600\r\n");
	feed("anthropic-ratelimit-tokens-reset: 2026-11-28T19:00:00Z\r\n");
	feed("Retry-After: 7\r\n");
	feed("request-id: req_tee_1\r\n");
	feed("anthropic-ratelimit-unified-5h-utilization: bogus\r\n");
	feed("set-cookie: secret=1\r\n");
	feed("\r\n");
	ck_assert_uint_eq(tee.ev.unified_status, RTP_US_ALLOWED_WARNING);
	ck_assert_double_eq(tee.ev.d[RTP_D_UTIL_7D], 0.5);
	ck_assert_int_eq(tee.ev.i[RTP_I_RESET_7D], 1790003600);
	ck_assert_int_eq(tee.ev.i[RTP_I_TOK_RESET], 1795892400);
	ck_assert_int_eq(tee.ev.i[RTP_I_RETRY_AFTER], 7);
	ck_assert_str_eq(tee.ev.request_id, "req_tee_1");
	ck_assert_uint_eq(tee.ev.present, RTP_PRESENT_D(RTP_D_UTIL_7D) |
	    RTP_PRESENT_I(RTP_I_RESET_7D) | RTP_PRESENT_I(RTP_I_TOK_RESET) |
	    RTP_PRESENT_I(RTP_I_RETRY_AFTER));

	/* merged into an event, next to its other fields */
	rtp_init(&out);
	out.pid = 1;
	out.http_status = 200;
	rtp_strlcpy(out.model, "claude-x", sizeof(out.model));
	hdr_merge(&out, &tee.ev);
	ck_assert_uint_eq(out.present, tee.ev.present);
	ck_assert_str_eq(out.request_id, "req_tee_1");
	ck_assert_str_eq(out.model, "claude-x");
	ck_assert_uint_eq(out.http_status, 200);
	ck_assert_uint_eq(out.unified_status, RTP_US_ALLOWED_WARNING);
	ck_assert_int_eq(rtp_validate(&out, sizeof(out), NULL), RTP_OK);
}
END_TEST

START_TEST(the_tee_and_the_header_api_read_alike)
{
	static const char *const lines[][2] = {
		{ "anthropic-ratelimit-unified-status", "rejected" },
		{ "anthropic-ratelimit-unified-5h-status", "allowed" },
		{ "anthropic-ratelimit-unified-representative-claim",
		    "seven_day" },
		{ "anthropic-ratelimit-unified-overage-disabled-reason",
		    "org_level_disabled" },
		{ "anthropic-ratelimit-unified-fallback-percentage", "0.5" },
		{ "anthropic-ratelimit-requests-limit", "50" },
		{ "anthropic-ratelimit-requests-remaining", "49" },
		{ "anthropic-ratelimit-input-tokens-reset",
		    "2026-11-28T19:00:00.5+01:00" },
		{ "anthropic-ratelimit-unified-7d_sonnet-utilization", "1.2" },
		{ "anthropic-ratelimit-newer-thing", "3" },
	};
	struct rtp_event api;
	char buf[256];
	size_t k;

	hdr_tee_init(&tee);
	rtp_init(&api);
	feed("HTTP/2 200 \r\n");
	for (k = 0; k < sizeof(lines) / sizeof(lines[0]); k++) {
		snprintf(buf, sizeof(buf), "%s: %s\r\n", lines[k][0],
		    lines[k][1]);
		feed(buf);
		(void)hdr_apply(&api, lines[k][0], lines[k][1]);
	}
	feed("\r\n");
	ck_assert_int_eq(memcmp(&api, &tee.ev, sizeof(api)), 0);
}
END_TEST

START_TEST(only_the_final_response_of_redirects_counts)
{
	hdr_tee_init(&tee);
	feed("HTTP/1.1 301 Moved Permanently\r\n");
	feed("anthropic-ratelimit-unified-5h-utilization: 0.9\r\n");
	feed("anthropic-ratelimit-unified-7d-utilization: 0.8\r\n");
	feed("request-id: req_old\r\n");
	feed("location: /v1/messages\r\n");
	feed("\r\n");
	feed_response("HTTP/1.1 200 OK\r\n", "0.25", "req_new");
	ck_assert_double_eq(tee.ev.d[RTP_D_UTIL_5H], 0.25);
	ck_assert_str_eq(tee.ev.request_id, "req_new");
	/* the 7d value came with the redirect only: gone */
	ck_assert_uint_eq(tee.ev.present, RTP_PRESENT_D(RTP_D_UTIL_5H));
	tee.ev.pid = 1;
	ck_assert_int_eq(rtp_validate(&tee.ev, sizeof(tee.ev), NULL), RTP_OK);
}
END_TEST

START_TEST(a_100_continue_before_the_response_is_left_out)
{
	hdr_tee_init(&tee);
	feed("HTTP/1.1 100 Continue\r\n");
	feed("request-id: req_continue\r\n");
	feed("\r\n");
	feed_response("HTTP/1.1 429 Too Many Requests\r\n", "1.0", "req_429");
	ck_assert_str_eq(tee.ev.request_id, "req_429");
	ck_assert_double_eq(tee.ev.d[RTP_D_UTIL_5H], 1.0);
	/* a proxy's CONNECT answer first is left out the same way */
	hdr_tee_init(&tee);
	feed("HTTP/1.1 200 Connection established\r\n");
	feed("retry-after: 30\r\n");
	feed("\r\n");
	feed_response("HTTP/1.1 200 OK\r\n", "0.5", "req_tls");
	ck_assert_uint_eq(tee.ev.present, RTP_PRESENT_D(RTP_D_UTIL_5H));
	ck_assert_str_eq(tee.ev.request_id, "req_tls");
}
END_TEST

START_TEST(trailers_after_the_blank_line_are_not_headers)
{
	hdr_tee_init(&tee);
	feed_response("HTTP/1.1 200 OK\r\n", "0.5", "req_1");
	feed("request-id: req_trailer\r\n");
	feed("anthropic-ratelimit-unified-7d-utilization: 0.1\r\n");
	ck_assert_str_eq(tee.ev.request_id, "req_1");
	ck_assert_uint_eq(tee.ev.present, RTP_PRESENT_D(RTP_D_UTIL_5H));
}
END_TEST

START_TEST(lines_in_pieces_or_without_a_line_end_are_handled)
{
	hdr_tee_init(&tee);
	feed("HTTP/1.1 200 OK\r\n");
	/* a line in pieces is joined before it is read */
	feed("anthropic-ratelimit-unified-");
	feed("5h-utilization: 0.");
	feed("75\r\n");
	/* a line end of LF alone */
	feed("request-id: req_lf\n");
	ck_assert_double_eq(tee.ev.d[RTP_D_UTIL_5H], 0.75);
	ck_assert_str_eq(tee.ev.request_id, "req_lf");
	/* a piece never completed is never read */
	feed("retry-after: 9");
	ck_assert_uint_eq(tee.ev.present & RTP_PRESENT_I(RTP_I_RETRY_AFTER),
	    0);
}
END_TEST

START_TEST(an_overlong_line_in_pieces_is_skipped_whole)
{
	char big[HDR_PART_MAX + 64];

	hdr_tee_init(&tee);
	feed("HTTP/1.1 200 OK\r\n");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "request-id: ", 12);
	feed(big);			/* no line end: a piece */
	feed(big + 12);			/* too long: skipped */
	feed("tail\r\n");		/* the end of that line */
	ck_assert_str_eq(tee.ev.request_id, "");
	feed("request-id: req_after\r\n");
	ck_assert_str_eq(tee.ev.request_id, "req_after");
	/* an overlong whole line is read as it is (and refused here) */
	feed(big);
	feed("\r\n");
	ck_assert_str_eq(tee.ev.request_id, "req_after");
}
END_TEST

START_TEST(folded_and_nameless_lines_are_ignored)
{
	hdr_tee_init(&tee);
	feed("HTTP/1.1 200 OK\r\n");
	feed("request-id: req_1\r\n");
	feed(" request-id: req_folded\r\n");
	feed("\trequest-id: req_folded\r\n");
	feed("request-id req_nocolon\r\n");
	feed("anthropic-ratelimit-\r\n");
	feed(":\r\n");
	ck_assert_str_eq(tee.ev.request_id, "req_1");
	ck_assert_uint_eq(tee.ev.present, 0);
	tee.ev.pid = 1;
	ck_assert_int_eq(rtp_validate(&tee.ev, sizeof(tee.ev), NULL), RTP_OK);
}
END_TEST

START_TEST(every_window_a_header_names_is_taken)
{
	fresh();
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_fable-utilization",
	    "0.25"), 1);
	ck_assert_int_eq(hdr_apply(&ev, RL "Unified-7D_Fable-Reset",
	    "1800000000"), 1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_fable-status",
	    "allowed_warning"), 1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_sonnet-status",
	    "rejected"), 1);
	/* the fixed fields keep their own slots */
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_sonnet-utilization",
	    "0.5"), 1);
	ck_assert(has_d(RTP_D_UTIL_7D_SONNET));
	ck_assert_uint_eq(ev.nwin, 2);
	ck_assert_str_eq(ev.win[0].name, "7d_fable");
	ck_assert_uint_eq(ev.win[0].present, RTP_W_UTIL | RTP_W_RESET |
	    RTP_W_STATUS);
	ck_assert_double_eq(ev.win[0].util, 0.25);
	ck_assert_int_eq(ev.win[0].reset, 1800000000);
	ck_assert_uint_eq(ev.win[0].status, RTP_US_ALLOWED_WARNING);
	ck_assert_str_eq(ev.win[1].name, "7d_sonnet");
	ck_assert_uint_eq(ev.win[1].present, RTP_W_STATUS);
	ck_assert_uint_eq(ev.win[1].status, RTP_US_REJECTED);
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), NULL), RTP_OK);

	/* known newer names that are no window, and bad values: ignored */
	fresh();
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-overage-in-use", "true"),
	    0);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-upgrade-paths",
	    "max_5x,max_20x"), 0);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d-x-utilization",
	    "0.1"), 0);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified--utilization", "0.1"), 0);
	ck_assert_int_eq(hdr_apply(&ev, RL
	    "unified-a_window_name_far_too_long_x-utilization", "0.1"), 0);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_x-utilization",
	    "lots"), -1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_x-reset", "-5"), -1);
	ck_assert_uint_eq(ev.nwin, 0);
	ck_assert_uint_eq(ev.present, 0);
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), NULL), RTP_OK);

	/* more windows than slots: the first ones named are kept */
	fresh();
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_a-utilization", "0.1"),
	    1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_b-utilization", "0.1"),
	    1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_c-utilization", "0.1"),
	    1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_d-utilization", "0.1"),
	    1);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_e-utilization", "0.1"),
	    0);
	ck_assert_int_eq(hdr_apply(&ev, RL "unified-7d_a-reset", "7"), 1);
	ck_assert_uint_eq(ev.nwin, RTP_WIN_SLOTS);
	ck_assert_int_eq(rtp_validate(&ev, sizeof(ev), NULL), RTP_OK);
}
END_TEST

START_TEST(the_tee_carries_header_named_windows_into_the_event)
{
	static const char lines[] =
	    "HTTP/1.1 200 OK\r\n"
	    "anthropic-ratelimit-unified-7d_fable-utilization: 0.75\r\n"
	    "anthropic-ratelimit-unified-overage-in-use: false\r\n"
	    "anthropic-ratelimit-unified-upgrade-paths: a,b\r\n"
	    "\r\n";
	struct hdr_tee t;
	struct rtp_event out;
	const char *p = lines, *nl;

	hdr_tee_init(&t);
	while ((nl = strchr(p, '\n')) != NULL) {
		hdr_tee_feed(&t, p, (size_t)(nl - p + 1));
		p = nl + 1;
	}
	rtp_init(&out);
	out.pid = 1;
	hdr_merge(&out, &t.ev);
	ck_assert_uint_eq(out.nwin, 1);
	ck_assert_str_eq(out.win[0].name, "7d_fable");
	ck_assert_double_eq(out.win[0].util, 0.75);
	ck_assert_int_eq(rtp_validate(&out, sizeof(out), NULL), RTP_OK);
}
END_TEST

static Suite *
headers_suite(void)
{
	Suite *s = suite_create("headers");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_fraction_header_sets_its_field);
	tcase_add_test(tc, every_integer_header_sets_its_field);
	tcase_add_test(tc, every_rfc3339_reset_header_becomes_unix_seconds);
	tcase_add_test(tc, rfc3339_handles_fractions_offsets_and_leap_days);
	tcase_add_test(tc, statuses_and_claims_become_enums);
	tcase_add_test(tc, strings_are_copied);
	tcase_add_test(tc, names_match_case_insensitively);
	tcase_add_test(tc, lower_copy_lowers_ascii_letters_only);
	tcase_add_test(tc, surrounding_blanks_are_ignored);
	tcase_add_test(tc, other_headers_are_not_ours);
	tcase_add_test(tc, every_window_a_header_names_is_taken);
	tcase_add_test(tc, the_tee_carries_header_named_windows_into_the_event);
	tcase_add_test(tc, malformed_values_leave_the_field_absent);
	tcase_add_test(tc, a_malformed_repeat_keeps_the_good_value);
	tcase_add_test(tc, fractions_parse_exactly_without_the_locale);
	tcase_add_test(tc, read_walks_every_header_once);
	tcase_add_test(tc, read_without_nextheader_flags_headers_unread);
	tcase_add_test(tc, a_shorter_repeat_of_a_string_header_still_validates);
	tcase_add_test(tc, the_table_is_ordered_for_the_search_by_length);
	tcase_add_test(tc, the_tee_reads_header_lines_as_they_arrive);
	tcase_add_test(tc, the_tee_and_the_header_api_read_alike);
	tcase_add_test(tc, only_the_final_response_of_redirects_counts);
	tcase_add_test(tc, a_100_continue_before_the_response_is_left_out);
	tcase_add_test(tc, trailers_after_the_blank_line_are_not_headers);
	tcase_add_test(tc, lines_in_pieces_or_without_a_line_end_are_handled);
	tcase_add_test(tc, an_overlong_line_in_pieces_is_skipped_whole);
	tcase_add_test(tc, folded_and_nameless_lines_are_ignored);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(headers_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
