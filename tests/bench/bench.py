"""ratetap's benchmarks (`make bench`; docs/benchmarks.md).

Measures what ratetap costs against what a user would do instead, and prints
one table (figure, measured, target, met?):

1. shim overhead per transfer: thousands of requests from one curl process
   (serial, every URL in one --config file) and from rt-client (multi
   interface, parallel connections) to canned responses served by nginx on
   loopback, JSON and SSE, plain / shim tapping them / shim not tapping them
   (RATETAP_HOSTS names another host).  Wall and CPU (wait4 rusage) ratios,
   added CPU microseconds per transfer.
2. the proxy approach: the same requests through a local nginx reverse
   proxy; ratios shim/proxy, wall and CPU (the proxy's CPU included, and the
   daemon's on the shim's side).
3. the body scanner: build/bench/bench_scan.
4. the daemon: datagrams per second ingested on one core from several
   senders, GET /v1/status latency at that load, VmRSS after a million
   events from a thousand program names and a hundred models.
5. preloading the shim into programs that never use libcurl: start-up cost
   ratio, and the shared objects loaded with and without it.
6. the control socket under abuse: GET /v1/status latency idle, while 50
   processes hammer the socket, with 200 half-open connections held by
   other processes, and both at once (build/bench/bench_status).
7. the hand-off: CPU per event of the shim's own sender as a datagram
   (socket, sendto, close) and as a journal record (fstat, write), and the
   time a daemon takes at start to catch up with a million events left in
   the journal while it was away.
8. the TLS layer (build/bench/bench_tls: a loopback TLS 1.3 server and an
   OpenSSL client, bench_tls_gnutls a GnuTLS one): instructions added per
   SSL_read/SSL_write (gnutls_record_recv/send) on a decided, untapped
   connection and per tapped HTTP/1.1 response (callgrind slopes), curl
   over TLS to the same server for the libcurl layer's figure, and the
   start-up ratio of `python3 -c pass` and `ruby -e 0` with the shim.

Every A/B comparison runs its variants interleaved, in rotating order, in
the same run; ratios are medians of per-repetition ratios, added costs
medians of per-repetition differences (with their interquartile range).

Environment: BENCH_RECORD=1 writes docs/benchmarks.md; BENCH_REPS (default
15) repetitions and BENCH_REQUESTS (default 1500) requests per run for 1-2;
BENCH_SPAWNS (default 500) runs per variant for 5; BENCH_EVENTS (default
1000000) events for 4; BENCH_SCAN_MIB (default 100) largest body for 3;
BENCH_ONLY: a comma list of the parts to run (shim, scanner, daemon, control,
startup, handoff, ledger, tls, render; default all).  BENCH_INTERP_SPAWNS (default
200) runs per variant of each interpreter for 8.  BENCH_LEDGER_EVENTS (default
200000) events and BENCH_LEDGER_REPS (default 3) runs per variant for 7.

Never fails: a figure that cannot be measured is reported as such, and the
exit status is 0.  Standard library only; Debian's /usr/bin/python3.
"""

import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402  (the integration tests' helpers)

BUILD = os.path.join(ROOT, "build")
SHIM = os.path.join(BUILD, "libratetap.so")
DAEMON = os.path.join(BUILD, "ratetapd")
RT_CLIENT = os.path.join(BUILD, "tests", "rt-client")
BENCH_SCAN = os.path.join(BUILD, "bench", "bench_scan")
BENCH_SEND = os.path.join(BUILD, "bench", "bench_send")
BENCH_STATUS = os.path.join(BUILD, "bench", "bench_status")
BENCH_HANDOFF = os.path.join(BUILD, "bench", "bench_handoff")
RT_JWRITE = os.path.join(BUILD, "tests", "rt-jwrite")
BENCH_SPAWN = os.path.join(BUILD, "bench", "bench_spawn")
BENCH_TLS = os.path.join(BUILD, "bench", "bench_tls")
BENCH_TLS_GNUTLS = os.path.join(BUILD, "bench", "bench_tls_gnutls")
BENCH_RENDER = os.path.join(BUILD, "bench", "bench_render")
BENCH_SAVE = os.path.join(BUILD, "bench", "bench_save")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")


def env_int(name, default, lo, hi):
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        n = None
    if n is None or not lo <= n <= hi:
        sys.stderr.write("bench: %s=%r is not a number in %d..%d; using "
                         "%d\n" % (name, v, lo, hi, default))
        return default
    return n


REPS = env_int("BENCH_REPS", 15, 1, 1000)
REQUESTS = env_int("BENCH_REQUESTS", 1500, 10, 1000000)
SPAWNS = env_int("BENCH_SPAWNS", 500, 10, 100000)
EVENTS = env_int("BENCH_EVENTS", 1000000, 1000, 100000000)
SCAN_MIB = env_int("BENCH_SCAN_MIB", 100, 1, 1000)
SENDERS = 4


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


# -- the table ---------------------------------------------------------------

class Table:
    """Rows of (figure, measured, target, met), met one of "yes", "no",
    "-" (no target), "n/a" (not measured) or "noise" (the target lies
    within the interquartile range of the measurements)."""

    def __init__(self):
        self.rows = []
        self.facts = {}		# key -> number, for the targets table

    def fact(self, key, value):
        """Keep a measured number for targets() (the headline table)."""
        if value is not None:
            self.facts[key] = value

    def add(self, figure, measured, target="-", met=None):
        if met is None:
            m = "-"
        elif isinstance(met, str):
            m = met
        else:
            m = "yes" if met else "no"
        self.rows.append((figure, measured, target, m))

    def skip(self, figure, why, target="-"):
        why = " ".join(str(why).split())
        if len(why) > 160:
            why = why[:157] + "..."
        self.rows.append((figure, "not measured: %s" % why, target, "n/a"))

    def section(self, title):
        self.rows.append((title, None, None, None))

    def text(self):
        data = [r for r in self.rows if r[1] is not None]
        w = [max([len(h)] + [len(r[i]) for r in data]) for i, h in
             enumerate(("figure", "measured", "target", "met?"))]
        out = ["%-*s  %-*s  %-*s  %s" % (w[0], "figure", w[1], "measured",
                                         w[2], "target", "met?"),
               "  ".join("-" * x for x in w)]
        for r in self.rows:
            if r[1] is None:
                out.append("[%s]" % r[0])
            else:
                out.append("%-*s  %-*s  %-*s  %s" % (w[0], r[0], w[1], r[1],
                                                     w[2], r[2], r[3]))
        return "\n".join(out)

    def markdown(self):
        out = ["| figure | measured | target | met? |",
               "|---|---|---|---|"]
        for r in self.rows:
            if r[1] is None:
                out.append("| **%s** | | | |" % r[0])
            else:
                out.append("| %s | %s | %s | %s |" % tuple(
                    c.replace("|", "\\|") for c in r))
        return "\n".join(out)


# -- the targets: every headline figure in one table ------------------------

# (figure, fact keys, format of the measured figure, target, met?), in the
# order of the performance targets of docs/benchmarks.md.  A row whose facts
# were not all measured in this run says so.
TARGETS = (
    ("tapped transfer, added instructions (curl serial, JSON)",
     ("cg_tapped",), lambda f: "+%.1f k" % (f["cg_tapped"] / 1e3),
     "<= 8 k", lambda f: f["cg_tapped"] <= 8e3),
    ("tapped transfer, added CPU (curl serial, JSON; daemon apart)",
     ("cpu_tapped_us", "cpu_daemon_us"),
     lambda f: "%.1f us (daemon %.1f us)" % (f["cpu_tapped_us"],
                                             f["cpu_daemon_us"]),
     "<= 8 us, daemon <= 2 us",
     lambda f: f["cpu_tapped_us"] <= 8 and f["cpu_daemon_us"] <= 2),
    ("untapped transfer, added instructions", ("cg_untapped",),
     lambda f: "+%.1f k" % (f["cg_untapped"] / 1e3), "<= 1 k",
     lambda f: f["cg_untapped"] <= 1e3),
    ("RATETAP_DISABLE=1, added instructions per transfer", ("cg_disabled",),
     lambda f: "%+.0f" % f["cg_disabled"], "<= 200",
     lambda f: f["cg_disabled"] <= 200),
    ("tapped transfers in one curl, CPU ratio shim/plain", ("cpu_ratio",),
     lambda f: "%.3f (%d transfers a run)" % (f["cpu_ratio"], REQUESTS),
     "<= 1.05", lambda f: f["cpu_ratio"] <= 1.05),
    ("added latency per request, shim vs an nginx proxy hop",
     ("latency_ratio",), lambda f: "%.2f of the proxy's" % f["latency_ratio"],
     "<= 0.1 of it", lambda f: f["latency_ratio"] <= 0.1),
    ("TLS layer, untapped call, added instructions", ("tls_untapped",),
     lambda f: "%.1f" % f["tls_untapped"], "<= 50",
     lambda f: f["tls_untapped"] <= 50),
    ("php start-up with the shim preloaded, instructions",
     ("start_php",), lambda f: "%+.1f %%" % f["start_php"], "<= +2 %",
     lambda f: f["start_php"] <= 2),
    ("python3, ruby, node start-up preloaded, instructions",
     ("start_python3", "start_ruby", "start_node"),
     lambda f: "python3 %+.1f %%, ruby %+.1f %%, node %+.1f %%" % (
         f["start_python3"], f["start_ruby"], f["start_node"]),
     "<= +2 % each", lambda f: max(f["start_python3"], f["start_ruby"],
                                   f["start_node"]) <= 2),
    ("status, 1000 programs x 100 models: instructions per render",
     ("render_1000",), lambda f: "%.2f M" % (f["render_1000"] / 1e6),
     "<= 1 M", lambda f: f["render_1000"] <= 1e6),
    ("status p99 under ingest load", ("status_p99_us",),
     lambda f: "%.0f us" % f["status_p99_us"], "<= 1 ms",
     lambda f: f["status_p99_us"] <= 1000),
    ("daemon ingest, flood: events per daemon CPU-second", ("flood_rate",),
     lambda f: "%.2f M" % (f["flood_rate"] / 1e6), ">= 1 M",
     lambda f: f["flood_rate"] >= 1e6),
    ("daemon CPU per event at 200 events/s", ("lowrate_us",),
     lambda f: "%.2f us" % f["lowrate_us"], "<= 2 us",
     lambda f: f["lowrate_us"] <= 2),
)


def targets(table):
    """The headline table: every target beside what this run measured."""
    t = Table()
    for figure, keys, fmt, target, ok in TARGETS:
        missing = [k for k in keys if k not in table.facts]
        if missing:
            t.add(figure, "not measured in this run", target, "n/a")
        else:
            t.add(figure, fmt(table.facts), target, ok(table.facts))
    return t


# -- processes and CPU time ------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def task_cpu(pid):
    """CPU seconds used so far by every thread of pid (scheduler run time
    from /proc/PID/task/*/schedstat, nanosecond resolution; /proc/PID/stat
    ticks when schedstat is missing).  0 when the process is gone."""
    total = 0.0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0.0
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0]) / 1e9
            continue
        except (OSError, ValueError, IndexError):
            pass
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, ValueError, IndexError):
            pass
    return total


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ValueError("no VmRSS for pid %d" % pid)


