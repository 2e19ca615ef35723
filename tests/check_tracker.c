/*
 * Unit tests of the tracker (daemon/tracker.c, daemon/status.c): every
 * tracker rule of docs/tracker.md, the counters, the tables and the status
 * JSON.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../daemon/log.h"
#include "../daemon/pollparse.h"
#include "../daemon/status.h"
#include "../daemon/tracker.h"
#include "daemontest.h"

#define T0	((time_t)1800000000)	/* 2027-01-15T08:00:00Z */
#define HOUR	3600
#define DAY	86400


static void
setup(void)
{
	capture_reset();
	log_init("ratetapd", 0);
	log_set_sink(capture, NULL);
}

static void
teardown(void)
{
	log_set_sink(NULL, NULL);
}

/* ---- event builders ---- */

static struct rtp_event
ev_msg(const char *model, int64_t in, int64_t out, int64_t cc, int64_t cr)
{
	return msg_event(model, "curl", in, out, cc, cr);
}

static struct rtp_event
ev_none(int http)
{
	struct rtp_event ev = ev_msg("", 0, 0, 0, 0);

	ev.usage_state = RTP_USAGE_NONE;
	ev.http_status = (uint16_t)http;
	return ev;
}

static void
set_d(struct rtp_event *ev, int k, double v)
{
	ev->d[k] = v;
	ev->present |= RTP_PRESENT_D(k);
}

static void
set_i(struct rtp_event *ev, int k, int64_t v)
{
	ev->i[k] = v;
	ev->present |= RTP_PRESENT_I(k);
}

/* A validated copy, as the daemon would hand it to trk_event(). */
static void
feed(struct trk *t, const struct rtp_event *ev, time_t now)
{
	struct rtp_event ok;

	ck_assert_int_eq(rtp_validate(ev, sizeof(*ev), &ok), RTP_OK);
	trk_event(t, &ok, now);
}

static void
poll_win(struct trk_poll *p, int w, double util, time_t reset)
{
	p->win[w].present = 1;
	p->win[w].has_util = util >= 0.0;
	p->win[w].utilization = util >= 0.0 ? util : 0.0;
	p->win[w].resets_at = reset;
}

static struct trk *
fresh(void)
{
	struct trk *t = trk_new(NULL);

	ck_assert_ptr_nonnull(t);
	return t;
}

/* ---- units ---- */

START_TEST(header_utilization_fraction_is_stored_as_percent)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_none(200);

	set_d(&ev, RTP_D_UTIL_5H, 0.25);
	set_d(&ev, RTP_D_UTIL_7D, 1.5);
	set_d(&ev, RTP_D_UTIL_7D_SONNET, 0.125);
	set_d(&ev, RTP_D_UTIL_7D_OPUS, 0.0);
	feed(t, &ev, T0);
	ck_assert(t->win[TRK_FIVE_HOUR].has_util);
	ck_assert_double_eq_tol(t->win[TRK_FIVE_HOUR].utilization, 25.0, 1e-9);
	ck_assert_double_eq_tol(t->win[TRK_SEVEN_DAY].utilization, 150.0, 1e-9);
	ck_assert_double_eq_tol(t->win[TRK_SEVEN_DAY_SONNET].utilization,
	    12.5, 1e-9);
	ck_assert(t->win[TRK_SEVEN_DAY_OPUS].has_util);
	ck_assert_double_eq(t->win[TRK_SEVEN_DAY_OPUS].utilization, 0.0);
	trk_free(t);
}
END_TEST

START_TEST(poll_utilization_percent_is_stored_as_is)
{
	struct trk *t = fresh();
	struct trk_poll p;

	memset(&p, 0, sizeof(p));
	poll_win(&p, TRK_FIVE_HOUR, 25.0, T0 + HOUR);
	poll_win(&p, TRK_SEVEN_DAY, 50.5, T0 + 3 * DAY);
	trk_poll_ok(t, &p, T0);
	ck_assert_double_eq(t->win[TRK_FIVE_HOUR].utilization, 25.0);
	ck_assert_double_eq(t->win[TRK_SEVEN_DAY].utilization, 50.5);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, T0 + HOUR);
	ck_assert(!t->win[TRK_SEVEN_DAY_OPUS].has_util);
	trk_free(t);
}
END_TEST

START_TEST(header_reset_unix_seconds_is_stored_as_utc)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_none(200);
	char buf[32];

	set_i(&ev, RTP_I_RESET_5H, T0 + 2 * HOUR);
	set_i(&ev, RTP_I_RESET_7D, T0 + 2 * DAY);
	set_i(&ev, RTP_I_RESET_7D_OPUS, T0 + 3 * DAY);
	feed(t, &ev, T0);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, T0 + 2 * HOUR);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].resets_at, T0 + 2 * DAY);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].resets_at, T0 + 3 * DAY);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].resets_at, 0);
	rt_time_format(t->win[TRK_FIVE_HOUR].resets_at, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2027-01-15T10:00:00Z");
	trk_free(t);
}
END_TEST

START_TEST(parse_time_accepts_rfc3339_with_fractions_and_offsets)
{
	static const struct {
		const char *s;
		time_t want;
	} cases[] = {
		{ "2027-01-15T08:00:00Z", T0 },
		{ "2027-01-15T08:00:00.123456Z", T0 },
		{ "2027-01-15T08:00:00.5+00:00", T0 },
		{ "2027-01-15T10:30:00+02:30", T0 },
		{ "2027-01-15T03:00:00-05:00", T0 },
		{ "2027-01-14T23:59:59.999999999-08:00", T0 - 1 },
		{ "2027-01-15t08:00:00z", T0 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2028-02-29T00:00:00Z", 1835395200 },
		{ "9999-12-31T23:59:59Z", 253402300799 },
	};
	size_t i;
	time_t got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = -7;
		ck_assert_msg(rt_time_parse(cases[i].s, &got) == 0,
		    "refused %s", cases[i].s);
		ck_assert_msg(got == cases[i].want, "%s gave %lld",
		    cases[i].s, (long long)got);
	}
}
END_TEST

START_TEST(parse_time_rejects_garbage_ranges_and_trailing_junk)
{
	static const char *const bad[] = {
		"", "garbage", "2027-01-15", "2027-01-15T08:00:00",
		"2027-01-15T08:00Z", "2027-01-15 08:00:00Z",
		"2027-01-15T08:00:00Zjunk", "2027-01-15T08:00:00Z ",
		" 2027-01-15T08:00:00Z", "2027-13-01T00:00:00Z",
		"2027-00-01T00:00:00Z", "2027-02-29T00:00:00Z",
		"2027-04-31T00:00:00Z", "2027-01-00T00:00:00Z",
		"2027-01-15T24:00:00Z", "2027-01-15T08:60:00Z",
		"2027-01-15T08:00:61Z", "2027-01-15T08:00:00.Z",
		"2027-01-15T08:00:00+24:00", "2027-01-15T08:00:00+02:60",
		"2027-01-15T08:00:00+0200", "2027-01-15T08:00:00+02",
		"1969-12-31T23:59:59Z", "1970-01-01T00:00:00+00:01",
		"+2027-01-15T08:00:00Z", "2027-1-15T08:00:00Z",
		"20270115T080000Z", "2027-01-15T08:00:00.1234567890123456789Z",
		"1800000000", "２027-01-15T08:00:00Z",
	};
	size_t i;
	time_t got = 42;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(rt_time_parse(bad[i], &got) == -1,
		    "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(got, 42);
	ck_assert_int_eq(rt_time_parse(NULL, &got), -1);
}
END_TEST

START_TEST(format_time_round_trips_through_parse_time)
{
	char buf[32];
	time_t got;
	time_t v[] = { 0, T0, T0 + 12345, 253402300799 };
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		rt_time_format(v[i], buf, sizeof(buf));
		ck_assert_int_eq(strlen(buf), 20);
		ck_assert_int_eq(rt_time_parse(buf, &got), 0);
		ck_assert_int_eq(got, v[i]);
	}
}
END_TEST

/* ---- usage ---- */

START_TEST(messages_usage_adds_to_five_hour_and_seven_day)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-haiku-4-5", 11, 22, 3, 5);

	feed(t, &ev, T0);
	feed(t, &ev, T0 + 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 22);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.output, 44);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.cache_creation_input, 6);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.cache_read_input, 10);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].tokens.output, 44);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].tokens.output, 0);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].tokens.output, 0);
	ck_assert_int_eq(t->tokens_total.input, 22);
	ck_assert_int_eq(t->tokens_total.cache_read_input, 10);
	trk_free(t);
}
END_TEST

START_TEST(sonnet_and_opus_models_also_count_in_their_windows)
{
	struct trk *t = fresh();
	struct rtp_event s = ev_msg("claude-Sonnet-4-5", 10, 20, 0, 0);
	struct rtp_event o = ev_msg("CLAUDE-OPUS-4-1", 100, 200, 0, 0);

	feed(t, &s, T0);
	feed(t, &o, T0);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].tokens.input, 10);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].tokens.output, 20);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].tokens.input, 100);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].tokens.output, 200);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 110);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].tokens.output, 220);
	trk_free(t);
}
END_TEST

