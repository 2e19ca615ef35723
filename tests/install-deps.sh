#!/bin/sh
# Install the Debian packages ratetap needs to build and test, but only
# those that are missing, and only when running as root on a system with
# apt-get.  Anyone else gets the list of what is missing.
set -u

# Build: the compiler, libraries and pkg-config.  Tests: the real clients
# (curl, php with its curl extension, python3 with pycurl), openssl for test
# certificates, the Prometheus parser, groff for the man page check,
# clang with its runtime libraries for the libFuzzer harnesses, and
# nghttpx (an HTTP/2 front for the mock API).
PKGS="gcc make pkg-config libcurl4-openssl-dev libcjson-dev libelf-dev \
check libsubunit-dev libmicrohttpd-dev curl php-cli php-curl python3 \
python3-pycurl python3-prometheus-client openssl groff-base clang \
libclang-rt-14-dev nghttp2-proxy"

command -v dpkg-query >/dev/null 2>&1 || {
	echo "install-deps: not a Debian system; make sure these are installed: $PKGS" >&2
	exit 0
}

missing=
for p in $PKGS; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
	[ "$s" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run 'sudo apt-get install$missing' (or make check as root)" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || exit 1
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null || exit 1
