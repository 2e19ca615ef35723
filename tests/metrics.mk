# Metrics: the Prometheus exposition and the OTLP exporter.
#
# check_metrics and check_otlp #include the module they test (to reach its
# static functions) and link the modules it uses.
CHECK_OBJS_metrics = $(B)/obj/daemon/export.o $(B)/obj/daemon/tracker.o $(B)/obj/daemon/forecast.o \
                     $(B)/obj/daemon/log.o
CHECK_LIBS_metrics = $(CJSON_LIBS)

CHECK_OBJS_otlp = $(B)/obj/daemon/export.o $(B)/obj/daemon/tracker.o $(B)/obj/daemon/forecast.o \
                  $(B)/obj/daemon/log.o $(B)/obj/daemon/http.o \
                  $(B)/obj/daemon/loop.o
CHECK_LIBS_otlp = $(CURL_LIBS) $(CJSON_LIBS)
