/*
 * Unit tests of the TLS layer's connections (shim/tls.c): the lock-free
 * table (insert, lookup, removal, a full window, lookups from threads while
 * another inserts and removes), the decision (SNI or peer address, the
 * port rule, the host string), the serialised calls into the reader and
 * what a forked child does with inherited connections.  The protocol
 * readers are fakes that count their calls.
 */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shim/tls.c"

/* ---- fakes --------------------------------------------------------------- */

struct fake {
	char host[RTP_HOST_LEN];
	int h2;
	size_t out, in;
	int ends, clean, drops;
};

static struct fake last;		/* the last reader freed */
static int opened;

static void *
fake_open(const char *host, int h2)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	snprintf(f->host, sizeof(f->host), "%s", host);
	f->h2 = h2;
	opened++;
	return f;
}

static void *
open1(const char *host)
{
	return fake_open(host, 0);
}

static void *
open2(const char *host)
{
	return fake_open(host, 1);
}

static void
fake_out(void *c, const char *p, size_t n)
{
	(void)p;
	((struct fake *)c)->out += n;
}

static void
fake_in(void *c, const char *p, size_t n)
{
	(void)p;
	((struct fake *)c)->in += n;
}

static void
fake_end(void *c, int clean)
{
	struct fake *f = c;

	f->ends++;
	f->clean = clean;
	last = *f;
	free(f);
}

static void
fake_drop(void *c)
{
	struct fake *f = c;

	f->drops++;
	last = *f;
	free(f);
}

const struct tap_proto h1_proto = { "http/1.1", open1, fake_out, fake_in,
	fake_end, fake_drop };
const struct tap_proto h2_proto = { "h2", open2, fake_out, fake_in,
	fake_end, fake_drop };

/* What the hook list names (never called here). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define STUB(ret, name, ...) ret name(__VA_ARGS__) { abort(); }
STUB(int, SSL_read, struct ssl_st *s, void *b, int n)
STUB(int, SSL_read_ex, struct ssl_st *s, void *b, size_t n, size_t *r)
STUB(int, SSL_peek, struct ssl_st *s, void *b, int n)
STUB(int, SSL_peek_ex, struct ssl_st *s, void *b, size_t n, size_t *r)
STUB(int, SSL_write, struct ssl_st *s, const void *b, int n)
STUB(int, SSL_write_ex, struct ssl_st *s, const void *b, size_t n, size_t *w)
STUB(int, SSL_write_early_data, struct ssl_st *s, const void *b, size_t n,
    size_t *w)
STUB(int, SSL_shutdown, struct ssl_st *s)
STUB(void, SSL_free, struct ssl_st *s)
STUB(ssize_t, gnutls_record_send, struct gnutls_session_int *s,
    const void *d, size_t n)
STUB(ssize_t, gnutls_record_send2, struct gnutls_session_int *s,
    const void *d, size_t n, size_t p, unsigned f)
STUB(ssize_t, gnutls_record_recv, struct gnutls_session_int *s, void *d,
    size_t n)
STUB(ssize_t, gnutls_record_recv_seq, struct gnutls_session_int *s, void *d,
    size_t n, unsigned char *q)
STUB(int, gnutls_bye, struct gnutls_session_int *s, int h)
STUB(void, gnutls_deinit, struct gnutls_session_int *s)
STUB(int, gnutls_server_name_set, struct gnutls_session_int *s, int t,
    const void *n, size_t l)
#pragma GCC diagnostic pop

/* config.c asks it whether this is ratetapd */
int
resolve_program_defines(const char *name)
{
	(void)name;
	return 0;
}

static void
hosts(const char *list)
{
	setenv("RATETAP_HOSTS", list, 1);
	unsetenv("RATETAP_DISABLE");
	cfg_load();
}

/* A key: any distinct address, as an SSL* would be. */
static const void *
key(uintptr_t i)
{
	return (const void *)(uintptr_t)(0x7f0000001000 + i * 0x4d0);
}

static struct tls_facts
sni(const char *name)
{
	struct tls_facts f = { name, -1, 0, 0, NULL };

	return f;
}

/* A TCP connection to a listener on 127.0.0.1: *cfd, and its port. */
static int
loopback(int *cfd, int *lfd)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(*lfd, 0);
	ck_assert_int_eq(bind(*lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(*lfd, 1), 0);
	ck_assert_int_eq(getsockname(*lfd, (struct sockaddr *)&sa, &sl), 0);
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(*cfd, (struct sockaddr *)&sa, sizeof(sa)),
	    0);
	return ntohs(sa.sin_port);
}

