/*
 * The body scanner (see scan.h): model and usage out of a /v1/messages
 * response body, JSON or SSE, in one pass and constant memory.
 *
 * Why this is hand-written rather than cJSON: cJSON parses a whole document
 * held in memory.  Response bodies arrive in pieces of any size and can be
 * hundreds of MiB long (long generations, large tool inputs), and the shim
 * lives inside someone else's process, where it must not buffer a body or
 * allocate per transfer.  A bounded streaming scanner is therefore the
 * justified exception to "no hand-written JSON parser".  It is deliberately
 * not a general parser: it follows only the objects it needs and skips the
 * rest as fast as the bytes allow.
 *
 * Three layers:
 *
 *   detection   the first non-white byte: '{' is JSON; ':' or the start of an
 *               SSE field name is SSE (confirmed when the first field name is
 *               one of event, data, id, retry); anything else is ignored.
 *
 *   SSE framing lines end in "\n", "\r\n" or "\r"; "field: value" with one
 *               optional space; ':' starts a comment; data lines of one event
 *               are joined with "\n"; a blank line dispatches.  Data of an
 *               event we do not need (named by its "event:" line) is skipped
 *               with memchr for the line end, never tokenized.
 *
 *   JSON        one document (the body, or one event's data).  Strict on the
 *               objects it follows (the root, "message", "usage": every key,
 *               colon, comma, literal and count is checked); elsewhere it
 *               tracks only string boundaries and bracket depth, as a
 *               counter, so any nesting depth costs nothing.  Strings it does
 *               not keep are skipped with memchr for '"' and a look back at
 *               the backslashes before it.  Kept strings (keys of followed
 *               objects, "model", "type") are kept raw: escapes are not
 *               decoded, a key containing one never matches, and a model
 *               longer than SCAN_MODEL_LEN - 1 bytes is truncated.
 *
 * Paths taken.  JSON body: top-level "model", "type" and "usage".  SSE data:
 * top-level "type" and "usage" (message_delta), "message"."model" and
 * "message"."usage" (message_start).  Counts are integers in
 * [0, RTP_TOKENS_MAX]; null means absent; anything else makes the usage
 * unreadable.  Every state change happens byte by byte or on a bounded
 * slice of the current piece, so the result never depends on how the body
 * was split.
 *
 * When the usage counts as read (usage_ok):
 *   JSON  the document ended (root closed, only white space after it),
 *         nothing malformed was seen, and the top-level "usage" object had
 *         valid input_tokens and output_tokens (absent cache counts are 0).
 *   SSE   a complete message_start whose message.usage has input_tokens,
 *         then a complete message_delta with output_tokens; each
 *         message_delta replaces the counts it carries (they are
 *         cumulative); no message_start or message_delta was malformed; and
 *         the body did not end inside an event that could be one of them
 *         (an unfinished event already named e.g. message_stop is
 *         harmless).  A stream cut between two events after a
 *         message_delta therefore reports the counts so far.
 *   A stream that ends otherwise after a complete message_start (the
 *   client stopped reading, a timeout, a cut connection), with nothing
 *   malformed and no error event, is partial: message_start's counts, replaced by those of
 *   each complete message_delta, are what was billed so far.
 * The event type is the "event:" line's, else the data's top-level "type".
 */
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ratetap/proto.h"
#include "scan.h"

/* What the scanner has decided the body is. */
enum mode {
	M_DETECT = 0,		/* only white space seen */
	M_JSON,
	M_SSE,
	M_GARBAGE		/* neither: the rest is ignored */
};

/* JSON tokenizer states. */
enum jstate {
	J_START = 0,		/* before the root object */
	J_OBJ_FIRST,		/* after '{' of a followed object */
	J_OBJ_KEY,		/* after ',' of a followed object */
	J_KEY,			/* in a key of a followed object */
	J_COLON,		/* after such a key */
	J_VALUE,		/* after its ':' */
	J_AFTER,		/* after a value in a followed object */
	J_STR_SKIP,		/* in a string not kept */
	J_STR_CAP,		/* in a kept string value ("model", "type") */
	J_NUM,			/* in a number in a followed object */
	J_LIT,			/* in true, false or null */
	J_SKIP,			/* inside a value not followed */
	J_DONE			/* root closed: only white space may follow */
};

/* Objects followed, by path. */
enum ctx {
	C_NONE = 0,
	C_ROOT,
	C_MSG,			/* SSE: root "message" */
	C_USAGE_TOP,		/* root "usage" */
	C_USAGE_MSG		/* SSE: "message"."usage" */
};

/* Keys of followed objects that matter; K_COUNT + U_* for the counts. */
enum key {
	K_OTHER = 0,
	K_MODEL,
	K_TYPE,
	K_USAGE,
	K_MESSAGE,
	K_COUNT
};

