"""The test bench itself (tests/lib): RAW sends and parses exactly, FAKEUP
records exact bytes and produces each scripted fault, SINK dumps and
injects faults, REALUP relays to SINK without touching the system
Postfix.  The SMTP and interop suites rely on all of it."""
import os
import socket
import subprocess
import tempfile
import time
import unittest

import peers
import rawsmtp
import tap
import tlsutil
from fakeup import Close, DataFault, FakeUpstream, Script, Stall
from rawsmtp import RawSMTP, Reply


def handshake(c):
    c.read_reply()
    c.cmd("EHLO bench.test")


class ReplyParsing(unittest.TestCase):
    def test_wellformed(self):
        cases = [
            (b"250 ok\r\n", True),
            (b"250-a\r\n250 b\r\n", True),
            (b"250\r\n", True),
            (b"250-a\r\n550 b\r\n", False),        # code changes
            (b"250 a\n", False),                  # bare LF
            (b"250 a\x1b[31m\r\n", False),        # ESC
            (b"25 x\r\n", False),
            (b"250 " + b"x" * 600 + b"\r\n", False),
            (b"250-a\r\n250-b\r\n", False),       # never finished
            (b"650 x\r\n", False),
        ]
        for raw, want in cases:
            with self.subTest(raw=raw[:30]):
                self.assertEqual(Reply(raw).wellformed, want)

    def test_codes(self):
        r = Reply(b"550-5.7.1 first\r\n550 5.7.1 second\r\n")
        self.assertEqual((r.code, r.enhanced, r.text), (550, "5.7.1", "5.7.1 first\n5.7.1 second"))

    def test_dot_stuff(self):
        cases = [
            (b"a\r\n.b\r\n", b"a\r\n..b\r\n"),
            (b".\r\n", b"..\r\n"),
            (b"x", b"x\r\n"),
            (b"", b""),
            (b"a\n.b\r\n", b"a\n.b\r\n"),         # bare LF: not a line start
        ]
        for content, want in cases:
            with self.subTest(content=content):
                self.assertEqual(rawsmtp.dot_stuff(content), want)


