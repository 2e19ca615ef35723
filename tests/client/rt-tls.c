/*
 * rt-tls: ratetap's own TLS test client, without libcurl: HTTP/1.1 POST
 * requests to the mock API over one keep-alive TLS connection, built
 * twice: with OpenSSL (rt-tls-ossl) and with GnuTLS (rt-tls-gnutls,
 * -DRT_GNUTLS).  Writes each response body and a newline to stdout, so
 * that runs with and without the shim can be compared byte for byte.
 *
 *   rt-tls --host NAME --port P --cacert FILE [-n N] [--read1] [--peek]
 *          [--nonblock] [--partial] [--ex] [--fork] [--pad BYTES]
 *          [--sndbuf BYTES] [--close]
 *
 * It always connects to 127.0.0.1:P; NAME is the name it verifies and,
 * unless it is an IP address, sends as SNI.  --read1: reads of 1 byte.
 * --peek (OpenSSL): SSL_peek the same count before each read.
 * --nonblock: a non-blocking socket, WANT_READ/WANT_WRITE (GNUTLS_E_AGAIN)
 * retried after poll().  --partial (OpenSSL): SSL_MODE_ENABLE_PARTIAL_WRITE
 * (with --nonblock and a small --sndbuf, writes return less than asked;
 * GnuTLS sends at most one record per call anyway); the number of short
 * writes goes to stderr.  --ex (OpenSSL): SSL_read_ex/SSL_write_ex.
 * --fork: after the first request is written, fork; the child frees its
 * copy of the connection and exits, the parent reads the response.
 * --pad: that many bytes of filler in each request's message.  --close:
 * the last request asks for Connection: close and the client reads until
 * the server's close_notify.
 *
 * Exit status 0 when every response was 200, 1 otherwise, 2 on usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#ifdef RT_GNUTLS
#include <gnutls/gnutls.h>
#else
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

static struct {
	const char *host, *cacert;
	int port, n, read1, peek, nonblock, partial, ex, fork, pad, sndbuf;
	int close;
} o = { .n = 1 };

static int fd = -1;
static int closing;	/* --close: an end without close_notify is an end */
static long short_writes;
#ifdef RT_GNUTLS
static gnutls_session_t sess;
static gnutls_certificate_credentials_t cred;
#else
static SSL_CTX *ctx;
static SSL *ssl;
#endif

static void
die(const char *what)
{
	fprintf(stderr, "rt-tls: %s\n", what);
	exit(1);
}

static void
wait_fd(int events)
{
	struct pollfd p = { .fd = fd, .events = (short)events };

	(void)poll(&p, 1, 10000);
}

static int
is_ip(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

static void
tls_open(void)
{
	struct sockaddr_in sa;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	if (o.sndbuf > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o.sndbuf,
		    sizeof(o.sndbuf));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)o.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		die("connect");
	if (o.nonblock)
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
#ifdef RT_GNUTLS
	int r;

	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_trust_file(cred, o.cacert,
	    GNUTLS_X509_FMT_PEM) <= 0)
		die("credentials");
	if (gnutls_init(&sess, GNUTLS_CLIENT |
	    (o.nonblock ? GNUTLS_NONBLOCK : 0)) < 0 ||
	    gnutls_set_default_priority(sess) < 0 ||
	    gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, cred) < 0)
		die("gnutls_init");
	if (!is_ip(o.host) && gnutls_server_name_set(sess, GNUTLS_NAME_DNS,
	    o.host, strlen(o.host)) < 0)
		die("server name");
	gnutls_session_set_verify_cert(sess, o.host, 0);
	gnutls_transport_set_int(sess, fd);
	do {
		r = gnutls_handshake(sess);
		if (r == GNUTLS_E_AGAIN)
			wait_fd(gnutls_record_get_direction(sess) ? POLLOUT :
			    POLLIN);
	} while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0)
		die(gnutls_strerror(r));
