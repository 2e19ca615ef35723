/*
 * Finding the real library behind each caller of a hook (see resolve.h):
 * the caller's libcurl for the curl_* hooks, its libssl or libgnutls for
 * the TLS hooks (a "family" each, one way of finding them).
 *
 * The caller's return address is mapped to the loaded object it lies in
 * (dladdr1 with RTLD_DL_LINKMAP), that object to a library of the family:
 * itself when it is one, else the first found breadth-first in its
 * DT_NEEDED tree, else the first after the shim in the global scope.  Each
 * library gets one table of real functions, built once (published under
 * resolve_mu) from a handle opened with RTLD_NOLOAD (so the shim never
 * loads a library) and kept open, which pins that library for the life of
 * the process: a table can never point into an unloaded library.
 *
 * Fast path: each thread's last answer (a range and its table, in
 * initial-exec TLS), then a small array of [start, end) address ranges
 * (the caller's loadable segment) to tables, read without locks under a
 * sequence counter, so a hook costs a few loads after the first call from
 * an object.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <sys/auxv.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ratetap/curlname.h"
#include "ratetap/paths.h"
#include "resolve.h"
#include "resolve_int.h"

#define RANGE_SLOTS	32	/* cached caller ranges */
#define BFS_MAX		256	/* objects per DT_NEEDED walk */

/* An answer: a table's address with RES_CALLER_* flags in its low bits
 * (tables are malloc'ed, so aligned), 0 for none usable. */
#define ANS_FLAGS	RES_ANS_FLAGS

struct range {
	_Atomic uintptr_t start;	/* first address of the segment */
	_Atomic uintptr_t end;		/* one past its last address */
	_Atomic int fam;		/* the family asked for */
	_Atomic uintptr_t ans;		/* the answer */
};

struct table {
	const void *lib;	/* the library's link_map */
	int fam;
	void *fns;		/* the family's table (its first member is
				   lib) */
	void *handle;		/* RTLD_NOLOAD handle, never closed */
	int usable;		/* 0: some required entry missing or bad */
	struct table *next;
};

static struct range ranges[RANGE_SLOTS];
static _Atomic unsigned ranges_seq;	/* odd while being changed */
static unsigned ranges_next;		/* next slot (under resolve_mu) */

/*
 * Each thread's last two answers (struct resolve_last, resolve.h): most
 * hooked calls come from the same object as one of the two before (the
 * program, and libcurl calling its own exported functions), so a hit
 * costs a compare or two and a load.  Valid while resolve_gen has not
 * moved (a flush: objects were unloaded).  initial-exec, like shim_busy:
 * no __tls_get_addr.
 */
__thread struct resolve_last resolve_last[RES_NFAM]
    __attribute__((tls_model("initial-exec")));
_Atomic unsigned resolve_gen;	/* bumped by every flush */

static pthread_mutex_t resolve_mu = PTHREAD_MUTEX_INITIALIZER;
static struct table *tables;		/* under resolve_mu */

/* Which struct curl_fns member each libcurl symbol fills. */
static const struct resolve_sym fn_syms[] = {
	{ "curl_easy_init", offsetof(struct curl_fns, easy_init), 0 },
	{ "curl_easy_perform", offsetof(struct curl_fns, easy_perform), 0 },
	{ "curl_easy_setopt", offsetof(struct curl_fns, easy_setopt), 0 },
	{ "curl_easy_getinfo", offsetof(struct curl_fns, easy_getinfo), 0 },
	{ "curl_easy_duphandle", offsetof(struct curl_fns, easy_duphandle), 0 },
	{ "curl_easy_reset", offsetof(struct curl_fns, easy_reset), 0 },
	{ "curl_easy_cleanup", offsetof(struct curl_fns, easy_cleanup), 0 },
	{ "curl_easy_header", offsetof(struct curl_fns, easy_header), 1 },
	{ "curl_easy_nextheader", offsetof(struct curl_fns, easy_nextheader),
	    1 },
	{ "curl_multi_add_handle", offsetof(struct curl_fns, multi_add_handle),
	    0 },
	{ "curl_multi_remove_handle",
	    offsetof(struct curl_fns, multi_remove_handle), 0 },
	{ "curl_multi_info_read", offsetof(struct curl_fns, multi_info_read),
	    0 },
	{ "curl_multi_cleanup", offsetof(struct curl_fns, multi_cleanup), 0 },
	{ "curl_url_get", offsetof(struct curl_fns, url_get), 1 },
	{ "curl_free", offsetof(struct curl_fns, free), 1 },
};

/* what curl_url_get returns is freed with curl_free: one without the
 * other is of no use */
