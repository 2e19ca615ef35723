/*
 * plughost: a libcurl program that starts without the shim, creates and
 * configures handles, then loads the shim with dlopen() (plugin mode) and
 * performs transfers with them and with new handles.
 *
 *   plughost SHIM|- URL BODY [CAINFO]
 *
 * With "-" nothing is loaded (the reference run).  In order, each section
 * preceded by a "== NAME" line on stdout:
 *   late     a handle created before loading, configured after: easy
 *   multi    two handles created after loading, on one multi handle
 *   pre      a handle created and fully configured (WRITEFUNCTION
 *            included) before loading: easy
 *   default  a handle created after loading without a WRITEFUNCTION
 *            (libcurl writes to stdout)
 * Exit status: 0 all transfers succeeded, 1 some failed, 2 set-up error.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

static const char *url, *body, *cainfo;
static struct curl_slist *hdrs;

static size_t
writer(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return fwrite(ptr, size, nmemb, userdata);
}

static int
setup(CURL *e, FILE *out)
{
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body) != CURLE_OK)
		return -1;
	if (cainfo != NULL &&
	    curl_easy_setopt(e, CURLOPT_CAINFO, cainfo) != CURLE_OK)
		return -1;
	if (out != NULL && (curl_easy_setopt(e, CURLOPT_WRITEFUNCTION,
	    writer) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, out) != CURLE_OK))
		return -1;
	return 0;
}

static void
section(const char *name)
{
	printf("== %s\n", name);
	fflush(stdout);
}

static int
perform(CURL *e)
{
	CURLcode cc = curl_easy_perform(e);

	fflush(stdout);
	if (cc != CURLE_OK)
		fprintf(stderr, "plughost: %s\n", curl_easy_strerror(cc));
	return cc == CURLE_OK ? 0 : 1;
}

static int
multi2(void)
{
	CURL *e[2] = { NULL, NULL };
	FILE *out[2] = { NULL, NULL };
	char *buf[2] = { NULL, NULL };
	size_t len[2];
	CURLM *m;
	CURLMsg *msg;
	int i, running = 1, left, failed = 0, ret = 2;

	if ((m = curl_multi_init()) == NULL)
		return 2;
	for (i = 0; i < 2; i++)
		if ((out[i] = open_memstream(&buf[i], &len[i])) == NULL ||
		    (e[i] = curl_easy_init()) == NULL ||
		    setup(e[i], out[i]) == -1 ||
		    curl_multi_add_handle(m, e[i]) != CURLM_OK)
			goto err;
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			goto err;
		if (running && curl_multi_poll(m, NULL, 0, 1000, NULL) !=
		    CURLM_OK)
			goto err;
	}
	while ((msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK)
			failed = 1;
	ret = failed;
err:
	for (i = 0; i < 2; i++) {
		if (e[i] != NULL) {
			curl_multi_remove_handle(m, e[i]);
			curl_easy_cleanup(e[i]);
		}
		if (out[i] != NULL) {
			fclose(out[i]);
			if (ret != 2)
				fwrite(buf[i], 1, len[i], stdout);
			free(buf[i]);
		}
	}
	curl_multi_cleanup(m);
	fflush(stdout);
	return ret;
}

int
main(int argc, char **argv)
{
	CURL *pre, *late, *dflt;
	int failed = 0, r;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: plughost SHIM|- URL BODY [CAINFO]\n");
		return 2;
	}
	url = argv[2];
	body = argv[3];
	cainfo = argc == 5 ? argv[4] : NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 2;
	hdrs = curl_slist_append(NULL, "content-type: application/json");
	pre = curl_easy_init();
	late = curl_easy_init();
	if (hdrs == NULL || pre == NULL || late == NULL ||
	    setup(pre, stdout) == -1) {
		fprintf(stderr, "plughost: cannot set up handles\n");
		return 2;
	}
	if (strcmp(argv[1], "-") != 0 &&
	    dlopen(argv[1], RTLD_NOW | RTLD_LOCAL) == NULL) {
		fprintf(stderr, "plughost: %s\n", dlerror());
		return 2;
	}

	section("late");
	if (setup(late, stdout) == -1)
		return 2;
	failed |= perform(late);

	section("multi");
	if ((r = multi2()) == 2) {
		fprintf(stderr, "plughost: multi transfer set-up failed\n");
		return 2;
	}
	failed |= r;

	section("pre");
	failed |= perform(pre);

	section("default");
	if ((dflt = curl_easy_init()) == NULL || setup(dflt, NULL) == -1)
		return 2;
	failed |= perform(dflt);

	curl_easy_cleanup(dflt);
	curl_easy_cleanup(pre);
	curl_easy_cleanup(late);
	curl_slist_free_all(hdrs);
	curl_global_cleanup();
	return failed;
}