#else
	int r, e;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_load_verify_locations(ctx, o.cacert, NULL) != 1)
		die("SSL_CTX");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)
		die("SSL_new");
	if (o.partial)
		SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (!is_ip(o.host) && SSL_set_tlsext_host_name(ssl, o.host) != 1)
		die("SNI");
	if (SSL_set1_host(ssl, o.host) != 1)
		die("SSL_set1_host");
	while ((r = SSL_connect(ssl)) != 1) {
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			wait_fd(POLLIN);
		else if (e == SSL_ERROR_WANT_WRITE)
			wait_fd(POLLOUT);
		else {
			ERR_print_errors_fp(stderr);
			die("SSL_connect");
		}
	}
#endif
}

/* Write all of p, as the options say. */
static void
put(const char *p, size_t n)
{
	while (n > 0) {
		size_t done = 0;
#ifdef RT_GNUTLS
		ssize_t r = gnutls_record_send(sess, p, n);

		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			wait_fd(POLLOUT);
			continue;
		}
		if (r < 0)
			die(gnutls_strerror((int)r));
		done = (size_t)r;
#else
		int r, e;

		if (o.ex) {
			r = SSL_write_ex(ssl, p, n, &done);
		} else {
			r = SSL_write(ssl, p, n > 1 << 30 ? 1 << 30 : (int)n);
			if (r > 0)
				done = (size_t)r;
		}
		if (r <= 0) {
			e = SSL_get_error(ssl, r);
			if (e == SSL_ERROR_WANT_WRITE) {
				wait_fd(POLLOUT);
				continue;
			}
			if (e == SSL_ERROR_WANT_READ) {
				wait_fd(POLLIN);
				continue;
			}
			die("SSL_write");
		}
#endif
		if (done < n)
			short_writes++;
		p += done;
		n -= done;
	}
}

/* Read up to max bytes (1 with --read1); 0 at the peer's close_notify. */
static size_t
get(char *buf, size_t max)
{
	if (o.read1)
		max = 1;
	for (;;) {
#ifdef RT_GNUTLS
		ssize_t r = gnutls_record_recv(sess, buf, max);

		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			wait_fd(POLLIN);
			continue;
		}
		if (r == GNUTLS_E_PREMATURE_TERMINATION && closing)
			return 0;
		if (r < 0)
			die(gnutls_strerror((int)r));
		return (size_t)r;
#else
		size_t got = 0;
		int r, e;

		if (o.peek) {
			char pk[4096];
			size_t pn = max < sizeof(pk) ? max : sizeof(pk);

			r = o.ex ? SSL_peek_ex(ssl, pk, pn, &got) :
			    SSL_peek(ssl, pk, (int)pn);
			if (r <= 0) {
				e = SSL_get_error(ssl, r);
				if (e == SSL_ERROR_WANT_READ) {
					wait_fd(POLLIN);
					continue;
				}
				if (e == SSL_ERROR_ZERO_RETURN)
					return 0;
				die("SSL_peek");
			}
			max = o.ex ? got : (size_t)r;
		}
		if (o.ex)
			r = SSL_read_ex(ssl, buf, max, &got);
		else if ((r = SSL_read(ssl, buf, (int)max)) > 0)
			got = (size_t)r;
		if (r > 0)
			return got;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			wait_fd(POLLIN);
			continue;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			wait_fd(POLLOUT);
			continue;
		}
		if (e == SSL_ERROR_ZERO_RETURN || (closing &&
		    (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL)))
			return 0;
		die("SSL_read");
#endif
	}
}

static char in[1 << 16];
static size_t inlen;

/* One response: its status; its body to stdout. */
static int
response(int to_close)
{
	char *end, *cl;
	size_t hl, need, n;
	int status = 0;
	long len = -1;

	while ((end = memmem(in, inlen, "\r\n\r\n", 4)) == NULL) {
		if (inlen == sizeof(in) || (n = get(in + inlen,
		    sizeof(in) - inlen)) == 0)
			die("headers");
		inlen += n;
	}
	hl = (size_t)(end - in) + 4;
	*end = '\0';
	if (sscanf(in, "HTTP/1.%*d %d", &status) != 1)
		die("status line");
	for (cl = in; (cl = strchr(cl, '\n')) != NULL; cl++)
		if (strncasecmp(cl + 1, "content-length:", 15) == 0)
			len = strtol(cl + 16, NULL, 10);
	memmove(in, in + hl, inlen - hl);
	inlen -= hl;
	if (len < 0 && !to_close)
		die("no Content-Length");
	need = len < 0 ? (size_t)-1 : (size_t)len;
	for (;;) {
		size_t k = inlen < need ? inlen : need;

		fwrite(in, 1, k, stdout);
		memmove(in, in + k, inlen - k);
		inlen -= k;
		need -= k;
		if (need == 0)
			break;
		if ((n = get(in, sizeof(in))) == 0) {
			if (len < 0)
				break;
			die("body cut");
		}
		inlen = n;
	}
	if (to_close) {	/* until the server closes */
		closing = 1;
		while (get(in, sizeof(in)) > 0)
			;
	}
	fputc('\n', stdout);
	fflush(stdout);
	return status;
}

