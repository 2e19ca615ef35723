"""Every count exact: the cases real programs hit where a count is easily
wrong, each checked on the numbers a user reads (`ratetap status --json`,
through the daemon's control socket) or on the events themselves.

- CURLOPT_HEADER=1 (PHP's CURLINFO_HEADER_SIZE idiom, pycurl's HEADER, a C
  client; with a 100 Continue first): the headers come through the write
  callback ahead of the body and must not reach the body scanner.
- fork() with a transfer in flight: the child that cleans up the handle it
  inherited reports nothing; the parent's transfer counts once.
- CURLOPT_URL and CURLOPT_CURLU both set: the URL libcurl requests is
  judged, whichever of the two that is.
- a program that loads libcurl with dlopen() and calls it through dlsym()
  (or dlvsym(), RTLD_DEFAULT, RTLD_NEXT; libcurl or libcurl-gnutls) is
  counted with its tokens, and dlsym(RTLD_NEXT, ...) still means "after
  the caller".
- host names in every form (upper case, a trailing dot, RATETAP_HOSTS
  written as URLs, blanks and empty entries) are matched; entries that
  cannot be used are said by `ratetap run`, `ratetap doctor` and ratetapd.
- a stream the client ends early (a short write, curl -m, a closed pipe):
  message_start's input tokens and the output seen so far are counted, and
  the event is flagged cut_short (`requests.cut_short` in the status).
"""

import http.server
import os
import shutil
import subprocess
import threading
import unittest

from harness import (PYTHON, BUILD, CLI, NGHTTPX, H2Front, MockAPI,
                     Receiver, Daemon, run, shim_env)

PHP = shutil.which("php")
RT_EXACT = os.path.join(BUILD, "tests", "rt-exact")
RT_DLCURL = os.path.join(BUILD, "tests", "rt-dlcurl")

MSG = '{"model":"claude-sonnet-4-5","max_tokens":64,' \
      '"messages":[{"role":"user","content":"hi"}]}'
STREAM = '{"model":"claude-sonnet-4-5","stream":true,"max_tokens":64,' \
         '"messages":[{"role":"user","content":"hi"}]}'
USAGE = (11, 22, 3, 5)

# php -r CODE -- URL BODY [CAINFO]: CURLOPT_HEADER with RETURNTRANSFER,
# the body split off with CURLINFO_HEADER_SIZE.
PHP_HEADER = r'''
[$url, $body] = array_slice($argv, 1, 2);
$ca = $argv[3] ?? null;
$c = curl_init($url);
curl_setopt($c, CURLOPT_POST, true);
curl_setopt($c, CURLOPT_POSTFIELDS, $body);
curl_setopt($c, CURLOPT_HTTPHEADER, ["content-type: application/json"]);
curl_setopt($c, CURLOPT_RETURNTRANSFER, true);
curl_setopt($c, CURLOPT_HEADER, true);
if ($ca !== null) curl_setopt($c, CURLOPT_CAINFO, $ca);
$r = curl_exec($c);
if ($r === false) { fwrite(STDERR, curl_error($c)); exit(1); }
$n = curl_getinfo($c, CURLINFO_HEADER_SIZE);
echo substr($r, $n);
'''

# python3 -c CODE URL BODY [CAINFO]: pycurl with HEADER.
PY_HEADER = r'''
import io, sys, pycurl
url, body = sys.argv[1:3]
c = pycurl.Curl()
c.setopt(pycurl.URL, url)
c.setopt(pycurl.HTTPHEADER, ["content-type: application/json"])
c.setopt(pycurl.POSTFIELDS, body)
c.setopt(pycurl.HEADER, 1)
if len(sys.argv) > 3:
    c.setopt(pycurl.CAINFO, sys.argv[3])
buf = io.BytesIO()
c.setopt(pycurl.WRITEFUNCTION, buf.write)
c.perform()
n = c.getinfo(pycurl.HEADER_SIZE)
c.close()
sys.stdout.buffer.write(buf.getvalue()[n:])
'''


def have_pycurl():
    return subprocess.run([PYTHON, "-c", "import pycurl"],
                          capture_output=True).returncode == 0


