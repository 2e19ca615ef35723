/*
 * The GnuTLS hooks: gnutls_record_send, gnutls_record_send2,
 * gnutls_record_recv, gnutls_record_recv_seq, gnutls_bye, gnutls_deinit.
 * As the OpenSSL hooks (tls_ossl.c): the caller's own libgnutls, the same
 * return values and errno, a tapped connection's bytes to its reader.
 * gnutls_record_send is gnutls_record_send2 with no padding: its hook calls
 * the real send2 (see gn_send()); a library's other calls to its own
 * exported functions pass straight through (tls_inside).
 *
 * A GnuTLS client cannot read back the server name it sends
 * (gnutls_server_name_get answers GNUTLS_E_INVALID_REQUEST on the client
 * side), so gnutls_server_name_set is hooked too: the name is kept for
 * the session until its first read or write decides it.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "shim.h"
#include "tls.h"

#define GNUTLS_E_INTERNAL_ERROR	(-59)
#define GNUTLS_NAME_DNS		1
#define GNUTLS_SHUT_RDWR	0
#define FD_MAX_GUESS		(1 << 20)	/* a transport "pointer" this
						   small is a file descriptor */

struct gnutls_datum {
	unsigned char *data;
	unsigned int size;
};

/* The real functions of one libgnutls. */
struct gnutls_fns {
	const void *lib;		/* its link_map */
	ssize_t (*send)(struct gnutls_session_int *, const void *, size_t);
	ssize_t (*send2)(struct gnutls_session_int *, const void *, size_t,
	    size_t, unsigned);
	ssize_t (*recv)(struct gnutls_session_int *, void *, size_t);
	ssize_t (*recv_seq)(struct gnutls_session_int *, void *, size_t,
	    unsigned char *);
	int (*bye)(struct gnutls_session_int *, int);
	void (*deinit)(struct gnutls_session_int *);
	int (*server_name_get)(struct gnutls_session_int *, void *, size_t *,
	    unsigned int *, unsigned int);
	void *(*transport_get_ptr)(struct gnutls_session_int *);
	int (*alpn_get)(struct gnutls_session_int *, struct gnutls_datum *);
	int (*server_name_set)(struct gnutls_session_int *, int, const void *,
	    size_t);
};

#define OFF(m)	offsetof(struct gnutls_fns, m)

static const struct resolve_sym gnutls_syms[] = {
	{ "gnutls_record_send", OFF(send), 0 },
	{ "gnutls_record_send2", OFF(send2), 1 },
	{ "gnutls_record_recv", OFF(recv), 0 },
	{ "gnutls_record_recv_seq", OFF(recv_seq), 1 },
	{ "gnutls_bye", OFF(bye), 0 },
	{ "gnutls_deinit", OFF(deinit), 0 },
	{ "gnutls_server_name_get", OFF(server_name_get), 0 },
	{ "gnutls_transport_get_ptr", OFF(transport_get_ptr), 0 },
	{ "gnutls_alpn_get_selected_protocol", OFF(alpn_get), 1 },
	{ "gnutls_server_name_set", OFF(server_name_set), 0 },
};

/* Server names set on sessions not decided yet: a small ring (the oldest
 * goes when it is full: such a session is judged by its peer address). */
#define SNI_KEPT	64
#define SNI_MAX		256

static struct {
	const void *key;
	char name[SNI_MAX];
} sni_kept[SNI_KEPT];			/* under sni_mu */
static unsigned sni_next;
static pthread_mutex_t sni_mu = PTHREAD_MUTEX_INITIALIZER;

static void
sni_put(const void *key, const char *name, size_t len)
{
	unsigned i, at = sni_next;

	if (len >= SNI_MAX || pthread_mutex_lock(&sni_mu) != 0)
		return;
	for (i = 0; i < SNI_KEPT; i++)
		if (sni_kept[i].key == key)
			at = i;
	if (at == sni_next)
		sni_next = (sni_next + 1) % SNI_KEPT;
	sni_kept[at].key = key;
	memcpy(sni_kept[at].name, name, len);
	sni_kept[at].name[len] = '\0';
	pthread_mutex_unlock(&sni_mu);
}

/* Take the name kept for key into out (SNI_MAX bytes): 1, else 0.  With
 * out NULL, only forget it. */
static int
sni_take(const void *key, char *out)
{
	unsigned i;
	int found = 0;

	if (pthread_mutex_lock(&sni_mu) != 0)
		return 0;
	for (i = 0; i < SNI_KEPT; i++)
		if (sni_kept[i].key == key) {
			if (out != NULL)
				memcpy(out, sni_kept[i].name, SNI_MAX);
			sni_kept[i].key = NULL;
			found = 1;
		}
	pthread_mutex_unlock(&sni_mu);
	return found;
}

