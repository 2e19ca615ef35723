/*
 * Unit tests of the shim's resolver: shim/resolve.c (each caller's real
 * libcurl), shim/got.c (GOT patching) and shim/dlhook.c (the dlopen hook).
 *
 * The resolver's sources are included, so in this program "the shim" is
 * the test executable itself: the fake hooks below lie inside it, and
 * libcurl (linked normally) is a separate object.  The libraries loaded
 * here are built by tests/resolve.mk into deepbind/ beside this program;
 * every test runs in its own forked child (CK_FORK), so each starts with
 * none of them loaded.
 */
#include <check.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../shim/log.c"
#include "../shim/resolve.c"
#include "../shim/got.c"
#include "../shim/dlhook.c"

#define FAKE_RC	((CURLcode)77)

/*
 * Sanitizer runtimes refuse dlopen(RTLD_DEEPBIND) in an instrumented
 * program; there the tests load their objects without it, which still
 * exercises the same patching (the GOT is patched either way), only not the
 * binding rules that make it necessary (test_shim_deepbind covers those
 * with uninstrumented programs).
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEST_DEEPBIND	0
#else
#define TEST_DEEPBIND	RTLD_DEEPBIND
#endif

static int fake_calls;

static CURLcode
fake_perform(CURL *easy)
{
	(void)easy;
	fake_calls++;
	return FAKE_RC;
}

static CURLMcode
fake_cleanup(CURLM *m)
{
	(void)m;
	return CURLM_OK;
}

/* The configuration (config.c), faked: the shim is on. */
int
cfg_off(void)
{
	return 0;
}

const struct resolve_hook resolve_hooks[] = {
	{ "curl_easy_perform", (void *)(uintptr_t)fake_perform },
	{ "curl_multi_cleanup", (void *)(uintptr_t)fake_cleanup },
	{ NULL, NULL }
};

const struct resolve_hook resolve_tls_hooks[] = {
	{ NULL, NULL }
};

typedef void *(*addr_fn)(void);
typedef int (*call_fn)(void *);
typedef void *(*open_fn)(const char *);

static char dbdir[PATH_MAX];

static void
setup(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	ck_assert_ptr_nonnull(slash);
	*slash = '\0';
	ck_assert_int_lt(snprintf(dbdir, sizeof(dbdir), "%s/deepbind", exe),
	    (int)sizeof(dbdir));
	unsetenv("RATETAP_DISABLE");
	fake_calls = 0;
}

/* Load build/tests/deepbind/NAME with the real dlopen (never patched by
 * the loading itself). */
static void *
load(const char *name, int mode)
{
	char path[PATH_MAX];
	void *h;

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dbdir, name),
	    (int)sizeof(path));
	h = dlhook_real_dlopen(path, mode);
	ck_assert_msg(h != NULL, "dlopen %s: %s", path, dlerror());
	return h;
}

static void *
sym(void *h, const char *name)
{
	void *p = dlsym(h, name);

	ck_assert_msg(p != NULL, "dlsym %s: %s", name, dlerror());
	return p;
}

static const struct link_map *
map_of(const void *addr)
{
	Dl_info info;
	void *lm = NULL;

	ck_assert_int_ne(dladdr1(addr, &info, &lm, RTLD_DL_LINKMAP), 0);
	return lm;
}

static void
anchor(void)
{
}

/* Protection bits of the page holding addr, from /proc/self/maps. */
static char
page_writable(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], perms[8];
	unsigned long lo, hi;
	char w = '?';

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			w = perms[1];
			break;
		}
	}
	fclose(f);
	return w;
}

/* Where this object's GOT slot for curl_easy_perform is, found by the
 * test itself from the relocations (R_*_GLOB_DAT or JUMP_SLOT). */
