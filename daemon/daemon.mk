# ratetapd.  Everything but main.c is also linked into the unit tests.
#
# daemon/otlp_metrics.proto is compiled by protoc-c into $(B)/gen/ at build
# time; otlp_pb.c (the OTLP protobuf encoding) includes its header.
DAEMON_LIBSRC = $(filter-out daemon/main.c,$(wildcard daemon/*.c))
DAEMON_LIBOBJ = $(DAEMON_LIBSRC:%.c=$(B)/obj/%.o) $(OTLP_PB_OBJ)
COMMON_OBJ    = $(COMMON_SRC:%.c=$(B)/obj/%.o)
PROTOBUF_C_CFLAGS = $(call pc,--cflags,libprotobuf-c,)
PROTOBUF_C_LIBS   = $(call pc,--libs,libprotobuf-c,-lprotobuf-c)
DAEMON_LIBS   = $(CURL_LIBS) $(CJSON_LIBS) $(MHD_LIBS) $(PROTOBUF_C_LIBS) \
                $(SQLITE_LIBS) -lm

OTLP_PB_GEN = $(B)/gen/otlp_metrics.pb-c.c $(B)/gen/otlp_metrics.pb-c.h
OTLP_PB_OBJ = $(B)/obj/gen/otlp_metrics.pb-c.o

$(B)/gen/otlp_metrics.pb-c.h: $(B)/gen/otlp_metrics.pb-c.c
$(B)/gen/otlp_metrics.pb-c.c: daemon/otlp_metrics.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=daemon --c_out=$(@D) daemon/otlp_metrics.proto

$(OTLP_PB_OBJ): $(B)/gen/otlp_metrics.pb-c.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Wno-cast-qual \
	    $(PROTOBUF_C_CFLAGS) \
	    -isystem $(B)/gen -MMD -MP -c -o $@ $<

$(B)/obj/daemon/otlp_pb.o: $(B)/gen/otlp_metrics.pb-c.h
$(B)/obj/daemon/otlp_pb.o: EXTRA_CFLAGS += -isystem $(B)/gen $(PROTOBUF_C_CFLAGS)

# ratetapd_no_tap is exported so that a shim preloaded into the daemon
# (whose usage poll uses libcurl) finds it and stays out of the way.
$(DAEMON): $(B)/obj/daemon/main.o $(DAEMON_LIBOBJ) $(COMMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -Wl,--export-dynamic-symbol=ratetapd_no_tap \
	    -o $@ $^ $(DAEMON_LIBS)