START_TEST(count_tokens_and_other_paths_are_never_usage)
{
	struct trk *t = fresh();
	const char *paths[] = { "/v1/messages/count_tokens", "/v1/messages/",
	    "/v1/message", "/v1/complete", "/api/oauth/usage", "" };
	struct rtp_event ev;
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		ev = ev_msg("claude-sonnet-4-5", 7, 7, 7, 7);
		memset(ev.path, 0, sizeof(ev.path));
		snprintf(ev.path, sizeof(ev.path), "%s", paths[i]);
		feed(t, &ev, T0);
	}
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 0);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].tokens.input, 0);
	ck_assert_int_eq(t->tokens_total.input, 0);
	ck_assert_int_eq(t->nmodels, 0);
	ck_assert_int_eq(t->requests_total, 6);
	ck_assert_int_eq(t->nprogs, 1);
	ck_assert_int_eq(t->progs[0].requests, 6);
	ck_assert_int_eq(t->progs[0].tokens.input, 0);
	trk_free(t);
}
END_TEST

START_TEST(request_counters_classify_every_outcome)
{
	struct trk *t = fresh();
	struct rtp_event ev;

	ev = ev_msg("claude-sonnet-4-5", 1, 1, 0, 0);
	feed(t, &ev, T0);			/* ok */
	ev = ev_none(429);
	feed(t, &ev, T0);			/* rate limited */
	ev = ev_none(200);
	ev.unified_status = RTP_US_REJECTED;
	feed(t, &ev, T0);			/* rate limited */
	ev = ev_none(529);
	feed(t, &ev, T0);			/* overloaded */
	ev = ev_none(500);
	feed(t, &ev, T0);			/* error */
	ev = ev_none(400);
	feed(t, &ev, T0);			/* error */
	ev = ev_none(0);
	ev.curl_code = 7;
	feed(t, &ev, T0);			/* no response: error */
	ev = ev_none(200);
	ev.usage_state = RTP_USAGE_UNREADABLE;
	ev.dropped = 3;
	feed(t, &ev, T0);			/* unreadable */
	ev = ev_none(200);
	ev.dropped = 2;
	feed(t, &ev, T0);

	ck_assert_int_eq(t->requests_total, 8);
	ck_assert_int_eq(t->requests_rate_limited, 2);
	ck_assert_int_eq(t->requests_overloaded, 1);
	ck_assert_int_eq(t->requests_errors, 3);
	ck_assert_int_eq(t->usage_unreadable, 1);
	ck_assert_int_eq(t->client_drops, 5);
	ck_assert_int_eq(t->datagrams_accepted, 9);
	ck_assert_int_eq(t->last_event, T0);
	ck_assert(t->dirty);
	trk_free(t);
}
END_TEST

START_TEST(a_drops_only_event_counts_its_drops_and_no_request)
{
	struct trk *t = fresh();
	struct rtp_event ev;

	rtp_init(&ev);
	ev.pid = 4242;
	ev.seq = 30;
	ev.flags = RTP_F_DROPS_ONLY;
	ev.dropped = 19;
	snprintf(ev.prog, sizeof(ev.prog), "burst");
	feed(t, &ev, T0);
	ck_assert_int_eq(t->client_drops, 19);
	ck_assert_int_eq(t->datagrams_accepted, 1);
	ck_assert_int_eq(t->requests_total, 0);
	ck_assert_int_eq(t->requests_errors, 0);
	ck_assert_int_eq(t->nprogs, 0);
	ck_assert_int_eq(t->nmodels, 0);
	ck_assert(t->dirty);
	/* a transfer after it counts as usual */
	ev = ev_none(200);
	ev.dropped = 1;
	feed(t, &ev, T0);
	ck_assert_int_eq(t->client_drops, 20);
	ck_assert_int_eq(t->requests_total, 1);
	ck_assert_int_eq(t->nprogs, 1);
	trk_free(t);
}
END_TEST

START_TEST(models_and_programs_keep_their_own_totals)
{
	struct trk *t = fresh();
	struct rtp_event a = ev_msg("claude-sonnet-4-5", 10, 20, 1, 2);
	struct rtp_event b = ev_msg("claude-opus-4-1", 5, 6, 7, 8);
	struct rtp_event e = ev_none(429);
	int i;

	snprintf(b.prog, sizeof(b.prog), "python3");
	snprintf(e.prog, sizeof(e.prog), "php");
	feed(t, &a, T0);
	feed(t, &a, T0);
	feed(t, &b, T0);
	feed(t, &e, T0);
	ck_assert_int_eq(t->nmodels, 2);
	for (i = 0; i < t->nmodels; i++) {
		if (strcmp(t->models[i].name, "claude-sonnet-4-5") == 0) {
			ck_assert_int_eq(t->models[i].requests, 2);
			ck_assert_int_eq(t->models[i].tokens.input, 20);
			ck_assert_int_eq(t->models[i].tokens.cache_read_input, 4);
		} else {
			ck_assert_str_eq(t->models[i].name, "claude-opus-4-1");
			ck_assert_int_eq(t->models[i].requests, 1);
			ck_assert_int_eq(t->models[i].tokens.output, 6);
		}
	}
	ck_assert_int_eq(t->nprogs, 3);
	ck_assert_str_eq(t->progs[0].name, "curl");
	ck_assert_int_eq(t->progs[0].requests, 2);
	ck_assert_int_eq(t->progs[0].tokens.output, 40);
	ck_assert_str_eq(t->progs[1].name, "python3");
	ck_assert_int_eq(t->progs[1].tokens.cache_creation_input, 7);
	ck_assert_str_eq(t->progs[2].name, "php");
	ck_assert_int_eq(t->progs[2].requests, 1);
	ck_assert_int_eq(t->progs[2].tokens.input, 0);
	trk_free(t);
}
END_TEST

START_TEST(models_and_programs_beyond_the_cap_fold_into_other)
{
	struct trk *t = fresh();
	struct rtp_event ev;
	int i, other = -1;

	for (i = 0; i < TRK_MAX_MODELS + 40; i++) {
		ev = ev_msg("", 1, 1, 0, 0);
		snprintf(ev.model, sizeof(ev.model), "model-%d", i);
		snprintf(ev.prog, sizeof(ev.prog), "prog-%d", i);
		feed(t, &ev, T0);
	}
	ck_assert_int_eq(t->nmodels, TRK_MAX_MODELS);
	ck_assert_int_eq(t->nprogs, TRK_MAX_PROGS);
	for (i = 0; i < t->nmodels; i++)
		if (strcmp(t->models[i].name, "other") == 0)
			other = i;
	ck_assert_int_eq(other, TRK_MAX_MODELS - 1);
	ck_assert_int_eq(t->models[other].requests, 41);
	ck_assert_str_eq(t->progs[TRK_MAX_PROGS - 1].name, "other");
	ck_assert_int_eq(t->progs[TRK_MAX_PROGS - 1].requests, 41);
	/* a known name still finds its own row */
	ev = ev_msg("model-3", 1, 1, 0, 0);
	feed(t, &ev, T0);
	ck_assert_int_eq(t->models[3].requests, 2);
	ck_assert_int_eq(t->tokens_total.input, TRK_MAX_MODELS + 41);
	trk_free(t);
}
END_TEST

START_TEST(hostile_or_empty_names_are_made_printable)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("x", 1, 1, 0, 0);

	/* bypass the validator: the tracker must not trust the strings */
	snprintf(ev.model, sizeof(ev.model), "evil\n\x1b[31mmodel");
	ev.prog[0] = '\0';
	trk_event(t, &ev, T0);
	ck_assert_int_eq(t->nmodels, 1);
	ck_assert_str_eq(t->models[0].name, "evil??[31mmodel");
	ck_assert_str_eq(t->progs[0].name, "unknown");
	trk_free(t);
}
END_TEST

/* ---- rollover ---- */

START_TEST(header_moving_reset_first_then_poll_rolls_over_exactly_once)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-sonnet-4-5", 100, 100, 0, 0);
	struct trk_poll p;
	time_t r1 = T0 + HOUR, r2 = T0 + 6 * HOUR;

	/* window known from the poll, with tokens in it */
	memset(&p, 0, sizeof(p));
	poll_win(&p, TRK_FIVE_HOUR, 90.0, r1);
	trk_poll_ok(t, &p, T0);
	feed(t, &ev, T0 + 60);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 100);

	/* a header moves the reset to the next window first */
	ev = ev_msg("claude-sonnet-4-5", 7, 8, 0, 0);
	set_i(&ev, RTP_I_RESET_5H, r2);
	set_d(&ev, RTP_D_UTIL_5H, 0.01);
	feed(t, &ev, T0 + 120);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, r2);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 7);

	/* more usage, then the poll reports the same new reset */
	ev = ev_msg("claude-sonnet-4-5", 5, 5, 0, 0);
	feed(t, &ev, T0 + 180);
	memset(&p, 0, sizeof(p));
	poll_win(&p, TRK_FIVE_HOUR, 1.0, r2 + 30);
	trk_poll_ok(t, &p, T0 + 240);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, r2);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 12);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.output, 13);
	ck_assert_int_eq(logged(LOG_L_INFO, "five_hour", "rolled over"), 1);
	/* seven_day never had a reset: it kept everything */
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].tokens.input, 112);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].rollovers, 0);
	trk_free(t);
}
END_TEST

