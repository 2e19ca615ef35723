# libFuzzer harnesses: `make fuzz [FUZZ_SECONDS=N]`.
#
# Convention (one rule for every harness):
#   - A harness is tests/fuzz/fuzz_<name>.c defining LLVMFuzzerTestOneInput.
#     It is built as $(B)/fuzz/fuzz_<name> with clang and
#     -fsanitize=fuzzer,address,undefined (undefined behaviour aborts).
#   - The code under test is linked as objects the owning fragment lists in
#     FUZZ_OBJS_<name>, each named $(B)/fuzzobj/<dir>/<file>.o: the rule below
#     compiles <dir>/<file>.c with the same sanitizers (fuzzer-no-link).
#     Libraries go in FUZZ_LIBS_<name>, extra run options (e.g. -max_len=N)
#     in FUZZ_ARGS_<name>.
#         FUZZ_OBJS_scan = $(B)/fuzzobj/shim/scan.o
#   - Seeds are tests/fuzz/corpus/<name>/*.  Each run copies them into
#     $(B)/fuzz/corpus/<name>/ and fuzzes that copy, so what the fuzzer
#     finds accumulates under build/ and never pollutes the repository.
#     Crashing inputs land in $(B)/fuzz/artifacts/<name>/.
#   - Each harness runs for FUZZ_SECONDS (default 60) in turn; the target
#     prints the executions of each and fails if any harness failed.
#
# FUZZ_CC (default clang) must support -fsanitize=fuzzer.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=gnu11 -D_GNU_SOURCE -DCURL_DISABLE_TYPECHECK -Iinclude \
                $(WARN) -g -O1 $(FUZZ_SAN) $(CURL_CFLAGS) $(CJSON_CFLAGS)

FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES = $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BIN   = $(FUZZ_NAMES:%=$(B)/fuzz/fuzz_%)

# Keep the objects: they are reached only through FUZZ_OBJS_<name>.
.PRECIOUS: $(B)/fuzzobj/%.o
$(B)/fuzzobj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_OBJS_$$*)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< \
	    $(FUZZ_OBJS_$*) $(FUZZ_LIBS_$*)

.PHONY: fuzz-progs
fuzz-progs: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@status=0; \
	for n in $(FUZZ_NAMES); do \
		c=$(B)/fuzz/corpus/$$n; a=$(B)/fuzz/artifacts/$$n; \
		mkdir -p $$c $$a; \
		if [ -d tests/fuzz/corpus/$$n ]; then \
			cp tests/fuzz/corpus/$$n/* $$c/ 2>/dev/null; fi; \
		log=$(B)/fuzz/fuzz_$$n.log; \
		if $(B)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) \
		    -print_final_stats=1 -artifact_prefix=$$a/ \
		    $(FUZZ_ARGS_$$n) $$c >$$log 2>&1; then r=ok; \
		else r="FAILED (see $$log)"; status=1; fi; \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log); \
		secs=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $$log); \
		printf 'fuzz_%s: %s executions in %ss (%s/s), corpus %s files: %s\n' \
		    $$n "$${execs:-?}" $(FUZZ_SECONDS) "$${secs:-?}" \
		    "$$(ls $$c | wc -l)" "$$r"; \
	done; exit $$status
