"""ratetap doctor: can ratetap see a program, and if not, why.

Real programs of the system (curl, wget, php, python3, ruby, lua, perl,
true) and the test programs of tests/doctor/ (built by make test-progs): a
static binary, one with libcurl inside it, one linking the shared libcurl,
one without libcurl; setuid, setgid and file-capability copies are made
here.  Interpreters whose libcurl binding is an extension module (php's
curl extension, pycurl, ruby's curb, lua-curl, perl's WWW::Curl) are
diagnosed as they are installed, #! scripts through their interpreter and
their own imports; for ruby, lua and perl a real request under `ratetap
run` proves the verdict.
"""

import os
import shutil
import stat
import struct
import subprocess
import tempfile
import time
import unittest

from harness import BUILD, CLI, Daemon, MockAPI, run

PROGS = os.path.join(BUILD, "tests", "doctor")
NOWHERE_SOCK = "/nonexistent/ratetap-test/ingest.sock"


def doctor(*args, env=None):
    p = run([CLI, "doctor"] + list(args), env if env is not None
            else dict(os.environ), timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def layer_lines(out):
    """The tls, layer and seen / not seen lines of a report, in order."""
    return [l for l in out.splitlines()
            if l[:14].strip().split(" ")[0] in ("tls", "layer", "seen")
            or l.startswith("  not seen ")]


TLS_PY = "VISIBLE (over HTTPS, at the TLS layer: _ssl links libssl.so.3)"


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

    def test_php_names_its_stream_wrapper_as_seen_at_the_tls_layer(self):
        php = shutil.which("php")
        if php is None or not has_module("php", "curl"):
            self.skipTest("php or its curl extension is not installed")
        rc, out, err = doctor(php)
        self.assertVisible(rc, out, err)
        v = verdict(out)
        self.assertIn("curl extension (curl_*, Guzzle's default handler): "
                      "VISIBLE", v)
        self.assertIn("stream wrapper (file_get_contents, fopen, Guzzle "
                      "'stream' => true): VISIBLE (over HTTPS, at the TLS "
                      "layer: php links libssl.so.3)", v)
        self.assertIn("  tls         OpenSSL (libssl.so.3), linked "
                      "directly\n", out)

    def test_python3_is_visible_through_pycurl(self):
        if not os.path.exists("/usr/bin/python3"):
            self.skipTest("no /usr/bin/python3")
        if subprocess.run(["/usr/bin/python3", "-c", "import pycurl"],
                          capture_output=True).returncode != 0:
            self.skipTest("pycurl is not installed")
        rc, out, err = doctor("/usr/bin/python3")
        self.assertVisible(rc, out, err, "pycurl", "libcurl-gnutls.so.4 "
                           "(GnuTLS), linked by the module")
        v = verdict(out)
        self.assertIn("pycurl: VISIBLE", v)
        self.assertIn("urllib, http.client, requests, httpx, aiohttp: "
                      "%s" % TLS_PY, v)

    def test_curl_names_what_it_uses(self):
        rc, out, err = doctor("curl")
        self.assertVisible(rc, out, err)
        self.assertIn("curl: libcurl.so.4 (OpenSSL): VISIBLE", verdict(out))

    def test_wget_uses_gnutls_and_is_seen_at_the_tls_layer(self):
        if shutil.which("wget") is None:
            self.skipTest("wget is not installed")
        rc, out, err = doctor("wget")
        self.assertVisible(rc, out, err)
        lines = layer_lines(out)
        self.assertEqual(lines, [
            "  tls         GnuTLS (libgnutls.so.30), linked directly",
            "  layer       TLS layer: its HTTPS requests are read from its "
            "gnutls_record_* calls",
            "  seen        its own HTTP over GnuTLS (libgnutls.so.30): over "
            "HTTPS, at the TLS layer"], out)
        self.assertIn("wget: its own HTTP over GnuTLS (libgnutls.so.30): "
                      "VISIBLE (over HTTPS, at the TLS layer)", verdict(out))

    def test_curl_is_the_libcurl_layers_not_the_tls_layers(self):
        rc, out, err = doctor("/usr/bin/curl")
        self.assertVisible(rc, out, err)
        self.assertEqual(layer_lines(out), [
            "  tls         OpenSSL (libssl.so.3), linked through curl -> "
            "libcurl.so.4 -> libssl.so.3",
            "  layer       libcurl layer: one event per transfer; the TLS "
            "connections under it are libcurl's and are not counted again "
            "at the TLS layer",
            "  seen        libcurl.so.4 (OpenSSL)"], out)

    def test_python3_and_ruby_are_seen_through_their_ssl_modules(self):
        for prog, mod, what in (
                ("/usr/bin/python3", "_ssl", "urllib, http.client, "
                 "requests, httpx, aiohttp"),
                ("/usr/bin/ruby", "openssl.so", "net/http (open-uri, "
                 "Faraday's default adapter, HTTParty)")):
            with self.subTest(prog=prog):
                if not os.path.exists(prog):
                    self.skipTest("no %s" % prog)
                rc, out, err = doctor(prog)
                self.assertVisible(rc, out, err)
                tls = [l for l in out.splitlines()
                       if l.startswith("  tls ")]
                self.assertEqual(len(tls), 1, out)
                self.assertTrue(tls[0].startswith("  tls         %s /" % mod),
                                tls[0])
                self.assertTrue(tls[0].endswith(": OpenSSL (libssl.so.3), "
                                                "linked by the module"),
                                tls[0])
                self.assertIn("  layer       TLS layer: its HTTPS requests "
                              "are read from its SSL_read/SSL_write "
                              "calls\n", out)
                self.assertIn("  seen        %s: over HTTPS, at the TLS "
                              "layer: %s links libssl.so.3\n" % (what, mod),
                              out)

    def test_the_installed_node_is_judged_by_its_own_symbols(self):
        node = shutil.which("node")
        if node is None:
            self.skipTest("node is not installed")
        real = os.path.realpath(node)
        libs = subprocess.run(["readelf", "-d", real], capture_output=True)
        if b"[libssl.so" in libs.stdout:
            rc, out, err = doctor(node)
            self.assertVisible(rc, out, err, "  layer       TLS layer")
            return
        syms = subprocess.run(["nm", "-D", "--defined-only", real],
                              capture_output=True).stdout.split()
        if b"SSL_read" not in syms or b"SSL_write" not in syms:
            self.skipTest("%s neither links libssl nor exports SSL_*" % real)
        v = self.assertNotVisible(*doctor(node))
        ver = subprocess.run([node, "-p", "process.versions.openssl"],
                             capture_output=True).stdout.decode().strip()
        lines = layer_lines(doctor(node)[1])
        self.assertEqual(lines, [
            "  tls         its own OpenSSL %s (exports SSL_read, SSL_write "
            "itself)" % ver,
            "  layer       none: its TLS is linked into the executable: its "
            "calls to SSL_read/SSL_write are bound inside it at build time, "
            "and a preload cannot interpose a call that never goes through "
            "the dynamic loader",
            "  not seen    http, https, fetch: no libcurl; its TLS is linked "
            "into the executable, out of a preload's reach"])
        self.assertIn("Claude Code is counted from its transcripts", v)

    def test_programs_carrying_their_own_tls(self):
        for name, tls in (
                ("own_ssl", "its own OpenSSL 3.0.99 (exports SSL_read, "
                 "SSL_write itself)"),
                ("own_gnutls", "its own GnuTLS (exports "
                 "gnutls_record_recv/send itself)"),
                ("go_like", "Go's crypto/tls, linked into the program"),
                ("rust_like", "rustls, linked into the program")):
            with self.subTest(name=name):
                v = self.assertNotVisible(*doctor(self.prog(name)),
                                          "  tls         %s\n" % tls,
                                          "  layer       none: ")
                self.assertIn("the TLS layer cannot reach its TLS", v)
        # a program linking the shared libssl is seen there
        rc, out, err = doctor(self.prog("with_ssl"))
        self.assertVisible(rc, out, err, "  tls         OpenSSL "
                           "(libssl.so.3), linked directly\n",
                           "  layer       TLS layer")

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
        self.assertIn("does not use libcurl, and the TLS layer cannot reach "
                      "its TLS: not visible (use a proxy-based tool", v)
        self.assertIn("http, https, fetch: NOT VISIBLE (no libcurl; no TLS "
                      "library found)", v)

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
        # without an argument doctor checks the setup (test_enable.py)
        for args, msg in ((["no-such-program-ratetap"], "not found in PATH"),
                          (["/bin/true", "/bin/false"], "one program"),
                          (["--pid", "abc"], "needs a process id"),
                          (["--pid", "0"], "needs a process id"),
                          (["--pid", "1", "/bin/true"], "not both"),
                          (["--bogus"], "usage: ratetap doctor")):
            rc, out, err = doctor(*args)
            self.assertEqual(rc, 2, (args, out, err))
            self.assertIn(msg, err, args)


def has_module(lang, what):
    """Can the interpreter load the binding?  Asked of the interpreter
    itself, to skip where a package is missing."""
    probes = {
        ("php", "curl"): ["php", "-r", "exit(function_exists('curl_init')"
                          " ? 0 : 1);"],
        ("ruby", "curb"): ["ruby", "-e", "require 'curb'"],
        ("lua5.1", "curl"): ["lua5.1", "-e", "require 'curl'"],
        ("lua5.2", "curl"): ["lua5.2", "-e", "require 'curl'"],
        ("perl", "WWW::Curl"): ["perl", "-MWWW::Curl::Easy", "-e", "1"],
        ("python3", "pycurl"): ["/usr/bin/python3", "-c", "import pycurl"],
    }
    argv = probes[(lang, what)]
    if shutil.which(argv[0]) is None:
        return False
    return subprocess.run(argv, capture_output=True).returncode == 0


LUAS = [l for l in ("lua5.1", "lua5.2") if shutil.which(l)]


class Bindings(DoctorTest):
    """Interpreters whose libcurl binding is an extension module loaded at
    run time: found where the interpreter itself loads extensions from."""

    def test_ruby_with_curb_is_visible(self):
        if not has_module("ruby", "curb"):
            self.skipTest("ruby-curb is not installed")
        rc, out, err = doctor("ruby")
        self.assertVisible(rc, out, err, "curb_core.so",
                           "libcurl-gnutls.so.4 (GnuTLS), linked by the "
                           "module")
        v = verdict(out)
        self.assertIn("curb (Curl::Easy, Curl::Multi): VISIBLE", v)
        self.assertIn("net/http (open-uri, Faraday's default adapter, "
                      "HTTParty): VISIBLE (over HTTPS, at the TLS layer: "
                      "openssl.so links libssl.so.3)", v)

    def test_lua_with_lua_curl_is_visible(self):
        if not LUAS:
            self.skipTest("no lua5.1 or lua5.2")
        for lua in LUAS:
            if not has_module(lua, "curl"):
                continue
            rc, out, err = doctor(lua)
            self.assertVisible(rc, out, err, "libcurl-gnutls.so.4",
                               "/lua/%s/curl.so" % lua[3:])
            self.assertIn("lua-curl", verdict(out))

    def test_lua_follows_its_cpath(self):
        # LUA_CPATH_5_x replaces the compiled-in search path: nowhere to
        # load curl.so from, nothing to see
        if not LUAS or not has_module(LUAS[-1], "curl"):
            self.skipTest("no lua with lua-curl")
        lua = LUAS[-1]
        env = dict(os.environ)
        env["LUA_CPATH_" + lua[3:].replace(".", "_")] = \
            os.path.join(self.tmp, "?.so")
        v = self.assertNotVisible(*doctor(lua, env=env))
        self.assertIn("no libcurl binding", v)
        # a module of its own on the path is found
        env["LUA_CPATH_" + lua[3:].replace(".", "_")] = \
            os.path.join(self.tmp, "?.so") + ";;"
        os.symlink(os.path.realpath("/usr/lib/%s/lua/%s/curl.so" % (
            multiarch(), lua[3:])), os.path.join(self.tmp, "curl.so"))
        rc, out, err = doctor(lua, env=env)
        self.assertVisible(rc, out, err, os.path.join(self.tmp, "curl.so"))

    def test_a_binding_without_a_shared_libcurl_is_not_visible(self):
        # a curl.so on the cpath that carries libcurl inside it, or links
        # none: nothing for the shim to reach
        if not LUAS:
            self.skipTest("no lua")
        lua = LUAS[-1]
        var = "LUA_CPATH_" + lua[3:].replace(".", "_")
        env = dict(os.environ)
        env[var] = os.path.join(self.tmp, "?.so")
        mod = os.path.join(self.tmp, "curl.so")
        static = os.path.join(PROGS, "static_curl")
        if os.path.exists(static):
            os.symlink(static, mod)
            v = self.assertNotVisible(*doctor(lua, env=env),
                                      "carries its own copy of libcurl")
            self.assertIn("lua-curl (require \"curl\"): NOT VISIBLE", v)
            os.unlink(mod)
        os.symlink(self.prog("no_curl"), mod)
        v = self.assertNotVisible(*doctor(lua, env=env), mod)
        self.assertIn("NOT VISIBLE (the module links no shared libcurl)", v)

    def test_perl_with_www_curl_is_visible(self):
        if not has_module("perl", "WWW::Curl"):
            self.skipTest("libwww-curl-perl is not installed")
        rc, out, err = doctor("perl")
        self.assertVisible(rc, out, err, "auto/WWW/Curl/Curl.so")
        v = verdict(out)
        self.assertIn("WWW::Curl: VISIBLE", v)
        self.assertIn("LWP, HTTP::Tiny: NOT VISIBLE (no libcurl)", v)

    def test_a_python_venv_sees_the_system_pycurl_only_when_it_includes_it(
            self):
        if not has_module("python3", "pycurl"):
            self.skipTest("pycurl is not installed")
        for flags, seen in (([], False), (["--system-site-packages"], True)):
            venv = os.path.join(self.tmp, "venv%d" % len(flags))
            p = subprocess.run(["/usr/bin/python3", "-m", "venv",
                                "--without-pip"] + flags + [venv],
                               capture_output=True)
            if p.returncode != 0:
                self.skipTest("python3 -m venv: %s" % p.stderr)
            py = os.path.join(venv, "bin", "python3")
            # the interpreter itself agrees
            imp = subprocess.run([py, "-c", "import pycurl"],
                                 capture_output=True).returncode == 0
            self.assertEqual(imp, seen)
            rc, out, err = doctor(py)
            self.assertIn("virtual environment %s" % venv, out)
            if seen:
                self.assertVisible(rc, out, err, "pycurl: VISIBLE")
            else:
                # urllib and the rest are still seen, through _ssl
                self.assertVisible(rc, out, err)
                v = verdict(out)
                self.assertIn("pycurl: NOT VISIBLE (not installed in the "
                              "virtual environment", v)
                self.assertIn("aiohttp: " + TLS_PY, v)


def multiarch():
    """Debian's multiarch directory name of this system, from where libc
    is (never assumed)."""
    for d in ("/lib", "/usr/lib"):
        for e in sorted(os.listdir(d)):
            if "-linux-" in e and os.path.exists(
                    os.path.join(d, e, "libc.so.6")):
                return e
    raise AssertionError("no multiarch libc directory")


class Scripts(DoctorTest):
    """#! scripts: the shebang is parsed like the kernel and env(1) do,
    the interpreter diagnosed, and the script's own imports read (never
    run)."""

    def setUp(self):
        super().setUp()
        # the system's interpreters, not a version manager's shims
        self.env = dict(os.environ, PATH="/usr/bin:/bin")

    def doctor(self, *args):
        return doctor(*args, env=self.env)

    def script(self, name, text):
        p = os.path.join(self.tmp, name)
        marker = os.path.join(self.tmp, "ran")
        with open(p, "w") as f:
            f.write(text.replace("MARKER", marker))
        os.chmod(p, 0o755)
        self.addCleanup(self.assertFalse, os.path.exists(marker),
                        "doctor ran the script")
        return p

    def test_a_python_script_importing_pycurl_is_visible(self):
        if not has_module("python3", "pycurl"):
            self.skipTest("pycurl is not installed")
        s = self.script("a.py", "#!/usr/bin/python3\nimport os, pycurl\n"
                        "open('MARKER', 'w')\n")
        rc, out, err = self.doctor(s)
        self.assertVisible(rc, out, err, "imports pycurl")
        self.assertIn("a.py uses pycurl: VISIBLE", verdict(out))

    def test_a_python_script_importing_requests_is_seen_at_the_tls_layer(
            self):
        for line in ("import requests", "from httpx import Client",
                     "import urllib.request", "import anthropic"):
            s = self.script("r.py", "#!/usr/bin/env python3\n%s\n"
                            "open('MARKER', 'w')\n" % line)
            rc, out, err = self.doctor(s)
            self.assertVisible(rc, out, err, "diagnosing the interpreter")
            v = verdict(out)
            self.assertIn(": %s" % TLS_PY, v, line)
            self.assertIn(line.split()[1].split(".")[0], v, line)

    def test_a_python_script_with_both_names_each(self):
        if not has_module("python3", "pycurl"):
            self.skipTest("pycurl is not installed")
        s = self.script("b.py", "#!/usr/bin/env -S python3 -u\n"
                        "import pycurl\nimport requests\n")
        rc, out, err = self.doctor(s)
        self.assertVisible(rc, out, err)
        v = verdict(out)
        self.assertIn("pycurl: VISIBLE", v)
        self.assertIn("requests: %s" % TLS_PY, v)

    def test_python_without_site_cannot_import_debians_pycurl(self):
        if not has_module("python3", "pycurl"):
            self.skipTest("pycurl is not installed")
        s = self.script("s.py", "#!/usr/bin/python3 -S\nimport pycurl\n")
        rc, out, err = self.doctor(s)
        v = self.assertNotVisible(rc, out, err, "-S")
        self.assertIn("pycurl", v)

    def test_a_ruby_script_requiring_curb_or_net_http(self):
        if not has_module("ruby", "curb"):
            self.skipTest("ruby-curb is not installed")
        s = self.script("c.rb", "#!/usr/bin/env ruby\nrequire 'curb'\n"
                        "File.write('MARKER', '')\n")
        rc, out, err = self.doctor(s)
        self.assertVisible(rc, out, err, "requires curb")
        s = self.script("n.rb", "#!/usr/bin/env -S ruby -w\n"
                        "require \"net/http\"\nFile.write('MARKER', '')\n")
        rc, out, err = self.doctor(s)
        self.assertVisible(rc, out, err)
        self.assertIn("net/http: VISIBLE (over HTTPS, at the TLS layer: "
                      "openssl.so links libssl.so.3)", verdict(out))

    def test_a_lua_script_requiring_curl(self):
        if not LUAS or not has_module(LUAS[-1], "curl"):
            self.skipTest("no lua with lua-curl")
        s = self.script("l.lua", "#!/usr/bin/env %s\nlocal curl = "
                        "require(\"curl\")\n" % LUAS[-1])
        self.assertVisible(*self.doctor(s), "requires curl")
        s = self.script("h.lua", "#!/usr/bin/env %s\nlocal http = "
                        "require 'socket.http'\n" % LUAS[-1])
        v = self.assertNotVisible(*self.doctor(s))
        self.assertIn("socket.http", v)

    def test_a_php_script_using_the_stream_wrapper(self):
        if not has_module("php", "curl"):
            self.skipTest("php-curl is not installed")
        s = self.script("f.php", "#!/usr/bin/php\n<?php\n$r = "
                        "file_get_contents('https://api.anthropic.com/');\n")
        rc, out, err = self.doctor(s)
        self.assertVisible(rc, out, err)
        self.assertIn("file_get_contents / fopen on a URL (stream wrapper): "
                      "VISIBLE (over HTTPS, at the TLS layer: php links "
                      "libssl.so.3)", verdict(out))
        s = self.script("g.php", "#!/usr/bin/env php\n<?php\n"
                        "$c = new GuzzleHttp\\Client();\n"
                        "$c->post('https://x/', ['stream' => true]);\n")
        rc, out, err = self.doctor(s)
        v = verdict(out)
        self.assertIn("Guzzle with 'stream' => true (stream wrapper): "
                      "VISIBLE (over HTTPS, at the TLS layer", v)
        self.assertIn("Guzzle without it (curl extension): VISIBLE", v)
        s = self.script("h.php", "#!/usr/bin/env php\n<?php\n"
                        "$c = curl_init('https://x/');\ncurl_exec($c);\n")
        rc, out, err = self.doctor(s)
        self.assertVisible(rc, out, err, "uses curl_*")

    def test_php_without_ini_files_has_no_curl_extension(self):
        if not has_module("php", "curl"):
            self.skipTest("php-curl is not installed")
        s = self.script("n.php", "#!/usr/bin/php -n\n<?php curl_init();\n")
        v = self.assertNotVisible(*self.doctor(s), "-n")
        self.assertIn("curl extension", v)

    def test_env_without_s_takes_the_rest_as_one_name(self):
        s = self.script("e.py", "#!/usr/bin/env python3 -u\nimport pycurl\n")
        v = self.assertNotVisible(*self.doctor(s))
        self.assertIn("'python3 -u'", v)
        self.assertIn("env -S", v)

    def test_env_options_and_assignments_are_skipped(self):
        s = self.script("o.py", "#!/usr/bin/env -S -u HOME A=1 "
                        "/usr/bin/python3 -u\nimport requests\n")
        rc, out, err = self.doctor(s)
        self.assertIn("interpreter /usr/bin/python3", out)
        self.assertIn("requests: VISIBLE", verdict(out))


BODY = '{"model":"claude-sonnet-4-5","max_tokens":64,' \
       '"messages":[{"role":"user","content":"hi"}]}'

RUBY = """#!/usr/bin/env ruby
require 'curb'
c = Curl::Easy.new(ARGV[0])
c.headers['content-type'] = 'application/json'
c.cacert = ARGV[2] if ARGV[2]
c.http_post(ARGV[1])
print c.body_str
"""

LUA = """#!/usr/bin/env %s
local curl = require("curl")
local c = curl.easy_init()
local out = {}
c:setopt(curl.OPT_URL, arg[1])
c:setopt(curl.OPT_POSTFIELDS, arg[2])
if arg[3] then c:setopt(curl.OPT_CAINFO, arg[3]) end
c:setopt(curl.OPT_HTTPHEADER, {"content-type: application/json"})
c:setopt(curl.OPT_WRITEFUNCTION, function(s)
    out[#out + 1] = s
    return #s
end)
c:perform()
io.write(table.concat(out))
"""

PERL = """#!/usr/bin/perl
use strict;
use WWW::Curl::Easy;
my $c = WWW::Curl::Easy->new;
my $body = '';
$c->setopt(CURLOPT_URL, $ARGV[0]);
$c->setopt(CURLOPT_POSTFIELDS, $ARGV[1]);
$c->setopt(CURLOPT_CAINFO, $ARGV[2]) if @ARGV > 2;
$c->setopt(CURLOPT_HTTPHEADER, ['content-type: application/json']);
$c->setopt(CURLOPT_WRITEDATA, \\$body);
my $rc = $c->perform;
die "perform: $rc" if $rc != 0;
print $body;
"""

GUZZLE = "/usr/share/php/GuzzleHttp/autoload.php"

# Three requests: Guzzle's default handler (the curl extension), Guzzle with
# 'stream' => true and file_get_contents (both PHP's stream wrapper).
PHP_GUZZLE = """#!/usr/bin/php
<?php
require '%s';
[$url, $body] = array_slice($argv, 1, 2);
$ca = $argv[3] ?? null;
$g = new GuzzleHttp\\Client();
$opt = ['body' => $body, 'verify' => $ca ?? true,
        'headers' => ['content-type' => 'application/json']];
echo $g->post($url, $opt)->getBody(), "\\n";
echo $g->post($url, $opt + ['stream' => true])->getBody()->getContents(), "\\n";
$ctx = stream_context_create(['http' => ['method' => 'POST',
    'header' => "content-type: application/json\\r\\n", 'content' => $body],
    'ssl' => ['cafile' => $ca]]);
echo file_get_contents($url, false, $ctx), "\\n";
""" % GUZZLE


class TheVerdictIsTrue(DoctorTest):
    """A VISIBLE verdict for a binding is proved by a real request under
    `ratetap run`, over HTTP and HTTPS, counted by the real daemon."""

    def check(self, name, text):
        s = os.path.join(self.tmp, name)
        with open(s, "w") as f:
            f.write(text)
        os.chmod(s, 0o755)
        self.assertVisible(*doctor(s))
        for tls in (False, True):
            with self.subTest(tls=tls), MockAPI(tls=tls) as api:
                self.request(s, api)

    def request(self, script, api, sent=1, counted=1):
        d = Daemon(api)
        try:
            env = dict(d.env)
            env.pop("LD_PRELOAD", None)
            p = run([CLI, "run", "--", script, api.url("/v1/messages"),
                     BODY] + ([api.cafile] if api.cafile else []), env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.count(b"claude-sonnet-4-5"), sent)
            self.assertEqual(api.stats()["requests"]["/v1/messages"], sent)
            st = d.wait_for(lambda s: s["requests"]["total"] >= counted)
            self.assertEqual(st["requests"]["total"], counted)
            self.assertEqual(st["requests"]["usage_unreadable"], 0)
            m = st["models"]["claude-sonnet-4-5"]
            self.assertEqual((m["input"], m["output"]),
                             (11 * counted, 22 * counted))
            self.assertEqual(sum(r["requests"] for r in
                                 st["processes"].values()), counted)
        finally:
            d.stop()

    def test_ruby_curb_request_is_counted(self):
        if not has_module("ruby", "curb"):
            self.skipTest("ruby-curb is not installed")
        self.check("curb.rb", RUBY)

    def test_lua_curl_request_is_counted(self):
        done = 0
        for lua in LUAS:
            if has_module(lua, "curl"):
                self.check("lcurl.lua", LUA % lua)
                done += 1
        if not done:
            self.skipTest("no lua with lua-curl")

    def test_php_guzzle_counts_its_curl_and_https_stream_requests(self):
        # doctor names Guzzle's stream => true and file_get_contents as seen
        # over HTTPS, at the TLS layer: the daemon counts the three sent
        # over HTTPS, and over plain HTTP only the curl extension's one
        if not has_module("php", "curl") or not os.path.exists(GUZZLE):
            self.skipTest("php-curl or php-guzzlehttp-guzzle is missing")
        s = os.path.join(self.tmp, "guzzle.php")
        with open(s, "w") as f:
            f.write(PHP_GUZZLE)
        os.chmod(s, 0o755)
        rc, out, err = doctor(s)
        self.assertVisible(rc, out, err)
        v = verdict(out)
        self.assertIn("guzzle.php uses Guzzle with 'stream' => true (stream "
                      "wrapper): VISIBLE (over HTTPS, at the TLS layer: php "
                      "links libssl.so.3)", v)
        self.assertIn("Guzzle without it (curl extension): VISIBLE", v)
        self.assertIn("file_get_contents / fopen on a URL (stream wrapper): "
                      "VISIBLE (over HTTPS, at the TLS layer: php links "
                      "libssl.so.3)", v)
        for tls in (False, True):
            with self.subTest(tls=tls), MockAPI(tls=tls) as api:
                self.request(s, api, sent=3, counted=3 if tls else 1)

    def test_perl_www_curl_request_is_counted(self):
        if not has_module("perl", "WWW::Curl"):
            self.skipTest("libwww-curl-perl is not installed")
        self.check("wwwcurl.pl", PERL)


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

    def test_a_running_script_is_judged_by_its_imports(self):
        if not has_module("python3", "pycurl"):
            self.skipTest("pycurl is not installed")
        script = os.path.join(self.tmp, "svc.py")
        with open(script, "w") as f:
            f.write("import sys, time\nimport pycurl\n"
                    "import urllib.request\n"
                    "print('ready', flush=True)\ntime.sleep(30)\n")
        env = dict(os.environ, RATETAP_SOCKET=NOWHERE_SOCK)
        env.pop("LD_PRELOAD", None)
        p = self.spawn([CLI, "run", "--no-daemon", "--",
                        "/usr/bin/python3", "-u", script], env)
        self.assertEqual(p.stdout.readline(), b"ready\n")
        rc, out, err = doctor("--pid", str(p.pid))
        self.assertVisible(rc, out, err, "libratetap.so is loaded",
                           "libcurl-gnutls.so.4", "imports pycurl",
                           "imports urllib")
        v = verdict(out)
        # pycurl's libcurl and urllib's _ssl: both ways in are seen
        self.assertIn("its libcurl transfers are counted", v)
        self.assertNotIn("not seen", v)

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
