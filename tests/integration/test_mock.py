"""Tests of the test infrastructure itself: the mock API (driven by plain
curl, no shim), the test receiver, and the harness helpers."""

import importlib.util
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from harness import (BUILD, DAEMON, MOCK, PYTHON, RECEIVER, Daemon, MockAPI,
                     Receiver, run, shim_env)

P = "anthropic-ratelimit-"
MSG = b'{"model":"claude-opus-4-1","max_tokens":64,' \
      b'"messages":[{"role":"user","content":"hi"}]}'
STREAM = b'{"model":"claude-sonnet-4-5","stream":true,"max_tokens":64,' \
         b'"messages":[{"role":"user","content":"hi"}]}'

# struct rtp_event (include/ratetap/proto.h), host byte order, no implicit
# padding: header, flags, ids, status bytes, pad[3], present, 4 token
# counts, d[8], i[19], then the strings.
EVENT_FMT = "=IHHIiIIiHBBBBBBB3xQqqqq8d19q64s64s96s32s64s32s" \
    "8x192x"  # nwin, wpad and win[4], all zero
EVENT_SIZE = struct.calcsize(EVENT_FMT)
RTP_MAGIC = 0x31505452
RTP_D_COUNT = 8


def pack_event(**kw):
    """A datagram; kw overrides fields (d and i are lists)."""
    f = dict(magic=RTP_MAGIC, version=1, length=EVENT_SIZE, flags=0,
             pid=os.getpid(), seq=1, dropped=0, curl_code=0,
             http_status=200, method=2, usage_state=1, unified_status=1,
             status_5h=0, status_7d=0, overage_status=0, claim=1,
             present=0, input_tokens=11, output_tokens=22,
             cache_creation=3, cache_read=5, d=[0.0] * 8, i=[0] * 19,
             model=b"claude-sonnet-4-5", host=b"127.0.0.1:1",
             path=b"/v1/messages", prog=b"curl", request_id=b"req_1",
             overage_reason=b"")
    f.update(kw)
    return struct.pack(
        EVENT_FMT, f["magic"], f["version"], f["length"], f["flags"],
        f["pid"], f["seq"], f["dropped"], f["curl_code"], f["http_status"],
        f["method"], f["usage_state"], f["unified_status"], f["status_5h"],
        f["status_7d"], f["overage_status"], f["claim"], f["present"],
        f["input_tokens"], f["output_tokens"], f["cache_creation"],
        f["cache_read"], *f["d"], *f["i"], f["model"], f["host"], f["path"],
        f["prog"], f["request_id"], f["overage_reason"])


