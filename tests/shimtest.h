/*
 * What the unit tests of the shim's libcurl layer share (check_setopt,
 * check_xfer, check_config, check_send): a fake libcurl that the hooks
 * forward to (its table is what resolve_fns() returns), the receiving end
 * of the events (a datagram socket and the journal beside it, in a
 * directory of the test's own), and the fixtures (a tapped handle with a
 * JSON body, the application's write callback, check_event).  The tests
 * link the shim's modules as ordinary objects; no real libcurl is
 * involved.  Everything is static: each test includes it once.
 */
#ifndef RATETAP_TESTS_SHIMTEST_H
#define RATETAP_TESTS_SHIMTEST_H
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shim/curltap.h"

/* ---- the fake libcurl --------------------------------------------------- */

enum { K_LONG, K_PTR, K_FN, K_OFF };

struct fake_easy {
	curl_write_callback wf;		/* NULL: fwrite */
	void *wd;
	curl_write_callback hf;
	void *hd;
	char url[256];
	long code;			/* response code to report */
	const char *method;
	const char *eff_url;
	const char *body;		/* delivered in 7-byte chunks */
	int delivered;			/* body handed to the write callback */
	CURLcode result;
	struct curl_header hdrs[4];
	size_t nhdrs;
	const char *const *pre;		/* header lines of earlier responses
					   (redirects, 1xx), NULL-ended */
	struct fake_multi *multi;
};

struct fake_multi {
	struct fake_easy *easy[8];
	int n;
	CURLMsg msgs[8];
	int nmsgs, next_msg;
};

/* last setopt seen by the fake */
static struct {
	CURLoption opt;
	int kind;
	long l;
	void *p;
	void (*fn)(void);
	curl_off_t o;
	int count;
} last;

static int fake_internal_calls;	/* hooks reached from "inside" libcurl */

static inline CURLcode
fake_setopt(CURL *h, CURLoption opt, ...)
{
	struct fake_easy *e = (struct fake_easy *)h;
	va_list ap;

	va_start(ap, opt);
	last.opt = opt;
	last.count++;
	if ((int)opt < CURLOPTTYPE_OBJECTPOINT) {
		last.kind = K_LONG;
		last.l = va_arg(ap, long);
	} else if ((int)opt < CURLOPTTYPE_FUNCTIONPOINT) {
		last.kind = K_PTR;
		last.p = va_arg(ap, void *);
	} else if ((int)opt < CURLOPTTYPE_OFF_T) {
		last.kind = K_FN;
		last.fn = va_arg(ap, void (*)(void));
	} else if ((int)opt < CURLOPTTYPE_BLOB) {
		last.kind = K_OFF;
		last.o = va_arg(ap, curl_off_t);
	} else {
		last.kind = K_PTR;
		last.p = va_arg(ap, void *);
	}
	va_end(ap);
	if (opt == 9999)
		return CURLE_UNKNOWN_OPTION;
	switch (opt) {
	case CURLOPT_WRITEFUNCTION:
		e->wf = (curl_write_callback)last.fn;
		break;
	case CURLOPT_WRITEDATA:
		e->wd = last.p;
		break;
	case CURLOPT_HEADERFUNCTION:
		e->hf = (curl_write_callback)last.fn;
		break;
	case CURLOPT_HEADERDATA:
		e->hd = last.p;
		break;
	case CURLOPT_URL:
		snprintf(e->url, sizeof(e->url), "%s",
		    last.p ? (const char *)last.p : "");
		break;
	default:
		break;
	}
	return CURLE_OK;
}

static inline CURLcode
fake_getinfo(CURL *h, CURLINFO info, ...)
{
	struct fake_easy *e = (struct fake_easy *)h;
	va_list ap;

	va_start(ap, info);
	switch (info) {
	case CURLINFO_RESPONSE_CODE:
		*va_arg(ap, long *) = e->code;
		break;
	case CURLINFO_EFFECTIVE_METHOD:
		*va_arg(ap, const char **) = e->method;
		break;
	case CURLINFO_EFFECTIVE_URL:
		*va_arg(ap, const char **) = e->eff_url;
		break;
	default:
		va_end(ap);
		return CURLE_UNKNOWN_OPTION;
	}
	va_end(ap);
	return CURLE_OK;
}

static int nextheader_calls;

