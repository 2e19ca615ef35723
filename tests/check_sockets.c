/*
 * Unit tests of ratetapd's socket set-up (daemon/sockets.c): the private
 * directory, stale and live sockets, the TCP listener's address forms and
 * socket activation.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../daemon/sockets.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/rt-sock-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

START_TEST(a_missing_directory_is_created_0700_and_a_loose_one_refused)
{
	char sub[128], err[256];
	struct stat st;

	path_in(sub, sizeof(sub), "rt");
	ck_assert_int_eq(sock_private_dir(sub, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(chmod(sub, 0770), 0);
	ck_assert_int_eq(sock_private_dir(sub, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "writable by group or others"));
	ck_assert_int_eq(chmod(sub, 0702), 0);
	ck_assert_int_eq(sock_private_dir(sub, err, sizeof(err)), -1);
	ck_assert_int_eq(chmod(sub, 0755), 0);	/* readable is fine */
	ck_assert_int_eq(sock_private_dir(sub, err, sizeof(err)), 0);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(sub, 65534, 65534), 0);
		ck_assert_int_eq(sock_private_dir(sub, err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "owned by uid 65534"));
	}
	path_in(sub, sizeof(sub), "file");
	ck_assert_int_eq(close(creat(sub, 0600)), 0);
	ck_assert_int_eq(sock_private_dir(sub, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a directory"));
}
END_TEST

START_TEST(bound_sockets_are_0600_and_a_live_one_is_not_stolen)
{
	char p[128], err[256];
	struct stat st;
	int fd, fd2, busy;

	path_in(p, sizeof(p), "ingest.sock");
	ck_assert_int_eq(sock_prepare_path(p, &busy, err, sizeof(err)), 0);
	fd = sock_bind_ingest(p, err, sizeof(err));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* alive: refused, flagged busy, left in place */
	ck_assert_int_eq(sock_prepare_path(p, &busy, err, sizeof(err)), -1);
	ck_assert_int_eq(busy, 1);
	ck_assert_int_eq(stat(p, &st), 0);
	/* its owner gone: stale, removed */
	close(fd);
	ck_assert_int_eq(sock_prepare_path(p, &busy, err, sizeof(err)), 0);
	ck_assert_int_eq(busy, 0);
	ck_assert_int_eq(stat(p, &st), -1);
	/* the same for a listening stream socket */
	path_in(p, sizeof(p), "control.sock");
	fd2 = sock_bind_control(p, err, sizeof(err));
	ck_assert_int_ge(fd2, 0);
	ck_assert_int_eq(sock_prepare_path(p, &busy, err, sizeof(err)), -1);
	ck_assert_int_eq(busy, 1);
	close(fd2);
	ck_assert_int_eq(sock_prepare_path(p, &busy, err, sizeof(err)), 0);
}
END_TEST

START_TEST(a_file_where_the_socket_goes_is_left_alone)
{
	char p[128], err[256];
	struct stat st;
	int busy;

	path_in(p, sizeof(p), "ingest.sock");
	ck_assert_int_eq(close(creat(p, 0600)), 0);
	ck_assert_int_eq(sock_prepare_path(p, &busy, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a socket"));
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

START_TEST(a_socket_path_longer_than_sun_path_is_refused)
{
	char p[256], err[512];
	int busy;

	memset(p, 'a', sizeof(p) - 1);
	p[0] = '/';
	p[sizeof(p) - 1] = '\0';
	ck_assert_int_eq(sock_prepare_path(p, &busy, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

START_TEST(the_metrics_listener_takes_port_addr_port_and_ipv6)
{
	char bound[128], err[256];
	int fd;

	fd = sock_listen_tcp("0", bound, sizeof(bound), err, sizeof(err));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(strncmp(bound, "127.0.0.1:", 10), 0);
	ck_assert_str_ne(bound, "127.0.0.1:0");
	close(fd);
	fd = sock_listen_tcp("127.0.0.1:0", bound, sizeof(bound), err,
	    sizeof(err));
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = sock_listen_tcp("[::1]:0", bound, sizeof(bound), err,
	    sizeof(err));
	if (fd >= 0) {		/* only where IPv6 loopback exists */
		ck_assert_int_eq(strncmp(bound, "[::1]:", 6), 0);
		close(fd);
	}
	ck_assert_int_eq(sock_listen_tcp("70000", bound, sizeof(bound), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad port"));
	ck_assert_int_eq(sock_listen_tcp("127.0.0.1:", bound, sizeof(bound),
	    err, sizeof(err)), -1);
	ck_assert_int_eq(sock_listen_tcp(":80", bound, sizeof(bound), err,
	    sizeof(err)), -1);
	ck_assert_int_eq(sock_listen_tcp("[::1", bound, sizeof(bound), err,
	    sizeof(err)), -1);
}
END_TEST

/* Put a datagram and a listening stream socket at fds 3 and 4 (in the
 * given order) and set the LISTEN_* variables as a service manager does. */
static void
pass_fds(int dgram_first, const char *names)
{
	struct sockaddr_un sun;
	char pid[32];
	int d, s;

	d = socket(AF_UNIX, SOCK_DGRAM, 0);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert(d >= 0 && s >= 0);
	/* autobind (an abstract address) so that it can listen */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sun, sizeof(sa_family_t)),
	    0);
	ck_assert_int_eq(listen(s, 4), 0);
	/* move them out of the way first: they may be 3 or 4 already */
	d = fcntl(d, F_DUPFD, 20);
	s = fcntl(s, F_DUPFD, 20);
	ck_assert_int_eq(dup2(dgram_first ? d : s, 3), 3);
	ck_assert_int_eq(dup2(dgram_first ? s : d, 4), 4);
	close(d);
	close(s);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "2", 1);
	if (names != NULL)
		setenv("LISTEN_FDNAMES", names, 1);
	else
		unsetenv("LISTEN_FDNAMES");
}

START_TEST(activation_sockets_are_told_apart_by_type_without_names)
{
	char err[256];
	int ing, ctl, one = 0;
	socklen_t len = sizeof(one);

	pass_fds(0, NULL);	/* stream first */
	ck_assert_int_eq(sock_activation(&ing, &ctl, err, sizeof(err)), 2);
	ck_assert_int_eq(ing, 4);
	ck_assert_int_eq(ctl, 3);
	ck_assert_int_eq(getsockopt(ing, SOL_SOCKET, SO_PASSCRED, &one, &len),
	    0);
	ck_assert_int_eq(one, 1);
	ck_assert_ptr_null(getenv("LISTEN_PID"));
	ck_assert_ptr_null(getenv("LISTEN_FDS"));
	close(3);
	close(4);
}
END_TEST

START_TEST(activation_names_must_match_the_socket_types)
{
	char err[256];
	int ing, ctl;

	pass_fds(1, "ingest:control");
	ck_assert_int_eq(sock_activation(&ing, &ctl, err, sizeof(err)), 2);
	ck_assert_int_eq(ing, 3);
	ck_assert_int_eq(ctl, 4);
	ck_assert_ptr_null(getenv("LISTEN_FDNAMES"));
	close(3);
	close(4);
	pass_fds(1, "control:ingest");	/* swapped: refused */
	ck_assert_int_eq(sock_activation(&ing, &ctl, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "passed fd 3"));
	close(3);
	close(4);
}
END_TEST

START_TEST(activation_for_another_pid_is_ignored)
{
	char err[256];
	int ing, ctl;

	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "2", 1);
	ck_assert_int_eq(sock_activation(&ing, &ctl, err, sizeof(err)), 0);
	ck_assert_int_eq(ing, -1);
	ck_assert_int_eq(ctl, -1);
	ck_assert_ptr_null(getenv("LISTEN_FDS"));
	unsetenv("LISTEN_PID");
	ck_assert_int_eq(sock_activation(&ing, &ctl, err, sizeof(err)), 0);
}
END_TEST

static Suite *
sockets_suite(void)
{
	Suite *s = suite_create("sockets");
	TCase *tc = tcase_create("sockets");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    a_missing_directory_is_created_0700_and_a_loose_one_refused);
	tcase_add_test(tc, bound_sockets_are_0600_and_a_live_one_is_not_stolen);
	tcase_add_test(tc, a_file_where_the_socket_goes_is_left_alone);
	tcase_add_test(tc, a_socket_path_longer_than_sun_path_is_refused);
	tcase_add_test(tc, the_metrics_listener_takes_port_addr_port_and_ipv6);
	tcase_add_test(tc,
	    activation_sockets_are_told_apart_by_type_without_names);
	tcase_add_test(tc, activation_names_must_match_the_socket_types);
	tcase_add_test(tc, activation_for_another_pid_is_ignored);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sockets_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
