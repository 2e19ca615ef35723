/*
 * GOT patching: pointing the GOT entries of the hooked curl_*, SSL_* and
 * gnutls_* symbols (and dlopen) of every loaded object at the shim's
 * hooks, for the calls that symbol interposition cannot reach: objects
 * loaded with RTLD_DEEPBIND (php's curl extension), and every object
 * already bound when the shim is dlopen'ed into a running process (plugin
 * mode).  An object gets the slots of a family (curl, ssl, gnutls) patched
 * when it links a library of that family and is not one itself.
 *
 * Everything is read from the objects' dynamic sections in memory: DT_JMPREL
 * (JUMP_SLOT relocations: PLT calls) and DT_RELA / DT_REL (GLOB_DAT: calls
 * built with -fno-plt, and function addresses taken).  A slot inside
 * PT_GNU_RELRO (made read-only by ld.so after relocation) is made writable
 * for the write and read-only again.  Skipped: the shim itself, ld.so, the
 * vDSO; a library's calls to its own family stay its own business unless
 * interposition reaches them (a libcurl's curl_* calls, libssl's SSL_*
 * ones), but a libcurl's calls into libssl or GnuTLS are patched: the TLS
 * hooks must see them to leave them to the libcurl layer.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ratetap/paths.h"
#include "resolve.h"
#include "resolve_int.h"

#if defined(__x86_64__)
#define R_JUMP_SLOT	R_X86_64_JUMP_SLOT
#define R_GLOB_DAT	R_X86_64_GLOB_DAT
#define R_RELATIVE	R_X86_64_RELATIVE
#elif defined(__aarch64__)
#define R_JUMP_SLOT	R_AARCH64_JUMP_SLOT
#define R_GLOB_DAT	R_AARCH64_GLOB_DAT
#define R_RELATIVE	R_AARCH64_RELATIVE
#elif defined(__i386__)
#define R_JUMP_SLOT	R_386_JMP_SLOT
#define R_GLOB_DAT	R_386_GLOB_DAT
#define R_RELATIVE	R_386_RELATIVE
#else
#error "GOT patching: unsupported architecture"
#endif

#if __ELF_NATIVE_CLASS == 64
#define R_SYM(i)	ELF64_R_SYM(i)
#define R_TYPE(i)	ELF64_R_TYPE(i)
#else
#define R_SYM(i)	ELF32_R_SYM(i)
#define R_TYPE(i)	ELF32_R_TYPE(i)
#endif

#define PATCH_MAX	40	/* hooked names, including dlopen */
#define DONE_FIRST	32	/* objects remembered without malloc */

/* An object already patched: identified by load address and program
 * headers (unique among the loaded objects at any time). */
struct done {
	uintptr_t base;
	const void *phdr;
	int seen;		/* found again in the current pass */
};

struct hook_name {
	const char *name;
	void *addr;
	int fam;		/* enum resolve_fam */
	uint32_t hash;		/* name_hash(name) */
};

/* hooks[] by name: 1 + index, 0 for an empty place (open addressing). */
#define HOOK_INDEX	(2 * PATCH_MAX + 1)

static pthread_mutex_t got_mu = PTHREAD_MUTEX_INITIALIZER;
static struct done *done;		/* under got_mu */
static size_t ndone, cdone;
static unsigned long long last_adds, last_subs;
static int have_last;
static struct hook_name hooks[PATCH_MAX];
static size_t nhooks;
static unsigned char hook_index[HOOK_INDEX];
static void index_hooks(void);
static long pagesz;
static int dlopen_interposed;	/* the global scope's dlopen is the shim's */
static int off_at_start;	/* the constructor found the shim off */

/* The protections of the process's mappings, read from /proc/self/maps
 * once per pass (at its first read-only slot). */
struct prot_map {
	uintptr_t lo, hi;
	int prot;
};

struct pass {
	struct prot_map *maps;	/* NULL: not read yet (or unreadable) */
	size_t nmaps;
	int maps_read;		/* read (maybe failed) in this pass */
	unsigned long long adds, subs;
	int first;		/* the pass of the constructor */
	unsigned fams;		/* families whose slots the object at hand
				   gets patched (bit 1 << fam) */
	size_t patched;		/* slots written in this pass */
	size_t objects;		/* objects newly patched */
	int failed;		/* an mprotect failed */
	int deferred;		/* an object is still being loaded */
	int restore;		/* the shim is off: point the slots that
				   reach a hook at the real function */
	int own;		/* restoring a library of a hooked family:
				   its slots of its own symbols too */
};

