"""`ratetap statusline`, Claude Code's statusLine command, with the real
ratetapd: the JSON objects Claude Code writes on its stdin (with and
without rate_limits, garbage, empty), the daemon down, POST /v1/statusline
refusing bad bodies, the figures it gives in `ratetap status --json`, the
usage poll skipped while they are fresher, a 429 with an hour-long
retry-after, and --install / --uninstall on settings.json.
"""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import CLI, Daemon, MockAPI, run  # noqa: E402


def claude_input(five=None, seven=None, model="Opus 4.5", extra=None):
    """The object Claude Code gives a statusLine command (its real keys)."""
    doc = {
        "hook_event_name": "Status",
        "session_id": "0b8e4c5e-6a3c-4a58-9b43-2f5e8f3c1d11",
        "transcript_path": "/nonexistent/projects/-work/0b8e.jsonl",
        "cwd": "/home/ada/project",
        "model": {"id": "claude-opus-4-5-20251101", "display_name": model},
        "workspace": {"current_dir": "/home/ada/project",
                      "project_dir": "/home/ada/project"},
        "version": "2.0.76",
        "output_style": {"name": "default"},
        "cost": {"total_cost_usd": 0.0123, "total_duration_ms": 45000,
                 "total_api_duration_ms": 2300, "total_lines_added": 156,
                 "total_lines_removed": 23},
        "context_window": {"total_input_tokens": 15234,
                           "total_output_tokens": 4521,
                           "context_window_size": 200000,
                           "used_percentage": 9.9},
        "exceeds_200k_tokens": False,
    }
    rl = {}
    if five is not None:
        rl["five_hour"] = five
    if seven is not None:
        rl["seven_day"] = seven
    if rl:
        doc["rate_limits"] = rl
    if extra:
        doc.update(extra)
    return json.dumps(doc).encode()


