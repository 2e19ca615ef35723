#!/usr/bin/python3
"""A local OTLP/HTTP JSON metrics receiver for ratetap's tests.

    python3 tests/otlp_receiver.py [--status N]

listens on 127.0.0.1 and a free port, prints the port on its first stdout
line, then one JSON line per request received: {"path", "headers",
"problems", "body"} ("body" is the parsed payload, or null; header values
other than Content-Type and the like print as "(set)").

As a module (what the integration tests use):

    from otlp_receiver import Receiver
    with Receiver() as rx:               # serves from a thread
        ... rx.base ("http://127.0.0.1:PORT"), rx.url(path)
        reqs = rx.wait(lambda reqs: len(reqs) >= 2, timeout=10)
        rx.fail_next(2, status=503)     # answer the next 2 with 503
        rx.answer_next(2, {"partialSuccess": {...}})  # 200, this body

Every POST is recorded (path, headers with lower-case names, the body
parsed as JSON) with the list of ways its payload breaks the OTLP/HTTP
JSON encoding of an ExportMetricsServiceRequest (see check_payload()).  A
valid payload is answered 200 with {} as a collector does; an invalid one
400 with the problems, unless a failure was asked for.

An application/x-protobuf body (OTLP/HTTP protobuf) is decoded with
Python's protobuf against daemon/otlp_metrics.proto, the definitions
ratetapd is built from (compiled with protoc when the receiver starts), and
turned into the JSON encoding's shape (google.protobuf.json_format) before
the same checks; its record has "encoding": "protobuf".  JSON bodies need
the standard library only.
"""

import argparse
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_UINT = re.compile(r"^[0-9]+$")
_INT = re.compile(r"^-?[0-9]+$")
MAX_BODY = 16 * 1024 * 1024
_SHOWN = ("content-type", "content-length", "user-agent", "host", "accept")


def _check_attrs(attrs, where, problems):
    if not isinstance(attrs, list):
        problems.append("%s: attributes is not a list" % where)
        return
    seen = set()
    for a in attrs:
        if not isinstance(a, dict) or not isinstance(a.get("key"), str) \
                or not a["key"]:
            problems.append("%s: attribute without a key: %r" % (where, a))
            continue
        if a["key"] in seen:
            problems.append("%s: attribute %s twice" % (where, a["key"]))
        seen.add(a["key"])
        v = a.get("value")
        if not isinstance(v, dict) or len(v) != 1:
            problems.append("%s: attribute %s: value is not an AnyValue"
                            % (where, a["key"]))
            continue
        kind, val = next(iter(v.items()))
        ok = {"stringValue": lambda x: isinstance(x, str),
              "boolValue": lambda x: isinstance(x, bool),
              "intValue": lambda x: isinstance(x, str) and _INT.match(x),
              "doubleValue": lambda x: isinstance(x, (int, float)) and
              not isinstance(x, bool)}.get(kind)
        if ok is None or not ok(val):
            problems.append("%s: attribute %s: bad %s %r"
                            % (where, a["key"], kind, val))


def _check_point(dp, where, is_sum, problems):
    if not isinstance(dp, dict):
        problems.append("%s: data point is not an object" % where)
        return
    _check_attrs(dp.get("attributes", []), where, problems)
    t = dp.get("timeUnixNano")
    if not isinstance(t, str) or not _UINT.match(t):
        problems.append("%s: timeUnixNano %r is not a string of digits"
                        % (where, t))
    s = dp.get("startTimeUnixNano")
    if is_sum:
        if not isinstance(s, str) or not _UINT.match(s):
            problems.append("%s: startTimeUnixNano %r is not a string of "
                            "digits" % (where, s))
        elif isinstance(t, str) and _UINT.match(t) and int(s) > int(t):
            problems.append("%s: starts after its time" % where)
    elif s is not None and (not isinstance(s, str) or not _UINT.match(s)):
        problems.append("%s: bad startTimeUnixNano %r" % (where, s))
    has_int, has_dbl = "asInt" in dp, "asDouble" in dp
    if has_int == has_dbl:
        problems.append("%s: needs exactly one of asInt / asDouble" % where)
    elif has_int and (not isinstance(dp["asInt"], str) or
                      not _INT.match(dp["asInt"])):
        problems.append("%s: asInt %r is not an int64 string"
                        % (where, dp["asInt"]))
    elif has_dbl and (not isinstance(dp["asDouble"], (int, float)) or
                      isinstance(dp["asDouble"], bool)):
        problems.append("%s: asDouble %r is not a number"
                        % (where, dp["asDouble"]))


