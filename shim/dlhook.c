/*
 * The dlopen() hook: objects loaded at run time (php's curl extension,
 * python's pycurl, a program's plugins) get their GOT entries for the
 * hooked curl_* symbols patched as soon as they are loaded.
 *
 * glibc's dlopen() looks at its caller to choose the search path of a file
 * name without '/': the calling object's DT_RPATH (when it has no
 * DT_RUNPATH) and DT_RUNPATH, with $ORIGIN being that object's directory.
 * Called from here it would see the shim instead, so for such names, when
 * the calling object has an RPATH or RUNPATH, the hook searches those
 * directories itself in glibc's order and opens the full path it finds.
 * What remains different from a direct call (docs/hooking.md):
 *   - an RPATH is taken from the calling object only, not from the chain of
 *     objects that loaded it;
 *   - directories using $LIB are not searched here (the C library's value
 *     of $LIB is not known): the final plain dlopen() still searches the
 *     program's RPATH, LD_LIBRARY_PATH, the cache and the system directories;
 *   - for a caller with RUNPATH, that final dlopen() also searches the
 *     program's RPATH, which glibc skips for such callers.
 * In secure mode (setuid programs) no search is done here at all.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "ratetap/dst.h"

#include "resolve.h"
#include "resolve_int.h"
#include "shim.h"

typedef void *(*dlopen_fn)(const char *, int);

static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static dlopen_fn real_dlopen;

static void
real_init(void)
{
	void *p;

	/* the shim's own address range, not dladdr(): that scans the
	   symbol table of the C library */
	p = dlsym(RTLD_NEXT, "dlopen");
	if (p == NULL || resolve_in_self(p))
		p = dlsym(RTLD_DEFAULT, "dlopen");
	if (p == NULL || resolve_in_self(p)) {
		shim_debug("the C library's dlopen cannot be found");
		return;
	}
	real_dlopen = (dlopen_fn)p;
}

