"""Metrics and PROXY protocol against a running signetd.

Metrics: the /metrics page a Prometheus server scrapes counts exactly the
traffic this test sends (accepted messages, refusals by reason, signatures
by domain/selector/algorithm, upstream replies, connections, signing
latency), and /healthz answers 200 "ok" while a snapshot serves.

PROXY protocol: on listeners configured with proxy_protocol v1 or v2 the
header is read before the greeting, and the policy decides by the source
address the header carries, not by the balancer's own address: the
tenant "local" owns example.com from 127.0.0.1; a header naming 127.0.0.3
(tenant "other") or an address of no tenant is refused whatever the real
peer is.  A connection that does not start with a valid header is closed
without a greeting.
"""
import calendar
import re
import signal
import socket
import struct
import time
import unittest
import urllib.error
import urllib.request

import tap
from daemon import Signetd, message, write_domain
from rawsmtp import Closed, RawSMTP, dot_stuff, session
from signet_env import free_port

SIG_V2 = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v1(src, dst="127.0.0.1", sport=40000, dport=25):
    return ("PROXY TCP4 %s %s %d %d\r\n" % (src, dst, sport, dport)).encode()


def proxy_v2(src, dst="127.0.0.1", sport=40000, dport=25):
    block = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!HH", sport, dport)
    return SIG_V2 + b"\x21\x11" + struct.pack("!H", len(block)) + block


class MetricsSignetd(Signetd):
    """The test daemon plus a metrics listener and two PROXY listeners."""

    def __init__(self, **kw):
        self.metrics_port = free_port()
        self.v1_port = free_port()
        self.v2_port = free_port()
        super().__init__(**kw)

    def config_text(self):
        text = super().config_text()
        plain = "  - address: 127.0.0.1:%d\n" % self.port
        extra = ("  - address: 127.0.0.1:%d\n    proxy_protocol: v1\n"
                 "  - address: 127.0.0.1:%d\n    proxy_protocol: v2\n"
                 % (self.v1_port, self.v2_port))
        assert plain in text
        text = text.replace(plain, plain + extra, 1)
        return text + "metrics: { listen: 127.0.0.1:%d }\n" % self.metrics_port


def parse_page(text):
    """{(name, frozenset(labels.items())): value} for every sample."""
    out = {}
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = sample.match(line)
        assert m, "bad sample line: %r" % line
        labels = frozenset(label.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(page, name, **labels):
    return page.get((name, frozenset(labels.items())), 0.0)


class DaemonTest(unittest.TestCase):
    """One MetricsSignetd per class."""
    @classmethod
    def setUpClass(cls):
        cls.d = MetricsSignetd()
        try:
            cls.d.start()
        except Exception:
            cls.d.cleanup(check=False)
            raise

    @classmethod
    def tearDownClass(cls):
        # Exit status after SIGTERM and leak reports; an error here is a
        # "not ok" line of its own.
        cls.d.cleanup(check=True)

    def tearDown(self):
        report = self.d.sanitizer_report()
        if report:
            self.fail("sanitizer report:\n" + report)


class Metrics(DaemonTest):
    def get(self, path):
        url = "http://127.0.0.1:%d%s" % (self.d.metrics_port, path)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def scrape(self):
        status, headers, body = self.get("/metrics")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["Content-Type"],
                         "text/plain; version=0.0.4; charset=utf-8")
        return parse_page(body)

    def test_healthz(self):
        status, _, body = self.get("/healthz")
        self.assertEqual((status, body), (200, "ok\n"))
        status, _, _ = self.get("/nothing-here")
        self.assertEqual(status, 404)

    def test_counters_match_traffic(self):
        before = self.scrape()
        good = 3
        for i in range(good):
            r = session(self.d.port, "alice@example.com", ["bob@dest.test"],
                        message(subject="metrics %d" % i))
            self.assertEqual(r[-1].code, 250, r[-1].raw)
        # Bare LF inside DATA (SM-01) and a From the tenant does not own.
        r = session(self.d.port, "alice@example.com", ["bob@dest.test"],
                    message(body=b"one\nbare\r\n"))
        self.assertEqual(r[-1].code, 550, r[-1].raw)
        r = session(self.d.port, "alice@example.com", ["bob@dest.test"],
                    message(frm="mallory@other.test"))
        self.assertEqual(r[-1].code, 550, r[-1].raw)
        # Sessions end asynchronously after QUIT.
        deadline = time.monotonic() + 5
        while True:
            after = self.scrape()
            if value(after, "signet_connections") == 0 or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.05)

        def delta(name, **labels):
            return value(after, name, **labels) - \
                value(before, name, **labels)

        self.assertEqual(delta("signet_messages_total", outcome="accepted"),
                         good)
        self.assertEqual(delta("signet_messages_total",
                               outcome="rejected_5xx"), 2)
        self.assertEqual(delta("signet_messages_total",
                               outcome="tempfail_4xx"), 0)
        self.assertEqual(delta("signet_refusals_total", reason="bare_lf"), 1)
        self.assertEqual(delta("signet_refusals_total",
                               reason="from_not_owned"), 1)
        for sel in ("s1", "s2"):
            self.assertEqual(delta("signet_signatures_total",
                                   domain="example.com", selector=sel,
                                   algorithm="rsa-sha256"), good)
        self.assertEqual(delta("signet_upstream_replies_total",
                               **{"class": "2xx"}), good)
        self.assertEqual(delta("signet_signing_duration_seconds_count"), good)
        self.assertEqual(delta("signet_connections_total"), good + 2)
        self.assertEqual(value(after, "signet_connections"), 0)
        self.assertEqual(value(after, "signet_serving"), 1)
        self.assertGreaterEqual(value(after, "signet_store_generation"), 1)
        # daemon.write_domain stamps every key ACTIVE at this instant.
        activated = calendar.timegm((2025, 1, 2, 3, 4, 5, 0, 0, 0))
        for sel in ("s1", "s2"):
            age = value(after, "signet_key_age_seconds",
                        domain="example.com", selector=sel)
            self.assertAlmostEqual(age, time.time() - activated, delta=60)

    def wait_value(self, want, name, timeout=10, **labels):
        deadline = time.monotonic() + timeout
        while True:
            got = value(self.scrape(), name, **labels)
            if got == want or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    def test_reload_failure_reported(self):
        good = self.d.config_text()
        self.d.write_config(good + "no_such_key: 1\n")
        self.d.signal(signal.SIGHUP)
        self.assertEqual(self.wait_value(1, "signet_last_reload_failed"), 1)
        status, _, body = self.get("/healthz")
        self.assertEqual((status, body), (200, "ok\nlast reload failed\n"))
        self.d.write_config(good)
        self.d.signal(signal.SIGHUP)
        self.assertEqual(self.wait_value(0, "signet_last_reload_failed"), 0)
        status, _, body = self.get("/healthz")
        self.assertEqual((status, body), (200, "ok\n"))

    def test_store_generation_follows_key_store(self):
        before = value(self.scrape(), "signet_store_generation")
        write_domain(self.d.keystore, "example.com", self.d.keys,
                     generation=int(before) + 1)
        self.assertEqual(self.wait_value(before + 1,
                                         "signet_store_generation"),
                         before + 1)


