/*
 * `ratetap doctor`: the dynamic loader's library search, done without
 * loading anything: RUNPATH/RPATH with $ORIGIN, LD_LIBRARY_PATH, the ld.so
 * cache (`ldconfig -p`), then the system directories, which come from the
 * running system (/etc/ld.so.conf and its includes, and the multiarch
 * directory where the C library for the object's machine is), never from a
 * list written for one architecture.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <gelf.h>

#include "ratetap/dst.h"

#include "doctor.h"

#define MAX_OBJECTS	512	/* DT_NEEDED tree size bound */
#define MAX_SYSDIRS	64	/* system directories kept */
#define MAX_CONF_DEPTH	4	/* ld.so.conf include nesting followed */

/* `ldconfig -p`: name => path pairs, read once. */
static char **ldcache_names, **ldcache_paths;
static size_t ldcache_n;
static int ldcache_loaded;

/* The system directories: /etc/ld.so.conf's, then the built-in ones. */
static char *sysdirs[MAX_SYSDIRS];
static size_t nsysdirs;
static int sysdirs_loaded;

static void
ldcache_load(void)
{
	static const char *const tools[] = {
		"/sbin/ldconfig", "/usr/sbin/ldconfig", NULL
	};
	char line[PATH_MAX + 256], *name, *arrow, *end, **a, **b;
	FILE *f = NULL;
	size_t i;

	if (ldcache_loaded)
		return;
	ldcache_loaded = 1;
	for (i = 0; tools[i] != NULL && f == NULL; i++) {
		if (access(tools[i], X_OK) == -1 ||
		    snprintf(line, sizeof(line), "%s -p 2>/dev/null",
		    tools[i]) >= (int)sizeof(line))
			continue;
		f = popen(line, "re");
	}
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] != '\t' && line[0] != ' ')
			continue;
		name = line + strspn(line, " \t");
		if ((arrow = strstr(name, " => ")) == NULL)
			continue;
		end = strchr(name, ' ');
		*end = '\0';
		arrow += 4;
		arrow[strcspn(arrow, "\n")] = '\0';
		a = realloc(ldcache_names, (ldcache_n + 1) * sizeof(*a));
		if (a == NULL)
			break;
		ldcache_names = a;
		b = realloc(ldcache_paths, (ldcache_n + 1) * sizeof(*b));
		if (b == NULL)
			break;
		ldcache_paths = b;
		a[ldcache_n] = strdup(name);
		b[ldcache_n] = strdup(arrow);
		if (a[ldcache_n] == NULL || b[ldcache_n] == NULL) {
			free(a[ldcache_n]);
			free(b[ldcache_n]);
			break;
		}
		ldcache_n++;
	}
	pclose(f);
}
static void
sysdir_add(const char *dir)
{
	size_t i;

	if (nsysdirs == MAX_SYSDIRS || dir[0] != '/')
		return;
	for (i = 0; i < nsysdirs; i++)
		if (strcmp(sysdirs[i], dir) == 0)
			return;
	if ((sysdirs[nsysdirs] = strdup(dir)) != NULL)
		nsysdirs++;
}

/* One ld.so.conf file: directories, and "include GLOB" lines. */
static void
conf_read(const char *path, int depth)
{
	char line[PATH_MAX + 16], *p, *e;
	glob_t g;
	FILE *f;
	size_t i;

	if (depth > MAX_CONF_DEPTH || (f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "#\n")] = '\0';
		p = line + strspn(line, " \t");
		for (e = p + strlen(p); e > p && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		if (*p == '\0')
			continue;
		if (strncmp(p, "include", 7) == 0 &&
		    isspace((unsigned char)p[7])) {
			p += 8 + strspn(p + 8, " \t");
			if (glob(p, 0, NULL, &g) != 0)
				continue;
			for (i = 0; i < g.gl_pathc; i++)
				conf_read(g.gl_pathv[i], depth + 1);
			globfree(&g);
		} else if (*p == '/') {
			sysdir_add(p);
		}
	}
	fclose(f);
}

/* The directories /etc/ld.so.conf names (the cache may be stale). */
static void
sysdirs_load(void)
{
	if (sysdirs_loaded)
		return;
	sysdirs_loaded = 1;
	conf_read("/etc/ld.so.conf", 0);
}

