/*
 * Fuzz harness for the body scanner (shim/scan.c).
 *
 * Input: byte 0 chooses the largest piece size, byte 1 seeds the choice of
 * each piece's size, the rest is the body.  The body is scanned whole, in
 * pseudo-random pieces and (when short) one byte at a time; the three
 * results must be identical and well-formed, else abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratetap/proto.h"
#include "../../shim/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Scan body in pieces of 1..maxpiece bytes (maxpiece 0: all at once). */
static void
scan_pieces(const char *body, size_t len, size_t maxpiece, uint32_t seed,
    struct scan_result *res)
{
	struct scan_state st;
	size_t off = 0, n;

	scan_init(&st);
	while (off < len) {
		seed = seed * 1103515245u + 12345u;
		n = maxpiece == 0 ? len : 1 + (seed >> 8) % maxpiece;
		if (n > len - off)
			n = len - off;
		scan_feed(&st, body + off, n);
		off += n;
	}
	scan_feed(&st, body + off, 0);
	scan_finish(&st, res);
}

static void
check_sane(const struct scan_result *r)
{
	if (r->kind < SCAN_UNKNOWN || r->kind > SCAN_SSE)
		abort();
	if ((r->usage_ok != 0 && r->usage_ok != 1) ||
	    (r->partial != 0 && r->partial != 1) ||
	    (r->is_error != 0 && r->is_error != 1) ||
	    (r->usage_ok && r->partial))
		abort();
	if (memchr(r->model, '\0', sizeof(r->model)) == NULL)
		abort();
	if (r->usage_ok && r->kind == SCAN_UNKNOWN)
		abort();
	if (r->input_tokens < 0 || r->input_tokens > RTP_TOKENS_MAX ||
	    r->output_tokens < 0 || r->output_tokens > RTP_TOKENS_MAX ||
	    r->cache_creation_input_tokens < 0 ||
	    r->cache_creation_input_tokens > RTP_TOKENS_MAX ||
	    r->cache_read_input_tokens < 0 ||
	    r->cache_read_input_tokens > RTP_TOKENS_MAX)
		abort();
	/* a stream cut short carries what its message_start announced */
	if (!r->usage_ok && !r->partial && (r->input_tokens || r->output_tokens ||
	    r->cache_creation_input_tokens || r->cache_read_input_tokens))
		abort();
}

static void
check_same(const struct scan_result *a, const struct scan_result *b)
{
	if (a->kind != b->kind || a->usage_ok != b->usage_ok ||
	    a->partial != b->partial ||
	    a->is_error != b->is_error ||
	    memcmp(a->model, b->model, sizeof(a->model)) != 0 ||
	    a->input_tokens != b->input_tokens ||
	    a->output_tokens != b->output_tokens ||
	    a->cache_creation_input_tokens != b->cache_creation_input_tokens ||
	    a->cache_read_input_tokens != b->cache_read_input_tokens)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_result whole, split, bytes;
	const char *body;
	size_t len, maxpiece;

	if (size < 2)
		return 0;
	maxpiece = 1 + (data[0] & 0x3f);
	if (data[0] & 0x40)
		maxpiece *= 61;
	body = (const char *)data + 2;
	len = size - 2;

	scan_pieces(body, len, 0, 0, &whole);
	check_sane(&whole);
	scan_pieces(body, len, maxpiece, data[1], &split);
	check_sane(&split);
	check_same(&whole, &split);
	if (len <= 4096) {
		scan_pieces(body, len, 1, 0, &bytes);
		check_same(&whole, &bytes);
	}
	return 0;
}