START_TEST(poll_moving_reset_first_then_header_rolls_over_exactly_once)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-opus-4-1", 50, 50, 0, 0);
	struct trk_poll p;
	time_t r1 = T0 + DAY, r2 = T0 + 8 * DAY;

	set_i(&ev, RTP_I_RESET_7D, r1);
	set_i(&ev, RTP_I_RESET_7D_OPUS, r1);
	feed(t, &ev, T0);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].tokens.input, 50);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].tokens.input, 50);

	memset(&p, 0, sizeof(p));
	poll_win(&p, TRK_SEVEN_DAY, 2.0, r2);
	poll_win(&p, TRK_SEVEN_DAY_OPUS, 3.0, r2);
	trk_poll_ok(t, &p, T0 + 60);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].tokens.input, 0);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].tokens.input, 0);

	ev = ev_msg("claude-opus-4-1", 4, 4, 0, 0);
	set_i(&ev, RTP_I_RESET_7D, r2 - 300);
	set_i(&ev, RTP_I_RESET_7D_OPUS, r2 + 300);
	feed(t, &ev, T0 + 120);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].tokens.input, 4);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].tokens.input, 4);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].resets_at, r2);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 0);
	trk_free(t);
}
END_TEST

START_TEST(time_passing_the_reset_rolls_over_once_and_clears_utilization)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-sonnet-4-5", 10, 10, 0, 0);
	struct trk_poll p;
	time_t r1 = T0 + HOUR;

	set_i(&ev, RTP_I_RESET_5H, r1);
	set_d(&ev, RTP_D_UTIL_5H, 0.6);
	feed(t, &ev, T0);
	trk_tick(t, r1 - 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 0);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 10);

	trk_tick(t, r1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 0);
	ck_assert(t->win[TRK_FIVE_HOUR].has_util);
	ck_assert_double_eq(t->win[TRK_FIVE_HOUR].utilization, 0.0);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, 0);
	ck_assert_int_eq(logged(LOG_L_INFO, "five_hour", "unknown"), 1);

	/* never twice: more ticks, and a lagging poll repeating the old
	   (now past) reset and its old utilization */
	trk_tick(t, r1 + 10);
	memset(&p, 0, sizeof(p));
	poll_win(&p, TRK_FIVE_HOUR, 60.0, r1);
	trk_poll_ok(t, &p, r1 + 20);
	ev = ev_msg("claude-sonnet-4-5", 3, 3, 0, 0);
	feed(t, &ev, r1 + 30);
	trk_tick(t, r1 + 40);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 3);
	ck_assert_double_eq(t->win[TRK_FIVE_HOUR].utilization, 0.0);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, 0);

	/* the new reset arrives: stored, no second rollover */
	ev = ev_msg("claude-sonnet-4-5", 1, 1, 0, 0);
	set_i(&ev, RTP_I_RESET_5H, r1 + 5 * HOUR);
	set_d(&ev, RTP_D_UTIL_5H, 0.02);
	feed(t, &ev, r1 + 50);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, r1 + 5 * HOUR);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 4);
	ck_assert_double_eq_tol(t->win[TRK_FIVE_HOUR].utilization, 2.0, 1e-9);
	trk_free(t);
}
END_TEST

START_TEST(an_event_after_the_reset_rolls_over_before_counting)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-sonnet-4-5", 10, 10, 0, 0);

	set_i(&ev, RTP_I_RESET_5H, T0 + HOUR);
	feed(t, &ev, T0);
	ev = ev_msg("claude-sonnet-4-5", 2, 2, 0, 0);
	feed(t, &ev, T0 + 2 * HOUR);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 2);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].tokens.input, 12);
	trk_free(t);
}
END_TEST

START_TEST(jitter_within_ten_minutes_either_way_keeps_the_stored_reset)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-sonnet-4-5", 10, 10, 0, 0);
	struct trk_poll p;
	time_t r = T0 + 3 * HOUR;

	set_i(&ev, RTP_I_RESET_5H, r);
	feed(t, &ev, T0);
	ev = ev_none(200);
	set_i(&ev, RTP_I_RESET_5H, r + TRK_JITTER_SECS);
	feed(t, &ev, T0 + 1);
	ev = ev_none(200);
	set_i(&ev, RTP_I_RESET_5H, r - TRK_JITTER_SECS);
	set_d(&ev, RTP_D_UTIL_5H, 0.3);
	feed(t, &ev, T0 + 2);
	memset(&p, 0, sizeof(p));
	poll_win(&p, TRK_FIVE_HOUR, 31.0, r + 599);
	trk_poll_ok(t, &p, T0 + 100);
	poll_win(&p, TRK_FIVE_HOUR, 32.0, r - 599);
	trk_poll_ok(t, &p, T0 + 101);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, r);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 0);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 10);
	/* jitter is still current data: the (fresher) utilization applies */
	ck_assert_double_eq(t->win[TRK_FIVE_HOUR].utilization, 32.0);

	/* one second beyond the jitter is a new window */
	poll_win(&p, TRK_FIVE_HOUR, 1.0, r + TRK_JITTER_SECS + 1);
	trk_poll_ok(t, &p, T0 + 102);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 0);
	trk_free(t);
}
END_TEST

START_TEST(an_earlier_reset_never_replaces_a_future_one)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-sonnet-4-5", 10, 10, 0, 0);
	struct trk_poll p;
	time_t r = T0 + 5 * HOUR;

	set_i(&ev, RTP_I_RESET_5H, r);
	set_d(&ev, RTP_D_UTIL_5H, 0.05);
	feed(t, &ev, T0);
	/* the lagging endpoint still reports the previous, earlier window */
	memset(&p, 0, sizeof(p));
	poll_win(&p, TRK_FIVE_HOUR, 95.0, T0 + 30 * 60);
	trk_poll_ok(t, &p, T0 + 60);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, r);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 0);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 10);
	/* and its stale utilization is not taken either */
	ck_assert_double_eq_tol(t->win[TRK_FIVE_HOUR].utilization, 5.0, 1e-9);
	ck_assert_int_eq(logged(LOG_L_WARN, "five_hour", NULL), 0);
	/* same from a header */
	ev = ev_none(200);
	set_i(&ev, RTP_I_RESET_5H, T0 + HOUR);
	set_d(&ev, RTP_D_UTIL_5H, 0.97);
	feed(t, &ev, T0 + 120);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, r);
	ck_assert_double_eq_tol(t->win[TRK_FIVE_HOUR].utilization, 5.0, 1e-9);
	trk_free(t);
}
END_TEST

START_TEST(a_flip_flopping_reset_zeroes_the_counters_once)
{
	struct trk *t = fresh();
	struct rtp_event ev;
	struct trk_poll p;
	time_t old = T0 + 20 * 60, new = T0 + 5 * HOUR + 20 * 60;
	int i;

	ev = ev_msg("claude-sonnet-4-5", 1, 1, 0, 0);
	set_i(&ev, RTP_I_RESET_5H, old);
	feed(t, &ev, T0);
	for (i = 0; i < 5; i++) {
		ev = ev_msg("claude-sonnet-4-5", 10, 0, 0, 0);
		set_i(&ev, RTP_I_RESET_5H, new);
		feed(t, &ev, T0 + 60 + i * 120);
		memset(&p, 0, sizeof(p));
		poll_win(&p, TRK_FIVE_HOUR, 99.0, old);
		trk_poll_ok(t, &p, T0 + 120 + i * 120);
	}
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, new);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 50);
	ck_assert_int_eq(logged(LOG_L_INFO, "five_hour", "rolled over"), 1);
	trk_free(t);
}
END_TEST

START_TEST(the_first_reset_seen_is_stored_without_a_rollover)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-sonnet-4-5", 10, 10, 0, 0);
	struct trk_poll p;

	feed(t, &ev, T0);
	memset(&p, 0, sizeof(p));
	poll_win(&p, TRK_FIVE_HOUR, -1.0, T0 + HOUR);
	trk_poll_ok(t, &p, T0 + 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 0);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, T0 + HOUR);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 10);
	ck_assert(!t->win[TRK_FIVE_HOUR].has_util);
	ck_assert_int_eq(ncap, 0);
	trk_free(t);
}
END_TEST

START_TEST(a_rollover_is_logged_at_info_with_window_and_both_times)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_none(200);

	set_i(&ev, RTP_I_RESET_7D_SONNET, T0 + DAY);
	feed(t, &ev, T0);
	ev = ev_none(200);
	set_i(&ev, RTP_I_RESET_7D_SONNET, T0 + 8 * DAY);
	feed(t, &ev, T0 + 1);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].rollovers, 1);
	ck_assert_int_eq(ncap, 1);
	ck_assert_int_eq(cap_level[0], LOG_L_INFO);
	ck_assert_ptr_nonnull(strstr(cap[0], "seven_day_sonnet"));
	ck_assert_ptr_nonnull(strstr(cap[0], "2027-01-16T08:00:00Z"));
	ck_assert_ptr_nonnull(strstr(cap[0], "2027-01-23T08:00:00Z"));
	ck_assert_ptr_nonnull(strstr(cap[0], "ratetapd: info: "));
	trk_free(t);
}
END_TEST

