/*
 * The HTTP/1.x reader of the TLS-layer tap (tlstap.h): follows both byte
 * streams of one connection and reports one event per response.
 *
 * Out (client to server): request lines give the method and path of each
 * request, kept in a FIFO of at most H1_PIPE_MAX requests sent and not yet
 * answered (pipelining); request headers are read only for the body's
 * framing (Content-Length, Transfer-Encoding: chunked), and the body is
 * skipped so that the next request line is found.
 *
 * In (server to client): a status line starts a response; 1xx interim
 * responses are skipped (101 ends the reading: the connection is no longer
 * HTTP); every header line goes to the header tee of the connection's one
 * struct rec; the body is framed per RFC 9112 section 6.3 (no body after
 * HEAD, 204 and 304; chunked; Content-Length; else until the connection
 * ends) and only its data, decoded when it has a Content-Encoding, goes to
 * the scanner.  `Connection: close` (or HTTP/1.0 without keep-alive) means
 * no further response.
 *
 * Memory: one struct h1_conn per connection, allocated at open(), nothing
 * per call.  Lines (request, status, header, chunk-size lines) are kept in
 * a buffer of H1_LINE_MAX bytes, header lines only when their first byte
 * may start a name we read; a longer line keeps its prefix, which is
 * enough to recognise the name.  Anything it cannot follow (garbage for a
 * status line, a bad Content-Length, a chunk size that overflows, a deeper
 * pipeline) makes the reader give up on the connection as tlstap.h says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlstap.h"

#define H1_LINE_MAX	256	/* bytes kept of one line */
#define H1_PIPE_MAX	16	/* requests sent and not yet answered */
#define H1_METHOD_LEN	16	/* longest method + 1 */
#define H1_PATH_LEN	RTP_PATH_LEN	/* path kept of a request + 1 */
#define H1_LEN_MAX	(UINT64_C(1) << 60)	/* largest length followed */

/* Where a direction is. */
enum h1_state {
	ST_LINE = 0,	/* before or in a request/status line */
	ST_HDR,		/* header lines */
	ST_LEN,		/* a Content-Length body */
	ST_CSIZE,	/* a chunk-size line */
	ST_CDATA,	/* chunk data */
	ST_CEND,	/* the line end after chunk data */
	ST_TRAILER,	/* trailer lines after the last chunk */
	ST_CLOSE,	/* a body that ends with the connection */
	ST_STOP		/* nothing more to read this way (a tunnel) */
};

/* What a line's bytes are kept for. */
enum h1_keep {
	LK_NONE = 0,	/* only whether it is empty matters */
	LK_ALL,		/* request, status and chunk-size lines */
	LK_HDR		/* header lines: only those that may be ours */
};

/* The line being read in one direction. */
struct h1_line {
	char buf[H1_LINE_MAX];		/* its first bytes (line end not
					   kept when it fits) */
	size_t len;			/* bytes in buf */
	size_t total;			/* bytes of the line before its LF */
	int first;			/* its first byte */
	int keep;			/* enum h1_keep, decided at its first
					   byte */
};

/* One direction: where it is and what the current message's headers said
 * about its framing. */
struct h1_dir {
	int state;			/* enum h1_state */
	struct h1_line l;
	uint64_t left;			/* bytes left of a body or a chunk */
	int64_t clen;			/* Content-Length, -1: none */
	int te;				/* a Transfer-Encoding was sent */
	int chunked;			/* and its last coding was chunked */
	int bad;			/* framing headers we cannot follow */
	int close;			/* Connection: close */
	int keepalive;			/* Connection: keep-alive */
	int tunnel;			/* a CONNECT request */
	int coding;			/* enum dec_coding (responses) */
};

/* A request sent, waiting for its response. */
struct h1_req {
	char method[H1_METHOD_LEN];
	char path[H1_PATH_LEN];		/* up to its query, maybe cut */
};

