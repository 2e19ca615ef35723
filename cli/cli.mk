# ratetap, the command line tool.
CLI_SRC  = $(wildcard cli/*.c)
CLI_OBJ  = $(CLI_SRC:%.c=$(B)/obj/%.o)
CLI_LIBS = $(CURL_LIBS) $(CJSON_LIBS) $(ELF_LIBS)

$(CLI): $(CLI_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CLI_LIBS)
