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
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <microhttpd.h>

#include "control.h"
#include "log.h"
#include "loop.h"

/*
 * Abuse limits.  Connections are accepted here, not by MHD, so that each
 * one is known: whose it is, since when it waits for its request.  A new
 * connection always gets in: at the limit the oldest one is dropped.
 */
#define CTL_CONN_MAX		256	/* connections at once */
#define CTL_PER_CLIENT		32	/* per client: pid (AF_UNIX) or address */
#define CTL_MHD_LIMIT		(CTL_CONN_MAX + CTL_ACCEPT_BURST)
#define CTL_ACCEPT_BURST	64	/* accepts per wake-up */
#define CTL_REQUEST_MS		5000	/* for a whole request to arrive */
#define CTL_IDLE_SECS		10	/* MHD: idleness while answering */
#define CTL_MAX_WAIT_MS		60000	/* timer cap when MHD has no timeout */
#define CTL_MAX_DISCARD		65536	/* request body bytes read and dropped */
#define CTL_POOL		8192	/* MHD's memory per connection: the
					   request head must fit; MHD clears
					   it for every request */

/* A request that has not arrived is ours to time out (and count): MHD's
 * own idle timeout, measured from the same accept, must never win the
 * race. */
_Static_assert(CTL_IDLE_SECS * 1000 >= CTL_REQUEST_MS + 2000,
    "MHD's idle timeout must outlast the request deadline");

#define CT_JSON		"application/json"
#define CT_TEXT		"text/plain; charset=utf-8"
#define CT_METRICS	"text/plain; version=0.0.4; charset=utf-8"

struct ctl_client {
	int family;		/* AF_UNIX: pid; else the peer's address */
	unsigned char key[16];
};

struct ctl_conn {
	int fd;			/* -1: free slot */
	int dropped;		/* shut down by us, MHD has yet to close it */
	int answering;		/* its request's headers are in */
	int64_t since;		/* accepted, or its last answer queued (ms) */
	struct ctl_client who;
	char *body;		/* POST /v1/statusline: its body so far */
};

struct ctl {
	struct loop *l;
	struct MHD_Daemon *mhd;
	int listen_fd;
	int epfd;		/* MHD's epoll fd, watched by the loop */
	int64_t timer_id;	/* 0: none */
	int mode;		/* CTL_FULL or CTL_METRICS */
	uid_t uid;		/* AF_UNIX peers must be this uid or root */
	struct ctl_handlers h;
	char *bearer;		/* h.bearer's copy, wiped when freed */
	size_t bearer_len;
	struct ctl_conn conns[CTL_MHD_LIMIT];
	int nconns;		/* slots in use, dropped ones included */
	struct ctl_stats st;
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
	    MHD_NO) ||
	    (code == MHD_HTTP_UNAUTHORIZED &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
	    "Bearer realm=\"ratetap\"") == MHD_NO)) {
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
	char *s = NULL;
	size_t len = 0;

	if (c->h.status(c->h.arg, &s, &len) == -1 || s == NULL)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "status unavailable");
	return send_buf(conn, MHD_HTTP_OK, CT_JSON, s, len, 1);
}

/*
 * Does the request carry "Authorization: Bearer <our token>"?  The time
 * taken depends on the length of our token only, not on what was sent.
 */
