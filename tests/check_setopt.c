/*
 * Unit tests of the hooks (shim/hooks.c with the shim's other modules)
 * against a fake libcurl defined here: curl_easy_setopt forwards exactly one
 * argument of every option type unchanged, and each transfer's lifecycle
 * (easy, multi with and without CURLMSG_DONE, cleanup, reset, duphandle)
 * yields exactly one event and leaves the application's callbacks as they
 * were.  Events go to a datagram socket of the test's own.
 */
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

static CURLcode
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

static CURLcode
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

static struct curl_header *
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
static int
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
static void
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
static CURLcode
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
static CURLcode
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

static CURLMcode
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

static CURLMcode
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

static CURLMsg *
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

static CURLMcode
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
static void
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

static CURL *
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

static void
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

static void
fake_cleanup(CURL *h)
{
	(void)h;
	cleanups++;
}

/* curl_easy_init returns the handle the test prepared */
static struct fake_easy *next_new;

static CURL *
fake_easy_init(void)
{
	return (CURL *)next_new;
}

/* A CURLU handle: just the URL it holds. */
struct fake_curlu {
	const char *url;	/* NULL: no URL set */
};

static CURLUcode
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

/* The resolver, faked: every caller uses the fake libcurl. */
const struct curl_fns *
resolve_fns(const void *caller)
{
	(void)caller;
	return no_libcurl ? NULL : &fake_fns;
}

void
got_patch_all(void)
{
}

void
got_patch_start(void)
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
static void
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

static void
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

static void
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


static int
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
static int
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

static const char *json_body =
    "{\"type\":\"message\",\"model\":\"claude-opus-4-1\",\"content\":[],"
    "\"usage\":{\"input_tokens\":12,\"output_tokens\":34,"
    "\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":6}}";

static char app_buf[1024];
static size_t app_len;
static int app_data;

static size_t
app_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	size_t len = size * nmemb;

	ck_assert_ptr_eq(ud, &app_data);
	ck_assert_uint_le(app_len + len, sizeof(app_buf));
	memcpy(app_buf + app_len, ptr, len);
	app_len += len;
	return len;
}

static size_t
app_write2(char *ptr, size_t size, size_t nmemb, void *ud)
{
	return app_write(ptr, size, nmemb, ud);
}

static void
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

static void
teardown(void)
{
	rx_close();
}

/* e is created through the curl_easy_init hook, as under the shim. */
static void
easy_new(struct fake_easy *e)
{
	next_new = e;
	ck_assert_ptr_eq(curl_easy_init(), (CURL *)e);
}

static void
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

static void
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

/* ---- setopt -------------------------------------------------------------- */

static size_t
dummy_cb(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

START_TEST(setopt_forwards_longs_unchanged)
{
	struct fake_easy e;
	static const long vals[] = { 0, 1, -1, LONG_MAX, LONG_MIN, 0x7fffffffL };
	size_t k;

	memset(&e, 0, sizeof(e));
	for (k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
		ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_TIMEOUT,
		    vals[k]), CURLE_OK);
		ck_assert_int_eq(last.opt, CURLOPT_TIMEOUT);
		ck_assert_int_eq(last.kind, K_LONG);
		ck_assert_int_eq(last.l, vals[k]);
	}
}
END_TEST

START_TEST(setopt_forwards_object_string_and_slist_pointers_unchanged)
{
	struct fake_easy e;
	struct curl_slist sl = { (char *)(uintptr_t)"a: b", NULL };
	char errbuf[CURL_ERROR_SIZE];

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_USERAGENT,
	    "ua/1"), CURLE_OK);
	ck_assert_int_eq(last.kind, K_PTR);
	ck_assert_str_eq((const char *)last.p, "ua/1");
	curl_easy_setopt((CURL *)&e, CURLOPT_HTTPHEADER, &sl);
	ck_assert_ptr_eq(last.p, &sl);
	curl_easy_setopt((CURL *)&e, CURLOPT_ERRORBUFFER, errbuf);
	ck_assert_ptr_eq(last.p, errbuf);
	curl_easy_setopt((CURL *)&e, CURLOPT_PRIVATE, NULL);
	ck_assert_ptr_null(last.p);
	ck_assert_int_eq(last.opt, CURLOPT_PRIVATE);
}
END_TEST

START_TEST(setopt_forwards_function_pointers_unchanged)
{
	struct fake_easy e;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_READFUNCTION,
	    dummy_cb), CURLE_OK);
	ck_assert_int_eq(last.kind, K_FN);
	ck_assert(last.fn == (void (*)(void))dummy_cb);
	curl_easy_setopt((CURL *)&e, CURLOPT_HEADERFUNCTION, NULL);
	ck_assert(last.fn == NULL);
	ck_assert_int_eq(last.opt, CURLOPT_HEADERFUNCTION);
}
END_TEST

START_TEST(setopt_forwards_curl_off_t_unchanged)
{
	struct fake_easy e;
	static const curl_off_t vals[] = {
		0, -1, (curl_off_t)1 << 40, INT64_MAX, INT64_MIN
	};
	size_t k;

	memset(&e, 0, sizeof(e));
	for (k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
		ck_assert_int_eq(curl_easy_setopt((CURL *)&e,
		    CURLOPT_MAXFILESIZE_LARGE, vals[k]), CURLE_OK);
		ck_assert_int_eq(last.kind, K_OFF);
		ck_assert(last.o == vals[k]);
	}
}
END_TEST

START_TEST(setopt_forwards_blobs_unchanged)
{
	struct fake_easy e;
	struct curl_blob b = { (void *)(uintptr_t)"pem", 3, CURL_BLOB_COPY };

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_SSLCERT_BLOB,
	    &b), CURLE_OK);
	ck_assert_int_eq(last.kind, K_PTR);
	ck_assert_ptr_eq(last.p, &b);
}
END_TEST

START_TEST(setopt_returns_what_libcurl_returns)
{
	struct fake_easy e;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, (CURLoption)9999, 5L),
	    CURLE_UNKNOWN_OPTION);
	ck_assert_int_eq(last.l, 5);
}
END_TEST

START_TEST(hooks_fail_the_call_without_a_libcurl)
{
	struct fake_easy e;
	int left;

	memset(&e, 0, sizeof(e));
	no_libcurl = 1;
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_TIMEOUT, 1L),
	    CURLE_FAILED_INIT);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_FAILED_INIT);
	ck_assert_ptr_null(curl_easy_duphandle((CURL *)&e));
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&e, (CURL *)&e),
	    CURLM_INTERNAL_ERROR);
	ck_assert_int_eq(curl_multi_remove_handle((CURLM *)&e, (CURL *)&e),
	    CURLM_INTERNAL_ERROR);
	ck_assert_ptr_null(curl_multi_info_read((CURLM *)&e, &left));
	ck_assert_int_eq(curl_multi_cleanup((CURLM *)&e),
	    CURLM_INTERNAL_ERROR);
	curl_easy_reset((CURL *)&e);
	curl_easy_cleanup((CURL *)&e);
	ck_assert_int_eq(last.count, 0);
	ck_assert_int_eq(resets + cleanups, 0);
}
END_TEST

