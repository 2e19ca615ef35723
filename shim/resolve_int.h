/*
 * Internals shared by the resolver's files: resolve.c (the caller's real
 * libcurl), got.c (GOT patching) and dlhook.c (the dlopen hook).  Nothing
 * here is exported from the shim.
 */
#ifndef RATETAP_RESOLVE_INT_H
#define RATETAP_RESOLVE_INT_H

#include <link.h>
#include <stddef.h>
#include <stdint.h>

#include "init.h"

/* What resolve_dyn_read() found in an object's dynamic section.  Pointers
 * are absolute addresses in this process; absent entries are NULL / 0. */
struct resolve_dyn {
	const ElfW(Dyn) *dyn;		/* the dynamic section itself */
	const ElfW(Sym) *symtab;	/* DT_SYMTAB */
	const char *strtab;		/* DT_STRTAB */
	size_t strsz;			/* DT_STRSZ */
	const void *rela;		/* DT_RELA */
	size_t relasz;			/* DT_RELASZ */
	const void *rel;		/* DT_REL */
	size_t relsz;			/* DT_RELSZ */
	size_t relacount;		/* DT_RELACOUNT: rela's leading
					   RELATIVE entries (no symbol) */
	size_t relcount;		/* DT_RELCOUNT: the same of rel */
	const void *jmprel;		/* DT_JMPREL */
	size_t pltrelsz;		/* DT_PLTRELSZ */
	int pltrel;			/* DT_PLTREL: DT_RELA or DT_REL, 0 */
	const uint32_t *gnu_hash;	/* DT_GNU_HASH, NULL if none */
	const char *soname;		/* DT_SONAME, NULL if none */
	const char *rpath;		/* DT_RPATH, NULL if none */
	const char *runpath;		/* DT_RUNPATH, NULL if none */
};

/*
 * Read the dynamic section dyn of the object loaded at base.  glibc
 * relocates the address entries (d_ptr) of a loaded object's dynamic
 * section in place on x86_64 and aarch64, but not on every architecture:
 * an entry below a non-zero base is taken as unrelocated and base is added.
 * Returns 0, or -1 when dyn is NULL or DT_STRTAB is missing.
 */
int resolve_dyn_read(uintptr_t base, const ElfW(Dyn) *dyn,
    struct resolve_dyn *out);

/* The string at offset off of the dynamic string table, or NULL when off
 * lies outside it. */
const char *resolve_dyn_str(const struct resolve_dyn *d, size_t off);

/* 1 when path's file name, or the soname, names a libcurl
 * ("libcurl.so*", "libcurl-<flavour>.so*"), else 0.  Either may be NULL. */
int resolve_is_libcurl(const char *path, const char *soname);

/* The load address (its ELF header) of the shim itself. */
const void *resolve_self_base(void);

/* 1 when p lies in one of the shim's own segments: a few compares (no
 * dladdr(), which scans symbol tables). */
int resolve_in_self(const void *p);

/* Forget the cached caller ranges (after objects were unloaded: an address
 * may now belong to a different object). */
void resolve_flush_ranges(void);

/* The real dlopen() of the C library, resolved once; never the hook.
 * NULL with errno set when it cannot be found. */
void *dlhook_real_dlopen(const char *file, int mode);

/* The shim's dlopen hook, patched into GOT entries of "dlopen" by
 * got_patch_all() like the curl hooks. */
void *dlhook_dlopen(const char *file, int mode);

#endif /* RATETAP_RESOLVE_INT_H */
