/*
 * A program linking libcurl, for `ratetap doctor` tests: prints
 * curl_version() and, with "sleep N", then sleeps N seconds so that a test
 * can examine it with `ratetap doctor --pid`.  Built against the shared
 * libcurl (with_curl) and against libcurl.a (static_curl: libcurl inside the
 * binary, its dependencies shared).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

int
main(int argc, char **argv)
{
	CURL *h;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	if ((h = curl_easy_init()) == NULL)
		return 1;
	printf("%s\n", curl_version());
	if (fflush(stdout) == EOF)
		return 1;
	if (argc == 3 && strcmp(argv[1], "sleep") == 0)
		sleep((unsigned)atoi(argv[2]));
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return 0;
}
