"""The shim under ratetap's own C client (tests/client/rt-client.c), built
plain, PIE + full RELRO and -fno-plt, in easy and multi modes from several
threads, over HTTP and HTTPS.

Each run is compared byte for byte with the same run without the shim, and
the receiver must get exactly one event per request.
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from harness import (MockAPI, Receiver, Daemon, shim_env, run, BUILD,
                     _clean_environ)

VARIANTS = ("rt-client", "rt-client-pie", "rt-client-noplt")
N = 12
THREADS = 4


def client(name):
    return os.path.join(BUILD, "tests", name)


def plain_env():
    env = _clean_environ()
    env.pop("LD_PRELOAD", None)
    return env


class ShimCClientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        for v in VARIANTS:
            if not os.access(client(v), os.X_OK):
                raise AssertionError("%s is not built (make test-progs)" %
                                     client(v))

    def argv(self, variant, api, mode, n=N, threads=THREADS, extra=()):
        a = [client(variant), "--url", api.base, "-n", str(n), "-t",
             str(threads), "--mode", mode]
        if api.cafile:
            a += ["--cacert", api.cafile]
        return a + list(extra)

    def compare(self, variant, api, rx, mode, n=N, threads=THREADS,
                extra=(), env_extra=None):
        """Run without and with the shim; outputs must match.  Returns the
        events received.

        The shim runs with RATETAP_DEBUG=1, which logs one "event:" line per
        finalized transfer and one "event dropped" line per datagram it
        could not send (a burst can overflow the receiver's queue: the shim
        never waits).  Exactly n events must be finalized, and every one
        either arrives or is a counted drop; drops left when the client
        exits come in one more, drops-only datagram."""
        argv = self.argv(variant, api, mode, n, threads, extra)
        ref = run(argv, plain_env())
        self.assertEqual(ref.returncode, 0, ref.stderr)
        self.assertGreater(len(ref.stdout), 0)
        env = dict(env_extra or {})
        env["RATETAP_DEBUG"] = 1
        p = run(argv, shim_env(api, rx, **env))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, ref.stdout)
        lines = p.stderr.decode(errors="replace").splitlines()
        ours = [x for x in lines if x.startswith("ratetap: ")]
        theirs = [x for x in lines if not x.startswith("ratetap: ")]
        # the number of pauses depends on how the network split the body
        norm = [re.sub(r"\d+ pause", "N pause", x) for x in theirs]
        self.assertEqual(norm, [re.sub(r"\d+ pause", "N pause", x) for x in
                                ref.stderr.decode().splitlines()])
        finalized = [x for x in ours if x.startswith("ratetap: event: ")]
        drops = [x for x in ours if x.startswith("ratetap: event dropped")]
        self.assertEqual(len(finalized), n, p.stderr)
        for x in ours:
            self.assertNotIn("Hello", x)
        if not drops:
            return rx.events(n, timeout=15)
        want = n - len(drops)
        got = []
        deadline = time.monotonic() + 15
        while True:
            got += rx.all(0.3)
            evs = [e for e in got if e.get("path")]
            if len(evs) >= want or time.monotonic() > deadline:
                break
        self.assertEqual(len(evs), want, got)
        reports = [e for e in got if not e.get("path")]
        self.assertLessEqual(len(reports), 1, reports)
        for e in reports:
            self.assertEqual((e["http_status"], e["usage_state"]),
                             (0, "none"), e)
            self.assertGreater(e["dropped"], 0, e)
        return evs

    def check_events(self, evs, variant, api, n=N, stream=False,
                     no_done=False, usage=(11, 22, 3, 5)):
        # every datagram not received is accounted for: a gap in seq that
        # a later datagram's "dropped" reports, or drops at the very end
        seqs = sorted(e["seq"] for e in evs)
        self.assertEqual(len(set(seqs)), len(seqs))
        self.assertTrue(all(1 <= q <= n for q in seqs), seqs)
        self.assertLessEqual(sum(e["dropped"] for e in evs),
                             n - len(evs))
        self.assertLessEqual(len({e["pid"] for e in evs}), 1)
        for e in evs:
            self.assertNotIn("invalid", e)
            self.assertEqual(e["prog"], variant)
            self.assertEqual(e["host"], api.hostport)
            self.assertEqual(e["path"], "/v1/messages")
            self.assertEqual(e["method"], "POST")
            self.assertEqual(e["http_status"], 200)
            self.assertEqual(e["curl_code"], 0)
            self.assertEqual(e["usage_state"], "ok", e)
            self.assertEqual(e["model"], "claude-sonnet-4-5")
            self.assertEqual((e["input_tokens"], e["output_tokens"],
                              e["cache_creation_input_tokens"],
                              e["cache_read_input_tokens"]), usage)
            want = set()
            if api.tls:
                want.add("tls")
            if stream:
                want.add("stream")
            if no_done:
                want.add("no_done")
            self.assertEqual(set(e["flags"]), want, e)
            self.assertEqual(e["util_5h"], 0.25)
            self.assertEqual(e["unified_status"], "allowed")
            self.assertTrue(e["request_id"].startswith("req_mock_"))

    def variants_modes(self, tls):
        with MockAPI(tls=tls) as api, Receiver() as rx:
            for variant in VARIANTS:
                for mode in ("easy", "multi"):
                    with self.subTest(variant=variant, mode=mode):
                        evs = self.compare(variant, api, rx, mode)
                        self.check_events(evs, variant, api)
                        self.assertEqual(
                            len({e["request_id"] for e in evs}), len(evs))

    def test_every_variant_and_mode_over_http(self):
        self.variants_modes(False)

    def test_every_variant_and_mode_over_https(self):
        self.variants_modes(True)

    def test_streaming_in_both_modes(self):
        with MockAPI(tls=True) as api, Receiver() as rx:
            for mode in ("easy", "multi"):
                with self.subTest(mode=mode):
                    evs = self.compare("rt-client-noplt", api, rx, mode,
                                       extra=["--stream", "--header",
                                              "x-mock-chunk: 5"])
                    self.check_events(evs, "rt-client-noplt", api,
                                      stream=True)

    def test_multi_without_info_read(self):
        for tls in (False, True):
            with MockAPI(tls=tls) as api, Receiver() as rx:
                for variant in ("rt-client", "rt-client-pie"):
                    with self.subTest(tls=tls, variant=variant):
                        evs = self.compare(variant, api, rx, "multi-noinfo")
                        self.check_events(evs, variant, api, no_done=True)

    def test_default_fwrite_path(self):
        with MockAPI() as api, Receiver() as rx:
            for mode in ("easy", "multi", "multi-noinfo"):
                with self.subTest(mode=mode):
                    evs = self.compare("rt-client", api, rx, mode,
                                       extra=["--fwrite", "--stream"])
                    self.check_events(evs, "rt-client", api, stream=True,
                                      no_done=mode == "multi-noinfo")

    def test_paused_deliveries_are_counted_once(self):
        with MockAPI() as api, Receiver() as rx:
            for mode in ("easy", "multi"):
                for stream in (False, True):
                    with self.subTest(mode=mode, stream=stream):
                        extra = ["--pause", "--header", "x-mock-chunk: 9",
                                 "--header", "x-mock-usage: 13,17,19,23"]
                        if stream:
                            extra.append("--stream")
                        evs = self.compare("rt-client", api, rx, mode,
                                           n=4, threads=2, extra=extra)
                        self.check_events(evs, "rt-client", api, n=4,
                                          stream=stream,
                                          usage=(13, 17, 19, 23))

    def test_duplicated_handles(self):
        with MockAPI() as api, Receiver() as rx:
            for mode in ("easy", "multi"):
                with self.subTest(mode=mode):
                    evs = self.compare("rt-client-pie", api, rx, mode, n=6,
                                       threads=2, extra=["--dup"])
                    self.check_events(evs, "rt-client-pie", api, n=6)

    def test_errors_and_count_tokens(self):
        with MockAPI() as api, Receiver() as rx:
            argv = self.argv("rt-client", api, "multi", n=4, threads=2,
                             extra=["--header", "x-mock-status: 429"])
            ref = run(argv, plain_env())
            p = run(argv, shim_env(api, rx))
            self.assertEqual(p.stdout, ref.stdout)
            for e in rx.events(4):
                self.assertEqual(e["http_status"], 429)
                self.assertEqual(e["usage_state"], "none")
                self.assertEqual(e["retry_after"], 7)
                self.assertIn("error_body", e["flags"])
            argv = self.argv("rt-client", api, "easy", n=3, threads=3,
                             extra=["--path", "/v1/messages/count_tokens"])
            ref = run(argv, plain_env())
            p = run(argv, shim_env(api, rx))
            self.assertEqual(p.stdout, ref.stdout)
            for e in rx.events(3):
                self.assertEqual(e["path"], "/v1/messages/count_tokens")
                self.assertEqual(e["usage_state"], "none")
                self.assertEqual(e["input_tokens"], 0)

    def test_untapped_and_disabled_send_nothing(self):
        with MockAPI() as api, Receiver() as rx:
            argv = self.argv("rt-client", api, "multi")
            ref = run(argv, plain_env())
            for extra in ({"RATETAP_DISABLE": 1},
                          {"RATETAP_HOSTS": "127.0.0.1:1,example.com"}):
                with self.subTest(env=extra):
                    p = run(argv, shim_env(api, rx, **extra))
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertEqual(p.stdout, ref.stdout)
                    rx.events(0)

    def test_no_receiver(self):
        with MockAPI(tls=True) as api:
            for mode in ("easy", "multi", "multi-noinfo"):
                argv = self.argv("rt-client-noplt", api, mode)
                ref = run(argv, plain_env())
                t0 = time.monotonic()
                p = run(argv, shim_env(api, None), timeout=30)
                self.assertLess(time.monotonic() - t0, 20)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, ref.stdout)

    def test_drops_are_reported_in_the_next_datagram(self):
        """When the journal cannot take an event (here a directory stands
        in its place) the shim falls back to a datagram; a receiver that
        stops reading makes it drop those (its queue is full: sendto would
        block); once it reads again, the next datagram carries the
        count."""
        n = 20
        d = tempfile.mkdtemp(prefix="rt-drop-")
        path = os.path.join(d, "in.sock")
        os.mkdir(os.path.join(d, "events.journal"))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.bind(path)
            with MockAPI() as api:
                env = shim_env(api, None, RATETAP_SOCKET=path)
                argv = self.argv("rt-client", api, "easy", n=n, threads=1,
                                 extra=["--header", "x-mock-chunk: 64",
                                        "--header", "x-mock-delay-ms: 15"])
                ref = run(argv, plain_env())
                base = api.stats()["requests"].get("/v1/messages", 0)
                p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
                try:
                    # do not read until well past the queue's length
                    deadline = time.monotonic() + 60
                    while api.stats()["requests"].get("/v1/messages",
                                                      0) < base + 15:
                        self.assertLess(time.monotonic(), deadline)
                        self.assertIsNone(p.poll(), "client ended early")
                        time.sleep(0.02)
                    # now read while the client goes on, then the rest
                    s.settimeout(0.05)
                    evs = []
                    while True:
                        try:
                            evs.append(struct.unpack_from(
                                "<IHHIiII", s.recv(4096)))
                            continue
                        except socket.timeout:
                            pass
                        if p.poll() is not None:
                            break
                        self.assertLess(time.monotonic(), deadline)
                    out, err = p.communicate(timeout=60)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                self.assertEqual(p.returncode, 0, err)
                self.assertEqual(out, ref.stdout)
        finally:
            s.close()
            shutil.rmtree(d, True)
        seqs = [e[5] for e in evs]
        dropped = [e[6] for e in evs]
        self.assertLess(len(evs), n)
        self.assertEqual(len(evs) + sum(dropped), n, (seqs, dropped))
        self.assertEqual(seqs, sorted(seqs))
        # the first one through after the gap carries exactly the gap
        late = [(q, dr) for q, dr in zip(seqs, dropped) if dr]
        self.assertEqual(len(late), 1, late)
        q, dr = late[0]
        self.assertEqual(seqs[seqs.index(q) - 1] + dr + 1, q)

    def test_curlu_and_port_decide_the_host(self):
        """CURLOPT_CURLU is read at each transfer; CURLOPT_PORT overrides
        the URL's port both for matching and in the event."""
        with MockAPI() as api, Receiver() as rx:
            for mode in ("easy", "multi"):
                with self.subTest(mode=mode, how="curlu"):
                    evs = self.compare("rt-client", api, rx, mode, n=4,
                                       threads=2, extra=["--curlu"])
                    self.check_events(evs, "rt-client", api, n=4)
            # a URL naming a port where nothing listens, CURLOPT_PORT the
            # mock's: tapped and reported by the port really used
            argv = [client("rt-client"), "--url", "http://127.0.0.1:1",
                    "--port", str(api.port), "-n", "3", "--curlu"]
            p = run(argv, shim_env(api, rx))
            self.assertEqual(p.returncode, 0, p.stderr)
            evs = rx.events(3)
            self.check_events(evs, "rt-client", api, n=3)
            # tapping the URL's port only: the transfer goes elsewhere
            p = run(argv, shim_env(api, rx, RATETAP_HOSTS="127.0.0.1:1"))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(rx.all(0.5), [])

    def test_a_burst_while_the_daemon_is_stopped_loses_nothing(self):
        """With the daemon stopped (SIGSTOP), a burst of 30 transfers once
        overflowed its datagram queue (10 by default) and was counted as
        drops; the journal keeps every event until the daemon runs again,
        and each is counted once."""
        n = 30
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            env = dict(d.env)
            env["RATETAP_HOSTS"] = api.hostport
            argv = self.argv("rt-client", api, "multi", n=n, threads=1,
                             extra=["--linger-ms", "2500"])
            base = api.stats()["requests"].get("/v1/messages", 0)
            p = None
            os.kill(d.proc.pid, signal.SIGSTOP)
            try:
                p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
                try:
                    deadline = time.monotonic() + 30
                    while api.stats()["requests"].get(
                            "/v1/messages", 0) < base + n:
                        self.assertLess(time.monotonic(), deadline)
                        self.assertIsNone(p.poll(), "client ended early")
                        time.sleep(0.05)
                    time.sleep(0.5)	# every transfer finalized
                    self.assertIsNone(p.poll(), "client ended early")
                finally:
                    os.kill(d.proc.pid, signal.SIGCONT)
                out, err = p.communicate(timeout=60)
            finally:
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait()
            self.assertEqual(p.returncode, 0, err)
            st = d.wait_for(lambda s: s["requests"]["total"] >= n)
            time.sleep(0.3)
            st = d.status()
            self.assertEqual(st["requests"]["total"], n, st["ingest"])
            self.assertEqual(st["ingest"]["client_drops"], 0, st["ingest"])
            self.assertEqual(st["ingest"]["accepted"], n, st["ingest"])
            self.assertEqual(st["processes"]["rt-client"]["requests"], n)

    def test_pauses_really_happen(self):
        with MockAPI() as api:
            argv = self.argv("rt-client", api, "easy", n=2, threads=1,
                             extra=["--pause", "--header", "x-mock-chunk: 9"])
            p = run(argv, shim_env(api, None))
            self.assertEqual(p.returncode, 0, p.stderr)
            m = re.search(rb"(\d+) pause\(s\)", p.stderr)
            self.assertTrue(m and int(m.group(1)) > 0, p.stderr)

if __name__ == "__main__":
    unittest.main()
