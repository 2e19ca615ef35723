# Load and fault tests: the load generator and `make load`.
#
# build/tests/rt-load (tests/load/rt-load.c) sends datagrams to an ingest
# socket from many processes as fast as they can and reports what it sent
# (docs/security.md).  tests/integration/test_load.py runs a short pass of it
# in `make check`; `make load` runs the long one against a real ratetapd and
# prints the figures (events/s held, memory, events lost: must be 0):
#
#   make load [LOAD_SECONDS=60] [LOAD_PROCS=16]

RT_LOAD = $(B)/tests/rt-load
TEST_PROGS += $(RT_LOAD)

LOAD_SECONDS ?= 60
LOAD_PROCS   ?= 16

$(RT_LOAD): $(B)/obj/tests/load/rt-load.o $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lm

.PHONY: load
load:
	@$(MAKE) --no-print-directory all test-progs
	@/usr/bin/python3 tests/load/loadrun.py --procs $(LOAD_PROCS) \
	    --seconds $(LOAD_SECONDS)
