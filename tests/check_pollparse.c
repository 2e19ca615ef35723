/*
 * Unit tests of the usage-poll parser (daemon/pollparse.c): real-shaped,
 * null-filled and unknown-keyed bodies parse; every kind of garbage is a
 * one-line error that never quotes the body.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../daemon/pollparse.h"
#include "../daemon/tracker.h"

#define T_20	((time_t)1795896000)	/* 2026-11-28T20:00:00Z */

static int
parse(const char *body, struct trk_poll *p, char *err, size_t errlen)
{
	return poll_parse(body, strlen(body), p, err, errlen);
}

START_TEST(a_real_shaped_body_parses)
{
	const char *body =
	    "{\"five_hour\":{\"utilization\":25.0,"
	    "\"resets_at\":\"2026-11-28T20:00:00.123456+00:00\"},"
	    "\"seven_day\":{\"utilization\":50,"
	    "\"resets_at\":\"2026-11-30T20:00:00Z\"},"
	    "\"seven_day_oauth_apps\":null,"
	    "\"seven_day_opus\":{\"utilization\":0.0,\"resets_at\":null},"
	    "\"seven_day_sonnet\":{\"utilization\":12.5,"
	    "\"resets_at\":\"2026-11-28T21:00:00+01:00\"},"
	    "\"extra_usage\":{\"is_enabled\":true,\"monthly_limit\":5000,"
	    "\"used_credits\":1234.5,\"utilization\":24.69}}";
	struct trk_poll p;
	char err[128] = "";

	ck_assert_int_eq(parse(body, &p, err, sizeof(err)), 0);
	ck_assert(p.win[TRK_FIVE_HOUR].present);
	ck_assert(p.win[TRK_FIVE_HOUR].has_util);
	ck_assert_double_eq(p.win[TRK_FIVE_HOUR].utilization, 25.0);
	ck_assert_int_eq(p.win[TRK_FIVE_HOUR].resets_at, T_20);
	ck_assert_double_eq(p.win[TRK_SEVEN_DAY].utilization, 50.0);
	ck_assert_int_eq(p.win[TRK_SEVEN_DAY].resets_at, T_20 + 2 * 86400);
	ck_assert(p.win[TRK_SEVEN_DAY_OPUS].present);
	ck_assert(p.win[TRK_SEVEN_DAY_OPUS].has_util);
	ck_assert_int_eq(p.win[TRK_SEVEN_DAY_OPUS].resets_at, 0);
	ck_assert_int_eq(p.win[TRK_SEVEN_DAY_SONNET].resets_at, T_20);
	ck_assert(p.extra.known);
	ck_assert(p.extra.is_enabled);
	ck_assert(p.extra.has_monthly_limit);
	ck_assert_double_eq(p.extra.monthly_limit, 5000);
	ck_assert_double_eq(p.extra.used_credits, 1234.5);
	ck_assert_double_eq(p.extra.utilization, 24.69);
}
END_TEST

START_TEST(a_null_filled_body_parses_to_nothing_known)
{
	const char *body =
	    "{\"five_hour\":{\"utilization\":null,\"resets_at\":null},"
	    "\"seven_day\":null,\"seven_day_sonnet\":null,"
	    "\"seven_day_opus\":null,\"seven_day_oauth_apps\":null,"
	    "\"extra_usage\":{\"is_enabled\":false,\"monthly_limit\":null,"
	    "\"used_credits\":null,\"utilization\":null}}";
	struct trk_poll p;
	char err[128];

	ck_assert_int_eq(parse(body, &p, err, sizeof(err)), 0);
	ck_assert(p.win[TRK_FIVE_HOUR].present);
	ck_assert(!p.win[TRK_FIVE_HOUR].has_util);
	ck_assert_int_eq(p.win[TRK_FIVE_HOUR].resets_at, 0);
	ck_assert(!p.win[TRK_SEVEN_DAY].present);
	ck_assert(!p.win[TRK_SEVEN_DAY_OPUS].present);
	ck_assert(p.extra.known);
	ck_assert(!p.extra.is_enabled);
	ck_assert(!p.extra.has_monthly_limit);
	ck_assert(!p.extra.has_used_credits);
	ck_assert(!p.extra.has_util);

	ck_assert_int_eq(parse("{}", &p, err, sizeof(err)), 0);
	ck_assert(!p.win[TRK_FIVE_HOUR].present);
	ck_assert(!p.extra.known);
	ck_assert_int_eq(parse(" {\"extra_usage\":null}\n", &p, err,
	    sizeof(err)), 0);
	ck_assert(!p.extra.known);
}
END_TEST

