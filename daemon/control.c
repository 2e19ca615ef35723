/*
 * HTTP endpoints of ratetapd on libmicrohttpd, driven by the event loop
 * (see control.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "control.h"
#include "log.h"
#include "loop.h"

#define CTL_CONN_LIMIT		64
#define CTL_CONN_TIMEOUT	10	/* seconds of idleness per connection */
#define CTL_MAX_WAIT_MS		60000	/* timer cap when MHD has no timeout */
#define CTL_MAX_DISCARD		65536	/* request body bytes read and dropped */

#define CT_JSON		"application/json"
#define CT_TEXT		"text/plain; charset=utf-8"
#define CT_METRICS	"text/plain; version=0.0.4; charset=utf-8"

struct ctl {
	struct loop *l;
	struct MHD_Daemon *mhd;
	int epfd;		/* MHD's epoll fd, watched by the loop */
	int64_t timer_id;	/* 0: none */
	int mode;		/* CTL_FULL or CTL_METRICS */
	struct ctl_handlers h;
};

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	log_debug("http: %s", buf);
}

static enum MHD_Result
send_buf(struct MHD_Connection *conn, unsigned int code, const char *ctype,
    char *buf, size_t len, int must_free)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(len, buf,
	    must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		if (must_free)
			free(buf);
		return MHD_NO;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) ==
	    MHD_NO ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store") == MHD_NO ||
	    (code == MHD_HTTP_METHOD_NOT_ALLOWED &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") ==
	    MHD_NO)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	rc = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
send_error(struct MHD_Connection *conn, unsigned int code, const char *msg)
{
	char body[128], *copy;
	int n;

	n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"status\":%u}\n",
	    msg, code);
	if (n < 0 || (size_t)n >= sizeof(body) ||
	    (copy = strdup(body)) == NULL)
		return MHD_NO;
	return send_buf(conn, code, CT_JSON, copy, (size_t)n, 1);
}

static enum MHD_Result
serve_status(struct ctl *c, struct MHD_Connection *conn)
{
	cJSON *j;
	char *s;

	if ((j = c->h.status(c->h.arg)) == NULL)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "status unavailable");
	s = cJSON_Print(j);
	cJSON_Delete(j);
	if (s == NULL)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory");
	return send_buf(conn, MHD_HTTP_OK, CT_JSON, s, strlen(s), 1);
}

static enum MHD_Result
serve_metrics(struct ctl *c, struct MHD_Connection *conn)
{
	char *out = NULL;
	size_t len = 0;

	if (c->h.metrics(c->h.arg, &out, &len) == -1 || out == NULL)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "metrics unavailable");
	return send_buf(conn, MHD_HTTP_OK, CT_METRICS, out, len, 1);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	static char ok[] = "ok\n";
	struct ctl *c = cls;
	int known;

	uintptr_t seen = (uintptr_t)*con_cls;	/* request body bytes + 1 */

	(void)version;
	(void)upload_data;
	known = strcmp(url, "/metrics") == 0 ||
	    strcmp(url, "/v1/health") == 0 ||
	    (c->mode == CTL_FULL && strcmp(url, "/v1/status") == 0);
	if (seen == 0) {
		/* first call: headers only; a body follows in later calls */
		log_debug("http: %s %s", method, known ? url :
		    "(unknown path)");
		*con_cls = (void *)(uintptr_t)1;
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return MHD_YES;
	} else if (*upload_data_size > 0) {
		/* read and drop a request body (up to a limit) so that the
		   client gets the answer rather than a reset */
		seen += *upload_data_size;
		*upload_data_size = 0;
		*con_cls = (void *)seen;
		if (seen <= CTL_MAX_DISCARD)
			return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_error(conn, known ? MHD_HTTP_METHOD_NOT_ALLOWED :
		    MHD_HTTP_NOT_FOUND, known ? "method not allowed" :
		    "not found");
	if (!known)
		return send_error(conn, MHD_HTTP_NOT_FOUND, "not found");
	if (strcmp(url, "/v1/health") == 0)
		return send_buf(conn, MHD_HTTP_OK, CT_TEXT, ok, strlen(ok), 0);
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(c, conn);
	return serve_status(c, conn);
}

/* Delay before MHD wants to run again (its timeouts), or LOOP_NOMORE. */
static int64_t
mhd_delay(struct ctl *c)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	if (MHD_get_timeout(c->mhd, &ms) != MHD_YES)
		return LOOP_NOMORE;
	return ms > CTL_MAX_WAIT_MS ? CTL_MAX_WAIT_MS : (int64_t)ms;
}

static int64_t
on_timer(struct loop *l, int64_t id, void *arg)
{
	struct ctl *c = arg;
	int64_t next;

	(void)l;
	(void)id;
	if (MHD_run(c->mhd) != MHD_YES)
		log_debug("http: MHD_run failed");
	if ((next = mhd_delay(c)) == LOOP_NOMORE)
		c->timer_id = 0;
	return next;
}

static void
reschedule(struct ctl *c)
{
	int64_t next = mhd_delay(c);

	if (next == LOOP_NOMORE) {
		if (c->timer_id != 0)
			loop_del_timer(c->l, c->timer_id);
		c->timer_id = 0;
		return;
	}
	if (c->timer_id != 0 && loop_set_timer(c->l, c->timer_id, next) == 0)
		return;
	c->timer_id = loop_add_timer(c->l, next, on_timer, c);
	if (c->timer_id == -1) {
		log_warnx("http: cannot add a timer");
		c->timer_id = 0;
	}
}

static void
on_epoll(struct loop *l, int fd, int events, void *arg)
{
	struct ctl *c = arg;

	(void)l;
	(void)fd;
	(void)events;
	if (MHD_run(c->mhd) != MHD_YES)
		log_debug("http: MHD_run failed");
	reschedule(c);
}

struct ctl *
ctl_start(struct loop *l, int listen_fd, int mode,
    const struct ctl_handlers *h, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;
	struct ctl *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(listen_fd);
		return NULL;
	}
	c->l = l;
	c->mode = mode;
	c->h = *h;
	c->epfd = -1;
	c->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0,
	    NULL, NULL, on_request, c,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CTL_CONN_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CTL_CONN_TIMEOUT,
	    MHD_OPTION_END);
	if (c->mhd == NULL) {
		snprintf(err, errlen, "cannot start the HTTP server");
		close(listen_fd);
		free(c);
		return NULL;
	}
	info = MHD_get_daemon_info(c->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		snprintf(err, errlen, "the HTTP server has no epoll fd");
		goto err;
	}
	c->epfd = info->epoll_fd;
	if (loop_add_fd(l, c->epfd, LOOP_READ, on_epoll, c) == -1) {
		snprintf(err, errlen, "cannot watch the HTTP server: %s",
		    strerror(errno));
		goto err;
	}
	reschedule(c);
	return c;
err:
	MHD_stop_daemon(c->mhd);
	free(c);
	return NULL;
}

void
ctl_stop(struct ctl *c)
{
	if (c == NULL)
		return;
	if (c->epfd >= 0)
		loop_del_fd(c->l, c->epfd);
	if (c->timer_id != 0)
		loop_del_timer(c->l, c->timer_id);
	MHD_stop_daemon(c->mhd);
	free(c);
}