struct h1_conn {
	char host[RTP_HOST_LEN];	/* as events report it (rec_begin
					   reads all of it) */
	int dead;			/* gave up or no further response:
					   every byte is ignored */
	struct h1_dir out, in;
	struct h1_req pend[H1_PIPE_MAX];	/* FIFO of requests */
	unsigned phead, pcount;
	/* the response being read */
	int resp;			/* a response has begun */
	int taken;			/* its request was taken from pend */
	int known;			/* and there was one: cur holds it */
	struct h1_req cur;
	long status;			/* its status, 0: no status line */
	int v10;			/* HTTP/1.0 */
	int teed;			/* every body byte reached the
					   scanner so far */
	struct dec *dec;		/* its decoder, NULL: none yet */
	struct rec rec;			/* scanner and header tee */
};

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* 1 when the len bytes at s are word (lower case) but for case. */
static int
same(const char *s, size_t len, const char *word, size_t wlen)
{
	size_t i;

	if (len != wlen)
		return 0;
	for (i = 0; i < len; i++)
		if (lower((unsigned char)s[i]) != word[i])
			return 0;
	return 1;
}

static int
is_blank(int c)
{
	return c == ' ' || c == '\t';
}

static void
line_reset(struct h1_line *l)
{
	l->len = 0;
	l->total = 0;
	l->first = 0;
	l->keep = LK_NONE;
}

/*
 * Take the bytes of the current line from *pp (up to end): kept in l->buf
 * as keep says, *pp moved past them.  Returns 1 when the line ended (its
 * LF consumed; a CR before it is dropped when the line fitted), 0 when the
 * input ran out first.
 */
static int
line_take(struct h1_line *l, const char **pp, const char *end, int keep)
{
	const char *p = *pp;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t n = (size_t)((nl != NULL ? nl : end) - p);

	if (l->total == 0 && n > 0) {
		int c = lower((unsigned char)p[0]);

		l->first = (unsigned char)p[0];
		l->keep = keep != LK_HDR ? keep :
		    (c == 'c' || c == 't') ? LK_ALL : LK_NONE;
	}
	if (l->keep != LK_NONE && l->len < sizeof(l->buf)) {
		size_t k = sizeof(l->buf) - l->len;

		if (k > n)
			k = n;
		memcpy(l->buf + l->len, p, k);
		l->len += k;
	}
	if (l->total < SIZE_MAX / 2)
		l->total += n;
	*pp = nl != NULL ? nl + 1 : end;
	if (nl == NULL)
		return 0;
	if (l->len == l->total && l->len > 0 && l->buf[l->len - 1] == '\r')
		l->len--;
	return 1;
}

/* The line just ended was empty (CRLF or LF alone). */
static int
line_empty(const struct h1_line *l)
{
	return l->total == 0 || (l->total == 1 && l->first == '\r');
}

/* The line just ended may not have fitted in l->buf (only its prefix
 * is there). */
static int
line_cut(const struct h1_line *l)
{
	return l->total >= sizeof(l->buf);
}

static void
msg_reset(struct h1_dir *d)
{
	d->clen = -1;
	d->te = 0;
	d->chunked = 0;
	d->bad = 0;
	d->close = 0;
	d->keepalive = 0;
	d->tunnel = 0;
	d->coding = DEC_IDENTITY;
	d->left = 0;
}

/* ---- header values ------------------------------------------------------ */

/* A Content-Length value: digits, or a list of equal ones (RFC 9110
 * 8.6).  Returns the length or -1. */
static int64_t
parse_clen(const char *s, size_t len)
{
	int64_t v = -1;
	size_t i = 0;

	while (i < len) {
		int64_t x = 0;
		size_t digits = 0;

		while (i < len && is_blank(s[i]))
			i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (++digits > 18)
				return -1;
			x = x * 10 + (s[i++] - '0');
		}
		while (i < len && is_blank(s[i]))
			i++;
		if (digits == 0 || (v != -1 && x != v))
			return -1;
		v = x;
		if (i < len && s[i++] != ',')
			return -1;
		if (i == len && s[len - 1] == ',')
			return -1;
	}
	return v;
}

/* Call fn for each token of a comma list (blanks around it dropped). */
static void
each_token(const char *s, size_t len, void (*fn)(struct h1_dir *,
    const char *, size_t), struct h1_dir *d)
{
	size_t i = 0;

	while (i < len) {
		size_t a, b;

		while (i < len && (is_blank(s[i]) || s[i] == ','))
			i++;
		a = i;
		while (i < len && s[i] != ',')
			i++;
		b = i;
		while (b > a && is_blank(s[b - 1]))
			b--;
		if (b > a)
			fn(d, s + a, b - a);
	}
}

