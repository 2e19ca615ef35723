/*
 * Unit tests of the TLS tap's HTTP/1.x reader (shim/h1.c).
 *
 * A test is a conversation: the bytes the application wrote (out) and read
 * (in), in order, then the connection's end.  The reader and the real
 * record.c are included; send_event() is replaced by a capture of the
 * events, so each test asserts exactly what the daemon would receive;
 * coded bodies go through the real decode.c.
 * Every conversation with an expected result is also fed one byte at a
 * time, in random pieces and split at every byte boundary: the events must
 * be the same, byte for byte, whatever the split.
 */
#include <check.h>
#include <stdarg.h>
#include <strings.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <zlib.h>

#include "../shim/h1.c"
#include "../shim/record.c"
#include "../shim/resolve_int.h"

/* ---- what record.c sends, captured ---------------------------------------- */

#define MAX_EV	64

static struct rtp_event evs[MAX_EV];
static int nev;

const char *
cfg_prog(void)
{
	return "check_h1";
}

const char *
cfg_sock(void)
{
	return "/nonexistent/ingest.sock";
}

int
send_event(const char *path, struct rtp_event *ev)
{
	(void)path;
	if (nev < MAX_EV)
		evs[nev] = *ev;
	nev++;
	return 0;
}

/* ---- decode.c, the real one: dec_new() counted, dlopen direct ---------- */

__thread int shim_busy;

static int dec_news;		/* dec_new() calls */

struct dec *__real_dec_new(int coding);
struct dec *__wrap_dec_new(int coding);

struct dec *
__wrap_dec_new(int coding)
{
	dec_news++;
	return __real_dec_new(coding);
}

void *
dlhook_real_dlopen(const char *file, int mode)
{
	return dlopen(file, mode);
}

/* ---- messages ------------------------------------------------------------- */

#define MSG_JSON \
	"{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\"," \
	"\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\"," \
	"\"content\":[{\"type\":\"text\",\"text\":\"Hello! How can I help " \
	"you today? Here is a somewhat longer answer so that the body is " \
	"close to a kilobyte, as real answers are: lorem ipsum dolor sit " \
	"amet, consectetur adipiscing elit, sed do eiusmod tempor " \
	"incididunt ut labore et dolore magna aliqua. Ut enim ad minim " \
	"veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip " \
	"ex ea commodo consequat. Duis aute irure dolor in reprehenderit " \
	"in voluptate velit esse cillum dolore eu fugiat nulla pariatur.\"}]," \
	"\"stop_reason\":\"end_turn\",\"stop_sequence\":null," \
	"\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":3," \
	"\"cache_read_input_tokens\":5,\"cache_creation\":{" \
	"\"ephemeral_5m_input_tokens\":3,\"ephemeral_1h_input_tokens\":0}," \
	"\"output_tokens\":15,\"service_tier\":\"standard\"," \
	"\"server_tool_use\":{\"web_search_requests\":0}}}"

#define SSE_START \
	"event: message_start\n" \
	"data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\"," \
	"\"type\":\"message\",\"role\":\"assistant\",\"model\":" \
	"\"claude-opus-4-1-20250805\",\"content\":[],\"stop_reason\":null," \
	"\"stop_sequence\":null,\"usage\":{\"input_tokens\":25," \
	"\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":7," \
	"\"output_tokens\":1}}}\n\n"
#define SSE_MIDDLE \
	"event: content_block_start\n" \
	"data: {\"type\":\"content_block_start\",\"index\":0," \
	"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" \
	"event: ping\ndata: {\"type\": \"ping\"}\n\n" \
	"event: content_block_delta\n" \
	"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":" \
	"{\"type\":\"text_delta\",\"text\":\"Hi there\"}}\n\n" \
	"event: content_block_stop\n" \
	"data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
#define SSE_END \
	"event: message_delta\n" \
	"data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":" \
	"\"end_turn\",\"stop_sequence\":null},\"usage\":" \
	"{\"output_tokens\":42}}\n\n" \
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
#define SSE_BODY SSE_START SSE_MIDDLE SSE_END

#define REQ_BODY "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64," \
	"\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}"

#define REQ_HDRS "Host: api.anthropic.com\r\n" \
	"User-Agent: python-httpx/0.27.0\r\nAccept: application/json\r\n" \
	"x-api-key: sk-ant-not-a-real-key\r\n" \
	"anthropic-version: 2023-06-01\r\n" \
	"content-type: application/json\r\n"

/* The headers of a real answer, rate-limit ones included. */
#define RSP_HDRS "Date: Mon, 07 Dec 2026 06:15:54 GMT\r\n" \
	"Content-Type: application/json\r\n" \
	"anthropic-ratelimit-unified-status: allowed\r\n" \
	"anthropic-ratelimit-unified-5h-status: allowed\r\n" \
	"anthropic-ratelimit-unified-5h-reset: 1796659200\r\n" \
	"anthropic-ratelimit-unified-5h-utilization: 0.25\r\n" \
	"anthropic-ratelimit-unified-7d-status: allowed\r\n" \
	"anthropic-ratelimit-unified-7d-reset: 1797000000\r\n" \
	"anthropic-ratelimit-unified-7d-utilization: 0.5\r\n" \
	"anthropic-ratelimit-unified-representative-claim: five_hour\r\n" \
	"request-id: req_011CVxyzAbCdEfGhIjKlMnOp\r\n" \
	"strict-transport-security: max-age=31536000; includeSubDomains\r\n" \
	"anthropic-organization-id: 1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901\r\n" \
	"via: 1.1 google\r\ncf-cache-status: DYNAMIC\r\n" \
	"X-Robots-Tag: none\r\nServer: cloudflare\r\n" \
	"CF-RAY: 9a8b7c6d5e4f3a2b-FRA\r\n"

static char bufs[16][1 << 14];
static int nbuf;

/* A buffer of the test's own, for one formatted message. */
static char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *b;

	ck_assert_int_lt(nbuf, 16);
	b = bufs[nbuf++];
	va_start(ap, f);
	ck_assert_int_lt(vsnprintf(b, sizeof(bufs[0]), f, ap),
	    (int)sizeof(bufs[0]));
	va_end(ap);
	return b;
}