/* The usage counts, in struct scan_result order. */
enum ufield {
	U_INPUT = 0,
	U_OUTPUT,
	U_CACHE_CREATION,
	U_CACHE_READ,
	U_NFIELDS
};

#define U_BIT(f)	(1u << (f))

/* A root "type" or an SSE event name, as far as the scanner cares. */
enum dtype {
	T_NONE = 0,		/* absent (or an empty "event:" line) */
	T_OTHER,		/* anything not below */
	T_ERROR,
	T_START,		/* message_start */
	T_DELTA			/* message_delta */
};

/* What a J_STR_CAP string is kept as. */
enum cap {
	CAP_KEY = 0,
	CAP_MODEL,
	CAP_TYPE
};

/* SSE line states. */
enum lstate {
	LS_START = 0,		/* at the start of a line */
	LS_FIELD,		/* in a field name */
	LS_SPACE,		/* after "field:", before the optional space */
	LS_VALUE,		/* in the value of an event or a read data line */
	LS_SKIP			/* in a line whose rest is not needed */
};

/* SSE fields. */
enum field {
	F_NONE = 0,
	F_COMMENT,
	F_EVENT,
	F_DATA,
	F_ID,
	F_RETRY,
	F_OTHER
};

/* One "usage" object as read. */
struct usage {
	int64_t v[U_NFIELDS];	/* values; 0 when absent */
	uint8_t present;	/* U_BIT()s of fields with a valid count */
	uint8_t invalid;	/* U_BIT()s of fields with an unusable value */
	uint8_t seen;		/* the object was opened */
};

/* The JSON tokenizer: one document. */
struct jt {
	uint64_t depth;		/* nesting at this point; root object = 1 */
	uint64_t num;		/* the count being read */
	struct usage u[2];	/* [0] root "usage", [1] "message"."usage" */
	uint8_t sse;		/* the document is an SSE event's data */
	uint8_t state;		/* enum jstate */
	uint8_t after_str;	/* state after the J_STR_SKIP string */
	uint8_t bad;		/* malformed: stop */
	uint8_t idepth;		/* depth of the innermost followed object */
	uint8_t ctx[4];		/* enum ctx of the followed object at depth
				   1..3 (root, message, usage) */
	uint8_t key;		/* enum key whose value comes next */
	uint8_t skip_open;	/* '{' or '[' that opened the skipped value */
	uint8_t bs;		/* J_STR_SKIP: the previous piece ended in an
				   odd run of backslashes */
	uint8_t esc;		/* J_STR_CAP/J_KEY: previous byte escapes */
	uint8_t cap;		/* enum cap */
	uint8_t caplen;		/* bytes in capbuf */
	uint8_t ndigits;	/* digits read, up to 2 */
	uint8_t numzero;	/* the first digit was '0' */
	uint8_t numbad;		/* the count is not a valid count */
	uint8_t numfield;	/* U_* + 1 of the count being read, or 0 */
	uint8_t lit;		/* index into lits[] */
	uint8_t litpos;		/* bytes of it matched */
	uint8_t type;		/* enum dtype of the root "type" */
	uint8_t modellen;	/* bytes in model */
	char capbuf[32];	/* key or "type" value being read */
	char model[SCAN_MODEL_LEN]; /* "model" value, raw, not terminated */
};

/* The SSE layer. */
struct sse {
	int64_t v[U_NFIELDS];	/* usage: message_start's, overridden by each
				   message_delta's fields */
	uint8_t ls;		/* enum lstate */
	uint8_t field;		/* enum field of the current line */
	uint8_t fnlen;		/* bytes in fname */
	uint8_t after_cr;	/* the last line ended in '\r': skip one '\n' */
	uint8_t checked;	/* first field name seen: this is SSE */
	uint8_t open;		/* a field line was seen since the last
				   dispatch */
	uint8_t ev;		/* enum dtype named by the "event:" line */
	uint8_t evlen;		/* bytes in evname */
	uint8_t evover;		/* the event name is longer than evname */
	uint8_t ndata;		/* the event has data lines */
	uint8_t tok;		/* some were given to the tokenizer */
	uint8_t data_skipped;	/* some were skipped */
	uint8_t start_ok;	/* a complete message_start with usage */
	uint8_t delta_ok;	/* then a message_delta with output_tokens */
	uint8_t bad;		/* a needed event was malformed */
	uint8_t is_error;	/* an error event was seen */
	uint8_t modellen;
	char fname[6];		/* field name; longer ones are unknown */
	char evname[16];	/* event name; longer ones are unneeded */
	char model[SCAN_MODEL_LEN]; /* message_start's model, raw */
};