static void **
slot_of(void *handle, const char *name)
{
	struct link_map *lm = NULL;
	struct resolve_dyn d;
	const void *tabs[3];
	size_t sizes[3], i, j;

	ck_assert_int_eq(dlinfo(handle, RTLD_DI_LINKMAP, &lm), 0);
	ck_assert_int_eq(resolve_dyn_read(lm->l_addr, lm->l_ld, &d), 0);
	tabs[0] = d.jmprel;
	sizes[0] = d.pltrelsz;
	tabs[1] = d.rela;
	sizes[1] = d.relasz;
	tabs[2] = NULL;
	sizes[2] = 0;
	for (i = 0; i < 2; i++) {
		const ElfW(Rela) *r = tabs[i];

		for (j = 0; r != NULL && j < sizes[i] / sizeof(*r); j++) {
			size_t s = R_SYM(r[j].r_info);
			const char *n;

			if (s == 0)
				continue;
			n = resolve_dyn_str(&d, d.symtab[s].st_name);
			if (n != NULL && strcmp(n, name) == 0)
				return (void **)(lm->l_addr + r[j].r_offset);
		}
	}
	ck_abort_msg("no relocation for %s", name);
	return NULL;
}

START_TEST(resolves_the_programs_libcurl_for_a_caller_in_the_program)
{
	const struct curl_fns *f;

	f = resolve_fns((const void *)(uintptr_t)anchor);
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_eq((void *)(uintptr_t)f->easy_perform,
	    (void *)(uintptr_t)curl_easy_perform);
	ck_assert_ptr_eq((void *)(uintptr_t)f->multi_info_read,
	    (void *)(uintptr_t)curl_multi_info_read);
	ck_assert_ptr_nonnull((void *)(uintptr_t)f->easy_header);
	ck_assert_ptr_eq((void *)(uintptr_t)f->easy_init,
	    (void *)(uintptr_t)curl_easy_init);
	ck_assert_ptr_eq((void *)(uintptr_t)f->url_get,
	    (void *)(uintptr_t)curl_url_get);
	ck_assert_ptr_eq((void *)(uintptr_t)f->free,
	    (void *)(uintptr_t)curl_free);
	ck_assert_ptr_eq(f->lib, map_of((void *)(uintptr_t)curl_easy_perform));
	ck_assert(resolve_is_libcurl(((const struct link_map *)f->lib)->l_name,
	    NULL));
}
END_TEST

START_TEST(maps_a_caller_inside_libcurl_to_that_libcurl)
{
	const struct curl_fns *a, *b;

	a = resolve_fns((const char *)(uintptr_t)curl_easy_perform + 4);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_eq(a->lib, map_of((void *)(uintptr_t)curl_easy_perform));
	/* One table per libcurl, whoever asks. */
	b = resolve_fns((const void *)(uintptr_t)anchor);
	ck_assert_ptr_eq(a, b);
}
END_TEST

START_TEST(falls_back_to_the_global_libcurl_for_objects_without_one)
{
	const struct curl_fns *f, *g;

	/* libc needs no libcurl: the global scope's one is used. */
	f = resolve_fns((const void *)(uintptr_t)fclose);
	g = resolve_fns((const void *)(uintptr_t)anchor);
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_eq(f, g);
}
END_TEST

START_TEST(returns_null_for_an_address_in_no_object)
{
	int local;

	ck_assert_ptr_null(resolve_fns(NULL));
	ck_assert_ptr_null(resolve_fns(&local));
}
END_TEST

START_TEST(finds_libcurl_through_dt_needed_of_a_deepbind_object)
{
	void *h = load("libdbtarget.so", RTLD_LAZY | RTLD_LOCAL |
	    TEST_DEEPBIND);
	const struct curl_fns *f;

	f = resolve_fns(sym(h, "db_call_perform"));
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_eq((void *)(uintptr_t)f->easy_perform,
	    (void *)(uintptr_t)curl_easy_perform);
}
END_TEST

START_TEST(answers_from_the_cache_in_nanoseconds)
{
	struct timespec t0, t1;
	const struct curl_fns *f = resolve_fns((const void *)(uintptr_t)anchor);
	double ns;
	int i;

	ck_assert_ptr_nonnull(f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 1000000; i++)
		if (resolve_fns((const char *)(uintptr_t)anchor + (i & 3)) !=
		    f)
			ck_abort_msg("lookup %d changed", i);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	    (double)(t1.tv_nsec - t0.tv_nsec)) / 1e6;
	ck_assert_msg(ns < 500, "%.1f ns per lookup", ns);
}
END_TEST

