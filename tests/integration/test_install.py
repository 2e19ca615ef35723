"""make install / make uninstall.

Two parts:

1. Staging: `make install DESTDIR=<tmp>` of the current build puts every
   file where it belongs (and nothing else), with @bindir@ substituted in
   the systemd units; `make uninstall DESTDIR=<tmp>` removes exactly those
   files.

2. End to end.  The binaries embed the shim's install directory
   (RATETAP_LIBDIR, from PREFIX) at compile time, and DESTDIR is not part of
   it; so a staged install cannot find its shim by itself, and pointing
   RATETAP_SHIM at it would bypass what is being tested.  The honest variant:
   copy the source tree, build it with PREFIX=<tmp>/prefix, install with no
   DESTDIR, and run the installed `ratetap run` with RATETAP_SHIM unset and
   nothing of build/ in PATH.  It must find the installed shim (in its
   LIBDIR: not beside ratetap in bin/) and start the installed ratetapd (the
   one beside it), and the shimmed curl's request must show in the installed
   `ratetap status`.  Then `make uninstall` leaves no file behind.
"""

import filecmp
import json
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import BUILD, CLI, DAEMON, MockAPI, ROOT, SHIM, run
from test_cli import World, version

BODY = ('{"model": "claude-sonnet-4-5", "max_tokens": 64, '
        '"messages": [{"role": "user", "content": "hi"}]}')