/* 1 when p lies in the shim. */
static int
in_self(const void *p)
{
	return p != NULL && resolve_in_self(p);
}

/* A handle on the shim itself (RTLD_NOLOAD), or NULL. */
static void *
self_handle(void)
{
	Dl_info info;

	if (dladdr((const void *)(uintptr_t)self_handle, &info) == 0 ||
	    info.dli_fname == NULL)
		return NULL;
	return dlhook_real_dlopen(info.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
}

/*
 * The hooks to install, each checked to lie in the shim.  An address taken
 * of an exported function inside the shim may have been bound to another
 * object's definition (the shim loaded RTLD_LOCAL after libcurl); then the
 * shim's own definition is looked up in the shim itself.
 */
static void
hooks_load(void)
{
	const struct resolve_hook *const lists[] = { resolve_hooks,
	    resolve_tls_hooks };
	const struct resolve_hook *h;
	void *self = NULL, *addr;
	int tried = 0, fam;
	size_t l;

	nhooks = 0;
	for (l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
	for (h = lists[l]; h->name != NULL && nhooks < PATCH_MAX - 1; h++) {
		if ((fam = resolve_family_of_sym(h->name)) == -1)
			continue;
		addr = h->addr;
		if (!in_self(addr) && !tried) {
			tried = 1;
			self = self_handle();
		}
		if (!in_self(addr) && self != NULL)
			addr = dlsym(self, h->name);
		if (!in_self(addr)) {
			shim_debug("hook for %s is not inside the shim: "
			    "not patched", h->name);
			continue;
		}
		hooks[nhooks].name = h->name;
		hooks[nhooks].addr = addr;
		hooks[nhooks].fam = fam;
		nhooks++;
	}
	/* Kept open: the shim pins itself anyway while its hooks are in
	 * other objects' GOTs. */
	hooks[nhooks].name = "dlopen";
	hooks[nhooks].addr = (void *)(uintptr_t)dlhook_dlopen;
	hooks[nhooks].fam = -1;
	nhooks++;
	index_hooks();
}

/* FNV-1a of a name: the key of hook_index. */
static uint32_t
name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	while (*name != '\0')
		h = (h ^ (unsigned char)*name++) * 16777619u;
	return h;
}

/* Fill hook_index from hooks[]. */
static void
index_hooks(void)
{
	size_t i, j;

	memset(hook_index, 0, sizeof(hook_index));
	for (i = 0; i < nhooks; i++) {
		hooks[i].hash = name_hash(hooks[i].name);
		for (j = hooks[i].hash % HOOK_INDEX;
		    hook_index[j] != 0; j = (j + 1) % HOOK_INDEX)
			;
		hook_index[j] = (unsigned char)(i + 1);
	}
}

/* The hook for the symbol name, or NULL: dlopen's always, the others
 * only for the families in fams.  Asked for every symbol a slot names
 * (thousands in a large library): one hash, one probe mostly, one strcmp
 * when it is a hooked name. */
static void *
hook_for(const char *name, unsigned fams)
{
	uint32_t h;
	size_t j;
	int fam;

	if (name[0] == 'd') {
		if (strcmp(name, "dlopen") != 0)
			return NULL;
	} else if (fams == 0 || (fam = resolve_family_of_sym(name)) == -1 ||
	    !(fams & (1u << fam)))
		return NULL;
	h = name_hash(name);
	for (j = h % HOOK_INDEX; hook_index[j] != 0; j = (j + 1) % HOOK_INDEX) {
		const struct hook_name *k = &hooks[hook_index[j] - 1];

		if (k->hash == h && strcmp(k->name, name) == 0)
			return k->addr;
	}
	return NULL;
}

/* Where the slot at addr lies: 1 when in a loadable segment that stays
 * writable (not in PT_GNU_RELRO), 0 when in one that is read-only once
 * loaded, -1 when outside every segment. */
static int
slot_writable(const struct dl_phdr_info *info, uintptr_t addr)
{
	int w = -1;
	ElfW(Half) i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t s = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || addr < s ||
		    addr + sizeof(void *) > s + ph->p_memsz)
			continue;
		w = (ph->p_flags & PF_W) ? 1 : 0;
	}
	if (w != 1)
		return w;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t s, e, ps = (uintptr_t)pagesz;

		if (ph->p_type != PT_GNU_RELRO)
			continue;
		/* ld.so protects whole pages, rounding both ends down: the
		 * page the range ends in stays writable. */
		s = (info->dlpi_addr + ph->p_vaddr) & ~(ps - 1);
		e = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(ps - 1);
		if (addr >= s && addr + sizeof(void *) <= e)
			return 0;
	}
	return 1;
}

