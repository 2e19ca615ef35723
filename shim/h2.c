/*
 * The HTTP/2 reader of the TLS tap (tlstap.h): the two plaintext streams
 * of a connection that negotiated ALPN "h2" become one event per response.
 *
 * Frames are read from both directions in any split, down to one byte:
 * only a frame's 9-byte header, its few prefix bytes (pad length,
 * priority, promised stream, RST_STREAM and GOAWAY fields) and header
 * blocks are kept; DATA payloads stream through to the scanner.  Header
 * blocks (HEADERS, CONTINUATION, PUSH_PROMISE) are decoded with
 * libnghttp2's HPACK inflater, one per direction, loaded with dlopen when
 * the first connection opens: every block goes through it, whether its
 * stream is followed or not, or the dynamic table would desync.  The
 * HEADER_TABLE_SIZE each side announces in SETTINGS bounds the other
 * side's inflater (at most H2_TABLE_MAX).
 *
 * A stream is followed from the request's HEADERS (its :method and
 * :path), at most H2_STREAMS_MAX at a time, each with its struct rec; the
 * response's final HEADERS (1xx skipped) go to the header tee as lines
 * ("HTTP/2 200", "name: value"), its DATA to the scanner, decoded when it
 * has a Content-Encoding.  END_STREAM from the server reports TAP_OK;
 * RST_STREAM, the end of the connection, or the reader giving up report a
 * response begun as TAP_CUT.  A stream with no response yet is dropped
 * unreported, and so are those above the last-stream-id of a server's
 * GOAWAY.  Input that is not HTTP/2, or a header block longer than
 * H2_BLOCK_MAX, stops the reading of the connection.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "resolve_int.h"
#include "tlstap.h"

#define H2_STREAMS_MAX	128		/* streams followed at a time */
#define H2_BLOCK_MAX	(64 * 1024)	/* longest header block kept */
#define H2_TABLE_MAX	65536		/* largest HPACK table accepted */
#define H2_METHOD_MAX	16
#define H2_PATH_MAX	256
#define H2_PEND_MAX	4		/* SETTINGS awaiting their ACK */

#define H2_PREFACE	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN	24

/* frame types (RFC 9113, 6) */
enum {
	T_DATA = 0, T_HEADERS = 1, T_PRIORITY = 2, T_RST_STREAM = 3,
	T_SETTINGS = 4, T_PUSH_PROMISE = 5, T_PING = 6, T_GOAWAY = 7,
	T_WINDOW_UPDATE = 8, T_CONTINUATION = 9
};

/* frame flags */
#define FL_END_STREAM	0x01
#define FL_ACK		0x01
#define FL_END_HEADERS	0x04
#define FL_PADDED	0x08
#define FL_PRIORITY	0x20

#define S_HEADER_TABLE_SIZE	1

/* where a direction is in its current frame */
enum { P_HEAD, P_PREFIX, P_BODY, P_PAD };

/* ---- libnghttp2 -------------------------------------------------------- */

/* nghttp2.h's nghttp2_nv: stable across versions */
struct h2_nv {
	uint8_t *name;
	uint8_t *value;
	size_t namelen;
	size_t valuelen;
	uint8_t flags;
};

#define HD_FINAL	0x01	/* NGHTTP2_HD_INFLATE_FINAL */
#define HD_EMIT		0x02	/* NGHTTP2_HD_INFLATE_EMIT */

static struct {
	pthread_once_t once;
	int ok;
	int (*inflate_new)(void **);
	ssize_t (*inflate_hd)(void *, struct h2_nv *, int *, const uint8_t *,
	    size_t, int);
	int (*end_headers)(void *);
	int (*change_table_size)(void *, size_t);
	void (*inflate_del)(void *);
} ng = { .once = PTHREAD_ONCE_INIT };

#define SYM(h, fp, name) \
	(*(void **)(void *)&(fp) = dlsym((h), (name)), (fp) != NULL)