/* ---- lifecycle ------------------------------------------------------------ */

START_TEST(easy_perform_sends_exactly_one_event)
{
	struct fake_easy e;
	struct rtp_event ev[4];

	easy_init(&e, "https://api.test/v1/messages?beta=true", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(fake_internal_calls, 1);
	ck_assert_int_eq(rx_events(ev, 4), 1);
	check_event(&ev[0], 1);
	ck_assert_str_eq(ev[0].host, "api.test");
	ck_assert_uint_eq(ev[0].flags, RTP_F_TLS);
	ck_assert_uint_eq(ev[0].seq, 1);
	/* the application got every byte, and its callbacks are back */
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert_int_eq(memcmp(app_buf, json_body, app_len), 0);
	ck_assert(e.wf == app_write);
	ck_assert_ptr_eq(e.wd, &app_data);
	/* again on the same handle: one more event */
	app_len = 0;
	e.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 4), 1);
	ck_assert_uint_eq(ev[0].seq, 2);
	curl_easy_cleanup((CURL *)&e);
	ck_assert_int_eq(rx_events(ev, 4), 0);
}
END_TEST

START_TEST(an_untapped_host_gets_no_tee_and_no_event)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	easy_init(&e, "https://example.com/v1/messages", json_body);
	e.wf = NULL;			/* reveal any tee: it would set it */
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_WRITEFUNCTION,
	    app_write), CURLE_OK);
	last.count = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(last.count, 0);	/* no setopt of ours */
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_uint_eq(app_len, strlen(json_body));
	/* port-qualified entries: only that port */
	easy_init(&e, "http://[::1]:8080/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	easy_init(&e, "http://[::1]:8443/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "[::1]:8443");
	easy_init(&e, "HTTPS://user:pw@API.Test:444/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "api.test:444");
}
END_TEST

START_TEST(multi_done_read_sends_once_and_remove_adds_nothing)
{
	struct fake_easy a, b;
	struct fake_multi m;
	struct rtp_event ev[4];
	CURLMsg *msg;
	int left, done = 0;

	memset(&m, 0, sizeof(m));
	easy_init(&a, "https://api.test/v1/messages", json_body);
	easy_init(&b, "https://api.test/v1/messages/count_tokens",
	    "{\"input_tokens\":9}");
	b.eff_url = "https://api.test/v1/messages/count_tokens";
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m, (CURL *)&a),
	    CURLM_OK);
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m, (CURL *)&b),
	    CURLM_OK);
	ck_assert(a.wf != app_write);	/* the tee is in */
	fake_multi_perform(&m);
	while ((msg = curl_multi_info_read((CURLM *)&m, &left)) != NULL) {
		ck_assert_int_eq(msg->msg, CURLMSG_DONE);
		done++;
	}
	ck_assert_int_eq(done, 2);
	ck_assert_int_eq(rx_events(ev, 4), 2);
	check_event(&ev[0], 1);
	ck_assert_str_eq(ev[1].path, "/v1/messages/count_tokens");
	ck_assert_uint_eq(ev[1].usage_state, RTP_USAGE_NONE);
	ck_assert_int_eq(ev[1].input_tokens, 0);
	ck_assert(a.wf == app_write && b.wf == app_write);
	curl_multi_remove_handle((CURLM *)&m, (CURL *)&a);
	curl_multi_remove_handle((CURLM *)&m, (CURL *)&b);
	curl_easy_cleanup((CURL *)&a);
	curl_easy_cleanup((CURL *)&b);
	curl_multi_cleanup((CURLM *)&m);
	ck_assert_int_eq(rx_events(ev, 4), 0);
}
END_TEST

START_TEST(multi_removed_without_done_sends_once_flagged_no_done)
{
	struct fake_easy a;
	struct fake_multi m;
	struct rtp_event ev[2];

	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	fake_multi_perform(&m);
	ck_assert_int_eq(curl_multi_remove_handle((CURLM *)&m, (CURL *)&a),
	    CURLM_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert_uint_eq(ev[0].flags, RTP_F_NO_DONE);
	ck_assert(a.wf == app_write);
	curl_easy_cleanup((CURL *)&a);
	curl_multi_cleanup((CURLM *)&m);
	ck_assert_int_eq(rx_events(ev, 2), 0);
}
END_TEST

START_TEST(cleanup_and_multi_cleanup_finalize_what_is_left)
{
	struct fake_easy a, b, c;
	struct fake_multi m;
	struct rtp_event ev[4];

	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	easy_init(&b, "http://api.test/v1/messages", json_body);
	easy_init(&c, "http://api.test/v1/messages", json_body);
	c.code = 0;			/* never got a response */
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	curl_multi_add_handle((CURLM *)&m, (CURL *)&b);
	curl_multi_add_handle((CURLM *)&m, (CURL *)&c);
	fake_multi_perform(&m);
	curl_easy_cleanup((CURL *)&a);	/* still in the multi handle */
	ck_assert_int_eq(rx_events(ev, 4), 1);
	ck_assert_uint_eq(ev[0].flags, RTP_F_NO_DONE);
	curl_multi_cleanup((CURLM *)&m);
	ck_assert_int_eq(rx_events(ev, 4), 1);	/* b; c had no response */
	ck_assert_uint_eq(ev[0].flags, RTP_F_NO_DONE);
	check_event(&ev[0], 1);
	ck_assert(b.wf == app_write && c.wf == app_write);
	curl_easy_cleanup((CURL *)&b);
	curl_easy_cleanup((CURL *)&c);
	ck_assert_int_eq(rx_events(ev, 4), 0);
}
END_TEST

START_TEST(a_failed_add_begins_nothing)
{
	struct fake_easy a;
	struct fake_multi m, m2;
	struct rtp_event ev[2];

	memset(&m, 0, sizeof(m));
	memset(&m2, 0, sizeof(m2));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m, (CURL *)&a),
	    CURLM_OK);
	/* a second add, even to another multi, leaves the transfer alone */
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m2, (CURL *)&a),
	    CURLM_ADDED_ALREADY);
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_FAILED_INIT);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	fake_multi_perform(&m);
	curl_multi_remove_handle((CURLM *)&m, (CURL *)&a);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
}
END_TEST

