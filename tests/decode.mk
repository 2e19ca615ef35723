# The Content-Encoding decoders of the TLS tap (shim/decode.c).
#
# check_decode #includes shim/decode.c (to hold its private copies of the
# libraries' types against the real headers) and links the real encoders
# to make its input; the shim itself links none of them.  The scanner's
# input is recorded on its way: the link wraps scan_feed.
CHECK_OBJS_decode = $(B)/obj/shim/scan.o $(B)/obj/shim/log.o
CHECK_LIBS_decode = -Wl,--wrap=scan_feed -lz -lbrotlienc -lbrotlidec \
                    -lzstd -ldl -lpthread
$(B)/obj/tests/check_decode.o: shim/decode.c
