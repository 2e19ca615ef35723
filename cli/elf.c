/*
 * `ratetap doctor`: what one ELF file says about itself, read with libelf
 * (never run): class, machine, type, loader, DT_NEEDED, RUNPATH, a libcurl
 * carried inside it, and the directory strings compiled into it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "doctor.h"


/* Free what doc_elf_read() allocated in *ei. */
void
doc_elf_free(struct elfinfo *ei)
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

/* A TLS library's own function, defined (not merely called) by a
 * program: its calls to it are bound inside the program. */
static void
tls_symbol(struct elfinfo *ei, const char *name, int *bits)
{
	static const char *const names[] = {
		"SSL_read", "SSL_write", "gnutls_record_recv",
		"gnutls_record_send"
	};
	size_t k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (strcmp(name, names[k]) == 0)
			*bits |= 1 << k;
	if ((*bits & 3) == 3)
		ei->defines_ssl = 1;
	if ((*bits & 12) == 12)
		ei->defines_gnutls = 1;
}

/* The strings of .rodata that say which TLS a program carries: an OpenSSL
 * version text ("OpenSSL 3.0.19"), BoringSSL (Bun, Chromium, Go's
 * BoringCrypto), Rust's panic paths and rustls. */
static void
tls_strings(struct elfinfo *ei, const char *p, size_t len)
{
	const char *q, *end = p + len;
	size_t n;

	/* the fullest "OpenSSL <digit>.<...>" (a build also says "OpenSSL
	   3.0" in its messages) */
	for (q = p; q < end && (q = memmem(q, (size_t)(end - q), "OpenSSL ",
	    8)) != NULL; q += 8) {
		if (end - q < 12 || !isdigit((unsigned char)q[8]) ||
		    q[9] != '.')
			continue;
		for (n = 8; q + n < end && n < sizeof(ei->tls_version) - 1 &&
		    (isalnum((unsigned char)q[n]) || q[n] == '.'); n++)
			;
		while (n > 8 && q[n - 1] == '.')
			n--;
		if (n > strlen(ei->tls_version))
			snprintf(ei->tls_version, sizeof(ei->tls_version),
			    "%.*s", (int)n, q);
	}
	if (ei->tls_version[0] == '\0' && memmem(p, len, "BoringSSL", 9))
		snprintf(ei->tls_version, sizeof(ei->tls_version), "BoringSSL");
	if (memmem(p, len, "/rustc/", 7) != NULL)
		ei->rust = 1;
	if (memmem(p, len, "rustls", 6) != NULL)
		ei->rustls = 1;
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
int
doc_elf_read(const char *path, struct elfinfo *ei, int full, char *err,
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
	int fd, rc = -1, have_shstr, tlsbits = 0;
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
			for (i = 0; i < n; i++) {
				if (gelf_getsym(data, (int)i, &sym) == NULL)
					break;
				if (sym.st_shndx == SHN_UNDEF ||
				    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
					continue;
				s = elf_strptr(e, sh.sh_link, sym.st_name);
				if (s == NULL)
					continue;
				if (is_curl_symbol(s))
					ei->embeds_curl = 1;
				/* exported ones only: what the loader sees */
				if (sh.sh_type == SHT_DYNSYM)
					tls_symbol(ei, s, &tlsbits);
			}
		} else if (full && have_shstr && (s = elf_strptr(e, shstrndx,
		    sh.sh_name)) != NULL && (strcmp(s, ".go.buildinfo") == 0 ||
		    strcmp(s, ".note.go.buildid") == 0)) {
			ei->go = 1;
		} else if (full && have_shstr && sh.sh_type == SHT_PROGBITS) {
			s = elf_strptr(e, shstrndx, sh.sh_name);
			if (s == NULL || strcmp(s, ".rodata") != 0)
				continue;
			if ((data = elf_getdata(scn, NULL)) == NULL ||
			    data->d_buf == NULL)
				continue;
			if (!ei->curl_version_string &&
			    has_curl_version(data->d_buf, data->d_size))
				ei->curl_version_string = 1;
			tls_strings(ei, data->d_buf, data->d_size);
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
		doc_elf_free(ei);
	return rc;
}


/* 1 when path is an ELF object of the same class and machine as ref. */
int
doc_elf_compatible(const char *path, const struct elfinfo *ref)
{
	struct elfinfo ei;
	char err[PATH_MAX + 64];
	int ok;

	if (access(path, R_OK) == -1)
		return 0;
	if (doc_elf_read(path, &ei, 0, err, sizeof(err)) != 1)
		return 0;
	ok = ei.elfclass == ref->elfclass && ei.machine == ref->machine;
	doc_elf_free(&ei);
	return ok;
}


/* 1 when s looks like a directory or a search template an interpreter was
 * built with: absolute, "./" or ".:" (php's include_path), printable, no
 * blanks. */
static int
path_like(const char *s, size_t len)
{
	size_t i;

	if (len < 2 || len >= PATH_MAX || (s[0] != '/' &&
	    !(s[0] == '.' && (s[1] == '/' || s[1] == ':'))))
		return 0;
	for (i = 0; i < len; i++)
		if (!isgraph((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * Strings of .rodata and .data that look like paths: an interpreter's
 * compiled-in search path (lua's package.cpath, perl's @INC, ruby's
 * $LOAD_PATH, php's extension_dir) lives there.
 */
int
doc_elf_paths(const char *path, int (*fn)(const char *, void *), void *arg)
{
	Elf *e = NULL;
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	const char *name, *p, *end, *q;
	size_t shstrndx;
	int fd, rc = -1, stop = 0;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((e = elf_begin(fd, ELF_C_READ_MMAP, NULL)) == NULL ||
	    elf_kind(e) != ELF_K_ELF || elf_getshdrstrndx(e, &shstrndx) != 0)
		goto err;
	while (!stop && (scn = elf_nextscn(e, scn)) != NULL) {
		if (gelf_getshdr(scn, &sh) == NULL ||
		    sh.sh_type != SHT_PROGBITS ||
		    (name = elf_strptr(e, shstrndx, sh.sh_name)) == NULL ||
		    (strcmp(name, ".rodata") != 0 &&
		    strcmp(name, ".data") != 0))
			continue;
		if ((data = elf_getdata(scn, NULL)) == NULL ||
		    data->d_buf == NULL)
			continue;
		p = data->d_buf;
		end = p + data->d_size;
		while (!stop && p < end) {
			if ((q = memchr(p, '\0', (size_t)(end - p))) == NULL)
				break;
			if (path_like(p, (size_t)(q - p)))
				stop = fn(p, arg);
			p = q + 1;
		}
	}
	rc = 0;
err:
	if (e != NULL)
		elf_end(e);
	close(fd);
	return rc;
}

int
doc_tls_of(const struct elfinfo *ei, const struct tree *t, const char *base,
    struct tlsinfo *ti)
{
	static const struct {
		const char *prefix;
		const char *name;
		int hooked;		/* the TLS layer hooks it */
	} libs[] = {
		{ "libssl.so.3", "OpenSSL", 1 },
		{ "libgnutls.so.30", "GnuTLS", 1 },
		{ "libssl.so", "OpenSSL", 0 },	/* 1.1, 1.0: not hooked */
		{ "libgnutls.so", "GnuTLS", 0 },
		{ "libnss3.so", "NSS", 0 }, { "libmbedtls.so", "mbedTLS", 0 },
		{ "libwolfssl.so", "wolfSSL", 0 }
	};
	size_t k;
	int i;

	memset(ti, 0, sizeof(*ti));
	/* A copy of its own comes first: the executable's calls bind to it
	   even when a shared libssl is loaded too. */
	if (ei->defines_ssl || ei->defines_gnutls) {
		ti->own = 1;
		snprintf(ti->what, sizeof(ti->what), "its own %s (exports %s "
		    "itself)", ei->tls_version[0] ? ei->tls_version :
		    ei->defines_ssl ? "OpenSSL" : "GnuTLS", ei->defines_ssl ?
		    "SSL_read, SSL_write" : "gnutls_record_recv/send");
		snprintf(ti->why, sizeof(ti->why), "its TLS is linked into the "
		    "executable: its calls to %s are bound inside it at build "
		    "time, and a preload cannot interpose a call that never "
		    "goes through the dynamic loader", ei->defines_ssl ?
		    "SSL_read/SSL_write" : "gnutls_record_recv/send");
		return 1;
	}
	for (k = 0; t != NULL && k < sizeof(libs) / sizeof(libs[0]); k++) {
		if ((i = doc_tree_find(t, libs[k].prefix)) <= 0)
			continue;
		snprintf(ti->lib, sizeof(ti->lib), "%s", t->o[i].name);
		snprintf(ti->what, sizeof(ti->what), "%s (%s)", libs[k].name,
		    t->o[i].name);
		if (t->o[i].path == NULL)
			snprintf(ti->why, sizeof(ti->why), "%s is not installed",
			    t->o[i].name);
		else if (!libs[k].hooked)
			snprintf(ti->why, sizeof(ti->why), "the TLS layer hooks "
			    "OpenSSL 3 (libssl.so.3) and GnuTLS "
			    "(libgnutls.so.30) only");
		else
			ti->seen = 1;
		return 1;
	}
	if (ei->go || ei->rustls || (ei->rust && ei->tls_version[0] ==
	    '\0') || ei->tls_version[0] != '\0' ||
	    doc_name_is(base, "bun") || strcmp(base, "claude") == 0) {
		ti->own = 1;
		if (ei->go)
			snprintf(ti->what, sizeof(ti->what), "Go's crypto/tls, "
			    "linked into the program");
		else if (ei->rust)
			snprintf(ti->what, sizeof(ti->what), "%s, linked into "
			    "the program", ei->rustls ? "rustls" :
			    "no shared TLS library (a Rust program)");
		else if (ei->tls_version[0] != '\0')
			snprintf(ti->what, sizeof(ti->what), "its own %s, "
			    "linked into the program", ei->tls_version);
		else
			snprintf(ti->what, sizeof(ti->what), "its own TLS "
			    "(BoringSSL in Bun), linked into the program");
		snprintf(ti->why, sizeof(ti->why), "its TLS is linked into the "
		    "executable and links no libssl or libgnutls: there is no "
		    "call through the dynamic loader for a preload to "
		    "interpose");
		return 1;
	}
	return 0;
}