static void
ng_load(void)
{
	static const char name[] = "libnghttp2.so.14";
	void *h = dec_lib_open(name);

	if (h == NULL)
		return;
	/* nghttp2_hd_inflate_hd3 (1.61) returns nghttp2_ssize, hd2 ssize_t:
	   the same type on Linux */
	if (!SYM(h, ng.inflate_hd, "nghttp2_hd_inflate_hd3"))
		(void)SYM(h, ng.inflate_hd, "nghttp2_hd_inflate_hd2");
	ng.ok = ng.inflate_hd != NULL &&
	    SYM(h, ng.inflate_new, "nghttp2_hd_inflate_new") &&
	    SYM(h, ng.end_headers, "nghttp2_hd_inflate_end_headers") &&
	    SYM(h, ng.change_table_size,
	    "nghttp2_hd_inflate_change_table_size") &&
	    SYM(h, ng.inflate_del, "nghttp2_hd_inflate_del");
}

/* ---- state ------------------------------------------------------------- */

/* One stream followed: a request seen, its response perhaps begun. */
struct h2_stream {
	uint32_t id;
	int answered;			/* the final response headers were
					   read */
	int teed;			/* 0 once a body byte could not reach
					   the scanner */
	int coding;			/* enum dec_coding of the response */
	long status;			/* final status, 0 until answered */
	struct dec *dec;		/* NULL: identity, or unreadable */
	char method[H2_METHOD_MAX];
	char path[H2_PATH_MAX];
	struct rec rec;
};

/* One direction's frame reader. */
struct h2_dir {
	int server;			/* 1: server to client (in) */
	unsigned preface;		/* client preface bytes still due */
	unsigned char fh[9];		/* the frame header being read */
	unsigned fhlen;
	int phase;			/* P_* */
	int type, flags;		/* of the current frame */
	uint32_t sid;
	uint32_t left;			/* payload bytes still to come */
	uint32_t pad;			/* padding at the end of them */
	unsigned char pre[9];		/* the frame's prefix fields */
	unsigned npre, want;
	unsigned char set[6];		/* a SETTINGS entry being read */
	unsigned nset;
	long table;			/* HEADER_TABLE_SIZE of this SETTINGS
					   frame, -1: none */
	/* the header block being collected */
	int inblock;			/* a CONTINUATION is due */
	int bkind;			/* T_HEADERS or T_PUSH_PROMISE */
	int bend;			/* the HEADERS had END_STREAM */
	uint32_t bsid;
	unsigned char *blk;
	size_t blen, bcap;
	void *inf;			/* nghttp2_hd_inflater */
	size_t inf_max;			/* the table size it accepts */
	/* HEADER_TABLE_SIZE of the SETTINGS sent this way and not yet
	   acknowledged, in order (-1: that frame named none) */
	long pend[H2_PEND_MAX];
	unsigned npend;
};

struct h2_conn {
	char host[RTP_HOST_LEN];
	int dead;			/* reading stopped */
	int said_full;			/* the stream bound was logged */
	uint32_t last_req;		/* highest request stream seen */
	struct h2_dir out, in;
	struct h2_stream *st[H2_STREAMS_MAX];
	unsigned nst;
};

/* ---- streams ----------------------------------------------------------- */

static struct h2_stream *
stream_find(struct h2_conn *c, uint32_t id)
{
	unsigned k;

	for (k = 0; k < c->nst; k++)
		if (c->st[k]->id == id)
			return c->st[k];
	return NULL;
}

static void
stream_free(struct h2_conn *c, struct h2_stream *s)
{
	unsigned k;

	for (k = 0; k < c->nst; k++)
		if (c->st[k] == s) {
			c->st[k] = c->st[--c->nst];
			break;
		}
	dec_free(s->dec);
	free(s);
}