/* ---- warning threshold ---- */

static void
poll_util(struct trk *t, double u5, double u7, time_t now)
{
	struct trk_poll p;

	memset(&p, 0, sizeof(p));
	poll_win(&p, TRK_FIVE_HOUR, u5, T0 + 4 * HOUR);
	poll_win(&p, TRK_SEVEN_DAY, u7, T0 + 4 * DAY);
	trk_poll_ok(t, &p, now);
}

START_TEST(crossing_the_warning_threshold_is_logged_once_per_window)
{
	struct trk *t = fresh();
	struct rtp_event ev;

	poll_util(t, 50.0, 10.0, T0);
	poll_util(t, 79.9, 10.0, T0 + 300);
	ck_assert_int_eq(logged(LOG_L_WARN, "five_hour", NULL), 0);
	poll_util(t, 80.0, 10.0, T0 + 600);
	poll_util(t, 85.0, 10.0, T0 + 900);
	poll_util(t, 99.0, 10.0, T0 + 1200);
	ev = ev_none(200);
	set_d(&ev, RTP_D_UTIL_5H, 0.995);
	feed(t, &ev, T0 + 1300);
	poll_util(t, 100.0, 10.0, T0 + 1500);
	ck_assert_int_eq(logged(LOG_L_WARN, "five_hour", NULL), 1);
	ck_assert_int_eq(logged(LOG_L_WARN, "seven_day", NULL), 0);
	/* well below (a reset not seen) re-arms it; crossing again logs
	   again */
	poll_util(t, 60.0, 10.0, T0 + 1800);
	poll_util(t, 90.0, 85.0, T0 + 2100);
	poll_util(t, 91.0, 86.0, T0 + 2400);
	ck_assert_int_eq(logged(LOG_L_WARN, "five_hour", NULL), 2);
	ck_assert_int_eq(logged(LOG_L_WARN, "seven_day", NULL), 1);
	ck_assert_ptr_nonnull(strstr(cap[0], "80.0%"));
	trk_free(t);
}
END_TEST

START_TEST(a_rollover_rearms_the_warning)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_none(200);

	set_i(&ev, RTP_I_RESET_5H, T0 + HOUR);
	set_d(&ev, RTP_D_UTIL_5H, 0.9);
	feed(t, &ev, T0);
	ck_assert_int_eq(logged(LOG_L_WARN, "five_hour", NULL), 1);
	ck_assert(t->win[TRK_FIVE_HOUR].warned);
	/* new window already at 85 %: a new crossing */
	ev = ev_none(200);
	set_i(&ev, RTP_I_RESET_5H, T0 + 6 * HOUR);
	set_d(&ev, RTP_D_UTIL_5H, 0.85);
	feed(t, &ev, T0 + 60);
	ck_assert_int_eq(logged(LOG_L_WARN, "five_hour", NULL), 2);
	trk_free(t);
}
END_TEST

START_TEST(the_warning_threshold_is_configurable)
{
	struct trk_config cfg = { .warn_pct = 50.0 };
	struct trk_config bad = { .warn_pct = NAN };
	struct trk *t = trk_new(&cfg);
	struct trk *d = trk_new(&bad);

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(d);
	ck_assert_double_eq(d->cfg.warn_pct, TRK_DEFAULT_WARN_PCT);
	poll_util(t, 55.0, 10.0, T0);
	ck_assert_int_eq(logged(LOG_L_WARN, "five_hour", NULL), 1);
	trk_free(t);
	trk_free(d);
}
END_TEST

/* ---- the rest of the state ---- */

START_TEST(extra_usage_comes_from_the_poll_with_its_nulls)
{
	struct trk *t = fresh();
	struct trk_poll p;

	memset(&p, 0, sizeof(p));
	trk_poll_ok(t, &p, T0);
	ck_assert(!t->extra.known);
	p.extra.known = 1;
	p.extra.is_enabled = 1;
	p.extra.has_monthly_limit = 1;
	p.extra.monthly_limit = 5000;
	p.extra.has_used_credits = 1;
	p.extra.used_credits = 1234.5;
	trk_poll_ok(t, &p, T0 + 1);
	ck_assert(t->extra.known);
	ck_assert(t->extra.is_enabled);
	ck_assert_double_eq(t->extra.monthly_limit, 5000);
	ck_assert_double_eq(t->extra.used_credits, 1234.5);
	ck_assert(!t->extra.has_util);
	/* a poll without extra_usage keeps what was known */
	memset(&p, 0, sizeof(p));
	trk_poll_ok(t, &p, T0 + 2);
	ck_assert(t->extra.is_enabled);
	/* nulls clear the values */
	p.extra.known = 1;
	trk_poll_ok(t, &p, T0 + 3);
	ck_assert(!t->extra.is_enabled);
	ck_assert(!t->extra.has_monthly_limit);
	ck_assert(!t->extra.has_used_credits);
	trk_free(t);
}
END_TEST

START_TEST(api_key_limits_are_stored_per_kind)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_none(200);

	set_i(&ev, RTP_I_REQ_LIMIT, 50);
	set_i(&ev, RTP_I_REQ_REMAINING, 49);
	set_i(&ev, RTP_I_REQ_RESET, T0 + 60);
	set_i(&ev, RTP_I_OUT_LIMIT, 8000);
	set_i(&ev, RTP_I_OUT_REMAINING, 7000);
	feed(t, &ev, T0);
	ck_assert(t->api[TRK_API_REQUESTS].known);
	ck_assert_int_eq(t->api[TRK_API_REQUESTS].limit, 50);
	ck_assert_int_eq(t->api[TRK_API_REQUESTS].remaining, 49);
	ck_assert_int_eq(t->api[TRK_API_REQUESTS].reset, T0 + 60);
	ck_assert(!t->api[TRK_API_TOKENS].known);
	ck_assert(!t->api[TRK_API_INPUT_TOKENS].known);
	ck_assert(t->api[TRK_API_OUTPUT_TOKENS].known);
	ck_assert_int_eq(t->api[TRK_API_OUTPUT_TOKENS].remaining, 7000);
	ck_assert_int_eq(t->api[TRK_API_OUTPUT_TOKENS].reset, 0);
	/* a later response updates only what it carries */
	ev = ev_none(200);
	set_i(&ev, RTP_I_REQ_REMAINING, 48);
	set_i(&ev, RTP_I_TOK_LIMIT, 100000);
	set_i(&ev, RTP_I_IN_RESET, T0 + 30);
	feed(t, &ev, T0 + 1);
	ck_assert_int_eq(t->api[TRK_API_REQUESTS].limit, 50);
	ck_assert_int_eq(t->api[TRK_API_REQUESTS].remaining, 48);
	ck_assert_int_eq(t->api[TRK_API_TOKENS].limit, 100000);
	ck_assert(t->api[TRK_API_INPUT_TOKENS].known);
	ck_assert_int_eq(t->api[TRK_API_INPUT_TOKENS].reset, T0 + 30);
	trk_free(t);
}
END_TEST

START_TEST(retry_after_unified_status_and_claim_are_stored)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_none(429);

	ck_assert_int_eq(t->retry_after, -1);
	set_i(&ev, RTP_I_RETRY_AFTER, 7);
	ev.unified_status = RTP_US_ALLOWED_WARNING;
	ev.claim = RTP_CLAIM_SEVEN_DAY_OPUS;
	feed(t, &ev, T0);
	ck_assert_int_eq(t->retry_after, 7);
	ck_assert_int_eq(t->retry_after_at, T0);
	ck_assert_int_eq(t->unified_status, RTP_US_ALLOWED_WARNING);
	ck_assert_int_eq(t->representative_claim, RTP_CLAIM_SEVEN_DAY_OPUS);
	/* absent values keep the last ones seen */
	ev = ev_none(200);
	feed(t, &ev, T0 + 10);
	ck_assert_int_eq(t->retry_after, 7);
	ck_assert_int_eq(t->unified_status, RTP_US_ALLOWED_WARNING);
	ck_assert_int_eq(t->representative_claim, RTP_CLAIM_SEVEN_DAY_OPUS);
	ck_assert_str_eq(trk_ustatus_name(t->unified_status),
	    "allowed_warning");
	ck_assert_str_eq(trk_claim_name(t->representative_claim),
	    "seven_day_opus");
	ck_assert_ptr_null(trk_ustatus_name(RTP_US_ABSENT));
	ck_assert_ptr_null(trk_claim_name(99));
	trk_free(t);
}
END_TEST

