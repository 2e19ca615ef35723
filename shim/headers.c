/*
 * Response headers to event fields.  Only the rate-limit headers listed in
 * include/ratetap/proto.h, retry-after and request-id are read; every other
 * header is skipped unread.  Values are parsed strictly: a malformed value
 * leaves its field absent.
 *
 * Headers are read as they arrive, one line per call of the header tee
 * (hdr_tee_feed(), fed by tee.c): O(1) work for a header that is not ours,
 * and each new status line starts the set afresh, so that only the final
 * response counts (redirects, 100 Continue, a proxy's CONNECT answer).
 * hdr_read() is the fallback for transfers whose header callback could not
 * be teed: it walks libcurl's header API (curl_easy_nextheader(), through
 * the caller's function table) once the transfer is over.
 */
#include <stdint.h>
#include <string.h>

#include "curltap.h"

#define RL_PREFIX	"anthropic-ratelimit-"
#define MAX_UNIX	INT64_C(253402300799)	/* 9999-12-31T23:59:59Z */
#define MAX_DOUBLE	1e6

enum hdr_kind {
	K_DBL,		/* decimal fraction or percentage */
	K_UNIX,		/* unix seconds */
	K_COUNT,	/* non-negative integer */
	K_RFC3339,	/* RFC 3339 time -> unix seconds */
	K_USTATUS,	/* allowed | allowed_warning | rejected | other */
	K_CLAIM,	/* representative claim */
	K_REQID,	/* request-id string */
	K_REASON	/* overage-disabled-reason string */
};

enum hdr_status_field {
	S_UNIFIED, S_5H, S_7D, S_OVERAGE
};

struct hdr_def {
	const char *name;	/* without RL_PREFIX when rl is 1 */
	size_t len;		/* strlen(name) */
	int rl;			/* 1: name follows "anthropic-ratelimit-" */
	int kind;		/* enum hdr_kind */
	int idx;		/* enum rtp_dbl / rtp_int / hdr_status_field */
};

#define H(name, rl, kind, idx)	{ name, sizeof(name) - 1, rl, kind, idx }

/*
 * The headers read.  The anthropic-ratelimit- ones come first, ordered by
 * the length of their name (find_def() finds them by length through
 * rl_first1[]: a unit test checks the order and the index), then the
 * others.
 */
static const struct hdr_def hdr_defs[] = {
	H("tokens-limit", 1, K_COUNT, RTP_I_TOK_LIMIT),
	H("tokens-reset", 1, K_RFC3339, RTP_I_TOK_RESET),
	H("unified-reset", 1, K_UNIX, RTP_I_RESET),
	H("unified-status", 1, K_USTATUS, S_UNIFIED),
	H("requests-limit", 1, K_COUNT, RTP_I_REQ_LIMIT),
	H("requests-reset", 1, K_RFC3339, RTP_I_REQ_RESET),
	H("unified-5h-reset", 1, K_UNIX, RTP_I_RESET_5H),
	H("unified-7d-reset", 1, K_UNIX, RTP_I_RESET_7D),
	H("tokens-remaining", 1, K_COUNT, RTP_I_TOK_REMAINING),
	H("unified-5h-status", 1, K_USTATUS, S_5H),
	H("unified-7d-status", 1, K_USTATUS, S_7D),
	H("requests-remaining", 1, K_COUNT, RTP_I_REQ_REMAINING),
	H("input-tokens-limit", 1, K_COUNT, RTP_I_IN_LIMIT),
	H("input-tokens-reset", 1, K_RFC3339, RTP_I_IN_RESET),
	H("output-tokens-limit", 1, K_COUNT, RTP_I_OUT_LIMIT),
	H("output-tokens-reset", 1, K_RFC3339, RTP_I_OUT_RESET),
	H("unified-7d_opus-reset", 1, K_UNIX, RTP_I_RESET_7D_OPUS),
	H("unified-overage-reset", 1, K_UNIX, RTP_I_RESET_OVERAGE),
	H("unified-overage-status", 1, K_USTATUS, S_OVERAGE),
	H("unified-5h-utilization", 1, K_DBL, RTP_D_UTIL_5H),
	H("unified-7d-utilization", 1, K_DBL, RTP_D_UTIL_7D),
	H("input-tokens-remaining", 1, K_COUNT, RTP_I_IN_REMAINING),
	H("unified-7d_sonnet-reset", 1, K_UNIX, RTP_I_RESET_7D_SONNET),
	H("output-tokens-remaining", 1, K_COUNT, RTP_I_OUT_REMAINING),
	H("unified-7d_opus-utilization", 1, K_DBL, RTP_D_UTIL_7D_OPUS),
	H("unified-overage-utilization", 1, K_DBL, RTP_D_UTIL_OVERAGE),
	H("unified-fallback-percentage", 1, K_DBL, RTP_D_FALLBACK_PCT),
	H("unified-representative-claim", 1, K_CLAIM, 0),
	H("unified-7d_sonnet-utilization", 1, K_DBL, RTP_D_UTIL_7D_SONNET),
	H("unified-5h-surpassed-threshold", 1, K_DBL, RTP_D_SURPASSED_5H),
	H("unified-7d-surpassed-threshold", 1, K_DBL, RTP_D_SURPASSED_7D),
	H("unified-overage-disabled-reason", 1, K_REASON, 0),
	H("retry-after", 0, K_COUNT, RTP_I_RETRY_AFTER),
	H("request-id", 0, K_REQID, 0),
};

