/*
 * Unit tests of the body scanner (shim/scan.c).
 *
 * Bodies are written the way the Messages API sends them.  Every body with
 * an expected result is also checked split at every byte, one byte at a
 * time and in random pieces: the result must never depend on the split.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ratetap/proto.h"
#include "../shim/scan.h"

/* ---- bodies ------------------------------------------------------------- */

#define MSG_JSON \
	"{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\"," \
	"\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\"," \
	"\"content\":[{\"type\":\"text\",\"text\":\"Hello! How can I help " \
	"you today?\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null," \
	"\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":3," \
	"\"cache_read_input_tokens\":5,\"cache_creation\":{" \
	"\"ephemeral_5m_input_tokens\":3,\"ephemeral_1h_input_tokens\":0}," \
	"\"output_tokens\":15,\"service_tier\":\"standard\"," \
	"\"server_tool_use\":{\"web_search_requests\":0}}}"

#define EV_START(model, usage) \
	"event: message_start\n" \
	"data: {\"type\":\"message_start\",\"message\":{\"id\":" \
	"\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":" \
	"\"assistant\",\"model\":\"" model "\",\"content\":[]," \
	"\"stop_reason\":null,\"stop_sequence\":null,\"usage\":" usage "}}\n\n"

#define START_USAGE \
	"{\"input_tokens\":25,\"cache_creation_input_tokens\":3," \
	"\"cache_read_input_tokens\":5,\"cache_creation\":{" \
	"\"ephemeral_5m_input_tokens\":3,\"ephemeral_1h_input_tokens\":0}," \
	"\"output_tokens\":1,\"service_tier\":\"standard\"}"

