/*
 * The one-line reason most functions of ratetap leave in a caller's buffer
 * (char *err, size_t errlen) when they fail (common/errbuf.c), libc only.
 */
#ifndef RATETAP_ERRBUF_H
#define RATETAP_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Format a reason into err (errlen bytes, NUL-terminated, cut to fit).
 * err may be NULL or errlen 0: nothing is written.  errno is kept.
 */
void rt_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rt_vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif /* RATETAP_ERRBUF_H */
