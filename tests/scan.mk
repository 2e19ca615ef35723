# The body scanner (shim/scan.c): unit test, fuzz harness, benchmark.

CHECK_OBJS_scan = $(B)/obj/shim/scan.o
FUZZ_OBJS_scan  = $(B)/fuzzobj/shim/scan.o
FUZZ_ARGS_scan  = -max_len=16384

# bench_scan is always built optimised (-O2) and without sanitizers,
# whatever CFLAGS and SANITIZE say, so that its figures mean something.
BENCH_PROGS += $(B)/bench/bench_scan
SCAN_BENCH_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Iinclude $(WARN) $(CFLAGS) -O2
SCAN_BENCH_OBJ = $(B)/bench/obj/bench_scan.o $(B)/bench/obj/scan.o

$(B)/bench/obj/bench_scan.o: tests/bench/bench_scan.c
	@mkdir -p $(@D)
	$(CC) $(SCAN_BENCH_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/obj/scan.o: shim/scan.c
	@mkdir -p $(@D)
	$(CC) $(SCAN_BENCH_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/bench_scan: $(SCAN_BENCH_OBJ)
	$(CC) $(LDFLAGS) -o $@ $(SCAN_BENCH_OBJ)
