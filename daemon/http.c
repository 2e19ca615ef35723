/*
 * Asynchronous HTTP client on libcurl's multi socket interface, driven by
 * the event loop (see http.h).  One multi handle per loop; libcurl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it
 * (CURLMOPT_TIMERFUNCTION); we hand readiness back through
 * curl_multi_socket_action() and collect finished transfers with
 * curl_multi_info_read().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ratetap/buf.h"

#include "http.h"
#include "loop.h"

#define CONNECT_TIMEOUT_MS	10000L

struct http_client;

struct http_req {
	int64_t id;
	CURL *easy;
	struct http_client *c;
	struct curl_slist *hdrs;	/* wiped before being freed */
	char *reqbody;			/* wiped before being freed */
	size_t reqbody_len;
	struct rt_buf body;		/* response body, NUL-terminated */
	size_t max;			/* max_body_bytes */
	int too_large;
	http_fn *cb;
	void *arg;
	struct http_req *next;
};

struct http_client {
	struct loop *l;
	CURLM *multi;
	int64_t timer_id;		/* 0 when no timer */
	struct http_req *reqs;
	struct http_client *next;
};

static struct http_client *clients;	/* one per loop */
static int64_t last_req_id;
static int curl_inited;
static char *ca_file;			/* NULL: the system store */

/*
 * libcurl's memory, wiped when freed: its request buffers hold the
 * Authorization header of the usage poll (and the OTLP push's headers),
 * and libcurl frees them as they are.  A block that grows is moved by hand
 * so that no copy is left behind.
 */
static void
wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static void *
wipe_malloc(size_t n)
{
	return malloc(n);
}

static void *
wipe_calloc(size_t nmemb, size_t size)
{
	return calloc(nmemb, size);
}

static void *
wipe_realloc(void *p, size_t n)
{
	size_t have;
	void *q;

	if (p == NULL)
		return malloc(n);
	if (n == 0) {
		wipe_free(p);
		return NULL;
	}
	if ((have = malloc_usable_size(p)) >= n)
		return p;
	if ((q = malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, have);
	wipe_free(p);
	return q;
}

static char *
wipe_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if ((p = malloc(n)) != NULL)
		memcpy(p, s, n);
	return p;
}

static struct http_client *
find_client(struct loop *l)
{
	struct http_client *c;

	for (c = clients; c != NULL; c = c->next)
		if (c->l == l)
			return c;
	return NULL;
}

static void check_done(struct loop *l);

static void
on_fd(struct loop *l, int fd, int events, void *arg)
{
	struct http_client *c = arg;
	int running = 0, mask = 0;

	if (events & LOOP_READ)
		mask |= CURL_CSELECT_IN;
	if (events & LOOP_WRITE)
		mask |= CURL_CSELECT_OUT;
	(void)curl_multi_socket_action(c->multi, fd, mask, &running);
	check_done(l);
}

static int64_t
on_timer(struct loop *l, int64_t id, void *arg)
{
	struct http_client *c = arg;
	int running = 0;

	/* libcurl may set a new timer from inside socket_action */
	loop_del_timer(l, id);
	c->timer_id = 0;
	(void)curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	check_done(l);
	return LOOP_NOMORE;
}

/* CURLMOPT_SOCKETFUNCTION */
static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *sockp)
{
	struct http_client *c = userp;
	int ev = 0;

	(void)easy;
	(void)sockp;
	if (what == CURL_POLL_REMOVE) {
		loop_del_fd(c->l, s);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= LOOP_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= LOOP_WRITE;
	return loop_add_fd(c->l, s, ev, on_fd, c) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;

	(void)multi;
	if (timeout_ms < 0) {
		if (c->timer_id != 0)
			loop_del_timer(c->l, c->timer_id);
		c->timer_id = 0;
		return 0;
	}
	if (c->timer_id != 0 &&
	    loop_set_timer(c->l, c->timer_id, timeout_ms) == 0)
		return 0;
	c->timer_id = loop_add_timer(c->l, timeout_ms, on_timer, c);
	if (c->timer_id == -1) {
		c->timer_id = 0;
		return -1;
	}
	return 0;
}

static struct http_client *
get_client(struct loop *l)
{
	struct http_client *c = find_client(l);

	if (c != NULL)
		return c;
	if (!curl_inited) {
		if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, wipe_malloc,
		    wipe_free, wipe_realloc, wipe_strdup, wipe_calloc) !=
		    CURLE_OK)
			return NULL;
		curl_inited = 1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->l = l;
	if ((c->multi = curl_multi_init()) == NULL)
		goto err;
	if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb) ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c))
		goto err;
	c->next = clients;
	clients = c;
	return c;
