/*
 * The TLS layer's connections (see tls.h): the table of decided
 * connections, the decision, the serialised calls into the protocol
 * readers (tlstap.h), and what a fork() leaves to the child.
 *
 * The table is an array of TLS_SLOTS (key, value) pairs, a key living in
 * one of the TLS_PROBE slots from its hash on.  Readers (every hooked call)
 * load keys without locks; inserts and removals take tbl_mu.  A value and
 * its library's functions are stored before the key is published
 * (release), so a reader that sees the key sees them.  A removed entry leaves a tombstone that a later
 * insert in the same window reuses, so probes stay bounded whatever the
 * history.  A connection that finds its window full is passed through
 * untapped without being recorded (tls_find() says so after TLS_PROBE
 * loads): no decision, no syscall, at every call.
 *
 * Nothing is allocated, no handler registered, before the first decision:
 * the table is zeroed static storage that a program that makes no TLS
 * connection never touches.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"
#include "tls.h"

/* A tapped connection. */
struct tls_conn {
	pthread_mutex_t mu;		/* serialises the reader's calls */
	const struct tap_proto *proto;
	void *rd;			/* the reader's state; NULL: ended */
};

struct tls_slot tls_slots[TLS_SLOTS];
__thread const void *tls_inside __attribute__((tls_model("initial-exec")));

static pthread_mutex_t tbl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t tls_fork_once = PTHREAD_ONCE_INIT;
static int full_said;			/* under tbl_mu */

/* ---- fork ------------------------------------------------------------- */

static void
tls_fork_prepare(void)
{
	(void)pthread_mutex_lock(&tbl_mu);
}

static void
tls_fork_parent(void)
{
	(void)pthread_mutex_unlock(&tbl_mu);
}

/*
 * The child owns no exchange it did not start: every tapped connection it
 * inherited is dropped (nothing reported) and becomes untapped, so that
 * the child never takes its mutex again (a thread of the parent may have
 * held it: then the state is left as it is).
 */
static void
tls_fork_child(void)
{
	size_t i;

	(void)pthread_mutex_unlock(&tbl_mu);
	for (i = 0; i < TLS_SLOTS; i++) {
		struct tls_slot *s = &tls_slots[i];
		uintptr_t k = atomic_load_explicit(&s->key,
		    memory_order_relaxed);
		struct tls_conn *c;

		if (k == 0 || k == TLS_TOMB)
			continue;
		c = atomic_load_explicit(&s->val, memory_order_relaxed);
		if (c == TLS_UNTAPPED || c == NULL)
			continue;
		atomic_store_explicit(&s->val, TLS_UNTAPPED,
		    memory_order_release);
		if (pthread_mutex_trylock(&c->mu) != 0)
			continue;	/* left as it is: never used again */
		if (c->rd != NULL)
			c->proto->drop(c->rd);
		pthread_mutex_unlock(&c->mu);
		pthread_mutex_destroy(&c->mu);
		free(c);
	}
}

static void
tls_fork_init(void)
{
	if (pthread_atfork(tls_fork_prepare, tls_fork_parent,
	    tls_fork_child) != 0)
		shim_debug("pthread_atfork failed");
}

/* ---- the decision ----------------------------------------------------- */

