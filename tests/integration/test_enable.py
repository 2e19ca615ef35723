"""`ratetap enable` / `ratetap disable` in a temporary HOME without
systemd: the exact block each shell start-up file gets, idempotence,
removal, an existing LD_PRELOAD kept (evaluated by the real shells), mode
and links kept, a damaged block left alone; the reminder of `ratetap
status`; and `ratetap doctor` without an argument checking the whole
setup against a real ratetapd, never printing the token."""

import os
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import CLI, SHIM, Daemon, run

SH_BLOCK = (
    "# >>> ratetap >>> added by `ratetap enable`; `ratetap disable` "
    "removes it\n"
    "case \":${LD_PRELOAD-}:\" in\n"
    "*:'%(s)s':*) ;;\n"
    "*) export LD_PRELOAD='%(s)s'\"${LD_PRELOAD:+:$LD_PRELOAD}\" ;;\n"
    "esac\n"
    "# <<< ratetap <<<\n") % {"s": SHIM}
FISH_BLOCK = (
    "# >>> ratetap >>> added by `ratetap enable`; `ratetap disable` "
    "removes it\n"
    "if not string match -q -- '*:%(s)s:*' \":$LD_PRELOAD:\"\n"
    "    if test -n \"$LD_PRELOAD\"\n"
    "        set -gx LD_PRELOAD '%(s)s':\"$LD_PRELOAD\"\n"
    "    else\n"
    "        set -gx LD_PRELOAD '%(s)s'\n"
    "    end\n"
    "end\n"
    "# <<< ratetap <<<\n") % {"s": SHIM}
