/*
 * Unit tests of shim/decode.c, the Content-Encoding decoders of the TLS
 * tap: bodies compressed here with the real encoders (zlib, brotli, zstd)
 * decode to exactly the original bytes, for every split of the coded
 * stream, into a real scanner; truncated, corrupt and over-large input is
 * told apart; a decompression bomb costs time, not memory.
 *
 * decode.c is #included: its private copies of the libraries' types are
 * checked here against the real headers.  The scanner's input is recorded
 * on its way (the link wraps scan_feed).
 */
#include <check.h>
#include <dlfcn.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "../shim/decode.c"

/* ---- the private declarations match the libraries' --------------------- */

#define SAME_FIELD(a, b, f) \
	_Static_assert(offsetof(a, f) == offsetof(b, f) && \
	    sizeof(((a *)0)->f) == sizeof(((b *)0)->f), #f)
SAME_FIELD(struct dec_zstream, z_stream, next_in);
SAME_FIELD(struct dec_zstream, z_stream, avail_in);
SAME_FIELD(struct dec_zstream, z_stream, total_in);
SAME_FIELD(struct dec_zstream, z_stream, next_out);
SAME_FIELD(struct dec_zstream, z_stream, avail_out);
SAME_FIELD(struct dec_zstream, z_stream, total_out);
SAME_FIELD(struct dec_zstream, z_stream, msg);
SAME_FIELD(struct dec_zstream, z_stream, state);
SAME_FIELD(struct dec_zstream, z_stream, zalloc);
SAME_FIELD(struct dec_zstream, z_stream, zfree);
SAME_FIELD(struct dec_zstream, z_stream, opaque);
SAME_FIELD(struct dec_zstream, z_stream, data_type);
SAME_FIELD(struct dec_zstream, z_stream, adler);
SAME_FIELD(struct dec_zstream, z_stream, reserved);
_Static_assert(sizeof(struct dec_zstream) == sizeof(z_stream), "z_stream");
_Static_assert(Z_OK_ == Z_OK && Z_STREAM_END_ == Z_STREAM_END &&
    Z_BUF_ERROR_ == Z_BUF_ERROR && Z_NO_FLUSH_ == Z_NO_FLUSH, "zlib codes");
SAME_FIELD(struct dec_zbuf_in, ZSTD_inBuffer, src);
SAME_FIELD(struct dec_zbuf_in, ZSTD_inBuffer, size);
SAME_FIELD(struct dec_zbuf_in, ZSTD_inBuffer, pos);
SAME_FIELD(struct dec_zbuf_out, ZSTD_outBuffer, dst);
SAME_FIELD(struct dec_zbuf_out, ZSTD_outBuffer, size);
SAME_FIELD(struct dec_zbuf_out, ZSTD_outBuffer, pos);
_Static_assert(sizeof(struct dec_zbuf_in) == sizeof(ZSTD_inBuffer) &&
    sizeof(struct dec_zbuf_out) == sizeof(ZSTD_outBuffer), "zstd buffers");
_Static_assert(ZSTD_D_WINDOWLOGMAX_ == (int)ZSTD_d_windowLogMax,
    "zstd param");
_Static_assert(BR_ERROR_ == (int)BROTLI_DECODER_RESULT_ERROR &&
    BR_SUCCESS_ == (int)BROTLI_DECODER_RESULT_SUCCESS &&
    BR_NEEDS_MORE_INPUT_ == (int)BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT &&
    BR_NEEDS_MORE_OUTPUT_ == (int)BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT,
    "brotli results");

/* ---- the shim's surroundings ------------------------------------------- */

__thread int shim_busy;

/* The C library's dlopen, as dlhook.c gives it; calls counted per name. */
static int opens_z, opens_br, opens_zstd, opens_noload;

void *
dlhook_real_dlopen(const char *file, int mode)
{
	ck_assert_int_eq(shim_busy, 1);
	if (strcmp(file, "libz.so.1") == 0)
		opens_z++;
	else if (strcmp(file, "libbrotlidec.so.1") == 0)
		opens_br++;
	else if (strcmp(file, "libzstd.so.1") == 0)
		opens_zstd++;
	if (mode & RTLD_NOLOAD)
		opens_noload++;
	else
		ck_assert_int_eq(mode, RTLD_LAZY | RTLD_LOCAL);
	return dlopen(file, mode);
}

/* What the scanner was fed: the first SEEN_MAX bytes kept, all counted,
 * the largest piece noted; the heap in use sampled as it goes. */
#define SEEN_MAX	(1 << 20)
static unsigned char *seen;
static size_t seen_len, seen_total, seen_piece;
static unsigned long seen_calls;
static size_t heap_base, heap_peak;

static void seen_reset(void);

void __real_scan_feed(struct scan_state *st, const char *buf, size_t len);
void __wrap_scan_feed(struct scan_state *st, const char *buf, size_t len);

static size_t
heap_now(void)
{
	return mallinfo2().uordblks;
}

void
__wrap_scan_feed(struct scan_state *st, const char *buf, size_t len)
{
	size_t k = len;

	if (seen == NULL)
		seen_reset();
	if (k > SEEN_MAX - seen_len)
		k = SEEN_MAX - seen_len;
	memcpy(seen + seen_len, buf, k);
	seen_len += k;
	seen_total += len;
	if (len > seen_piece)
		seen_piece = len;
	if ((seen_calls++ & 1023) == 0 && heap_now() > heap_peak)
		heap_peak = heap_now();
	__real_scan_feed(st, buf, len);
}

static void
seen_reset(void)
{
	if (seen == NULL)
		seen = malloc(SEEN_MAX);
	ck_assert_ptr_nonnull(seen);
	seen_len = seen_total = seen_piece = 0;
	seen_calls = 0;
}

/* ---- bodies and their codings ------------------------------------------ */

#define BODY "{\"id\":\"msg_1\",\"type\":\"message\",\"model\":\"claude-x\"," \
	"\"usage\":{\"input_tokens\":12,\"output_tokens\":34}}"

struct blob {
	unsigned char *p;
	size_t n;
};

/* zlib's deflate with window bits wbits: 15+16 gzip, 15 zlib, -15 raw */
static struct blob
z_encode(const void *src, size_t n, int wbits)
{
	struct blob b;
	z_stream z;

	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, wbits, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	b.n = deflateBound(&z, n) + 32;
	b.p = malloc(b.n);
	ck_assert_ptr_nonnull(b.p);
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)n;
	z.next_out = b.p;
	z.avail_out = (uInt)b.n;
	ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	b.n = z.total_out;
	deflateEnd(&z);
	return b;
}

