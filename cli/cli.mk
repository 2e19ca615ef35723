# ratetap, the command line tool.
#
# Everything but main.c is also linked into the unit tests
# (tests/check_status_render.c, tests/check_cli_run.c; see tests/cli.mk).
CLI_SRC    = $(wildcard cli/*.c)
CLI_OBJ    = $(CLI_SRC:%.c=$(B)/obj/%.o)
CLI_LIBOBJ = $(filter-out $(B)/obj/cli/main.o,$(CLI_OBJ))
CLI_LIBS   = $(CURL_LIBS) $(CJSON_LIBS) $(ELF_LIBS) $(SQLITE_LIBS) \
             $(NCURSES_LIBS) -lm

$(CLI): $(CLI_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CLI_LIBS)

# The built-in price table of `ratetap report` is share/ratetap/pricing.json
# as a C string literal (so the two never differ).
$(B)/gen/pricing.inc: share/ratetap/pricing.json
	@mkdir -p $(@D)
	sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $< > $@.tmp && mv -f $@.tmp $@
$(B)/obj/cli/report.o: $(B)/gen/pricing.inc
$(B)/obj/cli/report.o: EXTRA_CFLAGS += -I$(B)/gen \
    -DRATETAP_DATADIR='"$(DATADIR)"'