def check_payload(doc):
    """The ways doc breaks the OTLP/HTTP JSON ExportMetricsServiceRequest
    as ratetap emits it (gauges and sums only); [] when it is well-formed."""
    problems = []
    if not isinstance(doc, dict):
        return ["payload is not a JSON object"]
    rms = doc.get("resourceMetrics")
    if not isinstance(rms, list) or not rms:
        return ["resourceMetrics is missing or empty"]
    for i, rm in enumerate(rms):
        w = "resourceMetrics[%d]" % i
        if not isinstance(rm, dict):
            problems.append("%s is not an object" % w)
            continue
        res = rm.get("resource")
        if not isinstance(res, dict):
            problems.append("%s.resource is missing" % w)
        else:
            _check_attrs(res.get("attributes", []), w + ".resource",
                         problems)
        sms = rm.get("scopeMetrics")
        if not isinstance(sms, list) or not sms:
            problems.append("%s.scopeMetrics is missing or empty" % w)
            continue
        for j, sm in enumerate(sms):
            ws = "%s.scopeMetrics[%d]" % (w, j)
            scope = sm.get("scope") if isinstance(sm, dict) else None
            if not isinstance(scope, dict) or \
                    not isinstance(scope.get("name"), str):
                problems.append("%s.scope.name is missing" % ws)
            names = set()
            for m in (sm.get("metrics") or []) if isinstance(sm, dict) \
                    else []:
                name = m.get("name") if isinstance(m, dict) else None
                if not isinstance(name, str) or not name:
                    problems.append("%s: metric without a name" % ws)
                    continue
                wm = "%s: %s" % (ws, name)
                if name in names:
                    problems.append("%s: twice" % wm)
                names.add(name)
                for k in ("unit", "description"):
                    if k in m and not isinstance(m[k], str):
                        problems.append("%s: %s is not a string" % (wm, k))
                kinds = [k for k in ("gauge", "sum", "histogram",
                                     "exponentialHistogram", "summary")
                         if k in m]
                if kinds not in (["gauge"], ["sum"]):
                    problems.append("%s: data kinds %r (want one gauge or "
                                    "sum)" % (wm, kinds))
                    continue
                data = m[kinds[0]]
                is_sum = kinds[0] == "sum"
                if is_sum:
                    if data.get("aggregationTemporality") not in (1, 2):
                        problems.append("%s: aggregationTemporality %r"
                                        % (wm, data.get(
                                            "aggregationTemporality")))
                    if not isinstance(data.get("isMonotonic", False), bool):
                        problems.append("%s: isMonotonic is not a bool"
                                        % wm)
                pts = data.get("dataPoints")
                if not isinstance(pts, list) or not pts:
                    problems.append("%s: no dataPoints" % wm)
                    continue
                for dp in pts:
                    _check_point(dp, wm, is_sum, problems)
    return problems


_PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                      "daemon", "otlp_metrics.proto")
_pb = None


def _pb_module():
    """The Python classes of daemon/otlp_metrics.proto, made by protoc in a
    temporary directory on first use."""
    global _pb
    if _pb is None:
        out = tempfile.mkdtemp(prefix="rt-pb-")
        subprocess.run(["protoc", "--proto_path=" + os.path.dirname(_PROTO),
                        "--python_out=" + out, os.path.basename(_PROTO)],
                       check=True, capture_output=True)
        sys.path.insert(0, out)
        try:
            _pb = importlib.import_module("otlp_metrics_pb2")
        finally:
            sys.path.remove(out)
        shutil.rmtree(out, ignore_errors=True)
    return _pb


def decode_protobuf(raw):
    """An ExportMetricsServiceRequest in protobuf as its JSON encoding's
    dict (int64 and fixed64 as strings, enums as numbers)."""
    from google.protobuf import json_format
    pb = _pb_module()
    msg = pb.ExportMetricsServiceRequest()
    msg.ParseFromString(raw)
    return json_format.MessageToDict(msg, use_integers_for_enums=True,
                                     including_default_value_fields=True)


