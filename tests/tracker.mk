# Unit tests and fuzz harnesses of the tracker, the usage-poll parser and
# the state file (daemon/tracker.c, pollparse.c, status.c, state.c, log.c).
TRK_OBJS = $(B)/obj/daemon/tracker.o $(B)/obj/daemon/status.o \
           $(B)/obj/daemon/jsonw.o \
           $(B)/obj/daemon/forecast.o \
           $(B)/obj/daemon/pollparse.o $(B)/obj/daemon/state.o \
           $(B)/obj/daemon/log.o

CHECK_OBJS_tracker   = $(TRK_OBJS)
CHECK_LIBS_tracker   = $(CJSON_LIBS)
CHECK_OBJS_pollparse = $(TRK_OBJS)
CHECK_LIBS_pollparse = $(CJSON_LIBS)
CHECK_OBJS_state     = $(TRK_OBJS)
CHECK_LIBS_state     = $(CJSON_LIBS)

# Fuzz harnesses (the rule is in tests/fuzz.mk).
TRK_FUZZOBJS = $(B)/fuzzobj/daemon/tracker.o $(B)/fuzzobj/daemon/status.o \
               $(B)/fuzzobj/daemon/jsonw.o \
               $(B)/fuzzobj/daemon/forecast.o \
               $(B)/fuzzobj/daemon/pollparse.o $(B)/fuzzobj/daemon/state.o \
               $(B)/fuzzobj/daemon/log.o \
               $(COMMON_SRC:%.c=$(B)/fuzzobj/%.o)
FUZZ_OBJS_pollparse = $(TRK_FUZZOBJS)
FUZZ_LIBS_pollparse = $(CJSON_LIBS) -lm
FUZZ_ARGS_pollparse = -max_len=8192
FUZZ_OBJS_state     = $(TRK_FUZZOBJS)
FUZZ_LIBS_state     = $(CJSON_LIBS) -lm
FUZZ_ARGS_state     = -max_len=16384

# check_status #includes tests/status_ref.c, the tree the status JSON was
# built as before daemon/jsonw.c, and checks the writer against it.
CHECK_OBJS_status    = $(TRK_OBJS)
CHECK_LIBS_status    = $(CJSON_LIBS)
