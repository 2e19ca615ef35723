/*
 * The transfer lifecycle of a tapped handle: begin (install the body and
 * header tees, start the scanner), finalize exactly once (read status,
 * method and path, take the headers read on the way, finish the scanner,
 * restore the application's callbacks, send the event), and the URL
 * bookkeeping that decides what is tapped: CURLOPT_URL is only copied when
 * set and parsed when a transfer begins.
 *
 * All calls into libcurl go through the function table of the hook in
 * progress, never through the (hooked) global symbols.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "curltap.h"

/* host[:port] as events report it: the port only when named (by the URL
 * or CURLOPT_PORT). */
static void
report_host(const struct cfg_url *u, char *buf, size_t len)
{
	char hp[CFG_HOST_MAX + 8], digits[8];
	size_t n, k = 0;
	unsigned port;

	if (!u->explicit_port || u->port <= 0 || u->port > 65535) {
		rtp_strlcpy(buf, u->host, len);
		return;
	}
	/* "host:port" without stdio: this runs for every tapped transfer */
	n = strnlen(u->host, sizeof(u->host));
	if (n >= CFG_HOST_MAX)
		n = CFG_HOST_MAX - 1;
	memcpy(hp, u->host, n);
	hp[n++] = ':';
	for (port = (unsigned)u->port; port > 0; port /= 10)
		digits[k++] = (char)('0' + port % 10);
	while (k > 0)
		hp[n++] = digits[--k];
	hp[n] = '\0';
	rtp_strlcpy(buf, hp, len);
}

/* The URL held by a CURLU handle, parsed.  Returns 0, or -1 when it cannot
 * be read or names no host. */
static int
curlu_url(const struct curl_fns *f, CURLU *cu, struct cfg_url *u)
{
	char *s = NULL;
	int ret;

	if (f == NULL || f->url_get == NULL || f->free == NULL)
		return -1;
	if (f->url_get(cu, CURLUPART_URL, &s, 0) != CURLUE_OK || s == NULL)
		return -1;
	ret = cfg_parse_url(s, u);
	f->free(s);
	return ret;
}

/* u with CURLOPT_PORT applied: tapped or not, and, when tapped, the host
 * and tls of the transfer into sh. */
static int
judge(struct shim_handle *sh, struct cfg_url *u, char *host, size_t len,
    int *tls)
{
	int t;

	if (sh->port_opt > 0 && sh->port_opt <= 65535) {
		u->port = (int)sh->port_opt;
		u->explicit_port = 1;
	}
	if ((t = cfg_tapped(u)) != 0) {	/* only a tapped one reports it */
		report_host(u, host, len);
		*tls = u->tls;
	}
	return t;
}

void
xfer_target(const struct curl_fns *f, struct shim_handle *sh)
{
	struct cfg_url u, uu;

	sh->tapped = 0;
	sh->tls = 0;
	sh->host[0] = '\0';
	if (sh->curlu != NULL) {
		/*
		 * Which of CURLOPT_CURLU and CURLOPT_URL libcurl requests
		 * depends on its version and on the handle's history (7.88
		 * takes the URL when both are set, and keeps using the
		 * CURLU's first URL in later transfers): a transfer is begun
		 * when either is tapped and confirmed against the URL libcurl
		 * requests when its first response arrives (xfer_confirm).
		 */
		uu = sh->url;
		if (curlu_url(f, sh->curlu, &u) == 0 &&
		    judge(sh, &u, sh->host, sizeof(sh->host), &sh->tls))
			sh->tapped = 1;
		else if (sh->url_ok &&
		    judge(sh, &uu, sh->host, sizeof(sh->host), &sh->tls))
			sh->tapped = 1;
		return;
	}
	if (!sh->url_ok)
		return;
	u = sh->url;
	sh->tapped = judge(sh, &u, sh->host, sizeof(sh->host), &sh->tls);
}

void
xfer_confirm(struct shim_handle *sh)
{
	struct shim_xfer *x = sh->x;
	struct cfg_url u;
	char *url = NULL;

	x->confirm = 0;
	if (sh->fns->easy_getinfo(sh->easy, CURLINFO_EFFECTIVE_URL, &url) !=
	    CURLE_OK || url == NULL || cfg_parse_url(url, &u) == -1 ||
	    !judge(sh, &u, x->rec.host, sizeof(x->rec.host),
	    &x->rec.tls)) {
		x->drop = 1;
		shim_debug("a transfer libcurl sent to an untapped host: not "
		    "reported");
	}
}

