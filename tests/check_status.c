/*
 * The status JSON writer (daemon/jsonw.c) and the status document written
 * with it (daemon/status.c): its text is byte for byte what cJSON_Print()
 * makes of the tree the daemon used to build (tests/status_ref.c), for
 * hostile names and random trackers; what is not valid UTF-8 becomes
 * U+FFFD so that the document stays JSON.
 */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../daemon/jsonw.h"
#include "../daemon/status.h"
#include "../daemon/tracker.h"
#include "status_ref.c"

#define T0	((time_t)1800000000)	/* 2027-01-15T08:00:00Z */

/* the text of w, which must be complete; the caller frees it */
static char *
finish(struct jw *w)
{
	char *s;
	size_t n;

	ck_assert_int_eq(jw_finish(w, &s, &n), 0);
	ck_assert_uint_eq(strlen(s), n);
	return s;
}

/* cJSON_Print(j) == s, and j is freed */
static void
same_as_cjson(cJSON *j, const char *s)
{
	char *ref = cJSON_Print(j);

	ck_assert_ptr_nonnull(ref);
	ck_assert_str_eq(s, ref);
	free(ref);
	cJSON_Delete(j);
}

START_TEST(strings_are_escaped_as_cjson_escapes_them)
{
	char all[128];
	struct jw w;
	cJSON *j;
	char *s;
	int i;

	for (i = 1; i < 128; i++)
		all[i - 1] = (char)i;
	all[127] = '\0';
	jw_init(&w, 0);
	jw_open(&w, NULL);
	jw_str(&w, "every ASCII byte", all);
	jw_str(&w, "quo\"te\\key\n", "\"\\/\b\f\n\r\t\x01\x1f\x7f");
	jw_str(&w, "", "");
	jw_str(&w, "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
	jw_close(&w);
	s = finish(&w);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "every ASCII byte", all);
	cJSON_AddStringToObject(j, "quo\"te\\key\n",
	    "\"\\/\b\f\n\r\t\x01\x1f\x7f");
	cJSON_AddStringToObject(j, "", "");
	cJSON_AddStringToObject(j, "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
	same_as_cjson(j, s);
	free(s);
}
END_TEST

START_TEST(bytes_that_are_not_utf8_become_replacement_characters)
{
	static const struct {
		const char *in, *out;
	} c[] = {
		{ "a\xff" "b", "a\\ufffdb" },
		{ "\x80", "\\ufffd" },			/* stray continuation */
		{ "\xc0\xaf", "\\ufffd\\ufffd" },	/* overlong '/' */
		{ "\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd" }, /* overlong */
		{ "\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd" }, /* surrogate */
		{ "\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd" },
		{ "\xf5", "\\ufffd" },
		{ "x\xe2\x82", "x\\ufffd\\ufffd" },	/* cut at the end */
		{ "\xe2\x82x", "\\ufffd\\ufffdx" },	/* cut in the middle */
		{ "\xc3\xa9\xff\xc3\xa9", "\xc3\xa9\\ufffd\xc3\xa9" },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char want[128];
		struct jw w;
		cJSON *j;
		char *s;

		jw_init(&w, 0);
		jw_open(&w, NULL);
		jw_str(&w, c[i].in, c[i].in);
		jw_close(&w);
		s = finish(&w);
		snprintf(want, sizeof(want), "{\n\t\"%s\":\t\"%s\"\n}",
		    c[i].out, c[i].out);
		ck_assert_msg(strcmp(s, want) == 0, "case %zu: %s", i, s);
		ck_assert_ptr_nonnull(j = cJSON_Parse(s));
		cJSON_Delete(j);
		free(s);
	}
}
END_TEST

START_TEST(numbers_print_as_cjson_prints_them)
{
	static const double d[] = {
		0.0, -0.0, 1.0, -1.0, 25.5, 0.1, 1e-7, 1.0 / 3.0, 2.0 / 3.0,
		99.99999999999999, 1e300, -1e-300, 2147483647.0, 2147483648.0,
		-2147483648.0, -2147483649.0, 1e15, 1e16, 123456789012345678.0,
		4.5e15 + 0.5, 5e-324, 1.7976931348623157e308,
	};
	static const int64_t v[] = {
		0, 1, -1, 42, 2147483647, 2147483648LL, -2147483648LL,
		999999999999999LL, -999999999999999LL, 1000000000000000LL,
		-1000000000000000LL, 9007199254740993LL, INT64_MAX, INT64_MIN,
	};
	struct jw w;
	cJSON *j;
	char key[32], *s;
	size_t i;

	jw_init(&w, 0);
	jw_open(&w, NULL);
	j = cJSON_CreateObject();
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		snprintf(key, sizeof(key), "d%zu", i);
		jw_num(&w, key, d[i]);
		cJSON_AddNumberToObject(j, key, d[i]);
	}
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(key, sizeof(key), "v%zu", i);
		jw_int(&w, key, v[i]);
		cJSON_AddNumberToObject(j, key, (double)v[i]);
	}
	jw_num(&w, "nan", NAN);
	cJSON_AddNumberToObject(j, "nan", NAN);
	jw_num(&w, "inf", -INFINITY);
	cJSON_AddNumberToObject(j, "inf", -INFINITY);
	jw_close(&w);
	s = finish(&w);
	same_as_cjson(j, s);
	free(s);
}
END_TEST