/* The whole state, kept inside struct scan_state. */
struct __attribute__((may_alias)) scanner {
	uint8_t mode;		/* enum mode */
	struct jt jt;
	struct sse sse;
};

_Static_assert(sizeof(struct scanner) <= sizeof(struct scan_state),
    "struct scan_state is too small for the scanner");
_Static_assert(_Alignof(struct scanner) <= _Alignof(struct scan_state),
    "struct scan_state is not aligned enough for the scanner");

static const char *const lits[] = { "true", "false", "null" };

#define KEY(s)	{ s, sizeof(s) - 1 }
static const struct {
	const char *name;
	size_t len;
} count_keys[U_NFIELDS] = {
	KEY("input_tokens"), KEY("output_tokens"),
	KEY("cache_creation_input_tokens"), KEY("cache_read_input_tokens")
};
#undef KEY

/*
 * Bytes that matter inside a skipped value: 1 a string, 2 an opening and 3
 * a closing bracket.
 */
static const uint8_t skip_class[256] = {
	['"'] = 1, ['{'] = 2, ['['] = 2, ['}'] = 3, [']'] = 3
};

/*
 * The first byte in [p, end) that ends a run of plain string bytes: '"',
 * a backslash, and with ctrl a control byte (< 0x20, invalid in a JSON
 * string); end when there is none.  Sixteen bytes a step where SSE2 is
 * there (every x86-64), never reading outside [p, end): the strings of a
 * small message (keys, ids, short texts) cost about a step each.
 */
static inline const unsigned char *
str_stop(const unsigned char *p, const unsigned char *end, int ctrl)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i bslash = _mm_set1_epi8('\\');
	const __m128i c1f = _mm_set1_epi8(0x1f);
	__m128i v, m;
	int mask;

	while (end - p >= 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)p);
		m = _mm_or_si128(_mm_cmpeq_epi8(v, quote),
		    _mm_cmpeq_epi8(v, bslash));
		if (ctrl)	/* v <= 0x1f, unsigned */
			m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_min_epu8(v,
			    c1f), v));
		if ((mask = _mm_movemask_epi8(m)) != 0)
			return p + __builtin_ctz((unsigned)mask);
		p += 16;
	}
#endif
	while (p < end && *p != '"' && *p != '\\' && !(ctrl && *p < 0x20))
		p++;
	return p;
}

static struct scanner *
scanner(struct scan_state *st)
{
	return (struct scanner *)(void *)st->priv;
}

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static int
eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static int
classify_type(const char *s, size_t len)
{
	if (len == 0)
		return T_NONE;
	if (eq(s, len, "message_start"))
		return T_START;
	if (eq(s, len, "message_delta"))
		return T_DELTA;
	if (eq(s, len, "error"))
		return T_ERROR;
	return T_OTHER;
}

/* ---- JSON tokenizer ---------------------------------------------------- */

static void
jt_reset(struct jt *t, int sse)
{
	memset(t, 0, sizeof(*t));
	t->sse = sse;
}

static void
usage_reset(struct usage *u, int seen)
{
	memset(u, 0, sizeof(*u));
	u->seen = seen;
}

/* The usage record a count key of the current object belongs to. */
static struct usage *
jt_usage(struct jt *t)
{
	return &t->u[t->ctx[t->idepth] == C_USAGE_MSG];
}

/* The key just read, in the followed object at idepth. */
static int
jt_classify_key(const struct jt *t)
{
	const char *s = t->capbuf;
	size_t len = t->caplen;
	int f;

	switch (t->ctx[t->idepth]) {
	case C_ROOT:
		if (eq(s, len, "type"))
			return K_TYPE;
		if (eq(s, len, "usage"))
			return K_USAGE;
		if (!t->sse && eq(s, len, "model"))
			return K_MODEL;
		if (t->sse && eq(s, len, "message"))
			return K_MESSAGE;
		break;
	case C_MSG:
		if (eq(s, len, "model"))
			return K_MODEL;
		if (eq(s, len, "usage"))
			return K_USAGE;
		break;
	case C_USAGE_TOP:
	case C_USAGE_MSG:
		for (f = 0; f < U_NFIELDS; f++)
			if (len == count_keys[f].len &&
			    memcmp(s, count_keys[f].name, len) == 0)
				return K_COUNT + f;
		break;
	default:
		break;
	}
	return K_OTHER;
}

/* The value of t->key is not of the kind that key needs. */
static void
jt_unexpected(struct jt *t)
{
	struct usage *u;
	int f;

	switch (t->key) {
	case K_MODEL:
		t->modellen = 0;
		break;
	case K_TYPE:
		t->type = T_NONE;
		break;
	case K_USAGE:
		usage_reset(&t->u[t->ctx[t->idepth] == C_MSG], 0);
		break;
	case K_OTHER:
	case K_MESSAGE:
		break;
	default:
		u = jt_usage(t);
		f = t->key - K_COUNT;
		u->present &= ~U_BIT(f);
		u->invalid |= U_BIT(f);
		u->v[f] = 0;
		break;
	}
}