static struct blob
br_encode(const void *src, size_t n)
{
	struct blob b;

	b.n = BrotliEncoderMaxCompressedSize(n) + 16;
	b.p = malloc(b.n);
	ck_assert_ptr_nonnull(b.p);
	ck_assert(BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW,
	    BROTLI_MODE_TEXT, n, src, &b.n, b.p));
	return b;
}

static struct blob
zstd_encode(const void *src, size_t n)
{
	struct blob b;

	b.n = ZSTD_compressBound(n);
	b.p = malloc(b.n);
	ck_assert_ptr_nonnull(b.p);
	b.n = ZSTD_compress(b.p, b.n, src, n, 3);
	ck_assert(!ZSTD_isError(b.n));
	return b;
}

static struct blob
encode(int coding, const void *src, size_t n)
{
	switch (coding) {
	case DEC_GZIP:
		return z_encode(src, n, 15 + 16);
	case DEC_DEFLATE:
		return z_encode(src, n, 15);
	case DEC_BR:
		return br_encode(src, n);
	case DEC_ZSTD:
		return zstd_encode(src, n);
	}
	ck_abort();
	return (struct blob){ NULL, 0 };
}

/* Decode b, fed in pieces of the sizes chosen by next() (cycling over
 * b), into a fresh rec; check the output is exactly want and the scanner
 * reads the usage of BODY when check_usage. */
typedef size_t (*piece_fn)(size_t at, size_t left, void *arg);

