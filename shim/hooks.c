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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curltap.h"

/* The table for the hook's caller; NULL (reported) when there is none or
 * the entry named by member is missing or points back into the shim. */
#define FNS(member, hook)						\
	fns_for(resolve_fns(__builtin_return_address(0)),		\
	    offsetof(struct curl_fns, member), (void (*)(void))(hook), #hook)

/* FNS(), and in *flp whether the caller is inside a libcurl: its own calls
 * of its exported functions pass straight through. */
#define FNS_FL(member, hook, flp)					\
	fns_for(resolve_fns_flags(__builtin_return_address(0), (flp)),	\
	    offsetof(struct curl_fns, member), (void (*)(void))(hook), #hook)

/* Why a hook found no function to forward to, said under RATETAP_DEBUG. */
__attribute__((noinline, cold)) static const struct curl_fns *
fns_fail(const struct curl_fns *f, const char *name)
{
	(void)shim_off();	/* the configuration says whether to log */
	if (f == NULL)
		shim_debug("%s: no libcurl found for the caller, call failed",
		    name);
	else
		shim_debug("%s: the caller's libcurl lacks it, call failed",
		    name);
	return NULL;
}

static inline const struct curl_fns *
fns_for(const struct curl_fns *f, size_t off, void (*hook)(void),
    const char *name)
{
	void (*fn)(void);

	if (__builtin_expect(f == NULL, 0))
		return fns_fail(f, name);
	memcpy(&fn, (const char *)f + off, sizeof(fn));
	if (__builtin_expect(fn == NULL || fn == hook, 0))
		return fns_fail(f, name);
	return f;
}

/* sh when its transfer is (or is to be) tracked, else NULL.  A transfer
 * about to begin gets its target worked out first. */
static struct shim_handle *
tapped_sh(const struct curl_fns *f, struct shim_handle *sh)
{
	if (sh == NULL)
		return NULL;
	if (!sh->active)
		xfer_refresh(f, sh);
	return (sh->tapped || sh->active || sh->curlu != NULL) ? sh : NULL;
}

/* 1 when a transfer on a handle (state sh, NULL if none) that the shim
 * did not track must be looked at when it ends: it may have been
 * configured before the shim was loaded (the shim never saw its URL:
 * plugin mode), or it follows redirects, which may lead it into a tapped
 * host. */
static int
unseen_sh(const struct shim_handle *sh)
{
	return sh == NULL || (!sh->active && (sh->follow ||
	    (!sh->url_seen && !sh->created)));
}

/* 1 when nothing is tapped in this process. */
static inline int
tapping_nothing(void)
{
	return shim_off() || shim_cfg.nhosts == 0;
}

/* Tapped-handle state for easy, or NULL (the fast path for the rest). */
static struct shim_handle *
tapped(const struct curl_fns *f, CURL *easy)
{
	return tapping_nothing() ? NULL : tapped_sh(f, hdl_lookup(easy));
}

/* unseen_sh() of easy's state. */
static int
unseen(CURL *easy)
{
	return !tapping_nothing() && unseen_sh(hdl_lookup(easy));
}

/*
 * The options the shim records, by their low six bits: the eight differ
 * there, so a load and a compare tell every other option (about 85 calls
 * of each curl transfer) to go straight through.
 */
#define REC_BIT(o)	(UINT64_C(1) << ((o) & 63))
#define REC_BITS	(REC_BIT(CURLOPT_URL) | REC_BIT(CURLOPT_CURLU) |	\
	REC_BIT(CURLOPT_PORT) | REC_BIT(CURLOPT_FOLLOWLOCATION) |	\
	REC_BIT(CURLOPT_WRITEFUNCTION) | REC_BIT(CURLOPT_WRITEDATA) |	\
	REC_BIT(CURLOPT_HEADERFUNCTION) | REC_BIT(CURLOPT_HEADERDATA))
_Static_assert(__builtin_popcountll(REC_BITS) == 8,
    "two recorded options share their low six bits");

static const int recorded_by_low[64] = {
	[CURLOPT_URL & 63] = CURLOPT_URL,
	[CURLOPT_CURLU & 63] = CURLOPT_CURLU,
	[CURLOPT_PORT & 63] = CURLOPT_PORT,
	[CURLOPT_FOLLOWLOCATION & 63] = CURLOPT_FOLLOWLOCATION,
	[CURLOPT_WRITEFUNCTION & 63] = CURLOPT_WRITEFUNCTION,
	[CURLOPT_WRITEDATA & 63] = CURLOPT_WRITEDATA,
	[CURLOPT_HEADERFUNCTION & 63] = CURLOPT_HEADERFUNCTION,
	[CURLOPT_HEADERDATA & 63] = CURLOPT_HEADERDATA,
};

static inline int
recorded(CURLoption opt)
{
	return recorded_by_low[(unsigned)opt & 63] == (int)opt &&
	    opt != 0;
}

/* While a transfer's tees are in place on sh, the application's
 * callbacks and their data are recorded, not forwarded: 1 when opt was
 * taken so. */
static int
record_during(struct shim_handle *sh, CURLoption opt, void *p,
    void (*fp)(void))
{
	if (sh == NULL || !sh->active)
		return 0;
	if (sh->x->tee_on) {
		if (opt == CURLOPT_WRITEFUNCTION) {
			/* the header tee follows it when it forwards the
			   headers to the write callback */
			sh->user_wf = (curl_write_callback)fp;
			sh->wf_set = 1;
			return 1;
		}
		if (opt == CURLOPT_WRITEDATA) {
			sh->user_wd = p;
			sh->wd_set = 1;
			return 1;
		}
	}
	if (sh->x->hdr_on) {
		if (opt == CURLOPT_HEADERFUNCTION) {
			sh->user_hf = (curl_write_callback)fp;
			sh->hf_set = 1;
			return 1;
		}
		if (opt == CURLOPT_HEADERDATA) {
			sh->user_hd = p;
			sh->hd_set = 1;
			return 1;
		}
	}
	return 0;
}

/* Record an option libcurl accepted (sh: the state of easy, if any). */
static void
record_option(struct shim_handle *sh, CURL *easy, CURLoption opt, long l,
    void *p, void (*fp)(void))
{
	if (sh == NULL && (sh = hdl_get(easy)) == NULL)
		return;
	switch (opt) {
	case CURLOPT_URL:
		xfer_set_url(sh, p);
		break;
	case CURLOPT_CURLU:
		sh->curlu = p;
		sh->url_seen = 1;
		sh->stale = 1;
		break;
	case CURLOPT_PORT:
		sh->port_opt = l;
		sh->stale = 1;
		break;
	case CURLOPT_FOLLOWLOCATION:
		sh->follow = l != 0;
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
		sh->hf_set = 1;
		break;
	case CURLOPT_HEADERDATA:
		sh->user_hd = p;
		sh->hd_set = 1;
		break;
	default:
		break;
	}
	if (sh->wf_set && sh->wd_set)
		sh->cb_known = 1;
	if (sh->hf_set && sh->hd_set)
		sh->hcb_known = 1;
}

/* The one argument of a curl_easy_setopt call, of the type its option's
 * CURLOPTTYPE_* range implies. */
union setopt_arg {
	long l;				/* longs */
	void *p;			/* objects, strings, blobs */
	void (*fp)(void);		/* functions */
	curl_off_t o;			/* curl_off_t */
	uintptr_t raw;			/* SETOPT_ONE_REG: as it came */
};

enum { ARG_LONG, ARG_PTR, ARG_FN, ARG_OFF };

/* The kind of argument opt takes. */
static inline int
arg_kind(CURLoption opt)
{
	if ((int)opt < CURLOPTTYPE_OBJECTPOINT)
		return ARG_LONG;
	if ((int)opt < CURLOPTTYPE_FUNCTIONPOINT)
		return ARG_PTR;
	if ((int)opt < CURLOPTTYPE_OFF_T)
		return ARG_FN;
	if ((int)opt < CURLOPTTYPE_BLOB)
		return ARG_OFF;
	return ARG_PTR;			/* struct curl_blob * */
}

/*
 * On these ABIs every argument a CURLOPTTYPE implies (long, pointer,
 * function pointer, curl_off_t, blob pointer) is of integer class and
 * one register wide, and a variadic argument travels in the register of
 * the next named one: the hook takes it as a named uintptr_t and hands it
 * on unread, so the calls the shim does not record cost a table load and
 * a jump.  Elsewhere (i386 passes curl_off_t in two stack slots) the hook
 * is variadic and reads the argument by its type.
 */
#if defined(__LP64__) && (defined(__x86_64__) || defined(__aarch64__))
#define SETOPT_ONE_REG 1
#endif

/* Call the real curl_easy_setopt with the argument read. */
static inline CURLcode
forward(const struct curl_fns *f, CURL *easy, CURLoption opt, int kind,
    union setopt_arg a)
{
#ifdef SETOPT_ONE_REG
	(void)kind;
	return f->easy_setopt(easy, opt, a.raw);
#else
	switch (kind) {
	case ARG_LONG:
		return f->easy_setopt(easy, opt, a.l);
	case ARG_PTR:
		return f->easy_setopt(easy, opt, a.p);
	case ARG_FN:
		return f->easy_setopt(easy, opt, a.fp);
	default:
		return f->easy_setopt(easy, opt, a.o);
	}
#endif
}

/* curl_easy_setopt of an option the shim records. */
static CURLcode
setopt_recorded(const struct curl_fns *f, CURL *easy, CURLoption opt,
    int kind, union setopt_arg a)
{
	struct shim_handle *sh;
	void *p = kind == ARG_PTR ? a.p : NULL;
	void (*fp)(void) = kind == ARG_FN ? a.fp : NULL;
	long l = kind == ARG_LONG ? a.l : 0;
	CURLcode rc;

	sh = hdl_lookup(easy);
	if (record_during(sh, opt, p, fp))
		return CURLE_OK;
	rc = forward(f, easy, opt, kind, a);
	if (rc == CURLE_OK)
		record_option(sh, easy, opt, l, p, fp);
	return rc;
}

#ifdef SETOPT_ONE_REG
SHIM_EXPORT CURLcode hook_easy_setopt(CURL *, CURLoption, uintptr_t)
    __asm__("curl_easy_setopt");
#define HOOK_EASY_SETOPT	hook_easy_setopt
#else
#define HOOK_EASY_SETOPT	curl_easy_setopt
#endif

/* Everything but an unrecorded option from a caller in this thread's last
 * libcurl range: find the caller's libcurl, forward, record. */
__attribute__((noinline)) static CURLcode
setopt_slow(const void *caller, CURL *easy, CURLoption opt, int kind,
    union setopt_arg a)
{
	const struct curl_fns *f;

	if ((f = resolve_fns_cached(caller)) == NULL)
		f = fns_for(resolve_fns(caller), offsetof(struct curl_fns,
		    easy_setopt), (void (*)(void))HOOK_EASY_SETOPT,
		    "curl_easy_setopt");
	if (f == NULL)
		return CURLE_FAILED_INIT;
	if (!recorded(opt) || shim_off())
		return forward(f, easy, opt, kind, a);
	return setopt_recorded(f, easy, opt, kind, a);
}

/*
 * curl_easy_setopt: forward the one argument the option's CURLOPTTYPE_*
 * range implies, unchanged.  Options the shim does not record go straight
 * through; the URL, the port and the write/header callbacks are recorded
 * once libcurl accepted them.
 */
#ifdef SETOPT_ONE_REG
CURLcode
hook_easy_setopt(CURL *easy, CURLoption opt, uintptr_t raw)
{
	const struct curl_fns *f;
	union setopt_arg a;

	/* the fast path: almost every call (a usable table's easy_setopt
	   is never NULL nor the hook) */
	if (__builtin_expect(!recorded(opt), 1) &&
	    (f = resolve_fns_cached(__builtin_return_address(0))) != NULL)
		return f->easy_setopt(easy, opt, raw);
	a.raw = raw;
	return setopt_slow(__builtin_return_address(0), easy, opt,
	    arg_kind(opt), a);
}
#else
SHIM_EXPORT CURLcode
curl_easy_setopt(CURL *easy, CURLoption opt, ...)
{
	union setopt_arg a;
	va_list ap;
	int kind = arg_kind(opt);

	va_start(ap, opt);
	switch (kind) {
	case ARG_LONG:
		a.l = va_arg(ap, long);
		break;
	case ARG_PTR:
		a.p = va_arg(ap, void *);
		break;
	case ARG_FN:
		a.fp = va_arg(ap, void (*)(void));
		break;
	default:
		a.o = va_arg(ap, curl_off_t);
		break;
	}
	va_end(ap);
	return setopt_slow(__builtin_return_address(0), easy, opt, kind, a);
}
#endif

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
	SHIM_BUSY_AS(1, easy = f->easy_init());
	if (easy == NULL || shim_off())
		return easy;
	/* libcurl's own handles are freed inside it: keep no state */
	if (busy || shim_cfg.nhosts == 0)
		hdl_free(hdl_remove(easy));
	else if ((sh = hdl_fresh(easy)) != NULL)
		/* options at their defaults */
		sh->created = sh->cb_known = sh->hcb_known = 1;
	return easy;
}