/* The hexadecimal number at *pp (moved past it); -1 when none. */
static int
hex_at(const char **pp, const char *end, uintptr_t *out)
{
	const char *p = *pp, *lim;
	uintptr_t v = 0;
	int n;

	lim = end - p > (ptrdiff_t)(2 * sizeof(uintptr_t)) ?
	    p + 2 * sizeof(uintptr_t) : end;
	/* a mapping has two addresses of ~12 digits on each of hundreds
	   of lines: two compares a digit */
	for (; p < lim; p++) {
		unsigned d = (unsigned)(unsigned char)*p - '0';

		if (d > 9) {
			if ((d = (unsigned)(unsigned char)*p - 'a') > 5)
				break;
			d += 10;
		}
		v = v << 4 | (uintptr_t)d;
	}
	/* more digits than an address holds */
	if (p == lim && p < end && ((unsigned)(unsigned char)*p - '0' <= 9 ||
	    (unsigned)(unsigned char)*p - 'a' <= 5))
		return -1;
	n = (int)(p - *pp);
	if (n == 0)
		return -1;
	*pp = p;
	*out = v;
	return 0;
}

/* One line of /proc/self/maps ("lo-hi rwxp ...") into m; -1 when it is
 * not one. */
static int
maps_line(const char *p, const char *end, struct prot_map *m)
{
	if (hex_at(&p, end, &m->lo) == -1 || p >= end || *p++ != '-' ||
	    hex_at(&p, end, &m->hi) == -1 || end - p < 4 || *p++ != ' ')
		return -1;
	m->prot = (p[0] == 'r' ? PROT_READ : 0) |
	    (p[1] == 'w' ? PROT_WRITE : 0) | (p[2] == 'x' ? PROT_EXEC : 0);
	return 0;
}

/* Read the mappings into ps (at most once per pass). */
static void
maps_read(struct pass *ps)
{
	char buf[4096];
	size_t have = 0, cap = 0;
	int fd;

	ps->maps_read = 1;
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		const char *line, *nl, *end;

		if (n <= 0)
			break;
		have += (size_t)n;
		end = buf + have;
		line = buf;
		while ((nl = memchr(line, '\n', (size_t)(end - line))) !=
		    NULL) {
			struct prot_map m;

			if (maps_line(line, nl, &m) == 0) {
				if (ps->nmaps == cap) {
					size_t nc = cap ? 2 * cap : 256;
					struct prot_map *g = realloc(ps->maps,
					    nc * sizeof(*g));

					if (g == NULL)
						goto fail;
					ps->maps = g;
					cap = nc;
				}
				ps->maps[ps->nmaps++] = m;
			}
			line = nl + 1;
		}
		have = (size_t)(end - line);
		memmove(buf, line, have);
		if (have == sizeof(buf))
			have = 0;	/* an absurdly long line: skip it */
	}
	close(fd);
	return;
fail:
	close(fd);
	free(ps->maps);
	ps->maps = NULL;
	ps->nmaps = 0;
}

/*
 * The current protection of the page holding addr, from /proc/self/maps
 * (the loader may not have applied RELRO yet to an object another thread
 * is loading: restoring a guessed protection could fault it), read once a
 * pass: the pass restores every protection it changes.  -1 when unknown.
 */