static void
decode_check(int coding, const struct blob *b, const void *want, size_t wn,
    piece_fn next, void *arg, int check_usage)
{
	struct scan_result res;
	struct rec r;
	struct dec *d;
	size_t at = 0, k;

	seen_reset();
	scan_init(&r.scan);
	r.fed = 0;
	d = dec_new(coding);
	ck_assert_ptr_nonnull(d);
	while (at < b->n) {
		k = next(at, b->n - at, arg);
		ck_assert_uint_gt(k, 0);
		ck_assert_int_eq(dec_feed(d, (const char *)b->p + at, k, &r),
		    0);
		at += k;
		ck_assert_int_eq(dec_done(d), at == b->n);
	}
	ck_assert(dec_done(d));
	ck_assert_uint_eq(seen_total, wn);
	ck_assert_uint_eq(r.fed, wn);
	ck_assert_uint_le(seen_piece, DEC_OUT);
	ck_assert(memcmp(seen, want, seen_len) == 0);
	dec_free(d);
	if (check_usage) {
		scan_finish(&r.scan, &res);
		ck_assert_int_eq(res.kind, SCAN_JSON);
		ck_assert(res.usage_ok);
		ck_assert_str_eq(res.model, "claude-x");
		ck_assert_int_eq(res.input_tokens, 12);
		ck_assert_int_eq(res.output_tokens, 34);
	}
}

static size_t
piece_all(size_t at, size_t left, void *arg)
{
	(void)at;
	(void)arg;
	return left;
}

static size_t
piece_split(size_t at, size_t left, void *arg)
{
	size_t cut = *(size_t *)arg;

	return at < cut && cut < at + left ? cut - at : left;
}

static size_t
piece_one(size_t at, size_t left, void *arg)
{
	(void)at;
	(void)left;
	(void)arg;
	return 1;
}

static size_t
piece_random(size_t at, size_t left, void *arg)
{
	unsigned *seed = arg;
	size_t k;

	(void)at;
	*seed = *seed * 1103515245u + 12345u;
	k = 1 + (*seed >> 8) % 700;
	return k < left ? k : left;
}

/* BODY in coding: whole, cut at every byte, one byte at a time, in
 * random pieces. */
static void
body_every_split(int coding, const struct blob *b)
{
	unsigned seed = 7;
	size_t cut;
	int k;

	decode_check(coding, b, BODY, strlen(BODY), piece_all, NULL, 1);
	for (cut = 1; cut < b->n; cut++)
		decode_check(coding, b, BODY, strlen(BODY), piece_split, &cut,
		    1);
	decode_check(coding, b, BODY, strlen(BODY), piece_one, NULL, 1);
	for (k = 0; k < 20; k++)
		decode_check(coding, b, BODY, strlen(BODY), piece_random,
		    &seed, 1);
}

