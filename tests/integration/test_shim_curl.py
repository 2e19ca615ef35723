"""The shim under the curl command-line tool, over HTTP and HTTPS.

Every test runs the same curl command line twice, without and with the
shim, and requires byte-identical output; under the shim the receiver must
get exactly the expected events.  HeaderTeeTest checks the header tee:
curl's header callback gets the same lines, and only the final response's
headers (after a redirect, after 100 Continue) reach the event.
"""

import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
import unittest

from harness import MockAPI, Receiver, shim_env, run, _clean_environ

CURL = shutil.which("curl")


def body(model=None, stream=False, text="Hello"):
    doc = {"model": model or "claude-sonnet-4-5", "max_tokens": 64,
           "messages": [{"role": "user", "content": text}]}
    if stream:
        doc["stream"] = True
    return json.dumps(doc)


def plain_env():
    """The environment of the reference run: no shim at all."""
    env = _clean_environ()
    env.pop("LD_PRELOAD", None)
    return env


class Transfer:
    """One URL of a curl command line and the event it must produce."""

    def __init__(self, path="/v1/messages", data=None, headers=(),
                 host=None, expect=None):
        self.path = path
        self.data = data
        self.headers = list(headers)
        self.host = host		# None: the mock's tapped host:port
        self.expect = expect		# dict of event fields, None: no event

    def args(self, api):
        scheme = "https" if api.tls else "http"
        host = self.host or api.hostport
        a = []
        for h in self.headers:
            a += ["-H", h]
        if self.data is not None:
            a += ["--data-binary", self.data]
        return a + ["%s://%s%s" % (scheme, host, self.path)]


def curl_argv(api, transfers, extra=()):
    argv = [CURL, "-sS"] + list(extra)
    if api.cafile:
        argv += ["--cacert", api.cafile]
    first = True
    for t in transfers:
        if not first:
            argv.append("--next")
            if api.cafile:
                argv += ["--cacert", api.cafile]
        argv += t.args(api)
        first = False
    return argv


USAGE_DEFAULT = {"input_tokens": 11, "output_tokens": 22,
                 "cache_creation_input_tokens": 3,
                 "cache_read_input_tokens": 5}
