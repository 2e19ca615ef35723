# The TLS tap's HTTP/1.x reader (shim/h1.c).  check_h1 #includes h1.c and
# record.c (its send_event() captures the events) and links the scanner,
# the header tee and the debug log.  Until shim/decode.c is in the tree the
# test brings its own decoder, on zlib.
CHECK_OBJS_h1 = $(B)/obj/shim/scan.o $(B)/obj/shim/headers.o \
                $(B)/obj/shim/log.o
CHECK_LIBS_h1 = -lz