/* Not static: GOT restoring (got.c) looks names up in it. */
const struct resolve_family gnutls_family = {
	.fam = RES_GNUTLS,
	.probe = "gnutls_record_recv",
	.soname = "libgnutls.so.30",
	.syms = gnutls_syms,
	.nsyms = sizeof(gnutls_syms) / sizeof(gnutls_syms[0]),
	.size = sizeof(struct gnutls_fns),
	.fixup = NULL,
};

#define GN_FNS(flags)							\
	((const struct gnutls_fns *)resolve_table(&gnutls_family,	\
	    __builtin_return_address(0), (flags)))

/* As ossl_conn() (tls_ossl.c): the session s, and the functions of the
 * libgnutls it was decided with, else its caller's. */
static inline const struct gnutls_fns *
gn_conn(struct gnutls_session_int *s, struct tls_conn **c, unsigned *flags,
    const void *caller)
{
	const void *known;

	*c = tls_find_fns(s, &known);
	*flags = 0;
	if (__builtin_expect(known != NULL, 1))
		return known;
	return resolve_table(&gnutls_family, caller, flags);
}

#define GN_CONN(s, c, flags)						\
	gn_conn((s), (c), (flags), __builtin_return_address(0))

__attribute__((noinline, cold)) static int
gn_fail(const char *name)
{
	(void)shim_off();
	shim_debug("%s: no libgnutls function for the caller, call failed",
	    name);
	return GNUTLS_E_INTERNAL_ERROR;
}

static int
gn_pass(const struct gnutls_fns *f, const void *s, struct tls_conn *c,
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

static struct tls_conn *
gn_decide(const struct gnutls_fns *f, struct gnutls_session_int *s)
{
	struct tls_facts fx;
	struct gnutls_datum alpn = { NULL, 0 };
	char name[SNI_MAX];
	size_t len = sizeof(name) - 1;
	unsigned int type = 0;
	void *tp = NULL;
	int r = -1, ar = -1;

	memset(&fx, 0, sizeof(fx));
	fx.fd = -1;
	fx.fns = f;
	if (sni_take(s, name))
		fx.sni = name;
	TLS_CALL(s,
	    /* a server's session: the name its client sent */
	    if (fx.sni == NULL)
		    r = f->server_name_get(s, name, &len, &type, 0);
	    tp = f->transport_get_ptr(s);
	    if (f->alpn_get != NULL)
		    ar = f->alpn_get(s, &alpn));
	if (r == 0 && type == GNUTLS_NAME_DNS && len < sizeof(name)) {
		name[len] = '\0';
		fx.sni = name;
		fx.server = 1;
	}
	if ((uintptr_t)tp < FD_MAX_GUESS)
		fx.fd = (int)(uintptr_t)tp;
	fx.h2 = ar == 0 && alpn.size == 2 && alpn.data != NULL &&
	    memcmp(alpn.data, "h2", 2) == 0;
	return tls_decide(s, &fx);
}

static void
gn_after_recv(const struct gnutls_fns *f, struct gnutls_session_int *s,
    struct tls_conn *c, const void *buf, ssize_t n)
{
	if (n > 0) {
		if (c == NULL)
			c = gn_decide(f, s);
		if (c != TLS_UNTAPPED)
			tls_in(c, buf, (size_t)n);
	} else if (n == 0 && c != NULL && c != TLS_UNTAPPED)
		tls_end(c, 1);		/* the peer's close_notify */
}

static void
gn_after_send(const struct gnutls_fns *f, struct gnutls_session_int *s,
    struct tls_conn *c, const void *buf, ssize_t n)
{
	if (n <= 0)
		return;
	if (c == NULL)
		c = gn_decide(f, s);
	if (c != TLS_UNTAPPED)
		tls_out(c, buf, (size_t)n);
}

/*
 * gnutls_record_send is gnutls_record_send2(s, data, size, 0, 0): a tail
 * call through libgnutls's own PLT (3.7), which would come back into the
 * send2 hook.  Calling send2 directly does what the library does, with one
 * hook per send; a library without send2 (before 3.6.3) gets its send.
 */
static inline ssize_t
gn_send(const struct gnutls_fns *f, struct gnutls_session_int *s,
    const void *data, size_t size)
{
	if (__builtin_expect(f->send2 != NULL, 1))
		return f->send2(s, data, size, 0, 0);
	return f->send(s, data, size);
}

__attribute__((noinline)) static ssize_t
send_slow(const struct gnutls_fns *f, unsigned flags, struct tls_conn *c,
    struct gnutls_session_int *s, const void *data, size_t size)
{
	ssize_t n;
	int saved;

	if (gn_pass(f, s, c, flags))
		return gn_send(f, s, data, size);
	TLS_CALL(s, n = gn_send(f, s, data, size));
	saved = errno;
	gn_after_send(f, s, c, data, n);
	errno = saved;
	return n;
}

SHIM_EXPORT ssize_t
gnutls_record_send(struct gnutls_session_int *s, const void *data,
    size_t size)
{
	unsigned flags;
	struct tls_conn *c;
	const struct gnutls_fns *f = GN_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL, 0))
		return gn_fail("gnutls_record_send");
	if (c == TLS_UNTAPPED)
		return gn_send(f, s, data, size);
	return send_slow(f, flags, c, s, data, size);
}