static inline struct curl_header *
fake_nextheader(CURL *h, unsigned int origin, int request,
    struct curl_header *prev)
{
	struct fake_easy *e = (struct fake_easy *)h;
	size_t next = prev == NULL ? 0 : (size_t)(prev - e->hdrs) + 1;

	(void)origin;
	(void)request;
	nextheader_calls++;
	return next < e->nhdrs ? &e->hdrs[next] : NULL;
}

/* One header line, as libcurl 7.88 hands it out: to the header callback
 * with HEADERDATA; without one, to the write callback (fwrite when unset)
 * with HEADERDATA when that is set; else to nobody.  -1: the callback
 * did not take it all (libcurl fails the transfer). */
static inline int
fake_header(struct fake_easy *e, const char *line)
{
	size_t n = strlen(line), r;
	char buf[256];

	ck_assert_uint_lt(n, sizeof(buf));
	memcpy(buf, line, n + 1);	/* not NUL-terminated for the
					   callee to rely on: a copy */
	if (e->hf != NULL)
		r = e->hf(buf, 1, n, e->hd);
	else if (e->hd != NULL && e->wf != NULL)
		r = e->wf(buf, 1, n, e->hd);
	else if (e->hd != NULL)
		r = fwrite(buf, 1, n, e->hd);
	else
		r = n;
	return r == n ? 0 : -1;
}

/* The header block fake_run() delivers for e, as one string. */
static inline void
header_block(const struct fake_easy *e, char *buf, size_t len)
{
	size_t k, off = 0;

	for (k = 0; e->pre != NULL && e->pre[k] != NULL; k++)
		off += (size_t)snprintf(buf + off, len - off, "%s", e->pre[k]);
	off += (size_t)snprintf(buf + off, len - off, "HTTP/1.1 %ld OK\r\n",
	    e->code);
	for (k = 0; k < e->nhdrs; k++)
		off += (size_t)snprintf(buf + off, len - off, "%s: %s\r\n",
		    e->hdrs[k].name, e->hdrs[k].value);
	snprintf(buf + off, len - off, "\r\n");
}

/* Deliver the response as libcurl does: the header lines of any earlier
 * responses, the status line, the headers and the blank line (see
 * fake_header), then the body to the write callback in 7-byte chunks. */
static inline CURLcode
fake_run(struct fake_easy *e)
{
	char line[256];
	size_t off, k, len = strlen(e->body);

	for (k = 0; e->pre != NULL && e->pre[k] != NULL; k++)
		if (fake_header(e, e->pre[k]) == -1)
			return CURLE_WRITE_ERROR;
	snprintf(line, sizeof(line), "HTTP/1.1 %ld OK\r\n", e->code);
	if (fake_header(e, line) == -1)
		return CURLE_WRITE_ERROR;
	for (k = 0; k < e->nhdrs; k++) {
		snprintf(line, sizeof(line), "%s: %s\r\n", e->hdrs[k].name,
		    e->hdrs[k].value);
		if (fake_header(e, line) == -1)
			return CURLE_WRITE_ERROR;
	}
	if (fake_header(e, "\r\n") == -1)
		return CURLE_WRITE_ERROR;
	for (off = 0; off < len; off += 7) {
		size_t n = len - off < 7 ? len - off : 7, r;
		char chunk[8];

		memcpy(chunk, e->body + off, n);
		if (e->wf != NULL)
			r = e->wf(chunk, 1, n, e->wd);
		else
			r = fwrite(chunk, 1, n, e->wd);
		if (r != n)
			return CURLE_WRITE_ERROR;
	}
	e->delivered = 1;
	return CURLE_OK;
}

static CURLMcode fake_multi_add(CURLM *m, CURL *h);
static CURLMcode fake_multi_remove(CURLM *m, CURL *h);
static CURLMsg *fake_info_read(CURLM *m, int *left);

/* like libcurl, perform goes through the exported multi functions, and so
 * through the hooks */