static void
jt_open(struct jt *t, int ctx)
{
	t->depth++;
	t->idepth++;
	t->ctx[t->idepth] = ctx;
	t->state = J_OBJ_FIRST;
}

static void
jt_close(struct jt *t)
{
	t->depth--;
	t->idepth--;
	t->state = t->depth == 0 ? J_DONE : J_AFTER;
}

/* Enter a value that is not followed (its opening byte is consumed). */
static void
jt_skip_value(struct jt *t, unsigned char open)
{
	t->depth++;
	t->skip_open = open;
	t->state = J_SKIP;
}

static void
jt_skip_string(struct jt *t, int after, int odd_backslash)
{
	t->state = J_STR_SKIP;
	t->after_str = after;
	t->bs = odd_backslash;
}

/*
 * In a skipped string: return the byte after its closing quote (and set the
 * state to after_str), or end when the piece ends inside it.  Short strings
 * are walked byte by byte; long ones with memchr for '"' and a look back
 * at the backslashes before it.  t->bs is the same fact in both: the byte
 * before p is a backslash that escapes the next one.
 */
static inline const unsigned char *
jt_str_skip(struct jt *t, const unsigned char *p, const unsigned char *end)
{
	const unsigned char *lim, *q, *r;
	size_t n;

	if (t->bs) {			/* the escaped byte */
		if (p == end)
			return p;
		p++;
		t->bs = 0;
	}
	lim = end - p > 64 ? p + 64 : end;
	while (p < lim) {
		q = str_stop(p, lim, 0);
		if (q == lim) {
			p = lim;
			break;
		}
		if (*q == '"') {
			t->state = t->after_str;
			return q + 1;
		}
		if (q + 1 == end) {	/* a backslash ends the piece */
			t->bs = 1;
			return end;
		}
		p = q + 2;
	}
	while (p < end) {
		q = memchr(p, '"', (size_t)(end - p));
		r = q != NULL ? q : end;
		for (n = 0; r > p && r[-1] == '\\'; r--)
			n++;
		if (r == p)
			n += t->bs;
		if (q == NULL) {
			t->bs = n & 1;
			return end;
		}
		t->bs = 0;
		if ((n & 1) == 0) {
			t->state = t->after_str;
			return q + 1;
		}
		p = q + 1;
	}
	return p;
}

/*
 * Inside a skipped value: brackets counted by depth, strings walked inline
 * for their first bytes and handed to jt_str_skip() when longer.
 */
