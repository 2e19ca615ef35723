"""contrib/prometheus/ against the real Prometheus: the scrape
configuration and rules pass promtool's checks and unit tests, and a real
Prometheus server (loopback, temporary storage, one-second scrapes)
scraping two real ratetapd, fed by real curl under the shim against the
mock API, answers a query summed across both with the sum of their
`ratetap status --json` figures."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from harness import ROOT, Daemon, MockAPI, run

CONTRIB = os.path.join(ROOT, "contrib", "prometheus")
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
OTEL_OFF = {k: None for k in (
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")}
MSG = b'{"model":"claude-sonnet-4-5","max_tokens":8,' \
      b'"messages":[{"role":"user","content":"hi"}]}'


def promtool(*args):
    return subprocess.run([PROMTOOL] + list(args), cwd=CONTRIB,
                          capture_output=True, timeout=60)


@unittest.skipIf(PROMTOOL is None, "promtool not installed (prometheus)")
class PromtoolTest(unittest.TestCase):
    def check(self, *args):
        p = promtool(*args)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr).decode())
        return p.stdout.decode()

    def test_the_scrape_configuration_is_valid(self):
        self.check("check", "config", "prometheus.yml")

    def test_the_rules_are_valid(self):
        out = self.check("check", "rules", "ratetap.rules.yml")
        self.assertRegex(out, r"SUCCESS: \d+ rules found")

    def test_the_rules_pass_their_unit_tests(self):
        self.check("test", "rules", "ratetap.rules.test.yml")


def metrics_addr(d):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = re.search(r"metrics on http://([0-9.]+:[0-9]+)/metrics",
                      d.log())
        if m:
            return m.group(1)
        time.sleep(0.05)
    raise AssertionError("no metrics listener in the log:\n" + d.log())


def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Prometheus:
    """The Debian prometheus server on a free loopback port with its
    storage in a temporary directory, scraping targets every second."""

    def __init__(self, targets):
        self.dir = tempfile.mkdtemp(prefix="rt-prom-")
        cfg = {"global": {"scrape_interval": "1s",
                          "evaluation_interval": "1s"},
               "scrape_configs": [{
                   "job_name": "ratetap",
                   "static_configs": [
                       {"targets": [addr], "labels": {"host": host,
                                                      "user": "alice"}}
                       for host, addr in targets]}]}
        self.cfg = os.path.join(self.dir, "prometheus.yml")
        with open(self.cfg, "w") as f:
            json.dump(cfg, f)      # JSON is YAML
        self.proc = None
        for _ in range(5):
            self.port = free_port()
            if self._start():
                return
        raise AssertionError("prometheus did not start:\n" + self.log())

    def log(self):
        with open(os.path.join(self.dir, "log"), errors="replace") as f:
            return f.read()[-4000:]

    def _start(self):
        logf = open(os.path.join(self.dir, "log"), "ab")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + self.cfg,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--storage.tsdb.retention.time=1h"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
            cwd=self.dir)
        logf.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False        # the port was taken meanwhile
            try:
                with urllib.request.urlopen(
                        "http://127.0.0.1:%d/-/ready" % self.port,
                        timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        self.close()
        raise AssertionError("prometheus not ready in 30 s:\n" + self.log())

    def query(self, expr):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
        if doc.get("status") != "success":
            raise AssertionError("query %s: %r" % (expr, doc))
        return doc["data"]["result"]

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipIf(PROMETHEUS is None, "prometheus not installed")
class PrometheusServerTest(unittest.TestCase):
    def setUp(self):
        self.api = MockAPI()
        self.addCleanup(self.api.close)
        self.daemons = []
        for _ in range(2):
            d = Daemon(self.api, poll_interval=300,
                       args=["--metrics-listen", "127.0.0.1:0"],
                       env=OTEL_OFF)
            self.addCleanup(d.close)
            self.daemons.append(d)

    def tap(self, d, usage, n):
        for _ in range(n):
            p = run(["curl", "-sS", "-o", "/dev/null",
                     "-H", "x-mock-usage: " + usage,
                     self.api.url("/v1/messages"), "-d", MSG], d.env)
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_a_query_summed_across_two_daemons_equals_their_statuses(self):
        a, b = self.daemons
        self.tap(a, "10,20,0,5", 2)
        self.tap(b, "7,300,40,0", 3)
        st = []
        for d in (a, b):
            d.wait_for(lambda s: s["requests"]["total"] >= 2)
            st.append(d.status())
        want_req = sum(s["requests"]["total"] for s in st)
        want_out = sum(s["windows"]["five_hour"]["tokens"]["output"]
                       for s in st)
        want_cc = sum(s["windows"]["five_hour"]["tokens"][
            "cache_creation_input"] for s in st)
        self.assertEqual((want_req, want_out, want_cc), (5, 940, 120))

        prom = Prometheus([("hosta", metrics_addr(a)),
                           ("hostb", metrics_addr(b))])
        self.addCleanup(prom.close)
        queries = {
            "sum(ratetap_requests_total)": want_req,
            'sum(ratetap_window_tokens{window="five_hour",type="output"})':
                want_out,
            'sum by (user) (ratetap_window_tokens{window="five_hour",'
            'type="cache_creation_input"})': want_cc,
        }
        got = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # both targets scraped at least once
            up = prom.query('count(up{job="ratetap"} == 1)')
            if up and up[0]["value"][1] == "2":
                got = {q: [float(r["value"][1]) for r in prom.query(q)]
                       for q in queries}
                if all(got[q] == [v] for q, v in queries.items()):
                    break
            time.sleep(0.5)
        self.assertEqual(got, {q: [float(v)] for q, v in queries.items()},
                         prom.log())
        hosts = sorted(r["metric"]["host"] for r in
                       prom.query("ratetap_requests_total"))
        self.assertEqual(hosts, ["hosta", "hostb"])


if __name__ == "__main__":
    unittest.main()