static void
curl_fixup(void *table)
{
	struct curl_fns *f = table;

	if (f->url_get == NULL || f->free == NULL) {
		f->url_get = NULL;
		f->free = NULL;
	}
}

static const struct resolve_family curl_family = {
	.fam = RES_CURL,
	.probe = "curl_easy_perform",
	.soname = NULL,
	.syms = fn_syms,
	.nsyms = sizeof(fn_syms) / sizeof(fn_syms[0]),
	.size = sizeof(struct curl_fns),
	.fixup = curl_fixup,
};

__attribute__((no_sanitize("address", "thread", "undefined"))) static uintptr_t
dyn_addr(uintptr_t base, uintptr_t v)
{
	if (v == 0)
		return 0;
	return (base != 0 && v < base) ? base + v : v;
}

int
resolve_dyn_read(uintptr_t base, const ElfW(Dyn) *dyn, struct resolve_dyn *out)
{
	const ElfW(Dyn) *d;
	size_t soname = 0, rpath = 0, runpath = 0;
	int has_soname = 0, has_rpath = 0, has_runpath = 0;

	memset(out, 0, sizeof(*out));
	if (dyn == NULL)
		return -1;
	out->dyn = dyn;
	for (d = dyn; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB:
			out->symtab = (const ElfW(Sym) *)dyn_addr(base,
			    d->d_un.d_ptr);
			break;
		case DT_STRTAB:
			out->strtab = (const char *)dyn_addr(base,
			    d->d_un.d_ptr);
			break;
		case DT_STRSZ:
			out->strsz = d->d_un.d_val;
			break;
		case DT_RELA:
			out->rela = (const void *)dyn_addr(base, d->d_un.d_ptr);
			break;
		case DT_RELASZ:
			out->relasz = d->d_un.d_val;
			break;
		case DT_REL:
			out->rel = (const void *)dyn_addr(base, d->d_un.d_ptr);
			break;
		case DT_RELSZ:
			out->relsz = d->d_un.d_val;
			break;
		case DT_RELACOUNT:
			out->relacount = d->d_un.d_val;
			break;
		case DT_RELCOUNT:
			out->relcount = d->d_un.d_val;
			break;
		case DT_JMPREL:
			out->jmprel = (const void *)dyn_addr(base,
			    d->d_un.d_ptr);
			break;
		case DT_PLTRELSZ:
			out->pltrelsz = d->d_un.d_val;
			break;
		case DT_PLTREL:
			out->pltrel = (int)d->d_un.d_val;
			break;
		case DT_GNU_HASH:
			out->gnu_hash = (const uint32_t *)dyn_addr(base,
			    d->d_un.d_ptr);
			break;
		case DT_SONAME:
			soname = d->d_un.d_val;
			has_soname = 1;
			break;
		case DT_RPATH:
			rpath = d->d_un.d_val;
			has_rpath = 1;
			break;
		case DT_RUNPATH:
			runpath = d->d_un.d_val;
			has_runpath = 1;
			break;
		default:
			break;
		}
	}
	if (out->strtab == NULL)
		return -1;
	if (has_soname)
		out->soname = resolve_dyn_str(out, soname);
	if (has_rpath)
		out->rpath = resolve_dyn_str(out, rpath);
	if (has_runpath)
		out->runpath = resolve_dyn_str(out, runpath);
	return 0;
}

const char *
resolve_dyn_str(const struct resolve_dyn *d, size_t off)
{
	if (d->strtab == NULL || (d->strsz != 0 && off >= d->strsz))
		return NULL;
	return d->strtab + off;
}

/* 1 when the object described by d defines name, looked up in its
 * DT_GNU_HASH table; -1 when it has none. */
static int
gnu_defines(const struct resolve_dyn *d, const char *name)
{
	const uint32_t *gh = d->gnu_hash, *buckets, *chain;
	const ElfW(Addr) *bloom;
	uint32_t nbuckets, symoffset, nbloom, shift, h = 5381, sym;
	const unsigned char *c;
	ElfW(Addr) word, mask;
	const unsigned bits = sizeof(ElfW(Addr)) * 8;

	if (gh == NULL || d->symtab == NULL)
		return -1;
	nbuckets = gh[0];
	symoffset = gh[1];
	nbloom = gh[2];
	shift = gh[3];
	if (nbuckets == 0 || nbloom == 0)
		return 0;
	for (c = (const unsigned char *)name; *c != '\0'; c++)
		h = h * 33 + *c;
	bloom = (const ElfW(Addr) *)(const void *)(gh + 4);
	word = bloom[(h / bits) % nbloom];
	mask = ((ElfW(Addr))1 << (h % bits)) |
	    ((ElfW(Addr))1 << ((h >> shift) % bits));
	if ((word & mask) != mask)
		return 0;
	buckets = (const uint32_t *)(const void *)(bloom + nbloom);
	chain = buckets + nbuckets;
	if ((sym = buckets[h % nbuckets]) < symoffset)
		return 0;
	for (;; sym++) {
		uint32_t h2 = chain[sym - symoffset];
		const char *n;

		if ((h | 1) == (h2 | 1) &&
		    (n = resolve_dyn_str(d, d->symtab[sym].st_name)) != NULL &&
		    strcmp(n, name) == 0 &&
		    d->symtab[sym].st_shndx != SHN_UNDEF)
			return 1;
		if (h2 & 1)
			return 0;
	}
}

extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

/*
 * resolve_next_defined() runs inside the dlsym hook, which a sanitizer
 * runtime calls while it initialises itself (to find the functions it
 * intercepts): before its shadow memory exists, and before its own
 * interceptors of dl_iterate_phdr(), strcmp() and memset() work.  So this
 * path is built without sanitizer instrumentation and calls no libc
 * function but getauxval(): the objects are found through the program's
 * DT_DEBUG entry (the loader's struct r_debug), symbols read by hand.
 */
#define NO_SAN	__attribute__((no_sanitize("address", "thread", "undefined")))

NO_SAN static int
same_str(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* The definition of the function name in the object at base with dynamic
 * section dyn, through its DT_GNU_HASH table; NULL when none. */
NO_SAN static void *
obj_function(uintptr_t base, const ElfW(Dyn) *dyn, const char *name)
{
	const ElfW(Sym) *symtab = NULL;
	const uint32_t *gh = NULL, *buckets, *chain;
	const ElfW(Addr) *bloom;
	const char *strtab = NULL;
	const ElfW(Dyn) *d;
	uint32_t nbuckets, symoffset, nbloom, shift, h = 5381, sym;
	const unsigned char *c;
	ElfW(Addr) word, mask;
	const unsigned bits = sizeof(ElfW(Addr)) * 8;

	if (dyn == NULL)
		return NULL;
	for (d = dyn; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_SYMTAB)
			symtab = (const ElfW(Sym) *)dyn_addr(base,
			    d->d_un.d_ptr);
		else if (d->d_tag == DT_STRTAB)
			strtab = (const char *)dyn_addr(base, d->d_un.d_ptr);
		else if (d->d_tag == DT_GNU_HASH)
			gh = (const uint32_t *)dyn_addr(base, d->d_un.d_ptr);
	}
	if (gh == NULL || symtab == NULL || strtab == NULL)
		return NULL;
	nbuckets = gh[0];
	symoffset = gh[1];
	nbloom = gh[2];
	shift = gh[3];
	if (nbuckets == 0 || nbloom == 0)
		return NULL;
	for (c = (const unsigned char *)name; *c != '\0'; c++)
		h = h * 33 + *c;
	bloom = (const ElfW(Addr) *)(const void *)(gh + 4);
	word = bloom[(h / bits) % nbloom];
	mask = ((ElfW(Addr))1 << (h % bits)) |
	    ((ElfW(Addr))1 << ((h >> shift) % bits));
	if ((word & mask) != mask)
		return NULL;
	buckets = (const uint32_t *)(const void *)(bloom + nbloom);
	chain = buckets + nbuckets;
	if ((sym = buckets[h % nbuckets]) < symoffset)
		return NULL;
	for (;; sym++) {
		uint32_t h2 = chain[sym - symoffset];
		const ElfW(Sym) *es = &symtab[sym];

		if ((h | 1) == (h2 | 1) && es->st_shndx != SHN_UNDEF &&
		    (es->st_info & 0xf) == STT_FUNC &&
		    same_str(strtab + es->st_name, name))
			return (void *)(base + es->st_value);
		if (h2 & 1)
			return NULL;
	}
}

/* The loader's list of objects, from the program's DT_DEBUG entry; NULL
 * when the program has none. */
NO_SAN static struct link_map *
loaded_objects(void)
{
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	size_t n = getauxval(AT_PHNUM), i;
	const ElfW(Dyn) *d = NULL;
	uintptr_t bias = 0;

	if (ph == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (ph[i].p_type == PT_PHDR)
			bias = (uintptr_t)ph - ph[i].p_vaddr;
	for (i = 0; i < n; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			d = (const ElfW(Dyn) *)(bias + ph[i].p_vaddr);
	for (; d != NULL && d->d_tag != DT_NULL; d++)
		if (d->d_tag == DT_DEBUG && d->d_un.d_ptr != 0)
			return ((const struct r_debug *)d->d_un.d_ptr)->r_map;
	return NULL;
}

NO_SAN static int
early_in_self(const void *p)
{
	const ElfW(Ehdr) *eh = &__ehdr_start;
	uintptr_t at = (uintptr_t)eh + eh->e_phoff, bias = 0, a = (uintptr_t)p;
	const ElfW(Phdr) *ph;
	ElfW(Half) i;

	__asm__("" : "+r"(at));
	ph = (const ElfW(Phdr) *)at;
	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
			bias = (uintptr_t)eh - ph[i].p_vaddr;
			break;
		}
	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && a >= bias + ph[i].p_vaddr &&
		    a < bias + ph[i].p_vaddr + ph[i].p_memsz)
			return 1;
	return 0;
}