/* A long SSE-like body, decoding to many output pieces. */
static char *
long_body(size_t *n)
{
	size_t cap = 300000, len = 0;
	char *s = malloc(cap);
	unsigned k = 0;

	ck_assert_ptr_nonnull(s);
	while (len + 200 < cap)
		len += (size_t)snprintf(s + len, cap - len, "event: "
		    "content_block_delta\ndata: {\"type\":\"content_block_"
		    "delta\",\"index\":0,\"delta\":{\"text\":\"%u %x\"}}\n\n",
		    k, k * 2654435761u), k++;
	*n = len;
	return s;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(gzip_body_decodes_exactly_at_every_split)
{
	struct blob b = encode(DEC_GZIP, BODY, strlen(BODY));

	ck_assert_int_eq(b.p[0], 0x1f);
	body_every_split(DEC_GZIP, &b);
	free(b.p);
}
END_TEST

START_TEST(zlib_wrapped_deflate_body_decodes_at_every_split)
{
	struct blob b = z_encode(BODY, strlen(BODY), 15);

	body_every_split(DEC_DEFLATE, &b);
	free(b.p);
}
END_TEST

START_TEST(raw_deflate_body_decodes_at_every_split)
{
	struct blob b = z_encode(BODY, strlen(BODY), -15);

	body_every_split(DEC_DEFLATE, &b);
	free(b.p);
}
END_TEST

START_TEST(brotli_body_decodes_at_every_split)
{
	struct blob b = br_encode(BODY, strlen(BODY));

	body_every_split(DEC_BR, &b);
	free(b.p);
}
END_TEST

START_TEST(zstd_body_decodes_at_every_split)
{
	struct blob b = zstd_encode(BODY, strlen(BODY));

	body_every_split(DEC_ZSTD, &b);
	free(b.p);
}
END_TEST

static const int codings[] = { DEC_GZIP, DEC_DEFLATE, DEC_BR, DEC_ZSTD };

START_TEST(long_body_decodes_exactly_in_bounded_pieces)
{
	size_t n;
	char *s = long_body(&n);
	struct blob b = encode(codings[_i], s, n);
	unsigned seed = 99;

	decode_check(codings[_i], &b, s, n, piece_all, NULL, 0);
	decode_check(codings[_i], &b, s, n, piece_random, &seed, 0);
	free(b.p);
	free(s);
}
END_TEST

START_TEST(concatenated_gzip_members_decode_as_one_body)
{
	static const char a[] = "{\"id\":\"msg_1\",\"type\":\"message\",";
	static const char c[] = "\"model\":\"claude-x\",\"usage\":{\"input_"
	    "tokens\":12,\"output_tokens\":34}}";
	struct blob x = z_encode(a, strlen(a), 15 + 16);
	struct blob y = z_encode(c, strlen(c), 15 + 16);
	struct blob b;
	size_t cut, k;

	b.n = x.n + y.n;
	b.p = malloc(b.n);
	ck_assert_ptr_nonnull(b.p);
	memcpy(b.p, x.p, x.n);
	memcpy(b.p + x.n, y.p, y.n);
	for (cut = 1; cut <= b.n; cut++) {
		struct scan_result res;
		struct rec r;
		struct dec *d = dec_new(DEC_GZIP);

		scan_init(&r.scan);
		r.fed = 0;
		/* the first cut bytes, then the rest one byte at a time */
		ck_assert_int_eq(dec_feed(d, (char *)b.p, cut, &r), 0);
		for (k = cut; k < b.n; k++)
			ck_assert_int_eq(dec_feed(d, (char *)b.p + k, 1, &r),
			    0);
		ck_assert(dec_done(d));
		ck_assert_uint_eq(r.fed, strlen(BODY));
		scan_finish(&r.scan, &res);
		ck_assert(res.usage_ok);
		ck_assert_int_eq(res.output_tokens, 34);
		dec_free(d);
	}
	free(b.p);
	free(x.p);
	free(y.p);
}
END_TEST

START_TEST(trailing_garbage_after_the_end_is_ignored)
{
	struct blob b = encode(codings[_i], BODY, strlen(BODY));
	struct rec r;
	struct dec *d = dec_new(codings[_i]);

	seen_reset();
	scan_init(&r.scan);
	r.fed = 0;
	ck_assert_int_eq(dec_feed(d, (char *)b.p, b.n, &r), 0);
	ck_assert(dec_done(d));
	if (codings[_i] != DEC_ZSTD) {
		/* zstd would read it as the next frame: invalid there */
		ck_assert_int_eq(dec_feed(d, "\r\n", 2, &r), 0);
		ck_assert(dec_done(d));
	}
	ck_assert_uint_eq(r.fed, strlen(BODY));
	dec_free(d);
	free(b.p);
}
END_TEST

START_TEST(truncated_stream_is_not_done)
{
	struct blob b = encode(codings[_i], BODY, strlen(BODY));
	struct rec r;
	struct dec *d;
	size_t cut;

	for (cut = 0; cut < b.n; cut++) {
		scan_init(&r.scan);
		r.fed = 0;
		d = dec_new(codings[_i]);
		ck_assert_ptr_nonnull(d);
		ck_assert_int_eq(dec_feed(d, (char *)b.p, cut, &r), 0);
		ck_assert_msg(!dec_done(d), "cut at %zu of %zu", cut, b.n);
		ck_assert_uint_le(r.fed, strlen(BODY));
		dec_free(d);
	}
	free(b.p);
}
END_TEST

START_TEST(corrupt_stream_fails_and_feeds_nothing_more)
{
	struct blob b = encode(codings[_i], BODY, strlen(BODY));
	struct rec r;
	struct dec *d;
	uint64_t fed;
	size_t k;
	int rc = 0;

	/* a run of 0xff in the middle: no coding takes it (gzip's check,
	   zlib's adler, zstd's block types, brotli's codes) */
	for (k = b.n / 3; k < b.n / 3 + 8 && k < b.n; k++)
		b.p[k] = 0xff;
	scan_init(&r.scan);
	r.fed = 0;
	d = dec_new(codings[_i]);
	for (k = 0; k < b.n && rc == 0; k++)
		rc = dec_feed(d, (char *)b.p + k, 1, &r);
	ck_assert_int_eq(rc, -1);
	ck_assert(!dec_done(d));
	fed = r.fed;
	ck_assert_int_eq(dec_feed(d, (char *)b.p, b.n, &r), -1);
	ck_assert_int_eq(dec_feed(d, BODY, 4, &r), -1);
	ck_assert_uint_eq(r.fed, fed);
	ck_assert(!dec_done(d));
	dec_free(d);
	free(b.p);
}
END_TEST

START_TEST(garbage_is_refused_at_once)
{
	static const char junk[] = "\xff\xff\xff\xff not a coded stream";
	struct rec r;
	struct dec *d;

	scan_init(&r.scan);
	r.fed = 0;
	d = dec_new(codings[_i]);
	ck_assert_int_eq(dec_feed(d, junk, sizeof(junk) - 1, &r), -1);
	ck_assert_uint_eq(r.fed, 0);
	dec_free(d);
}
END_TEST

START_TEST(zstd_frame_with_a_large_window_is_refused)
{
	static const char chunk[] = "data: {\"type\":\"ping\"}\n\n";
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_inBuffer in;
	ZSTD_outBuffer out;
	unsigned char buf[4096];
	struct rec r;
	struct dec *d;

	/* streamed (no content size), so the frame states its window */
	ck_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog,
	    DEC_ZSTD_WLOG + 1)));
	out = (ZSTD_outBuffer){ buf, sizeof(buf), 0 };
	in = (ZSTD_inBuffer){ chunk, sizeof(chunk) - 1, 0 };
	ck_assert(!ZSTD_isError(ZSTD_compressStream2(c, &out, &in,
	    ZSTD_e_continue)));
	in = (ZSTD_inBuffer){ chunk, 0, 0 };
	ck_assert_uint_eq(ZSTD_compressStream2(c, &out, &in, ZSTD_e_end), 0);
	ZSTD_freeCCtx(c);

	scan_init(&r.scan);
	r.fed = 0;
	d = dec_new(DEC_ZSTD);
	ck_assert_int_eq(dec_feed(d, (char *)buf, out.pos, &r), -1);
	ck_assert_uint_eq(r.fed, 0);
	dec_free(d);

	/* one step smaller is taken */
	c = ZSTD_createCCtx();
	ck_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog,
	    DEC_ZSTD_WLOG)));
	out = (ZSTD_outBuffer){ buf, sizeof(buf), 0 };
	in = (ZSTD_inBuffer){ chunk, sizeof(chunk) - 1, 0 };
	ck_assert(!ZSTD_isError(ZSTD_compressStream2(c, &out, &in,
	    ZSTD_e_continue)));
	in = (ZSTD_inBuffer){ chunk, 0, 0 };
	ck_assert_uint_eq(ZSTD_compressStream2(c, &out, &in, ZSTD_e_end), 0);
	ZSTD_freeCCtx(c);
	d = dec_new(DEC_ZSTD);
	ck_assert_int_eq(dec_feed(d, (char *)buf, out.pos, &r), 0);
	ck_assert(dec_done(d));
	ck_assert_uint_eq(r.fed, sizeof(chunk) - 1);
	dec_free(d);
}
END_TEST