#define EV_BLOCKS(text) \
	"event: content_block_start\n" \
	"data: {\"type\":\"content_block_start\",\"index\":0," \
	"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" \
	"event: ping\n" \
	"data: {\"type\": \"ping\"}\n\n" \
	"event: content_block_delta\n" \
	"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":" \
	"{\"type\":\"text_delta\",\"text\":\"" text "\"}}\n\n" \
	"event: content_block_stop\n" \
	"data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"

#define EV_DELTA(usage) \
	"event: message_delta\n" \
	"data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":" \
	"\"end_turn\",\"stop_sequence\":null},\"usage\":" usage "}\n\n"

#define EV_STOP \
	"event: message_stop\n" \
	"data: {\"type\":\"message_stop\"}\n\n"

/* A stream like the mock API's: output 10, then 22 (cumulative). */
#define MSG_SSE \
	EV_START("claude-opus-4-1-20250805", START_USAGE) \
	EV_BLOCKS("Hello") \
	EV_DELTA("{\"output_tokens\":10}") \
	EV_DELTA("{\"output_tokens\":22}") \
	EV_STOP

/* ---- helpers ------------------------------------------------------------ */

struct expect {
	int kind;
	int usage_ok;
	int is_error;
	const char *model;
	int64_t in, out, cc, cr;	/* with usage_ok 0: a stream ended
					   early (partial), its counts so far */
};

/* Scan body in the pieces ending at cuts[0..ncuts-1] and then the rest. */
static void
scan_cuts(const char *body, size_t len, const size_t *cuts, size_t ncuts,
    struct scan_result *res)
{
	struct scan_state st;
	size_t off = 0, i;

	scan_init(&st);
	for (i = 0; i < ncuts; i++) {
		scan_feed(&st, body + off, cuts[i] - off);
		off = cuts[i];
	}
	scan_feed(&st, body + off, len - off);
	scan_finish(&st, res);
}

static void
scan_whole(const char *body, size_t len, struct scan_result *res)
{
	scan_cuts(body, len, NULL, 0, res);
}

static void
scan_bytes(const char *body, size_t len, struct scan_result *res)
{
	struct scan_state st;
	size_t i;

	scan_init(&st);
	for (i = 0; i < len; i++)
		scan_feed(&st, body + i, 1);
	scan_finish(&st, res);
}

static void
assert_result(const struct scan_result *r, const struct expect *e,
    const char *how)
{
	ck_assert_msg(r->kind == e->kind, "%s: kind %d, want %d", how,
	    r->kind, e->kind);
	ck_assert_msg(r->usage_ok == e->usage_ok, "%s: usage_ok %d, want %d",
	    how, r->usage_ok, e->usage_ok);
	ck_assert_msg(r->is_error == e->is_error, "%s: is_error %d, want %d",
	    how, r->is_error, e->is_error);
	ck_assert_msg(r->partial == (!e->usage_ok && (e->in || e->out)),
	    "%s: partial %d", how, r->partial);
	ck_assert_msg(strcmp(r->model, e->model) == 0,
	    "%s: model \"%s\", want \"%s\"", how, r->model, e->model);
	ck_assert_msg(r->input_tokens == e->in && r->output_tokens == e->out &&
	    r->cache_creation_input_tokens == e->cc &&
	    r->cache_read_input_tokens == e->cr,
	    "%s: usage %lld/%lld/%lld/%lld, want %lld/%lld/%lld/%lld", how,
	    (long long)r->input_tokens, (long long)r->output_tokens,
	    (long long)r->cache_creation_input_tokens,
	    (long long)r->cache_read_input_tokens, (long long)e->in,
	    (long long)e->out, (long long)e->cc, (long long)e->cr);
}

/* The body scanned whole gives *e. */
static void
expect_whole(const char *body, size_t len, const struct expect *e)
{
	struct scan_result r;

	scan_whole(body, len, &r);
	assert_result(&r, e, "whole");
}

static uint32_t
rnd(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

/* The body gives *e whole, split at every byte, byte by byte and in
 * random pieces. */
static void
expect_any_split(const char *body, size_t len, const struct expect *e)
{
	struct scan_result r;
	size_t cuts[16], i, n, k;
	uint32_t seed = 20261128;
	char how[64];

	expect_whole(body, len, e);
	for (i = 0; i <= len; i++) {
		cuts[0] = i;
		scan_cuts(body, len, cuts, 1, &r);
		snprintf(how, sizeof(how), "split at %zu", i);
		assert_result(&r, e, how);
	}
	scan_bytes(body, len, &r);
	assert_result(&r, e, "byte by byte");
	for (k = 0; k < 300; k++) {
		n = 1 + rnd(&seed) % 16;
		for (i = 0; i < n; i++)
			cuts[i] = len ? rnd(&seed) % (len + 1) : 0;
		/* sort the cut points */
		for (i = 1; i < n; i++) {
			size_t j = i, c = cuts[i];

			while (j > 0 && cuts[j - 1] > c) {
				cuts[j] = cuts[j - 1];
				j--;
			}
			cuts[j] = c;
		}
		scan_cuts(body, len, cuts, n, &r);
		snprintf(how, sizeof(how), "random pieces #%zu", k);
		assert_result(&r, e, how);
	}
}

#define S(lit)	(lit), (sizeof(lit) - 1)

/* Replace each "\n" of lf by eol into out (size cap); returns the length. */
static size_t
with_eol(const char *lf, const char *eol, char *out, size_t cap)
{
	size_t n = 0, el = strlen(eol);

	for (; *lf != '\0'; lf++) {
		if (*lf == '\n') {
			ck_assert(n + el < cap);
			memcpy(out + n, eol, el);
			n += el;
		} else {
			ck_assert(n + 1 < cap);
			out[n++] = *lf;
		}
	}
	out[n] = '\0';
	return n;
}

static const struct expect json_ok = {
	SCAN_JSON, 1, 0, "claude-sonnet-4-5-20250929", 12, 15, 3, 5
};

static const struct expect sse_ok = {
	SCAN_SSE, 1, 0, "claude-opus-4-1-20250805", 25, 22, 3, 5
};

/* ---- JSON bodies -------------------------------------------------------- */

START_TEST(scan_reads_usage_from_a_json_message)
{
	expect_any_split(S(MSG_JSON), &json_ok);
}
END_TEST

START_TEST(scan_reads_a_pretty_printed_json_message)
{
	static const char body[] =
	    "  \n{\n  \"id\": \"msg_1\",\n  \"type\": \"message\",\n"
	    "  \"model\" : \"claude-haiku-4-5\",\n  \"content\": [ ],\n"
	    "  \"usage\": {\r\n\t\"output_tokens\" : 7 ,\n"
	    "    \"input_tokens\": 0\n  }\n}\n\n";
	static const struct expect e = {
		SCAN_JSON, 1, 0, "claude-haiku-4-5", 0, 7, 0, 0
	};

	expect_any_split(S(body), &e);
}
END_TEST

START_TEST(scan_counts_absent_or_null_cache_fields_as_zero)
{
	static const char absent[] =
	    "{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":4,"
	    "\"output_tokens\":9}}";
	static const char null[] =
	    "{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":4,"
	    "\"cache_creation_input_tokens\":null,"
	    "\"cache_read_input_tokens\":null,\"output_tokens\":9}}";
	static const struct expect e = {
		SCAN_JSON, 1, 0, "claude-sonnet-4-5", 4, 9, 0, 0
	};

	expect_any_split(S(absent), &e);
	expect_any_split(S(null), &e);
}
END_TEST

START_TEST(scan_skips_other_usage_keys_without_taking_their_counts)
{
	/* counts inside server_tool_use and cache_creation are not ours */
	static const char body[] =
	    "{\"type\":\"message\",\"model\":\"m\",\"usage\":{"
	    "\"server_tool_use\":{\"input_tokens\":900,\"output_tokens\":901},"
	    "\"input_tokens\":1,\"service_tier\":\"priority\","
	    "\"cache_creation\":{\"cache_read_input_tokens\":902},"
	    "\"output_tokens\":2,\"inference_geo\":[\"us\",{\"x\":[]}],"
	    "\"flag\":true,\"ratio\":-1.5e3}}";
	static const struct expect e = { SCAN_JSON, 1, 0, "m", 1, 2, 0, 0 };

	expect_any_split(S(body), &e);
}
END_TEST

START_TEST(scan_ignores_usage_text_inside_strings)
{
	static const char body[] =
	    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"model\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"\\\"usage\\\": {\\\"input_tokens\\\": 999, "
	    "\\\"output_tokens\\\": 999}, \\u0022usage\\u0022:{} "
	    "\\\\\\\"model\\\": \\\"fake\\\" }}]] \\\\\"},"
	    "{\"type\":\"text\",\"text\":\"\\\\\"}],"
	    "\"stop_reason\":\"end_turn\",\"x\":\"\\\"usage\\\":\","
	    "\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}";
	static const struct expect e = {
		SCAN_JSON, 1, 0, "claude-sonnet-4-5", 3, 4, 0, 0
	};

	expect_any_split(S(body), &e);
}
END_TEST

START_TEST(scan_ignores_usage_and_model_keys_nested_in_tool_input)
{
	static const char body[] =
	    "{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\","
	    "\"name\":\"record\",\"input\":{\"model\":\"fake-model\","
	    "\"type\":\"error\",\"usage\":{\"input_tokens\":777,"
	    "\"output_tokens\":888},\"message\":{\"usage\":{"
	    "\"input_tokens\":1}},\"list\":[{\"usage\":{}},[[\"usage\"]]]}}],"
	    "\"model\":\"claude-opus-4-1\",\"stop_reason\":\"tool_use\","
	    "\"usage\":{\"input_tokens\":50,\"output_tokens\":60}}";
	static const struct expect e = {
		SCAN_JSON, 1, 0, "claude-opus-4-1", 50, 60, 0, 0
	};

	expect_any_split(S(body), &e);
}
END_TEST

START_TEST(scan_takes_keys_only_at_their_own_depth)
{
	/* usage and model only below the top level: nothing to take */
	static const char body[] =
	    "{\"type\":\"message\",\"content\":[{\"model\":\"m\",\"usage\":"
	    "{\"input_tokens\":1,\"output_tokens\":2}}],\"message\":{"
	    "\"model\":\"m2\",\"usage\":{\"input_tokens\":1,"
	    "\"output_tokens\":2}}}";
	static const struct expect e = { SCAN_JSON, 0, 0, "", 0, 0, 0, 0 };

	expect_any_split(S(body), &e);
}
END_TEST

START_TEST(scan_ignores_fake_sse_lines_inside_a_json_string)
{
	static const char body[] =
	    "{\"model\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"event: message_delta\\ndata: {\\\"type\\\":"
	    "\\\"message_delta\\\",\\\"usage\\\":{\\\"output_tokens\\\":5}}"
	    "\\n\\n\"}],\"usage\":{\"input_tokens\":8,\"output_tokens\":9}}";
	static const struct expect e = {
		SCAN_JSON, 1, 0, "claude-sonnet-4-5", 8, 9, 0, 0
	};

	expect_any_split(S(body), &e);
}
END_TEST

START_TEST(scan_takes_the_last_of_duplicate_keys)
{
	static const char body[] =
	    "{\"model\":\"first\",\"usage\":{\"input_tokens\":1,"
	    "\"output_tokens\":2,\"cache_read_input_tokens\":3},"
	    "\"model\":\"second\",\"usage\":{\"input_tokens\":4,"
	    "\"output_tokens\":5,\"output_tokens\":6}}";
	static const struct expect e = { SCAN_JSON, 1, 0, "second", 4, 6, 0, 0 };

	expect_any_split(S(body), &e);
}
END_TEST

START_TEST(scan_keeps_at_most_63_bytes_of_the_model)
{
	static const char body[] =
	    "{\"model\":\"claude-0123456789012345678901234567890123456789"
	    "01234567890123456789-long\",\"usage\":{\"input_tokens\":1,"
	    "\"output_tokens\":2}}";
	static const char esc[] =
	    "{\"model\":\"claude-\\\"q\\\\\\u0041\",\"usage\":{"
	    "\"input_tokens\":1,\"output_tokens\":2}}";
	static const struct expect e = {
		SCAN_JSON, 1, 0,
		"claude-01234567890123456789012345678901234567890123456789012345",
		1, 2, 0, 0
	};
	static const struct expect eesc = {
		SCAN_JSON, 1, 0, "claude-\\\"q\\\\\\u0041", 1, 2, 0, 0
	};

	ck_assert_int_eq(strlen(e.model), SCAN_MODEL_LEN - 1);
	expect_any_split(S(body), &e);
	expect_any_split(S(esc), &eesc);
}
END_TEST

START_TEST(scan_flags_json_error_bodies)
{
	static const char r429[] =
	    "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
	    "\"message\":\"Number of request tokens has exceeded your "
	    "per-minute rate limit\"},\"request_id\":\"req_011CV\"}";
	static const char r529[] =
	    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
	    "\"message\":\"Overloaded\"}}";
	static const char notype[] =
	    "{\"error\":{\"type\":\"error\"},\"content\":[{\"type\":\"error\"}]}";
	static const struct expect e = { SCAN_JSON, 0, 1, "", 0, 0, 0, 0 };
	static const struct expect n = { SCAN_JSON, 0, 0, "", 0, 0, 0, 0 };

	expect_any_split(S(r429), &e);
	expect_any_split(S(r529), &e);
	expect_any_split(S(notype), &n);
}
END_TEST

START_TEST(scan_rejects_every_truncation_of_a_json_body)
{
	static const char body[] = MSG_JSON;
	struct scan_result r;
	size_t i;

	for (i = 0; i < sizeof(body) - 1; i++) {
		scan_whole(body, i, &r);
		ck_assert_msg(!r.usage_ok, "prefix of %zu bytes taken", i);
		ck_assert_int_eq(r.input_tokens, 0);
		scan_bytes(body, i, &r);
		ck_assert_msg(!r.usage_ok, "prefix of %zu bytes taken", i);
	}
	scan_whole(body, sizeof(body) - 1, &r);
	ck_assert_int_eq(r.usage_ok, 1);
}
END_TEST

START_TEST(scan_rejects_counts_that_are_not_small_non_negative_integers)
{
	static const char *const bad[] = {
		"-1", "-0", "1.0", "1e3", "1E3", "01", "00", "+1", "\"12\"",
		"true", "false", "{}", "[]", "[1]", "99999999999999999999",
		"1000000000001", "18446744073709551617", "1.", "-", "nul",
		"nulll", "tru", "0x10", "1 2", "Infinity", "NaN"
	};
	static const char *const good[] = {
		"0", "7", "1000000000000", " 42 ", "\n12\r\n"
	};
	static const int64_t goodv[] = { 0, 7, 1000000000000, 42, 12 };
	char body[256];
	struct scan_result r;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* as output, and as a cache count */
		n = (size_t)snprintf(body, sizeof(body), "{\"usage\":{"
		    "\"input_tokens\":1,\"output_tokens\":%s}}", bad[i]);
		scan_whole(body, n, &r);
		ck_assert_msg(!r.usage_ok, "output %s taken", bad[i]);
		scan_bytes(body, n, &r);
		ck_assert_msg(!r.usage_ok, "output %s taken", bad[i]);
		n = (size_t)snprintf(body, sizeof(body), "{\"usage\":{"
		    "\"input_tokens\":1,\"cache_read_input_tokens\":%s,"
		    "\"output_tokens\":2}}", bad[i]);
		scan_whole(body, n, &r);
		ck_assert_msg(!r.usage_ok, "cache %s taken", bad[i]);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = (size_t)snprintf(body, sizeof(body), "{\"usage\":{"
		    "\"input_tokens\":%s,\"output_tokens\":1}}", good[i]);
		scan_bytes(body, n, &r);
		ck_assert_msg(r.usage_ok, "input %s refused", good[i]);
		ck_assert_int_eq(r.input_tokens, goodv[i]);
	}
}
END_TEST

START_TEST(scan_requires_input_and_output_counts)
{
	static const char noin[] = "{\"usage\":{\"output_tokens\":1}}";
	static const char noout[] = "{\"usage\":{\"input_tokens\":1}}";
	static const char nullout[] =
	    "{\"usage\":{\"input_tokens\":1,\"output_tokens\":null}}";
	static const char nullusage[] =
	    "{\"usage\":{\"input_tokens\":1,\"output_tokens\":2},"
	    "\"usage\":null}";
	static const char notobj[] = "{\"usage\":[{\"input_tokens\":1,"
	    "\"output_tokens\":2}]}";
	static const char count_tokens[] = "{\"input_tokens\":2095}";
	static const struct expect e = { SCAN_JSON, 0, 0, "", 0, 0, 0, 0 };

	expect_whole(S(noin), &e);
	expect_whole(S(noout), &e);
	expect_whole(S(nullout), &e);
	expect_any_split(S(nullusage), &e);
	expect_any_split(S(notobj), &e);
	expect_whole(S(count_tokens), &e);
}
END_TEST

START_TEST(scan_rejects_malformed_json)
{
	static const char *const bad[] = {
		/* structure on the followed path */
		"{\"usage\":{\"input_tokens\":1,\"output_tokens\":2}",
		"{\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}}",
		"{\"usage\":{\"input_tokens\":1,\"output_tokens\":2},}",
		"{\"usage\":{\"input_tokens\":1,,\"output_tokens\":2}}",
		"{\"usage\":{\"input_tokens\" 1,\"output_tokens\":2}}",
		"{\"usage\":{\"input_tokens\":1 \"output_tokens\":2}}",
		"{\"usage\":{\"input_tokens\":1,\"output_tokens\":2]}",
		"{usage:{\"input_tokens\":1,\"output_tokens\":2}}",
		"{\"usage\":{'input_tokens':1,\"output_tokens\":2}}",
		"{\"a\":[},\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}",
		"{\"a\":{],\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}",
		"{\"a\":xyz,\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}",
		"{\"a\":\"x\"\"y\",\"usage\":{\"input_tokens\":1,"
		    "\"output_tokens\":2}}",
		"{\"model\":\"a\tb\",\"usage\":{\"input_tokens\":1,"
		    "\"output_tokens\":2}}",
		/* trailing garbage */
		"{\"usage\":{\"input_tokens\":1,\"output_tokens\":2}} x",
		"{\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}{}",
		"{\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}\n\0",
	};
	static const size_t extra[] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
	};
	struct scan_result r;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = strlen(bad[i]) + extra[i];
		scan_whole(bad[i], n, &r);
		ck_assert_msg(!r.usage_ok, "taken: %s", bad[i]);
		ck_assert_int_eq(r.kind, SCAN_JSON);
		scan_bytes(bad[i], n, &r);
		ck_assert_msg(!r.usage_ok, "taken byte by byte: %s", bad[i]);
	}
}
END_TEST