static inline CURLcode
fake_perform(CURL *h)
{
	struct fake_easy *e = (struct fake_easy *)h;
	struct fake_multi m;
	CURLMsg *msg;
	int left;

	memset(&m, 0, sizeof(m));
	if (e->multi != NULL)
		return CURLE_FAILED_INIT;
	fake_internal_calls++;
	if (curl_multi_add_handle((CURLM *)&m, h) != CURLM_OK)
		return CURLE_FAILED_INIT;
	e->result = fake_run(e);
	m.msgs[0].msg = CURLMSG_DONE;
	m.msgs[0].easy_handle = h;
	m.msgs[0].data.result = e->result;
	m.nmsgs = 1;
	msg = curl_multi_info_read((CURLM *)&m, &left);
	ck_assert_ptr_nonnull(msg);
	curl_multi_remove_handle((CURLM *)&m, h);
	return e->result;
}

static inline CURLMcode
fake_multi_add(CURLM *mh, CURL *h)
{
	struct fake_multi *m = (struct fake_multi *)mh;
	struct fake_easy *e = (struct fake_easy *)h;

	if (e->multi != NULL)
		return CURLM_ADDED_ALREADY;
	e->multi = m;
	m->easy[m->n++] = e;
	return CURLM_OK;
}

static inline CURLMcode
fake_multi_remove(CURLM *mh, CURL *h)
{
	struct fake_multi *m = (struct fake_multi *)mh;
	struct fake_easy *e = (struct fake_easy *)h;
	int k;

	if (e->multi != m)
		return CURLM_BAD_EASY_HANDLE;
	e->multi = NULL;
	for (k = 0; k < m->n; k++)
		if (m->easy[k] == e)
			m->easy[k] = m->easy[--m->n];
	return CURLM_OK;
}

static inline CURLMsg *
fake_info_read(CURLM *mh, int *left)
{
	struct fake_multi *m = (struct fake_multi *)mh;

	if (m->next_msg >= m->nmsgs) {
		*left = 0;
		return NULL;
	}
	*left = m->nmsgs - m->next_msg - 1;
	return &m->msgs[m->next_msg++];
}

static inline CURLMcode
fake_multi_cleanup(CURLM *mh)
{
	struct fake_multi *m = (struct fake_multi *)mh;
	int k;

	for (k = 0; k < m->n; k++)
		m->easy[k]->multi = NULL;
	m->n = 0;
	return CURLM_OK;
}

/* the application's side of curl_multi_perform: run every transfer */
static inline void
fake_multi_perform(struct fake_multi *m)
{
	int k;

	for (k = 0; k < m->n; k++) {
		struct fake_easy *e = m->easy[k];

		if (e->delivered)
			continue;
		e->result = fake_run(e);
		m->msgs[m->nmsgs].msg = CURLMSG_DONE;
		m->msgs[m->nmsgs].easy_handle = (CURL *)e;
		m->msgs[m->nmsgs].data.result = e->result;
		m->nmsgs++;
	}
}

static struct fake_easy *dup_src_seen;

static inline CURL *
fake_duphandle(CURL *h)
{
	struct fake_easy *e = (struct fake_easy *)h, *d = malloc(sizeof(*d));

	ck_assert_ptr_nonnull(d);
	*d = *e;
	d->multi = NULL;
	d->delivered = 0;
	dup_src_seen = e;
	return (CURL *)d;
}

static int resets, cleanups;

static inline void
fake_reset(CURL *h)
{
	struct fake_easy *e = (struct fake_easy *)h;

	resets++;
	e->wf = NULL;
	e->wd = stdout;
	e->hf = NULL;
	e->hd = NULL;
	e->url[0] = '\0';
}

static inline void
fake_cleanup(CURL *h)
{
	(void)h;
	cleanups++;
}

/* curl_easy_init returns the handle the test prepared */
static struct fake_easy *next_new;

static inline CURL *
fake_easy_init(void)
{
	return (CURL *)next_new;
}

/* A CURLU handle: just the URL it holds. */
struct fake_curlu {
	const char *url;	/* NULL: no URL set */
};

static inline CURLUcode
fake_url_get(CURLU *h, CURLUPart what, char **part, unsigned int flags)
{
	const struct fake_curlu *u = (const struct fake_curlu *)h;

	(void)flags;
	*part = NULL;
	if (what != CURLUPART_URL || u->url == NULL)
		return CURLUE_NO_HOST;
	if ((*part = strdup(u->url)) == NULL)
		return CURLUE_OUT_OF_MEMORY;
	return CURLUE_OK;
}