START_TEST(writefunction_set_during_a_transfer_is_kept_for_later)
{
	struct fake_easy a;
	struct fake_multi m;
	struct rtp_event ev[2];
	int left;

	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	last.count = 0;
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_WRITEFUNCTION,
	    app_write2), CURLE_OK);
	ck_assert_int_eq(last.count, 0);	/* recorded, not forwarded */
	fake_multi_perform(&m);
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert_ptr_nonnull(curl_multi_info_read((CURLM *)&m, &left));
	ck_assert(a.wf == app_write2);
	ck_assert_ptr_eq(a.wd, &app_data);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
}
END_TEST

START_TEST(default_callbacks_are_restored_as_defaults)
{
	struct fake_easy a;
	struct rtp_event ev[2];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	memset(&a, 0, sizeof(a));
	easy_new(&a);
	a.code = 200;
	a.method = "POST";
	a.eff_url = "http://api.test/v1/messages";
	a.body = json_body;
	curl_easy_setopt((CURL *)&a, CURLOPT_URL, a.eff_url);
	curl_easy_setopt((CURL *)&a, CURLOPT_WRITEDATA, f);
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	fclose(f);
	ck_assert_uint_eq(len, strlen(json_body));
	ck_assert(a.wf == NULL);
	ck_assert_ptr_eq(a.wd, f);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_OK);
	free(buf);
}
END_TEST

START_TEST(headerdata_without_headerfunction_keeps_headers_away_from_the_tee)
{
	struct fake_easy a;
	struct rtp_event ev[2];
	char *hbuf = NULL;
	size_t hlen = 0;
	FILE *hf = open_memstream(&hbuf, &hlen);

	ck_assert_ptr_nonnull(hf);
	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_easy_setopt((CURL *)&a, CURLOPT_WRITEFUNCTION, NULL);
	curl_easy_setopt((CURL *)&a, CURLOPT_WRITEDATA, stdout);
	curl_easy_setopt((CURL *)&a, CURLOPT_HEADERDATA, hf);
	a.wd = NULL;
	/* body to a memstream too, so that nothing is printed */
	{
		char *bbuf = NULL;
		size_t blen = 0;
		FILE *bf = open_memstream(&bbuf, &blen);

		curl_easy_setopt((CURL *)&a, CURLOPT_WRITEDATA, bf);
		ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
		fclose(bf);
		ck_assert_uint_eq(blen, strlen(json_body));
		free(bbuf);
	}
	fclose(hf);
	{
		char want[512];

		header_block(&a, want, sizeof(want));
		ck_assert_uint_eq(hlen, strlen(want));
		ck_assert_int_eq(memcmp(hbuf, want, hlen), 0);
	}
	ck_assert(a.hf == NULL);	/* restored */
	ck_assert_ptr_eq(a.hd, hf);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_OK);
	check_event(&ev[0], 1);
	free(hbuf);
}
END_TEST

/* ---- the header tee -------------------------------------------------------- */

static void preloaded(struct fake_easy *e, const char *url);

static void
preloaded_for_api_test(struct fake_easy *e)
{
	preloaded(e, "http://api.test/v1/messages");
}

/* The application's header callback: records the lines it takes; returns
 * hdr_short for the line starting with hdr_refuse. */
static char hdr_buf[1024];
static size_t hdr_len;
static int hdr_data;
static const char *hdr_refuse;
static size_t hdr_short;

static size_t
app_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	size_t len = size * nmemb;

	ck_assert_ptr_eq(ud, &hdr_data);
	ck_assert_uint_eq(size, 1);
	if (hdr_refuse != NULL && len >= strlen(hdr_refuse) &&
	    memcmp(ptr, hdr_refuse, strlen(hdr_refuse)) == 0)
		return hdr_short;
	ck_assert_uint_le(hdr_len + len, sizeof(hdr_buf));
	memcpy(hdr_buf + hdr_len, ptr, len);
	hdr_len += len;
	return len;
}

static void
header_setup(struct fake_easy *e, const char *url)
{
	easy_init(e, url, json_body);
	hdr_len = 0;
	hdr_refuse = NULL;
	ck_assert_int_eq(curl_easy_setopt((CURL *)e, CURLOPT_HEADERFUNCTION,
	    app_header), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)e, CURLOPT_HEADERDATA,
	    &hdr_data), CURLE_OK);
}

START_TEST(the_header_tee_forwards_identical_bytes_and_reads_headers)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char want[512];

	header_setup(&e, "https://api.test/v1/messages");
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	header_block(&e, want, sizeof(want));
	ck_assert_uint_eq(hdr_len, strlen(want));
	ck_assert_int_eq(memcmp(hdr_buf, want, hdr_len), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	/* read on the way, not from libcurl's header API afterwards */
	ck_assert_int_eq(nextheader_calls, 0);
	/* the application's callbacks are back */
	ck_assert(e.hf == app_header);
	ck_assert_ptr_eq(e.hd, &hdr_data);
	ck_assert(e.wf == app_write);
	ck_assert_ptr_eq(e.wd, &app_data);
	ck_assert_uint_eq(app_len, strlen(json_body));
}
END_TEST

START_TEST(a_short_header_return_aborts_the_transfer_unchanged)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	header_setup(&e, "https://api.test/v1/messages");
	hdr_refuse = "request-id";
	hdr_short = 3;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_WRITE_ERROR);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_int_eq(ev[0].curl_code, CURLE_WRITE_ERROR);
	/* the line the application refused was not read, those before
	   were */
	ck_assert_str_eq(ev[0].request_id, "");
	ck_assert_uint_eq(ev[0].present, RTP_PRESENT_D(RTP_D_UTIL_5H));
	ck_assert_uint_eq(app_len, 0);	/* no body after the abort */
	ck_assert(e.hf == app_header);
	ck_assert_ptr_eq(e.hd, &hdr_data);
	/* CURL_WRITEFUNC_ERROR (0xFFFFFFFF) comes back as it is too */
	e.delivered = 0;
	hdr_short = (size_t)0xFFFFFFFF;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_WRITE_ERROR);
	ck_assert_int_eq(rx_events(ev, 2), 1);
}
END_TEST

START_TEST(without_header_callback_or_data_headers_go_nowhere)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	/* the write callback must see the body only */
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert_int_eq(memcmp(app_buf, json_body, app_len), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert_int_eq(nextheader_calls, 0);
	ck_assert(e.hf == NULL);
	ck_assert_ptr_null(e.hd);
}
END_TEST

static char wh_buf[1024];
static size_t wh_len;

/* A write callback that also takes headers (HEADERDATA = &hdr_data). */
static size_t
app_write_both(char *ptr, size_t size, size_t nmemb, void *ud)
{
	size_t len = size * nmemb;

	if (ud == &hdr_data) {
		ck_assert_uint_le(wh_len + len, sizeof(wh_buf));
		memcpy(wh_buf + wh_len, ptr, len);
		wh_len += len;
		return len;
	}
	return app_write(ptr, size, nmemb, ud);
}

