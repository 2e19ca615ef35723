/*
 * Unit tests of `ratetap status`'s table (cli/status.c), from status JSON
 * fixtures shaped like GET /v1/status.  Includes the module to reach its
 * static helpers (colour decision, time parsing).
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cli/status.c"

const char *cli_progname = "ratetap";

/* 2026-11-28T17:48:00Z, a Saturday */
#define NOW	((time_t)1795888080)

static const char full_json[] =
"{\"windows\":{"
"  \"five_hour\":{\"utilization\":25.0,\"resets_at\":\"2026-11-28T21:00:00Z\","
"    \"rollovers\":1,\"tokens\":{\"input\":1234,\"output\":5678,"
"    \"cache_creation_input\":9,\"cache_read_input\":1234567890123}},"
"  \"seven_day\":{\"utilization\":87.5,\"resets_at\":\"2026-12-01T09:00:00.123+00:00\","
"    \"tokens\":{\"input\":2000,\"output\":3000,\"cache_creation_input\":0,"
"    \"cache_read_input\":0}},"
"  \"seven_day_sonnet\":{\"utilization\":null,\"resets_at\":null,"
"    \"tokens\":{\"input\":0,\"output\":0,\"cache_creation_input\":0,"
"    \"cache_read_input\":0}},"
"  \"seven_day_opus\":{\"utilization\":0.0,\"resets_at\":\"2026-12-30T00:00:00Z\","
"    \"tokens\":{\"input\":0,\"output\":0,\"cache_creation_input\":0,"
"    \"cache_read_input\":0}}},"
" \"extra_usage\":{\"is_enabled\":true,\"monthly_limit\":5000,"
"   \"used_credits\":1234,\"utilization\":24.68},"
" \"requests\":{\"total\":1234567,\"rate_limited\":3,\"overloaded\":1,"
"   \"errors\":2,\"usage_unreadable\":0},"
" \"models\":{\"claude-sonnet-4-5\":{\"requests\":10,\"input\":100,"
"   \"output\":200,\"cache_creation_input\":0,\"cache_read_input\":0},"
"   \"claude-opus-4-1\":{\"requests\":1,\"input\":5000,\"output\":1,"
"   \"cache_creation_input\":0,\"cache_read_input\":0}},"
" \"processes\":{"
"   \"p1\":{\"requests\":1,\"input\":1,\"output\":0},"
"   \"p2\":{\"requests\":2,\"input\":2,\"output\":0},"
"   \"p3\":{\"requests\":3,\"input\":3,\"output\":0},"
"   \"p4\":{\"requests\":4,\"input\":4,\"output\":0},"
"   \"p5\":{\"requests\":5,\"input\":5,\"output\":0},"
"   \"p6\":{\"requests\":6,\"input\":60,\"output\":0},"
"   \"curl\":{\"requests\":7,\"input\":700,\"output\":0,"
"     \"cache_creation_input\":0,\"cache_read_input\":10000}},"
" \"api_limits\":{\"requests\":{\"limit\":50,\"remaining\":49,"
"   \"resets_at\":\"2026-11-28T17:49:00Z\"},\"tokens\":null,"
"   \"input_tokens\":null,\"output_tokens\":null},"
" \"unified\":{\"status\":\"allowed_warning\",\"representative_claim\":\"seven_day\"},"
" \"retry_after\":{\"seconds\":7,\"at\":\"2026-11-28T17:47:00Z\"},"
" \"poll\":{\"last_ok\":\"2026-11-28T17:46:00Z\",\"last_error\":null,"
"   \"last_attempt\":\"2026-11-28T17:46:00Z\",\"enabled\":true,"
"   \"next_at\":\"2026-11-28T17:51:00Z\"},"
" \"daemon\":{\"version\":\"0.1.0\",\"pid\":4242,\"started_at\":\"2026-11-28T17:00:00Z\"}}";

