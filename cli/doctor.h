/*
 * `ratetap doctor`, private to cli/: the parts of the analysis.
 *
 *   elf.c       what one ELF file says about itself (libelf)
 *   ldsearch.c  the dynamic loader's library search, the DT_NEEDED tree,
 *               the system's multiarch directories
 *   interp.c    interpreters whose libcurl binding is an extension module,
 *               found where the interpreter loads its extensions from
 *   script.c    #! lines and what a script's own imports mean
 *   doctor.c    the verdicts and the command
 */
#ifndef RATETAP_CLI_DOCTOR_H
#define RATETAP_CLI_DOCTOR_H

#include <limits.h>
#include <stddef.h>

#define DOC_MAX_PATHS	8	/* ways in of one verdict */
#define DOC_MAX_ARGS	16	/* interpreter arguments kept from a #! */

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
	int defines_ssl;		/* exports SSL_read and SSL_write */
	int defines_gnutls;		/* exports gnutls_record_recv/send */
	int go;				/* .note.go.buildid / .go.buildinfo */
	int rust;			/* "/rustc/" paths in .rodata */
	int rustls;			/* "rustls" in .rodata */
	char tls_version[48];		/* "OpenSSL 3.0.19", "BoringSSL": a
					   TLS library's name in .rodata */
};

