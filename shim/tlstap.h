/*
 * HTTP over the plaintext of a TLS connection: the contract between the
 * TLS hooks (tls.c: OpenSSL and GnuTLS) and the protocol readers that turn
 * a connection's two byte streams into one event per response (h1.c:
 * HTTP/1.x, h2.c: HTTP/2), and the content decoders the readers use
 * (decode.c).
 *
 * The hooks see what the application sees: every byte the application
 * handed to a successful write (the count the TLS library accepted, never
 * the buffer's length) goes to out(), every byte a read returned to the
 * application goes to in(), in order, each direction serialised by the
 * hooks (one call at a time per connection; the two directions may come
 * from different threads, so a reader takes no lock of its own but must
 * not assume out() and in() alternate).  Peeked bytes are given once, when
 * they are read.  A reader never fails the application: input it cannot
 * follow makes it stop reading that connection (its pending exchanges are
 * reported as unreadable, later bytes are ignored at the cost of a test).
 *
 * Each finished response becomes a struct rec_end given to rec_report()
 * (shim.h), the same record as the libcurl layer's, with:
 *   host    the connection's host[:port] as the hooks give it to open()
 *   tls     1
 *   result  TAP_OK for a response read to its end (Content-Length,
 *           chunked end, END_STREAM, or close for a close-delimited body),
 *           TAP_CUT when the connection ended, was reset or the reader gave
 *           up before it
 *   status  the final status (1xx interim responses are skipped), 0 when
 *           no status line/`:status` was read
 *   method  the request's method; url: its path (query kept or not:
 *           rec_report strips it)
 *   teed    1 when every body byte reached the scanner (decoded when the
 *           response had a Content-Encoding), 0 when any could not be
 *           (unknown or unloadable coding, decoder error, reader gave up)
 *   hdrs    the response's header fields, read with hdr_apply()/the
 *           header tee of struct rec
 * and flags RTP_F_TLS_TAP.  A request the connection ended before any
 * response to it began is not reported (nothing was answered, as with
 * RTP_F_NO_DONE in the libcurl layer).
 *
 * Memory is bounded per connection whatever the peer sends: a reader keeps
 * a fixed amount per exchange in flight and a bounded number of them.
 */
#ifndef RATETAP_TLSTAP_H
#define RATETAP_TLSTAP_H

#include <stddef.h>

#include "shim.h"

#define TAP_OK	0	/* rec_end.result: the response was read to its end */
#define TAP_CUT	56	/* it was not (libcurl's CURLE_RECV_ERROR, so that the
			   daemon treats a cut at either layer alike) */

/* One protocol reader.  All functions are called with the connection's
 * lock held by tls.c. */
struct tap_proto {
	const char *name;		/* "http/1.1", "h2" */
	/* A reader for a new connection to host (host[:port] as events
	   report it).  NULL when it cannot start (out of memory; h2: no
	   libnghttp2 in the process or on the system), and the connection
	   is then not tapped. */
	void *(*open)(const char *host);
	/* Bytes the application wrote (client to server). */
	void (*out)(void *c, const char *p, size_t n);
	/* Bytes the application read (server to client). */
	void (*in)(void *c, const char *p, size_t n);
	/* The connection is over: clean is 1 after a close_notify /
	   orderly shutdown seen by the application, 0 for a free, an error
	   or a reset.  Report what is pending (a close-delimited body ends
	   here: TAP_OK when clean, TAP_CUT when not) and free c. */
	void (*end)(void *c, int clean);
	/* In a forked child: free c without reporting anything (the child
	   owns no exchange it did not start). */
	void (*drop)(void *c);
};

extern const struct tap_proto h1_proto;	/* h1.c */
extern const struct tap_proto h2_proto;	/* h2.c */

/* ---- decode.c: Content-Encoding, for the scanner only ----------------- */

enum dec_coding {
	DEC_IDENTITY = 0,	/* no Content-Encoding, or "identity" */
	DEC_GZIP,		/* gzip, x-gzip */
	DEC_DEFLATE,		/* deflate: zlib-wrapped, or raw as some
				   servers send it */
	DEC_BR,
	DEC_ZSTD,
	DEC_UNSUPPORTED		/* anything else, or more than one coding
				   stacked */
};

/* The coding a Content-Encoding value (len bytes at v, case-insensitive,
 * surrounding blanks ignored) names.  "identity" entries in a list are
 * ignored; two or more real codings give DEC_UNSUPPORTED. */
int dec_coding_of(const char *v, size_t len);

struct dec;

/* A system library the TLS tap reads with (libz.so.1, libnghttp2.so.14,
 * ...): the one already in the process (RTLD_NOLOAD), else loaded
 * RTLD_LAZY|RTLD_LOCAL, through the C library's dlopen with the shim's
 * hooks passed through; NULL (said under RATETAP_DEBUG=1) when it cannot
 * be.  Callers load each library once per process. */
void *dec_lib_open(const char *name);

/* A streaming decoder for coding, loading the system library it needs
 * (libz.so.1, libbrotlidec.so.1, libzstd.so.1) on first use with
 * dlopen(RTLD_NOLOAD) first, then RTLD_LAZY|RTLD_LOCAL; NULL when it
 * cannot (no library, no memory): the body is then unreadable, never
 * guessed.  DEC_IDENTITY and DEC_UNSUPPORTED give NULL too. */
struct dec *dec_new(int coding);

/* Decode len bytes at p and give the output to r with rec_body(), in
 * pieces of bounded size (no allocation per call).  Returns 0, or -1 once
 * the input is not valid for the coding (then and after: nothing more is
 * given to r). */
int dec_feed(struct dec *d, const char *p, size_t len, struct rec *r);

/* 1 when the coded stream ended properly (gzip trailer, zstd frame end,
 * brotli finished). */
int dec_done(const struct dec *d);

void dec_free(struct dec *d);

#endif /* RATETAP_TLSTAP_H */
