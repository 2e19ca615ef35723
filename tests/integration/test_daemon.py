"""ratetapd as a whole: sockets, the control endpoint, events, the usage
poll, persistence, signals, socket activation and the command line.

Most tests feed the daemon datagrams built here (struct rtp_event, packed as
include/ratetap/proto.h lays it out); ShimmedCurlTest sends real traffic
through build/libratetap.so.
"""

import fcntl
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import DAEMON, SHIM, have, run  # noqa
from daemontest import DaemonTestCase  # noqa: E402

CANARY = "sk-ant-oat01-CANARY-d41d8cd98f00b204e980"

# -- struct rtp_event --------------------------------------------------------

RTP_MAGIC = 0x31505452
RTP_VERSION = 1
# magic version length flags pid seq dropped curl_code http_status method
# usage_state unified_status status_5h status_7d overage_status claim pad[3]
# present, 4 token counts, d[8], i[19], model host path prog request_id
# overage_reason, then nwin wpad[7] and win[4] {name[24] util reset present
# status pad[6]} (the windows only headers name)
WIN_FMT = "24sdqBB6x"
FMT = "=IHHIiIIiHBBBBBBB3xQ4q8d19q64s64s96s32s64s32sB7x" + WIN_FMT * 4
EVENT_SIZE = struct.calcsize(FMT)

D = {"util_5h": 0, "util_7d": 1, "util_7d_sonnet": 2, "util_7d_opus": 3,
     "util_overage": 4, "fallback_pct": 5, "surpassed_5h": 6,
     "surpassed_7d": 7}
I = {"reset_5h": 0, "reset_7d": 1, "reset_7d_sonnet": 2, "reset_7d_opus": 3,
     "reset": 4, "reset_overage": 5, "req_limit": 6, "req_remaining": 7,
     "req_reset": 8, "tok_limit": 9, "tok_remaining": 10, "tok_reset": 11,
     "in_limit": 12, "in_remaining": 13, "in_reset": 14, "out_limit": 15,
     "out_remaining": 16, "out_reset": 17, "retry_after": 18}
N_D = 8
POST = 2
USAGE_NONE, USAGE_OK = 0, 1
US_ALLOWED, US_REJECTED = 1, 3


W_UTIL, W_RESET, W_STATUS = 1, 2, 4


def event(http_status=200, model="claude-sonnet-4-5", prog="curl",
          path="/v1/messages", usage=(11, 22, 3, 5), seq=1, wins=(), **opt):
    """Pack one datagram.  opt: optional values by lower-case name
    (util_5h=0.25, reset_5h=unix seconds, retry_after=7, ...); wins: up
    to four header-named windows as (name, util or None, reset or None)."""
    win = []
    for name, u, r in wins:
        win += [name.encode(), float(u or 0.0), int(r or 0),
                (W_UTIL if u is not None else 0) |
                (W_RESET if r is not None else 0), 0]
    for _ in range(4 - len(wins)):
        win += [b"", 0.0, 0, 0, 0]
    present = 0
    d = [0.0] * N_D
    i = [0] * 19
    for k, v in opt.items():
        if k in D:
            d[D[k]] = float(v)
            present |= 1 << D[k]
        elif k in I:
            i[I[k]] = int(v)
            present |= 1 << (N_D + I[k])
        else:
            raise KeyError(k)
    state = USAGE_OK if usage is not None else USAGE_NONE
    toks = usage if usage is not None else (0, 0, 0, 0)
    return struct.pack(FMT, RTP_MAGIC, RTP_VERSION, EVENT_SIZE, 0,
                       os.getpid(), seq, 0, 0, http_status, POST, state,
                       US_ALLOWED if "util_5h" in opt else 0, 0, 0, 0, 0,
                       present, *toks, *d, *i, model.encode(),
                       b"api.anthropic.com", path.encode(), prog.encode(),
                       b"req_test", b"", len(wins), *win)


def send(d, *datagrams):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        for dg in datagrams:
            s.sendto(dg, d.ingest_path)
    finally:
        s.close()


