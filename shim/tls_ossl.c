/*
 * The OpenSSL hooks: SSL_read, SSL_read_ex, SSL_write, SSL_write_ex,
 * SSL_write_early_data, SSL_peek, SSL_peek_ex, SSL_shutdown, SSL_free.
 * Each forwards to the caller's own libssl (resolve_table()), returns what
 * it returned with errno as it left it, and hands a tapped connection's
 * bytes to its reader (tls.c): what a write accepted, what a read
 * returned.  Peeked bytes are not given: they come again from a read.
 *
 * A call on a decided, untapped connection is a resolver cache hit, a
 * table probe and a tail call.  The rest is in the noinline functions.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "shim.h"
#include "tls.h"

#define SSL_RECEIVED_SHUTDOWN		2	/* SSL_get_shutdown() */
#define TLSEXT_NAMETYPE_host_name	0

/* The real functions of one libssl. */
struct ossl_fns {
	const void *lib;		/* its link_map */
	int (*read)(struct ssl_st *, void *, int);
	int (*read_ex)(struct ssl_st *, void *, size_t, size_t *);
	int (*peek)(struct ssl_st *, void *, int);
	int (*peek_ex)(struct ssl_st *, void *, size_t, size_t *);
	int (*write)(struct ssl_st *, const void *, int);
	int (*write_ex)(struct ssl_st *, const void *, size_t, size_t *);
	int (*write_early_data)(struct ssl_st *, const void *, size_t,
	    size_t *);
	int (*shutdown)(struct ssl_st *);
	void (*free)(struct ssl_st *);
	const char *(*get_servername)(const struct ssl_st *, int);
	int (*get_fd)(const struct ssl_st *);
	void (*get0_alpn_selected)(const struct ssl_st *,
	    const unsigned char **, unsigned int *);
	int (*is_server)(const struct ssl_st *);
	int (*get_shutdown)(const struct ssl_st *);
};

#define OFF(m)	offsetof(struct ossl_fns, m)

static const struct resolve_sym ossl_syms[] = {
	{ "SSL_read", OFF(read), 0 },
	{ "SSL_read_ex", OFF(read_ex), 1 },
	{ "SSL_peek", OFF(peek), 1 },
	{ "SSL_peek_ex", OFF(peek_ex), 1 },
	{ "SSL_write", OFF(write), 0 },
	{ "SSL_write_ex", OFF(write_ex), 1 },
	{ "SSL_write_early_data", OFF(write_early_data), 1 },
	{ "SSL_shutdown", OFF(shutdown), 1 },
	{ "SSL_free", OFF(free), 0 },
	{ "SSL_get_servername", OFF(get_servername), 0 },
	{ "SSL_get_fd", OFF(get_fd), 0 },
	{ "SSL_get0_alpn_selected", OFF(get0_alpn_selected), 1 },
	{ "SSL_is_server", OFF(is_server), 1 },
	{ "SSL_get_shutdown", OFF(get_shutdown), 1 },
};

/* Not static: GOT restoring (got.c) looks names up in it. */
const struct resolve_family ossl_family = {
	.fam = RES_SSL,
	.probe = "SSL_read",
	.soname = "libssl.so.3",
	.syms = ossl_syms,
	.nsyms = sizeof(ossl_syms) / sizeof(ossl_syms[0]),
	.size = sizeof(struct ossl_fns),
	.fixup = NULL,
};

/* The caller's table, and flags (RES_CALLER_CURL). */
#define OSSL_FNS(flags)							\
	((const struct ossl_fns *)resolve_table(&ossl_family,		\
	    __builtin_return_address(0), (flags)))

/*
 * The connection s (*c: what tls_find() says) and the real functions to
 * call for it: those of the library it was decided with, kept in its
 * entry, else (not decided yet, or not recorded) its caller's, resolved;
 * *flags then says whether the caller is a libcurl.  A decided connection
 * belongs to one libssl whoever calls it.
 */
static inline const struct ossl_fns *
ossl_conn(struct ssl_st *s, struct tls_conn **c, unsigned *flags,
    const void *caller)
{
	const void *known;

	*c = tls_find_fns(s, &known);
	*flags = 0;
	if (__builtin_expect(known != NULL, 1))
		return known;
	return resolve_table(&ossl_family, caller, flags);
}

#define OSSL_CONN(s, c, flags)						\
	ossl_conn((s), (c), (flags), __builtin_return_address(0))

/* A hook with no function to forward to (no libssl for the caller, or it
 * lacks this one): fail as the library would for a bad argument. */
__attribute__((noinline, cold)) static int
ossl_fail(const char *name)
{
	(void)shim_off();	/* the configuration says whether to log */
	shim_debug("%s: no libssl function for the caller, call failed",
	    name);
	errno = EINVAL;
	return -1;
}

