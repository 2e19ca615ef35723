/*
 * Unit tests of the forecast (daemon/forecast.c) on recorded sequences:
 * rising, flat, falling after a reset, jittery, a single sample; the JSON.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../daemon/forecast.h"

#define H	3600
#define LEN	(5 * H)
/* a five-hour instance starting at S, resetting at R */
#define S	((time_t)1796580000)
#define R	(S + LEN)

static struct fc_ring ring;

static void
feed(const double *pct, int n, time_t step)
{
	int i;

	fc_clear(&ring);
	for (i = 0; i < n; i++)
		fc_add(&ring, S + (time_t)i * step, pct[i], R, LEN);
}

START_TEST(a_steady_rise_reaches_100_before_the_reset)
{
	/* 10 points an hour from 0: 50 % after 5 h would be at the reset,
	   so use 25 points an hour: 100 % at S + 4 h */
	double p[13];
	struct fc_result f;
	int i;

	for (i = 0; i < 13; i++)
		p[i] = 25.0 * i * 600 / H;	/* a sample every 10 min */
	feed(p, 13, 600);
	ck_assert_int_eq(fc_estimate(&ring, 1, p[12], R, LEN, S + 2 * H, &f),
	    0);
	ck_assert(f.known);
	ck_assert_double_eq_tol(f.rate_per_hour, 25.0, 1e-6);
	ck_assert_int_eq(f.exhausted_at, S + 4 * H);
	/* used 50 % in 40 % of the window */
	ck_assert(f.has_pace);
	ck_assert_double_eq_tol(f.pace, 50.0 / 40.0, 1e-9);
}
END_TEST

START_TEST(a_slow_rise_does_not_run_out_before_the_reset)
{
	double p[] = { 10, 12, 14, 16, 18 };	/* 12 points an hour */
	struct fc_result f;

	feed(p, 5, 600);
	ck_assert_int_eq(fc_estimate(&ring, 1, 18, R, LEN, S + 40 * 60, &f),
	    0);
	ck_assert(f.known);
	ck_assert_double_eq_tol(f.rate_per_hour, 12.0, 1e-6);
	ck_assert_int_eq(f.exhausted_at, 0);	/* 82 more points: 6.8 h */
}
END_TEST

START_TEST(a_flat_figure_has_no_exhaustion_and_rate_zero)
{
	double p[] = { 30, 30, 30, 30, 30, 30 };
	struct fc_result f;

	feed(p, 6, 300);
	ck_assert_int_eq(fc_estimate(&ring, 1, 30, R, LEN, S + 30 * 60, &f),
	    0);
	ck_assert(f.known);
	ck_assert_double_eq_tol(f.rate_per_hour, 0.0, 1e-9);
	ck_assert_int_eq(f.exhausted_at, 0);
	/* 30 % used in 10 % of the time */
	ck_assert_double_eq_tol(f.pace, 3.0, 1e-9);
}
END_TEST

START_TEST(falling_after_a_reset_starts_the_instance_afresh)
{
	struct fc_result f;

	fc_clear(&ring);
	/* the old instance climbing fast */
	fc_add(&ring, S - 30 * 60, 80, S, LEN);
	fc_add(&ring, S - 20 * 60, 90, S, LEN);
	fc_add(&ring, S - 10 * 60, 97, S, LEN);
	/* the new one, with its new reset */
	fc_add(&ring, S + 60, 1, R, LEN);
	ck_assert_int_eq(ring.n, 1);
	ck_assert_int_eq(fc_estimate(&ring, 1, 1, R, LEN, S + 120, &f), 0);
	ck_assert(!f.known);		/* one sample: no rate yet */
	ck_assert_int_eq(f.exhausted_at, 0);
	fc_add(&ring, S + 1800, 3, R, LEN);
	ck_assert_int_eq(fc_estimate(&ring, 1, 3, R, LEN, S + 1800, &f), 0);
	ck_assert(f.known);
	ck_assert_double_eq_tol(f.rate_per_hour, 2.0 * 3600 / 1740, 1e-6);
	/* a fall without a new reset (a reset not seen) also starts over */
	fc_add(&ring, S + 2400, 70, R, LEN);
	fc_add(&ring, S + 3000, 5, R, LEN);
	ck_assert_int_eq(ring.n, 1);
}
END_TEST