START_TEST(headerdata_alone_sends_headers_to_the_application_write_callback)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char want[512];

	easy_init(&e, "http://api.test/v1/messages", json_body);
	wh_len = 0;
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_WRITEFUNCTION,
	    app_write_both), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_HEADERDATA,
	    &hdr_data), CURLE_OK);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	header_block(&e, want, sizeof(want));
	ck_assert_uint_eq(wh_len, strlen(want));
	ck_assert_int_eq(memcmp(wh_buf, want, wh_len), 0);
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert(e.hf == NULL);
	ck_assert_ptr_eq(e.hd, &hdr_data);
	ck_assert(e.wf == app_write_both);
}
END_TEST

START_TEST(only_the_final_response_headers_count_after_redirects)
{
	static const char *const pre[] = {
		"HTTP/1.1 307 Temporary Redirect\r\n",
		"anthropic-ratelimit-unified-7d-utilization: 0.9\r\n",
		"request-id: req_redirected\r\n",
		"location: /v1/messages\r\n",
		"\r\n",
		NULL
	};
	struct fake_easy e;
	struct rtp_event ev[2];
	char want[1024];

	header_setup(&e, "https://api.test/v1/messages");
	e.pre = pre;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	header_block(&e, want, sizeof(want));
	ck_assert_uint_eq(hdr_len, strlen(want));	/* all forwarded */
	ck_assert_int_eq(memcmp(hdr_buf, want, hdr_len), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);		/* request-id and 5h only */
}
END_TEST

START_TEST(a_100_continue_response_is_left_out)
{
	static const char *const pre[] = {
		"HTTP/1.1 100 Continue\r\n",
		"\r\n",
		NULL
	};
	struct fake_easy e;
	struct rtp_event ev[2];

	header_setup(&e, "https://api.test/v1/messages");
	e.pre = pre;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert_uint_eq(ev[0].http_status, 200);
}
END_TEST

START_TEST(a_header_callback_set_during_a_transfer_is_kept_for_later)
{
	struct fake_easy a;
	struct fake_multi m;
	struct rtp_event ev[2];
	int left;

	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	hdr_len = 0;
	hdr_refuse = NULL;
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	last.count = 0;
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_HEADERFUNCTION,
	    app_header), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_HEADERDATA,
	    &hdr_data), CURLE_OK);
	ck_assert_int_eq(last.count, 0);	/* recorded, not forwarded */
	fake_multi_perform(&m);
	ck_assert_uint_gt(hdr_len, 0);		/* the tee followed it */
	ck_assert_ptr_nonnull(curl_multi_info_read((CURLM *)&m, &left));
	ck_assert(a.hf == app_header);
	ck_assert_ptr_eq(a.hd, &hdr_data);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
}
END_TEST

START_TEST(headers_are_read_without_the_header_api)
{
	struct fake_easy e, pre;
	struct rtp_event ev[2];

	/* a libcurl older than 7.84 */
	fake_fns.easy_nextheader = NULL;
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert_uint_eq(ev[0].flags & RTP_F_HEADERS_UNREAD, 0);
	/* a handle configured before loading still has no headers then */
	preloaded_for_api_test(&pre);
	ck_assert_int_eq(curl_easy_perform((CURL *)&pre), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].flags & RTP_F_HEADERS_UNREAD,
	    RTP_F_HEADERS_UNREAD);
	ck_assert_uint_eq(ev[0].present, 0);
	fake_fns.easy_nextheader = fake_nextheader;
}
END_TEST

START_TEST(a_kept_url_parses_like_the_url_and_holds_no_userinfo)
{
	static const char *const urls[] = {
		"https://api.test/v1/messages?beta=true",
		"HTTPS://user:pw@API.Test:444/v1/messages",
		"http://[::1]:8443/v1/messages#frag",
		"  api.test:8080?q",
		"api.test/v1/messages",
		"weird+scheme.1://host/x",
		"not a scheme://host/x",
		"http://h:99999/",
		"http:///x",
		"ftp://a@b@c:21",
		"",
	};
	struct cfg_url a, b;
	char keep[URL_KEEP_MAX], longurl[URL_KEEP_MAX + 64];
	size_t k;

	for (k = 0; k < sizeof(urls) / sizeof(urls[0]); k++) {
		cfg_url_keep(urls[k], keep, sizeof(keep));
		ck_assert_int_eq(cfg_parse_url(urls[k], &a),
		    cfg_parse_url(keep, &b));
		ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "%s", urls[k]);
		ck_assert_ptr_null(strstr(keep, "pw"));
		ck_assert_ptr_null(strchr(keep, '@'));
	}
	cfg_url_keep(NULL, keep, sizeof(keep));
	ck_assert_str_eq(keep, "");
	/* a host too long to be matched anyway is not kept */
	memset(longurl, 'h', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	memcpy(longurl, "http://", 7);
	cfg_url_keep(longurl, keep, sizeof(keep));
	ck_assert_str_eq(keep, "");
}
END_TEST

START_TEST(options_the_shim_does_not_record_create_no_state)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_TIMEOUT, 5L),
	    CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_USERAGENT,
	    "ua"), CURLE_OK);
	ck_assert_ptr_null(hdl_lookup((CURL *)&e));
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_URL,
	    "https://api.test/v1/messages"), CURLE_OK);
	ck_assert_ptr_nonnull(hdl_lookup((CURL *)&e));
	/* the URL is parsed when the transfer begins, not when set */
	ck_assert_int_eq(hdl_lookup((CURL *)&e)->url_ok, 0);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	hdl_free(hdl_remove((CURL *)&e));
}
END_TEST

/* The default ingest path: $XDG_RUNTIME_DIR/ratetap/ingest.sock. */
static char xdg[80];

static void
default_socket_env(mode_t mode)
{
	char dir[sizeof(sockpath)];

	ck_assert_int_lt(snprintf(xdg, sizeof(xdg), "%s/xdg", sockdir),
	    (int)sizeof(xdg));
	ck_assert_int_eq(mkdir(xdg, 0700), 0);
	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/ratetap", xdg),
	    (int)sizeof(dir));
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, mode), 0);
	/* the test's receiving socket, moved to the default path */
	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/ratetap/ingest.sock",
	    xdg), (int)sizeof(dir));
	ck_assert_int_eq(rename(sockpath, dir), 0);
	snprintf(sockpath, sizeof(sockpath), "%s", dir);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	unsetenv("RATETAP_SOCKET");
	cfg_load();
}

static void
default_socket_cleanup(void)
{
	char dir[128], jp[sizeof(jpath)];

	if (rt_journal_path(sockpath, jp, sizeof(jp)) == 0)
		unlink(jp);
	unlink(sockpath);
	snprintf(dir, sizeof(dir), "%s/ratetap", xdg);
	rmdir(dir);
	rmdir(xdg);
	snprintf(sockpath, sizeof(sockpath), "%s/in.sock", sockdir);
}