def rfc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class StatuslineTest(unittest.TestCase):

    def setUp(self):
        self.d = Daemon()
        self.now = int(time.time())
        self.r5 = (self.now + 7800) // 60 * 60
        self.r7 = (self.now + 270000) // 60 * 60

    def tearDown(self):
        if self.d.running():
            self.d.stop()

    def statusline(self, data, *args, env=None):
        e = dict(self.d.env)
        e.pop("LD_PRELOAD", None)
        e.update(env or {})
        p = run([CLI, "statusline"] + list(args), e, input=data,
                timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.decode().split("\n")
        self.assertEqual(len(lines), 2, p.stdout)	# one line, then ""
        self.assertEqual(lines[1], "")
        return lines[0]

    def test_rate_limits_reach_the_status_as_the_statusline_source(self):
        line = self.statusline(claude_input(
            five={"used_percentage": 42.0, "resets_at": self.r5},
            seven={"used_percentage": 18.25, "resets_at": self.r7}))
        self.assertTrue(line.startswith("Opus 4.5 | 5h 42% (resets in "),
                        line)
        self.assertIn(" | 7d 18% (resets in 3d", line)
        st = self.d.status()
        w5, w7 = st["windows"]["five_hour"], st["windows"]["seven_day"]
        self.assertEqual(w5["utilization"], 42.0)
        self.assertEqual(w5["resets_at"], rfc(self.r5))
        self.assertEqual(w5["source"], "statusline")
        self.assertIsNotNone(w5["age_seconds"])
        self.assertEqual(w7["utilization"], 18.25)
        self.assertEqual(w7["resets_at"], rfc(self.r7))
        self.assertEqual(w7["source"], "statusline")
        # the CLI's table names the source too
        p = run([CLI, "status", "--json"], self.d.env)
        self.assertEqual(json.loads(p.stdout)["windows"]["five_hour"]
                         ["source"], "statusline")

    def test_either_window_may_be_missing(self):
        self.statusline(claude_input(
            seven={"used_percentage": 7.0, "resets_at": self.r7}))
        st = self.d.status()
        self.assertIsNone(st["windows"]["five_hour"]["utilization"])
        self.assertEqual(st["windows"]["seven_day"]["utilization"], 7.0)
        self.statusline(claude_input(five={"used_percentage": 3.0}))
        st = self.d.status()
        self.assertEqual(st["windows"]["five_hour"]["utilization"], 3.0)
        self.assertIsNone(st["windows"]["five_hour"]["resets_at"])

    def test_without_rate_limits_the_line_comes_from_the_daemon(self):
        self.statusline(claude_input(
            five={"used_percentage": 61.0, "resets_at": self.r5},
            seven={"used_percentage": 20.0, "resets_at": self.r7}))
        line = self.statusline(claude_input(model="Sonnet 4.5"))
        self.assertTrue(line.startswith("Sonnet 4.5 | 5h 61% (resets in "),
                        line)
        self.assertIn("7d 20%", line)
        line = self.statusline(claude_input(), "--format",
                               "{five_hour_pct}/{seven_day_pct} {source}")
        self.assertEqual(line, "61/20 ratetapd")

    def test_garbage_and_empty_input_print_a_line_and_change_nothing(self):
        before = self.d.status()["windows"]
        for data in (b"", b"not json at all {{{", b"[1,2,3]", b"null",
                     b"\xff\xfe\x00garbage", b'{"rate_limits": 7}',
                     claude_input(five={"used_percentage": "high",
                                        "resets_at": "soon"}),
                     claude_input(five={"used_percentage": -5,
                                        "resets_at": -1}),
                     claude_input(five={"used_percentage": 1e300}),
                     b'{"model": {"display_name": "\\u001b[31mX\\n"}}',
                     b"{" * 100000):
            line = self.statusline(data)
            self.assertIn("5h ", line)
            self.assertNotIn("\x1b", line)
        after = self.d.status()["windows"]
        for w in ("five_hour", "seven_day"):
            self.assertEqual(after[w]["utilization"],
                             before[w]["utilization"])
            self.assertEqual(after[w]["source"], before[w]["source"])

    def test_daemon_down_prints_the_line_from_stdin(self):
        self.d.stop()
        line = self.statusline(claude_input(
            five={"used_percentage": 42.0, "resets_at": self.r5},
            seven={"used_percentage": 18.0, "resets_at": self.r7}),
            "--format", "{five_hour_pct}/{seven_day_pct} {source}")
        self.assertEqual(line, "42/18 claude")
        line = self.statusline(b"")
        self.assertEqual(line, "5h ?% | 7d ?%")

    def test_colours_only_when_allowed(self):
        data = claude_input(five={"used_percentage": 85.0,
                                  "resets_at": self.r5})
        self.assertNotIn("\x1b", self.statusline(data))	# not a terminal
        self.assertIn("\x1b[31m85%\x1b[0m",
                      self.statusline(data, "--color=always"))
        self.assertNotIn("\x1b", self.statusline(
            data, env={"NO_COLOR": "1"}))

    def test_a_reset_time_never_moves_backwards(self):
        self.statusline(claude_input(
            five={"used_percentage": 40.0, "resets_at": self.r5}))
        # an earlier reset by more than the jitter: stale, ignored
        self.statusline(claude_input(
            five={"used_percentage": 10.0, "resets_at": self.r5 - 3600}))
        w5 = self.d.status()["windows"]["five_hour"]
        self.assertEqual(w5["resets_at"], rfc(self.r5))
        self.assertEqual(w5["utilization"], 40.0)
        # a later one: the window rolled over
        self.statusline(claude_input(
            five={"used_percentage": 1.0, "resets_at": self.r5 + 18000}))
        w5 = self.d.status()["windows"]["five_hour"]
        self.assertEqual(w5["resets_at"], rfc(self.r5 + 18000))
        self.assertEqual(w5["utilization"], 1.0)
        self.assertEqual(w5["rollovers"], 1)

    def test_the_endpoint_refuses_bad_bodies(self):
        before = self.d.status()["windows"]["five_hour"]
        ok = {"five_hour": {"used_percentage": 5, "resets_at": self.r5}}
        for body in (b"", b"nope", b"[]", b"1",
                     b'{"five_hour": 5}',
                     b'{"five_hour": {"used_percentage": "5"}}',
                     b'{"five_hour": {"used_percentage": -1}}',
                     b'{"five_hour": {"used_percentage": 1e7}}',
                     b'{"five_hour": {"resets_at": "2026-01-01"}}',
                     b'{"five_hour": {"resets_at": 0}}',
                     b'{"five_hour": {"resets_at": 1e20}}',
                     b'{"five_hour": {"used_percentage": 5, '
                     b'"used_percentage": 6}}',
                     b'{"five_hour": {}, "five_hour": {}}',
                     json.dumps(ok).encode() + b" {}"):
            st, _, resp = self.d.request(
                "POST", "/v1/statusline", body,
                {"Content-Type": "application/json"})
            self.assertEqual(st, 400, body)
            self.assertNotIn(b"used_percentage\": ", resp)
        st, _, _ = self.d.request("POST", "/v1/statusline",
                                  b" " * 20000 + json.dumps(ok).encode())
        self.assertEqual(st, 413)
        st, _, _ = self.d.request("GET", "/v1/statusline")
        self.assertEqual(st, 405)
        self.assertEqual(self.d.status()["windows"]["five_hour"]
                         ["utilization"], before["utilization"])
        st, _, resp = self.d.request("POST", "/v1/statusline",
                                     json.dumps(ok).encode())
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(resp)["windows"]["five_hour"]
                         ["utilization"], 5)

    def test_figures_survive_a_restart(self):
        self.statusline(claude_input(
            five={"used_percentage": 33.0, "resets_at": self.r5}))
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        w5 = self.d.status()["windows"]["five_hour"]
        self.assertEqual(w5["utilization"], 33.0)
        self.assertEqual(w5["source"], "statusline")


