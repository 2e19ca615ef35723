# The shim's TLS layer (shim/tls.c: the table of connections, the
# decision, feeding the readers, fork).  check_tls #includes tls.c, fakes
# the protocol readers and the hooks it lists, and links the real
# configuration (RATETAP_HOSTS matching) and debug log.
CHECK_OBJS_tls = $(B)/obj/shim/config.o $(B)/obj/shim/log.o
CHECK_LIBS_tls = -lpthread

# fuzz_tlstap: the HTTP/1.x and HTTP/2 readers over arbitrary conversations,
# with the real record, scanner, header tee and decoders; the libraries the
# shim loads at run time (libnghttp2, zlib, brotli, zstd) are loaded alike.
FUZZ_OBJS_tlstap = $(B)/fuzzobj/shim/h1.o $(B)/fuzzobj/shim/h2.o \
                   $(B)/fuzzobj/shim/record.o $(B)/fuzzobj/shim/decode.o \
                   $(B)/fuzzobj/shim/scan.o $(B)/fuzzobj/shim/headers.o \
                   $(B)/fuzzobj/shim/log.o $(B)/fuzzobj/common/proto.o
FUZZ_LIBS_tlstap = -ldl -lpthread
FUZZ_ARGS_tlstap = -max_len=4096
