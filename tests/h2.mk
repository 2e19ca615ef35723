# The HTTP/2 reader of the TLS tap (shim/h2.c).
#
# check_h2 #includes shim/record.c and catches the events where send.c
# would send them; it links libnghttp2 (whose HPACK deflater writes the
# header blocks it feeds) and zlib (a gzip body).  The shim itself links
# neither: it loads libnghttp2 at run time.
CHECK_OBJS_h2 = $(B)/obj/shim/h2.o $(B)/obj/shim/decode.o \
                $(B)/obj/shim/scan.o $(B)/obj/shim/headers.o \
                $(B)/obj/shim/log.o
CHECK_LIBS_h2 = -lnghttp2 -lz -ldl -lpthread
$(B)/obj/tests/check_h2.o: shim/record.c
