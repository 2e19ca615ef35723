/*
 * Encoding helpers and the validator of the ratetap datagram (see
 * include/ratetap/proto.h and docs/protocol.md).  Shared by the shim, the
 * daemon and the test receiver; depends on libc only.
 */
#include <math.h>
#include <string.h>

#include "ratetap/proto.h"

void
rtp_init(struct rtp_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->magic = RTP_MAGIC;
	ev->version = RTP_VERSION;
	ev->length = (uint16_t)sizeof(*ev);
}

/* 1 when one of the eight bytes of w is below 0x20 or above 0x7e. */
static inline int
word_unprintable(uint64_t w)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t high = UINT64_C(0x8080808080808080);

	/* a byte below 0x20 borrows into its high bit (when it is not set
	   already); 0x7f carries into it, and the rest have it set.  Exact
	   for "any byte": a borrow or carry into the next byte only comes
	   from a byte that is out of range itself */
	return ((((w - ones * 0x20) & ~w) | ((w + ones) | w)) & high) != 0;
}

void
rtp_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t i = 0, n;

	if (dstlen == 0)
		return;
	n = src == NULL ? 0 : strnlen(src, dstlen - 1);
	/* eight bytes at a time: copied, and looked at one by one only
	   when one of them is not printable ASCII */
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, src + i, 8);
		if (word_unprintable(w))
			break;
		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[n] = '\0';
}

_Static_assert(RTP_PATH_LEN >= RTP_MODEL_LEN && RTP_PATH_LEN >= RTP_HOST_LEN &&
    RTP_PATH_LEN >= RTP_PROG_LEN && RTP_PATH_LEN >= RTP_REQID_LEN &&
    RTP_PATH_LEN >= RTP_REASON_LEN, "str_ok() compares padding with zeros[]");

static int
str_ok(const char *s, size_t len)
{
	static const char zeros[RTP_PATH_LEN];	/* the longest string field */
	const char *nul = memchr(s, '\0', len);
	size_t i, n;

	if (nul == NULL || len > sizeof(zeros))	/* no terminating NUL */
		return 0;
	n = (size_t)(nul - s);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f)
			return 0;
	}
	/* padding after the NUL must be zero */
	return memcmp(nul + 1, zeros, len - n - 1) == 0;
}

static int
tokens_ok(int64_t v)
{
	return v >= 0 && v <= RTP_TOKENS_MAX;
}

/* A header window entry: [a-z0-9_] name, something present, each value
 * in range, absent values and padding zero. */
static int
win_ok(const struct rtp_win *w)
{
	static const char zeros[sizeof(w->pad)];
	const char *nul = memchr(w->name, '\0', sizeof(w->name));
	size_t i, n;

	if (nul == NULL || nul == w->name)
		return 0;
	n = (size_t)(nul - w->name);
	for (i = 0; i < n; i++) {
		char c = w->name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_'))
			return 0;
	}
	for (i = n; i < sizeof(w->name); i++)
		if (w->name[i] != '\0')
			return 0;
	if (w->present == 0 || (w->present & ~RTP_W_ALL) != 0 ||
	    memcmp(w->pad, zeros, sizeof(zeros)) != 0)
		return 0;
	if (w->present & RTP_W_UTIL) {
		if (!isfinite(w->util) || w->util < 0.0 || w->util > 1e6)
			return 0;
	} else if (w->util != 0.0)
		return 0;
	if (w->present & RTP_W_RESET) {
		if (w->reset < 0 || w->reset > INT64_C(253402300799))
			return 0;
	} else if (w->reset != 0)
		return 0;
	if (w->present & RTP_W_STATUS) {
		if (w->status == RTP_US_ABSENT || w->status > RTP_US_MAX)
			return 0;
	} else if (w->status != 0)
		return 0;
	return 1;
}

static int
wins_ok(const struct rtp_event *ev)
{
	static const struct rtp_win zero;
	int k, j;

	if (ev->nwin > RTP_WIN_SLOTS)
		return 0;
	for (k = 0; k < (int)sizeof(ev->wpad); k++)
		if (ev->wpad[k] != 0)
			return 0;
	for (k = 0; k < RTP_WIN_SLOTS; k++) {
		if (k >= ev->nwin) {
			if (memcmp(&ev->win[k], &zero, sizeof(zero)) != 0)
				return 0;
			continue;
		}
		if (!win_ok(&ev->win[k]))
			return 0;
		for (j = 0; j < k; j++)
			if (strcmp(ev->win[j].name, ev->win[k].name) == 0)
				return 0;	/* one entry per window */
	}
	return 1;
}