/* This build's own e_machine. */
static int
build_machine(void)
{
#if defined(__x86_64__)
	return EM_X86_64;
#elif defined(__aarch64__)
	return EM_AARCH64;
#elif defined(__i386__)
	return EM_386;
#elif defined(__arm__)
	return EM_ARM;
#elif defined(__powerpc64__)
	return EM_PPC64;
#elif defined(__s390x__)
	return EM_S390;
#elif defined(__riscv)
	return EM_RISCV;
#elif defined(__mips__)
	return EM_MIPS;
#elif defined(__loongarch64)
	return EM_LOONGARCH;
#else
	return EM_NONE;
#endif
}

/* The name this build's own machine has in Debian's multiarch scheme:
 * the last resort when the system says nothing. */
static const char *
build_multiarch(void)
{
#if defined(__x86_64__) && defined(__ILP32__)
	return "x86_64-linux-gnux32";
#elif defined(__x86_64__)
	return "x86_64-linux-gnu";
#elif defined(__aarch64__)
	return "aarch64-linux-gnu";
#elif defined(__i386__)
	return "i386-linux-gnu";
#elif defined(__arm__) && defined(__ARM_PCS_VFP)
	return "arm-linux-gnueabihf";
#elif defined(__arm__)
	return "arm-linux-gnueabi";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "powerpc64le-linux-gnu";
#elif defined(__s390x__)
	return "s390x-linux-gnu";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64-linux-gnu";
#elif defined(__mips__) && defined(__mips64) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "mips64el-linux-gnuabi64";
#elif defined(__loongarch64)
	return "loongarch64-linux-gnu";
#else
	return "";
#endif
}

/* Debian's name for the machine of objects like ref when the system has
 * no C library for it to say so: this build's own name for its own
 * machine, else the usual one for that machine. */
static const char *
fallback_multiarch(const struct elfinfo *ref)
{
	static const struct {
		int machine, elfclass;
		const char *name;
	} m[] = {
		{ EM_X86_64, ELFCLASS64, "x86_64-linux-gnu" },
		{ EM_X86_64, ELFCLASS32, "x86_64-linux-gnux32" },
		{ EM_386, ELFCLASS32, "i386-linux-gnu" },
		{ EM_AARCH64, ELFCLASS64, "aarch64-linux-gnu" },
		{ EM_ARM, ELFCLASS32, "arm-linux-gnueabihf" },
		{ EM_PPC64, ELFCLASS64, "powerpc64le-linux-gnu" },
		{ EM_S390, ELFCLASS64, "s390x-linux-gnu" },
		{ EM_RISCV, ELFCLASS64, "riscv64-linux-gnu" },
		{ EM_MIPS, ELFCLASS64, "mips64el-linux-gnuabi64" },
		{ EM_LOONGARCH, ELFCLASS64, "loongarch64-linux-gnu" }
	};
	static const unsigned char self = sizeof(void *) == 8 ? ELFCLASS64 :
	    ELFCLASS32;
	size_t i;

	if (ref->elfclass == self && ref->machine == build_machine())
		return build_multiarch();
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (m[i].machine == ref->machine &&
		    m[i].elfclass == ref->elfclass)
			return m[i].name;
	return "";
}

/* 1 when the directory dir holds a C library for objects like ref; its
 * base name (the multiarch name) then goes to out. */
static int
libc_dir(const char *dir, const struct elfinfo *ref, char *out, size_t len)
{
	char cand[PATH_MAX];
	const char *b;

	if ((b = strrchr(dir, '/')) == NULL || strstr(b, "-linux-") == NULL ||
	    snprintf(cand, sizeof(cand), "%s/libc.so.6", dir) >=
	    (int)sizeof(cand) || !doc_elf_compatible(cand, ref))
		return 0;
	snprintf(out, len, "%s", b + 1);
	return 1;
}

