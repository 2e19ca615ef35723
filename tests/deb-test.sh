#!/bin/sh
# The Debian package end to end (a CI stage of its own, see .ci/run):
# build it with `make deb`, install it with apt-get, run one tapped request
# through the installed /usr/bin/ratetap against the mock API (in temporary
# HOME and XDG directories, with the daemon `ratetap run` starts, which is
# stopped again by its pid), then purge the package and check that none of
# its files is left.  Installing a package needs root: anyone else is
# skipped (exit 0 with a message).
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "deb-test: skipped (needs root and apt-get)"
	exit 0
fi
if dpkg-query -W -f='${db:Status-Status}' ratetap 2>/dev/null |
    grep -qx installed; then
	echo "deb-test: a ratetap package is installed already; not touching it" >&2
	exit 1
fi

make deb
deb=$(ls build/ratetap_*.deb)
echo "deb-test: installing $deb"
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 \
    install -y -qq "./$deb" >/dev/null
files=$(mktemp)
trap 'rm -f "$files"' EXIT
dpkg -L ratetap > "$files"

rc=0
python3 - <<'EOF' || rc=1
import json, os, shutil, signal, socket, struct, subprocess, sys, tempfile
sys.path.insert(0, "tests/integration")
from harness import MockAPI

multiarch = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"],
                           capture_output=True, text=True).stdout.strip()
shim = "/usr/lib/%s/ratetap/libratetap.so" % multiarch
api = MockAPI()
tmp = tempfile.mkdtemp(prefix="rt-deb-")
env = {"PATH": "/usr/bin:/bin", "HOME": tmp + "/home",
       "XDG_RUNTIME_DIR": tmp + "/run", "XDG_STATE_HOME": tmp + "/state",
       "RATETAP_HOSTS": api.hostport, "RATETAP_API_BASE": api.base,
       "RATETAP_POLL_INTERVAL": "300"}
for d in ("home", "run", "state"):
    os.mkdir(os.path.join(tmp, d), 0o700)
control = tmp + "/run/ratetap/control.sock"
pid = None
try:
    p = subprocess.run(
        ["/usr/bin/ratetap", "run", "--", "curl", "-sS", "-o", "/dev/null",
         "-H", "x-mock-usage: 11,22,0,0", api.url("/v1/messages"),
         "-d", '{"model":"claude-sonnet-4-5","max_tokens":8,'
               '"messages":[{"role":"user","content":"hi"}]}'],
        env=env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(control)
    pid = struct.unpack("3i", s.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
    s.close()
    exe = os.readlink("/proc/%d/exe" % pid)
    assert exe == "/usr/bin/ratetapd", exe
    st = json.loads(subprocess.run(["/usr/bin/ratetap", "status", "--json"],
                                   env=env, capture_output=True,
                                   check=True).stdout)
    assert st["requests"]["total"] == 1, st["requests"]
    tok = st["windows"]["five_hour"]["tokens"]
    assert (tok["input"], tok["output"]) == (11, 22), tok
    out = subprocess.run(["/usr/bin/ratetap", "doctor"], env=env,
                         capture_output=True, text=True).stdout
    assert "ok   shim: %s\n" % shim in out, out
    print("deb-test: tapped request counted by the installed ratetap "
          "(shim %s)" % shim)
finally:
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not os.path.exists("/proc/%d" % pid):
                break
            import time; time.sleep(0.1)
    api.close()
    shutil.rmtree(tmp, ignore_errors=True)
EOF

DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 \
    purge -y -qq ratetap >/dev/null
if dpkg -L ratetap >/dev/null 2>&1; then
	echo "deb-test: dpkg still lists ratetap's files after purge" >&2
	rc=1
fi
left=
while IFS= read -r f; do
	if [ ! -d "$f" ] && { [ -e "$f" ] || [ -L "$f" ]; }; then
		left="$left $f"
	fi
done < "$files"
for d in /usr/lib/*/ratetap /usr/share/doc/ratetap; do
	if [ -e "$d" ]; then left="$left $d"; fi
done
if [ -n "$left" ]; then
	echo "deb-test: left after purge:$left" >&2
	rc=1
fi
[ "$rc" = 0 ] && echo "deb-test: installed, used and purged cleanly"
exit "$rc"