START_TEST(nesting_and_empty_objects_are_laid_out_as_cjson_does)
{
	struct jw w;
	cJSON *j, *a, *b;
	char *s;

	jw_init(&w, 0);
	jw_open(&w, NULL);
	jw_close(&w);
	s = finish(&w);
	same_as_cjson(cJSON_CreateObject(), s);
	free(s);

	jw_init(&w, 16);
	jw_open(&w, NULL);
	jw_open(&w, "a");
	jw_open(&w, "empty");
	jw_close(&w);
	jw_open(&w, "b");
	jw_bool(&w, "t", 1);
	jw_bool(&w, "f", 0);
	jw_null(&w, "n");
	jw_str(&w, "null string", NULL);
	jw_close(&w);
	jw_close(&w);
	jw_time(&w, "at", T0);
	jw_time(&w, "never", 0);
	jw_close(&w);
	s = finish(&w);
	j = cJSON_CreateObject();
	a = cJSON_AddObjectToObject(j, "a");
	cJSON_AddObjectToObject(a, "empty");
	b = cJSON_AddObjectToObject(a, "b");
	cJSON_AddTrueToObject(b, "t");
	cJSON_AddFalseToObject(b, "f");
	cJSON_AddNullToObject(b, "n");
	cJSON_AddNullToObject(b, "null string");
	cJSON_AddStringToObject(j, "at", "2027-01-15T08:00:00Z");
	cJSON_AddNullToObject(j, "never");
	same_as_cjson(j, s);
	free(s);
}
END_TEST

START_TEST(a_cjson_tree_is_printed_in_place_at_any_depth)
{
	const char *src = "{\"x\":{\"list\":[1,{\"k\":\"v\\n\"},[]],"
	    "\"o\":{\"p\":{}}},\"y\":\"tab\\tnew\\nline\"}";
	cJSON *sub = cJSON_Parse(src), *j, *a;
	struct jw w;
	char *s;

	ck_assert_ptr_nonnull(sub);
	jw_init(&w, 0);
	jw_open(&w, NULL);
	jw_open(&w, "a");
	jw_int(&w, "before", 1);
	jw_cjson_members(&w, sub);
	jw_cjson(&w, "whole", sub);
	jw_close(&w);
	jw_close(&w);
	s = finish(&w);
	j = cJSON_CreateObject();
	a = cJSON_AddObjectToObject(j, "a");
	cJSON_AddNumberToObject(a, "before", 1);
	cJSON_AddItemToObject(a, "x",
	    cJSON_Duplicate(cJSON_GetObjectItem(sub, "x"), 1));
	cJSON_AddItemToObject(a, "y",
	    cJSON_Duplicate(cJSON_GetObjectItem(sub, "y"), 1));
	cJSON_AddItemToObject(a, "whole", cJSON_Duplicate(sub, 1));
	same_as_cjson(j, s);
	cJSON_Delete(sub);
	free(s);
}
END_TEST

START_TEST(a_misused_writer_reports_it_and_frees_its_text)
{
	struct jw w;
	char *s = NULL;
	size_t n = 0;

	jw_init(&w, 0);
	jw_open(&w, NULL);
	jw_int(&w, "a", 1);
	ck_assert_int_eq(jw_finish(&w, &s, &n), -1);	/* left open */
	jw_init(&w, 0);
	jw_open(&w, NULL);
	jw_int(&w, NULL, 1);				/* member without key */
	jw_close(&w);
	ck_assert_int_eq(jw_finish(&w, &s, &n), -1);
	jw_init(&w, 0);
	jw_open(&w, NULL);
	jw_close(&w);
	jw_close(&w);					/* one too many */
	ck_assert_int_eq(jw_finish(&w, &s, &n), -1);
	ck_assert_ptr_null(s);
}
END_TEST