def hour(n=1):
    return int(time.time() // 3600 * 3600 + 3600 * n)


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def win(st, name):
    return st["windows"][name]


class SocketsTest(DaemonTestCase):

    def test_sockets_are_mode_0600_in_a_0700_directory(self):
        d = self.daemon()
        for p in (d.ingest_path, d.control_path):
            st = os.stat(p)
            self.assertTrue(stat.S_ISSOCK(st.st_mode), p)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, p)
        st = os.stat(os.path.dirname(d.control_path))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)

    @unittest.skipUnless(have("curl"), "curl not installed")
    def test_curl_unix_socket_reads_status_health_and_metrics(self):
        d = self.daemon()
        p = run(["curl", "-sS", "-i", "--unix-socket", d.control_path,
                 "http://localhost/v1/status"], d.daemon_env)
        self.assertEqual(p.returncode, 0, p.stderr)
        head, body = p.stdout.split(b"\r\n\r\n", 1)
        self.assertIn(b"200 OK", head)
        self.assertIn(b"application/json", head.lower())
        doc = json.loads(body)
        for k in ("windows", "extra_usage", "requests", "models",
                  "processes", "poll", "daemon", "state"):
            self.assertIn(k, doc)
        self.assertEqual(doc["daemon"]["pid"], d.proc.pid)
        self.assertEqual(doc["daemon"]["version"], "0.1.0")
        p = run(["curl", "-sS", "--unix-socket", d.control_path,
                 "http://localhost/v1/health"], d.daemon_env)
        self.assertEqual(p.stdout.strip(), b"ok")
        st, h, body = d.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertIn("version=0.0.4", h["content-type"])
        self.assertIn(b"ratetap_", body)

    def test_unknown_paths_and_methods_get_json_errors(self):
        d = self.daemon()
        st, h, body = d.request("GET", "/nope")
        self.assertEqual(st, 404)
        self.assertEqual(json.loads(body)["error"], "not found")
        st, h, body = d.request("POST", "/v1/status", body=b"{}")
        self.assertEqual(st, 405)
        self.assertIn("GET", h["allow"])
        self.assertIn("error", json.loads(body))
        st, _, _ = d.request("DELETE", "/metrics")
        self.assertEqual(st, 405)
        self.assertTrue(d.running())

    def test_a_second_daemon_on_the_same_sockets_exits_1(self):
        d = self.daemon()
        p = subprocess.run([DAEMON], env=d.daemon_env, capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"already running", p.stderr)
        # the first one still owns and answers on its sockets
        self.assertEqual(d.status()["daemon"]["pid"], d.proc.pid)
        send(d, event())
        d.wait_for(lambda s: s["requests"]["total"] == 1)

    def test_two_daemons_never_share_one_state(self):
        # different runtime directories (e.g. one started without
        # XDG_RUNTIME_DIR), the same state directory: the second one exits
        # 1 without binding anything, and the first one's counts survive
        a = self.daemon(poll_interval=None)
        send(a, event(usage=(10, 20, 0, 0)))
        a.wait_for(lambda s: s["requests"]["total"] == 1)
        b = self.daemon(start=False, poll_interval=None)
        e = dict(b.daemon_env)
        e["XDG_STATE_HOME"] = a.state_home
        p = subprocess.run([DAEMON], env=e, capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"another ratetapd is already running", p.stderr)
        self.assertIn(a.state_dir.encode(), p.stderr)
        self.assertFalse(os.path.exists(b.control_path))
        self.assertFalse(os.path.exists(b.ingest_path))
        send(a, event(usage=(1, 2, 0, 0)))
        a.wait_for(lambda s: s["requests"]["total"] == 2)
        self.assertEqual(a.stop(), 0)
        with open(os.path.join(a.state_dir, "state.json")) as f:
            self.assertIn('"total"', f.read())
        a.start()
        self.assertEqual(a.status()["requests"]["total"], 2)
        # and once the first is gone, a second one may own it
        a.stop()
        b.daemon_env["XDG_STATE_HOME"] = a.state_home
        b.start()
        self.assertEqual(b.status()["requests"]["total"], 2)

    def test_a_group_writable_runtime_dir_is_refused(self):
        d = self.daemon(start=False)
        rt = os.path.dirname(d.ingest_path)
        os.makedirs(rt, mode=0o700)
        os.chmod(rt, 0o770)
        p = subprocess.run([DAEMON], env=d.daemon_env, capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"writable by group or others", p.stderr)
        self.assertFalse(os.path.exists(d.ingest_path))

    def test_a_file_in_place_of_a_socket_is_left_alone(self):
        d = self.daemon(start=False)
        rt = os.path.dirname(d.ingest_path)
        os.makedirs(rt, mode=0o700)
        with open(d.ingest_path, "w") as f:
            f.write("precious")
        p = subprocess.run([DAEMON], env=d.daemon_env, capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"not a socket", p.stderr)
        with open(d.ingest_path) as f:
            self.assertEqual(f.read(), "precious")

    def test_a_stale_socket_is_replaced(self):
        d = self.daemon()
        send(d, event())
        d.wait_for(lambda s: s["requests"]["total"] == 1)
        d.kill()			# leaves both sockets behind
        self.assertTrue(os.path.exists(d.control_path))
        d.start()
        send(d, event())
        d.wait_for(lambda s: s["requests"]["total"] >= 1)

    def test_a_refused_ingest_path_leaves_no_control_socket(self):
        d = self.daemon(start=False)
        rt = os.path.dirname(d.control_path)
        os.makedirs(rt, mode=0o700)
        with open(d.ingest_path, "w") as f:
            f.write("precious")
        p = subprocess.run([DAEMON], env=d.daemon_env, capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"ingest socket", p.stderr)
        self.assertFalse(os.path.exists(d.control_path), p.stderr)

    def test_a_refused_ingest_directory_leaves_no_control_socket(self):
        d = self.daemon(start=False)
        tmp = tempfile.mkdtemp(prefix="rt-ingest-", dir="/tmp")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", tmp]))
        bad = os.path.join(tmp, "shared")
        os.mkdir(bad)
        os.chmod(bad, 0o777)
        p = subprocess.run([DAEMON, "--socket",
                            os.path.join(bad, "ingest.sock")],
                           env=d.daemon_env, capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"writable by group or others", p.stderr)
        self.assertFalse(os.path.exists(d.control_path), p.stderr)
        self.assertEqual(os.listdir(bad), [])


