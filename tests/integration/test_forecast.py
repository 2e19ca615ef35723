"""The forecast with the real daemon: real curl under the shim against the
mock API, whose 5-hour utilization header climbs between requests; the
forecast read from `ratetap status --json`, the table and the metrics."""

import json
import os
import shutil
import time
import unittest

from harness import MockAPI, Daemon, CLI, run

CURL = shutil.which("curl")
P = "anthropic-ratelimit-unified-"


def message(d, api):
    p = run([CURL, "-sS", "-o", "/dev/null", "-H",
             "content-type: application/json", "--data-binary",
             '{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[]}',
             api.url("/v1/messages")], d.env)
    if p.returncode != 0:
        raise AssertionError(p.stderr)


@unittest.skipUnless(CURL, "curl is not installed")
class TestForecast(unittest.TestCase):

    def test_a_climbing_window_is_forecast_to_run_out_before_its_reset(self):
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            api.configure({"headers_update": {P + "5h-utilization": "0.10"}})
            message(d, api)
            t0 = time.time()
            while time.time() < t0 + 2.2:
                time.sleep(0.1)
            api.configure({"headers_update": {P + "5h-utilization": "0.30"}})
            message(d, api)
            d.wait_for(lambda s: s["requests"]["total"] >= 2, timeout=10)
            st = d.status()
            fh = st["windows"]["five_hour"]
            self.assertEqual(fh["utilization"], 30.0)
            f = fh["forecast"]
            # 20 points in about 2 s: 100 % within seconds, long before
            # the reset
            self.assertIsNotNone(f["exhausted_at"])
            self.assertLess(f["exhausted_at"], fh["resets_at"])
            self.assertGreater(f["rate_per_hour"], 1000)
            self.assertGreater(f["pace"], 0)
            # the 7-day window stayed at 50 %: flat, no exhaustion
            sd = st["windows"]["seven_day"]["forecast"]
            self.assertIsNone(sd["exhausted_at"])
            self.assertEqual(sd["rate_per_hour"], 0)
            e = dict(d.env)
            e.pop("LD_PRELOAD", None)
            p = run([CLI, "status"], e)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"at this pace: 100 % at", p.stdout)
            self.assertIn(b"before reset", p.stdout)
            _, _, body = d.request("GET", "/metrics")
            text = body.decode()
            self.assertIn('ratetap_window_exhausted_timestamp_seconds'
                          '{window="five_hour"}', text)
            self.assertIn('ratetap_window_pace_ratio{window="seven_day"}',
                          text)
            self.assertNotIn('ratetap_window_exhausted_timestamp_seconds'
                             '{window="seven_day"}', text)

    def test_no_reset_known_means_no_forecast(self):
        with Daemon(None, poll_interval=None) as d:
            f = d.status()["windows"]["five_hour"]["forecast"]
            self.assertEqual(f, {"exhausted_at": None, "rate_per_hour": None,
                                 "pace": None})


if __name__ == "__main__":
    unittest.main()
