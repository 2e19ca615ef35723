/*
 * The libcurl file-name rule (see include/ratetap/curlname.h).
 */
#include <stddef.h>

#include "ratetap/curlname.h"

/* Plain loops rather than strrchr() and friends: in the shim this runs at
 * start-up in every program, most of which never touch those pages of
 * libc. */
int
rt_libcurl_name(const char *name)
{
	const char *base, *p;

	if (name == NULL)
		return 0;
	for (base = p = name; *p != '\0'; p++)
		if (*p == '/')
			base = p + 1;
	if (base[0] != 'l' || base[1] != 'i' || base[2] != 'b' ||
	    base[3] != 'c' || base[4] != 'u' || base[5] != 'r' ||
	    base[6] != 'l')
		return 0;
	base += 7;
	/* "libcurl.so*" or "libcurl-<flavour>.so*"; not "libcurlpp.so" */
	if (*base != '.' && *base != '-')
		return 0;
	for (p = base; *p != '\0'; p++)
		if (p[0] == '.' && p[1] == 's' && p[2] == 'o')
			return 1;
	return 0;
}

/* 1 when s starts with prefix. */
static int
starts(const char *s, const char *prefix)
{
	while (*prefix != '\0')
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

int
rt_tlslib_name(const char *name)
{
	const char *base, *p;

	if (name == NULL)
		return RT_TLS_NONE;
	for (base = p = name; *p != '\0'; p++)
		if (*p == '/')
			base = p + 1;
	if (starts(base, "libssl.so"))
		return RT_TLS_OPENSSL;
	if (starts(base, "libgnutls.so"))
		return RT_TLS_GNUTLS;
	return RT_TLS_NONE;
}
