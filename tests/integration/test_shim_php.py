"""php-cli's curl extension under the shim.

php loads /usr/lib/php/*/curl.so with RTLD_DEEPBIND: its curl_* calls bind
to libcurl directly and never reach preloaded symbols.  The shim's dlopen
hook patches curl.so's GOT entries as the extension is loaded, and the
hooks forward to curl.so's own libcurl."""

import shutil
import unittest

from harness import MockAPI, Receiver, run, shim_env
from daemontest import check_event

PHP = shutil.which("php")

MSG = '{"model":"claude-sonnet-4-5","max_tokens":64,' \
      '"messages":[{"role":"user","content":"hi"}]}'
STREAM = '{"model":"claude-opus-4-1","stream":true,"max_tokens":64,' \
         '"messages":[{"role":"user","content":"hi"}]}'

# php -r CODE -- MODE URL BODY [CAINFO].  MODE: "return" (RETURNTRANSFER,
# then echo), "echo" (curl_exec writes the body itself), "callback" (a
# CURLOPT_WRITEFUNCTION closure), "multi:N" (N handles on one curl_multi).
CODE = r'''
[$mode, $url, $body] = array_slice($argv, 1, 3);
$ca = $argv[4] ?? null;
function mk($url, $body, $ca) {
    $c = curl_init($url);
    curl_setopt($c, CURLOPT_POST, true);
    curl_setopt($c, CURLOPT_POSTFIELDS, $body);
    curl_setopt($c, CURLOPT_HTTPHEADER, ["content-type: application/json"]);
    if ($ca !== null) curl_setopt($c, CURLOPT_CAINFO, $ca);
    return $c;
}
if ($mode === "return") {
    $c = mk($url, $body, $ca);
    curl_setopt($c, CURLOPT_RETURNTRANSFER, true);
    $r = curl_exec($c);
    if ($r === false) { fwrite(STDERR, curl_error($c)); exit(1); }
    echo $r, "\n", curl_getinfo($c, CURLINFO_RESPONSE_CODE), "\n";
} elseif ($mode === "echo") {
    $c = mk($url, $body, $ca);
    if (curl_exec($c) === false) { fwrite(STDERR, curl_error($c)); exit(1); }
} elseif ($mode === "callback") {
    $c = mk($url, $body, $ca);
    $got = "";
    curl_setopt($c, CURLOPT_WRITEFUNCTION,
        function ($h, $d) use (&$got) { $got .= $d; return strlen($d); });
    if (curl_exec($c) === false) { fwrite(STDERR, curl_error($c)); exit(1); }
    echo strlen($got), ":", $got;
} elseif (strncmp($mode, "multi:", 6) === 0) {
    $n = (int)substr($mode, 6);
    $m = curl_multi_init();
    $hs = [];
    for ($i = 0; $i < $n; $i++) {
        $hs[$i] = mk($url, $body, $ca);
        curl_setopt($hs[$i], CURLOPT_RETURNTRANSFER, true);
        curl_multi_add_handle($m, $hs[$i]);
    }
    do {
        $st = curl_multi_exec($m, $running);
        if ($running) curl_multi_select($m, 1.0);
    } while ($running && $st === CURLM_OK);
    $failed = 0;
    while ($info = curl_multi_info_read($m))
        if ($info["result"] !== CURLE_OK) $failed++;
    foreach ($hs as $h) {
        echo curl_multi_getcontent($h), "\n";
        curl_multi_remove_handle($m, $h);
    }
    curl_multi_close($m);
    echo "failed $failed\n";
} else {
    exit(2);
}
'''