START_TEST(jitter_of_two_sources_gives_the_underlying_rate)
{
	/* 20 points an hour, header and poll alternating 1.5 apart, the
	   poll's reset two minutes off (the same instance) */
	struct fc_result f;
	int i;

	fc_clear(&ring);
	for (i = 0; i < 24; i++) {
		double base = 5 + 20.0 * (i * 300) / H;

		fc_add(&ring, S + i * 300, base + (i % 2 ? 1.5 : -1.5),
		    i % 2 ? R + 120 : R, LEN);
	}
	ck_assert_int_eq(ring.n, 24);
	ck_assert_int_eq(fc_estimate(&ring, 1, 5 + 20.0 * 23 * 300 / H, R, LEN,
	    S + 23 * 300, &f), 0);
	ck_assert(f.known);
	ck_assert(fabs(f.rate_per_hour - 20.0) < 1.0);
	/* 43.3 % at 1 h 55 min, 20 an hour: 100 % at about 4 h 45 min */
	ck_assert(f.exhausted_at > R - 30 * 60 && f.exhausted_at < R);
}
END_TEST

START_TEST(a_single_sample_gives_pace_but_no_rate)
{
	struct fc_result f;

	fc_clear(&ring);
	fc_add(&ring, S + H, 40, R, LEN);
	ck_assert_int_eq(fc_estimate(&ring, 1, 40, R, LEN, S + H, &f), 0);
	ck_assert(!f.known);
	ck_assert_int_eq(f.exhausted_at, 0);
	ck_assert(f.has_pace);
	ck_assert_double_eq_tol(f.pace, 2.0, 1e-9);
	/* no reset known: nothing at all */
	ck_assert_int_eq(fc_estimate(&ring, 1, 40, 0, LEN, S + H, &f), -1);
}
END_TEST

START_TEST(samples_are_thinned_and_bounded)
{
	int i;

	fc_clear(&ring);
	/* one a second for an hour: thinned to one per len/256 (70 s) */
	for (i = 0; i < 3600; i++)
		fc_add(&ring, S + i, i / 100.0, R, LEN);
	ck_assert_int_le(ring.n, 60);
	ck_assert_int_ge(ring.n, 45);
	/* a week of them never holds more than FC_SAMPLES */
	fc_clear(&ring);
	for (i = 0; i < 100000; i++)
		fc_add(&ring, S + i * 60, 1, R, LEN);
	ck_assert_int_eq(ring.n, FC_SAMPLES);
	/* older than the newest: ignored */
	fc_add(&ring, S, 50, R, LEN);
	ck_assert_double_eq(ring.s[(ring.head + ring.n - 1) %
	    FC_SAMPLES].pct, 1);
}
END_TEST

START_TEST(already_over_100_is_exhausted_now)
{
	double p[] = { 90, 95, 101 };
	struct fc_result f;

	feed(p, 3, 600);
	ck_assert_int_eq(fc_estimate(&ring, 1, 101, R, LEN, S + 1300, &f),
	    0);
	ck_assert_int_eq(f.exhausted_at, S + 1200);
}
END_TEST

START_TEST(the_json_has_the_three_keys)
{
	double p[13];
	cJSON *o = cJSON_CreateObject();
	const cJSON *fo;
	int i;

	for (i = 0; i < 13; i++)
		p[i] = 25.0 * i * 600 / H;
	feed(p, 13, 600);
	ck_assert_int_eq(fc_json(o, &ring, 1, p[12], R, LEN, S + 2 * H), 0);
	fo = cJSON_GetObjectItem(o, "forecast");
	ck_assert_str_eq(cJSON_GetObjectItem(fo, "exhausted_at")->valuestring,
	    "2026-12-06T22:00:00Z");
	ck_assert_double_eq_tol(cJSON_GetObjectItem(fo,
	    "rate_per_hour")->valuedouble, 25, 1e-3);
	ck_assert_double_eq_tol(cJSON_GetObjectItem(fo, "pace")->valuedouble,
	    1.25, 1e-3);
	cJSON_Delete(o);
	o = cJSON_CreateObject();
	fc_clear(&ring);
	ck_assert_int_eq(fc_json(o, &ring, 0, 0, 0, LEN, S), 0);
	fo = cJSON_GetObjectItem(o, "forecast");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(fo, "exhausted_at")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(fo, "rate_per_hour")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(fo, "pace")));
	cJSON_Delete(o);
	ck_assert_int_eq(fc_window_length("five_hour"), 5 * H);
	ck_assert_int_eq(fc_window_length("seven_day_opus"), 7 * 86400);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("forecast");
	TCase *tc = tcase_create("forecast");

	tcase_add_test(tc, a_steady_rise_reaches_100_before_the_reset);
	tcase_add_test(tc, a_slow_rise_does_not_run_out_before_the_reset);
	tcase_add_test(tc, a_flat_figure_has_no_exhaustion_and_rate_zero);
	tcase_add_test(tc, falling_after_a_reset_starts_the_instance_afresh);
	tcase_add_test(tc, jitter_of_two_sources_gives_the_underlying_rate);
	tcase_add_test(tc, a_single_sample_gives_pace_but_no_rate);
	tcase_add_test(tc, samples_are_thinned_and_bounded);
	tcase_add_test(tc, already_over_100_is_exhausted_now);
	tcase_add_test(tc, the_json_has_the_three_keys);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
