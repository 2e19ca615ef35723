/*
 * `ratetap doctor PROGRAM` and `ratetap doctor --pid PID`: can ratetap see
 * this program's libcurl traffic, and if not, why and what to do.
 *
 * The analysis is static (libelf): ELF or script, dynamic or static,
 * setuid/setgid bits and file capabilities (the loader ignores LD_PRELOAD
 * then), the libcurl it links directly or through its DT_NEEDED tree, a
 * libcurl carried inside the binary itself, and interpreters whose curl
 * binding is an extension module (php's curl extension, python's pycurl).
 * For a running process, /proc/PID/maps says whether a libcurl and the shim
 * are mapped.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "ratetap/hosts.h"
#include "cli.h"

#define MAX_OBJECTS	512	/* DT_NEEDED tree size bound */
#define MAX_SCRIPT_DEPTH 4	/* #! chains followed */
#define SHIM_NAME	"libratetap.so"

static const char *const default_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64",
	"/usr/lib64", "/lib", "/usr/lib", NULL
};

/* What one ELF file says about itself. */
struct elfinfo {
	int elfclass;			/* ELFCLASS32 / ELFCLASS64 */
	int machine;			/* e_machine */
	int type;			/* e_type */
	int has_interp;			/* PT_INTERP: loaded by ld.so */
	int has_dynamic;		/* PT_DYNAMIC */
	int pie;			/* DT_FLAGS_1 has DF_1_PIE */
	char interp[PATH_MAX];
	char **needed;			/* DT_NEEDED names */
	size_t nneeded;
	char runpath[PATH_MAX];		/* DT_RUNPATH, else DT_RPATH */
	int embeds_curl;		/* defines curl_easy_* itself */
	int curl_version_string;	/* "libcurl/<digit>" in .rodata */
};

/* One object of the DT_NEEDED tree. */
struct object {
	char *name;		/* as needed ("libcurl.so.4") */
	char *path;		/* where it was found, NULL when not found */
	int parent;		/* index of the object needing it, -1 root */
};

struct tree {
	struct object *o;
	size_t n;
	size_t cap;
	int unresolved;		/* needed libraries not found */
};

/* Outcome of the analysis of one program. */
struct verdict {
	int visible;
	char why[1024];
};

/* `ldconfig -p`: name => path pairs, read once. */
static char **ldcache_names, **ldcache_paths;
static size_t ldcache_n;
static int ldcache_loaded;

