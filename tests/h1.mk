# The TLS tap's HTTP/1.x reader (shim/h1.c).  check_h1 #includes h1.c and
# record.c (its send_event() captures the events) and links the scanner,
# the header tee, the decoders and the debug log; zlib makes its gzip
# input.  The link wraps dec_new to count the decoders asked for.
CHECK_OBJS_h1 = $(B)/obj/shim/scan.o $(B)/obj/shim/headers.o \
                $(B)/obj/shim/decode.o $(B)/obj/shim/log.o
CHECK_LIBS_h1 = -Wl,--wrap=dec_new -lz -ldl -lpthread
