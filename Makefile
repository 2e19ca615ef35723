# ratetap: see README.md.
#
# Targets
#   make            build build/libratetap.so, build/ratetapd, build/ratetap
#   make check      install missing Debian packages (as root), build, run every
#                   unit and integration test
#   make demo       the whole system working offline against the mock API
#   make bench      benchmarks: print measured figures, never fail
#   make fuzz       libFuzzer harnesses for FUZZ_SECONDS each (clang)
#   make install    install under $(DESTDIR)$(PREFIX); make uninstall
#
# Compile-time options (command line or config.mak)
#   CC, CFLAGS, LDFLAGS   as usual; CFLAGS defaults to -O2 -g
#   WERROR=1              warnings are errors (CI sets it)
#   SANITIZE=address,undefined | thread
#                         build everything with those sanitizers
#   PREFIX=/usr/local DESTDIR=  install locations
#   LIBDIR=$(PREFIX)/lib/ratetap  where the shim is installed (and where
#                         `ratetap run` looks for it when not beside itself)

-include config.mak

VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/bin
LIBDIR   ?= $(PREFIX)/lib/ratetap
MANDIR   ?= $(PREFIX)/share/man
DOCDIR   ?= $(PREFIX)/share/doc/ratetap
SYSTEMD_USER_DIR ?= $(PREFIX)/lib/systemd/user

CC       ?= cc
CFLAGS   ?= -O2 -g
B        := build

WARN      = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wcast-qual
ifeq ($(WERROR),1)
WARN     += -Werror
endif
ifneq ($(SANITIZE),)
SANFLAGS  = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
endif

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
CHECK_CFLAGS  = $(call pc,--cflags,check,)
CHECK_LIBS    = $(call pc,--libs,check,-lcheck)

ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -DCURL_DISABLE_TYPECHECK \
             -DRATETAP_VERSION='"$(VERSION)"' -DRATETAP_LIBDIR='"$(LIBDIR)"' \
             -Iinclude $(WARN) $(SANFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

SHIM     = $(B)/libratetap.so
DAEMON   = $(B)/ratetapd
CLI      = $(B)/ratetap

COMMON_SRC = $(wildcard common/*.c)

.PHONY: all check unit integration deps demo bench fuzz install uninstall \
        clean distclean
all: $(SHIM) $(DAEMON) $(CLI)

# Objects: $(B)/obj/<dir>/<name>.o for programs, $(B)/pic/... for the shim.
$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SHIM_CFLAGS) -MMD -MP -c -o $@ $<

EXTRA_CFLAGS = $(CURL_CFLAGS) $(CJSON_CFLAGS) $(MHD_CFLAGS) $(ELF_CFLAGS) \
               $(CHECK_CFLAGS)

# Each part describes its own build in a fragment; tests/*.mk add test
# programs to TEST_PROGS and unit-test link inputs (see tests/tests.mk).
include shim/shim.mk
include daemon/daemon.mk
include cli/cli.mk
include tests/tests.mk
include $(filter-out tests/tests.mk,$(wildcard tests/*.mk))
-include install.mk

deps:
	@sh tests/install-deps.sh

check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all test-progs
	@$(MAKE) --no-print-directory unit integration

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
