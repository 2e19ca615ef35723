"""The OTLP exporter of the real ratetapd: fed by real curl under the shim
against the mock API, pushing OTLP/HTTP JSON every second to the local
receiver of tests/otlp_receiver.py, which checks each payload's
structure."""

import os
import sys
import time
import unittest

from harness import ROOT, Daemon, MockAPI, run

sys.path.insert(0, os.path.join(ROOT, "tests"))
from otlp_receiver import Receiver  # noqa: E402

MSG = b'{"model":"claude-sonnet-4-5","max_tokens":8,' \
      b'"messages":[{"role":"user","content":"hi"}]}'
SECRET = "s3cr%20et-value"
OTEL_CLEAR = {k: None for k in (
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME", "OTEL_SDK_DISABLED",
    "OTEL_METRICS_EXPORTER", "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_SEMCONV_STABILITY_OPT_IN")}


def otel_env(**kw):
    e = dict(OTEL_CLEAR)
    e.update(kw)
    return e


def attrs(o):
    return {a["key"]: a["value"]["stringValue"]
            for a in o.get("attributes", [])}


def metrics_of(body):
    rm = body["resourceMetrics"][0]
    sm = rm["scopeMetrics"][0]
    return {m["name"]: m for m in sm["metrics"]}


def points(metric):
    data = metric.get("gauge") or metric.get("sum")
    return data["dataPoints"]


def token_usage(body, model, kind):
    """The gen_ai.client.token.usage value of model and ratetap kind."""
    m = metrics_of(body).get("gen_ai.client.token.usage")
    if m is None:
        return None
    for dp in points(m):
        a = attrs(dp)
        if a.get("gen_ai.response.model") == model and \
                a.get("ratetap.token.type") == kind:
            return int(dp["asInt"])
    return None