static void
te_token(struct h1_dir *d, const char *s, size_t len)
{
	/* only the last coding decides: chunked must be the final one */
	d->chunked = same(s, len, "chunked", 7);
}

static void
conn_token(struct h1_dir *d, const char *s, size_t len)
{
	if (same(s, len, "close", 5))
		d->close = 1;
	else if (same(s, len, "keep-alive", 10))
		d->keepalive = 1;
}

/*
 * One kept header line of d's message: the framing headers, and for a
 * response Content-Encoding.  Name matched by length first; the value of a
 * line too long to keep is trusted only where its prefix is enough.
 */
static void
header_line(struct h1_dir *d, int resp)
{
	const char *b = d->l.buf, *colon, *v;
	size_t nlen, vlen;
	int cut = line_cut(&d->l);

	if ((colon = memchr(b, ':', d->l.len)) == NULL)
		return;
	nlen = (size_t)(colon - b);
	v = colon + 1;
	vlen = d->l.len - nlen - 1;
	while (vlen > 0 && is_blank(v[0])) {
		v++;
		vlen--;
	}
	while (vlen > 0 && is_blank(v[vlen - 1]))
		vlen--;
	switch (nlen) {
	case 10:
		if (same(b, nlen, "connection", 10))
			each_token(v, vlen, conn_token, d);
		break;
	case 14:
		if (same(b, nlen, "content-length", 14)) {
			int64_t x = cut ? -1 : parse_clen(v, vlen);

			if (x < 0 || (d->clen >= 0 && x != d->clen))
				d->bad = 1;
			else
				d->clen = x;
		}
		break;
	case 16:
		if (resp && same(b, nlen, "content-encoding", 16)) {
			int k = cut ? DEC_UNSUPPORTED : dec_coding_of(v, vlen);

			/* a second header naming a coding stacks them */
			if (k != DEC_IDENTITY)
				d->coding = d->coding == DEC_IDENTITY ? k :
				    DEC_UNSUPPORTED;
		}
		break;
	case 17:
		if (same(b, nlen, "transfer-encoding", 17)) {
			d->te = 1;
			if (cut)
				d->bad = 1;
			else
				each_token(v, vlen, te_token, d);
		}
		break;
	default:
		break;
	}
}

/* ---- requests ------------------------------------------------------------- */

static int
is_tchar(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~",
	    c) != NULL);
}

/* method SP request-target SP HTTP/1.x into *q.  0 or -1. */
static int
parse_request(const struct h1_line *l, struct h1_req *q)
{
	const char *b = l->buf, *e = l->buf + l->len, *t, *te;
	size_t m = 0, n;

	while (b + m < e && is_tchar((unsigned char)b[m]))
		m++;
	if (m == 0 || m >= sizeof(q->method) || b + m == e || b[m] != ' ')
		return -1;
	t = b + m + 1;
	if ((te = memchr(t, ' ', (size_t)(e - t))) == NULL) {
		if (!line_cut(l))
			return -1;	/* HTTP/0.9 or garbage */
		te = e;		/* a long target: its prefix is the path */
	} else if (!line_cut(l) && ((size_t)(e - te) != 9 ||
	    memcmp(te + 1, "HTTP/1.", 7) != 0))
		return -1;
	if (te == t)
		return -1;
	memcpy(q->method, b, m);
	q->method[m] = '\0';
	for (n = 0; t + n < te && t[n] != '?' && t[n] != '#'; n++)
		;
	if (n >= sizeof(q->path))
		n = sizeof(q->path) - 1;
	memcpy(q->path, t, n);
	q->path[n] = '\0';
	return 0;
}

/* ---- events --------------------------------------------------------------- */

static void
report_req(struct h1_conn *c, const struct h1_req *q)
{
	struct rec_end e;

	memset(&e, 0, sizeof(e));
	e.host = c->host;
	e.tls = 1;
	e.result = TAP_CUT;
	e.method = q->method;
	e.url = q->path;
	rec_report(&e, RTP_F_TLS_TAP);
}

