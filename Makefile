# ratetap: see README.md.
#
# Targets
#   make            build build/libratetap.so, build/ratetapd, build/ratetap
#   make check      install missing Debian packages (as root), build, run every
#                   unit and integration test
#   make demo       the whole system working offline against the mock API
#   make bench      benchmarks: print measured figures, never fail
#   make fuzz       libFuzzer harnesses for FUZZ_SECONDS each (clang)
#   make load       the long load run (LOAD_SECONDS, LOAD_PROCS)
#   make check-tsan unit and threaded client tests under ThreadSanitizer
#   make install    install under $(DESTDIR)$(PREFIX); make uninstall
#   make deb        the Debian package build/ratetap_<version>_<arch>.deb
#
# Compile-time options (command line or config.mak)
#   CC, CPPFLAGS, CFLAGS, LDFLAGS  as usual; CFLAGS defaults to -O2 -g
#   WERROR=1              warnings are errors (CI sets it)
#   SANITIZE=address,undefined | thread
#                         build everything with those sanitizers
#   PREFIX=/usr/local DESTDIR=  install locations
#   LIBDIR=$(PREFIX)/lib/ratetap  where the shim is installed (and where
#                         `ratetap run` looks for it when not beside itself)
#   DATADIR=$(PREFIX)/share/ratetap  where the price table pricing.json is
#                         installed (and where `ratetap report` reads it)

-include config.mak

VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/bin
LIBDIR   ?= $(PREFIX)/lib/ratetap
MANDIR   ?= $(PREFIX)/share/man
DOCDIR   ?= $(PREFIX)/share/doc/ratetap
DATADIR  ?= $(PREFIX)/share/ratetap
SYSTEMD_USER_DIR ?= $(PREFIX)/lib/systemd/user

CC       ?= cc
CFLAGS   ?= -O2 -g
B        := build

WARN      = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wcast-qual
ifeq ($(WERROR),1)
WARN     += -Werror
endif
# A sanitized build lives in its own directory, never mixed with the plain
# one in build/: SANITIZE=address,undefined builds into
# build/san-address-undefined.  Any sanitizer report is fatal
# (-fno-sanitize-recover).  RATETAP_BUILD tells the tests where the binaries
# are; the run-time options below are the defaults of `make check` (set
# ASAN_OPTIONS etc. in the environment to change them).  The integration
# harness preloads the sanitizer runtime into programs that are not
# instrumented (curl, php, python3).  A make run by a test of a sanitized
# build (test_install) inherits its SANITIZE through RATETAP_SANITIZE.
# tests/sanitize.mk has `make check-tsan` and the sanitizers' exceptions.
SANITIZE ?= $(RATETAP_SANITIZE)
ifneq ($(SANITIZE),)
comma    := ,
SANFLAGS  = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
            -fno-sanitize-recover=all
B        := build/san-$(subst $(comma),-,$(SANITIZE))
ASAN_OPTIONS  ?= detect_leaks=1:verify_asan_link_order=0:abort_on_error=0
UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
TSAN_OPTIONS  ?= halt_on_error=1:second_deadlock_stack=1
export ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS
# TSan does not model atomic_thread_fence; the seqlock in shim/resolve.c
# pairs its fences with atomic accesses only, so the warning stays a warning.
ifneq ($(filter thread,$(subst $(comma), ,$(SANITIZE))),)
SANFLAGS += -Wno-error=tsan
endif
endif
export RATETAP_BUILD := $(CURDIR)/$(B)
export RATETAP_SANITIZE := $(SANITIZE)

