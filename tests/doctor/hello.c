/*
 * A program without libcurl, for `ratetap doctor` tests; built both
 * dynamically (no_curl) and statically (static_hello).
 */
#include <stdio.h>

int
main(void)
{
	if (puts("hello") == EOF)
		return 1;
	return 0;
}
