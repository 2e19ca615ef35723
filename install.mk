# make install / make uninstall (included by the top Makefile).
#
#   make install   PREFIX=/usr/local DESTDIR=  (BINDIR, LIBDIR, MANDIR,
#                  DOCDIR, DATADIR, SYSTEMD_USER_DIR as defined in the
#                  Makefile)
#   make uninstall removes exactly the files install puts in place, then
#                  the ratetap-owned directories if they are left empty.
#
# The binaries embed LIBDIR (RATETAP_LIBDIR, where `ratetap run` looks for
# the shim) from the PREFIX they were compiled with: build and install with
# the same PREFIX (`make clean` first when changing it).  DESTDIR only
# stages the files; it is not part of the embedded paths.  The units get
# BINDIR for @bindir@; ratetap(1) gets LIBDIR for the default shim path.

INSTALL      ?= install
INST_BIN      = $(DESTDIR)$(BINDIR)
INST_LIB      = $(DESTDIR)$(LIBDIR)
INST_MAN1     = $(DESTDIR)$(MANDIR)/man1
INST_MAN8     = $(DESTDIR)$(MANDIR)/man8
INST_UNITS    = $(DESTDIR)$(SYSTEMD_USER_DIR)
INST_DOC      = $(DESTDIR)$(DOCDIR)
INST_DATA     = $(DESTDIR)$(DATADIR)

UNITS         = ratetap.socket ratetap.service
DOCS          = README.md $(wildcard docs/*.md)

install: $(SHIM) $(DAEMON) $(CLI)
	$(INSTALL) -d $(INST_BIN) $(INST_LIB) $(INST_MAN1) $(INST_MAN8) \
	    $(INST_UNITS) $(INST_DOC)
	$(INSTALL) -m 0755 $(CLI) $(DAEMON) $(INST_BIN)/
	$(INSTALL) -m 0755 $(SHIM) $(INST_LIB)/
	sed 's|/usr/local/lib/ratetap|$(LIBDIR)|g' man/ratetap.1 \
	    > $(INST_MAN1)/ratetap.1.tmp && chmod 0644 $(INST_MAN1)/ratetap.1.tmp \
	    && mv -f $(INST_MAN1)/ratetap.1.tmp $(INST_MAN1)/ratetap.1
	$(INSTALL) -m 0644 man/ratetapd.8 $(INST_MAN8)/
	for u in $(UNITS); do \
	    sed 's|@bindir@|$(BINDIR)|g' contrib/systemd/$$u \
	        > $(INST_UNITS)/$$u.tmp && \
	    chmod 0644 $(INST_UNITS)/$$u.tmp && \
	    mv -f $(INST_UNITS)/$$u.tmp $(INST_UNITS)/$$u || exit 1; \
	done
	$(INSTALL) -m 0644 $(DOCS) $(INST_DOC)/
	$(INSTALL) -d $(INST_DATA)
	$(INSTALL) -m 0644 share/ratetap/pricing.json $(INST_DATA)/

uninstall:
	rm -f $(INST_BIN)/ratetap $(INST_BIN)/ratetapd
	rm -f $(INST_LIB)/libratetap.so
	rm -f $(INST_MAN1)/ratetap.1 $(INST_MAN8)/ratetapd.8
	rm -f $(addprefix $(INST_UNITS)/,$(UNITS))
	rm -f $(addprefix $(INST_DOC)/,$(notdir $(DOCS)))
	rm -f $(INST_DATA)/pricing.json
	for d in $(INST_LIB) $(INST_DOC) $(INST_DATA); do \
	    rmdir $$d 2>/dev/null || :; done
