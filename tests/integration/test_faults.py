"""Faults around a real ratetapd, with real clients under the real shim.

- The daemon absent, SIGKILLed while clients stream, or restarted while they
  run: every client finishes with the bytes it gets without the shim, exit 0
  and no noticeable delay, and every datagram is either counted by the
  daemon or reported later as a client drop.
- SIGKILL: what the daemon accepted more than a second earlier is on disk;
  a torn or corrupt state file is detected, kept aside and reported.
- The usage endpoint misbehaving in every way the mock can (timeout, reset,
  500, 429 with retry-after, 401, empty, huge, wrong shape, not JSON): the
  daemon stays up, backs off, and says what went wrong.
- A full disk or a read-only state directory: the error is logged and shown
  in the status, events are still counted in memory, saving resumes once
  the disk is usable again, and the last good state file is never damaged.
"""

import errno
import glob
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import CLI, PYTHON, SANITIZE, have, run  # noqa: E402
from daemontest import DaemonTestCase  # noqa: E402

EXTRA_BOUND = 0.2	# seconds a process may take longer without a daemon
if SANITIZE:
    EXTRA_BOUND = 1.0	# the sanitizer runtime's start-up varies widely

MSG = '{"model":"claude-sonnet-4-5","max_tokens":64,' \
      '"messages":[{"role":"user","content":"fault test %s"}]}'
STREAM = '{"model":"claude-sonnet-4-5","stream":true,"max_tokens":64,' \
         '"messages":[{"role":"user","content":"fault test %s"}]}'

# pycurl client: argv[1] is a JSON list of [url, [headers], body]; the
# transfers run one after the other on one handle, bodies to stdout.
PYCLIENT = r'''
import json, sys, pycurl
c = pycurl.Curl()
for url, headers, body in json.loads(sys.argv[1]):
    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.HTTPHEADER, headers)
    c.setopt(pycurl.POSTFIELDS, body)
    c.setopt(pycurl.WRITEFUNCTION, sys.stdout.buffer.write)
    c.perform()
c.close()
'''


def curl_argv(reqs):
    """One curl process doing the transfers of reqs ([(url, headers,
    body)]) in turn, their bodies to stdout."""
    argv = ["curl", "-sS"]
    for k, (url, headers, body) in enumerate(reqs):
        if k:
            argv.append("--next")
        for h in headers:
            argv += ["-H", h]
        argv += ["-d", body, url]
    return argv


def pycurl_argv(script, reqs):
    return [PYTHON, script, json.dumps([[u, list(h), b]
                                        for u, h, b in reqs])]


class Client:
    """A client process whose output is collected, and its end time taken,
    by a thread of its own: the wall time is the process's, whatever order
    the test waits in."""

    def __init__(self, argv, env):
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, env=env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = self.err = b""
        self.wall = None
        self._t = threading.Thread(target=self._wait, daemon=True)
        self._t.start()

    def _wait(self):
        self.out, self.err = self.proc.communicate()
        self.wall = time.monotonic() - self.t0

    def finish(self, timeout=60):
        """(returncode, stdout, stderr, wall seconds)."""
        self._t.join(timeout)
        if self._t.is_alive():
            self.proc.kill()
            self._t.join()
            raise AssertionError("client did not finish: %r" %
                                 self.err[-2000:])
        return self.proc.returncode, self.out, self.err, self.wall


def counts(st):
    i = st["ingest"]
    return {"accepted": i["accepted"], "client_drops": i["client_drops"],
            "requests": st["requests"]["total"]}


def no_shim_env(env):
    e = dict(env)
    e.pop("LD_PRELOAD", None)
    return e


class FaultCase(DaemonTestCase):

    TMP_PREFIX = "rt-faults-"

    def setUp(self):
        super().setUp()
        self.pyclient = os.path.join(self.tmp, "pyclient.py")
        with open(self.pyclient, "w") as f:
            f.write(PYCLIENT)


# -- the daemon absent, killed, restarted ------------------------------------

