/*
 * bench_tls: the TLS layer's costs, measured by tests/bench/bench.py with
 * callgrind (instructions per call, as the slope between two call counts,
 * with and without the shim preloaded).  Built twice from this file:
 * bench_tls (OpenSSL: server and client) and bench_tls_gnutls
 * (-DBENCH_GNUTLS: client only).
 *
 *	bench_tls --serve RESPONSE
 *	bench_tls[_gnutls] --port P --sni NAME (--echo N | --http N)
 *
 * --serve: a TLS 1.3 server on loopback with a self-signed certificate
 * (CN localhost, an EC P-256 key) made at start.  It prints "echo PORT"
 * and "http PORT" on stdout, then serves each connection in a child of its
 * own until the client closes it: on the echo port every record read is
 * written back; on the http port every HTTP/1.1 request (headers, then a
 * Content-Length body) is answered with the bytes of file RESPONSE, in one
 * write.  It sends no session tickets, so that a client's reads carry
 * nothing but the answers.  It runs until it is killed.
 *
 * Client: one connection to 127.0.0.1:P with NAME as SNI (not verified:
 * the handshake falls out of the slope anyway).  --echo N: N round trips
 * of a 1-byte write and a read of the 1-byte answer (SSL_write/SSL_read,
 * gnutls_record_send/gnutls_record_recv).  --http N: N POST requests on
 * the one keep-alive connection, each written at once, each response read
 * to the end of its Content-Length body through a 16 KiB buffer.  Then a
 * close_notify and exit 0; 1 when anything failed (an answer that is not
 * 200 included), 2 on usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef BENCH_GNUTLS
#include <gnutls/gnutls.h>
#else
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#endif

#define BUF_MAX	16384

static const char req_body[] =
    "{\"model\":\"claude-sonnet-4-5-20250929\",\"max_tokens\":64,"
    "\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":"
    "\"Hello\"}]}";

static void
die(const char *what)
{
	fprintf(stderr, "bench_tls: %s\n", what);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_tls --serve RESPONSE\n"
	    "       bench_tls --port P --sni NAME (--echo N | --http N)\n");
	exit(2);
}

/* Offset just past the "\r\n\r\n" ending the header block in p[0..n), or
 * 0 when it is not complete; *clen its Content-Length (0 when none). */
static size_t
head_end(const char *p, size_t n, size_t *clen)
{
	size_t i, end = 0;

	for (i = 0; i + 3 < n; i++)
		if (memcmp(p + i, "\r\n\r\n", 4) == 0) {
			end = i + 4;
			break;
		}
	if (end == 0)
		return 0;
	*clen = 0;
	for (i = 0; i < end; i++) {
		if ((i == 0 || p[i - 1] == '\n') && end - i > 15 &&
		    strncasecmp(p + i, "content-length:", 15) == 0) {
			*clen = (size_t)strtoul(p + i + 15, NULL, 10);
			break;
		}
	}
	return end;
}

static int
tcp_connect(int port)
{
	struct sockaddr_in sa;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		die("connect");
	return fd;
}

/* ---- the client's TLS calls ------------------------------------------- */

#ifdef BENCH_GNUTLS
static gnutls_session_t sess;
static gnutls_certificate_credentials_t cred;

static void
cl_open(int fd, const char *sni)
{
	int r;

	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_init(&sess, GNUTLS_CLIENT) < 0 ||
	    gnutls_set_default_priority(sess) < 0 ||
	    gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, cred) < 0)
		die("gnutls_init");
	if (gnutls_server_name_set(sess, GNUTLS_NAME_DNS, sni,
	    strlen(sni)) < 0)
		die("gnutls_server_name_set");
	gnutls_transport_set_int(sess, fd);
	do
		r = gnutls_handshake(sess);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0)
		die(gnutls_strerror(r));
}

static int
cl_write(const void *p, size_t n)
{
	ssize_t r;

	do
		r = gnutls_record_send(sess, p, n);
	while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
	return r == (ssize_t)n ? 0 : -1;
}

static long
cl_read(void *p, size_t n)
{
	ssize_t r;

	do
		r = gnutls_record_recv(sess, p, n);
	while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
	return r > 0 ? (long)r : -1;
}

static void
cl_close(void)
{
	(void)gnutls_bye(sess, GNUTLS_SHUT_WR);
	gnutls_deinit(sess);
	gnutls_certificate_free_credentials(cred);
}
#else
static SSL_CTX *cctx;
static SSL *cssl;

