/*
 * rt-dlcurl: a program that does not link libcurl but loads it at run time
 * with dlopen() and calls it only through pointers from dlsym(), as plugins
 * and language bindings that load libcurl lazily do.  One POST to
 * URL/v1/messages; the response body goes to stdout.
 *
 *   rt-dlcurl URL [--lib NAME] [--cacert FILE] [--stream]
 *             [--default | --next] [--dlvsym VERSION]
 *   rt-dlcurl --where-next
 *
 * --lib: the libcurl to load (default libcurl.so.4).  --default: loaded
 * RTLD_GLOBAL and looked up with RTLD_DEFAULT.  --next: looked up with
 * RTLD_NEXT.  --dlvsym VERSION: looked up with dlvsym() (e.g.
 * CURL_OPENSSL_4, CURL_GNUTLS_3).  --where-next: print the file of the
 * object in which dlsym(RTLD_NEXT, "dlsym") lies (what a preloaded library
 * after this program in the search order defines).
 *
 * Exit status 0 when the transfer ended with CURLE_OK, 1 otherwise, 2 on
 * usage errors.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct buf {
	char *p;
	size_t len, cap;
};

static void *lib_handle;
static const char *version;

static void
usage(void)
{
	fprintf(stderr, "usage: rt-dlcurl URL [--lib NAME] [--cacert FILE] "
	    "[--stream] [--default | --next] [--dlvsym VERSION]\n"
	    "       rt-dlcurl --where-next\n");
	exit(2);
}

static void *
sym(const char *name)
{
	void *p;

	p = version != NULL ? dlvsym(lib_handle, name, version) :
	    dlsym(lib_handle, name);
	if (p == NULL) {
		fprintf(stderr, "rt-dlcurl: %s: %s\n", name, dlerror());
		exit(1);
	}
	return p;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t len = size * nmemb;

	if (b->len + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 4096;
		char *np;

		while (ncap < b->len + len + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			return 0;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, ptr, len);
	b->len += len;
	return len;
}

int
main(int argc, char **argv)
{
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	const char *url, *lib = "libcurl.so.4", *cacert = NULL;
	struct curl_slist *hdrs = NULL;
	struct buf b = { 0 };
	char full[1024], body[512];
	int i, stream = 0, global = 0, next = 0;
	CURLcode rc;
	CURL *e;
	void *h;

	if (argc == 2 && strcmp(argv[1], "--where-next") == 0) {
		Dl_info info;
		void *p = dlsym(RTLD_NEXT, "dlsym");

		if (p == NULL || dladdr(p, &info) == 0 ||
		    info.dli_fname == NULL)
			return 1;
		printf("%s\n", info.dli_fname);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-')
		usage();
	url = argv[1];
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--lib") == 0 && i + 1 < argc)
			lib = argv[++i];
		else if (strcmp(argv[i], "--cacert") == 0 && i + 1 < argc)
			cacert = argv[++i];
		else if (strcmp(argv[i], "--dlvsym") == 0 && i + 1 < argc)
			version = argv[++i];
		else if (strcmp(argv[i], "--stream") == 0)
			stream = 1;
		else if (strcmp(argv[i], "--default") == 0)
			global = 1;
		else if (strcmp(argv[i], "--next") == 0)
			next = 1;
		else
			usage();
	}
	h = dlopen(lib, RTLD_NOW | (global || next ? RTLD_GLOBAL : 0));
	if (h == NULL) {
		fprintf(stderr, "rt-dlcurl: %s\n", dlerror());
		return 1;
	}
	lib_handle = global ? RTLD_DEFAULT : next ? RTLD_NEXT : h;
	global_init = (CURLcode (*)(long))sym("curl_global_init");
	easy_init = (CURL *(*)(void))sym("curl_easy_init");
	easy_setopt = (CURLcode (*)(CURL *, CURLoption, ...))
	    sym("curl_easy_setopt");
	easy_perform = (CURLcode (*)(CURL *))sym("curl_easy_perform");
	easy_cleanup = (void (*)(CURL *))sym("curl_easy_cleanup");
	slist_append = (struct curl_slist *(*)(struct curl_slist *,
	    const char *))sym("curl_slist_append");
	slist_free_all = (void (*)(struct curl_slist *))
	    sym("curl_slist_free_all");

	global_init(CURL_GLOBAL_DEFAULT);
	if ((e = easy_init()) == NULL)
		return 1;
	snprintf(full, sizeof(full), "%s/v1/messages", url);
	snprintf(body, sizeof(body), "{\"model\":\"claude-sonnet-4-5\","
	    "\"max_tokens\":16,%s\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hello\"}]}", stream ? "\"stream\":true," : "");
	hdrs = slist_append(hdrs, "Content-Type: application/json");
	easy_setopt(e, CURLOPT_URL, full);
	easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	easy_setopt(e, CURLOPT_POSTFIELDS, body);
	easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	easy_setopt(e, CURLOPT_WRITEDATA, &b);
	if (cacert != NULL)
		easy_setopt(e, CURLOPT_CAINFO, cacert);
	rc = easy_perform(e);
	fwrite(b.p, 1, b.len, stdout);
	easy_cleanup(e);
	slist_free_all(hdrs);
	free(b.p);
	return rc == CURLE_OK ? 0 : 1;
}
