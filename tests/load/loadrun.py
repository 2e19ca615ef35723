#!/usr/bin/python3
"""Load run against a real ratetapd: `make load`, and the short pass of
tests/integration/test_load.py.

    tests/load/loadrun.py [--procs 16] [--seconds 60]

Starts build/ratetapd in a temporary home (tests/integration/harness.py) and
drives its ingest socket with build/tests/rt-load in two phases:

  1. valid: PROCS processes send well-formed events as fast as they can for
     SECONDS, then each sends a final event carrying its unreported drops;
  2. flood: PROCS processes of valid events again, together with PROCS
     sending garbage and PROCS sending oversize datagrams, for SECONDS.

After each phase the daemon's counters must match what the senders report,
exactly: accepted == valid sent, client_drops == valid failed (so valid
attempts == accepted + client_drops), rejected[reason] == garbage and
oversize datagrams delivered with that reason, nothing from a foreign uid.
The daemon must stay up, its resident memory (VmRSS, sampled every 0.1 s)
must stay within MEMORY_BOUND_KIB of the level before the load, its model
and program tables within their limits, its log small (a flood is not
logged line by line), and it must still stop cleanly on SIGTERM.

Prints the figures (events/s held, memory, events lost) and exits 1 when a
check failed.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from harness import BUILD, SANITIZE, Daemon, san_env  # noqa: E402

RT_LOAD = os.path.join(BUILD, "tests", "rt-load")
MEMORY_BOUND_KIB = 8 * 1024	# growth of VmRSS allowed under load
if SANITIZE:
    # shadow memory and allocator metadata grow with the number of
    # allocations, not with the daemon's own state (3 MiB measured with
    # the small quarantine below)
    MEMORY_BOUND_KIB = 16 * 1024


def daemon_env():
    """AddressSanitizer holds freed memory in a quarantine of 256 MiB by
    default, which a daemon that allocates per event (the ledger's SQLite
    statements) fills under load: RSS would measure the quarantine, not the
    daemon.  A small quarantine keeps use-after-free detection and makes
    the bound mean what it says."""
    if "address" not in SANITIZE:
        return None
    env = san_env({"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "")})
    env["ASAN_OPTIONS"] += ":quarantine_size_mb=4"
    return env
LOG_BOUND = 64 * 1024		# bytes of daemon log allowed for the whole run
TABLE_MAX = 256 + 1		# TRK_MAX_MODELS / TRK_MAX_PROGS plus "other"
REASONS = ("size", "magic", "version", "field", "string")


def vm_rss_kib(pid):
    """VmRSS of pid in KiB, from /proc (None once it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    """Samples a process's VmRSS every `every` seconds until stopped."""

    def __init__(self, pid, every=0.1):
        super().__init__(daemon=True)
        self.pid = pid
        self.every = every
        self.samples = []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            v = vm_rss_kib(self.pid)
            if v is not None:
                self.samples.append(v)
            self._halt.wait(self.every)

    def stop(self):
        self._halt.set()
        self.join(5)
        return max(self.samples) if self.samples else None


def start_load(sock, kind, procs, seconds):
    argv = [RT_LOAD, "--socket", sock, "--procs", str(procs),
            "--seconds", str(seconds), "--kind", kind]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_load(p, seconds):
    try:
        out, err = p.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("rt-load did not finish: %s" %
                             err.decode(errors="replace"))
    try:
        doc = json.loads(out)
    except ValueError:
        raise AssertionError("rt-load printed no totals (exit %d): %r %s"
                             % (p.returncode, out[:300],
                                err.decode(errors="replace")))
    if p.returncode != 0:
        raise AssertionError("rt-load exited %d: %s %s" % (
            p.returncode, json.dumps(doc), err.decode(errors="replace")))
    return doc


def ingest(st):
    i = st["ingest"]
    out = {"accepted": i["accepted"], "client_drops": i["client_drops"],
           "foreign_uid": i["foreign_uid"],
           "requests": st["requests"]["total"]}
    for r in REASONS:
        out[r] = i["rejected"][r]
    return out


def delta(a, b):
    return {k: b[k] - a[k] for k in a}


def wait_drained(d, before, expect, timeout=15):
    """Poll the status until the counters reach expect (a delta over
    before), then a little longer to catch any excess.  Returns the final
    delta."""
    deadline = time.monotonic() + timeout
    while True:
        got = delta(before, ingest(d.status()))
        if all(got[k] >= v for k, v in expect.items()):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    return delta(before, ingest(d.status()))


def phase(d, name, loads, seconds, problems):
    """Run the rt-load processes of `loads` ([(kind, procs)]) together and
    check the daemon's counters against their totals.  Returns figures."""
    before = ingest(d.status())
    sampler = RssSampler(d.proc.pid)
    sampler.start()
    t0 = time.monotonic()
    procs = [(kind, start_load(d.ingest_path, kind, n, seconds))
             for kind, n in loads]
    res = {}
    try:
        for kind, p in procs:
            res[kind] = finish_load(p, seconds)
    finally:
        for _, p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    elapsed = time.monotonic() - t0
    valid = res.get("valid", {"sent": 0, "failed": 0, "attempts": 0})
    expect = {"accepted": valid["sent"], "client_drops": valid["failed"],
              "requests": valid["sent"], "foreign_uid": 0}
    for r in REASONS:
        expect[r] = sum(res[k]["sent_by_reason"][r] for k in res
                        if k != "valid")
    got = wait_drained(d, before, expect)
    peak = sampler.stop()
    if not d.running():
        problems.append("%s: ratetapd died (exit %s)" % (
            name, d.proc.returncode))
        return None
    for k, v in expect.items():
        if got[k] != v:
            problems.append("%s: daemon %s %+d, senders say %d" % (
                name, k, got[k], v))
    lost = valid["attempts"] - got["accepted"] - got["client_drops"]
    bad_sent = sum(expect[r] for r in REASONS)
    bad_counted = sum(got[r] for r in REASONS)
    return {"phase": name, "seconds": elapsed,
            "valid_attempts": valid["attempts"],
            "accepted": got["accepted"], "client_drops": got["client_drops"],
            "lost": lost, "held_per_s": got["accepted"] / elapsed,
            "bad_sent": bad_sent, "bad_rejected": bad_counted,
            "bad_per_s": bad_counted / elapsed, "rss_peak_kib": peak,
            "senders": res}


def run(procs=16, seconds=2, keep_log=False):
    """The whole load run.  Returns (figures dict, list of problems)."""
    if not os.access(RT_LOAD, os.X_OK):
        raise AssertionError("%s is not built (make test-progs)" % RT_LOAD)
    problems = []
    figures = {"procs": procs, "seconds": seconds, "phases": []}
    with Daemon(poll_interval=None, env=daemon_env()) as d:
        # warm up: tables and buffers allocated before the baseline
        warm = finish_load(start_load(d.ingest_path, "valid", 1, 1), 1)
        wait_drained(d, ingest(d.status()), {})
        figures["warmup_sent"] = warm["sent"]
        base = vm_rss_kib(d.proc.pid)
        figures["rss_before_kib"] = base
        for name, loads in (("valid", [("valid", procs)]),
                            ("flood", [("valid", procs),
                                       ("garbage", procs),
                                       ("oversize", procs)])):
            f = phase(d, name, loads, seconds, problems)
            if f is None:
                break
            figures["phases"].append(f)
        if d.running():
            st = d.status()
            figures["models"] = len(st["models"])
            figures["processes"] = len(st["processes"])
            for k in ("models", "processes"):
                if figures[k] > TABLE_MAX:
                    problems.append("%d %s in the status: more than the "
                                    "table limit %d" % (figures[k], k,
                                                        TABLE_MAX))
            after = vm_rss_kib(d.proc.pid)
            figures["rss_after_kib"] = after
            peak = max([after] + [p["rss_peak_kib"] or 0
                                  for p in figures["phases"]])
            figures["rss_peak_kib"] = peak
            if peak - base > MEMORY_BOUND_KIB:
                problems.append("VmRSS grew from %d KiB to %d KiB (bound "
                                "+%d KiB)" % (base, peak, MEMORY_BOUND_KIB))
            rc = d.stop(signal.SIGTERM, timeout=20)
            if rc != 0:
                problems.append("ratetapd exited %d on SIGTERM" % rc)
        log = d.log()
        figures["log_bytes"] = len(log.encode())
        if figures["log_bytes"] > LOG_BOUND:
            problems.append("daemon log is %d bytes after the floods "
                            "(bound %d)" % (figures["log_bytes"], LOG_BOUND))
        if problems and keep_log:
            figures["log_tail"] = log[-3000:]
    return figures, problems


def report(figures, problems, out=sys.stdout):
    w = out.write
    w("load: %d sender processes per kind, %d s per phase\n" % (
        figures["procs"], figures["seconds"]))
    for p in figures["phases"]:
        w("  %-5s valid: %d sent attempts = %d accepted + %d reported "
          "drops, lost %d; held %.0f events/s\n" % (
              p["phase"], p["valid_attempts"], p["accepted"],
              p["client_drops"], p["lost"], p["held_per_s"]))
        if p["bad_sent"]:
            by = {}
            for k in ("garbage", "oversize"):
                s = p["senders"].get(k)
                if s:
                    by[k] = {r: v for r, v in s["sent_by_reason"].items()
                             if v}
            w("        invalid: %d delivered, %d rejected by reason "
              "(%.0f/s): %s\n" % (p["bad_sent"], p["bad_rejected"],
                                  p["bad_per_s"], json.dumps(by)))
    if "rss_after_kib" in figures:
        w("  VmRSS: %d KiB before, %d KiB peak, %d KiB after (bound +%d "
          "KiB)\n" % (figures["rss_before_kib"], figures["rss_peak_kib"],
                      figures["rss_after_kib"], MEMORY_BOUND_KIB))
        w("  tables: %d models, %d programs; daemon log %d bytes\n" % (
            figures["models"], figures["processes"], figures["log_bytes"]))
    lost = sum(p["lost"] for p in figures["phases"])
    w("  events lost without a trace: %d\n" % lost)
    for p in problems:
        w("  FAILED: %s\n" % p)
    if "log_tail" in figures:
        w("  daemon log (tail):\n%s\n" % figures["log_tail"])
    w("load: %s\n" % ("FAILED" if problems else "ok"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--procs", type=int, default=16)
    ap.add_argument("--seconds", type=int, default=60)
    a = ap.parse_args()
    if not 1 <= a.procs <= 256 or not 1 <= a.seconds <= 86400:
        ap.error("--procs 1-256, --seconds 1-86400")
    try:
        figures, problems = run(a.procs, a.seconds, keep_log=True)
    except AssertionError as e:
        sys.stdout.write("load: FAILED: %s\n" % e)
        return 1
    report(figures, problems)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