class EventsTest(DaemonTestCase):

    def test_headers_and_usage_reach_status(self):
        d = self.daemon()
        r5, r7 = hour(1), hour(72)
        send(d, event(util_5h=0.25, util_7d=0.5, reset_5h=r5, reset_7d=r7,
                      req_limit=50, req_remaining=49),
             event(model="claude-opus-4-1", prog="python3", seq=2,
                   usage=(100, 200, 0, 0)))
        st = d.wait_for(lambda s: s["requests"]["total"] == 2)
        self.assertEqual(win(st, "five_hour")["utilization"], 25.0)
        self.assertEqual(win(st, "seven_day")["utilization"], 50.0)
        self.assertEqual(win(st, "five_hour")["resets_at"], rfc3339(r5))
        self.assertEqual(win(st, "seven_day")["resets_at"], rfc3339(r7))
        self.assertEqual(win(st, "five_hour")["tokens"],
                         {"input": 111, "output": 222,
                          "cache_creation_input": 3, "cache_read_input": 5})
        self.assertEqual(win(st, "seven_day_sonnet")["tokens"]["input"], 11)
        self.assertEqual(win(st, "seven_day_opus")["tokens"]["input"], 100)
        self.assertEqual(st["models"]["claude-sonnet-4-5"]["output"], 22)
        self.assertEqual(st["models"]["claude-opus-4-1"]["output"], 200)
        self.assertEqual(st["processes"]["curl"]["requests"], 1)
        self.assertEqual(st["processes"]["python3"]["input"], 100)

    def test_a_429_is_counted_as_rate_limited(self):
        d = self.daemon()
        send(d, event(http_status=429, usage=None, retry_after=7),
             event(seq=2))
        st = d.wait_for(lambda s: s["requests"]["total"] == 2)
        self.assertEqual(st["requests"]["rate_limited"], 1)

    def test_a_reset_moved_by_hours_rolls_the_window_over(self):
        d = self.daemon()
        send(d, event(reset_5h=hour(1), util_5h=0.9),
             event(reset_5h=hour(1), seq=2))
        d.wait_for(lambda s: win(s, "five_hour")["tokens"]["input"] == 22)
        # the 5-hour reset moves on by 3 hours: a new window
        send(d, event(reset_5h=hour(4), util_5h=0.01, seq=3,
                      usage=(1, 2, 0, 0)))
        st = d.wait_for(lambda s: s["requests"]["total"] == 3)
        self.assertEqual(win(st, "five_hour")["tokens"]["input"], 1)
        self.assertEqual(win(st, "five_hour")["resets_at"],
                         rfc3339(hour(4)))
        self.assertEqual(win(st, "five_hour")["utilization"], 1.0)
        # the 7-day window did not move
        self.assertEqual(win(st, "seven_day")["tokens"]["input"], 23)

    def test_bad_datagrams_change_nothing_and_are_counted(self):
        d = self.daemon()
        good = event()
        bad_version = bytearray(good)
        bad_version[4] = 9
        send(d, b"x" * 10, good + b"\0", bytes(bad_version),
             os.urandom(EVENT_SIZE), b"y" * 9000)
        send(d, good)
        st = d.wait_for(lambda s: s["requests"]["total"] == 1)
        self.assertEqual(win(st, "five_hour")["tokens"]["input"], 11)
        self.assertTrue(d.running())
        ing = st["ingest"]
        self.assertEqual(ing["accepted"], 1)
        self.assertEqual(ing["rejected"]["size"], 3)
        self.assertEqual(ing["rejected"]["version"], 1)
        self.assertEqual(ing["rejected"]["magic"], 1)
        self.assertEqual(ing["foreign_uid"], 0)