class OTLPExportTest(unittest.TestCase):

    def setUp(self):
        self.rx = Receiver()
        self.addCleanup(self.rx.close)

    def daemon(self, api=None, **env):
        d = Daemon(api, token="tok-otlp" if api else None, poll_interval=300,
                   env=otel_env(**env))
        self.addCleanup(d.close)
        deadline = time.monotonic() + 5
        while "OTLP: exporting metrics to" not in d.log():
            if time.monotonic() > deadline:
                self.fail("ratetapd did not start its OTLP exporter; log:\n"
                          + d.log())
            time.sleep(0.05)
        return d

    def test_pushes_metrics_with_resource_headers_and_genai_usage(self):
        api = MockAPI()
        self.addCleanup(api.close)
        d = self.daemon(
            api,
            OTEL_EXPORTER_OTLP_ENDPOINT=self.rx.base + "/",
            OTEL_METRIC_EXPORT_INTERVAL="1000",
            OTEL_EXPORTER_OTLP_HEADERS="x-api-key=%s, X-Tenant=team%%2Fa" %
            SECRET,
            OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,"
            "host.name=box%201",
            OTEL_SERVICE_NAME="ratetap-it")
        for extra in ([], ["-H", "x-mock-model: claude-opus-4-1",
                           "-H", "x-mock-usage: 100,200,0,1000"]):
            p = run(["curl", "-sS", "-o", "/dev/null"] + extra +
                    [api.url("/v1/messages"), "-d", MSG], d.env)
            self.assertEqual(p.returncode, 0, p.stderr)
        st = d.wait_for(lambda s: s["requests"]["total"] == 2)

        reqs = self.rx.wait(lambda rs: len(rs) >= 2 and token_usage(
            rs[-1]["body"], "claude-opus-4-1", "cache_read_input") == 1000,
            timeout=15)
        last = reqs[-1]
        for r in reqs:
            self.assertEqual(r["problems"], [], r["problems"])
            self.assertEqual(r["path"], "/v1/metrics")
            self.assertEqual(r["headers"]["content-type"],
                             "application/json")
            self.assertEqual(r["headers"]["x-api-key"], "s3cr et-value")
            self.assertEqual(r["headers"]["x-tenant"], "team/a")
        body = last["body"]

        rm = body["resourceMetrics"][0]
        res = attrs(rm["resource"])
        self.assertEqual(rm["resource"]["attributes"][0]["key"],
                         "service.name")
        self.assertEqual(res["service.name"], "ratetap-it")
        self.assertEqual(res["deployment.environment"], "test")
        self.assertEqual(res["host.name"], "box 1")
        self.assertIn("service.version", res)
        scope = rm["scopeMetrics"][0]["scope"]
        self.assertEqual(scope["name"], "ratetap")
        self.assertTrue(scope["version"])

        ms = metrics_of(body)
        util = {attrs(dp)["ratetap.window"]: dp["asDouble"]
                for dp in points(ms["ratetap.window.utilization"])}
        self.assertEqual(util["five_hour"],
                         st["windows"]["five_hour"]["utilization"])
        self.assertEqual(ms["ratetap.window.utilization"]["unit"], "%")
        self.assertNotIn("seven_day_opus", util)
        req = ms["ratetap.requests"]
        self.assertEqual(req["sum"]["aggregationTemporality"], 2)
        self.assertIs(req["sum"]["isMonotonic"], True)
        self.assertEqual(points(req)[0]["asInt"], "2")
        self.assertIn("ratetap.window.tokens", ms)
        self.assertIn("gauge", ms["ratetap.window.tokens"])

        gm = ms["gen_ai.client.token.usage"]
        self.assertEqual(gm["unit"], "{token}")
        self.assertIs(gm["sum"]["isMonotonic"], True)
        for dp in points(gm):
            a = attrs(dp)
            self.assertEqual(a["gen_ai.provider.name"], "anthropic")
            self.assertEqual(a["gen_ai.operation.name"], "chat")
            self.assertEqual(a["gen_ai.request.model"],
                             a["gen_ai.response.model"])
            self.assertEqual(a["gen_ai.token.type"],
                             "output" if a["ratetap.token.type"] == "output"
                             else "input")
            self.assertLessEqual(int(dp["startTimeUnixNano"]),
                                 int(dp["timeUnixNano"]))
        for model, vals in st["models"].items():
            for kind in ("input", "output", "cache_creation_input",
                         "cache_read_input"):
                self.assertEqual(token_usage(body, model, kind), vals[kind],
                                 (model, kind))
        self.assertEqual(token_usage(body, "claude-sonnet-4-5", "input"), 11)
        self.assertEqual(token_usage(body, "claude-sonnet-4-5", "output"),
                         22)

        # every second, not faster
        times = [r["time"] for r in reqs]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertTrue(all(0.7 < g < 3.0 for g in gaps), gaps)
        self.assertNotIn("s3cr", d.log())

    def test_protobuf_carries_what_the_status_says_decoded_by_python(self):
        api = MockAPI()
        self.addCleanup(api.close)
        d = self.daemon(
            api, OTEL_EXPORTER_OTLP_ENDPOINT=self.rx.base,
            OTEL_METRIC_EXPORT_INTERVAL="500",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/json",
            OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="http/protobuf",
            OTEL_SEMCONV_STABILITY_OPT_IN="gen_ai_latest_experimental/dup",
            OTEL_SERVICE_NAME="ratetap-pb")
        self.assertIn("(http/protobuf)", d.log())
        p = run(["curl", "-sS", "-o", "/dev/null", "-H",
                 "x-mock-usage: 100,200,30,1000", api.url("/v1/messages"),
                 "-d", MSG], d.env)
        self.assertEqual(p.returncode, 0, p.stderr)
        st = d.wait_for(lambda s: s["requests"]["total"] == 1)
        # a partial success in protobuf is read and logged
        self.rx.answer_next(1, {"partialSuccess": {
            "rejectedDataPoints": "3", "errorMessage": "pb says no"}})
        reqs = self.rx.wait(lambda rs: len(rs) >= 2 and token_usage(
            rs[-1]["body"], "claude-sonnet-4-5", "cache_read_input") == 1000,
            timeout=15)
        for r in reqs:
            self.assertEqual(r["encoding"], "protobuf")
            self.assertEqual(r["problems"], [], r["problems"])
            self.assertEqual(r["headers"]["content-type"],
                             "application/x-protobuf")
        body = reqs[-1]["body"]
        rm = body["resourceMetrics"][0]
        self.assertEqual(attrs(rm["resource"])["service.name"], "ratetap-pb")
        self.assertEqual(rm["scopeMetrics"][0]["scope"]["name"], "ratetap")
        ms = metrics_of(body)
        req = ms["ratetap.requests"]
        self.assertEqual(req["sum"]["aggregationTemporality"], 2)
        self.assertIs(req["sum"]["isMonotonic"], True)
        self.assertEqual(points(req)[0]["asInt"],
                         str(st["requests"]["total"]))
        util = {attrs(dp)["ratetap.window"]: dp["asDouble"]
                for dp in points(ms["ratetap.window.utilization"])}
        self.assertEqual(util["five_hour"],
                         st["windows"]["five_hour"]["utilization"])
        vals = st["models"]["claude-sonnet-4-5"]
        for kind in ("input", "output", "cache_creation_input",
                     "cache_read_input"):
            self.assertEqual(token_usage(body, "claude-sonnet-4-5", kind),
                             vals[kind], kind)
        # /dup: the newer counters beside the old name
        new = {n: int(points(ms["gen_ai.client.inference.usage." + n])[0]
                      ["asInt"])
               for n in ("input_tokens", "output_tokens",
                         "cache_read.input_tokens",
                         "cache_write.input_tokens")}
        self.assertEqual(new, {"input_tokens": 1130, "output_tokens": 200,
                               "cache_read.input_tokens": 1000,
                               "cache_write.input_tokens": 30})
        dp = points(ms["gen_ai.client.inference.usage.input_tokens"])[0]
        self.assertEqual(attrs(dp)["gen_ai.provider.name"], "anthropic")
        self.assertLessEqual(int(dp["startTimeUnixNano"]),
                             int(dp["timeUnixNano"]))
        deadline = time.monotonic() + 10
        while "pb says no" not in d.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("collector rejected 3 data points: pb says no", d.log())

    def test_metrics_endpoint_is_used_as_is(self):
        self.daemon(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
                    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=self.rx.url(
                        "/custom/otlp/metrics"),
                    OTEL_METRIC_EXPORT_INTERVAL="500")
        reqs = self.rx.wait(lambda rs: len(rs) >= 1, timeout=10)
        self.assertEqual(reqs[0]["path"], "/custom/otlp/metrics")
        self.assertEqual(reqs[0]["problems"], [])

    def test_failures_are_logged_once_then_backed_off(self):
        self.rx.fail_next(2, status=503)
        d = self.daemon(OTEL_EXPORTER_OTLP_ENDPOINT=self.rx.base,
                        OTEL_METRIC_EXPORT_INTERVAL="1000")
        reqs = self.rx.wait(lambda rs: len(rs) >= 3, timeout=20)
        self.assertEqual([r["answered"] for r in reqs[:3]], [503, 503, 200])
        t = [r["time"] for r in reqs]
        self.assertGreater(t[1] - t[0], 1.5)	# doubled after a failure
        self.assertGreater(t[2] - t[1], 3.0)	# and again
        deadline = time.monotonic() + 5
        while "works again" not in d.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = d.log()
        self.assertEqual(log.count("HTTP 503"), 1, log)
        self.assertEqual(log.count("works again"), 1, log)

    def test_a_partial_success_is_logged_once_per_change(self):
        # the same refusal 4 times: one line; then a whole success: one
        # line saying so; then a different refusal: one more
        ps = {"partialSuccess": {"rejectedDataPoints": "3",
                                 "errorMessage": "too many attributes"}}
        self.rx.answer_next(4, ps)
        d = self.daemon(OTEL_EXPORTER_OTLP_ENDPOINT=self.rx.base,
                        OTEL_METRIC_EXPORT_INTERVAL="200")
        self.rx.wait(lambda rs: len(rs) >= 6, timeout=20)
        self.rx.answer_next(2, {"partialSuccess": {
            "rejectedDataPoints": 1, "errorMessage": "other"}})
        n = len(self.rx.requests())
        self.rx.wait(lambda rs: len(rs) >= n + 4, timeout=20)
        time.sleep(0.2)
        log = d.log()
        self.assertEqual(log.count("collector rejected 3 data points: "
                                   "too many attributes"), 1, log)
        self.assertEqual(log.count("collector rejected 1 data points: "
                                   "other"), 1, log)
        self.assertEqual(log.count("accepts every data point again"), 2,
                         log)

    def test_malformed_headers_stop_the_daemon_without_leaking_them(self):
        d = Daemon(None, env=otel_env(
            OTEL_EXPORTER_OTLP_ENDPOINT=self.rx.base,
            OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20hunter2%zz"),
            start=False)
        self.addCleanup(d.close)
        with self.assertRaises(AssertionError) as cm:
            d.start(timeout=5)
        self.assertIn("exited", str(cm.exception))
        log = d.log()
        self.assertIn("OTEL_EXPORTER_OTLP_HEADERS", log)
        self.assertNotIn("hunter2", log)
        self.assertEqual(self.rx.requests(), [])


if __name__ == "__main__":
    unittest.main()
