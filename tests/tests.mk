# Tests.
#
# Unit tests: tests/check_<name>.c becomes $(B)/tests/check_<name>, linked
# with the common objects, $(CHECK_OBJS_<name>) and $(CHECK_LIBS_<name>)
# (set those in the fragment of the part the test belongs to; a test that
# #includes the module's .c to reach static functions sets no objects).
#
# Test programs (receivers, clients, ...) are appended to TEST_PROGS by the
# fragments tests/*.mk; `make test-progs` builds them.
#
# Integration tests: tests/integration/test_*.py, run by
# tests/run-integration with Debian's python3 (which has pycurl).

UNIT_SRC = $(wildcard tests/check_*.c)
UNIT_BIN = $(UNIT_SRC:tests/%.c=$(B)/tests/%)
TEST_PROGS ?=

.SECONDEXPANSION:
$(B)/tests/check_%: $(B)/obj/tests/check_%.o $$(CHECK_OBJS_$$*) $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(CHECK_LIBS_$*) \
	    $(CHECK_LIBS) -lm

.PHONY: test-progs
test-progs: $(UNIT_BIN) $$(TEST_PROGS)

unit: $(UNIT_BIN)
	@sh tests/run-unit $(UNIT_BIN)

integration: all test-progs
	@/usr/bin/python3 tests/run-integration $(TESTS)

# Benchmark programs are appended to BENCH_PROGS by the fragments.
BENCH_PROGS ?=
.PHONY: bench-progs
bench-progs: $$(BENCH_PROGS)