class PollTest(DaemonTestCase):

    def test_the_poll_sets_utilization_and_resets(self):
        api = self.mock()
        d = self.daemon(api, token=CANARY)
        st = d.wait_for(lambda s: s["poll"]["last_ok"] is not None)
        self.assertEqual(win(st, "five_hour")["utilization"], 25.0)
        self.assertEqual(win(st, "seven_day_sonnet")["utilization"], 10.0)
        self.assertIsNotNone(win(st, "five_hour")["resets_at"])
        self.assertTrue(st["poll"]["enabled"])
        self.assertIsNone(st["poll"]["last_error"])
        stats = api.stats()
        self.assertGreaterEqual(stats["polls_token_ok"], 1)
        self.assertGreaterEqual(stats["polls_beta_ok"], 1)

    def test_the_poll_repeats_every_interval(self):
        api = self.mock()
        d = self.daemon(api, token="tok", poll_interval=1)
        time.sleep(3.5)
        n = api.stats()["polls"]
        self.assertGreaterEqual(n, 3)
        self.assertLessEqual(n, 5)
        self.assertTrue(d.running())

    def test_a_token_from_the_credentials_file_is_used(self):
        api = self.mock()
        api.configure({"usage": {"mode": "ok", "token": CANARY}})
        d = self.daemon(api, start=False)
        d.write_credentials(CANARY)
        d.start()
        d.wait_for(lambda s: s["poll"]["last_ok"] is not None)
        self.assertGreaterEqual(api.stats()["polls_token_ok"], 1)

    def test_without_a_token_it_runs_from_headers_and_says_so_once(self):
        api = self.mock()
        d = self.daemon(api, poll_interval=1)
        time.sleep(2.5)
        st = d.status()
        self.assertFalse(st["poll"]["enabled"])
        self.assertEqual(api.stats()["polls"], 0)
        self.assertEqual(d.log().count("no OAuth token"), 1)
        # a token appearing later is picked up at the next poll
        d.write_credentials("tok-later")
        d.wait_for(lambda s: s["poll"]["last_ok"] is not None, timeout=5)
        self.assertTrue(d.status()["poll"]["enabled"])

    def test_a_poll_429_honours_retry_after(self):
        api = self.mock()
        api.configure({"usage": {"mode": "429", "retry_after": 3}})
        d = self.daemon(api, token="tok", poll_interval=1)
        st = d.wait_for(lambda s: "429" in (s["poll"]["last_error"] or ""))
        self.assertIn("retry after 3", st["poll"]["last_error"])
        t0 = time.monotonic()
        n0 = api.stats()["polls"]
        time.sleep(4.2)
        n = api.stats()["polls"] - n0
        # every interval (1 s) would be 4 polls; retry-after allows 1-2
        self.assertLessEqual(n, 2, "%d polls in %.1f s" % (
            n, time.monotonic() - t0))
        self.assertGreaterEqual(n, 1)
        # it recovers once the endpoint does
        api.configure({"usage": {"mode": "ok"}})
        st = d.wait_for(lambda s: s["poll"]["last_error"] is None,
                        timeout=10)
        self.assertEqual(d.log().count("usage poll failed"), 1)

    def test_a_poll_401_is_reported_and_logged_once(self):
        api = self.mock()
        api.configure({"usage": {"mode": "401"}})
        d = self.daemon(api, token=CANARY, poll_interval=1)
        st = d.wait_for(lambda s: "401" in (s["poll"]["last_error"] or ""))
        self.assertIn("rejected", st["poll"]["last_error"])
        time.sleep(2.5)			# back-off: 2 s, then 4 s
        self.assertGreaterEqual(api.stats()["polls"], 2)
        log = d.log()
        self.assertEqual(log.count("OAuth token rejected (HTTP 401)"), 1,
                         log)
        self.assertIn("run claude to refresh it", log)

    def test_bad_answers_are_reported_with_a_reason(self):
        api = self.mock()
        d = self.daemon(api, token="tok", poll_interval=1)
        d.wait_for(lambda s: s["poll"]["last_ok"] is not None)
        for mode, want in (("garbage", "invalid JSON"), ("500", "HTTP 500"),
                           ("huge", "body too large")):
            api.configure({"usage": {"mode": mode, "retry_after": None}})
            d.wait_for(lambda s, w=want: w in (s["poll"]["last_error"] or
                                                ""), timeout=15)
        self.assertTrue(d.running())

    def test_a_timeout_is_reported(self):
        api = self.mock()
        api.configure({"usage": {"mode": "timeout"}})
        d = self.daemon(api, token="tok", poll_interval=1)
        d.wait_for(lambda s: "timeout" in (s["poll"]["last_error"] or ""),
                   timeout=10)
        # the control socket answers while the poll hangs
        self.assertEqual(d.request("GET", "/v1/health")[0], 200)

    def test_the_token_never_appears_in_log_state_or_status(self):
        api = self.mock()
        api.configure({"usage": {"mode": "ok", "token": CANARY}})
        d = self.daemon(api, token=CANARY, poll_interval=1,
                        args=["--debug"])
        d.wait_for(lambda s: s["poll"]["last_ok"] is not None)
        api.configure({"usage": {"mode": "401"}})
        d.wait_for(lambda s: "401" in (s["poll"]["last_error"] or ""))
        send(d, event())
        d.wait_for(lambda s: s["requests"]["total"] == 1)
        status = d.request("GET", "/v1/status")[2]
        metrics = d.request("GET", "/metrics")[2]
        self.assertEqual(d.stop(), 0)
        with open(os.path.join(d.state_dir, "state.json"), "rb") as f:
            state = f.read()
        for what, text in (("log", d.log().encode()), ("status", status),
                           ("metrics", metrics), ("state", state)):
            self.assertNotIn(CANARY.encode(), text, what)
            self.assertNotIn(b"CANARY", text, what)

    def test_an_https_poll_is_verified_with_the_ca_file(self):
        api = self.mock(tls=True)
        d = self.daemon(api, token=CANARY,
                        env={"RATETAP_CA_FILE": api.cafile})
        st = d.wait_for(lambda s: s["poll"]["last_ok"] is not None)
        self.assertEqual(win(st, "five_hour")["utilization"], 25.0)
        self.assertEqual(win(st, "seven_day")["utilization"], 50.0)
        self.assertIsNone(st["poll"]["last_error"])
        self.assertGreaterEqual(api.stats()["polls_token_ok"], 1)
        self.assertIn(api.cafile, d.log())

    def test_without_the_ca_file_an_https_poll_fails_verification(self):
        api = self.mock(tls=True)
        d = self.daemon(api, token=CANARY)
        st = d.wait_for(lambda s: s["poll"]["last_error"] is not None)
        self.assertIn("certificate", st["poll"]["last_error"])
        self.assertIsNone(st["poll"]["last_ok"])
        self.assertIsNone(win(st, "five_hour")["utilization"])
        self.assertEqual(api.stats()["polls"], 0)

    def test_a_ca_file_that_does_not_sign_the_server_is_refused(self):
        api = self.mock(tls=True)
        tmp = tempfile.mkdtemp(prefix="rt-ca-", dir="/tmp")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", tmp]))
        other = os.path.join(tmp, "other.pem")
        p = run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                 "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=IP:127.0.0.1",
                 "-keyout", os.path.join(tmp, "other.key"),
                 "-out", other], None)
        self.assertEqual(p.returncode, 0, p.stderr)
        d = self.daemon(api, token=CANARY, args=["--cacert", other])
        st = d.wait_for(lambda s: s["poll"]["last_error"] is not None)
        self.assertIn("certificate", st["poll"]["last_error"])
        self.assertEqual(api.stats()["polls"], 0)

    def test_the_cacert_flag_wins_over_the_environment(self):
        api = self.mock(tls=True)
        d = self.daemon(api, token="tok",
                        env={"RATETAP_CA_FILE": "/nonexistent/ca.pem"},
                        args=["--cacert", api.cafile])
        st = d.wait_for(lambda s: s["poll"]["last_ok"] is not None)
        self.assertEqual(win(st, "five_hour")["utilization"], 25.0)


