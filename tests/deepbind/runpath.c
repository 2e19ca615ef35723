/*
 * A shared library with a DT_RUNPATH (or DT_RPATH) of $ORIGIN/plug that
 * dlopen()s a library by file name: check_resolve tests that the shim's
 * dlopen hook still searches the calling object's own path.
 */
#include <dlfcn.h>

__attribute__((visibility("default"))) void *rp_open(const char *name);

/* dlopen(name) from this object.  Not a tail call: dlopen() judges its
 * caller by its return address, which must lie in this object. */
void *
rp_open(const char *name)
{
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);

	__asm__ volatile("" : : "r"(h) : "memory");
	return h;
}