NO_USAGE = {"input_tokens": 0, "output_tokens": 0,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def serial_transfers():
    return [
        Transfer(data=body(), expect=dict(
            http_status=200, usage_state="ok", model="claude-sonnet-4-5",
            path="/v1/messages", flags=[], **USAGE_DEFAULT)),
        Transfer(data=body("claude-opus-4-1", stream=True),
                 headers=["x-mock-usage: 100,200,30,40"],
                 expect=dict(http_status=200, usage_state="ok",
                             model="claude-opus-4-1", flags=["stream"],
                             input_tokens=100, output_tokens=200,
                             cache_creation_input_tokens=30,
                             cache_read_input_tokens=40)),
        Transfer(path="/v1/messages/count_tokens", data=body(),
                 expect=dict(http_status=200, usage_state="none",
                             path="/v1/messages/count_tokens", flags=[],
                             **NO_USAGE)),
        Transfer(data=body(), headers=["x-mock-status: 429"],
                 expect=dict(http_status=429, usage_state="none",
                             retry_after=7, flags=["error_body"],
                             **NO_USAGE)),
        Transfer(data=body(), headers=["x-mock-status: 529"],
                 expect=dict(http_status=529, usage_state="none",
                             flags=["error_body"], **NO_USAGE)),
        Transfer(data=body("claude-haiku-4-5"),
                 headers=["x-mock-chunk: 1"],
                 expect=dict(http_status=200, usage_state="ok",
                             model="claude-haiku-4-5", flags=[],
                             **USAGE_DEFAULT)),
        Transfer(data=body(stream=True),
                 headers=["x-mock-chunk: 1", "x-mock-usage: 5,6,7,8"],
                 expect=dict(http_status=200, usage_state="ok",
                             flags=["stream"], input_tokens=5,
                             output_tokens=6, cache_creation_input_tokens=7,
                             cache_read_input_tokens=8)),
        Transfer(data=body(), headers=["x-mock-adversarial: 1",
                                       "x-mock-usage: 1,2,0,0"],
                 expect=dict(http_status=200, usage_state="ok",
                             model="claude-sonnet-4-5", input_tokens=1,
                             output_tokens=2,
                             cache_creation_input_tokens=0,
                             cache_read_input_tokens=0)),
        Transfer(data=body(stream=True), headers=["x-mock-adversarial: 1",
                                                  "x-mock-chunk: 3"],
                 expect=dict(http_status=200, usage_state="ok",
                             flags=["stream"], **USAGE_DEFAULT)),
        # same server, but a host name that is not tapped: no event
        Transfer(data=body(), host=None, expect=None),
    ]


@unittest.skipUnless(CURL, "curl is not installed")
class ShimCurlTest(unittest.TestCase):

    def check_event(self, ev, want, api):
        self.assertNotIn("invalid", ev)
        self.assertEqual(ev["prog"], "curl")
        self.assertEqual(ev["host"], api.hostport)
        self.assertEqual(ev["method"], "POST")
        self.assertEqual(ev["curl_code"], 0)
        self.assertGreater(ev["pid"], 0)
        # libcurl's own TLS connection is the libcurl layer's: one event
        self.assertNotIn("tls_tap", ev["flags"], ev)
        flags = sorted(f for f in ev["flags"] if f != "tls")
        self.assertEqual("tls" in ev["flags"], api.tls)
        for k, v in want.items():
            if k == "flags":
                self.assertEqual(flags, sorted(v), ev)
            else:
                self.assertEqual(ev.get(k), v, "%s in %s" % (k, ev))
        if want["http_status"] < 400 or want.get("retry_after"):
            # the mock's default rate-limit headers
            self.assertEqual(ev["unified_status"], "allowed")
            self.assertEqual(ev["claim"], "five_hour")
            self.assertEqual(ev["util_5h"], 0.25)
            self.assertEqual(ev["util_7d"], 0.5)
            self.assertEqual(ev["req_limit"], 50)
            self.assertEqual(ev["req_remaining"], 49)
            self.assertGreater(ev["reset_5h"], time.time())
            self.assertGreater(ev["reset_7d"], ev["reset_5h"])
            self.assertGreater(ev["req_reset"], 1700000000)
            self.assertTrue(ev["request_id"].startswith("req_mock_"))

    def reference(self, argv, cwd=None):
        p = run(argv, plain_env(), cwd=cwd)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def serial(self, tls):
        with MockAPI(tls=tls) as api, Receiver() as rx:
            ts = serial_transfers()
            ts[-1].host = "localhost:%d" % api.port
            argv = curl_argv(api, ts)
            ref = self.reference(argv)
            p = run(argv, shim_env(api, rx))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr, b"")
            self.assertEqual(p.stdout, ref.stdout)
            want = [t.expect for t in ts if t.expect is not None]
            evs = rx.events(len(want))
            for ev, w in zip(evs, want):
                self.check_event(ev, w, api)
            self.assertEqual([e["seq"] for e in evs],
                             list(range(1, len(want) + 1)))
            self.assertEqual(len({e["pid"] for e in evs}), 1)

    def test_serial_http(self):
        self.serial(False)

    def test_serial_https(self):
        self.serial(True)

    def parallel(self, tls):
        models = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5",
                  "claude-sonnet-4-5"]
        with MockAPI(tls=tls) as api, Receiver() as rx, \
                tempfile.TemporaryDirectory() as d:
            ts = []
            for i, m in enumerate(models):
                ts.append(Transfer(data=body(m, stream=i % 2 == 1,
                                             text="p%d" % i),
                                   headers=["x-mock-chunk: 7",
                                            "x-mock-delay-ms: 5"]))
            ts.append(Transfer(path="/v1/messages/count_tokens",
                               data=body(text="count")))
            outs = []
            argv = [CURL, "-sS", "--parallel", "--parallel-max", "5"]
            for i, t in enumerate(ts):
                if api.cafile:
                    argv += ["--cacert", api.cafile]
                argv += t.args(api) + ["-o", "out%d" % i]
                outs.append(os.path.join(d, "out%d" % i))
                if i + 1 < len(ts):
                    argv.append("--next")
            self.reference(argv, cwd=d)
            ref = [open(o, "rb").read() for o in outs]
            for o in outs:
                os.unlink(o)
            p = run(argv, shim_env(api, rx), cwd=d)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, b"")
            got = [open(o, "rb").read() for o in outs]
            self.assertEqual(got, ref)
            evs = rx.events(len(ts))
            msgs = sorted((e["model"], e["output_tokens"]) for e in evs
                          if e["path"] == "/v1/messages")
            self.assertEqual(msgs, sorted((m, 22) for m in models))
            for e in evs:
                self.assertEqual(e["http_status"], 200)
                self.assertEqual(e["prog"], "curl")
                self.assertEqual("tls" in e["flags"], tls)
                self.assertNotIn("no_done", e["flags"])
                if e["path"] == "/v1/messages":
                    self.assertEqual(e["usage_state"], "ok")
                    self.assertEqual(e["input_tokens"], 11)
                else:
                    self.assertEqual(e["path"], "/v1/messages/count_tokens")
                    self.assertEqual(e["usage_state"], "none")
            streams = [e for e in evs if "stream" in e["flags"]]
            self.assertEqual(len(streams), 2)

    def test_parallel_http(self):
        self.parallel(False)

    def test_parallel_https(self):
        self.parallel(True)

    def test_output_file(self):
        with MockAPI(tls=True) as api, Receiver() as rx, \
                tempfile.TemporaryDirectory() as d:
            t = Transfer(data=body(stream=True),
                         headers=["x-mock-pad: 200000"])
            argv = curl_argv(api, [t]) + ["-o", "body.out"]
            self.reference(argv, cwd=d)
            ref = open(os.path.join(d, "body.out"), "rb").read()
            os.unlink(os.path.join(d, "body.out"))
            p = run(argv, shim_env(api, rx), cwd=d)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, b"")
            self.assertEqual(open(os.path.join(d, "body.out"), "rb").read(),
                             ref)
            self.assertGreater(len(ref), 200000)
            ev = rx.events(1)[0]
            self.assertEqual(ev["usage_state"], "ok")
            self.assertEqual(ev["output_tokens"], 22)
            self.assertIn("stream", ev["flags"])

    def test_disabled_sends_nothing(self):
        with MockAPI() as api, Receiver() as rx:
            argv = curl_argv(api, [Transfer(data=body()),
                                   Transfer(data=body(stream=True))])
            ref = self.reference(argv)
            p = run(argv, shim_env(api, rx, RATETAP_DISABLE=1))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, ref.stdout, p.stderr)
            self.assertEqual(p.stderr, b"")
            rx.events(0)

    def test_disabled_shim_takes_itself_out_of_the_calls(self):
        # Off, the shim points the slots that interposition gave its hooks
        # back at the real functions: curl's curl_* calls and libcurl's
        # SSL_* ones no longer pass through it, over HTTP and HTTPS.
        for tls in (False, True):
            with MockAPI(tls=tls) as api, Receiver() as rx:
                argv = curl_argv(api, [Transfer(data=body())])
                ref = self.reference(argv)
                p = run(argv, shim_env(api, rx, RATETAP_DISABLE=1,
                                       RATETAP_DEBUG=1))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, ref.stdout, p.stderr)
                err = p.stderr.decode()
                self.assertRegex(err, r"restored \d+ GOT entries in the "
                                 r"program to the real functions")
                self.assertRegex(err, r"restored \d+ GOT entries in "
                                 r"\S*libcurl[^ ]*\.so[^ ]* to the real")
                self.assertNotIn("patched", err)
                rx.events(0)

    def test_default_hosts_do_not_tap_the_mock(self):
        with MockAPI() as api, Receiver() as rx:
            argv = curl_argv(api, [Transfer(data=body())])
            ref = self.reference(argv)
            p = run(argv, shim_env(api, rx, RATETAP_HOSTS=None))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, ref.stdout, p.stderr)
            rx.events(0)

    def test_no_receiver_neither_hangs_nor_changes_output(self):
        for tls in (False, True):
            with MockAPI(tls=tls) as api:
                ts = serial_transfers()
                ts[-1].host = "localhost:%d" % api.port
                argv = curl_argv(api, ts)
                ref = self.reference(argv)
                t0 = time.monotonic()
                p = run(argv, shim_env(api, None), timeout=30)
                self.assertLess(time.monotonic() - t0, 20)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr, b"")
                self.assertEqual(p.stdout, ref.stdout)

    def test_debug_log_goes_to_stderr_only(self):
        with MockAPI() as api, Receiver() as rx:
            argv = curl_argv(api, [Transfer(data=body(),
                                            headers=["x-api-key: sk-secret"])])
            ref = self.reference(argv)
            p = run(argv, shim_env(api, rx, RATETAP_DEBUG=1))
            self.assertEqual(p.stdout, ref.stdout)
            lines = p.stderr.decode().splitlines()
            self.assertTrue(lines)
            for line in lines:
                self.assertTrue(line.startswith("ratetap: "), line)
            self.assertNotIn(b"sk-secret", p.stderr)
            self.assertNotIn(b"Hello", p.stderr)
            rx.events(1)