#define HDR_NDEFS	(sizeof(hdr_defs) / sizeof(hdr_defs[0]))
#define HDR_NRL		32	/* the anthropic-ratelimit- entries */
#define HDR_RL_LEN_MAX	32	/* their names are shorter than this */

/* 1 + the index of the first anthropic-ratelimit- entry whose name (after
 * the prefix) has that many bytes, 0 for none: the entries of a length
 * follow it.  A unit test checks it against hdr_defs[]. */
static const unsigned char rl_first1[HDR_RL_LEN_MAX] = {
	[12] = 1, [13] = 3, [14] = 4, [16] = 7, [17] = 10, [18] = 12,
	[19] = 15, [21] = 17, [22] = 19, [23] = 23, [27] = 25, [28] = 28,
	[29] = 29, [30] = 30, [31] = 32,
};

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Unsigned decimal of exactly len digits, at most max.  0 or -1. */
static int
parse_uint(const char *s, size_t len, int64_t max, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (len == 0 || len > 18)
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * DIGITS [. DIGITS] [(e|E) [+|-] DIGITS], 0 .. MAX_DOUBLE.  Converted here,
 * not with strtod(), which follows the application's LC_NUMERIC.  Up to 18
 * significant digits are kept: exact for any value a header carries.
 */
static int
parse_double(const char *s, size_t len, double *out)
{
	uint64_t mant = 0;
	int digits = 0, scale = 0, e = 0, esign = 1;
	size_t i = 0;
	double d;

	if (len == 0 || !is_digit(s[0]))
		return -1;
	for (; i < len && is_digit(s[i]); i++) {
		if (digits < 18) {
			mant = mant * 10 + (uint64_t)(s[i] - '0');
			if (mant != 0)
				digits++;
		} else
			scale++;
	}
	if (i < len && s[i] == '.') {
		i++;
		if (i == len || !is_digit(s[i]))
			return -1;
		for (; i < len && is_digit(s[i]); i++) {
			if (digits < 18) {
				mant = mant * 10 + (uint64_t)(s[i] - '0');
				if (mant != 0)
					digits++;
				scale--;
			}
		}
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			esign = s[i++] == '-' ? -1 : 1;
		if (i == len || !is_digit(s[i]))
			return -1;
		for (; i < len && is_digit(s[i]); i++)
			if (e < 10000)
				e = e * 10 + (s[i] - '0');
	}
	if (i != len)
		return -1;
	scale += esign * e;
	if (mant == 0)
		d = 0.0;
	else if (scale > 30)
		return -1;
	else if (scale < -60)
		d = 0.0;
	else {
		double p10 = 1.0;
		int k;

		for (k = 0; k < (scale < 0 ? -scale : scale); k++)
			p10 *= 10.0;
		d = scale < 0 ? (double)mant / p10 : (double)mant * p10;
	}
	if (!(d >= 0.0 && d <= MAX_DOUBLE))
		return -1;
	*out = d;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
num2(const char *s, int *out)
{
	if (!is_digit(s[0]) || !is_digit(s[1]))
		return -1;
	*out = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

/*
 * YYYY-MM-DD(T|t| )HH:MM:SS[.frac](Z|z|(+|-)HH:MM) -> unix seconds, at most
 * MAX_UNIX.  Self-contained with days_from_civil() and num2() (the shim
 * links libc only): the one place to swap for a shared libc-only parser
 * in common/ should one be written.
 */
static int
parse_rfc3339(const char *s, size_t len, int64_t *out)
{
	static const int mdays[12] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int64_t y, t;
	int yh, yl, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	size_t i;

	if (len < 20 || num2(s, &yh) == -1 || num2(s + 2, &yl) == -1 ||
	    s[4] != '-' ||
	    num2(s + 5, &mo) == -1 || s[7] != '-' || num2(s + 8, &d) == -1 ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    num2(s + 11, &h) == -1 || s[13] != ':' ||
	    num2(s + 14, &mi) == -1 || s[16] != ':' ||
	    num2(s + 17, &sec) == -1)
		return -1;
	y = yh * 100 + yl;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) ||
	    y % 400 == 0))
		return -1;
	i = 19;
	if (i < len && s[i] == '.') {
		i++;
		if (i == len || !is_digit(s[i]))
			return -1;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z'))
		i++;
	else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '-' ? -1 : 1;
		if (len - i < 6 || num2(s + i + 1, &oh) == -1 ||
		    s[i + 3] != ':' || num2(s + i + 4, &om) == -1 ||
		    oh > 23 || om > 59)
			return -1;
		i += 6;
	} else
		return -1;
	if (i != len)
		return -1;
	if (sec == 60)
		sec = 59;	/* a leap second: close enough for a reset */
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	if (t < 0 || t > MAX_UNIX)
		return -1;
	*out = t;
	return 0;
}

