/*
 * Unit tests of the Prometheus exposition (daemon/metrics.c) over a tracker
 * fed through its public functions.  Includes metrics.c to reach the label
 * escaping and number formatting directly.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../daemon/metrics.c"
#include "../daemon/log.h"
#include "daemontest.h"

#define NOW	((time_t)1795000000)	/* 2026-11-18T... UTC */

static char *
render(const struct trk *t, time_t now)
{
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(metrics_render(t, now, &out, &len), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(strlen(out), len);
	return out;
}

/* 1 when text has exactly this line. */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p++;
	}
	return 0;
}

/* Number of sample lines (not comments) starting with prefix. */
static int
count_prefix(const char *text, const char *prefix)
{
	const char *p = text;
	int n = 0;

	while (*p != '\0') {
		const char *e = strchr(p, '\n');

		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return n;
}

#define ASSERT_LINE(text, ...) do {					\
	char line_[512];						\
	snprintf(line_, sizeof(line_), __VA_ARGS__);			\
	ck_assert_msg(has_line((text), line_), "missing line: %s", line_); \
} while (0)

#define ASSERT_NO_LINE(text, ...) do {					\
	char line_[512];						\
	snprintf(line_, sizeof(line_), __VA_ARGS__);			\
	ck_assert_msg(!has_line((text), line_), "unexpected line: %s", line_); \
} while (0)

/* A tracker with one sonnet request from curl, one opus request from
 * python3, one rate-limited request, one poll and one bad datagram. */
static struct trk *
populated(void)
{
	struct trk *t = trk_new(NULL);
	struct rtp_event ev;
	struct trk_poll p;

	ck_assert_ptr_nonnull(t);
	ev = msg_event("claude-sonnet-4-5", "curl", 11, 22, 3, 5);
	ev.present = RTP_PRESENT_D(RTP_D_UTIL_5H) | RTP_PRESENT_D(RTP_D_UTIL_7D) |
	    RTP_PRESENT_I(RTP_I_RESET_5H) | RTP_PRESENT_I(RTP_I_RESET_7D) |
	    RTP_PRESENT_I(RTP_I_REQ_LIMIT) | RTP_PRESENT_I(RTP_I_REQ_REMAINING) |
	    RTP_PRESENT_I(RTP_I_REQ_RESET);
	ev.d[RTP_D_UTIL_5H] = 0.25;
	ev.d[RTP_D_UTIL_7D] = 0.5;
	ev.i[RTP_I_RESET_5H] = NOW + 3600;
	ev.i[RTP_I_RESET_7D] = NOW + 3 * 86400;
	ev.i[RTP_I_REQ_LIMIT] = 50;
	ev.i[RTP_I_REQ_REMAINING] = 49;
	ev.i[RTP_I_REQ_RESET] = NOW + 60;
	ev.unified_status = RTP_US_ALLOWED;
	ev.claim = RTP_CLAIM_FIVE_HOUR;
	trk_event(t, &ev, NOW);

	ev = msg_event("claude-opus-4-1", "python3", 100, 200, 0, 1000);
	trk_event(t, &ev, NOW + 1);

	ev = msg_event("", "curl", 0, 0, 0, 0);
	ev.http_status = 429;
	ev.usage_state = RTP_USAGE_NONE;
	ev.flags = RTP_F_ERROR_BODY;
	ev.present = RTP_PRESENT_I(RTP_I_RETRY_AFTER);
	ev.i[RTP_I_RETRY_AFTER] = 7;
	ev.unified_status = RTP_US_REJECTED;
	trk_event(t, &ev, NOW + 2);

	memset(&p, 0, sizeof(p));
	p.win[TRK_SEVEN_DAY_SONNET].present = 1;
	p.win[TRK_SEVEN_DAY_SONNET].has_util = 1;
	p.win[TRK_SEVEN_DAY_SONNET].utilization = 12.5;
	p.win[TRK_SEVEN_DAY_SONNET].resets_at = NOW + 2 * 86400;
	p.extra.known = 1;
	p.extra.is_enabled = 1;
	p.extra.has_monthly_limit = 1;
	p.extra.monthly_limit = 5000;
	p.extra.has_used_credits = 1;
	p.extra.used_credits = 1234.5;
	trk_poll_ok(t, &p, NOW + 3);
	trk_poll_failed(t, "HTTP 500", NOW + 4);

	trk_rejected(t, RTP_E_MAGIC);
	trk_foreign(t);
	return t;
}

