# ratetapd's runtime: unit tests of the event loop, the token sources, the
# ingest socket and the control endpoints' connection policy.
# tests/integration/test_daemon.py drives the whole daemon.
CHECK_OBJS_loop   = $(B)/obj/daemon/loop.o
CHECK_LIBS_loop   =

CHECK_OBJS_token  = $(B)/obj/daemon/token.o
CHECK_LIBS_token  = $(CJSON_LIBS)

CHECK_OBJS_ingest = $(B)/obj/daemon/ingest.o $(B)/obj/daemon/loop.o \
                    $(B)/obj/daemon/tracker.o $(B)/obj/daemon/log.o
CHECK_LIBS_ingest = $(CJSON_LIBS)

CHECK_OBJS_sockets = $(B)/obj/daemon/sockets.o
CHECK_LIBS_sockets =

# control.c is #included by its test (its policy functions are static)
CHECK_OBJS_control = $(B)/obj/daemon/loop.o $(B)/obj/daemon/log.o
CHECK_LIBS_control = $(CJSON_LIBS) $(MHD_LIBS)
