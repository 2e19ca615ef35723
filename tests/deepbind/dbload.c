/*
 * dbload: loads a library the way php loads its curl extension, with
 * dlopen(RTLD_LAZY | RTLD_LOCAL | RTLD_DEEPBIND), and has it perform
 * transfers.  This program itself is not linked to libcurl.
 *
 *   dbload [--global] LIB MODE URL BODY [CAINFO]
 *
 * MODE is "easy" (libcurl's default writer to stdout), "easy-wf" (a
 * WRITEFUNCTION writing to stdout) or "multi:N" (N transfers on one multi
 * handle).  Response bodies go to stdout, nothing else does.  Exit status:
 * 0 all transfers succeeded, 1 some failed, 2 usage or load error.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*easy_fn)(const char *, const char *, const char *, int);
typedef int (*multi_fn)(const char *, const char *, const char *, int);

static void
usage(void)
{
	fprintf(stderr, "usage: dbload [--global] LIB easy|easy-wf|multi:N "
	    "URL BODY [CAINFO]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int mode = RTLD_LAZY | RTLD_LOCAL | RTLD_DEEPBIND, i = 1, rc, n;
	const char *lib, *what, *url, *body, *cainfo;
	void *h;
	char *end;

	if (argc > 1 && strcmp(argv[1], "--global") == 0) {
		mode = RTLD_LAZY | RTLD_GLOBAL | RTLD_DEEPBIND;
		i++;
	}
	if (argc - i < 4 || argc - i > 5)
		usage();
	lib = argv[i];
	what = argv[i + 1];
	url = argv[i + 2];
	body = argv[i + 3];
	cainfo = argc - i == 5 ? argv[i + 4] : NULL;
	if ((h = dlopen(lib, mode)) == NULL) {
		fprintf(stderr, "dbload: %s\n", dlerror());
		return 2;
	}
	if (strcmp(what, "easy") == 0 || strcmp(what, "easy-wf") == 0) {
		easy_fn f = (easy_fn)dlsym(h, "db_easy");

		if (f == NULL) {
			fprintf(stderr, "dbload: %s\n", dlerror());
			return 2;
		}
		rc = f(url, body, cainfo, strcmp(what, "easy-wf") == 0);
	} else if (strncmp(what, "multi:", 6) == 0) {
		multi_fn f = (multi_fn)dlsym(h, "db_multi");

		n = (int)strtol(what + 6, &end, 10);
		if (*end != '\0' || n < 1 || n > 8)
			usage();
		if (f == NULL) {
			fprintf(stderr, "dbload: %s\n", dlerror());
			return 2;
		}
		rc = f(url, body, cainfo, n);
	} else
		usage();
	if (rc < 0) {
		fprintf(stderr, "dbload: cannot set up the transfer\n");
		return 2;
	}
	if (rc != 0)
		fprintf(stderr, "dbload: transfer failed (%d)\n", rc);
	return rc == 0 ? 0 : 1;
}