static int
page_prot(struct pass *ps, uintptr_t addr)
{
	size_t lo = 0, hi;

	if (!ps->maps_read)
		maps_read(ps);
	hi = ps->nmaps;
	while (lo < hi) {		/* the kernel lists them in order */
		size_t mid = lo + (hi - lo) / 2;
		const struct prot_map *m = &ps->maps[mid];

		if (addr < m->lo)
			hi = mid;
		else if (addr >= m->hi)
			lo = mid + 1;
		else
			return m->prot;
	}
	return -1;
}

static int
write_slot(const struct dl_phdr_info *info, uintptr_t addr, void *val,
    struct pass *ps)
{
	void **slot = (void **)addr;
	uintptr_t page;
	size_t len;
	int w, prot;

	if (__atomic_load_n(slot, __ATOMIC_RELAXED) == val)
		return 0;
	if ((w = slot_writable(info, addr)) == -1)
		return -1;
	prot = w == 1 ? PROT_READ | PROT_WRITE : page_prot(ps, addr);
	if (prot == -1)
		return -1;
	if (prot & PROT_WRITE) {
		__atomic_store_n(slot, val, __ATOMIC_RELEASE);
		ps->patched++;
		return 0;
	}
	page = addr & ~((uintptr_t)pagesz - 1);
	len = (addr + sizeof(void *) - page + (size_t)pagesz - 1) &
	    ~((size_t)pagesz - 1);
	if (mprotect((void *)page, len, prot | PROT_WRITE) == -1) {
		ps->failed = 1;
		return -1;
	}
	__atomic_store_n(slot, val, __ATOMIC_RELEASE);
	ps->patched++;
	if (mprotect((void *)page, len, prot) == -1)
		ps->failed = 1;
	return 0;
}

/* The end of the object's address span before relocation (its highest
 * p_vaddr + p_memsz): a GOT slot still holding a value below it has not
 * been relocated yet (another thread is loading the object). */
static uintptr_t
unrelocated_span(const struct dl_phdr_info *info)
{
	uintptr_t span = 0;
	ElfW(Half) i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && ph->p_vaddr + ph->p_memsz > span)
			span = ph->p_vaddr + ph->p_memsz;
	}
	return span;
}

/* 1 when addr lies in one of the object's loadable segments (a PLT
 * stub: a lazily bound slot not resolved yet). */
static int
in_object(const struct dl_phdr_info *info, uintptr_t addr)
{
	ElfW(Half) i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t s = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && addr >= s &&
		    addr < s + ph->p_memsz)
			return 1;
	}
	return 0;
}

/* An address inside the object: what its calls would pass to a hook as
 * their return address. */
static const void *
object_addr(const struct dl_phdr_info *info)
{
	ElfW(Half) i;

	for (i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD)
			return (const void *)(info->dlpi_addr +
			    info->dlpi_phdr[i].p_vaddr);
	return NULL;
}

/* Walk one relocation table (RELA when rela, else REL). */
static void
patch_relocs(const struct dl_phdr_info *info, const struct resolve_dyn *d,
    const void *tab, size_t size, int rela, size_t relative,
    struct pass *ps)
{
	size_t ent = rela ? sizeof(ElfW(Rela)) : sizeof(ElfW(Rel));
	size_t n = size / ent, i;