/* POST path with a JSON body of Content-Length. */
static char *
post(const char *path)
{
	return fmt("POST %s HTTP/1.1\r\n" REQ_HDRS "Content-Length: %zu\r\n"
	    "\r\n" REQ_BODY, path, strlen(REQ_BODY));
}

/* A response with a Content-Length body. */
static char *
rsp(int status, const char *hdrs, const char *body)
{
	return fmt("HTTP/1.1 %d Whatever\r\n" RSP_HDRS "%s"
	    "Content-Length: %zu\r\n\r\n%s", status, hdrs, strlen(body), body);
}

/* body in chunks of size bytes, each chunk line with ext, then trailers
 * (CRLF-terminated lines) after the last chunk. */
static char *
chunks(const char *body, size_t size, const char *ext, const char *trailers)
{
	char *b;
	size_t n = strlen(body), off = 0, k;

	ck_assert_int_lt(nbuf, 16);
	b = bufs[nbuf++];
	b[0] = '\0';
	for (k = 0; k < n; k += size) {
		size_t m = n - k < size ? n - k : size;

		off += (size_t)snprintf(b + off, sizeof(bufs[0]) - off,
		    "%zx%s\r\n%.*s\r\n", m, ext, (int)m, body + k);
		ck_assert_uint_lt(off, sizeof(bufs[0]));
	}
	off += (size_t)snprintf(b + off, sizeof(bufs[0]) - off, "0%s\r\n%s\r\n",
	    ext, trailers);
	ck_assert_uint_lt(off, sizeof(bufs[0]));
	return b;
}

/* ---- conversations ---------------------------------------------------- */

struct step {
	char dir;		/* 'o': out, 'i': in */
	const char *p;
	size_t n;		/* 0: strlen(p) */
};

#define END_CLEAN	1
#define END_CUT		0
#define END_DROP	-1
#define END_NONE	-2	/* not ended (the reader is leaked) */

enum split { WHOLE, BYTES, RANDOM, AT };

static size_t
step_len(const struct step *s)
{
	return s->n != 0 ? s->n : strlen(s->p);
}

/* Run the conversation through a new reader, each step cut as split and
 * arg say, then end it.  Returns the number of events. */
static int
run(const struct step *s, size_t ns, int end, enum split split,
    unsigned arg)
{
	void *c;
	size_t k, off, n;
	unsigned seed = arg;

	nev = 0;
	c = h1_proto.open("api.anthropic.com");
	ck_assert_ptr_nonnull(c);
	for (k = 0; k < ns; k++) {
		void (*fn)(void *, const char *, size_t) =
		    s[k].dir == 'o' ? h1_proto.out : h1_proto.in;

		n = step_len(&s[k]);
		for (off = 0; off < n;) {
			size_t m = n - off;

			if (split == BYTES)
				m = 1;
			else if (split == RANDOM)
				m = 1 + (size_t)rand_r(&seed) % 97;
			else if (split == AT && off == 0 && arg < n)
				m = arg;
			if (m > n - off)
				m = n - off;
			fn(c, s[k].p + off, m);
			off += m;
		}
	}
	if (end == END_DROP)
		h1_proto.drop(c);
	else if (end != END_NONE)
		h1_proto.end(c, end);
	else
		free(c);
	return nev;
}

/*
 * The events of the conversation fed whole, checked to be the same fed
 * one byte at a time, in random pieces and split in two at every byte of
 * each step.  Leaves them in evs; returns their number.
 */