static const unsigned char *
jt_skip(struct jt *t, const unsigned char *p, const unsigned char *end)
{
	const unsigned char *lim;
	uint64_t depth = t->depth;
	unsigned char c;

	for (;;) {
		while (p < end && skip_class[*p] == 0)
			p++;
		if (p == end)
			break;
		c = *p++;
		if (c == '"') {
			lim = end - p > 32 ? p + 32 : end;
			for (;;) {
				p = str_stop(p, lim, 0);
				if (p < lim && *p == '"') {
					p++;
					break;
				}
				t->depth = depth;
				if (p < lim) {
					/* a backslash and what it escapes */
					if (p + 1 < end) {
						p += 2;
						continue;
					}
					jt_skip_string(t, J_SKIP, 1);
					return end;
				}
				/* a long string, or the piece ends in it */
				jt_skip_string(t, J_SKIP, 0);
				p = jt_str_skip(t, p, end);
				if (t->state != J_SKIP)
					return p;
				break;
			}
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (--depth == t->idepth) {
			if ((c == '}') != (t->skip_open == '{'))
				t->bad = 1;
			t->depth = depth;
			t->state = J_AFTER;
			return p;
		}
	}
	t->depth = depth;
	return p;
}

/* A kept string has ended. */
static void
jt_cap_done(struct jt *t)
{
	switch (t->cap) {
	case CAP_KEY:
		t->key = jt_classify_key(t);
		t->state = J_COLON;
		break;
	case CAP_TYPE:
		t->type = classify_type(t->capbuf, t->caplen);
		t->state = J_AFTER;
		break;
	default:
		t->state = J_AFTER;
		break;
	}
}

/*
 * In a kept string (a key, "model" or "type"): return the byte after it.
 * Keys and types that cannot match (too long, escaped) and the part of a
 * model beyond what is kept are skipped from there on with jt_str_skip().
 */
static const unsigned char *
jt_cap(struct jt *t, const unsigned char *p, const unsigned char *end)
{
	const unsigned char *q;
	char *buf = t->capbuf;
	unsigned char c;
	size_t len, n;

	if (t->cap == CAP_MODEL) {
		while (p < end) {
			c = *p++;
			if (c < 0x20) {
				t->bad = 1;
				break;
			}
			if (!t->esc && c == '"') {
				jt_cap_done(t);
				break;
			}
			t->model[t->modellen++] = (char)c;
			t->esc = !t->esc && c == '\\';
			if (t->modellen == SCAN_MODEL_LEN - 1) {
				jt_skip_string(t, J_AFTER, t->esc);
				break;
			}
		}
		return p;
	}
	len = t->caplen;
	while (p < end) {
		q = str_stop(p, end, 1);
		n = (size_t)(q - p);
		if (n > sizeof(t->capbuf) - len) {
			/* too long to match any name: skip the rest */
			p += sizeof(t->capbuf) - len + 1;
			c = 0;
			goto other;
		}
		memcpy(buf + len, p, n);
		len += n;
		if ((p = q) == end)
			break;
		c = *p++;
		if (c == '"') {
			t->caplen = len;
			jt_cap_done(t);
			return p;
		}
		if (c < 0x20) {
			t->bad = 1;
			return p;
		}
		/* an escape: the name cannot match any */
		goto other;
	}
	t->caplen = len;
	return p;
other:
	if (t->cap == CAP_KEY) {
		t->key = K_OTHER;
		jt_skip_string(t, J_COLON, c == '\\');
	} else {
		t->type = T_OTHER;
		jt_skip_string(t, J_AFTER, c == '\\');
	}
	return p;
}

/* A count (or any number in a followed object) has ended. */
static void
jt_num_done(struct jt *t)
{
	struct usage *u;
	int f;

	if (t->numfield != 0) {
		u = jt_usage(t);
		f = t->numfield - 1;
		if (t->numbad || t->ndigits == 0) {
			u->present &= ~U_BIT(f);
			u->invalid |= U_BIT(f);
			u->v[f] = 0;
		} else {
			u->present |= U_BIT(f);
			u->invalid &= ~U_BIT(f);
			u->v[f] = (int64_t)t->num;
		}
	}
	t->state = J_AFTER;
}

/* The first byte c of a value in a followed object (not consumed yet for
 * numbers and literals).  Returns the number of bytes consumed. */
static int
jt_value(struct jt *t, unsigned char c)
{
	int ctx = t->ctx[t->idepth];
	int f;

	switch (c) {
	case '{':
		if (t->key == K_USAGE) {
			usage_reset(&t->u[ctx == C_MSG], 1);
			jt_open(t, ctx == C_MSG ? C_USAGE_MSG : C_USAGE_TOP);
		} else if (t->key == K_MESSAGE) {
			jt_open(t, C_MSG);
		} else {
			jt_unexpected(t);
			jt_skip_value(t, c);
		}
		return 1;
	case '[':
		jt_unexpected(t);
		jt_skip_value(t, c);
		return 1;
	case '"':
		t->esc = 0;
		if (t->key == K_MODEL) {
			t->modellen = 0;
			t->cap = CAP_MODEL;
			t->state = J_STR_CAP;
		} else if (t->key == K_TYPE) {
			t->caplen = 0;
			t->cap = CAP_TYPE;
			t->state = J_STR_CAP;
		} else {
			jt_unexpected(t);
			jt_skip_string(t, J_AFTER, 0);
		}
		return 1;
	case 't':
	case 'f':
	case 'n':
		t->lit = c == 't' ? 0 : c == 'f' ? 1 : 2;
		t->litpos = 0;
		t->state = J_LIT;
		if (c == 'n' && t->key >= K_COUNT) {
			/* "count": null is an absent count */
			f = t->key - K_COUNT;
			jt_usage(t)->present &= ~U_BIT(f);
			jt_usage(t)->invalid &= ~U_BIT(f);
			jt_usage(t)->v[f] = 0;
		} else {
			jt_unexpected(t);
		}
		return 0;
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			if (t->key >= K_COUNT) {
				t->numfield = t->key - K_COUNT + 1;
			} else {
				t->numfield = 0;
				jt_unexpected(t);
			}
			t->num = 0;
			t->ndigits = 0;
			t->numzero = 0;
			t->numbad = 0;
			t->state = J_NUM;
			return 0;
		}
		t->bad = 1;
		return 0;
	}
}

