/*
 * Fuzz harness for the TLS tap's protocol readers (shim/h1.c, shim/h2.c)
 * with the real record.c, scanner, header tee and decoders (zlib, brotli,
 * zstd and libnghttp2's HPACK inflater as the shim loads them).  What a
 * tapped server sends is untrusted: no input may crash the reader, read
 * out of bounds or make it report a malformed event.
 *
 * Input: byte 0 picks the reader (bit 0: h2) and how the connection ends
 * (bit 1: clean, bit 2: dropped instead of ended); then records of a
 * header byte (bit 7: the application's writes, else its reads; bits 0-6:
 * the length, 0 meaning 128) and that many bytes, the last one cut short
 * by the input's end.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/shim.h"
#include "../../shim/tlstap.h"
#include "../../shim/resolve_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__thread int shim_busy;

const char *
cfg_prog(void)
{
	return "fuzz_tlstap";
}

const char *
cfg_sock(void)
{
	return "/nonexistent/ingest.sock";
}

void *
dlhook_real_dlopen(const char *file, int mode)
{
	return dlopen(file, mode);
}

#define TERMINATED(a)	(memchr((a), '\0', sizeof(a)) != NULL)

/* The event the daemon would receive: its strings terminated, its
 * fields in range. */
int
send_event(const char *path, struct rtp_event *ev)
{
	(void)path;
	if (!TERMINATED(ev->model) || !TERMINATED(ev->host) ||
	    !TERMINATED(ev->path) || !TERMINATED(ev->prog) ||
	    !TERMINATED(ev->request_id) || !TERMINATED(ev->overage_reason))
		abort();
	if ((ev->flags & ~RTP_F_ALL) != 0 || !(ev->flags & RTP_F_TLS_TAP))
		abort();
	if (ev->http_status > 999)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tap_proto *p;
	void *c;
	size_t off = 1;

	if (size < 1)
		return 0;
	p = (data[0] & 1) ? &h2_proto : &h1_proto;
	if ((c = p->open("api.anthropic.com")) == NULL)
		return 0;
	while (off < size) {
		unsigned h = data[off++];
		size_t n = (h & 0x7f) == 0 ? 128 : (h & 0x7f);

		if (n > size - off)
			n = size - off;
		if (h & 0x80)
			p->out(c, (const char *)data + off, n);
		else
			p->in(c, (const char *)data + off, n);
		off += n;
	}
	if (data[0] & 4)
		p->drop(c);
	else
		p->end(c, (data[0] & 2) != 0);
	return 0;
}