static void
cl_open(int fd, const char *sni)
{
	if ((cctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new");
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	if ((cssl = SSL_new(cctx)) == NULL || SSL_set_fd(cssl, fd) != 1)
		die("SSL_new");
	if (SSL_set_tlsext_host_name(cssl, sni) != 1)
		die("SNI");
	if (SSL_connect(cssl) != 1)
		die("SSL_connect");
}

static int
cl_write(const void *p, size_t n)
{
	return SSL_write(cssl, p, (int)n) == (int)n ? 0 : -1;
}

static long
cl_read(void *p, size_t n)
{
	int r = SSL_read(cssl, p, (int)n);

	return r > 0 ? r : -1;
}

static void
cl_close(void)
{
	(void)SSL_shutdown(cssl);
	SSL_free(cssl);
	SSL_CTX_free(cctx);
}
#endif

/* N round trips of one byte each way. */
static void
echo(long n)
{
	char c = 'e', got;
	long i;

	for (i = 0; i < n; i++) {
		if (cl_write(&c, 1) == -1)
			die("write");
		if (cl_read(&got, 1) != 1 || got != c)
			die("read");
	}
}

/* N requests on the connection, each response read to its end. */
static void
http(long n, const char *sni, int port)
{
	static char buf[BUF_MAX];
	char req[1024];
	size_t have = 0;
	int len;
	long i;

	len = snprintf(req, sizeof(req),
	    "POST /v1/messages HTTP/1.1\r\nHost: %s:%d\r\n"
	    "User-Agent: bench_tls\r\nAccept: */*\r\n"
	    "content-type: application/json\r\n"
	    "anthropic-version: 2023-06-01\r\n"
	    "Content-Length: %zu\r\n\r\n%s", sni, port,
	    sizeof(req_body) - 1, req_body);
	if (len <= 0 || (size_t)len >= sizeof(req))
		die("request too long");
	for (i = 0; i < n; i++) {
		size_t end = 0, clen = 0;
		long r;

		if (cl_write(req, (size_t)len) == -1)
			die("write");
		for (;;) {
			if (end == 0)
				end = head_end(buf, have, &clen);
			if (end != 0 && have >= end + clen)
				break;
			if (have == sizeof(buf))
				die("response too large");
			if ((r = cl_read(buf + have, sizeof(buf) - have)) < 0)
				die("read");
			have += (size_t)r;
		}
		if (have < 12 || memcmp(buf, "HTTP/1.1 200", 12) != 0)
			die("status not 200");
		/* keep what follows (nothing: one request at a time) */
		memmove(buf, buf + end + clen, have - end - clen);
		have -= end + clen;
	}
}

/* ---- the server (OpenSSL) --------------------------------------------- */

#ifndef BENCH_GNUTLS
static char *response;
static size_t response_len;

static void
load_response(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 ||
	    n > BUF_MAX - 64 || fseek(f, 0, SEEK_SET) != 0 ||
	    (response = malloc((size_t)n)) == NULL ||
	    fread(response, 1, (size_t)n, f) != (size_t)n)
		die("cannot read the response file");
	response_len = (size_t)n;
	fclose(f);
}

static SSL_CTX *
server_ctx(void)
{
	SSL_CTX *ctx;
	EVP_PKEY *key;
	X509 *x;
	X509_NAME *name;

	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (x = X509_new()) == NULL)
		die("key");
	if (X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		die("certificate");
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_sign(x, key, EVP_sha256()) == 0)
		die("certificate signature");
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)
		die("server SSL_CTX");
	(void)SSL_CTX_set_num_tickets(ctx, 0);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static int
listener(int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == -1)
		die("listen");
	*port = ntohs(sa.sin_port);
	return fd;
}

/* One connection, in a child, until the client closes it. */
static void
serve(SSL_CTX *ctx, int fd, int is_http)
{
	static char buf[BUF_MAX];
	SSL *ssl;
	size_t have = 0;
	int r;

	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_accept(ssl) != 1)
		_exit(1);
	for (;;) {
		if (have == sizeof(buf))
			_exit(1);
		if ((r = SSL_read(ssl, buf + have, (int)(sizeof(buf) -
		    have))) <= 0)
			break;
		if (!is_http) {
			if (SSL_write(ssl, buf, r) != r)
				_exit(1);
			continue;
		}
		have += (size_t)r;
		for (;;) {
			size_t clen = 0, end = head_end(buf, have, &clen);

			if (end == 0 || have < end + clen)
				break;
			if (SSL_write(ssl, response, (int)response_len) !=
			    (int)response_len)
				_exit(1);
			memmove(buf, buf + end + clen, have - end - clen);
			have -= end + clen;
		}
	}
	(void)SSL_shutdown(ssl);
	SSL_free(ssl);
	_exit(0);
}

static void
server(const char *path)
{
	SSL_CTX *ctx;
	struct pollfd p[2];
	int port[2], i;

	load_response(path);
	ctx = server_ctx();
	signal(SIGCHLD, SIG_IGN);	/* no zombies */
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 2; i++) {
		p[i].fd = listener(&port[i]);
		p[i].events = POLLIN;
	}
	printf("echo %d\nhttp %d\n", port[0], port[1]);
	fflush(stdout);
	for (;;) {
		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (i = 0; i < 2; i++) {
			int c;
			pid_t pid;

			if (!(p[i].revents & POLLIN))
				continue;
			if ((c = accept(p[i].fd, NULL, NULL)) == -1)
				continue;
			if ((pid = fork()) == 0) {
				close(p[0].fd);
				close(p[1].fd);
				serve(ctx, c, i == 1);
			}
			close(c);
		}
	}
}
#endif

int
main(int argc, char **argv)
{
	const char *sni = NULL;
	long echo_n = -1, http_n = -1;
	int port = 0, i, fd;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--serve") == 0 && v != NULL) {
#ifdef BENCH_GNUTLS
			die("no server in the GnuTLS build");
#else
			server(v);
#endif
		} else if (strcmp(a, "--port") == 0 && v != NULL)
			port = atoi(v);
		else if (strcmp(a, "--sni") == 0 && v != NULL)
			sni = v;
		else if (strcmp(a, "--echo") == 0 && v != NULL)
			echo_n = atol(v);
		else if (strcmp(a, "--http") == 0 && v != NULL)
			http_n = atol(v);
		else
			usage();
		i++;
	}
	if (port <= 0 || port > 65535 || sni == NULL ||
	    (echo_n < 0) == (http_n < 0))
		usage();
	fd = tcp_connect(port);
	cl_open(fd, sni);
	if (echo_n >= 0)
		echo(echo_n);
	else
		http(http_n, sni, port);
	cl_close();
	close(fd);
	return 0;
}
