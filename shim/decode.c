/*
 * Content-Encoding decoders for the scanner (tlstap.h): gzip and deflate
 * with zlib, br with brotli, zstd with zstd, each the system's own library
 * loaded at run time the first time a tapped response needs it (the shim
 * links libc only).  Only the few declarations used are written here; their
 * layouts are the libraries' stable ABI (checked against the real headers
 * by tests/check_decode.c).
 *
 * Output goes to the scanner in pieces of DEC_OUT bytes from a buffer on
 * the stack: memory is the decoder's own state, bounded by its window
 * (zlib 32 KB, brotli at most 16 MB, zstd at most 2^DEC_ZSTD_WLOG), never
 * the size of what the body decodes to.  Work is proportional to the
 * decoded size: a decompression bomb costs time, not memory.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resolve_int.h"
#include "tlstap.h"

#define DEC_OUT		4096	/* bytes given to the scanner at a time */
#define DEC_ZSTD_WLOG	23	/* largest zstd window accepted: 8 MB */

/* ---- the libraries' declarations ------------------------------------- */

/* zlib.h's z_stream (LP64 and ILP32 alike: uLong is unsigned long). */
struct dec_zstream {
	const unsigned char *next_in;
	unsigned int avail_in;
	unsigned long total_in;
	unsigned char *next_out;
	unsigned int avail_out;
	unsigned long total_out;
	const char *msg;
	void *state;
	void *zalloc;
	void *zfree;
	void *opaque;
	int data_type;
	unsigned long adler;
	unsigned long reserved;
};

#define Z_OK_		0
#define Z_STREAM_END_	1
#define Z_BUF_ERROR_	(-5)
#define Z_NO_FLUSH_	0

/* zstd.h's buffers */
struct dec_zbuf_in {
	const void *src;
	size_t size;
	size_t pos;
};

struct dec_zbuf_out {
	void *dst;
	size_t size;
	size_t pos;
};

#define ZSTD_D_WINDOWLOGMAX_	100	/* ZSTD_d_windowLogMax */

/* brotli/decode.h's BrotliDecoderResult */
enum {
	BR_ERROR_ = 0,
	BR_SUCCESS_ = 1,
	BR_NEEDS_MORE_INPUT_ = 2,
	BR_NEEDS_MORE_OUTPUT_ = 3
};

static struct {
	pthread_once_t once;
	int ok;
	int (*inflateInit2_)(struct dec_zstream *, int, const char *, int);
	int (*inflate)(struct dec_zstream *, int);
	int (*inflateReset)(struct dec_zstream *);
	int (*inflateEnd)(struct dec_zstream *);
} zlib = { .once = PTHREAD_ONCE_INIT };

static struct {
	pthread_once_t once;
	int ok;
	void *(*create)(void *, void *, void *);
	int (*stream)(void *, size_t *, const uint8_t **, size_t *,
	    uint8_t **, size_t *);
	void (*destroy)(void *);
} brotli = { .once = PTHREAD_ONCE_INIT };

static struct {
	pthread_once_t once;
	int ok;
	void *(*create)(void);
	size_t (*init)(void *);
	size_t (*stream)(void *, struct dec_zbuf_out *, struct dec_zbuf_in *);
	size_t (*free)(void *);
	unsigned (*is_error)(size_t);
	size_t (*set_param)(void *, int, int);
} zstd = { .once = PTHREAD_ONCE_INIT };

/* ---- loading ----------------------------------------------------------- */

void *
dec_lib_open(const char *name)
{
	void *h = NULL;

	SHIM_BUSY_AS(1,
		h = dlhook_real_dlopen(name, RTLD_NOLOAD | RTLD_LAZY);
		if (h == NULL)
			h = dlhook_real_dlopen(name, RTLD_LAZY | RTLD_LOCAL));
	if (h == NULL)
		shim_debug("%s cannot be loaded: what it reads is not read",
		    name);
	return h;
}

/* dlsym() into a function pointer of any type (ISO C has no cast from
 * void * to a function pointer; POSIX guarantees it works). */
#define SYM(h, fp, name) \
	(*(void **)(void *)&(fp) = dlsym((h), (name)), (fp) != NULL)

