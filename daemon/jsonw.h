/*
 * A JSON writer (daemon/jsonw.c): documents written straight into a
 * growable buffer, member after member, without building a tree.  The text
 * is laid out exactly as cJSON_Print() lays out the same document (tabs,
 * "key":<tab>value, numbers as cJSON prints them), so that a reader cannot
 * tell which of the two wrote it.
 *
 * Strings are escaped as RFC 8259 asks: '"', '\\' and the control
 * characters (\b \f \n \r \t, else \u00XX); valid UTF-8 passes as it is;
 * every byte that is not part of a valid UTF-8 sequence (stray
 * continuation bytes, overlong forms, surrogates, beyond U+10FFFF, cut
 * sequences) becomes \ufffd, so that the document is always valid JSON.
 *
 * Errors stick: after one failed allocation every call does nothing and
 * jw_finish() reports it, so that callers check once.
 */
#ifndef RATETAP_JSONW_H
#define RATETAP_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ratetap/buf.h"

#define JW_DEPTH_MAX	32	/* objects open at once */

struct jw {
	struct rt_buf b;	/* the text so far */
	int depth;		/* objects open */
	unsigned char has[JW_DEPTH_MAX + 1]; /* object at depth k has
				   members */
	int err;		/* an allocation or nesting failed */
};

/* Start a document in w (zeroed here); hint: bytes to allocate at once. */
void jw_init(struct jw *w, size_t hint);

/*
 * Members of the object open at the top.  key NULL writes a bare value:
 * the document's root (the only place one is allowed).  jw_str() and
 * jw_open() with s NULL write null.
 */
void jw_open(struct jw *w, const char *key);
void jw_close(struct jw *w);
void jw_int(struct jw *w, const char *key, int64_t v);
void jw_num(struct jw *w, const char *key, double v);
void jw_str(struct jw *w, const char *key, const char *s);
void jw_strn(struct jw *w, const char *key, const char *s, size_t n);
void jw_bool(struct jw *w, const char *key, int v);
void jw_null(struct jw *w, const char *key);
/* RFC 3339 UTC of t, or null when t <= 0 */
void jw_time(struct jw *w, const char *key, int64_t t);

/* item (any cJSON value), printed by cJSON at this depth. */
void jw_cjson(struct jw *w, const char *key, const cJSON *item);

/* Every member of the cJSON object obj, as members of the open object. */
void jw_cjson_members(struct jw *w, const cJSON *obj);

/*
 * End the document: 0 with the NUL-terminated text in *out (*len bytes,
 * the caller frees it), or -1 (ENOMEM, or objects left open) with the
 * buffer freed.
 */
int jw_finish(struct jw *w, char **out, size_t *len);

/* Throw the document away. */
void jw_discard(struct jw *w);

#endif /* RATETAP_JSONW_H */