/* The request of the response being read, taken from the FIFO once. */
static void
take_req(struct h1_conn *c)
{
	if (c->taken)
		return;
	c->taken = 1;
	if (c->pcount == 0)
		return;		/* more responses than requests seen */
	c->cur = c->pend[c->phead];
	c->phead = (c->phead + 1) % H1_PIPE_MAX;
	c->pcount--;
	c->known = 1;
}

/* The response being read is over (result TAP_OK or TAP_CUT): its event,
 * and the connection ready for the next one. */
static void
finish(struct h1_conn *c, int32_t result)
{
	struct scan_result res;
	struct rec_end e;
	/* an interim status is no answer: cut after a 100, none was read */
	long st = c->status >= 200 || c->status == 101 ? c->status : 0;
	int teed = c->teed && st > 0;

	take_req(c);
	if (c->dec != NULL) {
		if (result == TAP_OK && !dec_done(c->dec))
			teed = 0;
		dec_free(c->dec);
		c->dec = NULL;
	}
	memset(&e, 0, sizeof(e));
	if (teed) {
		scan_finish(&c->rec.scan, &res);
		e.res = &res;
		e.fed = c->rec.fed;
	}
	e.host = c->host;
	e.tls = 1;
	e.teed = teed;
	e.hdrs = st > 0 ? &c->rec.hdr.ev : NULL;
	e.result = result;
	e.status = st;
	e.method = c->known ? c->cur.method : NULL;
	e.url = c->known ? c->cur.path : NULL;
	rec_report(&e, RTP_F_TLS_TAP);
	c->resp = 0;
	c->taken = 0;
	c->known = 0;
	c->status = 0;
}

/*
 * Stop reading the connection: the response in progress is reported cut
 * and unreadable, then every request still waiting for its answer (and
 * extra, the request that did not fit, when not NULL).
 */
static void
give_up(struct h1_conn *c, const char *why, const struct h1_req *extra)
{
	shim_debug("h1: %s: gave up: %s", c->host, why);
	if (c->resp) {
		c->teed = 0;
		finish(c, TAP_CUT);
	}
	while (c->pcount > 0) {
		report_req(c, &c->pend[c->phead]);
		c->phead = (c->phead + 1) % H1_PIPE_MAX;
		c->pcount--;
	}
	if (extra != NULL)
		report_req(c, extra);
	c->dead = 1;
}

/* Response body bytes, decoded when they need it, to the scanner. */
static void
body(struct h1_conn *c, const char *p, size_t n)
{
	if (!c->teed || n == 0)
		return;
	if (c->in.coding == DEC_IDENTITY) {
		rec_body(&c->rec, p, n);
		return;
	}
	if (c->dec == NULL && (c->in.coding == DEC_UNSUPPORTED ||
	    (c->dec = dec_new(c->in.coding)) == NULL)) {
		c->teed = 0;
		return;
	}
	if (dec_feed(c->dec, p, n, &c->rec) == -1)
		c->teed = 0;
}

/* ---- framing ---------------------------------------------------------- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* chunk-size [BWS ; extensions] of a chunk-size line.  0 or -1. */
static int
chunk_size(const struct h1_line *l, uint64_t *out)
{
	uint64_t v = 0;
	size_t i, sig = 0;
	int h = -1;

	for (i = 0; i < l->len && (h = hexval((unsigned char)l->buf[i])) >= 0;
	    i++) {
		if (v == 0 && h == 0)
			continue;
		if (++sig > 15)
			return -1;
		v = v << 4 | (uint64_t)h;
	}
	if (i == 0 || (i == l->len && line_cut(l)))
		return -1;
	while (i < l->len && is_blank(l->buf[i]))
		i++;
	if (i < l->len && l->buf[i] != ';')
		return -1;
	*out = v;
	return 0;
}

/*
 * Body bytes of d's message from *pp (up to end), the data given to the
 * response's scanner when resp is 1, skipped when 0.  Returns 1 when the
 * message ended (*pp after it), 0 when the input ran out, -1 for framing
 * that cannot be followed.
 */
