# Shim tests: unit-test inputs and the C test client in three link variants.
#
# check_headers and check_tee #include the module's .c; check_setopt,
# check_xfer, check_config and check_send link the shim's modules (built as
# ordinary objects) against the fake libcurl of tests/shimtest.h, so no real
# libcurl is involved.
SHIM_TEST_OBJS = $(B)/obj/shim/hooks.o $(B)/obj/shim/handle.o \
                 $(B)/obj/shim/xfer.o $(B)/obj/shim/tee.o \
                 $(B)/obj/shim/headers.o $(B)/obj/shim/send.o \
                 $(B)/obj/shim/config.o $(B)/obj/shim/scan.o \
                 $(B)/obj/shim/log.o $(B)/obj/shim/init.o \
                 $(B)/obj/shim/record.o
CHECK_OBJS_setopt = $(SHIM_TEST_OBJS)
CHECK_LIBS_setopt = -lpthread
CHECK_OBJS_xfer   = $(SHIM_TEST_OBJS)
CHECK_LIBS_xfer   = -lpthread
CHECK_OBJS_config = $(SHIM_TEST_OBJS)
CHECK_LIBS_config = -lpthread
CHECK_OBJS_send   = $(SHIM_TEST_OBJS)
CHECK_LIBS_send   = -lpthread
# (kept by the top Makefile's .SECONDARY: several test binaries share them)

# rt-client: plain (no PIE, lazy binding, partial RELRO), PIE + full RELRO,
# and -fno-plt with full RELRO (calls through the GOT, no PLT at all).
RT_CLIENT_SRC   = tests/client/rt-client.c
RT_CLIENT       = $(B)/tests/rt-client
RT_CLIENT_PIE   = $(B)/tests/rt-client-pie
RT_CLIENT_NOPLT = $(B)/tests/rt-client-noplt
TEST_PROGS += $(RT_CLIENT) $(RT_CLIENT_PIE) $(RT_CLIENT_NOPLT)

$(RT_CLIENT): $(RT_CLIENT_SRC)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CURL_CFLAGS) -fno-pie -no-pie -Wl,-z,lazy \
	    -o $@ $< $(ALL_LDFLAGS) $(CURL_LIBS) -lpthread

$(RT_CLIENT_PIE): $(RT_CLIENT_SRC)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CURL_CFLAGS) -fPIE -pie -Wl,-z,relro,-z,now \
	    -o $@ $< $(ALL_LDFLAGS) $(CURL_LIBS) -lpthread

$(RT_CLIENT_NOPLT): $(RT_CLIENT_SRC)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CURL_CFLAGS) -fno-plt -fPIE -pie \
	    -Wl,-z,relro,-z,now -o $@ $< $(ALL_LDFLAGS) $(CURL_LIBS) -lpthread

# rt-exact: the cases where a count is easily wrong (CURLOPT_HEADER, fork,
# CURLOPT_URL with CURLOPT_CURLU, short writes); rt-dlcurl: libcurl used
# only through dlopen() and dlsym() (it does not link libcurl).
RT_EXACT  = $(B)/tests/rt-exact
RT_DLCURL = $(B)/tests/rt-dlcurl
TEST_PROGS += $(RT_EXACT) $(RT_DLCURL)

$(RT_EXACT): tests/client/rt-exact.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CURL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) $(CURL_LIBS)

$(RT_DLCURL): tests/client/rt-dlcurl.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CURL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) -ldl

# rt-tls: the TLS layer's own client, without libcurl (tests/client/rt-tls.c),
# once with OpenSSL and once with GnuTLS.
RT_TLS_OSSL   = $(B)/tests/rt-tls-ossl
RT_TLS_GNUTLS = $(B)/tests/rt-tls-gnutls
TEST_PROGS += $(RT_TLS_OSSL) $(RT_TLS_GNUTLS)

$(RT_TLS_OSSL): tests/client/rt-tls.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) -lssl -lcrypto

$(RT_TLS_GNUTLS): tests/client/rt-tls.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DRT_GNUTLS -o $@ $< $(ALL_LDFLAGS) -lgnutls