/* curl_easy_perform: one whole transfer; finalized when it returns. */
SHIM_EXPORT CURLcode
curl_easy_perform(CURL *easy)
{
	const struct curl_fns *f;
	struct shim_handle *sh, *tsh;
	int began = 0;
	unsigned fl;
	CURLcode rc;

	if ((f = FNS_FL(easy_perform, curl_easy_perform, &fl)) == NULL)
		return CURLE_FAILED_INIT;
	if (shim_busy || (fl & RES_CALLER_CURL) || tapping_nothing())
		return f->easy_perform(easy);
	sh = hdl_lookup(easy);
	if ((tsh = tapped_sh(f, sh)) == NULL) {
		if (!unseen_sh(sh))
			return f->easy_perform(easy);
		SHIM_BUSY_AS(1, rc = f->easy_perform(easy));
		xfer_report_unseen(f, easy, rc);
		return rc;
	}
	if (!sh->active) {
		if (sh->curlu != NULL)	/* its URL may have changed */
			xfer_target(f, sh);
		began = xfer_begin(f, sh);
	}
	SHIM_BUSY_AS(1, rc = f->easy_perform(easy));
	if (began)
		xfer_finalize(f, sh, rc, 0);
	else if (sh->follow && !sh->active)
		xfer_report_unseen(f, easy, rc);
	return rc;
}

