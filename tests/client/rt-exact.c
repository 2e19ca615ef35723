/*
 * rt-exact: a libcurl client for the cases where a count is easily wrong.
 * Each mode makes one POST to URL/v1/messages (the mock API) and writes the
 * response body (only the body) to stdout.
 *
 *   rt-exact MODE URL [--cacert FILE] [--stream] [--header 'Name: v']...
 *
 * Modes:
 *   header     CURLOPT_HEADER=1: the headers come through the write
 *              callback; split off with CURLINFO_HEADER_SIZE, as PHP
 *              programs do.  With --follow, CURLOPT_FOLLOWLOCATION too;
 *              with --expect, a large body sent with "Expect:
 *              100-continue" (a 100 response first); with --http2,
 *              CURL_HTTP_VERSION_2TLS.
 *   fork       a multi transfer (stream, slow) is forked in flight once
 *              its response began; the child cleans the handle up and
 *              exits normally, the parent completes it.
 *   both URL2  CURLOPT_URL is URL, CURLOPT_CURLU holds URL2.
 *   short      the write callback takes the first delivery, then returns
 *              a short count: the transfer ends with CURLE_WRITE_ERROR.
 *
 * Exit status: 0 when the transfer ended as the mode expects, 1 otherwise,
 * 2 on usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

struct buf {
	char *p;
	size_t len, cap;
	int calls;		/* deliveries */
	int short_after;	/* short: fail the delivery after this many */
};

static const char *cacert;
static int stream, follow, expect, http2;
static struct curl_slist *hdrs;
static char body[200000];


static void
usage(void)
{
	fprintf(stderr, "usage: rt-exact header|fork|both|short URL "
	    "[URL2] [--cacert F] [--stream] [--follow] [--expect] [--http2] "
	    "[--header H]...\n");
	exit(2);
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t len = size * nmemb;

	b->calls++;
	if (b->short_after > 0 && b->calls > b->short_after)
		return 0;
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
	b->p[b->len] = '\0';
	return len;
}

/* The request body: with --expect, large enough (> 1 MiB is not needed:
 * libcurl 7.88 sends Expect: 100-continue above 1024 bytes) that libcurl
 * waits for the 100 response. */
static void
make_body(void)
{
	int n;

	n = snprintf(body, sizeof(body), "{\"model\":\"claude-sonnet-4-5\","
	    "\"max_tokens\":16,%s\"messages\":[{\"role\":\"user\","
	    "\"content\":\"", stream ? "\"stream\":true," : "");
	if (expect) {
		memset(body + n, 'x', 4000);
		n += 4000;
	} else
		n += snprintf(body + n, sizeof(body) - (size_t)n, "Hello");
	snprintf(body + n, sizeof(body) - (size_t)n, "\"}]}");
}

/* Free what a mode allocated (the sanitizers' leak check runs at exit). */
static void
done(CURL *e, struct buf *b)
{
	curl_easy_cleanup(e);
	free(b->p);
	curl_slist_free_all(hdrs);
	hdrs = NULL;
}

static CURL *
setup(const char *base, struct buf *b, int set_url)
{
	char url[1024];
	CURL *e;

	if ((e = curl_easy_init()) == NULL)
		return NULL;
	snprintf(url, sizeof(url), "%s/v1/messages", base);
	if (set_url)
		curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
	if (cacert != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, cacert);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	if (follow)
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	if (expect)
		curl_easy_setopt(e, CURLOPT_EXPECT_100_TIMEOUT_MS, 10000L);
	if (http2)
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
		    (long)CURL_HTTP_VERSION_2TLS);
	return e;
}