/* -- the status document ------------------------------------------------ */

static uint64_t rng = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int
pick(int n)
{
	return (int)(rnd() % (uint64_t)n);
}

static int64_t
count(void)
{
	switch (pick(4)) {
	case 0:
		return 0;
	case 1:
		return pick(1000);
	case 2:
		return (int64_t)(rnd() % (uint64_t)TRK_COUNT_MAX);
	default:
		return TRK_COUNT_MAX;
	}
}

static double
pct(void)
{
	static const double odd[] = { 0.0, 100.0, 80.5, 1.0 / 3.0, 1e6,
	    99.99999999999999, 33.300000000000004 };

	if (pick(2))
		return odd[pick(sizeof(odd) / sizeof(odd[0]))];
	return (double)(rnd() % 15000000) / 100000.0;
}

/* printable ASCII with the characters JSON escapes, and control ones */
static void
name(char *out, size_t len, int hostile)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz-._0123456789"
	    "\"\\/ {}:,";
	size_t n = 1 + (size_t)pick((int)len - 1), i;

	for (i = 0; i < n; i++)
		out[i] = hostile && pick(8) == 0 ? (char)(1 + pick(31)) :
		    set[pick(sizeof(set) - 1)];
	out[n] = '\0';
}

static void
tokens(struct trk_tokens *tk)
{
	tk->input = count();
	tk->output = count();
	tk->cache_creation_input = count();
	tk->cache_read_input = count();
}

static struct trk *
random_tracker(void)
{
	struct trk *t = trk_new(NULL);
	char m[TRK_NAME_LEN], p[TRK_NAME_LEN];
	struct trk_tokens tk = { 1, 2, 3, 4 };
	int i, k, n;

	ck_assert_ptr_nonnull(t);
	n = pick(3) == 0 ? 0 : 1 + pick(300);
	for (i = 0; i < n; i++) {
		snprintf(m, sizeof(m), "model-%d", pick(n));
		snprintf(p, sizeof(p), "prog-%d", pick(n));
		trk_usage_add(t, m, p, &tk, 1);
	}
	for (i = 0; i < t->nmodels; i++) {
		if (pick(3) == 0)
			name(t->models[i].name, TRK_NAME_LEN, 1);
		t->models[i].requests = count();
		tokens(&t->models[i].tokens);
	}
	for (i = 0; i < t->nprogs; i++) {
		if (pick(3) == 0)
			name(t->progs[i].name, TRK_NAME_LEN, 1);
		t->progs[i].requests = count();
		tokens(&t->progs[i].tokens);
	}
	t->nwin = TRK_WIN_FIXED + pick(TRK_WIN_MAX - TRK_WIN_FIXED + 1);
	for (i = 0; i < t->nwin; i++) {
		struct trk_window *win = &t->win[i];

		if (i >= TRK_WIN_FIXED)
			snprintf(win->name, sizeof(win->name), "%s%d",
			    pick(2) ? "seven_day_x" : "five_hour_y", i);
		if (pick(2))
			name(win->label, sizeof(win->label), 1);
		win->match = pick(3);
		win->has_util = pick(4) != 0;
		win->utilization = pct();
		win->source = pick(TRK_SRC_COUNT);
		win->observed_at = pick(3) ? T0 - pick(100000) : 0;
		win->resets_at = pick(4) ? T0 + pick(7 * 86400) -
		    (pick(5) == 0 ? 8 * 86400 : 0) : 0;
		win->status = pick(6);
		tokens(&win->tokens);
		win->rollovers = count();
		for (k = pick(20); k > 0; k--)
			fc_add(&win->fc, T0 - k * 600, win->utilization -
			    k * pct() / 100, win->resets_at,
			    fc_window_length(win->name));
	}
	t->extra.known = pick(2);
	t->extra.is_enabled = pick(2);
	t->extra.has_monthly_limit = pick(2);
	t->extra.monthly_limit = pct() * 100;
	t->extra.has_used_credits = pick(2);
	t->extra.used_credits = pct() * 7;
	t->extra.has_util = pick(2);
	t->extra.utilization = pct();
	t->spend.known = pick(2);
	t->spend.used.known = pick(2);
	t->spend.used.amount_minor = count();
	t->spend.used.exponent = pick(10);
	if (pick(2))
		snprintf(t->spend.used.currency, 8, "USD");
	t->spend.limit = t->spend.used;
	t->spend.limit.amount_minor = count();
	t->spend.has_percent = pick(2);
	t->spend.percent = pct();
	t->spend.enabled = pick(3) - 1;
	if (pick(2))
		name(t->spend.disabled_reason, 48, 1);
	for (i = 0; i < TRK_API_COUNT; i++) {
		t->api[i].known = pick(2);
		t->api[i].limit = count();
		t->api[i].remaining = count();
		t->api[i].reset = pick(2) ? T0 + pick(200) - 100 : 0;
	}
	t->unified_status = pick(6);
	t->representative_claim = pick(8);
	t->retry_after = pick(2) ? -1 : count();
	t->retry_after_at = pick(2) ? T0 - 5 : 0;
	t->requests_total = count();
	t->requests_rate_limited = count();
	t->requests_overloaded = count();
	t->requests_errors = count();
	t->usage_unreadable = count();
	t->requests_cut_short = count();
	tokens(&t->tokens_total);
	t->datagrams_accepted = count();
	for (i = 1; i < RTP_E_COUNT; i++)
		t->datagrams_rejected[i] = count();
	t->datagrams_foreign = count();
	t->client_drops = count();
	t->poll_last_ok = pick(2) ? T0 - 300 : 0;
	t->poll_last_attempt = pick(2) ? T0 - 10 : 0;
	if (pick(2))
		name(t->poll_last_error, 80, 1);
	t->poll_ok_total = count();
	t->poll_fail_total = count();
	t->jrn.offset = count();
	t->jrn.size = count();
	t->jrn.held = count();
	t->jrn.cap = count();
	t->jrn.records = count();
	t->jrn.repeats = count();
	t->jrn.corrupt_bytes = count();
	t->jrn.refused = count();
	t->jrn.disk_full = pick(2);
	if (pick(2))
		name(t->jrn.error, 60, 1);
	return t;
}

