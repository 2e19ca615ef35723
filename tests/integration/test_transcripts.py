"""Claude Code's transcripts followed by the real ratetapd: files under
$CLAUDE_CONFIG_DIR/projects written the way Claude Code writes them (one
object per line, appended in pieces, the same message once per content
block, sidechains replaying a message, partial lines), with bad lines, old
entries, a restart mid-file, a file replaced and one shrunk, a reset time
that arrives after the entries, and a large file; every figure checked
exactly in `ratetap status --json`.
"""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import CLI, Daemon, run  # noqa: E402

SECRET = "PROMPT-SECRET-7f3a9c"	# must never leave the transcript


def rfc(t, frac=True):
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return s + (".%03dZ" % (int(t * 1000) % 1000) if frac else "Z")


def assistant(mid, req, ts, inp=0, out=0, cc=0, cr=0, model=
              "claude-opus-4-5-20251101", sidechain=False,
              cwd="/home/ada/proj", block="text", session="s-1", **extra):
    """One assistant line, as Claude Code writes it (one per block)."""
    content = {"text": [{"type": "text", "text": SECRET + " answer"}],
               "thinking": [{"type": "thinking", "thinking": SECRET,
                             "signature": "sig"}],
               "tool_use": [{"type": "tool_use", "id": "toolu_1",
                             "name": "Bash",
                             "input": {"command": "cat " + SECRET}}]}[block]
    usage = {"input_tokens": inp, "output_tokens": out,
             "cache_creation_input_tokens": cc,
             "cache_read_input_tokens": cr,
             "cache_creation": {"ephemeral_5m_input_tokens": cc,
                                "ephemeral_1h_input_tokens": 0},
             "service_tier": "standard"}
    doc = {"parentUuid": "p-%s" % mid, "isSidechain": sidechain,
           "userType": "external", "cwd": cwd, "sessionId": session,
           "version": "2.0.76", "gitBranch": "main",
           "message": {"id": mid, "type": "message", "role": "assistant",
                       "model": model, "content": content,
                       "stop_reason": None, "stop_sequence": None,
                       "usage": usage},
           "requestId": req, "type": "assistant",
           "uuid": "u-%s-%s" % (mid, block), "timestamp": rfc(ts)}
    doc.update(extra)
    return json.dumps(doc) + "\n"


def user(ts, text=SECRET):
    return json.dumps({"parentUuid": None, "isSidechain": False,
                       "cwd": "/home/ada/proj", "sessionId": "s-1",
                       "type": "user", "message": {"role": "user",
                                                   "content": text},
                       "uuid": "u-user", "timestamp": rfc(ts)}) + "\n"


