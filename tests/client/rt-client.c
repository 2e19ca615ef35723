/*
 * rt-client: ratetap's own libcurl test client.  Sends POST requests to an
 * Anthropic-like API (the mock API in tests) through the easy or the multi
 * interface from several threads, and writes every response body to stdout
 * (or a file) in request order, so that runs with and without the shim can be
 * compared byte for byte.
 *
 *   rt-client --url BASE [--path P] [-n N] [-t THREADS]
 *             [--mode easy|multi|multi-noinfo] [--stream] [--cacert FILE]
 *             [--header 'Name: value']... [--fwrite] [--pause]
 *             [--dup] [--max-conns N] [--parallel N] [--curlu] [--port N]
 *             [--linger-ms MS] [-o FILE]
 *
 * easy: one handle per thread, reused for each of its requests.
 * multi: all of a thread's requests as handles of one multi handle, driven
 *   with curl_multi_perform/curl_multi_poll, completions read with
 *   curl_multi_info_read.
 * multi-noinfo: the same, but the application never calls
 *   curl_multi_info_read: it waits for running == 0 and removes the handles.
 * --fwrite: no WRITEFUNCTION, WRITEDATA is a FILE * (libcurl's default
 *   fwrite path).  --pause: the write callback pauses every other delivery
 *   and the progress callback resumes it.  --dup: each request runs on a
 *   curl_easy_duphandle() copy of a template handle.  --max-conns N: at most
 *   N connections per multi handle (CURLMOPT_MAX_TOTAL_CONNECTIONS; default
 *   no limit): the other transfers wait for a free one (libcurl 7.88 may
 *   then leave one waiting until the 1 s poll timeout).  --parallel N
 *   (multi): at most N of a thread's transfers in the multi handle at once,
 *   the next added when one completes, as the curl tool's --parallel-max
 *   does.  --curlu: the URL
 *   is given as a CURLU handle (CURLOPT_CURLU) instead of CURLOPT_URL.
 *   --port N: CURLOPT_PORT N.  --linger-ms MS: wait MS milliseconds after
 *   the last transfer (output written) before exiting.
 *
 * Exit status 0 when every transfer ended with CURLE_OK, 1 otherwise, 2 on
 * usage errors.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct opts {
	const char *url;
	const char *path;
	const char *cacert;
	const char *out;
	const char *mode;
	struct curl_slist *headers;
	int n;
	int threads;
	int max_conns;		/* 0: no limit */
	int parallel;		/* multi: transfers in flight, 0: all */
	int stream;
	int use_fwrite;
	int pause;
	int dup;
	int curlu;		/* --curlu */
	long port;		/* --port, 0: none */
	int linger_ms;		/* --linger-ms */
};

struct req {
	int index;
	char *body;		/* response body (malloc'ed) */
	size_t len;
	size_t cap;
	FILE *memf;		/* --fwrite: open_memstream() stream */
	int paused_once;	/* --pause: the last delivery was paused */
	int pauses;		/* --pause: deliveries refused */
	int want_resume;	/* --pause: resume at the next progress call */
	CURL *easy;
	CURLU *cu;		/* --curlu: the request's URL handle */
	CURLcode result;
	long status;
};

struct worker {
	pthread_t tid;
	int id;
	const struct opts *o;
	struct req *reqs;	/* all requests; this worker takes id, id+T.. */
	int failed;
};

static char request_body[512];

static void
usage(void)
{
	fprintf(stderr, "usage: rt-client --url BASE [--path P] [-n N] "
	    "[-t THREADS] [--mode easy|multi|multi-noinfo] [--stream] "
	    "[--cacert FILE] [--header H]... [--fwrite] [--pause] [--dup] "
	    "[--max-conns N] [--parallel N] [--curlu] [--port N] [--linger-ms MS] "
	    "[-o FILE]\n");
	exit(2);
}