NO_SAN void *
resolve_next_defined(const char *name)
{
	struct link_map *lm;
	void *p;

	for (lm = loaded_objects(); lm != NULL; lm = lm->l_next)
		if ((p = obj_function(lm->l_addr, lm->l_ld, name)) != NULL &&
		    !early_in_self(p))
			return p;
	return NULL;
}

/* dl_iterate_phdr callback: the first object is the program. */
static int
main_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	ElfW(Half) i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) {
			*(struct resolve_dyn *)arg = (struct resolve_dyn){ 0 };
			(void)resolve_dyn_read(info->dlpi_addr,
			    (const ElfW(Dyn) *)(info->dlpi_addr +
			    info->dlpi_phdr[i].p_vaddr), arg);
			break;
		}
	return 1;
}

int
resolve_program_defines(const char *name)
{
	struct resolve_dyn d;
	int r;

	memset(&d, 0, sizeof(d));
	dl_iterate_phdr(main_cb, &d);
	if ((r = gnu_defines(&d, name)) != -1)
		return r;
	/* no GNU hash table: ask the loader (a failed lookup costs it an
	   error message, and malloc) */
	return dlsym(RTLD_DEFAULT, name) != NULL;
}

int
resolve_is_libcurl(const char *path, const char *soname)
{
	return rt_libcurl_name(path) || rt_libcurl_name(soname);
}

static int
tls_family(int t)
{
	return t == RT_TLS_OPENSSL ? RES_SSL : t == RT_TLS_GNUTLS ?
	    RES_GNUTLS : -1;
}

int
resolve_family_of(const char *path, const char *soname)
{
	int t;

	if (resolve_is_libcurl(path, soname))
		return RES_CURL;
	if ((t = rt_tlslib_name(path)) == RT_TLS_NONE)
		t = rt_tlslib_name(soname);
	return tls_family(t);
}

int
resolve_family_of_sym(const char *name)
{
	if (name[0] == 'c' && strncmp(name, "curl_", 5) == 0)
		return RES_CURL;
	if (name[0] == 'S' && strncmp(name, "SSL_", 4) == 0)
		return RES_SSL;
	if (name[0] == 'g' && strncmp(name, "gnutls_", 7) == 0)
		return RES_GNUTLS;
	return -1;
}

/* The shim's own ELF header (the linker defines it in every object):
 * where the shim was loaded, and its program headers. */

/* The shim's address range, [*lo, *hi), from its own PT_LOAD segments:
 * a few dozen instructions, no state (nothing to initialise, no page of
 * data touched at start-up). */
static void
self_range(uintptr_t *lo, uintptr_t *hi)
{
	const ElfW(Ehdr) *eh = &__ehdr_start;
	uintptr_t at = (uintptr_t)eh + eh->e_phoff, bias = 0;
	const ElfW(Phdr) *ph;
	ElfW(Half) i;

	/* the program headers follow the ELF header in the mapped image: an
	   address the compiler must not judge by the size of __ehdr_start */
	__asm__("" : "+r"(at));
	ph = (const ElfW(Phdr) *)at;

	*lo = UINTPTR_MAX;
	*hi = 0;
	/* the header lies at the start of the segment mapping offset 0 */
	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
			bias = (uintptr_t)eh - ph[i].p_vaddr;
			break;
		}
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (bias + ph[i].p_vaddr < *lo)
			*lo = bias + ph[i].p_vaddr;
		if (bias + ph[i].p_vaddr + ph[i].p_memsz > *hi)
			*hi = bias + ph[i].p_vaddr + ph[i].p_memsz;
	}
}

const void *
resolve_self_base(void)
{
	return &__ehdr_start;
}

int
resolve_in_self(const void *p)
{
	uintptr_t lo, hi;

	self_range(&lo, &hi);
	return (uintptr_t)p >= lo && (uintptr_t)p < hi;
}

/* The link_map and the loadable segment [*start, *end) holding addr. */
struct seg_query {
	uintptr_t addr;
	uintptr_t base;
	uintptr_t start, end;
	int found;
};

