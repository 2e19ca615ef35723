# Benchmarks (`make bench`, driven by tests/bench/run; see docs/benchmarks.md).
#
# bench_send   many senders, blocking, into ratetapd's ingest socket
# bench_status GET /v1/status latency on the control socket
# bench_spawn  start-up cost of LD_PRELOAD'ing the shim into a program
# bench_handoff CPU per event of the shim's hand-off: datagram vs journal
# bench_render the status JSON rendered in process: writer vs cJSON tree
# bench_save   one save of the state at a tracker size
# bench_tls    the TLS layer's costs: a loopback TLS server and an OpenSSL
#              client (bench_tls), a GnuTLS client (bench_tls_gnutls)
# (bench_scan, the body scanner's benchmark, is in tests/scan.mk.)
#
# Like bench_scan they are always built optimised and without sanitizers,
# whatever CFLAGS and SANITIZE say, so that their figures mean something.
#
# The shim benchmarks serve canned responses from nginx, and count
# instructions with valgrind.  When `make bench` runs as root on Debian and
# either is missing, bench-nginx installs it before anything is measured
# (tests/install-deps.sh bench, which waits for the package lock; never in
# `make check`: only bench-progs depends on it); otherwise the driver
# reports those figures as not measured.

BENCH_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Iinclude $(WARN) $(CFLAGS) -O2
BENCH_COMMON_OBJ = $(COMMON_SRC:%.c=$(B)/bench/obj/%.o)

BENCH_PROGS += $(B)/bench/bench_send $(B)/bench/bench_status \
               $(B)/bench/bench_spawn $(B)/bench/bench_handoff \
               $(B)/bench/bench_render $(B)/bench/bench_save \
               $(B)/bench/bench_tls \
               $(B)/bench/bench_tls_gnutls bench-nginx

$(B)/bench/obj/common/%.o: common/%.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/obj/tests/bench/%.o: tests/bench/%.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/bench_send: $(B)/bench/obj/tests/bench/bench_send.o \
    $(BENCH_COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^

# bench_handoff links the shim's own sender
$(B)/bench/obj/shim/send.o: shim/send.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $(CURL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/obj/tests/bench/bench_handoff.o: tests/bench/bench_handoff.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $(CURL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/bench_handoff: $(B)/bench/obj/tests/bench/bench_handoff.o \
    $(B)/bench/obj/shim/send.o $(BENCH_COMMON_OBJ)
	$(CC) $(LDFLAGS) -pthread -o $@ $^

$(B)/bench/bench_status: $(B)/bench/obj/tests/bench/bench_status.o
	$(CC) $(LDFLAGS) -o $@ $^

# bench_render links the daemon's tracker and status modules
BENCH_RENDER_OBJ = $(patsubst %,$(B)/bench/obj/daemon/%.o,tracker status \
    jsonw forecast log)

$(B)/bench/obj/daemon/%.o: daemon/%.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $(CJSON_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/obj/tests/bench/bench_render.o: tests/bench/bench_render.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $(CJSON_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/bench_render: $(B)/bench/obj/tests/bench/bench_render.o \
    $(BENCH_RENDER_OBJ) $(BENCH_COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) -lm

# bench_save links the daemon's state writer
BENCH_SAVE_OBJ = $(patsubst %,$(B)/bench/obj/daemon/%.o,tracker state \
    pollparse forecast log)

$(B)/bench/obj/tests/bench/bench_save.o: tests/bench/bench_save.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $(CJSON_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/bench_save: $(B)/bench/obj/tests/bench/bench_save.o \
    $(BENCH_SAVE_OBJ) $(BENCH_COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) -lm

$(B)/bench/bench_spawn: $(B)/bench/obj/tests/bench/bench_spawn.o
	$(CC) $(LDFLAGS) -o $@ $^

# bench_tls: one source, built with OpenSSL (server and client) and with
# GnuTLS (client only)
OPENSSL_CFLAGS = $(call pc,--cflags,openssl,)
OPENSSL_LIBS   = $(call pc,--libs,openssl,-lssl -lcrypto)
GNUTLS_CFLAGS  = $(call pc,--cflags,gnutls,)
GNUTLS_LIBS    = $(call pc,--libs,gnutls,-lgnutls)

$(B)/bench/bench_tls: tests/bench/bench_tls.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $(OPENSSL_CFLAGS) -o $@ $< $(LDFLAGS) \
	    $(OPENSSL_LIBS)

$(B)/bench/bench_tls_gnutls: tests/bench/bench_tls.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $(GNUTLS_CFLAGS) -DBENCH_GNUTLS -o $@ $< \
	    $(LDFLAGS) $(GNUTLS_LIBS)

.PHONY: bench-nginx
bench-nginx:
	@sh tests/install-deps.sh bench || \
	    echo "bench: nginx or valgrind is missing; their figures are skipped"