class ClientsSurviveTheDaemonTest(FaultCase):

    N_PER_KIND = 2		# curl and pycurl processes each

    def clients(self, reqs_of):
        """[(name, argv)]: N_PER_KIND curl and pycurl processes; reqs_of(k)
        gives process k its transfers."""
        out = []
        for k in range(self.N_PER_KIND):
            out.append(("curl-%d" % k, curl_argv(reqs_of(k))))
        for k in range(self.N_PER_KIND):
            j = self.N_PER_KIND + k
            out.append(("pycurl-%d" % k,
                        pycurl_argv(self.pyclient, reqs_of(j))))
        return out

    def test_without_a_daemon_clients_run_unchanged_and_not_slower(self):
        api = self.mock()
        d = self.daemon(api)

        def reqs(k):
            return [(api.url(), ["content-type: application/json"],
                     MSG % ("absent %d.%d" % (k, i))) for i in range(3)]
        todo = self.clients(reqs)
        up = d.env
        # a socket in a directory that does not exist: neither the journal
        # beside it nor a datagram can take the events
        absent = dict(up, RATETAP_SOCKET=os.path.join(self.tmp, "gone",
                                                      "no.sock"),
                      RATETAP_DEBUG="1")
        base = no_shim_env(up)
        ref = {}
        for name, argv in todo:
            rc, out, err, _ = Client(argv, base).finish()
            self.assertEqual(rc, 0, err)
            ref[name] = out
        before = counts(d.status())
        # alternate up / absent runs so that a slow moment hits both
        t_up = t_absent = 0.0
        rounds = 2
        for _ in range(rounds):
            for name, argv in todo:
                rc, out, err, w = Client(argv, up).finish()
                self.assertEqual((rc, out), (0, ref[name]), err)
                t_up += w
                rc, out, err, w = Client(argv, absent).finish()
                self.assertEqual((rc, out), (0, ref[name]), err)
                t_absent += w
                # the shim says, in its debug output only, that each
                # event was dropped: 3 transfers, 3 unsent
                self.assertIn(b"event dropped", err)
                self.assertIn(b"3 unsent", err)
        nproc = rounds * len(todo)
        extra = (t_absent - t_up) / nproc
        sys.stderr.write("per process: %.3f s with the daemon, %.3f s "
                         "without (%+.1f ms)\n" % (
                             t_up / nproc, t_absent / nproc, extra * 1000))
        self.assertLess(extra, EXTRA_BOUND)
        # the daemon saw exactly the runs that could reach it
        got = counts(d.wait_for(
            lambda s: counts(s)["accepted"] - before["accepted"] >= nproc * 3))
        self.assertEqual(got["accepted"] - before["accepted"], nproc * 3)
        self.assertEqual(got["client_drops"], before["client_drops"])

    def stream_scenario(self, stop):
        """N clients each do: T1 quick, T2 a ~2.6 s stream, T3 a ~1.7 s
        chunked body.  After T1's events are a second old the daemon is
        stopped with stop(d) (T2 in flight), T2 ends with no daemon, and
        the daemon comes back as soon as T3 has started.  The same clients
        run at the same time without the shim against a mock of their own
        (the bodies depend only on the requests): the reference for their
        output and their wall time."""
        api = self.mock()
        ref_api = self.mock()
        d = self.daemon(api)
        slow = ["content-type: application/json", "x-mock-delay-ms: 250"]

        def reqs_on(a):
            def reqs(k):
                return [(a.url(), ["content-type: application/json"],
                         MSG % ("t1 %d" % k)),
                        (a.url(), slow, STREAM % ("t2 %d" % k)),
                        (a.url(), slow + ["x-mock-chunk: 64"],
                         MSG % ("t3 %d" % k))]
            return reqs
        todo = self.clients(reqs_on(api))
        ref_todo = self.clients(reqs_on(ref_api))
        n = len(todo)

        base = counts(d.status())
        self.assertEqual(base, {"accepted": 0, "client_drops": 0,
                                "requests": 0})
        started = [(name, Client(argv, d.env)) for name, argv in todo]
        ref_started = [(name, Client(argv, no_shim_env(d.env)))
                       for name, argv in ref_todo]
        d.wait_for(lambda s: counts(s)["accepted"] == n, timeout=10,
                   interval=0.02)
        time.sleep(1.1)
        self.assertEqual(api.stats()["requests"].get("/v1/messages"), 2 * n,
                         "the streams (T2) must still be running")
        stop(d)
        # T1's events, a second old, are on disk
        with open(os.path.join(d.state_dir, "state.json")) as f:
            disk = json.load(f)
        self.assertEqual((disk["ingest"]["accepted"],
                          disk["requests"]["total"]), (n, n))
        # wait until every T2 ended (with no daemon) and T3 started
        deadline = time.monotonic() + 10
        while api.stats()["requests"].get("/v1/messages", 0) < 3 * n:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        d.start()
        ref, ref_wall = {}, []
        for name, c in ref_started:
            rc, out, err, w = c.finish()
            self.assertEqual(rc, 0, "%s: %s" % (name, err))
            ref[name] = out
            ref_wall.append(w)
        walls = []
        for name, c in started:
            rc, out, err, w = c.finish()
            self.assertEqual(rc, 0, "%s: %s" % (name, err))
            self.assertEqual(out, ref[name], name)
            walls.append(w)
        extra = sum(walls) / n - sum(ref_wall) / n
        sys.stderr.write("per process: %.3f s without the shim, %.3f s "
                         "with it and the daemon gone (%+.1f ms)\n" % (
                             sum(ref_wall) / n, sum(walls) / n,
                             extra * 1000))
        self.assertLess(extra, EXTRA_BOUND)
        # 3 events per client: T1 counted before the stop (and kept), T2
        # kept in the journal while no daemon ran and counted when it came
        # back, T3 counted: nothing dropped
        st = d.wait_for(lambda s: counts(s)["accepted"] == 3 * n, timeout=10)
        time.sleep(0.3)
        st = d.status()
        self.assertEqual(counts(st), {"accepted": 3 * n, "client_drops": 0,
                                      "requests": 3 * n})
        return d, st

    def test_a_sigkill_mid_stream_loses_nothing_unaccounted(self):
        d, st = self.stream_scenario(lambda d: d.kill())
        self.assertIsNone(st["state"]["recovered_from"])

    def test_a_restart_while_clients_run_loses_nothing_unaccounted(self):
        d, st = self.stream_scenario(
            lambda d: self.assertEqual(d.stop(signal.SIGTERM), 0))
        self.assertIn("stopping", d.log())