START_TEST(refuses_a_table_pointing_into_the_shim)
{
	const struct curl_fns *good = resolve_fns((const void *)(uintptr_t)
	    anchor);
	struct curl_fns f;

	ck_assert_ptr_nonnull(good);
	ck_assert_int_eq(fns_check(good, "libcurl"), 1);
	f = *good;
	f.multi_cleanup = fake_cleanup;		/* inside "the shim" */
	ck_assert_int_eq(fns_check(&f, "libcurl"), 0);
	f = *good;
	f.easy_perform = NULL;			/* required */
	ck_assert_int_eq(fns_check(&f, "libcurl"), 0);
	f = *good;
	f.easy_header = NULL;			/* optional */
	f.easy_nextheader = NULL;
	ck_assert_int_eq(fns_check(&f, "libcurl"), 1);
}
END_TEST

START_TEST(recognises_libcurl_names)
{
	ck_assert(resolve_is_libcurl("/usr/lib/x86_64-linux-gnu/"
	    "libcurl.so.4.8.0", NULL));
	ck_assert(resolve_is_libcurl("libcurl-gnutls.so.4", NULL));
	ck_assert(resolve_is_libcurl(NULL, "libcurl.so.4"));
	ck_assert(resolve_is_libcurl("", "libcurl-nss.so.4"));
	ck_assert(!resolve_is_libcurl("/usr/lib/libcurlpp.so.0", NULL));
	ck_assert(!resolve_is_libcurl("/opt/libcurl/libfoo.so", NULL));
	ck_assert(!resolve_is_libcurl("libcurl", NULL));
	ck_assert(!resolve_is_libcurl(NULL, NULL));
}
END_TEST

START_TEST(knows_which_objects_link_libcurl)
{
	static const struct {
		const char *lib;
		int links;
	} t[] = {
		{ "libdbtarget.so", 1 },
		{ "libdbtarget_noplt.so", 1 },
		{ "libdbunder.so", 0 },
		{ "librunpath.so", 0 },
	};
	struct link_map *lm;
	struct resolve_dyn d;
	size_t k;

	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		lm = NULL;
		ck_assert_int_eq(dlinfo(load(t[k].lib, RTLD_LAZY | RTLD_LOCAL),
		    RTLD_DI_LINKMAP, &lm), 0);
		ck_assert_int_eq(resolve_dyn_read(lm->l_addr, lm->l_ld, &d),
		    0);
		ck_assert_msg(((links_families(&d) >> RES_CURL) & 1) ==
		    (unsigned)t[k].links, "%s", t[k].lib);
	}
}
END_TEST

/*
 * An object that does not link libcurl binds its curl_* references through
 * the global scope (the shim, under LD_PRELOAD): they are left alone, and
 * only its dlopen is patched.
 */
START_TEST(objects_without_libcurl_keep_their_curl_references)
{
	void *under = load("libdbunder.so", RTLD_LAZY | RTLD_LOCAL);
	void *rp = load("librunpath.so", RTLD_NOW | RTLD_LOCAL);
	addr_fn addr = (addr_fn)(uintptr_t)sym(under, "db_perform_addr");

	ck_assert_ptr_eq(addr(), (void *)(uintptr_t)curl_easy_perform);
	got_patch_all();
	ck_assert_ptr_eq(addr(), (void *)(uintptr_t)curl_easy_perform);
	ck_assert_ptr_eq(*slot_of(rp, "dlopen"), (void *)(uintptr_t)
	    dlhook_dlopen);
}
END_TEST

START_TEST(knows_its_own_address_range)
{
	ck_assert(resolve_in_self((const void *)(uintptr_t)anchor));
	ck_assert(resolve_in_self(resolve_self_base()));
	ck_assert(resolve_in_self(&ranges));		/* its data too */
	ck_assert(!resolve_in_self((const void *)(uintptr_t)
	    curl_easy_perform));
	ck_assert(!resolve_in_self((const void *)(uintptr_t)strlen));
	ck_assert(!resolve_in_self(NULL));
}
END_TEST