/* Report s (answered) with result, and forget it. */
static void
stream_report(struct h2_conn *c, struct h2_stream *s, int result)
{
	struct scan_result res;
	struct rec_end e;

	/* a coded body that ended before its coding did lost bytes on the
	   way: as h1.c judges it */
	if (result == TAP_OK && s->dec != NULL && !dec_done(s->dec))
		s->teed = 0;
	scan_finish(&s->rec.scan, &res);
	memset(&e, 0, sizeof(e));
	e.host = c->host;
	e.tls = 1;
	e.teed = s->teed;
	e.res = s->teed ? &res : NULL;
	e.hdrs = &s->rec.hdr.ev;
	e.fed = s->rec.fed;
	e.result = result;
	e.status = s->status;
	e.method = s->method[0] != '\0' ? s->method : NULL;
	e.url = s->path[0] != '\0' ? s->path : NULL;
	rec_report(&e, RTP_F_TLS_TAP);
	stream_free(c, s);
}

/* The stream is over without END_STREAM: cut if answered, else unseen. */
static void
stream_cut(struct h2_conn *c, struct h2_stream *s)
{
	if (s->answered)
		stream_report(c, s, TAP_CUT);
	else
		stream_free(c, s);
}

static struct h2_stream *
stream_new(struct h2_conn *c, uint32_t id)
{
	struct h2_stream *s;

	if (c->nst == H2_STREAMS_MAX) {
		if (!c->said_full)
			shim_debug("h2 %s: more than %d streams at once: the "
			    "others are not tapped", c->host, H2_STREAMS_MAX);
		c->said_full = 1;
		return NULL;
	}
	if ((s = malloc(sizeof(*s))) == NULL)
		return NULL;
	s->id = id;
	s->answered = 0;
	s->teed = 1;
	s->coding = DEC_IDENTITY;
	s->status = 0;
	s->dec = NULL;
	s->method[0] = '\0';
	s->path[0] = '\0';
	rec_begin(&s->rec, c->host, 1);
	c->st[c->nst++] = s;
	return s;
}

/* Stop reading c: responses begun are cut, their bodies not all seen. */
static void
conn_fail(struct h2_conn *c, const char *why)
{
	struct h2_dir *d[2] = { &c->out, &c->in };
	int k;

	if (c->dead)
		return;
	shim_debug("h2 %s: %s: the connection is no longer read", c->host,
	    why);
	c->dead = 1;
	while (c->nst > 0) {
		c->st[0]->teed = 0;
		stream_cut(c, c->st[0]);
	}
	for (k = 0; k < 2; k++) {
		free(d[k]->blk);
		d[k]->blk = NULL;
		d[k]->blen = d[k]->bcap = 0;
		if (d[k]->inf != NULL)
			SHIM_BUSY_AS(1, ng.inflate_del(d[k]->inf));
		d[k]->inf = NULL;
	}
}

/* ---- header blocks ----------------------------------------------------- */

/* What a header block is for. */
enum { B_IGNORE, B_REQUEST, B_RESPONSE };

static int
nv_is(const struct h2_nv *nv, const char *name, size_t len)
{
	return nv->namelen == len && memcmp(nv->name, name, len) == 0;
}

static void
copy_value(char *dst, size_t size, const struct h2_nv *nv)
{
	size_t n = nv->valuelen < size - 1 ? nv->valuelen : size - 1;

	memcpy(dst, nv->value, n);
	dst[n] = '\0';
}

