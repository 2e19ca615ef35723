/*
 * Finding the real libcurl functions behind the hooks, and making calls that
 * plain symbol interposition cannot reach go through the hooks.
 *
 * A process may hold several libcurls at once (libcurl.so.4 for the program,
 * libcurl-gnutls.so.4 loaded locally by python's pycurl, one loaded with
 * RTLD_DEEPBIND by php's curl extension).  A hook therefore forwards to the
 * libcurl of its caller: resolve_fns() maps the caller's return address to
 * the loaded object it belongs to, and that object to the libcurl in its
 * DT_NEEDED tree (an object that is itself a libcurl maps to itself, which
 * covers libcurl's own internal calls through its PLT).  Each libcurl gets one
 * table, resolved once; never a table whose entries point back into the shim,
 * and never a libcurl loaded by the shim (lookups use RTLD_NOLOAD).
 *
 * Where interposition cannot reach (objects bound with RTLD_DEEPBIND, the
 * shim dlopen'ed into a running process), got_patch_all() rewrites the
 * GOT entries of the hooked curl_* symbols (and of dlopen, pointed at the
 * dlopen hook) in every loaded object other than the shim and libcurl
 * itself, read from each object's dynamic section.  docs/hooking.md has the
 * details and what remains out of reach.
 */
#ifndef RATETAP_RESOLVE_H
#define RATETAP_RESOLVE_H

#include <stdatomic.h>
#include <stdint.h>

#include <curl/curl.h>

/* The real functions of one loaded libcurl.  Entries the library lacks are
 * NULL (easy_header and easy_nextheader need libcurl >= 7.84, url_get
 * 7.62; url_get is set only together with curl_free). */