def send(path, data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.sendto(data, path)
    finally:
        s.close()


def plain_env():
    """The environment without the shim (and without proxies)."""
    env = shim_env(None, None)
    for k in list(env):
        if k.startswith("RATETAP_") or k == "LD_PRELOAD":
            del env[k]
    return env


class Curl:
    """Plain curl against the mock; returns (status, headers, body)."""

    def __init__(self, api):
        self.api = api
        self.tmp = tempfile.mkdtemp(prefix="rt-curl-")

    def __call__(self, path, *args, data=None, headers=(), timeout=30,
                 method=None):
        hfile = os.path.join(self.tmp, "h")
        bfile = os.path.join(self.tmp, "b")
        for f in (hfile, bfile):
            if os.path.exists(f):
                os.unlink(f)
        argv = ["curl", "-sS", "-D", hfile, "-o", bfile, "-w",
                "%{http_code}"]
        if self.api.cafile:
            argv += ["--cacert", self.api.cafile]
        if data is not None:
            argv += ["--data-binary", "@-",
                     "-H", "Content-Type: application/json"]
        if method:
            argv += ["-X", method]
        for h in headers:
            argv += ["-H", h]
        argv += list(args) + [self.api.url(path)]
        p = run(argv, plain_env(), timeout=timeout, input=data)
        hdrs = {}
        if os.path.exists(hfile):
            with open(hfile, "rb") as f:
                block = f.read().decode("latin-1").split("\r\n\r\n")
            block = [b for b in block if b.strip()]
            for line in block[-1].split("\r\n")[1:] if block else []:
                k, _, v = line.partition(":")
                hdrs.setdefault(k.strip().lower(), v.strip())
        body = b""
        if os.path.exists(bfile):
            with open(bfile, "rb") as f:
                body = f.read()
        status = int(p.stdout or b"0")
        return status, hdrs, body, p

    def close(self):
        shutil.rmtree(self.tmp, True)


def sse_events(body):
    """[(event name, data dict)] of an SSE body."""
    out = []
    for block in body.decode("utf-8").split("\n\n"):
        if not block.strip():
            continue
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        out.append((name, data))
    return out


class MockMessagesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.api = MockAPI()
        cls.curl = Curl(cls.api)

    @classmethod
    def tearDownClass(cls):
        cls.curl.close()
        cls.api.close()

    def setUp(self):
        self.api.reset()

    def test_json_body_has_the_documented_usage_and_headers(self):
        st, h, body, _ = self.curl("/v1/messages", data=MSG)
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "application/json")
        self.assertEqual(int(h["content-length"]), len(body))
        doc = json.loads(body)
        self.assertEqual(doc["type"], "message")
        self.assertEqual(doc["role"], "assistant")
        self.assertTrue(doc["id"].startswith("msg_"))
        self.assertEqual(doc["model"], "claude-opus-4-1")
        self.assertEqual(doc["content"][0]["type"], "text")
        u = doc["usage"]
        self.assertEqual((u["input_tokens"], u["output_tokens"],
                          u["cache_creation_input_tokens"],
                          u["cache_read_input_tokens"]), (11, 22, 3, 5))
        self.assertEqual(h[P + "unified-status"], "allowed")
        self.assertEqual(h[P + "unified-5h-utilization"], "0.25")
        self.assertEqual(h[P + "unified-7d-utilization"], "0.5")
        self.assertEqual(h[P + "unified-representative-claim"], "five_hour")
        now = time.time()
        r5, r7 = int(h[P + "unified-5h-reset"]), int(h[P + "unified-7d-reset"])
        self.assertEqual(r5 % 3600, 0)
        self.assertEqual(r7 % 3600, 0)
        self.assertTrue(now < r5 <= now + 3600, r5)
        self.assertTrue(now + 2 * 86400 < r7 <= now + 3 * 86400, r7)
        self.assertEqual(h[P + "requests-limit"], "50")
        self.assertEqual(h[P + "requests-remaining"], "49")
        self.assertRegex(h[P + "requests-reset"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertRegex(h["request-id"], r"^req_mock_\d+$")

    def test_default_model_when_the_request_names_none(self):
        st, _, body, _ = self.curl("/v1/messages", data=b'{"max_tokens":1}')
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["model"], "claude-sonnet-4-5")
        st, _, body, _ = self.curl("/v1/messages", data=b"not json")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["model"], "claude-sonnet-4-5")

    def test_sse_stream_has_the_real_event_sequence(self):
        st, h, body, _ = self.curl("/v1/messages", data=STREAM)
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/event-stream"))
        self.assertEqual(h.get("transfer-encoding"), "chunked")
        ev = sse_events(body)
        names = [n for n, _ in ev]
        self.assertEqual(names[:3], ["message_start", "content_block_start",
                                     "ping"])
        self.assertGreaterEqual(names.count("content_block_delta"), 2)
        self.assertEqual(names[-4:], ["content_block_stop", "message_delta",
                                      "message_delta", "message_stop"])
        for n, d in ev:
            self.assertEqual(d["type"], n)
        start = ev[0][1]["message"]
        self.assertEqual(start["model"], "claude-sonnet-4-5")
        self.assertEqual(start["content"], [])
        self.assertIsNone(start["stop_reason"])
        self.assertIsNone(start["stop_sequence"])
        u = start["usage"]
        self.assertEqual((u["input_tokens"], u["cache_creation_input_tokens"],
                          u["cache_read_input_tokens"], u["output_tokens"]),
                         (11, 3, 5, 1))
        deltas = [d for n, d in ev if n == "message_delta"]
        self.assertEqual([d["usage"]["output_tokens"] for d in deltas],
                         [10, 22])
        self.assertEqual(deltas[-1]["delta"]["stop_reason"], "end_turn")
        text = "".join(d["delta"]["text"] for n, d in ev
                       if n == "content_block_delta")
        self.assertTrue(text)

    def test_chunked_delivery_sends_the_same_bytes(self):
        for stream in (False, True):
            req = STREAM if stream else MSG
            _, h0, plain, _ = self.curl("/v1/messages", data=req)
            for n in ("1", "7", "100000"):
                st, h, body, _ = self.curl("/v1/messages", data=req,
                                           headers=["x-mock-chunk: " + n])
                self.assertEqual(st, 200)
                self.assertEqual(h.get("transfer-encoding"), "chunked")
                self.assertNotIn("content-length", h)
                self.assertEqual(body, plain, (stream, n))
            if not stream:
                self.assertIn("content-length", h0)

    def test_content_encoding_compresses_the_same_bytes(self):
        import zlib
        for stream in (False, True):
            req = STREAM if stream else MSG
            _, _, plain, _ = self.curl("/v1/messages", data=req)
            for coding, wbits in (("gzip", 31), ("deflate", 15)):
                for extra in ([], ["x-mock-chunk: 5"]):
                    st, h, body, _ = self.curl(
                        "/v1/messages", data=req, headers=[
                            "x-mock-content-encoding: " + coding] + extra)
                    what = (stream, coding, extra)
                    self.assertEqual(st, 200, what)
                    self.assertEqual(h.get("content-encoding"), coding,
                                     what)
                    self.assertNotEqual(body, plain, what)
                    if coding == "gzip":
                        self.assertEqual(body[:2], b"\x1f\x8b", what)
                    d = zlib.decompressobj(wbits)
                    self.assertEqual(d.decompress(body) + d.flush(), plain,
                                     what)
                    self.assertTrue(d.eof, what)
                    if not stream and not extra:
                        self.assertEqual(h.get("content-length"),
                                         str(len(body)), what)
        # curl --compressed decodes it to the plain body
        _, _, plain, _ = self.curl("/v1/messages", data=STREAM)
        st, _, dec, _ = self.curl("/v1/messages", "--compressed",
                                  data=STREAM, headers=[
                                      "x-mock-content-encoding: gzip"])
        self.assertEqual(dec, plain)
        st, _, body, _ = self.curl("/v1/messages", data=MSG, headers=[
            "x-mock-content-encoding: br"])
        self.assertEqual(st, 400)
        self.assertIn(b"x-mock-content-encoding", body)

    def test_chunks_arrive_as_separate_writes_with_delay(self):
        t0 = time.monotonic()
        st, _, body, _ = self.curl("/v1/messages", data=MSG,
                                   headers=["x-mock-chunk: 100",
                                            "x-mock-delay-ms: 50"])
        took = time.monotonic() - t0
        self.assertEqual(st, 200)
        writes = -(-len(body) // 100)
        self.assertGreaterEqual(took, (writes - 1) * 0.05 * 0.9)

    def test_bodies_are_deterministic(self):
        a = self.curl("/v1/messages", data=MSG)[2]
        b = self.curl("/v1/messages", data=MSG)[2]
        self.assertEqual(a, b)
        c = self.curl("/v1/messages", data=MSG.replace(b"hi", b"ho"))[2]
        self.assertNotEqual(json.loads(a)["id"], json.loads(c)["id"])
        s1 = self.curl("/v1/messages", data=STREAM)[2]
        s2 = self.curl("/v1/messages", data=STREAM)[2]
        self.assertEqual(s1, s2)

    def test_usage_model_and_pad_controls(self):
        st, _, body, _ = self.curl("/v1/messages", data=MSG, headers=[
            "x-mock-usage: 1,2,3,4", "x-mock-model: claude-opus-4-5",
            "x-mock-pad: 10000"])
        self.assertEqual(st, 200)
        doc = json.loads(body)
        u = doc["usage"]
        self.assertEqual((u["input_tokens"], u["output_tokens"],
                          u["cache_creation_input_tokens"],
                          u["cache_read_input_tokens"]), (1, 2, 3, 4))
        self.assertEqual(doc["model"], "claude-opus-4-5")
        self.assertGreaterEqual(len(doc["content"][0]["text"]), 10000)
        plain = json.loads(self.curl("/v1/messages", data=MSG)[2])
        self.assertEqual(len(doc["content"][0]["text"]) -
                         len(plain["content"][0]["text"]), 10000)
        _, _, body, _ = self.curl("/v1/messages", data=STREAM, headers=[
            "x-mock-usage: 100,200,30,40", "x-mock-pad: 50000"])
        ev = sse_events(body)
        self.assertEqual(ev[0][1]["message"]["usage"]["input_tokens"], 100)
        self.assertEqual([d["usage"]["output_tokens"] for n, d in ev
                          if n == "message_delta"], [10, 200])

    def test_adversarial_content_still_parses_to_the_real_usage(self):
        _, _, body, _ = self.curl("/v1/messages", data=MSG,
                                  headers=["x-mock-adversarial: 1"])
        self.assertIn(b'\\"usage\\"', body)
        self.assertIn(b"event: message_delta", body.replace(b"\\n", b"\n"))
        doc = json.loads(body)
        self.assertEqual(doc["usage"]["input_tokens"], 11)
        self.assertEqual(doc["model"], "claude-opus-4-1")
        _, _, body, _ = self.curl("/v1/messages", data=STREAM,
                                  headers=["x-mock-adversarial: 1"])
        ev = sse_events(body)
        self.assertEqual(ev[0][0], "message_start")
        self.assertEqual(ev[-2][1]["usage"]["output_tokens"], 22)
        self.assertIn("888888", "".join(d["delta"].get("text", "")
                                        for n, d in ev
                                        if n == "content_block_delta"))

    def test_429_has_retry_after_and_an_error_body(self):
        st, h, body, _ = self.curl("/v1/messages", data=MSG,
                                   headers=["x-mock-status: 429"])
        self.assertEqual(st, 429)
        self.assertEqual(h["retry-after"], "7")
        doc = json.loads(body)
        self.assertEqual(doc["type"], "error")
        self.assertEqual(doc["error"]["type"], "rate_limit_error")
        self.assertTrue(doc["error"]["message"])
        st, h, body, _ = self.curl("/v1/messages", data=MSG,
                                   headers=["x-mock-status: 529"])
        self.assertEqual(st, 529)
        self.assertEqual(json.loads(body)["error"]["type"],
                         "overloaded_error")
        st, h, body, _ = self.curl("/v1/messages", data=MSG,
                                   headers=["x-mock-status: 500"])
        self.assertEqual(json.loads(body)["error"]["type"], "api_error")

    def test_streamed_errors_are_sse_error_events(self):
        st, h, body, _ = self.curl("/v1/messages", data=STREAM,
                                   headers=["x-mock-status: 429"])
        self.assertEqual(st, 429)
        self.assertEqual(h["retry-after"], "7")
        self.assertEqual(sse_events(body), [("error", {
            "type": "error", "error": {
                "type": "rate_limit_error",
                "message": json.loads(self.curl(
                    "/v1/messages", data=MSG,
                    headers=["x-mock-status: 429"])[2])["error"]["message"]}
        })])
        st, _, body, _ = self.curl("/v1/messages", data=STREAM, headers=[
            "x-mock-stream-error: overloaded_error"])
        self.assertEqual(st, 200)
        ev = sse_events(body)
        self.assertEqual(ev[0][0], "message_start")
        self.assertEqual(ev[-1][0], "error")
        self.assertEqual(ev[-1][1]["error"]["type"], "overloaded_error")
        self.assertNotIn("message_stop", [n for n, _ in ev])

    def test_headers_none_sends_no_rate_limit_headers(self):
        st, h, _, _ = self.curl("/v1/messages", data=MSG,
                                headers=["x-mock-headers: none"])
        self.assertEqual(st, 200)
        self.assertEqual([k for k in h if k.startswith(P)], [])
        self.assertIn("request-id", h)

    def test_headers_config_replaces_the_set_and_null_removes(self):
        self.api.configure({"headers": {P + "unified-status": "rejected",
                                        P + "unified-5h-utilization": "1.2",
                                        P + "unified-7d-utilization": None}})
        _, h, _, _ = self.curl("/v1/messages", data=MSG)
        self.assertEqual(sorted(k for k in h if k.startswith(P)),
                         [P + "unified-5h-utilization",
                          P + "unified-status"])
        self.assertEqual(h[P + "unified-status"], "rejected")
        self.api.configure({"headers_update": {P + "unified-status": None,
                                               P + "unified-7d-reset": 5}})
        _, h, _, _ = self.curl("/v1/messages", data=MSG)
        self.assertEqual(sorted(k for k in h if k.startswith(P)),
                         [P + "unified-5h-utilization",
                          P + "unified-7d-reset"])
        self.api.configure({"headers": None})
        _, h, _, _ = self.curl("/v1/messages", data=MSG)
        self.assertEqual(len([k for k in h if k.startswith(P)]), 9)

    def test_request_defaults_apply_when_a_request_sets_no_control(self):
        self.api.configure({"request_defaults": {"x-mock-status": 529}})
        self.assertEqual(self.curl("/v1/messages", data=MSG)[0], 529)
        self.assertEqual(self.curl("/v1/messages", data=MSG, headers=[
            "x-mock-status: 200"])[0], 200)

    def test_chunked_and_large_request_bodies_are_read(self):
        plain = self.curl("/v1/messages", data=MSG)[2]
        st, _, body, _ = self.curl("/v1/messages", data=MSG, headers=[
            "Transfer-Encoding: chunked"])
        self.assertEqual(st, 200)
        self.assertEqual(body, plain)
        big = MSG[:-1] + b',"pad":"' + b"y" * (2 << 20) + b'"}'
        st, _, body, _ = self.curl("/v1/messages", data=big, headers=[
            "Expect: 100-continue"])
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["model"], "claude-opus-4-1")

    def test_parallel_transfers_are_all_served(self):
        out = tempfile.mkdtemp(prefix="rt-par-")
        try:
            argv = ["curl", "-sS", "--parallel", "--parallel-max", "16",
                    "-w", "%{http_code}\n"]
            for n in range(40):
                argv += ["-o", os.path.join(out, str(n)), "-d", MSG.decode(),
                         "-H", "x-mock-chunk: 64", self.api.url("/v1/messages")]
            p = run(argv, plain_env())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.split(), [b"200"] * 40)
            bodies = set()
            for n in range(40):
                with open(os.path.join(out, str(n)), "rb") as f:
                    bodies.add(f.read())
            self.assertEqual(len(bodies), 1)
            json.loads(bodies.pop())
        finally:
            shutil.rmtree(out, True)

    def test_count_tokens(self):
        st, h, body, _ = self.curl("/v1/messages/count_tokens", data=MSG)
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), {"input_tokens": 11})
        st, _, body, _ = self.curl("/v1/messages/count_tokens", data=MSG,
                                   headers=["x-mock-usage: 42,0,0,0"])
        self.assertEqual(json.loads(body), {"input_tokens": 42})

    def test_unknown_paths_and_bad_controls_get_error_bodies(self):
        st, _, body, _ = self.curl("/v1/nothing", data=MSG)
        self.assertEqual(st, 404)
        self.assertEqual(json.loads(body)["error"]["type"],
                         "not_found_error")
        st, _, body, _ = self.curl("/v1/messages", data=MSG,
                                   headers=["x-mock-chunk: 0"])
        self.assertEqual(st, 400)
        self.assertIn("x-mock-chunk", json.loads(body)["error"]["message"])
        st, _, body, _ = self.curl("/v1/messages", data=MSG,
                                   headers=["x-mock-usage: 1,2"])
        self.assertEqual(st, 400)

    def test_bad_config_is_rejected_and_changes_nothing(self):
        before = self.curl("/_mock/config")[2]
        for cfg in (b"[1]", b"{", b'{"usage":{"mode":"sideways"}}',
                    b'{"usage":{"mode":"429","retry_after":-1}}',
                    b'{"headers":{"bad name":"x"}}', b'{"nope":1}',
                    b'{"request_defaults":{"x-mock-chunk":"zero"}}'):
            st, _, body, _ = self.curl("/_mock/config", data=cfg)
            self.assertEqual(st, 400, cfg)
            self.assertFalse(json.loads(body)["ok"])
            self.assertTrue(json.loads(body)["error"])
        self.assertEqual(self.curl("/_mock/config")[2], before)

    def test_stats_count_requests_per_path_and_connections(self):
        self.curl("/v1/messages", data=MSG)
        self.curl("/v1/messages/count_tokens", data=MSG)
        # one curl, two transfers: one kept-alive connection
        before = self.api.stats()["connections"]
        run(["curl", "-sS", "-o", "/dev/null", "-o", "/dev/null",
             self.api.url("/v1/nothing"), self.api.url("/v1/nothing")],
            plain_env())
        s = self.api.stats()
        self.assertEqual(s["requests"]["/v1/messages"], 1)
        self.assertEqual(s["requests"]["/v1/messages/count_tokens"], 1)
        self.assertEqual(s["requests"]["/v1/nothing"], 2)
        # curl's one connection, and the one of stats() itself
        self.assertEqual(s["connections"] - before, 2)


class MockUsageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.api = MockAPI()
        cls.curl = Curl(cls.api)

    @classmethod
    def tearDownClass(cls):
        cls.curl.close()
        cls.api.close()

    def setUp(self):
        self.api.reset()

    def poll(self, token="tok-A", args=()):
        hs = ["anthropic-beta: oauth-2025-04-20"]
        if token is not None:
            hs.append("Authorization: Bearer " + token)
        return self.curl("/api/oauth/usage", *args, headers=hs)

    def test_default_body_has_the_real_shape(self):
        st, h, body, _ = self.poll()
        self.assertEqual(st, 200)
        doc = json.loads(body)
        for k in ("five_hour", "seven_day", "seven_day_sonnet"):
            self.assertEqual(set(doc[k]), {"utilization", "resets_at"})
            self.assertRegex(doc[k]["resets_at"],
                             r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00$")
        self.assertEqual(doc["five_hour"]["utilization"], 25.0)
        self.assertEqual(doc["seven_day"]["utilization"], 50.0)
        self.assertIsNone(doc["seven_day_oauth_apps"])
        self.assertIsNone(doc["seven_day_opus"])
        self.assertEqual(doc["extra_usage"], {
            "is_enabled": False, "monthly_limit": None,
            "used_credits": None, "utilization": None})
        known = {"five_hour", "seven_day", "seven_day_oauth_apps",
                 "seven_day_opus", "seven_day_sonnet", "extra_usage"}
        self.assertTrue(set(doc) - known, "an unknown key is included")
        # the poll and the headers agree on the 5-hour reset
        hdr = self.curl("/v1/messages", data=MSG)[1]
        from datetime import datetime
        r = datetime.fromisoformat(doc["five_hour"]["resets_at"])
        self.assertEqual(int(r.timestamp()),
                         int(hdr[P + "unified-5h-reset"]))

    def test_limits_mode_has_the_newer_shape(self):
        self.api.configure({"usage": {"mode": "limits"}})
        st, _, body, _ = self.poll()
        self.assertEqual(st, 200)
        doc = json.loads(body)
        self.assertIsNone(doc["five_hour"])
        self.assertIsNone(doc["seven_day"])
        kinds = [(x["kind"], x["percent"]) for x in doc["limits"]]
        self.assertIn(("session", 25.0), kinds)
        self.assertIn(("weekly_all", 50.0), kinds)
        self.assertIn(("monthly_wombat", 1.0), kinds)
        scoped = [x["scope"] for x in doc["limits"]
                  if x["kind"] == "weekly_scoped"]
        self.assertIn({"model": {"id": "claude-fable-5",
                                 "display_name": "Fable"}}, scoped)
        self.assertIn({"surface": {"display_name": "Claude Code"}}, scoped)
        self.assertEqual(doc["spend"]["used"], {
            "amount_minor": 1234, "currency": "USD", "exponent": 2})

    def test_token_check_and_poll_counters(self):
        self.api.configure({"usage": {"token": "tok-A"}})
        st, _, body, _ = self.poll("tok-B")
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(body)["type"], "error")
        self.assertEqual(json.loads(body)["error"]["type"],
                         "authentication_error")
        self.assertEqual(self.poll(None)[0], 401)
        self.assertEqual(self.poll("tok-A")[0], 200)
        s = self.api.stats()
        self.assertEqual((s["polls"], s["polls_token_ok"],
                          s["polls_beta_ok"]), (3, 1, 3))
        self.assertNotIn("tok-A", json.dumps(s))
        self.assertNotIn(b"tok-A", self.curl("/_mock/config")[2])
        self.assertNotIn("tok-A", self.api.log())

    def test_configured_body_is_returned_as_is(self):
        body = {"five_hour": {"utilization": 99.5, "resets_at": None},
                "seven_day": None}
        self.api.configure({"usage": {"body": body}})
        st, _, got, _ = self.poll()
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(got), body)

    def test_error_modes(self):
        self.api.configure({"usage": {"mode": "429", "retry_after": 3}})
        st, h, body, _ = self.poll()
        self.assertEqual((st, h["retry-after"]), (429, "3"))
        self.assertEqual(json.loads(body)["error"]["type"],
                         "rate_limit_error")
        self.api.configure({"usage": {"mode": "500"}})
        self.assertEqual(self.poll()[0], 500)
        self.api.configure({"usage": {"mode": "401"}})
        self.assertEqual(self.poll()[0], 401)
        self.api.configure({"usage": {"mode": "garbage"}})
        st, _, body, _ = self.poll()
        self.assertEqual(st, 200)
        self.assertRaises(ValueError, json.loads, body)
        self.api.configure({"usage": {"mode": "empty"}})
        st, h, body, _ = self.poll()
        self.assertEqual((st, body, h["content-length"]), (200, b"", "0"))
        self.api.configure({"usage": {"mode": "wrongshape"}})
        st, _, body, _ = self.poll()
        doc = json.loads(body)
        self.assertIsInstance(doc["five_hour"], str)
        self.assertNotIsInstance(doc["extra_usage"], dict)
        self.api.configure({"usage": {"mode": "huge",
                                      "huge_bytes": 3 << 20}})
        st, _, body, _ = self.poll()
        self.assertEqual(st, 200)
        self.assertGreaterEqual(len(body), 3 << 20)
        json.loads(body)
        self.assertEqual(self.api.stats()["polls"], 7)

    def test_reset_mode_closes_the_connection(self):
        self.api.configure({"usage": {"mode": "reset"}})
        st, _, _, p = self.poll()
        self.assertEqual(st, 0)
        self.assertIn(p.returncode, (52, 56))

    def test_timeout_mode_does_not_wedge_the_server(self):
        self.api.configure({"usage": {"mode": "timeout"}})
        slow = subprocess.Popen(
            ["curl", "-sS", "-o", "/dev/null", "-H",
             "Authorization: Bearer x", self.api.url("/api/oauth/usage")],
            env=plain_env(), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            t0 = time.monotonic()
            st, _, _, p = self.poll(args=("--max-time", "1"))
            self.assertEqual(p.returncode, 28)	# curl: timed out
            self.assertEqual(st, 0)
            self.assertLess(time.monotonic() - t0, 5)
            # the server still serves others while two polls hang
            self.assertEqual(self.curl("/v1/messages", data=MSG)[0], 200)
            self.assertIsNone(slow.poll())
        finally:
            slow.kill()
            slow.wait()


class MockTLSTest(unittest.TestCase):

    def test_https_with_the_generated_ca_and_keep_alive(self):
        with MockAPI(tls=True) as api:
            self.assertTrue(api.base.startswith("https://127.0.0.1:"))
            self.assertTrue(os.path.exists(api.cafile))
            c = Curl(api)
            try:
                st, _, body, _ = c("/v1/messages", data=STREAM)
                self.assertEqual(st, 200)
                self.assertEqual(sse_events(body)[-1][0], "message_stop")
                # a client that never starts its handshake stalls nobody
                idle = socket.create_connection(("127.0.0.1", api.port))
                try:
                    self.assertEqual(c("/v1/messages", data=MSG)[0], 200)
                finally:
                    idle.close()
                api.configure({"usage": {"mode": "500"}})
                self.assertEqual(c("/api/oauth/usage")[0], 500)
                # without the CA, curl refuses the certificate
                p = run(["curl", "-sS", "-o", "/dev/null",
                         api.url("/v1/messages")], plain_env())
                self.assertEqual(p.returncode, 60)
                p = run(["curl", "-sS", "--cacert", api.cafile, "-o",
                         "/dev/null", "-o", "/dev/null",
                         "https://localhost:%d/v1/nothing" % api.port,
                         "https://localhost:%d/v1/nothing" % api.port],
                        plain_env())
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(api.stats()["requests"]["/v1/nothing"], 2)
            finally:
                c.close()

    def test_pycurl_with_gnutls_accepts_the_certificate(self):
        if importlib.util.find_spec("pycurl") is None:
            self.skipTest("pycurl is not installed")
        code = ("import pycurl, io, sys\n"
                "b = io.BytesIO(); c = pycurl.Curl()\n"
                "c.setopt(c.URL, sys.argv[1]); c.setopt(c.CAINFO, sys.argv[2])\n"
                "c.setopt(c.POSTFIELDS, '{}'); c.setopt(c.WRITEDATA, b)\n"
                "c.perform(); print(c.getinfo(c.RESPONSE_CODE))\n")
        with MockAPI(tls=True) as api:
            p = run([PYTHON, "-c", code, api.url("/v1/messages"),
                     api.cafile], plain_env())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.strip(), b"200")