class TranscriptTest(unittest.TestCase):

    def setUp(self):
        self.d = Daemon(start=False)
        self.proj = os.path.join(self.d.claude_dir, "projects",
                                 "-work-proj")
        os.makedirs(self.proj)
        self.path = os.path.join(self.proj, "s-1.jsonl")
        self.now = time.time()

    def tearDown(self):
        if self.d.running():
            self.d.stop()

    def append(self, text, path=None):
        with open(path or self.path, "ab") as f:
            f.write(text.encode() if isinstance(text, str) else text)

    def wait_entries(self, n, key="entries", timeout=20):
        return self.d.wait_for(lambda s: s["transcripts"][key] >= n,
                               timeout=timeout)

    def test_duplicates_sidechains_partial_and_bad_lines_count_exactly(self):
        t = self.now - 60
        self.d.start()
        self.append(user(t))
        # message A, once per content block; the last copy is larger
        self.append(assistant("msg_A", "req_1", t, 10, 5, 100, 1000,
                              block="thinking"))
        self.append(assistant("msg_A", "req_1", t, 10, 5, 100, 1000,
                              block="text"))
        self.append(assistant("msg_A", "req_1", t, 10, 20, 100, 1000,
                              block="tool_use"))
        self.append(assistant("msg_B", "req_2", t + 1, 3, 7,
                              model="claude-sonnet-4-5-20250929"))
        # a sidechain replaying A under a new request id, and a new one
        self.append(assistant("msg_A", "req_9", t + 2, 10, 20, 100, 1000,
                              sidechain=True))
        self.append(assistant("msg_C", "req_3", t + 3, 1, 1,
                              sidechain=True, cwd="/home/ada/other"))
        # usage without an id; bad lines; an entry older than 7 days
        line = json.loads(assistant("x", "req_4", t, 50, 50))
        del line["message"]["id"]
        self.append(json.dumps(line) + "\n")
        self.append("this is not json " + SECRET + "\n")
        line = json.loads(assistant("msg_E", "req_5", t, 1, 1))
        line["message"]["usage"]["input_tokens"] = "ten"
        self.append(json.dumps(line) + "\n")
        self.append('{"message": {"id": "msg_H", "usage": {}, "x": "' +
                    "A" * (1100 * 1024) + '"}}\n')
        self.append(assistant("msg_OLD", "req_6", self.now - 8 * 86400,
                              999, 999))
        # a partial line: not counted until its newline arrives
        d = assistant("msg_D", "req_7", t + 4, 2, 2)
        self.append(d[:40])
        st = self.wait_entries(1, key="too_old")
        st = self.wait_entries(3)
        time.sleep(0.3)
        self.assertEqual(self.d.status()["transcripts"]["entries"], 3)
        self.append(d[40:])
        st = self.wait_entries(4)
        tx = st["transcripts"]
        self.assertEqual(tx["entries"], 4)
        self.assertEqual(tx["duplicates"], 2)
        self.assertEqual(tx["grown"], 1)
        self.assertEqual(tx["sidechain_replays"], 1)
        self.assertEqual(tx["no_id"], 1)
        self.assertEqual(tx["bad_lines"], 3)
        self.assertEqual(tx["too_old"], 1)
        self.assertEqual(tx["files"], 1)
        self.assertEqual(tx["errors"], 0)

        p = st["processes"]["claude"]
        self.assertEqual(p["requests"], 4)
        self.assertEqual(p["input"], 10 + 3 + 1 + 2)
        self.assertEqual(p["output"], 20 + 7 + 1 + 2)
        self.assertEqual(p["cache_creation_input"], 100)
        self.assertEqual(p["cache_read_input"], 1000)
        opus = st["models"]["claude-opus-4-5-20251101"]
        self.assertEqual((opus["requests"], opus["input"], opus["output"]),
                         (3, 13, 23))
        son = st["models"]["claude-sonnet-4-5-20250929"]
        self.assertEqual((son["requests"], son["input"], son["output"]),
                         (1, 3, 7))
        self.assertEqual(st["projects"]["/home/ada/proj"],
                         {"requests": 3, "input": 15, "output": 29,
                          "cache_creation_input": 100,
                          "cache_read_input": 1000})
        self.assertEqual(st["projects"]["/home/ada/other"]["requests"], 1)
        self.assertEqual(st["requests"]["total"], 4)
        for w in ("five_hour", "seven_day"):
            self.assertEqual(st["windows"][w]["tokens"],
                             {"input": 16, "output": 30,
                              "cache_creation_input": 100,
                              "cache_read_input": 1000}, w)
        self.assertEqual(st["windows"]["seven_day_sonnet"]["tokens"]
                         ["input"], 3)
        self.assertEqual(st["windows"]["seven_day_opus"]["tokens"]
                         ["input"], 13)

        # nothing of the transcript's content anywhere
        self.assertEqual(self.d.stop(), 0)
        with open(os.path.join(self.d.state_dir, "state.json")) as f:
            self.assertNotIn(SECRET, f.read())
        self.assertNotIn(SECRET, self.d.log())
        self.assertNotIn(SECRET, json.dumps(st))

    def test_windows_follow_the_entries_times_and_late_reset_times(self):
        n = int(self.now)
        self.append(assistant("m1", "r1", n - 4 * 3600, 100))
        self.append(assistant("m2", "r2", n - 3600, 10,
                              model="claude-sonnet-4-5"))
        self.append(assistant("m3", "r3", n - 2 * 86400, 1000))
        self.append(assistant("m4", "r4", n - 8 * 86400, 10000))
        self.d.start()
        st = self.wait_entries(3)
        w = st["windows"]
        # no reset time known: the last 5 hours, the last 7 days
        self.assertEqual(w["five_hour"]["tokens"]["input"], 110)
        self.assertEqual(w["seven_day"]["tokens"]["input"], 1110)
        self.assertEqual(w["seven_day_sonnet"]["tokens"]["input"], 10)
        # the 5-hour window turns out to have started 3 hours ago, the
        # 7-day one 36 hours ago
        body = json.dumps({
            "five_hour": {"used_percentage": 30, "resets_at": n + 7200},
            "seven_day": {"used_percentage": 10,
                          "resets_at": n + 7 * 86400 - 36 * 3600}})
        code, _, _ = self.d.request("POST", "/v1/statusline",
                                    body.encode())
        self.assertEqual(code, 200)
        w = self.d.status()["windows"]
        self.assertEqual(w["five_hour"]["tokens"]["input"], 10)
        self.assertEqual(w["seven_day"]["tokens"]["input"], 110)
        self.assertEqual(w["seven_day_sonnet"]["tokens"]["input"], 10)
        # the model totals are history: everything within the backfill
        st = self.d.status()
        self.assertEqual(st["processes"]["claude"]["input"], 1110)
        # and a restart keeps it all exactly
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        st = self.d.status()
        self.assertEqual(st["windows"]["five_hour"]["tokens"]["input"], 10)
        self.assertEqual(st["windows"]["seven_day"]["tokens"]["input"],
                         110)
        self.assertEqual(st["processes"]["claude"]["input"], 1110)

    def test_restart_replace_and_shrink_never_count_twice(self):
        t = self.now - 30
        a = assistant("m1", "r1", t, 1, 1)
        b = assistant("m2", "r2", t, 2, 2)
        c = assistant("m3", "r3", t, 4, 4)
        self.append(a + b)
        self.d.start()
        self.wait_entries(2)
        self.assertEqual(self.d.stop(), 0)
        # while it is down: more, and a copy of one counted
        self.append(c + a)
        self.d.start()
        st = self.wait_entries(3)
        self.assertEqual(st["processes"]["claude"]["input"], 7)
        self.assertEqual(st["transcripts"]["duplicates"], 1)
        # replaced by a new file holding the same entries and one more
        tmp = self.path + ".tmp"
        self.append(a + b + c + assistant("m4", "r4", t, 8, 8), tmp)
        os.rename(tmp, self.path)
        st = self.wait_entries(4)
        self.assertEqual(st["processes"]["claude"]["input"], 15)
        # shrunk to one old entry, then appended to
        with open(self.path, "w") as f:
            f.write(a)
        self.d.wait_for(lambda s: s["transcripts"]["restarts"] >= 2)
        self.append(assistant("m5", "r5", t, 16, 16))
        st = self.wait_entries(5)
        time.sleep(0.3)
        st = self.d.status()
        self.assertEqual(st["processes"]["claude"]["input"], 31)
        self.assertEqual(st["processes"]["claude"]["requests"], 5)
        self.assertEqual(st["windows"]["seven_day"]["tokens"]["input"], 31)
        # a SIGKILL and a start: still nothing twice
        self.d.kill()
        self.d.start()
        time.sleep(0.5)
        st = self.d.status()
        self.assertLessEqual(st["processes"]["claude"]["input"], 31)
        self.d.wait_for(lambda s: s["processes"]["claude"]["input"] == 31)

    def report(self, *args):
        e = dict(self.d.env)
        e.pop("LD_PRELOAD", None)
        p = run([CLI, "report"] + list(args), e)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_entries_land_in_the_ledger_once_with_their_project(self):
        t = self.now - 120
        # m1 once per block, the last copy larger; m2 in another project
        self.append(assistant("m1", "r1", t, 10, 5, 100, 1000,
                              block="thinking"))
        self.append(assistant("m1", "r1", t, 10, 20, 100, 1000,
                              block="text"))
        self.append(assistant("m2", "r2", t + 1, 3, 7, cwd="/home/ada/other",
                              model="claude-sonnet-4-5-20250929"))
        self.d.start()
        self.wait_entries(2)
        self.d.wait_for(lambda s: s["ledger"]["pending"] == 0 and
                        s["ledger"]["written"] >= 3)
        doc = self.report("daily", "--by", "project", "--json")
        rows = {r["project"]: r for r in doc["rows"]}
        self.assertEqual((rows["/home/ada/proj"]["requests"],
                          rows["/home/ada/proj"]["input"],
                          rows["/home/ada/proj"]["output"],
                          rows["/home/ada/proj"]["cache_creation_input"],
                          rows["/home/ada/proj"]["cache_read_input"]),
                         (1, 10, 20, 100, 1000))
        self.assertEqual((rows["/home/ada/other"]["requests"],
                          rows["/home/ada/other"]["output"]), (1, 7))
        # a SIGKILL: what is read again is not written twice
        self.append(assistant("m3", "r3", t + 2, 1, 1))
        self.wait_entries(3)
        self.d.kill()
        self.d.start()
        self.d.wait_for(lambda s: s["transcripts"]["entries"] >= 3)
        time.sleep(1.5)
        doc = self.report("daily", "--by", "program", "--json")
        rows = {r["program"]: r for r in doc["rows"]}
        self.assertEqual((rows["claude"]["requests"],
                          rows["claude"]["input"],
                          rows["claude"]["output"]), (3, 14, 28))
        st = self.d.status()
        self.assertEqual(st["processes"]["claude"]["input"], 14)

    def test_files_in_new_directories_and_sessions_are_found(self):
        self.d.start()
        sub = os.path.join(self.d.claude_dir, "projects", "-work-new",
                           "s-2", "subagents")
        os.makedirs(sub)
        self.append(assistant("m1", "r1", self.now, 5, 5),
                    os.path.join(sub, "agent-1.jsonl"))
        self.append(assistant("m2", "r2", self.now, 6, 6),
                    os.path.join(self.proj, "s-3.jsonl"))
        st = self.wait_entries(2)
        self.assertEqual(st["transcripts"]["files"], 2)
        self.assertEqual(st["processes"]["claude"]["input"], 11)

    def test_a_large_file_is_streamed_and_the_socket_answers(self):
        # ~40 MB: long lines with big contents, as long sessions have
        t = self.now - 10
        pad = "x" * (200 * 1024)
        with open(self.path, "w") as f:
            for i in range(200):
                f.write(assistant("m%d" % i, "r%d" % i, t, 1, 2,
                                  extra_pad=pad))
        self.d.start()
        answered = 0
        while True:
            st = self.d.status()	# fails the test if it does not answer
            answered += 1
            if st["transcripts"]["entries"] >= 200:
                break
            time.sleep(0.05)
        self.assertEqual(st["processes"]["claude"]["input"], 200)
        self.assertEqual(st["processes"]["claude"]["output"], 400)
        self.assertEqual(st["transcripts"]["bad_lines"], 0)
        p = run([CLI, "status", "--json"], self.d.env)
        self.assertEqual(json.loads(p.stdout)["transcripts"]["entries"], 200)


if __name__ == "__main__":
    unittest.main()