static int
seg_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct seg_query *q = arg;
	ElfW(Half) i;

	(void)size;
	if (info->dlpi_addr != q->base)
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t s, e;

		if (ph->p_type != PT_LOAD)
			continue;
		s = info->dlpi_addr + ph->p_vaddr;
		e = s + ph->p_memsz;
		if (q->addr >= s && q->addr < e) {
			q->start = s;
			q->end = e;
			q->found = 1;
			return 1;
		}
	}
	return 0;
}

static int
caller_object(const void *caller, struct link_map **lm, uintptr_t *start,
    uintptr_t *end)
{
	struct seg_query q;
	Dl_info info;
	void *extra = NULL;

	if (caller == NULL || dladdr1(caller, &info, &extra,
	    RTLD_DL_LINKMAP) == 0 || extra == NULL)
		return -1;
	*lm = extra;
	memset(&q, 0, sizeof(q));
	q.addr = (uintptr_t)caller;
	q.base = (*lm)->l_addr;
	dl_iterate_phdr(seg_cb, &q);
	if (!q.found)
		return -1;
	*start = q.start;
	*end = q.end;
	return 0;
}

/* The family of a loaded object, -1 for none. */
static int
map_family(const struct link_map *lm)
{
	struct resolve_dyn d;
	const char *soname = NULL;

	if (resolve_dyn_read(lm->l_addr, lm->l_ld, &d) == 0)
		soname = d.soname;
	return resolve_family_of(lm->l_name, soname);
}

static int
map_is_libcurl(const struct link_map *lm)
{
	return map_family(lm) == RES_CURL;
}

/* The loaded object named by a DT_NEEDED entry, without loading anything. */
static struct link_map *
needed_map(const char *name)
{
	struct link_map *lm = NULL;
	void *h;

	h = dlhook_real_dlopen(name, RTLD_NOLOAD | RTLD_LAZY);
	if (h == NULL)
		return NULL;
	if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0)
		lm = NULL;
	/* Only drops the reference just taken: the object stays loaded. */
	if (dlclose(h) != 0)
		return NULL;
	return lm;
}

/* Breadth-first through the DT_NEEDED tree of root: the first library of
 * family fam. */
static struct link_map *
needed_lib(struct link_map *root, int fam)
{
	struct link_map **queue;
	struct link_map *found = NULL;
	size_t head = 0, tail = 0, i;

	queue = calloc(BFS_MAX, sizeof(*queue));
	if (queue == NULL)
		return NULL;
	queue[tail++] = root;
	while (head < tail && found == NULL) {
		struct link_map *lm = queue[head++];
		struct resolve_dyn d;
		const ElfW(Dyn) *dy;

		if (resolve_dyn_read(lm->l_addr, lm->l_ld, &d) == -1)
			continue;
		/* A dependency named as one of the family's libraries is
		 * nearly always the answer: looked up first, alone (each
		 * look-up takes the loader's lock and walks its list). */
		for (dy = d.dyn; dy->d_tag != DT_NULL; dy++) {
			struct link_map *dep;
			const char *name;

			if (dy->d_tag != DT_NEEDED)
				continue;
			name = resolve_dyn_str(&d, dy->d_un.d_val);
			if (name != NULL && resolve_family_of(name, NULL) ==
			    fam && (dep = needed_map(name)) != NULL &&
			    map_family(dep) == fam) {
				found = dep;
				break;
			}
		}
		if (found != NULL)
			break;
		for (dy = d.dyn; dy->d_tag != DT_NULL; dy++) {
			struct link_map *dep;
			const char *name;
			int seen = 0;

			if (dy->d_tag != DT_NEEDED)
				continue;
			name = resolve_dyn_str(&d, dy->d_un.d_val);
			if (name == NULL || (dep = needed_map(name)) == NULL)
				continue;
			if (map_family(dep) == fam) {
				found = dep;
				break;
			}
			for (i = 0; i < tail; i++)
				if (queue[i] == dep)
					seen = 1;
			if (!seen && tail < BFS_MAX)
				queue[tail++] = dep;
		}
	}
	free(queue);
	return found;
}

/* Objects that found their libcurl with dlsym() (resolve_bind). */
#define BIND_MAX	16

static struct {
	const struct link_map *obj;
	struct link_map *lib;
} binds[BIND_MAX];			/* under resolve_mu */
static size_t nbinds;

static struct link_map *
bound_libcurl(const struct link_map *obj)
{
	struct link_map *lib = NULL;
	size_t i;

	if (pthread_mutex_lock(&resolve_mu) != 0)
		return NULL;
	for (i = 0; i < nbinds; i++)
		if (binds[i].obj == obj)
			lib = binds[i].lib;
	pthread_mutex_unlock(&resolve_mu);
	return lib;
}

