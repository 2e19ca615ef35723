/*
 * Unit tests of shim/h2.c, the HTTP/2 reader of the TLS tap.
 *
 * Each test writes the two byte streams of a real HTTP/2 connection:
 * frames built by hand, header blocks encoded by libnghttp2's own HPACK
 * deflaters (one per side, so the dynamic tables evolve as a real peer's
 * do).  They are fed to h2_proto whole, one byte at a time and in random
 * pieces, the directions in the order a client would see them; the events
 * are those rec_report() (shim/record.c, #included) builds, caught where
 * they would be sent.
 */
#include <check.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>
#include <zlib.h>

#include "../shim/record.c"
#include "../shim/resolve_int.h"
#include "../shim/tlstap.h"

_Static_assert(sizeof(nghttp2_nv) == 40 &&
    offsetof(nghttp2_nv, namelen) == 16 && offsetof(nghttp2_nv, flags) == 32,
    "nghttp2_nv layout (h2.c declares its own)");

/* ---- the shim's surroundings ------------------------------------------- */

__thread int shim_busy;

static int no_dlopen;		/* 1: every library is missing */

void *
dlhook_real_dlopen(const char *file, int mode)
{
	ck_assert_int_eq(shim_busy, 1);
	if (no_dlopen)
		return NULL;
	return dlopen(file, mode);
}

const char *
cfg_prog(void)
{
	return "check_h2";
}

const char *
cfg_sock(void)
{
	return "/nonexistent/ingest.sock";
}

#define EV_MAX	256
static struct rtp_event evs[EV_MAX];
static int nev;

int
send_event(const char *path, struct rtp_event *ev)
{
	(void)path;
	ck_assert_int_lt(nev, EV_MAX);
	evs[nev++] = *ev;
	return 0;
}

/* The event whose model is model, checked to be the only one. */
static const struct rtp_event *
ev_model(const char *model)
{
	const struct rtp_event *e = NULL;
	int k;

	for (k = 0; k < nev; k++)
		if (strcmp(evs[k].model, model) == 0) {
			ck_assert_ptr_null(e);
			e = &evs[k];
		}
	ck_assert_msg(e != NULL, "no event for %s", model);
	return e;
}

/* ---- writing a connection ---------------------------------------------- */

enum { OUT, IN };

struct seg {
	int dir;
	size_t off, n;
};

struct script {
	unsigned char *buf;		/* every byte, in order */
	size_t len, cap;
	struct seg seg[4096];		/* runs of one direction */
	int nseg;
	nghttp2_hd_deflater *cdef;	/* the client's HPACK encoder */
	nghttp2_hd_deflater *sdef;	/* the server's */
	size_t last_block;		/* length of the last block encoded */
};

static struct script *
script_new(void)
{
	struct script *s = calloc(1, sizeof(*s));

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(nghttp2_hd_deflate_new(&s->cdef, 4096), 0);
	ck_assert_int_eq(nghttp2_hd_deflate_new(&s->sdef, 4096), 0);
	return s;
}

static void
script_free(struct script *s)
{
	nghttp2_hd_deflate_del(s->cdef);
	nghttp2_hd_deflate_del(s->sdef);
	free(s->buf);
	free(s);
}

static void
put(struct script *s, int dir, const void *p, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2 + 4096;
		s->buf = realloc(s->buf, s->cap);
		ck_assert_ptr_nonnull(s->buf);
	}
	memcpy(s->buf + s->len, p, n);
	if (s->nseg > 0 && s->seg[s->nseg - 1].dir == dir)
		s->seg[s->nseg - 1].n += n;
	else {
		ck_assert_int_lt(s->nseg, 4096);
		s->seg[s->nseg++] = (struct seg){ dir, s->len, n };
	}
	s->len += n;
}

static void
frame(struct script *s, int dir, int type, int flags, uint32_t sid,
    const void *payload, size_t n)
{
	unsigned char h[9] = {
		(unsigned char)(n >> 16), (unsigned char)(n >> 8),
		(unsigned char)n, (unsigned char)type, (unsigned char)flags,
		(unsigned char)(sid >> 24 & 0x7f), (unsigned char)(sid >> 16),
		(unsigned char)(sid >> 8), (unsigned char)sid
	};

	ck_assert_uint_lt(n, 1 << 24);
	put(s, dir, h, sizeof(h));
	if (n > 0)
		put(s, dir, payload, n);
}

/* HPACK-encode the NULL-terminated name, value, ... list kv with d into
 * out (cap bytes).  Returns the block's length. */
static size_t
hpack(struct script *s, nghttp2_hd_deflater *d, unsigned char *out,
    size_t cap, const char *const *kv)
{
	nghttp2_nv nva[64];
	size_t n = 0;
	ssize_t r;

	for (; kv[0] != NULL; kv += 2, n++) {
		ck_assert_uint_lt(n, 64);
		nva[n].name = (uint8_t *)(uintptr_t)kv[0];
		nva[n].value = (uint8_t *)(uintptr_t)kv[1];
		nva[n].namelen = strlen(kv[0]);
		nva[n].valuelen = strlen(kv[1]);
		nva[n].flags = NGHTTP2_NV_FLAG_NONE;
	}
	r = nghttp2_hd_deflate_hd(d, out, cap, nva, n);
	ck_assert_int_ge(r, 0);
	s->last_block = (size_t)r;
	return (size_t)r;
}

/* A header block as HEADERS (flags: END_STREAM, PADDED, PRIORITY) and
 * CONTINUATION frames of at most piece bytes of block each (0: one
 * frame). */