/* 1 GiB of zeros (under a sanitizer, 128 MiB), compressed in steps. */
#define BOMB_ZEROS_LOG	30

static size_t
bomb_size(void)
{
	size_t n = (size_t)1 << BOMB_ZEROS_LOG;

	if (getenv("ASAN_OPTIONS") != NULL || getenv("TSAN_OPTIONS") != NULL)
		n >>= 3;
	return n;
}

static struct blob
bomb(int coding, size_t total)
{
	static unsigned char zeros[1 << 20];
	struct blob b = { NULL, 0 };
	size_t cap = (total >> 8) + (1 << 20), left;

	b.p = malloc(cap);
	ck_assert_ptr_nonnull(b.p);
	if (coding == DEC_GZIP) {
		z_stream z;

		memset(&z, 0, sizeof(z));
		ck_assert_int_eq(deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8,
		    Z_DEFAULT_STRATEGY), Z_OK);
		z.next_out = b.p;
		z.avail_out = (uInt)cap;
		for (left = total; left > 0; left -= sizeof(zeros)) {
			z.next_in = zeros;
			z.avail_in = sizeof(zeros);
			ck_assert_int_eq(deflate(&z, left == sizeof(zeros) ?
			    Z_FINISH : Z_NO_FLUSH), left == sizeof(zeros) ?
			    Z_STREAM_END : Z_OK);
			ck_assert_uint_eq(z.avail_in, 0);
		}
		b.n = z.total_out;
		deflateEnd(&z);
	} else if (coding == DEC_ZSTD) {
		ZSTD_CCtx *c = ZSTD_createCCtx();
		ZSTD_outBuffer out = { b.p, cap, 0 };
		ZSTD_inBuffer in;

		for (left = total; left > 0; left -= sizeof(zeros)) {
			in = (ZSTD_inBuffer){ zeros, sizeof(zeros), 0 };
			ck_assert(!ZSTD_isError(ZSTD_compressStream2(c, &out,
			    &in, left == sizeof(zeros) ? ZSTD_e_end :
			    ZSTD_e_continue)));
			ck_assert_uint_eq(in.pos, in.size);
		}
		b.n = out.pos;
		ZSTD_freeCCtx(c);
	} else {
		BrotliEncoderState *s = BrotliEncoderCreateInstance(NULL,
		    NULL, NULL);
		size_t avail_out = cap, avail_in;
		const uint8_t *next_in;
		uint8_t *next_out = b.p;

		BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, 1);
		for (left = total; left > 0; left -= sizeof(zeros)) {
			next_in = zeros;
			avail_in = sizeof(zeros);
			while (avail_in > 0 || (left == sizeof(zeros) &&
			    !BrotliEncoderIsFinished(s)))
				ck_assert(BrotliEncoderCompressStream(s,
				    left == sizeof(zeros) ?
				    BROTLI_OPERATION_FINISH :
				    BROTLI_OPERATION_PROCESS, &avail_in,
				    &next_in, &avail_out, &next_out, NULL));
		}
		b.n = cap - avail_out;
		BrotliEncoderDestroyInstance(s);
	}
	return b;
}

