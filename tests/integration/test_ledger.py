"""The ledger (docs/ledger.md) with the real daemon, and `ratetap report`.

Journal records (rt-jwrite, written exactly as the shim writes them) and
real curl under the shim against the mock API; the ledger's rows are read
with Python's sqlite3 and compared with `ratetap status --json`: its totals
equal the status counters after thousands of events, after SIGKILLs, and a
damaged ledger is moved aside and reported, never a crash.
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

from harness import MockAPI, Daemon, BUILD, CLI, run

CURL = shutil.which("curl")
JWRITE = os.path.join(BUILD, "tests", "rt-jwrite")
USAGE = (11, 22, 3, 5)		# rt-jwrite's and the mock's usage per message


def journal(d):
    return os.path.join(os.path.dirname(d.ingest_path), "events.journal")


def jwrite(d, *args):
    p = run([JWRITE, journal(d)] + [str(a) for a in args], os.environ,
            timeout=120)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    return json.loads(p.stdout)


def counters(st):
    t = st["tokens_total"]
    return (st["requests"]["total"], t["input"], t["output"],
            t["cache_creation_input"], t["cache_read_input"])


def ledger_totals(d):
    """(requests, input, output, cache creation, cache read) of the rows."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(d.state_dir,
                                                           "ledger.db"),
                         uri=True)
    try:
        r = db.execute("SELECT COALESCE(SUM(http_status != 0), 0),"
                       " COALESCE(SUM(input), 0), COALESCE(SUM(output), 0),"
                       " COALESCE(SUM(cache_creation_input), 0),"
                       " COALESCE(SUM(cache_read_input), 0),"
                       " COUNT(*), COUNT(DISTINCT seq) FROM requests"
                       ).fetchone()
    finally:
        db.close()
    return r


def settle(d, n, timeout=60):
    """The status once n requests are counted and the ledger has caught
    up (nothing pending)."""
    deadline = time.monotonic() + timeout
    while True:
        st = d.status()
        if (st["requests"]["total"] >= n and st["ledger"]["pending"] == 0) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    time.sleep(0.7)		# a save after the last change
    return d.status()


@unittest.skipUnless(os.access(JWRITE, os.X_OK), "rt-jwrite is not built")
class TestLedger(unittest.TestCase):

    def test_ledger_totals_equal_the_counters_after_thousands_of_events(self):
        with Daemon(None, poll_interval=None) as d:
            jwrite(d, "--procs", 3, "--count", 2000)
            st = settle(d, 6000)
            self.assertEqual(counters(st),
                             (6000,) + tuple(6000 * u for u in USAGE))
            lt = ledger_totals(d)
            self.assertEqual(lt[:5], counters(st))
            self.assertEqual(lt[5], lt[6])		# no seq twice
            lg = st["ledger"]
            self.assertTrue(lg["writing"])
            self.assertIsNone(lg["error"])
            self.assertIsNone(lg["recovered_from"])
            self.assertEqual(lg["schema_version"], 1)
            mode = os.stat(os.path.join(d.state_dir, "ledger.db")).st_mode
            self.assertEqual(mode & 0o077, 0)
            # a clean stop and start keeps it so
            self.assertEqual(d.stop(), 0)
            d.start()
            self.assertEqual(ledger_totals(d)[:5], counters(d.status()))

    def test_ledger_survives_sigkills_under_traffic_exactly(self):
        with Daemon(None, poll_interval=None) as d:
            out = {}

            def flood():
                out["w"] = jwrite(d, "--procs", 2, "--count", 10000)
            t = threading.Thread(target=flood)
            t.start()
            for _ in range(12):
                time.sleep(0.15)
                d.kill()
                d.start()
            t.join(timeout=120)
            self.assertEqual(out["w"]["written"], 20000)
            st = settle(d, 20000)
            self.assertEqual(counters(st),
                             (20000,) + tuple(20000 * u for u in USAGE))
            lt = ledger_totals(d)
            self.assertEqual(lt[:5], counters(st))
            self.assertEqual(lt[5], lt[6])

    def test_a_damaged_ledger_is_moved_aside_and_reported(self):
        with Daemon(None, poll_interval=None, start=False) as d:
            os.makedirs(d.state_dir, mode=0o700, exist_ok=True)
            path = os.path.join(d.state_dir, "ledger.db")
            with open(path, "wb") as f:
                f.write(b"SQLite format 3\0" + os.urandom(8000))
            d.start()
            jwrite(d, "--count", 50)
            st = settle(d, 50)
            lg = st["ledger"]
            self.assertTrue(lg["writing"])
            self.assertRegex(lg["recovered_from"] or "",
                             r"^ledger\.db\.corrupt-\d+")
            self.assertTrue(os.path.exists(os.path.join(
                d.state_dir, lg["recovered_from"])))
            self.assertEqual(ledger_totals(d)[:5], counters(st))

    def test_a_newer_schema_is_left_alone_and_the_daemon_runs(self):
        with Daemon(None, poll_interval=None, start=False) as d:
            os.makedirs(d.state_dir, mode=0o700, exist_ok=True)
            path = os.path.join(d.state_dir, "ledger.db")
            db = sqlite3.connect(path)
            db.execute("PRAGMA user_version=99")
            db.execute("CREATE TABLE x (y)")
            db.commit()
            db.close()
            d.start()
            jwrite(d, "--count", 5)
            deadline = time.monotonic() + 20
            while d.status()["requests"]["total"] < 5 and \
                    time.monotonic() < deadline:
                time.sleep(0.1)
            lg = d.status()["ledger"]
            self.assertFalse(lg["writing"])
            self.assertIn("newer", lg["error"])
            db = sqlite3.connect(path)
            self.assertEqual(db.execute("PRAGMA user_version").fetchone(),
                             (99,))
            db.close()

    def test_no_ledger_writes_no_file(self):
        with Daemon(None, poll_interval=None,
                    env={"RATETAP_LEDGER": "0"}) as d:
            jwrite(d, "--count", 5)
            time.sleep(1)
            self.assertFalse(d.status()["ledger"]["enabled"])
            self.assertFalse(os.path.exists(os.path.join(d.state_dir,
                                                         "ledger.db")))