void
xfer_set_url(struct shim_handle *sh, const char *url)
{
	sh->url_seen = 1;
	sh->url_ok = cfg_parse_url(url, &sh->url) == 0;
	sh->stale = 1;
}

void
xfer_refresh(const struct curl_fns *f, struct shim_handle *sh)
{
	if (!sh->stale)
		return;
	sh->stale = 0;
	xfer_target(f, sh);
}

static int
set_fn(const struct curl_fns *f, CURL *easy, CURLoption opt,
    curl_write_callback fn)
{
	return f->easy_setopt(easy, opt, fn) == CURLE_OK ? 0 : -1;
}

static int
set_ptr(const struct curl_fns *f, CURL *easy, CURLoption opt, void *p)
{
	return f->easy_setopt(easy, opt, p) == CURLE_OK ? 0 : -1;
}

void
xfer_restore_callbacks(const struct curl_fns *f, CURL *easy,
    const struct shim_handle *sh, int write, int header)
{
	if (write && (set_fn(f, easy, CURLOPT_WRITEFUNCTION, sh->user_wf) ==
	    -1 || set_ptr(f, easy, CURLOPT_WRITEDATA,
	    sh->wd_set ? sh->user_wd : (void *)stdout) == -1))
		shim_debug("could not restore the write callback");
	if (header && (set_fn(f, easy, CURLOPT_HEADERFUNCTION, sh->user_hf) ==
	    -1 || set_ptr(f, easy, CURLOPT_HEADERDATA, sh->user_hd) == -1))
		shim_debug("could not restore the header callback");
}

/* 1 when the shim knows everything libcurl would do with a header line
 * of sh: its header callback and data, and, when those send the headers
 * to the write callback (HEADERDATA without HEADERFUNCTION), that too. */
static int
header_known(const struct shim_handle *sh)
{
	if (!sh->hcb_known)
		return 0;
	return sh->user_hf != NULL || sh->user_hd == NULL || sh->created ||
	    sh->wf_set;
}

/* Install the header tee on sh: 0, or -1 with the handle unchanged. */
static int
header_tee(const struct curl_fns *f, struct shim_handle *sh)
{
	if (set_ptr(f, sh->easy, CURLOPT_HEADERDATA, sh) == -1)
		return -1;
	if (set_fn(f, sh->easy, CURLOPT_HEADERFUNCTION, tee_header) == -1) {
		if (set_ptr(f, sh->easy, CURLOPT_HEADERDATA, sh->user_hd) ==
		    -1)
			shim_debug("could not restore the header data");
		return -1;
	}
	return 0;
}

int
xfer_begin(const struct curl_fns *f, struct shim_handle *sh)
{
	struct shim_xfer *x;

	if (!sh->tapped || sh->active)
		return 0;
	if (sh->x == NULL && (sh->x = malloc(sizeof(*sh->x))) == NULL) {
		shim_debug("out of memory: transfer not tracked");
		return 0;
	}
	x = sh->x;
	rec_begin(&x->rec, sh->host, sh->tls);
	x->tee_on = 0;
	x->hdr_on = 0;
	x->wmode = W_BOUNDARY;
	x->wblank = 1;
	x->wpre = 0;
	x->confirm = sh->curlu != NULL;
	x->drop = 0;
	sh->fns = f;
	sh->active = 1;
	sh->owner = getpid();
	/*
	 * The headers are read as they arrive, through a tee of the header
	 * callback.  Where the shim does not know the handle's header
	 * callback (set before the shim was loaded), they are read from
	 * libcurl's header API when the transfer ends instead.
	 */
	if (header_known(sh)) {
		if (header_tee(f, sh) == 0)
			x->hdr_on = 1;
		else
			shim_debug("could not install the header tee on a "
			    "transfer to %s", sh->host);
	}
	if (!sh->cb_known) {
		/* the application may have set its write callback before the
		   shim was loaded: a tee would lose it */
		shim_debug("write callback of a transfer to %s unknown: "
		    "body not teed", sh->host);
		return 1;
	}
	if (set_ptr(f, sh->easy, CURLOPT_WRITEDATA, sh) == -1 ||
	    set_fn(f, sh->easy, CURLOPT_WRITEFUNCTION, tee_write) == -1) {
		/* tracked without the body: usage will be reported
		   unreadable */
		shim_debug("could not install the tee on a transfer to %s",
		    sh->host);
		xfer_restore_callbacks(f, sh->easy, sh, 1, 0);
		return 1;
	}
	x->tee_on = 1;
	return 1;
}