static int
conv(const struct step *s, size_t ns, int end)
{
	static struct rtp_event want[MAX_EV];
	size_t k, maxlen = 0;
	int n, i;
	unsigned a;

	n = run(s, ns, end, WHOLE, 0);
	ck_assert_int_le(n, MAX_EV);
	memcpy(want, evs, sizeof(want));
	for (k = 0; k < ns; k++)
		if (step_len(&s[k]) > maxlen)
			maxlen = step_len(&s[k]);
	for (i = 0; i < 2 + 20 + (int)maxlen; i++) {
		enum split sp = i == 0 ? BYTES : i <= 20 ? RANDOM : AT;

		a = i <= 20 ? (unsigned)i : (unsigned)(i - 20);
		ck_assert_msg(run(s, ns, end, sp, a) == n,
		    "split %d/%u: %d events, not %d", sp, a, nev, n);
		ck_assert_msg(memcmp(evs, want, sizeof(evs[0]) * (size_t)n) == 0,
		    "split %d/%u: another event", sp, a);
	}
	memcpy(evs, want, sizeof(want));
	return n;
}

#define CONV(end, ...) \
	conv((const struct step[]){ __VA_ARGS__ }, \
	    sizeof((const struct step[]){ __VA_ARGS__ }) / sizeof(struct step), \
	    end)

static void
setup(void)
{
	nbuf = 0;
	nev = 0;
	dec_news = 0;
}

/* The JSON message's usage, read. */
static void
assert_json_usage(const struct rtp_event *e)
{
	ck_assert_int_eq(e->usage_state, RTP_USAGE_OK);
	ck_assert_int_eq(e->input_tokens, 12);
	ck_assert_int_eq(e->output_tokens, 15);
	ck_assert_int_eq(e->cache_creation_input_tokens, 3);
	ck_assert_int_eq(e->cache_read_input_tokens, 5);
	ck_assert_str_eq(e->model, "claude-sonnet-4-5-20250929");
}

static void
assert_sse_usage(const struct rtp_event *e)
{
	ck_assert_int_eq(e->usage_state, RTP_USAGE_OK);
	ck_assert_int_eq(e->input_tokens, 25);
	ck_assert_int_eq(e->output_tokens, 42);
	ck_assert_int_eq(e->cache_read_input_tokens, 7);
	ck_assert_str_eq(e->model, "claude-opus-4-1-20250805");
	ck_assert(e->flags & RTP_F_STREAM);
}

static void
assert_exchange(const struct rtp_event *e, int method, const char *path,
    int status, int result)
{
	ck_assert_int_eq(e->method, method);
	ck_assert_str_eq(e->path, path);
	ck_assert_int_eq(e->http_status, status);
	ck_assert_int_eq(e->curl_code, result);
	ck_assert_str_eq(e->host, "api.anthropic.com");
	ck_assert_uint_eq(e->flags & (RTP_F_TLS | RTP_F_TLS_TAP),
	    RTP_F_TLS | RTP_F_TLS_TAP);
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(a_json_response_with_content_length_is_one_event)
{
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages?beta=true"), 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[0]);
	ck_assert_uint_eq(evs[0].flags, RTP_F_TLS | RTP_F_TLS_TAP);
	ck_assert_int_eq(dec_news, 0);	/* identity: no decoder */
}
END_TEST

START_TEST(rate_limit_headers_reach_the_event)
{
	ck_assert_int_eq(CONV(END_CUT,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', rsp(429, "retry-after: 17\r\n",
	        "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
	        "\"message\":\"slow down\"}}"), 0 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 429, TAP_OK);
	ck_assert_double_eq(evs[0].d[RTP_D_UTIL_5H], 0.25);
	ck_assert_double_eq(evs[0].d[RTP_D_UTIL_7D], 0.5);
	ck_assert_int_eq(evs[0].i[RTP_I_RESET_5H], 1796659200);
	ck_assert_int_eq(evs[0].i[RTP_I_RESET_7D], 1797000000);
	ck_assert_int_eq(evs[0].i[RTP_I_RETRY_AFTER], 17);
	ck_assert_int_eq(evs[0].unified_status, RTP_US_ALLOWED);
	ck_assert_int_eq(evs[0].claim, RTP_CLAIM_FIVE_HOUR);
	ck_assert_str_eq(evs[0].request_id, "req_011CVxyzAbCdEfGhIjKlMnOp");
	ck_assert(evs[0].flags & RTP_F_ERROR_BODY);
	ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_NONE);
}
END_TEST

START_TEST(a_chunked_response_with_extensions_and_trailers_is_read)
{
	char *h = fmt("HTTP/1.1 200 OK\r\n" RSP_HDRS
	    "Transfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n");
	/* a trailer is not a header: its rate-limit field is not read */
	char *b = chunks(MSG_JSON, 100, ";name=\"va;lue\" ; x",
	    "x-checksum: 1234\r\n"
	    "anthropic-ratelimit-unified-5h-utilization: 0.99\r\n");

	ck_assert_int_eq(CONV(END_CUT,
	    { 'o', post("/v1/messages"), 0 }, { 'i', h, 0 }, { 'i', b, 0 }),
	    1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[0]);
	ck_assert_double_eq(evs[0].d[RTP_D_UTIL_5H], 0.25);
}
END_TEST