/* curl_easy_duphandle: the copy inherits the recorded state, and the
 * application's callbacks rather than the tee. */
SHIM_EXPORT CURL *
curl_easy_duphandle(CURL *easy)
{
	const struct curl_fns *f;
	struct shim_handle *sh, *dsh, *stale;
	CURL *dup;

	if ((f = FNS(easy_duphandle, curl_easy_duphandle)) == NULL)
		return NULL;
	SHIM_BUSY_AS(1, dup = f->easy_duphandle(easy));
	if (dup == NULL || shim_off())
		return dup;
	/* a state left for this address by a handle freed unseen */
	if ((stale = hdl_remove(dup)) != NULL)
		hdl_free(stale);
	if ((sh = hdl_lookup(easy)) == NULL)
		return dup;
	if (sh->active && (sh->x->tee_on || sh->x->hdr_on))
		xfer_restore_callbacks(f, dup, sh, sh->x->tee_on,
		    sh->x->hdr_on);
	if ((dsh = hdl_get(dup)) == NULL)
		return dup;
	dsh->user_wf = sh->user_wf;
	dsh->user_wd = sh->user_wd;
	dsh->wd_set = sh->wd_set;
	dsh->wf_set = sh->wf_set;
	dsh->user_hf = sh->user_hf;
	dsh->user_hd = sh->user_hd;
	dsh->hf_set = sh->hf_set;
	dsh->hd_set = sh->hd_set;
	dsh->created = sh->created;
	dsh->cb_known = sh->cb_known;
	dsh->hcb_known = sh->hcb_known;
	dsh->url_seen = sh->url_seen;
	dsh->follow = sh->follow;
	dsh->stale = sh->stale;
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
	if (!shim_off() && (sh = hdl_lookup(easy)) != NULL && sh->active)
		xfer_finalize(f, sh, CURLE_OK, RTP_F_NO_DONE);
	SHIM_BUSY_AS(1, f->easy_reset(easy));
	if (busy || shim_off() || shim_cfg.nhosts == 0)
		hdl_free(hdl_remove(easy));
	else if ((sh = hdl_fresh(easy)) != NULL)
		sh->created = sh->cb_known = sh->hcb_known = 1;
}

