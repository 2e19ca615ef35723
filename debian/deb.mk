# make deb: the Debian package, build/ratetap_<version>_<arch>.deb
# (included by the top Makefile).
#
# dpkg-buildpackage cleans the tree it builds in (make distclean) and writes
# its output beside it, so it runs on a copy of the sources in
# build/deb/ratetap-<version>, never on this tree or its parent.  The
# packaging tools come from their own package list (tests/install-deps.sh
# deb), so a plain `make check` does not install them.  lintian must report
# no error (debian/ratetap.lintian-overrides says why each override is
# there).

DEB_WORK = build/deb
DEB_SRC  = $(DEB_WORK)/ratetap-$(VERSION)

.PHONY: deb deb-deps
deb-deps:
	@sh tests/install-deps.sh deb

deb: deb-deps
	rm -rf $(DEB_WORK) && mkdir -p $(DEB_SRC)
	tar -cf - --exclude=./build --exclude=./.git --exclude=./config.mak \
	    --exclude='__pycache__' . | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b
	rm -f build/ratetap_*.deb build/ratetap-dbgsym_*.deb \
	    build/ratetap_*.changes build/ratetap_*.buildinfo
	mv $(DEB_WORK)/ratetap_$(VERSION)_*.deb \
	    $(DEB_WORK)/ratetap-dbgsym_$(VERSION)_*.deb \
	    $(DEB_WORK)/ratetap_$(VERSION)_*.changes \
	    $(DEB_WORK)/ratetap_$(VERSION)_*.buildinfo build/
	lintian --allow-root --fail-on error build/ratetap_$(VERSION)_*.changes
	rm -rf $(DEB_WORK)
	@ls build/ratetap_$(VERSION)_*.deb
