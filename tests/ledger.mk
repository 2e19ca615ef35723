# Unit tests of the ledger (daemon/ledger.c) and of `ratetap report`
# (cli/report.c), which writes its rows through the ledger's own API.
CHECK_OBJS_ledger = $(B)/obj/daemon/ledger.o $(B)/obj/daemon/log.o
CHECK_LIBS_ledger = $(CJSON_LIBS) $(SQLITE_LIBS)
CHECK_OBJS_report = $(B)/obj/daemon/ledger.o $(B)/obj/daemon/log.o \
                    $(CLI_LIBOBJ)
CHECK_LIBS_report = $(CLI_LIBS)

# The forecast (daemon/forecast.c), on recorded sequences.
CHECK_OBJS_forecast = $(B)/obj/daemon/forecast.o
CHECK_LIBS_forecast = $(CJSON_LIBS)

# The warnings' threshold list (daemon/warn.c).
CHECK_OBJS_warn = $(B)/obj/daemon/warn.o $(B)/obj/daemon/forecast.o \
                  $(B)/obj/daemon/tracker.o $(B)/obj/daemon/log.o
CHECK_LIBS_warn = $(CJSON_LIBS)