/* One field of a response's header block (s not yet answered). */
static void
response_field(struct h2_stream *s, const struct h2_nv *nv, int *final)
{
	char line[HDR_PART_MAX];
	long code;
	size_t k;
	int c;

	if (nv->namelen > 0 && nv->name[0] == ':') {
		if (!nv_is(nv, ":status", 7) || *final != 0 ||
		    nv->valuelen != 3)
			return;
		for (code = 0, k = 0; k < 3; k++) {
			if (nv->value[k] < '0' || nv->value[k] > '9')
				return;
			code = code * 10 + (nv->value[k] - '0');
		}
		if (code < 200) {
			*final = -1;		/* interim: skipped */
			return;
		}
		*final = 1;
		s->status = code;
		k = (size_t)snprintf(line, sizeof(line), "HTTP/2 %ld\r\n",
		    code);
		rec_header(&s->rec, line, k);
		return;
	}
	if (*final != 1)
		return;
	if (nv_is(nv, "content-encoding", 16)) {
		c = dec_coding_of((const char *)nv->value, nv->valuelen);
		if (s->coding == DEC_IDENTITY)
			s->coding = c;
		else if (c != DEC_IDENTITY)
			s->coding = DEC_UNSUPPORTED;
	}
	/* lines longer than the tee keeps are none of ours */
	if (nv->namelen + nv->valuelen + 4 > sizeof(line))
		return;
	memcpy(line, nv->name, nv->namelen);
	k = nv->namelen;
	line[k++] = ':';
	line[k++] = ' ';
	memcpy(line + k, nv->value, nv->valuelen);
	k += nv->valuelen;
	line[k++] = '\r';
	line[k++] = '\n';
	rec_header(&s->rec, line, k);
}

/* The response headers of s are read: begin its body. */
static void
response_begin(struct h2_conn *c, struct h2_stream *s)
{
	rec_header(&s->rec, "\r\n", 2);
	s->answered = 1;
	if (s->coding == DEC_IDENTITY)
		return;
	if ((s->dec = dec_new(s->coding)) == NULL) {
		shim_debug("h2 %s: a response body in a coding not read",
		    c->host);
		s->teed = 0;
	}
}

/* Run d's complete header block through its inflater. */
static void
block_done(struct h2_conn *c, struct h2_dir *d)
{
	const uint8_t *in = d->blk;
	size_t left = d->blen;
	struct h2_stream *s = NULL;
	struct h2_nv nv;
	int use = B_IGNORE, final = 0, flags;
	ssize_t n;

	if (d->bkind == T_HEADERS && !d->server && d->bsid > c->last_req &&
	    (d->bsid & 1)) {
		/* a new request (a lower stream's HEADERS are trailers) */
		c->last_req = d->bsid;
		if ((s = stream_new(c, d->bsid)) != NULL)
			use = B_REQUEST;
	} else if (d->bkind == T_HEADERS && d->server &&
	    (s = stream_find(c, d->bsid)) != NULL && !s->answered)
		use = B_RESPONSE;
	for (;;) {
		flags = 0;
		SHIM_BUSY_AS(1, n = ng.inflate_hd(d->inf, &nv, &flags, in,
		    left, 1));
		if (n < 0 || (size_t)n > left) {
			conn_fail(c, "HPACK decoding failed");
			return;
		}
		if (n > 0) {	/* an empty block has no buffer at all */
			in += n;
			left -= (size_t)n;
		}
		if (flags & HD_EMIT) {
			if (use == B_REQUEST && nv_is(&nv, ":method", 7))
				copy_value(s->method, sizeof(s->method), &nv);
			else if (use == B_REQUEST && nv_is(&nv, ":path", 5))
				copy_value(s->path, sizeof(s->path), &nv);
			else if (use == B_RESPONSE)
				response_field(s, &nv, &final);
		}
		if (flags & HD_FINAL)
			break;
		if (n == 0 && !(flags & HD_EMIT)) {
			conn_fail(c, "HPACK block incomplete");
			return;
		}
	}
	SHIM_BUSY_AS(1, (void)ng.end_headers(d->inf));
	d->blen = 0;
	if (!d->server || d->bkind != T_HEADERS)
		return;
	if (use == B_RESPONSE && final == 1)
		response_begin(c, s);
	/* END_STREAM on the final headers (no body) or on trailers */
	if (d->bend && (s = stream_find(c, d->bsid)) != NULL && s->answered)
		stream_report(c, s, TAP_OK);
}

