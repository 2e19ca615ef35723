# ratetapd's runtime: unit tests of the event loop, the token sources, the
# retry rules, the HTTP client's URL check, the ingest socket and the
# control endpoints' connection policy.
# tests/integration/test_daemon.py drives the whole daemon.
CHECK_OBJS_loop   = $(B)/obj/daemon/loop.o
CHECK_LIBS_loop   =

CHECK_OBJS_token  = $(B)/obj/daemon/token.o
CHECK_LIBS_token  = $(CJSON_LIBS)

CHECK_OBJS_ingest = $(B)/obj/daemon/ingest.o $(B)/obj/daemon/loop.o \
                    $(B)/obj/daemon/tracker.o $(B)/obj/daemon/forecast.o $(B)/obj/daemon/log.o
CHECK_LIBS_ingest = $(CJSON_LIBS)

CHECK_OBJS_backoff = $(B)/obj/daemon/backoff.o
CHECK_LIBS_backoff =

CHECK_OBJS_http    = $(B)/obj/daemon/http.o $(B)/obj/daemon/loop.o
CHECK_LIBS_http    = $(CURL_LIBS)

CHECK_OBJS_sockets = $(B)/obj/daemon/sockets.o
CHECK_LIBS_sockets =

# control.c is #included by its test (its policy functions are static)
CHECK_OBJS_control = $(B)/obj/daemon/loop.o $(B)/obj/daemon/log.o
CHECK_LIBS_control = $(CJSON_LIBS) $(MHD_LIBS)

CHECK_OBJS_journal = $(B)/obj/daemon/journal.o $(B)/obj/daemon/loop.o \
                     $(B)/obj/daemon/tracker.o $(B)/obj/daemon/forecast.o $(B)/obj/daemon/status.o $(B)/obj/daemon/jsonw.o \
                     $(B)/obj/daemon/pollparse.o $(B)/obj/daemon/state.o \
                     $(B)/obj/daemon/log.o
CHECK_LIBS_journal = $(CJSON_LIBS)

# Fuzz harness of the journal reader (the rule is in tests/fuzz.mk).
FUZZ_OBJS_journal = $(B)/fuzzobj/daemon/journal.o $(B)/fuzzobj/daemon/loop.o \
                    $(TRK_FUZZOBJS)
FUZZ_LIBS_journal = $(CJSON_LIBS) -lm
FUZZ_ARGS_journal = -max_len=8192