def make(args, cwd=ROOT, timeout=600):
    env = dict(os.environ)
    for k in ("DESTDIR", "PREFIX", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    p = subprocess.run(["make", "--no-print-directory"] + args, cwd=cwd,
                       env=env, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("make %s failed (%d):\n%s\n%s" % (
            " ".join(args), p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace")[-4000:]))
    return p


def files_under(top):
    out = set()
    for d, _, names in os.walk(top):
        for n in names:
            out.add(os.path.relpath(os.path.join(d, n), top))
    return out


def expected_files(prefix):
    p = prefix.lstrip("/")
    docs = ["README.md"] + sorted(
        "docs/" + n for n in os.listdir(os.path.join(ROOT, "docs"))
        if n.endswith(".md"))
    files = {p + "/bin/ratetap", p + "/bin/ratetapd",
             p + "/lib/ratetap/libratetap.so",
             p + "/share/man/man1/ratetap.1",
             p + "/share/man/man8/ratetapd.8",
             p + "/lib/systemd/user/ratetap.socket",
             p + "/lib/systemd/user/ratetap.service",
             p + "/share/ratetap/pricing.json"}
    files |= {p + "/share/doc/ratetap/" + os.path.basename(d) for d in docs}
    return files


class InstallTest(unittest.TestCase):
    def setUp(self):
        for f in (CLI, DAEMON, SHIM):
            if not os.path.exists(f):
                self.fail("%s is not built (make)" % f)
        base = "/tmp" if len(tempfile.gettempdir()) > 40 else None
        self.tmp = tempfile.mkdtemp(prefix="rt-inst-", dir=base)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_staged_install_puts_every_file_in_place_and_uninstall_removes_them(self):
        dest = os.path.join(self.tmp, "dest")
        make(["install", "DESTDIR=" + dest])
        want = expected_files("/usr/local")
        self.assertEqual(files_under(dest), want)

        pre = os.path.join(dest, "usr/local")
        for name, src in (("bin/ratetap", CLI), ("bin/ratetapd", DAEMON),
                          ("lib/ratetap/libratetap.so", SHIM)):
            path = os.path.join(pre, name)
            self.assertTrue(filecmp.cmp(path, src, shallow=False), name)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o755)
        for name in ("share/man/man1/ratetap.1", "share/man/man8/ratetapd.8",
                     "lib/systemd/user/ratetap.socket"):
            self.assertEqual(stat.S_IMODE(os.stat(
                os.path.join(pre, name)).st_mode), 0o644, name)
        with open(os.path.join(pre, "lib/systemd/user/ratetap.service")) as f:
            unit = f.read()
        self.assertIn("\nExecStart=/usr/local/bin/ratetapd\n", unit)
        self.assertNotIn("@bindir@", unit)

        # the installed binary runs (it needs nothing from build/)
        p = run([os.path.join(pre, "bin/ratetap"), "--version"],
                dict(os.environ))
        self.assertEqual(p.stdout.decode(), "ratetap %s\n" % version())

        # uninstall removes exactly what install put there
        other = os.path.join(pre, "bin", "someone-elses-tool")
        with open(other, "w") as f:
            f.write("keep me\n")
        make(["uninstall", "DESTDIR=" + dest])
        self.assertEqual(files_under(dest),
                         {"usr/local/bin/someone-elses-tool"})
        self.assertFalse(os.path.exists(os.path.join(pre, "lib/ratetap")))
        self.assertFalse(os.path.exists(os.path.join(pre,
                                                     "share/doc/ratetap")))

    def test_installed_ratetap_run_works_end_to_end_with_the_installed_parts(self):
        src = os.path.join(self.tmp, "src")
        prefix = os.path.join(self.tmp, "prefix")
        shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
            "build", ".git", "__pycache__", "config.mak"))
        make(["-j2", "PREFIX=" + prefix, "all"], cwd=src)
        make(["PREFIX=" + prefix, "install"], cwd=src)
        installed = {os.path.join(prefix.lstrip("/"), f)
                     for f in files_under(prefix)}
        self.assertEqual(installed, expected_files(prefix))
        ratetap = os.path.join(prefix, "bin", "ratetap")
        shim = os.path.join(prefix, "lib", "ratetap", "libratetap.so")

        with MockAPI() as api:
            w = World(api=api)
            self.addCleanup(w.close)
            env = dict(w.env)
            env["PATH"] = os.pathsep.join(
                d for d in os.environ.get("PATH", "/usr/bin:/bin").split(
                    os.pathsep) if os.path.realpath(d) != BUILD)
            env.pop("RATETAP_SHIM", None)

            p = run([ratetap, "run", "--", "sh", "-c",
                     'printf %s "$LD_PRELOAD"'], env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.decode(), shim)
            pids = w.daemons()
            self.assertEqual(len(pids), 1)
            self.assertEqual(os.path.realpath("/proc/%d/exe" % pids[0]),
                             os.path.join(prefix, "bin", "ratetapd"))

            p = run([ratetap, "run", "--", "curl", "-sS", "--noproxy", "*",
                     "-H", "content-type: application/json",
                     api.url("/v1/messages"), "-d", BODY], env)
            self.assertEqual(p.returncode, 0, p.stderr)
            w.wait_for(lambda s: s["requests"]["total"] >= 1)
            p = run([ratetap, "status", "--json"], env)
            st = json.loads(p.stdout)
            self.assertEqual(st["processes"]["curl"]["requests"], 1)
            self.assertEqual(st["processes"]["curl"]["input"], 11)
            p = run([ratetap, "status"], env)
            self.assertRegex(p.stdout.decode(), r"(?m)^  curl +1 +41$")
            w.close()

        # the installed units are valid systemd units
        analyze = shutil.which("systemd-analyze")
        if analyze is not None:
            units = os.path.join(prefix, "lib", "systemd", "user")
            p = subprocess.run(
                [analyze, "verify", "--user", "--man=no",
                 os.path.join(units, "ratetap.socket"),
                 os.path.join(units, "ratetap.service")],
                capture_output=True, timeout=60,
                env=dict(os.environ, XDG_RUNTIME_DIR=self.tmp))
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertEqual(p.stderr.decode().strip(), "")

        make(["PREFIX=" + prefix, "uninstall"], cwd=src)
        self.assertEqual(files_under(prefix), set())


class ManPages(unittest.TestCase):
    def test_man_pages_format_without_warnings(self):
        groff = shutil.which("groff")
        man = shutil.which("man")
        if groff is None and man is None:
            self.skipTest("neither groff nor man is installed")
        for page in ("man/ratetap.1", "man/ratetapd.8"):
            path = os.path.join(ROOT, page)
            if groff is not None:
                p = subprocess.run([groff, "-man", "-ww", "-z", path],
                                   capture_output=True, timeout=60)
                self.assertEqual((p.returncode, p.stderr), (0, b""), page)
            if man is not None:
                p = subprocess.run([man, "--warnings", "-l", path],
                                   capture_output=True, timeout=60,
                                   env=dict(os.environ, MANWIDTH="80",
                                            MANPAGER="cat", PAGER="cat"))
                self.assertEqual((p.returncode, p.stderr), (0, b""), page)
                self.assertIn(b"SYNOPSIS", p.stdout)


if __name__ == "__main__":
    unittest.main()