/* Feed [p, end) of the document to the tokenizer. */
static void
jt_feed(struct jt *t, const unsigned char *p, const unsigned char *end)
{
	unsigned char c;

	while (p < end && !t->bad) {
		switch (t->state) {
		case J_SKIP:
			p = jt_skip(t, p, end);
			continue;
		case J_STR_SKIP:
			p = jt_str_skip(t, p, end);
			continue;
		case J_KEY:
		case J_STR_CAP:
			p = jt_cap(t, p, end);
			continue;
		case J_NUM:
			c = *p;
			if (c >= '0' && c <= '9') {
				if (t->ndigits == 1 && t->numzero)
					t->numbad = 1;	/* leading zero */
				if (t->ndigits == 0)
					t->numzero = c == '0';
				if (t->ndigits < 2)
					t->ndigits++;
				if (!t->numbad) {
					t->num = t->num * 10 + (c - '0');
					if (t->num > (uint64_t)RTP_TOKENS_MAX)
						t->numbad = 1;
				}
				p++;
			} else if (c == '-' || c == '+' || c == '.' ||
			    c == 'e' || c == 'E') {
				t->numbad = 1;	/* negative or not integral */
				p++;
			} else {
				jt_num_done(t);
			}
			continue;
		case J_LIT:
			if (*p++ != (unsigned char)lits[t->lit][t->litpos++])
				t->bad = 1;
			else if (lits[t->lit][t->litpos] == '\0')
				t->state = J_AFTER;
			continue;
		default:
			break;
		}

		/* States between tokens. */
		c = *p;
		if (is_ws(c)) {
			p++;
			continue;
		}
		switch (t->state) {
		case J_START:
			if (c != '{') {
				t->bad = 1;
				break;
			}
			p++;
			jt_open(t, C_ROOT);
			break;
		case J_OBJ_FIRST:
		case J_OBJ_KEY:
			if (c == '"') {
				p++;
				t->caplen = 0;
				t->esc = 0;
				t->cap = CAP_KEY;
				t->state = J_KEY;
			} else if (c == '}' && t->state == J_OBJ_FIRST) {
				p++;
				jt_close(t);
			} else {
				t->bad = 1;
			}
			break;
		case J_COLON:
			if (c != ':') {
				t->bad = 1;
				break;
			}
			p++;
			t->state = J_VALUE;
			break;
		case J_VALUE:
			p += jt_value(t, c);
			break;
		case J_AFTER:
			if (c == ',') {
				p++;
				t->state = J_OBJ_KEY;
			} else if (c == '}') {
				p++;
				jt_close(t);
			} else {
				t->bad = 1;
			}
			break;
		default:		/* J_DONE: only white space may follow */
			t->bad = 1;
			break;
		}
	}
}

static int
jt_complete(const struct jt *t)
{
	return t->state == J_DONE && !t->bad;
}

/* ---- SSE --------------------------------------------------------------- */

/*
 * The end of the line at p: the first '\n' or '\r' at or after p, or end.
 * *nl and *cr cache the last search of each byte over this piece.
 */
static inline const unsigned char *
find_eol(const unsigned char *p, const unsigned char *end,
    const unsigned char **nl, const unsigned char **cr)
{
	const unsigned char *q;

	if (*nl == NULL || *nl < p) {
		q = memchr(p, '\n', (size_t)(end - p));
		*nl = q != NULL ? q : end;
	}
	if (*cr == NULL || *cr < p) {
		q = memchr(p, '\r', (size_t)(end - p));
		*cr = q != NULL ? q : end;
	}
	return *nl < *cr ? *nl : *cr;
}

static void
sse_message_start(struct sse *e, const struct jt *t)
{
	const struct usage *u = &t->u[1];

	e->start_ok = 0;
	e->delta_ok = 0;
	memcpy(e->model, t->model, t->modellen);
	e->modellen = t->modellen;
	if (u->invalid) {
		e->bad = 1;
		return;
	}
	if (!u->seen || !(u->present & U_BIT(U_INPUT)))
		return;
	memcpy(e->v, u->v, sizeof(e->v));
	e->start_ok = 1;
}

static void
sse_message_delta(struct sse *e, const struct jt *t)
{
	const struct usage *u = &t->u[0];
	int f;

	if (u->invalid) {
		e->bad = 1;
		return;
	}
	if (!u->seen)
		return;
	/* counts are cumulative: each one carried replaces the last */
	for (f = 0; f < U_NFIELDS; f++)
		if (u->present & U_BIT(f))
			e->v[f] = u->v[f];
	if ((u->present & U_BIT(U_OUTPUT)) && e->start_ok)
		e->delta_ok = 1;
}