START_TEST(the_default_socket_is_used_in_a_private_directory)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	default_socket_env(0700);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(send_dropped(), 0);
	default_socket_cleanup();
}
END_TEST

START_TEST(a_default_socket_directory_others_can_write_is_not_used)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	default_socket_env(0770);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_uint_eq(send_dropped(), 1);
	/* decided once: made private later, still not used */
	{
		char dir[128];

		snprintf(dir, sizeof(dir), "%s/ratetap", xdg);
		ck_assert_int_eq(chmod(dir, 0700), 0);
	}
	e.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_uint_eq(send_dropped(), 2);
	default_socket_cleanup();
}
END_TEST

START_TEST(a_symlink_of_ours_to_a_private_directory_is_used)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char dir[128], real[128];

	default_socket_env(0700);
	/* ratetap -> ratetap.real, both ours and private */
	snprintf(dir, sizeof(dir), "%s/ratetap", xdg);
	snprintf(real, sizeof(real), "%s/ratetap.real", xdg);
	ck_assert_int_eq(rename(dir, real), 0);
	ck_assert_int_eq(symlink("ratetap.real", dir), 0);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(send_dropped(), 0);
	default_socket_cleanup();
	unlink(dir);
	rmdir(real);
	rmdir(xdg);
}
END_TEST

START_TEST(a_symlink_to_a_directory_of_another_user_is_not_used)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char dir[128], real[128];

	if (geteuid() != 0)
		return;		/* needs chown */
	default_socket_env(0700);
	snprintf(dir, sizeof(dir), "%s/ratetap", xdg);
	snprintf(real, sizeof(real), "%s/ratetap.real", xdg);
	ck_assert_int_eq(rename(dir, real), 0);
	ck_assert_int_eq(symlink("ratetap.real", dir), 0);
	ck_assert_int_eq(chown(real, 65534, 65534), 0);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_uint_eq(send_dropped(), 1);
	unlink(dir);
	ck_assert_int_eq(chown(real, 0, 0), 0);
	ck_assert_int_eq(rename(real, dir), 0);
	default_socket_cleanup();
}
END_TEST

/* The descriptor the shim keeps for the journal, -1 if none. */
static int
journal_fd_of_shim(void)
{
	char link[64], target[256];
	ssize_t n;
	int fd;

	for (fd = 3; fd < 4096; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if ((n = readlink(link, target, sizeof(target) - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "events.journal") != NULL)
			return fd;
	}
	return -1;
}

START_TEST(a_journal_descriptor_the_application_replaced_is_not_written)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char other[128], buf[16];
	int jfd, ofd;

	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	jfd = journal_fd_of_shim();
	ck_assert_int_ge(jfd, 3);
	/* the application puts a file of its own at that number */
	snprintf(other, sizeof(other), "%s/app.file", sockdir);
	ofd = open(other, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(ofd, 0);
	ck_assert_int_eq(dup2(ofd, jfd), jfd);
	e.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	/* nothing written into the application's file, its fd left open */
	ck_assert_int_eq(pread(ofd, buf, sizeof(buf), 0), 0);
	ck_assert_int_ne(fcntl(jfd, F_GETFD), -1);
	close(jfd);
	close(ofd);
	unlink(other);
	/* closed by the application: opened again */
	e.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
}
END_TEST

START_TEST(a_daemon_older_than_the_journal_gets_datagrams)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char buf[2048], jp[sizeof(jpath)];
	struct stat st;

	/* a bound socket and no marker: a daemon that reads only datagrams */
	reader_mark(0);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(recv(rxfd, buf, sizeof(buf), MSG_DONTWAIT),
	    (ssize_t)sizeof(struct rtp_event));
	ck_assert_int_eq(rt_journal_path(sockpath, jp, sizeof(jp)), 0);
	ck_assert(stat(jp, &st) == -1 || st.st_size == 0);
	/* that daemon gone (its socket stale): the journal keeps the event */
	close(rxfd);
	rxfd = -1;
	e.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_journal(ev, 0, 2), 1);
	ck_assert_uint_eq(send_dropped(), 0);
}
END_TEST

START_TEST(an_explicit_socket_is_used_as_given)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	/* RATETAP_SOCKET names it: no check of its directory */
	ck_assert_int_eq(chmod(sockdir, 0777), 0);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_int_eq(chmod(sockdir, 0700), 0);
}
END_TEST

START_TEST(duphandle_copies_the_state_and_the_application_callbacks)
{
	struct fake_easy a, *d;
	struct fake_multi m;
	struct rtp_event ev[2];

	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	d = (struct fake_easy *)curl_easy_duphandle((CURL *)&a);
	ck_assert_ptr_nonnull(d);
	ck_assert(d->wf == app_write);	/* not the tee */
	ck_assert_ptr_eq(d->wd, &app_data);
	ck_assert_int_eq(curl_easy_perform((CURL *)d), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);	/* the copy is tapped */
	check_event(&ev[0], 1);
	curl_easy_cleanup((CURL *)d);
	free(d);
	fake_multi_perform(&m);
	curl_multi_remove_handle((CURLM *)&m, (CURL *)&a);
	ck_assert_int_eq(rx_events(ev, 2), 1);
}
END_TEST

START_TEST(reset_forgets_the_url)
{
	struct fake_easy a;
	struct rtp_event ev[2];

	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_easy_reset((CURL *)&a);
	ck_assert_int_eq(resets, 1);
	a.wf = app_write;
	a.wd = &app_data;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
}
END_TEST

START_TEST(disabled_is_pure_pass_through)
{
	struct fake_easy a;
	struct fake_multi m;
	struct rtp_event ev[2];
	int left;

	setenv("RATETAP_DISABLE", "1", 1);
	cfg_load();
	memset(&m, 0, sizeof(m));
	easy_init(&a, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	a.delivered = 0;
	curl_multi_add_handle((CURLM *)&m, (CURL *)&a);
	ck_assert(a.wf == app_write);
	fake_multi_perform(&m);
	ck_assert_ptr_nonnull(curl_multi_info_read((CURLM *)&m, &left));
	curl_multi_remove_handle((CURLM *)&m, (CURL *)&a);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_uint_eq(app_len, 2 * strlen(json_body));
}
END_TEST

START_TEST(a_truncated_messages_body_is_unreadable)
{
	struct fake_easy a;
	struct rtp_event ev[2];

	easy_init(&a, "http://api.test/v1/messages",
	    "{\"type\":\"message\",\"model\":\"claude-opus-4-1\",\"usage\":{\"in");
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_UNREADABLE);
	ck_assert_int_eq(ev[0].input_tokens, 0);
	a.code = 500;
	a.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_NONE);
}
END_TEST