class Redirector:
    """A local HTTP server answering every POST with a 307 to target, with
    rate-limit headers and a request-id of its own that must not count."""

    def __init__(self, target):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                self.rfile.read(n)
                self.send_response(307)
                self.send_header("location", target)
                self.send_header("request-id", "req_redirect")
                self.send_header("anthropic-ratelimit-unified-5h-"
                                 "utilization", "0.99")
                self.send_header("anthropic-ratelimit-unified-7d-status",
                                 "rejected")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.hostport = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def header_lines(dump):
    """The header lines curl dumped (-D), Date left out: the second it was
    sent at is not part of what is compared."""
    return [l for l in dump.decode(errors="replace").split("\r\n")
            if not l.lower().startswith("date:")]


@unittest.skipUnless(CURL, "curl is not installed")
class HeaderTeeTest(unittest.TestCase):
    """The shim reads the response headers through a tee of curl's header
    callback: curl must get exactly the same header lines, and the event
    carries the headers of the final response only."""

    def run_both(self, api, argv, env, d):
        """argv without and with the shim, against a freshly reset mock
        (the same request-ids both times); returns (reference, shimmed),
        each (process, header dump)."""
        out = []
        for e in (plain_env(), env):
            api.reset()
            dump = os.path.join(d, "headers.txt")
            p = run(argv + ["-D", dump], e)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(dump, "rb") as f:
                out.append((p, f.read()))
            os.unlink(dump)
        return out

    def test_curl_gets_the_same_headers_and_the_event_their_values(self):
        for tls in (False, True):
            with self.subTest(tls=tls), MockAPI(tls=tls) as api, \
                    Receiver() as rx, tempfile.TemporaryDirectory() as d:
                argv = curl_argv(api, [Transfer(data=body())])
                # -i: the headers go to the body's writer as well
                for extra in ([], ["-i"]):
                    (ref, rdump), (p, dump) = self.run_both(
                        api, argv + extra, shim_env(api, rx), d)
                    self.assertEqual(header_lines(dump),
                                     header_lines(rdump))
                    if extra:
                        self.assertEqual(
                            header_lines(p.stdout.split(b"\r\n\r\n")[0]),
                            header_lines(ref.stdout.split(b"\r\n\r\n")[0]))
                        self.assertEqual(p.stdout.split(b"\r\n\r\n")[1:],
                                         ref.stdout.split(b"\r\n\r\n")[1:])
                    else:
                        self.assertEqual(p.stdout, ref.stdout)
                    ev = rx.events(1)[0]
                    m = re.search(r"request-id: (\S+)",
                                  dump.decode(errors="replace"))
                    self.assertIsNotNone(m, dump)
                    self.assertEqual(ev["request_id"], m.group(1))
                    self.assertEqual(ev["util_5h"], 0.25)
                    self.assertEqual(ev["usage_state"], "ok")
                    self.assertNotIn("headers_unread", ev["flags"])

    def test_only_the_final_response_counts_after_a_redirect(self):
        with MockAPI() as api, Receiver() as rx, \
                Redirector(api.url("/v1/messages")) as red, \
                tempfile.TemporaryDirectory() as d:
            argv = [CURL, "-sS", "-L", "--data-binary", body(),
                    "http://%s/v1/messages" % red.hostport]
            env = shim_env(api, rx, RATETAP_HOSTS="%s,%s" % (
                red.hostport, api.hostport))
            (ref, rdump), (p, dump) = self.run_both(api, argv, env, d)
            self.assertEqual(p.stdout, ref.stdout)
            self.assertEqual(header_lines(dump), header_lines(rdump))
            self.assertIn(b"req_redirect", dump)	# curl saw both
            ev = rx.events(1)[0]
            # reported under the host it began with, read from the last
            self.assertEqual(ev["host"], red.hostport)
            self.assertEqual(ev["http_status"], 200)
            self.assertEqual(ev["usage_state"], "ok")
            self.assertTrue(ev["request_id"].startswith("req_mock_"), ev)
            self.assertEqual(ev["util_5h"], 0.25)
            self.assertEqual(ev["status_7d"], "absent")

    def test_a_100_continue_before_the_response_is_left_out(self):
        with MockAPI() as api, Receiver() as rx, \
                tempfile.TemporaryDirectory() as d:
            argv = curl_argv(api, [Transfer(
                data=body(text="x" * 4096),
                headers=["Expect: 100-continue"])])
            (ref, rdump), (p, dump) = self.run_both(
                api, argv, shim_env(api, rx), d)
            self.assertIn(b"100 Continue", dump)
            self.assertEqual(header_lines(dump), header_lines(rdump))
            self.assertEqual(p.stdout, ref.stdout)
            ev = rx.events(1)[0]
            self.assertEqual(ev["http_status"], 200)
            self.assertEqual(ev["usage_state"], "ok")
            self.assertTrue(ev["request_id"].startswith("req_mock_"), ev)
            self.assertEqual(ev["util_5h"], 0.25)


if __name__ == "__main__":
    unittest.main()