static void
headers_ex(struct script *s, int dir, uint32_t sid, int flags,
    const char *const *kv, size_t piece, unsigned padlen)
{
	static unsigned char blk[1 << 17], pl[1 << 17];
	size_t n = hpack(s, dir == OUT ? s->cdef : s->sdef, blk, sizeof(blk),
	    kv), at = 0, k, m;
	int first = 1, f;

	if (piece == 0)
		piece = n > 0 ? n : 1;
	do {
		k = n - at < piece ? n - at : piece;
		m = 0;
		f = at + k == n ? NGHTTP2_FLAG_END_HEADERS : 0;
		if (first) {
			f |= flags & (NGHTTP2_FLAG_END_STREAM |
			    NGHTTP2_FLAG_PADDED | NGHTTP2_FLAG_PRIORITY);
			if (flags & NGHTTP2_FLAG_PADDED)
				pl[m++] = (unsigned char)padlen;
			if (flags & NGHTTP2_FLAG_PRIORITY) {
				memcpy(pl + m, "\x80\0\0\0\x0f", 5);
				m += 5;
			}
		}
		memcpy(pl + m, blk + at, k);
		m += k;
		if (first && (flags & NGHTTP2_FLAG_PADDED)) {
			memset(pl + m, 0, padlen);
			m += padlen;
		}
		frame(s, dir, first ? NGHTTP2_HEADERS : NGHTTP2_CONTINUATION,
		    f, sid, pl, m);
		first = 0;
		at += k;
	} while (at < n);
}

static void
headers(struct script *s, int dir, uint32_t sid, int flags,
    const char *const *kv)
{
	headers_ex(s, dir, sid, flags, kv, 0, 0);
}

static void
data_ex(struct script *s, int dir, uint32_t sid, int flags, const void *p,
    size_t n, int padded, unsigned padlen)
{
	static unsigned char pl[1 << 17];
	size_t m = 0;

	if (padded)
		pl[m++] = (unsigned char)padlen;
	memcpy(pl + m, p, n);
	m += n;
	if (padded) {
		memset(pl + m, 0, padlen);
		m += padlen;
	}
	frame(s, dir, NGHTTP2_DATA, flags | (padded ? NGHTTP2_FLAG_PADDED : 0),
	    sid, pl, m);
}

static void
data(struct script *s, int dir, uint32_t sid, int flags, const char *p)
{
	data_ex(s, dir, sid, flags, p, strlen(p), 0, 0);
}

static void
settings(struct script *s, int dir, int ack, int table)
{
	unsigned char e[6] = { 0, 1 };

	if (table < 0 || ack) {
		frame(s, dir, NGHTTP2_SETTINGS, ack ? NGHTTP2_FLAG_ACK : 0, 0,
		    NULL, 0);
		return;
	}
	e[2] = (unsigned char)(table >> 24);
	e[3] = (unsigned char)(table >> 16);
	e[4] = (unsigned char)(table >> 8);
	e[5] = (unsigned char)table;
	frame(s, dir, NGHTTP2_SETTINGS, 0, 0, e, sizeof(e));
}

/* The start of every connection: preface, SETTINGS both ways, ACKs, a
 * WINDOW_UPDATE. */
static void
preface(struct script *s)
{
	static const unsigned char wu[4] = { 0, 0x0f, 0, 1 };

	put(s, OUT, NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
	settings(s, OUT, 0, -1);
	frame(s, OUT, NGHTTP2_WINDOW_UPDATE, 0, 0, wu, sizeof(wu));
	settings(s, IN, 0, -1);
	settings(s, IN, 1, -1);
	settings(s, OUT, 1, -1);
}

static void
request(struct script *s, uint32_t sid, const char *method, const char *path)
{
	const char *const kv[] = {
		":method", method, ":scheme", "https",
		":authority", "api.anthropic.com", ":path", path,
		"content-type", "application/json",
		"user-agent", "check_h2/1.0", "anthropic-version", "2023-06-01",
		"x-api-key", "sk-ant-test", NULL
	};

	if (strcmp(method, "POST") == 0) {
		headers(s, OUT, sid, 0, kv);
		data(s, OUT, sid, NGHTTP2_FLAG_END_STREAM,
		    "{\"model\":\"claude-x\",\"max_tokens\":64}");
	} else
		headers(s, OUT, sid, NGHTTP2_FLAG_END_STREAM, kv);
}

#define RL_HEADERS \
	"anthropic-ratelimit-unified-status", "allowed", \
	"anthropic-ratelimit-unified-5h-utilization", "0.25", \
	"anthropic-ratelimit-unified-5h-reset", "1767225600", \
	"anthropic-ratelimit-unified-7d-utilization", "0.5"

static void
response(struct script *s, uint32_t sid, const char *status, int flags,
    const char *request_id)
{
	const char *const kv[] = {
		":status", status, "content-type", "application/json",
		"date", "Mon, 01 Dec 2025 10:00:00 GMT",
		"request-id", request_id, RL_HEADERS, NULL
	};

	headers(s, IN, sid, flags, kv);
}

static void
rst(struct script *s, int dir, uint32_t sid)
{
	static const unsigned char code[4] = { 0, 0, 0, 8 };	/* CANCEL */

	frame(s, dir, NGHTTP2_RST_STREAM, 0, sid, code, sizeof(code));
}

static void
goaway(struct script *s, uint32_t last)
{
	unsigned char p[12] = {
		(unsigned char)(last >> 24), (unsigned char)(last >> 16),
		(unsigned char)(last >> 8), (unsigned char)last, 0, 0, 0, 0,
		'b', 'y', 'e', '!'
	};

	frame(s, IN, NGHTTP2_GOAWAY, 0, 0, p, sizeof(p));
}

/* ---- bodies ------------------------------------------------------------- */

#define BODY "{\"id\":\"msg_1\",\"type\":\"message\",\"model\":\"claude-x\"," \
	"\"usage\":{\"input_tokens\":12,\"output_tokens\":34}}"

static const char *
body_of(char *buf, size_t len, const char *model, int in, int out)
{
	snprintf(buf, len, "{\"id\":\"msg_%s\",\"type\":\"message\","
	    "\"role\":\"assistant\",\"model\":\"%s\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"Hello there\"}],\"usage\":{\"input_tokens\":"
	    "%d,\"output_tokens\":%d}}", model, model, in, out);
	return buf;
}

static const char *const sse_events[] = {
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
	"{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
	"\"model\":\"claude-sse\",\"content\":[],\"stop_reason\":null,"
	"\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
	"event: content_block_start\ndata: {\"type\":\"content_block_start\","
	"\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
	"event: ping\ndata: {\"type\": \"ping\"}\n\n",
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
	"\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
	"\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" there\"}}"
	"\n\n",
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
	"\"index\":0}\n\n",
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
	"{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":"
	"{\"output_tokens\":34}}\n\n",
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
	NULL
};

/* ---- feeding ----------------------------------------------------------- */

enum { WHOLE, ONE, RANDOM };

static unsigned rnd_state;

static size_t
rnd(size_t max)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return 1 + (rnd_state >> 8) % max;
}