	if (tab == NULL || d->symtab == NULL)
		return;
	/* The leading RELATIVE entries (most of a large library's: tens of
	 * thousands) name no symbol: skipped when the last of them is one
	 * indeed. */
	i = 0;
	if (relative > 0 && relative <= n) {
		size_t last = R_TYPE(rela ? ((const ElfW(Rela) *)tab)[
		    relative - 1].r_info : ((const ElfW(Rel) *)tab)[
		    relative - 1].r_info);

		if (last == R_RELATIVE)
			i = relative;
	}
	for (; i < n; i++) {
		ElfW(Addr) off;
		uintptr_t cur;
		size_t info_, type, sym;
		const char *name;
		void *hook;

		if (rela) {
			const ElfW(Rela) *r = (const ElfW(Rela) *)tab + i;

			off = r->r_offset;
			info_ = r->r_info;
		} else {
			const ElfW(Rel) *r = (const ElfW(Rel) *)tab + i;

			off = r->r_offset;
			info_ = r->r_info;
		}
		type = R_TYPE(info_);
		sym = R_SYM(info_);
		if ((type != R_JUMP_SLOT && type != R_GLOB_DAT) || sym == 0)
			continue;
		/* A definition inside this object is its own business, but
		   for a library of a family whose own calls through its PLT
		   reached a hook (libgnutls's gnutls_record_send calls
		   gnutls_record_send2 so) when the shim is off.  Checked
		   before the name: most slots end here. */
		if (d->symtab[sym].st_shndx != SHN_UNDEF && !ps->own)
			continue;
		name = resolve_dyn_str(d, d->symtab[sym].st_name);
		if (name == NULL || (hook = hook_for(name, ps->fams)) == NULL)
			continue;
		cur = (uintptr_t)*(void *const *)(info->dlpi_addr + off);
		/* An unresolved weak reference stays unresolved. */
		if (cur == 0 && ELF32_ST_BIND(d->symtab[sym].st_info) ==
		    STB_WEAK)
			continue;
		if (info->dlpi_addr != 0 && cur != (uintptr_t)hook &&
		    cur < unrelocated_span(info)) {
			ps->deferred = 1;
			return;
		}
		if (ps->restore) {
			/* Only what reaches a hook, or would at its first
			   call (a lazy slot still at its PLT stub), gets the
			   function the hook would forward to: nothing else
			   changes. */
			if (name[0] == 'd' || (cur != (uintptr_t)hook &&
			    !in_object(info, cur)) || (hook = resolve_real(
			    name, object_addr(info))) == NULL)
				continue;
		}
		if (write_slot(info, info->dlpi_addr + off, hook, ps) == -1)
			shim_debug("%s: cannot patch %s",
			    info->dlpi_name[0] != '\0' ? info->dlpi_name :
			    "the program", name);
	}
}

/* The families the object links directly (a DT_NEEDED entry names one
 * of their libraries), as bits 1 << fam. */
static unsigned
links_families(const struct resolve_dyn *d)
{
	const ElfW(Dyn) *dy;
	unsigned fams = 0;
	int fam;

	for (dy = d->dyn; dy->d_tag != DT_NULL; dy++)
		if (dy->d_tag == DT_NEEDED && (fam = resolve_family_of(
		    resolve_dyn_str(d, dy->d_un.d_val), NULL)) != -1)
			fams |= 1u << fam;
	return fams;
}

/* 1 when the object is the shim itself. */
static int
is_self(const struct dl_phdr_info *info)
{
	ElfW(Half) i;

	for (i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD)
			return resolve_in_self((const void *)(info->dlpi_addr +
			    info->dlpi_phdr[i].p_vaddr));
	return 0;
}

static int
skip_object(const struct dl_phdr_info *info, const struct resolve_dyn *d)
{
	const char *name = info->dlpi_name;
	uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	uintptr_t interp = (uintptr_t)getauxval(AT_BASE);

	if (is_self(info))
		return 1;
	if (vdso != 0 && info->dlpi_addr == vdso)
		return 1;
	if (interp != 0 && info->dlpi_addr == interp)
		return 1;
	(void)d;
	return strncmp(name, "linux-vdso", 10) == 0 ||
	    strncmp(name, "linux-gate", 10) == 0 || strstr(name, "/ld-linux");
}

