"""The durable hand-off from the shim to ratetapd: the journal.

Real curl under the real shim against the mock API, the real daemon, counts
read from its status JSON: every finished transfer is counted exactly once,
with its tokens, whether the daemon was absent, flooded, restarted or
killed; the journal is compacted under a flood without losing a record;
bad journal files are refused or skipped and counted, never followed.
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from harness import MockAPI, Daemon, BUILD, CLI, run

CURL = shutil.which("curl")
JWRITE = os.path.join(BUILD, "tests", "rt-jwrite")
USAGE = (11, 22, 3, 5)		# the mock's default usage per message
BODY = ('{"model":"claude-sonnet-4-5","max_tokens":8,'
        '"messages":[{"role":"user","content":"hi %d"}]}')


def curl_config(api, n, path, delay_ms=0):
    """A curl -K file of n POST /v1/messages transfers."""
    with open(path, "w") as f:
        for i in range(n):
            f.write('url = "%s"\n' % api.url("/v1/messages"))
            f.write('header = "content-type: application/json"\n')
            if delay_ms:
                f.write('header = "x-mock-delay-ms: %d"\n' % delay_ms)
            f.write("data-binary = %s\n" % json.dumps(BODY % i))
            f.write('output = "/dev/null"\n')
            if api.cafile:
                f.write('cacert = "%s"\n' % api.cafile)
            if i + 1 < n:
                f.write("next\n")
    return path


def curl(cfg, parallel, env):
    argv = [CURL, "-sS", "--fail-with-body"]
    if parallel > 1:
        argv += ["--parallel", "--parallel-max", str(parallel)]
    return subprocess.Popen(argv + ["-K", cfg], env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def counted(st):
    """(requests, input, output, cache creation, cache read) of a status."""
    t = st["tokens_total"]
    return (st["requests"]["total"], t["input"], t["output"],
            t["cache_creation_input"], t["cache_read_input"])


def expect(n):
    return (n,) + tuple(n * u for u in USAGE)


def settle(d, n, timeout=30):
    """The status once n requests are counted (or timeout passed), after a
    moment in which no more may arrive."""
    deadline = time.monotonic() + timeout
    while True:
        st = d.status()
        if st["requests"]["total"] >= n or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    return d.status()


@unittest.skipUnless(CURL, "curl is not installed")
class TestIssueTable(unittest.TestCase):
    """The three scenarios of the table: 25/25, 3,600/3,600, 400/400."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rt-jt-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_transfers_while_no_daemon_runs_are_counted_when_it_starts(self):
        with MockAPI() as api:
            d = Daemon(api, poll_interval=None, start=False)
            try:
                cfg = curl_config(api, 25, os.path.join(self.tmp, "k"))
                env = d.env
                # the runtime directory does not exist yet: the shim
                # makes it (0700), as the daemon would
                os.makedirs(os.path.dirname(d.ingest_path), 0o700,
                            exist_ok=True)
                p = curl(cfg, 1, env)
                _, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, 0, err)
                d.start()
                st = settle(d, 25)
                self.assertEqual(counted(st), expect(25), st["ingest"])
                sys_stderr("no daemon, then start: %d of 25" %
                           st["requests"]["total"])
            finally:
                d.stop()

    def test_nine_processes_of_400_transfers_60_at_a_time(self):
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            cfg = curl_config(api, 400, os.path.join(self.tmp, "k"))
            procs = [curl(cfg, 60, d.env) for _ in range(9)]
            for p in procs:
                _, err = p.communicate(timeout=180)
                self.assertEqual(p.returncode, 0, err)
            st = settle(d, 3600)
            sys_stderr("9 x 400, 60 at a time: %d of 3600" %
                       st["requests"]["total"])
            self.assertEqual(counted(st), expect(3600), st["ingest"])

    def test_400_transfers_while_the_daemon_restarts_three_times(self):
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            cfg = curl_config(api, 400, os.path.join(self.tmp, "k"),
                              delay_ms=20)
            p = curl(cfg, 4, d.env)
            for how in ("term", "kill", "term"):
                time.sleep(0.4)
                if how == "kill":
                    d.kill()
                else:
                    d.stop()
                time.sleep(0.2)
                d.start()
            _, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
            st = settle(d, 400)
            sys_stderr("400 across 3 restarts: %d of 400" %
                       st["requests"]["total"])
            self.assertEqual(counted(st), expect(400), st["ingest"])


