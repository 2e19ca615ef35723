/*
 * A JSON writer laid out as cJSON_Print() lays out (see jsonw.h).
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ratetap/rtime.h"
#include "jsonw.h"

#define JW_INITIAL	4096

/* Grow the text to hold n more bytes and a NUL; NULL when it cannot. */
static char *
grow(struct jw *w, size_t n)
{
	size_t need, cap;
	char *np;

	if (w->err)
		return NULL;
	if (n > SIZE_MAX / 4 - w->b.len)
		goto fail;
	need = w->b.len + n + 1;
	cap = w->b.cap > 0 ? w->b.cap : JW_INITIAL;
	while (cap < need)
		cap *= 2;
	if ((np = realloc(w->b.p, cap)) == NULL)
		goto fail;
	w->b.p = np;
	w->b.cap = cap;
	return w->b.p + w->b.len;
fail:
	w->err = 1;
	return NULL;
}

/* Room for n more bytes and the NUL at the end of the text, or NULL. */
static inline char *
room(struct jw *w, size_t n)
{
	if (!w->err && n < w->b.cap - w->b.len)	/* cap > len always */
		return w->b.p + w->b.len;
	return grow(w, n);
}

static void
put(struct jw *w, const char *s, size_t n)
{
	char *p;

	if ((p = room(w, n)) == NULL)
		return;
	memcpy(p, s, n);
	w->b.len += n;
}

void
jw_init(struct jw *w, size_t hint)
{
	memset(w, 0, sizeof(*w));
	if (hint > 0)
		(void)room(w, hint);
}