START_TEST(metrics_render_exports_the_populated_tracker_exactly)
{
	struct trk *t = populated();
	char *out = render(t, NOW + 10);

	ASSERT_LINE(out, "ratetap_build_info{version=\"%s\"} 1", RATETAP_VERSION);
	ASSERT_LINE(out, "ratetap_window_utilization_percent{window=\"five_hour\"} 25");
	ASSERT_LINE(out, "ratetap_window_utilization_percent{window=\"seven_day\"} 50");
	ASSERT_LINE(out, "ratetap_window_utilization_percent{window=\"seven_day_sonnet\"} 12.5");
	ASSERT_LINE(out, "ratetap_window_reset_timestamp_seconds{window=\"five_hour\"} %lld",
	    (long long)NOW + 3600);
	ASSERT_LINE(out, "ratetap_window_time_until_reset_seconds{window=\"five_hour\"} 3590");
	ASSERT_LINE(out, "ratetap_window_time_until_reset_seconds{window=\"seven_day\"} %d",
	    3 * 86400 - 10);
	ASSERT_LINE(out, "ratetap_window_tokens{window=\"five_hour\",type=\"input\"} 111");
	ASSERT_LINE(out, "ratetap_window_tokens{window=\"five_hour\",type=\"output\"} 222");
	ASSERT_LINE(out, "ratetap_window_tokens{window=\"seven_day\",type=\"cache_read_input\"} 1005");
	ASSERT_LINE(out, "ratetap_window_tokens{window=\"seven_day_sonnet\",type=\"cache_creation_input\"} 3");
	ASSERT_LINE(out, "ratetap_window_tokens{window=\"seven_day_opus\",type=\"output\"} 200");
	ASSERT_LINE(out, "ratetap_window_rollovers_total{window=\"five_hour\"} 0");
	ASSERT_LINE(out, "ratetap_warning_threshold_percent 80");
	ASSERT_LINE(out, "ratetap_unified_status{status=\"rejected\"} 1");
	ASSERT_LINE(out, "ratetap_unified_status{status=\"allowed\"} 0");
	ASSERT_LINE(out, "ratetap_representative_claim{claim=\"five_hour\"} 1");
	ASSERT_LINE(out, "ratetap_representative_claim{claim=\"overage\"} 0");

	ASSERT_LINE(out, "ratetap_extra_usage_enabled 1");
	ASSERT_LINE(out, "ratetap_extra_usage_monthly_limit_credits 5000");
	ASSERT_LINE(out, "ratetap_extra_usage_used_credits 1234.5");
	ck_assert_int_eq(count_prefix(out, "ratetap_extra_usage_utilization_percent "), 0);

	ASSERT_LINE(out, "ratetap_api_key_limit{kind=\"requests\"} 50");
	ASSERT_LINE(out, "ratetap_api_key_remaining{kind=\"requests\"} 49");
	ASSERT_LINE(out, "ratetap_api_key_reset_timestamp_seconds{kind=\"requests\"} %lld",
	    (long long)NOW + 60);
	ck_assert_int_eq(count_prefix(out, "ratetap_api_key_limit{kind=\"tokens\"}"), 0);
	ASSERT_LINE(out, "ratetap_retry_after_seconds 7");
	ASSERT_LINE(out, "ratetap_retry_after_timestamp_seconds %lld", (long long)NOW + 2);

	ASSERT_LINE(out, "ratetap_requests_total 3");
	ASSERT_LINE(out, "ratetap_requests_rate_limited_total 1");
	ASSERT_LINE(out, "ratetap_requests_overloaded_total 0");
	ASSERT_LINE(out, "ratetap_requests_errors_total 0");
	ASSERT_LINE(out, "ratetap_usage_unreadable_total 0");
	ASSERT_LINE(out, "ratetap_tokens_total{type=\"input\"} 111");
	ASSERT_LINE(out, "ratetap_tokens_total{type=\"cache_read_input\"} 1005");

	ASSERT_LINE(out, "ratetap_model_requests_total{model=\"claude-sonnet-4-5\"} 1");
	ASSERT_LINE(out, "ratetap_model_requests_total{model=\"claude-opus-4-1\"} 1");
	ASSERT_LINE(out, "ratetap_model_tokens_total{model=\"claude-sonnet-4-5\",type=\"input\"} 11");
	ASSERT_LINE(out, "ratetap_model_tokens_total{model=\"claude-opus-4-1\",type=\"cache_read_input\"} 1000");
	ASSERT_LINE(out, "ratetap_program_requests_total{program=\"curl\"} 2");
	ASSERT_LINE(out, "ratetap_program_requests_total{program=\"python3\"} 1");
	ASSERT_LINE(out, "ratetap_program_tokens_total{program=\"python3\",type=\"output\"} 200");
	/* nothing folded: no "other" series */
	ck_assert_ptr_null(strstr(out, "model=\"other\""));
	ck_assert_ptr_null(strstr(out, "program=\"other\""));

	ASSERT_LINE(out, "ratetap_datagrams_accepted_total 3");
	ASSERT_LINE(out, "ratetap_datagrams_rejected_total{reason=\"%s\"} 1",
	    rtp_strerror(RTP_E_MAGIC));
	ASSERT_LINE(out, "ratetap_datagrams_rejected_total{reason=\"%s\"} 0",
	    rtp_strerror(RTP_E_SIZE));
	ASSERT_LINE(out, "ratetap_datagrams_foreign_total 1");
	ASSERT_LINE(out, "ratetap_client_drops_total 0");

	ASSERT_LINE(out, "ratetap_poll_success_total 1");
	ASSERT_LINE(out, "ratetap_poll_failures_total 1");
	ASSERT_LINE(out, "ratetap_poll_last_success_timestamp_seconds %lld",
	    (long long)NOW + 3);
	ASSERT_LINE(out, "ratetap_poll_last_attempt_timestamp_seconds %lld",
	    (long long)NOW + 4);
	ASSERT_LINE(out, "ratetap_poll_last_ok 0");
	ASSERT_LINE(out, "ratetap_last_event_timestamp_seconds %lld",
	    (long long)NOW + 2);
	free(out);
	trk_free(t);
}
END_TEST