START_TEST(rejected_foreign_and_poll_counters_count)
{
	struct trk *t = fresh();
	struct trk_poll p;

	trk_rejected(t, RTP_E_MAGIC);
	trk_rejected(t, RTP_E_MAGIC);
	trk_rejected(t, RTP_E_STRING);
	trk_rejected(t, 12345);		/* never out of bounds */
	trk_rejected(t, -1);
	trk_foreign(t);
	ck_assert_int_eq(t->datagrams_rejected[RTP_E_MAGIC], 2);
	ck_assert_int_eq(t->datagrams_rejected[RTP_E_STRING], 1);
	ck_assert_int_eq(t->datagrams_rejected[RTP_E_FIELD], 2);
	ck_assert_int_eq(t->datagrams_foreign, 1);

	trk_poll_failed(t, "HTTP 500\nfrom server", T0);
	ck_assert_str_eq(t->poll_last_error, "HTTP 500?from server");
	ck_assert_int_eq(t->poll_last_attempt, T0);
	ck_assert_int_eq(t->poll_last_ok, 0);
	ck_assert_int_eq(t->poll_fail_total, 1);
	trk_poll_failed(t, NULL, T0 + 5);
	ck_assert_str_eq(t->poll_last_error, "unknown error");
	memset(&p, 0, sizeof(p));
	trk_poll_ok(t, &p, T0 + 10);
	ck_assert_str_eq(t->poll_last_error, "");
	ck_assert_int_eq(t->poll_last_ok, T0 + 10);
	ck_assert_int_eq(t->poll_last_attempt, T0 + 10);
	ck_assert_int_eq(t->poll_ok_total, 1);
	ck_assert_int_eq(t->poll_fail_total, 2);
	trk_clear_dirty(t);
	ck_assert(!t->dirty);
	trk_foreign(t);
	ck_assert(t->dirty);
	trk_free(t);
}
END_TEST

START_TEST(counters_saturate_instead_of_overflowing)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("m", RTP_TOKENS_MAX, 0, 0, 0);
	cJSON *j;
	char *text;
	int i;

	t->tokens_total.input = TRK_COUNT_MAX - 5;
	t->requests_total = TRK_COUNT_MAX;
	for (i = 0; i < 3; i++)
		feed(t, &ev, T0);
	ck_assert(t->tokens_total.input == TRK_COUNT_MAX);
	ck_assert(t->requests_total == TRK_COUNT_MAX);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input,
	    3 * RTP_TOKENS_MAX);
	/* and print exactly as integers */
	j = status_json(t, T0, NULL);
	ck_assert_ptr_nonnull(j);
	text = cJSON_PrintUnformatted(j);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text,
	    "\"tokens_total\":{\"input\":999999999999999,"));
	ck_assert_ptr_nonnull(strstr(text, "\"input\":3000000000000,"));
	cJSON_free(text);
	cJSON_Delete(j);
	trk_free(t);
}
END_TEST

/* ---- status JSON ---- */

static const cJSON *
at(const cJSON *o, const char *k)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, k);

	ck_assert_msg(c != NULL, "missing key %s", k);
	return c;
}

static double
num(const cJSON *o, const char *k)
{
	const cJSON *c = at(o, k);

	ck_assert_msg(cJSON_IsNumber(c), "%s is not a number", k);
	return c->valuedouble;
}

static int
nkeys(const cJSON *o)
{
	return cJSON_GetArraySize(o);
}

START_TEST(status_json_has_every_contract_and_extra_key)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-sonnet-4-5", 11, 22, 3, 5);
	struct trk_poll p;
	const cJSON *w, *o, *r;
	cJSON *j;
	char *text;
	int i;

	set_i(&ev, RTP_I_RESET_5H, T0 + HOUR);
	set_d(&ev, RTP_D_UTIL_5H, 0.25);
	set_i(&ev, RTP_I_REQ_LIMIT, 50);
	set_i(&ev, RTP_I_REQ_REMAINING, 49);
	set_i(&ev, RTP_I_REQ_RESET, T0 + 60);
	set_i(&ev, RTP_I_RETRY_AFTER, 7);
	ev.unified_status = RTP_US_ALLOWED;
	ev.claim = RTP_CLAIM_FIVE_HOUR;
	ev.dropped = 2;
	feed(t, &ev, T0);
	trk_rejected(t, RTP_E_SIZE);
	trk_foreign(t);
	memset(&p, 0, sizeof(p));
	p.extra.known = 1;
	p.extra.has_used_credits = 1;
	p.extra.used_credits = 12;
	trk_poll_ok(t, &p, T0 + 1);

	j = status_json(t, T0 + 2, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(nkeys(j), 13);
	ck_assert(cJSON_IsNull(at(j, "spend")));
	w = at(j, "windows");
	ck_assert_int_eq(nkeys(w), 4);
	for (i = 0; i < TRK_WIN_FIXED; i++) {
		o = at(w, trk_win_name(i));
		ck_assert_int_eq(nkeys(o), 12);
		at(o, "utilization");
		at(at(o, "forecast"), "exhausted_at");
		at(at(o, "forecast"), "rate_per_hour");
		at(at(o, "forecast"), "pace");
		at(o, "resets_at");
		at(o, "resets_with");
		at(o, "source");
		at(o, "observed_at");
		at(o, "age_seconds");
		at(o, "status");
		at(o, "label");
		ck_assert(cJSON_IsTrue(at(o, "counts_tokens")));
		num(o, "rollovers");
		r = at(o, "tokens");
		ck_assert_int_eq(nkeys(r), 4);
		num(r, "input");
		num(r, "output");
		num(r, "cache_creation_input");
		num(r, "cache_read_input");
	}
	o = at(w, "five_hour");
	ck_assert_double_eq(num(o, "utilization"), 25.0);
	ck_assert_str_eq(at(o, "resets_at")->valuestring,
	    "2027-01-15T09:00:00Z");
	ck_assert_double_eq(num(at(o, "tokens"), "cache_read_input"), 5);
	ck_assert_str_eq(at(o, "source")->valuestring, "header");
	ck_assert_str_eq(at(o, "observed_at")->valuestring,
	    "2027-01-15T08:00:00Z");
	ck_assert_double_eq(num(o, "age_seconds"), 2);
	ck_assert(cJSON_IsNull(at(at(w, "seven_day"), "source")));
	ck_assert(cJSON_IsNull(at(at(w, "seven_day"), "age_seconds")));
	ck_assert(cJSON_IsNull(at(at(w, "seven_day"), "utilization")));
	ck_assert(cJSON_IsNull(at(at(w, "seven_day"), "resets_at")));

	o = at(j, "extra_usage");
	ck_assert_int_eq(nkeys(o), 6);
	ck_assert_str_eq(at(o, "unit")->valuestring, "cents");
	ck_assert(cJSON_IsNull(at(o, "currency")));
	ck_assert(cJSON_IsFalse(at(o, "is_enabled")));
	ck_assert(cJSON_IsNull(at(o, "monthly_limit")));
	ck_assert_double_eq(num(o, "used_credits"), 12);
	ck_assert(cJSON_IsNull(at(o, "utilization")));

	o = at(j, "requests");
	ck_assert_int_eq(nkeys(o), 6);
	ck_assert_double_eq(num(o, "total"), 1);
	ck_assert_double_eq(num(o, "rate_limited"), 0);
	num(o, "overloaded");
	num(o, "errors");
	num(o, "usage_unreadable");
	ck_assert_double_eq(num(o, "cut_short"), 0);
	ck_assert_double_eq(num(at(j, "tokens_total"), "output"), 22);

	o = at(at(j, "models"), "claude-sonnet-4-5");
	ck_assert_int_eq(nkeys(o), 5);
	ck_assert_double_eq(num(o, "input"), 11);
	ck_assert_double_eq(num(o, "output"), 22);
	ck_assert_double_eq(num(o, "cache_creation_input"), 3);
	ck_assert_double_eq(num(o, "cache_read_input"), 5);
	ck_assert_double_eq(num(o, "requests"), 1);
	o = at(at(j, "processes"), "curl");
	ck_assert_int_eq(nkeys(o), 5);
	ck_assert_double_eq(num(o, "requests"), 1);
	ck_assert_double_eq(num(o, "input"), 11);
	ck_assert_double_eq(num(o, "output"), 22);
	ck_assert_double_eq(num(o, "cache_creation_input"), 3);
	ck_assert_double_eq(num(o, "cache_read_input"), 5);

	o = at(j, "api_limits");
	ck_assert_int_eq(nkeys(o), 4);
	r = at(o, "requests");
	ck_assert_double_eq(num(r, "limit"), 50);
	ck_assert_double_eq(num(r, "remaining"), 49);
	ck_assert_str_eq(at(r, "resets_at")->valuestring,
	    "2027-01-15T08:01:00Z");
	ck_assert(cJSON_IsNull(at(o, "tokens")));
	ck_assert(cJSON_IsNull(at(o, "input_tokens")));
	ck_assert(cJSON_IsNull(at(o, "output_tokens")));

	o = at(j, "unified");
	ck_assert_str_eq(at(o, "status")->valuestring, "allowed");
	ck_assert_str_eq(at(o, "representative_claim")->valuestring,
	    "five_hour");
	o = at(j, "retry_after");
	ck_assert_double_eq(num(o, "seconds"), 7);
	ck_assert_str_eq(at(o, "at")->valuestring, "2027-01-15T08:00:00Z");

	o = at(j, "poll");
	ck_assert_int_eq(nkeys(o), 5);
	ck_assert_str_eq(at(o, "last_ok")->valuestring,
	    "2027-01-15T08:00:01Z");
	ck_assert(cJSON_IsNull(at(o, "last_error")));
	ck_assert_str_eq(at(o, "last_attempt")->valuestring,
	    "2027-01-15T08:00:01Z");
	ck_assert_double_eq(num(o, "ok_total"), 1);
	ck_assert_double_eq(num(o, "fail_total"), 0);

	o = at(j, "ingest");
	ck_assert_double_eq(num(o, "accepted"), 1);
	ck_assert_double_eq(num(o, "foreign_uid"), 1);
	ck_assert_double_eq(num(o, "client_drops"), 2);
	r = at(o, "rejected");
	ck_assert_int_eq(nkeys(r), 5);
	ck_assert_double_eq(num(r, "size"), 1);
	ck_assert_double_eq(num(r, "magic"), 0);
	num(r, "version");
	num(r, "field");
	num(r, "string");
	ck_assert_str_eq(at(j, "generated_at")->valuestring,
	    "2027-01-15T08:00:02Z");

	/* token counts print as integers */
	text = cJSON_PrintUnformatted(j);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "\"cache_read_input\":5,"));
	ck_assert_ptr_null(strstr(text, "e+"));
	cJSON_free(text);
	cJSON_Delete(j);
	trk_free(t);
}
END_TEST

