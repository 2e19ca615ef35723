/*
 * `ratetap doctor PROGRAM` and `ratetap doctor --pid PID`: can ratetap see
 * this program's libcurl traffic, and if not, why and what to do.
 *
 * The analysis is static (libelf, cli/elf.c): ELF or script, dynamic or
 * static, setuid/setgid bits and file capabilities (the loader ignores
 * LD_PRELOAD then), the libcurl it links directly or through its DT_NEEDED
 * tree (found as the loader would, cli/ldsearch.c), a libcurl carried
 * inside the binary itself, and interpreters whose curl binding is an
 * extension module loaded at run time (cli/interp.c); a #! script is
 * diagnosed through its interpreter and its own imports (cli/script.c).
 * Each verdict names the ways a program may make requests and which of
 * them are seen.  For a running process, /proc/PID/maps says whether a
 * libcurl and the shim are mapped.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "ratetap/curlname.h"
#include "ratetap/hosts.h"
#include "cli.h"
#include "doctor.h"

#define MAX_SCRIPT_DEPTH 4	/* #! chains followed */
#define SHIM_NAME	"libratetap.so"

void
doc_set_why(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
}

void
doc_path_add(struct verdict *v, int curl, int seen, const char *what,
    const char *note)
{
	struct vpath *p;

	if (v->npaths == DOC_MAX_PATHS)
		return;
	p = &v->paths[v->npaths++];
	snprintf(p->what, sizeof(p->what), "%s", what);
	snprintf(p->note, sizeof(p->note), "%s", note ? note : "");
	p->curl = curl;
	p->seen = seen;
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
		if (!rt_libcurl_name(t->o[i].name))
			continue;
		doc_chain(t, i, ch, sizeof(ch));
		printf("  %-11s %s (%s), %s%s%s\n", n ? "" : label,
		    t->o[i].name, doc_curl_flavour(t, i), t->o[i].parent == 0 ?
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

int
doc_name_is(const char *base, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(base, prefix, n) == 0 &&
	    (base[n] == '\0' || isdigit((unsigned char)base[n]) ||
	    base[n] == '-' || base[n] == '.');
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

/* The "tls" line of a program: what TLS it uses (*ti), and how it is
 * linked.  Nothing when it uses none. */
static void
print_tls(const struct tree *t, const struct tlsinfo *ti)
{
	char ch[1024];
	int i;

	i = ti->lib[0] ? doc_tree_find(t, ti->lib) : -1;
	if (i > 0 && t->o[i].parent != 0)
		doc_chain(t, (size_t)i, ch, sizeof(ch));
	printf("  %-11s %s%s%s\n", "tls", ti->what, i <= 0 ? "" :
	    t->o[i].parent == 0 ? ", linked directly" : ", linked through ",
	    i > 0 && t->o[i].parent != 0 ? ch : "");
}

/* A program without libcurl: the TLS layer sees it when it links a TLS
 * library the layer hooks; say which, or why not. */
static void
tls_paths(const struct tree *t, const char *given, const char *base,
    const struct tlsinfo *ti, struct verdict *v)
{
	char what[256];

	print_tls(t, ti);
	snprintf(what, sizeof(what), "its own HTTP over %s", ti->what);
	snprintf(v->subject, sizeof(v->subject), "%s:", base);
	if (ti->seen) {
		printf("  %-11s TLS layer: its HTTPS requests are read from its "
		    "%s calls\n", "layer", strncmp(ti->lib, "libgnutls", 9) ==
		    0 ? "gnutls_record_*" : "SSL_read/SSL_write");
		doc_path_add(v, 0, 1, what, "over HTTPS, at the TLS layer");
		v->visible = 1;
		doc_set_why(v, "it makes its HTTPS requests itself over %s, "
		    "which the TLS layer hooks; run it as `ratetap run -- %s "
		    "...`", ti->lib, given);
		return;
	}
	printf("  %-11s none: %s\n", "layer", ti->why);
	doc_path_add(v, 0, 0, what, ti->own ? "no libcurl; its TLS is linked "
	    "into the executable, out of a preload's reach" : ti->why);
	doc_set_why(v, "it does not link libcurl, and the TLS layer cannot "
	    "reach its TLS: %s", ti->why);
}

/*
 * Analyse the program at path (given as the user named it) and print what
 * was found; *v receives the verdict.  args: the interpreter arguments when
 * path runs a #! script (NULL otherwise).  Returns 0, or -1 when the file
 * cannot be examined at all (reason printed).
 */
static int
analyse(const char *given, const char *path, int depth, const char *role,
    const struct doc_args *args, struct verdict *v)
{
	struct elfinfo ei;
	struct tree t;
	struct tlsinfo ti;
	struct stat sb;
	struct doc_args sargs;
	char real[PATH_MAX], err[PATH_MAX + 128], line[512], interp[PATH_MAX];
	char shown[512], what[512];
	const char *base, *arg0;
	ssize_t caps;
	int fd, r, i, ncurl, priv = 0;
	ssize_t n;

	memset(&t, 0, sizeof(t));
	memset(v, 0, sizeof(*v));
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
		doc_set_why(v, "%s is not a program", given);
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
		snprintf(shown, sizeof(shown), "%s", line + 2);
		printf("  %-11s script (#!%s)\n", "file", shown);
		if (doc_shebang(line + 2, &arg0, &sargs, err, sizeof(err)) ==
		    -1) {
			doc_set_why(v, "%s", err);
			return 0;
		}
		if (depth + 1 >= MAX_SCRIPT_DEPTH) {
			doc_set_why(v, "too many nested #! interpreters");
			return 0;
		}
		if (resolve_path(arg0, interp, sizeof(interp)) == -1) {
			doc_set_why(v, "its interpreter %s is not found", arg0);
			return 0;
		}
		printf("  %-11s diagnosing the interpreter %s instead\n", "",
		    interp);
		for (i = 0, what[0] = '\0'; i < sargs.n; i++)
			snprintf(what + strlen(what), sizeof(what) -
			    strlen(what), "%s%s", i ? " " : "", sargs.v[i]);
		if (sargs.n > 0)
			printf("  %-11s %s\n", "arguments", what);
		if (depth > 0)
			printf("  %-11s this interpreter is itself a script (a "
			    "wrapper such as pyenv's?); if it runs another "
			    "program, diagnose that one\n", "note");
		if (analyse(arg0, interp, depth + 1, "interpreter", &sargs,
		    v) == -1)
			return -1;
		/* an interpreter behind a wrapper: its name still says
		   what the script's imports mean */
		base = strrchr(arg0, '/') ? strrchr(arg0, '/') + 1 : arg0;
		if (v->lang[0] != '\0' || doc_script_lang(base) != NULL) {
			printf("\n%-11s %s\n", "script", given);
			doc_script_uses(real, given, v->lang[0] ? v->lang :
			    doc_script_lang(base), v);
		}
		return 0;
	}

	r = doc_elf_read(real, &ei, 1, err, sizeof(err));
	if (r == -1) {
		cli_errx("doctor: %s", err);
		return -1;
	}
	if (r == 0) {
		printf("  %-11s neither an ELF executable nor a #! script\n",
		    "file");
		doc_set_why(v, "%s is not a program the dynamic loader runs",
		    given);
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

	if (doc_tree_build(&t, real, &ei) == -1) {
		cli_errx("doctor: %s", strerror(ENOMEM));
		doc_elf_free(&ei);
		doc_tree_free(&t);
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
	snprintf(v->subject, sizeof(v->subject), "%s:", base);
	if (ei.type == ET_DYN && !ei.has_interp && !ei.pie) {
		doc_set_why(v, "%s is a shared library, not a program; run "
		    "`ratetap doctor` on the program that loads it", given);
	} else if (ei.type != ET_EXEC && ei.type != ET_DYN) {
		doc_set_why(v, "%s is an ELF %s, not a program", given,
		    elf_type_name(&ei));
	} else if (!ei.has_interp) {
		doc_set_why(v, "statically linked: the "
		    "dynamic loader never runs, so LD_PRELOAD is ignored and "
		    "ratetap cannot see it; use a dynamically linked build");
	} else if (priv) {
		doc_set_why(v, "setuid/setgid or file "
		    "capabilities: the loader ignores LD_PRELOAD for it and "
		    "ratetap cannot see it; run an unprivileged copy "
		    "(cp it and drop the bits) if you need to see it");
	} else if (ei.embeds_curl || (ei.curl_version_string && ncurl == 0)) {
		doc_set_why(v, "libcurl is linked "
		    "statically into the program: there is no dynamic symbol "
		    "to hook, ratetap cannot see it; use a build linked to "
		    "the shared libcurl");
	} else if (doc_interp_check(path, real, base, &ei, &t, args, v)) {
		if (ncurl > 0 && !v->visible) {
			v->visible = 1;
			doc_set_why(v, "%s links libcurl itself; run it as "
			    "`ratetap run -- %s ...`", base, given);
		}
	} else if (ncurl > 0) {
		if (doc_tls_of(&ei, &t, base, &ti))
			print_tls(&t, &ti);
		printf("  %-11s libcurl layer: one event per transfer; the TLS "
		    "connections under it are libcurl's and are not counted "
		    "again at the TLS layer\n", "layer");
		v->visible = 1;
		i = doc_tree_find(&t, "libcurl");
		snprintf(what, sizeof(what), "%s (%s)", t.o[i].name,
		    doc_curl_flavour(&t, (size_t)i));
		doc_path_add(v, 1, 1, what, NULL);
		doc_set_why(v, "it loads libcurl "
		    "dynamically and LD_PRELOAD reaches it; run it as "
		    "`ratetap run -- %s ...`", given);
	} else if (doc_tls_of(&ei, &t, base, &ti)) {
		tls_paths(&t, given, base, &ti, v);
	} else {
		printf("  %-11s none: no libcurl and no TLS library\n",
		    "layer");
		doc_set_why(v, "it does not link libcurl, directly or through "
		    "its libraries, nor a TLS library; ratetap sees libcurl "
		    "transfers and HTTPS over OpenSSL 3 or GnuTLS (if it "
		    "dlopen()s one of them at run time, try `ratetap run` and "
		    "check `ratetap status`)");
	}
	doc_elf_free(&ei);
	doc_tree_free(&t);
	return 0;
}

/* The ways in of *v, one line each. */
static void
print_paths(const struct verdict *v)
{
	size_t i;

	for (i = 0; i < v->npaths; i++)
		printf("  %-11s %s%s%s\n", v->paths[i].seen ? "seen" :
		    "not seen", v->paths[i].what, v->paths[i].note[0] ?
		    ": " : "", v->paths[i].note);
}

/* The ways in, then the verdict line naming them all. */
static void
print_verdict(const struct verdict *v)
{
	size_t i;

	print_paths(v);
	printf("verdict     %s: ", v->visible ? "VISIBLE" : "NOT VISIBLE");
	if (v->npaths > 0) {
		printf("%s ", v->subject);
		for (i = 0; i < v->npaths; i++)
			printf("%s: %s%s%s%s; ", v->paths[i].what,
			    v->paths[i].seen ? "VISIBLE" : "NOT VISIBLE",
			    v->paths[i].note[0] ? " (" : "", v->paths[i].note,
			    v->paths[i].note[0] ? ")" : "");
	}
	printf("%s\n", v->why);
}

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
		else if (rt_libcurl_name(b) && !*curl) {
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

/* "; not seen: A (why), B (why)" for the ways in of *v not seen. */
static void
print_unseen(const struct verdict *v)
{
	size_t i;
	int n = 0;

	for (i = 0; i < v->npaths; i++) {
		if (v->paths[i].seen)
			continue;
		printf("%s%s%s%s%s", n++ ? ", " : "; not seen: ",
		    v->paths[i].what, v->paths[i].note[0] ? " (" : "",
		    v->paths[i].note, v->paths[i].note[0] ? ")" : "");
	}
}

/*
 * The script an interpreter process runs: the first argument of
 * /proc/PID/cmdline after the interpreter that is not an option and names
 * a regular file (relative to the process's working directory).  Its
 * imports narrow *v as for `ratetap doctor SCRIPT`.
 */
static void
pid_script(long pv, struct verdict *v)
{
	char path[64], buf[8192], file[PATH_MAX];
	struct stat sb;
	const char *a;
	size_t n, off;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pv);
	if ((f = fopen(path, "re")) == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (off = strlen(buf) + 1; off < n; off += strlen(buf + off) + 1) {
		a = buf + off;
		if (a[0] == '-')
			continue;
		if (a[0] == '/')
			snprintf(file, sizeof(file), "%s", a);
		else if (snprintf(file, sizeof(file), "/proc/%ld/cwd/%s", pv,
		    a) >= (int)sizeof(file))
			return;
		if (stat(file, &sb) == -1 || !S_ISREG(sb.st_mode))
			return;
		printf("\n%-11s %s\n", "script", a);
		doc_script_uses(file, a, v->lang, v);
		return;
	}
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
		    "executable", NULL, &v) == -1)
			have_exe = 0;
		else {
			if (v.lang[0] != '\0')
				pid_script(pv, &v);
			print_paths(&v);
			printf("  %-11s %s: %s\n", "if rerun",
			    v.visible ? "visible" : "not visible", v.why);
		}
	}
	if (shim && curl) {
		printf("verdict     VISIBLE: the shim and a libcurl are both "
		    "loaded in process %ld; its libcurl transfers are "
		    "counted", pv);
		print_unseen(&v);
		putchar('\n');
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
	    "Tell whether ratetap can see the libcurl or TLS traffic of "
	    "PROGRAM (a path\n"
	    "or a command name looked up in PATH) or of a running process, "
	    "and if not,\n"
	    "why and what to do; the tls and layer lines name the TLS "
	    "library and the\n"
	    "layer that sees it.  A #! script is diagnosed through its "
	    "interpreter and\n"
	    "its own imports.  Each verdict names what is seen and what is "
	    "not.  Exit\n"
	    "status: 0 visible (at least one way in is seen), 1 not visible, "
	    "2 usage\n"
	    "error.\n"
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
	if (analyse(argv[optind], path, 0, "program", NULL, &v) == -1)
		return CLI_EXIT_USAGE;
	print_verdict(&v);
	return v.visible ? 0 : 1;
}