# -- the state file ----------------------------------------------------------

class StateFileTest(FaultCase):

    def saved_state(self, d, api, n=2):
        """Run n real transfers through the daemon and wait until they are
        on disk; returns the bytes of state.json."""
        for k in range(n):
            p = run(curl_argv([(api.url(), [], MSG % k)]), d.env)
            self.assertEqual(p.returncode, 0, p.stderr)
        d.wait_for(lambda s: s["requests"]["total"] == n)
        path = os.path.join(d.state_dir, "state.json")
        d.wait_for(lambda s: s["state"]["last_saved_at"] is not None and
                   os.path.exists(path))
        time.sleep(1.0)
        with open(path, "rb") as f:
            return f.read()

    def test_a_sigkill_keeps_what_is_a_second_old(self):
        api = self.mock()
        d = self.daemon(api)
        self.saved_state(d, api, 3)
        d.kill()
        d.start()
        st = d.status()
        self.assertEqual(st["requests"]["total"], 3)
        self.assertEqual(st["ingest"]["accepted"], 3)
        self.assertEqual(st["models"]["claude-sonnet-4-5"]["requests"], 3)

    def check_recovery(self, d, damaged):
        path = os.path.join(d.state_dir, "state.json")
        with open(path, "wb") as f:
            f.write(damaged)
        d.start()
        st = d.status()
        name = st["state"]["recovered_from"]
        self.assertRegex(name or "", r"^state\.json\.corrupt-\d+$")
        with open(os.path.join(d.state_dir, name), "rb") as f:
            self.assertEqual(f.read(), damaged, "kept aside unchanged")
        self.assertEqual(st["requests"]["total"], 0)
        self.assertRegex(d.log(), r"corrupt.*moved aside")
        # and the CLI says so too
        p = run([CLI, "status"], d.env)
        self.assertIn(name.encode(), p.stdout + p.stderr)
        return st

    def test_a_fifo_in_place_of_the_state_file_does_not_hang_the_start(self):
        d = self.daemon(start=False)
        os.makedirs(d.state_dir, mode=0o700)
        os.mkfifo(os.path.join(d.state_dir, "state.json"))
        d.start(timeout=5)
        st = d.status()
        name = st["state"]["recovered_from"]
        self.assertRegex(name or "", r"^state\.json\.corrupt-\d+$")
        self.assertTrue(stat.S_ISFIFO(os.lstat(os.path.join(
            d.state_dir, name)).st_mode), "kept aside as it was")

    def test_a_torn_or_corrupt_state_file_is_kept_aside_and_reported(self):
        api = self.mock()
        d = self.daemon(api)
        good = self.saved_state(d, api)
        self.assertEqual(d.stop(), 0)
        name = good.index(b"claude-sonnet") + len(b"claude")
        cases = [("torn in half", good[:len(good) // 2]),
                 ("cut before its last byte", good[:-2]),
                 ("empty", b""),
                 ("binary garbage", bytes(range(256)) * 8),
                 ("valid JSON of the wrong shape", b'[1, 2, 3]\n'),
                 ("a NUL in place of whitespace",
                  good.replace(b"\t", b"\0", 1)),
                 ("a NUL inside a name", good[:name] + b"\0" +
                  good[name + 1:]),
                 ("a control character inside a name", good[:name] +
                  b"\x01" + good[name + 1:]),
                 ("a count out of range",
                  good.replace(b'"total":\t2', b'"total":\t-2', 1))]
        self.assertIn(b'"total":\t2', good)
        for what, damaged in cases:
            with self.subTest(what):
                for old in glob.glob(os.path.join(d.state_dir,
                                                  "state.json.corrupt-*")):
                    os.unlink(old)
                self.check_recovery(d, damaged)
                # it starts fresh and works
                p = run(curl_argv([(api.url(), [], MSG % what)]), d.env)
                self.assertEqual(p.returncode, 0)
                d.wait_for(lambda s: s["requests"]["total"] == 1)
                self.assertEqual(d.stop(), 0)


# -- the usage endpoint misbehaving ------------------------------------------

class UsageEndpointFaultTest(FaultCase):
    """Every mode at once, each with its own mock and daemon (poll every
    1 s), over the same window, against one that answers normally."""

    WINDOW = 7.0
    TOKEN = "sk-ant-oat01-faults-token"
    # mode: (extra usage config, what poll.last_error must say)
    MODES = {
        "timeout": ({}, r"timeout"),
        "reset": ({}, r"reset|connection|receiv|empty"),
        "500": ({}, r"HTTP 500"),
        "429": ({"retry_after": 3}, r"HTTP 429.*retry after 3 s"),
        "401": ({}, r"HTTP 401.*token"),
        "empty": ({}, r"invalid JSON|empty"),
        "huge": ({"huge_bytes": 4 << 20}, r"too large"),
        "wrongshape": ({}, r"invalid JSON"),
        "garbage": ({}, r"invalid JSON"),
    }

    def test_every_failure_mode_is_survived_backed_off_and_reported(self):
        setups = {}
        for mode, (cfg, _) in list(self.MODES.items()) + [("ok", ({}, ""))]:
            api = self.mock()
            c = dict(cfg, mode=mode, token=self.TOKEN)
            api.configure({"usage": c})
            setups[mode] = (api, self.daemon(api, token=self.TOKEN,
                                             poll_interval=1))
        # one more that fails once, then is answered normally again
        rec_api = self.mock()
        rec_api.configure({"usage": {"mode": "500", "token": self.TOKEN}})
        t0 = time.monotonic()
        rec = self.daemon(rec_api, token=self.TOKEN, poll_interval=1)
        rec.wait_for(lambda s: s["poll"]["fail_total"] >= 1, interval=0.05)
        rec_api.configure({"usage": {"mode": "ok"}})
        time.sleep(max(0.0, self.WINDOW - (time.monotonic() - t0)))
        polls = {m: api.stats()["polls"] for m, (api, _) in setups.items()}
        sys.stderr.write("polls in %.0f s: %s\n" % (self.WINDOW,
                                                    json.dumps(polls)))
        ok_api, ok_d = setups["ok"]
        self.assertIsNone(ok_d.status()["poll"]["last_error"])
        self.assertGreaterEqual(polls["ok"], 5)
        for mode, (cfg, pattern) in self.MODES.items():
            with self.subTest(mode):
                api, d = setups[mode]
                self.assertTrue(d.running(), d.log())
                st = d.status()
                err = st["poll"]["last_error"]
                self.assertIsNotNone(err, json.dumps(st["poll"]))
                self.assertRegex(err, pattern)
                self.assertNotIn(self.TOKEN, err)
                self.assertGreaterEqual(polls[mode], 1)
                self.assertLess(polls[mode], polls["ok"] - 1,
                                "no back-off: %s" % json.dumps(polls))
                self.assertGreaterEqual(st["poll"]["fail_total"], 1)
                self.assertIsNone(st["poll"]["last_ok"])
                # the human status shows it too
                p = run([CLI, "status"], d.env)
                self.assertEqual(p.returncode, 0, p.stderr)
                shown = p.stdout.decode(errors="replace")
                self.assertIn(err[:40], shown)
                # logged once per kind, not at every poll
                self.assertLessEqual(d.log().count("usage poll failed"), 2,
                                     d.log())
                # and it still takes events
                p = run(curl_argv([(api.url(), [], MSG % mode)]), d.env)
                self.assertEqual(p.returncode, 0)
                d.wait_for(lambda s: s["requests"]["total"] == 1)
        # once the endpoint behaves, polling recovers
        st = rec.wait_for(lambda s: s["poll"]["last_ok"] is not None)
        self.assertIsNone(st["poll"]["last_error"])
        self.assertIn("working again", rec.log())


# -- the disk ----------------------------------------------------------------

def try_mount(argv):
    """Run a mount/umount command; (ok, message)."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return p.returncode == 0, p.stderr.decode(errors="replace").strip()


class DiskTest(FaultCase):
    """The state directory on a tiny tmpfs of its own: filled up, or
    remounted read-only.  Needs root and mount(2) (CAP_SYS_ADMIN)."""

    def mount_state_dir(self, d, size="64k"):
        if os.geteuid() != 0 or not have("mount"):
            self.skipTest("mounting a tmpfs needs root")
        os.makedirs(d.state_dir, mode=0o700, exist_ok=True)
        ok, msg = try_mount(["mount", "-t", "tmpfs", "-o",
                             "size=%s,mode=0700" % size, "rt-test-state",
                             d.state_dir])
        if not ok:
            self.skipTest("cannot mount a tmpfs here (%s)" % msg)
        self.addCleanup(try_mount, ["umount", "-l", d.state_dir])

    def events(self, d, api, what, n=1):
        for k in range(n):
            p = run(curl_argv([(api.url(), [], MSG % ("%s %d" % (what, k)))]),
                    d.env)
            self.assertEqual(p.returncode, 0, p.stderr)

    def good_state_saved(self, d, api):
        self.events(d, api, "before", 2)
        d.wait_for(lambda s: s["requests"]["total"] == 2 and
                   s["state"]["last_saved_at"] is not None)
        time.sleep(0.7)
        with open(os.path.join(d.state_dir, "state.json"), "rb") as f:
            return f.read()

    def check_failing_saves(self, d, api, good, errtext):
        self.events(d, api, "while failing", 3)
        st = d.wait_for(lambda s: s["state"]["last_save_error"], timeout=5)
        self.assertIn(errtext, st["state"]["last_save_error"])
        self.assertRegex(d.log(), "cannot save state.*" + errtext)
        # still serving, still counting in memory
        self.assertTrue(d.running())
        self.events(d, api, "still", 1)
        st = d.wait_for(lambda s: s["requests"]["total"] == 6)
        self.assertEqual(st["ingest"]["accepted"], 6)
        p = run([CLI, "status"], d.env)
        self.assertEqual(p.returncode, 0)
        self.assertIn(errtext.encode(), p.stdout)
        # the last good state file is untouched
        with open(os.path.join(d.state_dir, "state.json"), "rb") as f:
            self.assertEqual(f.read(), good)
        self.assertEqual(d.log().count("cannot save state"), 1, d.log())

    def check_recovers(self, d):
        st = d.wait_for(lambda s: s["state"]["last_save_error"] is None,
                        timeout=12)
        self.assertIn("saved to", d.log())
        time.sleep(0.7)
        d.kill()
        d.start()
        st = d.status()
        self.assertEqual(st["requests"]["total"], 6)
        self.assertIsNone(st["state"]["recovered_from"])

    def test_a_full_disk_is_reported_and_counting_goes_on(self):
        api = self.mock()
        d = self.daemon(api, start=False)
        self.mount_state_dir(d)
        d.start()
        good = self.good_state_saved(d, api)
        # fill what is left
        filler = os.path.join(d.state_dir, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError as e:
            self.assertEqual(e.errno, errno.ENOSPC)
        finally:
            os.close(fd)
        self.check_failing_saves(d, api, good, "No space left on device")
        leftovers = [n for n in os.listdir(d.state_dir)
                     if n not in ("state.json", "filler")]
        os.unlink(filler)
        self.check_recovers(d)
        self.assertEqual([n for n in os.listdir(d.state_dir)
                          if n.endswith(".tmp")], [],
                         "temporary file left behind (%s)" % leftovers)

    def test_a_read_only_state_directory_is_reported_and_counting_goes_on(
            self):
        api = self.mock()
        # without the ledger: a file open for writing (ledger.db) makes the
        # kernel refuse to remount the directory read-only under it
        d = self.daemon(api, start=False, env={"RATETAP_LEDGER": "0"})
        self.mount_state_dir(d, "1m")
        d.start()
        good = self.good_state_saved(d, api)
        ok, msg = try_mount(["mount", "-o", "remount,ro", d.state_dir])
        if not ok:
            self.skipTest("cannot remount read-only (%s)" % msg)
        self.check_failing_saves(d, api, good, "Read-only file system")
        ok, msg = try_mount(["mount", "-o", "remount,rw", d.state_dir])
        self.assertTrue(ok, msg)
        self.check_recovers(d)

    def test_it_starts_on_a_read_only_state_directory(self):
        api = self.mock()
        d = self.daemon(api, start=False)
        self.mount_state_dir(d, "1m")
        ok, msg = try_mount(["mount", "-o", "remount,ro", d.state_dir])
        if not ok:
            self.skipTest("cannot remount read-only (%s)" % msg)
        d.start()
        self.events(d, api, "ro", 2)
        st = d.wait_for(lambda s: s["requests"]["total"] == 2 and
                        s["state"]["last_save_error"])
        self.assertIn("Read-only file system", st["state"]["last_save_error"])
        self.assertEqual(d.stop(), 1, "a final save that failed: exit 1")
        self.assertIn("Read-only file system", d.log())


if __name__ == "__main__":
    unittest.main()
