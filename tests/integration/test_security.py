"""Security properties of a real ratetapd and the real shim
(docs/security.md maps each threat to the test here that covers it).

- Datagrams from another uid are refused and counted.
- Sockets are 0600 in a 0700 directory; a socket path or runtime directory
  that belongs to someone else, or a symlink in place of a socket, is
  refused, never reused or removed (the daemon exits with a clear error).
- The shim sends to the default ingest socket (RATETAP_SOCKET unset) only
  when its directory is a directory of ours that nobody else can write.
- No credential or prompt text reaches the daemon's log, the state file,
  the status JSON, the metrics, `ratetap status`, the datagrams, or the
  shim's debug output.
- In a setuid/setgid process the shim does nothing: the loader drops an
  LD_PRELOADed shim given by path, and a shim loaded with dlopen() turns
  itself off (getauxval(AT_SECURE)).

Several tests need root (to act as another user with setpriv, to chown
files to another user, to make setgid copies); they are skipped otherwise.
"""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (BUILD, CLI, DAEMON, PYTHON, RECEIVER,  # noqa: E402
                     SANITIZE, SHIM, MockAPI, Receiver, have, run,
                     shim_env, staged, staged_env, san_env)
from daemontest import DaemonTestCase  # noqa: E402

NOBODY = 65534
RT_LOAD = os.path.join(BUILD, "tests", "rt-load")
RT_CLIENT = os.path.join(BUILD, "tests", "rt-client")
PLUGHOST = os.path.join(BUILD, "tests", "plughost")

# Canaries: a whole token and prompt, and the distinctive cores that a
# truncated or partial copy would still contain.
TOKEN = "sk-ant-oat01-RTCANARYtok7f3a9b2c41d8e0-QQ"
TOKEN_CORE = "RTCANARYtok7f3a"
PROMPT = "RTCANARYprompt5e1c the secret plan is 42"
PROMPT_CORE = "RTCANARYprompt5e1c"
CANARIES = (TOKEN, TOKEN_CORE, PROMPT, PROMPT_CORE)

MSG = '{"model":"claude-sonnet-4-5","max_tokens":64,' \
      '"messages":[{"role":"user","content":"%s"}]}'
STREAM = '{"model":"claude-opus-4-1","stream":true,"max_tokens":64,' \
         '"messages":[{"role":"user","content":"%s"}]}'

PYCLIENT = r'''
import sys, pycurl
url, body, token = sys.argv[1:4]
c = pycurl.Curl()
c.setopt(pycurl.URL, url)
c.setopt(pycurl.HTTPHEADER, ["content-type: application/json",
                             "authorization: Bearer " + token,
                             "x-api-key: " + token])
c.setopt(pycurl.POSTFIELDS, body)
c.setopt(pycurl.WRITEFUNCTION, sys.stdout.buffer.write)
c.perform()
c.close()
'''


def as_nobody(argv):
    """argv run as nobody; our programs in it (argv[0] and any argument
    naming one, such as the shim given to plughost) are staged() copies
    nobody can read wherever the checkout lives."""
    argv = [staged(a) if isinstance(a, str) and a.startswith(BUILD + "/")
            and os.path.isfile(a) else a for a in argv]
    return ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
            "--clear-groups"] + list(argv)


def need_root(test):
    if os.geteuid() != 0:
        test.skipTest("needs root")
    if not have("setpriv"):
        test.skipTest("needs setpriv (util-linux)")


def open_path_for_nobody(path, top):
    """chmod o+x every directory from top (a test's own temporary
    directory) down to path's directory; returns [(path, old mode)] to
    restore."""
    saved = []
    d = os.path.dirname(path)
    chain = []
    while True:
        if not (d + "/").startswith(top.rstrip("/") + "/") or d == "/":
            raise AssertionError("%s is not under %s" % (path, top))
        chain.append(d)
        if d == top.rstrip("/"):
            break
        d = os.path.dirname(d)
    for d in reversed(chain):
        m = stat.S_IMODE(os.stat(d).st_mode)
        saved.append((d, m))
        os.chmod(d, m | 0o711)
    return saved