static const int bomb_codings[] = { DEC_GZIP, DEC_BR, DEC_ZSTD };

START_TEST(bomb_decodes_in_bounded_memory)
{
	int coding = bomb_codings[_i];
	size_t total = bomb_size();
	struct blob b = bomb(coding, total);
	struct timespec t0, t1;
	struct rec r;
	struct dec *d;
	size_t at, k;
	double s;

	seen_reset();
	scan_init(&r.scan);
	r.fed = 0;
	heap_base = heap_peak = heap_now();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	d = dec_new(coding);
	ck_assert_ptr_nonnull(d);
	/* as a reader would: in TLS-record-sized pieces */
	for (at = 0; at < b.n; at += k) {
		k = b.n - at < 16384 ? b.n - at : 16384;
		ck_assert_int_eq(dec_feed(d, (char *)b.p + at, k, &r), 0);
	}
	ck_assert(dec_done(d));
	if (heap_now() > heap_peak)
		heap_peak = heap_now();
	dec_free(d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_uint_eq(r.fed, total);
	ck_assert_uint_le(seen_piece, DEC_OUT);
	/* the decoder's own state only: zlib ~ 45 KB, brotli's ring buffer
	   up to its window (4 MB at quality 1), zstd's window (8 MB max) */
	ck_assert_uint_le(heap_peak - heap_base, (size_t)12 << 20);
	s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (getenv("CHECK_DECODE_TIMES") != NULL)
		fprintf(stderr, "bomb %d: %zu coded bytes -> %zu MiB in %.2f s "
		    "(%.0f MiB/s), heap +%zu KiB\n", coding, b.n, total >> 20,
		    s, (double)(total >> 20) / s,
		    (heap_peak - heap_base) >> 10);
	free(b.p);
}
END_TEST

START_TEST(coding_names_are_read_as_a_list)
{
#define CO(s)	dec_coding_of(s, sizeof(s) - 1)
	ck_assert_int_eq(CO("gzip"), DEC_GZIP);
	ck_assert_int_eq(CO(" GZIP "), DEC_GZIP);
	ck_assert_int_eq(CO("\tgzip\t"), DEC_GZIP);
	ck_assert_int_eq(CO("x-gzip"), DEC_GZIP);
	ck_assert_int_eq(CO("Deflate"), DEC_DEFLATE);
	ck_assert_int_eq(CO("br"), DEC_BR);
	ck_assert_int_eq(CO("zstd"), DEC_ZSTD);
	ck_assert_int_eq(CO("identity"), DEC_IDENTITY);
	ck_assert_int_eq(CO(""), DEC_IDENTITY);
	ck_assert_int_eq(CO("   "), DEC_IDENTITY);
	ck_assert_int_eq(CO("gzip, identity"), DEC_GZIP);
	ck_assert_int_eq(CO("identity,br"), DEC_BR);
	ck_assert_int_eq(CO("gzip,"), DEC_GZIP);
	ck_assert_int_eq(CO("gzip, br"), DEC_UNSUPPORTED);
	ck_assert_int_eq(CO("gzip, gzip"), DEC_UNSUPPORTED);
	ck_assert_int_eq(CO("compress"), DEC_UNSUPPORTED);
	ck_assert_int_eq(CO("gzipx"), DEC_UNSUPPORTED);
	ck_assert_int_eq(CO("gz"), DEC_UNSUPPORTED);
	ck_assert_int_eq(CO("g zip"), DEC_UNSUPPORTED);
	/* the length counts, not a NUL */
	ck_assert_int_eq(dec_coding_of("gzipbr", 4), DEC_GZIP);
#undef CO
}
END_TEST

START_TEST(identity_and_unsupported_have_no_decoder)
{
	ck_assert_ptr_null(dec_new(DEC_IDENTITY));
	ck_assert_ptr_null(dec_new(DEC_UNSUPPORTED));
	ck_assert_ptr_null(dec_new(42));
	ck_assert(!dec_done(NULL));
	dec_free(NULL);
}
END_TEST

START_TEST(each_library_is_loaded_once)
{
	int k, c;

	for (k = 0; k < 10; k++)
		for (c = 0; c < 4; c++)
			dec_free(dec_new(codings[c]));
	/* RTLD_NOLOAD first, then (when the program has not loaded it) a
	   local load, once */
	ck_assert_int_ge(opens_z, 1);
	ck_assert_int_ge(opens_br, 1);
	ck_assert_int_ge(opens_zstd, 1);
	ck_assert_int_le(opens_z, 2);
	ck_assert_int_le(opens_br, 2);
	ck_assert_int_le(opens_zstd, 2);
	ck_assert_int_eq(opens_noload, 3);
	ck_assert_int_eq(shim_busy, 0);
}
END_TEST

static Suite *
decode_suite(void)
{
	Suite *s = suite_create("decode");
	TCase *tc = tcase_create("codings");
	TCase *bad = tcase_create("bad input");
	TCase *big = tcase_create("bomb");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, gzip_body_decodes_exactly_at_every_split);
	tcase_add_test(tc, zlib_wrapped_deflate_body_decodes_at_every_split);
	tcase_add_test(tc, raw_deflate_body_decodes_at_every_split);
	tcase_add_test(tc, brotli_body_decodes_at_every_split);
	tcase_add_test(tc, zstd_body_decodes_at_every_split);
	tcase_add_loop_test(tc, long_body_decodes_exactly_in_bounded_pieces,
	    0, 4);
	tcase_add_test(tc, concatenated_gzip_members_decode_as_one_body);
	tcase_add_test(tc, coding_names_are_read_as_a_list);
	tcase_add_test(tc, identity_and_unsupported_have_no_decoder);
	tcase_add_test(tc, each_library_is_loaded_once);
	suite_add_tcase(s, tc);

	tcase_set_timeout(bad, 30);
	tcase_add_loop_test(bad, trailing_garbage_after_the_end_is_ignored,
	    0, 4);
	tcase_add_loop_test(bad, truncated_stream_is_not_done, 0, 4);
	tcase_add_loop_test(bad, corrupt_stream_fails_and_feeds_nothing_more,
	    0, 4);
	tcase_add_loop_test(bad, garbage_is_refused_at_once, 0, 4);
	tcase_add_test(bad, zstd_frame_with_a_large_window_is_refused);
	suite_add_tcase(s, bad);

	tcase_set_timeout(big, 300);
	tcase_add_loop_test(big, bomb_decodes_in_bounded_memory, 0, 3);
	suite_add_tcase(s, big);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(decode_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