class ExactCase(unittest.TestCase):

    def counted(self, d, n, usage=USAGE, unreadable=0, cut_short=0):
        """Wait until the daemon counted n requests; check its totals."""
        st = d.wait_for(lambda s: s["requests"]["total"] >= n)
        d_ = d.status()
        self.assertEqual(d_["requests"]["total"], n, d_["requests"])
        self.assertEqual(d_["requests"]["usage_unreadable"], unreadable,
                         d_["requests"])
        self.assertEqual(d_["requests"].get("cut_short"), cut_short,
                         d_["requests"])
        tk = d_["windows"]["five_hour"]["tokens"]
        self.assertEqual((tk["input"], tk["output"],
                          tk["cache_creation_input"],
                          tk["cache_read_input"]),
                         tuple(n * u for u in usage), d_["windows"])
        return st


class HeaderInBodyTest(ExactCase):
    """CURLOPT_HEADER=1: headers delivered through the write callback."""

    def check_program(self, argv_of, tls, body=MSG):
        with MockAPI(tls=tls) as api, Daemon(api) as d:
            p = run(argv_of(api), d.env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b'"usage"', p.stdout)
            self.assertNotIn(b"HTTP/1.1", p.stdout)
            self.counted(d, 1)

    def php(self, api):
        a = [PHP, "-n", "-d", "extension=curl", "-r", PHP_HEADER, "--",
             api.url("/v1/messages"), MSG]
        return a + ([api.cafile] if api.cafile else [])

    def pycurl(self, api):
        a = [PYTHON, "-c", PY_HEADER, api.url("/v1/messages"), MSG]
        return a + ([api.cafile] if api.cafile else [])

    @unittest.skipIf(PHP is None, "php-cli is not installed")
    def test_php_curlopt_header_over_http(self):
        self.check_program(self.php, False)

    @unittest.skipIf(PHP is None, "php-cli is not installed")
    def test_php_curlopt_header_over_https(self):
        self.check_program(self.php, True)

    def test_pycurl_header_over_http_and_https(self):
        if not have_pycurl():
            self.skipTest("python3-pycurl is not installed")
        for tls in (False, True):
            with self.subTest(tls=tls):
                self.check_program(self.pycurl, tls)

    def test_c_client_header_json_stream_and_100_continue(self):
        for tls in (False, True):
            for extra in ([], ["--stream"], ["--expect"],
                          ["--expect", "--stream"]):
                with self.subTest(tls=tls, extra=extra):
                    def argv(api, extra=extra):
                        a = [RT_EXACT, "header", api.base] + extra
                        return a + (["--cacert", api.cafile]
                                    if api.cafile else [])
                    self.check_program(argv, tls)

    def test_curl_include_is_still_exact(self):
        for tls in (False, True):
            with self.subTest(tls=tls):
                def argv(api):
                    a = ["curl", "-sS", "-i", api.url("/v1/messages"),
                         "-H", "content-type: application/json", "-d", MSG]
                    return a + (["--cacert", api.cafile]
                                if api.cafile else [])
                with MockAPI(tls=tls) as api, Daemon(api) as d:
                    p = run(argv(api), d.env)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertIn(b"HTTP/1.1 200", p.stdout)
                    self.counted(d, 1)


@unittest.skipIf(NGHTTPX is None, "nghttpx (nghttp2-proxy) is not installed")
class Http2Test(ExactCase):
    """The same over HTTP/2 (status line "HTTP/2 200")."""

    def check(self, argv_of):
        with MockAPI() as api, H2Front(api) as h2, Daemon(api) as d:
            env = d.env
            env["RATETAP_HOSTS"] = h2.hostport
            p = run(argv_of(h2), env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b'"usage"', p.stdout)
            self.counted(d, 1)
            return p

    def test_curl_http2_json_stream_and_include(self):
        for extra in ([], ["-i"], ["-i", "--no-buffer"]):
            for body in (MSG, STREAM):
                with self.subTest(extra=extra, stream=body is STREAM):
                    p = self.check(lambda h2: [
                        "curl", "-sS", "--http2", "--cacert", h2.cafile,
                        h2.base + "/v1/messages", "-H",
                        "content-type: application/json", "-d", body] +
                        extra)
                    if "-i" in extra:
                        self.assertTrue(p.stdout.startswith(b"HTTP/2 200"),
                                        p.stdout[:40])

    def test_c_client_curlopt_header_over_http2(self):
        for extra in ([], ["--stream"]):
            with self.subTest(extra=extra):
                p = self.check(lambda h2: [RT_EXACT, "header", h2.base,
                                           "--http2", "--cacert",
                                           h2.cafile] + extra)
                self.assertIn(b"status line HTTP/2 200", p.stderr)


