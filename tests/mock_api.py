#!/usr/bin/python3
"""The mock Anthropic API used by ratetap's integration tests and demo.

    python3 tests/mock_api.py [--tls CERT KEY] [--port N] [--verbose]

Listens on 127.0.0.1 (a free port unless --port is given), prints the port on
its first stdout line and nothing else on stdout afterwards.  Diagnostics go
to stderr, and only with --verbose.  SIGTERM and SIGINT stop it.

Endpoints and per-request controls are described in docs/hacking.md
("The mock Anthropic API").  In short:

  POST /v1/messages               JSON, or SSE when the body has "stream": true
  POST /v1/messages/count_tokens  {"input_tokens": N}
  GET  /api/oauth/usage           the usage endpoint (mode set by config)
  POST /_mock/config              change behaviour (JSON, validated)
  GET  /_mock/config              current behaviour (the token is never shown)
  GET  /_mock/stats               counters
  POST /_mock/reset               defaults back, counters zeroed

Bodies are deterministic for a given request: the message id is derived from
a hash of the request body and nothing in a body depends on the time (the
default reset times are computed once, at start).

Only the Python standard library is used.
"""

import argparse
import copy
import datetime
import hashlib
import http.server
import json
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import zlib

DEFAULT_MODEL = "claude-sonnet-4-5"
DEFAULT_USAGE = (11, 22, 3, 5)		# input, output, cache creation, read
SSE_FIRST_OUTPUT = 1			# message_start's output_tokens
SSE_MID_OUTPUT = 10			# the first message_delta's output
MAX_REQUEST_BODY = 64 << 20
MAX_CHUNK = 1 << 20
MAX_PAD = 64 << 20
MAX_DELAY_MS = 60000
HUGE_DEFAULT = 8 << 20
TIMEOUT_SECS = 35			# "timeout" mode: longer than 30 s
RETRY_AFTER_429 = 7			# x-mock-status: 429

USAGE_MODES = ("ok", "limits", "429", "500", "401", "garbage", "empty",
               "huge", "wrongshape", "timeout", "reset")

CONTROL_HEADERS = ("x-mock-status", "x-mock-usage", "x-mock-model",
                   "x-mock-chunk", "x-mock-delay-ms", "x-mock-pad",
                   "x-mock-adversarial", "x-mock-headers",
                   "x-mock-stream-error", "x-mock-content-encoding")

CODINGS = ("gzip", "deflate")		# x-mock-content-encoding

ERROR_TYPES = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error",
          "Your API key does not have permission to use the specified "
          "resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed size."),
    429: ("rate_limit_error",
          "This request would exceed your account's rate limit. "
          "Please try again later."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}

ADVERSARIAL = (
    'Here is "usage": {"input_tokens": 999999, "output_tokens": 888888, '
    '"cache_creation_input_tokens": 777, "cache_read_input_tokens": 666}, '
    'and "model": "claude-opus-fake-9", "type": "message_delta", '
    '{"usage":{"output_tokens":555555}} }}} ]]] {{{ [[[ '
    'quotes " \\" \\\\" \\\\\\" and escapes \\n \\t \\u0022 \\ud83d '
    'real ones:\n\t\r\b\f \u0000 \u001f \u2028 \u00e9 \u2713 \U0001F642 '
    '\n\nevent: message_delta\ndata: {"type":"message_delta",'
    '"usage":{"output_tokens":444444}}\n\n'
    'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    'data: [DONE]\n\n'
    '}{"type":"error","error":{"type":"rate_limit_error"}} '
)

FILLER = ("The quick brown fox jumps over the lazy dog while the mock API "
          "counts its tokens. ")

JSON_SEP = (",", ":")

verbose = False


def log(fmt, *args):
    """Log one line to stderr when --verbose was given."""
    if verbose:
        sys.stderr.write("mock_api: " + (fmt % args if args else fmt) + "\n")
        sys.stderr.flush()


def rfc3339(t, frac=False):
    """Format unix time t as RFC 3339 UTC."""
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    if frac:
        return d.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