static const ElfW(Dyn) *
dynamic_of(const struct dl_phdr_info *info)
{
	ElfW(Half) i;

	for (i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			return (const ElfW(Dyn) *)(info->dlpi_addr +
			    info->dlpi_phdr[i].p_vaddr);
	return NULL;
}

/* Where done_find() looks first: objects come in the order of the
 * loader's list, the order they were added to done[] in (compaction
 * keeps it), so a pass finds each at the place after the last one. */
static size_t done_next;

static int
done_find(uintptr_t base, const void *phdr)
{
	size_t i;

	if (done_next < ndone && done[done_next].base == base &&
	    done[done_next].phdr == phdr) {
		done[done_next++].seen = 1;
		return 1;
	}
	for (i = 0; i < ndone; i++)
		if (done[i].base == base && done[i].phdr == phdr) {
			done[i].seen = 1;
			done_next = i + 1;
			return 1;
		}
	return 0;
}

static int
done_add(uintptr_t base, const void *phdr)
{
	/* the first objects fit here: no malloc at start-up (a program
	   that never uses it does not pay for its initialisation) */
	static struct done first[DONE_FIRST];

	if (done == NULL) {
		done = first;
		cdone = DONE_FIRST;
	}
	if (ndone == cdone) {
		size_t n = cdone * 2;
		struct done *nd;

		if (done == first) {
			if ((nd = malloc(n * sizeof(*nd))) != NULL)
				memcpy(nd, first, sizeof(first));
		} else
			nd = realloc(done, n * sizeof(*nd));
		if (nd == NULL)
			return -1;
		done = nd;
		cdone = n;
	}
	done[ndone].base = base;
	done[ndone].phdr = phdr;
	done[ndone].seen = 1;
	ndone++;
	return 0;
}

static int
patch_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct pass *ps = arg;
	struct resolve_dyn d;
	size_t before;
	int deferred, self;

	if (size < offsetof(struct dl_phdr_info, dlpi_subs) +
	    sizeof(info->dlpi_subs))
		return 0;
	ps->adds = info->dlpi_adds;
	ps->subs = info->dlpi_subs;
	if (done_find(info->dlpi_addr, info->dlpi_phdr))
		return 0;
	before = ps->patched;
	deferred = ps->deferred;
	ps->deferred = 0;
	/*
	 * Only an object that links libcurl can hold curl_* references that
	 * interposition misses: one whose lookups start in its own
	 * dependencies (RTLD_DEEPBIND), or any object of a process the shim
	 * was dlopen'ed into (plugin mode), binds them to the libcurl of its
	 * DT_NEEDED; everything else binds them through the global scope,
	 * where the shim comes first or, in plugin mode, to a libcurl that
	 * some object links.  The same holds for libssl and SSL_*, libgnutls
	 * and gnutls_*.  A library's own family is left alone (libcurl's
	 * curl_* calls, libssl's SSL_* calls stay inside it).  Objects that
	 * link none only get their dlopen slots patched, so that what they
	 * load later is seen; and not even that in the first pass when the
	 * shim's dlopen is the one the global scope offers (LD_PRELOAD): the
	 * objects loaded with the program all bind dlopen there.  This keeps
	 * the start-up of programs that never use libcurl or TLS cheap.
	 */
	if (resolve_dyn_read(info->dlpi_addr, dynamic_of(info), &d) == 0 &&
	    !skip_object(info, &d) && ps->restore) {
		/*
		 * Off: every slot bound to a hook goes back to the real
		 * function, a library's own family included (libssl's own
		 * SSL_* calls through its PLT reach the hooks too).  Only the
		 * libraries of the families and the objects that link one can
		 * hold such slots: the rest are not read at all.
		 */
		ps->fams = links_families(&d);
		if ((self = resolve_family_of(info->dlpi_name, d.soname)) !=
		    -1)
			ps->fams |= 1u << self;
		ps->own = self != -1;
		if (ps->fams != 0) {
			if (d.jmprel != NULL)
				patch_relocs(info, &d, d.jmprel, d.pltrelsz,
				    d.pltrel != DT_REL, 0, ps);
			patch_relocs(info, &d, d.rela, d.relasz, 1,
			    d.relacount, ps);
			patch_relocs(info, &d, d.rel, d.relsz, 0,
			    d.relcount, ps);
		}
		ps->own = 0;
	} else if (resolve_dyn_read(info->dlpi_addr, dynamic_of(info),
	    &d) == 0 && !skip_object(info, &d) &&
	    ((ps->fams = links_families(&d)) != 0 ||
	    !(ps->first && dlopen_interposed))) {
		if ((self = resolve_family_of(info->dlpi_name, d.soname)) !=
		    -1)
			ps->fams &= ~(1u << self);
		if (d.jmprel != NULL)
			patch_relocs(info, &d, d.jmprel, d.pltrelsz,
			    d.pltrel != DT_REL, 0, ps);
		patch_relocs(info, &d, d.rela, d.relasz, 1, d.relacount,
		    ps);
		patch_relocs(info, &d, d.rel, d.relsz, 0, d.relcount, ps);
	}
	if (ps->patched != before)
		shim_debug(ps->restore ? "restored %zu GOT entries in %s "
		    "to the real functions" : "patched %zu GOT entries in %s",
		    ps->patched - before, info->dlpi_name[0] != '\0' ?
		    info->dlpi_name : "the program");
	if (ps->deferred) {
		/* Not relocated yet: the next pass (after that dlopen
		 * returns) does it. */
		shim_debug("%s is still being loaded: patched later",
		    info->dlpi_name[0] != '\0' ? info->dlpi_name :
		    "the program");
		return 0;
	}
	ps->deferred = deferred;
	ps->objects++;
	/* Remembered even when skipped: nothing changes for it later. */
	(void)done_add(info->dlpi_addr, info->dlpi_phdr);
	return 0;
}