START_TEST(metrics_unknown_values_are_absent_not_zero)
{
	struct trk *t = trk_new(NULL);
	char *out;

	ck_assert_ptr_nonnull(t);
	out = render(t, NOW);
	ck_assert_int_eq(count_prefix(out, "ratetap_window_utilization_percent"), 0);
	ck_assert_int_eq(count_prefix(out, "ratetap_window_reset_timestamp_seconds"), 0);
	ck_assert_int_eq(count_prefix(out, "ratetap_window_time_until_reset_seconds"), 0);
	ck_assert_int_eq(count_prefix(out, "ratetap_extra_usage_"), 0);
	ck_assert_int_eq(count_prefix(out, "ratetap_api_key_"), 0);
	ck_assert_int_eq(count_prefix(out, "ratetap_retry_after_"), 0);
	ck_assert_int_eq(count_prefix(out, "ratetap_unified_status"), 0);
	ck_assert_int_eq(count_prefix(out, "ratetap_poll_last_"), 0);
	ck_assert_int_eq(count_prefix(out, "ratetap_model_"), 0);
	ck_assert_int_eq(count_prefix(out, "ratetap_program_"), 0);
	/* the families are still described */
	ck_assert(has_line(out, "# TYPE ratetap_window_utilization_percent gauge"));
	ck_assert(has_line(out, "# TYPE ratetap_model_tokens_total counter"));
	/* known-zero counters are exported */
	ck_assert(has_line(out, "ratetap_requests_total 0"));
	ck_assert(has_line(out, "ratetap_window_tokens{window=\"five_hour\",type=\"input\"} 0"));
	free(out);
	trk_free(t);
}
END_TEST

/* Name of the metric on a sample line, into name (size len). */
static void
sample_name(const char *line, char *name, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && line[i] != '{' && line[i] != ' ' &&
	    line[i] != '\n' && line[i] != '\0'; i++)
		name[i] = line[i];
	name[i] = '\0';
}

/* Parse "{k="v",...} value" strictly; 0 when well-formed. */
static int
check_sample_rest(const char *p)
{
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
				return -1;
			while ((*p >= 'a' && *p <= 'z') || *p == '_')
				p++;
			if (*p++ != '=' || *p++ != '"')
				return -1;
			while (*p != '"') {
				if (*p == '\0' || *p == '\n')
					return -1;
				if (*p == '\\') {
					p++;
					if (*p != '\\' && *p != '"' && *p != 'n')
						return -1;
				}
				p++;
			}
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return -1;
		}
		p++;
	}
	if (*p++ != ' ')
		return -1;
	if (strncmp(p, "NaN\n", 4) == 0 || strncmp(p, "+Inf\n", 5) == 0 ||
	    strncmp(p, "-Inf\n", 5) == 0)
		return 0;
	{
		char *end;

		(void)strtod(p, &end);
		if (end == p || *end != '\n')
			return -1;
	}
	return 0;
}