def report(d, *args, env=None):
    e = dict(d.env if env is None else env)
    e.pop("LD_PRELOAD", None)
    return run([CLI, "report"] + list(args), e)


@unittest.skipUnless(os.access(JWRITE, os.X_OK), "rt-jwrite is not built")
class TestReport(unittest.TestCase):
    """`ratetap report` on the real daemon's ledger, read-only, with the
    daemon running and stopped."""

    def check_totals(self, d, st):
        p = report(d, "daily", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        t = doc["total"]
        self.assertEqual((t["requests"], t["input"], t["output"],
                          t["cache_creation_input"], t["cache_read_input"]),
                         counters(st))
        self.assertEqual(doc["report"], "daily")
        self.assertEqual(doc["dates"], "local time")
        self.assertGreater(t["cost_usd"], 0)
        return doc

    def test_report_totals_equal_the_counters_running_and_stopped(self):
        with Daemon(None, poll_interval=None) as d:
            jwrite(d, "--procs", 2, "--count", 500)
            st = settle(d, 1000)
            self.check_totals(d, st)
            p = report(d, "monthly", "--by", "program", "--csv")
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = p.stdout.decode().splitlines()
            self.assertEqual(lines[0], "period,program,requests,input,"
                             "output,cache_creation_input,cache_read_input,"
                             "cost_usd")
            self.assertIn(",rt-jwrite,1000,11000,22000,3000,5000,",
                          lines[1])
            p = report(d, "weekly", "--by", "model")
            self.assertEqual(p.returncode, 0, p.stderr)
            out = p.stdout.decode()
            self.assertIn("total", out)
            self.assertIn("1,000", out)
            self.assertIn("local time", out)
            self.assertEqual(d.stop(), 0)
            # no daemon: the same figures from the file alone
            self.check_totals(d, st)
            # a file of the user's own overrides the prices
            cfg = os.path.join(d.home, "cfg")
            os.makedirs(os.path.join(cfg, "ratetap"))
            with open(os.path.join(cfg, "ratetap", "pricing.json"), "w") \
                    as f:
                json.dump({"date": "2030-01-01", "models": [
                    {"match": "sonnet", "input": 1000000, "output": 0,
                     "cache_write_5m": 0, "cache_write_1h": 0,
                     "cache_read": 0}]}, f)
            e = dict(d.env, XDG_CONFIG_HOME=cfg)
            doc = json.loads(report(d, "daily", "--json", env=e).stdout)
            self.assertEqual(doc["pricing"]["date"], "2030-01-01")
            self.assertAlmostEqual(doc["total"]["cost_usd"], 11000.0)
            with open(os.path.join(cfg, "ratetap", "pricing.json"), "w") \
                    as f:
                f.write("{not json")
            p = report(d, "daily", env=e)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"pricing file", p.stderr)

    def test_report_refuses_bad_arguments(self):
        with Daemon(None, poll_interval=None) as d:
            for args in (("hourly",), ("daily", "--by", "colour"),
                         ("daily", "--since", "2026-13-01"),
                         ("daily", "--since", "2026-12-07",
                          "--until", "2026-12-01"), ()):
                p = report(d, *args)
                self.assertEqual(p.returncode, 2, args)

    def test_no_ledger_yet_is_an_empty_report(self):
        with Daemon(None, poll_interval=None,
                    env={"RATETAP_LEDGER": "0"}) as d:
            p = report(d, "daily", "--json")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json.loads(p.stdout)["rows"], [])
            self.assertIn(b"no history yet", p.stderr)

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_windows_lists_the_instance_with_its_peak_and_usage(self):
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            for i in range(3):
                p = run([CURL, "-sS", "-o", "/dev/null", "-H",
                         "content-type: application/json", "--data-binary",
                         '{"model":"claude-sonnet-4-5","max_tokens":8,'
                         '"messages":[]}', api.url("/v1/messages")], d.env)
                self.assertEqual(p.returncode, 0, p.stderr)
            st = settle(d, 3)
            p = report(d, "windows", "--json")
            self.assertEqual(p.returncode, 0, p.stderr)
            rows = {r["window"]: r for r in json.loads(p.stdout)["rows"]}
            fh = rows["five_hour"]
            self.assertEqual(fh["resets_at"],
                             st["windows"]["five_hour"]["resets_at"])
            self.assertEqual(fh["peak_utilization"],
                             st["windows"]["five_hour"]["utilization"])
            self.assertEqual(fh["requests"], 3)
            self.assertEqual(fh["input"],
                             st["windows"]["five_hour"]["tokens"]["input"])


if __name__ == "__main__":
    unittest.main()