/* Load variant, check it calls libcurl, patch, check it calls the hook. */
static void
patch_variant(const char *lib)
{
	void *h = load(lib, RTLD_LAZY | RTLD_LOCAL | TEST_DEEPBIND);
	addr_fn addr = (addr_fn)(uintptr_t)sym(h, "db_perform_addr");
	call_fn call = (call_fn)(uintptr_t)sym(h, "db_call_perform");
	void **slot = slot_of(h, "curl_easy_perform");
	char before = page_writable(slot);

	ck_assert_ptr_eq(addr(), (void *)(uintptr_t)curl_easy_perform);
	got_patch_all();
	ck_assert_ptr_eq(addr(), (void *)(uintptr_t)fake_perform);
	ck_assert_ptr_eq(*slot, (void *)(uintptr_t)fake_perform);
	ck_assert_int_eq(call(NULL), FAKE_RC);
	ck_assert_int_eq(fake_calls, 1);
	/* The page's protection is what it was. */
	ck_assert_int_eq(page_writable(slot), before);
	/* Idempotent: nothing changes the second time. */
	got_patch_all();
	ck_assert_int_eq(call(NULL), FAKE_RC);
	ck_assert_int_eq(fake_calls, 2);
}

/* The mappings' protections, read once per pass: a stack address is
 * rw-, this function r-x, a mapping no one has -1; maps lines are parsed
 * strictly. */
static const char rodata_probe[] = "read-only";

START_TEST(knows_the_protection_of_a_page_from_one_read_of_the_maps)
{
	struct pass ps;
	struct prot_map m;
	int local = 0;
	const char *line;

	memset(&ps, 0, sizeof(ps));
	ck_assert_int_eq(page_prot(&ps, (uintptr_t)&local),
	    PROT_READ | PROT_WRITE);
	ck_assert_int_eq(ps.maps_read, 1);
	ck_assert_uint_gt(ps.nmaps, 3);
	ck_assert_int_eq(page_prot(&ps, (uintptr_t)&page_prot),
	    PROT_READ | PROT_EXEC);
	ck_assert_int_eq(page_prot(&ps, (uintptr_t)rodata_probe), PROT_READ);
	ck_assert_int_eq(page_prot(&ps, (uintptr_t)8), -1);
	free(ps.maps);

	line = "7f00a000-7f00b000 r-xp 00000000 08:01 42 /lib/x.so";
	ck_assert_int_eq(maps_line(line, line + strlen(line), &m), 0);
	ck_assert(m.lo == 0x7f00a000 && m.hi == 0x7f00b000);
	ck_assert_int_eq(m.prot, PROT_READ | PROT_EXEC);
	line = "7f00a000-7f00b000 rw";	/* cut */
	ck_assert_int_eq(maps_line(line, line + strlen(line), &m), -1);
	line = "zz-7f00b000 rw-p";
	ck_assert_int_eq(maps_line(line, line + strlen(line), &m), -1);
	line = "11111111111111111-2 rw-p";	/* too many digits */
	ck_assert_int_eq(maps_line(line, line + strlen(line), &m), -1);
	line = "1111111111111111a-2 rw-p";	/* and a letter one */
	ck_assert_int_eq(maps_line(line, line + strlen(line), &m), -1);
	if (sizeof(uintptr_t) == 8) {		/* every digit, all 16 */
		line = "0123456789abcdef-fedcba9876543210 rw-p";
		ck_assert_int_eq(maps_line(line, line + strlen(line), &m), 0);
		ck_assert(m.lo == (uintptr_t)UINT64_C(0x0123456789abcdef) &&
		    m.hi == (uintptr_t)UINT64_C(0xfedcba9876543210));
		ck_assert_int_eq(m.prot, PROT_READ | PROT_WRITE);
	}
	line = "7F00A000-7f00b000 r--p";	/* the kernel's is lower case */
	ck_assert_int_eq(maps_line(line, line + strlen(line), &m), -1);
}
END_TEST

START_TEST(patches_the_got_of_a_deepbind_object)
{
	patch_variant("libdbtarget.so");
}
END_TEST