static int
authorized(const struct ctl *c, struct MHD_Connection *conn)
{
	const char *v;
	volatile unsigned char diff = 0;
	size_t i, n;

	if (c->bearer == NULL)
		return 1;
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
		return 0;
	v += 7;
	while (*v == ' ')
		v++;
	n = strlen(v);
	diff |= (unsigned char)(n != c->bearer_len);
	for (i = 0; i < c->bearer_len; i++)
		diff |= (unsigned char)((i < n ? v[i] : 0) ^ c->bearer[i]);
	return diff == 0;
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

static struct ctl_conn *
conn_of(struct ctl *c, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	int i;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return NULL;
	for (i = 0; i < CTL_MHD_LIMIT; i++)
		if (c->conns[i].fd == ci->connect_fd)
			return &c->conns[i];
	return NULL;
}

/*
 * POST /v1/statusline: the body is gathered (at most SL_BODY_MAX bytes)
 * into the connection's buffer, then handed to h.statusline; the answer
 * is the status JSON.  *con_cls counts the body's bytes + 1.
 */
#define SL_BODY_MAX	16384

static enum MHD_Result
serve_statusline(struct ctl *c, struct MHD_Connection *conn,
    const char *data, size_t *size, void **con_cls)
{
	uintptr_t seen = (uintptr_t)*con_cls;
	struct ctl_conn *cc = conn_of(c, conn);
	char err[256];
	size_t n;
	int rc;

	if (seen == 0) {
		if (cc != NULL)
			cc->answering = 1;
		log_debug("http: POST /v1/statusline");
		*con_cls = (void *)(uintptr_t)1;
		return MHD_YES;
	}
	if (*size > 0) {
		n = *size;
		if (cc != NULL && seen - 1 + n <= SL_BODY_MAX) {
			if (cc->body == NULL &&
			    (cc->body = malloc(SL_BODY_MAX)) == NULL)
				return MHD_NO;
			memcpy(cc->body + seen - 1, data, n);
		}
		seen += n;
		*size = 0;
		*con_cls = (void *)seen;
		if (seen <= CTL_MAX_DISCARD)
			return MHD_YES;
	}
	if (seen - 1 > SL_BODY_MAX)
		return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE,
		    "body too large");
	if (cc == NULL)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "connection unknown");
	rc = c->h.statusline(c->h.arg, cc->body != NULL ? cc->body : "",
	    seen - 1, err, sizeof(err));
	free(cc->body);
	cc->body = NULL;
	if (rc == -1)
		return send_error(conn, MHD_HTTP_BAD_REQUEST, err);
	return serve_status(c, conn);
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
	if (c->mode == CTL_FULL && c->h.statusline != NULL &&
	    strcmp(url, "/v1/statusline") == 0 &&
	    strcmp(method, MHD_HTTP_METHOD_POST) == 0)
		return serve_statusline(c, conn, upload_data,
		    upload_data_size, con_cls);
	known = strcmp(url, "/metrics") == 0 ||
	    strcmp(url, "/v1/health") == 0 ||
	    (c->mode == CTL_FULL && (strcmp(url, "/v1/status") == 0 ||
	    (c->h.statusline != NULL && strcmp(url, "/v1/statusline") == 0)));
	if (seen == 0) {
		struct ctl_conn *cc;

		/* first call: headers only; a body follows in later calls.
		   The request is in: no longer subject to its deadline */
		if ((cc = conn_of(c, conn)) != NULL)
			cc->answering = 1;
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
	if (strcmp(url, "/v1/statusline") == 0)
		return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed");
	if (strcmp(url, "/v1/health") == 0)
		return send_buf(conn, MHD_HTTP_OK, CT_TEXT, ok, strlen(ok), 0);
	if (strcmp(url, "/metrics") == 0) {
		if (!authorized(c, conn)) {
			c->st.unauthorized++;
			return send_error(conn, MHD_HTTP_UNAUTHORIZED,
			    "unauthorized");
		}
		return serve_metrics(c, conn);
	}
	return serve_status(c, conn);
}

/* A request answered in full: the connection's clock restarts for its
 * next request (keep-alive). */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct ctl *c = cls;
	struct ctl_conn *cc;

	(void)con_cls;
	(void)toe;
	if ((cc = conn_of(c, conn)) != NULL) {
		cc->answering = 0;
		cc->since = loop_now_ms();
		free(cc->body);		/* a POST cut short */
		cc->body = NULL;
	}
}

/* MHD closes a connection (always before it closes the fd). */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct ctl *c = cls;
	struct ctl_conn *cc;

	(void)socket_ctx;
	if (toe != MHD_CONNECTION_NOTIFY_CLOSED ||
	    (cc = conn_of(c, conn)) == NULL)
		return;
	free(cc->body);
	cc->body = NULL;
	cc->fd = -1;
	c->nconns--;
}

/*
 * Drop a connection: shut it down (the fd stays MHD's; MHD sees the end
 * on its next run and closes it).
 */
static void
drop(struct ctl_conn *cc, unsigned long *counter)
{
	if (cc->dropped)
		return;
	(void)shutdown(cc->fd, SHUT_RDWR);
	cc->dropped = 1;
	(*counter)++;
}

/* Drop connections whose request did not arrive in time.  Returns the
 * delay until the next deadline, or LOOP_NOMORE when none is pending. */