class ForkTest(ExactCase):
    """A child does not report the transfer it inherited."""

    def test_a_child_cleaning_up_an_inherited_transfer_reports_nothing(self):
        with MockAPI() as api, Daemon(api) as d:
            p = run([RT_EXACT, "fork", api.base, "--stream",
                     "--header", "x-mock-delay-ms: 50"], d.env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"message_stop", p.stdout)
            self.counted(d, 1)

    def test_the_events_name_the_parent_only(self):
        with MockAPI() as api, Receiver() as rx:
            p = run([RT_EXACT, "fork", api.base, "--stream",
                     "--header", "x-mock-delay-ms: 50"],
                    shim_env(api, rx))
            self.assertEqual(p.returncode, 0, p.stderr)
            ev = rx.events(1)[0]
            self.assertEqual(ev["usage_state"], "ok", ev)
            self.assertEqual(ev["flags"], ["stream"], ev)


class CutShortTest(ExactCase):
    """A stream the client ends early: what was billed so far counts."""

    def check_cut(self, ev, tls):
        self.assertEqual(ev["usage_state"], "ok", ev)
        self.assertIn("cut_short", ev["flags"], ev)
        self.assertIn("stream", ev["flags"], ev)
        self.assertEqual("tls" in ev["flags"], tls, ev)
        self.assertEqual(ev["input_tokens"], 11, ev)
        self.assertEqual(ev["cache_creation_input_tokens"], 3, ev)
        self.assertEqual(ev["cache_read_input_tokens"], 5, ev)
        self.assertGreaterEqual(ev["output_tokens"], 1, ev)
        self.assertLessEqual(ev["output_tokens"], 22, ev)

    def test_a_short_write_counts_message_start(self):
        for tls in (False, True):
            with self.subTest(tls=tls), MockAPI(tls=tls) as api, \
                    Receiver() as rx, Daemon(api) as d:
                a = [RT_EXACT, "short", api.base, "--stream"]
                if api.cafile:
                    a += ["--cacert", api.cafile]
                p = run(a, shim_env(api, rx))
                self.assertEqual(p.returncode, 0, p.stderr)
                ev = rx.events(1)[0]
                self.check_cut(ev, tls)
                self.assertEqual(ev["curl_code"], 23, ev)  # WRITE_ERROR
                p = run(a, d.env)
                self.assertEqual(p.returncode, 0, p.stderr)
                st = d.wait_for(lambda s: s["requests"]["total"] >= 1)
                self.assertEqual(st["requests"]["cut_short"], 1, st)
                self.assertEqual(st["requests"]["usage_unreadable"], 0, st)
                self.assertEqual(
                    st["windows"]["five_hour"]["tokens"]["input"], 11, st)
                # kept across a restart (the state file)
                self.assertEqual(d.stop(), 0)
                d.start()
                self.assertEqual(d.status()["requests"]["cut_short"], 1)

    def test_curl_max_time_counts_what_was_billed(self):
        with MockAPI() as api, Receiver() as rx:
            # message_start at once, the rest 400 ms apart: -m 1 ends it
            p = run(["curl", "-sS", "-m", "1", api.url("/v1/messages"),
                     "-H", "content-type: application/json",
                     "-H", "x-mock-delay-ms: 400", "-d", STREAM],
                    shim_env(api, rx))
            self.assertEqual(p.returncode, 28, p.stderr)
            ev = rx.events(1)[0]
            self.check_cut(ev, False)
            self.assertEqual(ev["curl_code"], 28, ev)

    def test_a_closed_pipe_counts_what_was_billed(self):
        with MockAPI(tls=True) as api, Receiver() as rx:
            proc = subprocess.Popen(
                ["curl", "-sS", "-N", "--cacert", api.cafile,
                 api.url("/v1/messages"),
                 "-H", "content-type: application/json",
                 "-H", "x-mock-delay-ms: 200", "-d", STREAM],
                env=shim_env(api, rx), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            seen = b""
            while b"message_start" not in seen:
                b = proc.stdout.read1(4096)
                if not b:
                    break
                seen += b
            proc.stdout.close()		# the reader goes away
            rc = proc.wait(30)
            proc.stderr.close()
            self.assertIn(b"message_start", seen)
            self.assertEqual(rc, 23)	# CURLE_WRITE_ERROR
            ev = rx.events(1)[0]
            self.check_cut(ev, True)

    def test_a_complete_stream_is_not_cut_short(self):
        with MockAPI() as api, Receiver() as rx:
            p = run(["curl", "-sS", api.url("/v1/messages"),
                     "-H", "content-type: application/json",
                     "-d", STREAM], shim_env(api, rx))
            self.assertEqual(p.returncode, 0, p.stderr)
            ev = rx.events(1)[0]
            self.assertEqual(ev["flags"], ["stream"], ev)
            self.assertEqual(ev["output_tokens"], 22, ev)


class TargetTest(ExactCase):
    """CURLOPT_URL and CURLOPT_CURLU both set: what libcurl requests (the
    URL, for libcurl 7.88; printed by the client) is what counts."""

    def test_url_and_curlu_both_set(self):
        for tls in (False, True):
            with MockAPI(tls=tls) as api, Daemon(api) as d:
                scheme = "https" if tls else "http"
                tapped = api.base
                other = "%s://localhost:%d" % (scheme, api.port)
                n = 0
                for url, curlu in ((tapped, other), (other, tapped),
                                   (tapped, tapped)):
                    with self.subTest(tls=tls, url=url, curlu=curlu):
                        a = [RT_EXACT, "both", url, curlu]
                        if api.cafile:
                            a += ["--cacert", api.cafile]
                        p = run(a, d.env)
                        self.assertEqual(p.returncode, 0, p.stderr)
                        self.assertIn(b'"usage"', p.stdout)
                        eff = p.stderr.decode().split("effective URL ")[1]
                        if eff.startswith(tapped + "/"):
                            n += 1
                        # a request to the tapped host is counted, with
                        # its tokens; one to the other host is not
                        self.counted(d, n)
                self.assertEqual(n, 2)


class HostFormsTest(ExactCase):
    """A host as a URL or a user may write it."""

    def test_case_trailing_dots_and_url_entries_match(self):
        with MockAPI() as api:
            port = api.port
            for entry in ("api.example.com:%d" % port,
                          "API.Example.com.:%d" % port,
                          "http://api.example.com:%d/" % port,
                          "https://api.example.com.:%d/v1/messages" % port,
                          " , api.example.com:%d ,," % port,
                          "bad host, api.example.com"):
                with self.subTest(entry=entry), Daemon(api) as d:
                    d.daemon_env["RATETAP_HOSTS"] = entry
                    env = d.env
                    env["RATETAP_HOSTS"] = entry
                    n = 0
                    for host in ("api.example.com", "Api.Example.COM.",
                                 "API.EXAMPLE.COM"):
                        p = run(["curl", "-sS", "--connect-to",
                                 "::127.0.0.1:%d" % port,
                                 "http://%s:%d/v1/messages" % (host, port),
                                 "-H", "content-type: application/json",
                                 "-d", MSG], env)
                        self.assertEqual(p.returncode, 0, p.stderr)
                        n += 1
                        self.counted(d, n)
                        st = d.status()
                        self.assertEqual(list(st["processes"]), ["curl"])

    def test_ratetap_run_says_which_entries_cannot_be_used(self):
        with MockAPI() as api, Daemon(api) as d:
            env = d.env
            env["RATETAP_HOSTS"] = ("%s, bad host ,https://u:secret@x/,,"
                                    "host:99999" % api.hostport)
            p = run([CLI, "run", "--", "curl", "-sS", api.url(),
                     "-H", "content-type: application/json", "-d", MSG],
                    env)
            self.assertEqual(p.returncode, 0, p.stderr)
            err = p.stderr.decode()
            self.assertIn('RATETAP_HOSTS entry 2 ("bad host") ignored', err)
            self.assertIn("RATETAP_HOSTS entry 3 ignored: it names a user",
                          err)
            self.assertIn('RATETAP_HOSTS entry 5 ("host:99999") ignored',
                          err)
            self.assertNotIn("secret", err)
            self.assertNotIn("entry 1", err)
            self.counted(d, 1)		# the good entry still taps
            env["RATETAP_HOSTS"] = "nothing here"
            p = run([CLI, "run", "--", "true"], env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"names no usable host", p.stderr)
            env["RATETAP_HOSTS"] = api.hostport
            p = run([CLI, "run", "--", "true"], env)
            self.assertEqual(p.stderr, b"")

    def test_doctor_and_the_daemon_say_it_too(self):
        with Daemon(env={"RATETAP_HOSTS": "https://api.anthropic.com/,"
                         "a b"}) as d:
            env = d.env
            env["RATETAP_HOSTS"] = "https://api.anthropic.com/,a b"
            p = run([CLI, "doctor", "/bin/true"], env)
            self.assertIn(b'RATETAP_HOSTS entry 2 ("a b") ignored',
                          p.stdout)
            d.stop()
            self.assertIn('RATETAP_HOSTS entry 2 ("a b") ignored', d.log())
            self.assertNotIn("entry 1", d.log())


class DlsymTest(ExactCase):
    """libcurl loaded with dlopen() and called through dlsym() pointers."""

    VARIANTS = ([], ["--stream"], ["--default"], ["--next"],
                ["--dlvsym", "CURL_OPENSSL_4"],
                ["--lib", "libcurl-gnutls.so.4"],
                ["--lib", "libcurl-gnutls.so.4", "--dlvsym",
                 "CURL_GNUTLS_3"])

    def test_every_way_of_looking_libcurl_up(self):
        for tls in (False, True):
            with MockAPI(tls=tls) as api, Daemon(api) as d:
                n = 0
                for extra in self.VARIANTS:
                    with self.subTest(tls=tls, extra=extra):
                        a = [RT_DLCURL, api.base] + extra
                        if api.cafile:
                            a += ["--cacert", api.cafile]
                        p = run(a, d.env)
                        self.assertEqual(p.returncode, 0, p.stderr)
                        self.assertIn(b'"usage"', p.stdout)
                        n += 1
                        self.counted(d, n)

    def test_rtld_next_still_means_after_the_caller(self):
        # without the shim: nothing after the program defines dlsym but
        # the C library; with it, the shim (preloaded after the program)
        p = run([RT_DLCURL, "--where-next"], shim_env(None, None))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.strip().endswith(b"/libratetap.so"),
                        p.stdout)

    def test_disabled_the_real_functions_are_returned(self):
        with MockAPI() as api, Receiver() as rx:
            p = run([RT_DLCURL, api.base],
                    shim_env(api, rx, RATETAP_DISABLE=1))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(rx.all(0.5), [])