class PersistenceTest(DaemonTestCase):

    def events(self, d):
        send(d, event(reset_5h=hour(1), util_5h=0.3),
             event(http_status=429, usage=None, seq=2),
             event(model="claude-opus-4-1", prog="php", seq=3))
        return d.wait_for(lambda s: s["requests"]["total"] == 3)

    def same_counts(self, a, b):
        def timeless(st):
            # a figure's age grows while the daemon restarts
            return {n: {k: v for k, v in w.items() if k != "age_seconds"}
                    for n, w in st["windows"].items()}
        self.assertEqual(timeless(a), timeless(b), "windows")
        for k in ("requests", "models", "processes"):
            self.assertEqual(a[k], b[k], k)

    def test_a_restart_by_sigterm_keeps_every_count(self):
        d = self.daemon()
        before = self.events(d)
        self.assertEqual(d.stop(signal.SIGTERM), 0)
        self.assertFalse(os.path.exists(d.control_path))
        d.start()
        self.same_counts(before, d.status())

    def test_sigint_also_saves_and_exits_0(self):
        d = self.daemon()
        before = self.events(d)
        self.assertEqual(d.stop(signal.SIGINT), 0)
        d.start()
        self.same_counts(before, d.status())

    def test_a_sigkill_after_a_second_of_quiet_keeps_every_count(self):
        d = self.daemon()
        before = self.events(d)
        time.sleep(1.0)
        d.kill()
        d.start()
        self.same_counts(before, d.status())

    def test_a_corrupt_state_file_is_moved_aside(self):
        d = self.daemon(start=False)
        os.makedirs(d.state_dir, mode=0o700)
        path = os.path.join(d.state_dir, "state.json")
        with open(path, "w") as f:
            f.write('{"version": 1, "windows": [tru')
        d.start()
        st = d.status()
        name = st["state"]["recovered_from"]
        self.assertRegex(name, r"^state\.json\.corrupt-\d+$")
        with open(os.path.join(d.state_dir, name)) as f:
            self.assertEqual(f.read(), '{"version": 1, "windows": [tru')
        self.assertEqual(st["requests"]["total"], 0)
        self.assertIn("corrupt", d.log())
        # and it carries on normally
        send(d, event())
        d.wait_for(lambda s: s["requests"]["total"] == 1)

    def test_a_failing_save_is_reported_logged_once_and_retried(self):
        d = self.daemon()
        # a directory where the temporary file goes: every save fails
        # (EISDIR), whoever runs the test, root included
        blocker = os.path.join(d.state_dir, "state.json.tmp")
        os.mkdir(blocker)
        send(d, event())
        st = d.wait_for(lambda s: s["state"]["last_save_error"])
        self.assertIn("state.json.tmp", st["state"]["last_save_error"])
        send(d, event(seq=2))
        st = d.wait_for(lambda s: s["requests"]["total"] == 2)
        time.sleep(5.5)			# at least one retry
        self.assertTrue(d.running())
        self.assertEqual(d.log().count("cannot save state"), 1, d.log())
        os.rmdir(blocker)
        st = d.wait_for(lambda s: s["state"]["last_save_error"] is None,
                        timeout=10)
        self.assertIn("saved to", d.log())
        d.kill()
        d.start()
        self.assertEqual(d.status()["requests"]["total"], 2)


