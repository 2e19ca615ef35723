# Metrics: the Prometheus exposition and the OTLP exporter.
#
# check_metrics and check_otlp #include the module they test (to reach its
# static functions) and link the modules it uses.
CHECK_OBJS_metrics = $(B)/obj/daemon/export.o $(B)/obj/daemon/tracker.o $(B)/obj/daemon/forecast.o \
                     $(B)/obj/daemon/log.o
CHECK_LIBS_metrics = $(CJSON_LIBS)

CHECK_OBJS_otlp = $(B)/obj/daemon/export.o $(B)/obj/daemon/tracker.o $(B)/obj/daemon/forecast.o \
                  $(B)/obj/daemon/log.o $(B)/obj/daemon/http.o \
                  $(B)/obj/daemon/loop.o $(B)/obj/daemon/otlp_pb.o \
                  $(B)/obj/daemon/backoff.o \
                  $(OTLP_PB_OBJ)
CHECK_LIBS_otlp = $(CURL_LIBS) $(CJSON_LIBS) $(PROTOBUF_C_LIBS)
$(B)/obj/tests/check_otlp.o: $(B)/gen/otlp_metrics.pb-c.h
$(B)/obj/tests/check_otlp.o: EXTRA_CFLAGS += -isystem $(B)/gen