static int
eq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

static int
parse_ustatus(const char *s, size_t len)
{
	if (eq(s, len, "allowed"))
		return RTP_US_ALLOWED;
	if (eq(s, len, "allowed_warning"))
		return RTP_US_ALLOWED_WARNING;
	if (eq(s, len, "rejected"))
		return RTP_US_REJECTED;
	return RTP_US_OTHER;
}

static int
parse_claim(const char *s, size_t len)
{
	if (eq(s, len, "five_hour"))
		return RTP_CLAIM_FIVE_HOUR;
	if (eq(s, len, "seven_day"))
		return RTP_CLAIM_SEVEN_DAY;
	if (eq(s, len, "seven_day_opus"))
		return RTP_CLAIM_SEVEN_DAY_OPUS;
	if (eq(s, len, "seven_day_sonnet"))
		return RTP_CLAIM_SEVEN_DAY_SONNET;
	if (eq(s, len, "overage"))
		return RTP_CLAIM_OVERAGE;
	return RTP_CLAIM_OTHER;
}

/* A printable token without spaces, copied (whole or not at all) to dst,
 * zero-filled after it: a repeated header may replace a longer value, and
 * the protocol allows only NULs after the terminator. */
static int
copy_token(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= dstlen)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f)
			return -1;
	}
	memcpy(dst, s, len);
	memset(dst + len, 0, dstlen - len);
	return 0;
}