/* What the libcurl layer owns, the shim being off, a libssl calling
 * itself for this very connection: 1 when the call is to pass through.
 * Records a libcurl's connection as not ours. */
static int
ossl_pass(const struct ossl_fns *f, const void *s, struct tls_conn *c,
    unsigned flags)
{
	if (tls_inside == s || shim_off())
		return 1;
	if (c == NULL && ((flags & RES_CALLER_CURL) || shim_busy)) {
		tls_disown(s, f);
		return 1;
	}
	return 0;
}

/* The connection s after its first successful read or write: decided. */
static struct tls_conn *
ossl_decide(const struct ossl_fns *f, struct ssl_st *s)
{
	struct tls_facts fx;
	const unsigned char *alpn = NULL;
	unsigned int alen = 0;

	memset(&fx, 0, sizeof(fx));
	fx.fns = f;
	TLS_CALL(s,
	    fx.server = f->is_server != NULL && f->is_server(s) == 1;
	    fx.sni = f->get_servername(s, TLSEXT_NAMETYPE_host_name);
	    fx.fd = f->get_fd(s);
	    if (f->get0_alpn_selected != NULL)
		    f->get0_alpn_selected(s, &alpn, &alen));
	fx.h2 = alen == 2 && alpn != NULL && memcmp(alpn, "h2", 2) == 0;
	return tls_decide(s, &fx);
}

/* The peer's close_notify has been read. */
static int
ossl_peer_closed(const struct ossl_fns *f, struct ssl_st *s)
{
	int r = 0;

	if (f->get_shutdown != NULL)
		TLS_CALL(s, r = (f->get_shutdown(s) & SSL_RECEIVED_SHUTDOWN)
		    != 0);
	return r;
}

/* After a read of a connection that may be tapped (c: what tls_find()
 * said before it): got bytes at buf, or ok == 0 for a failed read. */
static void
ossl_after_read(const struct ossl_fns *f, struct ssl_st *s,
    struct tls_conn *c, int ok, const void *buf, size_t got)
{
	if (ok && got > 0) {
		if (c == NULL)
			c = ossl_decide(f, s);
		if (c != TLS_UNTAPPED)
			tls_in(c, buf, got);
	} else if (c != NULL && c != TLS_UNTAPPED && ossl_peer_closed(f, s))
		tls_end(c, 1);
}

static void
ossl_after_write(const struct ossl_fns *f, struct ssl_st *s,
    struct tls_conn *c, const void *buf, size_t put)
{
	if (put == 0)
		return;
	if (c == NULL)
		c = ossl_decide(f, s);
	if (c != TLS_UNTAPPED)
		tls_out(c, buf, put);
}

__attribute__((noinline)) static int
read_slow(const struct ossl_fns *f, unsigned flags, struct tls_conn *c,
    struct ssl_st *s, void *buf, int num)
{
	int n, saved;

	if (ossl_pass(f, s, c, flags))
		return f->read(s, buf, num);
	TLS_CALL(s, n = f->read(s, buf, num));
	saved = errno;
	ossl_after_read(f, s, c, n > 0, buf, n > 0 ? (size_t)n : 0);
	errno = saved;
	return n;
}

SHIM_EXPORT int
SSL_read(struct ssl_st *s, void *buf, int num)
{
	unsigned flags;
	struct tls_conn *c;
	const struct ossl_fns *f = OSSL_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL, 0))
		return ossl_fail("SSL_read");
	if (c == TLS_UNTAPPED)
		return f->read(s, buf, num);
	return read_slow(f, flags, c, s, buf, num);
}

__attribute__((noinline)) static int
read_ex_slow(const struct ossl_fns *f, unsigned flags, struct tls_conn *c,
    struct ssl_st *s, void *buf, size_t num, size_t *got)
{
	int r, saved;

	if (ossl_pass(f, s, c, flags))
		return f->read_ex(s, buf, num, got);
	TLS_CALL(s, r = f->read_ex(s, buf, num, got));
	saved = errno;
	ossl_after_read(f, s, c, r == 1 && got != NULL, buf,
	    r == 1 && got != NULL ? *got : 0);
	errno = saved;
	return r;
}

SHIM_EXPORT int
SSL_read_ex(struct ssl_st *s, void *buf, size_t num, size_t *got)
{
	unsigned flags;
	struct tls_conn *c;
	const struct ossl_fns *f = OSSL_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL || f->read_ex == NULL, 0))
		return ossl_fail("SSL_read_ex") + 1;
	if (c == TLS_UNTAPPED)
		return f->read_ex(s, buf, num, got);
	return read_ex_slow(f, flags, c, s, buf, num, got);
}

/* SSL_peek, SSL_peek_ex: nothing is given to the reader (the same bytes
 * come again from a read), nothing decided. */