static void set_why(struct verdict *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_why(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
}

static void
elfinfo_free(struct elfinfo *ei)
{
	size_t i;

	for (i = 0; i < ei->nneeded; i++)
		free(ei->needed[i]);
	free(ei->needed);
	ei->needed = NULL;
	ei->nneeded = 0;
}

static int
add_needed(struct elfinfo *ei, const char *name)
{
	char **p;

	if ((p = realloc(ei->needed, (ei->nneeded + 1) * sizeof(*p))) == NULL)
		return -1;
	ei->needed = p;
	if ((p[ei->nneeded] = strdup(name)) == NULL)
		return -1;
	ei->nneeded++;
	return 0;
}

static int
is_curl_symbol(const char *name)
{
	return strcmp(name, "curl_easy_perform") == 0 ||
	    strcmp(name, "curl_multi_perform") == 0 ||
	    strcmp(name, "curl_easy_init") == 0;
}

/* "libcurl/" followed by a digit: curl_version()'s string. */
static int
has_curl_version(const char *p, size_t len)
{
	const char *q;

	while (len > 9 && (q = memmem(p, len, "libcurl/", 8)) != NULL) {
		if ((size_t)(q - p) + 8 < len && isdigit((unsigned char)q[8]))
			return 1;
		len -= (size_t)(q - p) + 8;
		p = q + 8;
	}
	return 0;
}

/*
 * Read what matters of the ELF file path into *ei.  full: also look at the
 * symbol tables and .rodata (for an embedded libcurl).  Returns 1 when it is
 * ELF, 0 when it is not, -1 when unreadable (reason in err).
 */
static int
elf_read(const char *path, struct elfinfo *ei, int full, char *err,
    size_t errlen)
{
	Elf *e = NULL;
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Ehdr eh;
	GElf_Phdr ph;
	GElf_Shdr sh;
	GElf_Dyn dyn;
	GElf_Sym sym;
	const char *s, *raw;
	size_t nph, i, n, rawlen, shstrndx = 0;
	int fd, rc = -1, have_shstr;
	char rpath[PATH_MAX] = "";

	memset(ei, 0, sizeof(*ei));
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, errlen, "libelf is out of date");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((e = elf_begin(fd, ELF_C_READ_MMAP, NULL)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, elf_errmsg(-1));
		goto err;
	}
	if (elf_kind(e) != ELF_K_ELF) {
		rc = 0;
		goto err;
	}
	if (gelf_getehdr(e, &eh) == NULL || elf_getphdrnum(e, &nph) != 0) {
		snprintf(err, errlen, "%s: damaged ELF header: %s", path,
		    elf_errmsg(-1));
		goto err;
	}
	ei->elfclass = gelf_getclass(e);
	ei->machine = eh.e_machine;
	ei->type = eh.e_type;
	raw = elf_rawfile(e, &rawlen);
	for (i = 0; i < nph; i++) {
		if (gelf_getphdr(e, (int)i, &ph) == NULL)
			continue;
		if (ph.p_type == PT_DYNAMIC)
			ei->has_dynamic = 1;
		if (ph.p_type == PT_INTERP) {
			ei->has_interp = 1;
			if (raw != NULL && ph.p_offset < rawlen &&
			    ph.p_filesz > 0 && ph.p_filesz < sizeof(ei->interp) &&
			    ph.p_filesz <= rawlen - ph.p_offset) {
				memcpy(ei->interp, raw + ph.p_offset,
				    ph.p_filesz);
				ei->interp[ph.p_filesz] = '\0';
			}
		}
	}
	have_shstr = elf_getshdrstrndx(e, &shstrndx) == 0;
	while ((scn = elf_nextscn(e, scn)) != NULL) {
		if (gelf_getshdr(scn, &sh) == NULL)
			continue;
		if (sh.sh_type == SHT_DYNAMIC) {
			if ((data = elf_getdata(scn, NULL)) == NULL ||
			    sh.sh_entsize == 0)
				continue;
			n = sh.sh_size / sh.sh_entsize;
			for (i = 0; i < n; i++) {
				if (gelf_getdyn(data, (int)i, &dyn) == NULL ||
				    dyn.d_tag == DT_NULL)
					break;
				if (dyn.d_tag == DT_FLAGS_1 &&
				    (dyn.d_un.d_val & DF_1_PIE))
					ei->pie = 1;
				if (dyn.d_tag != DT_NEEDED &&
				    dyn.d_tag != DT_RUNPATH &&
				    dyn.d_tag != DT_RPATH)
					continue;
				s = elf_strptr(e, sh.sh_link, dyn.d_un.d_val);
				if (s == NULL)
					continue;
				if (dyn.d_tag == DT_NEEDED) {
					if (add_needed(ei, s) == -1) {
						snprintf(err, errlen, "%s",
						    strerror(ENOMEM));
						goto err;
					}
				} else if (dyn.d_tag == DT_RUNPATH) {
					snprintf(ei->runpath,
					    sizeof(ei->runpath), "%s", s);
				} else {
					snprintf(rpath, sizeof(rpath), "%s", s);
				}
			}
		} else if (full && (sh.sh_type == SHT_SYMTAB ||
		    sh.sh_type == SHT_DYNSYM)) {
			if ((data = elf_getdata(scn, NULL)) == NULL ||
			    sh.sh_entsize == 0)
				continue;
			n = sh.sh_size / sh.sh_entsize;
			for (i = 0; i < n && !ei->embeds_curl; i++) {
				if (gelf_getsym(data, (int)i, &sym) == NULL)
					break;
				if (sym.st_shndx == SHN_UNDEF ||
				    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
					continue;
				s = elf_strptr(e, sh.sh_link, sym.st_name);
				if (s != NULL && is_curl_symbol(s))
					ei->embeds_curl = 1;
			}
		} else if (full && have_shstr && sh.sh_type == SHT_PROGBITS &&
		    !ei->curl_version_string) {
			s = elf_strptr(e, shstrndx, sh.sh_name);
			if (s == NULL || strcmp(s, ".rodata") != 0)
				continue;
			if ((data = elf_getdata(scn, NULL)) != NULL &&
			    data->d_buf != NULL &&
			    has_curl_version(data->d_buf, data->d_size))
				ei->curl_version_string = 1;
		}
	}
	if (ei->runpath[0] == '\0' && rpath[0] != '\0')
		snprintf(ei->runpath, sizeof(ei->runpath), "%s", rpath);
	rc = 1;
	elf_end(e);
	close(fd);
	return rc;
err:
	if (e != NULL)
		elf_end(e);
	close(fd);
	if (rc != 1)
		elfinfo_free(ei);
	return rc;
}

/* Read `ldconfig -p` once: the loader's cache of library locations. */
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

/* 1 when path is an ELF object of the same class and machine as ref. */
static int
compatible(const char *path, const struct elfinfo *ref)
{
	struct elfinfo ei;
	char err[PATH_MAX + 64];
	int ok;

	if (access(path, R_OK) == -1)
		return 0;
	if (elf_read(path, &ei, 0, err, sizeof(err)) != 1)
		return 0;
	ok = ei.elfclass == ref->elfclass && ei.machine == ref->machine;
	elfinfo_free(&ei);
	return ok;
}

/* Expand $ORIGIN / ${ORIGIN} in one runpath entry. */
static void
expand_origin(const char *entry, const char *origin, char *out, size_t len)
{
	const char *p;
	size_t o = 0;

	for (p = entry; *p && o + 1 < len; ) {
		if (strncmp(p, "$ORIGIN", 7) == 0) {
			o += (size_t)snprintf(out + o, len - o, "%s", origin);
			p += 7;
		} else if (strncmp(p, "${ORIGIN}", 9) == 0) {
			o += (size_t)snprintf(out + o, len - o, "%s", origin);
			p += 9;
		} else {
			out[o++] = *p++;
		}
		if (o >= len)
			o = len - 1;
	}
	out[o] = '\0';
}

/*
 * Find library name needed by the object at objpath (with runpath rp) the
 * way the loader would: RUNPATH, LD_LIBRARY_PATH, the ld.so cache, the
 * default directories.  Returns 0 with the path in out, or -1.
 */
static int
find_library(const char *name, const char *objpath, const char *rp,
    const struct elfinfo *ref, char *out, size_t len)
{
	char origin[PATH_MAX], buf[PATH_MAX], dir[PATH_MAX], cand[PATH_MAX];
	const char *lists[2];
	char *copy, *tok, *save;
	size_t i, l;

	if (strchr(name, '/') != NULL) {
		if (!compatible(name, ref))
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
			expand_origin(tok, origin, dir, sizeof(dir));
			if (snprintf(cand, sizeof(cand), "%s/%s", dir, name) <
			    (int)sizeof(cand) && compatible(cand, ref)) {
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
		    compatible(ldcache_paths[i], ref)) {
			snprintf(out, len, "%s", ldcache_paths[i]);
			return 0;
		}
	for (i = 0; default_dirs[i] != NULL; i++)
		if (snprintf(cand, sizeof(cand), "%s/%s", default_dirs[i],
		    name) < (int)sizeof(cand) && compatible(cand, ref)) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
	return -1;
}

static void
tree_free(struct tree *t)
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
static int
tree_build(struct tree *t, const char *root, const struct elfinfo *rei)
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
		} else if (elf_read(t->o[i].path, &ei, 0, err,
		    sizeof(err)) != 1) {
			continue;
		}
		for (k = 0; k < ei.nneeded && t->n < MAX_OBJECTS; k++) {
			if (tree_has(t, ei.needed[k]))
				continue;
			found = find_library(ei.needed[k], t->o[i].path,
			    ei.runpath, rei, path, sizeof(path)) == 0;
			if (!found)
				t->unresolved++;
			if (tree_add(t, ei.needed[k], found ? path : NULL,
			    (int)i) == -1) {
				if (i != 0)
					elfinfo_free(&ei);
				return -1;
			}
		}
		if (i != 0)
			elfinfo_free(&ei);
	}
	return 0;
}