START_TEST(scan_follows_deeply_nested_content)
{
	static const char head[] =
	    "{\"model\":\"claude-sonnet-4-5\",\"content\":[{\"type\":"
	    "\"tool_use\",\"input\":{\"x\":";
	static const char tail[] =
	    "}}],\"usage\":{\"input_tokens\":31,\"output_tokens\":41}}";
	static const struct expect ok = {
		SCAN_JSON, 1, 0, "claude-sonnet-4-5", 31, 41, 0, 0
	};
	static const struct expect notok = {
		SCAN_JSON, 0, 0, "claude-sonnet-4-5", 0, 0, 0, 0
	};
	const size_t depth = 1000000;
	size_t len = sizeof(head) - 1 + 4 * depth + 16 + sizeof(tail) - 1;
	char *body = malloc(len + 1);
	size_t n = 0, i;

	ck_assert_ptr_nonnull(body);
	memcpy(body + n, head, sizeof(head) - 1);
	n += sizeof(head) - 1;
	for (i = 0; i < depth; i++) {
		memcpy(body + n, i % 2 ? "[" : "{\"u\":", i % 2 ? 1 : 5);
		n += i % 2 ? 1 : 5;
	}
	memcpy(body + n, "\"usage\"", 7);
	n += 7;
	for (i = depth; i-- > 0;)
		body[n++] = i % 2 ? ']' : '}';
	memcpy(body + n, tail, sizeof(tail) - 1);
	n += sizeof(tail) - 1;
	ck_assert(n <= len);
	expect_whole(body, n, &ok);
	{
		struct scan_result r;
		size_t cuts[3] = { 100, n / 2, n - 10 };

		scan_cuts(body, n, cuts, 3, &r);
		assert_result(&r, &ok, "three pieces");
	}
	/* one closing bracket missing: the usage is inside the content */
	memmove(body + n - sizeof(tail), body + n - sizeof(tail) + 1,
	    sizeof(tail) - 1);
	expect_whole(body, n - 1, &notok);
	free(body);
}
END_TEST

