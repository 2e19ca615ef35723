/*
 * The body scanner: reads the model and the token usage out of an Anthropic
 * /v1/messages response body, JSON or SSE, in one pass over the bytes as they
 * arrive, in constant memory (the struct below, nothing allocated), correct
 * for any split of the body into chunks (down to one byte each).
 *
 * It is a skip-oriented streaming tokenizer, not a JSON parser: it follows
 * nesting, strings and escapes only to know which key it is in, and keeps
 * only the few values it needs (top-level "model", "type" and the "usage"
 * object's counts for JSON; for SSE, message_start's message.model and
 * message.usage and the last message_delta's usage, which is cumulative).
 * Text such as "usage" inside a string value is never taken for a key.
 */
#ifndef RATETAP_SCAN_H
#define RATETAP_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define SCAN_MODEL_LEN	64

enum scan_kind {
	SCAN_UNKNOWN = 0,	/* nothing decisive seen yet */
	SCAN_JSON,		/* a single JSON document */
	SCAN_SSE		/* text/event-stream */
};

/* Result of scan_finish().  Token counts are 0 unless usage_ok or
 * partial. */
struct scan_result {
	int kind;		/* enum scan_kind */
	int usage_ok;		/* 1: the usage was read completely (the exact
				   rules are at the top of scan.c) */
	int partial;		/* 1: an SSE stream that ended early (no
				   error event): the counts are
				   message_start's, updated by every
				   complete message_delta (usage_ok is 0) */
	int is_error;		/* 1: the body is an error ({"type":"error"} or
				   an SSE "error" event) */
	char model[SCAN_MODEL_LEN];	/* "" when unknown; raw (escapes not
					   decoded), truncated if longer */
	int64_t input_tokens;
	int64_t output_tokens;
	int64_t cache_creation_input_tokens;
	int64_t cache_read_input_tokens;
};

/*
 * Scanner state: opaque to users, fixed size, no pointers to free.
 * Internal fields are private to shim/scan.c (which checks at compile time
 * that they fit); this is all the memory a transfer's scan needs.
 */
struct scan_state {
	_Alignas(8) unsigned char priv[512];	/* scan.c's state */
};

/* Start scanning a new body. */
void scan_init(struct scan_state *st);

/* Feed the next len bytes of the body (len may be 0).  Never fails: bytes
 * that make the body unreadable only mean usage_ok will be 0. */
void scan_feed(struct scan_state *st, const char *buf, size_t len);

/* The body has ended: fill *res.  The state may then be scan_init()'ed
 * again or dropped. */
void scan_finish(struct scan_state *st, struct scan_result *res);

#endif /* RATETAP_SCAN_H */