# pkg-config is expanded lazily, after `make deps` has installed the packages.
pc        = $(shell pkg-config $(1) $(2) 2>/dev/null || echo $(3))
CURL_CFLAGS   = $(call pc,--cflags,libcurl,)
CURL_LIBS     = $(call pc,--libs,libcurl,-lcurl)
CJSON_CFLAGS  = $(call pc,--cflags,libcjson,)
CJSON_LIBS    = $(call pc,--libs,libcjson,-lcjson)
MHD_CFLAGS    = $(call pc,--cflags,libmicrohttpd,)
MHD_LIBS      = $(call pc,--libs,libmicrohttpd,-lmicrohttpd)
ELF_CFLAGS    = $(call pc,--cflags,libelf,)
ELF_LIBS      = $(call pc,--libs,libelf,-lelf)
SQLITE_CFLAGS = $(call pc,--cflags,sqlite3,)
SQLITE_LIBS   = $(call pc,--libs,sqlite3,-lsqlite3)
NCURSES_CFLAGS = $(call pc,--cflags,ncursesw,)
NCURSES_LIBS  = $(call pc,--libs,ncursesw,-lncursesw)
CHECK_CFLAGS  = $(call pc,--cflags,check,)
CHECK_LIBS    = $(call pc,--libs,check,-lcheck)

ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -DCURL_DISABLE_TYPECHECK \
             -DRATETAP_VERSION='"$(VERSION)"' -DRATETAP_LIBDIR='"$(LIBDIR)"' \
             -Iinclude $(WARN) $(SANFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

SHIM     = $(B)/libratetap.so
DAEMON   = $(B)/ratetapd
CLI      = $(B)/ratetap

COMMON_SRC = $(wildcard common/*.c)

.PHONY: all check unit integration deps demo bench fuzz install uninstall \
        clean distclean
all: $(SHIM) $(DAEMON) $(CLI)

# Keep every intermediate file (objects of pattern-built tests): deleting
# them only forces rebuilds.  No fragment may name prerequisites of
# .SECONDARY: with any, make keeps only those and deletes the rest.
.SECONDARY:

# Objects: $(B)/obj/<dir>/<name>.o for programs, $(B)/pic/... for the shim.
# Objects depend on a stamp of what changes their code (not the warnings),
# so changing PREFIX, CFLAGS or SANITIZE rebuilds them instead of mixing
# old and new.
FLAGS_STAMP = $(B)/flags.stamp
FLAGS_TEXT  = $(CC) $(VERSION) $(LIBDIR) $(DATADIR) $(SANFLAGS) $(CPPFLAGS) $(CFLAGS) \
              $(LDFLAGS)
ifneq ($(file <$(FLAGS_STAMP)),$(FLAGS_TEXT))
$(shell mkdir -p $(B))
$(file >$(FLAGS_STAMP),$(FLAGS_TEXT))
endif

$(B)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/pic/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SHIM_CFLAGS) -MMD -MP -c -o $@ $<

EXTRA_CFLAGS = $(CURL_CFLAGS) $(CJSON_CFLAGS) $(MHD_CFLAGS) $(ELF_CFLAGS) \
               $(SQLITE_CFLAGS) $(CHECK_CFLAGS)

# Each part describes its own build in a fragment; tests/*.mk add test
# programs to TEST_PROGS and unit-test link inputs (see tests/tests.mk).
include shim/shim.mk
include daemon/daemon.mk
include cli/cli.mk
include tests/tests.mk
include $(filter-out tests/tests.mk,$(wildcard tests/*.mk))
-include install.mk
-include debian/deb.mk

deps:
	@sh tests/install-deps.sh

check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all test-progs
	@rm -f $(B)/check.results; rc=0; \
	RATETAP_RESULTS=$(CURDIR)/$(B)/check.results \
	    $(MAKE) --no-print-directory unit || rc=1; \
	RATETAP_RESULTS=$(CURDIR)/$(B)/check.results \
	    $(MAKE) --no-print-directory integration || rc=1; \
	awk '{ p += $$2; f += $$3; s += $$4 } END { \
	    printf "check: %d passed, %d failed", p, f; \
	    if (s) printf ", %d skipped", s; printf "\n" }' \
	    $(B)/check.results 2>/dev/null; \
	exit $$rc

# The demo: mock API + daemon in a temporary directory, real curl through
# `ratetap run`, then `ratetap status`.
demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all test-progs
	@sh tests/demo.sh

# Benchmarks print figures (and record them in docs/benchmarks.md with
# BENCH_RECORD=1); they never fail the build.
bench:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all test-progs bench-progs
	@sh tests/bench/run

clean:
	rm -rf $(B)

distclean: clean
	rm -f config.mak

-include $(shell find $(B) -name '*.d' 2>/dev/null)
