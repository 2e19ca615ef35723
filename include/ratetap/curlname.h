/*
 * Which file names are a libcurl's (common/curlname.c): the one rule the
 * shim (finding each caller's libcurl) and `ratetap doctor` (telling the
 * user what it found) must agree on.  libc-free: it runs at start-up in
 * every program the shim is preloaded into.
 */
#ifndef RATETAP_CURLNAME_H
#define RATETAP_CURLNAME_H

/*
 * 1 when the base name of name (a path or a soname) is a libcurl's:
 * "libcurl.so*" or "libcurl-<flavour>.so*" (and "libcurl.<x>.so"), not
 * "libcurlpp.so" nor "libcurl.a"; 0 otherwise and for NULL.
 */
int rt_libcurl_name(const char *name);

#endif /* RATETAP_CURLNAME_H */
