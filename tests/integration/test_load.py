"""Load, short pass: 16 processes (build/tests/rt-load) send events to a
real ratetapd as fast as they can for 2 s, then again together with 16
sending garbage and 16 sending oversize datagrams.  Every datagram must be
accounted for exactly (accepted + reported drops == sent attempts; rejected
by reason == invalid ones delivered), the daemon must stay up with bounded
memory and log, and stop cleanly.  `make load` runs the same for longer
(tests/load/loadrun.py).

RATETAP_LOAD_PROCS and RATETAP_LOAD_SECONDS change the size of this pass.
"""

import io
import json
import os
import socket
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "load"))

import loadrun  # noqa: E402
from harness import BUILD, Daemon  # noqa: E402

RT_LOAD = os.path.join(BUILD, "tests", "rt-load")


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.isdigit() and int(v) > 0 else default


class LoadTest(unittest.TestCase):

    def test_sixteen_senders_and_floods_are_accounted_for_exactly(self):
        procs = env_int("RATETAP_LOAD_PROCS", 16)
        seconds = env_int("RATETAP_LOAD_SECONDS", 2)
        figures, problems = loadrun.run(procs, seconds, keep_log=True)
        out = io.StringIO()
        loadrun.report(figures, problems, out)
        sys.stderr.write(out.getvalue())
        self.assertEqual(problems, [], out.getvalue())
        self.assertEqual(len(figures["phases"]), 2)
        for p in figures["phases"]:
            self.assertEqual(p["lost"], 0)
            # the accounting is only meaningful if something got through
            # and something was dropped or rejected
            self.assertGreater(p["accepted"], 0)
        flood = figures["phases"][1]
        self.assertGreater(flood["bad_rejected"], 0)
        by = flood["senders"]
        for r in loadrun.REASONS:
            self.assertGreater(by["garbage"]["sent_by_reason"][r]
                               + by["oversize"]["sent_by_reason"][r], 0, r)


class GeneratorTest(unittest.TestCase):
    """rt-load itself: its counts must be right for the load test to mean
    anything."""

    def run_load(self, sock, *args):
        p = subprocess.run([RT_LOAD, "--socket", sock] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=60)
        return p.returncode, json.loads(p.stdout), p.stderr

    def test_counted_sends_reach_a_plain_socket_one_for_one(self):
        with Daemon(start=False) as d:	# only for its private directory
            path = os.path.join(d.home, "plain.sock")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(path)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.setblocking(False)
            rc, doc, err = self.run_load(path, "--count", "5",
                                         "--kind", "garbage")
            got = []
            while True:
                try:
                    got.append(s.recv(65536))
                except BlockingIOError:
                    break
            s.close()
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["attempts"], 5)
        self.assertEqual(doc["sent"] + doc["failed"], 5)
        self.assertEqual(len(got), doc["sent"])
        self.assertEqual(sum(doc["sent_by_reason"].values()), doc["sent"])

    def test_no_socket_means_every_send_fails_and_exit_1(self):
        with Daemon(start=False) as d:
            path = os.path.join(d.home, "nobody.sock")
            p = subprocess.run([RT_LOAD, "--socket", path, "--count", "3",
                                "--pause-ms", "0", "--give-up-ms", "100"],
                               stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=60)
        # the final event is retried for 100 ms, then given up
        doc = json.loads(p.stdout)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(doc["sent"], 0)
        self.assertEqual(doc["final_failed"], 1)
        self.assertEqual(doc["failed"], 4)

    def test_bad_arguments_exit_2(self):
        for args in ([], ["--socket", "/x", "--procs", "0"],
                     ["--socket", "/x", "--kind", "nonsense"],
                     ["--socket", "/x", "extra"]):
            p = subprocess.run([RT_LOAD] + args, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=10)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(b"rt-load", p.stderr)


if __name__ == "__main__":
    unittest.main()
