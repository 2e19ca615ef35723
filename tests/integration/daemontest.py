"""What the integration tests share beyond harness.py: a test case that
owns the mock APIs and daemons it starts, and the check of one event the
shim sent for a default mock response.

    from daemontest import DaemonTestCase, check_event

    class MyTest(DaemonTestCase):
        TMP_PREFIX = "rt-my-"          # optional: self.tmp, removed after
        def test_x(self):
            api = self.mock(tls=True)  # closed after the test, in reverse
            d = self.daemon(api=api)   # order of creation
"""

import shutil
import tempfile
import unittest

from harness import Daemon, MockAPI


class DaemonTestCase(unittest.TestCase):
    """Closes every MockAPI and Daemon made through self.mock() and
    self.daemon() after the test, newest first; with TMP_PREFIX set,
    self.tmp is a fresh temporary directory removed after them."""

    TMP_PREFIX = None

    def setUp(self):
        self._cleanup = []
        if self.TMP_PREFIX is not None:
            self.tmp = tempfile.mkdtemp(prefix=self.TMP_PREFIX)
            self.addCleanup(shutil.rmtree, self.tmp, True)

    def tearDown(self):
        for c in reversed(self._cleanup):
            c.close()

    def mock(self, **kw):
        m = MockAPI(**kw)
        self._cleanup.append(m)
        return m

    def daemon(self, *a, **kw):
        d = Daemon(*a, **kw)
        self._cleanup.append(d)
        return d


def check_event(tc, ev, api, model="claude-sonnet-4-5", stream=False):
    """Assert (through test case tc) that receiver event ev is one 200
    POST /v1/messages answer of the mock api with its default usage
    (11, 22, 3, 5), of model, streamed or not, over api's TLS or not."""
    tc.assertEqual(ev.get("usage_state"), "ok", ev)
    tc.assertEqual((ev["http_status"], ev["curl_code"]), (200, 0))
    tc.assertEqual(ev["host"], api.hostport)
    tc.assertEqual(ev["path"], "/v1/messages")
    tc.assertEqual(ev["model"], model)
    tc.assertEqual((ev["input_tokens"], ev["output_tokens"],
                    ev["cache_creation_input_tokens"],
                    ev["cache_read_input_tokens"]), (11, 22, 3, 5))
    tc.assertEqual("stream" in ev["flags"], stream, ev["flags"])
    tc.assertEqual("tls" in ev["flags"], api.tls, ev["flags"])