static void
random_daemon(struct status_daemon *d, char *paths, size_t len)
{
	memset(d, 0, sizeof(*d));
	name(paths, len / 3, 1);
	name(paths + len / 3, len / 3, 1);
	d->version = pick(4) ? "0.1.0" : NULL;
	d->pid = pick(100000);
	d->started_at = pick(4) ? T0 - 3600 : 0;
	d->poll_enabled = pick(2);
	d->poll_next_at = pick(2) ? T0 + 60 : 0;
	d->poll_interval = 1 + pick(600);
	d->control.open = (unsigned long)pick(10);
	d->control.accepted = (unsigned long)count();
	d->control.unauthorized = ULONG_MAX;
	d->has_metrics_listener = pick(2);
	d->metrics_listener.refused = (unsigned long)count();
	d->journal_path = pick(4) ? paths : NULL;
	d->state_path = pick(4) ? paths + len / 3 : NULL;
	d->state_saved_at = pick(2) ? T0 - 1 : 0;
	d->state_save_error = pick(2) ? "" : pick(2) ? NULL : "No space";
	d->state_recovered_from = pick(2) ? NULL : "state.json.corrupt-1";
	d->poll_skipped = count();
}

START_TEST(the_status_text_is_what_cjson_printed_for_random_trackers)
{
	int i;

	for (i = 0; i < 300; i++) {
		struct trk *t = random_tracker();
		struct status_daemon d;
		char paths[192], *s, *ref;
		time_t now = T0 + pick(600);
		size_t n;
		cJSON *j, *r;

		random_daemon(&d, paths, sizeof(paths));
		ck_assert_int_eq(status_render(t, now, i % 2 ? &d : NULL, &s,
		    &n), 0);
		ck_assert_uint_eq(strlen(s), n);
		r = ref_status_json(t, now, i % 2 ? &d : NULL);
		ck_assert_ptr_nonnull(r);
		ref = cJSON_Print(r);
		ck_assert_msg(strcmp(s, ref) == 0, "tracker %d differs", i);
		/* and the same document when parsed */
		ck_assert_ptr_nonnull(j = cJSON_ParseWithLength(s, n));
		ck_assert(cJSON_Compare(j, r, 1));
		cJSON_Delete(j);
		ck_assert_ptr_nonnull(j = status_json(t, now,
		    i % 2 ? &d : NULL));
		ck_assert(cJSON_Compare(j, r, 1));
		cJSON_Delete(j);
		cJSON_Delete(r);
		free(ref);
		free(s);
		trk_free(t);
	}
}
END_TEST