START_TEST(drops_are_counted_and_reported_once)
{
	struct fake_easy a;
	struct rtp_event ev[2];

	easy_init(&a, "http://api.test/v1/messages", json_body);
	setenv("RATETAP_SOCKET", "/nonexistent-dir/x.sock", 1);
	cfg_load();
	curl_easy_perform((CURL *)&a);
	a.delivered = 0;
	curl_easy_perform((CURL *)&a);
	ck_assert_uint_eq(send_dropped(), 2);
	setenv("RATETAP_SOCKET", sockpath, 1);
	cfg_load();
	a.delivered = 0;
	curl_easy_perform((CURL *)&a);
	a.delivered = 0;
	curl_easy_perform((CURL *)&a);
	ck_assert_int_eq(rx_events(ev, 2), 2);
	ck_assert_uint_eq(ev[0].dropped, 2);
	ck_assert_uint_eq(ev[0].seq, 3);
	ck_assert_uint_eq(ev[1].dropped, 0);
	ck_assert_uint_eq(ev[1].seq, 4);
	ck_assert_uint_eq(send_dropped(), 0);
}
END_TEST

START_TEST(a_forked_child_reports_its_own_pid_and_sequence)
{
	struct fake_easy a;
	struct rtp_event ev[4];
	pid_t pid;
	int status, n;

	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_easy_perform((CURL *)&a);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		a.delivered = 0;
		app_len = 0;
		_exit(curl_easy_perform((CURL *)&a) == CURLE_OK ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	n = rx_events(ev, 4);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(ev[0].pid, getpid());
	ck_assert_int_eq(ev[1].pid, pid);
	ck_assert_uint_eq(ev[1].seq, 1);
}
END_TEST

START_TEST(program_names_come_from_scripts_for_interpreters)
{
	static const struct {
		const char cmd[64];
		size_t len;
		const char *want;
	} t[] = {
		{ "/usr/bin/curl\0-s\0", 17, "curl" },
		{ "python3\0-u\0/home/a/agent.py\0x\0", 31, "agent.py" },
		{ "/usr/bin/python3.11\0-m\0pytest\0", 30, "pytest" },
		{ "python3\0-c\0print(1)\0", 20, "python3" },
		{ "php\0-d\0x=1\0run.php\0", 19, "run.php" },
		{ "bash\0./go.sh\0", 13, "go.sh" },
		{ "node\0--\0srv.js\0", 15, "srv.js" },
		{ "", 0, "unknown" },
	};
	char prog[RTP_PROG_LEN];
	size_t k;

	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		cfg_prog_name(t[k].cmd, t[k].len, prog, sizeof(prog));
		ck_assert_msg(strcmp(prog, t[k].want) == 0, "%zu: %s != %s",
		    k, prog, t[k].want);
	}
}
END_TEST

START_TEST(host_lists_and_urls_parse_as_documented)
{
	struct cfg_host h[CFG_MAX_HOSTS];
	struct cfg_url u;

	ck_assert_uint_eq(cfg_parse_hosts(" API.anthropic.com ,x:443,[::1]:80,"
	    "bad:port,:80,[::1,,y:0", h, CFG_MAX_HOSTS), 3);
	ck_assert_str_eq(h[0].name, "api.anthropic.com");
	ck_assert_int_eq(h[0].port, -1);
	ck_assert_str_eq(h[1].name, "x");
	ck_assert_int_eq(h[1].port, 443);
	ck_assert_str_eq(h[2].name, "[::1]");
	ck_assert_int_eq(h[2].port, 80);
	ck_assert_int_eq(cfg_parse_url("https://a.b/v1", &u), 0);
	ck_assert_str_eq(u.host, "a.b");
	ck_assert_int_eq(u.port, 443);
	ck_assert_int_eq(u.tls, 1);
	ck_assert_int_eq(u.explicit_port, 0);
	ck_assert_int_eq(cfg_parse_url("a.b:8080?q", &u), 0);
	ck_assert_str_eq(u.host, "a.b");
	ck_assert_int_eq(u.port, 8080);
	ck_assert_int_eq(cfg_parse_url("http://u:p@[::1]:9/x", &u), 0);
	ck_assert_str_eq(u.host, "[::1]");
	ck_assert_int_eq(u.port, 9);
	ck_assert_int_eq(cfg_parse_url("http:///x", &u), -1);
	ck_assert_int_eq(cfg_parse_url("http://h:99999/", &u), -1);
	ck_assert_int_eq(cfg_parse_url(NULL, &u), -1);
}
END_TEST

/* ---- plugin mode, reused handles, CURLU and CURLOPT_PORT ------------------ */

/* A handle the application configured before the shim was loaded: the
 * fake holds the settings, the hooks never saw them. */
static void
preloaded(struct fake_easy *e, const char *url)
{
	memset(e, 0, sizeof(*e));
	e->code = 200;
	e->method = "POST";
	e->eff_url = url;
	e->body = json_body;
	e->wf = app_write;
	e->wd = &app_data;
	snprintf(e->url, sizeof(e->url), "%s", url);
	e->hdrs[0].name = (char *)(uintptr_t)"anthropic-ratelimit-unified-5h-utilization";
	e->hdrs[0].value = (char *)(uintptr_t)"0.75";
	e->hdrs[1].name = (char *)(uintptr_t)"request-id";
	e->hdrs[1].value = (char *)(uintptr_t)"req_unit_1";
	e->nhdrs = 2;
}

static void
check_unreadable(const struct rtp_event *ev, const char *host)
{
	ck_assert_uint_eq(ev->usage_state, RTP_USAGE_UNREADABLE);
	ck_assert_uint_eq(ev->http_status, 200);
	ck_assert_str_eq(ev->host, host);
	ck_assert_str_eq(ev->path, "/v1/messages");
	ck_assert_str_eq(ev->request_id, "req_unit_1");
	ck_assert_uint_eq(ev->present, RTP_PRESENT_D(RTP_D_UTIL_5H));
	ck_assert_str_eq(ev->model, "");
	ck_assert_int_eq(ev->output_tokens, 0);
}

START_TEST(a_handle_configured_before_loading_is_reported_unreadable)
{
	struct fake_easy e;
	struct fake_multi m;
	struct rtp_event ev[4];
	int left;

	preloaded(&e, "http://API.test:8080/v1/messages");
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 4), 1);
	check_unreadable(&ev[0], "api.test:8080");
	/* the application's own callback got the body, untouched */
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert(e.wf == app_write);
	ck_assert_ptr_eq(e.wd, &app_data);

	/* through a multi handle: reported when its CURLMSG_DONE is read */
	e.delivered = 0;
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m, (CURL *)&e),
	    CURLM_OK);
	fake_multi_perform(&m);
	ck_assert_int_eq(rx_events(ev, 4), 0);
	ck_assert_ptr_nonnull(curl_multi_info_read((CURLM *)&m, &left));
	ck_assert_ptr_null(curl_multi_info_read((CURLM *)&m, &left));
	ck_assert_int_eq(curl_multi_remove_handle((CURLM *)&m, (CURL *)&e),
	    CURLM_OK);
	ck_assert_int_eq(rx_events(ev, 4), 1);
	check_unreadable(&ev[0], "api.test:8080");

	/* an untapped host stays silent */
	preloaded(&e, "http://example.com/v1/messages");
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 4), 0);
}
END_TEST