def sys_stderr(msg):
    import sys
    sys.stderr.write(msg + "\n")


@unittest.skipUnless(os.access(JWRITE, os.X_OK), "rt-jwrite is not built")
class TestJournal(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rt-jt-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def jwrite(self, d, *args):
        p = run([JWRITE, self.journal(d)] + [str(a) for a in args],
                os.environ, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    @staticmethod
    def journal(d):
        return os.path.join(os.path.dirname(d.ingest_path), "events.journal")

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_compaction_under_a_flood_loses_nothing(self):
        """Writers append as fast as they can while the daemon reads,
        saves and frees what it read (a hole punched below the saved
        offset): every record counted once, the file's space given back."""
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            cfg = curl_config(api, 200, os.path.join(self.tmp, "k"))
            c = curl(cfg, 20, d.env)
            out = {}

            def flood():
                out["w"] = self.jwrite(d, "--procs", 6, "--count", 20000)
            t = threading.Thread(target=flood)
            t.start()
            # saves (and so compactions) happen every half second meanwhile
            t.join(timeout=120)
            _, err = c.communicate(timeout=120)
            self.assertEqual(c.returncode, 0, err)
            self.assertEqual(out["w"]["written"], 120000)
            n = 120000 + 200
            st = settle(d, n, timeout=60)
            self.assertEqual(counted(st), expect(n))
            j = st["journal"]
            self.assertEqual((j["records"], j["repeats"],
                              j["corrupt_bytes"]), (n, 0, 0))
            # read and saved: the space is freed although offsets stay
            d.wait_for(lambda s: s["journal"]["bytes_held"] <= 64 * 1024,
                       timeout=10)
            size = os.stat(self.journal(d)).st_size
            self.assertGreater(size, n * 600)

    def test_an_answer_right_after_an_append_counts_it(self):
        """The journal is read in batches, a short window after the
        first append wakes the daemon; a status request, a metrics scrape
        and the status line answer only after catching it up, so each one
        made right after appends sees them all, with no wait."""
        with Daemon(poll_interval=None) as d:
            for i in range(1, 21):
                self.jwrite(d, "--count", 1)
                st = d.status()
                self.assertEqual(st["journal"]["records"], i)
                self.assertEqual(st["requests"]["total"], i)
            self.jwrite(d, "--count", 5)
            code, _, body = d.request("GET", "/metrics")
            self.assertEqual(code, 200)
            self.assertIn("ratetap_requests_total 25", body.decode())

    def test_a_burst_in_one_window_is_read_in_one_pass_and_whole(self):
        """Appends spread over several windows, no request to catch them
        up: the daemon's own reads take every record once."""
        with Daemon(poll_interval=None) as d:
            w = self.jwrite(d, "--procs", 4, "--count", 2500)
            self.assertEqual(w["written"], 10000)
            # wait on the saved state, not on a status request (which
            # would catch the journal up itself)
            deadline = time.monotonic() + 10
            n = -1
            while time.monotonic() < deadline:
                try:
                    with open(os.path.join(d.state_dir,
                                           "state.json")) as f:
                        n = json.load(f)["journal"]["records"]
                except (OSError, ValueError, KeyError):
                    n = -1
                if n == 10000:
                    break
                time.sleep(0.1)
            self.assertEqual(n, 10000)
            j = d.status()["journal"]
            self.assertEqual((j["records"], j["repeats"],
                              j["corrupt_bytes"]), (10000, 0, 0))

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_twenty_sigkills_under_traffic_count_every_transfer_once(self):
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            cfg = curl_config(api, 300, os.path.join(self.tmp, "k"),
                              delay_ms=10)
            c = curl(cfg, 4, d.env)
            out = {}

            def flood():
                out["w"] = self.jwrite(d, "--procs", 2, "--count", 30000)
            t = threading.Thread(target=flood)
            t.start()
            for _ in range(20):
                time.sleep(0.05)
                d.kill()
                d.start()
            t.join(timeout=120)
            _, err = c.communicate(timeout=120)
            self.assertEqual(c.returncode, 0, err)
            n = 300 + 60000
            st = settle(d, n, timeout=60)
            self.assertEqual(counted(st), expect(n))
            self.assertEqual(st["journal"]["repeats"], 0)
            self.assertIsNone(st["state"]["recovered_from"])

    def test_a_replayed_record_is_counted_once(self):
        with Daemon(None, poll_interval=None) as d:
            self.jwrite(d, "--count", 100, "--same-stamp")
            st = settle(d, 100)
            self.assertEqual(counted(st), expect(100))
            self.assertEqual(st["journal"]["repeats"], 100)

    def test_garbage_and_a_torn_last_record_are_skipped_and_counted(self):
        with Daemon(None, poll_interval=None) as d:
            self.jwrite(d, "--count", 50, "--garbage", 5000)
            self.jwrite(d, "--count", 50, "--torn")
            self.jwrite(d, "--count", 50)
            st = settle(d, 150)
            self.assertEqual(counted(st), expect(150))
            # the garbage, and the torn record (followed by others)
            j = st["journal"]
            self.assertGreaterEqual(j["corrupt_bytes"], 5000)
            self.assertEqual(j["records"], 150)
            # a torn record at the very end is skipped once it stays so
            self.jwrite(d, "--count", 1, "--torn")
            st = d.wait_for(lambda s: s["journal"]["bytes_pending"] == 0,
                            timeout=10)
            self.assertEqual(counted(st), expect(151))
            # and `ratetap status` says so
            p = run([CLI, "status"], d.env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout.decode(), r"journal: \d+ damaged "
                             r"bytes skipped, 0 repeated events refused")

    def test_a_journal_that_is_not_a_private_file_is_refused(self):
        """A symbolic link, a FIFO, a file open to others: the daemon
        refuses each (says so, counts it) and never follows or blocks; the
        shim's events then go by datagram and are still counted."""
        victim = os.path.join(self.tmp, "victim")
        with open(victim, "wb") as f:
            f.write(b"precious\n")
        kinds = ["symlink", "fifo", "mode", "hardlink"]
        if os.geteuid() == 0:
            kinds.append("owner")		# another uid's file
        for kind in kinds:
            with self.subTest(kind=kind):
                d = Daemon(None, poll_interval=None, start=False)
                try:
                    j = self.journal(d)
                    os.makedirs(os.path.dirname(j), 0o700, exist_ok=True)
                    if kind == "symlink":
                        os.symlink(victim, j)
                    elif kind == "fifo":
                        os.mkfifo(j, 0o600)
                    elif kind == "hardlink":
                        os.link(victim, j)
                    elif kind == "owner":
                        with open(j, "wb"):
                            pass
                        os.chmod(j, 0o600)
                        os.chown(j, 65534, 65534)
                    else:
                        with open(j, "wb"):
                            pass
                        os.chmod(j, 0o644)
                    d.start()
                    st = d.wait_for(lambda s: s["journal"]["refused"] >= 1,
                                    timeout=10)
                    self.assertIsNotNone(st["journal"]["error"])
                    p = run([CLI, "status"], d.env)
                    self.assertIn(b"the journal is not read", p.stdout)
                    self.assertIn("refus", d.log())
                    with open(victim, "rb") as f:
                        self.assertEqual(f.read(), b"precious\n")
                finally:
                    d.stop()

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_shim_refuses_a_planted_journal_and_falls_back(self):
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            j = self.journal(d)
            victim = os.path.join(self.tmp, "victim")
            with open(victim, "wb") as f:
                f.write(b"precious\n")
            os.unlink(j)
            os.symlink(victim, j)
            cfg = curl_config(api, 5, os.path.join(self.tmp, "k"))
            p = curl(cfg, 1, d.env)
            _, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            st = settle(d, 5)
            self.assertEqual(counted(st), expect(5))
            with open(victim, "rb") as f:
                self.assertEqual(f.read(), b"precious\n")
            self.assertTrue(stat.S_ISLNK(os.lstat(j).st_mode))

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_a_daemon_without_the_reader_mark_gets_datagrams(self):
        """A daemon older than the journal keeps no events.reader beside
        it: shims send it datagrams, counted at once, and leave the journal
        alone; the marker is there while a new daemon runs and gone after
        it stops."""
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            marker = os.path.join(os.path.dirname(d.ingest_path),
                                  "events.reader")
            self.assertTrue(os.path.isfile(marker))
            os.unlink(marker)
            cfg = curl_config(api, 3, os.path.join(self.tmp, "k"))
            p = curl(cfg, 1, d.env)
            _, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            st = settle(d, 3)
            self.assertEqual(counted(st), expect(3))
            self.assertEqual(st["journal"]["records"], 0)
            self.assertEqual(os.path.getsize(self.journal(d)), 0)
            d.stop()
            d.start()
            self.assertTrue(os.path.isfile(marker))
            d.stop()
            self.assertFalse(os.path.exists(marker))

    def test_state_written_before_the_journal_loads_and_reads_it(self):
        """A state file without "journal" (an older daemon's) loads, and
        the journal is read from its start."""
        d = Daemon(None, poll_interval=None)
        try:
            d.stop()
            path = os.path.join(d.state_dir, "state.json")
            with open(path) as f:
                doc = json.load(f)
            doc.pop("journal", None)
            with open(path, "w") as f:
                json.dump(doc, f)
            self.jwrite(d, "--count", 10)
            d.start()
            st = settle(d, 10)
            self.assertEqual(counted(st), expect(10))
            self.assertIsNone(st["state"]["recovered_from"])
        finally:
            d.stop()


FORKER = r'''
import os, sys, pycurl
url, body = sys.argv[1:3]
def once(tag):
    c = pycurl.Curl()
    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.HTTPHEADER, ["content-type: application/json"])
    c.setopt(pycurl.POSTFIELDS, body % tag)
    c.setopt(pycurl.WRITEFUNCTION, lambda b: None)
    c.perform()
    c.close()
once("parent 1")
pid = os.fork()
if pid == 0:
    once("child 1")
    once("child 2")
    os._exit(0)
once("parent 2")
os.waitpid(pid, 0)
'''


def have_pycurl():
    return subprocess.run(["/usr/bin/python3", "-c", "import pycurl"],
                          capture_output=True).returncode == 0


def try_mount(argv):
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return p.returncode == 0, p.stderr.decode(errors="replace").strip()


class TestJournalEdges(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rt-jt-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    @unittest.skipUnless(have_pycurl(), "pycurl is not installed")
    def test_parent_and_forked_child_are_each_counted_once(self):
        """A child shares its parent's journal descriptor and starts a
        sequence of its own (new pid, new stamp): 4 transfers, 4 counted,
        none refused as a repeat."""
        script = os.path.join(self.tmp, "forker.py")
        with open(script, "w") as f:
            f.write(FORKER)
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            p = run(["/usr/bin/python3", script, api.url("/v1/messages"),
                     BODY.replace("%d", "%s")], d.env)
            self.assertEqual(p.returncode, 0, p.stderr)
            st = settle(d, 4)
            self.assertEqual(counted(st), expect(4))
            self.assertEqual(st["journal"]["repeats"], 0)
            self.assertEqual(st["journal"]["records"], 4)

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_a_full_runtime_directory_is_said_and_nothing_is_lost(self):
        """The runtime directory on a tiny tmpfs that is then filled: the
        daemon says the disk is full, the shims' events go by datagram and
        are counted; once space returns the journal takes them again."""
        if os.geteuid() != 0 or shutil.which("mount") is None:
            self.skipTest("mounting a tmpfs needs root")
        with MockAPI() as api:
            d = Daemon(api, poll_interval=None, start=False)
            rdir = os.path.dirname(d.ingest_path)
            os.makedirs(rdir, 0o700, exist_ok=True)
            ok, msg = try_mount(["mount", "-t", "tmpfs", "-o",
                                 "size=256k,mode=0700", "rt-test-run", rdir])
            if not ok:
                self.skipTest("cannot mount a tmpfs here (%s)" % msg)
            self.addCleanup(try_mount, ["umount", "-l", rdir])
            try:
                d.start()
                filler = os.path.join(rdir, "filler")
                fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
                try:
                    while True:
                        os.write(fd, b"x" * 4096)
                except OSError:
                    pass
                finally:
                    os.close(fd)
                st = d.wait_for(lambda s: s["journal"]["disk_full"],
                                timeout=10)
                self.assertIn("full", d.log())
                cfg = curl_config(api, 5, os.path.join(self.tmp, "k"))
                p = curl(cfg, 1, d.env)
                _, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, 0, err)
                st = settle(d, 5)
                self.assertEqual(counted(st), expect(5))
                self.assertEqual(st["ingest"]["client_drops"], 0)
                os.unlink(filler)
                st = d.wait_for(lambda s: not s["journal"]["disk_full"],
                                timeout=10)
                before = st["journal"]["records"]
                p = curl(cfg, 1, d.env)
                _, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, 0, err)
                st = settle(d, 10)
                self.assertEqual(counted(st), expect(10))
                self.assertEqual(st["journal"]["records"], before + 5)
            finally:
                d.stop()


if __name__ == "__main__":
    unittest.main()
