# ratetapd.  Everything but main.c is also linked into the unit tests.
DAEMON_LIBSRC = $(filter-out daemon/main.c,$(wildcard daemon/*.c))
DAEMON_LIBOBJ = $(DAEMON_LIBSRC:%.c=$(B)/obj/%.o)
COMMON_OBJ    = $(COMMON_SRC:%.c=$(B)/obj/%.o)
DAEMON_LIBS   = $(CURL_LIBS) $(CJSON_LIBS) $(MHD_LIBS) $(SQLITE_LIBS) -lm

# ratetapd_no_tap is exported so that a shim preloaded into the daemon
# (whose usage poll uses libcurl) finds it and stays out of the way.
$(DAEMON): $(B)/obj/daemon/main.o $(DAEMON_LIBOBJ) $(COMMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -Wl,--export-dynamic-symbol=ratetapd_no_tap \
	    -o $@ $^ $(DAEMON_LIBS)