START_TEST(scan_survives_garbage_nul_bytes_and_invalid_utf8)
{
	/* bytes inside skipped strings are not inspected */
	static const char inside[] =
	    "{\"model\":\"m\",\"content\":[{\"text\":\"\0\xff\xfe\xc3\x28"
	    "\xed\xa0\x80\"}],\"usage\":{\"input_tokens\":1,"
	    "\"output_tokens\":2}}";
	static const struct expect ok = { SCAN_JSON, 1, 0, "m", 1, 2, 0, 0 };
	/* outside strings they are malformed */
	static const char outside[] =
	    "{\"model\":\"m\",\0\"usage\":{\"input_tokens\":1,"
	    "\"output_tokens\":2}}";
	static const char sse[] =
	    "event: message_start\ndata: {\"type\":\"message_start\",\xff"
	    "\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\n"
	    EV_DELTA("{\"output_tokens\":2}");
	static const struct expect bad = { SCAN_JSON, 0, 0, "m", 0, 0, 0, 0 };
	static const struct expect sbad = { SCAN_SSE, 0, 0, "", 0, 0, 0, 0 };
	char buf[4096];
	struct scan_result r, r2;
	uint32_t seed = 7;
	size_t k, i, n;

	expect_any_split(S(inside), &ok);
	expect_any_split(S(outside), &bad);
	expect_any_split(S(sse), &sbad);
	/* random bytes, and random bytes after a valid start */
	for (k = 0; k < 2000; k++) {
		n = rnd(&seed) % sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = (char)rnd(&seed);
		if (k % 3 == 1 && n > 8)
			memcpy(buf, "{\"a\":[\"", 7);
		if (k % 3 == 2 && n > 8)
			memcpy(buf, "data: {", 7);
		scan_whole(buf, n, &r);
		ck_assert(!r.usage_ok);
		ck_assert(memchr(r.model, '\0', sizeof(r.model)) != NULL);
		scan_bytes(buf, n, &r2);
		ck_assert(memcmp(&r, &r2, sizeof(r)) == 0);
	}
}
END_TEST