class PollTest(unittest.TestCase):
    """The usage poll and the statusline together."""

    def setUp(self):
        self.api = MockAPI()
        self.api.start()

    def tearDown(self):
        self.api.close()

    def test_poll_skipped_while_the_statusline_is_fresher(self):
        now = int(time.time())
        r5, r7 = (now + 7800) // 60 * 60, (now + 270000) // 60 * 60
        body = {"five_hour": {"utilization": 20.0, "resets_at": rfc(r5)},
                "seven_day": {"utilization": 30.0, "resets_at": rfc(r7)},
                "seven_day_sonnet": None, "seven_day_opus": None}
        self.api.configure({"usage": {"mode": "ok", "body": body}})
        d = Daemon(api=self.api, token="tok-skip", poll_interval=2)
        try:
            d.wait_for(lambda s: s["poll"]["ok_total"] >= 1, timeout=15)
            self.assertEqual(d.status()["poll"]["skipped"], 0)
            ok = json.dumps({
                "five_hour": {"used_percentage": 21.0, "resets_at": r5},
                "seven_day": {"used_percentage": 31.0, "resets_at": r7},
            }).encode()

            def fresh(s):
                st, _, _ = d.request("POST", "/v1/statusline", ok)
                return st == 200 and s["poll"]["skipped"] >= 1
            st = d.wait_for(fresh, timeout=20, interval=0.5)
            self.assertEqual(st["windows"]["five_hour"]["source"],
                             "statusline")
        finally:
            d.stop()

    def test_hour_long_retry_after_is_honoured_and_shown(self):
        self.api.configure({"usage": {"mode": "429",
                                      "retry_after": 3600}})
        d = Daemon(api=self.api, token="tok-429", poll_interval=1)
        try:
            st = d.wait_for(lambda s: s["poll"]["last_error"] is not None,
                            timeout=15)
            self.assertIn("429", st["poll"]["last_error"])
            nxt = time.mktime(time.strptime(st["poll"]["next_at"],
                                            "%Y-%m-%dT%H:%M:%SZ")) - \
                time.mktime(time.gmtime(0))
            self.assertGreaterEqual(nxt, time.time() + 3500)
            self.assertEqual(st["poll"]["fail_total"], 1)
        finally:
            d.stop()


class InstallTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rt-sl-")
        self.cfg = os.path.join(self.dir, "claude")
        os.makedirs(self.cfg)
        self.path = os.path.join(self.cfg, "settings.json")
        self.env = {"HOME": self.dir, "PATH": os.environ.get("PATH", ""),
                    "CLAUDE_CONFIG_DIR": self.cfg + ",/nonexistent"}

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args):
        return run([CLI, "statusline"] + list(args), self.env)

    def read(self):
        with open(self.path) as f:
            return json.load(f)

    def test_install_keeps_every_other_setting_and_uninstall_restores(self):
        other = {"type": "command", "command": "~/bin/my-line.sh",
                 "padding": 1}
        orig = {"model": "opus", "permissions": {"allow": ["Bash(ls)"]},
                "statusLine": other, "env": {"FOO": "1"},
                "zzz_unknown": [1, 2.5, None, True]}
        text = json.dumps(orig, indent=2)
        with open(self.path, "w") as f:
            f.write(text)
        p = self.cli("--install")
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"another statusLine", p.stderr)
        with open(self.path) as f:
            self.assertEqual(f.read(), text)	# untouched

        p = self.cli("--install", "--force")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"backed up", p.stdout)
        doc = self.read()
        self.assertEqual(list(doc), list(orig))		# order kept
        for k in ("model", "permissions", "env", "zzz_unknown"):
            self.assertEqual(doc[k], orig[k])
        self.assertIn("statusline", doc["statusLine"]["command"])
        self.assertEqual(doc["statusLine"]["type"], "command")
        with open(self.path + ".ratetap-backup") as f:
            self.assertEqual(f.read(), text)
        # the command it installed runs and prints a line
        p = run(["sh", "-c", doc["statusLine"]["command"]], self.env,
                input=b"{}")
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"5h ", p.stdout)

        p = self.cli("--install")
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"nothing to do", p.stdout)

        p = self.cli("--uninstall")
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = self.read()
        self.assertEqual(doc, orig)
        self.assertEqual(list(doc), list(orig))
        p = self.cli("--uninstall")
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"nothing to uninstall", p.stdout)
        self.assertEqual(self.read(), orig)

    def test_install_into_a_fresh_directory_and_uninstall_removes(self):
        p = self.cli("--install")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)
        self.assertEqual(list(self.read()), ["statusLine"])
        p = self.cli("--uninstall")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.read(), {})

    def test_a_broken_settings_file_is_not_touched(self):
        with open(self.path, "w") as f:
            f.write('{"model": "opus",')
        for args in (("--install",), ("--install", "--force"),
                     ("--uninstall",)):
            p = self.cli(*args)
            self.assertEqual(p.returncode, 1, args)
            with open(self.path) as f:
                self.assertEqual(f.read(), '{"model": "opus",')
        self.assertFalse(os.path.exists(self.path + ".ratetap-backup"))


if __name__ == "__main__":
    unittest.main()