int
rtp_validate(const void *buf, size_t len, struct rtp_event *out)
{
	struct rtp_event ev;
	int k;

	/* Shims of this version built before the window tail was appended
	   send RTP_EVENT_SIZE_V1 bytes: their tail is all zero. */
	if (buf == NULL ||
	    (len != sizeof(ev) && len != RTP_EVENT_SIZE_V1))
		return RTP_E_SIZE;
	memset(&ev, 0, sizeof(ev));
	memcpy(&ev, buf, len);
	if (ev.magic != RTP_MAGIC)
		return RTP_E_MAGIC;
	if (ev.version != RTP_VERSION)
		return RTP_E_VERSION;
	if (ev.length != len)
		return RTP_E_SIZE;
	ev.length = (uint16_t)sizeof(ev);
	if ((ev.flags & ~RTP_F_ALL) != 0 || ev.pid <= 0 ||
	    ev.http_status > 999 || ev.method > RTP_M_MAX ||
	    ev.usage_state > RTP_USAGE_MAX ||
	    ev.unified_status > RTP_US_MAX || ev.status_5h > RTP_US_MAX ||
	    ev.status_7d > RTP_US_MAX || ev.overage_status > RTP_US_MAX ||
	    ev.claim > RTP_CLAIM_MAX ||
	    ev.pad[0] != 0 || ev.pad[1] != 0 || ev.pad[2] != 0 ||
	    (ev.present & ~RTP_PRESENT_ALL) != 0)
		return RTP_E_FIELD;
	/* a drops-only event describes no transfer */
	if ((ev.flags & RTP_F_DROPS_ONLY) && (ev.http_status != 0 ||
	    ev.usage_state != RTP_USAGE_NONE || ev.present != 0 ||
	    ev.nwin != 0))
		return RTP_E_FIELD;
	if (!wins_ok(&ev))
		return RTP_E_FIELD;
	if (!tokens_ok(ev.input_tokens) || !tokens_ok(ev.output_tokens) ||
	    !tokens_ok(ev.cache_creation_input_tokens) ||
	    !tokens_ok(ev.cache_read_input_tokens))
		return RTP_E_FIELD;
	if (ev.usage_state != RTP_USAGE_OK &&
	    (ev.input_tokens | ev.output_tokens |
	    ev.cache_creation_input_tokens | ev.cache_read_input_tokens) != 0)
		return RTP_E_FIELD;
	for (k = 0; k < RTP_D_COUNT; k++) {
		double d = ev.d[k];

		if (!(ev.present & RTP_PRESENT_D(k))) {
			if (d != 0.0)
				return RTP_E_FIELD;
			continue;
		}
		/* fractions and percentages: finite, non-negative, sane */
		if (!isfinite(d) || d < 0.0 || d > 1e6)
			return RTP_E_FIELD;
	}
	for (k = 0; k < RTP_I_COUNT; k++) {
		int64_t v = ev.i[k];

		if (!(ev.present & RTP_PRESENT_I(k))) {
			if (v != 0)
				return RTP_E_FIELD;
			continue;
		}
		/* times are unix seconds before year 10000; limits and
		   remaining counts and retry-after are non-negative */
		if (v < 0 || v > INT64_C(253402300799))
			return RTP_E_FIELD;
	}
	if (!str_ok(ev.model, sizeof(ev.model)) ||
	    !str_ok(ev.host, sizeof(ev.host)) ||
	    !str_ok(ev.path, sizeof(ev.path)) ||
	    !str_ok(ev.prog, sizeof(ev.prog)) ||
	    !str_ok(ev.request_id, sizeof(ev.request_id)) ||
	    !str_ok(ev.overage_reason, sizeof(ev.overage_reason)))
		return RTP_E_STRING;
	if (out != NULL)
		*out = ev;
	return RTP_OK;
}

const char *
rtp_strerror(int err)
{
	static const char *const names[RTP_E_COUNT] = {
		"ok", "size", "magic", "version", "field", "string"
	};

	if (err < 0 || err >= RTP_E_COUNT)
		return "unknown";
	return names[err];
}

uint32_t
rtj_sum(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15), w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * UINT64_C(0x100000001b3);
		h ^= h >> 29;
	}
	h ^= (uint64_t)len;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 32;
	return (uint32_t)h;
}

size_t
rtj_encode(struct rtj_record *rec, const struct rtp_event *ev, uint64_t stamp)
{
	size_t len = RTJ_RECORD_LEN(sizeof(*ev));

	memset(&rec->h, 0, sizeof(rec->h));
	rec->h.magic = RTJ_MAGIC;
	rec->h.version = RTJ_VERSION;
	rec->h.length = (uint16_t)len;
	rec->h.pid = ev->pid;
	rec->h.stamp = stamp;
	rec->h.seq = ev->seq;
	rec->h.payload = (uint16_t)sizeof(*ev);
	memcpy(&rec->ev, ev, sizeof(*ev));
	memset(rec->pad, 0, sizeof(rec->pad));
	rec->h.sum = rtj_sum(rec, len);
	return len;
}

int
rtj_frame(const void *buf, size_t avail, struct rtj_hdr *h, size_t *len)
{
	union {
		struct rtj_hdr h;
		uint64_t w[RTJ_RECORD_MAX / 8];
	} u;
	uint32_t sum;

	if (avail < sizeof(u.h)) {
		/* a prefix that cannot become a record is garbage now */
		if (avail >= 4 && memcmp(buf, &(uint32_t){ RTJ_MAGIC }, 4) != 0)
			return RTJ_BAD;
		return RTJ_SHORT;
	}
	memcpy(&u.h, buf, sizeof(u.h));
	if (u.h.magic != RTJ_MAGIC || u.h.version != RTJ_VERSION ||
	    u.h.length < sizeof(u.h) || u.h.length > RTJ_RECORD_MAX ||
	    u.h.length % RTJ_ALIGN != 0 || u.h.flags != 0 ||
	    RTJ_RECORD_LEN(u.h.payload) != u.h.length || u.h.pid <= 0 ||
	    u.h.stamp == 0)
		return RTJ_BAD;
	if (avail < u.h.length)
		return RTJ_SHORT;
	memcpy(u.w, buf, u.h.length);
	sum = u.h.sum;
	u.h.sum = 0;
	if (rtj_sum(u.w, u.h.length) != sum)
		return RTJ_BAD;
	u.h.sum = sum;
	*h = u.h;
	*len = u.h.length;
	return RTJ_OK;
}