START_TEST(an_sse_stream_in_chunks_is_read)
{
	char *h = fmt("HTTP/1.1 200 OK\r\n" RSP_HDRS
	    "Content-Type: text/event-stream; charset=utf-8\r\n"
	    "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
	char *b = chunks(SSE_BODY, 61, "", "");

	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 }, { 'i', h, 0 }, { 'i', b, 0 }),
	    1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_sse_usage(&evs[0]);
	ck_assert(!(evs[0].flags & RTP_F_CUT_SHORT));
}
END_TEST

START_TEST(three_requests_kept_alive_are_three_events)
{
	char *r2 = fmt("POST /v1/messages/count_tokens HTTP/1.1\r\n" REQ_HDRS
	    "Transfer-Encoding: chunked\r\n\r\n%s",
	    chunks(REQ_BODY, 7, ";e=1", "x-t: 1\r\n"));

	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 },
	    { 'o', r2, 0 },
	    { 'i', rsp(200, "", "{\"input_tokens\":99}"), 0 },
	    { 'o', "GET /v1/models?limit=2 HTTP/1.1\r\n" REQ_HDRS "\r\n", 0 },
	    { 'i', rsp(200, "", "{\"data\":[]}"), 0 }), 3);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[0]);
	assert_exchange(&evs[1], RTP_M_POST, "/v1/messages/count_tokens", 200,
	    TAP_OK);
	ck_assert_int_eq(evs[1].usage_state, RTP_USAGE_NONE);
	assert_exchange(&evs[2], RTP_M_GET, "/v1/models", 200, TAP_OK);
}
END_TEST

START_TEST(pipelined_requests_are_matched_in_order)
{
	char *sse = fmt("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"
	    "\r\nTransfer-Encoding: chunked\r\n\r\n%s",
	    chunks(SSE_BODY, 200, "", ""));

	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'o', "DELETE /v1/files/f1 HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 },
	    { 'i', "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}", 0 },
	    { 'i', sse, 0 }), 3);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[0]);
	assert_exchange(&evs[1], RTP_M_DELETE, "/v1/files/f1", 404, TAP_OK);
	assert_exchange(&evs[2], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_sse_usage(&evs[2]);
}
END_TEST

START_TEST(a_head_response_has_no_body)
{
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', "HEAD /v1/messages HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n"
	        "Transfer-Encoding: chunked\r\n\r\n", 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 }), 2);
	assert_exchange(&evs[0], RTP_M_HEAD, "/v1/messages", 200, TAP_OK);
	ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_UNREADABLE);
	assert_exchange(&evs[1], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[1]);
}
END_TEST

START_TEST(responses_204_and_304_have_no_body)
{
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', "DELETE /v1/x HTTP/1.1\r\n\r\n", 0 },
	    { 'o', "GET /v1/y HTTP/1.1\r\nIf-None-Match: \"a\"\r\n\r\n", 0 },
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', "HTTP/1.1 204 No Content\r\n\r\n", 0 },
	    { 'i', "HTTP/1.1 304 Not Modified\r\nContent-Length: 77\r\n"
	        "ETag: \"a\"\r\n\r\n", 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 }), 3);
	assert_exchange(&evs[0], RTP_M_DELETE, "/v1/x", 204, TAP_OK);
	assert_exchange(&evs[1], RTP_M_GET, "/v1/y", 304, TAP_OK);
	assert_exchange(&evs[2], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[2]);
}
END_TEST

