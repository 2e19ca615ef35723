/*
 * Client of ratetapd's control socket: HTTP over AF_UNIX through libcurl.
 * The socket is connected here, not by libcurl, so that it is trusted only
 * when its directory passes rt_dir_check() and the process serving it runs
 * as our uid (SO_PEERCRED): another user who made /tmp/ratetap-$UID first
 * must not be able to answer `ratetap status`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ratetap/buf.h"
#include "ratetap/paths.h"
#include "ratetap/safe.h"
#include "cli.h"

/* The connection made for libcurl, and why it was refused. */
struct conn {
	const char *sock;
	int fd;			/* the socket made for libcurl */
	char why[512];		/* "" unless refused */
};

struct buf {
	struct rt_buf b;	/* the answer's body */
	int too_big;
};

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

	if (b->b.len + n + 1 > CLI_MAX_BODY) {
		b->too_big = 1;
		return 0;
	}
	if (rt_buf_add(&b->b, ptr, n) == -1)
		return 0;
	return n;
}

/* CURLOPT_OPENSOCKETFUNCTION: the socket libcurl connects, made here so
 * that its peer can be checked once connected; and the directory check. */
static curl_socket_t
open_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct conn *c = arg;
	char dir[RT_FILE_MAX];

	(void)purpose;
	if (rt_dirname(c->sock, dir, sizeof(dir)) == -1) {
		snprintf(c->why, sizeof(c->why), "%s: path too long", c->sock);
		return CURL_SOCKET_BAD;
	}
	if (rt_dir_check(dir, c->why, sizeof(c->why)) == -1) {
		if (errno != ENOENT)
			return CURL_SOCKET_BAD;
		c->why[0] = '\0';	/* no daemon: libcurl says so */
	}
	c->fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC,
	    addr->protocol);
	return c->fd == -1 ? CURL_SOCKET_BAD : c->fd;
}

/* CURLOPT_PREREQFUNCTION: connected, nothing sent yet; only a server
 * running as our uid is asked. */
static int
prereq_cb(void *arg, char *primary_ip, char *local_ip, int primary_port,
    int local_port)
{
	struct conn *c = arg;
	uid_t peer;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (c->fd == -1 || rt_peer_uid(c->fd, &peer) == -1) {
		snprintf(c->why, sizeof(c->why), "%s: cannot tell who serves "
		    "it: not trusting its answers", c->sock);
		return CURL_PREREQFUNC_ABORT;
	}
	if (peer != geteuid()) {
		snprintf(c->why, sizeof(c->why), "%s is served by uid %u, not "
		    "by us (uid %u): not trusting its answers", c->sock,
		    (unsigned)peer, (unsigned)geteuid());
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

/* GET path, or POST data (dlen bytes) to it when data is not NULL. */
static int
control_request(const char *sock, const char *path, const char *data,
    size_t dlen, long timeout_ms, char **body, size_t *len, long *code,
    char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	char url[256], ebuf[CURL_ERROR_SIZE];
	struct buf b = { { NULL, 0, 0 }, 0 };
	struct conn c;
	CURL *h = NULL;
	CURLcode rc;

	memset(&c, 0, sizeof(c));
	c.sock = sock;
	c.fd = -1;
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
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_cb) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &c) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, prereq_cb) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PREREQDATA, &c) != CURLE_OK) {
		snprintf(err, errlen, "cannot configure libcurl");
		goto err;
	}
	if (data != NULL && ((hdrs = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)dlen) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, data) != CURLE_OK)) {
		snprintf(err, errlen, "cannot configure libcurl");
		goto err;
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (c.why[0] != '\0') {
			static int said;

			/* said here, once: callers say "no daemon" */
			if (!said++)
				cli_errx("%s", c.why);
			snprintf(err, errlen, "%s", c.why);
		}
		else if (b.too_big)
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
	curl_slist_free_all(hdrs);
	if (b.b.p == NULL && (b.b.p = strdup("")) == NULL) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	*body = b.b.p;
	*len = b.b.len;
	return 0;
err:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(b.b.p);
	return -1;
}

int
cli_control_get(const char *sock, const char *path, long timeout_ms,
    char **body, size_t *len, long *code, char *err, size_t errlen)
{
	return control_request(sock, path, NULL, 0, timeout_ms, body, len,
	    code, err, errlen);
}

int
cli_control_post(const char *sock, const char *path, const char *data,
    size_t dlen, long timeout_ms, char **body, size_t *len, long *code,
    char *err, size_t errlen)
{
	return control_request(sock, path, data, dlen, timeout_ms, body, len,
	    code, err, errlen);
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
