/*
 * The tee: the WRITEFUNCTION installed on a tapped handle for the length of
 * one transfer.  The application's callback (or libcurl's default, fwrite to
 * WRITEDATA, stdout when unset) gets exactly the bytes libcurl delivered, and
 * its return value goes back to libcurl unchanged, so short writes and
 * CURL_WRITEFUNC_PAUSE behave as without the shim.  The scanner sees a chunk
 * only once the application accepted all of it: a paused chunk is delivered
 * again later and counted then.
 *
 * The header tee does the same for the HEADERFUNCTION: it does exactly
 * what libcurl would have done with each header line (the application's
 * header callback, or libcurl's default) and hands the lines the
 * application accepted to the header reader.
 */
#include <stdio.h>

#include "shim.h"

size_t
tee_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct shim_handle *sh = userdata;
	size_t ret, want, len = size * nmemb;
	int busy = shim_busy;
	void *ud = sh->wd_set ? sh->user_wd : (void *)stdout;

	/* the application's callback runs as the application: its own curl
	   calls must reach the hooks as usual */
	shim_busy = 0;
	if (sh->user_wf != NULL) {
		ret = sh->user_wf(ptr, size, nmemb, ud);
		want = len;
	} else {
		/* fwrite counts items; a NULL stream fails the write */
		ret = ud != NULL ? fwrite(ptr, size, nmemb, (FILE *)ud) : 0;
		want = nmemb;
	}
	shim_busy = busy;
	if (ret == want && len > 0 && sh->x != NULL) {
		scan_feed(&sh->x->scan, ptr, len);
		sh->x->fed += len;
	}
	return ret;
}

size_t
tee_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct shim_handle *sh = userdata;
	size_t ret, want, len = size * nmemb;
	int busy = shim_busy;

	shim_busy = 0;
	if (sh->user_hf != NULL) {
		ret = sh->user_hf(ptr, size, nmemb, sh->user_hd);
		want = len;
	} else if (sh->user_hd != NULL) {
		/* libcurl's default with HEADERDATA set: the write callback
		   (fwrite when unset) with HEADERDATA */
		if (sh->user_wf != NULL) {
			ret = sh->user_wf(ptr, size, nmemb, sh->user_hd);
			want = len;
		} else {
			ret = fwrite(ptr, size, nmemb, (FILE *)sh->user_hd);
			want = nmemb;
		}
	} else {
		/* libcurl's default without either: the line is dropped */
		ret = want = len;
	}
	shim_busy = busy;
	if (ret == want && sh->x != NULL)
		hdr_tee_feed(&sh->x->hdr, ptr, len);
	return ret;
}