struct curl_fns {
	const void *lib;	/* that libcurl's link_map */
	CURL *(*easy_init)(void);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURL *(*easy_duphandle)(CURL *);
	void (*easy_reset)(CURL *);
	void (*easy_cleanup)(CURL *);
	CURLHcode (*easy_header)(CURL *, const char *, size_t, unsigned int,
	    int, struct curl_header **);
	struct curl_header *(*easy_nextheader)(CURL *, unsigned int, int,
	    struct curl_header *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
	void (*free)(void *);	/* curl_free, for what url_get returns */
};

/* A hooked symbol and the hook that replaces it.  hooks.c defines
 * resolve_hooks[] (the curl_* hooks), tls.c resolve_tls_hooks[] (SSL_*,
 * gnutls_*), each terminated by { NULL, NULL }; got_patch_all() points GOT
 * entries for these names at these addresses. */
struct resolve_hook {
	const char *name;	/* e.g. "curl_easy_perform" */
	void *addr;		/* the shim's hook */
};

extern const struct resolve_hook resolve_hooks[];
extern const struct resolve_hook resolve_tls_hooks[];

/*
 * The library families the shim hooks: each hook forwards to the library
 * of its family that its caller uses, found the same way for all (see
 * resolve_table()).
 */
enum resolve_fam {
	RES_CURL = 0,		/* libcurl.so*, libcurl-<flavour>.so* */
	RES_SSL,		/* OpenSSL's libssl.so* */
	RES_GNUTLS,		/* libgnutls.so* */
	RES_NFAM
};

/* The family of the object named path (or soname), -1 for none.  Either
 * may be NULL. */
int resolve_family_of(const char *path, const char *soname);

/* The family a hooked symbol belongs to, from its prefix ("curl_",
 * "SSL_", "gnutls_"), -1 for none. */
int resolve_family_of_sym(const char *name);

/* One function of a family's table: its name, where it goes, and whether
 * the library may lack it. */
struct resolve_sym {
	const char *name;
	size_t off;		/* offset in the table */
	int optional;
};

/* What resolve_table() needs to know of a family. */
struct resolve_family {
	int fam;			/* enum resolve_fam */
	const char *probe;		/* a function every library of the
					   family exports (global scope) */
	const char *soname;		/* tried with RTLD_NOLOAD after the
					   caller's DT_NEEDED tree, or NULL */
	const struct resolve_sym *syms;
	size_t nsyms;
	size_t size;			/* of the table, whose first member
					   is const void *lib (link_map) */
	void (*fixup)(void *table);	/* after the lookups, or NULL */
};

/* The TLS families' tables (tls_ossl.c, tls_gnutls.c). */
extern const struct resolve_family ossl_family;
extern const struct resolve_family gnutls_family;

/*
 * The real function named name (a hooked curl_*, SSL_* or gnutls_* name)
 * that a hook called from caller forwards to: the member of
 * resolve_table()'s table for caller, or NULL when there is none.  Used to
 * take the shim out of the call path when it is off (got.c).
 */
void *resolve_real(const char *name, const void *caller);

/* resolve_table()'s *flags: the caller itself is a libcurl (its calls
 * into libssl/GnuTLS belong to the libcurl layer). */
#define RES_CALLER_CURL	1u

/*
 * The table of real functions of the library of family fam used by the
 * code at address caller (a hook's __builtin_return_address(0)): the
 * caller's object when it is one, else the first in its DT_NEEDED tree,
 * else (libcurl) one it found with dlsym(), else fam->soname if already
 * loaded, else the global scope's.  NULL when none can be found or the
 * table is unusable (a required function missing, or one resolving into
 * the shim).  *flags (may be NULL) gets RES_CALLER_CURL when the caller's
 * object is a libcurl.  Thread-safe; a few loads after the first call
 * from a given object (per-thread cache, then a lock-free shared one).
 */
const void *resolve_table(const struct resolve_family *fam,
    const void *caller, unsigned *flags);

/*
 * The table of the libcurl used by the code at address caller (a hook's
 * __builtin_return_address(0)).  Never NULL for a caller that uses a
 * libcurl; NULL when none can be found (the hook then fails the call the way
 * libcurl reports an unusable handle, and says why under RATETAP_DEBUG=1).
 * Thread-safe; cheap after the first call for a given object.
 */
const struct curl_fns *resolve_fns(const void *caller);

/* resolve_fns(), and in *flags RES_CALLER_CURL when the caller is inside
 * a libcurl (its own calls of its exported functions). */
const struct curl_fns *resolve_fns_flags(const void *caller,
    unsigned *flags);

/* The per-thread cache behind resolve_table(): the last two address
 * ranges looked up for each family and their answers (a table pointer,
 * flags in the low RES_ANS_FLAGS bits), valid while gen equals
 * resolve_gen. */
#define RES_ANS_FLAGS	((uintptr_t)3)

struct resolve_last {
	uintptr_t start[2];
	uintptr_t len[2];		/* 0: empty */
	uintptr_t ans[2];
	unsigned gen;
};

extern __thread struct resolve_last resolve_last[RES_NFAM]
    __attribute__((tls_model("initial-exec")));
extern _Atomic unsigned resolve_gen;

/*
 * resolve_fns() for the hottest hook, inlined: the answer when caller
 * is in one of this thread's last two ranges for libcurl, else NULL (the
 * caller then takes resolve_fns(), which also refills the cache).  A few
 * loads.
 */
static inline const struct curl_fns *
resolve_fns_cached(const void *caller)
{
	const struct resolve_last *lr = &resolve_last[RES_CURL];
	uintptr_t a = (uintptr_t)caller;

	if (__builtin_expect(lr->gen != atomic_load_explicit(&resolve_gen,
	    memory_order_relaxed), 0))
		return NULL;
	if (a - lr->start[0] < lr->len[0])
		return (const struct curl_fns *)(lr->ans[0] & ~RES_ANS_FLAGS);
	if (a - lr->start[1] < lr->len[1])
		return (const struct curl_fns *)(lr->ans[1] & ~RES_ANS_FLAGS);
	return NULL;
}

/*
 * Patch the GOT entries for the hooked curl_* symbols (and dlopen) of every
 * loaded object not yet patched (skipping the shim, ld.so, the vDSO and
 * libcurls), so that their calls reach the hooks.  Called from the shim's
 * constructor and after every dlopen().  When the shim is off
 * (RATETAP_DISABLE=1, setuid programs, ratetapd) it does the opposite: the
 * slots that reach a hook get the real function the hook would forward to
 * (see got_restore_start()).  Thread-safe, idempotent, cheap when nothing
 * was loaded since the last call.
 */
void got_patch_all(void);

/*
 * got_patch_all() for the shim's constructor.  When the shim's dlopen
 * is the one the global scope offers (LD_PRELOAD: the objects loaded with
 * the program bind through it), objects that do not link libcurl are not
 * even looked at (see got.c), and, the program not having started yet,
 * the fork handlers are registered later, by the next pass.
 */
void got_patch_start(void);

/*
 * The constructor's pass when the shim is off: it takes itself out of
 * the call path.  Every slot of the libraries of the hooked families and of
 * the objects that link one that interposition bound to a hook (or that a
 * lazy binding would bind there) is pointed at the real function, so that
 * an off shim costs nothing per call; so are those of what dlopen() loads
 * later.  Slots that reach dlopen's hook keep it (it restores what it
 * loads).
 */
void got_restore_start(void);

/*
 * 1 when the program (the executable, not a library) exports a definition
 * of name, read from its own dynamic symbol table: unlike a failing
 * dlsym(), no error is formatted and nothing is allocated.  Used at
 * start-up.
 */
int resolve_program_defines(const char *name);

/*
 * The link_map of the libcurl holding addr (a function dlsym() found), or
 * NULL when addr lies in no libcurl.
 */
const void *resolve_libcurl_at(const void *addr);

/*
 * Record that the object holding caller uses the libcurl lib (a link_map
 * from resolve_libcurl_at()): it found libcurl's functions with dlsym(),
 * and was handed the hooks instead, which must forward its calls there.
 * Consulted after the object's own DT_NEEDED tree, before the global
 * scope.  Returns 0, or -1 when no more objects can be recorded.
 */
int resolve_bind(const void *caller, const void *lib);

/*
 * The address of the function name as defined by the first loaded object
 * other than the shim, in load order, read from each object's DT_GNU_HASH
 * table (no dlsym(): the shim's own dlsym is a hook).  NULL when none
 * defines it.
 */
void *resolve_next_defined(const char *name);

#endif /* RATETAP_RESOLVE_H */