class Fakeup(unittest.TestCase):
    def serve(self, script=None):
        up = FakeUpstream(script).start()
        self.addCleanup(up.stop)
        return up

    def test_records_exact_content_and_envelope(self):
        up = self.serve(Script(rcpt={"no@t": "550 5.1.1 unknown"}))
        content = b"Subject: x\r\n\r\n.dot\r\nbare\nlf and bare\rcr\r\n\r\n"
        r = rawsmtp.session(up.port, "a@t", ["yes@t", "no@t"], content)
        self.assertEqual([x.code for x in r], [220, 250, 250, 250, 550, 354, 250])
        tx = up.wait_transactions(1)[0]
        self.assertEqual(tx.content, content)
        self.assertEqual(tx.mail_from, b"<a@t>")
        self.assertEqual(tx.envelope_rcpts, ["yes@t"])
        self.assertIn(b"..dot\r\n", tx.wire)

    def test_pipelined_messages(self):
        up = self.serve()
        one = b"MAIL FROM:<a@t>\r\nRCPT TO:<b@t>\r\nDATA\r\nSubject: 1\r\n\r\none\r\n.\r\n"
        two = b"MAIL FROM:<c@t>\r\nRCPT TO:<d@t>\r\nDATA\r\n.\r\nQUIT\r\n"
        with RawSMTP(up.port) as c:
            handshake(c)
            c.send(one + two)
            codes = [r.code for r in c.read_replies(quiet=0.5)]
            self.assertTrue(c.expect_closed(3))
        self.assertEqual(codes, [250, 250, 354, 250, 250, 250, 354, 250, 221])
        self.assertEqual([(t.mail_from, t.content) for t in up.wait_transactions(2)],
                         [(b"<a@t>", b"Subject: 1\r\n\r\none\r\n"), (b"<c@t>", b"")])

    def test_source_address(self):
        up = self.serve()
        with RawSMTP(up.port, source="127.0.0.2") as c:
            c.read_reply()
        self.assertEqual(up.wait_connections(1)[0].peer[0], "127.0.0.2")

    def test_faults(self):
        # (script, what the client sends after EHLO, check(client, up))
        def closed(c, up):
            return c.expect_closed(3)

        cases = {
            "close after N data bytes": (
                Script(data_fault=DataFault(10)),
                b"MAIL FROM:<a@t>\r\nRCPT TO:<b@t>\r\nDATA\r\n" + b"x" * 100,
                lambda c, up: c.expect_closed(3) and not up.transactions),
            "close before final reply": (
                Script(final=Close()),
                b"MAIL FROM:<a@t>\r\nRCPT TO:<b@t>\r\nDATA\r\nhi\r\n.\r\n",
                lambda c, up: closed(c, up) and len(up.wait_transactions(1)) == 1
                and not c.buf.startswith(b"250 2.0.0")
                and c.buf.count(b"\r\n") == 3),
            "close after final reply": (
                Script(after_final=Close()),
                b"MAIL FROM:<a@t>\r\nRCPT TO:<b@t>\r\nDATA\r\nhi\r\n.\r\n",
                lambda c, up: closed(c, up) and b"queued as FAKE1" in c.buf),
            "premature reply during DATA": (
                Script(data_fault=DataFault(5, send="550 5.0.0 go away", close=False)),
                b"MAIL FROM:<a@t>\r\nRCPT TO:<b@t>\r\nDATA\r\n0123456789",
                lambda c, up: [r.code for r in c.read_replies(quiet=0.5)][-1:] == [550]),
            "garbage and oversized replies": (
                Script(mail=b"2x0 what\n", rcpt_default=["250-" + "y" * 5000, "250 ok"]),
                b"MAIL FROM:<a@t>\r\nRCPT TO:<b@t>\r\n",
                lambda c, up: [r.wellformed for r in c.read_replies(quiet=0.5)] == [False, False]),
        }
        for name, (script, send, check) in cases.items():
            with self.subTest(fault=name):
                up = self.serve(script)
                with RawSMTP(up.port, timeout=5) as c:
                    handshake(c)
                    c.send(send)
                    self.assertTrue(check(c, up), "client buffer %r" % c.buf[:300])

    def test_stall(self):
        up = self.serve(Script(mail=Stall(1.0, "250 2.1.0 late")))
        with RawSMTP(up.port) as c:
            handshake(c)
            t = time.monotonic()
            r = c.cmd("MAIL FROM:<a@t>")
            self.assertGreaterEqual(time.monotonic() - t, 0.9)
            self.assertEqual(r.code, 250)

    def test_never_greets(self):
        up = self.serve(Script(greeting=None))
        with RawSMTP(up.port) as c:
            self.assertEqual(c.read_replies(quiet=0.5, timeout=1.0), [])
            self.assertFalse(c.eof)

    def test_bytes_after_starttls_reply(self):
        d = self.enterContext(tempfile.TemporaryDirectory())
        ctx = tlsutil.server_context(*tlsutil.self_signed(d))
        up = self.serve(Script(tls=ctx, after_starttls=b"250 injected\r\n"))
        with RawSMTP(up.port) as c:
            handshake(c)
            c.sendline("STARTTLS")
            replies = c.read_replies(quiet=0.3)
            self.assertEqual([r.raw for r in replies],
                             [b"220 2.0.0 Ready to start TLS\r\n", b"250 injected\r\n"])
            c.starttls()
            self.assertIn("8BITMIME", c.cmd("EHLO again").text)
        self.assertTrue(up.connections[0].tls)

    def test_per_connection_script(self):
        first = Script(data_fault=DataFault(0))
        up = self.serve(lambda i: first if i == 0 else Script())
        msg = b"Subject: retry\r\n\r\nbody\r\n"
        self.assertEqual(rawsmtp.session(up.port, "a@t", ["b@t"], msg)[-1].code, 354)
        self.assertEqual(rawsmtp.session(up.port, "a@t", ["b@t"], msg)[-1].code, 250)
        self.assertEqual([t.content for t in up.transactions], [msg])