/* Bytes that cannot be copied as they are: 1 escaped, 2 UTF-8 lead. */
static const unsigned char special[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* '"' */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,	/* '\\' */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/*
 * Length of the valid UTF-8 sequence at s (n bytes left, s[0] >= 0x80),
 * or 0 when it is not one (RFC 3629: no overlong forms, no surrogates,
 * nothing beyond U+10FFFF).
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

#define ONES	UINT64_C(0x0101010101010101)
#define HIGHS	UINT64_C(0x8080808080808080)

/* Does any of the 8 bytes of x need more than a copy (see special[])? */
static inline int
swar_special(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');

	return (((x - ONES * 0x20) | (q - ONES) | (b - ONES)) & ~x & HIGHS) !=
	    0 || (x & HIGHS) != 0;
}

/*
 * s (n bytes) as a JSON string, quotes included, at p, which has room for
 * n * 6 + 2 bytes; returns the end.
 */
static char *
string_at(char *p, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, u;
	uint64_t x;

	*p++ = '"';
	while (i < n) {
		while (n - i >= 8) {
			memcpy(&x, s + i, 8);
			if (swar_special(x))
				break;
			memcpy(p, s + i, 8);
			p += 8;
			i += 8;
		}
		while (i < n && special[s[i]] == 0)
			*p++ = (char)s[i++];
		if (i >= n)
			break;
		if (special[s[i]] == 2) {
			if ((u = utf8_len(s + i, n - i)) > 0) {
				memcpy(p, s + i, u);
				p += u;
				i += u;
			} else {
				memcpy(p, "\\ufffd", 6);
				p += 6;
				i++;
			}
			continue;
		}
		*p++ = '\\';
		switch (s[i]) {
		case '"':	*p++ = '"'; break;
		case '\\':	*p++ = '\\'; break;
		case '\b':	*p++ = 'b'; break;
		case '\f':	*p++ = 'f'; break;
		case '\n':	*p++ = 'n'; break;
		case '\r':	*p++ = 'r'; break;
		case '\t':	*p++ = 't'; break;
		default:
			*p++ = 'u';
			*p++ = '0';
			*p++ = '0';
			*p++ = hex[s[i] >> 4];
			*p++ = hex[s[i] & 0xf];
		}
		i++;
	}
	*p++ = '"';
	return p;
}

static void
put_string(struct jw *w, const char *s, size_t n)
{
	char *p;

	/* at most 6 bytes out per byte in: \u00XX, \ufffd */
	if (n > SIZE_MAX / 8) {
		w->err = 1;
		return;
	}
	if ((p = room(w, n * 6 + 2)) == NULL)
		return;
	w->b.len = (size_t)(string_at(p, s, n) - w->b.p);
}

/* What comes before a value: the separator, the indent and the key. */
static void
member(struct jw *w, const char *key)
{
	size_t n;
	char *p;
	int i;

	if (w->err)
		return;
	if (w->depth == 0) {		/* the root */
		if (key != NULL || w->b.len > 0)
			w->err = 1;
		return;
	}
	if (key == NULL || (n = strlen(key)) > SIZE_MAX / 8) {
		w->err = 1;
		return;
	}
	if ((p = room(w, (size_t)w->depth + n * 6 + 6)) == NULL)
		return;
	if (w->has[w->depth])
		*p++ = ',';
	*p++ = '\n';
	for (i = 0; i < w->depth; i++)
		*p++ = '\t';
	p = string_at(p, key, n);
	*p++ = ':';
	*p++ = '\t';
	w->b.len = (size_t)(p - w->b.p);
	w->has[w->depth] = 1;
}

void
jw_open(struct jw *w, const char *key)
{
	member(w, key);
	if (w->depth >= JW_DEPTH_MAX) {
		w->err = 1;
		return;
	}
	put(w, "{", 1);
	w->has[++w->depth] = 0;
}

void
jw_close(struct jw *w)
{
	char *p;
	int i;

	if (w->depth == 0) {
		w->err = 1;
		return;
	}
	w->depth--;
	if ((p = room(w, (size_t)w->depth + 2)) == NULL)
		return;
	*p++ = '\n';
	for (i = 0; i < w->depth; i++)
		*p++ = '\t';
	*p++ = '}';
	w->b.len = (size_t)(p - w->b.p);
	*p = '\0';
}

/* v in decimal at p; returns the length (v > -1e15 and < 1e15). */
static size_t
put_digits(char *p, int64_t v)
{
	static const char pairs[] =
	    "00010203040506070809101112131415161718192021222324"
	    "25262728293031323334353637383940414243444546474849"
	    "50515253545556575859606162636465666768697071727374"
	    "75767778798081828384858687888990919293949596979899";
	char tmp[24], *e = tmp + sizeof(tmp), *q = e;
	uint64_t u;
	size_t k = 0;

	if (v < 0) {
		p[k++] = '-';
		u = (uint64_t)-v;
	} else
		u = (uint64_t)v;
	while (u >= 100) {
		q -= 2;
		memcpy(q, pairs + (u % 100) * 2, 2);
		u /= 100;
	}
	if (u >= 10) {
		q -= 2;
		memcpy(q, pairs + u * 2, 2);
	} else
		*--q = (char)('0' + u);
	memcpy(p + k, q, (size_t)(e - q));
	return k + (size_t)(e - q);
}

/*
 * Exactly as cJSON 1.7.15's print_number() prints a number item of d: 15
 * significant digits, or 17 when 15 do not read back as d (within a
 * DBL_EPSILON); NaN and infinities as null.
 */
static void
put_double(struct jw *w, double d)
{
	char buf[32];
	double test = 0.0, big;
	int n;

	if (isnan(d) || isinf(d)) {
		put(w, "null", 4);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%1.15g", d);
	big = fabs(d);
	if (sscanf(buf, "%lg", &test) != 1 ||
	    !(fabs(test - d) <= (fabs(test) > big ? fabs(test) : big) *
	    DBL_EPSILON))
		n = snprintf(buf, sizeof(buf), "%1.17g", d);
	if (n > 0 && (size_t)n < sizeof(buf))
		put(w, buf, (size_t)n);
	else
		w->err = 1;
}

void
jw_int(struct jw *w, const char *key, int64_t v)
{
	char *p;

	member(w, key);
	/* below 10^15 the digits are those cJSON prints for the double */
	if (v > -INT64_C(1000000000000000) && v < INT64_C(1000000000000000)) {
		if ((p = room(w, 20)) != NULL) {
			w->b.len += put_digits(p, v);
			w->b.p[w->b.len] = '\0';
		}
	} else
		put_double(w, (double)v);
}

void
jw_num(struct jw *w, const char *key, double v)
{
	member(w, key);
	put_double(w, v);
}

void
jw_str(struct jw *w, const char *key, const char *s)
{
	member(w, key);
	if (s == NULL)
		put(w, "null", 4);
	else
		put_string(w, s, strlen(s));
}

void
jw_strn(struct jw *w, const char *key, const char *s, size_t n)
{
	member(w, key);
	put_string(w, s, n);
}

void
jw_bool(struct jw *w, const char *key, int v)
{
	member(w, key);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void
jw_null(struct jw *w, const char *key)
{
	member(w, key);
	put(w, "null", 4);
}

void
jw_time(struct jw *w, const char *key, int64_t t)
{
	char buf[32];

	if (t <= 0) {
		jw_null(w, key);
		return;
	}
	rt_time_format((time_t)t, buf, sizeof(buf));
	jw_str(w, key, buf);
}

void
jw_cjson(struct jw *w, const char *key, const cJSON *item)
{
	char *s, *p, *q;
	size_t nl = 0;
	int i;

	member(w, key);
	if (w->err)
		return;
	if ((s = cJSON_Print(item)) == NULL) {
		w->err = 1;
		return;
	}
	/* cJSON indents from 0: every line after the first gets our depth
	   (a newline in its text is layout: strings carry theirs escaped) */
	for (p = s; *p != '\0'; p++)
		nl += *p == '\n';
	if ((q = room(w, (size_t)(p - s) + nl * (size_t)w->depth)) == NULL)
		goto out;
	for (p = s; *p != '\0'; p++) {
		*q++ = *p;
		if (*p == '\n')
			for (i = 0; i < w->depth; i++)
				*q++ = '\t';
	}
	w->b.len = (size_t)(q - w->b.p);
	*q = '\0';
out:
	free(s);
}

void
jw_cjson_members(struct jw *w, const cJSON *obj)
{
	const cJSON *c;

	for (c = obj != NULL ? obj->child : NULL; c != NULL; c = c->next)
		jw_cjson(w, c->string != NULL ? c->string : "", c);
}

int
jw_finish(struct jw *w, char **out, size_t *len)
{
	if (w->err || w->depth != 0 || w->b.len == 0 ||
	    room(w, 0) == NULL) {
		jw_discard(w);
		errno = ENOMEM;
		return -1;
	}
	w->b.p[w->b.len] = '\0';
	*out = w->b.p;
	*len = w->b.len;
	memset(w, 0, sizeof(*w));
	return 0;
}

void
jw_discard(struct jw *w)
{
	free(w->b.p);
	memset(w, 0, sizeof(*w));
}