/* ---- the decision -------------------------------------------------------- */

START_TEST(server_names_are_compared_as_urls_are)
{
	char n[CFG_HOST_MAX];

	ck_assert_int_eq(tls_name_norm("API.Anthropic.COM.", n, sizeof(n)), 0);
	ck_assert_str_eq(n, "api.anthropic.com");
	ck_assert_int_eq(tls_name_norm("", n, sizeof(n)), -1);
	ck_assert_int_eq(tls_name_norm(NULL, n, sizeof(n)), -1);
	ck_assert_int_eq(tls_name_norm("abcdef", n, 4), -1);
}
END_TEST

START_TEST(the_host_string_is_the_libcurl_layers)
{
	char h[RTP_HOST_LEN];

	hosts("api.anthropic.com,localhost:8443,[::1]");
	ck_assert_int_eq(tls_judge("api.anthropic.com", 443, h, sizeof(h)), 1);
	ck_assert_str_eq(h, "api.anthropic.com");	/* https://host/ */
	ck_assert_int_eq(tls_judge("api.anthropic.com", 0, h, sizeof(h)), 1);
	ck_assert_str_eq(h, "api.anthropic.com");	/* port unknown */
	ck_assert_int_eq(tls_judge("localhost", 0, h, sizeof(h)), 1);
	ck_assert_str_eq(h, "localhost:8443");	/* the listed port */
	ck_assert_int_eq(tls_judge("api.anthropic.com", 8443, h, sizeof(h)),
	    1);
	ck_assert_str_eq(h, "api.anthropic.com:8443");
	ck_assert_int_eq(tls_judge("localhost", 8443, h, sizeof(h)), 1);
	ck_assert_str_eq(h, "localhost:8443");
	ck_assert_int_eq(tls_judge("localhost", 443, h, sizeof(h)), 0);
	ck_assert_int_eq(tls_judge("[::1]", 9000, h, sizeof(h)), 1);
	ck_assert_str_eq(h, "[::1]:9000");
	ck_assert_int_eq(tls_judge("example.com", 443, h, sizeof(h)), 0);
	ck_assert(tls_name_listed("localhost"));
	ck_assert(!tls_name_listed("localhost.localdomain"));
}
END_TEST

START_TEST(sni_decides_and_the_port_comes_from_the_socket)
{
	int cfd, lfd, port;
	char list[64], want[64];
	struct tls_facts f;
	struct tls_conn *c;

	port = loopback(&cfd, &lfd);
	snprintf(list, sizeof(list), "localhost:%d", port);
	hosts(list);
	f = sni("LOCALHOST");
	f.fd = cfd;
	opened = 0;
	c = tls_decide(key(1), &f);
	ck_assert_ptr_ne(c, TLS_UNTAPPED);
	ck_assert_ptr_eq(tls_find(key(1)), c);
	ck_assert_int_eq(opened, 1);
	snprintf(want, sizeof(want), "localhost:%d", port);
	ck_assert_str_eq(((struct fake *)c->rd)->host, want);
	tls_forget(key(1));
	ck_assert_int_eq(last.ends, 1);
	ck_assert_int_eq(last.clean, 0);
	ck_assert_ptr_null(tls_find(key(1)));
	/* without a socket (memory BIOs) the port is the listed one */
	f.fd = -1;
	c = tls_decide(key(2), &f);
	ck_assert_ptr_ne(c, TLS_UNTAPPED);
	ck_assert_str_eq(((struct fake *)c->rd)->host, want);
	tls_forget(key(2));
	/* a name not listed: no tap, socket or not */
	hosts("api.anthropic.com");
	ck_assert_ptr_eq(tls_decide(key(3), &f), TLS_UNTAPPED);
	tls_forget(key(3));
	close(cfd);
	close(lfd);
}
END_TEST

START_TEST(without_sni_the_peer_address_decides)
{
	int cfd, lfd, port;
	char list[64], want[64];
	struct tls_facts f = { NULL, -1, 0, 0, NULL };
	struct tls_conn *c;

	port = loopback(&cfd, &lfd);
	snprintf(list, sizeof(list), "127.0.0.1:%d", port);
	hosts(list);
	f.fd = cfd;
	c = tls_decide(key(3), &f);
	ck_assert_ptr_ne(c, TLS_UNTAPPED);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	ck_assert_str_eq(((struct fake *)c->rd)->host, want);
	tls_forget(key(3));
	/* no socket, no name: untapped */
	f.fd = -1;
	ck_assert_ptr_eq(tls_decide(key(4), &f), TLS_UNTAPPED);
	tls_forget(key(4));
	/* a listed address does not tap a connection that sent a name */
	f = sni("localhost");
	f.fd = cfd;
	ck_assert_ptr_eq(tls_decide(key(5), &f), TLS_UNTAPPED);
	tls_forget(key(5));
	close(cfd);
	close(lfd);
}
END_TEST