START_TEST(interim_100_and_103_responses_are_skipped)
{
	char *req = fmt("POST /v1/messages HTTP/1.1\r\n" REQ_HDRS
	    "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
	    strlen(REQ_BODY));

	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', req, 0 },
	    { 'i', "HTTP/1.1 100 Continue\r\n\r\n", 0 },
	    { 'o', REQ_BODY, 0 },
	    { 'i', "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload"
	        "\r\nanthropic-ratelimit-unified-7d-utilization: 0.9\r\n"
	        "Content-Length: 50\r\n\r\n", 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 },
	    { 'o', "GET /v1/models HTTP/1.1\r\n\r\n", 0 },
	    { 'i', "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 0 }), 2);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[0]);
	ck_assert_double_eq(evs[0].d[RTP_D_UTIL_7D], 0.5);
	assert_exchange(&evs[1], RTP_M_GET, "/v1/models", 200, TAP_OK);
	/* cut after the 100, or in the middle of it: no final status */
	ck_assert_int_eq(CONV(END_CUT,
	    { 'o', req, 0 }, { 'i', "HTTP/1.1 100 Continue\r\n\r\n", 0 }),
	    1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 0, TAP_CUT);
	ck_assert_int_eq(CONV(END_CUT,
	    { 'o', req, 0 }, { 'i', "HTTP/1.1 100 Continue\r\nX-A: b", 0 }),
	    1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 0, TAP_CUT);
}
END_TEST

START_TEST(a_close_delimited_body_ends_with_the_connection)
{
	const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/json"
	    "\r\nConnection: close\r\n\r\n";

	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 }, { 'i', h, 0 },
	    { 'i', MSG_JSON, 0 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[0]);
	/* cut: the same body, but the connection did not end properly */
	ck_assert_int_eq(CONV(END_CUT,
	    { 'o', post("/v1/messages"), 0 }, { 'i', h, 0 },
	    { 'i', MSG_JSON, 0 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_CUT);
	assert_json_usage(&evs[0]);
	/* cut halfway: the usage is not there */
	ck_assert_int_eq(CONV(END_CUT,
	    { 'o', post("/v1/messages"), 0 }, { 'i', h, 0 },
	    { 'i', MSG_JSON, 300 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_CUT);
	ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_UNREADABLE);
	/* HTTP/1.0 */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', "HTTP/1.0 200 OK\r\n\r\n" MSG_JSON, 0 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[0]);
}
END_TEST

START_TEST(connection_close_means_no_further_response)
{
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', rsp(200, "Connection: keep-alive, close\r\n", MSG_JSON), 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[0]);
	/* HTTP/1.0 without keep-alive: the same */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", 0 },
	    { 'i', "garbage", 0 }), 1);
	ck_assert_int_eq(evs[0].curl_code, TAP_OK);
	/* HTTP/1.0 with keep-alive: the next response is read */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'o', post("/v1/x"), 0 },
	    { 'i', "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
	        "Content-Length: 2\r\n\r\n{}", 0 },
	    { 'i', "HTTP/1.0 201 OK\r\nContent-Length: 0\r\n\r\n", 0 }), 2);
	assert_exchange(&evs[1], RTP_M_POST, "/v1/x", 201, TAP_OK);
}
END_TEST

START_TEST(a_response_cut_mid_body_is_reported_cut)
{
	char *h = fmt("HTTP/1.1 200 OK\r\n" RSP_HDRS
	    "Content-Type: text/event-stream\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	char *sse = chunks(SSE_START SSE_MIDDLE, 50, "", "");
	char *json = rsp(200, "", MSG_JSON);

	/* JSON: half the body, the connection reset */
	ck_assert_int_eq(CONV(END_CUT,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', json, strlen(json) - 200 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_CUT);
	ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_UNREADABLE);
	ck_assert_double_eq(evs[0].d[RTP_D_UTIL_5H], 0.25);
	/* even a clean close before the Content-Length is a cut */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', json, strlen(json) - 200 }), 1);
	ck_assert_int_eq(evs[0].curl_code, TAP_CUT);
	/* SSE after message_start: partial, the counts so far */
	ck_assert_int_eq(CONV(END_CUT,
	    { 'o', post("/v1/messages"), 0 }, { 'i', h, 0 },
	    { 'i', sse, strlen(sse) - 5 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_CUT);
	ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_OK);
	ck_assert_int_eq(evs[0].input_tokens, 25);
	ck_assert_int_eq(evs[0].output_tokens, 1);
	ck_assert(evs[0].flags & RTP_F_CUT_SHORT);
	/* cut in the headers: the status is known, the usage is not */
	ck_assert_int_eq(CONV(END_CUT,
	    { 'o', post("/v1/messages"), 0 }, { 'i', h, 100 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_CUT);
	ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_UNREADABLE);
	/* cut in the status line */
	ck_assert_int_eq(CONV(END_CUT,
	    { 'o', post("/v1/messages"), 0 }, { 'i', "HTTP/1.1 2", 0 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 0, TAP_CUT);
}
END_TEST

START_TEST(a_request_without_a_response_is_not_reported)
{
	ck_assert_int_eq(CONV(END_CLEAN, { 'o', post("/v1/messages"), 0 }), 0);
	ck_assert_int_eq(CONV(END_CUT, { 'o', post("/v1/messages"), 0 }), 0);
	ck_assert_int_eq(CONV(END_CUT,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 },
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', "\r\n", 0 }), 1);
	assert_json_usage(&evs[0]);
	/* dropped in a forked child: nothing at all */
	ck_assert_int_eq(CONV(END_DROP,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', rsp(200, "", MSG_JSON), 100 }), 0);
}
END_TEST

/* The message gzip'ed. */
static size_t
gzipped(const char *in, char *out, size_t len)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)strlen(in);
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)len;
	ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	len = len - z.avail_out;
	deflateEnd(&z);
	return len;
}

START_TEST(a_gzip_body_is_decoded_for_the_scanner)
{
	static char gz[4096], raw[8192];
	size_t n = gzipped(MSG_JSON, gz, sizeof(gz)), off, k;
	char *h = fmt("HTTP/1.1 200 OK\r\n" RSP_HDRS
	    "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");

	/* chunked by hand: the gzip bytes hold NULs */
	for (off = 0, k = 0; k < n; k += 40) {
		size_t m = n - k < 40 ? n - k : 40;

		off += (size_t)sprintf(raw + off, "%zx\r\n", m);
		memcpy(raw + off, gz + k, m);
		off += m;
		off += (size_t)sprintf(raw + off, "\r\n");
	}
	off += (size_t)sprintf(raw + off, "0\r\n\r\n");
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 }, { 'i', h, 0 },
	    { 'i', raw, off }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[0]);
	/* one decoder per run of the conversation */
	ck_assert_int_eq(run((const struct step[]){
	    { 'o', post("/v1/messages"), 0 }, { 'i', h, 0 },
	    { 'i', raw, off } }, 3, END_CLEAN, BYTES, 0), 1);
	dec_news = 0;
	ck_assert_int_eq(run((const struct step[]){
	    { 'o', post("/v1/messages"), 0 }, { 'i', h, 0 },
	    { 'i', raw, off } }, 3, END_CLEAN, RANDOM, 7), 1);
	ck_assert_int_eq(dec_news, 1);
	assert_json_usage(&evs[0]);
	/* with Content-Length; a gzip stream without its whole trailer is
	   not read, even when all of the JSON came out */
	h = fmt("HTTP/1.1 200 OK\r\ncontent-encoding: GZIP\r\n"
	    "Content-Length: %zu\r\n\r\n", n - 4);
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 }, { 'i', h, 0 },
	    { 'i', gz, n - 4 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_UNREADABLE);
}
END_TEST

START_TEST(an_unsupported_coding_leaves_the_body_unread)
{
	const char *codings[] = {
		"Content-Encoding: compress\r\n",
		"Content-Encoding: gzip, gzip\r\n",
		"Content-Encoding: gzip\r\nContent-Encoding: gzip\r\n",
		"Content-Encoding: br\r\n",	/* not brotli, or no library */
	};
	size_t k;

	for (k = 0; k < sizeof(codings) / sizeof(codings[0]); k++) {
		ck_assert_int_eq(CONV(END_CLEAN,
		    { 'o', post("/v1/messages"), 0 },
		    { 'i', rsp(200, codings[k], MSG_JSON), 0 }), 1);
		assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200,
		    TAP_OK);
		ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_UNREADABLE);
		ck_assert_str_eq(evs[0].model, "");
	}
	/* identity is no coding */
	dec_news = 0;
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', rsp(200, "Content-Encoding: identity\r\n", MSG_JSON), 0 }),
	    1);
	assert_json_usage(&evs[0]);
	ck_assert_int_eq(dec_news, 0);
}
END_TEST