START_TEST(status_json_of_an_empty_tracker_has_nulls_and_zeros)
{
	struct trk *t = fresh();
	cJSON *j = status_json(t, T0, NULL);
	const cJSON *o;

	ck_assert_ptr_nonnull(j);
	o = at(j, "extra_usage");
	ck_assert(cJSON_IsNull(at(o, "is_enabled")));
	ck_assert(cJSON_IsNull(at(o, "used_credits")));
	ck_assert(cJSON_IsNull(at(at(j, "unified"), "status")));
	ck_assert(cJSON_IsNull(at(at(j, "unified"), "representative_claim")));
	ck_assert(cJSON_IsNull(at(j, "retry_after")));
	ck_assert(cJSON_IsNull(at(at(j, "poll"), "last_ok")));
	ck_assert(cJSON_IsNull(at(at(j, "poll"), "last_attempt")));
	ck_assert_int_eq(nkeys(at(j, "models")), 0);
	ck_assert_int_eq(nkeys(at(j, "processes")), 0);
	ck_assert_double_eq(num(at(j, "requests"), "total"), 0);
	ck_assert(cJSON_IsNull(at(at(at(j, "windows"), "five_hour"),
	    "utilization")));
	cJSON_Delete(j);
	trk_free(t);
}
END_TEST

START_TEST(status_json_shows_the_poll_error)
{
	struct trk *t = fresh();
	cJSON *j;

	trk_poll_failed(t, "HTTP 429", T0);
	j = status_json(t, T0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(at(at(j, "poll"), "last_error")->valuestring,
	    "HTTP 429");
	ck_assert(cJSON_IsNull(at(at(j, "poll"), "last_ok")));
	cJSON_Delete(j);
	trk_free(t);
}
END_TEST

/* ---- windows by name, figures by freshness (issues 9.8, 10.3-10.5) ---- */

/* A poll parsed from JSON text, requested at req and applied at now. */
static void
poll_json(struct trk *t, const char *json, time_t req, time_t now)
{
	struct trk_poll p;
	char err[TRK_ERR_LEN];

	ck_assert_msg(poll_parse(json, strlen(json), &p, err, sizeof(err)) ==
	    0, "poll_parse: %s", err);
	p.requested_at = req;
	trk_poll_ok(t, &p, now);
}

static void
poll_at(struct trk *t, int w, double util, time_t reset, time_t req,
    time_t now)
{
	struct trk_poll p;

	memset(&p, 0, sizeof(p));
	poll_win(&p, w, util, reset);
	p.requested_at = req;
	trk_poll_ok(t, &p, now);
}

static struct rtp_event
ev_head5(double frac, time_t reset)
{
	struct rtp_event ev = ev_none(200);

	set_d(&ev, RTP_D_UTIL_5H, frac);
	if (reset != 0)
		set_i(&ev, RTP_I_RESET_5H, reset);
	return ev;
}

START_TEST(header_and_poll_apart_keep_one_figure_and_warn_once)
{
	struct trk *t = fresh();
	struct rtp_event ev;
	time_t r = T0 + 4 * HOUR;
	int i;

	/* header 0.79 and poll 81 % every second for ten seconds: the
	   header, seen after each poll's request began, is the fresher */
	for (i = 0; i < 10; i++) {
		ev = ev_head5(0.79, r);
		feed(t, &ev, T0 + i);
		poll_at(t, TRK_FIVE_HOUR, 81.0, r, T0 + i, T0 + i);
		ck_assert_double_eq_tol(t->win[TRK_FIVE_HOUR].utilization,
		    79.0, 1e-9);
		ck_assert_int_eq(t->win[TRK_FIVE_HOUR].source, TRK_SRC_HEADER);
	}
	ck_assert_int_eq(logged(LOG_L_WARN, "five_hour", NULL), 0);
	/* headers fall quiet: a poll sent more than the endpoint's lag
	   after the last header wins, and crosses the threshold once */
	poll_at(t, TRK_FIVE_HOUR, 81.0, r, T0 + 9 + TRK_POLL_LAG_SECS,
	    T0 + 10 + TRK_POLL_LAG_SECS);
	ck_assert_double_eq(t->win[TRK_FIVE_HOUR].utilization, 81.0);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].source, TRK_SRC_POLL);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].observed_at,
	    T0 + 9 + TRK_POLL_LAG_SECS);
	ck_assert_int_eq(logged(LOG_L_WARN, "five_hour", NULL), 1);
	/* the two keep taking turns: never a second warning */
	for (i = 0; i < 10; i++) {
		time_t at = T0 + 100 + i * 100;

		ev = ev_head5(0.79, r);
		feed(t, &ev, at);
		poll_at(t, TRK_FIVE_HOUR, 81.0, r, at + 70, at + 71);
	}
	ck_assert_int_eq(logged(LOG_L_WARN, "five_hour", NULL), 1);
	/* a new instance may warn again */
	ev = ev_head5(0.9, r + 5 * HOUR);
	feed(t, &ev, T0 + 2 * HOUR);
	ck_assert_int_eq(logged(LOG_L_WARN, "five_hour", NULL), 2);
	trk_free(t);
}
END_TEST

START_TEST(an_older_figure_never_replaces_a_newer_one)
{
	struct trk *t = fresh();
	struct rtp_event ev;

	/* a poll answered now but sent before the header was seen */
	ev = ev_head5(0.40, T0 + HOUR);
	feed(t, &ev, T0 + 10);
	poll_at(t, TRK_FIVE_HOUR, 35.0, T0 + HOUR, T0 + 5, T0 + 12);
	ck_assert_double_eq_tol(t->win[TRK_FIVE_HOUR].utilization, 40.0,
	    1e-9);
	/* a later header always replaces an earlier one */
	ev = ev_head5(0.41, T0 + HOUR);
	feed(t, &ev, T0 + 11);
	ck_assert_double_eq_tol(t->win[TRK_FIVE_HOUR].utilization, 41.0,
	    1e-9);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].observed_at, T0 + 11);
	trk_free(t);
}
END_TEST

/* One reset event per window instance however the sources interleave. */
START_TEST(a_lagging_poll_after_a_rollover_never_zeroes_twice)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-sonnet-4-5", 100, 0, 0, 0);
	time_t rb = T0 + HOUR;

	/* the header's reset first, the lagging poll's Rb + 120 after */
	set_i(&ev, RTP_I_RESET_5H, rb);
	set_d(&ev, RTP_D_UTIL_5H, 0.85);
	feed(t, &ev, T0);
	poll_at(t, TRK_FIVE_HOUR, 85.0, rb + 120, T0 + 100, T0 + 101);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, rb);
	trk_tick(t, rb);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ev = ev_msg("claude-sonnet-4-5", 5, 0, 0, 0);
	feed(t, &ev, rb + 10);
	/* the stale poll: Rb + 120 with the old instance's figure */
	poll_at(t, TRK_FIVE_HOUR, 85.0, rb + 120, rb + 15, rb + 20);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, 0);
	ck_assert_double_eq(t->win[TRK_FIVE_HOUR].utilization, 0.0);
	/* and one without a reset, sent before the rollover's lag ran out */
	poll_at(t, TRK_FIVE_HOUR, 85.0, 0, rb + 30, rb + 31);
	ck_assert_double_eq(t->win[TRK_FIVE_HOUR].utilization, 0.0);
	trk_tick(t, rb + 121);
	trk_tick(t, rb + 200);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 5);
	/* the new instance's reset is taken without a rollover */
	ev = ev_head5(0.02, rb + 5 * HOUR);
	feed(t, &ev, rb + 300);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, rb + 5 * HOUR);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 5);
	ck_assert_double_eq_tol(t->win[TRK_FIVE_HOUR].utilization, 2.0, 1e-9);
	ck_assert_int_eq(logged(LOG_L_INFO, "five_hour", "rolled over"), 1);
	trk_free(t);
}
END_TEST