def measure(argv, env, timeout=120):
    """Run argv (stdin and stdout /dev/null); returns (wall s, CPU s from
    wait4's rusage).  Raises RuntimeError with its stderr when it does not
    exit 0."""
    errf = tempfile.TemporaryFile()
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, devnull, 0),
            (os.POSIX_SPAWN_DUP2, devnull, 1),
            (os.POSIX_SPAWN_DUP2, errf.fileno(), 2)])
        deadline = t0 + timeout
        while True:
            wpid, status, ru = os.wait4(pid, os.WNOHANG if
                                        time.perf_counter() < deadline
                                        else 0)
            if wpid == pid:
                break
            if time.perf_counter() >= deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = float("inf")
                continue
            time.sleep(0.0005)
        wall = time.perf_counter() - t0
    finally:
        os.close(devnull)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        errf.seek(0)
        err = errf.read().decode(errors="replace")[-2000:]
        errf.close()
        raise RuntimeError("%s exited with status 0x%x: %s" % (
            os.path.basename(argv[0]), status, err.strip()))
    errf.close()
    return wall, ru.ru_utime + ru.ru_stime


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def clean_env():
    """os.environ without RATETAP_*, LD_PRELOAD, tokens and proxies."""
    env = harness._clean_environ()
    env.pop("LD_PRELOAD", None)
    env.pop("LD_DEBUG", None)
    return env


# -- canned responses --------------------------------------------------------

MODEL = "claude-sonnet-4-5-20250929"


def json_body():
    return json.dumps({
        "id": "msg_01BenchCannedResponse0001", "type": "message",
        "role": "assistant", "model": MODEL,
        "content": [{"type": "text", "text":
                     "Hello. This is a canned answer of a realistic size, "
                     "with a few escapes: \"quoted\", tab\tand newline\n"
                     "and a unicode character \u00e9."}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 11, "cache_creation_input_tokens": 3,
                  "cache_read_input_tokens": 5,
                  "cache_creation": {"ephemeral_5m_input_tokens": 3,
                                     "ephemeral_1h_input_tokens": 0},
                  "output_tokens": 22, "service_tier": "standard"}},
        separators=(",", ":"))


def sse_body():
    ev = []

    def add(name, data):
        ev.append("event: %s\ndata: %s\n\n" % (
            name, json.dumps(data, separators=(",", ":"))))

    add("message_start", {"type": "message_start", "message": {
        "id": "msg_01BenchCannedStream0001", "type": "message",
        "role": "assistant", "model": MODEL, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 11, "cache_creation_input_tokens": 3,
                  "cache_read_input_tokens": 5, "output_tokens": 1,
                  "service_tier": "standard"}}})
    add("content_block_start", {"type": "content_block_start", "index": 0,
                                "content_block": {"type": "text",
                                                  "text": ""}})
    add("ping", {"type": "ping"})
    words = ("This is a canned streamed answer that arrives in many small "
             "text deltas, the way the Messages API sends them.").split()
    for i, w in enumerate(words * 2):
        add("content_block_delta", {"type": "content_block_delta",
                                    "index": 0, "delta": {
                                        "type": "text_delta",
                                        "text": (" " if i else "") + w}})
    add("content_block_stop", {"type": "content_block_stop", "index": 0})
    add("message_delta", {"type": "message_delta",
                          "delta": {"stop_reason": "end_turn",
                                    "stop_sequence": None},
                          "usage": {"output_tokens": 22}})
    add("message_stop", {"type": "message_stop"})
    return "".join(ev)


def ratelimit_headers():
    now = int(time.time())
    h5 = now - now % 3600 + 3 * 3600
    h7 = now - now % 3600 + 5 * 86400
    return [
        ("anthropic-ratelimit-unified-status", "allowed"),
        ("anthropic-ratelimit-unified-5h-status", "allowed"),
        ("anthropic-ratelimit-unified-5h-reset", str(h5)),
        ("anthropic-ratelimit-unified-5h-utilization", "0.25"),
        ("anthropic-ratelimit-unified-7d-status", "allowed"),
        ("anthropic-ratelimit-unified-7d-reset", str(h7)),
        ("anthropic-ratelimit-unified-7d-utilization", "0.5"),
        ("anthropic-ratelimit-unified-representative-claim", "five_hour"),
        ("anthropic-ratelimit-unified-fallback-percentage", "0.5"),
        ("anthropic-ratelimit-unified-reset", str(h5)),
        ("anthropic-ratelimit-unified-overage-status", "rejected"),
        ("anthropic-ratelimit-unified-overage-disabled-reason",
         "org_level_disabled"),
        ("request-id", "req_011CBenchCannedRequestId0001"),
        ("anthropic-organization-id", "00000000-0000-4000-8000-000000000000"),
        ("via", "1.1 google"),
        ("cf-cache-status", "DYNAMIC"),
    ]


def ngx_str(s):
    """s as a single-quoted nginx string: backslash, quote and the control
    characters nginx knows escaped.  '$' would start a variable: refused."""
    if "$" in s:
        raise ValueError("'$' in an nginx string literal")
    s = s.replace("\\", "\\\\").replace("'", "\\'")
    return "'" + s.replace("\n", "\\n").replace("\t", "\\t") + "'"


