/*
 * The tee: the WRITEFUNCTION installed on a tapped handle for the length of
 * one transfer.  The application's callback (or libcurl's default, fwrite to
 * WRITEDATA, stdout when unset) gets exactly the bytes libcurl delivered, and
 * its return value goes back to libcurl unchanged, so short writes and
 * CURL_WRITEFUNC_PAUSE behave as without the shim.  The scanner sees a chunk
 * only once the application accepted all of it: a paused chunk is delivered
 * again later and counted then.
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
