/*
 * Unit tests of `ratetap run`'s environment handling (cli/run.c): the
 * LD_PRELOAD value it builds and how it finds the shim.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/cli.h"

const char *cli_progname = "ratetap";

#define SHIM "/opt/rt/lib/libratetap.so"

/* A fresh directory under $TMPDIR (or /tmp) named after tag. */
static void
tmpdir(char *buf, size_t len, const char *tag)
{
	const char *t = getenv("TMPDIR");

	ck_assert_int_lt(snprintf(buf, len, "%s/%s.XXXXXX",
	    t != NULL && t[0] == '/' ? t : "/tmp", tag), (int)len);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static void
expect(const char *existing, const char *want)
{
	char *got = cli_preload_prepend(existing, SHIM);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(preload_is_just_the_shim_when_nothing_was_preloaded)
{
	expect(NULL, SHIM);
	expect("", SHIM);
	expect("  : :", SHIM);
}
END_TEST

START_TEST(preload_puts_the_shim_before_existing_entries)
{
	expect("/usr/lib/libfoo.so", SHIM ":/usr/lib/libfoo.so");
	expect("/a.so:/b.so", SHIM ":/a.so:/b.so");
	/* ld.so also splits on blanks: keep every entry */
	expect("/a.so /b.so", SHIM ":/a.so:/b.so");
	expect("::/a.so::", SHIM ":/a.so");
	expect("libbare.so", SHIM ":libbare.so");
}
END_TEST

START_TEST(preload_never_loads_a_shim_twice)
{
	expect(SHIM, SHIM);
	expect("/a.so:" SHIM ":/b.so", SHIM ":/a.so:/b.so");
	/* another copy of the shim elsewhere is dropped too */
	expect("/home/u/build/libratetap.so:/a.so", SHIM ":/a.so");
	expect("libratetap.so", SHIM);
	/* but not a library that merely has a similar name */
	expect("/x/libratetap.so.bak:/x/mylibratetap.so",
	    SHIM ":/x/libratetap.so.bak:/x/mylibratetap.so");
}
END_TEST

START_TEST(preload_handles_long_values)
{
	char *big, *got;
	size_t i, n = 200;

	big = malloc(n * 8 + 1);
	ck_assert_ptr_nonnull(big);
	big[0] = '\0';
	for (i = 0; i < n; i++)
		strcat(big, "/l/x.so:");
	got = cli_preload_prepend(big, SHIM);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(strlen(got), strlen(SHIM) + n * 8);
	ck_assert_int_eq(strncmp(got, SHIM ":/l/x.so:", strlen(SHIM) + 9), 0);
	free(got);
	free(big);
}
END_TEST

START_TEST(shim_comes_from_ratetap_shim_when_set)
{
	char dir[PATH_MAX - 64], path[PATH_MAX];
	char got[PATH_MAX], err[PATH_MAX + 256], cwd[PATH_MAX];
	FILE *f;

	tmpdir(dir, sizeof(dir), "check_cli_run");
	snprintf(path, sizeof(path), "%s/libratetap.so", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);

	setenv("RATETAP_SHIM", path, 1);
	ck_assert_int_eq(cli_find_shim(got, sizeof(got), err, sizeof(err)), 0);
	ck_assert_str_eq(got, path);

	/* a relative path is made absolute (ld.so needs no cwd games) */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	setenv("RATETAP_SHIM", "./libratetap.so", 1);
	ck_assert_int_eq(cli_find_shim(got, sizeof(got), err, sizeof(err)), 0);
	ck_assert_str_eq(got, path);
	ck_assert_int_eq(chdir(cwd), 0);

	/* missing: an error naming the variable, nothing found */
	ck_assert_int_eq(unlink(path), 0);
	setenv("RATETAP_SHIM", path, 1);
	ck_assert_int_eq(cli_find_shim(got, sizeof(got), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "RATETAP_SHIM="));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	ck_assert_int_eq(rmdir(dir), 0);
	unsetenv("RATETAP_SHIM");
}
END_TEST

START_TEST(shim_path_with_a_colon_is_refused)
{
	char dir[PATH_MAX - 64], path[PATH_MAX];
	char got[PATH_MAX], err[PATH_MAX + 256];
	FILE *f;

	tmpdir(dir, sizeof(dir), "check:cli_run");
	snprintf(path, sizeof(path), "%s/libratetap.so", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	setenv("RATETAP_SHIM", path, 1);
	ck_assert_int_eq(cli_find_shim(got, sizeof(got), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "':'"));
	unsetenv("RATETAP_SHIM");
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(shim_is_looked_for_beside_ratetap_then_in_the_libdir)
{
	char got[PATH_MAX], err[PATH_MAX + 256], exe[PATH_MAX];
	char want[PATH_MAX + 32];
	ssize_t n;
	int rc;

	unsetenv("RATETAP_SHIM");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(want, sizeof(want), "%s/libratetap.so", exe);
	rc = cli_find_shim(got, sizeof(got), err, sizeof(err));
	if (access(want, R_OK) == 0) {
		ck_assert_int_eq(rc, 0);
		ck_assert_str_eq(got, want);
	} else if (rc == -1) {
		/* the message names both places looked at */
		ck_assert_ptr_nonnull(strstr(err, exe));
		ck_assert_ptr_nonnull(strstr(err, RATETAP_LIBDIR));
		ck_assert_ptr_nonnull(strstr(err, "RATETAP_SHIM"));
	} else {
		ck_assert_ptr_nonnull(strstr(got, RATETAP_LIBDIR));
	}
}
END_TEST

static Suite *
cli_run_suite(void)
{
	Suite *s = suite_create("cli_run");
	TCase *tc = tcase_create("run");

	tcase_add_test(tc, preload_is_just_the_shim_when_nothing_was_preloaded);
	tcase_add_test(tc, preload_puts_the_shim_before_existing_entries);
	tcase_add_test(tc, preload_never_loads_a_shim_twice);
	tcase_add_test(tc, preload_handles_long_values);
	tcase_add_test(tc, shim_comes_from_ratetap_shim_when_set);
	tcase_add_test(tc, shim_path_with_a_colon_is_refused);
	tcase_add_test(tc, shim_is_looked_for_beside_ratetap_then_in_the_libdir);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cli_run_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
