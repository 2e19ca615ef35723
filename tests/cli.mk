# Tests of ratetap, the command line tool.
#
# Unit tests: check_status_render #includes cli/status.c (to reach its
# static helpers) and links the other CLI modules; check_cli_run and
# check_doctor_script (doctor's #! and import reading, cli/script.c) link
# them all but main.c.
CHECK_OBJS_status_render = $(filter-out $(B)/obj/cli/status.o,$(CLI_LIBOBJ))
CHECK_LIBS_status_render = $(CLI_LIBS)
CHECK_OBJS_cli_run       = $(CLI_LIBOBJ)
CHECK_LIBS_cli_run       = $(CLI_LIBS)
CHECK_OBJS_doctor_script = $(CLI_LIBOBJ)
CHECK_LIBS_doctor_script = $(CLI_LIBS)

# Programs `ratetap doctor` is tested on (tests/integration/test_doctor.py):
#   no_curl       dynamic, no libcurl
#   static_hello  statically linked
#   static_pie    statically linked, position independent (no PT_INTERP
#                 but a dynamic section)
#   with_curl     linked to the shared libcurl ("with_curl sleep N" waits)
#   static_curl   libcurl.a inside the binary, its dependencies shared;
#                 built only where libcurl.a is installed
#   own_ssl, own_gnutls, go_like, rust_like, with_ssl
#                 the ways to TLS told apart (tests/doctor/tls.c)
# The setuid copy is made by the test itself.
DOCTOR_DIR   = $(B)/tests/doctor
CURL_LIBDIR  = $(shell pkg-config --variable=libdir libcurl 2>/dev/null)
CURL_STATIC  = $(wildcard $(CURL_LIBDIR)/libcurl.a)
DOCTOR_PROGS = $(DOCTOR_DIR)/no_curl $(DOCTOR_DIR)/static_hello \
               $(DOCTOR_DIR)/static_pie \
               $(DOCTOR_DIR)/with_curl \
               $(if $(CURL_STATIC),$(DOCTOR_DIR)/static_curl) \
               $(DOCTOR_DIR)/own_ssl $(DOCTOR_DIR)/own_gnutls \
               $(DOCTOR_DIR)/go_like $(DOCTOR_DIR)/rust_like \
               $(DOCTOR_DIR)/with_ssl
TEST_PROGS  += $(DOCTOR_PROGS)

# -rdynamic: own_ssl and own_gnutls export their TLS functions, as a
# program with its own copy of the library does
$(DOCTOR_DIR)/own_ssl: tests/doctor/tls.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DOWN_SSL $(ALL_LDFLAGS) -rdynamic -o $@ $<

$(DOCTOR_DIR)/own_gnutls: tests/doctor/tls.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DOWN_GNUTLS $(ALL_LDFLAGS) -rdynamic -o $@ $<

$(DOCTOR_DIR)/go_like: tests/doctor/tls.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DGO_LIKE $(ALL_LDFLAGS) -o $@ $<

$(DOCTOR_DIR)/rust_like: tests/doctor/tls.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DRUST_LIKE $(ALL_LDFLAGS) -o $@ $<

$(DOCTOR_DIR)/with_ssl: tests/doctor/tls.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DWITH_SSL $(ALL_LDFLAGS) -Wl,--no-as-needed -o $@ $< -lssl

$(DOCTOR_DIR)/no_curl: tests/doctor/hello.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

$(DOCTOR_DIR)/static_hello: tests/doctor/hello.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) $(CFLAGS) -static -o $@ $<

$(DOCTOR_DIR)/static_pie: tests/doctor/hello.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) $(CFLAGS) -static-pie -o $@ $<

$(DOCTOR_DIR)/with_curl: tests/doctor/with_curl.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CURL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(CURL_LIBS)

# libcurl.a, and each library of `pkg-config --static` by the shared object
# the loader's cache names (development symlinks need not be installed).
$(DOCTOR_DIR)/static_curl: tests/doctor/with_curl.c
	@mkdir -p $(@D)
	libs=$$(for l in $$(pkg-config --static --libs-only-l libcurl); do \
	    n=$${l#-l}; [ "$$n" = curl ] && continue; \
	    /sbin/ldconfig -p | awk -v a="lib$$n.so" -v b="lib$$n-" \
	    '(index($$1, a) == 1 || index($$1, b) == 1) && $$2 ~ /x86-64/ \
	    { print $$NF; exit }'; done | sort -u); \
	$(CC) $(ALL_CFLAGS) $(CURL_CFLAGS) -o $@ $< $(CURL_STATIC) $$libs