/* How a program reaches TLS, and whether the TLS layer sees it (elf.c). */
struct tlsinfo {
	int own;		/* 1: it carries its own TLS (static copy) */
	int seen;		/* 1: the TLS layer's hooks reach it */
	char lib[64];		/* "libssl.so.3" or "" */
	char what[160];		/* "OpenSSL (libssl.so.3)", "its own OpenSSL
				   3.0.19 (exports SSL_read, SSL_write)" */
	char why[256];		/* why it is not seen (empty when seen) */
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

/* One way a program may make its HTTP requests, and whether it is seen. */
struct vpath {
	char what[256];		/* "curl extension (curl_*, ...)" */
	int curl;		/* 1: the interpreter's libcurl binding */
	int seen;
	char note[320];		/* why not, e.g. "no libcurl" */
};

/* Outcome of the analysis of one program. */
struct verdict {
	int visible;
	char why[1024];			/* advice, or the reason */
	char subject[PATH_MAX + 16];	/* "php8.2:", "tool.py uses" */
	char lang[16];			/* "python", ...: an interpreter */
	struct vpath paths[DOC_MAX_PATHS];
	size_t npaths;
};

/* The interpreter arguments of a #! line, as the interpreter gets them. */
struct doc_args {
	char *v[DOC_MAX_ARGS];
	int n;
};

/* elf.c */

/*
 * Read what matters of the ELF file path into *ei.  full: also look at the
 * symbol tables and .rodata (for an embedded libcurl).  Returns 1 when it
 * is ELF, 0 when it is not, -1 when unreadable (reason in err).  *ei is
 * freed with doc_elf_free() after a return of 1.
 */
int doc_elf_read(const char *path, struct elfinfo *ei, int full, char *err,
    size_t errlen);
void doc_elf_free(struct elfinfo *ei);

/*
 * What TLS the object of *ei (base name base) uses, judged from its own
 * symbols and strings and from t (its DT_NEEDED tree, may be NULL): a
 * shared OpenSSL 3 or GnuTLS the TLS layer hooks, another shared TLS
 * library it does not, or a copy of its own (Node builds exporting SSL_*,
 * Bun, Go, Rust's rustls) no preload reaches.  Returns 1 with *ti filled,
 * 0 when nothing says it uses TLS at all.
 */
int doc_tls_of(const struct elfinfo *ei, const struct tree *t,
    const char *base, struct tlsinfo *ti);

/* 1 when path is a readable ELF object of ref's class and machine. */
int doc_elf_compatible(const char *path, const struct elfinfo *ref);

/*
 * Call fn(string, arg) for every NUL-terminated string of path's .rodata
 * and .data sections that looks like a path or a search list (the
 * directories an interpreter was built to search), until fn returns
 * non-zero.
 * Returns 0, or -1 when path is not a readable ELF file.
 */
int doc_elf_paths(const char *path, int (*fn)(const char *, void *),
    void *arg);

/* ldsearch.c */

/*
 * Find library name needed by the object at objpath (with runpath rp) the
 * way the loader would: RUNPATH, LD_LIBRARY_PATH, the ld.so cache, the
 * system directories.  Only objects of ref's class and machine qualify.
 * Returns 0 with the path in out, or -1.
 */
int doc_find_library(const char *name, const char *objpath, const char *rp,
    const struct elfinfo *ref, char *out, size_t len);

/*
 * Walk the DT_NEEDED tree of root (already read into *rei) breadth first,
 * each library once.  Returns 0 or -1 on ENOMEM; free with doc_tree_free().
 */
int doc_tree_build(struct tree *t, const char *root,
    const struct elfinfo *rei);
void doc_tree_free(struct tree *t);

/* Index of the first object of t whose base name starts with prefix, or
 * -1. */
int doc_tree_find(const struct tree *t, const char *prefix);

/* The TLS flavour of the libcurl at index i of t ("OpenSSL", ...). */
const char *doc_curl_flavour(const struct tree *t, size_t i);

/* "prog -> libfoo.so.1 -> libcurl.so.4" for object i of t. */
void doc_chain(const struct tree *t, size_t i, char *buf, size_t len);

/*
 * Debian's multiarch directory name for objects like ref
 * ("x86_64-linux-gnu", "aarch64-linux-gnu"): where the system keeps the C
 * library for them (the ld.so cache, /etc/ld.so.conf.d), else the name
 * this build's own machine has.  Never NULL.
 */
const char *doc_multiarch(const struct elfinfo *ref);

/* interp.c */

/*
 * If the program at real (base name base, its ELF read into *ei and its
 * DT_NEEDED tree in *t) is an interpreter ratetap knows, print what it
 * loads libcurl through and fill *v with the ways in.  args: the
 * interpreter arguments of a #! line (NULL when none).  Returns 1 when it
 * was such an interpreter, 0 when not.
 */
int doc_interp_check(const char *given, const char *real, const char *base,
    const struct elfinfo *ei, const struct tree *t,
    const struct doc_args *args, struct verdict *v);

/* Report the libcurl a module links (lines labelled label); returns how
 * many shared libcurls it links that are installed (0 also when it carries
 * its own copy), -1 when the module cannot be read.  *missing (may be
 * NULL) is set when it names a libcurl that is not installed. */
int doc_module_curl(const char *mod, const char *label, int *missing);

/* script.c */

/*
 * Split the #! line of a script (the text after "#!", NUL-terminated, no
 * line end) the way the kernel and env(1) do: *interp receives the program
 * that runs, args its arguments (pointers into line, which is modified).
 * Returns 0, or -1 with the reason in err (env without -S given a program
 * name with blanks, no program at all).
 */
int doc_shebang(char *line, const char **interp, struct doc_args *args,
    char *err, size_t errlen);

/*
 * Read the script at path (never run it) for the HTTP clients it imports
 * in language lang ("python", "ruby", "lua", "perl", "php"), and narrow
 * *v (the interpreter's verdict) to what the script uses.  Prints what was
 * found.
 */
void doc_script_uses(const char *path, const char *given, const char *lang,
    struct verdict *v);

/* The language of an interpreter named base ("python3.11" -> "python"),
 * or NULL. */
const char *doc_script_lang(const char *base);

/* doctor.c */

/* Add a way in to *v (ignored beyond DOC_MAX_PATHS); curl: it is the
 * interpreter's libcurl binding. */
void doc_path_add(struct verdict *v, int curl, int seen, const char *what,
    const char *note);

/* printf into v->why. */
void doc_set_why(struct verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 1 when base is prefix, optionally followed by a version ("php8.2"). */
int doc_name_is(const char *base, const char *prefix);

#endif /* RATETAP_CLI_DOCTOR_H */