START_TEST(garbage_for_a_status_line_gives_up)
{
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'o', post("/v1/other"), 0 },
	    { 'i', "\r\nSSH-2.0-OpenSSH_9.2\r\n", 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 }), 2);
	/* the response begun and the request waiting: cut, unreadable */
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 0, TAP_CUT);
	assert_exchange(&evs[1], RTP_M_POST, "/v1/other", 0, TAP_CUT);
	/* a status line without a status */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', "HTTP/1.1 2x0 OK\r\n\r\n", 0 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 0, TAP_CUT);
	/* garbage for a request line */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'o', "\x16\x03\x01 hello\r\n", 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 0, TAP_CUT);
}
END_TEST

START_TEST(bad_lengths_give_up)
{
	static const char *const bad[] = {
		"Content-Length: -5\r\n",
		"Content-Length: 99999999999999999999999\r\n",
		"Content-Length: 12, 13\r\n",
		"Content-Length: 12\r\nContent-Length: 13\r\n",
		"Content-Length: 0x10\r\n",
		"Content-Length: \r\n",
	};
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		nbuf = 0;
		ck_assert_int_eq(CONV(END_CLEAN,
		    { 'o', post("/v1/messages"), 0 },
		    { 'i', fmt("HTTP/1.1 200 OK\r\n%s\r\n{}", bad[k]), 0 },
		    { 'i', rsp(200, "", MSG_JSON), 0 }), 1);
		assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200,
		    TAP_CUT);
		ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_UNREADABLE);
	}
	nbuf = 0;
	/* equal values in a list are one length */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n{}", 0 },
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 }), 2);
	assert_json_usage(&evs[1]);
	/* a request whose length cannot be read */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', "POST /v1/messages HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	        0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 0, TAP_CUT);
	/* a Content-Length of 18 digits is followed: the connection ends
	   first */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999"
	        "\r\n\r\n{}", 0 }), 1);
	ck_assert_int_eq(evs[0].curl_code, TAP_CUT);
}
END_TEST

