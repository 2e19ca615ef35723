/*
 * The loader's dynamic string tokens in a search path (common/dst.c): the
 * one expansion of $ORIGIN the shim (finding what a dlopen() would load)
 * and `ratetap doctor` (finding a program's libraries) use.  libc only.
 */
#ifndef RATETAP_DST_H
#define RATETAP_DST_H

#include <stddef.h>

/*
 * Expand one search-path element (len bytes at dir, not NUL-terminated)
 * into out (outlen bytes): $ORIGIN and ${ORIGIN} become origin, $PLATFORM
 * and ${PLATFORM} platform.  Returns 0, or -1 when it holds another token
 * ($LIB, unknown ones), a value is NULL or the result does not fit.
 */
int rt_dst_expand(const char *dir, size_t len, const char *origin,
    const char *platform, char *out, size_t outlen);

#endif /* RATETAP_DST_H */