err:
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	free(c);
	return NULL;
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_req *r = arg;
	size_t n = size * nmemb;

	if (n > r->max || r->body.len > r->max - n) {
		r->too_large = 1;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (rt_buf_add(&r->body, data, n) == -1)
		return 0;
	return n;
}

static void
wipe_free_slist(struct curl_slist *s)
{
	struct curl_slist *p;

	for (p = s; p != NULL; p = p->next)
		if (p->data != NULL)
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(s);
}

static void
free_req(struct http_req *r)
{
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	wipe_free_slist(r->hdrs);
	if (r->reqbody != NULL) {
		explicit_bzero(r->reqbody, r->reqbody_len);
		free(r->reqbody);
	}
	free(r->body.p);
	free(r);
}

/* Take r off its client's list and its multi handle. */
static void
unlink_req(struct http_req *r)
{
	struct http_req **pp;

	for (pp = &r->c->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	(void)curl_multi_remove_handle(r->c->multi, r->easy);
}

static const char *
reason(const struct http_req *r, CURLcode rc)
{
	if (r->too_large)
		return "body too large";
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_COULDNT_CONNECT:
		return "connection refused";
	case CURLE_COULDNT_RESOLVE_HOST:
		return "could not resolve host";
	case CURLE_COULDNT_RESOLVE_PROXY:
		return "could not resolve proxy";
	case CURLE_GOT_NOTHING:
		return "empty reply";
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return "connection reset";
	case CURLE_PEER_FAILED_VERIFICATION:
		return "TLS certificate not trusted";
	case CURLE_SSL_CACERT_BADFILE:
		return "TLS: cannot use the CA file";
	case CURLE_SSL_CONNECT_ERROR:
		return "TLS handshake failed";
	case CURLE_UNSUPPORTED_PROTOCOL:
		return "unsupported protocol";
	case CURLE_OUT_OF_MEMORY:
		return "out of memory";
	default:
		return curl_easy_strerror(rc);
	}
}

static void
finish(struct http_req *r, CURLcode rc)
{
	struct http_response resp;
	long status = 0;
	double secs = 0;

	unlink_req(r);
	(void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	(void)curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &secs);
	memset(&resp, 0, sizeof(resp));
	resp.status = status;
	resp.curl_code = (int)rc;
	resp.error = (rc == CURLE_OK && !r->too_large) ? NULL : reason(r, rc);
	resp.body = r->body.p != NULL ? r->body.p : "";
	resp.body_len = r->body.len;
	resp.total_secs = secs;
	resp.priv = r;
	r->cb(&resp, r->arg);
	free_req(r);
}

/* Hand every finished transfer of l's client to its callback. */
static void
check_done(struct loop *l)
{
	struct http_client *c;
	struct http_req *r;
	CURLMsg *m;
	int left;

	/* a callback may shut the client down: look it up every time */
	while ((c = find_client(l)) != NULL &&
	    (m = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		r = NULL;
		if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    (char **)&r) != CURLE_OK || r == NULL)
			continue;
		finish(r, m->data.result);
	}
}

static int
set_method(struct http_req *r, const char *method, const char *body,
    size_t body_len)
{
	CURL *e = r->easy;

	if (body != NULL) {
		if ((r->reqbody = malloc(body_len + 1)) == NULL)
			return -1;
		memcpy(r->reqbody, body, body_len);
		r->reqbody[body_len] = '\0';
		r->reqbody_len = body_len;
		if (curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->reqbody_len) != CURLE_OK ||
		    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->reqbody) !=
		    CURLE_OK)
			return -1;
	}
	if (strcmp(method, "GET") == 0 && body == NULL)
		return 0;
	if (strcmp(method, "POST") == 0 && body != NULL)
		return 0;
	if (strcmp(method, "HEAD") == 0)
		return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK ?
		    0 : -1;
	return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) ==
	    CURLE_OK ? 0 : -1;
}

/* Our CA file only, when one is set: no CA directory of the system. */
static int
set_ca(CURL *e)
{
	if (ca_file == NULL)
		return 0;
	if (curl_easy_setopt(e, CURLOPT_CAINFO, ca_file) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK)
		return -1;
	return 0;
}