/* Feed s to a new reader, split as asked; end it (clean) unless end is
 * 0, then return it. */
static void *
feed(const struct script *s, int split, unsigned seed, int end)
{
	void *c = h2_proto.open("api.anthropic.com");
	size_t at, k;
	int i;

	ck_assert_ptr_nonnull(c);
	rnd_state = seed;
	for (i = 0; i < s->nseg; i++)
		for (at = 0; at < s->seg[i].n; at += k) {
			k = s->seg[i].n - at;
			if (split == ONE)
				k = 1;
			else if (split == RANDOM && k > 1)
				k = rnd(k < 700 ? k : 700);
			(s->seg[i].dir == OUT ? h2_proto.out : h2_proto.in)(c,
			    (const char *)s->buf + s->seg[i].off + at, k);
		}
	if (end) {
		h2_proto.end(c, 1);
		return NULL;
	}
	return c;
}

/* Run s whole, one byte at a time and in 20 random splits, each time
 * ending the connection cleanly and calling check() on the events. */
static void
every_split(const struct script *s, void (*check)(void))
{
	unsigned seed;

	nev = 0;
	(void)feed(s, WHOLE, 0, 1);
	check();
	nev = 0;
	(void)feed(s, ONE, 0, 1);
	check();
	for (seed = 1; seed <= 20; seed++) {
		nev = 0;
		(void)feed(s, RANDOM, seed, 1);
		check();
	}
}

static void
check_messages_event(const struct rtp_event *e, const char *model, int in,
    int out)
{
	ck_assert_int_eq(e->http_status, 200);
	ck_assert_int_eq(e->method, RTP_M_POST);
	ck_assert_str_eq(e->path, "/v1/messages");
	ck_assert_str_eq(e->host, "api.anthropic.com");
	ck_assert_uint_eq(e->flags & (RTP_F_TLS_TAP | RTP_F_TLS),
	    RTP_F_TLS_TAP | RTP_F_TLS);
	ck_assert_int_eq(e->curl_code, TAP_OK);
	ck_assert_int_eq(e->usage_state, RTP_USAGE_OK);
	ck_assert_str_eq(e->model, model);
	ck_assert_int_eq(e->input_tokens, in);
	ck_assert_int_eq(e->output_tokens, out);
}

static void
check_rl_headers(const struct rtp_event *e, const char *request_id)
{
	ck_assert(e->present & RTP_PRESENT_D(RTP_D_UTIL_5H));
	ck_assert(e->present & RTP_PRESENT_D(RTP_D_UTIL_7D));
	ck_assert(e->present & RTP_PRESENT_I(RTP_I_RESET_5H));
	ck_assert(e->d[RTP_D_UTIL_5H] == 0.25);
	ck_assert(e->d[RTP_D_UTIL_7D] == 0.5);
	ck_assert_int_eq(e->i[RTP_I_RESET_5H], 1767225600);
	ck_assert_int_eq(e->unified_status, RTP_US_ALLOWED);
	ck_assert_str_eq(e->request_id, request_id);
}

/* ---- tests ------------------------------------------------------------- */

static void
check_one(void)
{
	ck_assert_int_eq(nev, 1);
	check_messages_event(&evs[0], "claude-x", 12, 34);
	check_rl_headers(&evs[0], "req_011");
}

START_TEST(one_stream_json_response_is_read_at_every_split)
{
	struct script *s = script_new();

	preface(s);
	request(s, 1, "POST", "/v1/messages?beta=true");
	response(s, 1, "200", 0, "req_011");
	data(s, IN, 1, NGHTTP2_FLAG_END_STREAM, BODY);
	every_split(s, check_one);
	script_free(s);
}
END_TEST

static void
check_three(void)
{
	ck_assert_int_eq(nev, 3);
	check_messages_event(ev_model("claude-1"), "claude-1", 101, 11);
	check_messages_event(ev_model("claude-3"), "claude-3", 103, 13);
	check_messages_event(ev_model("claude-5"), "claude-5", 105, 15);
	ck_assert_str_eq(ev_model("claude-1")->request_id, "req_1");
	ck_assert_str_eq(ev_model("claude-3")->request_id, "req_3");
	ck_assert_str_eq(ev_model("claude-5")->request_id, "req_5");
}