class Sink(unittest.TestCase):
    def test_dump_and_envelope(self):
        with peers.SmtpSink() as sink:
            content = b"From: a@example.com\r\nSubject: s\r\n\r\n.dot\r\nbody\r\n"
            r = rawsmtp.session(sink.port, "a@example.com", ["b@example.org", "c@example.org"],
                                content, source="127.0.0.3")
            self.assertEqual(r[-1].code, 250)
            m = sink.wait_count(1)[0]
            self.assertEqual(m.mail_from, "<a@example.com>")
            self.assertEqual(m.rcpt_addrs, ["b@example.org", "c@example.org"])
            self.assertEqual(m.client_addr, "127.0.0.3")
            self.assertEqual(m.content, content)

    def test_fault_flags(self):
        # (flags, reply codes after the greeting and EHLO, dumps kept):
        # smtp-sink keeps the dump of a message whose "." it refused.
        cases = [(["-r", "."], [250, 250, 354, 450], 1),
                 (["-f", "."], [250, 250, 354, 500], 1),
                 (["-f", "RCPT"], [250, 500, 503], 0),
                 (["-Q", "MAIL"], [421], 0),
                 (["-q", "DATA"], [250, 250], 0)]
        for flags, codes, kept in cases:
            with self.subTest(flags=" ".join(flags)), peers.SmtpSink(flags) as sink:
                r = rawsmtp.session(sink.port, "a@t", ["b@t"], b"Subject: s\r\n\r\nx\r\n")
                self.assertEqual([x.code for x in r[2:]], codes)
                time.sleep(0.2)
                self.assertEqual(sink.count(), kept)

    def test_stop_by_pid(self):
        sink = peers.SmtpSink().start()
        pid = sink.proc.pid
        sink.cleanup()
        self.assertFalse(os.path.exists("/proc/%d" % pid))
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", sink.port), timeout=1).close()


class RealPostfix(unittest.TestCase):
    def test_relays_to_sink_in_its_own_instance(self):
        before = {p: os.stat(os.path.join("/etc/postfix", p)).st_mtime
                  for p in os.listdir("/etc/postfix")}
        with peers.SmtpSink() as sink, peers.Postfix(sink.port, lenient=True) as pf:
            if peers.postfix_has("smtpd_forbid_bare_newline"):
                out = subprocess.run([peers.POSTCONF, "-c", pf.config, "-h",
                                      "smtpd_forbid_bare_newline"],
                                     stdout=subprocess.PIPE, text=True).stdout.strip()
                self.assertEqual(out, "no")
            content = b"From: a@example.com\r\nSubject: via postfix\r\n\r\nhello\r\n"
            r = rawsmtp.session(pf.port, "a@example.com", ["x@example.org"], content)
            self.assertEqual(r[-1].code, 250, r)
            qid = peers.queued_as(r[-1].text)
            self.assertIsNotNone(qid)
            self.assertEqual(pf.wait_delivered(1), [qid])
            self.assertIn(qid, pf.queued_ids())
            m = sink.wait_count(1)[0]
            self.assertEqual(m.rcpt_addrs, ["x@example.org"])
            self.assertIn(b"Subject: via postfix\r\n", m.content)
            self.assertTrue(m.content.endswith(b"\r\n\r\nhello\r\n"))
            pid = pf.master_pid()
            self.assertIsNotNone(pid)
        self.assertFalse(os.path.exists("/proc/%d" % pid), "master stopped")
        after = {p: os.stat(os.path.join("/etc/postfix", p)).st_mtime
                 for p in os.listdir("/etc/postfix")}
        self.assertEqual(before, after, "/etc/postfix untouched")


if __name__ == "__main__":
    tap.main()
