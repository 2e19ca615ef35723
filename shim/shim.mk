# libratetap.so: position-independent, hidden by default, exports only the
# hooked symbols (shim/libratetap.map), needs nothing but libc.
# -Bsymbolic-functions: the shim's own references to its hooks bind to the
# hooks even when it is dlopen'ed RTLD_LOCAL as a plugin into a process whose
# libcurl would otherwise win the lookup.
SHIM_SRC    = $(wildcard shim/*.c) $(COMMON_SRC)
SHIM_OBJ    = $(SHIM_SRC:%.c=$(B)/pic/%.o)
SHIM_CFLAGS = -fPIC -fvisibility=hidden $(CURL_CFLAGS)

$(SHIM): $(SHIM_OBJ) shim/libratetap.map
	$(CC) -shared -Wl,-soname,libratetap.so \
	    -Wl,--version-script=shim/libratetap.map -Wl,-z,now -Wl,-z,relro \
	    -Wl,--no-undefined -Wl,-Bsymbolic-functions \
	    -o $@ $(SHIM_OBJ) $(ALL_LDFLAGS)