class ProxyProtocol(DaemonTest):
    def transaction(self, port, header, frm="alice@example.com",
                    source=None):
        """Header, then one transaction; the replies (greeting first)."""
        replies = []
        with RawSMTP(port, source=source) as c:
            try:
                c.send(header)
                replies.append(c.read_reply())
                if replies[-1].code != 220:
                    return replies
                for line, want in (("EHLO client.test", 250),
                                   ("MAIL FROM:<%s>" % frm, 250),
                                   ("RCPT TO:<bob@dest.test>", 250),
                                   ("DATA", 354)):
                    replies.append(c.cmd(line))
                    if replies[-1].code != want:
                        return replies
                c.send(dot_stuff(message(frm=frm)) + b".\r\n")
                replies.append(c.read_reply())
                c.cmd("QUIT", timeout=2)
            except (Closed, OSError):
                pass
        return replies

    def test_policy_follows_proxy_source(self):
        cases = [
            # (name, listener, header, real source, want last code)
            ("v1 allowed tenant", "v1", proxy_v1("127.0.0.1"), "127.0.0.3",
             250),
            ("v1 other tenant", "v1", proxy_v1("127.0.0.3"), "127.0.0.1",
             553),
            ("v1 no tenant", "v1", proxy_v1("192.0.2.7"), "127.0.0.1", 530),
            ("v2 allowed tenant", "v2", proxy_v2("127.0.0.1"), "127.0.0.3",
             250),
            ("v2 other tenant", "v2", proxy_v2("127.0.0.3"), "127.0.0.1",
             553),
            ("v2 no tenant", "v2", proxy_v2("192.0.2.7"), "127.0.0.1", 530),
            ("v1 UNKNOWN keeps the real address", "v1",
             b"PROXY UNKNOWN\r\n", "127.0.0.1", 250),
            ("v2 LOCAL keeps the real address", "v2",
             SIG_V2 + b"\x20\x00\x00\x00", "127.0.0.3", 553),
        ]
        for name, lst, header, source, want in cases:
            with self.subTest(case=name):
                port = self.d.v1_port if lst == "v1" else self.d.v2_port
                r = self.transaction(port, header, source=source)
                self.assertEqual(r[0].code, 220, r)
                self.assertEqual(r[-1].code, want, r)

    def test_bad_header_closes_without_greeting(self):
        cases = [
            ("SMTP on a v1 listener", "v1", b"EHLO client.test\r\n"),
            ("v2 on a v1 listener", "v1", proxy_v2("127.0.0.1")),
            ("v1 on a v2 listener", "v2", proxy_v1("127.0.0.1")),
            ("bad v1 address", "v1", b"PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n"),
        ]
        for name, lst, header in cases:
            with self.subTest(case=name):
                port = self.d.v1_port if lst == "v1" else self.d.v2_port
                with RawSMTP(port, timeout=5) as c:
                    c.send(header)
                    self.assertTrue(c.expect_closed())
                    self.assertNotIn(b"220", c.buf)

    def test_plain_listener_unaffected(self):
        r = session(self.d.port, "alice@example.com", ["bob@dest.test"],
                    message())
        self.assertEqual(r[-1].code, 250, r[-1].raw)


if __name__ == "__main__":
    tap.main()
