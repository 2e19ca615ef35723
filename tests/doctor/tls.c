/*
 * Programs that reach TLS in the ways `ratetap doctor` tells apart, for
 * tests/integration/test_doctor.py; one source, built once per way:
 *   -DOWN_SSL     exports SSL_read and SSL_write itself and carries an
 *                 OpenSSL version string (as Node builds with a bundled
 *                 OpenSSL do)
 *   -DOWN_GNUTLS  exports gnutls_record_recv/send itself
 *   -DGO_LIKE     has a .go.buildinfo section (a Go program)
 *   -DRUST_LIKE   carries Rust's panic paths and rustls' name
 *   -DWITH_SSL    links the shared libssl (-lssl)
 * None of them does any TLS when run.
 */
#include <stdio.h>
#include <string.h>

#ifdef OWN_SSL
const char own_version[] = "OpenSSL 3.0.99 1 Jan 2030";

int SSL_read(void *ssl, void *buf, int num);
int SSL_write(void *ssl, const void *buf, int num);

int
SSL_read(void *ssl, void *buf, int num)
{
	(void)ssl;
	(void)buf;
	return num > 0 ? 0 : -1;
}

int
SSL_write(void *ssl, const void *buf, int num)
{
	(void)ssl;
	(void)buf;
	return num;
}
#endif

#ifdef OWN_GNUTLS
long gnutls_record_recv(void *s, void *data, unsigned long len);
long gnutls_record_send(void *s, const void *data, unsigned long len);

long
gnutls_record_recv(void *s, void *data, unsigned long len)
{
	(void)s;
	(void)data;
	return len > 0 ? 0 : -1;
}

long
gnutls_record_send(void *s, const void *data, unsigned long len)
{
	(void)s;
	(void)data;
	return (long)len;
}
#endif

#ifdef GO_LIKE
__attribute__((section(".go.buildinfo"), used))
static const char buildinfo[32] = "\xff Go buildinf:";
#endif

#ifdef RUST_LIKE
const char rust_panic[] =
    "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/"
    "str/mod.rs";
const char rust_tls[] = "rustls::client::hs";
#endif

#ifdef WITH_SSL
int OPENSSL_init_ssl(unsigned long long opts, const void *settings);
#endif

int
main(int argc, char **argv)
{
	(void)argv;
#ifdef WITH_SSL
	if (argc > 5)		/* never: only links libssl */
		return OPENSSL_init_ssl(0, NULL);
#endif
#ifdef OWN_SSL
	if (argc > 5)
		return SSL_write(NULL, own_version, (int)strlen(own_version));
#endif
#ifdef RUST_LIKE
	if (argc > 5)
		return (int)strlen(rust_panic) + (int)strlen(rust_tls);
#endif
	(void)argc;
	return puts("hello") == EOF;
}