START_TEST(alpn_h2_picks_the_h2_reader_and_servers_are_not_tapped)
{
	struct tls_facts f = sni("api.anthropic.com");
	struct tls_conn *c;

	hosts("api.anthropic.com");
	f.h2 = 1;
	c = tls_decide(key(6), &f);
	ck_assert_ptr_ne(c, TLS_UNTAPPED);
	ck_assert_ptr_eq(c->proto, &h2_proto);
	ck_assert_int_eq(((struct fake *)c->rd)->h2, 1);
	tls_forget(key(6));
	f.h2 = 0;
	c = tls_decide(key(7), &f);
	ck_assert_ptr_eq(c->proto, &h1_proto);
	tls_forget(key(7));
	f.server = 1;
	ck_assert_ptr_eq(tls_decide(key(8), &f), TLS_UNTAPPED);
	tls_forget(key(8));
}
END_TEST

START_TEST(the_first_decision_wins)
{
	struct tls_facts f = sni("api.anthropic.com");
	struct tls_conn *c;

	static const int lib_a = 1, lib_b = 2;	/* two function tables */
	const void *fns;

	hosts("api.anthropic.com");
	tls_disown(key(9), &lib_a);		/* libcurl's */
	ck_assert_ptr_eq(tls_find_fns(key(9), &fns), TLS_UNTAPPED);
	ck_assert_ptr_eq(fns, &lib_a);
	opened = 0;
	memset(&last, 0, sizeof(last));
	f.fns = &lib_b;
	c = tls_decide(key(9), &f);
	ck_assert_ptr_eq(c, TLS_UNTAPPED);
	/* the loser's reader was opened and dropped, unreported */
	ck_assert_int_eq(opened, 1);
	ck_assert_int_eq(last.drops, 1);
	ck_assert_int_eq(last.ends, 0);
	ck_assert_ptr_eq(tls_find_fns(key(9), &fns), TLS_UNTAPPED);
	ck_assert_ptr_eq(fns, &lib_a);		/* the first one's too */
	tls_forget(key(9));
	ck_assert_ptr_null(tls_find_fns(key(9), &fns));
	ck_assert_ptr_null(fns);
	/* a tapped entry keeps the functions it was decided with */
	c = tls_decide(key(9), &f);
	ck_assert_ptr_ne(c, TLS_UNTAPPED);
	ck_assert_ptr_eq(tls_find_fns(key(9), &fns), c);
	ck_assert_ptr_eq(fns, &lib_b);
	tls_forget(key(9));
}
END_TEST

/* ---- feeding ------------------------------------------------------------- */

START_TEST(bytes_go_to_the_reader_until_it_ends_once)
{
	struct tls_facts f = sni("api.anthropic.com");
	struct tls_conn *c;

	hosts("api.anthropic.com");
	c = tls_decide(key(10), &f);
	tls_out(c, "GET / HTTP/1.1\r\n\r\n", 18);
	tls_in(c, "HTTP/1.1 200 OK\r\n", 17);
	tls_in(c, "\r\n", 2);
	memset(&last, 0, sizeof(last));
	tls_end(c, 1);
	ck_assert_int_eq(last.ends, 1);
	ck_assert_int_eq(last.clean, 1);
	ck_assert_uint_eq(last.out, 18);
	ck_assert_uint_eq(last.in, 19);
	memset(&last, 0, sizeof(last));
	tls_in(c, "x", 1);			/* after the end: ignored */
	tls_end(c, 0);
	tls_forget(key(10));
	ck_assert_int_eq(last.ends, 0);
	ck_assert_ptr_null(tls_find(key(10)));
}
END_TEST

/* ---- the table ----------------------------------------------------------- */

