"""The TLS layer under real clients that do not use libcurl, over HTTPS.

Each client talks to the mock API (or to nghttpx in front of it for
HTTP/2) by the certificate's host name, localhost, so that it sends SNI,
with RATETAP_HOSTS=localhost:PORT.  Every client runs three times: without
the shim (the reference), under the shim with the test receiver (each
event: the tls and tls_tap flags, host, path, status, model, usage), and
under the shim against ratetapd (the exact counts `ratetap status --json`
shows: requests, tokens, unreadable, the program's own row).  Its output
must be byte-identical in all three.

Clients: Python urllib (also over an address, without SNI), requests (a
keep-alive session: JSON, gzip, chunked, and an SSE stream read 7 bytes at
a time), httpx over HTTP/1.1 and HTTP/2 (three streams at once), PHP's
stream wrapper (file_get_contents, fopen), Ruby's Net::HTTP, wget (GnuTLS),
and Node's https and fetch and the Anthropic TypeScript SDK where Node
links the system's libssl.  libcurl programs (curl, PHP curl, pycurl) stay
at one event per transfer without the tls_tap flag: one layer owns a
connection.  A TLS peer that RATETAP_HOSTS does not name gets no event.

A client that is not installed is a skip naming what is missing.
"""

import json
import os
import shutil
import subprocess
import unittest

from harness import (PYTHON, NGHTTPX, H2Front, MockAPI, Receiver, Daemon,
                     plain_env, run, shim_env)

PHP = shutil.which("php")
RUBY = shutil.which("ruby")
WGET = shutil.which("wget")
NODE = shutil.which("node")
CURL = shutil.which("curl")
# Where a test set-up may have put @anthropic-ai/sdk (never fetched here).
NODE_PATH = os.environ.get("RATETAP_TEST_NODE_PATH", "")


def body(model="claude-sonnet-4-5", stream=False, text="hi"):
    doc = {"model": model, "max_tokens": 64,
           "messages": [{"role": "user", "content": text}]}
    if stream:
        doc["stream"] = True
    return json.dumps(doc, separators=(",", ":"))


MSG = body()
STREAM = body("claude-opus-4-1", stream=True)
DEFAULT = (11, 22, 3, 5)		# the mock's usage
BIG = (100, 200, 30, 40)		# x-mock-usage: 100,200,30,40


def want(usage=DEFAULT, model="claude-sonnet-4-5", stream=False,
         path="/v1/messages", status=200):
    """The event one 200 /v1/messages answer must produce."""
    return {"path": path, "http_status": status, "model": model,
            "usage_state": "ok", "stream": stream, "usage": tuple(usage)}


def py_importable(*mods):
    return subprocess.run([PYTHON, "-c", "import " + ", ".join(mods)],
                          stdin=subprocess.DEVNULL,
                          capture_output=True).returncode == 0


def needed(path):
    """The DT_NEEDED names of the ELF file at path (readelf -d)."""
    p = subprocess.run(["readelf", "-d", path], stdin=subprocess.DEVNULL,
                       capture_output=True)
    out = []
    for line in p.stdout.decode(errors="replace").splitlines():
        if "(NEEDED)" in line and "[" in line:
            out.append(line.split("[", 1)[1].split("]", 1)[0])
    return out