START_TEST(a_handle_with_unknown_callbacks_is_not_teed)
{
	struct fake_easy e;
	struct rtp_event ev[2];

	/* configured before loading; only the URL is set again after */
	preloaded(&e, "http://example.com/v1/messages");
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_URL,
	    "http://api.test/v1/messages"), CURLE_OK);
	e.eff_url = "http://api.test/v1/messages";
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert(e.wf == app_write);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_unreadable(&ev[0], "api.test");
	/* once both are set through the shim, the body is read */
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_WRITEFUNCTION,
	    app_write2), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&e, CURLOPT_WRITEDATA,
	    &app_data), CURLE_OK);
	e.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_uint_eq(app_len, strlen(json_body));
	ck_assert_int_eq(rx_events(ev, 2), 1);
	check_event(&ev[0], 1);
	ck_assert(e.wf == app_write2);
}
END_TEST

START_TEST(a_reused_address_starts_with_fresh_state)
{
	struct fake_easy a;
	struct rtp_event ev[2];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	easy_init(&a, "http://api.test/v1/messages", json_body);
	/* freed without the shim seeing it; the address comes back from
	   curl_easy_init for a handle that writes with libcurl's default */
	memset(&a, 0, sizeof(a));
	a.code = 200;
	a.method = "POST";
	a.eff_url = "http://api.test/v1/messages";
	a.body = json_body;
	easy_new(&a);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_URL,
	    a.eff_url), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_WRITEDATA, f),
	    CURLE_OK);
	/* a stale state would call app_write, which insists on &app_data */
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	fclose(f);
	ck_assert_uint_eq(len, strlen(json_body));
	ck_assert_uint_eq(app_len, 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_OK);
	free(buf);
}
END_TEST

/* The fake requests what a.eff_url says: the shim must judge that, with
 * CURLOPT_URL and CURLOPT_CURLU both set, whichever of them this libcurl
 * takes (7.88 takes the URL; the documentation says the CURLU). */
START_TEST(a_curlu_handle_is_judged_by_the_url_libcurl_requests)
{
	struct fake_curlu cu = { "https://api.test:444/v1/messages" };
	struct fake_easy a;
	struct fake_multi m;
	struct rtp_event ev[2];
	int left;

	easy_init(&a, "http://example.com/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_CURLU, &cu),
	    CURLE_OK);
	ck_assert_ptr_eq(last.p, &cu);
	/* this libcurl takes the CURLU */
	a.eff_url = cu.url;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "api.test:444");
	ck_assert_uint_eq(ev[0].flags, RTP_F_TLS);
	check_event(&ev[0], 1);

	/* the application changes the URL in the CURLU handle */
	cu.url = "https://example.com/v1/messages";
	a.eff_url = cu.url;
	a.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);

	cu.url = "http://api.test/v1/messages";
	a.eff_url = cu.url;
	a.delivered = 0;
	app_len = 0;
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(curl_multi_add_handle((CURLM *)&m, (CURL *)&a),
	    CURLM_OK);
	fake_multi_perform(&m);
	ck_assert_ptr_nonnull(curl_multi_info_read((CURLM *)&m, &left));
	ck_assert_int_eq(curl_multi_remove_handle((CURLM *)&m, (CURL *)&a),
	    CURLM_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "api.test");

	/* a libcurl that takes the URL over the CURLU: tapped URL,
	   untapped CURLU */
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_URL,
	    "http://api.test/v1/messages"), CURLE_OK);
	cu.url = "https://example.com/v1/messages";
	a.eff_url = "http://api.test/v1/messages";
	a.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "api.test");
	check_event(&ev[0], 1);
	/* and the other way round: untapped URL, tapped CURLU */
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_URL,
	    "http://example.com/v1/messages"), CURLE_OK);
	cu.url = "https://api.test/v1/messages";
	a.eff_url = "http://example.com/v1/messages";
	a.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);

	/* unset: CURLOPT_URL counts again */
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_CURLU, NULL),
	    CURLE_OK);
	a.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);

	/* a libcurl without curl_url_get: a CURLU handle is judged by
	   its URL */
	fake_fns.url_get = NULL;
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_CURLU, &cu),
	    CURLE_OK);
	a.delivered = 0;
	app_len = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	fake_fns.url_get = fake_url_get;
}
END_TEST

START_TEST(port_option_decides_the_port_matched_and_reported)
{
	struct fake_easy a, b;
	struct rtp_event ev[2];

	/* RATETAP_HOSTS is "api.test, [::1]:8443" */
	easy_init(&a, "http://[::1]:8080/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_PORT, 8443L),
	    CURLE_OK);
	ck_assert_int_eq(last.l, 8443);
	a.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "[::1]:8443");
	ck_assert_int_eq(curl_easy_setopt((CURL *)&a, CURLOPT_PORT, 0L),
	    CURLE_OK);
	a.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 0);

	easy_init(&b, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_setopt((CURL *)&b, CURLOPT_PORT, 8080L),
	    CURLE_OK);
	ck_assert_int_eq(curl_easy_perform((CURL *)&b), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_str_eq(ev[0].host, "api.test:8080");
}
END_TEST

/* ---- drops at the end of a burst ------------------------------------------ */

/* Fill the test socket's queue until the kernel refuses more. */
static int
rx_fill(void)
{
	struct sockaddr_un sun;
	int fd, n = 0;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sockpath, strlen(sockpath) + 1);
	while (sendto(fd, "x", 1, 0, (struct sockaddr *)&sun,
	    sizeof(sun)) == 1)
		ck_assert_int_lt(++n, 100000);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	close(fd);
	return n;
}

/* Make the journal unwritable (a directory in its place), so that events
 * go by datagram and the drop path is reached; 0 undoes it. */
static void
journal_block(int on)
{
	char jp[sizeof(jpath)];

	ck_assert_int_eq(rt_journal_path(sockpath, jp, sizeof(jp)), 0);
	if (on) {
		unlink(jp);
		ck_assert_int_eq(mkdir(jp, 0700), 0);
	} else
		ck_assert_int_eq(rmdir(jp), 0);
}

