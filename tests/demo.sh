#!/bin/sh
# make demo: the whole system working offline.  Starts the project's mock
# Anthropic API on a free loopback port, runs real programs through
# `ratetap run` (which starts ratetapd), waits for the usage poll and prints
# `ratetap status`.  Everything lives in a temporary directory that is
# removed on exit, together with the mock and the daemon.
set -u

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
RATETAP="$ROOT/build/ratetap"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

for f in "$RATETAP" "$ROOT/build/ratetapd" "$ROOT/build/libratetap.so"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "demo: $f is not built (make)" >&2; exit 1; }
done
command -v curl >/dev/null 2>&1 || { echo "demo: curl is not installed" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ratetap-demo.XXXXXX") || exit 1
MOCK_PID=
MOCK_TLS_PID=

# The daemon's pid, from its own status.
daemon_pid() {
	"$RATETAP" status --json 2>/dev/null | "$PY" -c \
	    'import json, sys; print(json.load(sys.stdin)["daemon"]["pid"])' \
	    2>/dev/null
}

# Wait (bounded) until process $1 is gone.
wait_gone() {
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	! kill -0 "$1" 2>/dev/null
}

stop_daemon() {
	pid=$(daemon_pid)
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait_gone "$pid" || kill -KILL "$pid" 2>/dev/null
}

cleanup() {
	trap - EXIT INT TERM
	stop_daemon
	for pid in $MOCK_TLS_PID; do
		kill -TERM "$pid" 2>/dev/null
		wait_gone "$pid" || kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -n "$MOCK_PID" ]; then
		kill -TERM "$MOCK_PID" 2>/dev/null
		wait_gone "$MOCK_PID" || kill -KILL "$MOCK_PID" 2>/dev/null
		wait "$MOCK_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "demo: $*" >&2; exit 1; }

# A private world: nothing of the user's (sockets, state, token) is used.
mkdir -m 0700 "$TMP/run" "$TMP/state" "$TMP/home" || exit 1
export HOME="$TMP/home" XDG_RUNTIME_DIR="$TMP/run" XDG_STATE_HOME="$TMP/state"
export CLAUDE_CONFIG_DIR="$TMP/home/.claude"
unset RATETAP_SOCKET RATETAP_CONTROL RATETAP_SHIM RATETAP_DISABLE \
    CLAUDE_CODE_OAUTH_TOKEN http_proxy https_proxy all_proxy HTTP_PROXY \
    HTTPS_PROXY ALL_PROXY 2>/dev/null

step "Starting the mock Anthropic API (tests/mock_api.py)"
"$PY" tests/mock_api.py >"$TMP/mock.port" 2>"$TMP/mock.log" &
MOCK_PID=$!
i=0
while [ ! -s "$TMP/mock.port" ] && [ $i -lt 100 ]; do
	kill -0 "$MOCK_PID" 2>/dev/null || fail "the mock API exited: $(cat "$TMP/mock.log")"
	sleep 0.05; i=$((i + 1))
done
PORT=$(head -n 1 "$TMP/mock.port")
case "$PORT" in ''|*[!0-9]*) fail "the mock API printed no port" ;; esac
BASE="http://127.0.0.1:$PORT"
echo "    listening on $BASE"

# The same API over HTTPS, for a program without libcurl (step 4): a
# certificate for localhost made here, its own CA.
TLS_PORT=
if command -v openssl >/dev/null 2>&1 &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	-nodes -days 1 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost \
	-addext basicConstraints=critical,CA:TRUE \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1; then
	"$PY" tests/mock_api.py --tls "$TMP/cert.pem" "$TMP/key.pem" \
	    >"$TMP/mock-tls.port" 2>"$TMP/mock-tls.log" &
	MOCK_TLS_PID=$!
	i=0
	while [ ! -s "$TMP/mock-tls.port" ] && [ $i -lt 100 ]; do
		kill -0 "$MOCK_TLS_PID" 2>/dev/null || break
		sleep 0.05; i=$((i + 1))
	done
	TLS_PORT=$(head -n 1 "$TMP/mock-tls.port" 2>/dev/null)
	case "$TLS_PORT" in ''|*[!0-9]*) TLS_PORT= ;; esac
	[ -n "$TLS_PORT" ] && echo "    and on https://localhost:$TLS_PORT"
fi