def node_unseen():
    """None when the installed node links the system's libssl (so the TLS
    layer can see it), else why it cannot."""
    if NODE is None:
        return "node is not installed"
    real = os.path.realpath(NODE)
    libs = needed(real)
    if any(n.startswith("libssl.so") for n in libs):
        return None
    p = subprocess.run([NODE, "-p", "process.version + ' ' + "
                        "process.versions.openssl"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       env=plain_env())
    ver = p.stdout.decode(errors="replace").strip() or "unknown version"
    exports = subprocess.run(["nm", "-D", "--defined-only", real],
                             stdin=subprocess.DEVNULL, capture_output=True)
    names = set(l.split()[-1] for l in
                exports.stdout.decode(errors="replace").splitlines()
                if l.strip())
    how = "defines SSL_read/SSL_write in its own dynamic symbol table" \
        if {"SSL_read", "SSL_write"} <= names else \
        "carries its own TLS (no libssl in its DT_NEEDED)"
    return ("%s (node %s, OpenSSL %s) does not link the system's "
            "libssl.so.3: it %s, so its TLS calls bind inside the "
            "executable, where a preload cannot interpose them" % (
                real, ver.split(" ")[0],
                ver.split(" ")[1] if " " in ver else "unknown", how))


# -- the clients -------------------------------------------------------------

# python3 -c URLLIB BASE CAFILE MSG STREAM: a JSON answer, then a stream
# read 64 bytes at a time; each on its own connection (urllib closes).
URLLIB = r'''
import ssl, sys, urllib.request
base, ca, msg, stream = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
op = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                 urllib.request.HTTPSHandler(context=ctx))
out = sys.stdout.buffer
for data, extra in ((msg, {}), (stream, {"x-mock-usage": "100,200,30,40"})):
    h = {"content-type": "application/json"}
    h.update(extra)
    req = urllib.request.Request(base + "/v1/messages", data=data.encode(),
                                 headers=h)
    with op.open(req, timeout=30) as r:
        while True:
            b = r.read(64)
            if not b:
                break
            out.write(b)
'''

# python3 -c REQUESTS BASE CAFILE: one keep-alive Session, four requests:
# JSON; JSON sent gzip-compressed; JSON in 5-byte chunks; an SSE stream
# read with iter_content(chunk_size=7).
REQUESTS = r'''
import json, sys, requests
base, ca = sys.argv[1:3]
def body(model, stream=False):
    d = {"model": model, "max_tokens": 64,
         "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        d["stream"] = True
    return json.dumps(d, separators=(",", ":"))
s = requests.Session()
s.trust_env = False
s.verify = ca
out = sys.stdout.buffer
H = {"content-type": "application/json"}
r = s.post(base + "/v1/messages", data=body("claude-sonnet-4-5"), headers=H)
out.write(r.content)
r = s.post(base + "/v1/messages", data=body("claude-sonnet-4-5"),
           headers=dict(H, **{"x-mock-content-encoding": "gzip",
                              "x-mock-usage": "7,8,0,0"}))
assert r.headers["content-encoding"] == "gzip", r.headers
out.write(r.content)
r = s.post(base + "/v1/messages", data=body("claude-haiku-4-5"),
           headers=dict(H, **{"x-mock-chunk": "5"}))
out.write(r.content)
r = s.post(base + "/v1/messages", data=body("claude-opus-4-1", True),
           headers=dict(H, **{"x-mock-usage": "100,200,30,40"}), stream=True)
n = 0
for piece in r.iter_content(chunk_size=7):
    assert len(piece) <= 7
    out.write(piece)
    n += 1
r.close()
out.write(b"\n%d pieces\n" % n)
s.close()
'''

# python3 -c HTTPX BASE CAFILE H2: a JSON answer and a stream on one
# connection, then (h2) three requests at once on one AsyncClient.
HTTPX = r'''
import asyncio, json, sys, httpx
base, ca, h2 = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
def body(model, stream=False, text="hi"):
    d = {"model": model, "max_tokens": 64,
         "messages": [{"role": "user", "content": text}]}
    if stream:
        d["stream"] = True
    return json.dumps(d, separators=(",", ":"))
H = {"content-type": "application/json"}
out = sys.stdout.buffer
with httpx.Client(http2=h2, verify=ca, trust_env=False, timeout=30) as c:
    r = c.post(base + "/v1/messages", content=body("claude-sonnet-4-5"),
               headers=H)
    out.write(r.http_version.encode() + b" " + r.content)
    with c.stream("POST", base + "/v1/messages",
                  content=body("claude-opus-4-1", True),
                  headers=dict(H, **{"x-mock-usage": "100,200,30,40"})) as r:
        for piece in r.iter_bytes():
            out.write(piece)
if h2:
    async def many():
        async with httpx.AsyncClient(http2=True, verify=ca, trust_env=False,
                                     timeout=30) as c:
            rs = await asyncio.gather(*[
                c.post(base + "/v1/messages", headers=dict(H, **{
                    "x-mock-usage": "%d,%d,0,0" % (n, 2 * n),
                    "x-mock-delay-ms": "20", "x-mock-chunk": "64"}),
                    content=body("claude-haiku-4-5", text="n%d" % n))
                for n in (1, 2, 3)])
            for r in rs:
                out.write(r.http_version.encode() + b" " + r.content)
    asyncio.run(many())
'''

# php -n -r PHP_STREAMS -- BASE CAFILE MSG STREAM: file_get_contents with
# a stream context (HTTP/1.0, Content-Length), then fopen + fread(7) of a
# stream over HTTP/1.1 (chunked).
PHP_STREAMS = r'''
[$base, $ca, $msg, $stream] = array_slice($argv, 1, 4);
$ssl = ["cafile" => $ca, "verify_peer" => true];
$ctx = stream_context_create(["ssl" => $ssl, "http" => [
    "method" => "POST", "header" => "content-type: application/json\r\n",
    "content" => $msg, "ignore_errors" => true]]);
$r = file_get_contents("$base/v1/messages", false, $ctx);
if ($r === false) exit(1);
echo $r, "\n";
$ctx = stream_context_create(["ssl" => $ssl, "http" => [
    "method" => "POST", "protocol_version" => 1.1,
    "header" => "content-type: application/json\r\nconnection: close\r\n" .
        "x-mock-usage: 100,200,30,40\r\n",
    "content" => $stream]]);
$f = fopen("$base/v1/messages", "rb", false, $ctx);
if ($f === false) exit(1);
while (!feof($f)) {
    $b = fread($f, 7);
    if ($b === false) exit(1);
    echo $b;
}
fclose($f);
'''

# ruby -e RUBY BASE CAFILE MSG STREAM: one Net::HTTP connection, three
# requests: JSON, JSON gzip-compressed (Net::HTTP asks for it and decodes
# it), a stream read with read_body in segments.
RUBY_NET_HTTP = r'''
require "net/http"
base, ca, msg, stream = ARGV
uri = URI(base)
$stdout.binmode
Net::HTTP.start(uri.host, uri.port, use_ssl: true, ca_file: ca,
                verify_mode: OpenSSL::SSL::VERIFY_PEER) do |h|
  j = { "content-type" => "application/json" }
  r = h.post("/v1/messages", msg, j)
  $stdout.write(r.body)
  r = h.post("/v1/messages", msg, j.merge(
    "x-mock-content-encoding" => "gzip", "x-mock-usage" => "7,8,0,0"))
  $stdout.write(r.body)
  req = Net::HTTP::Post.new("/v1/messages",
                            j.merge("x-mock-usage" => "100,200,30,40"))
  req.body = stream
  h.request(req) { |res| res.read_body { |seg| $stdout.write(seg) } }
end
'''

# node -e NODE_CLIENTS BASE MSG STREAM (NODE_EXTRA_CA_CERTS=CAFILE): https
# with a JSON answer, then fetch with a stream read chunk by chunk.
NODE_CLIENTS = r'''
const https = require("https");
const [base, msg, stream] = process.argv.slice(1);
function post(body) {
  return new Promise((ok, fail) => {
    const u = new URL(base + "/v1/messages");
    const req = https.request(u, { method: "POST",
      headers: { "content-type": "application/json" } }, (res) => {
        const parts = [];
        res.on("data", (d) => parts.push(d));
        res.on("end", () => ok(Buffer.concat(parts)));
        res.on("error", fail);
      });
    req.on("error", fail);
    req.end(body);
  });
}
(async () => {
  process.stdout.write(await post(msg));
  const r = await fetch(base + "/v1/messages", { method: "POST", body: stream,
    headers: { "content-type": "application/json",
               "x-mock-usage": "100,200,30,40" } });
  for await (const chunk of r.body) process.stdout.write(chunk);
})().catch((e) => { console.error(e); process.exit(1); });
'''

# node -e SDK BASE (NODE_PATH with @anthropic-ai/sdk): the official SDK,
# one message and one stream.
NODE_SDK = r'''
const Anthropic = require("@anthropic-ai/sdk");
const client = new Anthropic({ apiKey: "sk-ant-test", maxRetries: 0,
                               baseURL: process.argv[1] });
(async () => {
  const m = await client.messages.create({ model: "claude-sonnet-4-5",
    max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
  console.log(JSON.stringify(m));
  const s = await client.messages.create({ model: "claude-opus-4-1",
    max_tokens: 64, stream: true,
    messages: [{ role: "user", content: "hi" }] },
    { headers: { "x-mock-usage": "100,200,30,40" } });
  for await (const ev of s) console.log(JSON.stringify(ev));
})().catch((e) => { console.error(e); process.exit(1); });
'''

# pycurl over HTTPS: python3 -c PYCURL URL CAFILE BODY
PYCURL = r'''
import io, sys, pycurl
url, ca, data = sys.argv[1:4]
for n in range(2):
    c = pycurl.Curl()
    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.CAINFO, ca)
    c.setopt(pycurl.HTTPHEADER, ["content-type: application/json"])
    c.setopt(pycurl.POSTFIELDS, data)
    buf = io.BytesIO()
    c.setopt(pycurl.WRITEFUNCTION, buf.write)
    c.perform()
    c.close()
    sys.stdout.buffer.write(buf.getvalue())
'''

# php -n -d extension=curl -r PHP_CURL -- URL CAFILE BODY
PHP_CURL = r'''
[$url, $ca, $body] = array_slice($argv, 1, 3);
for ($i = 0; $i < 2; $i++) {
    $c = curl_init($url);
    curl_setopt($c, CURLOPT_POSTFIELDS, $body);
    curl_setopt($c, CURLOPT_HTTPHEADER, ["content-type: application/json"]);
    curl_setopt($c, CURLOPT_CAINFO, $ca);
    curl_setopt($c, CURLOPT_RETURNTRANSFER, true);
    $r = curl_exec($c);
    if ($r === false) { fwrite(STDERR, curl_error($c)); exit(1); }
    echo $r;
}
'''


class TLSClientCase(unittest.TestCase):
    """Runs one client three ways and checks each."""

    def reference(self, argv, env_extra=None, api=None, connections=None):
        """The client without the shim: exit 0, some output; with api and
        connections, the number of connections it made to the mock."""
        if api is not None:
            api.reset()
        p = run(argv, plain_env(**(env_extra or {})))
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        self.assertNotEqual(p.stdout, b"")
        if connections is not None:
            # stats() itself is one more connection
            self.assertEqual(api.stats()["connections"] - 1, connections,
                             "the client's connections to the mock")
        return p.stdout

    def check_events(self, evs, wants, host, tls_tap=True):
        """Receiver events evs against wants (want() dicts), in order."""
        self.assertEqual(len(evs), len(wants), evs)
        for ev, w in zip(evs, wants):
            self.assertNotIn("invalid", ev)
            self.assertEqual(ev["host"], host, ev)
            self.assertEqual(ev["method"], "POST", ev)
            self.assertEqual(ev["curl_code"], 0, ev)
            self.assertEqual(ev["path"], w["path"], ev)
            self.assertEqual(ev["http_status"], w["http_status"], ev)
            self.assertEqual(ev["model"], w["model"], ev)
            self.assertEqual(ev.get("usage_state"), w["usage_state"], ev)
            self.assertEqual((ev["input_tokens"], ev["output_tokens"],
                              ev["cache_creation_input_tokens"],
                              ev["cache_read_input_tokens"]), w["usage"], ev)
            self.assertEqual(sorted(f for f in ev["flags"]),
                             sorted(["tls"] + (["tls_tap"] if tls_tap
                                               else []) +
                                    (["stream"] if w["stream"] else [])),
                             ev)
            self.assertEqual(ev["unified_status"], "allowed", ev)
            self.assertEqual(ev["util_5h"], 0.25, ev)
            self.assertTrue(ev["request_id"].startswith("req_mock_"), ev)

    def check_client(self, argv, api, host, wants, prog, env_extra=None,
                     connections=None, tls_tap=True, sort=False):
        """argv against api (MockAPI; its front for h2) with
        RATETAP_HOSTS=host: the same output three times, the events of
        wants (sorted by input tokens when sort: concurrent requests), and
        the daemon's exact counts with one row, prog's."""
        extra = dict(env_extra or {})
        ref = self.reference(argv, extra, api, connections)

        with Receiver() as rx:
            env = shim_env(None, rx, RATETAP_HOSTS=host, **extra)
            p = run(argv, env)
            self.assertEqual(p.returncode, 0,
                             p.stderr.decode(errors="replace"))
            self.assertEqual(p.stdout, ref, "output changed under the shim")
            evs = rx.events(len(wants)) if wants else rx.all(1.0)
        if sort:
            evs.sort(key=lambda e: e["input_tokens"])
            wants = sorted(wants, key=lambda w: w["usage"][0])
        self.check_events(evs, wants, host, tls_tap)
        for ev in evs:
            self.assertEqual(ev["prog"], prog, ev)

        with Daemon(api) as d:
            env = d.env
            env["RATETAP_HOSTS"] = host
            env.update(extra)
            p = run(argv, env)
            self.assertEqual(p.returncode, 0,
                             p.stderr.decode(errors="replace"))
            self.assertEqual(p.stdout, ref,
                             "output changed under the shim and ratetapd")
            n = len(wants)
            st = d.settled(n, grace=0.3 if n else 1.0)
            req = st["requests"]
            self.assertEqual(req["total"], n, req)
            self.assertEqual(req["usage_unreadable"], 0, req)
            self.assertEqual(req.get("cut_short"), 0, req)
            tk = st["windows"]["five_hour"]["tokens"]
            sums = tuple(sum(w["usage"][k] for w in wants) for k in range(4))
            self.assertEqual((tk["input"], tk["output"],
                              tk["cache_creation_input"],
                              tk["cache_read_input"]), sums, st["windows"])
            rows = {k: {f: v[f] for f in ("requests", "input", "output")}
                    for k, v in st["processes"].items()}
            self.assertEqual(rows, {prog: {"requests": n, "input": sums[0],
                                           "output": sums[1]}} if n else {},
                             st["processes"])
        return ref


class PythonClients(TLSClientCase):

    def test_urllib_json_and_stream_with_sni(self):
        with MockAPI(tls=True) as api:
            out = self.check_client(
                [PYTHON, "-c", URLLIB, "https://" + api.named_hostport,
                 api.cafile, MSG, STREAM], api, api.named_hostport,
                [want(), want(BIG, "claude-opus-4-1", stream=True)],
                "python3", connections=2)
            self.assertIn(b"event: message_stop", out)

    def test_urllib_to_an_address_without_sni_is_matched_by_the_peer(self):
        # Python sends no SNI for an IP address: the socket's peer
        # address and port are what RATETAP_HOSTS is matched against.
        with MockAPI(tls=True) as api:
            self.check_client(
                [PYTHON, "-c", URLLIB, api.base, api.cafile, MSG, STREAM],
                api, api.hostport,
                [want(), want(BIG, "claude-opus-4-1", stream=True)],
                "python3")

    def test_requests_session_keep_alive_gzip_chunked_and_sse(self):
        if not py_importable("requests"):
            self.skipTest("python3-requests is not installed")
        with MockAPI(tls=True) as api:
            out = self.check_client(
                [PYTHON, "-c", REQUESTS, "https://" + api.named_hostport,
                 api.cafile], api, api.named_hostport,
                [want(), want((7, 8, 0, 0)),
                 want(model="claude-haiku-4-5"),
                 want(BIG, "claude-opus-4-1", stream=True)],
                "python3", connections=1)
            self.assertTrue(out.rstrip().endswith(b" pieces"), out[-40:])

    def test_httpx_over_http_1_1(self):
        if not py_importable("httpx"):
            self.skipTest("python3-httpx is not installed")
        with MockAPI(tls=True) as api:
            out = self.check_client(
                [PYTHON, "-c", HTTPX, "https://" + api.named_hostport,
                 api.cafile, "0"], api, api.named_hostport,
                [want(), want(BIG, "claude-opus-4-1", stream=True)],
                "python3", connections=1)
            self.assertTrue(out.startswith(b"HTTP/1.1 "), out[:40])

    def test_httpx_over_http_2_with_streams_at_once(self):
        if NGHTTPX is None:
            self.skipTest("nghttpx (nghttp2-proxy) is not installed")
        if not py_importable("httpx", "h2"):
            self.skipTest("python3-httpx or python3-h2 is not installed")
        with MockAPI() as api, H2Front(api) as h2:
            # the mock counts nghttpx's connections: not asserted
            out = self.check_client(
                [PYTHON, "-c", HTTPX, h2.named_base, h2.cafile, "1"], api,
                h2.named_hostport,
                [want(), want(BIG, "claude-opus-4-1", stream=True)] +
                [want((n, 2 * n, 0, 0), "claude-haiku-4-5")
                 for n in (1, 2, 3)], "python3", sort=True)
            self.assertTrue(out.startswith(b"HTTP/2 "), out[:40])
            self.assertEqual(out.count(b"HTTP/2 "), 4, out)


class OtherClients(TLSClientCase):

    @unittest.skipIf(PHP is None, "php-cli is not installed")
    def test_php_stream_wrapper_file_get_contents_and_fopen(self):
        with MockAPI(tls=True) as api:
            # -n: no ini file, so no curl extension; php links libssl
            out = self.check_client(
                [PHP, "-n", "-r", PHP_STREAMS, "--",
                 "https://" + api.named_hostport, api.cafile, MSG, STREAM],
                api, api.named_hostport,
                [want(), want(BIG, "claude-opus-4-1", stream=True)],
                "php", connections=2)
            self.assertIn(b"event: message_stop", out)

    @unittest.skipIf(RUBY is None, "ruby is not installed")
    def test_ruby_net_http_keep_alive_gzip_and_stream(self):
        with MockAPI(tls=True) as api:
            self.check_client(
                [RUBY, "-e", RUBY_NET_HTTP, "https://" + api.named_hostport,
                 api.cafile, MSG, STREAM], api, api.named_hostport,
                [want(), want((7, 8, 0, 0)),
                 want(BIG, "claude-opus-4-1", stream=True)],
                "ruby", connections=1)

    @unittest.skipIf(WGET is None, "wget is not installed")
    def test_wget_over_gnutls_two_urls(self):
        with MockAPI(tls=True) as api:
            url = api.named_url("/v1/messages")
            self.check_client(
                [WGET, "--no-config", "--no-hsts", "-q", "-O", "-",
                 "--ca-certificate=" + api.cafile, "--header",
                 "content-type: application/json", "--post-data", STREAM,
                 url, url], api, api.named_hostport,
                [want(model="claude-opus-4-1", stream=True)] * 2, "wget")


class NodeClients(TLSClientCase):

    def setUp(self):
        why = node_unseen()
        if why is not None:
            self.skipTest(why)

    def test_node_https_and_fetch(self):
        with MockAPI(tls=True) as api:
            self.check_client(
                [NODE, "-e", NODE_CLIENTS, "https://" + api.named_hostport,
                 MSG, STREAM], api, api.named_hostport,
                [want(), want(BIG, "claude-opus-4-1", stream=True)], "node",
                env_extra={"NODE_EXTRA_CA_CERTS": api.cafile})

    def test_anthropic_typescript_sdk(self):
        probe = subprocess.run(
            [NODE, "-e", "require.resolve('@anthropic-ai/sdk')"],
            stdin=subprocess.DEVNULL, capture_output=True,
            env=plain_env(NODE_PATH=NODE_PATH))
        if probe.returncode != 0:
            self.skipTest("@anthropic-ai/sdk is not installed where node "
                          "finds it (RATETAP_TEST_NODE_PATH=%r); tests "
                          "never download it" % NODE_PATH)
        with MockAPI(tls=True) as api:
            self.check_client(
                [NODE, "-e", NODE_SDK, "https://" + api.named_hostport],
                api, api.named_hostport,
                [want(), want(BIG, "claude-opus-4-1", stream=True)], "node",
                env_extra={"NODE_EXTRA_CA_CERTS": api.cafile,
                           "NODE_PATH": NODE_PATH})


class LibcurlOwnsItsConnections(TLSClientCase):
    """libcurl reaches TLS through libssl or GnuTLS too: its transfers are
    the libcurl layer's, one event each, never again at the TLS layer."""

    @unittest.skipIf(CURL is None, "curl is not installed")
    def test_curl_over_https_with_sni_once_per_transfer(self):
        with MockAPI(tls=True) as api:
            url = api.named_url("/v1/messages")
            self.check_client(
                [CURL, "-sS", "--cacert", api.cafile, "-H",
                 "content-type: application/json", "--data-binary", MSG,
                 url, url], api, api.named_hostport, [want(), want()],
                "curl", connections=1, tls_tap=False)

    def test_pycurl_over_https_once_per_transfer(self):
        if not py_importable("pycurl"):
            self.skipTest("python3-pycurl is not installed")
        with MockAPI(tls=True) as api:
            self.check_client(
                [PYTHON, "-c", PYCURL, api.named_url("/v1/messages"),
                 api.cafile, MSG], api, api.named_hostport,
                [want(), want()], "python3", tls_tap=False)

    @unittest.skipIf(PHP is None, "php-cli is not installed")
    def test_php_curl_over_https_once_per_transfer(self):
        with MockAPI(tls=True) as api:
            self.check_client(
                [PHP, "-n", "-d", "extension=curl", "-r", PHP_CURL, "--",
                 api.named_url("/v1/messages"), api.cafile, MSG], api,
                api.named_hostport, [want(), want()], "php", tls_tap=False)


class UntappedPeers(TLSClientCase):
    """A TLS connection to a host:port that RATETAP_HOSTS does not name
    gets no event, whatever is said on it."""

    def hosts(self, api):
        # the default host; the right name on another port; the right
        # address and port while the client names localhost in its SNI
        return ("api.anthropic.com", "localhost:%d" % (api.port ^ 1),
                api.hostport)

    def test_urllib_to_an_untapped_peer(self):
        with MockAPI(tls=True) as api:
            for hosts in self.hosts(api):
                with self.subTest(hosts=hosts):
                    self.check_client(
                        [PYTHON, "-c", URLLIB,
                         "https://" + api.named_hostport, api.cafile, MSG,
                         STREAM], api, hosts, [], "python3")

    @unittest.skipIf(WGET is None, "wget is not installed")
    def test_wget_to_an_untapped_peer(self):
        with MockAPI(tls=True) as api:
            for hosts in self.hosts(api):
                with self.subTest(hosts=hosts):
                    self.check_client(
                        [WGET, "--no-config", "--no-hsts", "-q", "-O", "-",
                         "--ca-certificate=" + api.cafile, "--header",
                         "content-type: application/json", "--post-data",
                         MSG, api.named_url("/v1/messages")], api, hosts,
                        [], "wget")


if __name__ == "__main__":
    unittest.main()