class Redirector:
    """An HTTP server on a free port of 127.0.0.1 that answers every POST
    with 307 (the method and body are kept) to the same path on target."""

    def __init__(self, target):
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                self.send_response(307)
                self.send_header("Location", target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path="/v1/messages"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RedirectTest(ExactCase):
    """A redirect from an untapped host into a tapped one: the tokens
    cannot be read (the body was not teed), but the request is counted,
    its usage marked unreadable, never lost without a trace."""

    def test_a_redirect_into_a_tapped_host_is_counted_unreadable(self):
        with MockAPI() as api, Redirector(api.base) as r, \
                Daemon(api) as d:
            for argv in (["curl", "-sS", "-L", r.url()],
                         ["curl", "-sS", "-L", "--parallel", r.url(),
                          r.url()]):
                p = run(argv + ["-H", "content-type: application/json",
                                "-d", MSG], d.env)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn(b'"usage"', p.stdout)
            st = d.wait_for(lambda s: s["requests"]["total"] >= 3)
            self.assertEqual(st["requests"]["total"], 3, st["requests"])
            self.assertEqual(st["requests"]["usage_unreadable"], 3,
                             st["requests"])

    def test_without_following_nothing_is_counted(self):
        with MockAPI() as api, Redirector(api.base) as r, \
                Receiver() as rx:
            p = run(["curl", "-sS", r.url(), "-d", MSG], shim_env(api, rx))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(rx.all(0.5), [])


if __name__ == "__main__":
    unittest.main()