SHIM_EXPORT int
SSL_peek(struct ssl_st *s, void *buf, int num)
{
	unsigned flags;
	struct tls_conn *c;
	const struct ossl_fns *f = OSSL_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL || f->peek == NULL, 0))
		return ossl_fail("SSL_peek");
	return f->peek(s, buf, num);
}

SHIM_EXPORT int
SSL_peek_ex(struct ssl_st *s, void *buf, size_t num, size_t *got)
{
	unsigned flags;
	struct tls_conn *c;
	const struct ossl_fns *f = OSSL_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL || f->peek_ex == NULL, 0))
		return ossl_fail("SSL_peek_ex") + 1;
	return f->peek_ex(s, buf, num, got);
}

__attribute__((noinline)) static int
write_slow(const struct ossl_fns *f, unsigned flags, struct tls_conn *c,
    struct ssl_st *s, const void *buf, int num)
{
	int n, saved;

	if (ossl_pass(f, s, c, flags))
		return f->write(s, buf, num);
	TLS_CALL(s, n = f->write(s, buf, num));
	saved = errno;
	/* with SSL_MODE_ENABLE_PARTIAL_WRITE n may be less than num */
	ossl_after_write(f, s, c, buf, n > 0 ? (size_t)n : 0);
	errno = saved;
	return n;
}

SHIM_EXPORT int
SSL_write(struct ssl_st *s, const void *buf, int num)
{
	unsigned flags;
	struct tls_conn *c;
	const struct ossl_fns *f = OSSL_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL, 0))
		return ossl_fail("SSL_write");
	if (c == TLS_UNTAPPED)
		return f->write(s, buf, num);
	return write_slow(f, flags, c, s, buf, num);
}

/* SSL_write_ex and SSL_write_early_data: 1 and *put written. */
__attribute__((noinline)) static int
write_ex_slow(const struct ossl_fns *f, unsigned flags, struct tls_conn *c,
    struct ssl_st *s, const void *buf, size_t num, size_t *put, int early)
{
	int (*fn)(struct ssl_st *, const void *, size_t, size_t *) =
	    early ? f->write_early_data : f->write_ex;
	int r, saved;

	if (ossl_pass(f, s, c, flags))
		return fn(s, buf, num, put);
	TLS_CALL(s, r = fn(s, buf, num, put));
	saved = errno;
	ossl_after_write(f, s, c, buf, r == 1 && put != NULL ? *put : 0);
	errno = saved;
	return r;
}

SHIM_EXPORT int
SSL_write_ex(struct ssl_st *s, const void *buf, size_t num, size_t *put)
{
	unsigned flags;
	struct tls_conn *c;
	const struct ossl_fns *f = OSSL_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL || f->write_ex == NULL, 0))
		return ossl_fail("SSL_write_ex") + 1;
	if (c == TLS_UNTAPPED)
		return f->write_ex(s, buf, num, put);
	return write_ex_slow(f, flags, c, s, buf, num, put, 0);
}

SHIM_EXPORT int
SSL_write_early_data(struct ssl_st *s, const void *buf, size_t num,
    size_t *put)
{
	unsigned flags;
	struct tls_conn *c;
	const struct ossl_fns *f = OSSL_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL || f->write_early_data == NULL, 0))
		return ossl_fail("SSL_write_early_data") + 1;
	if (c == TLS_UNTAPPED)
		return f->write_early_data(s, buf, num, put);
	return write_ex_slow(f, flags, c, s, buf, num, put, 1);
}

/* SSL_shutdown: a clean end once the peer's close_notify is in; a
 * shutdown of the application's own leaves the end to SSL_free (a
 * close-delimited body is complete only if the peer closed). */
SHIM_EXPORT int
SSL_shutdown(struct ssl_st *s)
{
	unsigned flags;
	struct tls_conn *c;
	const struct ossl_fns *f = OSSL_CONN(s, &c, &flags);
	int r, saved;

	if (__builtin_expect(f == NULL || f->shutdown == NULL, 0))
		return ossl_fail("SSL_shutdown");
	if (c == NULL || c == TLS_UNTAPPED ||
	    tls_inside == s)
		return f->shutdown(s);
	TLS_CALL(s, r = f->shutdown(s));
	saved = errno;
	if (ossl_peer_closed(f, s))
		tls_end(c, 1);
	errno = saved;
	return r;
}

/* SSL_free: the connection is over; its entry goes (also when the shim is
 * off: an entry made before must not outlive its SSL). */
SHIM_EXPORT void
SSL_free(struct ssl_st *s)
{
	unsigned flags;
	struct tls_conn *c;
	const struct ossl_fns *f = OSSL_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL, 0)) {
		(void)ossl_fail("SSL_free");
		return;
	}
	if (s != NULL && c != NULL)
		tls_forget(s);
	f->free(s);
}
