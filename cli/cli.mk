# ratetap, the command line tool.
#
# Everything but main.c is also linked into the unit tests
# (tests/check_status_render.c, tests/check_cli_run.c; see tests/cli.mk).
CLI_SRC    = $(wildcard cli/*.c)
CLI_OBJ    = $(CLI_SRC:%.c=$(B)/obj/%.o)
CLI_LIBOBJ = $(filter-out $(B)/obj/cli/main.o,$(CLI_OBJ))
CLI_LIBS   = $(CURL_LIBS) $(CJSON_LIBS) $(ELF_LIBS) $(SQLITE_LIBS) -lm

$(CLI): $(CLI_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CLI_LIBS)