int
tls_name_norm(const char *sni, char *out, size_t len)
{
	size_t n, i;

	if (sni == NULL || (n = strlen(sni)) == 0)
		return -1;
	if (n > 1 && sni[n - 1] == '.')
		n--;
	if (n + 1 > len)
		return -1;
	for (i = 0; i < n; i++) {
		char ch = sni[i];

		out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	out[n] = '\0';
	return 0;
}

int
tls_name_listed(const char *name)
{
	size_t i;

	for (i = 0; i < shim_cfg.nhosts; i++)
		if (strcmp(shim_cfg.hosts[i].name, name) == 0)
			return 1;
	return 0;
}

/*
 * The port of a connection with no socket to ask (memory BIOs: Python's
 * asyncio, Twisted): the https port when the name is listed for it or
 * for any port, else the first port the name is listed with.  A server
 * name the user listed is the user's target whichever port it came by.
 */
static int
unknown_port(const char *name)
{
	int first = 0;
	size_t i;

	for (i = 0; i < shim_cfg.nhosts; i++) {
		const struct cfg_host *h = &shim_cfg.hosts[i];

		if (strcmp(h->name, name) != 0)
			continue;
		if (h->port == -1 || h->port == 443)
			return 443;
		if (first == 0)
			first = h->port;
	}
	return first > 0 ? first : 443;
}

int
tls_judge(const char *name, int port, char *host, size_t len)
{
	struct cfg_url u;
	char hp[CFG_HOST_MAX + 8];

	memset(&u, 0, sizeof(u));
	if (strlen(name) + 1 > sizeof(u.host))
		return 0;
	memcpy(u.host, name, strlen(name) + 1);
	u.port = port > 0 ? port : unknown_port(name);
	u.tls = 1;
	if (!cfg_tapped(&u))
		return 0;
	/* as xfer.c reports https://name/ and https://name:port/ */
	if (u.port == 443)
		rtp_strlcpy(host, name, len);
	else {
		snprintf(hp, sizeof(hp), "%s:%d", name, u.port);
		rtp_strlcpy(host, hp, len);
	}
	return 1;
}

int
tls_peer(int fd, char *name, size_t len, int *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[INET6_ADDRSTRLEN];

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		if (inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a)) == NULL ||
		    strlen(a) + 1 > len)
			return -1;
		memcpy(name, a, strlen(a) + 1);
		*port = ntohs(in->sin_port);
		return 0;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)&ss;

		*port = ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			if (inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], a,
			    sizeof(a)) == NULL || strlen(a) + 1 > len)
				return -1;
			memcpy(name, a, strlen(a) + 1);
			return 0;
		}
		if (inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a)) ==
		    NULL || strlen(a) + 3 > len)
			return -1;
		snprintf(name, len, "[%s]", a);
		return 0;
	}
	return -1;
}

/* host[:port] of a tapped connection into host; 0 when not tapped.  The
 * peer's port is asked for (a syscall) only once the name can match. */
static int
target(const struct tls_facts *f, char *host, size_t len)
{
	char name[CFG_HOST_MAX];
	int port = 0;

	if (shim_cfg.nhosts == 0 || f->server)
		return 0;
	if (f->sni != NULL) {
		char peer[CFG_HOST_MAX];

		if (tls_name_norm(f->sni, name, sizeof(name)) == -1 ||
		    !tls_name_listed(name))
			return 0;
		/* no socket (memory BIOs): the port is the listed one */
		if (tls_peer(f->fd, peer, sizeof(peer), &port) == -1)
			port = 0;
	} else if (tls_peer(f->fd, name, sizeof(name), &port) == -1 ||
	    !tls_name_listed(name))
		return 0;
	return tls_judge(name, port, host, len);
}

/* Record val for key unless another thread did first; returns what the
 * table holds for key now (TLS_UNTAPPED when there is no room). */
static struct tls_conn *
settle(const void *key, struct tls_conn *val, const void *fns)
{
	uintptr_t k = (uintptr_t)key, cur;
	size_t h = tls_hash(k), i;
	struct tls_slot *free_slot = NULL;
	struct tls_conn *ret = val;

	if (pthread_mutex_lock(&tbl_mu) != 0)
		return TLS_UNTAPPED;
	for (i = 0; i < TLS_PROBE; i++) {
		struct tls_slot *s = &tls_slots[(h + i) & (TLS_SLOTS - 1)];

		cur = atomic_load_explicit(&s->key, memory_order_relaxed);
		if (cur == k) {
			ret = atomic_load_explicit(&s->val,
			    memory_order_relaxed);
			goto out;
		}
		if ((cur == 0 || cur == TLS_TOMB) && free_slot == NULL)
			free_slot = s;
		if (cur == 0)
			break;
	}
	if (free_slot == NULL) {
		if (!full_said) {
			full_said = 1;
			shim_debug("too many TLS connections at once: the "
			    "newest are not tapped");
		}
		ret = TLS_UNTAPPED;
		goto out;
	}
	atomic_store_explicit(&free_slot->val, val, memory_order_relaxed);
	atomic_store_explicit(&free_slot->fns, fns, memory_order_relaxed);
	atomic_store_explicit(&free_slot->key, k, memory_order_release);
out:
	pthread_mutex_unlock(&tbl_mu);
	return ret;
}

