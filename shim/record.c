/*
 * The record of one HTTP exchange and the event built from it, for every
 * tap layer: a layer starts a struct rec when an exchange to a tapped host
 * begins, gives it the response's header lines and body bytes as the
 * application accepts them, and at the end hands what it read (status,
 * method, URL, its result code) to rec_report(), which judges the usage
 * the scanner found and sends the event.  No libcurl type here.
 */
#include <string.h>

#include "shim.h"

void
rec_begin(struct rec *r, const char *host, int tls)
{
	scan_init(&r->scan);
	hdr_tee_init(&r->hdr);
	memcpy(r->host, host, sizeof(r->host));
	r->tls = tls;
	r->fed = 0;
}

static int
method_of(const char *m)
{
	static const struct {
		const char *name;
		int method;
	} methods[] = {
		{ "GET", RTP_M_GET }, { "POST", RTP_M_POST },
		{ "PUT", RTP_M_PUT }, { "DELETE", RTP_M_DELETE },
		{ "HEAD", RTP_M_HEAD }, { "PATCH", RTP_M_PATCH },
	};
	size_t k;

	if (m == NULL)
		return RTP_M_OTHER;
	for (k = 0; k < sizeof(methods) / sizeof(methods[0]); k++)
		if (strcmp(m, methods[k].name) == 0)
			return methods[k].method;
	return RTP_M_OTHER;
}

/* The path of url (no query, no fragment) into buf; "/" when empty.
 * Returns 1 when it is exactly /v1/messages. */
static int
path_of(const char *url, char *buf, size_t len)
{
	const char *p, *end;
	char tmp[512];
	size_t n;

	if (url == NULL) {
		rtp_strlcpy(buf, "", len);
		return 0;
	}
	p = strstr(url, "://");
	p = p != NULL ? p + 3 : url;
	p += strcspn(p, "/?#");		/* skip the authority */
	end = p + strcspn(p, "?#");
	n = (size_t)(end - p);
	if (n == 0) {
		rtp_strlcpy(buf, "/", len);
		return 0;
	}
	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	rtp_strlcpy(buf, tmp, len);
	return strcmp(tmp, "/v1/messages") == 0;
}

void
rec_report(const struct rec_end *e, uint32_t flags)
{
	const struct scan_result *res = e->res;
	struct rtp_event ev;
	long code = e->status >= 0 && e->status <= 999 ? e->status : 0;
	int messages;

	rtp_init(&ev);
	ev.flags = flags;
	ev.curl_code = e->result;
	ev.http_status = (uint16_t)code;
	ev.method = (uint8_t)method_of(e->method);
	messages = path_of(e->url, ev.path, sizeof(ev.path));
	rtp_strlcpy(ev.host, e->host, sizeof(ev.host));
	rtp_strlcpy(ev.prog, cfg_prog(), sizeof(ev.prog));
	if (e->tls)
		ev.flags |= RTP_F_TLS;
	if (res != NULL && res->kind == SCAN_SSE)
		ev.flags |= RTP_F_STREAM;
	if (res != NULL && res->is_error)
		ev.flags |= RTP_F_ERROR_BODY;
	if (code > 0 && e->hdrs != NULL)
		hdr_merge(&ev, e->hdrs);
	else if (code > 0 && e->read_hdrs != NULL)
		e->read_hdrs(e->read_arg, &ev);
	if (res != NULL && res->model[0] != '\0')
		rtp_strlcpy(ev.model, res->model, sizeof(ev.model));

	if (!messages || code >= 400 || code == 0)
		ev.usage_state = RTP_USAGE_NONE;
	else if (e->teed && res != NULL && (res->usage_ok || res->partial) &&
	    res->input_tokens >= 0 && res->input_tokens <= RTP_TOKENS_MAX &&
	    res->output_tokens >= 0 && res->output_tokens <= RTP_TOKENS_MAX &&
	    res->cache_creation_input_tokens >= 0 &&
	    res->cache_creation_input_tokens <= RTP_TOKENS_MAX &&
	    res->cache_read_input_tokens >= 0 &&
	    res->cache_read_input_tokens <= RTP_TOKENS_MAX) {
		ev.usage_state = RTP_USAGE_OK;
		ev.input_tokens = res->input_tokens;
		ev.output_tokens = res->output_tokens;
		ev.cache_creation_input_tokens =
		    res->cache_creation_input_tokens;
		ev.cache_read_input_tokens = res->cache_read_input_tokens;
		/* a stream that ended before its usage was complete: the
		   client stopped reading, a timeout, a cut connection */
		if (res->partial)
			ev.flags |= RTP_F_CUT_SHORT;
	} else if (code >= 200 && code < 300)
		ev.usage_state = RTP_USAGE_UNREADABLE;
	else
		ev.usage_state = RTP_USAGE_NONE;

	if ((flags & RTP_F_NO_DONE) && code == 0) {
		shim_debug("transfer to %s abandoned before a response: "
		    "no event", ev.host);
		return;
	}
	shim_debug("event: %s %s%s status %ld curl %d usage %d, %llu body "
	    "bytes seen", e->method != NULL ? e->method : "?", ev.host,
	    ev.path, code, (int)e->result, ev.usage_state,
	    (unsigned long long)e->fed);
	(void)send_event(cfg_sock(), &ev);
}