START_TEST(bad_chunks_give_up)
{
	static const char *const bad[] = {
		"fffffffffffffffff\r\n",	/* 68 bits */
		"10000000000000000\r\n",
		"zz\r\n",
		"\r\n",
		"5 x\r\n",
		"2\r\n{}XX\r\n0\r\n\r\n",	/* no line end after the data */
	};
	size_t k;

	/* after a whole message in its first chunk: given up on, the body
	   counts as unread */
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		nbuf = 0;
		ck_assert_int_eq(CONV(END_CLEAN,
		    { 'o', post("/v1/messages"), 0 },
		    { 'i', fmt("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
		        "\r\n\r\n%zx\r\n%s\r\n%s", strlen(MSG_JSON), MSG_JSON,
		        bad[k]), 0 },
		    { 'i', rsp(200, "", MSG_JSON), 0 }), 1);
		assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200,
		    TAP_CUT);
		ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_UNREADABLE);
	}
	nbuf = 0;
	/* leading zeros are no overflow */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	        "00000000000000000000000002\r\n{}\r\n0\r\n\r\n", 0 }), 1);
	ck_assert_int_eq(evs[0].curl_code, TAP_OK);
	/* a coding after chunked: the body ends with the connection */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, foo\r\n\r\n"
	        MSG_JSON, 0 }), 1);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_json_usage(&evs[0]);
}
END_TEST

START_TEST(more_responses_than_requests_have_no_request)
{
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', post("/v1/messages"), 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 },
	    { 'i', rsp(200, "", MSG_JSON), 0 },
	    { 'i', "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n",
	        0 }), 3);
	assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200, TAP_OK);
	assert_exchange(&evs[1], RTP_M_OTHER, "", 200, TAP_OK);
	ck_assert_int_eq(evs[1].usage_state, RTP_USAGE_NONE);
	assert_exchange(&evs[2], RTP_M_OTHER, "", 408, TAP_OK);
}
END_TEST

START_TEST(a_pipeline_deeper_than_the_bound_gives_up)
{
	static char gets[H1_PIPE_MAX][32];
	struct step s[H1_PIPE_MAX + 3];
	int k;

	for (k = 0; k < H1_PIPE_MAX; k++) {
		snprintf(gets[k], sizeof(gets[k]), "GET /v1/r%d HTTP/1.1\r\n"
		    "\r\n", k);
		s[k] = (struct step){ 'o', gets[k], 0 };
	}
	/* the bound itself is fine */
	s[H1_PIPE_MAX] = (struct step){ 'i', rsp(200, "", MSG_JSON), 0 };
	ck_assert_int_eq(conv(s, H1_PIPE_MAX + 1, END_CLEAN), 1);
	assert_exchange(&evs[0], RTP_M_GET, "/v1/r0", 200, TAP_OK);
	/* one more: every request is reported cut, later bytes ignored */
	s[H1_PIPE_MAX] = (struct step){ 'o', post("/v1/messages"), 0 };
	s[H1_PIPE_MAX + 1] = (struct step){ 'i', rsp(200, "", MSG_JSON), 0 };
	s[H1_PIPE_MAX + 2] = (struct step){ 'o', post("/v1/messages"), 0 };
	ck_assert_int_eq(conv(s, H1_PIPE_MAX + 3, END_CLEAN), H1_PIPE_MAX + 1);
	for (k = 0; k < H1_PIPE_MAX; k++) {
		char path[16];

		snprintf(path, sizeof(path), "/v1/r%d", k);
		assert_exchange(&evs[k], RTP_M_GET, path, 0, TAP_CUT);
	}
	assert_exchange(&evs[H1_PIPE_MAX], RTP_M_POST, "/v1/messages", 0,
	    TAP_CUT);
}
END_TEST

/* A header line of len bytes: name, ": ", then 'a's, CRLF. */
static char *
long_line(const char *name, size_t len)
{
	char *b = malloc(len + 1);
	size_t n = strlen(name);

	ck_assert_ptr_nonnull(b);
	memcpy(b, name, n);
	memcpy(b + n, ": ", 2);
	memset(b + n + 2, 'a', len - n - 4);
	memcpy(b + len - 2, "\r\n", 3);
	return b;
}

