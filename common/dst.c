/*
 * $ORIGIN and $PLATFORM in a search path (see include/ratetap/dst.h).
 */
#include <string.h>

#include "ratetap/dst.h"

int
rt_dst_expand(const char *dir, size_t len, const char *origin,
    const char *platform, char *out, size_t outlen)
{
	size_t o = 0, i = 0;

	if (outlen == 0)
		return -1;
	while (i < len) {
		const char *val = NULL;
		size_t vlen, skip = 0;

		if (dir[i] == '$') {
			const char *p = dir + i + 1;
			size_t rest = len - i - 1;

			if (rest >= 6 && memcmp(p, "ORIGIN", 6) == 0)
				val = origin, skip = 7;
			else if (rest >= 8 && memcmp(p, "{ORIGIN}", 8) == 0)
				val = origin, skip = 9;
			else if (rest >= 8 && memcmp(p, "PLATFORM", 8) == 0)
				val = platform, skip = 9;
			else if (rest >= 10 && memcmp(p, "{PLATFORM}", 10) == 0)
				val = platform, skip = 11;
			if (val == NULL)
				return -1;
			vlen = strlen(val);
			if (o + vlen >= outlen)
				return -1;
			memcpy(out + o, val, vlen);
			o += vlen;
			i += skip;
			continue;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = dir[i++];
	}
	out[o] = '\0';
	return 0;
}