START_TEST(three_interleaved_streams_are_told_apart)
{
	struct script *s = script_new();
	char body[3][512], model[16], rid[16];
	size_t len[3], third;
	int k, part;

	preface(s);
	for (k = 0; k < 3; k++) {
		snprintf(model, sizeof(model), "claude-%d", 2 * k + 1);
		body_of(body[k], sizeof(body[k]), model, 101 + 2 * k,
		    11 + 2 * k);
		len[k] = strlen(body[k]);
		request(s, (uint32_t)(2 * k + 1), "POST", "/v1/messages");
	}
	for (k = 2; k >= 0; k--) {
		snprintf(rid, sizeof(rid), "req_%d", 2 * k + 1);
		response(s, (uint32_t)(2 * k + 1), "200", 0, rid);
	}
	for (part = 0; part < 3; part++)
		for (k = 0; k < 3; k++) {
			third = len[k] / 3;
			data_ex(s, IN, (uint32_t)(2 * k + 1), part == 2 ?
			    NGHTTP2_FLAG_END_STREAM : 0, body[k] + part * third,
			    part == 2 ? len[k] - 2 * third : third, 0, 0);
		}
	every_split(s, check_three);
	script_free(s);
}
END_TEST

static void
check_sse(void)
{
	ck_assert_int_eq(nev, 1);
	check_messages_event(&evs[0], "claude-sse", 12, 34);
	ck_assert(evs[0].flags & RTP_F_STREAM);
	ck_assert(!(evs[0].flags & RTP_F_CUT_SHORT));
}

START_TEST(sse_response_in_many_data_frames_is_read)
{
	struct script *s = script_new();
	const char *const kv[] = {
		":status", "200", "content-type", "text/event-stream",
		"cache-control", "no-cache", RL_HEADERS, NULL
	};
	int k;

	preface(s);
	request(s, 1, "POST", "/v1/messages");
	headers(s, IN, 1, 0, kv);
	for (k = 0; sse_events[k] != NULL; k++) {
		/* each event in two frames, with a WINDOW_UPDATE and a PING
		   between them */
		size_t n = strlen(sse_events[k]);

		data_ex(s, IN, 1, 0, sse_events[k], n / 2, 0, 0);
		frame(s, IN, NGHTTP2_PING, 0, 0, "12345678", 8);
		frame(s, OUT, NGHTTP2_WINDOW_UPDATE, 0, 1, "\0\0\x10\0", 4);
		data_ex(s, IN, 1, 0, sse_events[k] + n / 2, n - n / 2, 0, 0);
	}
	data_ex(s, IN, 1, NGHTTP2_FLAG_END_STREAM, "", 0, 0, 0);
	every_split(s, check_sse);
	script_free(s);
}
END_TEST

static void
check_gzip(void)
{
	ck_assert_int_eq(nev, 2);
	check_messages_event(&evs[0], "claude-x", 12, 34);
	/* a coding not read: the usage cannot be */
	ck_assert_int_eq(evs[1].http_status, 200);
	ck_assert_int_eq(evs[1].usage_state, RTP_USAGE_UNREADABLE);
	ck_assert_str_eq(evs[1].model, "");
}

START_TEST(gzip_encoded_response_is_decoded)
{
	struct script *s = script_new();
	const char *const kv[] = {
		":status", "200", "content-type", "application/json",
		"content-encoding", "gzip", "vary", "accept-encoding", NULL
	};
	const char *const kv2[] = {
		":status", "200", "content-type", "application/json",
		"content-encoding", "compress", NULL
	};
	unsigned char gz[512];
	z_stream z;
	size_t n;

	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)BODY;
	z.avail_in = (uInt)strlen(BODY);
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	n = z.total_out;
	deflateEnd(&z);

	preface(s);
	request(s, 1, "POST", "/v1/messages");
	headers(s, IN, 1, 0, kv);
	data_ex(s, IN, 1, 0, gz, 10, 0, 0);
	data_ex(s, IN, 1, 0, gz + 10, n - 20, 0, 0);
	data_ex(s, IN, 1, NGHTTP2_FLAG_END_STREAM, gz + n - 10, 10, 0, 0);
	request(s, 3, "POST", "/v1/messages");
	headers(s, IN, 3, 0, kv2);
	data_ex(s, IN, 3, NGHTTP2_FLAG_END_STREAM, gz, n, 0, 0);
	every_split(s, check_gzip);
	script_free(s);
}
END_TEST

static void
check_rst(void)
{
	ck_assert_int_eq(nev, 2);
	ck_assert_int_eq(evs[0].curl_code, TAP_CUT);
	ck_assert_int_eq(evs[0].http_status, 200);
	ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_UNREADABLE);
	check_rl_headers(&evs[0], "req_1");
	/* a client's RST_STREAM of a response begun cuts it too */
	ck_assert_int_eq(evs[1].curl_code, TAP_CUT);
	ck_assert_str_eq(evs[1].request_id, "req_5");
}

START_TEST(rst_stream_cuts_a_response_begun)
{
	struct script *s = script_new();

	preface(s);
	request(s, 1, "POST", "/v1/messages");
	request(s, 3, "POST", "/v1/messages");
	response(s, 1, "200", 0, "req_1");
	data_ex(s, IN, 1, 0, BODY, 40, 0, 0);
	rst(s, IN, 1);
	/* frames in flight after the reset: ignored */
	data_ex(s, IN, 1, NGHTTP2_FLAG_END_STREAM, BODY + 40,
	    strlen(BODY) - 40, 0, 0);
	/* reset before any response: never answered, not reported */
	rst(s, OUT, 3);
	request(s, 5, "POST", "/v1/messages");
	response(s, 5, "200", 0, "req_5");
	data_ex(s, IN, 5, 0, BODY, 10, 0, 0);
	rst(s, OUT, 5);
	every_split(s, check_rst);
	script_free(s);
}
END_TEST

