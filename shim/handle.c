/*
 * The per-handle state table: what the shim knows about each easy handle
 * (the application's callbacks, its URL, the transfer in progress), keyed by
 * the CURL pointer.  A chained hash table behind one mutex; the lock is held
 * only for table operations, never across a call into libcurl or the
 * application, and each thread remembers its last lookup, so that the
 * calls of one transfer mostly take no lock at all.  Fork-safe: the lock
 * is taken around fork().
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "curltap.h"

#define HDL_BUCKETS	256

static pthread_mutex_t hdl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_handle *hdl_table[HDL_BUCKETS];
static pthread_once_t hdl_fork_once = PTHREAD_ONCE_INIT;
static _Atomic unsigned hdl_gen;	/* bumped by every removal */

/*
 * Each thread's last lookup: a handle's options are set, and its transfer
 * run, by one thread at a time (libcurl's rule), so the calls of one
 * transfer find their state here without the lock.  Valid while hdl_gen
 * has not moved: a removed state may be freed.
 */
struct hdl_last {
	CURL *easy;
	struct shim_handle *sh;
	unsigned gen;
};

static __thread struct hdl_last hdl_last
    __attribute__((tls_model("initial-exec")));

static size_t
bucket(const void *p)
{
	uintptr_t v = (uintptr_t)p;

	v ^= v >> 17;
	v *= UINT64_C(0x9e3779b97f4a7c15) & UINTPTR_MAX;
	return (size_t)(v >> 7) % HDL_BUCKETS;
}

static struct shim_handle *
find_locked(CURL *easy)
{
	struct shim_handle *sh;

	for (sh = hdl_table[bucket(easy)]; sh != NULL; sh = sh->next)
		if (sh->easy == easy)
			return sh;
	return NULL;
}

/* Remember sh as this thread's last lookup of easy.  Under hdl_lock, so
 * that gen is that of the table sh was found in. */
static void
remember_locked(CURL *easy, struct shim_handle *sh)
{
	hdl_last.easy = easy;
	hdl_last.sh = sh;
	hdl_last.gen = atomic_load_explicit(&hdl_gen, memory_order_relaxed);
}

/* The thread's last lookup when it was of easy and is still valid. */
static inline struct shim_handle *
hdl_lookup_cached(CURL *easy)
{
	const struct hdl_last *last = &hdl_last;

	if (last->easy == easy && last->gen ==
	    atomic_load_explicit(&hdl_gen, memory_order_acquire))
		return last->sh;
	return NULL;
}

struct shim_handle *
hdl_lookup(CURL *easy)
{
	struct shim_handle *sh;

	if (easy == NULL)
		return NULL;
	if ((sh = hdl_lookup_cached(easy)) != NULL)
		return sh;
	hdl_atfork_init();
	pthread_mutex_lock(&hdl_lock);
	if ((sh = find_locked(easy)) != NULL)
		remember_locked(easy, sh);
	pthread_mutex_unlock(&hdl_lock);
	return sh;
}

/*
 * Freed states kept for the next handles, their transfer state (x) with
 * them: a program making one handle per transfer (the curl tool does)
 * then allocates nothing after its first few.  Under hdl_lock.
 */
#define HDL_SPARE_MAX	16

static struct shim_handle *hdl_spare;
static unsigned hdl_nspare;

/* A zeroed state for easy, linked into bucket b, from the spares; NULL
 * when there is none.  Under hdl_lock. */
static struct shim_handle *
insert_spare_locked(CURL *easy, size_t b)
{
	struct shim_handle *sh = hdl_spare;
	struct shim_xfer *x;

	if (sh == NULL)
		return NULL;
	hdl_spare = sh->next;
	hdl_nspare--;
	x = sh->x;
	memset(sh, 0, sizeof(*sh));
	sh->x = x;
	sh->easy = easy;
	sh->next = hdl_table[b];
	hdl_table[b] = sh;
	return sh;
}

/* Unlink the state of easy (NULL if none), under hdl_lock. */
static struct shim_handle *
unlink_locked(CURL *easy)
{
	struct shim_handle **pp, *sh;

	for (pp = &hdl_table[bucket(easy)]; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->easy == easy) {
			sh = *pp;
			*pp = sh->next;
			sh->next = NULL;
			/* every thread's cached lookup is stale now */
			atomic_fetch_add_explicit(&hdl_gen, 1,
			    memory_order_release);
			return sh;
		}
	}
	return NULL;
}