static int
body_step(struct h1_conn *c, struct h1_dir *d, const char **pp,
    const char *end, int resp)
{
	const char *p = *pp;
	int r = 0;

	while (p < end && r == 0) {
		switch (d->state) {
		case ST_LEN:
		case ST_CDATA: {
			size_t n = (size_t)(end - p);

			if (n > d->left)
				n = (size_t)d->left;
			if (resp)
				body(c, p, n);
			p += n;
			d->left -= n;
			if (d->left == 0) {
				if (d->state == ST_LEN)
					r = 1;
				else
					d->state = ST_CEND;
			}
			break;
		}
		case ST_CSIZE:
			if (!line_take(&d->l, &p, end, LK_ALL))
				break;
			if (chunk_size(&d->l, &d->left) == -1)
				r = -1;
			else
				d->state = d->left == 0 ? ST_TRAILER :
				    ST_CDATA;
			line_reset(&d->l);
			break;
		case ST_CEND:
			if (!line_take(&d->l, &p, end, LK_NONE))
				break;
			if (!line_empty(&d->l))
				r = -1;
			d->state = ST_CSIZE;
			line_reset(&d->l);
			break;
		case ST_TRAILER:
			/* trailer fields: not headers for us */
			if (!line_take(&d->l, &p, end, LK_NONE))
				break;
			if (line_empty(&d->l))
				r = 1;
			line_reset(&d->l);
			break;
		case ST_CLOSE:
			if (resp)
				body(c, p, (size_t)(end - p));
			p = end;
			break;
		default:	/* ST_STOP */
			p = end;
			break;
		}
	}
	*pp = p;
	return r;
}

/* Where d goes after its headers: the framing they give (RFC 9112 6.3,
 * from point 3 on).  Returns 0, or -1 when it cannot be followed. */
static int
frame(struct h1_dir *d, int resp)
{
	if (d->bad)
		return -1;
	if (d->te) {
		if (d->chunked)
			d->state = ST_CSIZE;
		else if (resp)
			d->state = ST_CLOSE;
		else
			return -1;
	} else if (d->clen > 0) {
		if ((uint64_t)d->clen > H1_LEN_MAX)
			return -1;
		d->left = (uint64_t)d->clen;
		d->state = ST_LEN;
	} else if (d->clen == 0 || !resp)
		d->state = ST_LINE;	/* no body */
	else
		d->state = ST_CLOSE;
	return 0;
}

/* ---- out: requests ------------------------------------------------------ */

static void
request_line(struct h1_conn *c)
{
	struct h1_req q;

	if (parse_request(&c->out.l, &q) == -1) {
		give_up(c, "not a request line", NULL);
		return;
	}
	if (c->pcount == H1_PIPE_MAX) {
		give_up(c, "pipeline deeper than 16", &q);
		return;
	}
	c->pend[(c->phead + c->pcount) % H1_PIPE_MAX] = q;
	c->pcount++;
	msg_reset(&c->out);
	c->out.tunnel = strcmp(q.method, "CONNECT") == 0;
	c->out.state = ST_HDR;
}

static void
h1_out(void *v, const char *p, size_t n)
{
	struct h1_conn *c = v;
	struct h1_dir *d = &c->out;
	const char *end = p + n;
	int r;

	while (p < end && !c->dead) {
		switch (d->state) {
		case ST_LINE:
			if (!line_take(&d->l, &p, end, LK_ALL))
				break;
			if (!line_empty(&d->l))
				request_line(c);
			line_reset(&d->l);
			break;
		case ST_HDR:
			if (!line_take(&d->l, &p, end, LK_HDR))
				break;
			if (!line_empty(&d->l)) {
				if (d->l.keep != LK_NONE)
					header_line(d, 0);
			} else if (d->tunnel)
				d->state = ST_STOP;	/* CONNECT: a tunnel */
			else if (frame(d, 0) == -1)
				give_up(c, "request body framing", NULL);
			line_reset(&d->l);
			break;
		default:
			if ((r = body_step(c, d, &p, end, 0)) == -1)
				give_up(c, "request chunk framing", NULL);
			else if (r == 1)
				d->state = ST_LINE;
			break;
		}
	}
}

/* ---- in: responses ------------------------------------------------------- */