/* ---- SSE streams -------------------------------------------------------- */

START_TEST(scan_reads_usage_from_an_sse_stream)
{
	expect_any_split(S(MSG_SSE), &sse_ok);
}
END_TEST

START_TEST(scan_takes_the_last_message_delta_not_the_sum)
{
	static const char body[] =
	    EV_START("claude-sonnet-4-5", "{\"input_tokens\":5,"
	    "\"output_tokens\":1}")
	    EV_DELTA("{\"output_tokens\":10}")
	    EV_DELTA("{\"output_tokens\":22}")
	    EV_STOP;
	static const struct expect e = {
		SCAN_SSE, 1, 0, "claude-sonnet-4-5", 5, 22, 0, 0
	};

	expect_any_split(S(body), &e);
}
END_TEST

START_TEST(scan_lets_message_delta_override_input_and_cache_counts)
{
	static const char body[] =
	    EV_START("claude-sonnet-4-5", START_USAGE)
	    EV_DELTA("{\"input_tokens\":30,\"cache_read_input_tokens\":9,"
	    "\"output_tokens\":10,\"cache_creation_input_tokens\":null}")
	    EV_DELTA("{\"cache_creation_input_tokens\":4,"
	    "\"output_tokens\":22,\"server_tool_use\":{\"input_tokens\":1},"
	    "\"input_tokens\":null}")
	    EV_STOP;
	static const struct expect e = {
		SCAN_SSE, 1, 0, "claude-sonnet-4-5", 30, 22, 4, 9
	};

	expect_any_split(S(body), &e);
}
END_TEST

START_TEST(scan_reads_sse_with_lf_crlf_and_cr_line_ends)
{
	static const char lf[] = MSG_SSE;
	static const char *const eols[] = { "\n", "\r\n", "\r" };
	char body[sizeof(lf) * 2];
	size_t i, n;

	for (i = 0; i < 3; i++) {
		n = with_eol(lf, eols[i], body, sizeof(body));
		expect_any_split(body, n, &sse_ok);
	}
	/* and all three mixed in one stream; "\r" then "\n" would be one
	 * line end, so a "\n" after a "\r" is written "\r\n" */
	n = 0;
	for (i = 0; lf[i] != '\0'; i++) {
		const char *eol = eols[i % 3];

		if (lf[i] != '\n') {
			body[n++] = lf[i];
			continue;
		}
		if (n > 0 && body[n - 1] == '\r' && eol[0] == '\n')
			eol = "\r\n";
		ck_assert(n + 2 < sizeof(body));
		memcpy(body + n, eol, strlen(eol));
		n += strlen(eol);
	}
	expect_any_split(body, n, &sse_ok);
}
END_TEST

START_TEST(scan_ignores_fake_sse_lines_inside_content)
{
	/* escaped newlines inside a data line's string are no line ends */
	static const char body[] =
	    EV_START("claude-opus-4-1-20250805", START_USAGE)
	    EV_BLOCKS("\\n\\nevent: message_delta\\ndata: {\\\"type\\\":"
	    "\\\"message_delta\\\",\\\"usage\\\":{\\\"output_tokens\\\":"
	    "99999}}\\n\\n\\\"usage\\\": {\\\"input_tokens\\\": 1} "
	    "\\u0022usage\\u0022")
	    EV_DELTA("{\"output_tokens\":10}")
	    EV_BLOCKS("event: message_delta\\r\\ndata: {}\\r")
	    EV_DELTA("{\"output_tokens\":22}")
	    EV_STOP;

	expect_any_split(S(body), &sse_ok);
}
END_TEST

START_TEST(scan_reads_sse_without_event_lines)
{
	/* the event type then comes from the data's top-level "type" */
	static const char body[] =
	    "data: {\"type\":\"message_start\",\"message\":{\"model\":"
	    "\"claude-opus-4-1-20250805\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"\\\"usage\\\":{}\"}],\"usage\":" START_USAGE "}}\n\n"
	    "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":"
	    "\"text_delta\",\"text\":\"{\\\"type\\\":\\\"message_delta\\\"}"
	    "\"},\"usage\":{\"output_tokens\":999}}\n\n"
	    "data: {\"usage\":{\"output_tokens\":10},\"type\":"
	    "\"message_delta\"}\n\n"
	    "data: {\"type\":\"message_delta\",\"usage\":{"
	    "\"output_tokens\":22}}\n\n"
	    "data: {\"type\":\"message_stop\"}\n\n";

	expect_any_split(S(body), &sse_ok);
}
END_TEST

START_TEST(scan_joins_multi_line_data_and_ignores_other_fields)
{
	static const char body[] =
	    ": stream opened\n"
	    "retry: 3000\n"
	    "id: 1\n"
	    "event: message_start\n"
	    "data:{\"type\":\"message_start\",\n"
	    "foo: bar\n"
	    ": comment inside the event\n"
	    "data:  \"message\":{\"model\":\"claude-opus-4-1-20250805\",\n"
	    "data\n"
	    "data: \"usage\":" START_USAGE "}}\n"
	    "\n"
	    "event: message_delta\n"
	    "data: {\"type\":\"message_delta\",\"usage\":\n"
	    "data: {\"output_tokens\":22}}\n"
	    "\n";

	expect_any_split(S(body), &sse_ok);
}
END_TEST

