# Integration-test infrastructure: the test receiver, which prints every
# datagram that arrives on an ingest socket as one JSON line (see
# docs/hacking.md, "The test receiver").  tests/mock_api.py, the harness
# (tests/integration/harness.py) and tests/run-integration need no build.
RECEIVER = $(B)/tests/rt-receiver
TEST_PROGS += $(RECEIVER)

$(RECEIVER): $(B)/obj/tests/receiver.o $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CJSON_LIBS) -lm

# rt-jwrite: appends journal records as the shim does (tests/jwrite.c), for
# the journal's tests and its catch-up benchmark.
JWRITE = $(B)/tests/rt-jwrite
TEST_PROGS += $(JWRITE)

$(JWRITE): $(B)/obj/tests/jwrite.o $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lm
