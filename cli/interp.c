/*
 * `ratetap doctor`: interpreters whose libcurl binding is an extension
 * module (php's curl extension, python's pycurl, ruby's curb, lua-curl,
 * perl's WWW::Curl and Net::Curl).
 *
 * Such a module is loaded with dlopen() at run time.  The shim reaches it
 * as it reaches every object that links a shared libcurl (shim/got.c,
 * shim/dlhook.c): its dlopen() hook patches the module's curl_* GOT slots
 * as it is loaded, and without RTLD_DEEPBIND the module's references bind
 * through the global scope, where the preloaded shim comes first anyway.
 * So the question per interpreter is only: is there such a module where
 * this interpreter loads its extensions from, and does it link libcurl?
 * The places are the interpreter's own: the search path compiled into it
 * (lua's package.cpath, perl's @INC, ruby's $LOAD_PATH, php's
 * extension_dir, all strings of its .rodata, so multiarch directories come
 * as the interpreter was built), the environment variables it reads, and
 * the few conventions on top (python's prefix and site-packages, ruby's
 * gem directories).  What does not go through libcurl (PHP's stream
 * wrapper, urllib/requests/httpx, net/http, LWP, luasocket) is named as
 * not seen.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <glob.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ratetap/curlname.h"

#include "doctor.h"

#define MAX_DIRS	64	/* extension directories kept per interpreter */
#define NO_LIBCURL	"no libcurl"

/* A list of directories, in search order, without duplicates. */
struct dirs {
	char *d[MAX_DIRS];
	size_t n;
};

static void
dirs_add(struct dirs *ds, const char *dir)
{
	size_t i;

	if (ds->n == MAX_DIRS || dir[0] == '\0')
		return;
	for (i = 0; i < ds->n; i++)
		if (strcmp(ds->d[i], dir) == 0)
			return;
	if ((ds->d[ds->n] = strdup(dir)) != NULL)
		ds->n++;
}