/* A blank line: act on the event, start the next one. */
static void
sse_dispatch(struct scanner *s)
{
	struct sse *e = &s->sse;
	struct jt *t = &s->jt;
	int name;

	if (e->ndata && e->data_skipped) {
		/* data skipped for its "event:" name, then renamed */
		if (e->ev != T_OTHER)
			e->bad = 1;
	} else if (e->ndata) {
		name = e->ev != T_NONE ? e->ev : t->type;
		if (name == T_ERROR) {
			e->is_error = 1;
		} else if (name == T_START || name == T_DELTA) {
			if (!jt_complete(t))
				e->bad = 1;
			else if (name == T_START)
				sse_message_start(e, t);
			else
				sse_message_delta(e, t);
		}
	}
	e->ev = T_NONE;
	e->ndata = 0;
	e->tok = 0;
	e->data_skipped = 0;
	e->open = 0;
}

/* A field line starts (its name is read): set up for its value. */
static void
sse_begin(struct scanner *s, int field)
{
	struct sse *e = &s->sse;

	e->field = field;
	if (!e->checked) {
		if (e->field == F_OTHER) {
			s->mode = M_GARBAGE;
			return;
		}
		e->checked = 1;
	}

	switch (e->field) {
	case F_EVENT:
		e->evlen = 0;
		e->evover = 0;
		e->ls = LS_SPACE;
		break;
	case F_DATA:
		e->ndata = 1;
		if (e->ev == T_OTHER) {
			e->data_skipped = 1;
			e->ls = LS_SKIP;
			break;
		}
		if (e->tok) {
			jt_feed(&s->jt, (const unsigned char *)"\n",
			    (const unsigned char *)"\n" + 1);
		} else {
			jt_reset(&s->jt, 1);
			e->tok = 1;
		}
		e->ls = LS_SPACE;
		break;
	default:
		e->ls = LS_SKIP;
		break;
	}
}

/* The field name in fname is complete. */
static void
sse_field(struct scanner *s)
{
	const char *n = s->sse.fname;
	size_t len = s->sse.fnlen;

	if (eq(n, len, "event"))
		sse_begin(s, F_EVENT);
	else if (eq(n, len, "data"))
		sse_begin(s, F_DATA);
	else if (eq(n, len, "id"))
		sse_begin(s, F_ID);
	else if (eq(n, len, "retry"))
		sse_begin(s, F_RETRY);
	else
		sse_begin(s, F_OTHER);
}

/* The value of an "event:" line: append [p, p + n) to the name. */
static void
sse_event_value(struct sse *e, const unsigned char *p, size_t n)
{
	if (n > sizeof(e->evname) - e->evlen) {
		n = sizeof(e->evname) - e->evlen;
		e->evover = 1;
	}
	memcpy(e->evname + e->evlen, p, n);
	e->evlen += n;
}

static void
sse_end_line(struct sse *e)
{
	if (e->field == F_EVENT)
		e->ev = e->evover ? T_OTHER : classify_type(e->evname,
		    e->evlen);
	e->field = F_NONE;
	e->ls = LS_START;
}

/* Consume the line end at p. */
static const unsigned char *
sse_eat_eol(struct sse *e, const unsigned char *p)
{
	e->after_cr = *p == '\r';
	return p + 1;
}

/*
 * Fast path for a whole "event:" or "data:" line [p, eol) within the piece,
 * with the same effects as the byte by byte path.  Returns 1 if it handled
 * the line (its end is still to be consumed), 0 to leave it to that path.
 */
static int
sse_whole_line(struct scanner *s, const unsigned char *p,
    const unsigned char *eol)
{
	struct sse *e = &s->sse;
	size_t len = (size_t)(eol - p);
	int field;

	if (len >= 6 && memcmp(p, "event:", 6) == 0) {
		field = F_EVENT;
		p += 6;
	} else if (len >= 5 && memcmp(p, "data:", 5) == 0) {
		field = F_DATA;
		p += 5;
	} else {
		return 0;
	}
	sse_begin(s, field);
	if (e->ls == LS_SPACE) {
		if (p < eol && *p == ' ')
			p++;
		if (field == F_DATA)
			jt_feed(&s->jt, p, eol);
		else
			sse_event_value(e, p, (size_t)(eol - p));
	}
	sse_end_line(e);
	return 1;
}