const void *
resolve_libcurl_at(const void *addr)
{
	void *extra = NULL;
	Dl_info info;

	if (addr == NULL || dladdr1(addr, &info, &extra,
	    RTLD_DL_LINKMAP) == 0 || extra == NULL)
		return NULL;
	return map_is_libcurl(extra) ? extra : NULL;
}

int
resolve_bind(const void *caller, const void *lib)
{
	struct link_map *obj;
	uintptr_t start, end;
	size_t i;

	if (caller_object(caller, &obj, &start, &end) == -1)
		return -1;
	if (pthread_mutex_lock(&resolve_mu) != 0)
		return -1;
	for (i = 0; i < nbinds && binds[i].obj != obj; i++)
		;
	if (i == BIND_MAX) {
		pthread_mutex_unlock(&resolve_mu);
		shim_debug("too many objects loading libcurl with dlsym(): "
		    "%s not tapped", obj->l_name);
		return -1;
	}
	binds[i].obj = obj;
	binds[i].lib = (struct link_map *)(uintptr_t)lib;
	if (i == nbinds)
		nbinds++;
	pthread_mutex_unlock(&resolve_mu);
	/* an answer cached for the caller before is wrong now */
	resolve_flush_ranges();
	return 0;
}

/* The library of the family that the global scope offers after the
 * shim. */
static struct link_map *
global_lib(const struct resolve_family *fam)
{
	void *sym, *extra = NULL;
	Dl_info info;

	sym = dlsym(RTLD_NEXT, fam->probe);
	if (sym == NULL || dladdr1(sym, &info, &extra, RTLD_DL_LINKMAP) == 0 ||
	    extra == NULL || info.dli_fbase == resolve_self_base())
		return NULL;
	return map_family(extra) == fam->fam ? extra : NULL;
}

/* The family's library by its usual soname, when it is loaded. */
static struct link_map *
soname_lib(const struct resolve_family *fam)
{
	struct link_map *lm;

	if (fam->soname == NULL || (lm = needed_map(fam->soname)) == NULL)
		return NULL;
	return map_family(lm) == fam->fam ? lm : NULL;
}

/* 1 when every required entry of table f is set and none points into the
 * shim. */
static int
table_check(const struct resolve_family *fam, const void *f,
    const char *libname)
{
	size_t i;

	for (i = 0; i < fam->nsyms; i++) {
		void *p;

		memcpy(&p, (const char *)f + fam->syms[i].off, sizeof(p));
		if (p == NULL) {
			if (fam->syms[i].optional)
				continue;
			shim_debug("%s lacks %s: its calls are refused",
			    libname, fam->syms[i].name);
			return 0;
		}
		if (resolve_in_self(p)) {
			shim_debug("%s resolves %s into the shim itself: "
			    "its calls are refused", libname,
			    fam->syms[i].name);
			return 0;
		}
	}
	return 1;
}

/* table_check() of a libcurl's table (check_resolve). */
__attribute__((unused)) static int
fns_check(const struct curl_fns *f, const char *libname)
{
	return table_check(&curl_family, f, libname);
}

/* A new table for lib, built without holding resolve_mu (the lookups take
 * the dynamic loader's lock, which a thread inside dlopen() holds while it
 * runs constructors that may call curl). */
static struct table *
table_build(const struct resolve_family *fam, struct link_map *lib)
{
	struct table *t;
	void *h;
	size_t i;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->fns = calloc(1, fam->size)) == NULL) {
		free(t);
		return NULL;
	}
	t->lib = lib;
	t->fam = fam->fam;
	memcpy(t->fns, &t->lib, sizeof(t->lib));
	h = dlhook_real_dlopen(lib->l_name, RTLD_NOLOAD | RTLD_LAZY);
	if (h == NULL) {
		shim_debug("cannot open loaded %s", lib->l_name);
		return t;
	}
	t->handle = h;
	for (i = 0; i < fam->nsyms; i++) {
		void *p = dlsym(h, fam->syms[i].name);

		memcpy((char *)t->fns + fam->syms[i].off, &p, sizeof(p));
	}
	if (fam->fixup != NULL)
		fam->fixup(t->fns);
	t->usable = table_check(fam, t->fns, lib->l_name);
	return t;
}

static struct table *
table_find(int fam, const struct link_map *lib)
{
	struct table *t;

	for (t = tables; t != NULL; t = t->next)
		if (t->lib == lib && t->fam == fam)
			return t;
	return NULL;
}