static struct curl_fns fake_fns = {
	.lib = &fake_fns,
	.easy_init = fake_easy_init,
	.easy_perform = fake_perform,
	.easy_setopt = fake_setopt,
	.easy_getinfo = fake_getinfo,
	.easy_duphandle = fake_duphandle,
	.easy_reset = fake_reset,
	.easy_cleanup = fake_cleanup,
	.easy_nextheader = fake_nextheader,
	.multi_add_handle = fake_multi_add,
	.multi_remove_handle = fake_multi_remove,
	.multi_info_read = fake_info_read,
	.multi_cleanup = fake_multi_cleanup,
	.url_get = fake_url_get,
	.free = free,
};

static int no_libcurl;

/* The resolver, faked: every caller uses the fake libcurl.  Its cache
 * stays empty, so that every hooked call asks resolve_fns(). */
__thread struct resolve_last resolve_last[RES_NFAM]
    __attribute__((tls_model("initial-exec")));
_Atomic unsigned resolve_gen;

const struct curl_fns *
resolve_fns(const void *caller)
{
	(void)caller;
	return no_libcurl ? NULL : &fake_fns;
}

const struct curl_fns *
resolve_fns_flags(const void *caller, unsigned *flags)
{
	*flags = 0;
	return resolve_fns(caller);
}

void
got_patch_all(void)
{
}

void
got_patch_start(void)
{
}

void
got_restore_start(void)
{
}

int
resolve_program_defines(const char *name)
{
	(void)name;
	return 0;
}

/* ---- the receiving end -------------------------------------------------- */

static char sockdir[64];
static char sockpath[108];
static int rxfd = -1;
/* Where reading the journal beside sockpath stopped (the shim's events
 * go there first, datagrams only when it cannot be written). */
static char jpath[sizeof(sockpath) + 16];
static off_t joff;

/* The marker a daemon that reads the journal keeps beside it: with it the
 * shim writes the journal, without it (and a socket) datagrams. */
static inline void
reader_mark(int on)
{
	char m[sizeof(sockdir) + 32];
	int fd;

	snprintf(m, sizeof(m), "%s/%s", sockdir, RTJ_READER_NAME);
	if (on) {
		fd = open(m, O_WRONLY | O_CREAT, 0600);
		ck_assert_int_ge(fd, 0);
		close(fd);
	} else
		unlink(m);
}

static inline void
rx_open(void)
{
	struct sockaddr_un sun;

	snprintf(sockdir, sizeof(sockdir), "%s", "/tmp/rt-setopt-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sockdir));
	snprintf(sockpath, sizeof(sockpath), "%s/in.sock", sockdir);
	rxfd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ge(rxfd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sockpath, strlen(sockpath) + 1);
	ck_assert_int_eq(bind(rxfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	reader_mark(1);
}

static inline void
rx_close(void)
{
	char jp[sizeof(jpath)];

	close(rxfd);
	if (rt_journal_path(sockpath, jp, sizeof(jp)) == 0)
		unlink(jp);
	jpath[0] = '\0';
	reader_mark(0);
	unlink(sockpath);
	rmdir(sockdir);
}


static inline int
rx_journal(struct rtp_event *evs, int n, int max)
{
	char jp[sizeof(jpath)], buf[8192];
	struct rtj_hdr h;
	size_t pos, len;
	ssize_t r;
	int fd;

	ck_assert_int_eq(rt_journal_path(sockpath, jp, sizeof(jp)), 0);
	if (strcmp(jp, jpath) != 0) {
		memcpy(jpath, jp, sizeof(jp));
		joff = 0;
	}
	if ((fd = open(jpath, O_RDONLY | O_NOFOLLOW)) == -1)
		return n;
	while ((r = pread(fd, buf, sizeof(buf), joff)) > 0) {
		for (pos = 0; pos < (size_t)r; pos += len) {
			if (rtj_frame(buf + pos, (size_t)r - pos, &h, &len) !=
			    RTJ_OK)
				break;
			ck_assert_int_lt(n, max);
			ck_assert_int_eq(rtp_validate(buf + pos + sizeof(h),
			    h.payload, &evs[n]), RTP_OK);
			n++;
		}
		ck_assert_uint_gt(pos, 0);	/* no garbage, no torn record */
		joff += (off_t)pos;
	}
	close(fd);
	return n;
}

/* Every event queued so far (at most max), validated. */
static inline int
rx_events(struct rtp_event *evs, int max)
{
	int n = rx_journal(evs, 0, max);

	for (;;) {
		char buf[2048];
		ssize_t r = recv(rxfd, buf, sizeof(buf), MSG_DONTWAIT);

		if (r < 0)
			break;
		ck_assert_int_lt(n, max);
		ck_assert_int_eq(rtp_validate(buf, (size_t)r, &evs[n]),
		    RTP_OK);
		n++;
	}
	return n;
}

/* ---- fixtures ------------------------------------------------------------ */

/* A /v1/messages response with every usage field (check_event). */
static const char *json_body __attribute__((unused)) =
    "{\"type\":\"message\",\"model\":\"claude-opus-4-1\",\"content\":[],"
    "\"usage\":{\"input_tokens\":12,\"output_tokens\":34,"
    "\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":6}}";

static char app_buf[1024];
static size_t app_len;
static int app_data;

static inline size_t
app_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	size_t len = size * nmemb;

	ck_assert_ptr_eq(ud, &app_data);
	ck_assert_uint_le(app_len + len, sizeof(app_buf));
	memcpy(app_buf + app_len, ptr, len);
	app_len += len;
	return len;
}