TOKEN = "sk-ant-oat01-enable-test-secret"
# any library ld.so can preload harmlessly
OTHER = "libm.so.6"


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class EnableTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rt-en-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.home = os.path.join(self.dir, "home")
        self.run_dir = os.path.join(self.dir, "run")
        os.makedirs(self.home, 0o700)
        os.makedirs(self.run_dir, 0o700)
        self.env = {"HOME": self.home, "PATH": os.environ["PATH"],
                    "XDG_RUNTIME_DIR": self.run_dir, "SHELL": "/bin/bash",
                    "XDG_STATE_HOME": os.path.join(self.dir, "state")}

    def p(self, rel):
        return os.path.join(self.home, rel)

    def cli(self, *args, env=None):
        return run([CLI] + list(args), env or self.env)

    def ok(self, *args):
        p = self.cli(*args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode()

    def test_enable_adds_one_block_where_the_shells_read_it(self):
        write(self.p(".bashrc"), "alias ll='ls -l'\n", 0o640)
        write(self.p(".config/fish/config.fish"), "set -g fish_greeting\n")
        out = self.ok("enable")
        self.assertIn("~/.bashrc: added", out)
        self.assertIn("systemd does not run this session", out)
        self.assertEqual(read(self.p(".bashrc")),
                         "alias ll='ls -l'\n" + SH_BLOCK)
        self.assertEqual(read(self.p(".profile")), SH_BLOCK)
        self.assertEqual(read(self.p(".config/fish/config.fish")),
                         "set -g fish_greeting\n" + FISH_BLOCK)
        # no zsh here: no ~/.zshrc made for it
        self.assertFalse(os.path.exists(self.p(".zshrc")))
        self.assertEqual(stat.S_IMODE(os.stat(self.p(".bashrc")).st_mode),
                         0o640)
        self.assertEqual(sorted(os.listdir(self.home)),
                         [".bashrc", ".config", ".profile"])

    def test_enable_twice_changes_nothing(self):
        write(self.p(".bashrc"), "x=1\n")
        self.ok("enable")
        before = {f: read(self.p(f)) for f in (".bashrc", ".profile")}
        ino = os.stat(self.p(".bashrc")).st_ino
        out = self.ok("enable")
        self.assertIn("~/.bashrc: already enabled", out)
        self.assertIn("~/.profile: already enabled", out)
        self.assertEqual({f: read(self.p(f)) for f in before}, before)
        self.assertEqual(os.stat(self.p(".bashrc")).st_ino, ino)

    def test_zsh_as_login_shell_gets_its_own_file(self):
        self.env["SHELL"] = "/usr/bin/zsh"
        self.ok("enable")
        self.assertEqual(read(self.p(".zshrc")), SH_BLOCK)
        self.assertFalse(os.path.exists(self.p(".bashrc")))

    def test_disable_restores_every_file(self):
        write(self.p(".bashrc"), "a\nb\n", 0o600)
        self.ok("enable")
        out = self.ok("disable")
        self.assertIn("~/.bashrc: removed", out)
        self.assertEqual(read(self.p(".bashrc")), "a\nb\n")
        self.assertEqual(stat.S_IMODE(os.stat(self.p(".bashrc")).st_mode),
                         0o600)
        # the file enable created goes with its block
        self.assertFalse(os.path.exists(self.p(".profile")))
        self.assertEqual(self.ok("disable").count("removed"), 0)

    def test_a_block_in_the_middle_comes_out_alone(self):
        write(self.p(".profile"), "before\n" + SH_BLOCK + "after\n")
        self.ok("disable")
        self.assertEqual(read(self.p(".profile")), "before\nafter\n")

    def test_dry_run_lists_the_changes_and_writes_nothing(self):
        write(self.p(".bashrc"), "x\n")
        out = self.ok("enable", "--dry-run")
        self.assertIn("~/.profile (new file):\n+ # >>> ratetap >>>", out)
        self.assertIn("~/.bashrc:\n+ # >>> ratetap >>>", out)
        self.assertIn("+ *) export LD_PRELOAD='%s'" % SHIM, out)
        self.assertEqual(read(self.p(".bashrc")), "x\n")
        self.assertFalse(os.path.exists(self.p(".profile")))
        self.ok("enable")
        out = self.ok("disable", "--dry-run")
        self.assertIn("~/.bashrc:\n- # >>> ratetap >>>", out)
        self.assertEqual(read(self.p(".bashrc")), "x\n" + SH_BLOCK)

    def test_an_existing_preload_is_kept_and_the_shim_never_doubled(self):
        write(self.p(".bashrc"), "export LD_PRELOAD=%s\n" % OTHER)
        self.ok("enable")
        for shell in ("sh", "bash", "zsh", "dash"):
            if shutil.which(shell) is None:
                continue
            env = dict(self.env, LD_PRELOAD=OTHER)
            # ~/.profile then ~/.bashrc, as a bash login shell does: once
            p = subprocess.run(
                [shell, "-c", '. "$HOME/.profile"; . "$HOME/.bashrc"; '
                 '. "$HOME/.profile"; printf %s "$LD_PRELOAD"'],
                env=env, capture_output=True, timeout=30)
            self.assertEqual(p.stdout.decode(), SHIM + ":" + OTHER,
                             (shell, p.stderr))
            env.pop("LD_PRELOAD")
            p = subprocess.run(
                [shell, "-c", '. "$HOME/.profile"; printf %s "$LD_PRELOAD"'],
                env=env, capture_output=True, timeout=30)
            self.assertEqual(p.stdout.decode(), SHIM, shell)

    @unittest.skipIf(shutil.which("fish") is None, "fish not installed")
    def test_fish_evaluates_its_block(self):
        write(self.p(".config/fish/config.fish"), "")
        self.ok("enable")
        p = subprocess.run(["fish", "-c", "echo $LD_PRELOAD"],
                           env=dict(self.env, LD_PRELOAD=OTHER),
                           capture_output=True, timeout=30)
        self.assertEqual(p.stdout.decode().strip(), SHIM + ":" + OTHER)

    def test_a_linked_file_is_rewritten_through_its_link(self):
        target = os.path.join(self.dir, "dotfiles", "bashrc")
        write(target, "y\n")
        os.symlink(target, self.p(".bashrc"))
        self.ok("enable")
        self.assertTrue(os.path.islink(self.p(".bashrc")))
        self.assertEqual(read(target), "y\n" + SH_BLOCK)
        self.ok("disable")
        self.assertEqual(read(target), "y\n")

    def test_a_block_without_its_end_is_left_alone(self):
        broken = "# >>> ratetap >>>\nexport LD_PRELOAD=/x\n"
        write(self.p(".profile"), broken)
        for cmd in ("enable", "disable"):
            p = self.cli(cmd)
            self.assertEqual(p.returncode, 1, cmd)
            self.assertIn("without its", p.stderr.decode())
            self.assertEqual(read(self.p(".profile")), broken)

    def test_usage_errors_exit_2(self):
        for args in (["enable", "extra"], ["disable", "--bogus"]):
            self.assertEqual(self.cli(*args).returncode, 2, args)


class SetupCheckTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(token=None, poll_interval=300)
        self.addCleanup(self.d.close)
        self.env = dict(self.d.env)
        self.env.pop("LD_PRELOAD", None)
        self.env["SHELL"] = "/bin/bash"

    def cli(self, *args):
        return run([CLI] + list(args), self.env)

    def test_status_reminds_until_tapping_is_enabled(self):
        p = self.cli("status")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.decode(),
                         "ratetap: tapping is not enabled for your shells: "
                         "`ratetap enable` taps every program you start\n")
        # the JSON is for programs: no reminder there
        self.assertEqual(self.cli("status", "--json").stderr, b"")
        self.assertEqual(self.cli("enable").returncode, 0)
        p = self.cli("status")
        self.assertEqual((p.returncode, p.stderr), (0, b""))

    def test_doctor_without_argument_checks_the_setup(self):
        p = self.cli("doctor")
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 1, out)
        self.assertIn("ok   shim: %s\n" % SHIM, out)
        self.assertIn("ok   daemon: answers on %s\n" % self.d.control_path,
                      out)
        self.assertIn("ok   ingest socket %s: yours" % self.d.ingest_path,
                      out)
        self.assertIn("ok   control socket %s: yours" %
                      self.d.control_path, out)
        self.assertIn("--   systemd units: systemd does not run this "
                      "session\n", out)
        self.assertIn("no   shell: no start-up file has the LD_PRELOAD line",
                      out)
        self.assertIn("--   token: none", out)

        self.d.write_credentials(TOKEN)
        self.assertEqual(self.cli("enable").returncode, 0)
        p = self.cli("doctor")
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("ok   shell: ~/.profile has the LD_PRELOAD line", out)
        self.assertIn("ok   token: readable in ", out)
        self.assertNotIn(TOKEN, out + p.stderr.decode())
        self.assertNotIn("\nno ", "\n" + out)

    def test_doctor_says_when_no_daemon_answers(self):
        self.d.stop()
        p = self.cli("doctor")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no   daemon: none answers on %s" %
                      self.d.control_path, p.stdout.decode())


if __name__ == "__main__":
    unittest.main()