void
xfer_abort(const struct curl_fns *f, struct shim_handle *sh)
{
	if (!sh->active)
		return;
	sh->active = 0;
	if (sh->x->tee_on || sh->x->hdr_on)
		xfer_restore_callbacks(f, sh->easy, sh, sh->x->tee_on,
		    sh->x->hdr_on);
	sh->x->tee_on = 0;
	sh->x->hdr_on = 0;
	hdl_set_multi(sh, NULL);
}

/* rec_end's read_hdrs for a transfer whose header callback was not teed:
 * libcurl's header API (arg is the handle's struct hdr_src). */
struct hdr_src {
	const struct curl_fns *f;
	CURL *easy;
};

static void
read_hdrs(void *arg, struct rtp_event *ev)
{
	const struct hdr_src *src = arg;

	hdr_read(src->f, src->easy, ev);
}

/* What libcurl tells of the transfer on easy (result cc) into xe, and the
 * event built and sent. */
static void
report(const struct curl_fns *f, CURL *easy, CURLcode cc, uint32_t flags,
    struct rec_end *xe)
{
	struct hdr_src src;
	char *url = NULL, *method = NULL;
	long code = 0;

	if (f->easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code) !=
	    CURLE_OK || code < 0 || code > 999)
		code = 0;
	if (f->easy_getinfo(easy, CURLINFO_EFFECTIVE_METHOD, &method) !=
	    CURLE_OK)
		method = NULL;
	if (f->easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url) !=
	    CURLE_OK)
		url = NULL;
	src.f = f;
	src.easy = easy;
	xe->result = (int32_t)cc;
	xe->status = code;
	xe->method = method;
	xe->url = url;
	xe->read_hdrs = read_hdrs;
	xe->read_arg = &src;
	rec_report(xe, flags);
}

void
xfer_finalize(const struct curl_fns *f, struct shim_handle *sh,
    CURLcode cc, uint32_t flags)
{
	struct shim_xfer *x = sh->x;
	struct scan_result res;
	struct rec_end xe;

	if (!sh->active)
		return;
	sh->active = 0;		/* exactly once, whatever follows */
	hdl_set_multi(sh, NULL);
	if (x->confirm)		/* no response: nothing was redirected */
		xfer_confirm(sh);
	if (sh->owner != getpid() || x->drop) {
		/* a forked child cleaning up (or completing) a transfer its
		   parent began: the parent reports it */
		if (x->tee_on || x->hdr_on)
			xfer_restore_callbacks(f, sh->easy, sh, x->tee_on,
			    x->hdr_on);
		x->tee_on = 0;
		x->hdr_on = 0;
		if (!x->drop)
			shim_debug("transfer to %s inherited from the parent "
			    "process: not reported here", x->rec.host);
		return;
	}
	scan_finish(&x->rec.scan, &res);

	memset(&xe, 0, sizeof(xe));
	xe.host = x->rec.host;
	xe.tls = x->rec.tls;
	xe.teed = x->tee_on;
	xe.res = &res;
	xe.hdrs = x->hdr_on ? &x->rec.hdr.ev : NULL;
	xe.fed = x->rec.fed;
	/* the application's callbacks go back before anything can fail */
	if (x->tee_on || x->hdr_on)
		xfer_restore_callbacks(f, sh->easy, sh, x->tee_on, x->hdr_on);
	x->tee_on = 0;
	x->hdr_on = 0;
	report(f, sh->easy, cc, flags, &xe);
}

void
xfer_report_unseen(const struct curl_fns *f, CURL *easy, CURLcode cc)
{
	struct cfg_url u;
	struct rec_end xe;
	char host[RTP_HOST_LEN];
	char *url = NULL;

	if (f->easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK ||
	    url == NULL || cfg_parse_url(url, &u) == -1 || !cfg_tapped(&u))
		return;
	/* the effective URL is the last one of any redirects */
	report_host(&u, host, sizeof(host));
	memset(&xe, 0, sizeof(xe));
	xe.host = host;
	xe.tls = u.tls;
	shim_debug("transfer to %s on a handle configured before the shim "
	    "was loaded: usage unreadable", host);
	report(f, easy, cc, 0, &xe);
}