static void
check_goaway(void)
{
	ck_assert_int_eq(nev, 2);
	check_messages_event(ev_model("claude-1"), "claude-1", 1, 2);
	check_messages_event(ev_model("claude-3"), "claude-3", 3, 4);
}

START_TEST(goaway_drops_streams_never_processed)
{
	struct script *s = script_new();
	char b1[512], b3[512];

	preface(s);
	request(s, 1, "POST", "/v1/messages");
	request(s, 3, "POST", "/v1/messages");
	request(s, 5, "POST", "/v1/messages");
	request(s, 7, "POST", "/v1/messages");
	goaway(s, 3);
	response(s, 1, "200", 0, "req_1");
	response(s, 3, "200", 0, "req_3");
	data(s, IN, 1, NGHTTP2_FLAG_END_STREAM,
	    body_of(b1, sizeof(b1), "claude-1", 1, 2));
	data(s, IN, 3, NGHTTP2_FLAG_END_STREAM,
	    body_of(b3, sizeof(b3), "claude-3", 3, 4));
	every_split(s, check_goaway);
	script_free(s);
}
END_TEST

static void
check_end(void)
{
	ck_assert_int_eq(nev, 2);
	/* cut in the middle of an SSE stream: the usage so far */
	ck_assert_int_eq(evs[0].curl_code, TAP_CUT);
	ck_assert_str_eq(evs[0].model, "claude-sse");
	ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_OK);
	ck_assert(evs[0].flags & RTP_F_CUT_SHORT);
	ck_assert_int_eq(evs[0].input_tokens, 12);
	/* headers only */
	ck_assert_int_eq(evs[1].curl_code, TAP_CUT);
	ck_assert_int_eq(evs[1].http_status, 529);
	ck_assert_int_eq(evs[1].usage_state, RTP_USAGE_NONE);
}

START_TEST(end_reports_streams_in_flight_as_cut)
{
	struct script *s = script_new();
	const char *const kv[] = {
		":status", "200", "content-type", "text/event-stream", NULL
	};
	const char *const kv2[] = { ":status", "529", NULL };

	preface(s);
	request(s, 1, "POST", "/v1/messages");
	request(s, 3, "POST", "/v1/messages");
	request(s, 5, "POST", "/v1/messages");
	headers(s, IN, 1, 0, kv);
	data(s, IN, 1, 0, sse_events[0]);
	data(s, IN, 1, 0, sse_events[1]);
	headers(s, IN, 3, 0, kv2);
	every_split(s, check_end);
	script_free(s);
}
END_TEST

START_TEST(drop_reports_nothing)
{
	struct script *s = script_new();
	void *c;

	preface(s);
	request(s, 1, "POST", "/v1/messages");
	response(s, 1, "200", 0, "req_1");
	data_ex(s, IN, 1, 0, BODY, 20, 0, 0);
	nev = 0;
	c = feed(s, RANDOM, 5, 0);
	h2_proto.drop(c);
	ck_assert_int_eq(nev, 0);
	script_free(s);
}
END_TEST

START_TEST(padding_and_priority_are_skipped)
{
	struct script *s = script_new();
	const char *const req[] = {
		":method", "POST", ":scheme", "https", ":path", "/v1/messages",
		":authority", "api.anthropic.com", NULL
	};
	const char *const resp[] = {
		":status", "200", "request-id", "req_011", RL_HEADERS, NULL
	};
	size_t n = strlen(BODY);

	preface(s);
	headers_ex(s, OUT, 1, NGHTTP2_FLAG_PADDED | NGHTTP2_FLAG_PRIORITY |
	    NGHTTP2_FLAG_END_STREAM, req, 0, 17);
	frame(s, OUT, NGHTTP2_PRIORITY, 0, 1, "\0\0\0\0\x10", 5);
	headers_ex(s, IN, 1, NGHTTP2_FLAG_PADDED | NGHTTP2_FLAG_PRIORITY,
	    resp, 0, 255);
	data_ex(s, IN, 1, 0, BODY, 10, 1, 0);
	data_ex(s, IN, 1, 0, "", 0, 1, 200);
	data_ex(s, IN, 1, 0, BODY + 10, n - 20, 1, 255);
	data_ex(s, IN, 1, NGHTTP2_FLAG_END_STREAM, BODY + n - 10, 10, 1, 3);
	every_split(s, check_one);
	script_free(s);
}
END_TEST

static void
check_continuation(void)
{
	ck_assert_int_eq(nev, 2);
	check_messages_event(&evs[0], "claude-x", 12, 34);
	check_rl_headers(&evs[0], "req_011");
	ck_assert_int_eq(evs[1].method, RTP_M_GET);
	ck_assert_str_eq(evs[1].path, "/v1/models");
	ck_assert_int_eq(evs[1].http_status, 200);
	ck_assert_int_eq(evs[1].curl_code, TAP_OK);
	check_rl_headers(&evs[1], "req_022");
}

START_TEST(continuation_frames_complete_header_blocks)
{
	struct script *s = script_new();
	const char *const req[] = {
		":method", "POST", ":scheme", "https", ":path", "/v1/messages",
		":authority", "api.anthropic.com", "user-agent", "check_h2/1.0",
		NULL
	};
	const char *const req2[] = {
		":method", "GET", ":scheme", "https", ":path", "/v1/models",
		":authority", "api.anthropic.com", NULL
	};
	const char *const resp[] = {
		":status", "200", "request-id", "req_011", RL_HEADERS, NULL
	};
	const char *const resp2[] = {
		":status", "200", "request-id", "req_022", RL_HEADERS, NULL
	};

	preface(s);
	headers_ex(s, OUT, 1, NGHTTP2_FLAG_END_STREAM, req, 7, 0);
	headers_ex(s, IN, 1, NGHTTP2_FLAG_PADDED, resp, 9, 4);
	data(s, IN, 1, NGHTTP2_FLAG_END_STREAM, BODY);
	/* END_STREAM on a HEADERS continued: the response ends with the
	   block */
	headers_ex(s, OUT, 3, NGHTTP2_FLAG_END_STREAM, req2, 5, 0);
	headers_ex(s, IN, 3, NGHTTP2_FLAG_END_STREAM, resp2, 3, 0);
	every_split(s, check_continuation);
	script_free(s);
}
END_TEST