START_TEST(scan_trusts_the_event_line_over_the_data_type)
{
	/* named ping: its data is not read, whatever it says */
	static const char body[] =
	    EV_START("claude-opus-4-1-20250805", START_USAGE)
	    EV_DELTA("{\"output_tokens\":22}")
	    "event: ping\n"
	    "data: {\"type\":\"message_delta\",\"usage\":{"
	    "\"output_tokens\":5}}\n\n"
	    "event: message_delta\n"
	    "data: {\"type\":\"ping\"}\n\n"
	    EV_STOP;
	static const char *const eols[] = { "\n", "\r\n", "\r" };
	char buf[sizeof(body) * 2];
	size_t i, n;

	/* a line end taken for two would end the event before its data */
	for (i = 0; i < 3; i++) {
		n = with_eol(body, eols[i], buf, sizeof(buf));
		expect_any_split(buf, n, &sse_ok);
	}
}
END_TEST

START_TEST(scan_flags_sse_error_events)
{
	static const char mid[] =
	    EV_START("claude-opus-4-1-20250805", START_USAGE)
	    EV_BLOCKS("Hel")
	    "event: error\n"
	    "data: {\"type\":\"error\",\"error\":{\"type\":"
	    "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
	static const char dataonly[] =
	    "data: {\"type\":\"error\",\"error\":{\"type\":\"api_error\"}}\n\n";
	static const char after[] = MSG_SSE
	    "event: error\ndata: {\"type\":\"error\"}\n\n";
	static const struct expect e = {
		SCAN_SSE, 0, 1, "claude-opus-4-1-20250805", 0, 0, 0, 0
	};
	static const struct expect e2 = { SCAN_SSE, 0, 1, "", 0, 0, 0, 0 };
	static const struct expect e3 = {
		SCAN_SSE, 1, 1, "claude-opus-4-1-20250805", 25, 22, 3, 5
	};

	expect_any_split(S(mid), &e);
	expect_any_split(S(dataonly), &e2);
	expect_any_split(S(after), &e3);
}
END_TEST

START_TEST(scan_rejects_sse_truncated_before_the_last_message_delta_ends)
{
	static const char body[] = MSG_SSE;
	const char *last = strstr(body, EV_DELTA("{\"output_tokens\":22}"));
	size_t done, named, first, start, i;
	struct scan_result r;

	ck_assert_ptr_nonnull(last);
	/* just after message_start's blank line */
	start = (size_t)(strstr(body, "\n\n") - body) + 2;
	done = (size_t)(last - body) + sizeof(EV_DELTA("{\"output_tokens\":22}")) - 1;
	named = done + strlen("event: message_stop\n");
	first = (size_t)(last - body);	/* just after the first delta */
	for (i = 0; i <= sizeof(body) - 1; i++) {
		scan_whole(body, i, &r);
		if (i == first) {
			/* cut between events: the cumulative count so far */
			ck_assert_msg(r.usage_ok, "prefix of %zu bytes refused", i);
			ck_assert_int_eq(r.output_tokens, 10);
		} else if (i == done || i >= named) {
			/* cut at or inside message_stop: the usage is complete */
			ck_assert_msg(r.usage_ok, "prefix of %zu bytes refused", i);
			ck_assert_int_eq(r.output_tokens, 22);
		} else if (i < start) {
			/* before message_start is complete: nothing known */
			ck_assert_msg(!r.usage_ok && !r.partial,
			    "prefix of %zu bytes taken", i);
			ck_assert_int_eq(r.output_tokens, 0);
		} else {
			/* in a line that might name a needed event: cut
			   short, the counts so far (message_start's, then
			   the first delta's) */
			ck_assert_msg(!r.usage_ok, "prefix of %zu bytes taken", i);
			ck_assert_msg(r.partial, "prefix of %zu bytes", i);
			ck_assert_int_eq(r.input_tokens, 25);
			if (i < first)
				ck_assert_int_eq(r.output_tokens, 1);
			else
				ck_assert_msg(r.output_tokens == 10 ||
				    r.output_tokens == 22, "prefix of %zu bytes: "
				    "%lld", i, (long long)r.output_tokens);
		}
	}
	/* the last delta without its blank line is not dispatched */
	scan_whole(body, done - 1, &r);
	ck_assert_int_eq(r.usage_ok, 0);
	ck_assert_int_eq(r.partial, 1);
}
END_TEST

START_TEST(scan_requires_message_start_usage_and_a_message_delta)
{
	static const char nodelta[] =
	    EV_START("m", START_USAGE) EV_BLOCKS("x") EV_STOP;
	static const char nostart[] =
	    EV_DELTA("{\"input_tokens\":1,\"output_tokens\":22}") EV_STOP;
	static const char deltafirst[] =
	    EV_DELTA("{\"output_tokens\":22}") EV_START("m", START_USAGE)
	    EV_STOP;
	static const char nooutput[] =
	    EV_START("m", START_USAGE)
	    EV_DELTA("{\"input_tokens\":4}") EV_STOP;
	static const char noinput[] =
	    EV_START("m", "{\"output_tokens\":1}")
	    EV_DELTA("{\"output_tokens\":22}") EV_STOP;
	static const char nousage[] =
	    "event: message_start\ndata: {\"type\":\"message_start\","
	    "\"message\":{\"model\":\"m\"}}\n\n"
	    EV_DELTA("{\"output_tokens\":22}") EV_STOP;
	static const struct expect e = { SCAN_SSE, 0, 0, "m", 0, 0, 0, 0 };
	static const struct expect e0 = { SCAN_SSE, 0, 0, "", 0, 0, 0, 0 };
	/* message_start's counts were billed: partial, never complete */
	static const struct expect ep = {
		SCAN_SSE, 0, 0, "m", 25, 1, 3, 5
	};
	static const struct expect ep4 = { SCAN_SSE, 0, 0, "m", 4, 1, 3, 5 };

	expect_any_split(S(nodelta), &ep);
	expect_any_split(S(nostart), &e0);
	expect_any_split(S(deltafirst), &ep);
	expect_any_split(S(nooutput), &ep4);
	expect_any_split(S(noinput), &e);
	expect_any_split(S(nousage), &e);
}
END_TEST

