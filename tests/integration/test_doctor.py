"""ratetap doctor: can ratetap see a program, and if not, why.

Real programs of the system (curl, php, python3, true) and the test
programs of tests/doctor/ (built by make test-progs): a static binary, one
with libcurl inside it, one linking the shared libcurl, one without
libcurl; setuid, setgid and file-capability copies are made here.
"""

import os
import shutil
import stat
import struct
import subprocess
import tempfile
import time
import unittest

from harness import BUILD, CLI, run

PROGS = os.path.join(BUILD, "tests", "doctor")
NOWHERE_SOCK = "/nonexistent/ratetap-test/ingest.sock"


def doctor(*args, env=None):
    p = run([CLI, "doctor"] + list(args), env if env is not None
            else dict(os.environ), timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def verdict(out):
    lines = [l for l in out.splitlines() if l.startswith("verdict")]
    assert len(lines) == 1, out
    return lines[0]


class DoctorTest(unittest.TestCase):
    def setUp(self):
        if not os.access(CLI, os.X_OK):
            self.fail("%s is not built (make)" % CLI)
        base = "/tmp" if len(tempfile.gettempdir()) > 40 else None
        self.tmp = tempfile.mkdtemp(prefix="rt-doc-", dir=base)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def prog(self, name):
        p = os.path.join(PROGS, name)
        if not os.path.exists(p):
            self.fail("%s is not built (make test-progs)" % p)
        return p

    def assertVisible(self, rc, out, err, *words):
        self.assertEqual(rc, 0, out + err)
        self.assertIn("verdict     VISIBLE:", verdict(out))
        for w in words:
            self.assertIn(w, out)

    def assertNotVisible(self, rc, out, err, *words):
        self.assertEqual(rc, 1, out + err)
        v = verdict(out)
        self.assertIn("verdict     NOT VISIBLE:", v)
        for w in words:
            self.assertIn(w, out)
        return v


class Programs(DoctorTest):
    def test_curl_links_the_openssl_libcurl_and_is_visible(self):
        curl = shutil.which("curl")
        rc, out, err = doctor("curl")	# through PATH
        self.assertVisible(rc, out, err, "dynamically linked",
                           "libcurl.so.4 (OpenSSL), linked directly",
                           "no setuid/setgid bit")
        self.assertIn(os.path.realpath(curl), out)

    def test_a_program_linking_libcurl_is_visible(self):
        rc, out, err = doctor(self.prog("with_curl"))
        self.assertVisible(rc, out, err, "libcurl.so.4 (OpenSSL)")

    def test_php_is_visible_through_its_curl_extension(self):
        php = shutil.which("php")
        if php is None:
            self.skipTest("php is not installed")
        rc, out, err = doctor(php)
        self.assertVisible(rc, out, err, "curl extension", "curl.so",
                           "RTLD_DEEPBIND", "supported")

    def test_python3_is_visible_through_pycurl(self):
        if not os.path.exists("/usr/bin/python3"):
            self.skipTest("no /usr/bin/python3")
        if subprocess.run(["/usr/bin/python3", "-c", "import pycurl"],
                          capture_output=True).returncode != 0:
            self.skipTest("pycurl is not installed")
        rc, out, err = doctor("/usr/bin/python3")
        self.assertVisible(rc, out, err, "pycurl", "libcurl-gnutls.so.4 "
                           "(GnuTLS), linked by the module")

    def test_a_static_binary_is_not_visible(self):
        v = self.assertNotVisible(*doctor(self.prog("static_hello")),
                                  "statically linked")
        self.assertIn("LD_PRELOAD is ignored", v)

    def test_a_static_pie_binary_is_not_visible(self):
        rc, out, err = doctor(self.prog("static_pie"))
        v = self.assertNotVisible(rc, out, err, "static PIE")
        self.assertIn("statically linked", v)

    def test_a_shared_library_is_not_a_program(self):
        lib = "/lib/x86_64-linux-gnu/libcurl.so.4"
        if not os.path.exists(lib):
            self.skipTest("no %s" % lib)
        v = self.assertNotVisible(*doctor(lib), "shared library")
        self.assertIn("on the program that loads it", v)

    def test_a_binary_carrying_libcurl_inside_is_not_visible(self):
        p = os.path.join(PROGS, "static_curl")
        if not os.path.exists(p):
            self.skipTest("libcurl.a is not installed")
        v = self.assertNotVisible(*doctor(p),
                                  "carries its own copy of libcurl")
        self.assertIn("linked statically", v)

    def test_setuid_and_setgid_copies_are_not_visible(self):
        for bits, word in ((stat.S_ISUID, "setuid"),
                           (stat.S_ISGID, "setgid")):
            copy = os.path.join(self.tmp, "with_curl_" + word)
            shutil.copy(self.prog("with_curl"), copy)
            os.chmod(copy, 0o755 | bits)
            if not os.stat(copy).st_mode & bits:
                self.skipTest("cannot set the %s bit here" % word)
            v = self.assertNotVisible(*doctor(copy), "privileges  " + word)
            self.assertIn("ignores LD_PRELOAD", v)

    def test_file_capabilities_make_a_program_not_visible(self):
        copy = os.path.join(self.tmp, "with_curl_caps")
        shutil.copy(self.prog("with_curl"), copy)
        # VFS_CAP_REVISION_2: cap_net_bind_service permitted
        blob = struct.pack("<IIIII", 0x02000000, 1 << 10, 0, 0, 0)
        try:
            os.setxattr(copy, "security.capability", blob)
        except OSError as e:
            self.skipTest("cannot set file capabilities here: %s" % e)
        self.assertNotVisible(*doctor(copy), "file capabilities")

    def test_true_has_no_libcurl(self):
        v = self.assertNotVisible(*doctor("/bin/true"),
                                  "none in its DT_NEEDED tree")
        self.assertIn("does not link libcurl", v)

    def test_a_dynamic_program_without_libcurl_is_not_visible(self):
        self.assertNotVisible(*doctor(self.prog("no_curl")),
                              "dynamically linked")

    def test_a_javascript_runtime_does_not_use_libcurl(self):
        # a dynamic program named like one: the name decides
        node = os.path.join(self.tmp, "node")
        shutil.copy(self.prog("no_curl"), node)
        v = self.assertNotVisible(*doctor(node))
        self.assertIn("does not use libcurl: not visible (use a "
                      "proxy-based tool)", v)

    def test_a_script_is_diagnosed_through_its_interpreter(self):
        if shutil.which("python3") is None:
            self.skipTest("no python3 in PATH")
        script = os.path.join(self.tmp, "tool.py")
        with open(script, "w") as f:
            f.write("#!/usr/bin/env -S python3 -u\nprint('hi')\n")
        os.chmod(script, 0o755)
        rc, out, err = doctor(script)
        self.assertIn("script (#!/usr/bin/env -S python3 -u)", out)
        self.assertIn("diagnosing the interpreter", out)
        self.assertIn("interpreter python3", out)

        sh = os.path.join(self.tmp, "tool.sh")
        with open(sh, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(sh, 0o755)
        rc, out, err = doctor(sh)
        self.assertNotVisible(rc, out, err, "interpreter /bin/sh")

        wc = os.path.join(self.tmp, "wc.sh")
        with open(wc, "w") as f:
            f.write("#!%s\n" % self.prog("with_curl"))
        os.chmod(wc, 0o755)
        self.assertVisible(*doctor(wc), "libcurl.so.4")

    def test_a_file_that_is_no_program_is_not_visible(self):
        junk = os.path.join(self.tmp, "junk")
        with open(junk, "wb") as f:
            f.write(b"\x00\x01 not an ELF file")
        os.chmod(junk, 0o755)
        self.assertNotVisible(*doctor(junk), "neither an ELF")

    def test_usage_errors_exit_2(self):
        for args, msg in (([], "no program given"),
                          (["no-such-program-ratetap"], "not found in PATH"),
                          (["/bin/true", "/bin/false"], "one program"),
                          (["--pid", "abc"], "needs a process id"),
                          (["--pid", "0"], "needs a process id"),
                          (["--pid", "1", "/bin/true"], "not both"),
                          (["--bogus"], "usage: ratetap doctor")):
            rc, out, err = doctor(*args)
            self.assertEqual(rc, 2, (args, out, err))
            self.assertIn(msg, err, args)


class Processes(DoctorTest):
    def spawn(self, argv, env):
        p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL)
        self.addCleanup(self.reap, p)
        return p

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdout.close()

    def test_a_shimmed_process_has_the_shim_and_libcurl_mapped(self):
        env = dict(os.environ, RATETAP_SOCKET=NOWHERE_SOCK)
        env.pop("LD_PRELOAD", None)
        p = self.spawn([CLI, "run", "--no-daemon", "--",
                        self.prog("with_curl"), "sleep", "30"], env)
        line = p.stdout.readline()	# printed once libcurl is loaded
        self.assertTrue(line.startswith(b"libcurl/"), line)
        rc, out, err = doctor("--pid", str(p.pid))
        self.assertVisible(rc, out, err, "libratetap.so is loaded",
                           "libcurl.so.4")
        self.assertIn("process     %d: %s" % (
            p.pid, os.path.realpath(self.prog("with_curl"))), out)

    def test_an_unshimmed_process_is_not_visible(self):
        p = self.spawn(["sleep", "30"], dict(os.environ))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:	# until exec'ed
            if os.path.realpath("/proc/%d/exe" % p.pid).endswith("sleep"):
                break
            time.sleep(0.02)
        v = self.assertNotVisible(*doctor("--pid", str(p.pid)),
                                  "no libcurl mapped",
                                  "libratetap.so is not loaded")
        self.assertIn("not started with `ratetap run`", v)

    def test_an_unshimmed_curl_user_is_told_to_restart_under_run(self):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        p = self.spawn([self.prog("with_curl"), "sleep", "30"], env)
        p.stdout.readline()
        v = self.assertNotVisible(*doctor("--pid", str(p.pid)),
                                  "libratetap.so is not loaded")
        self.assertIn("restart it with `ratetap run", v)

    def test_a_process_that_does_not_exist(self):
        p = subprocess.Popen(["true"])
        p.wait()
        rc, out, err = doctor("--pid", str(p.pid))
        self.assertEqual(rc, 2)
        self.assertIn("no process with pid %d" % p.pid, err)


if __name__ == "__main__":
    unittest.main()