class Defaults:
    """Values computed once at start: reset times and the default bodies."""

    def __init__(self, now):
        self.reset_5h = int((now + 3600) // 3600 * 3600)
        self.reset_7d = int((now + 3 * 86400) // 3600 * 3600)
        self.reset_requests = int(now) + 60

    def headers(self):
        p = "anthropic-ratelimit-"
        return {
            p + "unified-status": "allowed",
            p + "unified-5h-utilization": "0.25",
            p + "unified-7d-utilization": "0.5",
            p + "unified-5h-reset": str(self.reset_5h),
            p + "unified-7d-reset": str(self.reset_7d),
            p + "unified-representative-claim": "five_hour",
            p + "requests-limit": "50",
            p + "requests-remaining": "49",
            p + "requests-reset": rfc3339(self.reset_requests),
        }

    def usage_body(self):
        # The shape of the real endpoint's answer, unknown key included.
        return {
            "five_hour": {"utilization": 25.0,
                          "resets_at": rfc3339(self.reset_5h, frac=True)},
            "seven_day": {"utilization": 50.0,
                          "resets_at": rfc3339(self.reset_7d, frac=True)},
            "seven_day_oauth_apps": None,
            "seven_day_opus": None,
            "seven_day_sonnet": {"utilization": 10.0,
                                 "resets_at": rfc3339(self.reset_7d,
                                                      frac=True)},
            "iguana_necktie": None,
            "extra_usage": {"is_enabled": False, "monthly_limit": None,
                            "used_credits": None, "utilization": None},
        }


    def limits_body(self):
        # The newer accounts' shape: flat windows null, a limits array
        # (scoped by model or by surface, and a kind nobody knows yet) and
        # a spend object with money in minor units.
        def lim(kind, pct, reset, scope=None):
            return {"kind": kind, "group": "default", "percent": pct,
                    "severity": "normal",
                    "resets_at": rfc3339(reset, frac=True) if reset
                    else None, "scope": scope, "is_active": True}
        return {
            "five_hour": None, "seven_day": None, "seven_day_sonnet": None,
            "seven_day_opus": None, "seven_day_oauth_apps": None,
            "seven_day_cowork": None, "seven_day_omelette": None,
            "limits": [
                lim("session", 25.0, self.reset_5h),
                lim("weekly_all", 50.0, self.reset_7d),
                lim("weekly_scoped", 12.5, None, {"model": {
                    "id": "claude-fable-5", "display_name": "Fable"}}),
                lim("weekly_scoped", 10.0, None, {"model": {
                    "id": "claude-sonnet-4-5", "display_name": "Sonnet"}}),
                lim("weekly_scoped", 3.0, None, {"surface": {
                    "display_name": "Claude Code"}}),
                lim("monthly_wombat", 1.0, None),
            ],
            "spend": {"used": {"amount_minor": 1234, "currency": "USD",
                               "exponent": 2},
                      "limit": {"amount_minor": 5000, "currency": "USD",
                                "exponent": 2},
                      "percent": 24.68, "enabled": True,
                      "disabled_reason": None},
            "extra_usage": {"is_enabled": True, "monthly_limit": 5000,
                            "used_credits": 1234, "utilization": 24.68},
        }


class ConfigError(Exception):
    pass


class State:
    """Configuration and counters, shared by every handler thread."""

    def __init__(self, defaults):
        self.lock = threading.Lock()
        self.defaults = defaults
        self.stopping = threading.Event()
        self.reset()

    def reset(self):
        with self.lock:
            self.headers = self.defaults.headers()
            self.usage = {"mode": "ok", "body": None, "retry_after": 1,
                          "token": None, "huge_bytes": HUGE_DEFAULT}
            self.request_defaults = {}
            self.zero_stats()

    def zero_stats(self):
        self.requests = {}
        self.total = 0
        self.connections = 0
        self.polls = 0
        self.polls_token_ok = 0
        self.polls_beta_ok = 0
        self.request_seq = 0

    # -- configuration ------------------------------------------------------

    @staticmethod
    def _check_headers(h, what):
        if not isinstance(h, dict):
            raise ConfigError("%s must be an object or null" % what)
        for k, v in h.items():
            if not k or any(c in k for c in " :\r\n\t") or not k.isascii():
                raise ConfigError("%s: bad header name %r" % (what, k))
            if v is not None and not isinstance(v, (str, int, float)):
                raise ConfigError("%s: value of %s must be a string, a "
                                  "number or null" % (what, k))
            if isinstance(v, str) and ("\r" in v or "\n" in v):
                raise ConfigError("%s: value of %s has a line break" %
                                  (what, k))

    def configure(self, cfg):
        """Validate cfg completely, then apply it; a bad cfg changes
        nothing."""
        if not isinstance(cfg, dict):
            raise ConfigError("config must be a JSON object")
        known = {"headers", "headers_update", "usage", "request_defaults",
                 "reset", "reset_stats"}
        unknown = set(cfg) - known
        if unknown:
            raise ConfigError("unknown config keys: %s" %
                              ", ".join(sorted(unknown)))
        if "headers" in cfg and cfg["headers"] is not None:
            self._check_headers(cfg["headers"], "headers")
        if "headers_update" in cfg:
            self._check_headers(cfg["headers_update"], "headers_update")
        usage = cfg.get("usage")
        if usage is not None:
            if not isinstance(usage, dict):
                raise ConfigError("usage must be an object")
            bad = set(usage) - {"mode", "body", "retry_after", "token",
                                "huge_bytes"}
            if bad:
                raise ConfigError("unknown usage keys: %s" %
                                  ", ".join(sorted(bad)))
            if "mode" in usage and usage["mode"] not in USAGE_MODES:
                raise ConfigError("usage.mode must be one of %s" %
                                  ", ".join(USAGE_MODES))
            if "token" in usage and usage["token"] is not None and \
                    not isinstance(usage["token"], str):
                raise ConfigError("usage.token must be a string or null")
            ra = usage.get("retry_after")
            if "retry_after" in usage and ra is not None and \
                    (isinstance(ra, bool) or not isinstance(ra, int) or
                     ra < 0):
                raise ConfigError("usage.retry_after must be an integer "
                                  ">= 0 or null")
            hb = usage.get("huge_bytes", HUGE_DEFAULT)
            if isinstance(hb, bool) or not isinstance(hb, int) or \
                    not 0 < hb <= 1 << 30:
                raise ConfigError("usage.huge_bytes must be 1..2^30")
        rd = cfg.get("request_defaults")
        if rd is not None:
            if not isinstance(rd, dict):
                raise ConfigError("request_defaults must be an object")
            for k, v in rd.items():
                if k.lower() not in CONTROL_HEADERS:
                    raise ConfigError("request_defaults: unknown control %r"
                                      % k)
                if not isinstance(v, (str, int)) or isinstance(v, bool):
                    raise ConfigError("request_defaults: value of %s must be"
                                      " a string or an integer" % k)
                # Parse it now so that a bad default fails here.
                try:
                    Controls({k.lower(): str(v)})
                except BadControl as e:
                    raise ConfigError("request_defaults: %s" % e)

        if cfg.get("reset"):
            self.reset()
        with self.lock:
            if cfg.get("reset_stats"):
                self.zero_stats()
            if "headers" in cfg:
                if cfg["headers"] is None:
                    self.headers = self.defaults.headers()
                else:
                    self.headers = {k.lower(): str(v) for k, v in
                                    cfg["headers"].items() if v is not None}
            for k, v in cfg.get("headers_update", {}).items():
                if v is None:
                    self.headers.pop(k.lower(), None)
                else:
                    self.headers[k.lower()] = str(v)
            if usage is not None:
                for k, v in usage.items():
                    self.usage[k] = copy.deepcopy(v)
            if rd is not None:
                self.request_defaults = {k.lower(): str(v)
                                         for k, v in rd.items()}

    def public_config(self):
        with self.lock:
            u = dict(self.usage)
            u["token"] = None if u["token"] is None else "(set)"
            return {"headers": dict(self.headers), "usage": u,
                    "request_defaults": dict(self.request_defaults)}

    def stats(self):
        with self.lock:
            return {"requests": dict(self.requests), "total": self.total,
                    "connections": self.connections, "polls": self.polls,
                    "polls_token_ok": self.polls_token_ok,
                    "polls_beta_ok": self.polls_beta_ok}

    def count(self, path):
        with self.lock:
            self.requests[path] = self.requests.get(path, 0) + 1
            self.total += 1
            self.request_seq += 1
            return self.request_seq


class BadControl(Exception):
    pass


class Controls:
    """The x-mock-* request headers, parsed and checked."""

    def __init__(self, h):
        def num(name, lo, hi, default):
            v = h.get(name)
            if v is None:
                return default
            try:
                n = int(v.strip())
            except ValueError:
                raise BadControl("%s: not an integer" % name)
            if not lo <= n <= hi:
                raise BadControl("%s: out of range %d..%d" % (name, lo, hi))
            return n

        self.status = num("x-mock-status", 200, 999, 0)
        if self.status in (204, 304):
            raise BadControl("x-mock-status: %d cannot carry a body" %
                             self.status)
        self.chunk = num("x-mock-chunk", 1, MAX_CHUNK, 0)
        self.delay = num("x-mock-delay-ms", 0, MAX_DELAY_MS, 0) / 1000.0
        self.pad = num("x-mock-pad", 0, MAX_PAD, 0)
        self.adversarial = h.get("x-mock-adversarial", "0").strip() == "1"
        self.no_headers = h.get("x-mock-headers", "").strip() == "none"
        self.model = h.get("x-mock-model")
        if self.model is not None:
            self.model = self.model.strip()
            if not self.model:
                raise BadControl("x-mock-model: empty")
        self.stream_error = h.get("x-mock-stream-error")
        if self.stream_error is not None:
            self.stream_error = self.stream_error.strip()
            if not self.stream_error.replace("_", "").isalnum():
                raise BadControl("x-mock-stream-error: bad error type")
        self.coding = h.get("x-mock-content-encoding")
        if self.coding is not None:
            self.coding = self.coding.strip().lower()
            if self.coding not in CODINGS:
                raise BadControl("x-mock-content-encoding: one of %s" %
                                 ", ".join(CODINGS))
        self.usage = DEFAULT_USAGE
        if "x-mock-usage" in h:
            parts = h["x-mock-usage"].split(",")
            try:
                vals = tuple(int(p.strip()) for p in parts)
            except ValueError:
                raise BadControl("x-mock-usage: IN,OUT,CC,CR integers")
            if len(vals) != 4 or min(vals) < 0:
                raise BadControl("x-mock-usage: IN,OUT,CC,CR integers >= 0")
            self.usage = vals


def error_body(status, etype=None, message=None):
    t, m = ERROR_TYPES.get(status, ("api_error", "Internal server error"))
    return {"type": "error",
            "error": {"type": etype or t, "message": message or m}}


def jdump(obj):
    return json.dumps(obj, separators=JSON_SEP,
                      ensure_ascii=False).encode("utf-8")


def filler(n, pattern):
    if n <= 0:
        return ""
    return (pattern * (n // len(pattern) + 1))[:n]


def message_text(digest, ctl):
    text = ADVERSARIAL if ctl.adversarial else \
        "Hello from the mock API (%s). " % digest[:8]
    # The filler is ASCII: x-mock-pad: N adds exactly N bytes.
    return text + filler(ctl.pad, FILLER)


def split_text(text, parts):
    """Split text into about `parts` deltas of similar size."""
    if not text:
        return [""]
    size = max(1, -(-len(text) // parts))
    if len(text) > 4096:
        size = max(size, 4096)
    return [text[i:i + size] for i in range(0, len(text), size)]


def usage_obj(ctl, output, cumulative_input=True):
    inp, _out, cc, cr = ctl.usage
    u = {}
    if cumulative_input:
        u["input_tokens"] = inp
        u["cache_creation_input_tokens"] = cc
        u["cache_read_input_tokens"] = cr
        u["cache_creation"] = {"ephemeral_5m_input_tokens": cc,
                               "ephemeral_1h_input_tokens": 0}
    u["output_tokens"] = output
    if cumulative_input:
        u["service_tier"] = "standard"
    return u


def json_message(req, digest, ctl):
    model = ctl.model or req.get("model") or DEFAULT_MODEL
    return jdump({
        "id": "msg_mock_" + digest[:24],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": message_text(digest, ctl)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage_obj(ctl, ctl.usage[1]),
    })


def sse_event(name, obj):
    if name == "ping":
        data = json.dumps(obj, ensure_ascii=False)	# the real one has a space
    else:
        data = json.dumps(obj, separators=JSON_SEP, ensure_ascii=False)
    return ("event: %s\ndata: %s\n\n" % (name, data)).encode("utf-8")


def sse_message(req, digest, ctl):
    """The events of a streamed message, as a list of byte strings."""
    model = ctl.model or req.get("model") or DEFAULT_MODEL
    out = ctl.usage[1]
    start_usage = usage_obj(ctl, min(SSE_FIRST_OUTPUT, out))
    ev = [sse_event("message_start", {
        "type": "message_start",
        "message": {"id": "msg_mock_" + digest[:24], "type": "message",
                    "role": "assistant", "model": model, "content": [],
                    "stop_reason": None, "stop_sequence": None,
                    "usage": start_usage}})]
    ev.append(sse_event("content_block_start", {
        "type": "content_block_start", "index": 0,
        "content_block": {"type": "text", "text": ""}}))
    ev.append(sse_event("ping", {"type": "ping"}))
    pieces = split_text(message_text(digest, ctl), 4)
    half = len(pieces) // 2
    for n, piece in enumerate(pieces):
        ev.append(sse_event("content_block_delta", {
            "type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": piece}}))
        if n == half and ctl.stream_error:
            ev.append(sse_event("error", error_body(
                529 if ctl.stream_error == "overloaded_error" else 500,
                etype=ctl.stream_error)))
            return ev
    ev.append(sse_event("content_block_stop",
                        {"type": "content_block_stop", "index": 0}))
    ev.append(sse_event("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": None, "stop_sequence": None},
        "usage": {"output_tokens": min(SSE_MID_OUTPUT, out)}}))
    ev.append(sse_event("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": usage_obj(ctl, out)}))
    ev.append(sse_event("message_stop", {"type": "message_stop"}))
    return ev


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-anthropic/1"
    timeout = 120			# idle keep-alive connections

    # -- plumbing -----------------------------------------------------------

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        st = self.server.state
        with st.lock:
            st.connections += 1

    def log_message(self, fmt, *args):
        log("%s " + fmt, self.client_address[0], *args)

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ValueError("truncated chunked body")
                n = int(line.split(b";")[0].strip() or b"x", 16)
                if n == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    return bytes(data)
                if len(data) + n > MAX_REQUEST_BODY:
                    raise ValueError("request body too large")
                data += self.rfile.read(n)
                self.rfile.readline(8)
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_REQUEST_BODY:
            raise ValueError("request body too large")
        body = self.rfile.read(n) if n else b""
        if len(body) != n:
            raise ValueError("truncated body")
        return body

    def control_headers(self):
        h = dict(self.server.state.request_defaults)
        for k in CONTROL_HEADERS:
            v = self.headers.get(k)
            if v is not None:
                h[k] = v
        return h

    def begin(self, status, ctype, extra=(), length=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def write_chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def send_pieces(self, status, ctype, extra, pieces, chunk, delay,
                    chunked, coding=None):
        """Send the body made of pieces (byte strings).  Unchunked: one
        Content-Length body.  Chunked: one chunk per piece, or per `chunk`
        bytes when chunk > 0, each flushed, `delay` seconds between.
        coding ("gzip", "deflate"): the body is compressed, with a
        Content-Encoding header; chunked, each piece is compressed and
        flushed (Z_SYNC_FLUSH) on its own, so that a stream's events still
        arrive one by one."""
        if coding is not None:
            z = zlib.compressobj(6, zlib.DEFLATED,
                                 31 if coding == "gzip" else 15)
            extra = list(extra) + [("Content-Encoding", coding)]
            if chunked:
                pieces = [z.compress(p) + z.flush(zlib.Z_SYNC_FLUSH)
                          for p in pieces]
                pieces.append(z.flush())
            else:
                pieces = [z.compress(b"".join(pieces)) + z.flush()]
        if not chunked:
            body = b"".join(pieces)
            self.begin(status, ctype, extra, len(body))
            self.wfile.write(body)
            return
        self.begin(status, ctype, extra)
        if chunk > 0:
            body = b"".join(pieces)
            pieces = [body[i:i + chunk] for i in range(0, len(body), chunk)]
        for n, p in enumerate(pieces):
            if n and delay:
                if self.server.state.stopping.wait(delay):
                    self.close_connection = True
                    return
            self.write_chunk(p)
        self.end_chunks()

    def send_json(self, status, obj, extra=()):
        body = jdump(obj)
        self.begin(status, "application/json", extra, len(body))
        self.wfile.write(body)

    def ratelimit_headers(self, ctl, seq):
        h = [("request-id", "req_mock_%d" % seq)]
        if not ctl.no_headers:
            with self.server.state.lock:
                h.extend(self.server.state.headers.items())
        return h

    # -- dispatch -----------------------------------------------------------

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def dispatch(self):
        path = self.path.split("?", 1)[0]
        try:
            body = self.read_body()
        except ValueError as e:
            self.close_connection = True
            self.send_json(400, error_body(400, message=str(e)))
            return
        st = self.server.state
        if path.startswith("/_mock/"):
            return self.mock_admin(path, body)
        seq = st.count(path)
        try:
            if path == "/v1/messages" and self.command == "POST":
                return self.messages(body, seq)
            if path == "/v1/messages/count_tokens" and \
                    self.command == "POST":
                return self.count_tokens(body, seq)
            if path == "/api/oauth/usage" and self.command == "GET":
                return self.oauth_usage()
        except BadControl as e:
            return self.send_json(400, error_body(400, message=str(e)))
        self.send_json(404, error_body(404))

    def mock_admin(self, path, body):
        st = self.server.state
        if path == "/_mock/stats" and self.command == "GET":
            return self.send_json(200, st.stats())
        if path == "/_mock/config" and self.command == "GET":
            return self.send_json(200, st.public_config())
        if path == "/_mock/reset" and self.command == "POST":
            st.reset()
            return self.send_json(200, {"ok": True})
        if path == "/_mock/config" and self.command == "POST":
            try:
                cfg = json.loads(body.decode("utf-8"))
                st.configure(cfg)
            except (ValueError, UnicodeDecodeError) as e:
                return self.send_json(400, {"ok": False,
                                            "error": "bad JSON: %s" % e})
            except ConfigError as e:
                return self.send_json(400, {"ok": False, "error": str(e)})
            return self.send_json(200, {"ok": True})
        self.send_json(404, {"ok": False, "error": "no such mock endpoint"})

    @staticmethod
    def request_json(body):
        """The request JSON, or {} when it is not a JSON object (the mock is
        lenient: clients under test may send anything)."""
        try:
            req = json.loads(body.decode("utf-8")) if body else {}
        except (ValueError, UnicodeDecodeError):
            return {}
        if not isinstance(req, dict):
            return {}
        if not isinstance(req.get("model"), str) or not req["model"]:
            req.pop("model", None)
        return req

    def messages(self, body, seq):
        ctl = Controls(self.control_headers())
        req = self.request_json(body)
        stream = req.get("stream") is True
        digest = hashlib.sha256(body).hexdigest()
        extra = self.ratelimit_headers(ctl, seq)
        if ctl.status and ctl.status != 200:
            if ctl.status == 429:
                extra.append(("retry-after", str(RETRY_AFTER_429)))
            eb = error_body(ctl.status)
            if stream:
                pieces = [sse_event("error", eb)]
                return self.send_pieces(ctl.status, "text/event-stream",
                                        extra, pieces, ctl.chunk, ctl.delay,
                                        True)
            return self.send_pieces(ctl.status, "application/json", extra,
                                    [jdump(eb)], ctl.chunk, ctl.delay,
                                    ctl.chunk > 0)
        if stream:
            extra.append(("Cache-Control", "no-cache"))
            return self.send_pieces(200, "text/event-stream; charset=utf-8",
                                    extra, sse_message(req, digest, ctl),
                                    ctl.chunk, ctl.delay, True, ctl.coding)
        return self.send_pieces(200, "application/json", extra,
                                [json_message(req, digest, ctl)], ctl.chunk,
                                ctl.delay, ctl.chunk > 0, ctl.coding)

    def count_tokens(self, body, seq):
        ctl = Controls(self.control_headers())
        extra = self.ratelimit_headers(ctl, seq)
        if ctl.status and ctl.status != 200:
            if ctl.status == 429:
                extra.append(("retry-after", str(RETRY_AFTER_429)))
            return self.send_json(ctl.status, error_body(ctl.status), extra)
        self.send_json(200, {"input_tokens": ctl.usage[0]}, extra)

    def oauth_usage(self):
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        with st.lock:
            cfg = copy.deepcopy(st.usage)
            st.polls += 1
            expected = cfg["token"]
            token_ok = bool(bearer) and (expected is None or
                                         bearer == expected)
            if token_ok:
                st.polls_token_ok += 1
            if self.headers.get("anthropic-beta", "") == "oauth-2025-04-20":
                st.polls_beta_ok += 1
        mode = cfg["mode"]
        ra = cfg["retry_after"]
        log("usage poll: mode %s, token %s", mode,
            "ok" if token_ok else "wrong or missing")
        if mode in ("ok", "limits"):
            if expected is not None and not token_ok:
                return self.send_json(401, error_body(
                    401, message="OAuth token is invalid or expired"))
            body = cfg["body"]
            if body is None:
                body = st.defaults.usage_body() if mode == "ok" \
                    else st.defaults.limits_body()
            return self.send_json(200, body)
        if mode in ("429", "500", "401"):
            status = int(mode)
            extra = []
            if ra is not None and status in (429, 500):
                extra.append(("retry-after", str(ra)))
            msg = "OAuth token is invalid or expired" if status == 401 \
                else None
            return self.send_json(status, error_body(status, message=msg),
                                  extra)
        if mode == "garbage":
            body = b"<html>\x00\xff not json {{{ \"five_hour\": ]]"
            self.begin(200, "application/json", (), len(body))
            return self.wfile.write(body)
        if mode == "empty":
            return self.begin(200, "application/json", (), 0)
        if mode == "wrongshape":
            return self.send_json(200, {
                "five_hour": "high",
                "seven_day": [50, "2026-01-01T00:00:00Z"],
                "seven_day_sonnet": {"utilization": "10",
                                     "resets_at": 12345},
                "seven_day_opus": {"utilization": None,
                                   "resets_at": "yesterday"},
                "extra_usage": 7})
        if mode == "huge":
            return self.send_huge(cfg["huge_bytes"])
        if mode == "timeout":
            st.stopping.wait(TIMEOUT_SECS)
            self.close_connection = True
            return None
        if mode == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET,
                                           socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            except OSError:
                pass
            return None
        raise AssertionError(mode)

    def send_huge(self, size):
        """A syntactically valid JSON object of about `size` bytes, sent
        chunked: a client must cap what it reads."""
        head = b'{"five_hour":{"utilization":1.0,"resets_at":null},"pad":"'
        tail = b'"}'
        self.begin(200, "application/json")
        self.write_chunk(head)
        left = max(0, size - len(head) - len(tail))
        block = b"x" * 65536
        while left > 0:
            n = min(left, len(block))
            self.write_chunk(block[:n])
            left -= n
        self.write_chunk(tail)
        self.end_chunks()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, state, sslctx):
        self.state = state
        self.sslctx = sslctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the connection's own thread,
        # so that a client that never completes it cannot stall accept().
        if self.sslctx is None:
            return super().finish_request(request, client_address)
        request.settimeout(30)
        try:
            tls = self.sslctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log("TLS handshake failed: %s", e)
            return None
        try:
            tls.settimeout(Handler.timeout)
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass
        return None

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        if isinstance(e, (ConnectionError, socket.timeout, ssl.SSLError)):
            log("connection from %s: %s", client_address[0], e)
            return
        if verbose:
            super().handle_error(request, client_address)


def main():
    global verbose
    ap = argparse.ArgumentParser(description="Mock Anthropic API for tests")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                    help="serve HTTPS with this certificate and key (PEM)")
    ap.add_argument("--port", type=int, default=0,
                    help="port on 127.0.0.1 (default: a free one)")
    ap.add_argument("--verbose", "-v", action="store_true",
                    help="log requests to stderr")
    args = ap.parse_args()
    verbose = args.verbose

    sslctx = None
    if args.tls:
        sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            sslctx.load_cert_chain(args.tls[0], args.tls[1])
        except (OSError, ssl.SSLError) as e:
            sys.stderr.write("mock_api: cannot load %s / %s: %s\n" %
                             (args.tls[0], args.tls[1], e))
            return 2
        sslctx.set_alpn_protocols(["http/1.1"])

    state = State(Defaults(time.time()))
    try:
        server = Server(("127.0.0.1", args.port), state, sslctx)
    except OSError as e:
        sys.stderr.write("mock_api: cannot listen on 127.0.0.1:%d: %s\n" %
                         (args.port, e))
        return 2

    stop = threading.Event()

    def on_signal(_sig, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t = threading.Thread(target=server.serve_forever,
                         kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    log("listening on 127.0.0.1:%d%s", server.server_address[1],
        " (TLS)" if sslctx else "")
    while not stop.wait(1.0):
        pass
    state.stopping.set()
    server.shutdown()
    server.server_close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