/* Append n bytes of a header block fragment. */
static void
block_add(struct h2_conn *c, struct h2_dir *d, const unsigned char *p,
    size_t n)
{
	unsigned char *b;
	size_t cap;

	if (d->blen + n > H2_BLOCK_MAX) {
		conn_fail(c, "header block too long");
		return;
	}
	if (d->blen + n > d->bcap) {
		cap = d->bcap > 0 ? d->bcap : 1024;
		while (cap < d->blen + n)
			cap *= 2;
		if (cap > H2_BLOCK_MAX)
			cap = H2_BLOCK_MAX;
		if ((b = realloc(d->blk, cap)) == NULL) {
			conn_fail(c, "out of memory");
			return;
		}
		d->blk = b;
		d->bcap = cap;
	}
	memcpy(d->blk + d->blen, p, n);
	d->blen += n;
}

/* ---- SETTINGS ---------------------------------------------------------- */

static void
table_apply(struct h2_conn *c, struct h2_dir *d, long v)
{
	size_t size = v > H2_TABLE_MAX ? H2_TABLE_MAX : (size_t)v;
	int rc;

	if (d->inf == NULL || size == d->inf_max)
		return;
	SHIM_BUSY_AS(1, rc = ng.change_table_size(d->inf, size));
	if (rc != 0)
		conn_fail(c, "HPACK table size refused");
	else
		d->inf_max = size;
}

/* A SETTINGS frame sent in direction d ended.  Its HEADER_TABLE_SIZE
 * bounds the encoder of the other side, whose blocks the other
 * direction's inflater reads: a larger table at once (the encoder cannot
 * use it before it has read it), a smaller one when acknowledged. */
static void
settings_end(struct h2_conn *c, struct h2_dir *d)
{
	struct h2_dir *o = d == &c->out ? &c->in : &c->out;
	long v;

	if (d->flags & FL_ACK) {
		/* acknowledges what the other direction sent first */
		if (o->npend == 0)
			return;
		v = o->pend[0];
		memmove(o->pend, o->pend + 1, --o->npend * sizeof(o->pend[0]));
		if (v >= 0)
			table_apply(c, d, v);
		return;
	}
	v = d->table;		/* at most H2_TABLE_MAX */
	if (v >= 0 && v >= (long)o->inf_max) {
		table_apply(c, o, v);
		v = -1;
	}
	if (d->npend == H2_PEND_MAX)
		memmove(d->pend, d->pend + 1, --d->npend * sizeof(d->pend[0]));
	d->pend[d->npend++] = v;
}

static void
settings_bytes(struct h2_dir *d, const unsigned char *p, size_t n)
{
	uint32_t v;

	if (d->flags & FL_ACK)
		return;
	while (n-- > 0) {
		d->set[d->nset++] = *p++;
		if (d->nset < 6)
			continue;
		d->nset = 0;
		if ((d->set[0] << 8 | d->set[1]) != S_HEADER_TABLE_SIZE)
			continue;
		v = (uint32_t)d->set[2] << 24 | (uint32_t)d->set[3] << 16 |
		    (uint32_t)d->set[4] << 8 | d->set[5];
		d->table = v > H2_TABLE_MAX ? H2_TABLE_MAX : (long)v;
	}
}

/* ---- frames ------------------------------------------------------------ */

static uint32_t
be31(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]) & 0x7fffffffu;
}

static void frame_end(struct h2_conn *c, struct h2_dir *d);

/* Body bytes of the current frame (prefix and padding excluded). */
static void
frame_body(struct h2_conn *c, struct h2_dir *d, const unsigned char *p,
    size_t n)
{
	struct h2_stream *s;

	switch (d->type) {
	case T_DATA:
		if (!d->server || (s = stream_find(c, d->sid)) == NULL ||
		    !s->answered)
			return;
		if (s->dec != NULL) {
			if (s->teed && dec_feed(s->dec, (const char *)p, n,
			    &s->rec) == -1)
				s->teed = 0;
		} else if (s->coding == DEC_IDENTITY)
			rec_body(&s->rec, (const char *)p, n);
		return;
	case T_HEADERS:
	case T_PUSH_PROMISE:
	case T_CONTINUATION:
		block_add(c, d, p, n);
		return;
	case T_SETTINGS:
		settings_bytes(d, p, n);
		return;
	}
}