static int
lower_ascii(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/*
 * Header names the shim reads are shorter than this (the longest, a
 * window's "anthropic-ratelimit-unified-<23 bytes>-utilization", has 63
 * bytes); a longer name is none of them.
 */
#define NAME_LC_MAX	64

/* The len (< NAME_LC_MAX) bytes at s, lower case, into out, eight bytes
 * at a time.  1 when one of them was upper case. */
static int
lower_copy(char *out, const char *s, size_t len)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t high = UINT64_C(0x8080808080808080);
	uint64_t any = 0;
	size_t i = 0;
	int tail = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w, h, up;

		memcpy(&w, s + i, 8);
		/* the high bit of each byte of up: 'A' <= byte <= 'Z' (the
		   two sums differ there, and neither can carry out) */
		h = w & ~high;
		up = ((h + ones * (0x80 - 'A')) ^ (h + ones * (0x7f - 'Z'))) &
		    ~w & high;
		w |= up >> 2;
		any |= up;
		memcpy(out + i, &w, 8);
	}
	for (; i < len; i++) {
		out[i] = (char)lower_ascii((unsigned char)s[i]);
		tail |= out[i] != s[i];
	}
	return any != 0 || tail;
}

/* 1 when the len bytes at s are those of def: two word compares decide
 * almost every name, memcmp the rest. */
static inline int
name_is(const char *s, const char *def, size_t len)
{
	uint64_t a, b, c, d;

	if (len < 8)
		return memcmp(s, def, len) == 0;
	memcpy(&a, s, 8);
	memcpy(&b, def, 8);
	memcpy(&c, s + len - 8, 8);
	memcpy(&d, def + len - 8, 8);
	if (a != b || c != d)
		return 0;
	return len <= 16 || memcmp(s + 8, def + 8, len - 16) == 0;
}

/* The definition of the header named by len bytes at name (lower case),
 * or NULL. */
static const struct hdr_def *
find_def(const char *name, size_t len)
{
	size_t k, pl = sizeof(RL_PREFIX) - 1;

	if (len > pl && memcmp(name, RL_PREFIX, sizeof(RL_PREFIX) - 1) == 0) {
		name += pl;
		len -= pl;
		if (len >= HDR_RL_LEN_MAX || rl_first1[len] == 0)
			return NULL;
		for (k = rl_first1[len] - 1u; k < HDR_NRL &&
		    hdr_defs[k].len == len; k++)
			if (name_is(name, hdr_defs[k].name, len))
				return &hdr_defs[k];
		return NULL;
	}
	for (k = HDR_NRL; k < HDR_NDEFS; k++)
		if (hdr_defs[k].len == len &&
		    name_is(name, hdr_defs[k].name, len))
			return &hdr_defs[k];
	return NULL;
}

#define RL_UNIFIED	"anthropic-ratelimit-unified-"

/*
 * A window only a header names: anthropic-ratelimit-unified-<window>-
 * {utilization,reset,status} with <window> of [a-z0-9_] (name in lower
 * case: apply_n() lowers it), such as 7d_sonnet or 7d_fable, into the
 * event's first free rtp_win entry (or
 * the one already holding that window).  Other unified-* names
 * (overage-in-use, upgrade-paths, ...) are known to exist and ignored.
 * Returns 1 when stored, -1 for a bad value, 0 when not such a header or
 * no entry is free.
 */
