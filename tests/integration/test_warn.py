"""Warnings that act: the real daemon with --warn-threshold 20,40 and a
--warn-command that records its environment, real curl under the shim
against the mock API whose 5-hour header climbs: each crossing runs the
command exactly once, also across a clean restart and a SIGKILL, and the
forecast of running out before the reset runs it once more."""

import glob
import os
import shutil
import stat
import tempfile
import time
import unittest

from harness import MockAPI, Daemon, run

CURL = shutil.which("curl")
P = "anthropic-ratelimit-unified-"
RECORDER = """#!/bin/sh
f=$(mktemp "$1/w.XXXXXX")
env | grep '^RATETAP_' | sort > "$f"
"""


def message(d, api):
    p = run([CURL, "-sS", "-o", "/dev/null", "-H",
             "content-type: application/json", "--data-binary",
             '{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[]}',
             api.url("/v1/messages")], d.env)
    if p.returncode != 0:
        raise AssertionError(p.stderr)


@unittest.skipUnless(CURL, "curl is not installed")
class TestWarn(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rt-warn-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.out = os.path.join(self.tmp, "out")
        os.mkdir(self.out)
        self.rec = os.path.join(self.tmp, "rec")
        with open(self.rec, "w") as f:
            f.write(RECORDER)
        os.chmod(self.rec, stat.S_IRWXU)

    def fired(self):
        runs = []
        for p in sorted(glob.glob(os.path.join(self.out, "w.*"))):
            with open(p) as f:
                e = dict(line.rstrip("\n").split("=", 1) for line in f
                         if "=" in line)
            if e:
                runs.append(e)
        return runs

    def wait_runs(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while len(self.fired()) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)		# three checks more: nothing else may come
        return self.fired()

    def test_each_crossing_runs_the_command_once_across_restarts(self):
        with MockAPI() as api, Daemon(api, poll_interval=None, env={
                "RATETAP_WARN_THRESHOLD": "40,20",
                "RATETAP_WARN_COMMAND": "%s %s" % (self.rec, self.out),
                "RATETAP_NOTIFY": "0"}) as d:
            api.configure({"headers_update": {P + "5h-utilization": "0.25",
                                              P + "7d-utilization": "0.05"}})
            for _ in range(3):
                message(d, api)
            runs = self.wait_runs(1)
            self.assertEqual(len(runs), 1, runs)
            st = d.status()
            r = runs[0]
            self.assertEqual(r["RATETAP_WINDOW"], "five_hour")
            self.assertEqual(r["RATETAP_THRESHOLD"], "20")
            self.assertEqual(r["RATETAP_UTILIZATION"], "25.0")
            self.assertEqual(r["RATETAP_RESETS_AT"],
                             st["windows"]["five_hour"]["resets_at"])
            self.assertEqual(r["RATETAP_WARNING"], "threshold")
            self.assertIn("RATETAP_FORECAST", r)
            self.assertNotIn("RATETAP_OAUTH_TOKEN", r)

            # a clean restart, a SIGKILL: nothing repeats
            self.assertEqual(d.stop(), 0)
            d.start()
            message(d, api)
            d.kill()
            d.start()
            message(d, api)
            self.assertEqual(len(self.wait_runs(2, timeout=2)), 1)

            # the climb: 40 is crossed (once), and 100 % comes before the
            # reset at this pace (once)
            t0 = time.time()
            while time.time() < t0 + 2.2:
                time.sleep(0.1)
            api.configure({"headers_update": {P + "5h-utilization": "0.45"}})
            for _ in range(3):
                message(d, api)
            runs = self.wait_runs(3)
            kinds = sorted((r["RATETAP_WARNING"], r["RATETAP_THRESHOLD"])
                           for r in runs)
            self.assertEqual(kinds, [("forecast", ""), ("threshold", "20"),
                                     ("threshold", "40")])
            fc = [r for r in runs if r["RATETAP_WARNING"] == "forecast"][0]
            self.assertRegex(fc["RATETAP_FORECAST"],
                             r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertLess(fc["RATETAP_FORECAST"], fc["RATETAP_RESETS_AT"])
            d.kill()
            d.start()
            message(d, api)
            self.assertEqual(len(self.wait_runs(4, timeout=2)), 3)

    def test_a_bad_threshold_list_is_refused(self):
        for v in ("", "0", "50,abc", "50,,80", "1,2,3,4,5,6,7,8,9"):
            d = Daemon(None, poll_interval=None, start=False,
                       args=["--warn-threshold", v])
            try:
                with self.assertRaises(AssertionError):
                    d.start(timeout=5)
                self.assertIn("--warn-threshold", d.log())
            finally:
                d.kill() if d.running() else None


if __name__ == "__main__":
    unittest.main()