def restore_modes(saved):
    for p, m in reversed(saved):
        try:
            os.chmod(p, m)
        except OSError:
            pass


class SecurityCase(DaemonTestCase):

    TMP_PREFIX = "rt-sec-"


# -- who may send ------------------------------------------------------------

class ForeignUidTest(SecurityCase):

    def test_datagrams_from_another_uid_are_refused_and_counted(self):
        need_root(self)
        api = self.mock()
        d = self.daemon(api)
        # open the way (directories o+x, socket o+w): only the uid check
        # is left to stop them
        open_path_for_nobody(d.ingest_path, os.path.dirname(d.runtime_dir))
        os.chmod(d.ingest_path, 0o666)

        # rt-load: 5 well-formed events and its final one, as nobody
        p = run(as_nobody([RT_LOAD, "--socket", d.ingest_path, "--count",
                           "5", "--pause-ms", "0", "--give-up-ms", "2000"]),
                d.env)
        self.assertEqual(p.returncode, 0, p.stderr)
        sent = json.loads(p.stdout)["sent"]
        self.assertEqual(sent, 6)
        # and a real curl under the shim, as nobody
        env = dict(d.env)
        p = run(as_nobody(["curl", "-sS", api.url(), "-d", MSG % "hi"]),
                staged_env(env))
        self.assertEqual(p.returncode, 0, p.stderr)
        st = d.wait_for(lambda s: s["ingest"]["foreign_uid"] == sent + 1)
        time.sleep(0.3)
        st = d.status()
        self.assertEqual(st["ingest"]["foreign_uid"], sent + 1)
        self.assertEqual(st["ingest"]["accepted"], 0)
        self.assertEqual(st["requests"]["total"], 0)
        self.assertEqual(st["models"], {})
        # the same from our own uid is accepted
        p = run(["curl", "-sS", api.url(), "-d", MSG % "hi"], d.env)
        self.assertEqual(p.returncode, 0)
        d.wait_for(lambda s: s["ingest"]["accepted"] == 1)


# -- sockets and directories -------------------------------------------------

class SocketPathTest(SecurityCase):

    def test_sockets_are_0600_in_a_0700_directory_owned_by_us(self):
        d = self.daemon()
        rdir = os.path.dirname(d.ingest_path)
        st = os.stat(rdir)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        self.assertEqual(st.st_uid, os.geteuid())
        for p in (d.ingest_path, d.control_path):
            st = os.lstat(p)
            self.assertTrue(stat.S_ISSOCK(st.st_mode), p)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, p)
            self.assertEqual(st.st_uid, os.geteuid(), p)
        # and the state directory and file are private too
        d.stop()
        self.assertEqual(stat.S_IMODE(os.stat(d.state_dir).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(
            d.state_dir, "state.json")).st_mode) & 0o077, 0)

    def refused(self, d, *expect):
        """Run ratetapd against d's directories: it must exit 1 at once
        with a message containing each of expect."""
        p = run([DAEMON], d.daemon_env, timeout=20)
        err = p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, 1, err)
        for e in expect:
            self.assertIn(e, err)
        return err

    def foreign_socket(self, path):
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.close()		# stale: nobody listens
        os.chown(path, NOBODY, NOBODY)
        return os.lstat(path)

    def test_a_socket_path_owned_by_another_user_is_refused(self):
        need_root(self)
        for which in ("ingest", "control"):
            with self.subTest(which):
                d = self.daemon(start=False)
                path = d.ingest_path if which == "ingest" else \
                    d.control_path
                before = self.foreign_socket(path)
                self.refused(d, path, "uid %d" % NOBODY)
                after = os.lstat(path)
                self.assertEqual((after.st_ino, after.st_uid),
                                 (before.st_ino, NOBODY),
                                 "the socket was replaced")

    def test_a_runtime_directory_owned_by_another_user_is_refused(self):
        need_root(self)
        d = self.daemon(start=False)
        rdir = os.path.dirname(d.ingest_path)
        os.makedirs(rdir, mode=0o700)
        os.chown(rdir, NOBODY, NOBODY)
        self.refused(d, rdir, "owned by uid %d" % NOBODY)
        self.assertEqual(os.listdir(rdir), [], "nothing created in it")
        self.assertEqual(os.stat(rdir).st_uid, NOBODY)

    def test_a_symlink_in_place_of_a_socket_is_not_followed(self):
        d = self.daemon(start=False)
        os.makedirs(os.path.dirname(d.ingest_path), mode=0o700)
        target = os.path.join(self.tmp, "precious")
        with open(target, "w") as f:
            f.write("keep me")
        os.symlink(target, d.ingest_path)
        self.refused(d, d.ingest_path, "not a socket")
        self.assertTrue(os.path.islink(d.ingest_path))
        with open(target) as f:
            self.assertEqual(f.read(), "keep me")