/* The 9-byte header of a frame was read. */
static void
frame_begin(struct h2_conn *c, struct h2_dir *d)
{
	const unsigned char *h = d->fh;
	int padded;

	d->left = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
	d->type = h[3];
	d->flags = h[4];
	d->sid = be31(h + 5);
	d->pad = 0;
	d->npre = 0;
	d->want = 0;
	padded = (d->flags & FL_PADDED) != 0;
	if (d->inblock != (d->type == T_CONTINUATION) ||
	    (d->inblock && d->sid != d->bsid)) {
		conn_fail(c, "CONTINUATION out of place");
		return;
	}
	switch (d->type) {
	case T_DATA:
		d->want = padded;
		break;
	case T_HEADERS:
		d->want = padded + (d->flags & FL_PRIORITY ? 5 : 0);
		break;
	case T_PUSH_PROMISE:
		d->want = padded + 4;
		break;
	case T_RST_STREAM:
		d->want = 4;
		break;
	case T_GOAWAY:
		d->want = 8;
		break;
	case T_SETTINGS:
		d->nset = 0;
		d->table = -1;
		break;
	}
	if ((d->type == T_HEADERS || d->type == T_PUSH_PROMISE ||
	    d->type == T_CONTINUATION || d->type == T_DATA) && d->sid == 0) {
		conn_fail(c, "a stream frame on stream 0");
		return;
	}
	if (d->want > d->left) {
		conn_fail(c, "frame shorter than its fields");
		return;
	}
	if (d->type == T_HEADERS || d->type == T_PUSH_PROMISE) {
		d->bkind = d->type;
		d->bsid = d->sid;
		d->bend = d->type == T_HEADERS && (d->flags & FL_END_STREAM);
		d->blen = 0;
	}
	d->phase = d->want > 0 ? P_PREFIX : P_BODY;
	if (d->phase == P_BODY && d->left == 0)
		frame_end(c, d);
}

/* The prefix fields of the current frame were read. */
static void
prefix_done(struct h2_conn *c, struct h2_dir *d)
{
	if ((d->type == T_DATA || d->type == T_HEADERS ||
	    d->type == T_PUSH_PROMISE) && (d->flags & FL_PADDED)) {
		d->pad = d->pre[0];
		if (d->pad > d->left) {
			conn_fail(c, "padding longer than its frame");
			return;
		}
	}
	d->phase = d->left > d->pad ? P_BODY : P_PAD;
	if (d->left == 0)
		frame_end(c, d);
}

static void
frame_end(struct h2_conn *c, struct h2_dir *d)
{
	struct h2_stream *s;
	uint32_t last;
	unsigned k;

	d->phase = P_HEAD;
	d->fhlen = 0;
	switch (d->type) {
	case T_DATA:
		if (d->server && (d->flags & FL_END_STREAM) &&
		    (s = stream_find(c, d->sid)) != NULL && s->answered)
			stream_report(c, s, TAP_OK);
		break;
	case T_HEADERS:
	case T_PUSH_PROMISE:
	case T_CONTINUATION:
		if (d->flags & FL_END_HEADERS) {
			d->inblock = 0;
			block_done(c, d);
		} else
			d->inblock = 1;
		break;
	case T_RST_STREAM:
		if ((s = stream_find(c, d->sid)) != NULL)
			stream_cut(c, s);
		break;
	case T_GOAWAY:
		if (!d->server)
			break;
		/* streams above last were never processed */
		last = be31(d->pre);
		for (k = 0; k < c->nst;)
			if (c->st[k]->id > last && !c->st[k]->answered)
				stream_free(c, c->st[k]);
			else
				k++;
		break;
	case T_SETTINGS:
		if (d->sid == 0)
			settings_end(c, d);
		break;
	}
}