static void
request(int i)
{
	char head[512], *body;
	size_t bl;
	int hl;

	bl = (size_t)o.pad + 200;
	if ((body = malloc(bl)) == NULL)
		die("malloc");
	bl = (size_t)snprintf(body, bl, "{\"model\":\"claude-sonnet-4-5\","
	    "\"max_tokens\":%d,\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"hi %d ", 5 + i, i);
	memset(body + bl, 'x', (size_t)o.pad);
	bl += (size_t)o.pad;
	bl += (size_t)sprintf(body + bl, "\"}]}");
	hl = snprintf(head, sizeof(head), "POST /v1/messages HTTP/1.1\r\n"
	    "Host: %s:%d\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n%s\r\n", o.host, o.port, bl,
	    o.close && i == o.n - 1 ? "Connection: close\r\n" : "");
	put(head, (size_t)hl);
	put(body, bl);
	free(body);
}

int
main(int argc, char **argv)
{
	int i, bad = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--host") == 0 && v)
			o.host = argv[++i];
		else if (strcmp(a, "--port") == 0 && v)
			o.port = atoi(argv[++i]);
		else if (strcmp(a, "--cacert") == 0 && v)
			o.cacert = argv[++i];
		else if (strcmp(a, "-n") == 0 && v)
			o.n = atoi(argv[++i]);
		else if (strcmp(a, "--pad") == 0 && v)
			o.pad = atoi(argv[++i]);
		else if (strcmp(a, "--sndbuf") == 0 && v)
			o.sndbuf = atoi(argv[++i]);
		else if (strcmp(a, "--read1") == 0)
			o.read1 = 1;
		else if (strcmp(a, "--peek") == 0)
			o.peek = 1;
		else if (strcmp(a, "--nonblock") == 0)
			o.nonblock = 1;
		else if (strcmp(a, "--partial") == 0)
			o.partial = 1;
		else if (strcmp(a, "--ex") == 0)
			o.ex = 1;
		else if (strcmp(a, "--fork") == 0)
			o.fork = 1;
		else if (strcmp(a, "--close") == 0)
			o.close = 1;
		else {
			fprintf(stderr, "usage: rt-tls --host NAME --port P "
			    "--cacert FILE [-n N] [options]\n");
			return 2;
		}
	}
	if (o.host == NULL || o.cacert == NULL || o.port <= 0 || o.n < 1)
		return 2;
	tls_open();
	for (i = 0; i < o.n; i++) {
		request(i);
		if (o.fork && i == 0) {
			pid_t pid;
			int st;

			fflush(stdout);
			if ((pid = fork()) == -1)
				die("fork");
			if (pid == 0) {
#ifdef RT_GNUTLS
				gnutls_deinit(sess);
#else
				SSL_free(ssl);
#endif
				exit(0);
			}
			(void)waitpid(pid, &st, 0);
		}
		if (response(o.close && i == o.n - 1) != 200)
			bad = 1;
	}
#ifdef RT_GNUTLS
	if (!o.close)
		(void)gnutls_bye(sess, GNUTLS_SHUT_WR);
	gnutls_deinit(sess);
	gnutls_certificate_free_credentials(cred);
#else
	if (!o.close)
		(void)SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
#endif
	close(fd);
	if (o.partial)
		fprintf(stderr, "short writes: %ld\n", short_writes);
	return bad;
}
