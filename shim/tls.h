/*
 * The TLS layer of the shim, shared by its files: tls.c (the table of
 * connections, the decision, feeding the protocol readers of tlstap.h,
 * fork), tls_ossl.c (the OpenSSL 3 hooks) and tls_gnutls.c (the GnuTLS
 * hooks).  docs/hooking.md, "The TLS layer", has the whole story.
 *
 * A connection is known by its SSL* or gnutls_session_t (the key).  Its
 * first successful read or write decides, once, whether it is tapped; the
 * answer is kept in a bounded open-addressing table read without locks,
 * with the real functions of the connection's library, so a call on a
 * decided, untapped connection costs a probe or two and the call: nothing
 * is resolved.  Nothing here includes a TLS library's headers: the types
 * are opaque, the few constants are written out.
 */
#ifndef RATETAP_SHIM_TLS_H
#define RATETAP_SHIM_TLS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "init.h"
#include "resolve.h"
#include "tlstap.h"

/* ---- tls.c: the table ------------------------------------------------- */

#define TLS_SLOTS	4096		/* connections remembered at once */
#define TLS_PROBE	16		/* slots a key may occupy: its hash's
					   and the next ones */
#define TLS_TOMB	((uintptr_t)1)	/* key of a removed entry */

struct tls_conn;			/* a tapped connection (tls.c) */

/* The value of a decided connection that is not tapped (also: owned by
 * the libcurl layer, or the table had no room for it). */
#define TLS_UNTAPPED	((struct tls_conn *)(uintptr_t)1)

struct tls_slot {
	_Atomic uintptr_t key;		/* 0: never used, TLS_TOMB: removed */
	_Atomic(struct tls_conn *) val;	/* TLS_UNTAPPED or a tapped one */
	_Atomic(const void *) fns;	/* the real functions of the library
					   the connection belongs to */
};

extern struct tls_slot tls_slots[TLS_SLOTS];

static inline size_t
tls_hash(uintptr_t key)
{
	return (size_t)(((uint64_t)key * UINT64_C(0x9e3779b97f4a7c15)) >>
	    (64 - 12)) & (TLS_SLOTS - 1);
}

/*
 * What is known of the connection key, without a lock: NULL when it is not
 * decided yet, TLS_UNTAPPED, or its tapped state.  A key whose probe
 * window is full of other connections (the table is full there) is
 * TLS_UNTAPPED without being recorded.
 */
static inline struct tls_conn *
tls_find_fns(const void *key, const void **fns)
{
	uintptr_t k = (uintptr_t)key, cur;
	size_t h = tls_hash(k), i;
	int room = 0;

	*fns = NULL;
	for (i = 0; i < TLS_PROBE; i++) {
		const struct tls_slot *s = &tls_slots[(h + i) &
		    (TLS_SLOTS - 1)];

		cur = atomic_load_explicit(&s->key, memory_order_acquire);
		if (cur == k) {
			*fns = atomic_load_explicit(&s->fns,
			    memory_order_relaxed);
			return atomic_load_explicit(&s->val,
			    memory_order_relaxed);
		}
		if (cur == 0)
			return NULL;
		if (cur == TLS_TOMB)
			room = 1;
	}
	return room ? NULL : TLS_UNTAPPED;
}

static inline struct tls_conn *
tls_find(const void *key)
{
	const void *fns;

	return tls_find_fns(key, &fns);
}

/* The key whose real function this thread is inside (a TLS library
 * calling its own exported functions for it, e.g. gnutls_record_send
 * calling gnutls_record_send2, passes straight through). */
extern __thread const void *tls_inside
    __attribute__((tls_model("initial-exec")));

/* Call the real function with tls_inside set to key. */
#define TLS_CALL(key, ...) do {						\
	const void *tls_inside_saved_ = tls_inside;			\
	tls_inside = (key);						\
	__VA_ARGS__;							\
	tls_inside = tls_inside_saved_;					\
} while (0)

/* What the library's file found out about a connection at its first
 * successful read or write. */
struct tls_facts {
	const char *sni;		/* server name sent, NULL: none */
	int fd;				/* its socket, -1: unknown */
	int h2;				/* ALPN chose "h2" */
	int server;			/* the application is the server */
	const void *fns;		/* the real functions it was called
					   with (its library's table) */
};