HOSTS="127.0.0.1:$PORT"
[ -n "$TLS_PORT" ] && HOSTS="$HOSTS,localhost:$TLS_PORT"
export RATETAP_HOSTS="$HOSTS" RATETAP_API_BASE="$BASE"
export RATETAP_OAUTH_TOKEN=demo-token RATETAP_POLL_INTERVAL=2
curl -sS -o /dev/null -X POST -H 'content-type: application/json' \
    -d '{"usage": {"mode": "ok", "token": "demo-token"}}' \
    "$BASE/_mock/config" || fail "cannot configure the mock API"
echo "    its usage endpoint answers only to the OAuth token demo-token"

MSG='"max_tokens": 256, "messages": [{"role": "user", "content": "Hello"}]'

# A request through `ratetap run`; prints "HTTP <code>".
request() {
	code=$("$RATETAP" run -- "$@") || fail "ratetap run $1 failed"
	echo "    -> HTTP $code"
}

step "1. curl, a plain JSON request (ratetap run starts ratetapd, which polls the usage endpoint)"
request curl -sS -o /dev/null -w '%{http_code}' "$BASE/v1/messages" \
    -H 'content-type: application/json' \
    -d "{\"model\": \"claude-sonnet-4-5\", $MSG}"

step "2. curl, a streaming request (SSE), Opus"
request curl -sS -N -o /dev/null -w '%{http_code}' "$BASE/v1/messages" \
    -H 'content-type: application/json' -H 'x-mock-chunk: 64' \
    -d "{\"model\": \"claude-opus-4-1\", \"stream\": true, $MSG}"

if "$PY" -c 'import pycurl' 2>/dev/null; then
	step "3. a second program: python3 with pycurl"
	request "$PY" -c '
import io, sys, pycurl
c = pycurl.Curl()
c.setopt(pycurl.URL, sys.argv[1])
c.setopt(pycurl.POSTFIELDS, sys.argv[2])
c.setopt(pycurl.HTTPHEADER, ["content-type: application/json"])
c.setopt(pycurl.WRITEDATA, io.BytesIO())
c.perform()
print(c.getinfo(pycurl.RESPONSE_CODE))
' "$BASE/v1/messages" "{\"model\": \"claude-haiku-4-5\", $MSG}"
else
	step "3. a second program: a copy of curl named agent-tool"
	mkdir "$TMP/bin" && cp "$(command -v curl)" "$TMP/bin/agent-tool" || fail "cannot copy curl"
	request "$TMP/bin/agent-tool" -sS -o /dev/null -w '%{http_code}' \
	    "$BASE/v1/messages" -H 'content-type: application/json' \
	    -d "{\"model\": \"claude-haiku-4-5\", $MSG}"
fi

WANT=4
if [ -n "$TLS_PORT" ]; then
	step "4. python3's urllib over HTTPS: no libcurl, seen at the TLS layer"
	request "$PY" -c '
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[3])
r = urllib.request.urlopen(urllib.request.Request(sys.argv[1],
    data=sys.argv[2].encode(), headers={"content-type": "application/json"}),
    context=ctx)
r.read()
print(r.status)
' "https://localhost:$TLS_PORT/v1/messages" \
	    "{\"model\": \"claude-sonnet-4-5\", $MSG}" "$TMP/cert.pem"
	WANT=5
fi

step "5. curl, a request the API rate-limits (HTTP 429)"
request curl -sS -o /dev/null -w '%{http_code}' "$BASE/v1/messages" \
    -H 'content-type: application/json' -H 'x-mock-status: 429' \
    -d "{\"model\": \"claude-sonnet-4-5\", $MSG}"

step "6. Waiting for ratetapd to count $WANT requests and poll the usage endpoint"
i=0
until "$RATETAP" status --json 2>/dev/null | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if s["requests"]["total"] >= int(sys.argv[1]) and s["poll"]["last_ok"] else 1)
' "$WANT" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "ratetapd did not see everything within 10 s"
	sleep 0.1
done
echo "    done"

step "7. ratetap status"
"$RATETAP" status || fail "ratetap status failed"

step "8. Stopping ratetapd"
pid=$(daemon_pid)
[ -n "$pid" ] || fail "no daemon answers"
kill -TERM "$pid" && wait_gone "$pid" || fail "ratetapd did not stop"
echo "    stopped (pid $pid), its state saved on the way out"
exit 0