/* Read n bytes of direction d. */
static void
dir_feed(struct h2_conn *c, struct h2_dir *d, const unsigned char *p,
    size_t n)
{
	size_t k;

	while (n > 0 && !c->dead) {
		if (d->preface > 0) {
			k = n < d->preface ? n : d->preface;
			if (memcmp(p, &H2_PREFACE[H2_PREFACE_LEN - d->preface],
			    k) != 0) {
				conn_fail(c, "no HTTP/2 client preface");
				return;
			}
			d->preface -= (unsigned)k;
			p += k;
			n -= k;
			continue;
		}
		switch (d->phase) {
		case P_HEAD:
			k = sizeof(d->fh) - d->fhlen;
			k = n < k ? n : k;
			memcpy(d->fh + d->fhlen, p, k);
			d->fhlen += (unsigned)k;
			p += k;
			n -= k;
			if (d->fhlen == sizeof(d->fh))
				frame_begin(c, d);
			break;
		case P_PREFIX:
			k = d->want - d->npre;
			k = n < k ? n : k;
			memcpy(d->pre + d->npre, p, k);
			d->npre += (unsigned)k;
			d->left -= (uint32_t)k;
			p += k;
			n -= k;
			if (d->npre == d->want)
				prefix_done(c, d);
			break;
		case P_BODY:
			k = d->left - d->pad;
			k = n < k ? n : k;
			d->left -= (uint32_t)k;
			frame_body(c, d, p, k);
			p += k;
			n -= k;
			if (d->left == d->pad && !c->dead) {
				d->phase = P_PAD;
				if (d->left == 0)
					frame_end(c, d);
			}
			break;
		case P_PAD:
			k = n < d->left ? n : d->left;
			d->left -= (uint32_t)k;
			p += k;
			n -= k;
			if (d->left == 0)
				frame_end(c, d);
			break;
		}
	}
}

/* ---- the reader -------------------------------------------------------- */

static void
conn_free(struct h2_conn *c)
{
	struct h2_dir *d[2] = { &c->out, &c->in };
	int k;

	while (c->nst > 0)
		stream_free(c, c->st[0]);
	for (k = 0; k < 2; k++) {
		free(d[k]->blk);
		if (d[k]->inf != NULL)
			SHIM_BUSY_AS(1, ng.inflate_del(d[k]->inf));
	}
	free(c);
}

static void *
h2_open(const char *host)
{
	struct h2_conn *c;
	int rc = -1;

	(void)pthread_once(&ng.once, ng_load);
	if (!ng.ok) {
		shim_debug("h2 %s: libnghttp2.so.14 cannot be loaded: the "
		    "connection is not tapped", host);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	rtp_strlcpy(c->host, host, sizeof(c->host));
	c->out.preface = H2_PREFACE_LEN;
	c->in.server = 1;
	c->out.inf_max = c->in.inf_max = 4096;	/* the protocol's default */
	SHIM_BUSY_AS(1,
		rc = ng.inflate_new(&c->out.inf);
		if (rc == 0)
			rc = ng.inflate_new(&c->in.inf));
	if (rc != 0) {
		conn_free(c);
		return NULL;
	}
	return c;
}

static void
h2_out(void *arg, const char *p, size_t n)
{
	struct h2_conn *c = arg;

	if (!c->dead)
		dir_feed(c, &c->out, (const unsigned char *)p, n);
}

static void
h2_in(void *arg, const char *p, size_t n)
{
	struct h2_conn *c = arg;

	if (!c->dead)
		dir_feed(c, &c->in, (const unsigned char *)p, n);
}

static void
h2_end(void *arg, int clean)
{
	struct h2_conn *c = arg;

	(void)clean;	/* a response without END_STREAM is cut either way */
	while (c->nst > 0)
		stream_cut(c, c->st[0]);
	conn_free(c);
}

static void
h2_drop(void *arg)
{
	conn_free(arg);
}

const struct tap_proto h2_proto = {
	.name = "h2",
	.open = h2_open,
	.out = h2_out,
	.in = h2_in,
	.end = h2_end,
	.drop = h2_drop,
};