START_TEST(metrics_every_family_has_help_and_type_before_its_samples)
{
	struct trk *t = populated();
	char *out = render(t, NOW + 10), *line, *save = NULL;
	char help[128] = "", type[128] = "", name[128];
	int families = 0, samples = 0;

	ck_assert(out[strlen(out) - 1] == '\n');
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char buf[1024];

		if (strncmp(line, "# HELP ", 7) == 0) {
			sample_name(line + 7, help, sizeof(help));
			type[0] = '\0';
			ck_assert_msg(strncmp(help, "ratetap_", 8) == 0, "%s", help);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char *kind;

			sample_name(line + 7, type, sizeof(type));
			ck_assert_str_eq(type, help);
			kind = line + 7 + strlen(type) + 1;
			ck_assert_msg(strcmp(kind, "gauge") == 0 ||
			    strcmp(kind, "counter") == 0, "%s", line);
			/* counters end in _total, gauges never do */
			ck_assert_int_eq(strcmp(kind, "counter") == 0,
			    strlen(type) > 6 &&
			    strcmp(type + strlen(type) - 6, "_total") == 0);
			families++;
			continue;
		}
		ck_assert_msg(line[0] != '#', "stray comment %s", line);
		sample_name(line, name, sizeof(name));
		ck_assert_msg(strcmp(name, type) == 0,
		    "sample %s outside its family (%s)", line, type);
		snprintf(buf, sizeof(buf), "%s\n", line + strlen(name));
		ck_assert_msg(check_sample_rest(buf) == 0, "malformed: %s", line);
		samples++;
	}
	ck_assert_int_eq(families, 49);	/* docs/metrics.md lists them */
	ck_assert_int_ge(samples, 80);
	free(out);
	trk_free(t);
}
END_TEST

START_TEST(metrics_no_series_appears_twice)
{
	struct trk *t = populated();
	char *out = render(t, NOW + 10), *a, *b, *sa = NULL;
	char **keys = NULL;
	int n = 0, i, j;

	for (a = strtok_r(out, "\n", &sa); a != NULL; a = strtok_r(NULL, "\n", &sa)) {
		if (a[0] == '#')
			continue;
		b = strrchr(a, ' ');
		ck_assert_ptr_nonnull(b);
		*b = '\0';
		keys = realloc(keys, sizeof(*keys) * (size_t)(n + 1));
		ck_assert_ptr_nonnull(keys);
		keys[n++] = a;
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			ck_assert_msg(strcmp(keys[i], keys[j]) != 0, "twice: %s", keys[i]);
	free(keys);
	free(out);
	trk_free(t);
}
END_TEST

START_TEST(metrics_label_values_escape_backslash_quote_and_newline)
{
	struct buf b;
	struct trk *t = trk_new(NULL);
	struct rtp_event ev;
	char *out;

	memset(&b, 0, sizeof(b));
	buf_label_value(&b, "a\"b\\c\nd", 64);
	ck_assert(!b.oom);
	ck_assert_str_eq(b.p, "a\\\"b\\\\c\\nd");
	free(b.p);

	/* a hostile name through the tracker: quote and backslash are
	 * printable, so they reach the label */
	ck_assert_ptr_nonnull(t);
	ev = msg_event("we\"ird\\model", "x\"} 1\nevil", 1, 2, 0, 0);
	trk_event(t, &ev, NOW);
	out = render(t, NOW);
	ck_assert(has_line(out,
	    "ratetap_model_requests_total{model=\"we\\\"ird\\\\model\"} 1"));
	/* the newline became '?' in the tracker; the quote is escaped */
	ck_assert(has_line(out,
	    "ratetap_program_requests_total{program=\"x\\\"} 1?evil\"} 1"));
	free(out);
	trk_free(t);
}
END_TEST

START_TEST(metrics_numbers_round_trip_and_specials_use_prometheus_spelling)
{
	struct buf b;

	memset(&b, 0, sizeof(b));
	buf_double(&b, 25.0);
	buf_add(&b, " ", 1);
	buf_double(&b, 0.1 + 0.2);
	buf_add(&b, " ", 1);
	buf_double(&b, 0.29 * 100.0);
	buf_add(&b, " ", 1);
	buf_double(&b, NAN);
	buf_add(&b, " ", 1);
	buf_double(&b, INFINITY);
	buf_add(&b, " ", 1);
	buf_double(&b, -INFINITY);
	buf_add(&b, " ", 1);
	buf_double(&b, 1e21);
	ck_assert(!b.oom);
	ck_assert_str_eq(b.p,
	    "25 0.30000000000000004 28.999999999999996 NaN +Inf -Inf 1e+21");
	free(b.p);
}
END_TEST

START_TEST(metrics_fold_models_and_programs_beyond_fifty_into_other)
{
	struct trk *t = trk_new(NULL);
	struct rtp_event ev;
	char *out, name[32], prog[32];
	int i;
	int64_t other_in = 0;

	ck_assert_ptr_nonnull(t);
	/* model-i uses i+1 input tokens: the 10 smallest fold */
	for (i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "model-%02d", i);
		snprintf(prog, sizeof(prog), "prog-%02d", i);
		ev = msg_event(name, prog, i + 1, 0, 0, 0);
		trk_event(t, &ev, NOW);
		if (i < 10)
			other_in += i + 1;
	}
	out = render(t, NOW);
	ck_assert_int_eq(count_prefix(out, "ratetap_model_requests_total{"), 51);
	ck_assert_int_eq(count_prefix(out, "ratetap_program_requests_total{"), 51);
	ck_assert_int_eq(count_prefix(out, "ratetap_model_tokens_total{"), 51 * 4);
	ASSERT_LINE(out, "ratetap_model_requests_total{model=\"other\"} 10");
	ASSERT_LINE(out, "ratetap_model_tokens_total{model=\"other\",type=\"input\"} %lld",
	    (long long)other_in);
	ASSERT_LINE(out, "ratetap_program_tokens_total{program=\"other\",type=\"input\"} %lld",
	    (long long)other_in);
	ASSERT_LINE(out, "ratetap_model_requests_total{model=\"model-59\"} 1");
	ASSERT_LINE(out, "ratetap_model_tokens_total{model=\"model-10\",type=\"input\"} 11");
	ck_assert_ptr_null(strstr(out, "model=\"model-09\""));
	ck_assert_ptr_null(strstr(out, "program=\"prog-00\""));
	free(out);
	trk_free(t);
}
END_TEST