START_TEST(patches_a_full_relro_got_and_restores_read_only)
{
	void *h = load("libdbtarget_now.so", RTLD_NOW | RTLD_LOCAL |
	    TEST_DEEPBIND);

	ck_assert_int_eq(page_writable(slot_of(h, "curl_easy_perform")), '-');
	patch_variant("libdbtarget_now.so");
}
END_TEST

START_TEST(patches_glob_dat_calls_of_a_no_plt_object)
{
	patch_variant("libdbtarget_noplt.so");
}
END_TEST

START_TEST(leaves_libcurl_and_unhooked_symbols_alone)
{
	void *h = load("libdbtarget.so", RTLD_NOW | RTLD_LOCAL |
	    TEST_DEEPBIND);
	void *curl = dlhook_real_dlopen(((const struct link_map *)map_of(
	    (void *)(uintptr_t)curl_easy_perform))->l_name,
	    RTLD_NOLOAD | RTLD_LAZY);
	void **easy_init = slot_of(h, "curl_easy_init");
	void **own_cleanup, *before = *easy_init, *own_before;

	ck_assert_ptr_nonnull(curl);
	/* libcurl calls its own curl_multi_cleanup through its PLT. */
	own_cleanup = slot_of(curl, "curl_multi_cleanup");
	own_before = *own_cleanup;
	got_patch_all();
	ck_assert_ptr_eq(*easy_init, before);
	ck_assert_ptr_eq(*own_cleanup, own_before);
	ck_assert_ptr_eq(*slot_of(h, "curl_multi_cleanup"),
	    (void *)(uintptr_t)fake_cleanup);
}
END_TEST

START_TEST(does_nothing_when_disabled)
{
	void *h = load("libdbtarget.so", RTLD_LAZY | RTLD_LOCAL |
	    TEST_DEEPBIND);
	addr_fn addr = (addr_fn)(uintptr_t)sym(h, "db_perform_addr");

	setenv("RATETAP_DISABLE", "1", 1);
	got_patch_all();
	ck_assert_ptr_eq(addr(), (void *)(uintptr_t)curl_easy_perform);
}
END_TEST

START_TEST(the_dlopen_hook_patches_what_it_loads)
{
	char path[PATH_MAX];
	void *h;

	got_patch_all();
	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/libdbtarget.so",
	    dbdir), (int)sizeof(path));
	h = dlhook_dlopen(path, RTLD_LAZY | RTLD_LOCAL | TEST_DEEPBIND);
	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_eq(((addr_fn)(uintptr_t)sym(h, "db_perform_addr"))(),
	    (void *)(uintptr_t)fake_perform);
	/* Failures come back as they are, dlerror() included. */
	ck_assert_ptr_null(dlhook_dlopen("/nonexistent/libnothing.so",
	    RTLD_NOW));
	ck_assert_ptr_nonnull(strstr(dlerror(), "libnothing.so"));
}
END_TEST

/* librunpath.so / librpath.so call dlopen("libdbplug.so"), found only in
 * their $ORIGIN/plug: once their dlopen is patched to the hook, the hook
 * must search their path, not the shim's. */
static void
origin_variant(const char *lib)
{
	void *h = load(lib, RTLD_NOW | RTLD_LOCAL);
	open_fn rp_open = (open_fn)(uintptr_t)sym(h, "rp_open");
	void *p;

	got_patch_all();
	ck_assert_ptr_eq(*slot_of(h, "dlopen"), (void *)(uintptr_t)
	    dlhook_dlopen);
	p = rp_open("libdbplug.so");
	ck_assert_msg(p != NULL, "%s", dlerror());
	ck_assert_int_eq(((int (*)(void))(uintptr_t)sym(p, "plug_answer"))(),
	    42);
	/* Already loaded: found by name, whoever asks. */
	ck_assert_ptr_eq(dlhook_dlopen("libdbplug.so", RTLD_NOW), p);
	ck_assert_ptr_null(rp_open("libdbnothing.so"));
	ck_assert_ptr_nonnull(dlerror());
}

START_TEST(the_dlopen_hook_keeps_the_callers_runpath)
{
	origin_variant("librunpath.so");
}
END_TEST

START_TEST(the_dlopen_hook_keeps_the_callers_rpath)
{
	origin_variant("librpath.so");
}
END_TEST

