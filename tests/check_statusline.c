/*
 * Unit tests of the statusline source (daemon/statusline.c): Claude
 * Code's rate_limits applied as TRK_SRC_STATUSLINE figures; every bad
 * body refused whole, without its content in the reason.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../daemon/log.h"
#include "../daemon/statusline.h"
#include "../daemon/tracker.h"

#define NOW	((time_t)1800000000)

static int
apply(struct trk *t, const char *body, char *err, size_t len)
{
	return sl_apply(t, body, strlen(body), NOW, err, len);
}

START_TEST(both_windows_are_applied_as_the_statusline_source)
{
	struct trk *t = trk_new(NULL);
	char err[256];

	ck_assert_int_eq(apply(t, "{\"five_hour\": {\"used_percentage\": "
	    "42.5, \"resets_at\": 1800007200}, \"seven_day\": "
	    "{\"used_percentage\": 18, \"resets_at\": 1800300000.0}, "
	    "\"spend_limit\": {\"used_percentage\": 140}}", err,
	    sizeof(err)), 2);
	ck_assert(t->win[TRK_FIVE_HOUR].has_util);
	ck_assert_double_eq(t->win[TRK_FIVE_HOUR].utilization, 42.5);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, 1800007200);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].source, TRK_SRC_STATUSLINE);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].observed_at, NOW);
	ck_assert_double_eq(t->win[TRK_SEVEN_DAY].utilization, 18);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].resets_at, 1800300000);
	/* either may be missing, or null */
	ck_assert_int_eq(apply(t, "{\"five_hour\": null, \"seven_day\": "
	    "{\"used_percentage\": 19}}", err, sizeof(err)), 1);
	ck_assert_double_eq(t->win[TRK_SEVEN_DAY].utilization, 19);
	ck_assert_int_eq(apply(t, "{}", err, sizeof(err)), 0);
	trk_free(t);
}
END_TEST

START_TEST(bad_bodies_change_nothing)
{
	static const char *const bad[] = {
		"", "x", "[]", "1", "{\"five_hour\": 5}",
		"{\"five_hour\": {\"used_percentage\": \"5\"}}",
		"{\"five_hour\": {\"used_percentage\": -0.1}}",
		"{\"five_hour\": {\"used_percentage\": 1e7}}",
		"{\"five_hour\": {\"resets_at\": \"soon\"}}",
		"{\"five_hour\": {\"resets_at\": 0}}",
		"{\"five_hour\": {\"resets_at\": 1e13}}",
		"{\"five_hour\": {}, \"five_hour\": {}}",
		"{\"seven_day\": {\"resets_at\": 1, \"resets_at\": 2}}",
		"{\"five_hour\": {\"used_percentage\": 5}} {}",
		/* the good window of a bad body is not applied either */
		"{\"five_hour\": {\"used_percentage\": 5}, \"seven_day\": 7}",
	};
	struct trk *t = trk_new(NULL);
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(apply(t, bad[i], err, sizeof(err)), -1);
		ck_assert(err[0] != '\0');
		ck_assert_ptr_null(strstr(err, "soon"));
	}
	ck_assert(!t->win[TRK_FIVE_HOUR].has_util);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].source, TRK_SRC_NONE);
	trk_free(t);
}
END_TEST

START_TEST(a_reset_never_moves_backwards)
{
	struct trk *t = trk_new(NULL);
	char err[256];

	ck_assert_int_eq(apply(t, "{\"five_hour\": {\"used_percentage\": "
	    "40, \"resets_at\": 1800007200}}", err, sizeof(err)), 1);
	(void)apply(t, "{\"five_hour\": {\"used_percentage\": 10, "
	    "\"resets_at\": 1800003600}}", err, sizeof(err));
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, 1800007200);
	ck_assert_double_eq(t->win[TRK_FIVE_HOUR].utilization, 40);
	trk_free(t);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("statusline");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	log_init("check_statusline", 0);
	tcase_add_test(tc, both_windows_are_applied_as_the_statusline_source);
	tcase_add_test(tc, bad_bodies_change_nothing);
	tcase_add_test(tc, a_reset_never_moves_backwards);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
