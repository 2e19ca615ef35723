# Unit tests of the ledger (daemon/ledger.c) and of `ratetap report`
# (cli/report.c), which writes its rows through the ledger's own API.
CHECK_OBJS_ledger = $(B)/obj/daemon/ledger.o $(B)/obj/daemon/log.o
CHECK_LIBS_ledger = $(CJSON_LIBS) $(SQLITE_LIBS)
CHECK_OBJS_report = $(B)/obj/daemon/ledger.o $(B)/obj/daemon/log.o \
                    $(CLI_LIBOBJ)
CHECK_LIBS_report = $(CLI_LIBS)