START_TEST(expands_origin_and_platform)
{
	char out[PATH_MAX];
	const char *plat = (const char *)getauxval(AT_PLATFORM);
	char want[PATH_MAX];

	ck_assert_int_eq(expand_dir("$ORIGIN/plug", 12, "/a/b", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "/a/b/plug");
	ck_assert_int_eq(expand_dir("${ORIGIN}/../x", 14, "/a", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "/a/../x");
	if (plat != NULL) {
		ck_assert_int_eq(expand_dir("/p/$PLATFORM", 12, "/a", out,
		    sizeof(out)), 0);
		snprintf(want, sizeof(want), "/p/%s", plat);
		ck_assert_str_eq(out, want);
	}
	ck_assert_int_eq(expand_dir("/usr/$LIB", 9, "/a", out, sizeof(out)),
	    -1);
	ck_assert_int_eq(expand_dir("rel/dir", 7, "/a", out, sizeof(out)),
	    -1);
	ck_assert_int_eq(expand_dir("$ORIGIN", 7, "", out, sizeof(out)), -1);
	ck_assert_int_eq(expand_dir("$ORIGIN/x", 9, "/a", out, 4), -1);
}
END_TEST

START_TEST(the_c_library_dlsym_is_found_without_dlsym)
{
	void *p = resolve_next_defined("dlsym"), *h, *init;
	Dl_info info;

	ck_assert_ptr_nonnull(p);
	ck_assert(!resolve_in_self(p));
	ck_assert_int_ne(dladdr(p, &info), 0);
	ck_assert_ptr_nonnull(strstr(info.dli_fname, "libc.so"));
	ck_assert_ptr_nonnull(resolve_next_defined("dlvsym"));
	ck_assert_ptr_null(resolve_next_defined("rt_no_such_function_x"));
	/* what it finds is a libcurl's, or not */
	h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_NOLOAD);
	ck_assert_ptr_nonnull(h);
	init = dlsym(h, "curl_easy_init");
	ck_assert_ptr_nonnull(init);
	ck_assert_ptr_nonnull(resolve_libcurl_at(init));
	ck_assert_ptr_null(resolve_libcurl_at(p));
	dlclose(h);
}
END_TEST

static Suite *
resolve_suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("resolve");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc,
	    resolves_the_programs_libcurl_for_a_caller_in_the_program);
	tcase_add_test(tc, maps_a_caller_inside_libcurl_to_that_libcurl);
	tcase_add_test(tc,
	    falls_back_to_the_global_libcurl_for_objects_without_one);
	tcase_add_test(tc, returns_null_for_an_address_in_no_object);
	tcase_add_test(tc,
	    finds_libcurl_through_dt_needed_of_a_deepbind_object);
	tcase_add_test(tc, answers_from_the_cache_in_nanoseconds);
	tcase_add_test(tc, refuses_a_table_pointing_into_the_shim);
	tcase_add_test(tc, recognises_libcurl_names);
	tcase_add_test(tc,
	    knows_the_protection_of_a_page_from_one_read_of_the_maps);
	tcase_add_test(tc, patches_the_got_of_a_deepbind_object);
	tcase_add_test(tc, patches_a_full_relro_got_and_restores_read_only);
	tcase_add_test(tc, patches_glob_dat_calls_of_a_no_plt_object);
	tcase_add_test(tc, leaves_libcurl_and_unhooked_symbols_alone);
	tcase_add_test(tc, does_nothing_when_disabled);
	tcase_add_test(tc, the_dlopen_hook_patches_what_it_loads);
	tcase_add_test(tc, knows_which_objects_link_libcurl);
	tcase_add_test(tc, objects_without_libcurl_keep_their_curl_references);
	tcase_add_test(tc, knows_its_own_address_range);
	tcase_add_test(tc, the_dlopen_hook_keeps_the_callers_runpath);
	tcase_add_test(tc, the_dlopen_hook_keeps_the_callers_rpath);
	tcase_add_test(tc, expands_origin_and_platform);
	tcase_add_test(tc, the_c_library_dlsym_is_found_without_dlsym);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(resolve_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
