/*
 * The tee: the WRITEFUNCTION installed on a tapped handle for the length of
 * one transfer.  The application's callback (or libcurl's default, fwrite to
 * WRITEDATA, stdout when unset) gets exactly the bytes libcurl delivered, and
 * its return value goes back to libcurl unchanged, so short writes and
 * CURL_WRITEFUNC_PAUSE behave as without the shim.  The scanner sees a chunk
 * only once the application accepted all of it: a paused chunk is delivered
 * again later and counted then.
 *
 * With CURLOPT_HEADER the response headers come through the write callback
 * too, ahead of the body (each response's block: 1xx, redirects followed,
 * a proxy's CONNECT answer, the final one); they are passed on but not
 * scanned (tee_skip_headers).  A block is recognised by its status line
 * ("HTTP/"), which neither a JSON nor an SSE body can begin with, so this
 * also holds for a CURLOPT_HEADER set before the shim was loaded.
 *
 * The header tee does the same for the HEADERFUNCTION: it does exactly
 * what libcurl would have done with each header line (the application's
 * header callback, or libcurl's default) and hands the lines the
 * application accepted to the header reader.
 */
#include <stdio.h>
#include <string.h>

#include "curltap.h"

void
tee_scan(struct shim_xfer *x, const char *p, size_t len)
{
	static const char status[] = "HTTP/";
	size_t off = 0, n;

	while (x->wmode != W_BODY && off < len) {
		if (x->wmode == W_BOUNDARY) {
			/* a status line begins a header block; libcurl hands
			   it over whole, but a piece of it is waited for */
			n = 0;
			while (x->wpre + n < 5 && off + n < len &&
			    p[off + n] == status[x->wpre + n])
				n++;
			if (x->wpre + n == 5) {
				off += n;
				x->wpre = 0;
				x->wmode = W_HDR;
				x->wblank = 0;
				continue;
			}
			if (off + n == len) {
				x->wpre += n;
				return;
			}
			/* the body: with the bytes held back, if any */
			x->wmode = W_BODY;
			rec_body(&x->rec, status, x->wpre);
			x->wpre = 0;
			break;
		}
		/* W_HDR: up to the blank line that ends the block */
		while (off < len && x->wmode == W_HDR) {
			char c = p[off++];

			if (c == '\n') {
				if (x->wblank)
					x->wmode = W_BOUNDARY;
				x->wblank = 1;
			} else if (c != '\r')
				x->wblank = 0;
		}
	}
	rec_body(&x->rec, p + off, len - off);
}

/* What the application's write callback (or libcurl's default: fwrite to
 * WRITEDATA, stdout when unset) returns for the bytes; *want is the
 * return value that means all of them were taken. */
static inline size_t
deliver_write(const struct shim_handle *sh, char *ptr, size_t size,
    size_t nmemb, size_t *want)
{
	void *ud = sh->wd_set ? sh->user_wd : (void *)stdout;

	if (sh->user_wf != NULL) {
		*want = size * nmemb;
		return sh->user_wf(ptr, size, nmemb, ud);
	}
	/* fwrite counts items; a NULL stream fails the write */
	*want = nmemb;
	return ud != NULL ? fwrite(ptr, size, nmemb, (FILE *)ud) : 0;
}

/* The same for a header line: what libcurl would have done with it. */
static inline size_t
deliver_header(const struct shim_handle *sh, char *ptr, size_t size,
    size_t nmemb, size_t *want)
{
	if (sh->user_hf != NULL) {
		*want = size * nmemb;
		return sh->user_hf(ptr, size, nmemb, sh->user_hd);
	}
	if (sh->user_hd != NULL) {
		/* libcurl's default with HEADERDATA set: the write callback
		   (fwrite when unset) with HEADERDATA */
		if (sh->user_wf != NULL) {
			*want = size * nmemb;
			return sh->user_wf(ptr, size, nmemb, sh->user_hd);
		}
		*want = nmemb;
		return fwrite(ptr, size, nmemb, (FILE *)sh->user_hd);
	}
	/* libcurl's default without either: the line is dropped */
	*want = size * nmemb;
	return *want;
}

size_t
tee_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct shim_handle *sh = userdata;
	size_t ret, want, len = size * nmemb;

	/* the application's callback runs as the application: its own curl
	   calls must reach the hooks as usual */
	SHIM_BUSY_AS(0, ret = deliver_write(sh, ptr, size, nmemb, &want));
	if (ret == want && len > 0 && sh->x != NULL) {
		if (__builtin_expect(sh->x->confirm, 0))
			xfer_confirm(sh);
		if (__builtin_expect(sh->x->drop, 0))
			;
		else if (__builtin_expect(sh->x->wmode != W_BODY, 0))
			tee_scan(sh->x, ptr, len);
		else
			rec_body(&sh->x->rec, ptr, len);
	}
	return ret;
}

size_t
tee_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct shim_handle *sh = userdata;
	size_t ret, want, len = size * nmemb;

	SHIM_BUSY_AS(0, ret = deliver_header(sh, ptr, size, nmemb, &want));
	if (ret == want && sh->x != NULL) {
		if (__builtin_expect(sh->x->confirm, 0))
			xfer_confirm(sh);
		if (!sh->x->drop)
			rec_header(&sh->x->rec, ptr, len);
	}
	return ret;
}