static int64_t
sweep(struct ctl *c, int64_t now)
{
	int64_t next = LOOP_NOMORE, left;
	int i;

	for (i = 0; i < CTL_MHD_LIMIT; i++) {
		struct ctl_conn *cc = &c->conns[i];

		if (cc->fd == -1 || cc->dropped || cc->answering)
			continue;
		if ((left = cc->since + CTL_REQUEST_MS - now) <= 0)
			drop(cc, &c->st.timed_out);
		else if (next == LOOP_NOMORE || left < next)
			next = left;
	}
	return next;
}

/* Delay before MHD or a request deadline wants us again, or
 * LOOP_NOMORE. */
static int64_t
next_delay(struct ctl *c)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	int64_t d = LOOP_NOMORE, s = sweep(c, loop_now_ms());

	if (MHD_get_timeout(c->mhd, &ms) == MHD_YES)
		d = ms > CTL_MAX_WAIT_MS ? CTL_MAX_WAIT_MS : (int64_t)ms;
	if (s != LOOP_NOMORE && (d == LOOP_NOMORE || s < d))
		d = s;
	return d;
}

/*
 * Let MHD do its work.  MHD closes the connections it is done with at the
 * end of a run; a connection we shut down is seen only by the next run, so
 * run again while that frees anything.
 */
static void
run_mhd(struct ctl *c)
{
	int before, i;

	for (i = 0; i < 4; i++) {
		before = c->nconns;
		if (MHD_run(c->mhd) != MHD_YES) {
			log_debug("http: MHD_run failed");
			break;
		}
		if (c->nconns >= before)
			break;
	}
}

static int64_t
on_timer(struct loop *l, int64_t id, void *arg)
{
	struct ctl *c = arg;
	int64_t next;

	(void)l;
	(void)id;
	(void)sweep(c, loop_now_ms());
	run_mhd(c);
	if ((next = next_delay(c)) == LOOP_NOMORE)
		c->timer_id = 0;
	return next;
}

static void
reschedule(struct ctl *c)
{
	int64_t next = next_delay(c);

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
	run_mhd(c);
	reschedule(c);
}

/* Who is at the other end: the peer's pid on AF_UNIX (-1 with its uid
 * not ours nor root's), its address on TCP. */
static int
client_of(struct ctl *c, int fd, const struct sockaddr_storage *ss,
    struct ctl_client *who)
{
	memset(who, 0, sizeof(*who));
	who->family = ss->ss_family;
	if (ss->ss_family == AF_UNIX) {
		struct ucred cr;
		socklen_t len = sizeof(cr);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
			return -1;
		if (cr.uid != c->uid && cr.uid != 0)
			return -1;
		memcpy(who->key, &cr.pid, sizeof(cr.pid));
	} else if (ss->ss_family == AF_INET)
		memcpy(who->key, &((const struct sockaddr_in *)ss)->sin_addr,
		    4);
	else if (ss->ss_family == AF_INET6)
		memcpy(who->key,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	return 0;
}

/* Make room for one more connection of client who; returns a free slot,
 * or NULL when the new connection is to be refused. */
static struct ctl_conn *
make_room(struct ctl *c, const struct ctl_client *who)
{
	struct ctl_conn *free_slot = NULL, *oldest = NULL, *mine = NULL;
	int i, live = 0, same = 0;

	for (i = 0; i < CTL_MHD_LIMIT; i++) {
		struct ctl_conn *cc = &c->conns[i];

		if (cc->fd == -1) {
			if (free_slot == NULL)
				free_slot = cc;
			continue;
		}
		if (cc->dropped)
			continue;
		live++;
		if (oldest == NULL || cc->since < oldest->since)
			oldest = cc;
		if (memcmp(&cc->who, who, sizeof(*who)) == 0) {
			same++;
			if (mine == NULL || cc->since < mine->since)
				mine = cc;
		}
	}
	if (free_slot == NULL)
		return NULL;	/* drops in flight: MHD closes them first */
	/* a client over its share loses its own oldest connection; at the
	   limit the oldest of all goes: a newcomer always gets in */
	if (same >= CTL_PER_CLIENT)
		drop(mine, &c->st.per_client);
	else if (live >= CTL_CONN_MAX)
		drop(oldest, &c->st.evicted);
	return free_slot;
}

/* Out of fds: drop the oldest connection. */
static void
drop_oldest(struct ctl *c)
{
	struct ctl_conn *oldest = NULL;
	int i;

	for (i = 0; i < CTL_MHD_LIMIT; i++) {
		struct ctl_conn *cc = &c->conns[i];

		if (cc->fd != -1 && !cc->dropped &&
		    (oldest == NULL || cc->since < oldest->since))
			oldest = cc;
	}
	if (oldest != NULL)
		drop(oldest, &c->st.evicted);
}

static void
on_accept(struct loop *l, int fd, int events, void *arg)
{
	struct ctl *c = arg;
	struct sockaddr_storage ss;
	struct ctl_client who;
	struct ctl_conn *cc;
	socklen_t sl;
	int i, s;

	(void)l;
	(void)events;
	for (i = 0; i < CTL_ACCEPT_BURST; i++) {
		sl = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		s = accept4(fd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				/* out of fds: free some, take it next round */
				c->st.refused++;
				drop_oldest(c);
			} else if (errno != EAGAIN)
				log_debug("http: accept: %s", strerror(errno));
			break;
		}
		if (client_of(c, s, &ss, &who) == -1) {
			log_debug("http: connection from another uid refused");
			c->st.foreign++;
			close(s);
			continue;
		}
		if ((cc = make_room(c, &who)) == NULL) {
			c->st.refused++;
			close(s);
			continue;
		}
		cc->fd = s;
		cc->dropped = cc->answering = 0;
		cc->since = loop_now_ms();
		cc->who = who;
		c->nconns++;
		c->st.accepted++;
		if (MHD_add_connection(c->mhd, s, (struct sockaddr *)&ss, sl) !=
		    MHD_YES) {
			/* MHD closed it, without a notification */
			log_debug("http: cannot add a connection: %s",
			    strerror(errno));
			if (cc->fd == s) {
				cc->fd = -1;
				c->nconns--;
			}
		}
	}
	run_mhd(c);
	reschedule(c);
}

