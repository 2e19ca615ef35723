/*
 * The shim's start-up and its per-thread re-entrancy flag.
 *
 * The constructor must stay cheap: it runs in every program the shim is
 * preloaded into, most of which never use libcurl.
 */
#include <sys/auxv.h>

#include "init.h"
#include "resolve.h"

__thread int shim_busy __attribute__((tls_model("initial-exec")));

/*
 * The constructor: make calls that symbol interposition cannot reach
 * (RTLD_DEEPBIND objects, the shim loaded as a plugin) go through the
 * hooks; when the shim is off, take the hooks out of the calls that
 * interposition gave them.  It reads only what that needs: the rest
 * of the configuration (hosts, socket path) is read by the first hook that
 * runs (cfg_ensure), so that a program that never uses libcurl does not
 * pay for it; every libc function it calls is a page of libc that such a
 * program may otherwise never touch (hence shim_env_flag(), not getenv()).
 */
__attribute__((constructor)) static void
shim_init(void)
{
	shim_debug_reload();
	if (shim_env_flag("RATETAP_DISABLE") || getauxval(AT_SECURE) != 0 ||
	    resolve_program_defines("ratetapd_no_tap")) {
		shim_debug("pass-through");
		got_restore_start();
		return;
	}
	got_patch_start();
}
