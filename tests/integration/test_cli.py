"""ratetap, the command line tool: run, status, --help/--version.

Each test gets a private world (HOME, XDG_RUNTIME_DIR, XDG_STATE_HOME in a
temporary directory); daemons that `ratetap run` starts there are found
through /proc by that runtime directory and stopped when the test ends.
"""

import http.server
import json
import os
import re
import shutil
import signal
import socketserver
import stat
import tempfile
import threading
import time
import unittest

from harness import BUILD, CLI, DAEMON, MockAPI, Daemon, ROOT, SHIM, run

SHIM_REAL = os.path.realpath(SHIM)
NO_DAEMON_MSG = ("ratetap: no daemon answers on %s; start it with "
                 "`ratetapd &` or use `ratetap run`\n")
BODY = ('{"model": "claude-sonnet-4-5", "max_tokens": 64, '
        '"messages": [{"role": "user", "content": "hi"}]}')
SSE_BODY = ('{"model": "claude-sonnet-4-5", "max_tokens": 64, '
            '"stream": true, "messages": [{"role": "user", '
            '"content": "hi"}]}')


def version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        m = re.search(r"^VERSION\s*=\s*(\S+)", f.read(), re.M)
    return m.group(1)


def _clean_env():
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("RATETAP_") or k in ("LD_PRELOAD", "NO_COLOR",
                                             "CLAUDE_CODE_OAUTH_TOKEN") \
                or k.lower() in ("http_proxy", "https_proxy", "all_proxy",
                                 "no_proxy"):
            del env[k]
    return env