class CommandLineTest(DaemonTestCase):

    def run_daemon(self, args, env=None, timeout=10):
        d = self.daemon(start=False)
        e = dict(d.daemon_env)
        e.update(env or {})
        return subprocess.run([DAEMON] + args, env=e, capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def test_help_and_version(self):
        p = self.run_daemon(["--help"])
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"--poll-interval", p.stdout)
        p = self.run_daemon(["--version"])
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"0.1.0", p.stdout)

    def test_bad_arguments_exit_1_with_a_message(self):
        for args, msg in ((["--poll-interval", "0"], b"--poll-interval"),
                          (["--poll-interval", "1x"], b"--poll-interval"),
                          (["--api-base", "ftp://x"], b"--api-base"),
                          (["--warn-threshold", "-5"], b"--warn-threshold"),
                          (["--bogus"], b"usage"),
                          (["extra"], b"unexpected argument"),
                          (["--metrics-listen", "127.0.0.1:99999"],
                           b"bad port")):
            p = self.run_daemon(args)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn(msg, p.stderr, args)
        p = self.run_daemon([], env={"RATETAP_POLL_INTERVAL": "soon"})
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"RATETAP_POLL_INTERVAL", p.stderr)

    def test_an_unusable_ca_file_is_a_start_up_error(self):
        tmp = tempfile.mkdtemp(prefix="rt-ca-", dir="/tmp")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", tmp]))
        unreadable = os.path.join(tmp, "unreadable.pem")
        with open(unreadable, "w") as f:
            f.write("x")
        os.chmod(unreadable, 0)
        cases = [(["--cacert", os.path.join(tmp, "missing.pem")], {},
                  b"--cacert", b"No such file"),
                 (["--cacert", ""], {}, b"--cacert", b"empty path"),
                 (["--cacert", tmp], {}, b"--cacert",
                  b"not a regular file"),
                 ([], {"RATETAP_CA_FILE": os.path.join(tmp, "no.pem")},
                  b"RATETAP_CA_FILE", b"No such file")]
        if os.geteuid() != 0:	# root reads any file
            cases.append((["--cacert", unreadable], {}, b"--cacert",
                          b"Permission denied"))
        for args, env, who, why in cases:
            d = self.daemon(start=False)
            e = dict(d.daemon_env)
            e.update(env)
            p = subprocess.run([DAEMON] + args, env=e, capture_output=True,
                               timeout=10, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 1, (args, env))
            self.assertIn(who, p.stderr, (args, env))
            self.assertIn(why, p.stderr, (args, env))
            self.assertFalse(os.path.exists(d.control_path), args)
            self.assertFalse(os.path.exists(d.ingest_path), args)

    def test_every_setting_is_checked_before_the_disk_is_touched(self):
        # a corrupt state file and an empty runtime directory: a bad
        # setting must leave both exactly as they were
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        cases = [(["--metrics-listen", "abc"], {}, b"--metrics-listen"),
                 (["--metrics-listen", "127.0.0.1:99999"], {}, b"bad port"),
                 (["--metrics-listen", "127.0.0.1:%d" %
                   busy.getsockname()[1]], {}, b"--metrics-listen"),
                 ([], {"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://collector"},
                  b"OTEL_EXPORTER_OTLP_ENDPOINT"),
                 ([], {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                       "OTEL_EXPORTER_OTLP_HEADERS": "no-equals-sign"},
                  b"OTEL_EXPORTER_OTLP_HEADERS"),
                 (["--cacert", "/nonexistent/ca.pem"], {}, b"--cacert"),
                 (["--poll-interval", "0"], {}, b"--poll-interval")]
        for args, env, msg in cases:
            d = self.daemon(start=False)
            os.makedirs(d.state_dir, mode=0o700)
            state = os.path.join(d.state_dir, "state.json")
            with open(state, "w") as f:
                f.write('{"version": 1, "torn')
            e = dict(d.daemon_env)
            e.update(env)
            p = subprocess.run([DAEMON] + args, env=e, capture_output=True,
                               timeout=10, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 1, (args, env, p.stderr))
            self.assertIn(msg, p.stderr, (args, env))
            self.assertEqual(os.listdir(d.state_dir), ["state.json"],
                             (args, env, p.stderr))
            with open(state) as f:
                self.assertEqual(f.read(), '{"version": 1, "torn')
            self.assertEqual(os.listdir(d.runtime_dir), [], (args, env))

    def test_the_token_is_never_taken_from_the_command_line(self):
        p = self.run_daemon(["--token", CANARY])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"never taken from the command line", p.stderr)
        self.assertNotIn(CANARY.encode(), p.stderr)

    def test_flags_win_over_the_environment(self):
        tmp = tempfile.mkdtemp(prefix="rt-flags-", dir="/tmp")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", tmp]))
        sock = os.path.join(tmp, "in.sock")
        ctl = os.path.join(tmp, "ctl.sock")
        state = os.path.join(tmp, "st")
        d = self.daemon(start=False, args=["--socket", sock, "--control",
                                           ctl, "--state-dir", state,
                                           "--poll-interval", "7"])
        d.ingest_path = sock
        d.control_path = ctl
        d.state_dir = state
        d.start()
        st = d.status()
        self.assertEqual(st["poll"]["interval"], 7)
        self.assertEqual(st["state"]["path"],
                         os.path.join(state, "state.json"))
        send(d, event())
        d.wait_for(lambda s: s["requests"]["total"] == 1)
        self.assertEqual(d.stop(), 0)
        self.assertTrue(os.path.exists(os.path.join(state, "state.json")))

    def test_metrics_listen_serves_metrics_but_not_status_on_tcp(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        d = self.daemon(args=["--metrics-listen", str(port)])
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/metrics")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertIn(b"ratetap_", r.read())
        c.close()
        for path in ("/v1/status", "/nope"):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path)
            r = c.getresponse()
            self.assertEqual(r.status, 404, path)
            r.read()
            c.close()
        self.assertIn("127.0.0.1:%d" % port, d.log())