class MockProcessTest(unittest.TestCase):

    def test_sigterm_stops_the_mock_promptly_with_a_request_in_flight(self):
        api = MockAPI()
        try:
            api.configure({"usage": {"mode": "timeout"}})
            slow = subprocess.Popen(["curl", "-sS", "-o", "/dev/null",
                                     api.url("/api/oauth/usage")],
                                    env=plain_env(),
                                    stderr=subprocess.DEVNULL)
            time.sleep(0.3)
            t0 = time.monotonic()
            api.proc.send_signal(signal.SIGTERM)
            rc = api.proc.wait(10)
            self.assertEqual(rc, 0)
            self.assertLess(time.monotonic() - t0, 3)
            slow.wait(10)
            self.assertNotEqual(slow.returncode, 0)
        finally:
            api.close()

    def test_only_the_port_is_printed_on_stdout(self):
        p = subprocess.Popen([PYTHON, MOCK], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        try:
            port = int(p.stdout.readline())
            run(["curl", "-sS", "-o", "/dev/null", "-d", "{}",
                 "http://127.0.0.1:%d/v1/messages" % port], plain_env())
            p.send_signal(signal.SIGINT)
            rest = p.stdout.read()
            self.assertEqual(p.wait(10), 0)
            self.assertEqual(rest, b"")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()

    def test_bad_tls_files_fail_with_a_message(self):
        p = run([PYTHON, MOCK, "--tls", "/nonexistent.pem",
                 "/nonexistent.key"], plain_env(), timeout=20)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"cannot load", p.stderr)