static int
mode_header(const char *base)
{
	struct buf b = { 0 };
	long hsize = 0;
	CURLcode rc;
	CURL *e;

	if ((e = setup(base, &b, 1)) == NULL)
		return 1;
	curl_easy_setopt(e, CURLOPT_HEADER, 1L);
	rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_HEADER_SIZE, &hsize);
	if (rc != CURLE_OK || hsize < 0 || (size_t)hsize > b.len) {
		fprintf(stderr, "rt-exact: %s, header size %ld of %zu\n",
		    curl_easy_strerror(rc), hsize, b.len);
		return 1;
	}
	/* the last status line, for the test to see which HTTP it was */
	{
		const char *st = NULL, *q;

		for (q = b.p; q != NULL && q < b.p + hsize; q = strchr(q, '\n')) {
			if (*q == '\n')
				q++;
			if (strncmp(q, "HTTP/", 5) == 0)
				st = q;
		}
		if (st != NULL)
			fprintf(stderr, "status line %.*s\n",
			    (int)strcspn(st, "\r\n"), st);
	}
	/* the PHP idiom: headers are the first CURLINFO_HEADER_SIZE bytes */
	fwrite(b.p + hsize, 1, b.len - (size_t)hsize, stdout);
	done(e, &b);
	return 0;
}

static int
mode_short(const char *base)
{
	struct buf b = { 0 };
	CURLcode rc;
	CURL *e;

	if ((e = setup(base, &b, 1)) == NULL)
		return 1;
	b.short_after = 1;
	rc = curl_easy_perform(e);
	fwrite(b.p, 1, b.len, stdout);
	done(e, &b);
	return rc == CURLE_WRITE_ERROR ? 0 : 1;
}

static int
mode_both(const char *base, const char *base2)
{
	struct buf b = { 0 };
	char url[1024], *eff = NULL;
	CURLcode rc;
	CURLU *u;
	CURL *e;

	if ((e = setup(base, &b, 1)) == NULL || (u = curl_url()) == NULL)
		return 1;
	snprintf(url, sizeof(url), "%s/v1/messages", base2);
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		return 1;
	curl_easy_setopt(e, CURLOPT_CURLU, u);
	rc = curl_easy_perform(e);
	if (curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK &&
	    eff != NULL)
		fprintf(stderr, "effective URL %s\n", eff);
	fwrite(b.p, 1, b.len, stdout);
	done(e, &b);
	curl_url_cleanup(u);
	return rc == CURLE_OK ? 0 : 1;
}

static int
mode_fork(const char *base)
{
	struct buf b = { 0 };
	CURLMsg *msg;
	CURLM *m;
	CURL *e;
	pid_t pid;
	long code = 0;
	int running = 1, status, left, ok = 0;

	if ((e = setup(base, &b, 1)) == NULL || (m = curl_multi_init()) ==
	    NULL)
		return 1;
	curl_multi_add_handle(m, e);
	/* until the response has begun */
	while (running) {
		curl_multi_perform(m, &running);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		if (code != 0)
			break;
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	if (code == 0 || !running) {
		fprintf(stderr, "rt-exact: the response was over too soon\n");
		return 1;
	}
	fflush(stdout);
	if ((pid = fork()) == -1)
		return 1;
	if (pid == 0) {
		/* the child owns nothing it did not start */
		done(e, &b);
		curl_multi_cleanup(m);
		exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return 1;
	while (running) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	while ((msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK)
			ok = 1;
	fwrite(b.p, 1, b.len, stdout);
	curl_multi_remove_handle(m, e);
	done(e, &b);
	curl_multi_cleanup(m);
	return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *mode, *base, *base2 = NULL;
	int i = 3;

	if (argc < 2)
		usage();
	mode = argv[1];
	if (argc < 3)
		usage();
	base = argv[2];
	if (strcmp(mode, "both") == 0) {
		if (argc < 4)
			usage();
		base2 = argv[3];
		i = 4;
	}
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--cacert") == 0 && i + 1 < argc)
			cacert = argv[++i];
		else if (strcmp(argv[i], "--stream") == 0)
			stream = 1;
		else if (strcmp(argv[i], "--follow") == 0)
			follow = 1;
		else if (strcmp(argv[i], "--expect") == 0)
			expect = 1;
		else if (strcmp(argv[i], "--http2") == 0)
			http2 = 1;
		else if (strcmp(argv[i], "--header") == 0 && i + 1 < argc)
			hdrs = curl_slist_append(hdrs, argv[++i]);
		else
			usage();
	}
	make_body();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(mode, "header") == 0)
		return mode_header(base);
	if (strcmp(mode, "fork") == 0)
		return mode_fork(base);
	if (strcmp(mode, "both") == 0)
		return mode_both(base, base2);
	if (strcmp(mode, "short") == 0)
		return mode_short(base);
	usage();
	return 2;
}