static int
rx_drain_raw(void)
{
	char buf[2048];
	int n = 0;

	while (recv(rxfd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

START_TEST(drops_left_at_exit_go_in_one_drops_only_datagram)
{
	struct fake_easy a;
	struct rtp_event ev[2];
	int filled;

	easy_init(&a, "http://api.test/v1/messages", json_body);
	journal_block(1);
	filled = rx_fill();
	ck_assert_int_gt(filled, 0);
	/* the queue stays full: each event is dropped after its retries */
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	a.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_uint_eq(send_dropped(), 2);
	ck_assert_int_eq(rx_drain_raw(), filled);

	ck_assert_int_eq(send_report_drops(sockpath, "burst"), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].flags, RTP_F_DROPS_ONLY);
	ck_assert_uint_eq(ev[0].dropped, 2);
	ck_assert_uint_eq(ev[0].seq, 3);
	ck_assert_int_eq(ev[0].pid, getpid());
	ck_assert_uint_eq(ev[0].http_status, 0);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_NONE);
	ck_assert_str_eq(ev[0].prog, "burst");
	ck_assert_str_eq(ev[0].host, "");
	ck_assert_uint_eq(send_dropped(), 0);
	/* nothing left: nothing sent */
	ck_assert_int_eq(send_report_drops(sockpath, "burst"), 0);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	journal_block(0);
}
END_TEST

START_TEST(a_failed_drops_only_datagram_keeps_the_count)
{
	struct fake_easy a;
	struct rtp_event ev[2];

	easy_init(&a, "http://api.test/v1/messages", json_body);
	journal_block(1);
	(void)rx_fill();
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(send_report_drops(sockpath, "x"), -1);
	ck_assert_uint_eq(send_dropped(), 2);
	(void)rx_drain_raw();
	journal_block(0);
	/* the journal takes it again */
	ck_assert_int_eq(send_report_drops(sockpath, "x"), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].dropped, 2);
}
END_TEST

START_TEST(a_forked_child_does_not_report_its_parents_drops)
{
	struct fake_easy a;
	struct rtp_event ev[2];
	pid_t pid;
	int status;

	easy_init(&a, "http://api.test/v1/messages", json_body);
	setenv("RATETAP_SOCKET", "/nonexistent/ratetap/in.sock", 1);
	cfg_load();
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_uint_eq(send_dropped(), 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(send_dropped() == 0 &&
		    send_report_drops(sockpath, "child") == 0 ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_int_eq(send_report_drops(sockpath, "parent"), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_int_eq(ev[0].pid, getpid());
	ck_assert_uint_eq(ev[0].dropped, 1);
}
END_TEST

static Suite *
setopt_suite(void)
{
	Suite *s = suite_create("setopt");
	TCase *tc = tcase_create("setopt");
	TCase *lc = tcase_create("lifecycle");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, setopt_forwards_longs_unchanged);
	tcase_add_test(tc,
	    setopt_forwards_object_string_and_slist_pointers_unchanged);
	tcase_add_test(tc, setopt_forwards_function_pointers_unchanged);
	tcase_add_test(tc, setopt_forwards_curl_off_t_unchanged);
	tcase_add_test(tc, setopt_forwards_blobs_unchanged);
	tcase_add_test(tc, setopt_returns_what_libcurl_returns);
	tcase_add_test(tc, hooks_fail_the_call_without_a_libcurl);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(lc, setup, teardown);
	tcase_add_test(lc, easy_perform_sends_exactly_one_event);
	tcase_add_test(lc, an_untapped_host_gets_no_tee_and_no_event);
	tcase_add_test(lc, multi_done_read_sends_once_and_remove_adds_nothing);
	tcase_add_test(lc, multi_removed_without_done_sends_once_flagged_no_done);
	tcase_add_test(lc, cleanup_and_multi_cleanup_finalize_what_is_left);
	tcase_add_test(lc, a_failed_add_begins_nothing);
	tcase_add_test(lc, writefunction_set_during_a_transfer_is_kept_for_later);
	tcase_add_test(lc, default_callbacks_are_restored_as_defaults);
	tcase_add_test(lc,
	    headerdata_without_headerfunction_keeps_headers_away_from_the_tee);
	tcase_add_test(lc,
	    duphandle_copies_the_state_and_the_application_callbacks);
	tcase_add_test(lc,
	    the_header_tee_forwards_identical_bytes_and_reads_headers);
	tcase_add_test(lc, a_short_header_return_aborts_the_transfer_unchanged);
	tcase_add_test(lc, without_header_callback_or_data_headers_go_nowhere);
	tcase_add_test(lc,
	    headerdata_alone_sends_headers_to_the_application_write_callback);
	tcase_add_test(lc,
	    only_the_final_response_headers_count_after_redirects);
	tcase_add_test(lc, a_100_continue_response_is_left_out);
	tcase_add_test(lc,
	    a_header_callback_set_during_a_transfer_is_kept_for_later);
	tcase_add_test(lc, headers_are_read_without_the_header_api);
	tcase_add_test(lc,
	    a_kept_url_parses_like_the_url_and_holds_no_userinfo);
	tcase_add_test(lc, options_the_shim_does_not_record_create_no_state);
	tcase_add_test(lc, the_default_socket_is_used_in_a_private_directory);
	tcase_add_test(lc,
	    a_default_socket_directory_others_can_write_is_not_used);
	tcase_add_test(lc, a_symlink_of_ours_to_a_private_directory_is_used);
	tcase_add_test(lc,
	    a_journal_descriptor_the_application_replaced_is_not_written);
	tcase_add_test(lc, a_daemon_older_than_the_journal_gets_datagrams);
	tcase_add_test(lc, a_symlink_to_a_directory_of_another_user_is_not_used);
	tcase_add_test(lc, an_explicit_socket_is_used_as_given);
	tcase_add_test(lc, reset_forgets_the_url);
	tcase_add_test(lc, disabled_is_pure_pass_through);
	tcase_add_test(lc, a_truncated_messages_body_is_unreadable);
	tcase_add_test(lc, drops_are_counted_and_reported_once);
	tcase_add_test(lc, a_forked_child_reports_its_own_pid_and_sequence);
	tcase_add_test(lc, program_names_come_from_scripts_for_interpreters);
	tcase_add_test(lc, host_lists_and_urls_parse_as_documented);
	tcase_add_test(lc,
	    a_handle_configured_before_loading_is_reported_unreadable);
	tcase_add_test(lc, a_handle_with_unknown_callbacks_is_not_teed);
	tcase_add_test(lc, a_reused_address_starts_with_fresh_state);
	tcase_add_test(lc, a_curlu_handle_is_judged_by_the_url_libcurl_requests);
	tcase_add_test(lc, port_option_decides_the_port_matched_and_reported);
	tcase_add_test(lc, drops_left_at_exit_go_in_one_drops_only_datagram);
	tcase_add_test(lc, a_failed_drops_only_datagram_keeps_the_count);
	tcase_add_test(lc, a_forked_child_does_not_report_its_parents_drops);
	suite_add_tcase(s, lc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(setopt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