struct tls_conn *
tls_decide(const void *key, const struct tls_facts *f)
{
	char host[RTP_HOST_LEN];
	struct tls_conn *c = TLS_UNTAPPED, *got;
	int saved = errno;

	if (pthread_once(&tls_fork_once, tls_fork_init) != 0)
		return TLS_UNTAPPED;
	if (target(f, host, sizeof(host)) &&
	    (c = calloc(1, sizeof(*c))) != NULL) {
		c->proto = f->h2 ? &h2_proto : &h1_proto;
		if (pthread_mutex_init(&c->mu, NULL) != 0 ||
		    (c->rd = c->proto->open(host)) == NULL) {
			shim_debug("TLS connection to %s: no %s reader, not "
			    "tapped", host, c->proto->name);
			free(c);
			c = TLS_UNTAPPED;
		} else
			shim_debug("TLS connection to %s tapped (%s)", host,
			    c->proto->name);
	}
	got = settle(key, c, f->fns);
	if (got != c && c != TLS_UNTAPPED) {
		/* another thread decided it first, or no room */
		c->proto->drop(c->rd);
		pthread_mutex_destroy(&c->mu);
		free(c);
	}
	errno = saved;
	return got;
}

void
tls_disown(const void *key, const void *fns)
{
	int saved = errno;

	(void)settle(key, TLS_UNTAPPED, fns);
	errno = saved;
}

/* ---- feeding the reader ------------------------------------------------ */

void
tls_out(struct tls_conn *c, const void *p, size_t n)
{
	if (pthread_mutex_lock(&c->mu) != 0)
		return;
	if (c->rd != NULL)
		c->proto->out(c->rd, p, n);
	pthread_mutex_unlock(&c->mu);
}

void
tls_in(struct tls_conn *c, const void *p, size_t n)
{
	if (pthread_mutex_lock(&c->mu) != 0)
		return;
	if (c->rd != NULL)
		c->proto->in(c->rd, p, n);
	pthread_mutex_unlock(&c->mu);
}

void
tls_end(struct tls_conn *c, int clean)
{
	if (pthread_mutex_lock(&c->mu) != 0)
		return;
	if (c->rd != NULL) {
		c->proto->end(c->rd, clean);
		c->rd = NULL;
	}
	pthread_mutex_unlock(&c->mu);
}

void
tls_forget(const void *key)
{
	uintptr_t k = (uintptr_t)key;
	size_t h, i;
	struct tls_conn *c = NULL;
	int saved;

	if (tls_find(key) == NULL)
		return;		/* never decided (or already removed) */
	saved = errno;
	h = tls_hash(k);
	if (pthread_mutex_lock(&tbl_mu) != 0)
		return;
	for (i = 0; i < TLS_PROBE; i++) {
		struct tls_slot *s = &tls_slots[(h + i) & (TLS_SLOTS - 1)];
		uintptr_t cur = atomic_load_explicit(&s->key,
		    memory_order_relaxed);

		if (cur == 0)
			break;
		if (cur == k) {
			c = atomic_load_explicit(&s->val,
			    memory_order_relaxed);
			atomic_store_explicit(&s->key, TLS_TOMB,
			    memory_order_release);
			break;
		}
	}
	pthread_mutex_unlock(&tbl_mu);
	if (c != NULL && c != TLS_UNTAPPED) {
		tls_end(c, 0);
		pthread_mutex_destroy(&c->mu);
		free(c);
	}
	errno = saved;
}

/* What got_patch_all() points GOT entries at (with hooks.c's). */
const struct resolve_hook resolve_tls_hooks[] = {
	{ "SSL_read", (void *)(uintptr_t)SSL_read },
	{ "SSL_read_ex", (void *)(uintptr_t)SSL_read_ex },
	{ "SSL_peek", (void *)(uintptr_t)SSL_peek },
	{ "SSL_peek_ex", (void *)(uintptr_t)SSL_peek_ex },
	{ "SSL_write", (void *)(uintptr_t)SSL_write },
	{ "SSL_write_ex", (void *)(uintptr_t)SSL_write_ex },
	{ "SSL_write_early_data", (void *)(uintptr_t)SSL_write_early_data },
	{ "SSL_shutdown", (void *)(uintptr_t)SSL_shutdown },
	{ "SSL_free", (void *)(uintptr_t)SSL_free },
	{ "gnutls_record_send", (void *)(uintptr_t)gnutls_record_send },
	{ "gnutls_record_send2", (void *)(uintptr_t)gnutls_record_send2 },
	{ "gnutls_record_recv", (void *)(uintptr_t)gnutls_record_recv },
	{ "gnutls_record_recv_seq", (void *)(uintptr_t)gnutls_record_recv_seq },
	{ "gnutls_bye", (void *)(uintptr_t)gnutls_bye },
	{ "gnutls_deinit", (void *)(uintptr_t)gnutls_deinit },
	{ "gnutls_server_name_set", (void *)(uintptr_t)gnutls_server_name_set },
	{ NULL, NULL }
};