def _environ_of(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def _gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie that our init has not reaped yet is gone too
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


class World:
    """A private home and runtime dir; .env runs ratetap there."""

    def __init__(self, api=None, token=None):
        base = "/tmp" if len(tempfile.gettempdir()) > 40 else None
        self.dir = tempfile.mkdtemp(prefix="rt-cli-", dir=base)
        self.home = os.path.join(self.dir, "home")
        self.run_dir = os.path.join(self.dir, "run")
        self.state = os.path.join(self.dir, "state")
        for d in (self.home, self.run_dir, self.state):
            os.mkdir(d, 0o700)
        self.control = os.path.join(self.run_dir, "ratetap", "control.sock")
        self.log = os.path.join(self.run_dir, "ratetap", "ratetapd.log")
        self.env = _clean_env()
        self.env.update({
            "HOME": self.home, "XDG_RUNTIME_DIR": self.run_dir,
            "XDG_STATE_HOME": self.state,
            "CLAUDE_CONFIG_DIR": os.path.join(self.home, ".claude"),
            "RATETAP_POLL_INTERVAL": "1",
            "RATETAP_API_BASE": api.base if api else "http://127.0.0.1:9",
        })
        if api is not None:
            self.env["RATETAP_HOSTS"] = api.hostport
        if token is not None:
            self.env["RATETAP_OAUTH_TOKEN"] = token

    def daemons(self):
        """pids of the ratetapd processes running in this world."""
        key = b"XDG_RUNTIME_DIR=" + self.run_dir.encode()
        out = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            if _comm(pid) == "ratetapd" and key in _environ_of(pid) and \
                    not _gone(pid, 0):
                out.append(pid)
        return out

    def close(self):
        for pid in self.daemons():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            if not _gone(pid, 5):
                os.kill(pid, signal.SIGKILL)
                _gone(pid, 5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args, env=None, timeout=30):
        return run([CLI] + list(args), env if env is not None else self.env,
                   timeout=timeout)

    def status(self):
        p = self.cli("status", "--json")
        if p.returncode != 0:
            raise AssertionError("ratetap status --json: exit %d: %s" % (
                p.returncode, p.stderr.decode(errors="replace")))
        return json.loads(p.stdout)

    def wait_for(self, pred, timeout=10):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.status()
            try:
                if pred(last):
                    return last
            except (KeyError, TypeError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("condition not met within %g s:\n%s" % (
                    timeout, json.dumps(last, indent=1)))
            time.sleep(0.1)


class CliTest(unittest.TestCase):
    def world(self, **kw):
        w = World(**kw)
        self.addCleanup(w.close)
        return w

    def setUp(self):
        for f in (CLI, DAEMON, SHIM):
            if not os.path.exists(f):
                self.fail("%s is not built (make)" % f)


class HelpAndVersion(CliTest):
    def test_version_everywhere(self):
        w = self.world()
        want = "ratetap %s\n" % version()
        for argv in (["--version"], ["run", "--version"],
                     ["status", "--version"], ["doctor", "--version"]):
            p = w.cli(*argv)
            self.assertEqual(p.returncode, 0, argv)
            self.assertEqual(p.stdout.decode(), want, argv)

    def test_help_everywhere(self):
        w = self.world()
        for argv, word in ((["--help"], "COMMAND"), (["help"], "COMMAND"),
                           (["run", "--help"], "--no-daemon"),
                           (["status", "--help"], "--json"),
                           (["doctor", "--help"], "--pid")):
            p = w.cli(*argv)
            self.assertEqual(p.returncode, 0, argv)
            out = p.stdout.decode()
            self.assertTrue(out.startswith("usage: ratetap"), (argv, out))
            self.assertIn(word, out, argv)
            self.assertEqual(p.stderr, b"", argv)

    def test_usage_errors_exit_2_with_a_hint(self):
        w = self.world()
        for argv, msg in (([], "no command given"),
                          (["frobnicate"], "unknown command 'frobnicate'"),
                          (["status", "extra"], "unexpected argument"),
                          (["status", "--bogus"], "usage: ratetap status"),
                          (["run"], "no command given")):
            p = w.cli(*argv)
            self.assertEqual(p.returncode, 2, argv)
            self.assertIn(msg, p.stderr.decode(), argv)
        self.assertEqual(w.daemons(), [])


class StatusWithoutDaemon(CliTest):
    def test_status_says_no_daemon_answers_and_exits_1(self):
        w = self.world()
        for argv in (["status"], ["status", "--json"]):
            p = w.cli(*argv)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(p.stdout, b"")
            self.assertEqual(p.stderr.decode(), NO_DAEMON_MSG % w.control)
        self.assertEqual(w.daemons(), [], "status must not start a daemon")

    def test_control_flag_and_variable_name_the_socket(self):
        w = self.world()
        other = os.path.join(w.dir, "elsewhere.sock")
        for argv in (["status", "--control", other],
                     ["--control", other, "status"]):
            p = w.cli(*argv)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(p.stderr.decode(), NO_DAEMON_MSG % other)
        env = dict(w.env, RATETAP_CONTROL=other)
        p = w.cli("status", env=env)
        self.assertEqual(p.stderr.decode(), NO_DAEMON_MSG % other)

    def test_a_socket_that_is_not_a_daemon_is_no_daemon(self):
        w = self.world()
        path = os.path.join(w.dir, "plain-file")
        with open(path, "w") as f:
            f.write("not a socket")
        p = w.cli("status", "--control", path)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.decode(), NO_DAEMON_MSG % path)


class _FakeDaemon(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Something answering HTTP on a control socket path, badly."""
    daemon_threads = True

    def __init__(self, path, status, body):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(h):
                h.send_response(status)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)

            def log_message(h, *a):
                pass

            def address_string(h):
                return "unix"
        super().__init__(path, Handler)
        self.thread = threading.Thread(target=self.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()
        self.server_close()


class StatusWithBadDaemon(CliTest):
    def check(self, status, body, msg):
        w = self.world()
        path = os.path.join(w.dir, "fake.sock")
        fake = _FakeDaemon(path, status, body)
        self.addCleanup(fake.close)
        for argv in (["status", "--control", path],
                     ["status", "--json", "--control", path]):
            p = w.cli(*argv)
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertEqual(p.stdout, b"")
            self.assertIn(msg, p.stderr.decode())

    def test_an_answer_that_is_not_json_is_an_error(self):
        self.check(200, b"<html>hello</html>", "not a JSON object")

    def test_a_json_array_is_an_error(self):
        self.check(200, b"[1, 2]", "not a JSON object")

    def test_an_http_error_is_reported(self):
        self.check(500, b'{"error": "boom"}', "answered HTTP 500")


class Run(CliTest):
    def test_run_starts_a_daemon_that_outlives_it_and_returns_cmds_status(self):
        w = self.world()
        p = w.cli("run", "--", "sh", "-c", "exit 7")
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertEqual(p.stderr, b"")
        st = w.status()		# answers after ratetap run has ended
        pid = st["daemon"]["pid"]
        self.assertEqual(w.daemons(), [pid])
        self.assertTrue(os.path.exists(w.log))
        # detached: its own session, not our child
        self.assertNotEqual(os.getsid(pid), os.getsid(0))
        with open("/proc/%d/stat" % pid) as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        self.assertNotEqual(ppid, os.getpid())
        self.assertEqual(os.path.realpath("/proc/%d/exe" % pid),
                         os.path.realpath(DAEMON))
        with open("/proc/%d/fd/0" % pid, "rb"):
            pass
        self.assertEqual(os.readlink("/proc/%d/fd/0" % pid), "/dev/null")
        self.assertEqual(os.readlink("/proc/%d/fd/2" % pid), w.log)

        # a second run finds it and starts no other
        p = w.cli("run", "--", "true")
        self.assertEqual(p.returncode, 0)
        self.assertEqual(w.daemons(), [pid])

    def test_exit_status_is_the_commands_even_when_killed_by_a_signal(self):
        w = self.world()
        for code in (0, 1, 42, 255):
            p = w.cli("run", "--no-daemon", "sh", "-c", "exit %d" % code)
            self.assertEqual(p.returncode, code)
        p = w.cli("run", "--no-daemon", "--", "sh", "-c", "kill -TERM $$")
        self.assertEqual(p.returncode, -signal.SIGTERM)

    def test_ld_preload_gets_the_shim_first_and_keeps_existing_entries(self):
        w = self.world()
        libm = "/lib/x86_64-linux-gnu/libm.so.6"
        if not os.path.exists(libm):
            self.skipTest("no %s to preload" % libm)
        show = ["sh", "-c", 'printf %s "$LD_PRELOAD"']
        env = dict(w.env, LD_PRELOAD=libm)
        p = w.cli("run", "--no-daemon", "--", *show, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode(), SHIM_REAL + ":" + libm)

        # no duplicate shim, whatever was there
        env = dict(w.env, LD_PRELOAD="%s %s:%s" % (SHIM_REAL, libm, SHIM))
        p = w.cli("run", "--no-daemon", "--", *show, env=env)
        self.assertEqual(p.stdout.decode(), SHIM_REAL + ":" + libm)

        env = dict(w.env)
        env.pop("LD_PRELOAD", None)
        p = w.cli("run", "--no-daemon", *show, env=env)
        self.assertEqual(p.stdout.decode(), SHIM_REAL)

    def test_ratetap_shim_chooses_the_library(self):
        w = self.world()
        copy = os.path.join(w.dir, "libratetap.so")
        shutil.copy(SHIM, copy)
        env = dict(w.env, RATETAP_SHIM=copy)
        p = w.cli("run", "--no-daemon", "sh", "-c", 'printf %s "$LD_PRELOAD"',
                  env=env)
        self.assertEqual(p.stdout.decode(), copy)

    def test_a_missing_shim_is_an_error_and_the_command_does_not_run(self):
        w = self.world()
        marker = os.path.join(w.dir, "ran")
        env = dict(w.env, RATETAP_SHIM=os.path.join(w.dir, "nope.so"))
        p = w.cli("run", "--", "touch", marker, env=env)
        self.assertEqual(p.returncode, 125)
        self.assertIn("RATETAP_SHIM=", p.stderr.decode())
        self.assertIn("No such file", p.stderr.decode())
        self.assertFalse(os.path.exists(marker))
        self.assertEqual(w.daemons(), [])

    def test_command_not_found_is_127_and_not_executable_126(self):
        w = self.world()
        p = w.cli("run", "--no-daemon", "--", "no-such-command-ratetap")
        self.assertEqual(p.returncode, 127)
        self.assertEqual(p.stderr.decode(),
                         "ratetap: no-such-command-ratetap: command not "
                         "found\n")
        plain = os.path.join(w.dir, "plain")
        with open(plain, "w") as f:
            f.write("x\n")
        os.chmod(plain, stat.S_IRUSR | stat.S_IWUSR)
        p = w.cli("run", "--no-daemon", "--", plain)
        self.assertEqual(p.returncode, 126)
        self.assertIn("Permission denied", p.stderr.decode())

    def test_ratetapd_is_taken_from_path_when_not_beside_ratetap(self):
        w = self.world()
        bindir = os.path.join(w.dir, "bin")
        os.mkdir(bindir)
        lone = os.path.join(bindir, "ratetap")
        shutil.copy(CLI, lone)
        env = dict(w.env, RATETAP_SHIM=SHIM_REAL)
        dirs = [d for d in env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
                if not os.path.exists(os.path.join(d, "ratetapd"))]

        # nowhere to be found: a warning, and the command still runs
        env["PATH"] = os.pathsep.join(dirs)
        p = run([lone, "run", "--", "sh", "-c", "exit 3"], env)
        self.assertEqual(p.returncode, 3)
        self.assertIn("cannot start ratetapd: not found beside ratetap nor "
                      "in PATH", p.stderr.decode())
        self.assertEqual(w.daemons(), [])

        # in PATH
        env["PATH"] = os.pathsep.join([BUILD] + dirs)
        p = run([lone, "run", "--", "true"], env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, b"")
        pids = w.daemons()
        self.assertEqual(len(pids), 1)
        self.assertEqual(os.path.realpath("/proc/%d/exe" % pids[0]),
                         os.path.realpath(DAEMON))

    def test_no_daemon_starts_none(self):
        w = self.world()
        p = w.cli("run", "--no-daemon", "--", "true")
        self.assertEqual(p.returncode, 0)
        self.assertFalse(os.path.exists(w.control))
        self.assertEqual(w.daemons(), [])

    def test_a_daemon_that_cannot_start_is_a_warning_not_a_failure(self):
        w = self.world()
        bad = os.path.join(w.dir, "missing", "dir", "control.sock")
        t0 = time.monotonic()
        p = w.cli("run", "--control", bad, "--", "sh", "-c", "exit 5")
        self.assertEqual(p.returncode, 5)
        err = p.stderr.decode()
        self.assertRegex(err, r"ratetapd (exited at once|did not answer)")
        self.assertIn("running the command", err)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(w.daemons(), [])


class EndToEnd(CliTest):
    def test_shimmed_curl_through_run_shows_in_status_json_and_table(self):
        with MockAPI() as api:
            w = self.world(api=api)
            for body in (BODY, SSE_BODY):
                p = w.cli("run", "--", "curl", "-sS", "--noproxy", "*",
                          "-H", "content-type: application/json",
                          api.url("/v1/messages"), "-d", body)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn(b"claude-sonnet-4-5", p.stdout)
            st = w.wait_for(lambda s: s["requests"]["total"] >= 2)
            self.assertEqual(st["requests"]["total"], 2)
            self.assertEqual(st["requests"]["rate_limited"], 0)
            curl = st["processes"]["curl"]
            self.assertEqual(curl["requests"], 2)
            self.assertEqual(curl["input"], 22)
            self.assertEqual(curl["output"], 44)
            m = st["models"]["claude-sonnet-4-5"]
            self.assertEqual((m["input"], m["output"],
                              m["cache_creation_input"],
                              m["cache_read_input"]), (22, 44, 6, 10))
            fh = st["windows"]["five_hour"]
            self.assertEqual(fh["utilization"], 25.0)
            self.assertEqual(fh["tokens"]["input"], 22)
            self.assertIsNone(st["windows"]["seven_day_opus"]["utilization"])

            p = w.cli("status")
            self.assertEqual(p.returncode, 0, p.stderr)
            out = p.stdout.decode()
            self.assertNotIn("\033", out)	# not a tty: no colour
            self.assertRegex(out, r"(?m)^5-hour +25\.0%")
            # unknown utilization; no reset of its own: seven_day's
            self.assertRegex(out, r"(?m)^7-day Opus +\u2013 .*in 2d ")
            self.assertRegex(out, r"(?m)^  curl +2 +82$")
            self.assertRegex(out, r"(?m)^  claude-sonnet-4-5 +2 +82$")
            self.assertIn("Requests:       2 total, 0 rate-limited", out)

            # --json is the daemon's JSON itself
            self.assertEqual(w.status()["processes"], st["processes"])

    def test_status_reads_a_daemon_started_elsewhere(self):
        with MockAPI() as api:
            api.configure({"usage": {"mode": "401"}})
            d = Daemon(api, token="cli-test-token")
            try:
                d.wait_for(lambda s: s["poll"]["last_error"])
                env = dict(d.env)
                env.pop("LD_PRELOAD", None)
                p = run([CLI, "status", "--json"], env)
                self.assertEqual(p.returncode, 0, p.stderr)
                mine = json.loads(p.stdout)
                theirs = d.status()
                self.assertEqual(sorted(mine), sorted(theirs))
                self.assertEqual(mine["daemon"], theirs["daemon"])
                self.assertNotIn(b"cli-test-token", p.stdout)

                env.pop("RATETAP_CONTROL")
                env["XDG_RUNTIME_DIR"] = "/nonexistent"
                p = run([CLI, "--control", d.control_path, "status"], env)
                self.assertEqual(p.returncode, 0, p.stderr)
                line = [l for l in p.stdout.decode().splitlines()
                        if l.startswith("Usage poll:")]
                self.assertEqual(len(line), 1, p.stdout)
                self.assertIn("failed", line[0])
                self.assertIn("401", line[0])
                self.assertIn("never succeeded", line[0])
            finally:
                d.stop()


if __name__ == "__main__":
    unittest.main()
