"""CHUNKING (RFC 3030): BDAT from the client, read by count and relayed
upstream as DATA.  hostile-inputs.md PR-10 (BDAT is refused only where
CHUNKING was not offered), DK-14 (a message without a final CRLF is
signed as it is relayed), SM-01/SM-02 (chunk content is never taken as
commands or as an end of data), PR-08 (size)."""
import unittest

import tap
import verifiers
from daemon import SessionTest, Signetd, message
from fakeup import FakeUpstream, Script
from peers import sink_behind_postfix
from rawsmtp import RawSMTP


def bdat_wire(content, sizes):
    """content cut into chunks of the given sizes (the rest in the last),
    as BDAT commands with their payloads; the last one says LAST."""
    out, pos = b"", 0
    cuts = list(sizes) + [len(content) - sum(sizes)]
    for i, n in enumerate(cuts):
        last = i == len(cuts) - 1
        out += b"BDAT %d%s\r\n" % (n, b" LAST" if last else b"")
        out += content[pos:pos + n]
        pos += n
    return out


class Chunking(SessionTest):
    def start_txn(self, c, rcpts=("bob@dest.test",)):
        self.assertReply(c.cmd("EHLO c"), 250)
        self.assertReply(c.cmd("MAIL FROM:<alice@example.com>"), 250)
        for r in rcpts:
            self.assertReply(c.cmd("RCPT TO:<%s>" % r), 250)

    def send_chunks(self, content, sizes=()):
        """One transaction, all chunks pipelined in one write; returns the
        replies to the chunks (the last is the final reply)."""
        c = self.client()
        self.start_txn(c)
        c.send(bdat_wire(content, sizes))
        replies = [c.read_reply() for _ in range(len(sizes) + 1)]
        self.assertReply(c.cmd("NOOP"), 250)
        return replies

    def test_ehlo_offers_chunking(self):
        c = self.client()
        r = c.cmd("EHLO c")
        words = [l.split()[0] for l in r.text.split("\n")[1:]]
        self.assertIn("CHUNKING", words)
        self.assertNotIn("BINARYMIME", words)

    def test_pipelined_chunks_signed_and_verified(self):
        content = message(body=b"line one\r\n.leading dot\r\nlast line\r\n")
        # Cuts inside a header, between CR and LF, and in the body.
        cut = [7, content.index(b"\r\n") + 1 - 7, 30]
        before = len(self.d.outbox())
        replies = self.send_chunks(content, cut)
        for r, n in zip(replies, cut):
            self.assertReply(r, 250, "2.0.0", "Ok: %d octets received" % n)
        self.assertReply(replies[-1], 250, None, "queued as")
        msgs = self.d.outbox()
        self.assertEqual(len(msgs), before + 1)
        self.assertTrue(msgs[-1].endswith(content.split(b"\r\n\r\n", 1)[1]))
        for name, res in verifiers.verify_all(msgs[-1], self.d.dns).items():
            with self.subTest(verifier=name):
                self.assertTrue(res and all(r.passed for r in res), res)

    def test_chunk_content_is_never_commands(self):
        # SM-01/SM-02 with BDAT: a DATA end and commands inside a chunk
        # are content, and the chunk count alone decides where it ends.
        smuggled = (b"\r\n.\r\nMAIL FROM:<mallory@example.com>\r\n"
                    b"RCPT TO:<victim@dest.test>\r\nDATA\r\n\r\nevil\r\n")
        content = message(body=b"before" + smuggled + b"after\r\n")
        before = len(self.d.outbox())
        replies = self.send_chunks(content, [len(content) // 2])
        self.assertReply(replies[0], 250, "2.0.0")
        self.assertReply(replies[-1], 250, None, "queued as")
        msgs = self.d.outbox()
        self.assertEqual(len(msgs), before + 1)
        self.assertIn(b"before\r\n.\r\nMAIL FROM:<mallory@example.com>",
                      msgs[-1])
        self.assertTrue(verifiers.dkimpy(msgs[-1], self.d.dns)[0].passed)

    def test_bdat_zero_last_ends_message(self):
        content = message()
        before = len(self.d.outbox())
        c = self.client()
        self.start_txn(c)
        c.send(b"BDAT %d\r\n" % len(content) + content + b"BDAT 0 LAST\r\n")
        self.assertReply(c.read_reply(), 250, "2.0.0",
                         "%d octets received" % len(content))
        self.assertReply(c.read_reply(), 250, None, "queued as")
        self.assertEqual(len(self.d.outbox()), before + 1)

    def test_bare_lf_refused_after_last(self):
        content = message(body=b"one\nMAIL FROM:<x@y>\r\n")
        before = len(self.d.outbox())
        replies = self.send_chunks(content, [len(content) - 5])
        # Problems in the content are told at LAST, as for DATA.
        self.assertReply(replies[0], 250, "2.0.0")
        self.assertReply(replies[1], 550, "5.5.2", "bare <LF> received")
        self.assertEqual(len(self.d.outbox()), before)

    def test_too_big_refused_at_last(self):
        body = b"".join(b"%04d" % i + b"y" * 800 + b"\r\n" for i in range(100))
        content = message(body=body)
        self.assertGreater(len(content), 64 * 1024)
        before = len(self.d.outbox())
        replies = self.send_chunks(content, [40000])
        self.assertReply(replies[0], 250, "2.0.0")
        self.assertReply(replies[1], 552, "5.3.4", "message too big")
        self.assertEqual(len(self.d.outbox()), before)

    def test_mixing_data_after_bdat_503(self):
        content = message()
        before = len(self.d.outbox())
        c = self.client()
        self.start_txn(c)
        c.send(b"BDAT 10\r\n" + content[:10])
        self.assertReply(c.read_reply(), 250, "2.0.0")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1", "cannot be mixed")
        self.assertReply(c.cmd("RCPT TO:<carol@dest.test>"), 503, "5.5.1")
        # The transaction goes on with BDAT.
        c.send(b"BDAT %d LAST\r\n" % (len(content) - 10) + content[10:])
        self.assertReply(c.read_reply(), 250, None, "queued as")
        self.assertEqual(len(self.d.outbox()), before + 1)

    def test_rset_between_chunks_discards(self):
        before = len(self.d.outbox())
        c = self.client()
        self.start_txn(c)
        c.send(b"BDAT 5\r\nFrom:")
        self.assertReply(c.read_reply(), 250, "2.0.0")
        self.assertReply(c.cmd("RSET"), 250)
        # A new transaction with DATA is fine after RSET.
        self.start_txn(c)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(message() + b".\r\n")
        self.assertReply(c.read_reply(), 250)
        self.assertEqual(len(self.d.outbox()), before + 1)

    def test_refused_chunk_is_skipped_by_count(self):
        # Without MAIL, or without an accepted RCPT, the chunk is read
        # and dropped: its commands must not run.
        payload = b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<c@d.test>\r\n"
        for setup, code in ((["EHLO c"], 503),
                            (["EHLO c", "MAIL FROM:<alice@example.com>"], 554)):
            with self.subTest(code=code):
                c = self.client()
                for line in setup:
                    self.assertLess(c.cmd(line).code, 400)
                c.send(b"BDAT %d LAST\r\n" % len(payload) + payload +
                       b"NOOP\r\n")
                r = c.read_replies(quiet=0.5)
                self.assertEqual([x.code for x in r], [code, 250], r)

    def test_bad_bdat_syntax_closes(self):
        for line in ("BDAT", "BDAT x LAST", "BDAT 10 NOTLAST",
                     "BDAT 99999999999999999999999"):
            with self.subTest(line=line):
                c = self.client()
                self.start_txn(c)
                r = c.cmd(line)
                self.assertEqual(r.code // 100, 5, r.raw)
                self.assertTrue(r.wellformed, r.raw)
                self.assertTrue(c.expect_closed(5))


class NoFinalCrlf(unittest.TestCase):
    """DK-14: with BDAT a message may end without CRLF.  It is relayed
    with one added, and signed as relayed, under both body
    canonicalizations; dkimpy and OpenDKIM verify it."""

    def daemon(self, canon, upstream="file"):
        d = Signetd(upstream=upstream)
        d.write_config(d.config_text() +
                       "signing: { canonicalization: %s }\n" % canon)
        self.addCleanup(d.cleanup)
        return d.start()

    def send_bdat(self, d, content, sizes=()):
        with RawSMTP(d.port) as c:
            self.assertEqual(c.read_reply().code, 220)
            self.assertEqual(c.cmd("EHLO c").code, 250)
            self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<bob@dest.test>").code, 250)
            c.send(bdat_wire(content, sizes))
            return [c.read_reply() for _ in range(len(sizes) + 1)]

    def test_signed_as_relayed(self):
        # DK-14's vectors, and the same without their final CRLF.
        bodies = [b"", b"\r\n\r\n", b"x\r\n \r\n\t\r\n", b"x\r\n \r\n\t",
                  b"no newline", b"a\r\n\r\nb"]
        for canon in ("simple/simple", "relaxed/relaxed"):
            d = self.daemon(canon)
            for body in bodies:
                with self.subTest(canon=canon, body=body):
                    content = message(body=body)
                    before = len(d.outbox())
                    r = self.send_bdat(d, content)
                    self.assertEqual(r[-1].code, 250, r[-1].raw)
                    msg = d.outbox()[before]
                    want = body + (b"\r\n" if body and
                                   not body.endswith(b"\r\n") else b"")
                    self.assertTrue(msg.endswith(b"\r\n\r\n" + want), msg)
                    for name in ("dkimpy", "opendkim"):
                        res = verifiers.verify_all(msg, d.dns, (name,))[name]
                        self.assertTrue(res and all(x.passed for x in res),
                                        (name, res))

    def test_relayed_upstream_as_data(self):
        # The upstream offers no CHUNKING: it gets DATA, stuffed, with the
        # CRLF the message lacked.
        with FakeUpstream(Script()) as up:
            d = self.daemon("relaxed/relaxed", upstream=up.port)
            body = b".dot first\r\n..two dots\r\nno newline"
            r = self.send_bdat(d, message(body=body), [20])
            self.assertEqual(r[0].code, 250, r[0].raw)
            self.assertEqual(r[-1].code, 250, r[-1].raw)
            tx = up.wait_transactions(1)[0]
            self.assertTrue(tx.completed)
            self.assertTrue(tx.content.endswith(body + b"\r\n"))
            self.assertIn(b"\r\n...two dots\r\n", tx.wire)
            res = verifiers.dkimpy(tx.content, d.dns)
            self.assertTrue(res and all(x.passed for x in res), res)


class ThroughPostfix(unittest.TestCase):
    """REALUP: a chunked message without a final CRLF, relayed by a real
    Postfix (as DATA from us), still verifies at the far end."""

    def test_bdat_through_postfix(self):
        s, pf = sink_behind_postfix(self)
        d = Signetd(upstream=pf.port, upstream_timeouts={"final": "30s"})
        self.addCleanup(d.cleanup)
        d.start()
        content = message(body=b"chunked\r\n.dot line\r\nno final newline")
        with RawSMTP(d.port) as c:
            self.assertEqual(c.read_reply().code, 220)
            self.assertEqual(c.cmd("EHLO c").code, 250)
            self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<bob@dest.test>").code, 250)
            c.send(bdat_wire(content, [33]))
            self.assertEqual(c.read_reply().code, 250)
            r = c.read_reply()
            self.assertEqual(r.code, 250, r.raw)
        self.assertEqual(len(s.wait_count(1, timeout=30)), 1)
        m = s.messages()[0]
        self.assertIn(b".dot line", m.content)
        res = verifiers.dkimpy(m.content, d.dns)
        self.assertTrue(res and all(x.passed for x in res), res)


if __name__ == "__main__":
    tap.main()
