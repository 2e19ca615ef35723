# The shim's TLS layer (shim/tls.c: the table of connections, the
# decision, feeding the readers, fork).  check_tls #includes tls.c, fakes
# the protocol readers and the hooks it lists, and links the real
# configuration (RATETAP_HOSTS matching) and debug log.
CHECK_OBJS_tls = $(B)/obj/shim/config.o $(B)/obj/shim/log.o
CHECK_LIBS_tls = -lpthread
