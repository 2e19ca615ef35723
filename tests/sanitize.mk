# Sanitized builds: SANITIZE=address,undefined or SANITIZE=thread (the
# flags, the build directory and the run-time options are in the Makefile;
# docs/security.md, "Sanitizers and fuzzing", says how to use them).
#
#   make check SANITIZE=address,undefined   the whole suite under ASan+UBSan
#   make check-tsan                         unit tests and the threaded C
#                                           client test under TSan
#
# The sanitizer runtimes refuse dlopen(RTLD_DEEPBIND) inside a process they
# instrument (google/sanitizers issue 611).  The test hosts that load with
# it (dbload and the libraries it loads) stand for programs such as php,
# which do the same: they are built without sanitizers, and the sanitized
# shim runs inside them as it runs inside php, its runtime loaded after
# libc (ASAN_OPTIONS=verify_asan_link_order=0).

TSAN_TESTS ?= test_shim_cclient

.PHONY: check-tsan
check-tsan:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory SANITIZE=thread all test-progs
	@s=0; \
	$(MAKE) --no-print-directory SANITIZE=thread unit || s=1; \
	$(MAKE) --no-print-directory SANITIZE=thread integration \
	    TESTS="$(TSAN_TESTS)" || s=1; \
	exit $$s

ifneq ($(SANITIZE),)
ifeq ($(strip $(DB_LIBS)),)
$(error tests/sanitize.mk: DB_LIBS is not set (tests/resolve.mk))
endif
$(B)/tests/dbload $(DB_LIBS): SANFLAGS =
endif

# Fuzz harnesses of the datagram validator (fed on to the tracker) and of
# the shim's header parsers (the rule is in tests/fuzz.mk).  fuzz_headers
# #includes shim/headers.c to reach its value parsers.
FUZZ_OBJS_proto   = $(TRK_FUZZOBJS)
FUZZ_LIBS_proto   = $(CJSON_LIBS) -lm
FUZZ_ARGS_proto   = -max_len=2048
FUZZ_OBJS_headers = $(B)/fuzzobj/common/proto.o
FUZZ_LIBS_headers = -lm
FUZZ_ARGS_headers = -max_len=4096
# fuzz_headers #includes these: rebuild it when they change
$(B)/fuzz/fuzz_headers: shim/headers.c shim/shim.h shim/curltap.h \
    shim/resolve.h shim/scan.h include/ratetap/proto.h