/* Everything unknown: what a fresh daemon without a token serves. */
static const char empty_json[] =
"{\"windows\":{"
"  \"five_hour\":{\"utilization\":null,\"resets_at\":null,"
"    \"tokens\":{\"input\":0,\"output\":0,\"cache_creation_input\":0,"
"    \"cache_read_input\":0}}},"
" \"extra_usage\":{\"is_enabled\":null,\"monthly_limit\":null,"
"   \"used_credits\":null,\"utilization\":null},"
" \"requests\":{\"total\":0,\"rate_limited\":0},"
" \"models\":{},\"processes\":{},"
" \"api_limits\":{\"requests\":null,\"tokens\":null,\"input_tokens\":null,"
"   \"output_tokens\":null},"
" \"poll\":{\"last_ok\":null,\"last_error\":null,\"enabled\":false}}";

static char *
render(const char *json, int colour)
{
	struct cli_render_opts o = { colour, NOW };
	cJSON *st = cJSON_Parse(json);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_ptr_nonnull(st);
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(cli_status_render(f, st, &o), 0);
	ck_assert_int_eq(fclose(f), 0);
	cJSON_Delete(st);
	return buf;
}

/* The line of out starting with prefix (a static copy), or fail. */
static const char *
line_of(const char *out, const char *prefix)
{
	static char line[1024];
	const char *p = out;
	size_t n;

	while (p != NULL && *p) {
		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			n = strcspn(p, "\n");
			ck_assert_uint_lt(n, sizeof(line));
			memcpy(line, p, n);
			line[n] = '\0';
			return line;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	ck_abort_msg("no line starting with '%s' in:\n%s", prefix, out);
	return NULL;
}

#define ASSERT_HAS(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)) != NULL, \
	    "'%s' not found in:\n%s", (needle), (hay))
#define ASSERT_HASNT(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)) == NULL, \
	    "'%s' unexpectedly found in:\n%s", (needle), (hay))

START_TEST(status_shows_each_window_with_percent_bar_and_reset)
{
	char *out = render(full_json, 0);
	const char *l;

	l = line_of(out, "5-hour ");
	ASSERT_HAS(l, "25.0%");
	ASSERT_HAS(l, "[#####...............]");
	ASSERT_HAS(l, "in 3h 12m (Sat 21:00)");
	l = line_of(out, "7-day  ");
	ASSERT_HAS(l, "87.5%");
	ASSERT_HAS(l, "[##################..]");
	ASSERT_HAS(l, "in 2d 15h (Tue 09:00)");
	/* far away: the date instead of the weekday */
	l = line_of(out, "7-day Opus");
	ASSERT_HAS(l, "0.0%");
	ASSERT_HAS(l, "(2026-12-30 00:00)");
	free(out);
}
END_TEST

START_TEST(status_shows_unknown_utilization_as_dash_never_zero)
{
	char *out = render(full_json, 0);
	const char *l = line_of(out, "7-day Sonnet");

	ASSERT_HAS(l, DASH);
	ASSERT_HAS(l, "unknown");
	ASSERT_HASNT(l, "%");
	ASSERT_HASNT(l, "#");
	free(out);
}
END_TEST

START_TEST(status_shows_windows_missing_from_the_json_as_unknown)
{
	char *out = render(empty_json, 0);
	const char *l;

	l = line_of(out, "7-day Opus");	/* absent from the fixture */
	ASSERT_HAS(l, DASH);
	ASSERT_HAS(l, "unknown");
	ASSERT_HASNT(l, "%");
	l = line_of(out, "5-hour ");	/* present, all null */
	ASSERT_HAS(l, "unknown");
	ASSERT_HASNT(l, "%");
	ASSERT_HASNT(out, "0.0%");
	ASSERT_HAS(line_of(out, "Extra usage:"), "unknown");
	ASSERT_HAS(out, "(none yet)");
	ASSERT_HASNT(out, "API-key limits");
	ASSERT_HAS(line_of(out, "Usage poll:"), "no OAuth token");
	free(out);
}
END_TEST

START_TEST(status_prints_big_token_counts_with_separators)
{
	char *out = render(full_json, 0);
	const char *l;

	/* the tokens table, not the window table: columns of counts */
	l = strstr(out, "\nTokens");
	ck_assert_ptr_nonnull(l);
	l = line_of(l + 1 + strcspn(l + 1, "\n") + 1, "5-hour");
	ASSERT_HAS(l, "1,234");
	ASSERT_HAS(l, "5,678");
	ASSERT_HAS(l, "1,234,567,890,123");
	ASSERT_HAS(line_of(out, "Requests:"), "1,234,567 total, 3 rate-limited");
	free(out);
}
END_TEST