START_TEST(a_full_window_passes_connections_through_unrecorded)
{
	struct tls_facts f = sni("example.com");	/* untapped */
	size_t i, recorded = 0, n = 3 * TLS_SLOTS;

	hosts("api.anthropic.com");
	for (i = 0; i < n; i++)
		if (tls_decide(key(1000 + i), &f) == TLS_UNTAPPED &&
		    tls_find(key(1000 + i)) == TLS_UNTAPPED)
			recorded++;
	ck_assert_uint_eq(recorded, n);		/* all untapped either way */
	for (i = 0, recorded = 0; i < TLS_SLOTS; i++)
		if (atomic_load(&tls_slots[i].key) > TLS_TOMB)
			recorded++;
	ck_assert_uint_le(recorded, TLS_SLOTS);
	ck_assert_uint_ge(recorded, TLS_SLOTS / 2);
	for (i = 0; i < n; i++)
		tls_forget(key(1000 + i));
	for (i = 0; i < TLS_SLOTS; i++)
		ck_assert_uint_le(atomic_load(&tls_slots[i].key), TLS_TOMB);
	/* tombstones are reused: a tapped connection still gets its entry */
	f = sni("api.anthropic.com");
	ck_assert_ptr_ne(tls_decide(key(5), &f), TLS_UNTAPPED);
	ck_assert_ptr_ne(tls_find(key(5)), TLS_UNTAPPED);
	tls_forget(key(5));
}
END_TEST

static _Atomic int stop;
static _Atomic long wrong;

static void *
reader(void *arg)
{
	uintptr_t base = (uintptr_t)arg;
	long loops = 0;

	while (!atomic_load(&stop) || loops < 1000) {
		uintptr_t i;

		for (i = 0; i < 64; i++)
			if (tls_find(key(base + i)) != TLS_UNTAPPED)
				atomic_fetch_add(&wrong, 1);
		loops++;
	}
	return NULL;
}

START_TEST(lookups_from_threads_while_another_inserts_and_removes)
{
	struct tls_facts f = sni("example.com");
	pthread_t t[4];
	uintptr_t i;
	int k, round;

	hosts("api.anthropic.com");
	for (k = 0; k < 4; k++)
		for (i = 0; i < 64; i++)
			ck_assert_ptr_eq(tls_decide(key(20000 + 100 * k + i),
			    &f), TLS_UNTAPPED);
	atomic_store(&stop, 0);
	atomic_store(&wrong, 0);
	for (k = 0; k < 4; k++)
		ck_assert_int_eq(pthread_create(&t[k], NULL, reader,
		    (void *)(uintptr_t)(20000 + 100 * k)), 0);
	for (round = 0; round < 200; round++) {
		for (i = 0; i < 512; i++)
			(void)tls_decide(key(40000 + i), &f);
		for (i = 0; i < 512; i++)
			tls_forget(key(40000 + i));
	}
	atomic_store(&stop, 1);
	for (k = 0; k < 4; k++)
		pthread_join(t[k], NULL);
	ck_assert_int_eq(atomic_load(&wrong), 0);
	for (k = 0; k < 4; k++)
		for (i = 0; i < 64; i++)
			tls_forget(key(20000 + 100 * k + i));
}
END_TEST

/* ---- fork ---------------------------------------------------------------- */

START_TEST(a_forked_child_drops_what_it_inherited)
{
	struct tls_facts f = sni("api.anthropic.com");
	struct tls_conn *c;
	pid_t pid;
	int st;

	hosts("api.anthropic.com");
	c = tls_decide(key(11), &f);
	ck_assert_ptr_ne(c, TLS_UNTAPPED);
	tls_out(c, "POST", 4);
	memset(&last, 0, sizeof(last));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* dropped (nothing reported), then untapped: a free ends
		   nothing */
		int ok = last.drops == 1 && last.ends == 0 &&
		    tls_find(key(11)) == TLS_UNTAPPED;

		memset(&last, 0, sizeof(last));
		tls_forget(key(11));
		_exit(ok && last.ends == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the parent's is untouched */
	ck_assert_ptr_eq(tls_find(key(11)), c);
	tls_forget(key(11));
	ck_assert_int_eq(last.ends, 1);
	ck_assert_uint_eq(last.out, 4);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, server_names_are_compared_as_urls_are);
	tcase_add_test(tc, the_host_string_is_the_libcurl_layers);
	tcase_add_test(tc, sni_decides_and_the_port_comes_from_the_socket);
	tcase_add_test(tc, without_sni_the_peer_address_decides);
	tcase_add_test(tc,
	    alpn_h2_picks_the_h2_reader_and_servers_are_not_tapped);
	tcase_add_test(tc, the_first_decision_wins);
	tcase_add_test(tc, bytes_go_to_the_reader_until_it_ends_once);
	tcase_add_test(tc, a_full_window_passes_connections_through_unrecorded);
	tcase_add_test(tc,
	    lookups_from_threads_while_another_inserts_and_removes);
	tcase_add_test(tc, a_forked_child_drops_what_it_inherited);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tls_suite());
	int failed;

	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