static void
range_add(uintptr_t start, uintptr_t end, int fam, uintptr_t ans)
{
	struct range *r = &ranges[ranges_next];
	unsigned s;

	ranges_next = (ranges_next + 1) % RANGE_SLOTS;
	s = atomic_load_explicit(&ranges_seq, memory_order_relaxed);
	atomic_store_explicit(&ranges_seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&r->start, start, memory_order_relaxed);
	atomic_store_explicit(&r->end, end, memory_order_relaxed);
	atomic_store_explicit(&r->fam, fam, memory_order_relaxed);
	atomic_store_explicit(&r->ans, ans, memory_order_relaxed);
	atomic_store_explicit(&ranges_seq, s + 2, memory_order_release);
}

void
resolve_flush_ranges(void)
{
	unsigned s;
	size_t i;

	if (pthread_mutex_lock(&resolve_mu) != 0)
		return;
	s = atomic_load_explicit(&ranges_seq, memory_order_relaxed);
	atomic_store_explicit(&ranges_seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (i = 0; i < RANGE_SLOTS; i++) {
		atomic_store_explicit(&ranges[i].start, 0,
		    memory_order_relaxed);
		atomic_store_explicit(&ranges[i].end, 0, memory_order_relaxed);
		atomic_store_explicit(&ranges[i].ans, 0, memory_order_relaxed);
	}
	ranges_next = 0;
	atomic_fetch_add_explicit(&resolve_gen, 1, memory_order_relaxed);
	atomic_store_explicit(&ranges_seq, s + 2, memory_order_release);
	pthread_mutex_unlock(&resolve_mu);
}

/* Lock-free lookup: 1 and *ans when addr lies in a cached range for the
 * family fam (and [*start, *end) is that range). */
static int
range_find(int fam, uintptr_t addr, uintptr_t *ans, uintptr_t *start,
    uintptr_t *end)
{
	unsigned s1, s2;
	size_t i;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		int hit = 0;
		uintptr_t found = 0;

		s1 = atomic_load_explicit(&ranges_seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		for (i = 0; i < RANGE_SLOTS; i++) {
			uintptr_t st = atomic_load_explicit(&ranges[i].start,
			    memory_order_relaxed);
			uintptr_t en = atomic_load_explicit(&ranges[i].end,
			    memory_order_relaxed);

			/* slots fill in order from 0 (and all empty after a
			   flush): the first empty one ends the list */
			if (en == 0)
				break;
			if (addr >= st && addr < en &&
			    atomic_load_explicit(&ranges[i].fam,
			    memory_order_relaxed) == fam) {
				found = atomic_load_explicit(&ranges[i].ans,
				    memory_order_relaxed);
				*start = st;
				*end = en;
				hit = 1;
				break;
			}
		}
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&ranges_seq, memory_order_relaxed);
		if (s1 == s2) {
			if (hit)
				*ans = found;
			return hit;
		}
	}
	return 0;
}

/* A fork while another thread holds resolve_mu must not leave it locked
 * in the child. */
static pthread_once_t res_fork_once = PTHREAD_ONCE_INIT;

static void
res_fork_prepare(void)
{
	(void)pthread_mutex_lock(&resolve_mu);
}

static void
res_fork_release(void)
{
	(void)pthread_mutex_unlock(&resolve_mu);
}

static void
res_fork_init(void)
{
	if (pthread_atfork(res_fork_prepare, res_fork_release,
	    res_fork_release) != 0)
		shim_debug("pthread_atfork failed");
}

