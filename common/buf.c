/*
 * A growable byte buffer (see include/ratetap/buf.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratetap/buf.h"

#define BUF_INITIAL	4096

int
rt_buf_add(struct rt_buf *b, const void *data, size_t n)
{
	size_t need, cap;
	char *np;

	if (n > SIZE_MAX - b->len - 1)
		goto enomem;
	need = b->len + n + 1;
	if (need > b->cap) {
		cap = b->cap > 0 ? b->cap : BUF_INITIAL;
		while (cap < need) {
			if (cap > SIZE_MAX / 2)
				goto enomem;
			cap *= 2;
		}
		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
enomem:
	errno = ENOMEM;
	return -1;
}