START_TEST(status_lists_the_top_five_programs_by_tokens)
{
	char *out = render(full_json, 0);
	const char *top = strstr(out, "Top programs");
	const char *curl, *p6, *p3, *models;

	ck_assert_ptr_nonnull(top);
	models = strstr(top, "Top models");
	ck_assert_ptr_nonnull(models);
	curl = strstr(top, "  curl ");
	p6 = strstr(top, "  p6 ");
	p3 = strstr(top, "  p3 ");
	ck_assert_ptr_nonnull(curl);
	ck_assert_ptr_nonnull(p6);
	ck_assert(curl < p6);	/* 10,700 tokens before 60 */
	ck_assert(p3 != NULL && p3 < models);
	/* sixth and seventh */
	ck_assert_ptr_null(strstr(top, "  p2 "));
	ck_assert_ptr_null(strstr(top, "  p1 "));
	ASSERT_HAS(top, "(2 more)");
	ASSERT_HAS(line_of(strstr(top, "  curl"), "  curl"), "10,700");
	free(out);
}
END_TEST

START_TEST(status_shows_models_extra_usage_api_limits_and_poll)
{
	char *out = render(full_json, 0);
	const char *l;

	l = line_of(strstr(out, "Top models"), "  claude-opus-4-1");
	ASSERT_HAS(l, "5,001");
	/* the API's credits are cents: hundredths, currency unknown */
	ASSERT_HAS(line_of(out, "Extra usage:"),
	    "on, 12.34 of 50.00 used (24.7%); currency not reported");
	ASSERT_HASNT(out, "credits");
	l = line_of(out, "  requests ");
	ASSERT_HAS(l, "49 of 50 left, resets in 1m (Sat 17:49)");
	ASSERT_HASNT(out, "  tokens ");	/* null: not shown */
	ASSERT_HAS(line_of(out, "Limit status:"),
	    "allowed_warning (binding limit: 7-day)");
	ASSERT_HAS(line_of(out, "Retry-after:"), "7s, seen 1m ago");
	l = line_of(out, "Usage poll:");
	ASSERT_HAS(l, "ok 2m ago (Sat 17:46)");
	ASSERT_HAS(l, "next in 3m");
	ASSERT_HAS(line_of(out, "ratetap status"), "ratetapd 0.1.0, pid 4242");
	free(out);
}
END_TEST

START_TEST(status_shows_the_poll_error_and_the_last_success)
{
	const char *json =
	    "{\"windows\":{},\"poll\":{\"last_ok\":\"2026-11-28T16:48:00Z\","
	    "\"last_error\":\"HTTP 401: OAuth token rejected\","
	    "\"last_attempt\":\"2026-11-28T17:47:30Z\",\"enabled\":true}}";
	char *out = render(json, 0);
	const char *l = line_of(out, "Usage poll:");

	ASSERT_HAS(l, "failed 30s ago");
	ASSERT_HAS(l, "HTTP 401: OAuth token rejected");
	ASSERT_HAS(l, "last ok 1h ago");
	free(out);
}
END_TEST

START_TEST(status_uses_colour_only_when_asked)
{
	char *plain = render(full_json, 0);
	char *ansi = render(full_json, 1);

	ASSERT_HASNT(plain, "\033");
	ASSERT_HAS(ansi, "\033[31m");	/* 87.5 % is red */
	ASSERT_HAS(ansi, "\033[32m");	/* 25 % is green */
	free(plain);
	free(ansi);
}
END_TEST

