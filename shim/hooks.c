/*
 * The interposed libcurl entry points: the only functions the shim exports
 * (with the dlopen hook of dlhook.c).  Each forwards to the libcurl of its
 * caller (resolve_fns()), failing the call when there is none; libcurl's own
 * calls through its PLT, and calls made while a hook is inside libcurl on
 * this thread, pass straight through (shim_busy).
 *
 * A transfer on a tapped handle begins at curl_easy_perform() or
 * curl_multi_add_handle() and is finalized exactly once: when
 * curl_easy_perform() returns, when curl_multi_info_read() hands its
 * CURLMSG_DONE to the application, or else when it is removed, cleaned up or
 * its multi handle is (flagged RTP_F_NO_DONE).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

/* The table for the hook's caller; NULL (reported) when there is none or
 * the entry named by member is missing or points back into the shim. */
#define FNS(member, hook)						\
	fns_for(resolve_fns(__builtin_return_address(0)),		\
	    offsetof(struct curl_fns, member), (void (*)(void))(hook), #hook)

static const struct curl_fns *
fns_for(const struct curl_fns *f, size_t off, void (*hook)(void),
    const char *name)
{
	void (*fn)(void);

	cfg_ensure();
	if (f == NULL) {
		shim_debug("%s: no libcurl found for the caller, call failed",
		    name);
		return NULL;
	}
	memcpy(&fn, (const char *)f + off, sizeof(fn));
	if (fn == NULL || fn == hook) {
		shim_debug("%s: the caller's libcurl lacks it, call failed",
		    name);
		return NULL;
	}
	return f;
}

/* Tapped-handle state for easy, or NULL (the fast path for the rest). */
static struct shim_handle *
tapped(CURL *easy)
{
	struct shim_handle *sh;

	if (shim_cfg.off || shim_cfg.nhosts == 0)
		return NULL;
	sh = hdl_lookup(easy);
	return (sh != NULL && (sh->tapped || sh->active || sh->curlu != NULL)) ?
	    sh : NULL;
}

/* 1 when a transfer on easy may have been configured before the shim was
 * loaded: the shim never saw its URL (plugin mode). */
static int
unseen(CURL *easy)
{
	struct shim_handle *sh;

	if (shim_cfg.off || shim_cfg.nhosts == 0)
		return 0;
	sh = hdl_lookup(easy);
	return sh == NULL || (!sh->url_seen && !sh->active && !sh->created);
}

/* Record the options the shim needs; returns 1 when the call must not be
 * forwarded (the tee is installed and stays). */
static int
record_option(const struct curl_fns *f, CURL *easy, CURLoption opt,
    long l, void *p, void (*fp)(void), int before)
{
	struct shim_handle *sh;

	switch (opt) {
	case CURLOPT_URL:
	case CURLOPT_CURLU:
	case CURLOPT_PORT:
	case CURLOPT_WRITEFUNCTION:
	case CURLOPT_WRITEDATA:
	case CURLOPT_HEADERFUNCTION:
	case CURLOPT_HEADERDATA:
		break;
	default:
		return 0;
	}
	if (before) {
		/* while the tee is in place, the application's write
		   callback and data are recorded, not forwarded */
		sh = hdl_lookup(easy);
		if (sh == NULL || !sh->active || !sh->x->tee_on)
			return 0;
		if (opt == CURLOPT_WRITEFUNCTION) {
			sh->user_wf = (curl_write_callback)fp;
			if (sh->x->hf_patched &&
			    f->easy_setopt(easy, CURLOPT_HEADERFUNCTION,
			    fp != NULL ? (curl_write_callback)fp :
			    (curl_write_callback)(void (*)(void))fwrite) !=
			    CURLE_OK)
				shim_debug("could not update the header "
				    "callback");
			return 1;
		}
		if (opt == CURLOPT_WRITEDATA) {
			sh->user_wd = p;
			sh->wd_set = 1;
			return 1;
		}
		return 0;
	}
	if ((sh = hdl_get(easy)) == NULL)
		return 0;
	switch (opt) {
	case CURLOPT_URL:
		xfer_set_url(sh, p);
		break;
	case CURLOPT_CURLU:
		sh->curlu = p;
		sh->url_seen = 1;
		xfer_target(f, sh);
		break;
	case CURLOPT_PORT:
		sh->port_opt = l;
		xfer_target(f, sh);
		break;
	case CURLOPT_WRITEFUNCTION:
		sh->user_wf = (curl_write_callback)fp;
		sh->wf_set = 1;
		break;
	case CURLOPT_WRITEDATA:
		sh->user_wd = p;
		sh->wd_set = 1;
		break;
	case CURLOPT_HEADERFUNCTION:
		sh->user_hf = (curl_write_callback)fp;
		/* the application's own header callback now gets them */
		if (sh->active && sh->x->hf_patched)
			sh->x->hf_patched = 0;
		break;
	case CURLOPT_HEADERDATA:
		sh->user_hd = p;
		break;
	default:
		break;
	}
	if (sh->wf_set && sh->wd_set)
		sh->cb_known = 1;
	return 0;
}

/*
 * curl_easy_setopt: read exactly one argument of the type the option's
 * CURLOPTTYPE_* range implies, forward it unchanged, record the URL and the
 * write/header callbacks.
 */
SHIM_EXPORT CURLcode
curl_easy_setopt(CURL *easy, CURLoption opt, ...)
{
	const struct curl_fns *f;
	va_list ap;
	long l = 0;
	void *p = NULL;
	void (*fp)(void) = NULL;
	curl_off_t o = 0;
	int kind;
	CURLcode rc;

	va_start(ap, opt);
	if ((int)opt < CURLOPTTYPE_OBJECTPOINT) {
		l = va_arg(ap, long);
		kind = 0;
	} else if ((int)opt < CURLOPTTYPE_FUNCTIONPOINT) {
		p = va_arg(ap, void *);
		kind = 1;
	} else if ((int)opt < CURLOPTTYPE_OFF_T) {
		fp = va_arg(ap, void (*)(void));
		kind = 2;
	} else if ((int)opt < CURLOPTTYPE_BLOB) {
		o = va_arg(ap, curl_off_t);
		kind = 3;
	} else {
		p = va_arg(ap, void *);	/* struct curl_blob * */
		kind = 1;
	}
	va_end(ap);

	if ((f = FNS(easy_setopt, curl_easy_setopt)) == NULL)
		return CURLE_FAILED_INIT;
	if (!cfg_off() && record_option(f, easy, opt, l, p, fp, 1))
		return CURLE_OK;
	switch (kind) {
	case 0:
		rc = f->easy_setopt(easy, opt, l);
		break;
	case 1:
		rc = f->easy_setopt(easy, opt, p);
		break;
	case 2:
		rc = f->easy_setopt(easy, opt, fp);
		break;
	default:
		rc = f->easy_setopt(easy, opt, o);
		break;
	}
	if (rc == CURLE_OK && !cfg_off())
		(void)record_option(f, easy, opt, l, p, fp, 0);
	return rc;
}

/* curl_easy_init: a new handle starts with fresh state, also when its
 * address is that of a handle freed without the shim seeing it. */
SHIM_EXPORT CURL *
curl_easy_init(void)
{
	const struct curl_fns *f;
	struct shim_handle *sh;
	int busy = shim_busy;
	CURL *easy;

	if ((f = FNS(easy_init, curl_easy_init)) == NULL)
		return NULL;
	shim_busy = 1;
	easy = f->easy_init();
	shim_busy = busy;
	if (easy == NULL || cfg_off())
		return easy;
	hdl_free(hdl_remove(easy));
	/* libcurl's own handles are freed inside it: keep no state */
	if (!busy && shim_cfg.nhosts > 0 && (sh = hdl_get(easy)) != NULL)
		sh->created = sh->cb_known = 1;	/* options at their defaults */
	return easy;
}

/* curl_easy_perform: one whole transfer; finalized when it returns. */
SHIM_EXPORT CURLcode
curl_easy_perform(CURL *easy)
{
	const struct curl_fns *f;
	struct shim_handle *sh;
	int busy = shim_busy, began = 0;
	CURLcode rc;

	if ((f = FNS(easy_perform, curl_easy_perform)) == NULL)
		return CURLE_FAILED_INIT;
	if (busy)
		return f->easy_perform(easy);
	if ((sh = tapped(easy)) == NULL) {
		if (!unseen(easy))
			return f->easy_perform(easy);
		shim_busy = 1;
		rc = f->easy_perform(easy);
		shim_busy = busy;
		xfer_report_unseen(f, easy, rc);
		return rc;
	}
	if (!sh->active) {
		if (sh->curlu != NULL)	/* its URL may have changed */
			xfer_target(f, sh);
		began = xfer_begin(f, sh);
	}
	shim_busy = 1;
	rc = f->easy_perform(easy);
	shim_busy = busy;
	if (began)
		xfer_finalize(f, sh, rc, 0);
	return rc;
}

/* curl_easy_duphandle: the copy inherits the recorded state, and the
 * application's callbacks rather than the tee. */
SHIM_EXPORT CURL *
curl_easy_duphandle(CURL *easy)
{
	const struct curl_fns *f;
	struct shim_handle *sh, *dsh, *stale;
	int busy = shim_busy;
	CURL *dup;

	if ((f = FNS(easy_duphandle, curl_easy_duphandle)) == NULL)
		return NULL;
	shim_busy = 1;
	dup = f->easy_duphandle(easy);
	shim_busy = busy;
	if (dup == NULL || cfg_off())
		return dup;
	/* a state left for this address by a handle freed unseen */
	if ((stale = hdl_remove(dup)) != NULL)
		hdl_free(stale);
	if ((sh = hdl_lookup(easy)) == NULL)
		return dup;
	if (sh->active && (sh->x->tee_on || sh->x->hf_patched))
		xfer_restore_callbacks(f, dup, sh, sh->x->hf_patched);
	if ((dsh = hdl_get(dup)) == NULL)
		return dup;
	dsh->user_wf = sh->user_wf;
	dsh->user_wd = sh->user_wd;
	dsh->wd_set = sh->wd_set;
	dsh->wf_set = sh->wf_set;
	dsh->user_hf = sh->user_hf;
	dsh->user_hd = sh->user_hd;
	dsh->created = sh->created;
	dsh->cb_known = sh->cb_known;
	dsh->url_seen = sh->url_seen;
	dsh->url_ok = sh->url_ok;
	dsh->url = sh->url;
	dsh->curlu = sh->curlu;
	dsh->port_opt = sh->port_opt;
	dsh->tapped = sh->tapped;
	dsh->tls = sh->tls;
	memcpy(dsh->host, sh->host, sizeof(dsh->host));
	return dup;
}

/* curl_easy_reset: forget what was recorded (after finalizing an
 * abandoned transfer); every option is at its default again. */
SHIM_EXPORT void
curl_easy_reset(CURL *easy)
{
	const struct curl_fns *f;
	struct shim_handle *sh;
	int busy = shim_busy;

	if ((f = FNS(easy_reset, curl_easy_reset)) == NULL)
		return;
	if (!cfg_off() && (sh = hdl_lookup(easy)) != NULL && sh->active)
		xfer_finalize(f, sh, CURLE_OK, RTP_F_NO_DONE);
	shim_busy = 1;
	f->easy_reset(easy);
	shim_busy = busy;
	hdl_free(hdl_remove(easy));
	if (!busy && !cfg_off() && shim_cfg.nhosts > 0 &&
	    (sh = hdl_get(easy)) != NULL)
		sh->created = sh->cb_known = 1;
}

/* curl_easy_cleanup: finalize an abandoned transfer, drop the state. */
SHIM_EXPORT void
curl_easy_cleanup(CURL *easy)
{
	const struct curl_fns *f;
	struct shim_handle *sh;
	int busy = shim_busy;

	if ((f = FNS(easy_cleanup, curl_easy_cleanup)) == NULL)
		return;
	if (!cfg_off() && (sh = hdl_lookup(easy)) != NULL && sh->active)
		xfer_finalize(f, sh, CURLE_OK, RTP_F_NO_DONE);
	sh = hdl_remove(easy);
	shim_busy = 1;
	f->easy_cleanup(easy);
	shim_busy = busy;
	hdl_free(sh);
}

/* curl_multi_add_handle: a multi transfer begins. */
SHIM_EXPORT CURLMcode
curl_multi_add_handle(CURLM *multi, CURL *easy)
{
	const struct curl_fns *f;
	struct shim_handle *sh;
	int busy = shim_busy, began = 0;
	CURLMcode rc;

	if ((f = FNS(multi_add_handle, curl_multi_add_handle)) == NULL)
		return CURLM_INTERNAL_ERROR;
	if (busy || (sh = tapped(easy)) == NULL)
		return f->multi_add_handle(multi, easy);
	if (!sh->active && sh->curlu != NULL)	/* its URL may have changed */
		xfer_target(f, sh);
	if (!sh->active && (began = xfer_begin(f, sh)))
		hdl_set_multi(sh, multi);
	shim_busy = 1;
	rc = f->multi_add_handle(multi, easy);
	shim_busy = busy;
	if (began && rc != CURLM_OK)
		xfer_abort(f, sh);
	return rc;
}

/* curl_multi_remove_handle: a transfer whose CURLMSG_DONE the application
 * never read is finalized here. */
SHIM_EXPORT CURLMcode
curl_multi_remove_handle(CURLM *multi, CURL *easy)
{
	const struct curl_fns *f;
	struct shim_handle *sh;
	int busy = shim_busy;
	CURLMcode rc;

	if ((f = FNS(multi_remove_handle, curl_multi_remove_handle)) == NULL)
		return CURLM_INTERNAL_ERROR;
	if (busy || (sh = tapped(easy)) == NULL)
		return f->multi_remove_handle(multi, easy);
	shim_busy = 1;
	rc = f->multi_remove_handle(multi, easy);
	shim_busy = busy;
	if (rc == CURLM_OK && sh->active && sh->multi == multi)
		xfer_finalize(f, sh, CURLE_OK, RTP_F_NO_DONE);
	return rc;
}

/* curl_multi_info_read: the application learns a transfer is done. */
SHIM_EXPORT CURLMsg *
curl_multi_info_read(CURLM *multi, int *msgs_in_queue)
{
	const struct curl_fns *f;
	struct shim_handle *sh;
	int busy = shim_busy;
	CURLMsg *msg;

	if ((f = FNS(multi_info_read, curl_multi_info_read)) == NULL)
		return NULL;
	shim_busy = 1;
	msg = f->multi_info_read(multi, msgs_in_queue);
	shim_busy = busy;
	if (busy || msg == NULL || msg->msg != CURLMSG_DONE)
		return msg;
	if ((sh = tapped(msg->easy_handle)) != NULL && sh->active &&
	    sh->multi == multi)
		xfer_finalize(f, sh, msg->data.result, 0);
	else if (unseen(msg->easy_handle))
		xfer_report_unseen(f, msg->easy_handle, msg->data.result);
	return msg;
}

/* curl_multi_cleanup: finalize what is still in the multi handle. */
SHIM_EXPORT CURLMcode
curl_multi_cleanup(CURLM *multi)
{
	const struct curl_fns *f;
	struct shim_handle **v;
	int busy = shim_busy;
	size_t n, k;
	CURLMcode rc;

	if ((f = FNS(multi_cleanup, curl_multi_cleanup)) == NULL)
		return CURLM_INTERNAL_ERROR;
	if (!busy && !cfg_off() && multi != NULL &&
	    hdl_collect_multi(multi, &v, &n) == 0) {
		for (k = 0; k < n; k++)
			if (v[k]->active)
				xfer_finalize(f, v[k], CURLE_OK,
				    RTP_F_NO_DONE);
		free(v);
	}
	shim_busy = 1;
	rc = f->multi_cleanup(multi);
	shim_busy = busy;
	return rc;
}

/* What resolve_patch_all() points GOT entries at. */
const struct resolve_hook resolve_hooks[] = {
	{ "curl_easy_init", (void *)curl_easy_init },
	{ "curl_easy_setopt", (void *)curl_easy_setopt },
	{ "curl_easy_perform", (void *)curl_easy_perform },
	{ "curl_easy_duphandle", (void *)curl_easy_duphandle },
	{ "curl_easy_reset", (void *)curl_easy_reset },
	{ "curl_easy_cleanup", (void *)curl_easy_cleanup },
	{ "curl_multi_add_handle", (void *)curl_multi_add_handle },
	{ "curl_multi_remove_handle", (void *)curl_multi_remove_handle },
	{ "curl_multi_info_read", (void *)curl_multi_info_read },
	{ "curl_multi_cleanup", (void *)curl_multi_cleanup },
	{ NULL, NULL }
};