const char *
doc_multiarch(const struct elfinfo *ref)
{
	static char name[64];
	static int klass = -1, machine = -1;
	char dir[PATH_MAX];
	size_t i;

	if (ref->elfclass == klass && ref->machine == machine)
		return name;
	klass = ref->elfclass;
	machine = ref->machine;
	snprintf(name, sizeof(name), "%s", fallback_multiarch(ref));
	ldcache_load();
	for (i = 0; i < ldcache_n; i++) {
		if (strcmp(ldcache_names[i], "libc.so.6") != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s", ldcache_paths[i]);
		if (libc_dir(dirname(dir), ref, name, sizeof(name)))
			return name;
	}
	sysdirs_load();
	for (i = 0; i < nsysdirs; i++)
		if (libc_dir(sysdirs[i], ref, name, sizeof(name)))
			return name;
	return name;
}

/* The loader's built-in directories for objects like ref, in its order:
 * Debian's multiarch ones, then lib64 and lib.  0, or -1 for none at n. */
static int
builtin_dir(const struct elfinfo *ref, size_t n, char *out, size_t len)
{
	static const struct {
		const char *dir;
		int arch;	/* followed by the multiarch name */
		int only64;
	} d[] = {
		{ "/lib", 1, 0 }, { "/usr/lib", 1, 0 }, { "/lib64", 0, 1 },
		{ "/usr/lib64", 0, 1 }, { "/lib", 0, 0 }, { "/usr/lib", 0, 0 }
	};
	const char *m = doc_multiarch(ref);

	if (n >= sizeof(d) / sizeof(d[0]) || (d[n].arch && m[0] == '\0') ||
	    (d[n].only64 && ref->elfclass != ELFCLASS64))
		return -1;
	snprintf(out, len, "%s%s%s", d[n].dir, d[n].arch ? "/" : "",
	    d[n].arch ? m : "");
	return 0;
}

/*
 * Find library name needed by the object at objpath (with runpath rp) the
 * way the loader would: RUNPATH, LD_LIBRARY_PATH, the ld.so cache, the
 * default directories.  Returns 0 with the path in out, or -1.
 */
int
doc_find_library(const char *name, const char *objpath, const char *rp,
    const struct elfinfo *ref, char *out, size_t len)
{
	char origin[PATH_MAX], buf[PATH_MAX], dir[PATH_MAX], cand[PATH_MAX];
	const char *lists[2];
	char *copy, *tok, *save;
	size_t i, l;

	if (strchr(name, '/') != NULL) {
		if (!doc_elf_compatible(name, ref))
			return -1;
		snprintf(out, len, "%s", name);
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", objpath);
	snprintf(origin, sizeof(origin), "%s", dirname(buf));
	lists[0] = rp;
	lists[1] = getenv("LD_LIBRARY_PATH");
	for (l = 0; l < 2; l++) {
		if (lists[l] == NULL || lists[l][0] == '\0' ||
		    (copy = strdup(lists[l])) == NULL)
			continue;
		for (tok = strtok_r(copy, ":;", &save); tok != NULL;
		    tok = strtok_r(NULL, ":;", &save)) {
			if (rt_dst_expand(tok, strlen(tok), origin,
			    (const char *)getauxval(AT_PLATFORM), dir,
			    sizeof(dir)) == -1)
				continue;
			if (snprintf(cand, sizeof(cand), "%s/%s", dir, name) <
			    (int)sizeof(cand) && doc_elf_compatible(cand, ref)) {
				snprintf(out, len, "%s", cand);
				free(copy);
				return 0;
			}
		}
		free(copy);
	}
	ldcache_load();
	for (i = 0; i < ldcache_n; i++)
		if (strcmp(ldcache_names[i], name) == 0 &&
		    doc_elf_compatible(ldcache_paths[i], ref)) {
			snprintf(out, len, "%s", ldcache_paths[i]);
			return 0;
		}
	sysdirs_load();
	for (i = 0; i < nsysdirs; i++)
		if (snprintf(cand, sizeof(cand), "%s/%s", sysdirs[i], name) <
		    (int)sizeof(cand) && doc_elf_compatible(cand, ref)) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
	for (i = 0; i < 6; i++) {
		if (builtin_dir(ref, i, dir, sizeof(dir)) == -1)
			continue;
		if (snprintf(cand, sizeof(cand), "%s/%s", dir, name) <
		    (int)sizeof(cand) && doc_elf_compatible(cand, ref)) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
	}
	return -1;
}

/* Free the tree t. */
void
doc_tree_free(struct tree *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->o[i].name);
		free(t->o[i].path);
	}
	free(t->o);
	memset(t, 0, sizeof(*t));
}

