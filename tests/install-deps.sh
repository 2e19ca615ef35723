#!/bin/sh
# Install the Debian packages ratetap needs to build and test, but only
# those that are missing, and only when running as root on a system with
# apt-get.  Anyone else gets the list of what is missing.
set -u

# Build: the compiler, libraries and pkg-config.  Tests: the real clients
# (curl, php with its curl extension, python3 with pycurl), openssl for test
# certificates, the Prometheus parser, groff for the man page check,
# clang with its runtime libraries for the libFuzzer harnesses, gdb (gcore)
# for the test that looks for the token in a core dump of the daemon, and
# nghttpx (an HTTP/2 front for the mock API), prometheus (promtool and a
# real server for contrib/prometheus/), zsh and fish (the shells whose
# start-up files `ratetap enable` edits), Python's protobuf and protoc
# (decoding the OTLP protobuf ratetapd sends).  For `ratetap doctor`: the
# other interpreters whose libcurl binding is an extension module (ruby with
# curb, lua 5.1 and 5.2 with lua-curl, perl with WWW::Curl), Guzzle, and
# wget (GnuTLS, no libcurl).  The ledger: SQLite.  `ratetap watch`:
# ncurses, and tmux to drive it in a real terminal.  The TLS tap's
# Content-Encoding decoders (shim/decode.c): the shim loads the system's
# zlib, brotli and zstd at run time, the unit test compresses its input with
# their encoders and checks the decoder's types against their headers.
# The HTTP/2 reader (shim/h2.c) loads libnghttp2 the same way; its unit
# test writes header blocks with libnghttp2's HPACK deflater.  The TLS
# layer's real clients: python3-requests, python3-httpx and python3-h2
# (httpx over HTTP/2), with php-cli's stream wrapper, ruby's net/http, wget
# and nghttpx (the h2 front) from above; the layer's own test clients
# (tests/client/rt-tls.c) build against libssl-dev and libgnutls28-dev.
PKGS="gcc make pkg-config libcurl4-openssl-dev libcjson-dev libelf-dev \
libprotobuf-c-dev protobuf-c-compiler check libsubunit-dev libmicrohttpd-dev curl php-cli php-curl python3 \
python3-pycurl python3-prometheus-client openssl groff-base clang \
libclang-rt-14-dev gdb nghttp2-proxy ruby ruby-curb lua5.1 lua5.2 lua-curl \
php-guzzlehttp-guzzle libwww-curl-perl wget prometheus zsh fish python3-protobuf \
protobuf-compiler libsqlite3-dev libncurses-dev tmux zlib1g-dev libbrotli-dev \
libzstd-dev libnghttp2-dev python3-requests python3-httpx python3-h2 \
libssl-dev libgnutls28-dev"

# `make deb` alone (tests/install-deps.sh deb): the packaging tools, and the
# build-dependencies of debian/control.
if [ "${1:-}" = deb ]; then
	PKGS="build-essential dpkg-dev debhelper lintian pkg-config \
libcurl4-openssl-dev libcjson-dev libelf-dev libmicrohttpd-dev \
libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev libncurses-dev"
fi

# `make bench` (tests/install-deps.sh bench), before anything is measured:
# nginx (the canned API server and the reverse proxy) and valgrind (the
# instruction counts).
if [ "${1:-}" = bench ]; then
	PKGS="nginx valgrind"
fi

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
# Another apt or dpkg (unattended-upgrades, a second make check) may hold the
# package locks: wait for them rather than fail.  DPkg::Lock::Timeout covers
# dpkg's frontend lock; the lists lock of 'apt-get update' is not covered by
# it on every apt, so update is retried for as long.
LOCK_WAIT=${INSTALL_DEPS_LOCK_WAIT:-900}
apt_get() {
	apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT" "$@"
}
waited=0
until apt_get update -qq; do
	if [ "$waited" -ge "$LOCK_WAIT" ]; then
		echo "install-deps: apt-get update kept failing for ${LOCK_WAIT}s" >&2
		exit 1
	fi
	echo "install-deps: apt-get update failed (a package lock held?); retrying" >&2
	sleep 10
	waited=$((waited + 10))
done
# shellcheck disable=SC2086
apt_get install -y -qq --no-install-recommends $missing >/dev/null || exit 1