static void
zlib_load(void)
{
	void *h = dec_lib_open("libz.so.1");

	if (h == NULL)
		return;
	zlib.ok = SYM(h, zlib.inflateInit2_, "inflateInit2_") &&
	    SYM(h, zlib.inflate, "inflate") &&
	    SYM(h, zlib.inflateReset, "inflateReset") &&
	    SYM(h, zlib.inflateEnd, "inflateEnd");
	if (!zlib.ok)
		shim_debug("libz.so.1 lacks inflate functions");
}

static void
brotli_load(void)
{
	void *h = dec_lib_open("libbrotlidec.so.1");

	if (h == NULL)
		return;
	brotli.ok = SYM(h, brotli.create, "BrotliDecoderCreateInstance") &&
	    SYM(h, brotli.stream, "BrotliDecoderDecompressStream") &&
	    SYM(h, brotli.destroy, "BrotliDecoderDestroyInstance");
	if (!brotli.ok)
		shim_debug("libbrotlidec.so.1 lacks decoder functions");
}

static void
zstd_load(void)
{
	void *h = dec_lib_open("libzstd.so.1");

	if (h == NULL)
		return;
	/* ZSTD_DCtx_setParameter (zstd >= 1.4) bounds the window; without
	   it a frame could ask for 2 GB, so zstd is not used at all */
	zstd.ok = SYM(h, zstd.create, "ZSTD_createDStream") &&
	    SYM(h, zstd.init, "ZSTD_initDStream") &&
	    SYM(h, zstd.stream, "ZSTD_decompressStream") &&
	    SYM(h, zstd.free, "ZSTD_freeDStream") &&
	    SYM(h, zstd.is_error, "ZSTD_isError") &&
	    SYM(h, zstd.set_param, "ZSTD_DCtx_setParameter");
	if (!zstd.ok)
		shim_debug("libzstd.so.1 lacks decoder functions (zstd < "
		    "1.4?): zstd bodies are not read");
}

/* ---- codings ----------------------------------------------------------- */

/* One token of a Content-Encoding list (len bytes at v, blanks already
 * trimmed), case-insensitively. */
static int
coding_token(const char *v, size_t len)
{
	static const struct {
		const char *name;
		int coding;
	} names[] = {
		{ "identity", DEC_IDENTITY }, { "gzip", DEC_GZIP },
		{ "x-gzip", DEC_GZIP }, { "deflate", DEC_DEFLATE },
		{ "br", DEC_BR }, { "zstd", DEC_ZSTD },
	};
	size_t k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (strlen(names[k].name) == len &&
		    strncasecmp(v, names[k].name, len) == 0)
			return names[k].coding;
	return DEC_UNSUPPORTED;
}

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

int
dec_coding_of(const char *v, size_t len)
{
	const char *end = v + len, *comma;
	int coding = DEC_IDENTITY, c;
	size_t n;

	while (v < end) {
		comma = memchr(v, ',', (size_t)(end - v));
		n = (size_t)((comma != NULL ? comma : end) - v);
		while (n > 0 && blank(*v)) {
			v++;
			n--;
		}
		while (n > 0 && blank(v[n - 1]))
			n--;
		if (n > 0) {
			c = coding_token(v, n);
			if (c == DEC_UNSUPPORTED)
				return DEC_UNSUPPORTED;
			if (c != DEC_IDENTITY) {
				if (coding != DEC_IDENTITY)
					return DEC_UNSUPPORTED;
				coding = c;
			}
		}
		if (comma == NULL)
			break;
		v = comma + 1;
	}
	return coding;
}

/* ---- decoders ---------------------------------------------------------- */

struct dec {
	int coding;			/* enum dec_coding */
	int done;			/* the coded stream ended properly */
	int failed;			/* the input was not valid */
	int started;			/* deflate: zlib initialised */
	unsigned char head;		/* deflate: the first byte, while the
					   second is awaited */
	int nhead;			/* 0 or 1 */
	union {
		struct dec_zstream z;	/* gzip, deflate */
		void *br;		/* BrotliDecoderState */
		void *zs;		/* ZSTD_DStream */
	} u;
};