START_TEST(unknown_keys_and_new_fields_are_ignored)
{
	const char *body =
	    "{\"five_hour\":{\"utilization\":7,\"resets_at\":"
	    "\"2026-11-28T20:00:00Z\",\"new_field\":[1,2,{\"x\":null}],"
	    "\"status\":\"allowed\"},"
	    "\"seven_day_oauth_apps\":{\"utilization\":\"weird\"},"
	    "\"seven_day_cowork\":{\"utilization\":3,\"resets_at\":1},"
	    "\"iguana_necktie\":null,\"nested\":{\"a\":{\"b\":[true]}},"
	    "\"extra_usage\":{\"is_enabled\":false,\"currency\":\"USD\"}}";
	struct trk_poll p;
	char err[128];

	ck_assert_int_eq(parse(body, &p, err, sizeof(err)), 0);
	ck_assert_double_eq(p.win[TRK_FIVE_HOUR].utilization, 7);
	ck_assert_int_eq(p.win[TRK_FIVE_HOUR].resets_at, T_20);
	ck_assert(!p.win[TRK_SEVEN_DAY].present);
	ck_assert(p.extra.known);
}
END_TEST

START_TEST(utilization_above_100_is_kept)
{
	struct trk_poll p;
	char err[128];

	ck_assert_int_eq(parse("{\"seven_day\":{\"utilization\":134.5}}", &p,
	    err, sizeof(err)), 0);
	ck_assert_double_eq(p.win[TRK_SEVEN_DAY].utilization, 134.5);
}
END_TEST

static const char *const garbage[] = {
	"not json",
	"[]",
	"[{\"five_hour\":null}]",
	"\"five_hour\"",
	"42",
	"null",
	"true",
	"{",
	"{\"five_hour\":{\"utilization\":25.0,\"resets_at\":\"2026-11-28T2",
	"{\"five_hour\":{\"utilization\":25.0}",
	"{}garbage",
	"{} {}",
	"{\"five_hour\":5}",
	"{\"five_hour\":\"SECRET-full\"}",
	"{\"five_hour\":[]}",
	"{\"five_hour\":true}",
	"{\"seven_day\":{\"utilization\":\"50\"}}",
	"{\"seven_day\":{\"utilization\":true}}",
	"{\"seven_day\":{\"utilization\":{}}}",
	"{\"seven_day\":{\"utilization\":-1}}",
	"{\"seven_day\":{\"utilization\":-0.001}}",
	"{\"seven_day\":{\"utilization\":1e400}}",
	"{\"seven_day\":{\"utilization\":-1e400}}",
	"{\"seven_day\":{\"utilization\":1e300}}",
	"{\"seven_day\":{\"utilization\":NaN}}",
	"{\"seven_day\":{\"utilization\":Infinity}}",
	"{\"seven_day\":{\"resets_at\":1795896000}}",
	"{\"seven_day\":{\"resets_at\":\"tomorrow\"}}",
	"{\"seven_day\":{\"resets_at\":\"SECRET-2026-11-28T20:00:00Z\"}}",
	"{\"seven_day\":{\"resets_at\":\"2026-02-30T20:00:00Z\"}}",
	"{\"seven_day\":{\"resets_at\":\"2026-11-28T20:00:00\"}}",
	"{\"seven_day\":{\"resets_at\":\"2026-11-28T20:00:00Zjunk\"}}",
	"{\"seven_day\":{\"resets_at\":\"\"}}",
	"{\"seven_day\":{\"resets_at\":[\"2026-11-28T20:00:00Z\"]}}",
	"{\"seven_day_opus\":{\"utilization\":1,\"utilization\":2}}",
	"{\"five_hour\":null,\"five_hour\":null}",
	"{\"extra_usage\":5}",
	"{\"extra_usage\":[]}",
	"{\"extra_usage\":{\"is_enabled\":\"yes\"}}",
	"{\"extra_usage\":{\"is_enabled\":1}}",
	"{\"extra_usage\":{\"monthly_limit\":\"5000\"}}",
	"{\"extra_usage\":{\"used_credits\":-5}}",
	"{\"extra_usage\":{\"used_credits\":1e20}}",
	"{\"extra_usage\":{\"utilization\":false}}",
	" ",
	"\n\t ",
	"{\"five_hour\":{\"utilization\":\"\\u0000\"}}",
	"{\"limits\":{}}",
	"{\"limits\":[5]}",
	"{\"limits\":[{\"kind\":7}]}",
	"{\"limits\":[{\"kind\":\"session\",\"percent\":\"12\"}]}",
	"{\"limits\":[{\"kind\":\"session\",\"percent\":-1}]}",
	"{\"limits\":[{\"kind\":\"session\",\"resets_at\":\"SECRET\"}]}",
	"{\"limits\":[{\"kind\":\"weekly_scoped\",\"scope\":\"Fable\"}]}",
	"{\"limits\":[],\"limits\":[]}",
	"{\"spend\":5}",
	"{\"spend\":{\"used\":7}}",
	"{\"spend\":{\"used\":{\"amount_minor\":\"1\"}}}",
	"{\"spend\":{\"used\":{\"amount_minor\":1.5}}}",
	"{\"spend\":{\"used\":{\"amount_minor\":1,\"exponent\":12}}}",
	"{\"spend\":{\"used\":{\"amount_minor\":1,\"currency\":\"US$\"}}}",
	"{\"spend\":{\"enabled\":\"yes\"}}",
	"{\"spend\":{\"disabled_reason\":5}}",
};