/* hdl_get(), and with fresh set hdl_fresh(): one pass under the lock. */
static struct shim_handle *
get(CURL *easy, int fresh)
{
	struct shim_handle *sh, *old = NULL, *nsh;
	size_t b;

	if (easy == NULL)
		return NULL;
	if (!fresh && (sh = hdl_lookup_cached(easy)) != NULL)
		return sh;
	b = bucket(easy);
	hdl_atfork_init();
	pthread_mutex_lock(&hdl_lock);
	if (fresh)
		old = unlink_locked(easy);
	else if ((sh = find_locked(easy)) != NULL)
		goto out;
	sh = insert_spare_locked(easy, b);
out:
	if (sh != NULL)
		remember_locked(easy, sh);
	pthread_mutex_unlock(&hdl_lock);
	if (old != NULL)
		hdl_free(old);
	if (sh != NULL)
		return sh;
	/* no spare: allocate outside the lock; another thread cannot add
	   the same handle (one thread uses a handle at a time) */
	if ((nsh = calloc(1, sizeof(*nsh))) == NULL) {
		shim_debug("out of memory for a handle's state");
		return NULL;
	}
	nsh->easy = easy;
	pthread_mutex_lock(&hdl_lock);
	if ((sh = find_locked(easy)) == NULL) {
		nsh->next = hdl_table[b];
		hdl_table[b] = nsh;
		sh = nsh;
		nsh = NULL;
	}
	remember_locked(easy, sh);
	pthread_mutex_unlock(&hdl_lock);
	free(nsh);
	return sh;
}

struct shim_handle *
hdl_get(CURL *easy)
{
	return get(easy, 0);
}

struct shim_handle *
hdl_fresh(CURL *easy)
{
	return get(easy, 1);
}

struct shim_handle *
hdl_remove(CURL *easy)
{
	struct shim_handle *sh;

	if (easy == NULL)
		return NULL;
	hdl_atfork_init();
	pthread_mutex_lock(&hdl_lock);
	sh = unlink_locked(easy);
	pthread_mutex_unlock(&hdl_lock);
	return sh;
}

void
hdl_free(struct shim_handle *sh)
{
	if (sh == NULL)
		return;
	hdl_atfork_init();
	pthread_mutex_lock(&hdl_lock);
	if (hdl_nspare < HDL_SPARE_MAX) {
		sh->next = hdl_spare;
		hdl_spare = sh;
		hdl_nspare++;
		sh = NULL;
	}
	pthread_mutex_unlock(&hdl_lock);
	if (sh != NULL) {
		free(sh->x);
		free(sh);
	}
}

void
hdl_set_multi(struct shim_handle *sh, CURLM *multi)
{
	pthread_mutex_lock(&hdl_lock);
	sh->multi = multi;
	pthread_mutex_unlock(&hdl_lock);
}

int
hdl_collect_multi(CURLM *multi, struct shim_handle ***out, size_t *n)
{
	struct shim_handle **v = NULL, **nv, *sh;
	size_t cap = 0, cnt = 0, b;

	*out = NULL;
	*n = 0;
	hdl_atfork_init();
	pthread_mutex_lock(&hdl_lock);
	for (b = 0; b < HDL_BUCKETS; b++) {
		for (sh = hdl_table[b]; sh != NULL; sh = sh->next) {
			if (sh->multi != multi)
				continue;
			if (cnt == cap) {
				cap = cap ? cap * 2 : 8;
				nv = realloc(v, cap * sizeof(*v));
				if (nv == NULL)
					goto err;
				v = nv;
			}
			v[cnt++] = sh;
		}
	}
	pthread_mutex_unlock(&hdl_lock);
	*out = v;
	*n = cnt;
	return 0;
err:
	pthread_mutex_unlock(&hdl_lock);
	free(v);
	shim_debug("out of memory listing a multi handle's transfers");
	return -1;
}

static void
fork_prepare(void)
{
	pthread_mutex_lock(&hdl_lock);
}

static void
fork_parent(void)
{
	pthread_mutex_unlock(&hdl_lock);
}

static void
fork_child(void)
{
	pthread_mutex_unlock(&hdl_lock);
	send_atfork_child();
}

static void
register_fork(void)
{
	if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
		shim_debug("pthread_atfork failed");
}

void
hdl_atfork_init(void)
{
	(void)pthread_once(&hdl_fork_once, register_fork);
}