static void
free_bearer(struct ctl *c)
{
	if (c->bearer == NULL)
		return;
	explicit_bzero(c->bearer, c->bearer_len);
	free(c->bearer);
	c->bearer = NULL;
}

struct ctl *
ctl_start(struct loop *l, int listen_fd, int mode,
    const struct ctl_handlers *h, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;
	struct ctl *c;
	int i;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(listen_fd);
		return NULL;
	}
	c->l = l;
	c->mode = mode;
	c->h = *h;
	c->epfd = -1;
	c->listen_fd = listen_fd;
	c->uid = getuid();
	for (i = 0; i < CTL_MHD_LIMIT; i++)
		c->conns[i].fd = -1;
	if (h->bearer != NULL) {
		if ((c->bearer = strdup(h->bearer)) == NULL) {
			snprintf(err, errlen, "out of memory");
			close(listen_fd);
			free(c);
			return NULL;
		}
		c->bearer_len = strlen(c->bearer);
	}
	c->h.bearer = NULL;
	c->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
	    MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, on_request, c,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CTL_MHD_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CTL_IDLE_SECS,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CTL_POOL,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, c,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, c,
	    MHD_OPTION_END);
	if (c->mhd == NULL) {
		snprintf(err, errlen, "cannot start the HTTP server");
		close(listen_fd);
		free_bearer(c);
		free(c);
		return NULL;
	}
	info = MHD_get_daemon_info(c->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		snprintf(err, errlen, "the HTTP server has no epoll fd");
		goto err;
	}
	c->epfd = info->epoll_fd;
	if (loop_add_fd(l, c->epfd, LOOP_READ, on_epoll, c) == -1 ||
	    loop_add_fd(l, listen_fd, LOOP_READ, on_accept, c) == -1) {
		snprintf(err, errlen, "cannot watch the HTTP server: %s",
		    strerror(errno));
		loop_del_fd(l, c->epfd);
		goto err;
	}
	reschedule(c);
	return c;
err:
	MHD_stop_daemon(c->mhd);
	close(listen_fd);
	free_bearer(c);
	free(c);
	return NULL;
}

void
ctl_get_stats(const struct ctl *c, struct ctl_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (c == NULL)
		return;
	*st = c->st;
	st->open = (unsigned long)c->nconns;
}

void
ctl_stop(struct ctl *c)
{
	if (c == NULL)
		return;
	loop_del_fd(c->l, c->listen_fd);
	if (c->epfd >= 0)
		loop_del_fd(c->l, c->epfd);
	if (c->timer_id != 0)
		loop_del_timer(c->l, c->timer_id);
	MHD_stop_daemon(c->mhd);
	close(c->listen_fd);
	free_bearer(c);
	free(c);
}
