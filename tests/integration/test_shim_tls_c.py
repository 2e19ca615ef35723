"""The shim's TLS layer under ratetap's own TLS clients (tests/client/rt-tls.c,
built with OpenSSL and with GnuTLS) and python3's urllib, over HTTPS to the
mock API.

The mock's certificate names localhost and 127.0.0.1: a connection to
"localhost" sends it as SNI, one to 127.0.0.1 sends none (the peer address
decides).  Each run is compared byte for byte with the same run without the
shim, and the daemon must count exactly the requests made (`ratetap status
--json`).
"""

import json
import os
import subprocess
import time
import unittest

from harness import (MockAPI, Receiver, Daemon, shim_env, run, BUILD, CLI,
                     _clean_environ)

OSSL = os.path.join(BUILD, "tests", "rt-tls-ossl")
GNUTLS = os.path.join(BUILD, "tests", "rt-tls-gnutls")
PYTHON = "/usr/bin/python3"
GRACE = 0.5     # seconds to wait for an event that must not come

URLLIB = r"""
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 5,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()
for url in sys.argv[2:]:
    req = urllib.request.Request(url, data=body,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, context=ctx) as r:
        sys.stdout.write(r.read().decode() + "\n")
"""


def plain_env():
    env = _clean_environ()
    env.pop("LD_PRELOAD", None)
    return env


def hosts(api):
    return "localhost:%d,127.0.0.1:%d" % (api.port, api.port)


class ShimTlsCTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        for p in (OSSL, GNUTLS):
            if not os.access(p, os.X_OK):
                raise AssertionError("%s is not built (make test-progs)" % p)

    def setUp(self):
        self.api = MockAPI(tls=True)
        self.addCleanup(self.api.close)
        self.d = Daemon(api=self.api)
        self.addCleanup(self.d.close)

    def status(self):
        p = run([CLI, "status", "--json"], self.d.env)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def counted(self, n, prog=None, of_prog=None):
        """The daemon counts exactly n requests in all, of_prog of them
        (default n) from prog."""
        deadline = time.monotonic() + 10
        while True:
            st = self.status()
            if st["requests"]["total"] >= n or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        time.sleep(GRACE)
        st = self.status()
        self.assertEqual(st["requests"]["total"], n, st)
        if prog is not None:
            self.assertEqual(st["processes"][prog]["requests"],
                             n if of_prog is None else of_prog, st)
        return st

    def compare(self, argv, env_extra=None, same_stderr=True):
        """argv without and with the shim (against the daemon): the same
        exit status 0 and the same output (and stderr, unless it counts
        what varies from run to run).  Returns the shimmed run."""
        ref = run(argv, plain_env())
        self.assertEqual(ref.returncode, 0, ref.stderr)
        self.assertGreater(len(ref.stdout), 0)
        env = self.d.env
        env["RATETAP_HOSTS"] = hosts(self.api)
        for k, v in (env_extra or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        p = run(argv, env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, ref.stdout)
        if same_stderr:
            self.assertEqual(p.stderr, ref.stderr)
        return p

    def client(self, prog, host="localhost", n=1, *opts):
        return [prog, "--host", host, "--port", str(self.api.port),
                "--cacert", self.api.cafile, "-n", str(n)] + list(opts)

    def run_each(self, n, *opts, host="localhost", ossl_only=False):
        """n requests on one connection with each client: counted
        exactly."""
        progs = [OSSL] if ossl_only else [OSSL, GNUTLS]
        for i, prog in enumerate(progs):
            self.compare(self.client(prog, host, n, *opts))
            self.counted(n * (i + 1), os.path.basename(prog), n)

    def test_one_request(self):
        self.run_each(1)

    def test_keep_alive_requests_on_one_connection(self):
        self.run_each(4)

    def test_without_sni_the_peer_address_decides(self):
        self.run_each(2, host="127.0.0.1")

    def test_reads_of_one_byte(self):
        self.run_each(2, "--read1")

    def test_peek_before_every_read(self):
        self.run_each(2, "--peek", ossl_only=True)

    def test_peek_ex_and_read_ex_write_ex(self):
        self.run_each(2, "--ex", "--peek", ossl_only=True)

    def test_read_ex_write_ex(self):
        self.run_each(3, "--ex", ossl_only=True)

    def test_nonblocking_socket(self):
        self.run_each(2, "--nonblock", "--read1")

    def test_partial_writes(self):
        for prog in (OSSL, GNUTLS):
            argv = self.client(prog, "localhost", 2, "--nonblock",
                               "--partial", "--sndbuf", "4096", "--pad",
                               "300000")
            p = self.compare(argv, same_stderr=False)
            shorts = int(p.stderr.decode().split("short writes:")[1])
            self.assertGreater(shorts, 0, "no write was short")
        self.counted(4)

    def test_connection_close_delimited_by_the_server(self):
        self.run_each(2, "--close")

    def test_fork_with_a_request_in_flight_counts_once(self):
        # the child frees its copy of the connection and exits: it owns
        # no exchange, the parent reads and reports the response
        self.run_each(2, "--fork")

    # -- nothing counted -----------------------------------------------------

    def test_untapped_host_gets_no_event(self):
        for prog in (OSSL, GNUTLS):
            self.compare(self.client(prog, "localhost", 2),
                         {"RATETAP_HOSTS": "api.anthropic.com"})
            # same name, another port
            self.compare(self.client(prog, "localhost", 1),
                         {"RATETAP_HOSTS": "localhost:1"})
            # the address is listed, but the name sent decides
            self.compare(self.client(prog, "localhost", 1),
                         {"RATETAP_HOSTS": "127.0.0.1:%d" % self.api.port})
        self.counted(0)

    def test_disabled_shim_passes_everything_through(self):
        for prog in (OSSL, GNUTLS):
            self.compare(self.client(prog, "localhost", 2, "--read1"),
                         {"RATETAP_DISABLE": 1})
        self.compare([PYTHON, "-c", URLLIB, self.api.cafile,
                      "https://localhost:%d/v1/messages" % self.api.port],
                     {"RATETAP_DISABLE": 1})
        self.counted(0)

    # -- a real program ------------------------------------------------------

    def test_python_urllib(self):
        urls = ["https://localhost:%d/v1/messages" % self.api.port,
                "https://127.0.0.1:%d/v1/messages" % self.api.port,
                "https://localhost:%d/v1/messages/count_tokens" %
                self.api.port]
        self.compare([PYTHON, "-c", URLLIB, self.api.cafile] + urls)
        st = self.counted(3, "python3")
        self.assertEqual(st["windows"]["five_hour"]["tokens"]["input"], 22,
                         st)


class ShimTlsEventsTest(unittest.TestCase):
    """What the events say: the host as the libcurl layer reports it, the
    tls and tls_tap flags."""

    def test_events_name_the_host_and_the_layer(self):
        with MockAPI(tls=True) as api, Receiver() as rx:
            for prog, host in ((OSSL, "localhost"), (GNUTLS, "localhost"),
                               (OSSL, "127.0.0.1"), (GNUTLS, "127.0.0.1")):
                argv = [prog, "--host", host, "--port", str(api.port),
                        "--cacert", api.cafile, "-n", "2"]
                p = run(argv, shim_env(api, rx, RATETAP_HOSTS=hosts(api)))
                self.assertEqual(p.returncode, 0, p.stderr)
                evs = rx.events(2)
                for ev in evs:
                    self.assertEqual(ev["host"], "%s:%d" % (host, api.port))
                    self.assertEqual(sorted(ev["flags"]),
                                     ["tls", "tls_tap"], ev)
                    self.assertEqual(ev["http_status"], 200)
                    self.assertEqual(ev["method"], "POST")
                    self.assertEqual(ev["path"], "/v1/messages")
                    self.assertEqual(ev["usage_state"], "ok")
                    self.assertEqual(ev["prog"], os.path.basename(prog))
                    self.assertEqual(ev["unified_status"], "allowed")


if __name__ == "__main__":
    unittest.main()