static int
parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct req *r = userdata;
	size_t len = size * nmemb;

	if (r->paused_once == 0 && r->want_resume == -1) {
		/* --pause: refuse this delivery once; libcurl keeps the
		   bytes and hands them over again after the resume */
		r->paused_once = 1;
		r->want_resume = 1;
		r->pauses++;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (r->paused_once) {
		r->paused_once = 0;
		r->want_resume = -1;
	}
	if (r->len + len + 1 > r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 4096;
		char *nb;

		while (ncap < r->len + len + 1)
			ncap *= 2;
		if ((nb = realloc(r->body, ncap)) == NULL)
			return 0;
		r->body = nb;
		r->cap = ncap;
	}
	memcpy(r->body + r->len, ptr, len);
	r->len += len;
	return len;
}

static int
progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct req *r = clientp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (r->want_resume == 1) {
		r->want_resume = 0;
		if (curl_easy_pause(r->easy, CURLPAUSE_CONT) != CURLE_OK)
			return 1;
	}
	return 0;
}

/* Set up easy for request r. */
static int
setup(CURL *easy, const struct opts *o, struct req *r)
{
	char url[1024];

	if (snprintf(url, sizeof(url), "%s%s", o->url, o->path) >=
	    (int)sizeof(url))
		return -1;
	r->easy = easy;
	r->want_resume = o->pause ? -1 : 0;
	if (o->curlu) {
		if (r->cu == NULL && (r->cu = curl_url()) == NULL)
			return -1;
		if (curl_url_set(r->cu, CURLUPART_URL, url, 0) != CURLUE_OK ||
		    curl_easy_setopt(easy, CURLOPT_CURLU, r->cu) != CURLE_OK)
			return -1;
	} else if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK)
		return -1;
	if (o->port != 0 &&
	    curl_easy_setopt(easy, CURLOPT_PORT, o->port) != CURLE_OK)
		return -1;
	if (curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request_body) !=
	    CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, o->headers) !=
	    CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_TIMEOUT, 60L) != CURLE_OK)
		return -1;
	if (o->cacert != NULL &&
	    curl_easy_setopt(easy, CURLOPT_CAINFO, o->cacert) != CURLE_OK)
		return -1;
	if (o->use_fwrite) {
		if ((r->memf = open_memstream(&r->body, &r->len)) == NULL)
			return -1;
		if (curl_easy_setopt(easy, CURLOPT_WRITEDATA, r->memf) !=
		    CURLE_OK)
			return -1;
	} else {
		if (curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb) !=
		    CURLE_OK ||
		    curl_easy_setopt(easy, CURLOPT_WRITEDATA, r) != CURLE_OK)
			return -1;
	}
	if (o->pause &&
	    (curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, progress_cb) !=
	    CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, r) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L) != CURLE_OK))
		return -1;
	return 0;
}

static void
done(struct req *r, CURLcode cc)
{
	r->result = cc;
	if (curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status) !=
	    CURLE_OK)
		r->status = 0;
	if (r->memf != NULL) {
		fclose(r->memf);	/* sets body and len */
		r->memf = NULL;
	}
}

/* A new handle: fresh, or a duplicate of a template (--dup). */
static CURL *
new_handle(const struct opts *o, CURL *tmpl)
{
	return o->dup && tmpl != NULL ? curl_easy_duphandle(tmpl) :
	    curl_easy_init();
}

static int
run_easy(struct worker *w)
{
	const struct opts *o = w->o;
	CURL *easy = NULL, *tmpl = NULL;
	int i;

	if (o->dup && (tmpl = curl_easy_init()) == NULL)
		return -1;
	if (!o->dup && (easy = curl_easy_init()) == NULL)
		return -1;
	for (i = w->id; i < o->n; i += o->threads) {
		struct req *r = &w->reqs[i];

		if (o->dup) {
			if (setup(tmpl, o, r) == -1 ||
			    (easy = new_handle(o, tmpl)) == NULL)
				return -1;
			/* the copy has the template's settings; its userdata
			   must be this request */
			if (setup(easy, o, r) == -1)
				return -1;
		} else if (setup(easy, o, r) == -1)
			return -1;
		done(r, curl_easy_perform(easy));
		if (o->dup) {
			curl_easy_cleanup(easy);
			easy = NULL;
		}
	}
	if (easy != NULL)
		curl_easy_cleanup(easy);
	if (tmpl != NULL)
		curl_easy_cleanup(tmpl);
	return 0;
}