/*
 * Decide the connection key from f and record the answer: its tapped
 * state (a reader opened for its host) or TLS_UNTAPPED.  Another thread
 * deciding it first wins.  May call getpeername(); takes the table's
 * mutex.
 */
struct tls_conn *tls_decide(const void *key, const struct tls_facts *f);

/* Record key as not tapped: its calls come from a libcurl (or through the
 * libcurl hooks), whose layer owns it; fns as in tls_facts. */
void tls_disown(const void *key, const void *fns);

/* Bytes the application wrote on / read from a tapped connection. */
void tls_out(struct tls_conn *c, const void *p, size_t n);
void tls_in(struct tls_conn *c, const void *p, size_t n);

/* The connection ended (clean: the peer's close_notify was seen); its
 * entry stays until tls_forget(). */
void tls_end(struct tls_conn *c, int clean);

/* The connection key is freed: end it (not clean) if tapped and not
 * ended, and remove its entry.  Cheap for an unknown key. */
void tls_forget(const void *key);

/* ---- pure parts (tls.c), for the unit test ---------------------------- */

/* A server name as RATETAP_HOSTS entries are compared: lower case, without
 * a trailing dot.  Returns 0, or -1 when empty or too long for len. */
int tls_name_norm(const char *sni, char *out, size_t len);

/* 1 when some RATETAP_HOSTS entry names the host name (any port). */
int tls_name_listed(const char *name);

/*
 * The connection to name (normalised) at port (0: no socket to ask, so the
 * port name is listed with, 443 first) against RATETAP_HOSTS: 1 and
 * host[:port] as the libcurl layer reports the
 * same destination (the port only when it is not https's 443) into host,
 * else 0.
 */
int tls_judge(const char *name, int port, char *host, size_t len);

/* The peer of socket fd as a host name (IPv4 dotted, IPv6 "[addr]", an
 * IPv4-mapped address as IPv4) and port.  Returns 0, or -1 (not a TCP/IP
 * socket, not connected). */
int tls_peer(int fd, char *name, size_t len, int *port);

/* ---- the hooks (tls_ossl.c, tls_gnutls.c) ----------------------------- */

struct ssl_st;				/* OpenSSL's SSL */
struct gnutls_session_int;		/* GnuTLS's session */

SHIM_EXPORT int SSL_read(struct ssl_st *s, void *buf, int num);
SHIM_EXPORT int SSL_read_ex(struct ssl_st *s, void *buf, size_t num,
    size_t *readbytes);
SHIM_EXPORT int SSL_peek(struct ssl_st *s, void *buf, int num);
SHIM_EXPORT int SSL_peek_ex(struct ssl_st *s, void *buf, size_t num,
    size_t *readbytes);
SHIM_EXPORT int SSL_write(struct ssl_st *s, const void *buf, int num);
SHIM_EXPORT int SSL_write_ex(struct ssl_st *s, const void *buf, size_t num,
    size_t *written);
SHIM_EXPORT int SSL_write_early_data(struct ssl_st *s, const void *buf,
    size_t num, size_t *written);
SHIM_EXPORT int SSL_shutdown(struct ssl_st *s);
SHIM_EXPORT void SSL_free(struct ssl_st *s);

SHIM_EXPORT ssize_t gnutls_record_send(struct gnutls_session_int *s,
    const void *data, size_t size);
SHIM_EXPORT ssize_t gnutls_record_send2(struct gnutls_session_int *s,
    const void *data, size_t size, size_t pad, unsigned flags);
SHIM_EXPORT ssize_t gnutls_record_recv(struct gnutls_session_int *s,
    void *data, size_t size);
SHIM_EXPORT ssize_t gnutls_record_recv_seq(struct gnutls_session_int *s,
    void *data, size_t size, unsigned char *seq);
SHIM_EXPORT int gnutls_bye(struct gnutls_session_int *s, int how);
SHIM_EXPORT void gnutls_deinit(struct gnutls_session_int *s);
SHIM_EXPORT int gnutls_server_name_set(struct gnutls_session_int *s,
    int type, const void *name, size_t len);

#endif /* RATETAP_SHIM_TLS_H */