START_TEST(scan_rejects_malformed_needed_events_only)
{
	/* a broken content_block_delta does not matter ... */
	static const char other[] =
	    EV_START("claude-opus-4-1-20250805", START_USAGE)
	    "event: content_block_delta\ndata: {\"type\":[}\n\n"
	    "data: {\"type\":\"content_block_delta\",\"x\":[}\n\n"
	    EV_DELTA("{\"output_tokens\":22}");
	/* ... a broken message_delta or message_start does */
	static const char delta[] =
	    EV_START("claude-opus-4-1-20250805", START_USAGE)
	    EV_DELTA("{\"output_tokens\":22}")
	    "event: message_delta\ndata: {\"usage\":{\"output_tokens\":23}\n\n";
	static const char delta2[] =
	    EV_START("claude-opus-4-1-20250805", START_USAGE)
	    EV_DELTA("{\"output_tokens\":22}")
	    EV_DELTA("{\"output_tokens\":2.5}");
	static const char start[] =
	    EV_START("claude-opus-4-1-20250805", "{\"input_tokens\":-25}")
	    EV_DELTA("{\"output_tokens\":22}");
	static const char renamed[] =
	    EV_START("claude-opus-4-1-20250805", START_USAGE)
	    "event: ping\ndata: {\"usage\":{\"output_tokens\":22}}\n"
	    "event: message_delta\n\n";
	static const char trailing[] =
	    EV_START("claude-opus-4-1-20250805", START_USAGE)
	    "event: message_delta\ndata: {\"usage\":{\"output_tokens\":22}}"
	    " {}\n\n";
	static const struct expect bad = {
		SCAN_SSE, 0, 0, "claude-opus-4-1-20250805", 0, 0, 0, 0
	};

	expect_any_split(S(other), &sse_ok);
	expect_any_split(S(delta), &bad);
	expect_any_split(S(delta2), &bad);
	expect_any_split(S(start), &bad);
	expect_any_split(S(renamed), &bad);
	expect_any_split(S(trailing), &bad);
}
END_TEST

START_TEST(scan_detects_the_body_kind)
{
	static const struct {
		const char *body;
		int kind;
	} cases[] = {
		{ "", SCAN_UNKNOWN },
		{ " \r\n\t ", SCAN_UNKNOWN },
		{ "  \n {}", SCAN_JSON },
		{ "{", SCAN_JSON },
		{ "[{\"usage\":{}}]", SCAN_UNKNOWN },
		{ "<html>", SCAN_UNKNOWN },
		{ "hello", SCAN_UNKNOWN },
		{ "data_x: 1\n\n", SCAN_UNKNOWN },
		{ "events: 1\n\n", SCAN_UNKNOWN },
		{ "event: ping\n\n", SCAN_SSE },
		{ "\n\ndata: {}\n\n", SCAN_SSE },
		{ ": hi\n", SCAN_SSE },
		{ "id: 4\n", SCAN_SSE },
		{ "retry: 10\n", SCAN_SSE },
		{ "data\n\n", SCAN_SSE },
		{ "eve", SCAN_UNKNOWN },
	};
	struct scan_result r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		scan_whole(cases[i].body, strlen(cases[i].body), &r);
		ck_assert_msg(r.kind == cases[i].kind, "\"%s\": kind %d",
		    cases[i].body, r.kind);
		ck_assert_int_eq(r.usage_ok, 0);
		scan_bytes(cases[i].body, strlen(cases[i].body), &r);
		ck_assert_msg(r.kind == cases[i].kind, "\"%s\" by byte: kind %d",
		    cases[i].body, r.kind);
	}
}
END_TEST

START_TEST(scan_starts_afresh_after_init)
{
	struct scan_state st;
	struct scan_result r;

	scan_init(&st);
	scan_feed(&st, S(MSG_SSE));
	scan_finish(&st, &r);
	assert_result(&r, &sse_ok, "first");
	scan_init(&st);
	scan_feed(&st, S(MSG_JSON));
	scan_feed(&st, NULL, 0);
	scan_finish(&st, &r);
	assert_result(&r, &json_ok, "second");
	scan_init(&st);
	scan_finish(&st, &r);
	ck_assert_int_eq(r.kind, SCAN_UNKNOWN);
	ck_assert_int_eq(r.usage_ok, 0);
	ck_assert_str_eq(r.model, "");
}
END_TEST

/* ---- large bodies ------------------------------------------------------- */

/* A body made on the fly: head, then unit repeated, then tail. */
struct gen {
	const char *head, *unit, *tail;
	size_t hl, ul, tl;
	uint64_t nunits;	/* units in the body */
	uint64_t pos;		/* bytes produced so far */
};

static uint64_t
gen_total(const struct gen *g)
{
	return g->hl + g->nunits * g->ul + g->tl;
}

/* Fill buf (up to cap) with the next bytes; returns how many. */
static size_t
gen_next(struct gen *g, char *buf, size_t cap)
{
	uint64_t total = gen_total(g), mid = g->hl + g->nunits * g->ul;
	size_t n = 0, k;

	while (n < cap && g->pos < total) {
		if (g->pos < g->hl) {
			k = g->hl - g->pos;
			if (k > cap - n)
				k = cap - n;
			memcpy(buf + n, g->head + g->pos, k);
		} else if (g->pos < mid) {
			size_t off = (g->pos - g->hl) % g->ul;

			k = g->ul - off;
			if (k > cap - n)
				k = cap - n;
			memcpy(buf + n, g->unit + off, k);
		} else {
			k = total - g->pos;
			if (k > cap - n)
				k = cap - n;
			memcpy(buf + n, g->tail + (g->pos - mid), k);
		}
		n += k;
		g->pos += k;
	}
	return n;
}