void *
dlhook_real_dlopen(const char *file, int mode)
{
	if (pthread_once(&real_once, real_init) != 0 || real_dlopen == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	return real_dlopen(file, mode);
}

/* Open path or name in the caller's link-map namespace. */
static void *
open_in(Lmid_t ns, const char *file, int mode)
{
	if (ns != LM_ID_BASE)
		return dlmopen(ns, file, mode);
	return real_dlopen(file, mode);
}

/* 1 when path is a readable ELF object of this process's class, byte order
 * and machine (what glibc checks before taking a file from a search path). */
static int
elf_matches(const char *path)
{
	const ElfW(Ehdr) *self = resolve_self_base();
	ElfW(Ehdr) eh;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, &eh, sizeof(eh));
	close(fd);
	if (n != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return 0;
	if (self == NULL)
		return 1;
	return eh.e_ident[EI_CLASS] == self->e_ident[EI_CLASS] &&
	    eh.e_ident[EI_DATA] == self->e_ident[EI_DATA] &&
	    eh.e_machine == self->e_machine;
}

/* The directory of the object lm ("" for the program: its executable). */
static int
origin_of(const struct link_map *lm, char *buf, size_t len)
{
	const char *slash;
	ssize_t n;

	if (lm->l_name != NULL && lm->l_name[0] != '\0') {
		slash = strrchr(lm->l_name, '/');
		if (slash == NULL)
			return -1;
		if ((size_t)(slash - lm->l_name) >= len)
			return -1;
		memcpy(buf, lm->l_name, (size_t)(slash - lm->l_name));
		buf[slash - lm->l_name] = '\0';
		return 0;
	}
	n = readlink("/proc/self/exe", buf, len - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL)
		return -1;
	buf[slash == buf ? 1 : slash - buf] = '\0';
	return 0;
}

/*
 * Expand one search-path element (len bytes at dir) into out: $ORIGIN and
 * $PLATFORM (also in braces), as the loader does.  -1 when it cannot be
 * expanded here ($LIB, unknown tokens, too long) or the result is
 * relative.
 */
static int
expand_dir(const char *dir, size_t len, const char *origin, char *out,
    size_t outlen)
{
	if (rt_dst_expand(dir, len, origin,
	    (const char *)getauxval(AT_PLATFORM), out, outlen) == -1)
		return -1;
	return out[0] == '/' ? 0 : -1;
}

/*
 * Look for file in each directory of the colon-separated list; on the
 * first ELF that matches, open it and store the result in *h.  Returns 1
 * when a file was found (even if opening it failed: glibc would not go on
 * either), else 0.
 */
static int
search_list(const char *list, const char *origin, const char *file,
    Lmid_t ns, int mode, void **h)
{
	char dir[PATH_MAX], path[PATH_MAX];
	const char *p = list, *end;

	while (*p != '\0') {
		end = p + strcspn(p, ":;");
		if (end > p && expand_dir(p, (size_t)(end - p), origin, dir,
		    sizeof(dir)) == 0) {
			size_t dl = strlen(dir);

			while (dl > 1 && dir[dl - 1] == '/')
				dir[--dl] = '\0';
			if (dl + 1 + strlen(file) < sizeof(path)) {
				memcpy(path, dir, dl);
				path[dl] = '/';
				strcpy(path + dl + 1, file);
				if (elf_matches(path)) {
					*h = open_in(ns, path, mode);
					return 1;
				}
			}
		}
		p = *end != '\0' ? end + 1 : end;
	}
	return 0;
}

/* dlopen(file) as glibc would do it for the object holding caller. */
static void *
open_for_caller(const void *caller, const char *file, int mode)
{
	struct link_map *lm = NULL;
	struct resolve_dyn d;
	static const struct link_map main_map = { .l_name = (char *)"" };
	char origin[PATH_MAX], exe_origin[PATH_MAX];
	Lmid_t ns = LM_ID_BASE;
	const char *llp;
	Dl_info info;
	void *h = NULL;

	if (dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) == 0 ||
	    lm == NULL || resolve_dyn_read(lm->l_addr, lm->l_ld, &d) == -1 ||
	    (d.rpath == NULL && d.runpath == NULL))
		return real_dlopen(file, mode);
	if (dlinfo(lm, RTLD_DI_LMID, &ns) != 0)
		ns = LM_ID_BASE;
	/* A name already loaded is taken whatever the search path says. */
	h = open_in(ns, file, mode | RTLD_NOLOAD);
	if (h != NULL)
		return h;
	(void)dlerror();
	if (origin_of(lm, origin, sizeof(origin)) == -1)
		origin[0] = '\0';
	if (d.runpath != NULL) {
		/* $ORIGIN in LD_LIBRARY_PATH is the program's directory. */
		llp = getenv("LD_LIBRARY_PATH");
		if (llp != NULL && origin_of(&main_map, exe_origin,
		    sizeof(exe_origin)) == 0 &&
		    search_list(llp, exe_origin, file, ns, mode, &h))
			return h;
		if (search_list(d.runpath, origin, file, ns, mode, &h))
			return h;
	} else if (search_list(d.rpath, origin, file, ns, mode, &h))
		return h;
	return open_in(ns, file, mode);
}