class Nginx:
    """nginx in the foreground (master + one worker) with a config in a
    temporary directory.  servers: list of (port, body of the server
    block); upstreams: extra http-level text."""

    def __init__(self, name, servers, http_extra=""):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="rt-bench-%s-" % name)
        self.proc = None
        self.ports = [p for p, _ in servers]
        d = self.dir
        conf = ["worker_processes 1;", "daemon off;",
                "pid %s/nginx.pid;" % d,
                "error_log %s/error.log warn;" % d,
                "events { worker_connections 4096; }",
                "http {", "  access_log off;", "  server_tokens off;",
                "  keepalive_requests 1000000;", "  keepalive_timeout 60s;"]
        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            conf.append("  %s_temp_path %s/%s;" % (t, d, t))
        conf.append(http_extra)
        for port, body in servers:
            conf += ["  server {", "    listen 127.0.0.1:%d;" % port, body,
                     "  }"]
        conf.append("}")
        self.conf = os.path.join(d, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")

    def start(self):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        argv = [nginx, "-p", self.dir + "/", "-c", self.conf,
                "-e", os.path.join(self.dir, "error.log")]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        for port in self.ports:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError("nginx (%s) exited: %s %s" % (
                        self.name, self.proc.stderr.read().decode(
                            errors="replace"), self.errors()))
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("nginx (%s) does not listen on "
                                           "%d: %s" % (self.name, port,
                                                       self.errors()))
                    time.sleep(0.02)
        while not self.workers():
            if time.monotonic() > deadline:
                raise RuntimeError("nginx (%s) has no worker" % self.name)
            time.sleep(0.02)
        return self

    def errors(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def workers(self):
        return children_of(self.proc.pid) if self.proc else []

    def cpu(self):
        """CPU seconds used by the workers so far."""
        return sum(task_cpu(p) for p in self.workers())

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGQUIT)	# graceful
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc.stderr.close()
            self.proc = None
        shutil.rmtree(self.dir, True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def canned_location(content_type, body):
    """A location answering every request with body: `return 200` of
    variables set from pieces of it (nginx limits one literal to 4 KiB)."""
    lines = ["    location / {",
             "      default_type %s;" % ngx_str(content_type)]
    for k, v in ratelimit_headers():
        lines.append("      add_header %s %s;" % (k, ngx_str(v)))
    names = []
    for i in range(0, len(body), 2048):
        names.append("$body%d" % len(names))
        lines.append("      set %s %s;" % (names[-1],
                                           ngx_str(body[i:i + 2048])))
    lines += ["      return 200 \"%s\";" % "".join(names), "    }"]
    return "\n".join(lines)


def proxy_location(upstream, stream):
    lines = ["    location / {",
             "      proxy_pass http://%s;" % upstream,
             "      proxy_http_version 1.1;",
             "      proxy_set_header Connection \"\";"]
    if stream:
        lines.append("      proxy_buffering off;")	# what an SSE proxy does
    lines.append("    }")
    return "\n".join(lines)


# -- 1 and 2: the shim against plain and against a proxy -------------------

BODIES = ("json", "sse")
CLIENTS = ("curl", "rt-client")
VARIANTS = ("plain", "tapped", "untapped", "proxy")


def request_json(stream):
    return json.dumps({"model": MODEL, "max_tokens": 64, "stream": stream,
                       "messages": [{"role": "user", "content": "Hello"}]})


def curl_config(path, url, n, datafile):
    with open(path, "w") as f:
        f.write("silent\nshow-error\nfail\n")
        f.write('header = "content-type: application/json"\n')
        f.write('header = "anthropic-version: 2023-06-01"\n')
        f.write('data-binary = "@%s"\n' % datafile)
        for _ in range(n):
            f.write('url = "%s"\n' % url)


def verdict(lo, hi, limit, strict=False):
    """met? for a noisy "at most limit" figure with interquartile range
    lo..hi: yes or no only when the whole range is on one side."""
    if hi < limit or (hi == limit and not strict):
        return "yes"
    if lo > limit or (lo == limit and strict):
        return "no"
    return "noise"


def iqr(v):
    if len(v) < 4:
        return min(v), max(v)
    q = statistics.quantiles(v, n=4)
    return q[0], q[2]


def bench_shim(table, tmp):
    curl = shutil.which("curl")
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    table.section("1. shim overhead per transfer (%d requests a run, %d "
                  "interleaved runs of each variant)" % (REQUESTS, REPS))
    missing = [p for p in (SHIM, DAEMON, RT_CLIENT) if not
               os.access(p, os.X_OK if p != SHIM else os.R_OK)]
    if nginx is None or curl is None or missing:
        why = ("nginx is not installed" if nginx is None else
               "curl is not installed" if curl is None else
               "%s not built" % ", ".join(os.path.relpath(m, ROOT)
                                          for m in missing))
        table.skip("shim overhead", why)
        table.section("2. the proxy approach")
        table.skip("shim / proxy", why)
        return

    port = {"json": free_port(), "sse": free_port()}
    pport = {"json": free_port(), "sse": free_port()}
    canned = Nginx("canned", [
        (port["json"], canned_location("application/json", json_body())),
        (port["sse"], canned_location("text/event-stream; charset=utf-8",
                                      sse_body()))])
    proxy = Nginx("proxy", [
        (pport["json"], proxy_location("up_json", False)),
        (pport["sse"], proxy_location("up_sse", True))],
        http_extra="\n".join(
            "  upstream up_%s { server 127.0.0.1:%d; keepalive 32; }" % (
                b, port[b]) for b in BODIES))
    daemon = None
    try:
        canned.start()
        proxy.start()
        daemon = harness.Daemon(poll_interval=None)
        tapped_hosts = ",".join("127.0.0.1:%d" % port[b] for b in BODIES)
        base = clean_env()
        envs = {"plain": base, "proxy": base}
        for v, hosts in (("tapped", tapped_hosts),
                         ("untapped", "api.anthropic.com")):
            e = dict(base)
            e["LD_PRELOAD"] = SHIM
            e["RATETAP_SOCKET"] = daemon.ingest_path
            e["RATETAP_HOSTS"] = hosts
            envs[v] = e
        # switched off: the shim loaded and configured, told to do nothing
        envs["disabled"] = dict(envs["tapped"], RATETAP_DISABLE="1")

        argvs = {}
        for b in BODIES:
            datafile = os.path.join(tmp, "req-%s.json" % b)
            with open(datafile, "w") as f:
                f.write(request_json(b == "sse"))
            for v in VARIANTS:
                p = pport[b] if v == "proxy" else port[b]
                url = "http://127.0.0.1:%d/v1/messages" % p
                cfg = os.path.join(tmp, "curl-%s-%s.cfg" % (b, v))
                curl_config(cfg, url, REQUESTS, datafile)
                argvs[("curl", b, v)] = [curl, "--config", cfg]
                argvs[("rt-client", b, v)] = [
                    RT_CLIENT, "--url", "http://127.0.0.1:%d" % p,
                    "--path", "/v1/messages", "-n", str(REQUESTS),
                    "-t", "1", "--mode", "multi", "--parallel", "8",
                    "-o", "/dev/null"] + (["--stream"] if b == "sse" else [])

        # Check once that the shim really taps the canned responses: the
        # daemon must count one request per tapped transfer.
        before = daemon.status()["requests"]["total"]
        for b in BODIES:
            measure(argvs[("curl", b, "tapped")][:2] +
                    [write_small_config(tmp, argvs[("curl", b, "tapped")][2],
                                        2)], envs["tapped"])
        try:
            daemon.wait_for(lambda s: s["requests"]["total"] >= before + 4,
                            timeout=5, interval=0.05)
            tap_ok = True
        except AssertionError:
            tap_ok = False
            log("the daemon did not count the tapped warm-up transfers: "
                "the shim figures below measure a shim that does not tap")

        # warm-up: one run of each, not timed
        for key in argvs:
            measure(argvs[key], envs[key[2]])

        res = {k: [] for k in argvs}	# (wall, cpu, daemon cpu, proxy cpu)
        order = [k for k in sorted(argvs)]
        dpid = daemon.proc.pid
        t_start = time.monotonic()
        for r in range(REPS):
            for c in CLIENTS:
                for b in BODIES:
                    vs = list(VARIANTS)
                    k = r % len(vs)
                    vs = vs[k:] + vs[:k]		# rotate the order
                    for v in vs:
                        key = (c, b, v)
                        d0, p0 = task_cpu(dpid), proxy.cpu()
                        wall, cpu = measure(argvs[key], envs[v])
                        # the daemon drains its socket after the client is
                        # gone: give it a moment before reading its CPU
                        if v == "tapped":
                            time.sleep(0.05)
                        res[key].append((wall, cpu, task_cpu(dpid) - d0,
                                         proxy.cpu() - p0))
            log("shim: repetition %d/%d done (%.0f s)" % (
                r + 1, REPS, time.monotonic() - t_start))
        del order
        n = REQUESTS
        raw = os.path.join(BUILD, "bench", "shim-runs.json")
        try:
            with open(raw, "w") as f:
                json.dump({"requests": n, "runs": {
                    " ".join(k): [{"wall": w, "cpu": c, "daemon_cpu": dc,
                                   "proxy_cpu": pc} for w, c, dc, pc in v]
                    for k, v in res.items()}}, f, indent=1)
        except OSError as e:
            log("%s: %s" % (raw, e))
        st = daemon.status()
        accepted = st.get("ingest", {}).get("accepted")
        drops = st.get("ingest", {}).get("client_drops")

        for c in CLIENTS:
            for b in BODIES:
                what = "%s %s, %s" % (c, "serial" if c == "curl" else
                                      "multi", b)
                R = {v: res[(c, b, v)] for v in VARIANTS}
                wr = [t[0] / p[0] for t, p in zip(R["tapped"], R["plain"])]
                cr = [t[1] / p[1] for t, p in zip(R["tapped"], R["plain"])]
                add_t = [(t[1] - p[1]) / n * 1e6 for t, p in
                         zip(R["tapped"], R["plain"])]
                add_u = [(u[1] - p[1]) / n * 1e6 for u, p in
                         zip(R["untapped"], R["plain"])]
                base_us = statistics.median(p[1] for p in R["plain"]) / n * 1e6
                wall_us = statistics.median(p[0] for p in R["plain"]) / n * 1e6
                d_us = statistics.median(t[2] for t in R["tapped"]) / n * 1e6
                mw = statistics.median(wr)
                table.add("%s: wall tapped/plain" % what,
                          "%.3f (plain %.1f us/transfer)" % (mw, wall_us),
                          "<= 1.02", mw <= 1.02)
                table.add("%s: CPU tapped/plain" % what,
                          "%.3f (plain %.1f us/transfer)" % (
                              statistics.median(cr), base_us))
                m, (lo, hi) = statistics.median(add_t), iqr(add_t)
                if (c, b) == ("curl", "json"):
                    table.fact("cpu_tapped_us", m)
                    table.fact("cpu_daemon_us", d_us)
                    table.fact("cpu_ratio", statistics.median(cr))
                table.add("%s: added CPU per tapped transfer" % what,
                          "%.1f us (IQR %.1f..%.1f; daemon %.1f us)" % (
                              m, lo, hi, d_us), "<= 8 us",
                          verdict(lo, hi, 8))
                m, (lo, hi) = statistics.median(add_u), iqr(add_u)
                table.add("%s: added CPU per untapped transfer" % what,
                          "%.2f us (IQR %.2f..%.2f)" % (m, lo, hi),
                          "< 1 us", verdict(lo, hi, 1, strict=True))
        if not tap_ok:
            table.add("warning", "the shim did not tap the warm-up transfers"
                      " (see the log above)")
        elif accepted is not None:
            table.add("events delivered to the daemon during 1",
                      "%d of %d tapped transfers; %s reported dropped by "
                      "the shim (receive queue full)" % (
                          accepted, 2 * len(BODIES) * (REPS + 1) * n + 4,
                          "?" if drops is None else drops))

        bench_instructions(table, tmp, curl, port, envs)

        table.section("2. the proxy approach (nginx reverse proxy on "
                      "loopback; CPU: client + daemon vs client + proxy)")
        for c in CLIENTS:
            for b in BODIES:
                what = "%s %s, %s" % (c, "serial" if c == "curl" else
                                      "multi", b)
                R = {v: res[(c, b, v)] for v in ("tapped", "proxy", "plain")}
                wr = [t[0] / p[0] for t, p in zip(R["tapped"], R["proxy"])]
                cr = [(t[1] + t[2]) / (p[1] + p[3]) for t, p in
                      zip(R["tapped"], R["proxy"])]
                px = statistics.median((p[1] + p[3] - q[1]) / n * 1e6
                                       for p, q in zip(R["proxy"],
                                                       R["plain"]))
                table.add("%s: wall shim/proxy" % what,
                          "%.3f" % statistics.median(wr))
                # what each adds to a request's time over plain: the
                # medians of the per-repetition differences
                lat_t = statistics.median((t[0] - p[0]) / n * 1e6 for t, p
                                          in zip(R["tapped"], R["plain"]))
                lat_p = statistics.median((x[0] - p[0]) / n * 1e6 for x, p
                                          in zip(R["proxy"], R["plain"]))
                ratio = lat_t / lat_p if lat_p > 0 else None
                if (c, b) == ("curl", "json") and ratio is not None:
                    table.fact("latency_ratio", max(ratio, 0.0))
                table.add("%s: added wall per request, shim vs proxy" % what,
                          "shim %+.1f us, proxy %+.1f us%s" % (
                              lat_t, lat_p, "" if ratio is None else
                              " (%.2f of the proxy's)" % ratio),
                          "<= 0.1 of it" if (c, b) == ("curl", "json")
                          else "-",
                          None if ratio is None or (c, b) != ("curl", "json")
                          else ratio <= 0.1)
                table.add("%s: CPU shim/proxy" % what,
                          "%.3f (proxy adds %.1f us/transfer)" % (
                              statistics.median(cr), px))
        bench_concurrency(table, port, envs, daemon)
    finally:
        if daemon is not None:
            daemon.close()
        proxy.close()
        canned.close()


SCALE_HANDLES = (1, 8, 50, 200)
SCALE_REPS = env_int("BENCH_SCALE_REPS", 5, 1, 1000)


def bench_concurrency(table, port, envs, daemon):
    """How the shim's cost grows with the handles in flight: rt-client's
    multi interface with 1, 8, 50 and 200 transfers at once, plain and
    tapped interleaved, the added CPU per transfer (client, and the
    daemon's)."""
    table.section("scale: transfers in flight (rt-client --mode multi, "
                  "json, %d transfers, %d interleaved runs)" % (
                      REQUESTS, SCALE_REPS))
    dpid = daemon.proc.pid
    for par in SCALE_HANDLES:
        argv = [RT_CLIENT, "--url", "http://127.0.0.1:%d" % port["json"],
                "--path", "/v1/messages", "-n", str(REQUESTS), "-t", "1",
                "--mode", "multi", "--parallel", str(par), "-o",
                "/dev/null"]
        res = {"plain": [], "tapped": []}
        for r in range(SCALE_REPS):
            for v in (("plain", "tapped") if r % 2 == 0 else
                      ("tapped", "plain")):
                d0 = task_cpu(dpid)
                wall, cpu = measure(argv, envs[v])
                if v == "tapped":
                    time.sleep(0.05)
                res[v].append((wall, cpu, task_cpu(dpid) - d0))
        add = [(t[1] - p[1]) / REQUESTS * 1e6 for t, p in
               zip(res["tapped"], res["plain"])]
        base = statistics.median(p[1] for p in res["plain"]) / REQUESTS
        d_us = statistics.median(t[2] for t in res["tapped"]) / REQUESTS
        m, (lo, hi) = statistics.median(add), iqr(add)
        table.add("%d in flight: added CPU per tapped transfer" % par,
                  "%.1f us (IQR %.1f..%.1f; plain %.1f us; daemon %.1f us)"
                  % (m, lo, hi, base * 1e6, d_us * 1e6))


CG_SMALL, CG_LARGE = 50, 250
CG_FIGURES = {}		# slopes of bench_instructions, for section 8


def callgrind(argv, env, out):
    """Run argv under callgrind; returns the instructions executed in user
    space (Ir), the profile left in out."""
    p = subprocess.run(["valgrind", "--tool=callgrind",
                        "--callgrind-out-file=" + out] + argv, env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=300)
    err = p.stderr.decode(errors="replace")
    m = re.search(r"I\s+refs:\s+([\d,]+)", err)
    if p.returncode != 0 or not m:
        raise RuntimeError("callgrind %s: status %d: %s" % (
            os.path.basename(argv[0]), p.returncode, err.strip()[-300:]))
    return int(m.group(1).replace(",", ""))


def shim_costs(path):
    """{function: instructions} of the shim's functions in a callgrind
    profile: inclusive for its internal functions, exclusive (the shim's
    own share) for the curl_* hooks, whose inclusive cost is libcurl's."""
    res = {}
    for incl in ("yes", "no"):
        p = subprocess.run(["callgrind_annotate", "--inclusive=" + incl,
                            "--threshold=100", path],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=120)
        for line in p.stdout.decode(errors="replace").splitlines():
            m = re.match(r"\s*([\d,]+) \(.*?\)\s+\S*?:(\w+) \[.*libratetap",
                         line)
            if not m:
                continue
            fn = m.group(2)
            if (incl == "yes") != fn.startswith("curl_"):
                res[fn] = int(m.group(1).replace(",", ""))
    return res


def bench_instructions(table, tmp, curl, port, envs):
    """The shim's added cost in instructions per transfer (callgrind,
    curl serial): deterministic, so unaffected by a noisy machine.  Taken
    as the slope between CG_SMALL and CG_LARGE transfers, so that the
    shim's one-time start-up cost falls out (and is reported apart)."""
    if shutil.which("valgrind") is None or \
            shutil.which("callgrind_annotate") is None:
        table.skip("instructions per transfer", "valgrind is not installed")
        return
    datafile = os.path.join(tmp, "req-json.json")
    ir = {}
    cg_vars = ("plain", "tapped", "untapped", "disabled")
    for v in cg_vars:
        for n in (CG_SMALL, CG_LARGE):
            cfg = os.path.join(tmp, "cg-%s-%d.cfg" % (v, n))
            curl_config(cfg, "http://127.0.0.1:%d/v1/messages" %
                        port["json"], n, datafile)
            out = os.path.join(tmp, "cg-%s-%d.out" % (v, n))
            ir[(v, n)] = callgrind([curl, "--config", cfg], envs[v], out)
    span = CG_LARGE - CG_SMALL
    per = {v: (ir[(v, CG_LARGE)] - ir[(v, CG_SMALL)]) / span
           for v in cg_vars}
    fixed = (ir[("untapped", CG_SMALL)] - ir[("plain", CG_SMALL)]) - \
        CG_SMALL * (per["untapped"] - per["plain"])
    CG_FIGURES["curl_json"] = per
    added = {v: per[v] - per["plain"] for v in cg_vars}
    table.fact("cg_tapped", added["tapped"])
    table.fact("cg_untapped", added["untapped"])
    table.fact("cg_disabled", added["disabled"])
    table.add("curl serial, json: instructions per transfer (callgrind)",
              "plain %.0f k; tapped +%.1f k; untapped +%.1f k; "
              "RATETAP_DISABLE=1 %+.0f" % (
                  per["plain"] / 1e3, added["tapped"] / 1e3,
                  added["untapped"] / 1e3, added["disabled"]))
    table.add("shim start-up, once per process (callgrind)",
              "%.0f k instructions" % (fixed / 1e3))
    for v in ("tapped", "untapped"):
        try:
            big = shim_costs(os.path.join(tmp, "cg-%s-%d.out" % (v,
                                                                 CG_LARGE)))
            small = shim_costs(os.path.join(tmp, "cg-%s-%d.out" % (
                v, CG_SMALL)))
        except (OSError, subprocess.SubprocessError) as e:
            log("callgrind_annotate: %s" % e)
            return
        slope = {fn: (big[fn] - small.get(fn, 0)) / span for fn in big}
        top = sorted(((c, fn) for fn, c in slope.items() if c >= 200),
                     reverse=True)[:6]
        if top:
            table.add("largest shim costs per %s transfer (callgrind; "
                      "hooks: own share)" % v,
                      ", ".join("%s %.1f k" % (fn, c / 1e3) for c, fn in top))


def write_small_config(tmp, cfg, n):
    """A copy of curl config cfg with only its first n URLs."""
    out = os.path.join(tmp, "small-" + os.path.basename(cfg))
    kept = 0
    with open(cfg) as f, open(out, "w") as g:
        for line in f:
            if line.startswith("url = "):
                if kept >= n:
                    continue
                kept += 1
            g.write(line)
    return out


# -- 3: the body scanner -----------------------------------------------------

def bench_scanner(table):
    table.section("3. body scanner (build/bench/bench_scan, %d MiB max)"
                  % SCAN_MIB)
    if not os.access(BENCH_SCAN, os.X_OK):
        table.skip("scanner throughput", "build/bench/bench_scan not built")
        return
    p = subprocess.run([BENCH_SCAN, str(SCAN_MIB)], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=300)
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        table.skip("scanner throughput", "bench_scan exited %d: %s" % (
            p.returncode, p.stderr.decode(errors="replace").strip()[-300:]))
        return
    sys.stderr.write(out)
    m = re.search(r"sizeof\(struct scan_state\) = (\d+)", out)
    if m:
        table.add("scanner state per transfer", "%s bytes" % m.group(1))
    header = None
    rows = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "size":
            header = f
            continue
        if header is None or len(f) < len(header) + 1:
            continue
        # sizes are printed as "1.0 KiB": two fields
        rec = dict(zip(header, [f[0] + " " + f[1]] + f[2:]))
        rows.append(rec)
    if not rows:
        table.add("scanner output", "not parsed; see its output above")
        return
    for rec in rows:
        if not (rec["size"].endswith("KiB") and rec["size"].startswith("1.")
                or rec["size"] in ("1.0 MiB", "100.0 MiB")):
            continue
        try:
            table.add("scanner, %s body of %s" % (rec["kind"], rec["size"]),
                      "%s GB/s; memchr('\\n') %s GB/s = %sx; memchr of "
                      "an absent byte %s GB/s = %sx" % (
                          rec["scan_GB/s"], rec["memchr_nl_GB/s"],
                          rec["ratio_nl"], rec["memchr_absent_GB/s"],
                          rec["ratio_absent"]))
        except KeyError:
            table.add("scanner, %s body of %s" % (rec["kind"], rec["size"]),
                      " ".join("%s=%s" % kv for kv in rec.items()))


# -- 4: the daemon -------------------------------------------------------------

def bench_daemon(table):
    table.section("4. daemon: %d events from %d senders, %s" % (
        EVENTS, SENDERS, "daemon pinned to CPU 0" if pin_ok() else
        "not pinned (one CPU or no taskset)"))
    missing = [p for p in (DAEMON, BENCH_SEND, BENCH_STATUS)
               if not os.access(p, os.X_OK)]
    if missing:
        table.skip("daemon", "%s not built" % ", ".join(
            os.path.relpath(m, ROOT) for m in missing))
        return
    with harness.Daemon(poll_interval=None) as d:
        pid = d.proc.pid
        pin = pin_ok()
        if pin:
            subprocess.run(["taskset", "-a", "-p", "-c", "0", str(pid)],
                           stdout=subprocess.DEVNULL, check=True)
        rss0 = vmrss_kib(pid)
        acc0 = d.status()["ingest"]["accepted"]
        per = EVENTS // SENDERS
        total = per * SENDERS
        pre = ["taskset", "-c", "1"] if pin else []
        cpu0 = task_cpu(pid)
        t0 = time.monotonic()
        senders = subprocess.Popen(pre + [
            BENCH_SEND, "--socket", d.ingest_path, "--procs", str(SENDERS),
            "--count", str(per), "--progs", "1000", "--models", "100"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        # the status client shares the daemon's CPU, not the senders' (it
        # would wait behind them for its own turn to run)
        status = subprocess.Popen((["taskset", "-c", "0"] if pin else []) + [
            BENCH_STATUS, "--control", d.control_path, "-n", "400",
            "--interval-ms", "5"], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        s_out, s_err = senders.communicate(timeout=600)
        # the daemon has the rest of its queue to drain
        deadline = time.monotonic() + 60
        acc = acc0
        while time.monotonic() < deadline:
            acc = d.status()["ingest"]["accepted"]
            if acc - acc0 >= total:
                break
            time.sleep(0.01)
        t1 = time.monotonic()
        cpu1 = task_cpu(pid)
        q_out, q_err = status.communicate(timeout=120)
        if senders.returncode != 0:
            table.skip("ingest rate", "bench_send failed: %s" %
                       s_err.decode(errors="replace").strip()[-300:])
            return
        got = acc - acc0
        rate = got / (t1 - t0)
        busy = (cpu1 - cpu0) / (t1 - t0)
        table.add("ingest rate, %d senders%s" % (
            SENDERS, " on CPU 1" if pin else ""),
                  "%.0f events/s (%d of %d accepted in %.2f s; daemon %.0f %% "
                  "busy%s)" % (rate, got, total, t1 - t0, busy * 100,
                               ": the senders were the limit" if busy < 0.9
                               else ""))
        table.add("ingest capacity of one core",
                  "%.0f events per daemon CPU-second (%.1f us/event)" % (
                      got / max(cpu1 - cpu0, 1e-9),
                      (cpu1 - cpu0) / max(got, 1) * 1e6))
        try:
            q = json.loads(q_out)
            table.fact("status_p99_us", q["p99_us"])
            table.add("GET /v1/status latency under that load",
                      "p50 %.0f us, p99 %.0f us (%d of %d ok, %d-byte "
                      "answer)" % (q["p50_us"], q["p99_us"], q["ok"],
                                   q["n"], q["bytes"]))
        except (ValueError, KeyError):
            table.skip("GET /v1/status latency", "bench_status: %s" % (
                q_err.decode(errors="replace").strip()[-300:]))
        idle = subprocess.run([BENCH_STATUS, "--control", d.control_path,
                               "-n", "200"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=120)
        try:
            q = json.loads(idle.stdout)
            table.add("GET /v1/status latency, idle, same tables",
                      "p50 %.0f us, p99 %.0f us" % (q["p50_us"],
                                                    q["p99_us"]))
        except (ValueError, KeyError):
            table.skip("GET /v1/status latency, idle", idle.stderr.decode(
                errors="replace"))
        rss = vmrss_kib(pid)
        st = d.status()
        table.add("daemon VmRSS after %d events (1000 programs, 100 "
                  "models)" % got,
                  "%.1f MiB (%.1f MiB at start; %d models, %d programs "
                  "listed)" % (rss / 1024, rss0 / 1024,
                               len(st.get("models") or {}),
                               len(st.get("processes") or {})),
                  "< 16 MiB", rss < 16 * 1024)


def bench_control(table):
    """GET /v1/status latency while others abuse the control socket: 50
    processes hammering it, 200 half-open connections (16 per process),
    both at once."""
    table.section("6. control socket under abuse (GET /v1/status on new "
                  "connections)")
    if not os.access(BENCH_STATUS, os.X_OK):
        table.skip("control", "bench_status not built")
        return
    with harness.Daemon(poll_interval=None) as d:
        for what, extra, target in (
                ("idle", [], None),
                ("50 clients hammering", ["--hammer", "50"], 10000),
                ("200 half-open connections", ["--half-open", "200"],
                 10000),
                ("both at once", ["--hammer", "50", "--half-open", "200"],
                 None)):
            r = subprocess.run([BENCH_STATUS, "--control", d.control_path,
                                "-n", "400"] + extra,
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=300)
            try:
                q = json.loads(r.stdout)
                table.add("GET /v1/status, %s" % what,
                          "p50 %.0f us, p99 %.0f us (%d of %d ok%s)" % (
                              q["p50_us"], q["p99_us"], q["ok"], q["n"],
                              ", %d half-open held" % q["held"]
                              if "--half-open" in extra else ""),
                          "p99 < %d us" % target if target else "-",
                          q["p99_us"] < target if target else None)
            except (ValueError, KeyError):
                table.skip("GET /v1/status, %s" % what, r.stderr.decode(
                    errors="replace").strip()[-300:])


def pin_ok():
    return shutil.which("taskset") is not None and \
        len(os.sched_getaffinity(0)) >= 2 and \
        {0, 1} <= os.sched_getaffinity(0)


# -- 5: start-up of programs that never use libcurl --------------------------

def mapped_objects(argv, env):
    """Shared objects mapped into a process of argv (a program that sleeps)
    once it is blocked in its sleep: from /proc/PID/maps."""
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/syscall" % p.pid) as f:
                    nr = f.read().split()[0]
                if nr in ("35", "230"):	# nanosleep, clock_nanosleep
                    break
            except (OSError, IndexError):
                pass
            time.sleep(0.01)
        objs = set()
        exe = os.path.realpath("/proc/%d/exe" % p.pid)
        with open("/proc/%d/maps" % p.pid) as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6:
                    path = parts[5].strip()
                    if path.startswith("/") and path != exe and \
                            re.search(r"\.so(\.[\d.]+)?$", path):
                        objs.add(path)
        return objs
    finally:
        p.kill()
        p.wait()


def bench_startup(table):
    table.section("5. preloading the shim into programs without libcurl "
                  "(%d runs of each, interleaved)" % SPAWNS)
    if not os.access(BENCH_SPAWN, os.X_OK) or not os.access(SHIM, os.R_OK):
        table.skip("start-up", "build/bench/bench_spawn or the shim not "
                   "built")
        return
    env = clean_env()
    for argv in (["true"], ["ls", "/"]):
        p = subprocess.run([BENCH_SPAWN, "-n", str(SPAWNS), "--preload",
                            SHIM, "--"] + argv, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=600)
        name = " ".join(argv)
        try:
            r = json.loads(p.stdout)
        except ValueError:
            table.skip("start-up of %s" % name, p.stderr.decode(
                errors="replace").strip()[-300:], "< 1.05")
            continue
        table.add("start-up of `%s`, preloaded/plain" % name,
                  "%.3f wall (median %.0f vs %.0f us), %.3f CPU" % (
                      r["ratio_median"], r["preload"]["median_us"],
                      r["plain"]["median_us"], r["ratio_cpu"]),
                  "< 1.05", r["ratio_median"] < 1.05)
    sleep = shutil.which("sleep")
    try:
        plain = mapped_objects([sleep, "30"], env)
        e = dict(env)
        e["LD_PRELOAD"] = SHIM
        pre = mapped_objects([sleep, "30"], e)
    except OSError as ex:
        table.skip("objects loaded", str(ex))
        return
    shim = os.path.realpath(SHIM)
    extra = sorted(pre - plain - {shim})
    table.add("objects mapped into `sleep` without the shim",
              ", ".join(sorted(os.path.basename(x) for x in plain)) or
              "(none)")
    table.add("objects mapped with the shim, besides it",
              ", ".join(sorted(os.path.basename(x) for x in pre
                               if x != shim)) + (
                  "; extra: " + ", ".join(extra) if extra else
                  "; no extra object"),
              "none extra", not extra and shim in pre)


# -- 8: the TLS layer ----------------------------------------------------------

TLS_ECHO_SMALL, TLS_ECHO_LARGE = 1000, 5000	# round trips, 2 calls each
TLS_INTERP_SPAWNS = env_int("BENCH_INTERP_SPAWNS", 200, 10, 100000)


def http_response():
    """The canned answer of bench_tls --serve: the JSON body of 1 with the
    rate-limit headers, as bytes."""
    body = json_body().encode()
    head = ["HTTP/1.1 200 OK", "content-type: application/json",
            "content-length: %d" % len(body)]
    head += ["%s: %s" % kv for kv in ratelimit_headers()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class TlsServer:
    """bench_tls --serve: a loopback TLS server with an echo port and an
    HTTP/1.1 port answering every request with response."""

    def __init__(self, tmp, response):
        self.path = os.path.join(tmp, "tls-response")
        with open(self.path, "wb") as f:
            f.write(response)
        self.proc = None
        self.ports = {}

    def __enter__(self):
        self.proc = subprocess.Popen([BENCH_TLS, "--serve", self.path],
                                     env=clean_env(),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        for _ in range(2):
            line = self.proc.stdout.readline().decode().split()
            if len(line) != 2:
                self.__exit__()
                raise RuntimeError("bench_tls --serve did not start: %s" %
                                   self.proc.stderr.read().decode(
                                       errors="replace")[-300:])
            self.ports[line[0]] = int(line[1])
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.proc = None


def cg_slope(argv_of, small, large, envs, tmp, tag):
    """{variant: instructions per unit} from callgrind runs of argv_of(n)
    with n = small and large units, in each of envs {variant: env}."""
    per = {}
    for v, env in envs.items():
        ir = {}
        for n in (small, large):
            out = os.path.join(tmp, "cg-tls-%s-%s-%d.out" % (tag, v, n))
            ir[n] = callgrind(argv_of(n), env, out)
        per[v] = (ir[large] - ir[small]) / (large - small)
    return per


def shim_self_costs(path):
    """{function: exclusive instructions} of the shim's functions in a
    callgrind profile (a hook's own share, without the library it calls)."""
    p = subprocess.run(["callgrind_annotate", "--inclusive=no",
                        "--threshold=100", path], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=120)
    res = {}
    for line in p.stdout.decode(errors="replace").splitlines():
        m = re.match(r"\s*([\d,]+) \(.*?\)\s+\S*?:(\w+) \[.*libratetap",
                     line)
        if m:
            res[m.group(2)] = int(m.group(1).replace(",", ""))
    return res


def bench_tls(table, tmp):
    """The TLS layer's costs: instructions per SSL_read/SSL_write (and
    gnutls_record_send/recv) on a decided, untapped connection, per tapped
    HTTP/1.1 response, and the start-up of interpreters that make no TLS
    connection."""
    table.section("8. TLS layer (bench_tls: loopback TLS 1.3 server, "
                  "callgrind slopes; start-up: %d runs of each)" %
                  TLS_INTERP_SPAWNS)
    have_cg = shutil.which("valgrind") is not None
    clients = [("OpenSSL", BENCH_TLS, "SSL_read/SSL_write")]
    if os.access(BENCH_TLS_GNUTLS, os.X_OK):
        clients.append(("GnuTLS", BENCH_TLS_GNUTLS,
                        "gnutls_record_recv/send"))
    if not os.access(BENCH_TLS, os.X_OK) or not os.access(SHIM, os.R_OK):
        table.skip("TLS layer", "build/bench/bench_tls or the shim not built")
    elif not have_cg:
        table.skip("TLS layer instructions", "valgrind is not installed")
    else:
        bench_tls_instructions(table, tmp, clients)
    bench_tls_startup(table)


def bench_tls_instructions(table, tmp, clients):
    rt = tempfile.mkdtemp(prefix="rt-tls-", dir=tmp)	# no daemon: journal
    with TlsServer(tmp, http_response()) as srv:
        ep, hp = srv.ports["echo"], srv.ports["http"]
        shim_env = clean_env()
        shim_env["LD_PRELOAD"] = SHIM
        shim_env["RATETAP_SOCKET"] = os.path.join(rt, "ingest.sock")
        shim_env["RATETAP_HOSTS"] = "localhost:%d" % hp
        envs = {"plain": clean_env(), "shim": shim_env}

        # untapped: SNI example.com, not in RATETAP_HOSTS
        span = TLS_ECHO_LARGE - TLS_ECHO_SMALL
        for lib, prog, fns in clients:
            per = cg_slope(lambda n, p=prog: [p, "--port", str(ep), "--sni",
                                              "example.com", "--echo",
                                              str(n)],
                           TLS_ECHO_SMALL, TLS_ECHO_LARGE, envs, tmp,
                           "echo-" + lib)
            added = (per["shim"] - per["plain"]) / 2	# 2 calls a trip
            table.fact("tls_untapped", max(added, table.facts.get(
                "tls_untapped", added)))
            table.add("untapped %s on a decided connection (%s): added "
                      "instructions per call (callgrind, %d round trips)" % (
                          fns, lib, span),
                      "%.1f (plain %.0f per 1-byte round trip)" % (
                          added, per["plain"]), "<= 50", added <= 50)
            if shutil.which("callgrind_annotate") is None:
                continue
            cost = {}
            for n in (TLS_ECHO_SMALL, TLS_ECHO_LARGE):
                cost[n] = shim_self_costs(os.path.join(
                    tmp, "cg-tls-echo-%s-shim-%d.out" % (lib, n)))
            slope = {fn: (c - cost[TLS_ECHO_SMALL].get(fn, 0)) / span
                     for fn, c in cost[TLS_ECHO_LARGE].items()}
            top = sorted(((c, fn) for fn, c in slope.items() if c >= 1),
                         reverse=True)[:5]
            if top:
                table.add("shim functions per untapped round trip (%s; "
                          "callgrind, own share)" % lib,
                          ", ".join("%s %.0f" % (fn, c) for c, fn in top))

        # tapped: SNI localhost, RATETAP_HOSTS=localhost:PORT; no daemon,
        # so each event is appended to the journal beside the socket
        got = {}
        for lib, prog, _ in clients:
            per = cg_slope(lambda n, p=prog: [p, "--port", str(hp), "--sni",
                                              "localhost", "--http", str(n)],
                           CG_SMALL, CG_LARGE, envs, tmp, "http-" + lib)
            got[lib] = per["shim"] - per["plain"]
            table.add("tapped HTTP/1.1 response over TLS (%s), json: "
                      "instructions per response (callgrind, %d-%d on one "
                      "connection)" % (lib, CG_SMALL, CG_LARGE),
                      "plain %.0f k; tapped +%.1f k" % (
                          per["plain"] / 1e3, got[lib] / 1e3))
        jr = os.path.join(rt, "events.journal")
        if not os.path.exists(jr):
            table.add("warning", "the shim wrote no event for the tapped "
                      "TLS responses: the figures above measure a shim that "
                      "does not tap")

        # the libcurl layer on the same server: curl over TLS
        curl = shutil.which("curl")
        tls_curl = None
        if curl is not None:
            datafile = os.path.join(tmp, "req-tls.json")
            with open(datafile, "w") as f:
                f.write(request_json(False))

            def curl_argv(n):
                cfg = os.path.join(tmp, "cg-tls-curl-%d.cfg" % n)
                curl_config(cfg, "https://localhost:%d/v1/messages" % hp, n,
                            datafile)
                return [curl, "--insecure", "--http1.1", "--config", cfg]
            per = cg_slope(curl_argv, CG_SMALL, CG_LARGE, envs, tmp, "curl")
            tls_curl = per["shim"] - per["plain"]
            table.add("curl serial over TLS (same server), json: "
                      "instructions per transfer (callgrind; libcurl layer)",
                      "plain %.0f k; tapped +%.1f k" % (per["plain"] / 1e3,
                                                        tls_curl / 1e3))
        c = CG_FIGURES.get("curl_json")
        http_curl = "+%.1f k" % ((c["tapped"] - c["plain"]) / 1e3) if c \
            else "not measured in this run"
        table.add("tapped response: TLS layer vs libcurl layer "
                  "(instructions added per response)",
                  "TLS layer %s; libcurl layer: curl over TLS %s, curl "
                  "serial json over HTTP (1) %s" % (
                      ", ".join("%s +%.1f k" % (lib, v / 1e3)
                                for lib, v in got.items()),
                      "+%.1f k" % (tls_curl / 1e3) if tls_curl is not None
                      else "not measured (no curl)", http_curl))


def bench_tls_startup(table):
    if not os.access(BENCH_SPAWN, os.X_OK) or not os.access(SHIM, os.R_OK):
        table.skip("start-up of interpreters", "build/bench/bench_spawn or "
                   "the shim not built", "< 1.05")
        return
    env = clean_env()
    for argv in (["python3", "-c", "pass"], ["ruby", "-e", "0"]):
        name = " ".join(argv)
        exe = "/usr/bin/" + argv[0]
        if not os.access(exe, os.X_OK):
            exe = shutil.which(argv[0])
        if exe is None:
            table.skip("start-up of `%s`" % name, "%s is not installed" %
                       argv[0], "< 1.05")
            continue
        p = subprocess.run([BENCH_SPAWN, "-n", str(TLS_INTERP_SPAWNS),
                            "--preload", SHIM, "--", exe] + argv[1:],
                           env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=1200)
        try:
            r = json.loads(p.stdout)
        except ValueError:
            table.skip("start-up of `%s`" % name, p.stderr.decode(
                errors="replace").strip()[-300:], "< 1.05")
            continue
        table.add("start-up of `%s` (no TLS connection), preloaded/plain" %
                  name,
                  "%.3f wall (median %.0f vs %.0f us), %.3f CPU" % (
                      r["ratio_median"], r["preload"]["median_us"],
                      r["plain"]["median_us"], r["ratio_cpu"]),
                  "< 1.05", r["ratio_median"] < 1.05)
    # Instructions, which no noise moves: the interpreters and php, whose
    # ~20 extension dlopens each take the dlopen hook and a GOT pass.
    if shutil.which("valgrind") is None:
        table.skip("start-up instructions (callgrind)",
                   "valgrind is not installed", "<= +2 %")
        return
    for argv in (["python3", "-c", "pass"], ["ruby", "-e", "0"],
                 ["php", "-r", ""], ["node", "-e", "0"]):
        exe = "/usr/bin/" + argv[0]	# the system's, not a wrapper
        if not os.access(exe, os.X_OK):
            exe = shutil.which(argv[0])
        name = " ".join(a if a else "''" for a in argv)
        if exe is None:
            table.skip("start-up of `%s`: instructions" % name,
                       "%s is not installed" % argv[0], "<= +2 %")
            continue
        ir = {}
        for v in ("plain", "preload"):
            e = dict(env)
            if v == "preload":
                e["LD_PRELOAD"] = SHIM
            ir[v] = callgrind([exe] + argv[1:], e, os.devnull)
        added = ir["preload"] / ir["plain"] - 1
        table.fact("start_" + argv[0], 100 * added)
        table.add("start-up of `%s`: instructions preloaded vs plain "
                  "(callgrind)" % name,
                  "%+.1f %% (%.1f M vs %.1f M)" % (
                      100 * added, ir["preload"] / 1e6, ir["plain"] / 1e6),
                  "<= +2 %", added <= 0.02)


# -- the machine ---------------------------------------------------------------

def first_line(argv):
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
        out = (p.stdout or p.stderr).decode(errors="replace").strip()
        return out.splitlines()[0] if out else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    except (OSError, ValueError):
        pass
    cc = os.environ.get("CC") or "cc"
    curlv = first_line(["pkg-config", "--modversion", "libcurl"])
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"]
    return [
        ("CPU", cpu),
        ("cores", "%d online, %d usable by the benchmark" % (
            os.cpu_count() or 0, len(os.sched_getaffinity(0)))),
        ("memory", mem),
        ("kernel", "%s %s" % (platform.system(), platform.release())),
        ("compiler", first_line([cc, "--version"])),
        ("libcurl", curlv),
        ("curl", first_line(["curl", "--version"])),
        ("nginx", first_line([shutil.which("nginx") or "/usr/sbin/nginx",
                              "-v"])),
        ("load average at start", " ".join(load)),
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC")),
    ]


# -- docs/benchmarks.md --------------------------------------------------------

BEGIN = "<!-- bench:begin (written by `make bench BENCH_RECORD=1`) -->"
END = "<!-- bench:end -->"


def record(table, mach, seconds):
    block = [BEGIN, "", "## Last recorded run", "",
             "`make bench BENCH_RECORD=1` (%d repetitions, %d requests a "
             "run, %d start-ups of each, %d events), %.0f s." % (
                 REPS, REQUESTS, SPAWNS, EVENTS, seconds), "",
             "### The targets", "", targets(table).markdown(), "",
             "### Every figure", "", table.markdown(), "", "### Machine",
             ""]
    block += ["- %s: %s" % (k, v) for k, v in mach]
    block += ["", END]
    text = "\n".join(block)
    try:
        with open(DOC) as f:
            old = f.read()
    except OSError:
        old = ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        new = head + text + tail
    else:
        new = "# Benchmarks\n\n" + text + "\n"
    tmp = DOC + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, DOC)
    log("recorded in %s" % os.path.relpath(DOC, ROOT))


def bench_handoff(table, tmp):
    table.section("6. hand-off: shim to daemon")
    missing = [p for p in (DAEMON, BENCH_HANDOFF, RT_JWRITE)
               if not os.access(p, os.X_OK)]
    if missing:
        table.skip("hand-off", "%s not built" % ", ".join(
            os.path.relpath(m, ROOT) for m in missing))
        return
    # the runtime directory is tmpfs in use: measure there when there is one
    base = "/dev/shm" if os.path.isdir("/dev/shm") else tmp
    d = tempfile.mkdtemp(prefix="rt-bench-ho-", dir=base)
    try:
        p = subprocess.run([BENCH_HANDOFF, d, "--count", "200000"],
                           capture_output=True, timeout=600)
        r = json.loads(p.stdout)
        table.add("CPU per event, datagram (socket+sendto+close)",
                  "%.2f us" % r["datagram_us"])
        table.add("CPU per event, journal record (fstat+write)",
                  "%.2f us" % r["journal_us"], "< datagram",
                  r["journal_us"] < r["datagram_us"])
    finally:
        shutil.rmtree(d, True)
    for n in sorted(set((EVENTS // 100, EVENTS // 10, EVENTS))):
        catch_up_backlog(table, n)
    bench_daemon_cpu(table)


def catch_up_backlog(table, n):
    """A journal backlog of n events left by 4 processes; the time from
    the daemon's start until its status counts them all."""
    with harness.Daemon(poll_interval=None, start=False) as dm:
        jdir = os.path.dirname(dm.ingest_path)
        os.makedirs(jdir, 0o700, exist_ok=True)
        procs = 4
        p = subprocess.run([RT_JWRITE, os.path.join(jdir, "events.journal"),
                            "--procs", str(procs), "--count",
                            str(n // procs)], capture_output=True,
                           timeout=600,
                           env=dict(os.environ, RATETAP_JOURNAL_MAX="4096"))
        w = json.loads(p.stdout)
        t0 = time.monotonic()
        dm.start()
        deadline = t0 + 300
        got = 0
        while time.monotonic() < deadline:
            got = dm.status()["journal"]["records"]
            if got >= w["written"]:
                break
            time.sleep(0.05)
        secs = time.monotonic() - t0
        table.add("catch-up of %d journal events at start" % w["written"],
                  "%.2f s (%d taken, %.0f events/s)" % (
                      secs, got, got / max(secs, 1e-9)), "seconds",
                  got == w["written"] and secs < 60)


def fed(d, argv):
    """Daemon CPU seconds and events taken while bench_handoff --to feeds
    the running daemon d with argv; every event is waited for."""
    pid = d.proc.pid
    base = d.status()["journal"]["records"]
    cpu0 = task_cpu(pid)
    p = subprocess.run([BENCH_HANDOFF, "--to", d.ingest_path] + argv,
                       capture_output=True, timeout=600)
    sent = json.loads(p.stdout)["sent"]
    # the last window's events are read by the daemon itself, not by a
    # status request (which would catch them up): wait for its timer
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.5)
        cpu1 = task_cpu(pid)
        got = d.status()["journal"]["records"] - base
        if got >= sent:
            break
    return cpu1 - cpu0, got, sent


def bench_daemon_cpu(table):
    """The daemon's CPU per event from the shim's journal: at a low rate
    (wakeups and saves dominate) and in a flood (the read itself)."""
    if not os.access(BENCH_HANDOFF, os.X_OK):
        table.skip("daemon CPU per event", "bench_handoff not built")
        return
    with harness.Daemon(poll_interval=None) as d:
        time.sleep(1)
        t0, c0 = time.monotonic(), task_cpu(d.proc.pid)
        time.sleep(5)
        idle = (task_cpu(d.proc.pid) - c0) / (time.monotonic() - t0)
        cpu, got, sent = fed(d, ["--procs", "4", "--rate", "200",
                                 "--seconds", "10"])
        us = cpu / max(got, 1) * 1e6
        table.add("daemon CPU per event, 200 events/s for 10 s from 4 "
                  "processes (journal)",
                  "%.2f us (%d of %d taken; idle daemon %.0f us/s)" % (
                      us, got, sent, idle * 1e6), "<= 2 us", us <= 2)
        table.fact("lowrate_us", us)
        cpu, got, sent = fed(d, ["--procs", "2", "--rate", "0",
                                 "--count", str(EVENTS // 2)])
        rate = got / max(cpu, 1e-9)
        table.add("events per daemon CPU-second, flood from 2 processes "
                  "(journal)", "%.0f (%d of %d taken, %.2f s CPU)" % (
                      rate, got, sent, cpu), ">= 1 M/s", rate >= 1e6)
        table.fact("flood_rate", rate)
    if not os.access(BENCH_SAVE, os.X_OK):
        table.skip("state save", "bench_save not built")
        return
    sd = tempfile.mkdtemp(prefix="rt-bench-save-")
    try:
        for n in (10, 1000, 10000):
            p = subprocess.run([BENCH_SAVE, sd, "--entries", str(n)],
                               capture_output=True, timeout=300)
            r = json.loads(p.stdout)
            table.add("state save, %d programs and models asked" % n,
                      "%.0f us CPU, %.0f us wall (%d models, %d programs "
                      "kept, %d bytes)" % (
                          r["cpu_us"], r["wall_us"], r["models"],
                          r["programs"], r["bytes"]),
                      "<= 1/50 of the save interval",
                      r["cpu_us"] * 50 <= 5000 * 1000)
    finally:
        shutil.rmtree(sd, True)


def catch_up(n, env):
    """Seconds a daemon started with env takes to take n journal events
    left while it was away (and to write them to its ledger, if any)."""
    with harness.Daemon(poll_interval=None, start=False, env=env) as dm:
        jdir = os.path.dirname(dm.ingest_path)
        os.makedirs(jdir, 0o700, exist_ok=True)
        p = subprocess.run([RT_JWRITE, os.path.join(jdir, "events.journal"),
                            "--procs", "2", "--count", str(n // 2)],
                           capture_output=True, timeout=600)
        w = json.loads(p.stdout)
        t0 = time.monotonic()
        dm.start()
        deadline = t0 + 300
        while time.monotonic() < deadline:
            st = dm.status()
            if st["journal"]["records"] >= w["written"] and \
                    st["ledger"].get("pending", 0) == 0:
                break
            time.sleep(0.02)
        return time.monotonic() - t0, w["written"], st


def bench_ledger(table):
    table.section("7. ledger: ingest with and without the history")
    if not os.access(RT_JWRITE, os.X_OK):
        table.skip("ledger", "rt-jwrite not built")
        return
    n = env_int("BENCH_LEDGER_EVENTS", 200000, 1000, 10000000)
    reps = env_int("BENCH_LEDGER_REPS", 3, 1, 50)
    on, off = [], []
    rows = 0
    for i in range(reps):
        order = ((on, {}), (off, {"RATETAP_LEDGER": "0"}))
        for acc, env in (order if i % 2 == 0 else order[::-1]):
            secs, got, st = catch_up(n, env)
            acc.append(got / max(secs, 1e-9))
            if env == {}:
                rows = st["ledger"].get("written", 0)
    table.add("journal catch-up, no ledger (%d events)" % n,
              "%.0f events/s" % statistics.median(off))
    table.add("journal catch-up, with the ledger (%d rows)" % rows,
              "%.0f events/s" % statistics.median(on))
    table.add("ingest throughput kept with the ledger",
              "%.0f %%" % (100.0 * statistics.median(on) /
                           max(statistics.median(off), 1e-9)))


# -- 9: the status JSON ------------------------------------------------------

RENDER_SIZES = (10, 100, 1000, 10000)	# programs, each with 100 models


def bench_render(table, tmp):
    """The status document rendered in process (build/bench/bench_render)
    for trackers of 10 to 10 000 programs and 100 models: instructions per
    render by callgrind (only render_once() counted), the JSON writer the
    daemon uses against the cJSON tree it used before, and the median
    wall time of 200 renders."""
    table.section("9. status JSON (bench_render: instructions per render "
                  "by callgrind, median of 200 renders)")
    if not os.access(BENCH_RENDER, os.X_OK):
        table.skip("render", "bench_render not built")
        return
    have_cg = shutil.which("valgrind") is not None
    for progs in RENDER_SIZES:
        argv = [BENCH_RENDER, "--progs", str(progs), "--models", "100"]
        r = subprocess.run(argv + ["--mode", "direct"], capture_output=True,
                           text=True, timeout=300)
        q = json.loads(r.stdout)
        ir = {}
        if have_cg:
            for mode in ("direct", "tree"):
                out = os.path.join(tmp, "cg-render-%s-%d.out" % (mode,
                                                                progs))
                p = subprocess.run(
                    ["valgrind", "--tool=callgrind",
                     "--toggle-collect=render_once",
                     "--callgrind-out-file=" + out] + argv +
                    ["--mode", mode, "-n", "10"],
                    capture_output=True, text=True, timeout=600)
                m = re.search(r"Collected : (\d+)", p.stderr)
                if m:
                    ir[mode] = int(m.group(1)) / 10
        direct = ir.get("direct")
        if progs == 1000:
            table.fact("render_1000", direct)
        table.add("status render, %d programs x 100 models (%d and %d "
                  "listed, %d bytes)" % (progs, q["listed_progs"],
                                         q["listed_models"], q["bytes"]),
                  "%s instructions (cJSON tree and print: %s); %.1f us" % (
                      "%.2f M" % (direct / 1e6) if direct else "?",
                      "%.2f M" % (ir["tree"] / 1e6) if "tree" in ir
                      else "not measured", q["us"]),
                  "<= 1 M" if progs == 1000 else "-",
                  direct <= 1e6 if progs == 1000 and direct else None)


def main():
    t0 = time.monotonic()
    table = Table()
    mach = machine()
    log("machine: " + "; ".join("%s: %s" % kv for kv in mach))
    only = set(x for x in os.environ.get("BENCH_ONLY", "").split(",") if x)
    tmp = tempfile.mkdtemp(prefix="rt-bench-")
    try:
        for name, fn in (("shim", lambda: bench_shim(table, tmp)),
                         ("scanner", lambda: bench_scanner(table)),
                         ("daemon", lambda: bench_daemon(table)),
                         ("startup", lambda: bench_startup(table)),
                         ("control", lambda: bench_control(table)),
                         ("handoff", lambda: bench_handoff(table, tmp)),
                         ("ledger", lambda: bench_ledger(table)),
                         ("tls", lambda: bench_tls(table, tmp)),
                         ("render", lambda: bench_render(table, tmp))):
            if only and name not in only:
                continue
            log("%s ..." % name)
            try:
                fn()
            except Exception as e:		# report, go on with the rest
                traceback.print_exc()
                table.skip(name, "%s: %s" % (type(e).__name__,
                                             str(e).strip()[:300]))
    finally:
        shutil.rmtree(tmp, True)
    secs = time.monotonic() - t0
    print()
    print("the targets, measured in this run (details below):")
    print(targets(table).text())
    print()
    print(table.text())
    print()
    print("machine: " + "; ".join("%s: %s" % kv for kv in mach))
    print("%.0f s" % secs)
    sys.stdout.flush()
    if os.environ.get("BENCH_RECORD") == "1":
        record(table, mach, secs)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
