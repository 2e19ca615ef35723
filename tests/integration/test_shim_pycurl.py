"""python3 with pycurl under the shim.

pycurl is linked to libcurl-gnutls.so.4 and loaded RTLD_LOCAL: its curl_*
references bind to the preloaded shim, but dlsym(RTLD_NEXT, ...) from the
shim finds no libcurl, so the shim must forward each call to pycurl's own
libcurl (found through pycurl's DT_NEEDED).  A shim that gets this wrong
crashes the interpreter."""

import unittest

from harness import PYTHON, MockAPI, Receiver, run, shim_env
from daemontest import check_event

MSG = '{"model":"claude-sonnet-4-5","max_tokens":64,' \
      '"messages":[{"role":"user","content":"hi"}]}'
STREAM = '{"model":"claude-opus-4-1","stream":true,"max_tokens":64,' \
         '"messages":[{"role":"user","content":"hi"}]}'

# argv: MODE URL BODY [CAINFO]; MODE is "wf" (a WRITEFUNCTION collecting
# the body, printed at the end), "stdout" (no WRITEFUNCTION: libcurl writes
# to stdout itself) or "multi:N" (N handles on one CurlMulti, bodies printed
# in handle order).
SCRIPT = r'''
import io, sys, pycurl
mode, url, body = sys.argv[1:4]
cainfo = sys.argv[4] if len(sys.argv) > 4 else None

def handle(buf=None):
    c = pycurl.Curl()
    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.HTTPHEADER, ["content-type: application/json"])
    c.setopt(pycurl.POSTFIELDS, body)
    if cainfo:
        c.setopt(pycurl.CAINFO, cainfo)
    if buf is not None:
        c.setopt(pycurl.WRITEFUNCTION, buf.write)
    return c

if mode == "wf":
    buf = io.BytesIO()
    c = handle(buf)
    c.perform()
    code = c.getinfo(pycurl.RESPONSE_CODE)
    c.close()
    sys.stdout.buffer.write(buf.getvalue())
    sys.stdout.buffer.write(b"\n%d\n" % code)
elif mode == "stdout":
    sys.stdout.flush()
    c = handle()
    c.perform()
    c.close()
elif mode.startswith("multi:"):
    n = int(mode[6:])
    m = pycurl.CurlMulti()
    bufs = [io.BytesIO() for _ in range(n)]
    hs = [handle(b) for b in bufs]
    for h in hs:
        m.add_handle(h)
    running = n
    while running:
        ret, running = m.perform()
        if running:
            m.select(1.0)
    left, ok, bad = m.info_read()
    for h in hs:
        m.remove_handle(h)
        h.close()
    m.close()
    for b in bufs:
        sys.stdout.buffer.write(b.getvalue())
    sys.stdout.buffer.write(b"\nfailed %d\n" % len(bad))
else:
    sys.exit("bad mode")
'''


class PycurlTest(unittest.TestCase):

    def run_py(self, api, env, mode, body=MSG):
        argv = [PYTHON, "-c", SCRIPT, mode, api.url("/v1/messages"), body]
        if api.cafile:
            argv.append(api.cafile)
        p = run(argv, env, timeout=60)
        self.assertEqual(p.returncode, 0,
                         "python exited %d (a negative status is a signal)"
                         "; stderr:\n%s" % (p.returncode,
                                            p.stderr.decode(errors="replace")))
        return p

    def reference(self, api, mode, body=MSG):
        """The same script without the shim."""
        env = shim_env(api, None, LD_PRELOAD=None)
        return self.run_py(api, env, mode, body).stdout

    def check_event(self, ev, api, model="claude-sonnet-4-5", stream=False):
        check_event(self, ev, api, model, stream)
        self.assertEqual(ev["method"], "POST")
        self.assertEqual(ev["unified_status"], "allowed")
        # libcurl's own TLS connection is the libcurl layer's: one event
        self.assertNotIn("tls_tap", ev["flags"], ev)

    def one(self, tls, mode, body=MSG, model="claude-sonnet-4-5",
            stream=False):
        with MockAPI(tls=tls) as api, Receiver() as rx:
            p = self.run_py(api, shim_env(api, rx), mode, body)
            ev = rx.events(1)
            self.check_event(ev[0], api, model, stream)
            self.assertEqual(p.stdout, self.reference(api, mode, body))
            self.assertIn(b'"usage"', p.stdout)

    def test_writefunction_over_http(self):
        self.one(False, "wf")

    def test_writefunction_over_https(self):
        self.one(True, "wf")

    def test_default_stdout_over_http(self):
        self.one(False, "stdout")

    def test_default_stdout_over_https(self):
        self.one(True, "stdout")

    def test_stream_with_writefunction(self):
        self.one(True, "wf", STREAM, "claude-opus-4-1", True)

    def test_curlmulti_with_three_handles(self):
        for tls in (False, True):
            with self.subTest(tls=tls), MockAPI(tls=tls) as api, \
                    Receiver() as rx:
                p = self.run_py(api, shim_env(api, rx), "multi:3")
                evs = rx.events(3)
                for ev in evs:
                    self.check_event(ev, api)
                self.assertEqual(len({ev["seq"] for ev in evs}), 3)
                self.assertTrue(p.stdout.endswith(b"\nfailed 0\n"))
                self.assertEqual(p.stdout, self.reference(api, "multi:3"))

    def test_untapped_host_sends_nothing(self):
        with MockAPI() as api, Receiver() as rx:
            env = shim_env(api, rx, RATETAP_HOSTS="api.anthropic.com")
            p = self.run_py(api, env, "wf")
            self.assertEqual(rx.all(0.5), [])
            self.assertEqual(p.stdout, self.reference(api, "wf"))

    def test_no_receiver_does_not_hang(self):
        with MockAPI() as api:
            p = self.run_py(api, shim_env(api, None), "multi:2")
            self.assertEqual(p.stdout, self.reference(api, "multi:2"))


if __name__ == "__main__":
    unittest.main()
