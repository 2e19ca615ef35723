"""A library loaded with RTLD_DEEPBIND (as php loads its extensions)
performing transfers under the shim.

build/tests/dbload (not linked to libcurl) dlopen()s
build/tests/deepbind/libdbtarget*.so (linked to libcurl) with
RTLD_DEEPBIND, which binds the library's curl_* calls to libcurl ahead of
the preloaded shim; only GOT patching after the dlopen (the shim's dlopen
hook) makes them reach the hooks.  Link variants: lazy binding with partial
RELRO, full RELRO (-z now), and -fno-plt (calls through GLOB_DAT slots)."""

import os
import unittest

from harness import BUILD, MockAPI, Receiver, run, shim_env
from daemontest import check_event

DBLOAD = os.path.join(BUILD, "tests", "dbload")
LIBDIR = os.path.join(BUILD, "tests", "deepbind")
VARIANTS = ("libdbtarget.so", "libdbtarget_now.so", "libdbtarget_noplt.so")

MSG = '{"model":"claude-sonnet-4-5","max_tokens":64,' \
      '"messages":[{"role":"user","content":"hi"}]}'
STREAM = '{"model":"claude-opus-4-1","stream":true,"max_tokens":64,' \
         '"messages":[{"role":"user","content":"hi"}]}'


class DeepbindTest(unittest.TestCase):

    def setUp(self):
        for f in (DBLOAD,) + tuple(os.path.join(LIBDIR, v)
                                   for v in VARIANTS):
            if not os.path.exists(f):
                self.fail("%s is not built (make test-progs)" % f)

    def dbload(self, api, env, lib, mode, body=MSG, extra=()):
        argv = [DBLOAD] + list(extra) + [os.path.join(LIBDIR, lib), mode,
                                         api.url("/v1/messages"), body]
        if api.cafile:
            argv.append(api.cafile)
        p = run(argv, env, timeout=60)
        self.assertEqual(p.returncode, 0, "dbload exited %d; stderr:\n%s" % (
            p.returncode, p.stderr.decode(errors="replace")))
        return p

    def reference(self, api, lib, mode, body=MSG):
        return self.dbload(api, shim_env(api, None, LD_PRELOAD=None), lib,
                           mode, body).stdout

    def check_event(self, ev, api, model="claude-sonnet-4-5", stream=False):
        check_event(self, ev, api, model, stream)

    def test_easy_transfers_in_every_link_variant(self):
        for tls in (False, True):
            with MockAPI(tls=tls) as api, Receiver() as rx:
                for lib in VARIANTS:
                    for mode in ("easy", "easy-wf"):
                        with self.subTest(tls=tls, lib=lib, mode=mode):
                            p = self.dbload(api, shim_env(api, rx), lib,
                                            mode)
                            self.check_event(rx.events(1)[0], api)
                            self.assertEqual(p.stdout, self.reference(
                                api, lib, mode))

    def test_stream(self):
        with MockAPI(tls=True) as api, Receiver() as rx:
            p = self.dbload(api, shim_env(api, rx), "libdbtarget.so",
                            "easy-wf", STREAM)
            self.check_event(rx.events(1)[0], api, "claude-opus-4-1", True)
            self.assertEqual(p.stdout, self.reference(
                api, "libdbtarget.so", "easy-wf", STREAM))

    def test_multi_transfers(self):
        for lib in ("libdbtarget.so", "libdbtarget_noplt.so"):
            with self.subTest(lib=lib), MockAPI() as api, Receiver() as rx:
                p = self.dbload(api, shim_env(api, rx), lib, "multi:3")
                evs = rx.events(3)
                for ev in evs:
                    self.check_event(ev, api)
                self.assertEqual(p.stdout, self.reference(api, lib,
                                                          "multi:3"))

    def test_global_deepbind(self):
        with MockAPI() as api, Receiver() as rx:
            p = self.dbload(api, shim_env(api, rx), "libdbtarget_now.so",
                            "easy", extra=("--global",))
            self.check_event(rx.events(1)[0], api)
            self.assertEqual(p.stdout, self.reference(
                api, "libdbtarget_now.so", "easy"))

    def test_no_receiver_does_not_hang(self):
        with MockAPI() as api:
            p = self.dbload(api, shim_env(api, None), "libdbtarget.so",
                            "multi:2")
            self.assertEqual(p.stdout, self.reference(api, "libdbtarget.so",
                                                      "multi:2"))

    def test_disabled_shim_patches_nothing(self):
        with MockAPI() as api, Receiver() as rx:
            env = shim_env(api, rx, RATETAP_DISABLE=1, RATETAP_DEBUG=1)
            p = self.dbload(api, env, "libdbtarget.so", "easy-wf")
            self.assertEqual(rx.all(0.5), [])
            self.assertNotIn(b"patched", p.stderr)
            self.assertEqual(p.stdout, self.reference(
                api, "libdbtarget.so", "easy-wf"))


if __name__ == "__main__":
    unittest.main()