class ReceiverTest(unittest.TestCase):

    def setUp(self):
        self.rx = Receiver()

    def tearDown(self):
        self.rx.close()

    def test_decodes_a_valid_datagram(self):
        d = [0.0] * 8
        d[0], d[1] = 0.25, 0.5
        i = [0] * 19
        i[0], i[18] = 1795892400, 7
        present = (1 << 0) | (1 << 1) | (1 << RTP_D_COUNT) | \
            (1 << (RTP_D_COUNT + 18))
        send(self.rx.path, pack_event(flags=0x3, seq=4, dropped=2,
                                      present=present, d=d, i=i,
                                      status_5h=2, claim=4,
                                      overage_reason=b"org_level"))
        ev, = self.rx.events(1)
        self.assertEqual(ev["pid"], os.getpid())
        self.assertEqual(ev["sender_pid"], os.getpid())
        self.assertEqual(ev["sender_uid"], os.getuid())
        self.assertEqual((ev["seq"], ev["dropped"]), (4, 2))
        self.assertEqual((ev["curl_code"], ev["http_status"]), (0, 200))
        self.assertEqual(ev["method"], "POST")
        self.assertEqual(ev["usage_state"], "ok")
        self.assertEqual((ev["input_tokens"], ev["output_tokens"],
                          ev["cache_creation_input_tokens"],
                          ev["cache_read_input_tokens"]), (11, 22, 3, 5))
        self.assertEqual(ev["model"], "claude-sonnet-4-5")
        self.assertEqual(ev["host"], "127.0.0.1:1")
        self.assertEqual(ev["path"], "/v1/messages")
        self.assertEqual(ev["prog"], "curl")
        self.assertEqual(ev["request_id"], "req_1")
        self.assertEqual(ev["unified_status"], "allowed")
        self.assertEqual(ev["status_5h"], "allowed_warning")
        self.assertEqual(ev["status_7d"], "absent")
        self.assertEqual(ev["claim"], "seven_day_sonnet")
        self.assertEqual(ev["overage_reason"], "org_level")
        self.assertEqual(ev["flags"], ["stream", "tls"])
        self.assertEqual((ev["util_5h"], ev["util_7d"]), (0.25, 0.5))
        self.assertEqual((ev["reset_5h"], ev["retry_after"]),
                         (1795892400, 7))
        for absent in ("util_7d_sonnet", "reset_7d", "req_limit",
                       "fallback_pct"):
            self.assertNotIn(absent, ev)

    def test_reports_invalid_datagrams_with_the_reason(self):
        good = pack_event()
        bad_string = bytearray(good)
        bad_string[296:296 + 64] = b"x" * 64	# model, no NUL
        cases = [
            (good[:-1], "size"),
            (good + b"\0", "size"),
            (b"", "size"),
            (pack_event(magic=0x12345678), "magic"),
            (pack_event(version=2), "version"),
            (pack_event(method=99), "field"),
            (pack_event(usage_state=0), "field"),	# tokens without usage
            (pack_event(flags=0x100), "field"),
            (pack_event(model=b"bad\x01model"), "string"),
            (bytes(bad_string), "string"),
        ]
        for data, _ in cases:
            send(self.rx.path, data)
        got = self.rx.events(len(cases))
        self.assertEqual([g.get("invalid") for g in got],
                         [r for _, r in cases])
        self.assertEqual(got[1]["len"], EVENT_SIZE + 1)
        # still alive and decoding
        send(self.rx.path, pack_event(seq=9))
        self.assertEqual(self.rx.events(1)[0]["seq"], 9)

    def test_many_datagrams_in_a_burst_all_arrive_in_order(self):
        for n in range(1, 501):
            send(self.rx.path, pack_event(seq=n))
        got = self.rx.events(500)
        self.assertEqual([g["seq"] for g in got], list(range(1, 501)))

    def test_events_fails_on_too_few_and_too_many(self):
        with self.assertRaises(AssertionError):
            self.rx.events(1, timeout=0.3)
        send(self.rx.path, pack_event(seq=1))
        send(self.rx.path, pack_event(seq=2))
        with self.assertRaises(AssertionError) as cm:
            self.rx.events(1)
        self.assertIn("1 more", str(cm.exception))
        self.assertEqual(self.rx.all(), [])

    def test_sigterm_stops_it_and_removes_the_socket(self):
        path = self.rx.path
        self.rx.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.rx.proc.wait(5), 0)
        self.assertFalse(os.path.exists(path))

    def test_a_stale_socket_path_is_replaced(self):
        d = tempfile.mkdtemp(prefix="rt-stale-")
        path = os.path.join(d, "s.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.close()
        p = subprocess.Popen([RECEIVER, path], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            for _ in range(200):
                try:
                    send(path, pack_event(seq=3))
                    break
                except (ConnectionRefusedError, FileNotFoundError):
                    time.sleep(0.02)
            line = p.stdout.readline()
            self.assertEqual(json.loads(line)["seq"], 3)
        finally:
            p.terminate()
            p.wait(5)
            p.stdout.close()
            p.stderr.close()
            os.rmdir(d)

    def test_usage_errors(self):
        p = run([RECEIVER], plain_env())
        self.assertEqual(p.returncode, 2)
        p = run([RECEIVER, "/tmp/" + "x" * 200], plain_env())
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"too long", p.stderr)


class HarnessTest(unittest.TestCase):

    def test_shim_env(self):
        old = os.environ.get("LD_PRELOAD")
        os.environ["LD_PRELOAD"] = "libother.so"
        os.environ["RATETAP_DISABLE"] = "1"
        try:
            with MockAPI() as api, Receiver() as rx:
                env = shim_env(api, rx, RATETAP_DEBUG=1, HOME=None)
                self.assertEqual(env["LD_PRELOAD"],
                                 os.path.join(BUILD, "libratetap.so") +
                                 ":libother.so")
                self.assertEqual(env["RATETAP_SOCKET"], rx.path)
                self.assertEqual(env["RATETAP_HOSTS"], api.hostport)
                self.assertEqual(env["RATETAP_DEBUG"], "1")
                self.assertNotIn("RATETAP_DISABLE", env)
                self.assertNotIn("HOME", env)
                nowhere = shim_env(api, None)["RATETAP_SOCKET"]
                self.assertFalse(os.path.exists(nowhere))
                self.assertTrue(os.path.isdir(os.path.dirname(nowhere)))
        finally:
            del os.environ["RATETAP_DISABLE"]
            if old is None:
                del os.environ["LD_PRELOAD"]
            else:
                os.environ["LD_PRELOAD"] = old

    def test_run_fails_the_test_on_timeout(self):
        t0 = time.monotonic()
        with self.assertRaises(AssertionError) as cm:
            run(["sleep", "30"], plain_env(), timeout=0.5)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn("did not finish", str(cm.exception))
        p = run(["cat"], plain_env(), input=b"abc")
        self.assertEqual((p.returncode, p.stdout), (0, b"abc"))


@unittest.skipUnless(os.access(DAEMON, os.X_OK), "build/ratetapd not built")
class DaemonHarnessTest(unittest.TestCase):

    def test_start_status_restart_stop(self):
        with MockAPI() as api:
            api.configure({"usage": {"token": "tok-D"}})
            with Daemon(api, token="tok-D") as d:
                self.assertTrue(os.path.exists(d.control_path))
                self.assertTrue(os.path.exists(d.ingest_path))
                st = d.status()
                self.assertIn("windows", st)
                d.wait_for(lambda s: s["poll"]["last_ok"] is not None,
                           timeout=15)
                self.assertGreaterEqual(api.stats()["polls_token_ok"], 1)
                # the ingest path is the daemon's: an event is counted
                send(d.ingest_path, pack_event())
                d.wait_for(lambda s: s["requests"]["total"] == 1)
                self.assertEqual(d.stop(), 0)
                self.assertFalse(d.running())
                d.start()
                self.assertIn("windows", d.status())
                self.assertEqual(d.stop(signal.SIGINT), 0)
                self.assertNotIn("tok-D", d.log())
                env = d.env
                self.assertNotIn("RATETAP_OAUTH_TOKEN", env)
                self.assertEqual(env["RATETAP_SOCKET"], d.ingest_path)
                self.assertEqual(env["RATETAP_HOSTS"], api.hostport)

    def test_without_a_token_the_users_own_is_not_found(self):
        with MockAPI() as api:
            with Daemon(api, poll_interval=1) as d:
                self.assertEqual(d.daemon_env["HOME"], d.home)
                time.sleep(1.5)
                self.assertTrue(d.running())
                self.assertEqual(api.stats()["polls_token_ok"], 0)
                d.write_credentials("tok-file")
                api.configure({"usage": {"token": "tok-file"}})
                d.wait_for(lambda s: s["poll"]["last_ok"] is not None,
                           timeout=15)
                self.assertGreaterEqual(api.stats()["polls_token_ok"], 1)

    def test_wait_for_fails_with_the_last_status(self):
        with Daemon() as d:
            with self.assertRaises(AssertionError) as cm:
                d.wait_for(lambda s: s["no such key"], timeout=0.3)
            self.assertIn("windows", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