static int
tree_add(struct tree *t, const char *name, const char *path, int parent)
{
	struct object *p;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		if ((p = realloc(t->o, t->cap * sizeof(*p))) == NULL)
			return -1;
		t->o = p;
	}
	p = &t->o[t->n];
	p->name = strdup(name);
	p->path = path ? strdup(path) : NULL;
	p->parent = parent;
	if (p->name == NULL || (path != NULL && p->path == NULL)) {
		free(p->name);
		free(p->path);
		return -1;
	}
	t->n++;
	return 0;
}

static int
tree_has(const struct tree *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->o[i].name, name) == 0)
			return 1;
	return 0;
}

/*
 * Walk the DT_NEEDED tree of root (already read into *rei) breadth first.
 * Each library is visited once.  Returns 0 or -1 on ENOMEM.
 */
int
doc_tree_build(struct tree *t, const char *root, const struct elfinfo *rei)
{
	struct elfinfo ei;
	char path[PATH_MAX], err[PATH_MAX + 64];
	size_t i, k;
	int found;

	memset(t, 0, sizeof(*t));
	if (tree_add(t, root, root, -1) == -1)
		return -1;
	for (i = 0; i < t->n && t->n < MAX_OBJECTS; i++) {
		if (t->o[i].path == NULL)
			continue;
		if (i == 0) {
			ei = *rei;	/* borrowed: not freed below */
		} else if (doc_elf_read(t->o[i].path, &ei, 0, err,
		    sizeof(err)) != 1) {
			continue;
		}
		for (k = 0; k < ei.nneeded && t->n < MAX_OBJECTS; k++) {
			if (tree_has(t, ei.needed[k]))
				continue;
			found = doc_find_library(ei.needed[k], t->o[i].path,
			    ei.runpath, rei, path, sizeof(path)) == 0;
			if (!found)
				t->unresolved++;
			if (tree_add(t, ei.needed[k], found ? path : NULL,
			    (int)i) == -1) {
				if (i != 0)
					doc_elf_free(&ei);
				return -1;
			}
		}
		if (i != 0)
			doc_elf_free(&ei);
	}
	return 0;
}

/* The TLS flavour of the libcurl at index i of t. */
const char *
doc_curl_flavour(const struct tree *t, size_t i)
{
	const char *n = t->o[i].name;
	size_t k;

	for (k = 0; k < t->n; k++) {
		if (t->o[k].parent != (int)i)
			continue;
		if (strncmp(t->o[k].name, "libssl.so", 9) == 0)
			return "OpenSSL";
		if (strncmp(t->o[k].name, "libgnutls.so", 12) == 0)
			return "GnuTLS";
		if (strncmp(t->o[k].name, "libnss3.so", 10) == 0)
			return "NSS";
		if (strncmp(t->o[k].name, "libmbedtls.so", 13) == 0)
			return "mbedTLS";
		if (strncmp(t->o[k].name, "libwolfssl.so", 13) == 0)
			return "wolfSSL";
	}
	if (strncmp(n, "libcurl-gnutls", 14) == 0)
		return "GnuTLS";
	if (strncmp(n, "libcurl-nss", 11) == 0)
		return "NSS";
	if (strncmp(n, "libcurl.so", 10) == 0)
		return "OpenSSL";
	return "unknown TLS library";
}

/* "prog -> libfoo.so.1 -> libcurl.so.4" for object i. */
void
doc_chain(const struct tree *t, size_t i, char *buf, size_t len)
{
	int idx[64], n = 0, k;
	size_t o = 0;
	const char *b;

	for (k = (int)i; k >= 0 && n < 64; k = t->o[k].parent)
		idx[n++] = k;
	buf[0] = '\0';
	for (k = n - 1; k >= 0; k--) {
		b = strrchr(t->o[idx[k]].name, '/');
		b = b ? b + 1 : t->o[idx[k]].name;
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", b,
		    k ? " -> " : "");
		if (o >= len)
			break;
	}
}

int
doc_tree_find(const struct tree *t, const char *prefix)
{
	const char *b;
	size_t i;

	for (i = 0; i < t->n; i++) {
		b = strrchr(t->o[i].name, '/');
		b = b ? b + 1 : t->o[i].name;
		if (strncmp(b, prefix, strlen(prefix)) == 0)
			return (int)i;
	}
	return -1;
}
