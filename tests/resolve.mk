# The shim's resolver (shim/resolve.c, got.c, dlhook.c): its unit test and
# the test programs of the integration tests for RTLD_DEEPBIND and plugin
# mode (tests/deepbind/).
#
# check_resolve #includes the resolver's sources, links libcurl, and loads
# the libraries below from $(B)/tests/deepbind at run time:
#   libdbtarget.so        lazy binding, partial RELRO (the .got.plt writable)
#   libdbtarget_now.so    full RELRO (-z now: every slot read-only)
#   libdbtarget_noplt.so  -fno-plt and full RELRO: GLOB_DAT calls
#   librunpath.so         DT_RUNPATH $ORIGIN/plug; librpath.so: DT_RPATH
#   plug/libdbplug.so     found only through those paths
#   libdbunder.so         dbtarget.c not linked to libcurl (its curl_*
#                         references left to the global scope)
DB          = $(B)/tests/deepbind
DB_CFLAGS   = $(ALL_CFLAGS) $(CURL_CFLAGS) -fPIC -fvisibility=hidden -shared
DB_LIBS     = $(DB)/libdbtarget.so $(DB)/libdbtarget_now.so \
              $(DB)/libdbtarget_noplt.so $(DB)/librunpath.so \
              $(DB)/librpath.so $(DB)/plug/libdbplug.so \
              $(DB)/libdbunder.so

CHECK_LIBS_resolve = $(CURL_LIBS)
TEST_PROGS += $(DB_LIBS) $(B)/tests/dbload $(B)/tests/plughost

$(B)/tests/check_resolve: | $(DB_LIBS)
$(B)/obj/tests/check_resolve.o: shim/log.c shim/resolve.c shim/got.c \
    shim/dlhook.c

$(DB)/libdbtarget.so: tests/deepbind/dbtarget.c
	@mkdir -p $(@D)
	$(CC) $(DB_CFLAGS) -Wl,-z,relro -Wl,-z,lazy -o $@ $< \
	    $(ALL_LDFLAGS) $(CURL_LIBS)

$(DB)/libdbtarget_now.so: tests/deepbind/dbtarget.c
	@mkdir -p $(@D)
	$(CC) $(DB_CFLAGS) -Wl,-z,relro -Wl,-z,now -o $@ $< \
	    $(ALL_LDFLAGS) $(CURL_LIBS)

$(DB)/libdbtarget_noplt.so: tests/deepbind/dbtarget.c
	@mkdir -p $(@D)
	$(CC) $(DB_CFLAGS) -fno-plt -Wl,-z,relro -Wl,-z,now -o $@ $< \
	    $(ALL_LDFLAGS) $(CURL_LIBS)

$(DB)/libdbunder.so: tests/deepbind/dbtarget.c
	@mkdir -p $(@D)
	$(CC) $(DB_CFLAGS) -Wl,-z,relro -Wl,-z,lazy -o $@ $< $(ALL_LDFLAGS)

$(DB)/librunpath.so: tests/deepbind/runpath.c
	@mkdir -p $(@D)
	$(CC) $(DB_CFLAGS) -Wl,--enable-new-dtags -Wl,-rpath,'$$ORIGIN/plug' \
	    -o $@ $< $(ALL_LDFLAGS)

$(DB)/librpath.so: tests/deepbind/runpath.c
	@mkdir -p $(@D)
	$(CC) $(DB_CFLAGS) -Wl,--disable-new-dtags -Wl,-rpath,'$$ORIGIN/plug' \
	    -o $@ $< $(ALL_LDFLAGS)

$(DB)/plug/libdbplug.so: tests/deepbind/plug.c
	@mkdir -p $(@D)
	$(CC) $(DB_CFLAGS) -Wl,-soname,libdbplug.so -o $@ $< $(ALL_LDFLAGS)

$(B)/tests/dbload: tests/deepbind/dbload.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)

$(B)/tests/plughost: tests/deepbind/plughost.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CURL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) $(CURL_LIBS)