static void
check_huge(void)
{
	ck_assert_int_eq(nev, 1);
	ck_assert_int_eq(evs[0].curl_code, TAP_CUT);
	ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_UNREADABLE);
	ck_assert_str_eq(evs[0].model, "");
	check_rl_headers(&evs[0], "req_1");
}

START_TEST(header_block_beyond_the_bound_stops_the_reading)
{
	struct script *s = script_new();
	static char big[9][8001];
	const char *kv[40];
	int k, n = 0;

	preface(s);
	request(s, 1, "POST", "/v1/messages");
	request(s, 3, "POST", "/v1/messages");
	response(s, 1, "200", 0, "req_1");
	data_ex(s, IN, 1, 0, BODY, 30, 0, 0);
	kv[n++] = ":status";
	kv[n++] = "200";
	for (k = 0; k < 9; k++) {
		memset(big[k], '~', 8000);	/* no Huffman gain */
		big[k][8000] = '\0';
		kv[n++] = "x-filler";
		kv[n++] = big[k];
	}
	kv[n] = NULL;
	headers_ex(s, IN, 3, 0, kv, 16000, 0);
	ck_assert_uint_gt(s->last_block, 64 * 1024);
	/* the rest is not read */
	data_ex(s, IN, 1, NGHTTP2_FLAG_END_STREAM, BODY + 30,
	    strlen(BODY) - 30, 0, 0);
	response(s, 3, "200", NGHTTP2_FLAG_END_STREAM, "req_3");
	every_split(s, check_huge);
	script_free(s);
}
END_TEST

static void
check_none(void)
{
	ck_assert_int_eq(nev, 0);
}

START_TEST(garbage_instead_of_the_preface_is_given_up)
{
	struct script *s = script_new();
	static const char h1req[] = "POST /v1/messages HTTP/1.1\r\nHost: "
	    "api.anthropic.com\r\nContent-Length: 2\r\n\r\n{}";
	static const char h1resp[] = "HTTP/1.1 200 OK\r\nContent-Length: "
	    "2\r\n\r\n{}";

	put(s, OUT, h1req, sizeof(h1req) - 1);
	put(s, IN, h1resp, sizeof(h1resp) - 1);
	every_split(s, check_none);
	script_free(s);

	/* a good preface, then a CONTINUATION out of place */
	s = script_new();
	preface(s);
	request(s, 1, "POST", "/v1/messages");
	response(s, 1, "200", 0, "req_1");
	frame(s, IN, NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1, "\x88",
	    1);
	data(s, IN, 1, NGHTTP2_FLAG_END_STREAM, BODY);
	nev = 0;
	(void)feed(s, ONE, 0, 1);
	ck_assert_int_eq(nev, 1);
	ck_assert_int_eq(evs[0].curl_code, TAP_CUT);
	ck_assert_int_eq(evs[0].usage_state, RTP_USAGE_UNREADABLE);
	script_free(s);

	/* padding longer than its frame; HEADERS on stream 0 */
	s = script_new();
	preface(s);
	frame(s, IN, NGHTTP2_DATA, NGHTTP2_FLAG_PADDED, 1, "\x09zz", 3);
	every_split(s, check_none);
	script_free(s);
	s = script_new();
	preface(s);
	frame(s, OUT, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 0, "\x82", 1);
	request(s, 1, "POST", "/v1/messages");
	response(s, 1, "200", NGHTTP2_FLAG_END_STREAM, "req_1");
	every_split(s, check_none);
	script_free(s);
}
END_TEST

START_TEST(hpack_garbage_is_given_up)
{
	struct script *s = script_new();

	preface(s);
	request(s, 1, "POST", "/v1/messages");
	/* an index beyond both tables */
	frame(s, IN, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, "\xff\xff"
	    "\xff\x0f", 4);
	data(s, IN, 1, NGHTTP2_FLAG_END_STREAM, BODY);
	every_split(s, check_none);
	script_free(s);
}
END_TEST

static void
check_dynamic(void)
{
	int k;

	ck_assert_int_eq(nev, 3);
	for (k = 0; k < 3; k++) {
		if (k == 1) {
			/* the method from the client's table */
			ck_assert_int_eq(evs[k].method, RTP_M_OTHER);
			evs[k].method = RTP_M_POST;
		}
		check_messages_event(&evs[k], "claude-x", 12, 34);
	}
	check_rl_headers(&evs[0], "req_1");
	check_rl_headers(&evs[1], "req_3");
	check_rl_headers(&evs[2], "req_5");
	ck_assert(evs[2].present & RTP_PRESENT_I(RTP_I_RETRY_AFTER));
	ck_assert_int_eq(evs[2].i[RTP_I_RETRY_AFTER], 7);
}