START_TEST(status_colour_is_off_when_stdout_is_not_a_tty_or_no_color_is_set)
{
	int saved = dup(STDOUT_FILENO), fd, pty;

	ck_assert_int_ge(saved, 0);
	unsetenv("NO_COLOR");
	setenv("TERM", "xterm", 1);

	/* a file */
	fd = open("/dev/null", O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);
	ck_assert_int_eq(use_colour(), 0);
	close(fd);

	/* a terminal: colour, unless NO_COLOR */
	pty = posix_openpt(O_RDWR | O_NOCTTY);
	if (pty >= 0 && grantpt(pty) == 0 && unlockpt(pty) == 0 &&
	    (fd = open(ptsname(pty), O_RDWR | O_NOCTTY)) >= 0) {
		ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);
		ck_assert_int_eq(use_colour(), 1);
		setenv("NO_COLOR", "1", 1);
		ck_assert_int_eq(use_colour(), 0);
		unsetenv("NO_COLOR");
		setenv("TERM", "dumb", 1);
		ck_assert_int_eq(use_colour(), 0);
		close(fd);
	}
	if (pty >= 0)
		close(pty);
	ck_assert_int_ge(dup2(saved, STDOUT_FILENO), 0);
	close(saved);
}
END_TEST

START_TEST(relative_times_read_naturally)
{
	static const struct {
		long long secs;
		const char *want;
	} cases[] = {
		{ 0, "now" }, { 1, "in 1s" }, { 59, "in 59s" },
		{ 60, "in 1m" }, { 125, "in 2m 5s" }, { 3600, "in 1h" },
		{ 11520, "in 3h 12m" }, { 86399, "in 23h 59m" },
		{ 86400, "in 1d" }, { 2 * 86400 + 4 * 3600 + 59, "in 2d 4h" },
		{ -42, "42s ago" }, { -3 * 3600 - 60, "3h 1m ago" },
		{ 400LL * 86400, "in 400d" },
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cli_fmt_relative(cases[i].secs, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].want);
	}
}
END_TEST

