/*
 * A growable byte buffer, always NUL-terminated once anything was added
 * (common/buf.c), libc only.  Zero-initialise it; free(b.p) when done.
 */
#ifndef RATETAP_BUF_H
#define RATETAP_BUF_H

#include <stddef.h>

struct rt_buf {
	char *p;		/* the bytes and a NUL; NULL before any */
	size_t len;		/* bytes before the NUL */
	size_t cap;		/* bytes allocated at p */
};

/*
 * Append n bytes of data, doubling the allocation (from 4 KiB) as needed.
 * Returns 0, or -1 (ENOMEM, b unchanged) when it cannot grow.
 */
int rt_buf_add(struct rt_buf *b, const void *data, size_t n);

#endif /* RATETAP_BUF_H */
