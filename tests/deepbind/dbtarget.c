/*
 * A shared library linked to libcurl that performs transfers itself, the
 * way php's curl extension does.  Loaded by dbload (tests/deepbind/dbload.c)
 * with RTLD_DEEPBIND, and by check_resolve to test GOT patching in several
 * link variants (lazy, full RELRO, -fno-plt).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define DB_EXPORT	__attribute__((visibility("default")))

/* Prototypes of the exported functions (no header: loaded with dlsym). */
DB_EXPORT void *db_perform_addr(void);
DB_EXPORT int db_call_perform(void *easy);
DB_EXPORT int db_easy(const char *url, const char *body, const char *cainfo,
    int own_writer);
DB_EXPORT int db_multi(const char *url, const char *body, const char *cainfo,
    int n);

/* The address of curl_easy_perform as this object sees it: the content of
 * its GOT entry for the symbol. */
void *
db_perform_addr(void)
{
	return (void *)(unsigned long)curl_easy_perform;
}

/* A call through this object's PLT (or GOT with -fno-plt). */
int
db_call_perform(void *easy)
{
	return (int)curl_easy_perform(easy);
}

static size_t
writer(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return fwrite(ptr, size, nmemb, userdata);
}

static CURL *
make(const char *url, const char *body, const char *cainfo,
    struct curl_slist *hdrs, int own_writer)
{
	CURL *e = curl_easy_init();

	if (e == NULL)
		return NULL;
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    (cainfo != NULL && cainfo[0] != '\0' &&
	    curl_easy_setopt(e, CURLOPT_CAINFO, cainfo) != CURLE_OK) ||
	    (own_writer && (curl_easy_setopt(e, CURLOPT_WRITEFUNCTION,
	    writer) != CURLE_OK || curl_easy_setopt(e, CURLOPT_WRITEDATA,
	    stdout) != CURLE_OK))) {
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

/* One POST of body to url with curl_easy_perform; the response goes to
 * stdout (through a WRITEFUNCTION when own_writer, else libcurl's default).
 * Returns the CURLcode, or -1 when a handle cannot be set up. */
int
db_easy(const char *url, const char *body, const char *cainfo, int own_writer)
{
	struct curl_slist *hdrs;
	CURL *e;
	int rc;

	hdrs = curl_slist_append(NULL, "content-type: application/json");
	if (hdrs == NULL)
		return -1;
	if ((e = make(url, body, cainfo, hdrs, own_writer)) == NULL) {
		curl_slist_free_all(hdrs);
		return -1;
	}
	rc = (int)curl_easy_perform(e);
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	fflush(stdout);
	return rc;
}

/* n POSTs at once on one multi handle, each answer to stdout through a
 * WRITEFUNCTION into its own buffer, printed in handle order at the end
 * (so that the output does not depend on scheduling).  Returns the number
 * of transfers that failed, or -1 when the handles cannot be set up. */
int
db_multi(const char *url, const char *body, const char *cainfo, int n)
{
	struct curl_slist *hdrs;
	CURL *e[8];
	FILE *out[8];
	char *buf[8];
	size_t len[8];
	CURLM *m;
	CURLMsg *msg;
	int i, running = 1, left, failed = 0, ret = -1;

	if (n < 1 || n > 8)
		return -1;
	memset(e, 0, sizeof(e));
	memset(out, 0, sizeof(out));
	memset(buf, 0, sizeof(buf));
	hdrs = curl_slist_append(NULL, "content-type: application/json");
	if (hdrs == NULL || (m = curl_multi_init()) == NULL) {
		curl_slist_free_all(hdrs);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((out[i] = open_memstream(&buf[i], &len[i])) == NULL ||
		    (e[i] = make(url, body, cainfo, hdrs, 1)) == NULL ||
		    curl_easy_setopt(e[i], CURLOPT_WRITEDATA, out[i]) !=
		    CURLE_OK || curl_multi_add_handle(m, e[i]) != CURLM_OK)
			goto err;
	}
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			goto err;
		if (running && curl_multi_poll(m, NULL, 0, 1000, NULL) !=
		    CURLM_OK)
			goto err;
	}
	while ((msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK)
			failed++;
	ret = failed;
err:
	for (i = 0; i < n; i++) {
		if (e[i] != NULL) {
			curl_multi_remove_handle(m, e[i]);
			curl_easy_cleanup(e[i]);
		}
		if (out[i] != NULL) {
			fclose(out[i]);
			if (ret >= 0)
				fwrite(buf[i], 1, len[i], stdout);
			free(buf[i]);
		}
	}
	curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	fflush(stdout);
	return ret;
}
