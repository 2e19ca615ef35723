"""Windows beyond the four named ones, and one figure per window.

The real ratetapd against the mock's usage endpoint (its newer `limits` and
`spend` shape) and real curl under the shim for the headers that name
windows (`anthropic-ratelimit-unified-7d_<x>-*`), checked through what a
user reads: `ratetap status --json`, the table and the metrics.  Also: a
header and a poll that disagree give one steady figure and at most one
warning; a lagging poll after a rollover zeroes nothing twice; a scoped
weekly window without a reset of its own rolls over with seven_day.
"""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import CLI, SHIM, have, run  # noqa
from daemontest import DaemonTestCase  # noqa
from test_daemon import event, rfc3339, send, win  # noqa

BODY = json.dumps({"model": "claude-fable-5", "max_tokens": 5,
                   "messages": []})
P = "anthropic-ratelimit-unified-"


class WindowsTestCase(DaemonTestCase):

    def status_cli(self, d, *args):
        env = dict(d.env)
        env.pop("LD_PRELOAD", None)
        env["TZ"] = "UTC"
        env["NO_COLOR"] = "1"
        p = run([CLI, "status"] + list(args), env)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode()

    def warnings(self, d, window):
        return len(re.findall(r"warning: %s window at" % window, d.log()))


class LimitsShapeTest(WindowsTestCase):

    def test_the_limits_array_and_spend_reach_status_table_and_metrics(self):
        api = self.mock()
        api.configure({"usage": {"mode": "limits"}})
        d = self.daemon(api, token="tok")
        st = d.wait_for(lambda s: s["poll"]["last_ok"] is not None and
                        "seven_day_fable" in s["windows"])
        self.assertIsNone(st["poll"]["last_error"])
        # session is the 5-hour window, weekly_all the 7-day one
        self.assertEqual(win(st, "five_hour")["utilization"], 25.0)
        self.assertEqual(win(st, "five_hour")["source"], "poll")
        self.assertIsNotNone(win(st, "five_hour")["resets_at"])
        self.assertEqual(win(st, "seven_day")["utilization"], 50.0)
        # the array's Sonnet is the flat seven_day_sonnet
        self.assertEqual(win(st, "seven_day_sonnet")["utilization"], 10.0)
        fable = win(st, "seven_day_fable")
        self.assertEqual(fable["utilization"], 12.5)
        self.assertEqual(fable["label"], "Fable")
        self.assertEqual(fable["resets_with"], "seven_day")
        self.assertEqual(fable["resets_at"],
                         win(st, "seven_day")["resets_at"])
        self.assertEqual(win(st, "seven_day_claude_code")["utilization"],
                         3.0)
        self.assertFalse(win(st, "seven_day_claude_code")["counts_tokens"])
        self.assertEqual(win(st, "monthly_wombat")["utilization"], 1.0)
        # the named four are always there
        for k in ("five_hour", "seven_day", "seven_day_sonnet",
                  "seven_day_opus"):
            self.assertIn(k, st["windows"])
        self.assertEqual(st["spend"]["used"]["amount"], 12.34)
        self.assertEqual(st["spend"]["limit"]["currency"], "USD")
        self.assertEqual(st["extra_usage"]["used_credits"], 1234)
        self.assertEqual(st["extra_usage"]["unit"], "cents")
        self.assertEqual(st["extra_usage"]["currency"], "USD")

        # a Fable response counts in its window
        send(d, event(model="claude-fable-5", usage=(7, 1, 0, 0)))
        st = d.wait_for(lambda s: s["requests"]["total"] == 1)
        self.assertEqual(win(st, "seven_day_fable")["tokens"]["input"], 7)
        self.assertEqual(win(st, "seven_day_claude_code")["tokens"]["input"],
                         0)

        js = json.loads(self.status_cli(d, "--json"))
        self.assertEqual(js["windows"]["seven_day_fable"]["utilization"],
                         12.5)
        table = self.status_cli(d)
        self.assertRegex(table, r"as of \w{3} \d{4}-\d\d-\d\d "
                         r"\d\d:\d\d:\d\d UTC")
        self.assertRegex(table, r"\n7-day Fable +12\.5%")
        self.assertRegex(table, r"\n7-day Claude Code +3\.0%")
        self.assertRegex(table, r"\nmonthly_wombat +1\.0%")
        self.assertIn("on, $12.34 of $50.00 used (24.7%)", table)
        self.assertIn("(poll, ", table)

        code, _, body = d.request("GET", "/metrics")
        self.assertEqual(code, 200)
        text = body.decode()
        self.assertIn('ratetap_window_utilization_percent'
                      '{window="seven_day_fable"} 12.5', text)
        self.assertIn('ratetap_window_source{window="seven_day_fable",'
                      'source="poll"} 1', text)

        # the windows survive a restart
        self.assertEqual(d.stop(), 0)
        api.configure({"usage": {"mode": "500"}})
        d.start()
        st = d.status()
        self.assertEqual(win(st, "seven_day_fable")["utilization"], 12.5)
        self.assertEqual(win(st, "seven_day_fable")["tokens"]["input"], 7)
        self.assertEqual(win(st, "seven_day_fable")["label"], "Fable")