START_TEST(hostile_names_give_a_valid_document)
{
	static const char *bad[] = {
		"q\"uote", "back\\slash", "ctl\x01\x1b\x7f", "nl\n\r\t",
		"bad\xff\xfe", "cut\xe2\x82", "\xc3\xa9t\xc3\xa9",
	};
	static const char *want[] = {
		"q\"uote", "back\\slash", "ctl\x01\x1b\x7f", "nl\n\r\t",
		"bad\xef\xbf\xbd\xef\xbf\xbd", "cut\xef\xbf\xbd\xef\xbf\xbd",
		"\xc3\xa9t\xc3\xa9",
	};
	struct trk *t = trk_new(NULL);
	struct trk_tokens tk = { 1, 2, 3, 4 };
	char nm[16];
	size_t i;
	cJSON *j, *ms, *ps;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(nm, sizeof(nm), "m%zu", i);
		trk_usage_add(t, nm, nm, &tk, 1);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(t->models[i].name, TRK_NAME_LEN, "%s", bad[i]);
		snprintf(t->progs[i].name, TRK_NAME_LEN, "%s", bad[i]);
	}
	snprintf(t->poll_last_error, TRK_ERR_LEN, "%s", "err\xc0\x80\"");
	ck_assert_ptr_nonnull(j = status_json(t, T0, NULL));
	ms = cJSON_GetObjectItemCaseSensitive(j, "models");
	ps = cJSON_GetObjectItemCaseSensitive(j, "processes");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(cJSON_GetObjectItemCaseSensitive(ms, want[i]) !=
		    NULL, "model %zu", i);
		ck_assert_msg(cJSON_GetObjectItemCaseSensitive(ps, want[i]) !=
		    NULL, "program %zu", i);
	}
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "poll"), "last_error")->
	    valuestring, "err\xef\xbf\xbd\xef\xbf\xbd\"");
	cJSON_Delete(j);
	trk_free(t);
}
END_TEST

static int
add_two(void *arg, struct jw *w)
{
	cJSON *o = cJSON_CreateObject(), *x;

	(void)arg;
	x = cJSON_AddObjectToObject(o, "transcripts");
	cJSON_AddNumberToObject(x, "files", 3);
	cJSON_AddObjectToObject(o, "ledger");
	jw_cjson_members(w, o);
	cJSON_Delete(o);
	return 0;
}

static int
add_fails(void *arg, struct jw *w)
{
	(void)arg;
	(void)w;
	return -1;
}

START_TEST(the_sources_objects_come_after_daemon_and_before_control)
{
	struct trk *t = trk_new(NULL);
	struct status_daemon d;
	const cJSON *c;
	const char *order[] = { "generated_at", "daemon", "transcripts",
	    "ledger", "control", "journal", "state" };
	size_t i = 0, n;
	char *s;
	cJSON *j;

	memset(&d, 0, sizeof(d));
	d.add_source = add_two;
	ck_assert_ptr_nonnull(j = status_json(t, T0, &d));
	for (c = j->child; c != NULL; c = c->next)
		if (i < 7 && strcmp(c->string, order[i]) == 0)
			i++;
	ck_assert_uint_eq(i, 7);
	ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "transcripts"), "files")->
	    valueint, 3);
	cJSON_Delete(j);
	d.add_source = add_fails;
	ck_assert_int_eq(status_render(t, T0, &d, &s, &n), -1);
	trk_free(t);
}
END_TEST

static Suite *
status_suite(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, strings_are_escaped_as_cjson_escapes_them);
	tcase_add_test(tc,
	    bytes_that_are_not_utf8_become_replacement_characters);
	tcase_add_test(tc, numbers_print_as_cjson_prints_them);
	tcase_add_test(tc,
	    nesting_and_empty_objects_are_laid_out_as_cjson_does);
	tcase_add_test(tc, a_cjson_tree_is_printed_in_place_at_any_depth);
	tcase_add_test(tc, a_misused_writer_reports_it_and_frees_its_text);
	tcase_add_test(tc,
	    the_status_text_is_what_cjson_printed_for_random_trackers);
	tcase_add_test(tc, hostile_names_give_a_valid_document);
	tcase_add_test(tc,
	    the_sources_objects_come_after_daemon_and_before_control);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(status_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