class ShimRuntimeDirTest(SecurityCase):
    """With RATETAP_SOCKET unset the shim sends to
    $XDG_RUNTIME_DIR/ratetap/ingest.sock (/tmp/ratetap-$UID without
    XDG_RUNTIME_DIR) only when that directory is a directory (not a
    symbolic link) owned by the user and writable by nobody else: another
    user who made it first would receive the datagrams.  Otherwise the
    events are dropped, and RATETAP_DEBUG=1 says why, once."""

    def send(self, rdir):
        """Two tapped curl transfers in one process with the default
        socket path under self.xdg, a receiver bound there; returns
        (events received, curl's stderr)."""
        sock = os.path.join(rdir, "ingest.sock")
        rx = subprocess.Popen([RECEIVER, sock], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(sock):
                self.assertIsNone(rx.poll(), "rt-receiver exited")
                self.assertLess(time.monotonic(), deadline,
                                "rt-receiver did not bind %s" % sock)
                time.sleep(0.01)
            env = shim_env(self.api, None, RATETAP_SOCKET=None,
                           XDG_RUNTIME_DIR=self.xdg, RATETAP_DEBUG="1")
            url = self.api.url("/v1/messages")
            p = run(["curl", "-sS", "-d", MSG % "hi", url, "-d",
                     MSG % "hi", url], env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.count(b'"usage"'), 2, p.stdout)
            time.sleep(0.3)
        finally:
            rx.terminate()
            out = rx.communicate(timeout=10)[0]
        evs = [json.loads(l) for l in out.splitlines() if l.strip()]
        return evs, p.stderr

    def setUp(self):
        super().setUp()
        self.api = self.mock()
        self.xdg = os.path.join(self.tmp, "xdg")
        self.rdir = os.path.join(self.xdg, "ratetap")
        os.makedirs(self.rdir, mode=0o700)
        os.chmod(self.rdir, 0o700)

    def refused(self, rdir, why):
        evs, err = self.send(rdir)
        self.assertEqual(evs, [], "datagrams went to an unsafe directory")
        self.assertEqual(err.count(why.encode()), 1, err)
        # both events counted as dropped, said per event
        self.assertEqual(err.count(b"no usable socket"), 2, err)

    def test_the_shim_sends_to_its_own_private_directory(self):
        evs, _ = self.send(self.rdir)
        self.assertEqual(len(evs), 2, evs)
        self.assertEqual({e["sender_uid"] for e in evs}, {os.getuid()})

    def test_a_directory_others_can_write_gets_nothing(self):
        for mode in (0o777, 0o720, 0o702):
            with self.subTest(mode=oct(mode)):
                os.chmod(self.rdir, mode)
                self.refused(self.rdir, "writable by group or others")

    def test_a_symbolic_link_of_ours_to_a_private_directory_is_used(self):
        real = os.path.join(self.xdg, "elsewhere")
        os.rename(self.rdir, real)
        os.symlink(real, self.rdir)
        evs, _ = self.send(self.rdir)
        self.assertEqual(len(evs), 2, evs)

    def test_a_symbolic_link_to_another_users_directory_gets_nothing(self):
        need_root(self)
        real = os.path.join(self.xdg, "elsewhere")
        os.rename(self.rdir, real)
        os.symlink(real, self.rdir)
        os.chown(real, NOBODY, NOBODY)
        self.refused(self.rdir, "owned by uid %d" % NOBODY)

    def test_a_directory_owned_by_another_user_gets_nothing(self):
        need_root(self)
        os.chown(self.rdir, NOBODY, NOBODY)
        self.refused(self.rdir, "owned by uid %d" % NOBODY)


# -- no secrets anywhere -----------------------------------------------------

class CanaryTest(SecurityCase):

    def clients(self, api, env):
        """Every kind of request, each carrying the canaries in the
        prompt, the Authorization and x-api-key headers, the query string
        and the URL's user info.  Returns (transfers, stderr of all)."""
        script = os.path.join(self.tmp, "pyclient.py")
        with open(script, "w") as f:
            f.write(PYCLIENT)
        auth = ["-H", "authorization: Bearer " + TOKEN,
                "-H", "x-api-key: " + TOKEN,
                "-H", "content-type: application/json"]
        host = api.hostport
        url_q = api.url("/v1/messages?key=%s&q=%s" % (TOKEN, PROMPT_CORE))
        url_user = "http://user:%s@%s/v1/messages" % (TOKEN, host)
        runs = [
            ["curl", "-sS"] + auth + ["-d", MSG % PROMPT, api.url()],
            ["curl", "-sS"] + auth + ["-d", STREAM % PROMPT, url_q],
            ["curl", "-sS"] + auth + ["-H", "x-mock-adversarial: 1",
                                      "-d", MSG % PROMPT, url_user],
            ["curl", "-sS"] + auth + ["-d", MSG % PROMPT,
                                      api.url("/v1/messages/count_tokens")],
            ["curl", "-sS"] + auth + ["-H", "x-mock-status: 429",
                                      "-d", MSG % PROMPT, api.url()],
            [RT_CLIENT, "--url", api.base, "-n", "2", "--header",
             "x-api-key: " + TOKEN, "--header",
             "authorization: Bearer " + TOKEN],
            [PYTHON, script, api.url(), MSG % PROMPT, TOKEN],
        ]
        transfers = 5 + 2 + 1
        errs = b""
        for argv in runs:
            p = run(argv, dict(env, RATETAP_DEBUG="1"))
            self.assertEqual(p.returncode, 0, "%s: %s" % (argv[0],
                                                           p.stderr))
            self.assertTrue(p.stdout)
            errs += p.stderr
        return transfers, errs

    def assert_clean(self, where, data):
        if isinstance(data, bytes):
            data = data.decode(errors="replace")
        self.assertTrue(data, "%s is empty: nothing was checked" % where)
        for c in CANARIES:
            self.assertNotIn(c, data, "%s leaks %r" % (where, c))

    def test_no_token_or_prompt_reaches_any_output(self):
        api = self.mock()
        api.configure({"usage": {"mode": "ok", "token": TOKEN}})
        d = self.daemon(api, token=TOKEN, args=["--debug"],
                        env={"RATETAP_DEBUG": "1"})
        n, shim_err = self.clients(api, d.env)
        self.assertIn(b"ratetap: ", shim_err, "the shim's debug output")
        self.assert_clean("the shim's debug output", shim_err)
        st = d.wait_for(lambda s: s["requests"]["total"] == n and
                        s["poll"]["last_ok"] is not None)
        # the token was really used: the mock saw it on the polls
        self.assertGreaterEqual(api.stats()["polls_token_ok"], 1)
        self.assert_clean("status JSON", json.dumps(st))
        code, _, body = d.request("GET", "/metrics")
        self.assertEqual(code, 200)
        self.assert_clean("/metrics", body)
        for args in ([], ["--json"]):
            p = run([CLI, "status"] + args, d.env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assert_clean("ratetap status %s" % " ".join(args),
                              p.stdout + p.stderr)
        self.assertEqual(d.stop(), 0)
        with open(os.path.join(d.state_dir, "state.json")) as f:
            self.assert_clean("state.json", f.read())
        self.assertIn("usage poll on", d.log())
        self.assert_clean("daemon log", d.log())

        # the datagrams themselves, as a receiver sees them
        with Receiver() as rx:
            _, shim_err = self.clients(api, shim_env(api, rx))
            evs = rx.events(n)
        self.assert_clean("datagrams", json.dumps(evs))
        self.assert_clean("the shim's debug output", shim_err)
        paths = sorted(set(e["path"] for e in evs))
        self.assertEqual(paths, ["/v1/messages",
                                 "/v1/messages/count_tokens"])
        self.assertEqual(set(e["host"] for e in evs), {api.hostport})


# -- setuid and setgid programs ----------------------------------------------

# -- the token in memory and in children ------------------------------------

MEM_TOKEN = "sk-ant-oat01-RTMEMcanary0c1d2e3f4a5b-XY"


def core_copies(pid, needles, tmp):
    """Occurrences of each of needles in one core dump of the running
    process pid (gcore: the process goes on afterwards)."""
    out = os.path.join(tmp, "core")
    r = subprocess.run(["gcore", "-o", out, str(pid)], capture_output=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    cores = [f for f in os.listdir(tmp) if f.startswith("core.")]
    if r.returncode != 0 or not cores:
        raise unittest.SkipTest("gcore could not dump the daemon: %s" %
                                r.stderr.decode(errors="replace")[-300:])
    path = os.path.join(tmp, cores[0])
    try:
        with open(path, "rb") as f:
            data = f.read()
    finally:
        os.unlink(path)
    return [data.count(n.encode()) for n in needles]


@unittest.skipUnless(have("gcore"), "needs gcore (gdb)")
@unittest.skipIf(SANITIZE, "a sanitized daemon maps terabytes of shadow "
                 "memory: gcore cannot dump it in reasonable time")
class TokenInMemoryTest(SecurityCase):
    """After polls, no copy of the OAuth token is left in the daemon's
    memory: not in our buffers, libcurl's, the environment, or anything a
    core dump holds (there was one copy per poll buffer, six in all)."""

    def polled_daemon(self, from_env):
        api = self.mock()
        api.configure({"usage": {"token": MEM_TOKEN}})
        d = self.daemon(api, token=MEM_TOKEN if from_env else None,
                        poll_interval=2)
        if not from_env:
            d.write_credentials(MEM_TOKEN)
        deadline = time.monotonic() + 30
        while api.stats()["polls_token_ok"] < 2:
            self.assertLess(time.monotonic(), deadline, d.log())
            time.sleep(0.05)
        # right after a poll: the next one is 2 s away, not in flight
        # while gcore dumps
        n = api.stats()["polls_token_ok"]
        while api.stats()["polls_token_ok"] == n:
            self.assertLess(time.monotonic(), deadline, d.log())
            time.sleep(0.01)
        d.wait_for(lambda s: s["poll"]["next_at"] is not None, timeout=10)
        return d

    def copies(self, d):
        """Whole and partial copies of the token in a core dump of d."""
        return core_copies(d.proc.pid, (MEM_TOKEN, MEM_TOKEN[13:28]),
                           self.tmp)

    def test_no_copy_of_a_token_from_the_credentials_file(self):
        d = self.polled_daemon(from_env=False)
        self.assertEqual(self.copies(d), [0, 0])

    def test_no_copy_of_a_token_from_the_environment(self):
        d = self.polled_daemon(from_env=True)
        self.assertEqual(self.copies(d), [0, 0])
        with open("/proc/%d/environ" % d.proc.pid, "rb") as f:
            self.assertNotIn(MEM_TOKEN[13:28].encode(), f.read())
        # and polling goes on with it
        api = d.api
        n = api.stats()["polls_token_ok"]
        deadline = time.monotonic() + 20
        while api.stats()["polls_token_ok"] <= n:
            self.assertLess(time.monotonic(), deadline, d.log())
            time.sleep(0.1)


class TokenInChildrenTest(SecurityCase):

    def test_ratetap_run_keeps_ratetaps_token_from_the_command(self):
        # the daemon `ratetap run` starts gets RATETAP_OAUTH_TOKEN (and
        # polls with it); the command does not.  CLAUDE_CODE_OAUTH_TOKEN is
        # Claude Code's own and reaches it.
        api = self.mock()
        api.configure({"usage": {"token": MEM_TOKEN}})
        d = self.daemon(api, start=False, poll_interval=1)
        e = dict(d.daemon_env)
        e["RATETAP_OAUTH_TOKEN"] = MEM_TOKEN
        e["CLAUDE_CODE_OAUTH_TOKEN"] = "claude-code-own-token"
        r = run([CLI, "run", "--", "env"], e, timeout=60)
        pid = None
        try:
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn(b"RATETAP_OAUTH_TOKEN", r.stdout)
            self.assertNotIn(MEM_TOKEN.encode(), r.stdout)
            self.assertIn(b"CLAUDE_CODE_OAUTH_TOKEN=claude-code-own-token",
                          r.stdout)
            pid = d.status()["daemon"]["pid"]
            deadline = time.monotonic() + 30
            while api.stats()["polls_token_ok"] < 1:
                self.assertLess(time.monotonic(), deadline,
                                "the daemon never polled with the token")
                time.sleep(0.1)
            with open("/proc/%d/environ" % pid, "rb") as f:
                self.assertNotIn(MEM_TOKEN.encode(), f.read())
        finally:
            if pid is None:
                try:
                    pid = d.status()["daemon"]["pid"]
                except AssertionError:
                    pass
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        break
                    time.sleep(0.05)


class SecureExecutionTest(SecurityCase):
    """A setgid copy of a test program, run as nobody (so that its
    effective gid differs from its real one: AT_SECURE), against a plain
    copy run the same way."""

    def setUp(self):
        super().setUp()
        need_root(self)
        if "address" in SANITIZE:
            # LeakSanitizer aborts in a setgid process (it cannot trace a
            # non-dumpable one), and no option reaches it there: the
            # runtime reads them from /proc/self/environ, which such a
            # process cannot read.  The plain suite runs these tests.
            self.skipTest("setgid programs cannot run under "
                          "AddressSanitizer")
        for p in (RT_CLIENT, PLUGHOST):
            if not os.access(p, os.X_OK):
                self.fail("%s is not built (make test-progs)" % p)
        os.chmod(self.tmp, 0o755)
        self.api = self.mock()
        self.rx = Receiver()
        self._cleanup.append(self.rx)
        open_path_for_nobody(self.rx.path, os.path.dirname(self.rx.path))
        os.chmod(self.rx.path, 0o666)

    def copies(self, prog):
        """(plain, setgid) copies of prog, owned by root:root."""
        out = []
        for name, mode in (("plain", 0o755), ("setgid", 0o2755)):
            p = os.path.join(self.tmp, "%s-%s" % (os.path.basename(prog),
                                                  name))
            shutil.copy(prog, p)
            os.chown(p, 0, 0)
            os.chmod(p, mode)
            out.append(p)
        self.assertTrue(os.stat(out[1]).st_mode & stat.S_ISGID)
        return out

    def env(self, **extra):
        return shim_env(self.api, self.rx, RATETAP_DEBUG="1", **extra)

    def test_the_loader_drops_a_preloaded_shim_in_a_setgid_program(self):
        plain, setgid = self.copies(RT_CLIENT)
        argv = ["--url", self.api.base, "-n", "1"]
        # LD_PRELOAD set by env(1), run by setpriv: only the program
        # itself is started with it
        env = self.env(LD_PRELOAD=None)
        pre = "LD_PRELOAD=" + staged(SHIM)
        p = run(as_nobody(["env", pre, plain] + argv), env)
        self.assertEqual(p.returncode, 0, p.stderr)
        ev = self.rx.events(1)
        self.assertEqual(ev[0]["sender_uid"], NOBODY)
        self.assertIn(b"ratetap: active", p.stderr)
        q = run(as_nobody(["env", pre, setgid] + argv), env)
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertEqual(q.stdout, p.stdout)
        self.assertEqual(self.rx.all(0.5), [])
        self.assertNotIn(b"ratetap:", q.stderr, "the shim was loaded")

    def test_the_shim_turns_itself_off_when_dlopened_in_a_setgid_program(
            self):
        plain, setgid = self.copies(PLUGHOST)
        argv = [staged(SHIM), self.api.url(), MSG % "hi"]
        env = self.env(LD_PRELOAD=None)
        p = run(as_nobody([plain] + argv), env)
        self.assertEqual(p.returncode, 0, p.stderr)
        seen = self.rx.all(0.5)
        self.assertGreater(len(seen), 0, "the plain copy is tapped")
        q = run(as_nobody([setgid] + argv), env)
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertEqual(q.stdout, p.stdout)
        self.assertEqual(self.rx.all(0.5), [])
        # it was loaded (dlopen by path is allowed) and chose to do nothing
        self.assertIn(b"pass-through", q.stderr)


if __name__ == "__main__":
    unittest.main()


FAKE_SERVER = r'''
import http.server, os, socketserver, sys
path = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (b'{"daemon": {"version": "EVIL", "pid": 1}, '
                b'"windows": {"five_hour": {"utilization": 99.9}}}')
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.UnixStreamServer):
    def get_request(self):
        r, _ = self.socket.accept()
        return r, ("unix", 0)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = S(path, H)
os.chmod(path, 0o777)
print("ready", flush=True)
s.serve_forever()
'''


def fresh_uid():
    """A uid that no account, no /tmp/ratetap-N and no /run/user/N uses."""
    used = set()
    with open("/etc/passwd") as f:
        for line in f:
            parts = line.split(":")
            if len(parts) > 2 and parts[2].isdigit():
                used.add(int(parts[2]))
    base = 200000 + (os.getpid() * 7919) % 500000
    for uid in range(base, base + 10000):
        if uid in used or os.path.lexists("/tmp/ratetap-%d" % uid) or \
                os.path.lexists("/run/user/%d" % uid):
            continue
        return uid
    raise AssertionError("no free uid")


def as_uid(uid, argv):
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
            "--clear-groups"] + list(argv)


class SharedTmpTest(unittest.TestCase):
    """/tmp/ratetap-$UID (no XDG_RUNTIME_DIR) made or served by someone
    else, and the discovery of the session's daemon through /run/user/$UID:
    a fresh uid as the victim (so that the paths are this test's own), a
    second fresh uid or root as the attacker, real sockets."""

    def setUp(self):
        need_root(self)
        self.victim = fresh_uid()
        self.attacker = fresh_uid() + 1
        self.tmp = tempfile.mkdtemp(prefix="rt-shared-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # what the victim runs, where the victim can read it
        self.bin = os.path.join(self.tmp, "bin")
        os.mkdir(self.bin, 0o755)
        for f in (CLI, DAEMON, SHIM):
            shutil.copy2(f, self.bin)
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home, 0o700)
        os.chown(self.home, self.victim, self.victim)
        self.rdir = "/tmp/ratetap-%d" % self.victim
        self.run_user = "/run/user/%d" % self.victim
        self.addCleanup(shutil.rmtree, self.rdir, True)
        self.addCleanup(shutil.rmtree, self.run_user, True)
        self.procs = []
        self.addCleanup(self.stop_procs)

    def stop_procs(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def env(self, **extra):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             "HOME": self.home, "RATETAP_API_BASE": "http://127.0.0.1:9"}
        for k, v in extra.items():
            if v is not None:
                e[k] = str(v)
        return san_env(e)

    def cli(self, *args, **extra):
        return run(as_uid(self.victim, [os.path.join(self.bin, "ratetap")]
                          + list(args)), self.env(**extra))

    def fake_server(self, uid, path):
        p = subprocess.Popen(as_uid(uid, [PYTHON, "-c", FAKE_SERVER, path]),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        self.procs.append(p)
        self.assertEqual(p.stdout.readline().strip(), b"ready",
                         p.stderr.read() if p.poll() is not None else "")
        return p

    def test_status_refuses_a_directory_made_by_another_user(self):
        os.mkdir(self.rdir, 0o755)
        os.chown(self.rdir, self.attacker, self.attacker)
        self.fake_server(self.attacker,
                         os.path.join(self.rdir, "control.sock"))
        p = self.cli("status")
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, out)
        self.assertNotIn(b"EVIL", out)
        self.assertNotIn(b"99.9", out)
        self.assertIn(b"owned by uid %d" % self.attacker, p.stderr)

    def test_status_refuses_a_socket_served_by_another_uid(self):
        """The directory is the victim's own, but the process behind the
        socket is not (SO_PEERCRED)."""
        os.mkdir(self.rdir, 0o700)
        os.chown(self.rdir, self.victim, self.victim)
        self.fake_server(0, os.path.join(self.rdir, "control.sock"))
        p = self.cli("status")
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, out)
        self.assertNotIn(b"EVIL", out)
        self.assertIn(b"served by uid 0", p.stderr)

    def test_run_appends_through_no_planted_log_link(self):
        """ratetapd.log a symbolic link to the victim's file: `ratetap run`
        neither follows it (in the victim's own directory) nor uses a
        directory someone else made."""
        target = os.path.join(self.home, "precious")
        with open(target, "wb") as f:
            f.write(b"keep\n")
        os.chown(target, self.victim, self.victim)
        for owner in (self.victim, self.attacker):
            with self.subTest(owner=owner):
                shutil.rmtree(self.rdir, True)
                os.mkdir(self.rdir, 0o700 if owner == self.victim
                         else 0o755)
                os.chown(self.rdir, owner, owner)
                log = os.path.join(self.rdir, "ratetapd.log")
                os.symlink(target, log)
                os.lchown(log, owner, owner)
                p = self.cli("run", "--", "true")
                self.assertEqual(p.returncode, 0, p.stderr)
                with open(target, "rb") as f:
                    self.assertEqual(f.read(), b"keep\n")
                self.assertTrue(os.path.islink(log))
                if owner == self.attacker:
                    self.assertIn(b"owned by uid %d" % self.attacker,
                                  p.stderr)
                # a daemon it started (victim's own directory) goes away
                q = self.cli("status", "--json")
                if q.returncode == 0:
                    pid = json.loads(q.stdout)["daemon"]["pid"]
                    os.kill(pid, signal.SIGTERM)
                    deadline = time.monotonic() + 10
                    while os.path.exists("/proc/%d" % pid) and \
                            time.monotonic() < deadline:
                        time.sleep(0.05)

    def test_shim_and_cli_without_xdg_reach_the_session_daemon(self):
        """The session's daemon runs in /run/user/$UID; a cron job (no
        XDG_RUNTIME_DIR) is counted there, exactly once, and `ratetap
        status` without XDG_RUNTIME_DIR shows it."""
        if not os.path.isdir("/run/user"):
            os.makedirs("/run/user", 0o755, exist_ok=True)
            def gone():
                self.stop_procs()
                shutil.rmtree(self.run_user, True)
                os.rmdir("/run/user")
            self.addCleanup(gone)
        os.mkdir(self.run_user, 0o700)
        os.chown(self.run_user, self.victim, self.victim)
        with MockAPI() as api:
            d = subprocess.Popen(
                as_uid(self.victim, [os.path.join(self.bin, "ratetapd")]),
                env=self.env(XDG_RUNTIME_DIR=self.run_user),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE)
            self.procs.append(d)
            sock = os.path.join(self.run_user, "ratetap", "control.sock")
            deadline = time.monotonic() + 10
            while not os.path.exists(sock):
                self.assertIsNone(d.poll(), d.stderr.read()
                                  if d.poll() is not None else "")
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            curl = shutil.which("curl")
            if curl is None:
                self.skipTest("curl is not installed")
            for i in range(3):
                p = run(as_uid(self.victim, [
                    curl, "-sS", "-o", "/dev/null",
                    "-H", "content-type: application/json",
                    "--data-binary", MSG % ("cron %d" % i),
                    api.url("/v1/messages")]),
                    self.env(LD_PRELOAD=os.path.join(self.bin,
                                                     "libratetap.so"),
                             RATETAP_HOSTS=api.hostport))
                self.assertEqual(p.returncode, 0, p.stderr)
            deadline = time.monotonic() + 10
            while True:
                p = self.cli("status", "--json")
                self.assertEqual(p.returncode, 0, p.stderr)
                st = json.loads(p.stdout)
                if st["requests"]["total"] >= 3 or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            time.sleep(0.5)
            st = json.loads(self.cli("status", "--json").stdout)
            self.assertEqual(st["requests"]["total"], 3)
            self.assertEqual(st["tokens_total"]["input"], 33)
            self.assertFalse(os.path.exists(self.rdir),
                             "a second runtime directory was made")