def encode_partial(body):
    """A JSON ExportMetricsServiceResponse dict as protobuf bytes."""
    from google.protobuf import json_format
    pb = _pb_module()
    return json_format.ParseDict(body, pb.ExportMetricsServiceResponse())\
        .SerializeToString()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _answer(self, status, body, protobuf=False):
        ctype = "application/json"
        if protobuf and status == 200:
            data = encode_partial(body)
            ctype = "application/x-protobuf"
        else:
            data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        rx = self.server.receiver
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            return self._answer(413, {"error": "bad Content-Length"})
        raw = self.rfile.read(n)
        ctype = self.headers.get("Content-Type", "")
        ctype = ctype.split(";")[0].strip().lower()
        pbuf = ctype == "application/x-protobuf"
        try:
            if pbuf:
                doc = decode_protobuf(raw)
            else:
                doc = json.loads(raw)
            problems = check_payload(doc)
        except Exception as e:
            doc = None
            problems = ["body is not %s: %s" % (
                "protobuf" if pbuf else "JSON", e)]
        if ctype not in ("application/json", "application/x-protobuf"):
            problems.append("Content-Type is %r" % ctype)
        rec = {"path": self.path,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "problems": problems, "body": doc, "time": time.time(),
               "encoding": "protobuf" if pbuf else "json"}
        status = rx._record(rec)
        if status is not None:
            return self._answer(status, {"error": "asked to fail"})
        if problems:
            return self._answer(400, {"error": "; ".join(problems)})
        self._answer(200, rx._next_body(), protobuf=pbuf)

    def do_GET(self):
        self._answer(405, {"error": "POST only"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client closing its kept-alive connection is not an error
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Receiver:
    """The receiver on 127.0.0.1 and a free port, served from a thread."""

    def __init__(self):
        self._cond = threading.Condition()
        self._reqs = []
        self._fail = []		# statuses for the next requests
        self._bodies = []	# bodies of the next 200 answers
        self._srv = _Server(("127.0.0.1", 0), _Handler)
        self._srv.receiver = self
        self.port = self._srv.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self._thread = threading.Thread(target=self._srv.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def url(self, path="/v1/metrics"):
        return self.base + path

    def _record(self, rec):
        with self._cond:
            status = self._fail.pop(0) if self._fail else None
            rec["answered"] = status if status is not None else (
                400 if rec["problems"] else 200)
            self._reqs.append(rec)
            self._cond.notify_all()
            return status

    def fail_next(self, n, status=503):
        """Answer the next n requests with status."""
        with self._cond:
            self._fail.extend([status] * n)

    def answer_next(self, n, body):
        """Answer the next n valid requests 200 with body (a JSON value),
        e.g. a partialSuccess."""
        with self._cond:
            self._bodies.extend([body] * n)

    def _next_body(self):
        with self._cond:
            return self._bodies.pop(0) if self._bodies else {}

    def requests(self):
        with self._cond:
            return list(self._reqs)

    def wait(self, predicate, timeout=10):
        """Wait until predicate(list of requests so far) is true; return
        the list.  Fails (AssertionError) on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                reqs = list(self._reqs)
                if predicate(reqs):
                    return reqs
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "OTLP receiver: condition not met within %g s; "
                        "%d requests: %s" % (timeout, len(reqs), [
                            (r["path"], r["answered"], r["problems"][:3])
                            for r in reqs[-5:]]))
                self._cond.wait(min(left, 0.2))

    def close(self):
        if self._srv is not None:
            self._srv.shutdown()
            self._srv.server_close()
            self._thread.join(5)
            self._srv = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--status", type=int, default=None,
                    help="answer every request with this status")
    args = ap.parse_args()
    rx = Receiver()
    print(rx.port, flush=True)
    if args.status is not None:
        rx.fail_next(1 << 30, args.status)
    seen = 0
    try:
        while True:
            reqs = rx.wait(lambda r: len(r) > seen, timeout=1 << 30)
            for r in reqs[seen:]:
                # header values may be credentials: show only harmless ones
                hdrs = {k: (v if k in _SHOWN else "(set)")
                        for k, v in r["headers"].items()}
                print(json.dumps({"path": r["path"], "headers": hdrs,
                                  "problems": r["problems"],
                                  "body": r["body"]}), flush=True)
            seen = len(reqs)
    except KeyboardInterrupt:
        pass
    finally:
        rx.close()


if __name__ == "__main__":
    sys.exit(main())