static int
is_libcurl(const char *name)
{
	const char *b = strrchr(name, '/');

	b = b ? b + 1 : name;
	return strncmp(b, "libcurl.so", 10) == 0 ||
	    strncmp(b, "libcurl-", 8) == 0;
}

/* The TLS flavour of the libcurl at index i of t. */
static const char *
curl_flavour(const struct tree *t, size_t i)
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
static void
chain(const struct tree *t, size_t i, char *buf, size_t len)
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

/*
 * Report the libcurls in t (line prefixed by label).  Returns how many
 * were found.
 */
static int
report_curls(const struct tree *t, const char *label, const char *direct)
{
	char ch[1024];
	size_t i;
	int n = 0;

	for (i = 1; i < t->n; i++) {
		if (!is_libcurl(t->o[i].name))
			continue;
		chain(t, i, ch, sizeof(ch));
		printf("  %-11s %s (%s), %s%s%s\n", n ? "" : label,
		    t->o[i].name, curl_flavour(t, i), t->o[i].parent == 0 ?
		    direct : "linked through ", t->o[i].parent == 0 ?
		    "" : ch, t->o[i].path ? "" : " (not found on this system)");
		n++;
	}
	return n;
}

/* Resolve a command name through PATH like a shell.  0 or -1. */
static int
resolve_path(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char *copy, *tok, *save;
	char cand[PATH_MAX];
	struct stat sb;

	if (strchr(prog, '/') != NULL) {
		if (snprintf(out, len, "%s", prog) >= (int)len)
			return -1;
		return 0;
	}
	if (path == NULL || path[0] == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	if ((copy = strdup(path)) == NULL)
		return -1;
	for (tok = strtok_r(copy, ":", &save); tok != NULL;
	    tok = strtok_r(NULL, ":", &save)) {
		if (snprintf(cand, sizeof(cand), "%s/%s", tok, prog) >=
		    (int)sizeof(cand))
			continue;
		if (stat(cand, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    access(cand, X_OK) == 0) {
			snprintf(out, len, "%s", cand);
			free(copy);
			return 0;
		}
	}
	free(copy);
	return -1;
}

static int
name_is(const char *base, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(base, prefix, n) == 0 &&
	    (base[n] == '\0' || isdigit((unsigned char)base[n]) ||
	    base[n] == '-' || base[n] == '.');
}

/* First match of pattern, into out.  1 when found. */
static int
glob_first(const char *pattern, const char *must, const char *mustnot,
    char *out, size_t len)
{
	glob_t g;
	size_t i;
	int found = 0;

	if (glob(pattern, 0, NULL, &g) != 0)
		return 0;
	for (i = 0; i < g.gl_pathc && !found; i++) {
		const char *b = strrchr(g.gl_pathv[i], '/');

		b = b ? b + 1 : g.gl_pathv[i];
		if (must != NULL && strstr(b, must) == NULL &&
		    (mustnot == NULL || strstr(b, mustnot) != NULL))
			continue;
		snprintf(out, len, "%s", g.gl_pathv[i]);
		found = 1;
	}
	globfree(&g);
	return found;
}

/* Report the libcurl an extension module links.  0 when it links one. */
static int
module_curl(const char *mod, const char *label)
{
	struct elfinfo ei;
	struct tree t;
	char err[PATH_MAX + 64];
	int n = 0;

	if (elf_read(mod, &ei, 0, err, sizeof(err)) != 1)
		return -1;
	if (tree_build(&t, mod, &ei) == 0)
		n = report_curls(&t, label, "linked by the module");
	tree_free(&t);
	elfinfo_free(&ei);
	return n > 0 ? 0 : -1;
}

/* php: is the curl extension there and enabled? */
static void
check_php(const char *real, const char *base, struct verdict *v)
{
	char ver[32] = "*", pat[PATH_MAX], ext[PATH_MAX], ini[PATH_MAX];
	const char *p;
	int has_ext, has_ini;

	/* php8.2, php-cgi8.2, php-fpm8.2: the version names the conf dir */
	for (p = base; *p && !isdigit((unsigned char)*p); p++)
		;
	if (*p && strspn(p, "0123456789.") == strlen(p) && strlen(p) < 16)
		snprintf(ver, sizeof(ver), "%s", p);
	(void)real;
	has_ext = glob_first("/usr/lib/php/*/curl.so", NULL, NULL, ext,
	    sizeof(ext)) || glob_first("/usr/local/lib/php/extensions/*/curl.so",
	    NULL, NULL, ext, sizeof(ext));
	snprintf(pat, sizeof(pat), "/etc/php/%s/cli/conf.d/*curl.ini", ver);
	has_ini = glob_first(pat, NULL, NULL, ini, sizeof(ini)) ||
	    glob_first("/usr/local/etc/php/conf.d/*curl.ini", NULL, NULL, ini,
	    sizeof(ini));
	if (!has_ext) {
		printf("  %-11s php without the curl extension\n", "binding");
		v->visible = 0;
		set_why(v, "php has no curl extension, "
		    "so its scripts make no libcurl calls; install it "
		    "(apt-get install php-curl)");
		return;
	}
	printf("  %-11s php curl extension %s%s%s\n", "binding", ext,
	    has_ini ? ", enabled by " : ", not enabled in any conf.d ini",
	    has_ini ? ini : "");
	(void)module_curl(ext, "libcurl");
	if (!has_ini) {
		v->visible = 0;
		set_why(v, "php's curl extension is "
		    "installed but not enabled; enable it (phpenmod curl) or "
		    "run php -d extension=curl");
		return;
	}
	v->visible = 1;
	set_why(v, "php's curl extension is loaded "
	    "with RTLD_DEEPBIND; ratetap patches it (supported); run "
	    "`ratetap run -- php script.php`");
}

/* python: is pycurl importable by this interpreter? */
static void
check_python(const char *given, const char *real, const char *base,
    struct verdict *v)
{
	char tag[32] = "", pre[2][PATH_MAX], pat[PATH_MAX], mod[PATH_MAX];
	char tmp[PATH_MAX];
	static const char *const subs[] = {
		"/lib/python3*/site-packages/pycurl*.so",
		"/lib/python3*/dist-packages/pycurl*.so",
		"/lib/python3/dist-packages/pycurl*.so",
		"/local/lib/python3*/dist-packages/pycurl*.so",
		NULL
	};
	const char *home = getenv("HOME");
	const char *p;
	size_t i, k;
	int found = 0;

	/* python3.11 -> "cpython-311": only modules built for it */
	if (strncmp(base, "python", 6) == 0 && (p = strchr(base, '.')) != NULL &&
	    isdigit((unsigned char)base[6]))
		snprintf(tag, sizeof(tag), "cpython-%c%s", base[6], p + 1);
	for (k = 0; k < 2; k++) {
		snprintf(tmp, sizeof(tmp), "%s", k == 0 ? given : real);
		snprintf(pre[k], sizeof(pre[k]), "%s", dirname(dirname(tmp)));
	}
	for (k = 0; k < 2 && !found; k++)
		for (i = 0; subs[i] != NULL && !found; i++) {
			if (snprintf(pat, sizeof(pat), "%s%s", pre[k], subs[i]) >=
			    (int)sizeof(pat))
				continue;
			found = glob_first(pat, tag[0] ? tag : NULL,
			    "cpython-", mod, sizeof(mod));
		}
	if (!found && home != NULL && snprintf(pat, sizeof(pat),
	    "%s/.local/lib/python3*/site-packages/pycurl*.so", home) <
	    (int)sizeof(pat))
		found = glob_first(pat, tag[0] ? tag : NULL, "cpython-", mod,
		    sizeof(mod));
	if (!found) {
		printf("  %-11s no pycurl found for this interpreter\n",
		    "binding");
		v->visible = 0;
		set_why(v, "python's own HTTP clients "
		    "(urllib, requests, httpx, aiohttp) do not use libcurl and "
		    "no pycurl is installed for this interpreter; programs "
		    "using pycurl would be visible (apt-get install "
		    "python3-pycurl)");
		return;
	}
	printf("  %-11s pycurl %s\n", "binding", mod);
	(void)module_curl(mod, "libcurl");
	v->visible = 1;
	set_why(v, "python programs that use pycurl "
	    "are seen: pycurl's libcurl is hooked (supported); run "
	    "`ratetap run -- python3 script.py`. Programs using urllib, "
	    "requests or httpx are not visible");
}

static const char *
elf_type_name(const struct elfinfo *ei)
{
	switch (ei->type) {
	case ET_EXEC:
		return "executable";
	case ET_DYN:
		if (ei->has_interp)
			return "executable (PIE)";
		return ei->pie ? "executable (static PIE)" : "shared library";
	case ET_REL:
		return "relocatable object";
	case ET_CORE:
		return "core dump";
	default:
		return "object";
	}
}

/*
 * Analyse the program at path (given as the user named it) and print what
 * was found; *v receives the verdict.  Returns 0, or -1 when the file cannot
 * be examined at all (reason printed).
 */
static int
analyse(const char *given, const char *path, int depth, const char *role,
    struct verdict *v)
{
	struct elfinfo ei;
	struct tree t;
	struct stat sb;
	char real[PATH_MAX], err[PATH_MAX + 128], line[512], interp[PATH_MAX];
	char *p, *word, *save, *arg0;
	const char *base;
	ssize_t caps;
	int fd, r, ncurl, priv = 0;
	ssize_t n;

	memset(&t, 0, sizeof(t));
	v->visible = 0;
	v->why[0] = '\0';
	if (realpath(path, real) == NULL) {
		cli_errx("doctor: %s: %s", path, strerror(errno));
		return -1;
	}
	if (stat(real, &sb) == -1) {
		cli_errx("doctor: %s: %s", real, strerror(errno));
		return -1;
	}
	printf("%s%-11s %s", depth ? "\n" : "", role, given);
	if (strcmp(given, real) != 0)
		printf(" -> %s", real);
	putchar('\n');
	if (!S_ISREG(sb.st_mode)) {
		printf("  %-11s not a regular file\n", "file");
		set_why(v, "%s is not a program", given);
		return 0;
	}

	/* A script: the interpreter is what runs (and what may load libcurl). */
	if ((fd = open(real, O_RDONLY | O_CLOEXEC)) == -1) {
		cli_errx("doctor: %s: %s", real, strerror(errno));
		return -1;
	}
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 0) {
		cli_errx("doctor: %s: %s", real, strerror(errno));
		return -1;
	}
	line[n] = '\0';
	if (n >= 2 && line[0] == '#' && line[1] == '!') {
		line[strcspn(line, "\n")] = '\0';
		p = line + 2;
		printf("  %-11s script (#!%s)\n", "file", p);
		word = strtok_r(p, " \t", &save);
		if (word == NULL) {
			set_why(v, "the #! line names no "
			    "interpreter");
			return 0;
		}
		arg0 = word;
		base = strrchr(word, '/');
		if (strcmp(base ? base + 1 : word, "env") == 0) {
			while ((arg0 = strtok_r(NULL, " \t", &save)) != NULL &&
			    (arg0[0] == '-' || strchr(arg0, '=') != NULL))
				;
			if (arg0 == NULL) {
				set_why(v, "the #! line "
				    "runs env without a program");
				return 0;
			}
		}
		if (depth + 1 >= MAX_SCRIPT_DEPTH) {
			set_why(v, "too many nested #! "
			    "interpreters");
			return 0;
		}
		if (resolve_path(arg0, interp, sizeof(interp)) == -1) {
			set_why(v, "its interpreter %s "
			    "is not found", arg0);
			return 0;
		}
		printf("  %-11s diagnosing the interpreter %s instead\n", "",
		    interp);
		if (depth > 0)
			printf("  %-11s this interpreter is itself a script (a "
			    "wrapper such as pyenv's?); if it runs another "
			    "program, diagnose that one\n", "note");
		return analyse(arg0, interp, depth + 1, "interpreter", v);
	}

	r = elf_read(real, &ei, 1, err, sizeof(err));
	if (r == -1) {
		cli_errx("doctor: %s", err);
		return -1;
	}
	if (r == 0) {
		printf("  %-11s neither an ELF executable nor a #! script\n",
		    "file");
		set_why(v, "%s is not a program the "
		    "dynamic loader runs", given);
		return 0;
	}
	printf("  %-11s ELF %d-bit %s", "file",
	    ei.elfclass == ELFCLASS64 ? 64 : 32, elf_type_name(&ei));
	if (ei.type == ET_EXEC || ei.pie || ei.has_interp)
		printf(", %s", ei.has_interp ? "dynamically linked" :
		    "statically linked");
	if (ei.has_interp && ei.interp[0])
		printf(" (loader %s)", ei.interp);
	putchar('\n');

	/* The loader runs setuid/setgid/capable programs in secure mode. */
	caps = getxattr(real, "security.capability", NULL, 0);
	if (sb.st_mode & (S_ISUID | S_ISGID) || caps > 0) {
		priv = 1;
		printf("  %-11s%s%s%s\n", "privileges",
		    sb.st_mode & S_ISUID ? " setuid" : "",
		    sb.st_mode & S_ISGID ? " setgid" : "",
		    caps > 0 ? " file capabilities (security.capability)" : "");
	} else {
		printf("  %-11s no setuid/setgid bit, no file capabilities\n",
		    "privileges");
	}
	if (ei.embeds_curl || ei.curl_version_string)
		printf("  %-11s carries its own copy of libcurl (%s)\n",
		    "libcurl", ei.embeds_curl ? "defines curl_easy_* itself" :
		    "libcurl version string in .rodata");

	if (tree_build(&t, real, &ei) == -1) {
		cli_errx("doctor: %s", strerror(ENOMEM));
		elfinfo_free(&ei);
		tree_free(&t);
		return -1;
	}
	ncurl = report_curls(&t, "libcurl", "linked directly");
	if (ncurl == 0 && !ei.embeds_curl && !ei.curl_version_string &&
	    ei.has_interp)
		printf("  %-11s none in its DT_NEEDED tree (%zu libraries)\n",
		    "libcurl", t.n - 1);
	if (t.unresolved > 0)
		printf("  %-11s %d needed librar%s not found on this system\n",
		    "note", t.unresolved, t.unresolved == 1 ? "y" : "ies");

	base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
	if (ei.type == ET_DYN && !ei.has_interp && !ei.pie) {
		set_why(v, "%s is a shared library, not a program; run "
		    "`ratetap doctor` on the program that loads it", given);
	} else if (ei.type != ET_EXEC && ei.type != ET_DYN) {
		set_why(v, "%s is an ELF %s, not a program", given,
		    elf_type_name(&ei));
	} else if (!ei.has_interp) {
		set_why(v, "statically linked: the "
		    "dynamic loader never runs, so LD_PRELOAD is ignored and "
		    "ratetap cannot see it; use a dynamically linked build");
	} else if (priv) {
		set_why(v, "setuid/setgid or file "
		    "capabilities: the loader ignores LD_PRELOAD for it and "
		    "ratetap cannot see it; run an unprivileged copy "
		    "(cp it and drop the bits) if you need to see it");
	} else if (name_is(base, "node") || name_is(base, "nodejs") ||
	    name_is(base, "bun") || name_is(base, "deno")) {
		printf("  %-11s JavaScript runtime with its own HTTP stack\n",
		    "binding");
		set_why(v, "%s does not use libcurl: "
		    "not visible (use a proxy-based tool); the usage poll "
		    "still shows the windows' utilization", base);
	} else if (ei.embeds_curl || (ei.curl_version_string && ncurl == 0)) {
		set_why(v, "libcurl is linked "
		    "statically into the program: there is no dynamic symbol "
		    "to hook, ratetap cannot see it; use a build linked to "
		    "the shared libcurl");
	} else if (name_is(base, "php") || name_is(base, "php-cgi") ||
	    name_is(base, "php-fpm")) {
		if (ncurl > 0) {
			v->visible = 1;
			set_why(v, "php links libcurl "
			    "itself; run `ratetap run -- php script.php`");
		} else {
			check_php(real, base, v);
		}
	} else if (name_is(base, "python") || name_is(base, "python3")) {
		check_python(given, real, base, v);
	} else if (ncurl > 0) {
		v->visible = 1;
		set_why(v, "it loads libcurl "
		    "dynamically and LD_PRELOAD reaches it; run it as "
		    "`ratetap run -- %s ...`", given);
	} else {
		set_why(v, "it does not link libcurl, "
		    "directly or through its libraries; ratetap sees only "
		    "libcurl transfers (if it dlopen()s libcurl at run time, "
		    "try `ratetap run` and check `ratetap status`)");
	}
	elfinfo_free(&ei);
	tree_free(&t);
	return 0;
}

static void
print_verdict(const struct verdict *v)
{
	printf("verdict     %s: %s\n", v->visible ? "VISIBLE" : "NOT VISIBLE",
	    v->why);
}

/* Scan /proc/PID/maps for a libcurl and the shim. */
static int
scan_maps(const char *pid, int *curl, int *shim, char *curlpath,
    size_t len, char *err, size_t errlen)
{
	char path[96], line[PATH_MAX + 256], *p, *b;
	FILE *f;
	int i;

	*curl = *shim = 0;
	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		    errno == EACCES ? " (the process belongs to another "
		    "user: run doctor as that user or as root)" : "");
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* address perms offset dev inode pathname */
		for (p = line, i = 0; i < 5 && p != NULL; i++) {
			p = strchr(p, ' ');
			if (p != NULL)
				p += strspn(p, " ");
		}
		if (p == NULL || *p != '/')
			continue;
		b = strrchr(p, '/') + 1;
		if (strcmp(b, SHIM_NAME) == 0)
			*shim = 1;
		else if (is_libcurl(b) && !*curl) {
			*curl = 1;
			snprintf(curlpath, len, "%s", p);
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static int
doctor_pid(const char *pid)
{
	struct verdict v;
	char exe[PATH_MAX], link[64], err[PATH_MAX + 256];
	char curlpath[PATH_MAX] = "";
	ssize_t n;
	char *end;
	long pv;
	int curl, shim, have_exe = 1;

	errno = 0;
	pv = strtol(pid, &end, 10);
	if (errno != 0 || *end != '\0' || end == pid || pv <= 0 ||
	    pv > 4194304) {
		cli_errx("doctor: --pid needs a process id, not '%s'", pid);
		return CLI_EXIT_USAGE;
	}
	snprintf(link, sizeof(link), "/proc/%ld", pv);
	if (access(link, F_OK) == -1) {
		cli_errx("doctor: no process with pid %ld", pv);
		return CLI_EXIT_USAGE;
	}
	snprintf(link, sizeof(link), "/proc/%ld/exe", pv);
	if ((n = readlink(link, exe, sizeof(exe) - 1)) == -1) {
		printf("process     %ld: cannot read %s: %s%s\n", pv, link,
		    strerror(errno), errno == EACCES ? " (the process belongs "
		    "to another user: run doctor as that user or as root)" :
		    "");
		have_exe = 0;
	} else {
		exe[n] = '\0';
		printf("process     %ld: %s\n", pv, exe);
	}
	snprintf(link, sizeof(link), "%ld", pv);
	if (scan_maps(link, &curl, &shim, curlpath, sizeof(curlpath), err,
	    sizeof(err)) == -1) {
		printf("  %-11s cannot read: %s\n", "maps", err);
		printf("verdict     NOT VISIBLE: cannot examine process %ld; "
		    "run doctor as its user or as root\n", pv);
		return 1;
	}
	printf("  %-11s %s\n", "libcurl", curl ? curlpath :
	    "no libcurl mapped");
	printf("  %-11s %s\n", "shim", shim ? SHIM_NAME " is loaded" :
	    SHIM_NAME " is not loaded");

	memset(&v, 0, sizeof(v));
	if (have_exe) {
		/* /proc/PID/exe opens even when the file was deleted. */
		snprintf(link, sizeof(link), "/proc/%ld/exe", pv);
		if (analyse(exe, access(exe, R_OK) == 0 ? exe : link, 1,
		    "executable", &v) == -1)
			have_exe = 0;
		else
			printf("  %-11s %s: %s\n", "if rerun",
			    v.visible ? "visible" : "not visible", v.why);
	}
	if (shim && curl) {
		printf("verdict     VISIBLE: the shim and a libcurl are both "
		    "loaded in process %ld; its transfers are counted\n", pv);
		return 0;
	}
	if (shim && have_exe && v.visible) {
		printf("verdict     VISIBLE: the shim is loaded; no libcurl is "
		    "loaded yet, its transfers are counted once it loads "
		    "one\n");
		return 0;
	}
	if (shim) {
		printf("verdict     NOT VISIBLE: the shim is loaded but the "
		    "program uses no libcurl, so there is nothing to see\n");
		return 1;
	}
	printf("verdict     NOT VISIBLE: %s is not loaded in process %ld (it "
	    "was not started with `ratetap run` or LD_PRELOAD)%s\n",
	    SHIM_NAME, pv, have_exe && v.visible ? "; restart it with "
	    "`ratetap run -- ...`" : "");
	return 1;
}

static void
doctor_usage(FILE *f)
{
	fprintf(f,
	    "usage: ratetap doctor PROGRAM\n"
	    "       ratetap doctor --pid PID\n"
	    "\n"
	    "Tell whether ratetap can see the libcurl traffic of PROGRAM "
	    "(a path or a\n"
	    "command name looked up in PATH) or of a running process, and "
	    "if not, why\n"
	    "and what to do.  Exit status: 0 visible, 1 not visible, 2 "
	    "usage error.\n"
	    "\n"
	    "  --pid PID   examine a running process\n"
	    "  --help      this text\n"
	    "  --version   print the version\n");
}

/* A RATETAP_HOSTS entry the shim cannot use: one line of the report. */
static void
doctor_hosts_warn(void *arg, const char *msg)
{
	(void)arg;
	printf("%-11s %s\n", "hosts", msg);
}

int
cli_doctor_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct verdict v;
	const char *pid = NULL;
	char path[PATH_MAX];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pid = optarg;
			break;
		case 'h':
			doctor_usage(stdout);
			return 0;
		case 'V':
			printf("ratetap %s\n", RATETAP_VERSION);
			return 0;
		default:
			doctor_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	(void)rt_hosts_check_env(doctor_hosts_warn, NULL);
	if (pid != NULL) {
		if (optind < argc) {
			cli_errx("doctor: give either PROGRAM or --pid, not "
			    "both");
			return CLI_EXIT_USAGE;
		}
		return doctor_pid(pid);
	}
	if (optind + 1 != argc) {
		cli_errx("doctor: %s; usage: ratetap doctor PROGRAM | --pid "
		    "PID", optind >= argc ? "no program given" :
		    "one program at a time");
		return CLI_EXIT_USAGE;
	}
	if (argv[optind][0] == '\0' ||
	    resolve_path(argv[optind], path, sizeof(path)) == -1) {
		cli_errx("doctor: %s: not found in PATH; give its full path",
		    argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (analyse(argv[optind], path, 0, "program", &v) == -1)
		return CLI_EXIT_USAGE;
	print_verdict(&v);
	return v.visible ? 0 : 1;
}