static long
maxrss_kib(void)
{
	struct rusage ru;

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* Stream the generated body in 64 KiB pieces; check result and memory. */
static void
stream_big(struct gen *g, const struct expect *e)
{
	static char buf[64 * 1024];
	struct scan_state st;
	struct scan_result r;
	long before, after;
	size_t n;

	memset(buf, 'x', sizeof(buf));	/* fault the buffer in first */
	before = maxrss_kib();
	scan_init(&st);
	while ((n = gen_next(g, buf, sizeof(buf))) > 0)
		scan_feed(&st, buf, n);
	scan_finish(&st, &r);
	after = maxrss_kib();
	ck_assert_msg(gen_total(g) >= (uint64_t)300 << 20, "body too small");
	ck_assert_msg(g->pos == gen_total(g), "body not fully streamed");
	assert_result(&r, e, "300 MiB");
	ck_assert_msg(after - before <= 4096, "max RSS grew by %ld KiB",
	    after - before);
}

START_TEST(scan_reads_a_300_mib_sse_stream_in_bounded_memory)
{
	static const char unit[] = EV_BLOCKS(
	    "Streaming text with \\\"quotes\\\", \\\\ backslashes, "
	    "\\\"usage\\\": {\\\"output_tokens\\\": 1} and \\u00e9.\\n");
	struct gen g = {
		.head = EV_START("claude-opus-4-1-20250805", START_USAGE),
		.unit = unit,
		.tail = EV_DELTA("{\"output_tokens\":10}")
		    EV_DELTA("{\"output_tokens\":22}") EV_STOP,
	};

	g.hl = strlen(g.head);
	g.ul = strlen(g.unit);
	g.tl = strlen(g.tail);
	g.nunits = (((uint64_t)300 << 20) + g.ul - 1) / g.ul;
	stream_big(&g, &sse_ok);
}
END_TEST

START_TEST(scan_reads_a_300_mib_json_message_in_bounded_memory)
{
	struct gen g = {
		.head = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":"
		    "\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\","
		    "\"content\":[{\"type\":\"text\",\"text\":\"",
		.unit = "A long answer with \\\"quotes\\\", a \\\\ backslash, "
		    "{braces} [brackets] \\\"usage\\\": {\\\"input_tokens\\\": "
		    "1} and \\u0022model\\u0022.\\n",
		.tail = "\"},{\"type\":\"tool_use\",\"input\":{\"usage\":{"
		    "\"input_tokens\":1,\"output_tokens\":1}}}],"
		    "\"stop_reason\":\"end_turn\",\"usage\":{"
		    "\"input_tokens\":12,\"cache_creation_input_tokens\":3,"
		    "\"cache_read_input_tokens\":5,\"output_tokens\":15}}",
	};

	g.hl = strlen(g.head);
	g.ul = strlen(g.unit);
	g.tl = strlen(g.tail);
	g.nunits = (((uint64_t)300 << 20) + g.ul - 1) / g.ul;
	stream_big(&g, &json_ok);
}
END_TEST

static Suite *
scan_suite(void)
{
	Suite *s = suite_create("scan");
	TCase *json = tcase_create("json");
	TCase *sse = tcase_create("sse");
	TCase *big = tcase_create("big");

	tcase_add_test(json, scan_reads_usage_from_a_json_message);
	tcase_add_test(json, scan_reads_a_pretty_printed_json_message);
	tcase_add_test(json, scan_counts_absent_or_null_cache_fields_as_zero);
	tcase_add_test(json,
	    scan_skips_other_usage_keys_without_taking_their_counts);
	tcase_add_test(json, scan_ignores_usage_text_inside_strings);
	tcase_add_test(json,
	    scan_ignores_usage_and_model_keys_nested_in_tool_input);
	tcase_add_test(json, scan_takes_keys_only_at_their_own_depth);
	tcase_add_test(json, scan_ignores_fake_sse_lines_inside_a_json_string);
	tcase_add_test(json, scan_takes_the_last_of_duplicate_keys);
	tcase_add_test(json, scan_keeps_at_most_63_bytes_of_the_model);
	tcase_add_test(json, scan_flags_json_error_bodies);
	tcase_add_test(json, scan_rejects_every_truncation_of_a_json_body);
	tcase_add_test(json,
	    scan_rejects_counts_that_are_not_small_non_negative_integers);
	tcase_add_test(json, scan_requires_input_and_output_counts);
	tcase_add_test(json, scan_rejects_malformed_json);
	tcase_add_test(json, scan_follows_deeply_nested_content);
	tcase_add_test(json, scan_survives_garbage_nul_bytes_and_invalid_utf8);
	tcase_add_test(json, scan_detects_the_body_kind);
	tcase_add_test(json, scan_starts_afresh_after_init);
	tcase_set_timeout(json, 30);
	suite_add_tcase(s, json);

	tcase_add_test(sse, scan_reads_usage_from_an_sse_stream);
	tcase_add_test(sse, scan_takes_the_last_message_delta_not_the_sum);
	tcase_add_test(sse,
	    scan_lets_message_delta_override_input_and_cache_counts);
	tcase_add_test(sse, scan_reads_sse_with_lf_crlf_and_cr_line_ends);
	tcase_add_test(sse, scan_ignores_fake_sse_lines_inside_content);
	tcase_add_test(sse, scan_reads_sse_without_event_lines);
	tcase_add_test(sse, scan_joins_multi_line_data_and_ignores_other_fields);
	tcase_add_test(sse, scan_trusts_the_event_line_over_the_data_type);
	tcase_add_test(sse, scan_flags_sse_error_events);
	tcase_add_test(sse,
	    scan_rejects_sse_truncated_before_the_last_message_delta_ends);
	tcase_add_test(sse,
	    scan_requires_message_start_usage_and_a_message_delta);
	tcase_add_test(sse, scan_rejects_malformed_needed_events_only);
	tcase_set_timeout(sse, 30);
	suite_add_tcase(s, sse);

	tcase_add_test(big, scan_reads_a_300_mib_sse_stream_in_bounded_memory);
	tcase_add_test(big, scan_reads_a_300_mib_json_message_in_bounded_memory);
	tcase_set_timeout(big, 120);
	suite_add_tcase(s, big);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(scan_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