__attribute__((noinline)) static ssize_t
send2_slow(const struct gnutls_fns *f, unsigned flags, struct tls_conn *c,
    struct gnutls_session_int *s, const void *data, size_t size, size_t pad,
    unsigned fl)
{
	ssize_t n;
	int saved;

	if (gn_pass(f, s, c, flags))
		return f->send2(s, data, size, pad, fl);
	TLS_CALL(s, n = f->send2(s, data, size, pad, fl));
	saved = errno;
	gn_after_send(f, s, c, data, n);
	errno = saved;
	return n;
}

SHIM_EXPORT ssize_t
gnutls_record_send2(struct gnutls_session_int *s, const void *data,
    size_t size, size_t pad, unsigned fl)
{
	unsigned flags;
	struct tls_conn *c;
	const struct gnutls_fns *f = GN_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL || f->send2 == NULL, 0))
		return gn_fail("gnutls_record_send2");
	if (c == TLS_UNTAPPED)
		return f->send2(s, data, size, pad, fl);
	return send2_slow(f, flags, c, s, data, size, pad, fl);
}

__attribute__((noinline)) static ssize_t
recv_slow(const struct gnutls_fns *f, unsigned flags, struct tls_conn *c,
    struct gnutls_session_int *s, void *data, size_t size,
    unsigned char *seq, int with_seq)
{
	ssize_t n;
	int saved;

	if (gn_pass(f, s, c, flags))
		return with_seq ? f->recv_seq(s, data, size, seq) :
		    f->recv(s, data, size);
	TLS_CALL(s, n = with_seq ? f->recv_seq(s, data, size, seq) :
	    f->recv(s, data, size));
	saved = errno;
	gn_after_recv(f, s, c, data, n);
	errno = saved;
	return n;
}

SHIM_EXPORT ssize_t
gnutls_record_recv(struct gnutls_session_int *s, void *data, size_t size)
{
	unsigned flags;
	struct tls_conn *c;
	const struct gnutls_fns *f = GN_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL, 0))
		return gn_fail("gnutls_record_recv");
	if (c == TLS_UNTAPPED)
		return f->recv(s, data, size);
	return recv_slow(f, flags, c, s, data, size, NULL, 0);
}

SHIM_EXPORT ssize_t
gnutls_record_recv_seq(struct gnutls_session_int *s, void *data,
    size_t size, unsigned char *seq)
{
	unsigned flags;
	struct tls_conn *c;
	const struct gnutls_fns *f = GN_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL || f->recv_seq == NULL, 0))
		return gn_fail("gnutls_record_recv_seq");
	if (c == TLS_UNTAPPED)
		return f->recv_seq(s, data, size, seq);
	return recv_slow(f, flags, c, s, data, size, seq, 1);
}

/* gnutls_bye: GNUTLS_SHUT_RDWR returns 0 once the peer's close_notify is
 * in, a clean end; GNUTLS_SHUT_WR leaves the end to gnutls_deinit. */
SHIM_EXPORT int
gnutls_bye(struct gnutls_session_int *s, int how)
{
	unsigned flags;
	struct tls_conn *c;
	const struct gnutls_fns *f = GN_CONN(s, &c, &flags);
	int r, saved;

	if (__builtin_expect(f == NULL, 0))
		return gn_fail("gnutls_bye");
	if (c == NULL || c == TLS_UNTAPPED ||
	    tls_inside == s)
		return f->bye(s, how);
	TLS_CALL(s, r = f->bye(s, how));
	saved = errno;
	if (r == 0 && how == GNUTLS_SHUT_RDWR)
		tls_end(c, 1);
	errno = saved;
	return r;
}

SHIM_EXPORT void
gnutls_deinit(struct gnutls_session_int *s)
{
	unsigned flags;
	struct tls_conn *c;
	const struct gnutls_fns *f = GN_CONN(s, &c, &flags);

	if (__builtin_expect(f == NULL, 0)) {
		(void)gn_fail("gnutls_deinit");
		return;
	}
	if (s != NULL) {
		tls_forget(s);
		if (tls_find(s) == NULL)
			(void)sni_take(s, NULL);
	}
	f->deinit(s);
}

/* gnutls_server_name_set: the name is kept for the decision. */
SHIM_EXPORT int
gnutls_server_name_set(struct gnutls_session_int *s, int type,
    const void *name, size_t len)
{
	const struct gnutls_fns *f = GN_FNS(NULL);
	int r;

	if (__builtin_expect(f == NULL, 0))
		return gn_fail("gnutls_server_name_set");
	r = f->server_name_set(s, type, name, len);
	if (r == 0 && type == GNUTLS_NAME_DNS && name != NULL && !shim_off() &&
	    tls_find(s) == NULL) {
		int saved = errno;

		sni_put(s, name, len);
		errno = saved;
	}
	return r;
}
