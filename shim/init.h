/*
 * What every part of the shim needs as a guest in its host program: the
 * debug log (log.c), the per-thread re-entrancy flag and the constructor
 * (init.c).  libc only, no libcurl type: the resolver (resolve.c, got.c,
 * dlhook.c) and every tap layer use it.
 */
#ifndef RATETAP_SHIM_INIT_H
#define RATETAP_SHIM_INIT_H

/* The exported symbols: default visibility, everything else hidden. */
#define SHIM_EXPORT	__attribute__((visibility("default")))

/* ---- log.c ------------------------------------------------------------- */

/* Log a diagnostic to stderr with a "ratetap: " prefix when RATETAP_DEBUG
 * is 1; otherwise nothing.  One write(2) per line; errno is kept.  Safe
 * before the constructor and before a sanitizer's runtime is ready (the
 * flag is then read from environ by hand).  Never pass credentials or
 * content. */
void shim_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 1 when RATETAP_DEBUG=1: read at the first call (or by
 * shim_debug_reload()), a load after that. */
int shim_debug_on(void);

/* Read RATETAP_DEBUG again (the constructor, cfg_load()). */
void shim_debug_reload(void);

/* 1 when the environment variable name is exactly "1"; like rt_env_flag()
 * but without getenv() or any other libc call: for code that runs before
 * the constructor or in it. */
int shim_env_flag(const char *name);

/* ---- init.c ------------------------------------------------------------ */

/* Per-thread re-entrancy flag: set while a hook is inside libcurl, so that
 * libcurl's own calls through its PLT pass straight through the hooks.
 * initial-exec: no __tls_get_addr, hence no DT_NEEDED on ld.so (4 bytes of
 * the static TLS surplus when the shim is dlopen'ed). */
extern __thread int shim_busy __attribute__((tls_model("initial-exec")));

/*
 * Run the statement(s) with shim_busy set to v, then put back the value it
 * had (as libfaketime's DONT_FAKE_TIME does): v 1 around a call into the
 * real library, so that its own calls pass through the hooks; v 0 around
 * a call back into the application, whose own calls must be seen.
 */
#define SHIM_BUSY_AS(v, ...) do {					\
	int shim_busy_saved_ = shim_busy;				\
	shim_busy = (v);						\
	__VA_ARGS__;							\
	shim_busy = shim_busy_saved_;					\
} while (0)

#endif /* RATETAP_SHIM_INIT_H */