@unittest.skipIf(PHP is None, "php-cli is not installed")
class PhpTest(unittest.TestCase):

    def run_php(self, api, env, mode, body=MSG):
        argv = [PHP, "-n", "-d", "extension=curl", "-r", CODE, "--", mode,
                api.url("/v1/messages"), body]
        if api.cafile:
            argv.append(api.cafile)
        p = run(argv, env, timeout=60)
        self.assertEqual(p.returncode, 0,
                         "php exited %d; stderr:\n%s" % (
                             p.returncode, p.stderr.decode(errors="replace")))
        return p

    def reference(self, api, mode, body=MSG):
        env = shim_env(api, None, LD_PRELOAD=None)
        return self.run_php(api, env, mode, body).stdout

    def check_event(self, ev, api, model="claude-sonnet-4-5", stream=False):
        check_event(self, ev, api, model, stream)
        self.assertEqual(ev["method"], "POST")
        self.assertTrue(ev["request_id"].startswith("req_mock_"), ev)
        # libcurl's own TLS connection is the libcurl layer's: one event
        self.assertNotIn("tls_tap", ev["flags"], ev)

    def one(self, tls, mode, body=MSG, model="claude-sonnet-4-5",
            stream=False):
        with MockAPI(tls=tls) as api, Receiver() as rx:
            p = self.run_php(api, shim_env(api, rx), mode, body)
            self.check_event(rx.events(1)[0], api, model, stream)
            self.assertEqual(p.stdout, self.reference(api, mode, body))
            self.assertIn(b"usage", p.stdout)

    def test_returntransfer_json_over_http(self):
        self.one(False, "return")

    def test_returntransfer_json_over_https(self):
        self.one(True, "return")

    def test_echo_json_over_https(self):
        self.one(True, "echo")

    def test_stream_echoed_over_http(self):
        self.one(False, "echo", STREAM, "claude-opus-4-1", True)

    def test_stream_returned_over_https(self):
        self.one(True, "return", STREAM, "claude-opus-4-1", True)

    def test_writefunction_callback(self):
        self.one(True, "callback")

    def test_curl_multi_with_several_handles(self):
        for tls in (False, True):
            with self.subTest(tls=tls), MockAPI(tls=tls) as api, \
                    Receiver() as rx:
                p = self.run_php(api, shim_env(api, rx), "multi:4")
                evs = rx.events(4)
                for ev in evs:
                    self.check_event(ev, api)
                self.assertEqual(len({ev["request_id"] for ev in evs}), 4)
                self.assertTrue(p.stdout.endswith(b"failed 0\n"))
                self.assertEqual(p.stdout, self.reference(api, "multi:4"))

    def test_count_tokens_is_seen_but_not_usage(self):
        with MockAPI() as api, Receiver() as rx:
            argv = [PHP, "-n", "-d", "extension=curl", "-r", CODE, "--",
                    "return", api.url("/v1/messages/count_tokens"), MSG]
            p = run(argv, shim_env(api, rx))
            self.assertEqual(p.returncode, 0, p.stderr)
            ev = rx.events(1)[0]
            self.assertEqual(ev["path"], "/v1/messages/count_tokens")
            self.assertEqual(ev["usage_state"], "none")

    def test_curl_extension_is_reached_by_got_patching(self):
        with MockAPI() as api, Receiver() as rx:
            p = self.run_php(api, shim_env(api, rx, RATETAP_DEBUG=1),
                             "return")
            self.check_event(rx.events(1)[0], api)
            err = p.stderr.decode(errors="replace")
            self.assertRegex(err, r"ratetap: patched \d+ GOT entries in "
                             r"\S*/curl\.so")
            self.assertRegex(err, r"curl\.so uses \S*libcurl")
            self.assertEqual(p.stdout, self.reference(api, "return"))

    def test_no_receiver_does_not_hang(self):
        with MockAPI() as api:
            p = self.run_php(api, shim_env(api, None), "multi:2")
            self.assertEqual(p.stdout, self.reference(api, "multi:2"))

    def test_disabled_shim_sends_nothing_and_changes_nothing(self):
        with MockAPI() as api, Receiver() as rx:
            p = self.run_php(api, shim_env(api, rx, RATETAP_DISABLE=1),
                             "return")
            self.assertEqual(rx.all(0.5), [])
            self.assertEqual(p.stdout, self.reference(api, "return"))


if __name__ == "__main__":
    unittest.main()