static uintptr_t
resolve_slow(const struct resolve_family *fam, const void *caller)
{
	struct link_map *obj, *lib;
	struct table *t, *nt = NULL;
	uintptr_t start, end, ans = 0;
	const char *how, *objname;
	int ofam;

	if (pthread_once(&res_fork_once, res_fork_init) != 0)
		return 0;
	if (caller_object(caller, &obj, &start, &end) == -1) {
		shim_debug("no loaded object holds caller %p", caller);
		return 0;
	}
	objname = obj->l_name[0] != '\0' ? obj->l_name : "the program";
	how = "itself";
	ofam = map_family(obj);
	lib = ofam == fam->fam ? obj : NULL;
	if (lib == NULL) {
		how = "its DT_NEEDED";
		lib = needed_lib(obj, fam->fam);
	}
	if (lib == NULL && fam->fam == RES_CURL) {
		how = "dlsym()";
		lib = bound_libcurl(obj);
	}
	if (lib == NULL) {
		how = "its soname";
		lib = soname_lib(fam);
	}
	if (lib == NULL) {
		how = "the global scope";
		lib = global_lib(fam);
	}
	if (lib != NULL) {
		if (pthread_mutex_lock(&resolve_mu) != 0)
			return 0;
		t = table_find(fam->fam, lib);
		pthread_mutex_unlock(&resolve_mu);
		if (t == NULL && (nt = table_build(fam, lib)) == NULL)
			return 0;	/* out of memory: retried later */
	}
	if (pthread_mutex_lock(&resolve_mu) != 0)
		return 0;
	if (lib == NULL) {
		shim_debug("no %s found for %s", fam->probe, objname);
	} else {
		t = table_find(fam->fam, lib);
		if (t == NULL && nt != NULL) {
			/* Kept even when unusable: reported only once. */
			nt->next = tables;
			tables = t = nt;
			nt = NULL;
			shim_debug("%s uses %s (from %s)%s", objname,
			    lib->l_name, how, t->usable ? "" : ": unusable");
		}
		if (t->usable)
			ans = (uintptr_t)t->fns |
			    (ofam == RES_CURL ? RES_CALLER_CURL : 0);
	}
	range_add(start, end, fam->fam, ans);
	pthread_mutex_unlock(&resolve_mu);
	if (nt != NULL) {
		/* Another thread built the same table first. */
		if (nt->handle != NULL)
			(void)dlclose(nt->handle);
		free(nt->fns);
		free(nt);
	}
	return ans;
}

/* resolve_table() when the caller is in neither of the thread's last two
 * ranges for the family. */
__attribute__((noinline)) static uintptr_t
resolve_miss(const struct resolve_family *fam, const void *caller,
    unsigned gen)
{
	struct resolve_last *lr = &resolve_last[fam->fam];
	uintptr_t a = (uintptr_t)caller, start, end, ans;
	int saved;

	if (!range_find(fam->fam, a, &ans, &start, &end)) {
		saved = errno;
		ans = resolve_slow(fam, caller);
		errno = saved;
		/* cached by the next call, from the shared ranges */
		return ans;
	}
	if (lr->gen != gen) {
		lr->len[0] = 0;
		lr->gen = gen;
	}
	lr->start[1] = lr->start[0];
	lr->len[1] = lr->len[0];
	lr->ans[1] = lr->ans[0];
	lr->start[0] = start;
	lr->len[0] = end - start;
	lr->ans[0] = ans;
	return ans;
}

static inline uintptr_t
resolve_ans(const struct resolve_family *fam, const void *caller)
{
	const struct resolve_last *lr = &resolve_last[fam->fam];
	uintptr_t a = (uintptr_t)caller;
	unsigned gen = atomic_load_explicit(&resolve_gen, memory_order_relaxed);

	if (__builtin_expect(lr->gen == gen, 1)) {
		if (a - lr->start[0] < lr->len[0])
			return lr->ans[0];
		if (a - lr->start[1] < lr->len[1])
			return lr->ans[1];
	}
	return resolve_miss(fam, caller, gen);
}

const void *
resolve_table(const struct resolve_family *fam, const void *caller,
    unsigned *flags)
{
	uintptr_t ans = resolve_ans(fam, caller);

	if (flags != NULL)
		*flags = (unsigned)(ans & ANS_FLAGS);
	return (const void *)(ans & ~ANS_FLAGS);
}

const struct curl_fns *
resolve_fns_flags(const void *caller, unsigned *flags)
{
	uintptr_t ans = resolve_ans(&curl_family, caller);

	*flags = (unsigned)(ans & ANS_FLAGS);
	return (const struct curl_fns *)(ans & ~ANS_FLAGS);
}

const struct curl_fns *
resolve_fns(const void *caller)
{
	return (const struct curl_fns *)(resolve_ans(&curl_family, caller) &
	    ~ANS_FLAGS);
}

/* Weak: the resolver's unit test links no TLS layer. */
extern const struct resolve_family ossl_family __attribute__((weak));
extern const struct resolve_family gnutls_family __attribute__((weak));

void *
resolve_real(const char *name, const void *caller)
{
	const struct resolve_family *fam;
	const void *t;
	void *p;
	size_t i;

	switch (resolve_family_of_sym(name)) {
	case RES_CURL:
		fam = &curl_family;
		break;
	case RES_SSL:
		fam = &ossl_family;
		break;
	case RES_GNUTLS:
		fam = &gnutls_family;
		break;
	default:
		return NULL;
	}
	if (fam == NULL || (t = resolve_table(fam, caller, NULL)) == NULL)
		return NULL;
	for (i = 0; i < fam->nsyms; i++)
		if (strcmp(fam->syms[i].name, name) == 0) {
			memcpy(&p, (const char *)t + fam->syms[i].off,
			    sizeof(p));
			return p != NULL && !resolve_in_self(p) ? p : NULL;
		}
	return NULL;
}