static int
apply_window(struct rtp_event *ev, const char *name, size_t nlen,
    const char *s, size_t len)
{
	static const struct { const char *sfx; size_t len; uint8_t bit; }
	    sfx[] = {
		{ "-utilization", 12, RTP_W_UTIL },
		{ "-reset", 6, RTP_W_RESET },
		{ "-status", 7, RTP_W_STATUS },
	};
	char tok[RTP_WIN_NAME_LEN];
	struct rtp_win *w = NULL;
	size_t pl = sizeof(RL_UNIFIED) - 1, k, i, tl = 0;
	int64_t iv = 0;
	double dv = 0.0;

	if (nlen <= pl ||
	    memcmp(name, RL_UNIFIED, sizeof(RL_UNIFIED) - 1) != 0)
		return 0;
	name += pl;
	nlen -= pl;
	for (k = 0; k < sizeof(sfx) / sizeof(sfx[0]); k++)
		if (nlen > sfx[k].len && memcmp(name + nlen - sfx[k].len,
		    sfx[k].sfx, sfx[k].len) == 0)
			break;
	if (k == sizeof(sfx) / sizeof(sfx[0]))
		return 0;
	tl = nlen - sfx[k].len;
	if (tl == 0 || tl >= sizeof(tok))
		return 0;
	for (i = 0; i < tl; i++) {
		int c = lower_ascii((unsigned char)name[i]);

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_'))
			return 0;
		tok[i] = (char)c;
	}
	memset(tok + tl, 0, sizeof(tok) - tl);
	for (i = 0; i < ev->nwin && i < RTP_WIN_SLOTS; i++)
		if (memcmp(ev->win[i].name, tok, sizeof(tok)) == 0)
			w = &ev->win[i];
	switch (sfx[k].bit) {
	case RTP_W_UTIL:
		if (parse_double(s, len, &dv) == -1)
			return -1;
		break;
	case RTP_W_RESET:
		if (parse_uint(s, len, MAX_UNIX, &iv) == -1)
			return -1;
		break;
	default:
		if (len == 0)
			return -1;
		break;
	}
	if (w == NULL) {
		if (ev->nwin >= RTP_WIN_SLOTS)
			return 0;	/* full: the first ones named win */
		w = &ev->win[ev->nwin++];
		memcpy(w->name, tok, sizeof(tok));
	}
	w->present |= sfx[k].bit;
	if (sfx[k].bit == RTP_W_UTIL)
		w->util = dv;
	else if (sfx[k].bit == RTP_W_RESET)
		w->reset = iv;
	else
		w->status = (uint8_t)parse_ustatus(s, len);
	return 1;
}

/* hdr_apply() on a name and a value given by their lengths. */
static int
apply_n(struct rtp_event *ev, const char *name, size_t nlen,
    const char *s, size_t len)
{
	const struct hdr_def *def;
	char lc[NAME_LC_MAX];
	int64_t iv;
	double dv;

	while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
		nlen--;
	if (nlen >= sizeof(lc))
		return 0;
	/* names compare in lower case: servers send it (HTTP/2 requires
	   it), so the name as it came is tried first; HTTP/1.1 servers and
	   proxies may send any case */
	def = find_def(name, nlen);
	if (def == NULL && lower_copy(lc, name, nlen)) {
		name = lc;
		def = find_def(name, nlen);
	}
	if (def == NULL && (nlen <= sizeof(RL_UNIFIED) - 1 ||
	    name[0] != 'a'))
		return 0;
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	if (def == NULL)
		return apply_window(ev, name, nlen, s, len);
	switch (def->kind) {
	case K_DBL:
		if (parse_double(s, len, &dv) == -1)
			return -1;
		ev->d[def->idx] = dv;
		ev->present |= RTP_PRESENT_D(def->idx);
		return 1;
	case K_UNIX:
	case K_COUNT:
		if (parse_uint(s, len, MAX_UNIX, &iv) == -1)
			return -1;
		break;
	case K_RFC3339:
		if (parse_rfc3339(s, len, &iv) == -1)
			return -1;
		break;
	case K_USTATUS: {
		uint8_t st;

		if (len == 0)
			return -1;
		st = (uint8_t)parse_ustatus(s, len);
		if (def->idx == S_UNIFIED)
			ev->unified_status = st;
		else if (def->idx == S_5H)
			ev->status_5h = st;
		else if (def->idx == S_7D)
			ev->status_7d = st;
		else
			ev->overage_status = st;
		return 1;
	}
	case K_CLAIM:
		if (len == 0)
			return -1;
		ev->claim = (uint8_t)parse_claim(s, len);
		return 1;
	case K_REQID:
		return copy_token(ev->request_id, sizeof(ev->request_id), s,
		    len) == 0 ? 1 : -1;
	case K_REASON:
		return copy_token(ev->overage_reason,
		    sizeof(ev->overage_reason), s, len) == 0 ? 1 : -1;
	default:
		return 0;
	}
	ev->i[def->idx] = iv;
	ev->present |= RTP_PRESENT_I(def->idx);
	return 1;
}

