/*
 * Client of ratetapd's control socket: HTTP over AF_UNIX through libcurl's
 * CURLOPT_UNIX_SOCKET_PATH.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ratetap/paths.h"
#include "cli.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
	int too_big;
};

void
cli_errx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_control_path(const char *override, char *buf, size_t len)
{
	int n;

	if (override != NULL) {
		n = snprintf(buf, len, "%s", override);
		return (n < 0 || (size_t)n >= len) ? -1 : 0;
	}
	return rt_control_path(buf, len);
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;
	size_t ncap;
	char *p;

	if (b->len + n + 1 > CLI_MAX_BODY) {
		b->too_big = 1;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 8192;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((p = realloc(b->data, ncap)) == NULL)
			return 0;
		b->data = p;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

int
cli_control_get(const char *sock, const char *path, long timeout_ms,
    char **body, size_t *len, long *code, char *err, size_t errlen)
{
	char url[256], ebuf[CURL_ERROR_SIZE];
	struct buf b = { NULL, 0, 0, 0 };
	CURL *h = NULL;
	CURLcode rc;

	*body = NULL;
	*len = 0;
	*code = 0;
	ebuf[0] = '\0';
	if (snprintf(url, sizeof(url), "http://localhost%s", path) >=
	    (int)sizeof(url)) {
		snprintf(err, errlen, "request path too long");
		goto err;
	}
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		goto err;
	}
	if (curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "ratetap/" RATETAP_VERSION) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b) != CURLE_OK) {
		snprintf(err, errlen, "cannot configure libcurl");
		goto err;
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (b.too_big)
			snprintf(err, errlen, "answer larger than %d bytes",
			    CLI_MAX_BODY);
		else
			snprintf(err, errlen, "%s", ebuf[0] ? ebuf :
			    curl_easy_strerror(rc));
		goto err;
	}
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code) != CURLE_OK) {
		snprintf(err, errlen, "no HTTP status in the answer");
		goto err;
	}
	curl_easy_cleanup(h);
	if (b.data == NULL && (b.data = strdup("")) == NULL) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	*body = b.data;
	*len = b.len;
	return 0;
err:
	if (h != NULL)
		curl_easy_cleanup(h);
	free(b.data);
	return -1;
}

int
cli_control_alive(const char *sock, long timeout_ms)
{
	char *body = NULL, err[256];
	size_t len;
	long code;

	if (cli_control_get(sock, "/v1/health", timeout_ms, &body, &len,
	    &code, err, sizeof(err)) == -1)
		return 0;
	free(body);
	return code == 200;
}