START_TEST(garbage_is_an_error_never_a_crash)
{
	struct trk_poll p;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		memset(&p, 0xa5, sizeof(p));
		err[0] = '\0';
		ck_assert_msg(parse(garbage[i], &p, err, sizeof(err)) == -1,
		    "accepted %s", garbage[i]);
		ck_assert_msg(err[0] != '\0', "no reason for %s", garbage[i]);
		ck_assert_ptr_null(strchr(err, '\n'));
		ck_assert_ptr_null(strstr(err, "SECRET"));
		/* nothing half-parsed is left behind */
		ck_assert(!p.win[TRK_FIVE_HOUR].present);
		ck_assert(!p.win[TRK_SEVEN_DAY].present);
		ck_assert(!p.extra.known);
	}
}
END_TEST

START_TEST(empty_and_truncated_bodies_are_errors)
{
	const char *full =
	    "{\"five_hour\":{\"utilization\":25.0,"
	    "\"resets_at\":\"2026-11-28T20:00:00Z\"},"
	    "\"extra_usage\":{\"is_enabled\":true,\"monthly_limit\":5000}}";
	struct trk_poll p;
	char err[128];
	size_t n;

	ck_assert_int_eq(poll_parse("", 0, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "empty body");
	ck_assert_int_eq(poll_parse(NULL, 0, &p, err, sizeof(err)), -1);
	for (n = 1; n < strlen(full); n++)
		ck_assert_msg(poll_parse(full, n, &p, err, sizeof(err)) == -1,
		    "accepted a prefix of %zu bytes", n);
	ck_assert_int_eq(poll_parse(full, strlen(full), &p, err,
	    sizeof(err)), 0);
}
END_TEST

START_TEST(a_body_is_read_within_its_length_only)
{
	/* not NUL-terminated: what follows the length must not count */
	char buf[16];
	struct trk_poll p;
	char err[128];

	memcpy(buf, "{}xxxxxxxxxxxxxx", sizeof(buf));
	ck_assert_int_eq(poll_parse(buf, 2, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(poll_parse(buf, 3, &p, err, sizeof(err)), -1);
	/* an embedded NUL is not whitespace */
	ck_assert_int_eq(poll_parse("{}\0", 3, &p, err, sizeof(err)), -1);
}
END_TEST

START_TEST(bodies_over_one_mebibyte_are_refused_before_parsing)
{
	size_t len = 1024 * 1024 + 1, i;
	char *big = malloc(len);
	struct trk_poll p;
	char err[128];

	ck_assert_ptr_nonnull(big);
	/* a valid object padded with spaces: refused for its size alone */
	big[0] = '{';
	for (i = 1; i < len - 1; i++)
		big[i] = ' ';
	big[len - 1] = '}';
	ck_assert_int_eq(poll_parse(big, len, &p, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "larger"));
	ck_assert_int_eq(poll_parse(big + 1, len - 1, &p, err, sizeof(err)),
	    -1);
	big[1] = '{';
	ck_assert_int_eq(poll_parse(big + 1, len - 1, &p, err, sizeof(err)),
	    0);
	free(big);
}
END_TEST

START_TEST(deep_nesting_is_an_error)
{
	size_t depth = 5000, i;
	char *s = malloc(2 * depth + 16);
	struct trk_poll p;
	char err[128];

	ck_assert_ptr_nonnull(s);
	strcpy(s, "{\"x\":");
	for (i = 0; i < depth; i++)
		s[5 + i] = '[';
	for (i = 0; i < depth; i++)
		s[5 + depth + i] = ']';
	strcpy(s + 5 + 2 * depth, "}");
	ck_assert_int_eq(parse(s, &p, err, sizeof(err)), -1);
	free(s);
}
END_TEST

START_TEST(a_small_error_buffer_is_respected)
{
	struct trk_poll p;
	char err[8];

	memset(err, 'Z', sizeof(err));
	ck_assert_int_eq(parse("[]", &p, err, 4), -1);
	ck_assert_int_eq(strlen(err), 3);
	ck_assert_int_eq(err[4], 'Z');
	ck_assert_int_eq(parse("[]", &p, NULL, 0), -1);
}
END_TEST


START_TEST(the_limits_array_and_spend_parse_into_named_windows)
{
	const char *body =
	    "{\"five_hour\":null,\"seven_day\":null,"
	    "\"seven_day_sonnet\":{\"utilization\":20,\"resets_at\":null},"
	    "\"seven_day_cowork\":null,"
	    "\"seven_day_omelette\":{\"utilization\":4,\"resets_at\":null},"
	    "\"seven_day_oauth_apps\":{\"utilization\":\"weird\"},"
	    "\"limits\":["
	    "{\"kind\":\"session\",\"percent\":12,\"resets_at\":"
	    "\"2026-11-28T20:00:00Z\",\"scope\":null,\"is_active\":true,"
	    "\"severity\":\"normal\",\"group\":\"x\"},"
	    "{\"kind\":\"weekly_all\",\"percent\":null,\"resets_at\":null},"
	    "{\"kind\":\"weekly_scoped\",\"percent\":21,\"scope\":{\"model\":"
	    "{\"id\":\"claude-sonnet\",\"display_name\":\"Sonnet\"}}},"
	    "{\"kind\":\"weekly_scoped\",\"percent\":7,\"scope\":{\"model\":"
	    "{\"id\":\"claude-fable\",\"display_name\":\"Fable\"}}},"
	    "{\"kind\":\"weekly_scoped\",\"percent\":3,\"scope\":{\"surface\":"
	    "{\"display_name\":\"Claude Code\"}}},"
	    "{\"kind\":\"weekly_scoped\",\"percent\":3,\"scope\":{}},"
	    "{\"kind\":\"weekly_scoped\",\"percent\":3},"
	    "{\"kind\":null,\"percent\":3},"
	    "{\"kind\":\"Daily Burst!\",\"percent\":9,\"brand_new\":[1]}],"
	    "\"spend\":{\"used\":{\"amount_minor\":1234,\"currency\":\"usd\","
	    "\"exponent\":2},\"limit\":null,\"percent\":null,\"enabled\":false,"
	    "\"disabled_reason\":\"out_of_credits\"}}";
	struct trk_poll p;
	char err[128] = "";
	int w, fable = -1, code = -1, omelette = -1, burst = -1;

	ck_assert_msg(parse(body, &p, err, sizeof(err)) == 0, "%s", err);
	/* session is the 5-hour window, weekly_all the 7-day one */
	ck_assert(p.win[TRK_FIVE_HOUR].present);
	ck_assert_double_eq(p.win[TRK_FIVE_HOUR].utilization, 12.0);
	ck_assert_int_eq(p.win[TRK_FIVE_HOUR].resets_at, T_20);
	ck_assert(p.win[TRK_SEVEN_DAY].present);
	ck_assert(!p.win[TRK_SEVEN_DAY].has_util);
	/* the array's Sonnet and the flat key are one window: the array,
	   the newer shape, wins */
	ck_assert_double_eq(p.win[TRK_SEVEN_DAY_SONNET].utilization, 21.0);
	for (w = TRK_WIN_FIXED; w < p.nwin; w++) {
		ck_assert_str_ne(p.win[w].name, "seven_day_sonnet");
		ck_assert_str_ne(p.win[w].name, "seven_day_cowork");
		ck_assert_str_ne(p.win[w].name, "seven_day_oauth_apps");
		if (strcmp(p.win[w].name, "seven_day_fable") == 0)
			fable = w;
		if (strcmp(p.win[w].name, "seven_day_claude_code") == 0)
			code = w;
		if (strcmp(p.win[w].name, "seven_day_omelette") == 0)
			omelette = w;
		if (strcmp(p.win[w].name, "daily_burst") == 0)
			burst = w;
	}
	ck_assert_int_eq(p.nwin, TRK_WIN_FIXED + 4);
	ck_assert_int_ge(fable, 0);
	ck_assert_int_ge(code, 0);
	ck_assert_int_ge(omelette, 0);
	ck_assert_int_ge(burst, 0);
	ck_assert_double_eq(p.win[fable].utilization, 7.0);
	ck_assert_str_eq(p.win[fable].label, "Fable");
	ck_assert_int_eq(p.win[fable].match, TRK_MATCH_MODEL);
	ck_assert_str_eq(p.win[code].label, "Claude Code");
	ck_assert_int_eq(p.win[code].match, TRK_MATCH_NONE);
	ck_assert_double_eq(p.win[omelette].utilization, 4.0);
	ck_assert_double_eq(p.win[burst].utilization, 9.0);
	ck_assert_int_eq(p.win[burst].match, TRK_MATCH_NONE);

	ck_assert(p.spend.known);
	ck_assert(p.spend.used.known);
	ck_assert_int_eq(p.spend.used.amount_minor, 1234);
	ck_assert_int_eq(p.spend.used.exponent, 2);
	ck_assert_str_eq(p.spend.used.currency, "USD");
	ck_assert(!p.spend.limit.known);
	ck_assert(!p.spend.has_percent);
	ck_assert_int_eq(p.spend.enabled, 0);
	ck_assert_str_eq(p.spend.disabled_reason, "out_of_credits");
}
END_TEST

START_TEST(the_limits_array_is_bounded)
{
	char body[16384];
	struct trk_poll p;
	char err[128] = "";
	size_t n;
	int i;

	n = (size_t)snprintf(body, sizeof(body), "{\"limits\":[");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n,
		    "%s{\"kind\":\"weekly_scoped\",\"percent\":1,\"scope\":"
		    "{\"model\":{\"display_name\":\"m%d with a rather long name "
		    "that goes on and on\"}}}", i ? "," : "", i);
	snprintf(body + n, sizeof(body) - n, "]}");
	ck_assert_msg(parse(body, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(p.nwin, TRK_WIN_MAX);
	for (i = 0; i < p.nwin; i++)
		ck_assert_uint_lt(strlen(p.win[i].name), TRK_WIN_NAME_LEN);
}
END_TEST

static Suite *
pollparse_suite(void)
{
	Suite *s = suite_create("pollparse");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, a_real_shaped_body_parses);
	tcase_add_test(tc, a_null_filled_body_parses_to_nothing_known);
	tcase_add_test(tc, unknown_keys_and_new_fields_are_ignored);
	tcase_add_test(tc, utilization_above_100_is_kept);
	tcase_add_test(tc, garbage_is_an_error_never_a_crash);
	tcase_add_test(tc, empty_and_truncated_bodies_are_errors);
	tcase_add_test(tc, a_body_is_read_within_its_length_only);
	tcase_add_test(tc, bodies_over_one_mebibyte_are_refused_before_parsing);
	tcase_add_test(tc, deep_nesting_is_an_error);
	tcase_add_test(tc, a_small_error_buffer_is_respected);
	tcase_add_test(tc, the_limits_array_and_spend_parse_into_named_windows);
	tcase_add_test(tc, the_limits_array_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pollparse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