int
hdr_apply(struct rtp_event *ev, const char *name, const char *value)
{
	if (name == NULL || value == NULL)
		return 0;
	return apply_n(ev, name, strlen(name), value, strlen(value));
}

void
hdr_read(const struct curl_fns *f, CURL *easy, struct rtp_event *ev)
{
	struct curl_header *h = NULL;
	int guard = 0;

	if (f->easy_nextheader == NULL) {
		ev->flags |= RTP_F_HEADERS_UNREAD;
		return;
	}
	/* one pass over the last response's headers; the guard bounds a
	   pathological response.  O(n^2) in libcurl 7.88 (each call rescans
	   the list): only for transfers whose header callback is not teed */
	while ((h = f->easy_nextheader(easy, CURLH_HEADER, -1, h)) != NULL &&
	    guard++ < 10000)
		(void)hdr_apply(ev, h->name, h->value);
}

void
hdr_tee_init(struct hdr_tee *t)
{
	rtp_init(&t->ev);
	t->partlen = 0;
	t->skip = 0;
	t->ended = 0;
}

/* One whole header line (len bytes, its line end included or not). */
static void
tee_line(struct hdr_tee *t, const char *p, size_t len)
{
	const char *colon;
	int c;

	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (len == 0) {
		/* the blank line: this response's header block is over */
		t->ended = 1;
		return;
	}
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* a new response (after a redirect, a 1xx or a proxy's
		   CONNECT answer): only the last one's headers count */
		rtp_init(&t->ev);
		t->ended = 0;
		return;
	}
	/* after the blank line: trailers, which the header API does not
	   count as headers either; a line starting with a blank continues
	   a folded header, never one of ours */
	if (t->ended || p[0] == ' ' || p[0] == '\t')
		return;
	c = lower_ascii((unsigned char)p[0]);
	if (c != 'a' && c != 'r')
		return;		/* the common case: not ours */
	if ((colon = memchr(p, ':', len)) == NULL)
		return;
	(void)apply_n(&t->ev, p, (size_t)(colon - p), colon + 1,
	    len - (size_t)(colon - p) - 1);
}

void
hdr_tee_feed(struct hdr_tee *t, const char *p, size_t len)
{
	int whole = len > 0 && p[len - 1] == '\n';

	if (len == 0)
		return;
	if (t->skip) {
		/* the rest of a line too long to keep */
		if (whole)
			t->skip = 0;
		return;
	}
	if (t->partlen > 0 || !whole) {
		/* libcurl delivers whole lines; should a line come in
		   pieces, the pieces are joined (the lines we read are
		   short: a longer one is skipped) */
		if (len > sizeof(t->part) - t->partlen) {
			t->partlen = 0;
			t->skip = !whole;
			return;
		}
		memcpy(t->part + t->partlen, p, len);
		t->partlen += len;
		if (!whole)
			return;
		p = t->part;
		len = t->partlen;
		t->partlen = 0;
	}
	tee_line(t, p, len);
}

void
hdr_merge(struct rtp_event *ev, const struct rtp_event *h)
{
	ev->present = h->present;
	memcpy(ev->d, h->d, sizeof(ev->d));
	memcpy(ev->i, h->i, sizeof(ev->i));
	ev->unified_status = h->unified_status;
	ev->status_5h = h->status_5h;
	ev->status_7d = h->status_7d;
	ev->overage_status = h->overage_status;
	ev->claim = h->claim;
	memcpy(ev->request_id, h->request_id, sizeof(ev->request_id));
	memcpy(ev->overage_reason, h->overage_reason,
	    sizeof(ev->overage_reason));
	ev->nwin = h->nwin;
	memcpy(ev->win, h->win, sizeof(ev->win));
}