START_TEST(hpack_dynamic_table_stays_in_sync_across_streams)
{
	struct script *s = script_new();
	const char *const push[] = {
		":method", "GET", ":scheme", "https", ":path", "/pushed",
		":authority", "api.anthropic.com", "x-pushed", "retry-after",
		NULL
	};
	const char *const pushed_resp[] = {
		":status", "200", "retry-after", "7", "x-pushed", "yes", NULL
	};
	const char *const resp3[] = {
		":status", "200", "request-id", "req_5", RL_HEADERS,
		"retry-after", "7", NULL
	};
	const char *const req2[] = {
		":method", "PROPFIND", ":scheme", "https",
		":authority", "api.anthropic.com", ":path", "/v1/messages",
		"content-type", "application/json",
		"user-agent", "check_h2/1.0", "anthropic-version", "2023-06-01",
		"x-api-key", "sk-ant-test", NULL
	};
	size_t first_req, first_resp;
	unsigned char pp[256];
	size_t n;

	preface(s);
	request(s, 1, "POST", "/v1/messages");
	first_req = s->last_block;
	response(s, 1, "200", 0, "req_1");
	first_resp = s->last_block;
	/* the server pushes: its encoder's table takes the promised
	   request's fields, and the pushed response's */
	memcpy(pp, "\0\0\0\x02", 4);
	n = hpack(s, s->sdef, pp + 4, sizeof(pp) - 4, push);
	frame(s, IN, NGHTTP2_PUSH_PROMISE, NGHTTP2_FLAG_END_HEADERS, 1, pp,
	    n + 4);
	data(s, IN, 1, NGHTTP2_FLAG_END_STREAM, BODY);
	headers(s, IN, 2, 0, pushed_resp);
	data(s, IN, 2, NGHTTP2_FLAG_END_STREAM, BODY);
	/* the second request and response: mostly indexed fields */
	headers(s, OUT, 3, NGHTTP2_FLAG_END_STREAM, req2);
	ck_assert_uint_lt(s->last_block, first_req / 2);
	response(s, 3, "200", 0, "req_3");
	ck_assert_uint_lt(s->last_block, first_resp / 2);
	data(s, IN, 3, NGHTTP2_FLAG_END_STREAM, BODY);
	request(s, 5, "POST", "/v1/messages");
	headers(s, IN, 5, 0, resp3);
	data(s, IN, 5, NGHTTP2_FLAG_END_STREAM, BODY);
	every_split(s, check_dynamic);
	script_free(s);
}
END_TEST

static void
check_table(void)
{
	int k;

	ck_assert_int_eq(nev, 6);
	for (k = 0; k < 6; k++) {
		check_messages_event(&evs[k], "claude-x", 12, 34);
		check_rl_headers(&evs[k], "req_011");
	}
}

START_TEST(header_table_size_settings_are_followed)
{
	struct script *s = script_new();
	static char big[2500];
	const char *const kv[] = {
		":status", "200", "request-id", "req_011", RL_HEADERS,
		"x-big", big, NULL
	};
	uint32_t sid = 1;
	int k;

	memset(big, 'q', sizeof(big) - 1);
	/* a server encoder that may grow its table to 64 KB */
	nghttp2_hd_deflate_del(s->sdef);
	ck_assert_int_eq(nghttp2_hd_deflate_new(&s->sdef, 65536), 0);
	preface(s);
	/* the client allows a 64 KB table: the server's encoder uses it,
	   beyond what the protocol's default 4 KB would hold */
	settings(s, OUT, 0, 65536);
	settings(s, IN, 1, -1);
	ck_assert_int_eq(nghttp2_hd_deflate_change_table_size(s->sdef, 65536),
	    0);
	for (k = 0; k < 3; k++, sid += 2) {
		request(s, sid, "POST", "/v1/messages");
		headers(s, IN, sid, 0, kv);
		/* the first block carries the size update and x-big; the
		   others index x-big from beyond the first 4 KB */
		if (k > 0)
			ck_assert_uint_lt(s->last_block, 100);
		data(s, IN, sid, NGHTTP2_FLAG_END_STREAM, BODY);
	}
	/* then shrinks it to nothing, taking effect at the ACK */
	settings(s, OUT, 0, 0);
	request(s, sid, "POST", "/v1/messages");
	headers(s, IN, sid, 0, kv);
	data(s, IN, sid, NGHTTP2_FLAG_END_STREAM, BODY);
	sid += 2;
	settings(s, IN, 1, -1);
	ck_assert_int_eq(nghttp2_hd_deflate_change_table_size(s->sdef, 0), 0);
	for (k = 0; k < 2; k++, sid += 2) {
		request(s, sid, "POST", "/v1/messages");
		headers(s, IN, sid, 0, kv);
		data(s, IN, sid, NGHTTP2_FLAG_END_STREAM, BODY);
	}
	every_split(s, check_table);
	script_free(s);
}
END_TEST

static void
check_interim(void)
{
	ck_assert_int_eq(nev, 1);
	check_messages_event(&evs[0], "claude-x", 12, 34);
	check_rl_headers(&evs[0], "req_011");
}

START_TEST(interim_responses_and_trailers_are_not_the_headers)
{
	struct script *s = script_new();
	const char *const early[] = {
		":status", "103", "link", "</a.css>; rel=preload",
		"anthropic-ratelimit-unified-5h-utilization", "0.75", NULL
	};
	const char *const trailers[] = {
		"anthropic-ratelimit-unified-5h-utilization", "0.99",
		"request-id", "req_trailer", NULL
	};

	preface(s);
	request(s, 1, "POST", "/v1/messages");
	headers(s, IN, 1, 0, early);
	response(s, 1, "200", 0, "req_011");
	data(s, IN, 1, 0, BODY);
	headers(s, IN, 1, NGHTTP2_FLAG_END_STREAM, trailers);
	every_split(s, check_interim);
	script_free(s);
}
END_TEST

static void
check_bound(void)
{
	int k;

	ck_assert_int_eq(nev, 128);
	for (k = 0; k < nev; k++)
		ck_assert_int_eq(evs[k].usage_state, RTP_USAGE_OK);
}