/* HTTP/1.x SP 3DIGIT [SP reason].  The status, or -1. */
static long
parse_status(const struct h1_line *l, int *v10)
{
	const char *b = l->buf;

	if (l->len < 12 || memcmp(b, "HTTP/1.", 7) != 0 || b[7] < '0' ||
	    b[7] > '9' || b[8] != ' ' || b[9] < '1' || b[9] > '9' ||
	    b[10] < '0' || b[10] > '9' || b[11] < '0' || b[11] > '9' ||
	    (l->len > 12 && b[12] != ' '))
		return -1;
	*v10 = b[7] == '0';
	return (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
}

/* The response is over: the next one, or none after a close. */
static void
response_done(struct h1_conn *c, int32_t result)
{
	int last = c->in.close || (c->v10 && !c->in.keepalive);

	finish(c, result);
	c->in.state = ST_LINE;
	if (last)
		c->dead = 1;	/* no further response on it */
}

static void
status_line(struct h1_conn *c)
{
	long st = parse_status(&c->in.l, &c->v10);

	if (st < 0) {
		give_up(c, "not a status line", NULL);
		return;
	}
	c->status = st;
	c->teed = 1;
	rec_begin(&c->rec, c->host, 1);
	msg_reset(&c->in);
	c->in.state = ST_HDR;
}

static void
response_headers_end(struct h1_conn *c)
{
	const char *m;
	long st = c->status;

	if (st < 200 && st != 101) {
		/* 100 Continue, 103 Early Hints: the response is to come */
		c->in.state = ST_LINE;
		return;
	}
	take_req(c);
	m = c->known ? c->cur.method : "";
	if (st == 101 || (strcmp(m, "CONNECT") == 0 && st < 300)) {
		/* the connection is not HTTP any more */
		finish(c, TAP_OK);
		c->dead = 1;
		return;
	}
	if (strcmp(m, "HEAD") == 0 || st == 204 || st == 304) {
		response_done(c, TAP_OK);
		return;
	}
	if (frame(&c->in, 1) == -1) {
		give_up(c, "response body framing", NULL);
		return;
	}
	if (c->in.state == ST_LINE)
		response_done(c, TAP_OK);	/* Content-Length: 0 */
}

static void
h1_in(void *v, const char *p, size_t n)
{
	struct h1_conn *c = v;
	struct h1_dir *d = &c->in;
	const char *end = p + n, *s;
	int r;

	while (p < end && !c->dead) {
		switch (d->state) {
		case ST_LINE:
			r = line_take(&d->l, &p, end, LK_ALL);
			if (d->l.len > 0 && d->l.buf[0] != '\r') {
				/* not an empty line: a response begins, and
				   garbage is given up on at once */
				size_t k = d->l.len < 5 ? d->l.len : 5;

				c->resp = 1;
				if (memcmp(d->l.buf, "HTTP/", k) != 0) {
					give_up(c, "not a status line", NULL);
					break;
				}
			}
			if (!r)
				break;
			if (!line_empty(&d->l))
				status_line(c);
			line_reset(&d->l);
			break;
		case ST_HDR:
			s = p;
			r = line_take(&d->l, &p, end, LK_HDR);
			rec_header(&c->rec, s, (size_t)(p - s));
			if (!r)
				break;
			if (!line_empty(&d->l)) {
				if (d->l.keep != LK_NONE)
					header_line(d, 1);
			} else
				response_headers_end(c);
			line_reset(&d->l);
			break;
		default:
			if ((r = body_step(c, d, &p, end, 1)) == -1)
				give_up(c, "response chunk framing", NULL);
			else if (r == 1)
				response_done(c, TAP_OK);
			break;
		}
	}
}

/* ---- the reader ---------------------------------------------------------- */

static void *
h1_open(const char *host)
{
	struct h1_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	rtp_strlcpy(c->host, host, sizeof(c->host));
	msg_reset(&c->out);
	msg_reset(&c->in);
	return c;
}

static void
h1_end(void *v, int clean)
{
	struct h1_conn *c = v;

	if (!c->dead) {
		if (c->in.state == ST_CLOSE)
			finish(c, clean ? TAP_OK : TAP_CUT);
		else if (c->resp)
			finish(c, TAP_CUT);
	}
	if (c->dec != NULL)
		dec_free(c->dec);
	free(c);
}

static void
h1_drop(void *v)
{
	struct h1_conn *c = v;

	if (c->dec != NULL)
		dec_free(c->dec);
	free(c);
}

const struct tap_proto h1_proto = {
	.name = "http/1.1",
	.open = h1_open,
	.out = h1_out,
	.in = h1_in,
	.end = h1_end,
	.drop = h1_drop,
};