START_TEST(the_poll_first_then_the_header_rolls_over_once)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-sonnet-4-5", 100, 0, 0, 0);
	time_t rb = T0 + HOUR;

	/* the poll's Rb + 120 first, the header's Rb is jitter */
	poll_at(t, TRK_FIVE_HOUR, 50.0, rb + 120, T0, T0);
	ev = ev_msg("claude-sonnet-4-5", 100, 0, 0, 0);
	set_i(&ev, RTP_I_RESET_5H, rb);
	feed(t, &ev, T0 + 10);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, rb + 120);
	/* at Rb the header names the next instance: one rollover */
	ev = ev_msg("claude-sonnet-4-5", 3, 0, 0, 0);
	set_i(&ev, RTP_I_RESET_5H, rb + 5 * HOUR);
	feed(t, &ev, rb + 5);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	/* the lagging poll repeats Rb + 120; Rb + 120 passes */
	poll_at(t, TRK_FIVE_HOUR, 50.0, rb + 120, rb + 8, rb + 10);
	trk_tick(t, rb + 121);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, rb + 5 * HOUR);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 3);
	trk_free(t);

	/* the same with nothing between: the stored Rb + 120 passes,
	   then the header's next reset is no second rollover */
	t = fresh();
	poll_at(t, TRK_FIVE_HOUR, 50.0, rb + 120, T0, T0);
	ev = ev_msg("claude-sonnet-4-5", 100, 0, 0, 0);
	set_i(&ev, RTP_I_RESET_5H, rb - 120);
	feed(t, &ev, T0 + 10);
	trk_tick(t, rb + 120);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	/* a late header of the old instance, jittered either way */
	ev = ev_msg("claude-sonnet-4-5", 1, 0, 0, 0);
	set_i(&ev, RTP_I_RESET_5H, rb + 130);
	feed(t, &ev, rb + 125);
	ev = ev_msg("claude-sonnet-4-5", 1, 0, 0, 0);
	set_i(&ev, RTP_I_RESET_5H, rb + 400);
	feed(t, &ev, rb + 126);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].resets_at, 0);
	ev = ev_msg("claude-sonnet-4-5", 1, 0, 0, 0);
	set_i(&ev, RTP_I_RESET_5H, rb + 5 * HOUR);
	feed(t, &ev, rb + 127);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_FIVE_HOUR].tokens.input, 3);
	trk_free(t);
}
END_TEST

START_TEST(model_windows_without_a_reset_follow_seven_day)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-sonnet-4-5", 10, 0, 0, 0);
	time_t r = T0 + 3 * DAY;
	const cJSON *w;
	cJSON *j;
	int b;

	set_i(&ev, RTP_I_RESET_7D, r);
	set_i(&ev, RTP_I_RESET_7D_OPUS, r + DAY);
	set_d(&ev, RTP_D_UTIL_7D_SONNET, 0.3);
	feed(t, &ev, T0);
	ev = ev_msg("claude-opus-4-1", 20, 0, 0, 0);
	feed(t, &ev, T0 + 1);
	ck_assert_int_eq(trk_win_reset(t, TRK_SEVEN_DAY_SONNET, &b), r);
	ck_assert_int_eq(b, TRK_SEVEN_DAY);
	ck_assert_int_eq(trk_win_reset(t, TRK_SEVEN_DAY_OPUS, &b), r + DAY);
	ck_assert_int_eq(b, -1);
	j = status_json(t, T0 + 2, NULL);
	w = at(at(j, "windows"), "seven_day_sonnet");
	ck_assert_str_eq(at(w, "resets_at")->valuestring,
	    "2027-01-18T08:00:00Z");
	ck_assert_str_eq(at(w, "resets_with")->valuestring, "seven_day");
	ck_assert(cJSON_IsNull(at(at(at(j, "windows"), "seven_day_opus"),
	    "resets_with")));
	cJSON_Delete(j);

	trk_tick(t, r);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].rollovers, 1);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].tokens.input, 0);
	ck_assert_double_eq(t->win[TRK_SEVEN_DAY_SONNET].utilization, 0.0);
	/* opus has its own reset: it did not move */
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].rollovers, 0);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_OPUS].tokens.input, 20);
	/* and a later-reset rollover of seven_day takes sonnet along too */
	ev = ev_msg("claude-sonnet-4-5", 4, 0, 0, 0);
	set_i(&ev, RTP_I_RESET_7D, r + 7 * DAY);
	feed(t, &ev, r + 10);
	ev = ev_msg("claude-sonnet-4-5", 4, 0, 0, 0);
	set_i(&ev, RTP_I_RESET_7D, r + 14 * DAY);
	feed(t, &ev, r + 20);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].rollovers, 2);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].rollovers, 2);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].tokens.input, 4);
	trk_free(t);
}
END_TEST

static const char limits_body[] =
    "{\"five_hour\":null,\"seven_day\":null,\"seven_day_sonnet\":null,"
    "\"limits\":["
    "{\"kind\":\"session\",\"group\":\"g\",\"percent\":12,\"severity\":"
    "\"normal\",\"resets_at\":\"2027-01-15T10:00:00Z\",\"scope\":null,"
    "\"is_active\":true},"
    "{\"kind\":\"weekly_all\",\"percent\":40.5,\"resets_at\":"
    "\"2027-01-20T08:00:00Z\",\"scope\":null},"
    "{\"kind\":\"weekly_scoped\",\"percent\":7,\"resets_at\":null,"
    "\"scope\":{\"model\":{\"id\":\"claude-fable-5\",\"display_name\":"
    "\"Fable\"}}},"
    "{\"kind\":\"weekly_scoped\",\"percent\":22,\"resets_at\":null,"
    "\"scope\":{\"model\":{\"id\":\"s\",\"display_name\":\"Sonnet\"}}},"
    "{\"kind\":\"weekly_scoped\",\"percent\":3,\"resets_at\":null,"
    "\"scope\":{\"surface\":{\"display_name\":\"Claude Code\"}}},"
    "{\"kind\":\"monthly_wombat\",\"percent\":1,\"resets_at\":null,"
    "\"scope\":null}],"
    "\"spend\":{\"used\":{\"amount_minor\":1234,\"currency\":\"USD\","
    "\"exponent\":2},\"limit\":{\"amount_minor\":5000,\"currency\":\"USD\","
    "\"exponent\":2},\"percent\":24.68,\"enabled\":true,"
    "\"disabled_reason\":null}}";

START_TEST(the_limits_array_makes_windows_of_every_kind)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_msg("claude-fable-5-20270101", 9, 1, 0, 0);
	const cJSON *w, *sp;
	cJSON *j;
	int f, c, m;

	poll_json(t, limits_body, T0, T0);
	ck_assert_double_eq(t->win[TRK_FIVE_HOUR].utilization, 12.0);
	ck_assert_double_eq(t->win[TRK_SEVEN_DAY].utilization, 40.5);
	/* the flat key and the array's Sonnet are one window */
	ck_assert_double_eq(t->win[TRK_SEVEN_DAY_SONNET].utilization, 22.0);
	ck_assert_int_eq(trk_win_find(t, "seven_day_sonnet"),
	    TRK_SEVEN_DAY_SONNET);
	f = trk_win_find(t, "seven_day_fable");
	c = trk_win_find(t, "seven_day_claude_code");
	m = trk_win_find(t, "monthly_wombat");
	ck_assert_int_ge(f, TRK_WIN_FIXED);
	ck_assert_int_ge(c, TRK_WIN_FIXED);
	ck_assert_int_ge(m, TRK_WIN_FIXED);
	ck_assert_int_eq(t->nwin, 7);
	ck_assert_str_eq(t->win[f].label, "Fable");
	/* a model's window counts that model's tokens; a surface's none */
	feed(t, &ev, T0 + 1);
	ck_assert_int_eq(t->win[f].tokens.input, 9);
	ck_assert_int_eq(t->win[c].tokens.input, 0);
	ck_assert_int_eq(t->win[m].tokens.input, 0);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY_SONNET].tokens.input, 0);
	ck_assert_int_eq(t->win[TRK_SEVEN_DAY].tokens.input, 9);
	/* a header naming 7d_fable reports on the same window */
	ev = ev_none(200);
	snprintf(ev.win[0].name, sizeof(ev.win[0].name), "7d_fable");
	ev.win[0].present = RTP_W_UTIL | RTP_W_STATUS;
	ev.win[0].util = 0.08;
	ev.win[0].status = RTP_US_ALLOWED_WARNING;
	ev.nwin = 1;
	feed(t, &ev, T0 + 2);
	ck_assert_double_eq_tol(t->win[f].utilization, 8.0, 1e-9);
	ck_assert_int_eq(t->win[f].source, TRK_SRC_HEADER);
	ck_assert_int_eq(t->nwin, 7);

	j = status_json(t, T0 + 3, NULL);
	w = at(at(j, "windows"), "seven_day_fable");
	ck_assert_double_eq_tol(num(w, "utilization"), 8.0, 1e-9);
	ck_assert_str_eq(at(w, "label")->valuestring, "Fable");
	ck_assert_str_eq(at(w, "status")->valuestring, "allowed_warning");
	ck_assert_str_eq(at(w, "resets_with")->valuestring, "seven_day");
	ck_assert(cJSON_IsFalse(at(at(at(j, "windows"),
	    "seven_day_claude_code"), "counts_tokens")));
	at(at(j, "windows"), "monthly_wombat");
	sp = at(j, "spend");
	ck_assert_double_eq_tol(num(at(sp, "used"), "amount"), 12.34, 1e-9);
	ck_assert_double_eq(num(at(sp, "used"), "amount_minor"), 1234);
	ck_assert_str_eq(at(at(sp, "limit"), "currency")->valuestring, "USD");
	ck_assert_double_eq(num(sp, "percent"), 24.68);
	ck_assert(cJSON_IsTrue(at(sp, "enabled")));
	ck_assert(cJSON_IsNull(at(sp, "disabled_reason")));
	ck_assert_str_eq(at(at(j, "extra_usage"), "currency")->valuestring,
	    "USD");
	cJSON_Delete(j);
	trk_free(t);
}
END_TEST