static void
sse_feed(struct scanner *s, const unsigned char *p, const unsigned char *end)
{
	struct sse *e = &s->sse;
	const unsigned char *nl = NULL, *cr = NULL, *eol;
	unsigned char c;

	while (p < end && s->mode == M_SSE) {
		switch (e->ls) {
		case LS_START:
			c = *p;
			if (e->after_cr) {
				e->after_cr = 0;
				if (c == '\n') {
					p++;
					continue;
				}
			}
			if (c == '\n' || c == '\r') {
				sse_dispatch(s);
				p = sse_eat_eol(e, p);
				continue;
			}
			if (c == ':') {
				e->checked = 1;
				e->field = F_COMMENT;
				e->ls = LS_SKIP;
				p++;
				continue;
			}
			e->open = 1;
			e->fnlen = 0;
			e->ls = LS_FIELD;
			eol = find_eol(p, end, &nl, &cr);
			if (eol < end && sse_whole_line(s, p, eol))
				p = sse_eat_eol(e, eol);
			continue;
		case LS_FIELD:
			eol = find_eol(p, end, &nl, &cr);
			while (p < eol && *p != ':' &&
			    e->fnlen < sizeof(e->fname))
				e->fname[e->fnlen++] = (char)*p++;
			if (p < eol && *p != ':') {
				/* too long for a field we know */
				e->fnlen = 0;
				sse_field(s);
				e->ls = LS_SKIP;
				continue;
			}
			if (p < eol) {
				p++;	/* ':' */
				sse_field(s);
				continue;
			}
			if (p == end)
				return;
			/* a line without ':' is a field with an empty value */
			sse_field(s);
			if (s->mode != M_SSE)
				return;
			sse_end_line(e);
			p = sse_eat_eol(e, p);
			continue;
		case LS_SPACE:
			if (*p == ' ')
				p++;
			e->ls = LS_VALUE;
			continue;
		case LS_VALUE:
			eol = find_eol(p, end, &nl, &cr);
			if (e->field == F_DATA)
				jt_feed(&s->jt, p, eol);
			else
				sse_event_value(e, p, (size_t)(eol - p));
			p = eol;
			if (p == end)
				return;
			sse_end_line(e);
			p = sse_eat_eol(e, p);
			continue;
		default:	/* LS_SKIP */
			p = find_eol(p, end, &nl, &cr);
			if (p == end)
				return;
			sse_end_line(e);
			p = sse_eat_eol(e, p);
			continue;
		}
	}
}

/*
 * At the end of the body: could the unfinished event (one not dispatched by
 * a blank line) have carried usage?  Only an event already named as one we
 * do not need, and not in the middle of a line that could rename it, is
 * harmless.
 */
static int
sse_pending_needed(const struct sse *e)
{
	if (!e->open)
		return 0;
	if (e->ev != T_OTHER)
		return 1;
	if (e->ls == LS_FIELD)
		return e->fnlen <= 5 && memcmp(e->fname, "event", e->fnlen) == 0;
	return e->field == F_EVENT;
}

/* ---- API ------------------------------------------------------------------ */

void
scan_init(struct scan_state *st)
{
	memset(st, 0, sizeof(*st));
}

void
scan_feed(struct scan_state *st, const char *buf, size_t len)
{
	struct scanner *s = scanner(st);
	const unsigned char *p = (const unsigned char *)buf;
	const unsigned char *end;

	if (buf == NULL || len == 0)
		return;
	end = p + len;
	if (s->mode == M_DETECT) {
		while (p < end && is_ws(*p))
			p++;
		if (p == end)
			return;
		switch (*p) {
		case '{':
			s->mode = M_JSON;
			jt_reset(&s->jt, 0);
			break;
		case ':':
		case 'e':
		case 'd':
		case 'i':
		case 'r':
			s->mode = M_SSE;
			break;
		default:
			s->mode = M_GARBAGE;
			break;
		}
	}
	if (s->mode == M_JSON)
		jt_feed(&s->jt, p, end);
	else if (s->mode == M_SSE)
		sse_feed(s, p, end);
}

void
scan_finish(struct scan_state *st, struct scan_result *res)
{
	struct scanner *s = scanner(st);
	const struct jt *t = &s->jt;
	const struct sse *e = &s->sse;
	const struct usage *u = &t->u[0];
	const int64_t *v = NULL;
	const unsigned need = U_BIT(U_INPUT) | U_BIT(U_OUTPUT);

	memset(res, 0, sizeof(*res));
	if (s->mode == M_JSON) {
		res->kind = SCAN_JSON;
		res->is_error = t->type == T_ERROR;
		memcpy(res->model, t->model, t->modellen);
		if (jt_complete(t) && u->seen && !u->invalid &&
		    (u->present & need) == need)
			v = u->v;
	} else if (s->mode == M_SSE && e->checked) {
		res->kind = SCAN_SSE;
		res->is_error = e->is_error;
		memcpy(res->model, e->model, e->modellen);
		if (e->start_ok && e->delta_ok && !e->bad &&
		    !sse_pending_needed(e))
			v = e->v;
		else if (e->start_ok && !e->bad && !e->is_error) {
			/* ended early: what was billed so far */
			v = e->v;
			res->partial = 1;
		}
	}
	if (v != NULL) {
		res->usage_ok = !res->partial;
		res->input_tokens = v[U_INPUT];
		res->output_tokens = v[U_OUTPUT];
		res->cache_creation_input_tokens = v[U_CACHE_CREATION];
		res->cache_read_input_tokens = v[U_CACHE_READ];
	}
}
