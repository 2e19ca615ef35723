/*
 * Unit tests of the shared checks of the runtime directory and the files
 * in it (common/safe.c), used by the shim, the daemon and the CLI.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ratetap/safe.h"

static char top[64];
static char err[512];

static void
setup(void)
{
	snprintf(top, sizeof(top), "/tmp/rt-safe-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
}

static void
teardown(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s; rm -rf %s", top, top);
	ck_assert_int_eq(system(cmd), 0);
}

static void
path(char *buf, size_t len, const char *name)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/%s", top, name), (int)len);
}

START_TEST(a_private_directory_of_ours_passes_and_is_made_when_missing)
{
	char d[128];
	struct stat st;

	path(d, sizeof(d), "rt");
	ck_assert_int_eq(rt_dir_check(d, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(rt_dir_ensure(d, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(d, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(rt_dir_check(d, err, sizeof(err)), 0);
}
END_TEST

START_TEST(a_directory_others_may_write_is_refused)
{
	char d[128];

	path(d, sizeof(d), "rt");
	ck_assert_int_eq(mkdir(d, 0700), 0);
	ck_assert_int_eq(chmod(d, 0720), 0);
	ck_assert_int_eq(rt_dir_check(d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "writable by group or others"));
	ck_assert_int_eq(chmod(d, 0702), 0);
	ck_assert_int_eq(rt_dir_ensure(d, err, sizeof(err)), -1);
}
END_TEST

START_TEST(a_parent_others_may_write_without_the_sticky_bit_is_refused)
{
	char p[128], d[160];

	path(p, sizeof(p), "shared");
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(chmod(p, 0777), 0);
	snprintf(d, sizeof(d), "%s/rt", p);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	ck_assert_int_eq(rt_dir_check(d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not sticky"));
	/* a sticky one (as /tmp) is fine */
	ck_assert_int_eq(chmod(p, 01777), 0);
	ck_assert_int_eq(rt_dir_check(d, err, sizeof(err)), 0);
}
END_TEST

START_TEST(symbolic_links_only_of_ours_to_a_private_directory_of_ours)
{
	char real[128], link[128], file[128];

	path(real, sizeof(real), "real");
	path(link, sizeof(link), "rt");
	path(file, sizeof(file), "file");
	ck_assert_int_eq(mkdir(real, 0700), 0);
	ck_assert_int_eq(symlink(real, link), 0);
	ck_assert_int_eq(rt_dir_check(link, err, sizeof(err)), 0);
	ck_assert_int_eq(chmod(real, 0777), 0);
	ck_assert_int_eq(rt_dir_check(link, err, sizeof(err)), -1);
	ck_assert_int_eq(chmod(real, 0700), 0);
	/* to a file, or to nothing */
	unlink(link);
	ck_assert_int_eq(close(open(file, O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_int_eq(symlink(file, link), 0);
	ck_assert_int_eq(rt_dir_check(link, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	unlink(link);
	ck_assert_int_eq(symlink("/nonexistent/x", link), 0);
	ck_assert_int_eq(rt_dir_check(link, err, sizeof(err)), -1);
	if (geteuid() == 0) {
		/* another user's link, or a link to another user's
		   directory */
		unlink(link);
		ck_assert_int_eq(symlink(real, link), 0);
		ck_assert_int_eq(lchown(link, 65534, 65534), 0);
		ck_assert_int_eq(rt_dir_check(link, err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "symbolic link owned by"));
		ck_assert_int_eq(lchown(link, 0, 0), 0);
		ck_assert_int_eq(chown(real, 65534, 65534), 0);
		ck_assert_int_eq(rt_dir_check(link, err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "owned by uid 65534"));
		ck_assert_int_eq(chown(real, 0, 0), 0);
	}
}
END_TEST

START_TEST(only_a_private_regular_file_of_ours_is_opened)
{
	char f[128], lnk[128], fifo[128], hard[128];
	struct stat st;
	int fd;

	path(f, sizeof(f), "j");
	path(lnk, sizeof(lnk), "link");
	path(fifo, sizeof(fifo), "fifo");
	path(hard, sizeof(hard), "hard");
	fd = rt_open_private(f, O_WRONLY | O_CREAT | O_APPEND, 0600, &st, err,
	    sizeof(err));
	ck_assert_int_ge(fd, 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
	ck_assert_int_eq(symlink(f, lnk), 0);
	ck_assert_int_eq(rt_open_private(lnk, O_RDONLY, 0, NULL, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	/* never blocks on a FIFO without a writer */
	ck_assert_int_eq(rt_open_private(fifo, O_RDONLY, 0, NULL, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(chmod(f, 0644), 0);
	ck_assert_int_eq(rt_open_private(f, O_RDONLY, 0, NULL, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(chmod(f, 0600), 0);
	ck_assert_int_eq(link(f, hard), 0);
	ck_assert_int_eq(rt_open_private(f, O_RDONLY, 0, NULL, err,
	    sizeof(err)), -1);
	unlink(hard);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(f, 65534, 65534), 0);
		ck_assert_int_eq(rt_open_private(f, O_RDONLY, 0, NULL, err,
		    sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "owned by uid 65534"));
	}
}
END_TEST

START_TEST(the_peer_of_a_socket_pair_is_ourselves)
{
	int sv[2];
	uid_t uid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(rt_peer_uid(sv[0], &uid), 0);
	ck_assert_uint_eq(uid, geteuid());
	close(sv[0]);
	close(sv[1]);
	ck_assert_int_eq(rt_peer_uid(0x7fff, &uid), -1);
}
END_TEST

START_TEST(dirname_of_paths)
{
	char d[16];

	ck_assert_int_eq(rt_dirname("/a/b.sock", d, sizeof(d)), 0);
	ck_assert_str_eq(d, "/a");
	ck_assert_int_eq(rt_dirname("/b.sock", d, sizeof(d)), 0);
	ck_assert_str_eq(d, "/");
	ck_assert_int_eq(rt_dirname("b.sock", d, sizeof(d)), 0);
	ck_assert_str_eq(d, ".");
	ck_assert_int_eq(rt_dirname("/a-very-long-directory/x", d, sizeof(d)),
	    -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("safe");
	TCase *tc = tcase_create("safe");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    a_private_directory_of_ours_passes_and_is_made_when_missing);
	tcase_add_test(tc, a_directory_others_may_write_is_refused);
	tcase_add_test(tc,
	    a_parent_others_may_write_without_the_sticky_bit_is_refused);
	tcase_add_test(tc,
	    symbolic_links_only_of_ours_to_a_private_directory_of_ours);
	tcase_add_test(tc, only_a_private_regular_file_of_ours_is_opened);
	tcase_add_test(tc, the_peer_of_a_socket_pair_is_ourselves);
	tcase_add_test(tc, dirname_of_paths);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