START_TEST(streams_beyond_the_bound_are_not_tapped)
{
	struct script *s = script_new();
	uint32_t sid;

	preface(s);
	for (sid = 1; sid < 2 * 130; sid += 2)
		request(s, sid, "POST", "/v1/messages");
	for (sid = 1; sid < 2 * 130; sid += 2) {
		response(s, sid, "200", 0, "req_011");
		data(s, IN, sid, NGHTTP2_FLAG_END_STREAM, BODY);
	}
	nev = 0;
	(void)feed(s, WHOLE, 0, 1);
	check_bound();
	nev = 0;
	(void)feed(s, RANDOM, 3, 1);
	check_bound();
	script_free(s);
}
END_TEST

/* Empty header blocks on a request and as a response: the stream after
 * them is read as ever.  (fuzz_tlstap found that an empty block's null
 * buffer was advanced by 0, which clang's UBSan reports.) */
START_TEST(empty_header_blocks_are_survived)
{
	struct script *s = script_new();

	preface(s);
	frame(s, OUT, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, NULL, 0);
	request(s, 3, "POST", "/v1/messages");
	frame(s, IN, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, NULL, 0);
	frame(s, IN, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 3, NULL, 0);
	response(s, 3, "200", 0, "req_011");
	data(s, IN, 3, NGHTTP2_FLAG_END_STREAM, BODY);
	every_split(s, check_one);
	script_free(s);
}
END_TEST

/* Any bytes, anywhere: no crash, no leak, no event that was not asked
 * for (a flipped byte may still leave a readable response). */
START_TEST(mutated_connections_are_survived)
{
	struct script *s = script_new();
	unsigned char *orig;
	char body[512];
	unsigned seed, k, flips;
	size_t at;
	void *c;

	preface(s);
	settings(s, OUT, 0, 8192);
	request(s, 1, "POST", "/v1/messages");
	request(s, 3, "POST", "/v1/messages");
	response(s, 1, "200", 0, "req_1");
	headers_ex(s, IN, 3, NGHTTP2_FLAG_PADDED, (const char *const[]){
	    ":status", "200", "content-encoding", "gzip", NULL }, 3, 2);
	data_ex(s, IN, 1, 0, BODY, 20, 1, 4);
	data_ex(s, IN, 3, 0, "\x1f\x8b\x08\0\0\0\0\0", 8, 0, 0);
	data(s, IN, 1, NGHTTP2_FLAG_END_STREAM, BODY + 20);
	rst(s, IN, 3);
	request(s, 5, "POST", "/v1/messages");
	response(s, 5, "200", 0, "req_5");
	data(s, IN, 5, NGHTTP2_FLAG_END_STREAM,
	    body_of(body, sizeof(body), "claude-5", 5, 6));
	goaway(s, 5);
	orig = malloc(s->len);
	ck_assert_ptr_nonnull(orig);
	memcpy(orig, s->buf, s->len);
	for (seed = 1; seed <= 3000; seed++) {
		memcpy(s->buf, orig, s->len);
		rnd_state = seed;
		flips = (unsigned)rnd(4);
		for (k = 0; k < flips; k++) {
			at = rnd(s->len) - 1;
			s->buf[at] = (unsigned char)rnd(256);
		}
		nev = 0;
		if ((c = feed(s, RANDOM, seed, seed & 1)) != NULL)
			h2_proto.drop(c);
		ck_assert_int_le(nev, 3);
	}
	free(orig);
	script_free(s);
}
END_TEST

START_TEST(no_libnghttp2_no_tap)
{
	/* each test runs in its own process (CK_FORK): the library is not
	   looked for yet */
	if (getenv("CK_FORK") != NULL && strcmp(getenv("CK_FORK"), "no") == 0)
		return;
	no_dlopen = 1;
	ck_assert_ptr_null(h2_proto.open("api.anthropic.com"));
	ck_assert_ptr_null(h2_proto.open("api.anthropic.com"));
	ck_assert_str_eq(h2_proto.name, "h2");
}
END_TEST

static Suite *
h2_suite(void)
{
	Suite *s = suite_create("h2");
	TCase *tc = tcase_create("streams");
	TCase *bad = tcase_create("bad input");
	TCase *hp = tcase_create("hpack");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, one_stream_json_response_is_read_at_every_split);
	tcase_add_test(tc, three_interleaved_streams_are_told_apart);
	tcase_add_test(tc, sse_response_in_many_data_frames_is_read);
	tcase_add_test(tc, gzip_encoded_response_is_decoded);
	tcase_add_test(tc, rst_stream_cuts_a_response_begun);
	tcase_add_test(tc, goaway_drops_streams_never_processed);
	tcase_add_test(tc, end_reports_streams_in_flight_as_cut);
	tcase_add_test(tc, drop_reports_nothing);
	tcase_add_test(tc, padding_and_priority_are_skipped);
	tcase_add_test(tc, continuation_frames_complete_header_blocks);
	tcase_add_test(tc, interim_responses_and_trailers_are_not_the_headers);
	tcase_add_test(tc, streams_beyond_the_bound_are_not_tapped);
	tcase_add_test(tc, no_libnghttp2_no_tap);
	suite_add_tcase(s, tc);

	tcase_set_timeout(bad, 60);
	tcase_add_test(bad, header_block_beyond_the_bound_stops_the_reading);
	tcase_add_test(bad, garbage_instead_of_the_preface_is_given_up);
	tcase_add_test(bad, hpack_garbage_is_given_up);
	tcase_add_test(bad, empty_header_blocks_are_survived);
	tcase_add_test(bad, mutated_connections_are_survived);
	suite_add_tcase(s, bad);

	tcase_set_timeout(hp, 60);
	tcase_add_test(hp, hpack_dynamic_table_stays_in_sync_across_streams);
	tcase_add_test(hp, header_table_size_settings_are_followed);
	suite_add_tcase(s, hp);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(h2_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