int
http_set_ca_file(const char *path)
{
	char *copy = NULL;

	if (path != NULL && (copy = strdup(path)) == NULL)
		return -1;
	free(ca_file);
	ca_file = copy;
	return 0;
}

int
http_check_ca_file(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "empty path");
		return -1;
	}
	/* O_NONBLOCK: a FIFO in its place must not hang the start */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto err;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto err;
	}
	close(fd);
	return 0;
err:
	close(fd);
	return -1;
}

int
http_check_url(const char *url, char *err, size_t errlen)
{
	CURLU *u;
	CURLUcode rc;
	char *scheme = NULL, *host = NULL;
	const char *sep;
	int r = -1;

	/* libcurl takes "http:///host" for "http://host"; such text names no
	   host where it should, so it is refused like an empty host */
	if ((sep = strstr(url, "://")) != NULL && sep[3] == '/') {
		snprintf(err, errlen, "no host");
		return -1;
	}
	if ((u = curl_url()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((rc = curl_url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK) {
		snprintf(err, errlen, "%s", curl_url_strerror(rc));
		goto done;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		snprintf(err, errlen, "not an http:// or https:// URL");
		goto done;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0') {
		snprintf(err, errlen, "no host");
		goto done;
	}
	r = 0;
done:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

int64_t
http_request(struct loop *l, const char *method, const char *url,
    const char *const *headers, const char *body, long timeout_ms,
    size_t max_body_bytes, http_fn *cb, void *arg)
{
	return http_request_len(l, method, url, headers, body,
	    body != NULL ? strlen(body) : 0, timeout_ms, max_body_bytes, cb,
	    arg);
}

int64_t
http_request_len(struct loop *l, const char *method, const char *url,
    const char *const *headers, const char *body, size_t body_len,
    long timeout_ms, size_t max_body_bytes, http_fn *cb, void *arg)
{
	struct http_client *c;
	struct http_req *r;
	struct curl_slist *n;
	CURL *e;
	size_t i;

	if (l == NULL || method == NULL || method[0] == '\0' || url == NULL ||
	    cb == NULL || timeout_ms <= 0 ||
	    (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)) {
		errno = EINVAL;
		return -1;
	}
	if ((c = get_client(l)) == NULL)
		return -1;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->c = c;
	r->max = max_body_bytes;
	r->cb = cb;
	r->arg = arg;
	if ((e = r->easy = curl_easy_init()) == NULL)
		goto err;
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		if ((n = curl_slist_append(r->hdrs, headers[i])) == NULL)
			goto err;
		r->hdrs = n;
	}
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms :
	    CONNECT_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, r) != CURLE_OK ||
	    (r->hdrs != NULL &&
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs) != CURLE_OK) ||
	    set_ca(e) == -1 ||
	    set_method(r, method, body, body_len) == -1)
		goto err;
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
		goto err;
	r->id = ++last_req_id;
	r->next = c->reqs;
	c->reqs = r;
	return r->id;
err:
	free_req(r);
	errno = ENOMEM;
	return -1;
}

const char *
http_header(const struct http_response *resp, const char *name)
{
	const struct http_req *r = resp->priv;
	struct curl_header *h = NULL;

	if (r == NULL || r->easy == NULL)
		return NULL;
	if (curl_easy_header(r->easy, name, 0, CURLH_HEADER, -1, &h) !=
	    CURLHE_OK || h == NULL)
		return NULL;
	return h->value;
}

void
http_cancel(struct loop *l, int64_t id)
{
	struct http_client *c = find_client(l);
	struct http_req *r;

	if (c == NULL)
		return;
	for (r = c->reqs; r != NULL; r = r->next)
		if (r->id == id) {
			unlink_req(r);
			free_req(r);
			return;
		}
}

void
http_shutdown(struct loop *l)
{
	struct http_client *c = find_client(l), **pp;

	if (c == NULL)
		return;
	while (c->reqs != NULL) {
		struct http_req *r = c->reqs;

		unlink_req(r);
		free_req(r);
	}
	if (c->timer_id != 0)
		loop_del_timer(l, c->timer_id);
	curl_multi_cleanup(c->multi);
	for (pp = &clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	free(c);
	if (clients == NULL && curl_inited) {
		curl_global_cleanup();
		curl_inited = 0;
	}
}
