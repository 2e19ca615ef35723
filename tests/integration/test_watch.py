"""`ratetap watch` against the real daemon (fed by real curl under the
shim against the mock API): --once and a pipe print one plain frame; in a
real terminal (tmux, on a private server socket) it draws, follows a
resize, and quits on q."""

import os
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import MockAPI, Daemon, CLI, run

CURL = shutil.which("curl")
TMUX = shutil.which("tmux")


def message(d, api):
    p = run([CURL, "-sS", "-o", "/dev/null", "-H",
             "content-type: application/json", "--data-binary",
             '{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[]}',
             api.url("/v1/messages")], d.env)
    if p.returncode != 0:
        raise AssertionError(p.stderr)


def cli_env(d):
    e = dict(d.env)
    e.pop("LD_PRELOAD", None)
    return e


@unittest.skipUnless(CURL, "curl is not installed")
class TestWatch(unittest.TestCase):

    def test_once_and_a_pipe_print_one_plain_frame(self):
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            message(d, api)
            d.wait_for(lambda s: s["requests"]["total"] >= 1)
            for args in (["--once"], []):
                p = run([CLI, "watch"] + args, cli_env(d), timeout=20)
                self.assertEqual(p.returncode, 0, p.stderr)
                out = p.stdout.decode()
                self.assertIn("five_hour", out)
                self.assertIn("25.0%", out)
                self.assertIn("binding limit: five_hour", out)
                self.assertIn("curl", out)
                self.assertIn("claude-sonnet-4-5", out)
                self.assertNotIn("\x1b", out)	# plain text

    def test_no_daemon_is_an_error(self):
        with Daemon(None, poll_interval=None, start=False) as d:
            p = run([CLI, "watch", "--once"], cli_env(d))
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"no daemon", p.stderr)

    @unittest.skipUnless(TMUX, "tmux is not installed")
    def test_in_a_terminal_it_draws_resizes_and_quits_on_q(self):
        with MockAPI() as api, Daemon(api, poll_interval=None) as d:
            message(d, api)
            d.wait_for(lambda s: s["requests"]["total"] >= 1)
            tmp = tempfile.mkdtemp(prefix="rt-watch-")
            self.addCleanup(shutil.rmtree, tmp, True)
            sock = os.path.join(tmp, "tmux.sock")
            env = cli_env(d)
            env["TERM"] = "xterm-256color"
            cmd = " ".join(shlex.quote(a) for a in ["env"] + [
                "%s=%s" % (k, env[k]) for k in
                ("XDG_RUNTIME_DIR", "RATETAP_CONTROL", "HOME")] +
                [CLI, "watch"])

            def tmux(*a, check=True):
                p = subprocess.run([TMUX, "-S", sock] + list(a), env=env,
                                   capture_output=True, timeout=20)
                if check and p.returncode != 0:
                    raise AssertionError(p.stderr)
                return p

            def pane(pred, timeout=15):
                deadline = time.monotonic() + timeout
                while True:
                    txt = tmux("capture-pane", "-p", "-t", "w").stdout \
                        .decode()
                    if pred(txt) or time.monotonic() > deadline:
                        return txt
                    time.sleep(0.2)

            self.addCleanup(tmux, "kill-server", check=False)
            tmux("new-session", "-d", "-s", "w", "-x", "100", "-y", "30",
                 cmd)
            txt = pane(lambda t: "five_hour" in t)
            self.assertIn("five_hour", txt)
            self.assertIn("top programs", txt)
            tmux("resize-window", "-t", "w", "-x", "60", "-y", "20")
            txt = pane(lambda t: "five_hour" in t and
                       max(len(x) for x in t.splitlines()) <= 60 and
                       "[" in t)
            self.assertIn("five_hour", txt)
            self.assertTrue(all(len(x) <= 60 for x in txt.splitlines()))
            tmux("send-keys", "-t", "w", "q")
            deadline = time.monotonic() + 15
            while tmux("has-session", "-t", "w", check=False).returncode \
                    == 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertNotEqual(tmux("has-session", "-t", "w",
                                     check=False).returncode, 0)


if __name__ == "__main__":
    unittest.main()