START_TEST(windows_are_bounded_and_bad_names_refused)
{
	struct trk *t = fresh();
	struct trk_obs o;
	char name[64];
	int i;

	memset(&o, 0, sizeof(o));
	o.source = TRK_SRC_HEADER;
	o.observed_at = T0;
	o.has_util = 1;
	o.utilization = 1.0;
	o.match = -1;
	for (i = 0; i < 2 * TRK_WIN_MAX; i++) {
		snprintf(name, sizeof(name), "seven_day_w%d", i);
		(void)trk_observe(t, name, &o, T0);
	}
	ck_assert_int_eq(t->nwin, TRK_WIN_MAX);
	ck_assert_int_eq(logged(LOG_L_WARN, "more than", NULL), 1);
	trk_reset(t);
	ck_assert_int_eq(t->nwin, TRK_WIN_FIXED);
	ck_assert_int_eq(trk_observe(t, "Seven_Day", &o, T0), -1);
	ck_assert_int_eq(trk_observe(t, "", &o, T0), -1);
	ck_assert_int_eq(trk_observe(t, "a-b", &o, T0), -1);
	ck_assert_int_eq(trk_observe(t,
	    "seven_day_0123456789012345678901234567890", &o, T0), -1);
	ck_assert_int_eq(t->nwin, TRK_WIN_FIXED);
	/* names from headers and scopes */
	ck_assert_int_eq(trk_header_window("7d_sonnet", name, sizeof(name)),
	    0);
	ck_assert_str_eq(name, "seven_day_sonnet");
	ck_assert_int_eq(trk_header_window("5h", name, sizeof(name)), 0);
	ck_assert_str_eq(name, "five_hour");
	ck_assert_int_eq(trk_header_window("10y", name, sizeof(name)), 0);
	ck_assert_str_eq(name, "10y");
	ck_assert_int_eq(trk_header_window("_", name, sizeof(name)), -1);
	ck_assert_uint_eq(trk_name_part(" Claude  Code 4.5! ", name,
	    sizeof(name)), 15);
	ck_assert_str_eq(name, "claude_code_4_5");
	trk_free(t);
}
END_TEST

START_TEST(an_api_key_allowance_past_its_reset_is_stale)
{
	struct trk *t = fresh();
	struct rtp_event ev = ev_none(200);
	cJSON *j;

	set_i(&ev, RTP_I_REQ_LIMIT, 50);
	set_i(&ev, RTP_I_REQ_REMAINING, 3);
	set_i(&ev, RTP_I_REQ_RESET, T0 + 60);
	feed(t, &ev, T0);
	j = status_json(t, T0 + 59, NULL);
	ck_assert(cJSON_IsFalse(at(at(at(j, "api_limits"), "requests"),
	    "stale")));
	cJSON_Delete(j);
	j = status_json(t, T0 + 60, NULL);
	ck_assert(cJSON_IsTrue(at(at(at(j, "api_limits"), "requests"),
	    "stale")));
	cJSON_Delete(j);
	trk_free(t);
}
END_TEST


/* ---- log ---- */

START_TEST(log_lines_are_prefixed_sanitized_and_debug_is_optional)
{
	errno = ENOENT;
	log_warn("open %s", "a\tb\x7f\xc3\xa9");
	log_warnx("plain");
	log_debug("hidden");
	log_set_debug(1);
	log_debug("shown %d", 5);
	log_info("%s", "");
	ck_assert_int_eq(ncap, 4);
	ck_assert_str_eq(cap[0],
	    "ratetapd: warning: open a?b???: No such file or directory");
	ck_assert_str_eq(cap[1], "ratetapd: warning: plain");
	ck_assert_str_eq(cap[2], "ratetapd: debug: shown 5");
	ck_assert_int_eq(cap_level[3], LOG_L_INFO);
	log_init("other\nname", 0);
	log_info("x");
	ck_assert_str_eq(cap[4], "other?name: info: x");
}
END_TEST

START_TEST(log_truncates_long_messages_to_one_line)
{
	char big[3 * LOG_LINE_MAX];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[100] = '\n';
	log_warnx("%s", big);
	ck_assert_int_eq(ncap, 1);
	ck_assert_int_eq(strlen(cap[0]), LOG_LINE_MAX - 1);
	ck_assert_ptr_null(strchr(cap[0], '\n'));
}
END_TEST

START_TEST(fatalx_exits_with_status_1)
{
	fatalx("cannot go on: %d", 3);
}
END_TEST

static Suite *
tracker_suite(void)
{
	Suite *s = suite_create("tracker");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, header_utilization_fraction_is_stored_as_percent);
	tcase_add_test(tc, poll_utilization_percent_is_stored_as_is);
	tcase_add_test(tc, header_reset_unix_seconds_is_stored_as_utc);
	tcase_add_test(tc,
	    parse_time_accepts_rfc3339_with_fractions_and_offsets);
	tcase_add_test(tc, parse_time_rejects_garbage_ranges_and_trailing_junk);
	tcase_add_test(tc, format_time_round_trips_through_parse_time);
	tcase_add_test(tc, messages_usage_adds_to_five_hour_and_seven_day);
	tcase_add_test(tc, sonnet_and_opus_models_also_count_in_their_windows);
	tcase_add_test(tc, count_tokens_and_other_paths_are_never_usage);
	tcase_add_test(tc, request_counters_classify_every_outcome);
	tcase_add_test(tc, a_drops_only_event_counts_its_drops_and_no_request);
	tcase_add_test(tc, models_and_programs_keep_their_own_totals);
	tcase_add_test(tc, models_and_programs_beyond_the_cap_fold_into_other);
	tcase_add_test(tc, hostile_or_empty_names_are_made_printable);
	tcase_add_test(tc,
	    header_moving_reset_first_then_poll_rolls_over_exactly_once);
	tcase_add_test(tc,
	    poll_moving_reset_first_then_header_rolls_over_exactly_once);
	tcase_add_test(tc,
	    time_passing_the_reset_rolls_over_once_and_clears_utilization);
	tcase_add_test(tc, an_event_after_the_reset_rolls_over_before_counting);
	tcase_add_test(tc,
	    jitter_within_ten_minutes_either_way_keeps_the_stored_reset);
	tcase_add_test(tc, an_earlier_reset_never_replaces_a_future_one);
	tcase_add_test(tc, a_flip_flopping_reset_zeroes_the_counters_once);
	tcase_add_test(tc, the_first_reset_seen_is_stored_without_a_rollover);
	tcase_add_test(tc,
	    a_rollover_is_logged_at_info_with_window_and_both_times);
	tcase_add_test(tc,
	    crossing_the_warning_threshold_is_logged_once_per_window);
	tcase_add_test(tc, a_rollover_rearms_the_warning);
	tcase_add_test(tc, the_warning_threshold_is_configurable);
	tcase_add_test(tc, extra_usage_comes_from_the_poll_with_its_nulls);
	tcase_add_test(tc, api_key_limits_are_stored_per_kind);
	tcase_add_test(tc, retry_after_unified_status_and_claim_are_stored);
	tcase_add_test(tc, rejected_foreign_and_poll_counters_count);
	tcase_add_test(tc, counters_saturate_instead_of_overflowing);
	tcase_add_test(tc, status_json_has_every_contract_and_extra_key);
	tcase_add_test(tc, status_json_of_an_empty_tracker_has_nulls_and_zeros);
	tcase_add_test(tc, status_json_shows_the_poll_error);
	tcase_add_test(tc,
	    header_and_poll_apart_keep_one_figure_and_warn_once);
	tcase_add_test(tc, an_older_figure_never_replaces_a_newer_one);
	tcase_add_test(tc, a_lagging_poll_after_a_rollover_never_zeroes_twice);
	tcase_add_test(tc, the_poll_first_then_the_header_rolls_over_once);
	tcase_add_test(tc, model_windows_without_a_reset_follow_seven_day);
	tcase_add_test(tc, the_limits_array_makes_windows_of_every_kind);
	tcase_add_test(tc, windows_are_bounded_and_bad_names_refused);
	tcase_add_test(tc, an_api_key_allowance_past_its_reset_is_stale);
	tcase_add_test(tc,
	    log_lines_are_prefixed_sanitized_and_debug_is_optional);
	tcase_add_test(tc, log_truncates_long_messages_to_one_line);
	tcase_add_exit_test(tc, fatalx_exits_with_status_1, 1);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tracker_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