/* Cheap check: has any object been loaded or unloaded since last time? */
static int
counts_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct pass *ps = arg;

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
	    sizeof(info->dlpi_subs)) {
		ps->adds = info->dlpi_adds;
		ps->subs = info->dlpi_subs;
	}
	return 1;
}

/* A fork while another thread patches must not leave got_mu locked in
 * the child. */
static pthread_once_t got_fork_once = PTHREAD_ONCE_INIT;

static void
got_fork_prepare(void)
{
	(void)pthread_mutex_lock(&got_mu);
}

static void
got_fork_release(void)
{
	(void)pthread_mutex_unlock(&got_mu);
}

static void
got_fork_init(void)
{
	if (pthread_atfork(got_fork_prepare, got_fork_release,
	    got_fork_release) != 0)
		shim_debug("pthread_atfork failed");
}

/* 1 when the dlopen the global scope offers is the shim's: it was
 * preloaded, and every object that binds through that scope reaches the
 * dlopen hook without patching. */
static int
dlopen_is_ours(void)
{
	return dlsym(RTLD_DEFAULT, "dlopen") ==
	    (void *)(uintptr_t)dlhook_dlopen;
}

static void
patch(int start)
{
	struct pass ps;
	size_t i, j;
	int saved = errno, ours = -1;

	int restore;

	/* the constructor checked these itself (without getenv) */
	restore = start ? off_at_start : off_at_start ||
	    rt_env_flag("RATETAP_DISABLE") || getauxval(AT_SECURE) != 0;
	/* at start-up under LD_PRELOAD the program has not started any
	   thread yet: the fork handlers can wait for the next pass */
	if (start)
		ours = dlopen_is_ours();
	if (ours != 1 && pthread_once(&got_fork_once, got_fork_init) != 0)
		return;
	if (pthread_mutex_lock(&got_mu) != 0)
		return;
	memset(&ps, 0, sizeof(ps));
	if (pagesz == 0) {
		pagesz = (long)getauxval(AT_PAGESZ);
		if (pagesz <= 0)
			pagesz = sysconf(_SC_PAGESIZE);
		if (pagesz <= 0) {
			pagesz = 0;
			goto out;
		}
		/* Before dl_iterate_phdr: the dladdr() hooks_load() may need
		 * would take the loader's locks in the wrong order inside
		 * its callback. */
		hooks_load();
		dlopen_interposed = ours != -1 ? ours : dlopen_is_ours();
	}
	ps.first = start;
	ps.restore = restore;
	dl_iterate_phdr(counts_cb, &ps);
	if (have_last && ps.adds == last_adds && ps.subs == last_subs)
		goto out;
	if (have_last && ps.subs != last_subs) {
		/* Objects went away: their addresses may now be reused. */
		resolve_flush_ranges();
	}
	for (i = 0; i < ndone; i++)
		done[i].seen = 0;
	done_next = 0;
	dl_iterate_phdr(patch_cb, &ps);
	free(ps.maps);
	for (i = j = 0; i < ndone; i++)
		if (done[i].seen)
			done[j++] = done[i];
	ndone = j;
	last_adds = ps.adds;
	last_subs = ps.subs;
	/* With an object left for later, the next call must look again. */
	have_last = !ps.deferred;
	if (ps.failed)
		shim_debug("some GOT entries could not be made writable");
out:
	pthread_mutex_unlock(&got_mu);
	errno = saved;
}

void
got_patch_all(void)
{
	patch(0);
}

void
got_patch_start(void)
{
	patch(1);
}

void
got_restore_start(void)
{
	off_at_start = 1;
	patch(1);
}