static int
z_init(struct dec *d, int wbits)
{
	int rc;

	memset(&d->u.z, 0, sizeof(d->u.z));
	SHIM_BUSY_AS(1, rc = zlib.inflateInit2_(&d->u.z, wbits, "1.2.11",
	    (int)sizeof(d->u.z)));
	if (rc != Z_OK_)
		return -1;
	d->started = 1;
	return 0;
}

struct dec *
dec_new(int coding)
{
	struct dec *d;

	switch (coding) {
	case DEC_GZIP:
	case DEC_DEFLATE:
		(void)pthread_once(&zlib.once, zlib_load);
		if (!zlib.ok)
			return NULL;
		break;
	case DEC_BR:
		(void)pthread_once(&brotli.once, brotli_load);
		if (!brotli.ok)
			return NULL;
		break;
	case DEC_ZSTD:
		(void)pthread_once(&zstd.once, zstd_load);
		if (!zstd.ok)
			return NULL;
		break;
	default:
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->coding = coding;
	switch (coding) {
	case DEC_GZIP:
		/* 15 + 32: a gzip or zlib header, detected */
		if (z_init(d, 15 + 32) == -1)
			goto err;
		break;
	case DEC_DEFLATE:
		break;		/* at the first two bytes: zlib or raw */
	case DEC_BR:
		SHIM_BUSY_AS(1, d->u.br = brotli.create(NULL, NULL, NULL));
		if (d->u.br == NULL)
			goto err;
		break;
	case DEC_ZSTD: {
		size_t rc;

		SHIM_BUSY_AS(1, d->u.zs = zstd.create());
		if (d->u.zs == NULL)
			goto err;
		SHIM_BUSY_AS(1,
			rc = zstd.init(d->u.zs);
			if (!zstd.is_error(rc))
				rc = zstd.set_param(d->u.zs,
				    ZSTD_D_WINDOWLOGMAX_, DEC_ZSTD_WLOG));
		if (zstd.is_error(rc)) {
			SHIM_BUSY_AS(1, (void)zstd.free(d->u.zs));
			goto err;
		}
		break;
	}
	}
	return d;
err:
	free(d);
	return NULL;
}

/* inflate n bytes at p (n <= UINT_MAX) into r.  Returns 0 or -1. */
static int
z_feed(struct dec *d, const unsigned char *p, size_t n, struct rec *r)
{
	unsigned char out[DEC_OUT];
	struct dec_zstream *z = &d->u.z;
	unsigned int before;
	size_t made;
	int rc;

	z->next_in = p;
	z->avail_in = (unsigned int)n;
	for (;;) {
		if (d->done) {
			/* bytes after the end: another gzip member (starts
			   with 0x1f), or trailing garbage, ignored as
			   browsers do */
			if (z->avail_in == 0 || d->coding != DEC_GZIP ||
			    z->next_in[0] != 0x1f)
				return 0;
			SHIM_BUSY_AS(1, rc = zlib.inflateReset(z));
			if (rc != Z_OK_)
				return -1;
			d->done = 0;
		}
		z->next_out = out;
		z->avail_out = sizeof(out);
		before = z->avail_in;
		SHIM_BUSY_AS(1, rc = zlib.inflate(z, Z_NO_FLUSH_));
		made = sizeof(out) - z->avail_out;
		rec_body(r, (const char *)out, made);
		if (rc == Z_STREAM_END_)
			d->done = 1;
		else if (rc != Z_OK_ && rc != Z_BUF_ERROR_)
			return -1;
		else if (made == 0 && z->avail_in == before)
			return 0;	/* no progress: more input needed */
		/* all input taken and the output not full: nothing is
		   pending inside */
		if (!d->done && z->avail_in == 0 && z->avail_out != 0)
			return 0;
	}
}

/* deflate: the first two bytes say zlib-wrapped (CMF/FLG: method 8,
 * window <= 32 KB, a multiple of 31) or raw. */
static int
deflate_start(struct dec *d, const char **pp, size_t *lenp, struct rec *r)
{
	unsigned char b0, b1;
	int zlib_hdr;

	if (*lenp == 0)
		return 0;
	if (d->nhead == 0 && *lenp == 1) {
		d->head = (unsigned char)(*pp)[0];
		d->nhead = 1;
		*lenp = 0;
		return 0;
	}
	b0 = d->nhead ? d->head : (unsigned char)(*pp)[0];
	b1 = (unsigned char)(*pp)[d->nhead ? 0 : 1];
	zlib_hdr = (b0 & 0x0f) == 8 && (b0 >> 4) <= 7 &&
	    ((unsigned)b0 << 8 | b1) % 31 == 0;
	if (z_init(d, zlib_hdr ? 15 : -15) == -1)
		return -1;
	if (d->nhead) {
		d->nhead = 0;
		return z_feed(d, &d->head, 1, r);
	}
	return 0;
}

static int
br_feed(struct dec *d, const char *p, size_t n, struct rec *r)
{
	unsigned char out[DEC_OUT];
	const uint8_t *in = (const uint8_t *)p;
	uint8_t *o;
	size_t avail_out, made;
	int rc;

	for (;;) {
		if (d->done)
			return 0;	/* trailing bytes: ignored */
		o = out;
		avail_out = sizeof(out);
		SHIM_BUSY_AS(1, rc = brotli.stream(d->u.br, &n, &in,
		    &avail_out, &o, NULL));
		made = sizeof(out) - avail_out;
		rec_body(r, (const char *)out, made);
		switch (rc) {
		case BR_SUCCESS_:
			d->done = 1;
			return 0;
		case BR_NEEDS_MORE_INPUT_:
			return 0;	/* it has taken all of it */
		case BR_NEEDS_MORE_OUTPUT_:
			break;
		default:
			return -1;
		}
	}
}

static int
zstd_feed(struct dec *d, const char *p, size_t n, struct rec *r)
{
	unsigned char out[DEC_OUT];
	struct dec_zbuf_in in = { p, n, 0 };
	struct dec_zbuf_out o;
	size_t rc, before;

	for (;;) {
		o.dst = out;
		o.size = sizeof(out);
		o.pos = 0;
		before = in.pos;
		SHIM_BUSY_AS(1, rc = zstd.stream(d->u.zs, &o, &in));
		if (zstd.is_error(rc))
			return -1;
		rec_body(r, (const char *)out, o.pos);
		/* 0: a frame ended (and all its output flushed); more
		   input starts another frame */
		if (rc == 0)
			d->done = 1;
		else if (o.pos > 0 || in.pos > before)
			d->done = 0;
		if (in.pos == in.size && o.pos < o.size)
			return 0;
	}
}

int
dec_feed(struct dec *d, const char *p, size_t len, struct rec *r)
{
	size_t n;

	if (d->failed)
		return -1;
	switch (d->coding) {
	case DEC_DEFLATE:
		if (!d->started) {
			if (deflate_start(d, &p, &len, r) == -1)
				goto err;
			if (!d->started)
				return 0;
		}
		/* FALLTHROUGH */
	case DEC_GZIP:
		while (len > 0) {
			n = len > UINT_MAX ? UINT_MAX : len;
			if (z_feed(d, (const unsigned char *)p, n, r) == -1)
				goto err;
			p += n;
			len -= n;
		}
		break;
	case DEC_BR:
		if (len > 0 && br_feed(d, p, len, r) == -1)
			goto err;
		break;
	case DEC_ZSTD:
		if (len > 0 && zstd_feed(d, p, len, r) == -1)
			goto err;
		break;
	}
	return 0;
err:
	d->failed = 1;
	d->done = 0;
	return -1;
}

int
dec_done(const struct dec *d)
{
	return d != NULL && d->done && !d->failed;
}

void
dec_free(struct dec *d)
{
	if (d == NULL)
		return;
	switch (d->coding) {
	case DEC_GZIP:
	case DEC_DEFLATE:
		if (d->started)
			SHIM_BUSY_AS(1, (void)zlib.inflateEnd(&d->u.z));
		break;
	case DEC_BR:
		SHIM_BUSY_AS(1, brotli.destroy(d->u.br));
		break;
	case DEC_ZSTD:
		SHIM_BUSY_AS(1, (void)zstd.free(d->u.zs));
		break;
	}
	free(d);
}