void *
dlhook_dlopen(const char *file, int mode)
{
	const void *caller = __builtin_return_address(0);
	void *h;
	int saved;

	if (pthread_once(&real_once, real_init) != 0 || real_dlopen == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	if (file == NULL || strchr(file, '/') != NULL ||
	    getauxval(AT_SECURE) != 0)
		h = real_dlopen(file, mode);
	else
		h = open_for_caller(caller, file, mode);
	if (h != NULL) {
		saved = errno;
		got_patch_all();
		errno = saved;
	}
	return h;
}

/*
 * The exported dlopen(): the same function as dlhook_dlopen() (an alias,
 * so that the caller's return address is seen unchanged).
 */
extern __typeof__(dlhook_dlopen) dlopen
    __attribute__((alias("dlhook_dlopen"), visibility("default")));

/*
 * The dlsym() and dlvsym() hooks: a program that loads libcurl with
 * dlopen() and calls it through dlsym() pointers (plugins, language
 * bindings that load libcurl lazily) would bypass every hook.  For a hooked
 * curl_* name whose definition lies in a libcurl, the hook is returned
 * instead, and the caller's object is recorded as a user of that libcurl
 * (resolve_bind), unless the caller already uses another libcurl, which
 * the hook would then forward to (the real function is returned then).
 *
 * Every other name goes to the C library's function with a tail call, so
 * that it sees the original caller: dlsym(RTLD_NEXT, ...) means "after the
 * calling object".  For a curl_* name, the C library sees the shim as the
 * caller; RTLD_NEXT then finds what comes after the shim, which in a
 * preloaded process is what comes after the program too.
 */
/* The path every dlsym() call takes runs before a sanitizer runtime is
 * initialised (it looks its interceptors up with dlsym): not
 * instrumented (see resolve_next_defined). */
#define NO_SAN	__attribute__((no_sanitize("address", "thread", "undefined")))

typedef void *(*dlsym_fn)(void *, const char *);
typedef void *(*dlvsym_fn)(void *, const char *, const char *);

static pthread_once_t sym_once = PTHREAD_ONCE_INIT;
static dlsym_fn real_dlsym;
static dlvsym_fn real_dlvsym;

NO_SAN static void
sym_init(void)
{
	/* not with dlsym(): that is this hook */
	real_dlsym = (dlsym_fn)resolve_next_defined("dlsym");
	real_dlvsym = (dlvsym_fn)resolve_next_defined("dlvsym");
	if (real_dlsym == NULL || real_dlvsym == NULL)
		shim_debug("the C library's dlsym/dlvsym cannot be found");
}

NO_SAN static int
curl_name(const char *name)
{
	return name != NULL && name[0] == 'c' && name[1] == 'u' &&
	    name[2] == 'r' && name[3] == 'l' && name[4] == '_';
}

/* What dlsym()/dlvsym() return for a curl_* name that the C library
 * resolved to p, asked by code at caller. */
static void *
curl_sym(void *p, const char *name, const void *caller)
{
	const struct curl_fns *f;
	const struct resolve_hook *k;
	const void *lib;

	if (p == NULL || cfg_off() || resolve_in_self(caller) ||
	    resolve_in_self(p))
		return p;
	for (k = resolve_hooks; k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			break;
	if (k->name == NULL || (lib = resolve_libcurl_at(p)) == NULL)
		return p;
	f = resolve_fns(caller);
	if (f != NULL && f->lib != lib) {
		shim_debug("dlsym(%s) of a second libcurl: not tapped", name);
		return p;
	}
	if (f == NULL && resolve_bind(caller, lib) == -1)
		return p;
	return k->addr;
}

NO_SAN static dlsym_fn
libc_dlsym(void)
{
	if (pthread_once(&sym_once, sym_init) != 0)
		return NULL;
	return real_dlsym;
}

NO_SAN static dlvsym_fn
libc_dlvsym(void)
{
	if (pthread_once(&sym_once, sym_init) != 0)
		return NULL;
	return real_dlvsym;
}

NO_SAN __attribute__((visibility("default"))) void *
dlsym(void *handle, const char *name)
{
	dlsym_fn real = libc_dlsym();

	if (__builtin_expect(real == NULL, 0))
		return NULL;
	if (__builtin_expect(!curl_name(name), 1))
		return real(handle, name);	/* a tail call */
	return curl_sym(real(handle, name), name,
	    __builtin_return_address(0));
}

NO_SAN __attribute__((visibility("default"))) void *
dlvsym(void *handle, const char *name, const char *version)
{
	dlvsym_fn real = libc_dlvsym();

	if (__builtin_expect(real == NULL, 0))
		return NULL;
	if (__builtin_expect(!curl_name(name), 1))
		return real(handle, name, version);	/* a tail call */
	return curl_sym(real(handle, name, version), name,
	    __builtin_return_address(0));
}