START_TEST(metrics_tracker_row_named_other_merges_into_one_other_series)
{
	struct trk_named rows[3];
	struct export_row *out;
	int n;

	memset(rows, 0, sizeof(rows));
	snprintf(rows[0].name, sizeof(rows[0].name), "other");
	rows[0].requests = 5;
	rows[0].tokens.input = 1000;	/* biggest, still folded */
	snprintf(rows[1].name, sizeof(rows[1].name), "a");
	rows[1].requests = 1;
	rows[1].tokens.output = 10;
	snprintf(rows[2].name, sizeof(rows[2].name), "b");
	rows[2].requests = 2;
	rows[2].tokens.output = 20;

	n = export_top(rows, 3, 1, &out);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(out[0].name, "b");
	ck_assert_str_eq(out[1].name, "other");
	ck_assert_int_eq(out[1].requests, 6);
	ck_assert_int_eq(out[1].tokens.input, 1000);
	ck_assert_int_eq(out[1].tokens.output, 10);
	free(out);

	/* nothing to fold but the tracker's own "other": kept as is */
	n = export_top(rows, 3, 50, &out);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(out[0].name, "b");
	ck_assert_str_eq(out[1].name, "a");
	ck_assert_str_eq(out[2].name, "other");
	ck_assert_int_eq(out[2].requests, 5);
	free(out);

	n = export_top(rows, 0, 50, &out);
	ck_assert_int_eq(n, 0);
	ck_assert_ptr_null(out);
}
END_TEST

