"""Helpers for ratetap's integration tests (docs/hacking.md, "Tests").

    from harness import MockAPI, Receiver, Daemon, shim_env, run, ROOT, BUILD

    with MockAPI(tls=True) as api, Receiver() as rx:
        env = shim_env(api, rx)
        p = run(["curl", "-sS", "--cacert", api.cafile,
                 api.url("/v1/messages"), "-d", body], env)
        ev = rx.events(1)

Everything runs on loopback, in temporary directories, and every process a
helper starts is stopped when its `with` block ends (and, failing that, when
the test process exits).  Helpers that wait do so for a bounded time and
raise AssertionError (a test failure) with what they saw.

Standard library only; run by Debian's /usr/bin/python3.
"""

import atexit
import http.client
import json
import os
import queue
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# The build under test: build/, or the sanitized build the Makefile names
# (RATETAP_BUILD=build/san-address-undefined with SANITIZE=...).
BUILD = os.path.abspath(os.environ.get("RATETAP_BUILD") or
                        os.path.join(ROOT, "build"))
SHIM = os.path.join(BUILD, "libratetap.so")
DAEMON = os.path.join(BUILD, "ratetapd")
CLI = os.path.join(BUILD, "ratetap")
RECEIVER = os.path.join(BUILD, "tests", "rt-receiver")
MOCK = os.path.join(ROOT, "tests", "mock_api.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
    else sys.executable

GRACE = 0.3			# seconds in which no extra event may arrive
START_TIMEOUT = 10		# seconds for a helper process to come up
STOP_TIMEOUT = 5		# seconds between SIGTERM and SIGKILL

_live = set()			# running helpers, stopped at exit
_live_lock = threading.Lock()


def _track(obj):
    with _live_lock:
        _live.add(obj)


def _untrack(obj):
    with _live_lock:
        _live.discard(obj)


@atexit.register
def _stop_all():
    with _live_lock:
        objs = list(_live)
    for o in objs:
        try:
            o.close()
        except Exception:		# at exit: best effort, keep going
            pass


def _tmpdir(prefix):
    """A private temporary directory with a short path (sockets must fit
    sun_path's 108 bytes)."""
    base = None
    t = tempfile.gettempdir()
    if len(t) > 40:
        base = "/tmp"
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def _terminate(proc, timeout=STOP_TIMEOUT):
    """SIGTERM, wait, then SIGKILL.  Returns the exit code."""
    if proc.poll() is None:
        try:
            proc.terminate()
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def _tail(text, n=4000):
    return text if len(text) <= n else "...\n" + text[-n:]


# -- TLS certificate -------------------------------------------------------

_cert_lock = threading.Lock()
_cert = None


def tls_cert():
    """(certfile, keyfile) of a self-signed certificate for 127.0.0.1 and
    localhost, generated once per test process with the openssl CLI.  The
    certificate is its own CA: pass it as the client's CA file."""
    global _cert
    with _cert_lock:
        if _cert is not None:
            return _cert
        d = _tmpdir("rt-tls-")
        atexit.register(shutil.rmtree, d, True)
        cert = os.path.join(d, "cert.pem")
        key = os.path.join(d, "key.pem")
        argv = ["openssl", "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-days", "7", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
                "-addext", "extendedKeyUsage=serverAuth",
                "-keyout", key, "-out", cert]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("openssl failed (%d): %s" % (
                p.returncode, p.stderr.decode(errors="replace")))
        _cert = (cert, key)
        return _cert


# -- the mock API ----------------------------------------------------------

class MockAPI:
    """tests/mock_api.py in a subprocess, on 127.0.0.1 and a free port.

    .port, .hostport ("127.0.0.1:PORT"), .base ("http(s)://127.0.0.1:PORT"),
    .url(path), .cafile (TLS only, else None), .configure(dict),
    .stats(), .reset(), .log() (its stderr).
    """

    def __init__(self, tls=False, verbose=False):
        self.tls = bool(tls)
        self.verbose = verbose
        self.cafile = None
        self.port = None
        self.proc = None
        self._dir = None
        self.start()

    def start(self):
        self._dir = _tmpdir("rt-mock-")
        self._logpath = os.path.join(self._dir, "mock.log")
        argv = [PYTHON, MOCK]
        if self.tls:
            cert, key = tls_cert()
            self.cafile = cert
            argv += ["--tls", cert, key]
        if self.verbose:
            argv.append("--verbose")
        with open(self._logpath, "wb") as logf:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE,
                                         stderr=logf, close_fds=True)
        _track(self)
        line = self._first_line()
        try:
            self.port = int(line)
        except ValueError:
            self.close()
            raise AssertionError("mock API did not print its port (got %r)"
                                 "; log:\n%s" % (line, self.log()))
        if not 0 < self.port < 65536:
            self.close()
            raise AssertionError("mock API printed a bad port %r" % line)

    def _first_line(self):
        deadline = time.monotonic() + START_TIMEOUT
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise AssertionError("mock API did not start within %d s; "
                                     "log:\n%s" % (START_TIMEOUT,
                                                   self.log()))
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            b = os.read(fd, 256)
            if not b:
                rc = self.proc.wait()
                log = self.log()
                self.close()
                raise AssertionError("mock API exited (%d) before printing "
                                     "its port; log:\n%s" % (rc, log))
            buf += b
        return buf.split(b"\n", 1)[0].decode(errors="replace").strip()

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http",
                                      self.port)

    def url(self, path="/v1/messages"):
        if not path.startswith("/"):
            path = "/" + path
        return self.base + path

    @property
    def named_hostport(self):
        """"localhost:PORT": the certificate's host name, so that a TLS
        client sends it as SNI (it sends none for an address)."""
        return "localhost:%d" % self.port

    def named_url(self, path="/v1/messages"):
        """url() with the host name localhost instead of 127.0.0.1."""
        if not path.startswith("/"):
            path = "/" + path
        return "%s://%s%s" % ("https" if self.tls else "http",
                              self.named_hostport, path)

    def _request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url(path), data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        ctx = ssl.create_default_context(cafile=self.cafile) \
            if self.tls else None
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=ctx))
        try:
            with opener.open(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise AssertionError("mock API %s %s: %d %s" % (
                method, path, e.code,
                e.read().decode(errors="replace")))

    def configure(self, cfg):
        """POST /_mock/config.  A config the mock rejects fails the test."""
        return self._request("POST", "/_mock/config", cfg)

    def stats(self):
        """GET /_mock/stats: {"requests": {path: n}, "total", "connections",
        "polls", "polls_token_ok", "polls_beta_ok"}."""
        return self._request("GET", "/_mock/stats")

    def reset(self):
        """Default behaviour back and counters zeroed."""
        return self._request("POST", "/_mock/reset", {})

    def log(self):
        try:
            with open(self._logpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def close(self):
        if self.proc is not None:
            _terminate(self.proc)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, True)
            self._dir = None
        _untrack(self)

    stop = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- an HTTP/2 front ---------------------------------------------------------

NGHTTPX = shutil.which("nghttpx")


class H2Front:
    """nghttpx (Debian's nghttp2-proxy) in front of a plain-HTTP MockAPI:
    TLS with ALPN h2 (and http/1.1) on a free port of 127.0.0.1, with the
    tls_cert() certificate, forwarding HTTP/1.1 to the mock.  Check NGHTTPX
    (None: not installed) before using it.

    .port, .cafile, .base / .hostport (127.0.0.1), .named_base /
    .named_hostport (localhost: the client sends SNI), .log().
    """

    def __init__(self, api):
        if NGHTTPX is None:
            raise AssertionError("nghttpx (nghttp2-proxy) is not installed")
        cert, key = tls_cert()
        self.cafile = cert
        self._dir = _tmpdir("rt-h2-")
        self._logpath = os.path.join(self._dir, "nghttpx.log")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        with open(self._logpath, "wb") as logf:
            self.proc = subprocess.Popen(
                [NGHTTPX, "--conf=/dev/null", "--workers=1", "--no-ocsp",
                 "--frontend=127.0.0.1,%d" % self.port,
                 "--backend=127.0.0.1,%d" % api.port,
                 "--accesslog-file=/dev/null",
                 "--errorlog-file=/dev/stderr",
                 "--pid-file=%s" % os.path.join(self._dir, "pid"), key,
                 cert], stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                close_fds=True)
        _track(self)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    log = self.log()
                    self.close()
                    raise AssertionError("nghttpx did not start; log:\n%s"
                                         % log)
                time.sleep(0.05)

    @property
    def base(self):
        return "https://127.0.0.1:%d" % self.port

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    @property
    def named_base(self):
        return "https://localhost:%d" % self.port

    @property
    def named_hostport(self):
        return "localhost:%d" % self.port

    def log(self):
        try:
            with open(self._logpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def close(self):
        if self.proc is not None:
            _terminate(self.proc)
            self.proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, True)
            self._dir = None
        _untrack(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- the test receiver -----------------------------------------------------

class Receiver:
    """build/tests/rt-receiver bound to a socket in a temporary directory.

    .path, .events(n, timeout=10), .all(), .close().
    """

    def __init__(self):
        if not os.access(RECEIVER, os.X_OK):
            raise AssertionError("%s is not built (make test-progs)" %
                                 RECEIVER)
        self._dir = _tmpdir("rt-rx-")
        self.path = os.path.join(self._dir, "ingest.sock")
        self._errpath = os.path.join(self._dir, "receiver.err")
        self._q = queue.Queue()
        with open(self._errpath, "wb") as errf:
            self.proc = subprocess.Popen([RECEIVER, self.path],
                                         stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE,
                                         stderr=errf, close_fds=True)
        _track(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(self.path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self._stderr()
                self.close()
                raise AssertionError("rt-receiver did not bind %s: %s" %
                                     (self.path, err))
            time.sleep(0.01)

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"unparsed": line.decode(errors="replace")}
            self._q.put(ev)

    def _stderr(self):
        try:
            with open(self._errpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def events(self, n, timeout=10, grace=GRACE):
        """Wait up to timeout seconds for exactly n events and return them
        as dicts, in arrival order.  Fails the test when fewer arrive, or
        when more arrive within `grace` seconds after the n-th."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            left = deadline - time.monotonic()
            try:
                got.append(self._q.get(timeout=max(left, 0.001)))
            except queue.Empty:
                break
        if len(got) < n:
            raise AssertionError("expected %d event(s) within %g s, got %d:"
                                 " %s%s" % (n, timeout, len(got),
                                            json.dumps(got),
                                            self._status()))
        extra = self._drain(grace)
        if extra:
            raise AssertionError("expected %d event(s), got %d more: %s "
                                 "(after %s)" % (n, len(extra),
                                                 json.dumps(extra),
                                                 json.dumps(got)))
        return got

    def all(self, wait=GRACE):
        """Every event not yet returned, waiting `wait` seconds for late
        ones."""
        return self._drain(wait)

    def _drain(self, wait):
        out = []
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            try:
                if left > 0:
                    out.append(self._q.get(timeout=left))
                else:
                    out.append(self._q.get_nowait())
            except queue.Empty:
                return out

    def _status(self):
        if self.proc is not None and self.proc.poll() is not None:
            return " (rt-receiver exited %d: %s)" % (self.proc.returncode,
                                                      self._stderr())
        return ""

    def close(self):
        if self.proc is not None:
            _terminate(self.proc)
            self._reader.join(2)
            self.proc.stdout.close()
            self.proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, True)
            self._dir = None
        _untrack(self)

    stop = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- sanitized builds ------------------------------------------------------
#
# With SANITIZE=... every program of ours is instrumented and carries its
# sanitizer runtime; the shim only names it (DT_NEEDED).  A program that is
# not instrumented (curl, php, python3, sh) then loads that runtime after
# libc, which ASan accepts with verify_asan_link_order=0: the shim's own
# code is still checked (stack, globals, undefined behaviour) but its heap
# is libc's.  Preloading the runtime first would check the heap too, but
# ASan refuses RTLD_DEEPBIND, which php uses for its curl extension (and
# Debian's curl hangs under it), so it is only done on request:
# RATETAP_TEST_PRELOAD_RUNTIME=1, e.g. for test_shim_pycurl (then without
# leak detection, which would report the foreign program's own leaks).
# Sanitizer reports make a program exit non-zero; the daemon's log is also
# searched for them when it stops (Daemon.stop / close).

SAN_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
               "runtime error:", "WARNING: ThreadSanitizer",
               "ERROR: ThreadSanitizer", "ERROR: UndefinedBehaviorSanitizer")


def _sanitizers():
    """The sanitizers the build under test was made with: from
    RATETAP_SANITIZE (exported by the Makefile), else from the runtime the
    shim needs."""
    v = os.environ.get("RATETAP_SANITIZE")
    if v is not None:
        return set(x for x in v.replace(" ", "").split(",") if x)
    found = set()
    try:
        with open(SHIM, "rb") as f:
            blob = f.read()
    except OSError:
        return found
    for name, san in ((b"libasan.so", "address"), (b"libtsan.so", "thread"),
                      (b"libubsan.so", "undefined")):
        if name in blob:
            found.add(san)
    return found


SANITIZE = _sanitizers()


def _runtime_path(lib):
    """Full path of a sanitizer runtime (libasan.so, libtsan.so) as the
    compiler that built the shim would link it, or None."""
    cc = os.environ.get("CC") or "cc"
    try:
        p = subprocess.run([cc, "-print-file-name=" + lib],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = p.stdout.decode(errors="replace").strip()
    if p.returncode != 0 or not os.path.isabs(path) or \
            not os.path.exists(path):
        return None
    return os.path.realpath(path)


def _set_options(env, var, opts, force=()):
    """Add opts (name -> value) to the colon list in env[var], keeping
    what is already there except the names in force."""
    have = [o for o in env.get(var, "").split(":")
            if o and o.split("=", 1)[0] not in force]
    names = set(o.split("=", 1)[0] for o in have)
    for k, v in opts.items():
        if k not in names:
            have.append("%s=%s" % (k, v))
    env[var] = ":".join(have)


def _san_options(env, foreign=False):
    """Run-time options for a sanitized build: reports are fatal and carry
    a stack; a runtime loaded after libc is accepted; leak detection stays
    on unless foreign (the runtime preloaded into a program that is not
    ours)."""
    if not SANITIZE:
        return env
    if "address" in SANITIZE:
        opts = {"verify_asan_link_order": "0"}
        if foreign:
            opts["detect_leaks"] = "0"
        _set_options(env, "ASAN_OPTIONS", opts,
                     ("detect_leaks",) if foreign else ())
    if "undefined" in SANITIZE:
        _set_options(env, "UBSAN_OPTIONS", {"print_stacktrace": "1",
                                            "halt_on_error": "1"})
    if "thread" in SANITIZE:
        _set_options(env, "TSAN_OPTIONS", {"halt_on_error": "1"})
    return env


def san_env(env):
    """env (a dict built from scratch, e.g. for another uid) with the
    sanitizer run-time options our own sanitized programs need; unchanged
    in a plain build."""
    return _san_options(env)


def _san_preload():
    """The runtime to preload into foreign programs, when asked for."""
    if os.environ.get("RATETAP_TEST_PRELOAD_RUNTIME") != "1":
        return None
    if "address" in SANITIZE:
        return _runtime_path("libasan.so")
    if "thread" in SANITIZE:
        return _runtime_path("libtsan.so")
    return None


def san_reports(text):
    """The lines of text that start a sanitizer report (empty: none)."""
    return [ln for ln in text.splitlines()
            if any(r in ln for r in SAN_REPORTS)]


# -- environments and programs ---------------------------------------------

_nowhere_dir = None


def _nowhere_socket():
    """A socket path in a private directory where nothing listens."""
    global _nowhere_dir
    if _nowhere_dir is None:
        _nowhere_dir = _tmpdir("rt-none-")
        atexit.register(shutil.rmtree, _nowhere_dir, True)
    return os.path.join(_nowhere_dir, "nobody.sock")


_DROP_ENV = ("CLAUDE_CODE_OAUTH_TOKEN",)
_PROXY_ENV = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def _clean_environ():
    """os.environ without anything that would change ratetap's behaviour
    behind a test's back: the user's own RATETAP_* settings and tokens, and
    proxy settings (tests talk to loopback only)."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("RATETAP_") or k in _DROP_ENV or \
                k.lower() in _PROXY_ENV:
            del env[k]
    return env


def _apply_extra(env, extra):
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def _preload(env, runtime=True):
    old = env.get("LD_PRELOAD")
    env["LD_PRELOAD"] = SHIM + (":" + old if old else "")
    runtime = _san_preload() if runtime else None
    if runtime is not None:
        env["LD_PRELOAD"] = runtime + ":" + env["LD_PRELOAD"]
    _san_options(env, foreign=runtime is not None)


def shim_env(api, rx, **extra):
    """A copy of os.environ (minus any RATETAP_* of the user's) for running
    a program under the shim: LD_PRELOAD=build/libratetap.so (prepended to
    any existing one), RATETAP_SOCKET=rx.path (a path where nothing listens
    when rx is None), RATETAP_HOSTS=api.hostport (unset when api is None).
    Keyword arguments are added (str()-ed); a value of None removes one."""
    env = _clean_environ()
    # LD_PRELOAD=None: nothing preloaded, the sanitizer runtime neither
    _preload(env, runtime="LD_PRELOAD" not in extra)
    env["RATETAP_SOCKET"] = rx.path if rx is not None else _nowhere_socket()
    if api is not None:
        env["RATETAP_HOSTS"] = api.hostport
    return _apply_extra(env, extra)


def plain_env(**extra):
    """The environment of a reference run: os.environ without the shim,
    the user's RATETAP_* settings or proxies; keyword arguments as for
    shim_env()."""
    env = _clean_environ()
    env.pop("LD_PRELOAD", None)
    return _apply_extra(env, extra)


def run(argv, env, timeout=60, input=None, cwd=None):
    """Run argv with env, stdout and stderr captured as bytes, stdin from
    `input` (bytes) or /dev/null.  Returns subprocess.CompletedProcess;
    a program still running after `timeout` seconds is killed and fails the
    test."""
    argv = [str(a) for a in argv]
    try:
        return subprocess.run(argv, env=env, input=input,
                              stdin=None if input is not None
                              else subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s did not finish within %g s\nstdout: %s\n"
                             "stderr: %s" % (
                                 " ".join(argv), timeout,
                                 _tail((e.stdout or b"").decode(
                                     errors="replace")),
                                 _tail((e.stderr or b"").decode(
                                     errors="replace"))))


# -- the daemon --------------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX stream socket (the control socket)."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


def unix_http(path, method, url, body=None, headers=None, timeout=10):
    """One HTTP request over the AF_UNIX socket at path.  Returns
    (status, headers dict with lower-case names, body bytes); raises
    OSError / http.client.HTTPException when the socket does not answer."""
    c = UnixHTTPConnection(path, timeout)
    try:
        c.request(method, url, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


class Daemon:
    """build/ratetapd in the foreground, in a private temporary home.

    The environment: HOME and CLAUDE_CONFIG_DIR (HOME/.claude) in the temp
    dir (so the user's real token is never found), XDG_RUNTIME_DIR,
    XDG_STATE_HOME, RATETAP_API_BASE=api.base, RATETAP_POLL_INTERVAL,
    RATETAP_OAUTH_TOKEN when `token` is given, plus `env` (a value of None
    removes one).  stdout and stderr go to a log file (.log()).

    .ingest_path, .control_path, .state_dir, .home, .runtime_dir;
    .env (run shimmed programs, or build/ratetap, against this daemon);
    .start(), .status(), .request(method, url), .wait_for(pred, timeout),
    .stop(sig=SIGTERM) -> exit code, .kill(), .running(),
    .write_credentials(token).
    """

    def __init__(self, api=None, token=None, poll_interval=1, env=None,
                 args=(), start=True):
        if not os.access(DAEMON, os.X_OK):
            raise AssertionError("%s is not built (make)" % DAEMON)
        self.api = api
        self.args = list(args)
        self.proc = None
        self._reported = 0
        self._dir = _tmpdir("rt-d-")
        self.home = os.path.join(self._dir, "home")
        self.runtime_dir = os.path.join(self._dir, "run")
        self.state_home = os.path.join(self._dir, "state")
        self.claude_dir = os.path.join(self.home, ".claude")
        for d in (self.home, self.runtime_dir, self.state_home,
                  self.claude_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.ingest_path = os.path.join(self.runtime_dir, "ratetap",
                                        "ingest.sock")
        self.control_path = os.path.join(self.runtime_dir, "ratetap",
                                         "control.sock")
        self.state_dir = os.path.join(self.state_home, "ratetap")
        self.logpath = os.path.join(self._dir, "ratetapd.log")

        e = _clean_environ()
        e.update({"HOME": self.home, "CLAUDE_CONFIG_DIR": self.claude_dir,
                  "XDG_RUNTIME_DIR": self.runtime_dir,
                  "XDG_STATE_HOME": self.state_home})
        if poll_interval is not None:
            e["RATETAP_POLL_INTERVAL"] = str(poll_interval)
        # Without a mock, a base where nothing listens: a test never
        # reaches the real API.
        e["RATETAP_API_BASE"] = api.base if api is not None \
            else "http://127.0.0.1:9"
        if token is not None:
            e["RATETAP_OAUTH_TOKEN"] = token
        _san_options(e)
        self.daemon_env = _apply_extra(e, env or {})
        _track(self)
        if start:
            self.start()

    @property
    def env(self):
        """Environment for a program run against this daemon: the daemon's
        own (same runtime dir, so build/ratetap finds it) minus the token,
        plus LD_PRELOAD, RATETAP_SOCKET and RATETAP_HOSTS."""
        e = dict(self.daemon_env)
        for k in ("RATETAP_OAUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
            e.pop(k, None)
        _preload(e)
        e["RATETAP_SOCKET"] = self.ingest_path
        e["RATETAP_CONTROL"] = self.control_path
        if self.api is not None:
            e["RATETAP_HOSTS"] = self.api.hostport
        return e

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=START_TIMEOUT):
        """Start ratetapd (again, with the same directories) and wait until
        its control socket answers GET /v1/status."""
        if self.running():
            raise AssertionError("ratetapd is already running")
        with open(self.logpath, "ab") as logf:
            self.proc = subprocess.Popen([DAEMON] + self.args,
                                         env=self.daemon_env,
                                         stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf,
                                         close_fds=True, cwd=self._dir)
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("ratetapd exited (%d) while starting;"
                                     " log:\n%s" % (self.proc.returncode,
                                                    _tail(self.log())))
            try:
                st, _, _ = unix_http(self.control_path, "GET", "/v1/status",
                                     timeout=2)
                if st == 200:
                    return self
                last = "HTTP %d" % st
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("ratetapd did not answer on %s within "
                                     "%g s (%s); log:\n%s" % (
                                         self.control_path, timeout, last,
                                         _tail(self.log())))
            time.sleep(0.05)

    def request(self, method, url, body=None, headers=None, timeout=10):
        """One request on the control socket: (status, headers, body)."""
        return unix_http(self.control_path, method, url, body, headers,
                         timeout)

    def status(self):
        """GET /v1/status, parsed.  Fails the test on anything but 200 with
        a JSON object."""
        try:
            st, _, body = self.request("GET", "/v1/status")
        except (OSError, http.client.HTTPException) as e:
            raise AssertionError("control socket %s: %r; log:\n%s" % (
                self.control_path, e, _tail(self.log())))
        if st != 200:
            raise AssertionError("GET /v1/status: HTTP %d: %s" % (
                st, body.decode(errors="replace")))
        try:
            doc = json.loads(body)
        except ValueError:
            raise AssertionError("GET /v1/status: not JSON: %r" % body[:500])
        if not isinstance(doc, dict):
            raise AssertionError("GET /v1/status: not an object: %r" %
                                 body[:500])
        return doc

    def settled(self, n, timeout=10, grace=GRACE):
        """Wait until the daemon counted at least n requests, then `grace`
        seconds more (so that an extra one is counted too), and return the
        status."""
        self.wait_for(lambda s: s["requests"]["total"] >= n, timeout)
        time.sleep(grace)
        return self.status()

    def wait_for(self, predicate, timeout=10, interval=0.1):
        """Poll status() until predicate(status) is true; return that
        status.  Lookup errors in the predicate (missing keys, None) count
        as false.  Fails the test with the last status on timeout."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if not self.running():
                raise AssertionError("ratetapd is not running (exit %s); "
                                     "log:\n%s" % (
                                         None if self.proc is None
                                         else self.proc.returncode,
                                         _tail(self.log())))
            last = self.status()
            try:
                if predicate(last):
                    return last
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("condition not met within %g s; last "
                                     "status:\n%s" % (
                                         timeout, json.dumps(last, indent=1)))
            time.sleep(interval)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Send sig and wait for the exit; returns the exit code (negative:
        killed by that signal).  Fails the test if it does not exit within
        timeout seconds (it is then killed)."""
        if self.proc is None:
            raise AssertionError("ratetapd was not started")
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("ratetapd did not exit within %g s of "
                                     "signal %d; log:\n%s" % (
                                         timeout, sig, _tail(self.log())))
        self._check_reports()
        return self.proc.returncode

    def _check_reports(self):
        """Fail the test when the daemon's log holds a sanitizer report
        (sanitized builds; each report is raised once)."""
        if not SANITIZE:
            return
        log = self.log()
        found = san_reports(log[self._reported:])
        self._reported = len(log)
        if found:
            raise AssertionError("ratetapd: sanitizer report: %s; log:\n%s"
                                 % (found[0], _tail(log, 12000)))

    def kill(self):
        """SIGKILL (a crash, as far as the daemon can tell)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def write_credentials(self, token, name=".credentials.json"):
        """Write a Claude Code credentials file holding token into
        CLAUDE_CONFIG_DIR (mode 0600)."""
        p = os.path.join(self.claude_dir, name)
        doc = {"claudeAiOauth": {"accessToken": token,
                                 "refreshToken": "rt-test-refresh",
                                 "expiresAt": 4102444800000,
                                 "scopes": ["user:inference"]}}
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        return p

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            _terminate(self.proc, 10)
        try:
            if self._dir is not None:
                self._check_reports()
        finally:
            self._close_dir()

    def _close_dir(self):
        if self._dir is not None:
            if os.environ.get("RATETAP_TEST_KEEP") == "1":
                sys.stderr.write("ratetapd's directory kept: %s\n" %
                                 self._dir)
            else:
                shutil.rmtree(self._dir, True)
            self._dir = None
        _untrack(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def daemon(api=None, **kw):
    """Start a Daemon (see there); use it as a context manager."""
    return Daemon(api, **kw)


_staged = {}
_staged_dir = None
_staged_lock = threading.Lock()


def staged(path):
    """A copy of path (the shim, a test program) that every uid can read
    and run, for tests that run a setgid program or another uid: the
    checkout itself may be private (a fresh clone in a 0700 home), and the
    loader then ignores an LD_PRELOAD it cannot open.  The copy is made
    once per test process, in a 0755 temporary directory removed at exit;
    it keeps the original's mode bits (not set-id ones)."""
    global _staged_dir
    with _staged_lock:
        if path in _staged:
            return _staged[path]
        if _staged_dir is None:
            _staged_dir = _tmpdir("rt-stage-")
            atexit.register(shutil.rmtree, _staged_dir, True)
            os.chmod(_staged_dir, 0o755)
        d = tempfile.mkdtemp(dir=_staged_dir)
        os.chmod(d, 0o755)
        copy = os.path.join(d, os.path.basename(path))
        shutil.copyfile(path, copy)
        os.chmod(copy, (os.stat(path).st_mode & 0o777) | 0o444)
        _staged[path] = copy
        return copy


def staged_env(env):
    """env with the shim in its LD_PRELOAD replaced by its staged() copy,
    for a program run as another uid or setgid."""
    e = dict(env)
    if "LD_PRELOAD" in e:
        e["LD_PRELOAD"] = ":".join(staged(x) if x == SHIM else x
                                   for x in e["LD_PRELOAD"].split(":"))
    return e


def have(program):
    """True when program is on PATH (for skipping tests)."""
    return shutil.which(program) is not None