@unittest.skipUnless(have("curl") and os.path.exists(SHIM),
                     "curl or build/libratetap.so missing")
class HeaderWindowsTest(WindowsTestCase):

    def test_a_window_a_header_names_reaches_status_through_curl(self):
        api = self.mock()
        reset = int(time.time() // 3600 * 3600 + 50 * 3600)
        api.configure({"headers_update": {
            P + "7d_fable-utilization": "0.33",
            P + "7d_fable-reset": str(reset),
            P + "7d_fable-status": "allowed_warning",
            P + "overage-in-use": "false",
            P + "upgrade-paths": "max_5x,max_20x"}})
        d = self.daemon(api)
        p = run(["curl", "-sS", "-o", "/dev/null", api.url("/v1/messages"),
                 "-H", "content-type: application/json", "-d", BODY],
                d.env)
        self.assertEqual(p.returncode, 0, p.stderr)
        st = d.wait_for(lambda s: s["requests"]["total"] == 1)
        fable = win(st, "seven_day_fable")
        self.assertAlmostEqual(fable["utilization"], 33.0)
        self.assertEqual(fable["source"], "header")
        self.assertEqual(fable["status"], "allowed_warning")
        self.assertEqual(fable["resets_at"], rfc3339(reset))
        self.assertIsNone(fable["resets_with"])
        self.assertEqual(fable["tokens"]["input"], 11)
        # the fixed windows are as before
        self.assertEqual(win(st, "five_hour")["utilization"], 25.0)
        self.assertEqual(win(st, "five_hour")["source"], "header")
        self.assertEqual(st["ingest"]["rejected"]["field"], 0)
        table = self.status_cli(d)
        self.assertRegex(table, r"\n7-day fable +33\.0%.*\(header, ")

    def test_the_header_and_the_limits_array_name_one_window(self):
        api = self.mock()
        api.configure({"usage": {"mode": "limits"},
                       "headers_update": {P + "7d_fable-utilization":
                                          "0.2"}})
        d = self.daemon(api, token="tok")
        d.wait_for(lambda s: "seven_day_fable" in s["windows"])
        p = run(["curl", "-sS", "-o", "/dev/null", api.url("/v1/messages"),
                 "-d", BODY], d.env)
        self.assertEqual(p.returncode, 0, p.stderr)
        st = d.wait_for(lambda s: s["requests"]["total"] == 1 and
                        win(s, "seven_day_fable")["source"] == "header")
        self.assertAlmostEqual(win(st, "seven_day_fable")["utilization"],
                               20.0)
        self.assertEqual(win(st, "seven_day_fable")["label"], "Fable")
        names = [k for k in st["windows"] if "fable" in k]
        self.assertEqual(names, ["seven_day_fable"])


class FreshnessTest(WindowsTestCase):

    def test_a_header_and_a_poll_apart_give_one_figure_and_one_warning(self):
        # the header says 79 %, the poll 81 % at a 1 s interval
        api = self.mock()
        r5 = int(time.time() // 3600 * 3600 + 3 * 3600)
        # (seven_day comes from the poll alone, so the headers never
        # make the poll redundant: it is not skipped)
        body = {"five_hour": {"utilization": 81.0,
                              "resets_at": rfc3339(r5)},
                "seven_day": {"utilization": 10.0,
                              "resets_at": rfc3339(r5 + 4 * 86400)}}
        api.configure({"usage": {"body": body}})
        d = self.daemon(api, token="tok", poll_interval=1)
        seen = []
        deadline = time.monotonic() + 6
        seq = 1
        while time.monotonic() < deadline:
            send(d, event(usage=None, util_5h=0.79, reset_5h=r5, seq=seq))
            seq += 1
            time.sleep(0.2)
            st = d.status()
            seen.append((win(st, "five_hour")["utilization"],
                         win(st, "five_hour")["source"]))
        self.assertGreaterEqual(st["poll"]["ok_total"], 3)
        # once a header is in, it is the fresher figure: no flipping
        first = seen.index((79.0, "header"))
        self.assertEqual(set(seen[first:]), {(79.0, "header")})
        self.assertLessEqual(self.warnings(d, "five_hour"), 1)
        self.assertIsNotNone(win(st, "five_hour")["age_seconds"])
        self.assertLess(win(st, "five_hour")["age_seconds"], 5)


class RolloverTest(WindowsTestCase):

    def test_a_lagging_poll_after_the_reset_zeroes_nothing_again(self):
        api = self.mock()
        rb = int(time.time()) + 6
        # the header's reset Rb is stored first (the poll fails meanwhile)
        api.configure({"usage": {"mode": "500", "retry_after": None}})
        d = self.daemon(api, token="tok", poll_interval=1)
        send(d, event(util_5h=0.85, reset_5h=rb, usage=(100, 0, 0, 0)))
        st = d.wait_for(lambda s: s["requests"]["total"] == 1)
        self.assertEqual(win(st, "five_hour")["resets_at"], rfc3339(rb))
        # then the lagging endpoint: Rb + 120 and the old instance's figure
        n = st["poll"]["ok_total"]
        api.configure({"usage": {"mode": "ok", "body": {
            "five_hour": {"utilization": 85.0,
                          "resets_at": rfc3339(rb + 120)},
            "seven_day": None}}})
        st = d.wait_for(lambda s: s["poll"]["ok_total"] > n)
        self.assertEqual(win(st, "five_hour")["resets_at"], rfc3339(rb))
        time.sleep(max(0, rb - time.time()) + 0.5)
        # the reset passed: the next event rolls the window over first
        send(d, event(usage=(5, 0, 0, 0), seq=2))
        st = d.wait_for(lambda s: s["requests"]["total"] == 2)
        self.assertEqual(win(st, "five_hour")["rollovers"], 1)
        self.assertEqual(win(st, "five_hour")["tokens"]["input"], 5)
        # polls keep repeating Rb + 120: never stored, never a second
        # rollover, its stale 85 % not shown
        n = st["poll"]["ok_total"]
        st = d.wait_for(lambda s: s["poll"]["ok_total"] >= n + 2)
        self.assertEqual(win(st, "five_hour")["rollovers"], 1)
        self.assertIsNone(win(st, "five_hour")["resets_at"])
        self.assertEqual(win(st, "five_hour")["utilization"], 0.0)
        self.assertEqual(win(st, "five_hour")["source"], "rollover")
        self.assertEqual(win(st, "five_hour")["tokens"]["input"], 5)

    def test_a_model_window_without_a_reset_rolls_over_with_seven_day(self):
        api = self.mock()
        r7 = int(time.time()) + 3
        api.configure({"usage": {"body": {
            "five_hour": None,
            "seven_day": {"utilization": 40.0, "resets_at": rfc3339(r7)},
            "seven_day_sonnet": None, "seven_day_opus": None}}})
        d = self.daemon(api, token="tok", poll_interval=1)
        d.wait_for(lambda s: s["windows"]["seven_day"]["resets_at"] ==
                   rfc3339(r7))
        send(d, event(usage=(10, 0, 0, 0)))
        st = d.wait_for(lambda s: s["requests"]["total"] == 1)
        self.assertEqual(win(st, "seven_day_sonnet")["tokens"]["input"], 10)
        self.assertEqual(win(st, "seven_day_sonnet")["resets_at"],
                         rfc3339(r7))
        self.assertEqual(win(st, "seven_day_sonnet")["resets_with"],
                         "seven_day")
        time.sleep(max(0, r7 - time.time()) + 0.5)
        send(d, event(usage=(2, 0, 0, 0), seq=2))
        st = d.wait_for(lambda s: s["requests"]["total"] == 2)
        self.assertEqual(win(st, "seven_day")["rollovers"], 1)
        self.assertEqual(win(st, "seven_day_sonnet")["rollovers"], 1)
        self.assertEqual(win(st, "seven_day_sonnet")["tokens"]["input"], 2)
        self.assertEqual(win(st, "seven_day_opus")["rollovers"], 1)


if __name__ == "__main__":
    unittest.main()
