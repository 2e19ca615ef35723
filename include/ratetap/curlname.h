/*
 * Which file names are a libcurl's, a libssl's or a libgnutls's
 * (common/curlname.c): the one rule the shim (finding each caller's library) and `ratetap doctor` (telling the
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

#define RT_TLS_NONE	0
#define RT_TLS_OPENSSL	1	/* libssl.so* (OpenSSL's, not NSS's libssl3) */
#define RT_TLS_GNUTLS	2	/* libgnutls.so* (not libgnutls-dane, ...) */

/*
 * Which TLS library the base name of name (a path or a soname) is:
 * RT_TLS_OPENSSL for "libssl.so*", RT_TLS_GNUTLS for "libgnutls.so*",
 * RT_TLS_NONE otherwise and for NULL.
 */
int rt_tlslib_name(const char *name);

#endif /* RATETAP_CURLNAME_H */