static void dirs_addf(struct dirs *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* dirs_add() of a formatted path; one too long for PATH_MAX is left out. */
static void
dirs_addf(struct dirs *ds, const char *fmt, ...)
{
	char d[PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(d, sizeof(d), fmt, ap);
	va_end(ap);
	if (n > 0 && n < (int)sizeof(d))
		dirs_add(ds, d);
}

static void
dirs_free(struct dirs *ds)
{
	size_t i;

	for (i = 0; i < ds->n; i++)
		free(ds->d[i]);
	ds->n = 0;
}

static int
is_dir(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* 1 when some argument of the #! line is exactly word. */
static int
has_arg(const struct doc_args *a, const char *word)
{
	int i;

	for (i = 0; a != NULL && i < a->n; i++)
		if (strcmp(a->v[i], word) == 0)
			return 1;
	return 0;
}

/* 1 when a short-option cluster (-uS) of the arguments holds flag c,
 * stopping at the options that take a value (stop). */
static int
has_flag(const struct doc_args *a, char c, const char *stop)
{
	const char *p;
	int i;

	for (i = 0; a != NULL && i < a->n; i++) {
		p = a->v[i];
		if (p[0] != '-' || p[1] == '-' || p[1] == '\0')
			continue;
		for (p++; *p; p++) {
			if (*p == c)
				return 1;
			if (strchr(stop, *p) != NULL)
				break;
		}
	}
	return 0;
}

/* First match of pattern, into out; must: a substring the base name must
 * hold.  1 when found. */
static int
glob_first(const char *pattern, const char *must, const struct elfinfo *ref,
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
		if (must != NULL && strstr(b, must) == NULL)
			continue;
		if (ref != NULL && !doc_elf_compatible(g.gl_pathv[i], ref))
			continue;
		snprintf(out, len, "%s", g.gl_pathv[i]);
		found = 1;
	}
	globfree(&g);
	return found;
}

/* The first of rel (each a glob relative to a directory) found in ds,
 * an ELF object like ref.  1 when found. */
static int
dirs_find(const struct dirs *ds, const char *const *rel,
    const struct elfinfo *ref, char *out, size_t len)
{
	char pat[PATH_MAX];
	size_t i, k;

	for (i = 0; i < ds->n; i++)
		for (k = 0; rel[k] != NULL; k++)
			if (snprintf(pat, sizeof(pat), "%s/%s", ds->d[i],
			    rel[k]) < (int)sizeof(pat) &&
			    glob_first(pat, NULL, ref, out, len))
				return 1;
	return 0;
}

int
doc_module_curl(const char *mod, const char *label, int *missing)
{
	struct elfinfo ei;
	struct tree t;
	char err[PATH_MAX + 64], ch[1024];
	size_t i;
	int n = 0;

	if (doc_elf_read(mod, &ei, 1, err, sizeof(err)) != 1)
		return -1;
	if (ei.embeds_curl)
		printf("  %-11s carries its own copy of libcurl (defines "
		    "curl_easy_* itself)\n", label);
	if (doc_tree_build(&t, mod, &ei) == 0) {
		for (i = 1; i < t.n; i++) {
			if (!rt_libcurl_name(t.o[i].name))
				continue;
			doc_chain(&t, i, ch, sizeof(ch));
			printf("  %-11s %s (%s), %s%s%s\n", n ? "" : label,
			    t.o[i].name, doc_curl_flavour(&t, i),
			    t.o[i].parent == 0 ? "linked by the module" :
			    "linked through ", t.o[i].parent == 0 ? "" : ch,
			    t.o[i].path ? "" : " (not found on this system)");
			if (t.o[i].path != NULL)
				n++;
			else if (missing != NULL)
				*missing = 1;
		}
	}
	doc_tree_free(&t);
	if (ei.embeds_curl)
		n = 0;
	doc_elf_free(&ei);
	return n;
}

/*
 * The module found for a binding: print it and how the shim reaches it;
 * add the binding's way in to *v.  Returns 1 when it is seen.
 */
static int
binding_found(const char *mod, const char *what, int deepbind,
    struct verdict *v)
{
	int n, missing = 0;

	printf("  %-11s %s %s\n", "binding", what, mod);
	n = doc_module_curl(mod, "libcurl", &missing);
	if (n <= 0) {
		doc_path_add(v, 1, 0, what, n < 0 ? "unreadable module" :
		    missing ? "the libcurl it links is not installed" :
		    "the module links no shared libcurl");
		return 0;
	}
	printf("  %-11s loaded with dlopen() at run time; the shim's dlopen "
	    "hook patches its curl_* GOT slots as it links libcurl%s\n",
	    "reached", deepbind ? " (it is loaded with RTLD_DEEPBIND, so "
	    "only the patch reaches it; supported)" : ", and its calls bind "
	    "through the global scope, where the preloaded shim comes first");
	doc_path_add(v, 1, 1, what, NULL);
	return 1;
}

/* Path strings of the interpreter and of its own library (libruby,
 * liblua, libperl, libpython, libphp) in its DT_NEEDED tree. */
static void
interp_paths(const char *real, const struct tree *t, const char *libprefix,
    int (*fn)(const char *, void *), void *arg)
{
	int i;

	(void)doc_elf_paths(real, fn, arg);
	if ((i = doc_tree_find(t, libprefix)) > 0 && t->o[i].path != NULL)
		(void)doc_elf_paths(t->o[i].path, fn, arg);
}

static void
print_dirs(const struct dirs *ds, const char *label)
{
	size_t i;

	for (i = 0; i < ds->n; i++)
		printf("  %-11s %s\n", i ? "" : label, ds->d[i]);
	if (ds->n == 0)
		printf("  %-11s none found\n", label);
}

/*
 * The way in that goes around libcurl (what), over HTTPS: seen by the TLS
 * layer when the module that does the interpreter's TLS (mod, named
 * label; NULL: the interpreter itself, *ei and *t) links a TLS library the
 * layer hooks.  Prints the "tls" line.  Returns 1 when it is seen.
 */
static int
tls_way(struct verdict *v, const char *what, const char *label,
    const char *mod, const struct elfinfo *ei, const struct tree *t,
    const char *base)
{
	struct elfinfo mei;
	struct tree mt;
	struct tlsinfo ti;
	char err[PATH_MAX + 64], note[320];
	int r = 0, i;

	memset(&mt, 0, sizeof(mt));
	if (mod != NULL) {
		if (doc_elf_read(mod, &mei, 1, err, sizeof(err)) != 1) {
			printf("  %-11s %s %s: unreadable\n", "tls", label, mod);
			doc_path_add(v, 0, 0, what, NO_LIBCURL "; its TLS module "
			    "is unreadable");
			return 0;
		}
		if (doc_tree_build(&mt, mod, &mei) == -1) {
			doc_elf_free(&mei);
			doc_tree_free(&mt);
			doc_path_add(v, 0, 0, what, NO_LIBCURL);
			return 0;
		}
		ei = &mei;
		t = &mt;
	}
	if (!doc_tls_of(ei, t, base, &ti)) {
		printf("  %-11s %s%s%slinks no TLS library\n", "tls",
		    mod ? label : "", mod ? " " : "", mod ? "" : "");
		doc_path_add(v, 0, 0, what, NO_LIBCURL "; no TLS library "
		    "found");
		goto out;
	}
	i = ti.lib[0] ? doc_tree_find(t, ti.lib) : -1;
	printf("  %-11s %s%s%s%s%s%s\n", "tls", mod ? label : "", mod ? " " :
	    "", mod ? mod : "", mod ? ": " : "", ti.what, i <= 0 ? "" :
	    t->o[i].parent != 0 ? ", linked through a library it links" :
	    mod ? ", linked by the module" : ", linked directly");
	if (ti.seen) {
		snprintf(note, sizeof(note), "over HTTPS, at the TLS layer: %s "
		    "links %s", mod ? label : base, ti.lib);
		printf("  %-11s TLS layer: its HTTPS requests are read from "
		    "its %s calls\n", "layer", strncmp(ti.lib, "libgnutls", 9)
		    == 0 ? "gnutls_record_*" : "SSL_read/SSL_write");
		doc_path_add(v, 0, 1, what, note);
		r = 1;
	} else {
		printf("  %-11s none: %s\n", "layer", ti.why);
		snprintf(note, sizeof(note), NO_LIBCURL "; %s", ti.own ?
		    "its TLS is linked into the executable, out of a "
		    "preload's reach" : ti.why);
		doc_path_add(v, 0, 0, what, note);
	}
out:
	if (mod != NULL) {
		doc_tree_free(&mt);
		doc_elf_free(&mei);
	}
	return r;
}

/* -- php ----------------------------------------------------------------- */

struct php_strs {
	char extdir[PATH_MAX];		/* compiled-in extension_dir */
	char scandir[PATH_MAX];		/* compiled-in ini scan dir */
	char inidir[PATH_MAX];		/* compiled-in php.ini directory */
	char incpath[PATH_MAX];		/* compiled-in include_path */
};

static int
php_str(const char *s, void *arg)
{
	struct php_strs *ps = arg;
	const char *b = strrchr(s, '/');
	size_t l = strlen(s);

	if (b != NULL && strspn(b + 1, "0123456789") == 8 && b[9] == '\0' &&
	    b - s >= 4 && strncmp(b - 4, "/php", 4) == 0 && is_dir(s)) {
		if (ps->extdir[0] == '\0')
			snprintf(ps->extdir, sizeof(ps->extdir), "%s", s);
	} else if (l > 7 && strcmp(s + l - 7, "/conf.d") == 0 &&
	    strstr(s, "php") != NULL) {
		if (ps->scandir[0] == '\0')
			snprintf(ps->scandir, sizeof(ps->scandir), "%s", s);
	} else if (strncmp(s, ".:/", 3) == 0) {
		if (ps->incpath[0] == '\0')
			snprintf(ps->incpath, sizeof(ps->incpath), "%s", s);
	} else if (strncmp(s, "/etc/php", 8) == 0 && b != NULL &&
	    (strcmp(b, "/cli") == 0 || strcmp(b, "/cgi") == 0 ||
	    strcmp(b, "/fpm") == 0)) {
		if (ps->inidir[0] == '\0')
			snprintf(ps->inidir, sizeof(ps->inidir), "%s", s);
	}
	return 0;
}

/* 1 when the ini file path loads the curl extension. */
static int
ini_loads_curl(const char *path)
{
	char line[512], *p, *e;
	FILE *f;
	int yes = 0;

	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (!yes && fgets(line, sizeof(line), f) != NULL) {
		p = line + strspn(line, " \t");
		if (strncmp(p, "extension", 9) != 0)
			continue;
		p += 9 + strspn(p + 9, " \t");
		if (*p++ != '=')
			continue;
		p += strspn(p, " \t\"'");
		e = p + strcspn(p, " \t\"';\r\n");
		*e = '\0';
		if ((e = strrchr(p, '/')) != NULL)
			p = e + 1;
		yes = strcmp(p, "curl") == 0 || strcmp(p, "curl.so") == 0 ||
		    strcmp(p, "php_curl.so") == 0;
	}
	fclose(f);
	return yes;
}

/* The ini file of the scan directories dirs (':' separated) that loads
 * curl, into out.  1 when found. */
static int
scan_dirs_curl(const char *dirs, char *out, size_t len)
{
	char *copy, *tok, *save, pat[PATH_MAX];
	glob_t g;
	size_t i;
	int found = 0;

	if ((copy = strdup(dirs)) == NULL)
		return 0;
	for (tok = strtok_r(copy, ":", &save); tok != NULL && !found;
	    tok = strtok_r(NULL, ":", &save)) {
		if (snprintf(pat, sizeof(pat), "%s/*.ini", tok) >=
		    (int)sizeof(pat) || glob(pat, 0, NULL, &g) != 0)
			continue;
		for (i = 0; i < g.gl_pathc && !found; i++)
			if (ini_loads_curl(g.gl_pathv[i])) {
				snprintf(out, len, "%s", g.gl_pathv[i]);
				found = 1;
			}
		globfree(&g);
	}
	free(copy);
	return found;
}

/* -d extension=curl on the #! line. */
static int
php_d_curl(const struct doc_args *a)
{
	const char *p;
	int i;

	for (i = 0; a != NULL && i < a->n; i++) {
		p = a->v[i];
		if (strncmp(p, "-d", 2) != 0)
			continue;
		p = p[2] ? p + 2 : (i + 1 < a->n ? a->v[i + 1] : "");
		if (strcmp(p, "extension=curl") == 0 ||
		    strcmp(p, "extension=curl.so") == 0)
			return 1;
	}
	return 0;
}

static void
check_php(const char *real, const struct elfinfo *ei, const struct tree *t,
    const struct doc_args *args, struct verdict *v)
{
	static const char *const what = "curl extension (curl_*, Guzzle's "
	    "default handler)";
	struct php_strs ps;
	char ext[PATH_MAX], ini[PATH_MAX] = "", scan[2 * PATH_MAX + 2];
	char tmp[PATH_MAX], *tok, *save;
	const char *env;
	int has_ext, enabled, noini;

	memset(&ps, 0, sizeof(ps));
	interp_paths(real, t, "libphp", php_str, &ps);
	if (ps.extdir[0] == '\0') {
		/* a build without the string: PREFIX/lib/php/API */
		snprintf(tmp, sizeof(tmp), "%s", real);
		snprintf(ext, sizeof(ext), "%s/lib/php/[0-9]*",
		    dirname(dirname(tmp)));
		(void)glob_first(ext, NULL, NULL, ps.extdir,
		    sizeof(ps.extdir));
	}
	printf("  %-11s %s\n", "extensions", ps.extdir[0] ? ps.extdir :
	    "no extension_dir found");
	has_ext = ps.extdir[0] != '\0' && snprintf(ext, sizeof(ext),
	    "%s/curl.so", ps.extdir) < (int)sizeof(ext) &&
	    doc_elf_compatible(ext, ei);

	/* which ini files php reads: -n none, PHP_INI_SCAN_DIR, conf.d */
	noini = has_arg(args, "-n") || has_arg(args, "--no-php-ini");
	if ((env = getenv("PHP_INI_SCAN_DIR")) != NULL)
		snprintf(scan, sizeof(scan), "%s%s", env[0] == ':' ?
		    ps.scandir : "", env);
	else
		snprintf(scan, sizeof(scan), "%s", ps.scandir);
	enabled = php_d_curl(args);
	if (!enabled && !noini) {
		if (snprintf(tmp, sizeof(tmp), "%s/php.ini", ps.inidir) <
		    (int)sizeof(tmp) && ps.inidir[0] && ini_loads_curl(tmp)) {
			snprintf(ini, sizeof(ini), "%s", tmp);
			enabled = 1;
		} else {
			enabled = scan_dirs_curl(scan, ini, sizeof(ini));
		}
	}
	v->visible = 0;
	snprintf(v->lang, sizeof(v->lang), "php");
	if (doc_tree_find(t, "libcurl") > 0) {
		/* built with the curl extension inside (--with-curl) */
		printf("  %-11s php's curl extension is built in\n",
		    "binding");
		doc_path_add(v, 1, 1, what, NULL);
		v->visible = 1;
		doc_set_why(v, "php links libcurl itself; run `ratetap run -- "
		    "php script.php`");
	} else if (!has_ext) {
		printf("  %-11s php without the curl extension\n", "binding");
		doc_path_add(v, 1, 0, what, "not installed: apt-get install "
		    "php-curl");
		doc_set_why(v, "php has no curl extension, so its scripts "
		    "make no libcurl calls; install it (apt-get install "
		    "php-curl)");
	} else if (!enabled) {
		printf("  %-11s php curl extension %s, not enabled%s\n",
		    "binding", ext, noini ? " (-n: no ini file is read)" :
		    " in any ini file");
		(void)doc_module_curl(ext, "libcurl", NULL);
		doc_path_add(v, 1, 0, what, noini ? "not enabled: -n reads "
		    "no ini files" : "not enabled");
		doc_set_why(v, "php's curl extension is installed but not "
		    "enabled; enable it (phpenmod curl) or run php -d "
		    "extension=curl");
	} else {
		printf("  %-11s enabled by %s\n", "ini", ini[0] ? ini :
		    "-d extension=curl");
		if (binding_found(ext, what, 1, v)) {
			v->visible = 1;
			doc_set_why(v, "run `ratetap run -- php script.php`");
		}
	}
	if (ps.incpath[0] != '\0' && (tok = strtok_r(ps.incpath + 2, ":",
	    &save)) != NULL)
		for (; tok != NULL; tok = strtok_r(NULL, ":", &save))
			if (snprintf(tmp, sizeof(tmp), "%s/GuzzleHttp/"
			    "Client.php", tok) < (int)sizeof(tmp) &&
			    access(tmp, R_OK) == 0) {
				printf("  %-11s Guzzle %s/GuzzleHttp: its "
				    "default handler is the curl extension "
				    "when it is loaded; 'stream' => true "
				    "requests take the stream wrapper\n",
				    "library", tok);
				break;
			}
	/* the stream wrapper's TLS: php's own openssl, built in (php
	   links libssl) or the openssl extension */
	tmp[0] = '\0';
	if (doc_tree_find(t, "libssl") <= 0 && ps.extdir[0] != '\0' &&
	    (snprintf(tmp, sizeof(tmp), "%s/openssl.so", ps.extdir) >=
	    (int)sizeof(tmp) || !doc_elf_compatible(tmp, ei)))
		tmp[0] = '\0';
	if (tls_way(v, "stream wrapper (file_get_contents, fopen, Guzzle "
	    "'stream' => true)", "openssl extension", tmp[0] ? tmp : NULL,
	    ei, t, "php") && !v->visible) {
		v->visible = 1;
		doc_set_why(v, "run `ratetap run -- php script.php`");
	}
}

/* -- python -------------------------------------------------------------- */

/* include-system-site-packages = true in the pyvenv.cfg at path. */
static int
venv_system_site(const char *path)
{
	char line[256], *p;
	FILE *f;
	int yes = 0;

	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		p = line + strspn(line, " \t");
		if (strncmp(p, "include-system-site-packages", 28) != 0)
			continue;
		p += 28 + strspn(p + 28, " \t=");
		yes = strncasecmp(p, "true", 4) == 0;
	}
	fclose(f);
	return yes;
}

static void
check_python(const char *given, const char *real, const char *base,
    const struct elfinfo *ei, const struct tree *t,
    const struct doc_args *args, struct verdict *v)
{
	static const char *const rel[] = { "pycurl*.so", NULL };
	struct dirs ds = { { NULL }, 0 };
	char tag[32] = "", pre[2][PATH_MAX], d[PATH_MAX], ver[16] = "3*";
	char tmp[PATH_MAX], mod[PATH_MAX], *copy, *tok, *save, *p;
	const char *home = getenv("HOME"), *env, *q;
	size_t k;
	int nosite, nouser, noenv, found, venv, syssite = 0;

	/* python3.11 -> "3.11", modules tagged "cpython-311" */
	q = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
	if (strncmp(q, "python", 6) == 0 && isdigit((unsigned char)q[6]) &&
	    (p = strchr(q, '.')) != NULL && strlen(q + 6) < sizeof(ver)) {
		snprintf(ver, sizeof(ver), "%s", q + 6);
		snprintf(tag, sizeof(tag), "cpython-%c%s", q[6], p + 1);
	}
	(void)base;
	nosite = has_flag(args, 'S', "cmWXQ");
	noenv = has_flag(args, 'E', "cmWXQ") || has_flag(args, 'I', "cmWXQ");
	nouser = noenv || has_flag(args, 's', "cmWXQ") ||
	    (!noenv && getenv("PYTHONNOUSERSITE") != NULL);
	if (nosite)
		printf("  %-11s -S: the site module is not imported, so no "
		    "site-packages or dist-packages is searched\n", "note");

	if (!noenv && (env = getenv("PYTHONPATH")) != NULL &&
	    (copy = strdup(env)) != NULL) {
		for (tok = strtok_r(copy, ":", &save); tok != NULL;
		    tok = strtok_r(NULL, ":", &save))
			dirs_add(&ds, tok);
		free(copy);
	}
	for (k = 0; k < 2; k++) {
		snprintf(tmp, sizeof(tmp), "%s", k == 0 ? given : real);
		snprintf(pre[k], sizeof(pre[k]), "%s", dirname(dirname(tmp)));
	}
	/* a virtual environment: pyvenv.cfg at the root of the one the
	   program was named in; its site-packages, and the base
	   installation's only with include-system-site-packages = true */
	venv = snprintf(d, sizeof(d), "%s/pyvenv.cfg", pre[0]) <
	    (int)sizeof(d) && access(d, R_OK) == 0;
	if (venv) {
		syssite = venv_system_site(d);
		printf("  %-11s virtual environment %s (%s)\n", "note", pre[0],
		    syssite ? "with the system site-packages" :
		    "without the system site-packages");
		nouser = 1;
	}
	for (k = 0; k < 2; k++) {
		/* the standard library's own extension modules */
		dirs_addf(&ds, "%s/lib/python%s/lib-dynload", pre[k], ver);
		if (nosite)
			continue;
		if (venv && k == 0) {
			dirs_addf(&ds, "%s/lib/python%s/site-packages",
			    pre[k], ver);
			continue;
		}
		if (venv && !syssite)
			continue;
		dirs_addf(&ds, "%s/local/lib/python%s/dist-packages", pre[k],
		    ver);
		dirs_addf(&ds, "%s/lib/python3/dist-packages", pre[k]);
		dirs_addf(&ds, "%s/lib/python%s/dist-packages", pre[k], ver);
		dirs_addf(&ds, "%s/lib/python%s/site-packages", pre[k], ver);
	}
	if (!nosite && !nouser && home != NULL) {
		dirs_addf(&ds, "%s/.local/lib/python%s/site-packages",
		    home, ver);
	}
	found = 0;
	for (k = 0; k < ds.n && !found; k++) {
		if (snprintf(d, sizeof(d), "%s/%s", ds.d[k], rel[0]) >=
		    (int)sizeof(d))
			continue;
		found = glob_first(d, tag[0] ? tag : NULL, ei, mod,
		    sizeof(mod));
		/* a module without the ABI tag ("pycurl.so") */
		if (!found && tag[0] && snprintf(d, sizeof(d),
		    "%s/pycurl.so", ds.d[k]) < (int)sizeof(d))
			found = glob_first(d, NULL, ei, mod, sizeof(mod));
	}
	snprintf(v->lang, sizeof(v->lang), "python");
	v->visible = 0;
	if (!found) {
		printf("  %-11s no pycurl found for this interpreter\n",
		    "binding");
		doc_path_add(v, 1, 0, "pycurl", nosite ? "not importable: -S "
		    "skips the site directories" : venv ? "not installed in "
		    "the virtual environment: pip install pycurl" :
		    strcmp(pre[1], "/usr") == 0 ? "not installed: apt-get "
		    "install python3-pycurl" : "not installed for this "
		    "interpreter: pip install pycurl");
		doc_set_why(v, "no libcurl binding is importable by this "
		    "interpreter; programs using pycurl would be visible");
	} else if (binding_found(mod, "pycurl", 0, v)) {
		v->visible = 1;
		doc_set_why(v, "run `ratetap run -- python3 script.py`");
	}
	/* ssl: the _ssl extension of the standard library (or built in) */
	found = 0;
	for (k = 0; k < ds.n && !found; k++)
		if (strstr(ds.d[k], "lib-dynload") != NULL &&
		    snprintf(d, sizeof(d), "%s/_ssl*.so", ds.d[k]) <
		    (int)sizeof(d))
			found = glob_first(d, tag[0] ? tag : NULL, ei, mod,
			    sizeof(mod));
	if (tls_way(v, "urllib, http.client, requests, httpx, aiohttp",
	    "_ssl", found ? mod : NULL, ei, t, "python") && !v->visible) {
		v->visible = 1;
		doc_set_why(v, "run `ratetap run -- python3 script.py`");
	}
	dirs_free(&ds);
}

/* -- ruby ---------------------------------------------------------------- */

struct ruby_strs {
	struct dirs load;	/* $LOAD_PATH entries compiled in */
	char ver[16];		/* "3.1.0": the library ABI version */
};

static int
ruby_str(const char *s, void *arg)
{
	struct ruby_strs *rs = arg;
	const char *b;

	if (s[0] != '/' || strstr(s, "ruby") == NULL || !is_dir(s))
		return 0;
	dirs_add(&rs->load, s);
	b = strrchr(s, '/') + 1;
	if (rs->ver[0] == '\0' && isdigit((unsigned char)b[0]) &&
	    strspn(b, "0123456789.") == strlen(b) && strchr(b, '.') &&
	    strlen(b) < sizeof(rs->ver))
		snprintf(rs->ver, sizeof(rs->ver), "%s", b);
	return 0;
}

static void
check_ruby(const char *real, const struct elfinfo *ei, const struct tree *t,
    const struct doc_args *args, struct verdict *v)
{
	static const char *const rel[] = {
		"curb_core.so", "*/curb_core.so", NULL
	};
	static const char *const gemrel[] = {
		"extensions/*/*/curb-*/curb_core.so", NULL
	};
	static const char *const what = "curb (Curl::Easy, Curl::Multi)";
	struct ruby_strs rs;
	struct dirs gems = { { NULL }, 0 };
	char libdir[PATH_MAX], tmp[PATH_MAX], mod[PATH_MAX];
	char *copy, *tok, *save;
	const char *home = getenv("HOME"), *env, *b;
	size_t k;
	int i, found, nogems;

	memset(&rs, 0, sizeof(rs));
	if ((env = getenv("RUBYLIB")) != NULL && (copy = strdup(env)) != NULL) {
		for (tok = strtok_r(copy, ":", &save); tok != NULL;
		    tok = strtok_r(NULL, ":", &save))
			dirs_add(&rs.load, tok);
		free(copy);
	}
	interp_paths(real, t, "libruby", ruby_str, &rs);
	nogems = has_arg(args, "--disable-gems") ||
	    has_arg(args, "--disable=gems");

	/* gem directories: GEM_HOME, GEM_PATH, each compiled-in
	   <dir>/<ver>'s <dir>/gems/<ver>, and Debian's rubygems-integration
	   beside libruby (in the multiarch directory) */
	if (!nogems) {
		if ((env = getenv("GEM_HOME")) != NULL)
			dirs_add(&gems, env);
		if ((env = getenv("GEM_PATH")) != NULL &&
		    (copy = strdup(env)) != NULL) {
			for (tok = strtok_r(copy, ":", &save); tok != NULL;
			    tok = strtok_r(NULL, ":", &save))
				dirs_add(&gems, tok);
			free(copy);
		}
		if ((i = doc_tree_find(t, "libruby")) > 0 &&
		    t->o[i].path != NULL) {
			/* as the loader found it may be through a symlink
			   (/lib -> usr/lib): the real directory */
			if (realpath(t->o[i].path, tmp) == NULL)
				snprintf(tmp, sizeof(tmp), "%s", t->o[i].path);
			snprintf(libdir, sizeof(libdir), "%s", dirname(tmp));
		} else {
			snprintf(tmp, sizeof(tmp), "%s", real);
			snprintf(libdir, sizeof(libdir), "%s/lib/%s",
			    dirname(dirname(tmp)), doc_multiarch(ei));
		}
		if (rs.ver[0] != '\0') {
			dirs_addf(&gems, "%s/rubygems-integration/%s",
			    libdir, rs.ver);
			dirs_addf(&gems, "/usr/share/rubygems-integration"
			    "/%s", rs.ver);
			dirs_add(&gems, "/usr/share/rubygems-integration/all");
			dirs_addf(&gems, "/var/lib/gems/%s", rs.ver);
			for (k = 0; k < rs.load.n; k++) {
				b = strrchr(rs.load.d[k], '/');
				if (b == NULL || strcmp(b + 1, rs.ver) != 0)
					continue;
				dirs_addf(&gems, "%.*s/gems/%s",
				    (int)(b - rs.load.d[k]), rs.load.d[k],
				    rs.ver);
			}
			if (home != NULL) {
				dirs_addf(&gems, "%s/.gem/ruby/%s", home,
				    rs.ver);
				dirs_addf(&gems, "%s/.local/share/gem/"
				    "ruby/%s", home, rs.ver);
			}
		}
	}
	found = dirs_find(&rs.load, rel, ei, mod, sizeof(mod)) ||
	    dirs_find(&gems, gemrel, ei, mod, sizeof(mod));
	snprintf(v->lang, sizeof(v->lang), "ruby");
	v->visible = 0;
	if (!found) {
		printf("  %-11s no curb found in its load path%s\n", "binding",
		    nogems ? " (--disable-gems: gem directories are not "
		    "searched)" : " or gem directories");
		doc_path_add(v, 1, 0, what, nogems ? "not loadable: "
		    "--disable-gems" : "not installed: apt-get install "
		    "ruby-curb");
		doc_set_why(v, "no libcurl binding is installed for this "
		    "interpreter; programs using curb would be visible");
	} else if (binding_found(mod, what, 0, v)) {
		v->visible = 1;
		doc_set_why(v, "run `ratetap run -- ruby script.rb`");
	}
	/* net/http's TLS: the openssl extension (openssl.so) */
	{
		static const char *const sslrel[] = {
			"openssl.so", "*/openssl.so", NULL
		};

		found = dirs_find(&rs.load, sslrel, ei, mod, sizeof(mod));
		if (tls_way(v, "net/http (open-uri, Faraday's default adapter, "
		    "HTTParty)", "openssl.so", found ? mod : NULL, ei, t,
		    "ruby") && !v->visible) {
			v->visible = 1;
			doc_set_why(v, "run `ratetap run -- ruby script.rb`");
		}
	}
	dirs_free(&rs.load);
	dirs_free(&gems);
}

/* -- lua ----------------------------------------------------------------- */

struct lua_strs {
	char cpath[PATH_MAX];	/* compiled-in package.cpath */
	char var[32];		/* LUA_CPATH_5_x when the build reads it */
};

static int
lua_str(const char *s, void *arg)
{
	struct lua_strs *ls = arg;

	if (ls->cpath[0] == '\0' && strstr(s, "?.so") != NULL &&
	    strchr(s, ';') != NULL)
		snprintf(ls->cpath, sizeof(ls->cpath), "%s", s);
	return 0;
}

/* Find LUA_CPATH_5_x among all strings (not only paths). */
static void
lua_var(const char *path, struct lua_strs *ls)
{
	char buf[65536];
	const char *p;
	FILE *f;
	size_t n, keep = 0;

	if ((f = fopen(path, "re")) == NULL)
		return;
	while ((n = fread(buf + keep, 1, sizeof(buf) - keep - 1, f)) > 0) {
		n += keep;
		buf[n] = '\0';
		if ((p = memmem(buf, n, "LUA_CPATH_5_", 12)) != NULL &&
		    (size_t)(p - buf) + 13 < n && isdigit((unsigned char)p[12])) {
			snprintf(ls->var, sizeof(ls->var), "LUA_CPATH_5_%c",
			    p[12]);
			break;
		}
		keep = n > 16 ? 16 : n;
		memmove(buf, buf + n - keep, keep);
	}
	fclose(f);
}

static void
check_lua(const char *real, const struct elfinfo *ei, const struct tree *t,
    const struct doc_args *args, struct verdict *v)
{
	static const char *const names[] = {
		"curl", "lcurl", "luacurl", "cURL", NULL
	};
	struct lua_strs ls;
	struct dirs tried = { { NULL }, 0 };
	char cpath[2 * PATH_MAX + 2], cand[PATH_MAX], mod[PATH_MAX];
	char what[64] = "lua-curl", *tok, *save, *q;
	const char *env = NULL, *from = "compiled in";
	size_t k;
	int i, found = 0;

	memset(&ls, 0, sizeof(ls));
	interp_paths(real, t, "liblua", lua_str, &ls);
	lua_var(real, &ls);
	if ((i = doc_tree_find(t, "liblua")) > 0 && t->o[i].path != NULL &&
	    ls.var[0] == '\0')
		lua_var(t->o[i].path, &ls);
	/* lua.c: LUA_CPATH_5_x, else LUA_CPATH; ";;" is the default */
	if (!has_flag(args, 'E', "el")) {
		if (ls.var[0] != '\0' && (env = getenv(ls.var)) != NULL)
			from = ls.var;
		else if ((env = getenv("LUA_CPATH")) != NULL)
			from = "LUA_CPATH";
	}
	if (env != NULL) {
		if ((q = strstr(env, ";;")) != NULL)
			snprintf(cpath, sizeof(cpath), "%.*s;%s;%s",
			    (int)(q - env), env, ls.cpath, q + 2);
		else
			snprintf(cpath, sizeof(cpath), "%s", env);
	} else {
		snprintf(cpath, sizeof(cpath), "%s", ls.cpath);
	}
	printf("  %-11s package.cpath (%s) %s\n", "extensions", from,
	    cpath[0] ? cpath : "(none found)");
	for (tok = strtok_r(cpath, ";", &save); tok != NULL && !found;
	    tok = strtok_r(NULL, ";", &save)) {
		if ((q = strchr(tok, '?')) == NULL)
			continue;
		dirs_add(&tried, tok);
		for (k = 0; names[k] != NULL && !found; k++)
			if (snprintf(cand, sizeof(cand), "%.*s%s%s",
			    (int)(q - tok), tok, names[k], q + 1) <
			    (int)sizeof(cand) && access(cand, R_OK) == 0 &&
			    doc_elf_compatible(cand, ei)) {
				snprintf(mod, sizeof(mod), "%s", cand);
				snprintf(what, sizeof(what), "lua-curl "
				    "(require \"%s\")", names[k]);
				found = 1;
			}
	}
	snprintf(v->lang, sizeof(v->lang), "lua");
	v->visible = 0;
	if (!found) {
		printf("  %-11s no lua-curl module (curl.so, lcurl.so) on its "
		    "package.cpath\n", "binding");
		doc_path_add(v, 1, 0, what, "not installed: apt-get install "
		    "lua-curl");
		doc_set_why(v, "no libcurl binding is on this interpreter's "
		    "package.cpath; programs using lua-curl would be "
		    "visible");
	} else if (binding_found(mod, what, 0, v)) {
		v->visible = 1;
		doc_set_why(v, "run `ratetap run -- lua script.lua`");
	}
	doc_path_add(v, 0, 0, "luasocket, luasec, lua-http (socket.http, "
	    "ssl.https, http.request)", NO_LIBCURL);
	dirs_free(&tried);
}

/* -- perl ---------------------------------------------------------------- */

static int
perl_str(const char *s, void *arg)
{
	if (s[0] == '/' && strstr(s, "perl") != NULL && is_dir(s))
		dirs_add(arg, s);
	return 0;
}

static void
check_perl(const char *real, const struct elfinfo *ei, const struct tree *t,
    const struct doc_args *args, struct verdict *v)
{
	static const char *const www[] = {
		"auto/WWW/Curl/Curl.so", "*/auto/WWW/Curl/Curl.so", NULL
	};
	static const char *const net[] = {
		"auto/Net/Curl/Curl.so", "*/auto/Net/Curl/Curl.so", NULL
	};
	struct dirs inc = { { NULL }, 0 };
	char mod[PATH_MAX], *copy, *tok, *save;
	const char *env, *what = "WWW::Curl";
	int found;

	/* PERL5LIB (else PERLLIB) comes first; -T ignores both */
	if (!has_flag(args, 'T', "eEIlMmx") && ((env = getenv("PERL5LIB")) !=
	    NULL || (env = getenv("PERLLIB")) != NULL) &&
	    (copy = strdup(env)) != NULL) {
		for (tok = strtok_r(copy, ":", &save); tok != NULL;
		    tok = strtok_r(NULL, ":", &save))
			dirs_add(&inc, tok);
		free(copy);
	}
	interp_paths(real, t, "libperl", perl_str, &inc);
	print_dirs(&inc, "@INC");
	found = dirs_find(&inc, www, ei, mod, sizeof(mod));
	if (!found && (found = dirs_find(&inc, net, ei, mod, sizeof(mod))))
		what = "Net::Curl";
	snprintf(v->lang, sizeof(v->lang), "perl");
	v->visible = 0;
	if (!found) {
		printf("  %-11s no WWW::Curl or Net::Curl in @INC\n",
		    "binding");
		doc_path_add(v, 1, 0, "WWW::Curl, Net::Curl", "not installed: "
		    "apt-get install libwww-curl-perl");
		doc_set_why(v, "no libcurl binding is installed for this "
		    "interpreter; programs using WWW::Curl would be visible");
	} else if (binding_found(mod, what, 0, v)) {
		v->visible = 1;
		doc_set_why(v, "run `ratetap run -- perl script.pl`");
	}
	doc_path_add(v, 0, 0, "LWP, HTTP::Tiny", NO_LIBCURL);
	dirs_free(&inc);
}

/* -- the dispatcher ------------------------------------------------------ */

int
doc_interp_check(const char *given, const char *real, const char *base,
    const struct elfinfo *ei, const struct tree *t,
    const struct doc_args *args, struct verdict *v)
{
	if (doc_name_is(base, "php") || doc_name_is(base, "php-cgi") ||
	    doc_name_is(base, "php-fpm") || doc_tree_find(t, "libphp") > 0)
		check_php(real, ei, t, args, v);
	else if (doc_name_is(base, "python") || doc_name_is(base, "python3"))
		check_python(given, real, base, ei, t, args, v);
	else if (doc_name_is(base, "ruby") || doc_tree_find(t, "libruby") > 0)
		check_ruby(real, ei, t, args, v);
	else if (doc_name_is(base, "lua") || doc_tree_find(t, "liblua") > 0)
		check_lua(real, ei, t, args, v);
	else if (doc_name_is(base, "perl") || doc_tree_find(t, "libperl") > 0)
		check_perl(real, ei, t, args, v);
	else if (doc_name_is(base, "node") || doc_name_is(base, "nodejs") ||
	    doc_name_is(base, "bun") || doc_name_is(base, "deno")) {
		printf("  %-11s JavaScript runtime with its own HTTP stack\n",
		    "binding");
		v->visible = 0;
		if (tls_way(v, "http, https, fetch", "", NULL, ei, t, base)) {
			v->visible = 1;
			doc_set_why(v, "run `ratetap run -- %s script.js`",
			    base);
		} else {
			doc_set_why(v, "%s does not use libcurl, and the TLS "
			    "layer cannot reach its TLS: not visible (use a "
			    "proxy-based tool; Claude Code is counted from its "
			    "transcripts); the usage poll still shows the "
			    "windows' utilization", base);
		}
	} else
		return 0;
	return 1;
}