START_TEST(a_ten_megabyte_header_line_is_skipped_in_bounded_memory)
{
	static const char *const names[] = {
		"x-long", "content-type", "Cookie-Thing", "transfer-x",
		"connection", "content-encoding"
	};
	size_t k, len = 10u << 20;
	int i;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		char *line = long_line(names[k], len);
		struct step s[] = {
			{ 'o', post("/v1/messages"), 0 },
			{ 'i', "HTTP/1.1 200 OK\r\n" RSP_HDRS, 0 },
			{ 'i', line, len },
			{ 'i', fmt("Content-Length: %zu\r\n\r\n" MSG_JSON,
			    strlen(MSG_JSON)), 0 },
		};

		for (i = 0; i < 3; i++) {
			ck_assert_int_eq(run(s, 4, END_CLEAN, i == 0 ? WHOLE :
			    RANDOM, (unsigned)i), 1);
			assert_exchange(&evs[0], RTP_M_POST, "/v1/messages",
			    200, TAP_OK);
			ck_assert_double_eq(evs[0].d[RTP_D_UTIL_5H], 0.25);
			if (strcmp(names[k], "content-encoding") == 0)
				ck_assert_int_eq(evs[0].usage_state,
				    RTP_USAGE_UNREADABLE);
			else
				assert_json_usage(&evs[0]);
		}
		free(line);
		nbuf = 0;
	}
	/* of a framing header: given up on */
	{
		char *line = long_line("Content-Length", 4096);
		struct step s[] = {
			{ 'o', post("/v1/messages"), 0 },
			{ 'i', "HTTP/1.1 200 OK\r\n", 0 },
			{ 'i', line, 0 },
			{ 'i', "\r\n{}", 0 },
		};

		line[16] = '1';	/* a number of 4000 digits */
		memset(line + 17, '0', 4096 - 19);
		ck_assert_int_eq(conv(s, 4, END_CLEAN), 1);
		assert_exchange(&evs[0], RTP_M_POST, "/v1/messages", 200,
		    TAP_CUT);
		free(line);
	}
	/* a long request line: its path cut, the next request found */
	{
		char *target = malloc(len + 1);
		char *req = malloc(len + 64);
		struct step s[] = {
			{ 'o', req, 0 },
			{ 'o', post("/v1/messages"), 0 },
			{ 'i', "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0 },
			{ 'i', rsp(200, "", MSG_JSON), 0 },
		};

		memset(target, 'p', len);
		target[0] = '/';
		target[len] = '\0';
		sprintf(req, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", target);
		ck_assert_int_eq(run(s, 4, END_CLEAN, WHOLE, 0), 2);
		ck_assert_int_eq(evs[0].method, RTP_M_GET);
		ck_assert_uint_eq(strlen(evs[0].path), RTP_PATH_LEN - 1);
		assert_exchange(&evs[1], RTP_M_POST, "/v1/messages", 200,
		    TAP_OK);
		assert_json_usage(&evs[1]);
		free(target);
		free(req);
	}
}
END_TEST

START_TEST(the_connection_takes_bounded_memory)
{
	/* the whole state: the struct, allocated once at open() */
	ck_assert_uint_lt(sizeof(struct h1_conn), 8192);
}
END_TEST

START_TEST(a_connect_tunnel_is_not_read_as_http)
{
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', "CONNECT api.anthropic.com:443 HTTP/1.1\r\n"
	        "Host: api.anthropic.com:443\r\n\r\n", 0 },
	    { 'i', "HTTP/1.1 200 Connection established\r\n\r\n", 0 },
	    { 'o', "\x16\x03\x01\x02\x00\x01", 6 },
	    { 'i', "\x16\x03\x03\x00\x7a\x02", 6 }), 1);
	assert_exchange(&evs[0], RTP_M_OTHER, "/", 200,
	    TAP_OK);
	/* an upgrade: 101, then not HTTP */
	ck_assert_int_eq(CONV(END_CLEAN,
	    { 'o', "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
	        "Connection: Upgrade\r\n\r\n", 0 },
	    { 'i', "HTTP/1.1 101 Switching Protocols\r\n"
	        "Upgrade: websocket\r\n\r\n\x81\x05hello", 0 },
	    { 'o', "\x81\x85zzzzzzzzz", 0 }), 1);
	assert_exchange(&evs[0], RTP_M_GET, "/ws", 101, TAP_OK);
}
END_TEST

static Suite *
h1_suite(void)
{
	Suite *s = suite_create("h1");
	TCase *t = tcase_create("h1");

	tcase_add_checked_fixture(t, setup, NULL);
	tcase_add_test(t, a_json_response_with_content_length_is_one_event);
	tcase_add_test(t, rate_limit_headers_reach_the_event);
	tcase_add_test(t,
	    a_chunked_response_with_extensions_and_trailers_is_read);
	tcase_add_test(t, an_sse_stream_in_chunks_is_read);
	tcase_add_test(t, three_requests_kept_alive_are_three_events);
	tcase_add_test(t, pipelined_requests_are_matched_in_order);
	tcase_add_test(t, a_head_response_has_no_body);
	tcase_add_test(t, responses_204_and_304_have_no_body);
	tcase_add_test(t, interim_100_and_103_responses_are_skipped);
	tcase_add_test(t, a_close_delimited_body_ends_with_the_connection);
	tcase_add_test(t, connection_close_means_no_further_response);
	tcase_add_test(t, a_response_cut_mid_body_is_reported_cut);
	tcase_add_test(t, a_request_without_a_response_is_not_reported);
	tcase_add_test(t, a_gzip_body_is_decoded_for_the_scanner);
	tcase_add_test(t, an_unsupported_coding_leaves_the_body_unread);
	tcase_add_test(t, garbage_for_a_status_line_gives_up);
	tcase_add_test(t, bad_lengths_give_up);
	tcase_add_test(t, bad_chunks_give_up);
	tcase_add_test(t, more_responses_than_requests_have_no_request);
	tcase_add_test(t, a_pipeline_deeper_than_the_bound_gives_up);
	tcase_add_test(t,
	    a_ten_megabyte_header_line_is_skipped_in_bounded_memory);
	tcase_add_test(t, the_connection_takes_bounded_memory);
	tcase_add_test(t, a_connect_tunnel_is_not_read_as_http);
	tcase_set_timeout(t, 120);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(h1_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