static inline size_t
app_write2(char *ptr, size_t size, size_t nmemb, void *ud)
{
	return app_write(ptr, size, nmemb, ud);
}

static inline void
setup(void)
{
	rx_open();
	setenv("RATETAP_SOCKET", sockpath, 1);
	setenv("RATETAP_HOSTS", "api.test, [::1]:8443", 1);
	unsetenv("RATETAP_DISABLE");
	unsetenv("RATETAP_DEBUG");
	cfg_load();
	memset(&last, 0, sizeof(last));
	app_len = 0;
	no_libcurl = 0;
	fake_internal_calls = 0;
	nextheader_calls = 0;
	resets = cleanups = 0;
}

static inline void
teardown(void)
{
	rx_close();
}

/* e is created through the curl_easy_init hook, as under the shim. */
static inline void
easy_new(struct fake_easy *e)
{
	next_new = e;
	ck_assert_ptr_eq(curl_easy_init(), (CURL *)e);
}

static inline void
easy_init(struct fake_easy *e, const char *url, const char *body)
{
	memset(e, 0, sizeof(*e));
	easy_new(e);
	e->wd = stdout;
	e->code = 200;
	e->method = "POST";
	e->eff_url = url;
	e->body = body;
	e->hdrs[0].name = (char *)(uintptr_t)"Anthropic-Ratelimit-Unified-5h-Utilization";
	e->hdrs[0].value = (char *)(uintptr_t)"0.75";
	e->hdrs[1].name = (char *)(uintptr_t)"request-id";
	e->hdrs[1].value = (char *)(uintptr_t)"req_unit_1";
	e->nhdrs = 2;
	ck_assert_int_eq(curl_easy_setopt((CURL *)e, CURLOPT_URL, url),
	    CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)e, CURLOPT_WRITEFUNCTION,
	    app_write), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)e, CURLOPT_WRITEDATA,
	    &app_data), CURLE_OK);
}

static inline void
check_event(const struct rtp_event *ev, int usage_ok)
{
	ck_assert_uint_eq(ev->http_status, 200);
	ck_assert_uint_eq(ev->method, RTP_M_POST);
	ck_assert_str_eq(ev->path, "/v1/messages");
	ck_assert_int_eq(ev->pid, getpid());
	ck_assert_str_eq(ev->request_id, "req_unit_1");
	ck_assert_uint_eq(ev->present, RTP_PRESENT_D(RTP_D_UTIL_5H));
	ck_assert_double_eq(ev->d[RTP_D_UTIL_5H], 0.75);
	if (usage_ok) {
		ck_assert_uint_eq(ev->usage_state, RTP_USAGE_OK);
		ck_assert_str_eq(ev->model, "claude-opus-4-1");
		ck_assert_int_eq(ev->input_tokens, 12);
		ck_assert_int_eq(ev->output_tokens, 34);
		ck_assert_int_eq(ev->cache_creation_input_tokens, 5);
		ck_assert_int_eq(ev->cache_read_input_tokens, 6);
	}
}

#endif /* RATETAP_TESTS_SHIMTEST_H */