/* Set up request r on a new handle (or a copy of tmpl) and add it to
 * multi. */
static int
add_one(CURLM *multi, const struct opts *o, CURL *tmpl, struct req *r)
{
	CURL *easy;

	if (tmpl != NULL && setup(tmpl, o, r) == -1)
		return -1;
	if ((easy = new_handle(o, tmpl)) == NULL ||
	    setup(easy, o, r) == -1 ||
	    curl_easy_setopt(easy, CURLOPT_PRIVATE, r) != CURLE_OK ||
	    curl_multi_add_handle(multi, easy) != CURLM_OK)
		return -1;
	return 0;
}

static int
run_multi(struct worker *w, int info)
{
	const struct opts *o = w->o;
	CURLM *multi;
	CURL *tmpl = NULL;
	int i, running = 0, rc = -1, next, inflight = 0;

	if ((multi = curl_multi_init()) == NULL)
		return -1;
	if (o->max_conns > 0 && curl_multi_setopt(multi,
	    CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o->max_conns) != CURLM_OK)
		goto out;
	if (o->dup && (tmpl = curl_easy_init()) == NULL)
		goto out;
	next = w->id;
	while (next < o->n && (o->parallel == 0 || inflight < o->parallel)) {
		if (add_one(multi, o, tmpl, &w->reqs[next]) == -1)
			goto out;
		next += o->threads;
		inflight++;
	}
	do {
		CURLMcode mc = curl_multi_perform(multi, &running);

		if (mc == CURLM_OK && running)
			mc = curl_multi_poll(multi, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK)
			goto out;
		if (info) {
			CURLMsg *m;
			int left;

			while ((m = curl_multi_info_read(multi, &left)) !=
			    NULL) {
				struct req *r = NULL;

				if (m->msg != CURLMSG_DONE)
					continue;
				if (curl_easy_getinfo(m->easy_handle,
				    CURLINFO_PRIVATE, (char **)&r) !=
				    CURLE_OK || r == NULL)
					goto out;
				done(r, m->data.result);
				inflight--;
			}
			/* --parallel: the next requests take the free slots */
			while (next < o->n && o->parallel > 0 &&
			    inflight < o->parallel) {
				if (add_one(multi, o, tmpl, &w->reqs[next]) ==
				    -1)
					goto out;
				next += o->threads;
				inflight++;
				running = 1;
			}
		}
	} while (running);
	rc = 0;
out:
	for (i = w->id; i < o->n; i += o->threads) {
		struct req *r = &w->reqs[i];

		if (r->easy == NULL)
			continue;
		if (!info && rc == 0)
			done(r, CURLE_OK);	/* completion not read */
		else if (r->memf != NULL) {
			fclose(r->memf);
			r->memf = NULL;
		}
		curl_multi_remove_handle(multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	if (tmpl != NULL)
		curl_easy_cleanup(tmpl);
	curl_multi_cleanup(multi);
	return rc;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	int rc;

	if (strcmp(w->o->mode, "easy") == 0)
		rc = run_easy(w);
	else
		rc = run_multi(w, strcmp(w->o->mode, "multi") == 0);
	if (rc == -1)
		w->failed = 1;
	return NULL;
}

int
main(int argc, char **argv)
{
	struct opts o = { .path = "/v1/messages", .mode = "easy", .n = 1,
	    .threads = 1 };
	struct worker *ws = NULL;
	struct req *reqs = NULL;
	FILE *out = stdout;
	int i, status = 0, pauses = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--stream") == 0)
			o.stream = 1;
		else if (strcmp(a, "--fwrite") == 0)
			o.use_fwrite = 1;
		else if (strcmp(a, "--pause") == 0)
			o.pause = 1;
		else if (strcmp(a, "--dup") == 0)
			o.dup = 1;
		else if (strcmp(a, "--curlu") == 0)
			o.curlu = 1;
		else if (v == NULL)
			usage();
		else if (strcmp(a, "--url") == 0)
			o.url = argv[++i];
		else if (strcmp(a, "--path") == 0)
			o.path = argv[++i];
		else if (strcmp(a, "--cacert") == 0)
			o.cacert = argv[++i];
		else if (strcmp(a, "-o") == 0)
			o.out = argv[++i];
		else if (strcmp(a, "--mode") == 0)
			o.mode = argv[++i];
		else if (strcmp(a, "--header") == 0) {
			struct curl_slist *l = curl_slist_append(o.headers,
			    argv[++i]);

			if (l == NULL)
				return 1;
			o.headers = l;
		} else if (strcmp(a, "-n") == 0) {
			if (parse_int(argv[++i], 1, 100000, &o.n) == -1)
				usage();
		} else if (strcmp(a, "--port") == 0) {
			int port;

			if (parse_int(argv[++i], 1, 65535, &port) == -1)
				usage();
			o.port = port;
		} else if (strcmp(a, "--linger-ms") == 0) {
			if (parse_int(argv[++i], 0, 600000, &o.linger_ms) == -1)
				usage();
		} else if (strcmp(a, "--parallel") == 0) {
			if (parse_int(argv[++i], 1, 100000, &o.parallel) == -1)
				usage();
		} else if (strcmp(a, "--max-conns") == 0) {
			if (parse_int(argv[++i], 1, 10000, &o.max_conns) == -1)
				usage();
		} else if (strcmp(a, "-t") == 0) {
			if (parse_int(argv[++i], 1, 256, &o.threads) == -1)
				usage();
		} else
			usage();
	}
	if (o.url == NULL || (strcmp(o.mode, "easy") != 0 &&
	    strcmp(o.mode, "multi") != 0 &&
	    strcmp(o.mode, "multi-noinfo") != 0))
		usage();
	if (o.parallel > 0 && strcmp(o.mode, "multi") != 0) {
		fprintf(stderr, "rt-client: --parallel needs --mode multi\n");
		return 2;
	}
	if (o.use_fwrite && o.pause) {
		fprintf(stderr, "rt-client: --pause needs the write callback\n");
		return 2;
	}
	snprintf(request_body, sizeof(request_body),
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64,%s"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}",
	    o.stream ? "\"stream\":true," : "");
	if (o.threads > o.n)
		o.threads = o.n;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	reqs = calloc((size_t)o.n, sizeof(*reqs));
	ws = calloc((size_t)o.threads, sizeof(*ws));
	if (reqs == NULL || ws == NULL)
		return 1;
	for (i = 0; i < o.n; i++)
		reqs[i].index = i;
	for (i = 0; i < o.threads; i++) {
		ws[i].id = i;
		ws[i].o = &o;
		ws[i].reqs = reqs;
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
			fprintf(stderr, "rt-client: pthread_create failed\n");
			return 1;
		}
	}
	for (i = 0; i < o.threads; i++) {
		pthread_join(ws[i].tid, NULL);
		if (ws[i].failed) {
			fprintf(stderr, "rt-client: worker %d failed\n", i);
			status = 1;
		}
	}
	if (o.out != NULL && (out = fopen(o.out, "wb")) == NULL) {
		fprintf(stderr, "rt-client: %s: %s\n", o.out, strerror(errno));
		return 1;
	}
	for (i = 0; i < o.n; i++) {
		struct req *r = &reqs[i];

		if (r->len > 0 && fwrite(r->body, 1, r->len, out) != r->len)
			status = 1;
		if (r->result != CURLE_OK) {
			fprintf(stderr, "rt-client: request %d: %s\n", i,
			    curl_easy_strerror(r->result));
			status = 1;
		}
		pauses += r->pauses;
		free(r->body);
		if (r->cu != NULL)
			curl_url_cleanup(r->cu);
	}
	if (fflush(out) != 0 || (out != stdout && fclose(out) != 0))
		status = 1;
	fprintf(stderr, "rt-client: %d request(s), mode %s, %d thread(s), "
	    "%d pause(s)\n", o.n, o.mode, o.threads, pauses);
	if (o.linger_ms > 0) {
		struct timespec ts = { o.linger_ms / 1000,
		    (long)(o.linger_ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	free(reqs);
	free(ws);
	curl_slist_free_all(o.headers);
	curl_global_cleanup();
	return status;
}