class ActivationTest(DaemonTestCase):

    def test_passed_sockets_are_used_and_queued_datagrams_read(self):
        d = self.daemon(start=False)
        rt = os.path.dirname(d.ingest_path)
        os.makedirs(rt, mode=0o700)
        ing = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ing.bind(d.ingest_path)
        ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl.bind(d.control_path)
        ctl.listen(8)
        # sent before the daemon exists: waits in the kernel
        send(d, event(), event(seq=2))
        fds = (ing.fileno(), ctl.fileno())

        def place():
            # the service manager's side: fds 3 and 4, names in order
            a = fcntl.fcntl(fds[0], fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(fds[1], fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        env = dict(d.daemon_env, LISTEN_FDS="2",
                   LISTEN_FDNAMES="ingest:control")
        with open(d.logpath, "ab") as logf:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0"', DAEMON],
                env=env, stdin=subprocess.DEVNULL, stdout=logf,
                stderr=logf, preexec_fn=place, close_fds=False)
        d.proc = proc
        ing.close()
        ctl.close()
        st = d.wait_for(lambda s: s["requests"]["total"] == 2)
        self.assertIn("socket activation", d.log())
        self.assertEqual(st["daemon"]["pid"], proc.pid)
        self.assertEqual(d.stop(), 0)
        # sockets it did not create are not removed
        self.assertTrue(os.path.exists(d.control_path))


@unittest.skipUnless(have("curl") and os.path.exists(SHIM),
                     "curl or build/libratetap.so missing")
class ShimmedCurlTest(DaemonTestCase):

    def test_real_curl_under_the_shim_reaches_the_daemon(self):
        api = self.mock()
        d = self.daemon(api)
        body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 5,
                           "messages": []})
        p = run(["curl", "-sS", "-o", "/dev/null", api.url("/v1/messages"),
                 "-H", "content-type: application/json", "-d", body], d.env)
        self.assertEqual(p.returncode, 0, p.stderr)
        st = d.wait_for(lambda s: s["requests"]["total"] == 1)
        self.assertEqual(win(st, "five_hour")["utilization"], 25.0)
        self.assertEqual(win(st, "five_hour")["tokens"]["input"], 11)
        self.assertEqual(st["processes"]["curl"]["requests"], 1)
        # the mock moves the 5-hour reset on by 3 hours: a new window
        r = hour(4)
        api.configure({"headers_update": {
            "anthropic-ratelimit-unified-5h-reset": str(r)}})
        p = run(["curl", "-sS", "-o", "/dev/null", api.url("/v1/messages"),
                 "-H", "x-mock-usage: 1,2,0,0", "-d", body], d.env)
        st = d.wait_for(lambda s: s["requests"]["total"] == 2)
        self.assertEqual(win(st, "five_hour")["tokens"]["input"], 1)
        self.assertEqual(win(st, "five_hour")["resets_at"], rfc3339(r))
        self.assertEqual(win(st, "seven_day")["tokens"]["input"], 12)
        p = run(["curl", "-sS", "-o", "/dev/null", api.url("/v1/messages"),
                 "-H", "x-mock-status: 429", "-d", body], d.env)
        st = d.wait_for(lambda s: s["requests"]["total"] == 3)
        self.assertEqual(st["requests"]["rate_limited"], 1)


if __name__ == "__main__":
    unittest.main()
