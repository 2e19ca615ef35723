"""Plugin mode: the shim dlopen()ed into a running libcurl program.

build/tests/plughost starts without the shim, creates handles (one fully
configured, WRITEFUNCTION included), then loads build/libratetap.so with
dlopen(RTLD_NOW | RTLD_LOCAL).  The shim's constructor patches the GOT
entries of the program (and every other loaded object but libcurl), so
transfers made afterwards reach the hooks.  Sections of its output, in
order: "late" (handle created before loading, configured after: one
event), "multi" (two new handles on a multi handle: two events), "pre"
(handle configured before loading: the shim never saw its URL nor its
WRITEFUNCTION, so the body cannot be teed; the transfer is reported with
its usage unreadable), "default" (new handle without a WRITEFUNCTION: one
event)."""

import os
import unittest

from harness import BUILD, SHIM, MockAPI, Receiver, run, shim_env

PLUGHOST = os.path.join(BUILD, "tests", "plughost")

MSG = '{"model":"claude-sonnet-4-5","max_tokens":64,' \
      '"messages":[{"role":"user","content":"hi"}]}'


class PluginTest(unittest.TestCase):

    def setUp(self):
        if not os.path.exists(PLUGHOST):
            self.fail("%s is not built (make test-progs)" % PLUGHOST)

    def env(self, api, rx, **extra):
        """The shim's settings but no LD_PRELOAD: plughost loads it."""
        return shim_env(api, rx, LD_PRELOAD=None, **extra)

    def host(self, api, env, shim=SHIM):
        argv = [PLUGHOST, shim, api.url("/v1/messages"), MSG]
        if api.cafile:
            argv.append(api.cafile)
        p = run(argv, env, timeout=60)
        self.assertEqual(p.returncode, 0, "plughost exited %d; stderr:\n%s"
                         % (p.returncode, p.stderr.decode(errors="replace")))
        return p

    def check_ok(self, ev, api):
        self.assertEqual(ev.get("usage_state"), "ok", ev)
        self.assertEqual((ev["http_status"], ev["curl_code"]), (200, 0))
        self.assertEqual(ev["host"], api.hostport)
        self.assertEqual(ev["path"], "/v1/messages")
        self.assertEqual(ev["model"], "claude-sonnet-4-5")
        self.assertEqual((ev["input_tokens"], ev["output_tokens"],
                          ev["cache_creation_input_tokens"],
                          ev["cache_read_input_tokens"]), (11, 22, 3, 5))
        self.assertEqual("tls" in ev["flags"], api.tls, ev["flags"])
        self.assertEqual(ev["prog"], "plughost")

    def test_transfers_after_loading_are_seen(self):
        for tls in (False, True):
            with self.subTest(tls=tls), MockAPI(tls=tls) as api, \
                    Receiver() as rx:
                p = self.host(api, self.env(api, rx))
                evs = rx.all(1.5)
                ok = [ev for ev in evs if ev.get("usage_state") == "ok"]
                # late, multi x2, default; "pre" is never reported "ok".
                self.assertEqual(len(ok), 4, evs)
                for ev in ok:
                    self.check_ok(ev, api)
                self.assertIn(len(evs), (4, 5), evs)
                ref = self.host(api, self.env(api, None), "-")
                self.assertEqual(p.stdout, ref.stdout)
                self.assertEqual(p.stdout.count(b'"usage"'), 5)

    def test_handle_configured_before_loading_is_reported_unreadable(self):
        with MockAPI() as api, Receiver() as rx:
            self.host(api, self.env(api, rx))
            evs = rx.events(5)
            pre = evs[3]		# late, multi, multi, pre, default
            self.assertEqual(pre["usage_state"], "unreadable", evs)
            self.assertEqual(pre["http_status"], 200)
            self.assertEqual(pre["host"], api.hostport)
            for i in (0, 1, 2, 4):
                self.check_ok(evs[i], api)

    def test_output_is_unchanged_without_a_receiver(self):
        with MockAPI() as api:
            p = self.host(api, self.env(api, None))
            ref = self.host(api, self.env(api, None), "-")
            self.assertEqual(p.stdout, ref.stdout)

    def test_disabled_plugin_does_nothing(self):
        with MockAPI() as api, Receiver() as rx:
            p = self.host(api, self.env(api, rx, RATETAP_DISABLE=1))
            self.assertEqual(rx.all(0.5), [])
            ref = self.host(api, self.env(api, None), "-")
            self.assertEqual(p.stdout, ref.stdout)


if __name__ == "__main__":
    unittest.main()