START_TEST(counts_get_thousands_separators)
{
	char buf[64];

	cli_fmt_count(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0");
	cli_fmt_count(999, buf, sizeof(buf));
	ck_assert_str_eq(buf, "999");
	cli_fmt_count(1000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1,000");
	cli_fmt_count(-1234567, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-1,234,567");
	cli_fmt_count(INT64_MAX, buf, sizeof(buf));
	ck_assert_str_eq(buf, "9,223,372,036,854,775,807");
}
END_TEST

START_TEST(rfc3339_times_parse_with_fractions_and_offsets)
{
	time_t t;

	ck_assert_int_eq(rt_time_parse("2026-11-28T17:48:00Z", &t), 0);
	ck_assert_int_eq((long long)t, (long long)NOW);
	ck_assert_int_eq(rt_time_parse("2026-11-28T17:48:00.999Z", &t), 0);
	ck_assert_int_eq((long long)t, (long long)NOW);
	ck_assert_int_eq(rt_time_parse("2026-11-28T19:48:00+02:00", &t), 0);
	ck_assert_int_eq((long long)t, (long long)NOW);
	ck_assert_int_eq(rt_time_parse("2026-11-28T12:18:00-05:30", &t), 0);
	ck_assert_int_eq((long long)t, (long long)NOW);
	ck_assert_int_eq(rt_time_parse("2026-11-28T17:48:00", &t), -1);
	ck_assert_int_eq(rt_time_parse("2026-13-28T17:48:00Z", &t), -1);
	ck_assert_int_eq(rt_time_parse("garbage", &t), -1);
	ck_assert_int_eq(rt_time_parse("", &t), -1);
	ck_assert_int_eq(rt_time_parse("2026-11-28T17:48:00Zjunk", &t), -1);
}
END_TEST

START_TEST(status_survives_wrong_types_everywhere)
{
	const char *json =
	    "{\"windows\":{\"five_hour\":\"x\",\"seven_day\":{\"utilization\":"
	    "\"50\",\"resets_at\":12,\"tokens\":[1,2]}},\"extra_usage\":[],"
	    "\"requests\":null,\"models\":{\"m\":5},\"processes\":[1],"
	    "\"api_limits\":{\"requests\":{\"limit\":\"x\"}},\"poll\":7,"
	    "\"unified\":{\"status\":3},\"retry_after\":{\"seconds\":\"7\"},"
	    "\"ingest\":{\"rejected\":{\"size\":\"3\"}},\"state\":[]}";
	char *out = render(json, 0);

	ASSERT_HAS(line_of(out, "5-hour "), "unknown");
	ASSERT_HAS(line_of(out, "7-day  "), "unknown");
	ASSERT_HASNT(line_of(out, "7-day  "), "%");
	free(out);
}
END_TEST

START_TEST(status_refuses_json_that_is_not_an_object)
{
	struct cli_render_opts o = { 0, NOW };
	cJSON *st = cJSON_Parse("[1,2,3]");
	FILE *f = fopen("/dev/null", "w");

	ck_assert_ptr_nonnull(st);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(cli_status_render(f, st, &o), -1);
	ck_assert_int_eq(cli_status_render(f, NULL, &o), -1);
	fclose(f);
	cJSON_Delete(st);
}
END_TEST

START_TEST(status_warns_about_a_recovered_state_and_lost_datagrams)
{
	const char *json =
	    "{\"windows\":{},\"ingest\":{\"accepted\":5,\"rejected\":{"
	    "\"size\":2,\"magic\":1},\"foreign_uid\":0,\"client_drops\":4},"
	    "\"state\":{\"recovered_from\":\"state.json.corrupt-1795888000\"}}";
	char *out = render(json, 0);

	ASSERT_HAS(out, "3 malformed datagrams, 0 from other users, 4 lost");
	ASSERT_HAS(out, "state.json.corrupt-1795888000");
	free(out);
}
END_TEST


/* Column of the first occurrence of needle in line (bytes before it that
 * start a character). */
static size_t
col_of(const char *line, const char *needle)
{
	const char *p = strstr(line, needle);
	size_t c = 0;

	ck_assert_msg(p != NULL, "'%s' not in '%s'", needle, line);
	for (; line < p; line++)
		if (((unsigned char)*line & 0xc0) != 0x80)
			c++;
	return c;
}

static const char dynamic_json[] =
"{\"windows\":{"
"  \"five_hour\":{\"utilization\":25.0,\"resets_at\":\"2026-11-28T21:00:00Z\","
"    \"source\":\"header\",\"age_seconds\":5,"
"    \"tokens\":{\"input\":1000000000000,\"output\":1,"
"    \"cache_creation_input\":999999999999999,\"cache_read_input\":2}},"
"  \"seven_day\":{\"utilization\":40.0,\"resets_at\":null,"
"    \"source\":\"poll\",\"age_seconds\":125,"
"    \"tokens\":{\"input\":5,\"output\":6,\"cache_creation_input\":7,"
"    \"cache_read_input\":8}},"
"  \"seven_day_fable\":{\"utilization\":7.0,\"resets_at\":null,"
"    \"label\":\"Fable\",\"counts_tokens\":true,"
"    \"tokens\":{\"input\":3,\"output\":0,\"cache_creation_input\":0,"
"    \"cache_read_input\":0}},"
"  \"seven_day_claude_code\":{\"utilization\":3.0,\"resets_at\":null,"
"    \"label\":\"Claude Code\",\"counts_tokens\":false,"
"    \"tokens\":{\"input\":0,\"output\":0,\"cache_creation_input\":0,"
"    \"cache_read_input\":0}},"
"  \"monthly_wombat\":{\"utilization\":1.0,\"resets_at\":null,"
"    \"counts_tokens\":false,\"tokens\":{}}},"
" \"extra_usage\":{\"is_enabled\":true,\"monthly_limit\":5000,"
"   \"used_credits\":1234,\"utilization\":24.68,\"currency\":\"USD\"},"
" \"spend\":{\"used\":{\"amount\":12.34,\"amount_minor\":1234,"
"   \"currency\":\"USD\",\"exponent\":2},\"limit\":{\"amount\":50,"
"   \"amount_minor\":5000,\"currency\":\"USD\",\"exponent\":2},"
"   \"percent\":24.68,\"enabled\":true,\"disabled_reason\":null},"
" \"models\":{"
"   \"claude-a-model-with-a-very-long-name-indeed-sixty-characters-x\":"
"   {\"requests\":1000000000000,\"input\":999999999999999,\"output\":0,"
"   \"cache_creation_input\":0,\"cache_read_input\":0},"
"   \"short\":{\"requests\":1,\"input\":1,\"output\":0}},"
" \"processes\":{},"
" \"api_limits\":{\"requests\":{\"limit\":50,\"remaining\":3,"
"   \"resets_at\":\"2026-11-28T17:40:00Z\",\"stale\":true},"
"   \"tokens\":{\"limit\":9000,\"remaining\":8000,"
"   \"resets_at\":\"2026-11-28T17:50:00Z\",\"stale\":false}},"
" \"poll\":{\"enabled\":true}}";

START_TEST(status_says_as_of_with_the_date_and_time_zone)
{
	char *out = render(full_json, 0);

	ASSERT_HAS(line_of(out, "ratetap status"),
	    "as of Sat 2026-11-28 17:48:00 UTC");
	free(out);
}
END_TEST

START_TEST(status_prints_a_forecast_line_only_when_there_is_one)
{
	/* five_hour: a pace; seven_day: a forecast that knows nothing yet */
	static const char json[] = "{\"windows\": {"
	    "\"five_hour\": {\"utilization\": 25.0, \"resets_at\": null,"
	    " \"forecast\": {\"exhausted_at\": null, \"rate_per_hour\": 1.0,"
	    " \"pace\": 0.3}},"
	    "\"seven_day\": {\"utilization\": null, \"resets_at\": null,"
	    " \"forecast\": {\"exhausted_at\": null, \"rate_per_hour\": null,"
	    " \"pace\": null}}}}";
	char *out = render(json, 0);
	const char *p;

	ASSERT_HAS(out, "well within (pace 0.30)");
	/* no line of blanks alone, where a forecast would have been */
	for (p = out; *p != '\0'; p += strcspn(p, "\n") + (p[strcspn(p,
	    "\n")] != '\0')) {
		size_t n = strcspn(p, "\n"), k;

		for (k = 0; k < n && p[k] == ' '; k++)
			;
		ck_assert_msg(n == 0 || k < n, "a line of blanks in:\n%s",
		    out);
	}
	free(out);
}
END_TEST

START_TEST(status_shows_every_window_the_daemon_names)
{
	char *out = render(dynamic_json, 0);
	const char *tok = strstr(out, "\nTokens");

	ASSERT_HAS(line_of(out, "7-day Fable "), "7.0%");
	ASSERT_HAS(line_of(out, "7-day Claude Code "), "3.0%");
	ASSERT_HAS(line_of(out, "monthly_wombat "), "1.0%");
	/* the named four are always there */
	ASSERT_HAS(line_of(out, "7-day Opus"), "unknown");
	/* the figure's source and age */
	ASSERT_HAS(line_of(out, "5-hour "), "(header, 5s ago)");
	ASSERT_HAS(line_of(out, "7-day  "), "(poll, 2m 5s ago)");
	/* windows that count no tokens are left out of the tokens table */
	ck_assert_ptr_nonnull(tok);
	ASSERT_HAS(tok, "7-day Fable");
	ASSERT_HASNT(tok, "Claude Code");
	ASSERT_HASNT(tok, "wombat");
	free(out);
}
END_TEST

START_TEST(token_columns_stay_aligned_at_ten_to_the_fifteen)
{
	char *out = render(dynamic_json, 0);
	const char *tok = strstr(out, "\nTokens") + 1, *top;
	char head[1024], row[1024], row2[1024];

	snprintf(head, sizeof(head), "%s", line_of(tok, "Tokens"));
	snprintf(row, sizeof(row), "%s", line_of(tok, "5-hour"));
	snprintf(row2, sizeof(row2), "%s", line_of(tok, "7-day Fable"));
	/* each column ends where its heading ends */
	ck_assert_uint_eq(col_of(row, "1,000,000,000,000") + 17,
	    col_of(head, "input") + 5);
	ck_assert_uint_eq(col_of(row, "999,999,999,999,999") + 19,
	    col_of(head, "cache write") + 11);
	ck_assert_uint_eq(col_of(row2, " 3 ") + 2, col_of(head, "input") + 5);
	ck_assert_uint_eq(columns(row), columns(row2));
	/* a 60-character model name is cut with an ellipsis, and the
	   counts still line up */
	top = strstr(out, "Top models");
	ck_assert_ptr_nonnull(top);
	snprintf(head, sizeof(head), "%s", line_of(top, "Top models"));
	snprintf(row, sizeof(row), "%s", line_of(top, "  claude-a-model"));
	snprintf(row2, sizeof(row2), "%s", line_of(top, "  short"));
	ASSERT_HAS(row, "claude-a-model-with-a-very-\xe2\x80\xa6 ");
	ASSERT_HASNT(row, "sixty");
	ck_assert_uint_eq(col_of(row, "999,999,999,999,999") + 19,
	    col_of(head, "tokens") + 6);
	ck_assert_uint_eq(col_of(row, "1,000,000,000,000") + 17,
	    col_of(head, "requests") + 8);
	ck_assert_uint_eq(columns(row), columns(row2));
	free(out);
}
END_TEST

START_TEST(status_shows_extra_usage_money_with_its_currency)
{
	char *out = render(dynamic_json, 0);

	ASSERT_HAS(line_of(out, "Extra usage:"),
	    "on, $12.34 of $50.00 used (24.7%)");
	ASSERT_HASNT(line_of(out, "Extra usage:"), "not reported");
	free(out);
	out = render("{\"extra_usage\":{\"is_enabled\":false},\"spend\":{"
	    "\"enabled\":false,\"disabled_reason\":\"out_of_credits\"}}", 0);
	ASSERT_HAS(line_of(out, "Extra usage:"), "off (out_of_credits)");
	free(out);
	out = render("{\"extra_usage\":{\"is_enabled\":true,\"used_credits\":"
	    "250,\"monthly_limit\":null},\"spend\":{\"used\":{\"amount\":2.5,"
	    "\"currency\":\"EUR\",\"exponent\":2},\"limit\":null}}", 0);
	ASSERT_HAS(line_of(out, "Extra usage:"),
	    "on, \xe2\x82\xac" "2.50 used (no monthly limit)");
	free(out);
}
END_TEST

START_TEST(an_api_key_allowance_past_its_reset_is_shown_stale)
{
	char *out = render(dynamic_json, 0);

	ASSERT_HAS(line_of(out, "  requests "),
	    "stale: 3 of 50 left when last seen; it reset 8m ago");
	ASSERT_HAS(line_of(out, "  tokens "), "8,000 of 9,000 left, resets in");
	free(out);
}
END_TEST

static Suite *
status_render_suite(void)
{
	Suite *s = suite_create("status_render");
	TCase *tc = tcase_create("render");

	tcase_add_test(tc, status_shows_each_window_with_percent_bar_and_reset);
	tcase_add_test(tc, status_shows_unknown_utilization_as_dash_never_zero);
	tcase_add_test(tc, status_shows_windows_missing_from_the_json_as_unknown);
	tcase_add_test(tc, status_prints_big_token_counts_with_separators);
	tcase_add_test(tc, status_lists_the_top_five_programs_by_tokens);
	tcase_add_test(tc, status_shows_models_extra_usage_api_limits_and_poll);
	tcase_add_test(tc, status_shows_the_poll_error_and_the_last_success);
	tcase_add_test(tc, status_uses_colour_only_when_asked);
	tcase_add_test(tc, status_says_as_of_with_the_date_and_time_zone);
	tcase_add_test(tc, status_shows_every_window_the_daemon_names);
	tcase_add_test(tc, status_prints_a_forecast_line_only_when_there_is_one);
	tcase_add_test(tc, token_columns_stay_aligned_at_ten_to_the_fifteen);
	tcase_add_test(tc, status_shows_extra_usage_money_with_its_currency);
	tcase_add_test(tc, an_api_key_allowance_past_its_reset_is_shown_stale);
	tcase_add_test(tc,
	    status_colour_is_off_when_stdout_is_not_a_tty_or_no_color_is_set);
	tcase_add_test(tc, relative_times_read_naturally);
	tcase_add_test(tc, counts_get_thousands_separators);
	tcase_add_test(tc, rfc3339_times_parse_with_fractions_and_offsets);
	tcase_add_test(tc, status_survives_wrong_types_everywhere);
	tcase_add_test(tc, status_refuses_json_that_is_not_an_object);
	tcase_add_test(tc, status_warns_about_a_recovered_state_and_lost_datagrams);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(status_render_suite());
	int failed;

	/* absolute times in the table are local: pin the zone */
	setenv("TZ", "UTC", 1);
	tzset();
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
