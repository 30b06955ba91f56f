"""Lines over 998 octets (hostile-inputs.md DK-11): a long header field
is refolded at its own whitespace before signing, so no later hop breaks
the line and the signature; a header line with no fold point, and any
long body line, is refused after the strict end of data.  DK-10's header
limits still apply to long fields."""
import re
import unittest

import tap
import verifiers
from daemon import SessionTest, Signetd, message
from peers import sink_behind_postfix
from rawsmtp import RawSMTP, session


def references(octets):
    """A References field of about `octets` octets on one line (the
    gromox #360 case: 1103 octets)."""
    ids, n = [], 0
    while n < octets:
        ids.append("<%08d.thread-reply@mail.example.com>" % len(ids))
        n += len(ids[-1]) + 1
    return ("References: " + " ".join(ids)).encode()


def field(msg, name):
    """The raw field (folded lines joined with their CRLF) from msg."""
    head = msg.split(b"\r\n\r\n", 1)[0]
    m = re.search(rb"(?im)^" + name + rb":[^\r\n]*(\r\n[ \t][^\r\n]*)*",
                  head)
    return m.group(0) if m else None


def longest_line(msg):
    return max(len(l) for l in msg.split(b"\r\n\r\n", 1)[0].split(b"\r\n"))


class FileSink(SessionTest):
    def send(self, content):
        return session(self.d.port, "alice@example.com", ["bob@dest.test"],
                       content)

    def test_long_references_refolded_and_verified(self):
        ref = references(1103)
        self.assertGreater(len(ref), 998)
        before = len(self.d.outbox())
        r = self.send(message(extra=ref + b"\r\n"))
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        msg = self.d.outbox()[before]
        self.assertLessEqual(longest_line(msg), 998)
        got = field(msg, b"References")
        self.assertIn(b"\r\n ", got)
        # Only CRLFs were added, each before existing whitespace.
        self.assertEqual(got.replace(b"\r\n", b""), ref)
        self.assertIn(b"event=header_refolded", self.d.read_log())
        for name, res in verifiers.verify_all(msg, self.d.dns).items():
            with self.subTest(verifier=name):
                self.assertTrue(res and all(x.passed for x in res), res)

    def test_long_folded_continuation_line(self):
        # The long line is a continuation line of a folded field.
        ref = references(400) + b"\r\n " + references(3000)[12:]
        before = len(self.d.outbox())
        r = self.send(message(extra=ref + b"\r\n"))
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        msg = self.d.outbox()[before]
        self.assertLessEqual(longest_line(msg), 998)
        self.assertEqual(field(msg, b"References").replace(b"\r\n", b""),
                         ref.replace(b"\r\n", b""))
        self.assertTrue(all(x.passed for x in
                            verifiers.dkimpy(msg, self.d.dns)))

    def test_unfoldable_header_line_refused(self):
        cases = [b"X-Token: " + b"a" * 1200,
                 b"X-Spaces-Early: a b " + b"c" * 1200]
        for extra in cases:
            with self.subTest(octets=len(extra)):
                before = len(self.d.outbox())
                r = self.send(message(extra=extra + b"\r\n"))
                self.assertEqual((r[-1].code, r[-1].enhanced), (554, "5.6.0"),
                                 r[-1].raw)
                self.assertIn("998", r[-1].text)
                self.assertEqual(len(self.d.outbox()), before)

    def test_long_field_over_field_limit(self):
        # DK-10 still holds: the test config's header_field_max is 16K.
        before = len(self.d.outbox())
        r = self.send(message(extra=references(20000) + b"\r\n"))
        self.assertEqual((r[-1].code, r[-1].enhanced), (552, "5.3.4"),
                         r[-1].raw)
        self.assertEqual(len(self.d.outbox()), before)

    def test_long_body_line_still_refused(self):
        before = len(self.d.outbox())
        r = self.send(message(extra=references(1103) + b"\r\n",
                              body=b"y" * 5000 + b"\r\n"))
        self.assertEqual((r[-1].code, r[-1].enhanced), (554, "5.6.0"),
                         r[-1].raw)
        self.assertIn("line longer than 998 octets", r[-1].text)
        self.assertEqual(len(self.d.outbox()), before)

    def test_bdat_long_header(self):
        content = message(extra=references(1103) + b"\r\n")
        before = len(self.d.outbox())
        with RawSMTP(self.d.port) as c:
            c.read_reply()
            c.cmd("EHLO c")
            c.cmd("MAIL FROM:<alice@example.com>")
            c.cmd("RCPT TO:<bob@dest.test>")
            c.send(b"BDAT 500\r\n" + content[:500] +
                   b"BDAT %d LAST\r\n" % (len(content) - 500) + content[500:])
            self.assertEqual(c.read_reply().code, 250)
            r = c.read_reply()
            self.assertEqual(r.code, 250, r.raw)
        msg = self.d.outbox()[before]
        self.assertLessEqual(longest_line(msg), 998)
        self.assertTrue(all(x.passed for x in
                            verifiers.dkimpy(msg, self.d.dns)))


class ThroughPostfix(unittest.TestCase):
    """REALUP: Postfix would break a 1103-octet line after signing; the
    refolded field arrives intact and the signature verifies."""

    def test_references_through_postfix(self):
        s, pf = sink_behind_postfix(self)
        d = Signetd(upstream=pf.port, upstream_timeouts={"final": "30s"})
        self.addCleanup(d.cleanup)
        d.start()
        r = session(d.port, "alice@example.com", ["bob@dest.test"],
                    message(extra=references(1103) + b"\r\n"))
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        self.assertEqual(len(s.wait_count(1, timeout=30)), 1)
        m = s.messages()[0]
        res = verifiers.dkimpy(m.content, d.dns)
        self.assertTrue(res and all(x.passed for x in res), res)


if __name__ == "__main__":
    tap.main()