/* curl_easy_cleanup: finalize an abandoned transfer, drop the state. */
SHIM_EXPORT void
curl_easy_cleanup(CURL *easy)
{
	const struct curl_fns *f;
	struct shim_handle *sh;

	if ((f = FNS(easy_cleanup, curl_easy_cleanup)) == NULL)
		return;
	if (!shim_off() && (sh = hdl_lookup(easy)) != NULL && sh->active)
		xfer_finalize(f, sh, CURLE_OK, RTP_F_NO_DONE);
	sh = hdl_remove(easy);
	SHIM_BUSY_AS(1, f->easy_cleanup(easy));
	hdl_free(sh);
}

/* curl_multi_add_handle: a multi transfer begins. */
SHIM_EXPORT CURLMcode
curl_multi_add_handle(CURLM *multi, CURL *easy)
{
	const struct curl_fns *f;
	struct shim_handle *sh;
	int busy = shim_busy, began = 0;
	unsigned fl;
	CURLMcode rc;

	if ((f = FNS_FL(multi_add_handle, curl_multi_add_handle, &fl)) ==
	    NULL)
		return CURLM_INTERNAL_ERROR;
	if (busy || (fl & RES_CALLER_CURL) || (sh = tapped(f, easy)) == NULL)
		return f->multi_add_handle(multi, easy);
	if (!sh->active && sh->curlu != NULL)	/* its URL may have changed */
		xfer_target(f, sh);
	if (!sh->active && (began = xfer_begin(f, sh)))
		hdl_set_multi(sh, multi);
	SHIM_BUSY_AS(1, rc = f->multi_add_handle(multi, easy));
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
	unsigned fl;
	CURLMcode rc;

	if ((f = FNS_FL(multi_remove_handle, curl_multi_remove_handle,
	    &fl)) == NULL)
		return CURLM_INTERNAL_ERROR;
	if (busy || (fl & RES_CALLER_CURL) || (sh = tapped(f, easy)) == NULL)
		return f->multi_remove_handle(multi, easy);
	SHIM_BUSY_AS(1, rc = f->multi_remove_handle(multi, easy));
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
	unsigned fl;
	CURLMsg *msg;

	if ((f = FNS_FL(multi_info_read, curl_multi_info_read, &fl)) == NULL)
		return NULL;
	if (busy || (fl & RES_CALLER_CURL))
		return f->multi_info_read(multi, msgs_in_queue);
	SHIM_BUSY_AS(1, msg = f->multi_info_read(multi, msgs_in_queue));
	if (msg == NULL || msg->msg != CURLMSG_DONE)
		return msg;
	if ((sh = tapped(f, msg->easy_handle)) != NULL && sh->active &&
	    sh->multi == multi)
		xfer_finalize(f, sh, msg->data.result, 0);
	else if (unseen(msg->easy_handle) && (sh == NULL || !sh->active))
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
	unsigned fl;
	size_t n, k;
	CURLMcode rc;

	if ((f = FNS_FL(multi_cleanup, curl_multi_cleanup, &fl)) == NULL)
		return CURLM_INTERNAL_ERROR;
	if (!busy && !(fl & RES_CALLER_CURL) && !shim_off() && multi != NULL &&
	    hdl_collect_multi(multi, &v, &n) == 0) {
		for (k = 0; k < n; k++)
			if (v[k]->active)
				xfer_finalize(f, v[k], CURLE_OK,
				    RTP_F_NO_DONE);
		free(v);
	}
	SHIM_BUSY_AS(1, rc = f->multi_cleanup(multi));
	return rc;
}

/* What got_patch_all() points GOT entries at. */
const struct resolve_hook resolve_hooks[] = {
	{ "curl_easy_init", (void *)curl_easy_init },
	{ "curl_easy_setopt", (void *)HOOK_EASY_SETOPT },
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
