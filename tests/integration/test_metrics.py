"""The Prometheus exposition of the real ratetapd: fed by real curl under
the shim against the mock API, read over the control socket and over TCP
(--metrics-listen), parsed with prometheus_client's parser and compared
with the status JSON; and the Grafana dashboard against it."""

import calendar
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from harness import DAEMON, ROOT, Daemon, MockAPI, run

DASHBOARD = os.path.join(ROOT, "contrib", "grafana", "ratetap.json")
OTEL_OFF = {k: None for k in (
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")}
TYPES = ("input", "output", "cache_creation_input", "cache_read_input")
WINDOWS = ("five_hour", "seven_day", "seven_day_sonnet", "seven_day_opus")

# struct rtp_event (include/ratetap/proto.h), as tests/integration/
# test_mock.py packs it.
EVENT_FMT = "=IHHIiIIiHBBBBBBB3xQqqqq8d19q64s64s96s32s64s32s" \
    "8x192x"  # nwin, wpad and win[4], all zero
RTP_MAGIC = 0x31505452


def event(model, prog, tokens, magic=RTP_MAGIC):
    size = struct.calcsize(EVENT_FMT)
    return struct.pack(
        EVENT_FMT, magic, 1, size, 0, os.getpid(), 1, 0, 0, 200, 2, 1, 0,
        0, 0, 0, 0, 0, *tokens, *([0.0] * 8), *([0] * 19), model,
        b"127.0.0.1:1", b"/v1/messages", prog, b"req_x", b"")


def epoch(rfc3339):
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


def parse(text):
    """{family name: family}, and {(sample name, sorted labels): value}."""
    fams, samples = {}, {}
    for f in text_string_to_metric_families(text):
        fams[f.name] = f
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in samples:
                raise AssertionError("series twice: %r" % (key,))
            samples[key] = s.value
    return fams, samples


def get(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def exposition_names(text):
    """Every metric name an exposition defines or emits."""
    names = set(re.findall(r"^# (?:HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)",
                           text, re.M))
    names |= set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M))
    return names


class MetricsTest(unittest.TestCase):
    """One daemon for the class: curl traffic and a poll, then reads."""

    @classmethod
    def setUpClass(cls):
        cls.api = cls.d = None
        try:
            cls._set_up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _set_up(cls):
        cls.api = MockAPI()
        # the poll's answer: the mock's default, with extra usage on
        _, body = cls._usage_default()
        body["extra_usage"] = {"is_enabled": True, "monthly_limit": 5000,
                               "used_credits": 1234.5, "utilization": 24.69}
        cls.api.configure({"usage": {"mode": "ok", "body": body,
                                     "token": "tok-metrics"}})
        cls.d = Daemon(cls.api, token="tok-metrics", poll_interval=300,
                       args=["--metrics-listen", "127.0.0.1:0"],
                       env=OTEL_OFF)
        m = None
        deadline = time.monotonic() + 10
        while m is None and time.monotonic() < deadline:
            m = re.search(r"metrics on http://([0-9.]+:[0-9]+)/metrics",
                          cls.d.log())
            time.sleep(0.05)
        if m is None:
            raise AssertionError("no metrics listener in the log:\n" +
                                 cls.d.log())
        cls.tcp = m.group(1)

        env = cls.d.env
        msg = b'{"model":"claude-sonnet-4-5","max_tokens":8,' \
              b'"messages":[{"role":"user","content":"hi"}]}'
        runs = [
            [],
            ["-H", "x-mock-model: claude-opus-4-1",
             "-H", "x-mock-usage: 100,200,0,1000"],
            ["-H", "x-mock-status: 429"],
        ]
        for extra in runs:
            p = run(["curl", "-sS", "-o", "/dev/null"] + extra +
                    [cls.api.url("/v1/messages"), "-d", msg], env)
            if p.returncode != 0:
                raise AssertionError("curl failed: %r" % p.stderr)
        # a hostile model name and a malformed datagram, straight to ingest
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.sendto(event(b'we"ird\\model', b"rawclient", (1, 2, 0, 0)),
                     cls.d.ingest_path)
            s.sendto(event(b"x", b"y", (1, 1, 1, 1), magic=0x0bad),
                     cls.d.ingest_path)
        finally:
            s.close()
        cls.status = cls.d.wait_for(
            lambda s: s["requests"]["total"] >= 4 and
            s["ingest"]["rejected"]["magic"] >= 1 and
            s["poll"]["last_ok"] is not None and
            s["extra_usage"]["is_enabled"] is True)

    @classmethod
    def _usage_default(cls):
        req = urllib.request.Request(cls.api.url("/api/oauth/usage"),
                                     headers={"Authorization": "Bearer x"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())

    @classmethod
    def tearDownClass(cls):
        if cls.d is not None:
            cls.d.close()
        if cls.api is not None:
            cls.api.close()

    def scrape_unix(self):
        st, hdrs, body = self.d.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertEqual(hdrs.get("content-type"),
                         "text/plain; version=0.0.4; charset=utf-8")
        return body.decode()

    def scrape_tcp(self, path="/metrics"):
        with urllib.request.urlopen("http://%s%s" % (self.tcp, path),
                                    timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()

    def test_metrics_match_the_status_json(self):
        text = self.scrape_unix()
        st = self.d.status()
        _, s = parse(text)

        for w in WINDOWS:
            win = st["windows"][w]
            util = get(s, "ratetap_window_utilization_percent", window=w)
            if win["utilization"] is None:
                self.assertIsNone(util, "unknown %s exported" % w)
            else:
                self.assertAlmostEqual(util, win["utilization"])
            reset = get(s, "ratetap_window_reset_timestamp_seconds",
                        window=w)
            if win["resets_at"] is None:
                self.assertIsNone(reset)
            else:
                self.assertEqual(reset, epoch(win["resets_at"]))
                left = get(s, "ratetap_window_time_until_reset_seconds",
                           window=w)
                self.assertAlmostEqual(left, reset - time.time(), delta=5)
            for t in TYPES:
                self.assertEqual(get(s, "ratetap_window_tokens", window=w,
                                     type=t), win["tokens"][t], (w, t))
            self.assertEqual(get(s, "ratetap_window_rollovers_total",
                                 window=w), win["rollovers"])
        # the mock's headers and poll: known values, opus unknown
        self.assertEqual(get(s, "ratetap_window_utilization_percent",
                             window="five_hour"), 25)
        self.assertIsNone(get(s, "ratetap_window_utilization_percent",
                              window="seven_day_opus"))

        for model, v in st["models"].items():
            self.assertEqual(get(s, "ratetap_model_requests_total",
                                 model=model), v["requests"], model)
            for t in TYPES:
                self.assertEqual(get(s, "ratetap_model_tokens_total",
                                     model=model, type=t), v[t], (model, t))
        for prog, v in st["processes"].items():
            self.assertEqual(get(s, "ratetap_program_requests_total",
                                 program=prog), v["requests"], prog)
            for t in ("input", "output"):
                self.assertEqual(get(s, "ratetap_program_tokens_total",
                                     program=prog, type=t), v[t], prog)
        self.assertEqual(get(s, "ratetap_model_tokens_total",
                             model="claude-opus-4-1", type="cache_read_input"),
                         1000)
        self.assertIn("curl", st["processes"])

        req = st["requests"]
        self.assertEqual(get(s, "ratetap_requests_total"), req["total"])
        self.assertEqual(get(s, "ratetap_requests_rate_limited_total"),
                         req["rate_limited"])
        self.assertEqual(req["rate_limited"], 1)
        self.assertEqual(get(s, "ratetap_requests_overloaded_total"),
                         req["overloaded"])
        self.assertEqual(get(s, "ratetap_requests_errors_total"),
                         req["errors"])
        self.assertEqual(get(s, "ratetap_usage_unreadable_total"),
                         req["usage_unreadable"])
        for t in TYPES:
            self.assertEqual(get(s, "ratetap_tokens_total", type=t),
                             st["tokens_total"][t])

        x = st["extra_usage"]
        self.assertEqual(get(s, "ratetap_extra_usage_enabled"), 1)
        self.assertEqual(get(s, "ratetap_extra_usage_monthly_limit_credits"),
                         x["monthly_limit"])
        self.assertEqual(get(s, "ratetap_extra_usage_used_credits"),
                         x["used_credits"])
        self.assertAlmostEqual(
            get(s, "ratetap_extra_usage_utilization_percent"),
            x["utilization"])

        for kind, lim in st["api_limits"].items():
            if lim is None:
                self.assertIsNone(get(s, "ratetap_api_key_limit", kind=kind))
                continue
            self.assertEqual(get(s, "ratetap_api_key_limit", kind=kind),
                             lim["limit"])
            self.assertEqual(get(s, "ratetap_api_key_remaining", kind=kind),
                             lim["remaining"])
            self.assertEqual(get(s, "ratetap_api_key_reset_timestamp_seconds",
                                 kind=kind), epoch(lim["resets_at"]))
        self.assertEqual(get(s, "ratetap_retry_after_seconds"), 7)

        ing = st["ingest"]
        self.assertEqual(get(s, "ratetap_datagrams_accepted_total"),
                         ing["accepted"])
        for reason, n in ing["rejected"].items():
            self.assertEqual(get(s, "ratetap_datagrams_rejected_total",
                                 reason=reason), n, reason)
        self.assertEqual(get(s, "ratetap_datagrams_rejected_total",
                             reason="magic"), 1)
        self.assertEqual(get(s, "ratetap_datagrams_foreign_total"),
                         ing["foreign_uid"])

        poll = st["poll"]
        self.assertEqual(get(s, "ratetap_poll_success_total"),
                         poll["ok_total"])
        self.assertEqual(get(s, "ratetap_poll_failures_total"),
                         poll["fail_total"])
        self.assertEqual(get(s, "ratetap_poll_last_success_timestamp_seconds"),
                         epoch(poll["last_ok"]))
        self.assertEqual(get(s, "ratetap_poll_last_ok"), 1)
        self.assertEqual(get(s, "ratetap_unified_status", status="rejected"),
                         1 if st["unified"]["status"] == "rejected" else 0)
        versions = [k for k in s if k[0] == "ratetap_build_info"]
        self.assertEqual(len(versions), 1)
        self.assertEqual(s[versions[0]], 1)

    def test_hostile_label_values_survive_escaping(self):
        _, s = parse(self.scrape_unix())
        self.assertEqual(get(s, "ratetap_model_requests_total",
                             model='we"ird\\model'), 1)
        self.assertEqual(get(s, "ratetap_program_tokens_total",
                             program="rawclient", type="output"), 2)

    def test_every_family_is_typed_and_documented(self):
        text = self.scrape_unix()
        fams, _ = parse(text)
        self.assertGreaterEqual(len(fams), 38)
        for name, f in fams.items():
            self.assertTrue(name.startswith("ratetap_"), name)
            self.assertIn(f.type, ("gauge", "counter"), name)
            self.assertTrue(f.documentation, name)
        # counters carry _total, and nothing else does
        for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.M):
            self.assertEqual(m.group(2) == "counter",
                             m.group(1).endswith("_total"), m.group(0))
        # every sample follows its own HELP and TYPE
        family = None
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                family = line.split()[2]
            elif not line.startswith("#"):
                self.assertEqual(re.match(r"[a-z_]+", line).group(0),
                                 family, line)

    def test_tcp_listener_serves_the_same_metrics_and_nothing_else(self):
        st, ctype, text = self.scrape_tcp()
        self.assertEqual(st, 200)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        fams_tcp, s_tcp = parse(text)
        fams_unix, s_unix = parse(self.scrape_unix())
        self.assertEqual(set(fams_tcp), set(fams_unix))
        self.assertEqual(get(s_tcp, "ratetap_requests_total"),
                         get(s_unix, "ratetap_requests_total"))
        self.assertEqual(
            get(s_tcp, "ratetap_model_tokens_total",
                model="claude-sonnet-4-5", type="input"),
            get(s_unix, "ratetap_model_tokens_total",
                model="claude-sonnet-4-5", type="input"))
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.scrape_tcp("/v1/status")
        self.assertEqual(cm.exception.code, 404)

    def test_grafana_dashboard_uses_only_exported_metrics(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        self.assertEqual(dash["schemaVersion"], 39)
        inputs = {i["name"]: i for i in dash["__inputs"]}
        self.assertEqual(inputs["DS_PROMETHEUS"]["type"], "datasource")
        self.assertEqual(inputs["DS_PROMETHEUS"]["pluginId"], "prometheus")

        exprs = []

        def walk(o):
            if isinstance(o, dict):
                ds = o.get("datasource")
                if isinstance(ds, dict) and ds.get("type") == "prometheus":
                    self.assertEqual(ds.get("uid"), "${DS_PROMETHEUS}")
                for k, v in o.items():
                    if k in ("expr", "definition") and isinstance(v, str):
                        exprs.append(v)
                    elif k == "query" and isinstance(v, str):
                        exprs.append(v)
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        walk(dash)
        self.assertGreaterEqual(len(exprs), 25)

        used = set()
        for e in exprs:
            used |= set(re.findall(r"\bratetap_[a-zA-Z0-9_]+", e))
        exported = exposition_names(self.scrape_unix())
        self.assertEqual(used - exported, set(),
                         "dashboard queries metrics ratetapd does not "
                         "export")
        # what the dashboard must show
        panels = [p for p in dash["panels"] if p["type"] != "row"]
        titles = {p["title"]: p for p in panels}
        util = titles["Utilization by window"]
        # the warning threshold comes from ratetapd's own gauge, not a
        # number written into the dashboard
        for title in ("Utilization by window", "Utilization now"):
            p = titles[title]
            steps = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
            self.assertNotIn(80, [s["value"] for s in steps])
            thr = [t for t in p["targets"]
                   if "ratetap_warning_threshold_percent" in t["expr"]]
            self.assertEqual(len(thr), 1, title)
            self.assertEqual(p["transformations"][0]["id"], "configFromData")
            opts = p["transformations"][0]["options"]
            self.assertEqual(opts["configRefId"], thr[0]["refId"])
            self.assertEqual(opts["mappings"][0]["handlerKey"], "threshold1")
        # a host selector, and every query filtered by it
        names = [v["name"] for v in dash["templating"]["list"]]
        self.assertEqual(names, ["host", "instance"])
        for p in panels:
            for t in p.get("targets", []):
                self.assertIn('host=~"$host"', t["expr"], p["title"])
        self.assertNotEqual(util["fieldConfig"]["defaults"]["custom"]
                            ["thresholdsStyle"]["mode"], "off")
        for title, metric in (
                ("Token burn rate by program", "ratetap_program_tokens_total"),
                ("Token burn rate by model", "ratetap_model_tokens_total")):
            p = titles[title]
            self.assertEqual(p["fieldConfig"]["defaults"]["custom"]
                             ["stacking"]["mode"], "normal")
            self.assertIn("rate(%s" % metric, p["targets"][0]["expr"])
            self.assertIn("[5m]", p["targets"][0]["expr"])
        self.assertIn("ratetap_requests_rate_limited_total", json.dumps(
            titles["Rate-limited and failed requests"]["targets"]))
        self.assertIn("ratetap_poll_failures_total",
                      json.dumps(titles["Usage polls"]["targets"]))
        anns = [a for a in dash["annotations"]["list"]
                if "ratetap_window_reset_timestamp_seconds" in a.get("expr",
                                                                     "")]
        self.assertEqual(len(anns), 1)
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")


METRICS_TOKEN = "rt-scrape-Zq8v1Lm3Xc9pW2"


class MetricsProtectionTest(unittest.TestCase):
    """The TCP listener's protections, with real HTTP clients: a bearer
    token file (Prometheus' `authorization: credentials_file`), the
    aggregate families only, and a warning on a non-loopback bind."""

    def setUp(self):
        self.api = MockAPI()
        self.addCleanup(self.api.close)
        self.tmp = tempfile.mkdtemp(prefix="rt-mtok-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def token_file(self, text=METRICS_TOKEN + "\n", mode=0o600):
        path = tempfile.mktemp(prefix="token-", dir=self.tmp)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def daemon(self, *args):
        d = Daemon(self.api, poll_interval=None,
                   args=["--metrics-listen", "127.0.0.1:0"] + list(args),
                   env=OTEL_OFF)
        self.addCleanup(d.close)
        m = re.search(r"metrics on http://([0-9.]+:[0-9]+)/metrics",
                      d.log())
        self.assertIsNotNone(m, d.log())
        return d, m.group(1)

    def curl(self, url, *extra):
        p = run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}"] +
                list(extra) + [url], {"PATH": os.environ["PATH"]})
        self.assertEqual(p.returncode, 0, p.stderr)
        body, _, code = p.stdout.rpartition(b"\n")
        return int(code), body

    def test_a_bearer_token_file_guards_metrics(self):
        d, tcp = self.daemon("--metrics-bearer-token-file",
                             self.token_file())
        url = "http://%s/metrics" % tcp
        code, body = self.curl(url)
        self.assertEqual(code, 401)
        self.assertNotIn(b"ratetap_", body)
        for bad in ("Bearer wrong", "Bearer " + METRICS_TOKEN + "x",
                    "Bearer " + METRICS_TOKEN[:-1], "Basic " + METRICS_TOKEN,
                    "Bearer "):
            code, body = self.curl(url, "-H", "Authorization: " + bad)
            self.assertEqual(code, 401, bad)
            self.assertNotIn(b"ratetap_", body, bad)
        code, body = self.curl(url, "-H",
                               "Authorization: Bearer " + METRICS_TOKEN)
        self.assertEqual(code, 200)
        fams = {f.name for f in text_string_to_metric_families(
            body.decode())}
        self.assertIn("ratetap_requests", fams)
        # what Prometheus does with credentials_file: the scheme's case
        # does not matter
        req = urllib.request.Request(url, headers={
            "Authorization": "bearer " + METRICS_TOKEN})
        self.assertIn(b"ratetap_", urllib.request.urlopen(
            req, timeout=10).read())
        # health stays open (liveness probes); the control socket needs
        # no token (it is private to the user)
        self.assertEqual(self.curl("http://%s/v1/health" % tcp)[0], 200)
        st, _, body = d.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertGreaterEqual(d.status()["metrics_listener"][
            "unauthorized"], 6)
        self.assertNotIn(METRICS_TOKEN, d.log())

    def test_a_token_file_others_can_read_or_that_is_not_ours_is_refused(self):
        cases = [(self.token_file(mode=0o604), b"mode 0604"),
                 (self.token_file(mode=0o620), b"mode 0620"),
                 (self.token_file(text="\n"), b"empty"),
                 (self.token_file(text="two words\n"), b"visible ASCII"),
                 (os.path.join(self.tmp, "missing"), b"No such file")]
        link = os.path.join(self.tmp, "link")
        os.symlink(self.token_file(), link)
        cases.append((link, b"symbolic link"))
        if os.geteuid() == 0:
            other = self.token_file()
            os.chown(other, 65534, 65534)
            cases.append((other, b"owned by uid 65534"))
        for path, why in cases:
            d = Daemon(self.api, poll_interval=None, start=False, args=[
                "--metrics-listen", "127.0.0.1:0",
                "--metrics-bearer-token-file", path])
            self.addCleanup(d.close)
            p = subprocess.run([DAEMON] + d.args, env=d.daemon_env,
                               capture_output=True, timeout=10,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 1, (path, p.stderr))
            self.assertIn(b"--metrics-bearer-token-file", p.stderr)
            self.assertIn(why, p.stderr, path)
            self.assertNotIn(METRICS_TOKEN.encode(), p.stderr)
            self.assertFalse(os.path.exists(d.control_path))
        p = subprocess.run([DAEMON, "--metrics-aggregate-only"],
                           capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"--metrics-listen", p.stderr)

    def test_aggregate_only_serves_no_program_or_model_name(self):
        d, tcp = self.daemon("--metrics-aggregate-only")
        msg = b'{"model":"claude-sonnet-4-5","max_tokens":8,' \
              b'"messages":[{"role":"user","content":"hi"}]}'
        p = run(["curl", "-sS", "-o", "/dev/null", self.api.url(
            "/v1/messages"), "-d", msg], d.env)
        self.assertEqual(p.returncode, 0, p.stderr)
        d.wait_for(lambda s: s["requests"]["total"] == 1)
        code, body = self.curl("http://%s/metrics" % tcp)
        self.assertEqual(code, 200)
        text = body.decode()
        fams, samples = parse(text)
        self.assertNotIn("claude-sonnet", text)
        self.assertNotIn('program="curl"', text)
        self.assertFalse([n for n in fams if n.startswith(
            ("ratetap_model_", "ratetap_program_"))], sorted(fams))
        self.assertEqual(get(samples, "ratetap_requests_total"), 1)
        # the control socket keeps every family
        st, _, full = d.request("GET", "/metrics")
        self.assertIn(b"claude-sonnet", full)

    def test_a_non_loopback_bind_is_warned_about(self):
        d = Daemon(self.api, poll_interval=None,
                   args=["--metrics-listen", "0.0.0.0:0"], env=OTEL_OFF)
        self.addCleanup(d.close)
        self.assertIn("reachable from other hosts", d.log())
        self.assertIn("program and model names included", d.log())
        d2, _ = self.daemon()
        self.assertNotIn("reachable from other hosts", d2.log())


if __name__ == "__main__":
    unittest.main()