START_TEST(metrics_window_tokens_gauge_drops_to_zero_at_rollover)
{
	struct trk *t = trk_new(NULL);
	struct rtp_event ev;
	char *out;

	ck_assert_ptr_nonnull(t);
	ev = msg_event("claude-sonnet-4-5", "curl", 10, 20, 0, 0);
	ev.present = RTP_PRESENT_I(RTP_I_RESET_5H);
	ev.i[RTP_I_RESET_5H] = NOW + 600;
	trk_event(t, &ev, NOW);
	out = render(t, NOW);
	ASSERT_LINE(out, "ratetap_window_tokens{window=\"five_hour\",type=\"input\"} 10");
	ASSERT_LINE(out, "ratetap_window_rollovers_total{window=\"five_hour\"} 0");
	free(out);

	/* a header moved the reset 5 hours later: the window rolled over */
	ev = msg_event("claude-sonnet-4-5", "curl", 1, 2, 0, 0);
	ev.present = RTP_PRESENT_I(RTP_I_RESET_5H);
	ev.i[RTP_I_RESET_5H] = NOW + 600 + 5 * 3600;
	trk_event(t, &ev, NOW + 60);
	out = render(t, NOW + 60);
	ASSERT_LINE(out, "ratetap_window_tokens{window=\"five_hour\",type=\"input\"} 1");
	ASSERT_LINE(out, "ratetap_window_rollovers_total{window=\"five_hour\"} 1");
	ASSERT_LINE(out, "ratetap_tokens_total{type=\"input\"} 11");
	ASSERT_LINE(out, "ratetap_model_tokens_total{model=\"claude-sonnet-4-5\",type=\"input\"} 11");
	free(out);
	trk_free(t);
}
END_TEST

START_TEST(metrics_show_every_window_with_its_source)
{
	struct trk *t = trk_new(NULL);
	struct rtp_event ev;
	char *out;

	ck_assert_ptr_nonnull(t);
	ev = msg_event("claude-fable-5", "curl", 10, 20, 0, 0);
	ev.present = RTP_PRESENT_I(RTP_I_RESET_7D);
	ev.i[RTP_I_RESET_7D] = NOW + 86400;
	ev.nwin = 1;
	snprintf(ev.win[0].name, sizeof(ev.win[0].name), "7d_fable");
	ev.win[0].present = RTP_W_UTIL;
	ev.win[0].util = 0.125;
	trk_event(t, &ev, NOW);
	out = render(t, NOW + 5);
	ASSERT_LINE(out, "ratetap_window_utilization_percent{window=\"seven_day_fable\"} 12.5");
	/* without a reset of its own it goes by seven_day's */
	ASSERT_LINE(out, "ratetap_window_reset_timestamp_seconds{window=\"seven_day_fable\"} %lld",
	    (long long)NOW + 86400);
	ASSERT_LINE(out, "ratetap_window_tokens{window=\"seven_day_fable\",type=\"output\"} 20");
	ASSERT_LINE(out, "ratetap_window_observed_timestamp_seconds{window=\"seven_day_fable\"} %lld",
	    (long long)NOW);
	ASSERT_LINE(out, "ratetap_window_source{window=\"seven_day_fable\",source=\"header\"} 1");
	ASSERT_LINE(out, "ratetap_window_source{window=\"seven_day_fable\",source=\"poll\"} 0");
	free(out);
	trk_free(t);
}
END_TEST

START_TEST(metrics_full_tables_render_completely)
{
	struct trk *t = trk_new(NULL);
	struct rtp_event ev;
	char *out, name[32];
	size_t len;
	int i;

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < 2 * TRK_MAX_MODELS; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		ev = msg_event(name, name, 1, 1, 1, 1);
		trk_event(t, &ev, NOW);
	}
	ck_assert_int_eq(metrics_render(t, NOW, &out, &len), 0);
	ck_assert_int_eq(count_prefix(out, "ratetap_model_requests_total{"), 51);
	ASSERT_LINE(out, "ratetap_model_requests_total{model=\"other\"} %d",
	    2 * TRK_MAX_MODELS - 50);
	ASSERT_LINE(out, "ratetap_requests_total %d", 2 * TRK_MAX_MODELS);
	ck_assert(out[len - 1] == '\n');
	free(out);
	trk_free(t);
}
END_TEST

static void
quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("render");

	tcase_add_test(tc, metrics_render_exports_the_populated_tracker_exactly);
	tcase_add_test(tc, metrics_unknown_values_are_absent_not_zero);
	tcase_add_test(tc, metrics_every_family_has_help_and_type_before_its_samples);
	tcase_add_test(tc, metrics_no_series_appears_twice);
	tcase_add_test(tc, metrics_label_values_escape_backslash_quote_and_newline);
	tcase_add_test(tc, metrics_numbers_round_trip_and_specials_use_prometheus_spelling);
	tcase_add_test(tc, metrics_fold_models_and_programs_beyond_fifty_into_other);
	tcase_add_test(tc, metrics_tracker_row_named_other_merges_into_one_other_series);
	tcase_add_test(tc, metrics_window_tokens_gauge_drops_to_zero_at_rollover);
	tcase_add_test(tc, metrics_show_every_window_with_its_source);
	tcase_add_test(tc, metrics_full_tables_render_completely);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	log_set_sink(quiet, NULL);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
