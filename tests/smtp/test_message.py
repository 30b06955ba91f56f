"""Messages through signetd to the file sink: signed mail verifies with
every independent verifier (promise 2), and the content rules of
hostile-inputs.md A and B hold: strict end of data and no smuggling
(SM-01, SM-02, SM-05, SM-07, SM-08), From rules (DK-03, DK-04, TN-02),
submission edits (DK-15), hop count (DK-16), size (PR-08), missing keys
(TN-04).  Clients: raw sockets, Python smtplib and swaks."""
import os
import re
import shutil
import smtplib
import subprocess

import tap
import verifiers
from daemon import SessionTest, Signetd, message
from rawsmtp import RawSMTP, dot_stuff, session


def headers_of(msg):
    return msg.split(b"\r\n\r\n", 1)[0]


class Signing(SessionTest):
    def send(self, content, frm="alice@example.com", rcpts=("bob@dest.test",)):
        return session(self.d.port, frm, list(rcpts), content)

    def test_signed_and_verified_everywhere(self):
        before = len(self.d.outbox())
        replies = self.send(message())
        self.assertEqual(replies[-1].code, 250, replies[-1].raw)
        self.assertIn("queued as", replies[-1].text)
        msgs = self.d.outbox()
        self.assertEqual(len(msgs), before + 1)
        msg = msgs[-1]
        tags = verifiers.signature_tags(msg)
        self.assertEqual([(t[0], t[1]) for t in tags],
                         [("example.com", "s1"), ("example.com", "s2")])
        results = verifiers.verify_all(msg, self.d.dns)
        for name, res in results.items():
            with self.subTest(verifier=name):
                self.assertEqual(len(res), 2)
                self.assertTrue(all(r.passed for r in res), res)

    def test_smtplib_and_swaks(self):
        before = len(self.d.outbox())
        with smtplib.SMTP("127.0.0.1", self.d.port, timeout=10) as s:
            s.sendmail("alice@example.com", ["bob@dest.test", "carol@dest.test"],
                       message(subject="via smtplib"))
        p = subprocess.run(
            ["swaks", "--server", "127.0.0.1:%d" % self.d.port,
             "--from", "alice@example.com", "--to", "bob@dest.test",
             "--header", "From: Alice <alice@example.com>",
             "--header", "Subject: via swaks", "--pipeline"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors="replace"))
        msgs = self.d.outbox()[before:]
        self.assertEqual(len(msgs), 2)
        for msg in msgs:
            with self.subTest(subject=[l for l in headers_of(msg).split(b"\r\n")
                                       if l.startswith(b"Subject")]):
                res = verifiers.dkimpy(msg, self.d.dns)
                self.assertTrue(res and all(r.passed for r in res), res)

    def test_dot_stuffing_sm08(self):
        before = len(self.d.outbox())
        body = b".\r\n..\r\n...x\r\n.\tTab\r\nend\r\n"
        replies = self.send(message(body=body))
        self.assertEqual(replies[-1].code, 250, replies[-1].raw)
        msg = self.d.outbox()[before]
        self.assertTrue(msg.endswith(b"\r\n\r\n" + body), msg[-80:])
        for name, res in verifiers.verify_all(msg, self.d.dns).items():
            with self.subTest(verifier=name):
                self.assertTrue(res and all(r.passed for r in res), res)

    def test_submission_edits_dk15(self):
        before = len(self.d.outbox())
        content = (b"From: alice@example.com\r\nTo: bob@dest.test\r\n"
                   b"Bcc: secret@dest.test\r\nReturn-Path: <x@y.test>\r\n"
                   b"Content-Length: 5\r\nSubject: edits\r\n\r\nbody\r\n")
        replies = self.send(content)
        self.assertEqual(replies[-1].code, 250, replies[-1].raw)
        msg = self.d.outbox()[before]
        head = headers_of(msg).lower()
        for gone in (b"\r\nbcc:", b"\r\nreturn-path:", b"\r\ncontent-length:"):
            self.assertNotIn(gone, head)
        self.assertIn(b"\r\ndate:", head)
        self.assertIn(b"\r\nmessage-id:", head)
        self.assertTrue(head.startswith(b"received: from"))
        res = verifiers.dkimpy(msg, self.d.dns)
        self.assertTrue(res and all(r.passed for r in res), res)

    def test_pipelined_two_messages_sm07(self):
        before = len(self.d.outbox())
        with RawSMTP(self.d.port) as c:
            c.read_reply()
            c.cmd("EHLO c")
            one = b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@dest.test>\r\nDATA\r\n"
            c.send(one)
            self.assertEqual([r.code for r in (c.read_reply(), c.read_reply(),
                                                c.read_reply())], [250, 250, 354])
            c.send(dot_stuff(message(subject="one")) + b".\r\n" + one)
            codes = [c.read_reply().code for _ in range(4)]
            self.assertEqual(codes, [250, 250, 250, 354])
            c.send(dot_stuff(message(subject="two")) + b".\r\nQUIT\r\n")
            self.assertEqual(c.read_reply().code, 250)
            self.assertEqual(c.read_reply().code, 221)
        msgs = self.d.outbox()[before:]
        self.assertEqual(len(msgs), 2)
        self.assertIn(b"Subject: one", msgs[0] + msgs[1])
        self.assertIn(b"Subject: two", msgs[0] + msgs[1])


# The nine smtpsmug sequences (hannob/smtpsmug), each followed by a
# smuggled transaction and the real end of data.
SMUGGLE = [(b"lflf", b"\n.\n"), (b"crcr", b"\r.\r"), (b"crlf", b"\r\n.\n"),
           (b"lfcr", b"\n.\r"), (b"lfcrlf", b"\n.\r\n"), (b"crlflf", b"\r\n.\n\n"),
           (b"crcrlf", b"\r.\r\n"), (b"crlfcr", b"\r\n.\r"),
           (b"nullbefore", b"\r\n\x00.\r\n")]


class Content(SessionTest):
    def raw_transaction(self, data):
        """EHLO, MAIL, RCPT, DATA, then data as is; the final reply."""
        with RawSMTP(self.d.port).open_data() as c:
            c.send(data)
            replies = [c.read_reply()]
            replies += c.read_replies(quiet=0.5)
            return replies

    def test_smuggling_sm01_sm02(self):
        for name, seq in SMUGGLE:
            with self.subTest(sequence=name.decode()):
                before = len(self.d.outbox())
                data = (message() + b"line" + seq +
                        b"MAIL FROM:<x@evil.test>\r\nRCPT TO:<victim@test>\r\n"
                        b"DATA\r\nFrom: x@evil.test\r\n\r\nsmuggled\r\n\r\n.\r\n")
                replies = self.raw_transaction(data)
                self.assertEqual(len(replies), 1, replies)
                self.assertEqual(replies[0].code // 100, 5, replies[0].raw)
                self.assertTrue(replies[0].wellformed)
                self.assertEqual(len(self.d.outbox()), before)

    def test_bad_content_replies(self):
        """Refusals after the strict end of data, nothing relayed: SM-01,
        SM-02, SM-05, DK-11 (body line), DK-03, DK-04, TN-02, DK-08,
        DK-16 (50 Received)."""
        cases = [
            ("bare_lf", message() + b"a\nb\r\n", 550, "5.5.2", "bare <LF> received"),
            ("bare_cr", message() + b"a\rb\r\n", 550, "5.5.2", "bare <CR> received"),
            ("cr_in_header", b"From: alice@example.com\r\nSubject: a\r\r\nX-Y: z\r\n\r\nb\r\n",
             550, "5.5.2", "bare <CR>"),
            ("nul", message(body=b"a\x00b\r\n"), 554, "5.6.0", "NUL"),
            ("esc_in_subject", message(subject="a\x1bb"), 554, "5.6.0",
             "control character in header"),
            ("long_body_line", message(body=b"x" * 5000 + b"\r\n"), 554, "5.6.0",
             "998"),
            ("no_from", b"To: bob@dest.test\r\n\r\nbody\r\n", 554, "5.6.0",
             "exactly one From address"),
            ("two_from", message(extra=b"From: alice@example.com\r\n"), 554,
             "5.6.0", "more than one From"),
            ("group_from", message(frm="undisclosed:;"), 554, "5.6.0",
             "exactly one From"),
            ("two_mailboxes", message(frm="a@example.com, b@victim.test"), 554,
             "5.6.0", "exactly one From"),
            ("unqualified", message(frm="bob"), 554, "5.6.0", "exactly one From"),
            ("not_owned", message(frm="x@victim.test"), 550, "5.7.1",
             "local may not send as victim.test"),
            ("lookalike", message(frm="x@example.com.victim.test"), 550, "5.7.1",
             "may not send as"),
            ("other_tenant", message(frm="x@other.test"), 550, "5.7.1",
             "may not send as other.test"),
            ("sender_not_owned", message(extra=b"Sender: x@victim.test\r\n"), 550,
             "5.7.1", "may not send as victim.test"),
            ("malformed_header", b"From: alice@example.com\r\nno colon here\r\n\r\nb\r\n",
             554, "5.6.0", "malformed header section"),
            ("hops", b"Received: from x by y; now\r\n" * 50 + message(), 554,
             "5.4.0", "too many hops"),
        ]
        for name, content, code, enh, text in cases:
            with self.subTest(case=name):
                before = len(self.d.outbox())
                replies = self.raw_transaction(dot_stuff(content) + b".\r\n")
                self.assertEqual(len(replies), 1, replies)
                r = replies[0]
                self.assertTrue(r.wellformed, r.raw)
                self.assertEqual((r.code, r.enhanced), (code, enh), r.raw)
                self.assertIn(text, r.text)
                self.assertEqual(len(self.d.outbox()), before)

    def test_accepted_edge_cases(self):
        """Accepted and verified: DK-16 (49 Received), DK-04 (quoted
        display name with @ signs for the addr-spec domain), SM-05 (FF in
        the body), DK-14 (empty body)."""
        cases = [
            ("49_hops", b"Received: from x by y; now\r\n" * 49 + message()),
            ("quoted_display_name", message(frm='"bob@victim.test" <alice@example.com>')),
            ("form_feed_in_body", message(body=b"page\x0cbreak\r\n")),
            ("empty_body", message(body=b"")),
            ("upper_case_domain", message(frm="alice@EXAMPLE.COM")),
        ]
        for name, content in cases:
            with self.subTest(case=name):
                before = len(self.d.outbox())
                replies = self.raw_transaction(dot_stuff(content) + b".\r\n")
                self.assertEqual(replies[0].code, 250, replies[0].raw)
                msg = self.d.outbox()[before]
                res = verifiers.dkimpy(msg, self.d.dns)
                self.assertTrue(res and all(r.passed for r in res), res)
                self.assertEqual({r.d for r in res}, {"example.com"})

    def test_too_big_pr08(self):
        before = len(self.d.outbox())
        big = message(body=(b"x" * 900 + b"\r\n") * 100)
        replies = self.raw_transaction(dot_stuff(big) + b".\r\n")
        self.assertEqual((replies[0].code, replies[0].enhanced), (552, "5.3.4"))
        self.assertEqual(len(self.d.outbox()), before)
        with RawSMTP(self.d.port) as c:
            c.read_reply()
            c.cmd("EHLO c")
            r = c.cmd("MAIL FROM:<alice@example.com> SIZE=%d" % (1 << 20))
            self.assertEqual((r.code, r.enhanced), (552, "5.3.4"))

    def test_client_lost_mid_data_pr11(self):
        before = len(self.d.outbox())
        with RawSMTP(self.d.port).open_data() as c:
            c.send(message()[:30])
        self.assertTrue(self.d.wait_log(b"event=client_lost stage=DATA"))
        self.assertEqual(len(self.d.outbox()), before)


MIME_MSG = (b"From: Alice <alice@example.com>\r\n"
            b"To: bob@dest.test\r\n"
            b"Subject: invoice\r\n"
            b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
            b"Reply-To: alice@example.com\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
            b"\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\nPay 10 EUR.\r\n"
            b"--b1--\r\n")


class Hostile(SessionTest):
    """Rows of hostile-inputs B checked end to end: header syntax (DK-08,
    DK-09), the rest of the From rules (DK-04), copies altered after
    signing fail every verifier (DK-01, DK-02, DK-05), and messages that
    already carry our signature (DK-06)."""

    def send(self, content):
        return session(self.d.port, "alice@example.com", ["bob@dest.test"],
                       content)

    def raw_transaction(self, data):
        """EHLO, MAIL, RCPT, DATA, then data as is; the replies after it."""
        with RawSMTP(self.d.port).open_data() as c:
            c.send(data)
            return [c.read_reply()] + c.read_replies(quiet=0.5)

    def test_header_syntax_and_from_refused_dk04_dk08_dk09(self):
        body = b"\r\nbody\r\n"
        ok = b"From: alice@example.com\r\nTo: bob@dest.test\r\n"
        cases = [
            ("first_line_folded", b" X-A: y\r\n" + ok + body),
            ("space_before_colon", b"From : alice@example.com\r\n" + body),
            ("8bit_field_name", ok + b"X-\xc3\xa9: v\r\n" + body),
            ("ctrl_field_name", ok + b"X-\x01: v\r\n" + body),
            ("utf8_bom", b"\xef\xbb\xbf" + ok + body),
            ("whitespace_only_line", ok + b"Subject: a\r\n \r\n" + body),
            ("empty_from", b"From:\r\nTo: bob@dest.test\r\n" + body),
            ("from_in_comment", b"From: (alice@example.com)\r\n" + body),
            ("from_encoded_word",
             b"From: =?utf-8?q?alice=40example.com?=\r\n" + body),
            ("empty_message", b""),
        ]
        for name, content in cases:
            with self.subTest(case=name):
                before = len(self.d.outbox())
                replies = self.raw_transaction(dot_stuff(content) + b".\r\n")
                self.assertEqual(len(replies), 1, replies)
                r = replies[0]
                self.assertTrue(r.wellformed, r.raw)
                self.assertEqual((r.code, r.enhanced), (554, "5.6.0"), r.raw)
                self.assertEqual(len(self.d.outbox()), before)

    def tampered(self, signed):
        head, body = signed.split(b"\r\n\r\n", 1)
        out = []
        for field in (b"From: CEO <ceo@example.com>", b"To: victim@dest.test",
                      b"Subject: urgent", b"Date: Tue, 24 Nov 2026 10:00:00 +0000",
                      b"Reply-To: thief@evil.test",
                      b"Content-Type: text/plain"):
            out.append(("second " + field.split(b":")[0].decode(),
                        field + b"\r\n" + signed))
        out.append(("appended part", head + b"\r\n\r\n" + body.replace(
            b"--b1--\r\n", b"--b1\r\nContent-Type: text/html\r\n\r\n"
            b"<a href=http://evil.test>pay here</a>\r\n--b1--\r\n")))
        out.append(("new boundary", head.replace(b'boundary="b1"',
                                                 b'boundary="b2"') +
                    b"\r\n\r\n--b2\r\nContent-Type: text/plain\r\n\r\n"
                    b"Pay 1000 EUR.\r\n--b2--\r\n" + body))
        return out

    def test_copies_altered_after_signing_fail_dk01_dk02_dk05(self):
        before = len(self.d.outbox())
        self.assertEqual(self.send(MIME_MSG)[-1].code, 250)
        signed = self.d.outbox()[before]
        self.assertNotRegex(signed, rb"DKIM-Signature:[^\r]*[;\s]l=")
        for name, res in verifiers.verify_all(signed, self.d.dns).items():
            self.assertTrue(res and all(r.passed for r in res), (name, res))
        for case, msg in self.tampered(signed):
            for name in ("dkimpy", "opendkim"):
                with self.subTest(case=case, verifier=name):
                    res = verifiers.verify_all(msg, self.d.dns, (name,))[name]
                    self.assertTrue(res, res)
                    self.assertFalse(any(r.passed for r in res), res)

    def test_existing_signature_kept_dk06(self):
        before = len(self.d.outbox())
        self.assertEqual(self.send(message(subject="first"))[-1].code, 250)
        signed = self.d.outbox()[before]
        # Tenant "other" (127.0.0.3) re-submits it: not its domain.
        r = session(self.d.port, "x@other.test", ["bob@dest.test"], signed,
                    source="127.0.0.3")
        self.assertEqual((r[-1].code, r[-1].enhanced), (550, "5.7.1"), r[-1].raw)
        # The same tenant: kept, not covered by our h=, ours on top.
        self.assertEqual(self.send(signed)[-1].code, 250)
        again = self.d.outbox()[-1]
        self.assertEqual(again.count(b"DKIM-Signature:"), 4)
        res = verifiers.dkimpy(again, self.d.dns)
        self.assertEqual(len(res), 4)
        self.assertTrue(all(x.passed for x in res), res)
        for sig in re.findall(rb"DKIM-Signature:.*?(?=\r\n\S)", again, re.S):
            h = re.search(rb"h=([^;]*)", sig).group(1)
            self.assertNotIn(b"dkim-signature", re.sub(rb"\s", b"", h).lower())


class NoKey(SessionTest):
    """A domain the tenant owns but without keys (TN-04)."""
    def test_no_key_451(self):
        d = Signetd()
        self.addCleanup(d.cleanup)
        # Drop the key store entry: the domain is configured, keys are not.
        shutil.rmtree(os.path.join(d.keystore, "example.com"))
        d.start()
        replies = session(d.port, "alice@example.com", ["bob@dest.test"], message())
        self.assertEqual((replies[-1].code, replies[-1].enhanced), (451, "4.3.0"))
        self.assertIn("no signing key for example.com", replies[-1].text)
        self.assertEqual(d.outbox(), [])

    def test_unsigned_allowed(self):
        d = Signetd(tenant_extra=["unsigned: allow"])
        self.addCleanup(d.cleanup)
        shutil.rmtree(os.path.join(d.keystore, "example.com"))
        d.start()
        replies = session(d.port, "alice@example.com", ["bob@dest.test"], message())
        self.assertEqual(replies[-1].code, 250)
        self.assertNotIn(b"DKIM-Signature", d.outbox()[0])
        self.assertIn(b"event=unsigned", d.read_log())

    def test_one_selector_missing_signs_with_other(self):
        d = Signetd(domains_keys=("s2",))
        self.addCleanup(d.cleanup)
        d.start()
        replies = session(d.port, "alice@example.com", ["bob@dest.test"], message())
        self.assertEqual(replies[-1].code, 250)
        res = verifiers.dkimpy(d.outbox()[0], d.dns)
        self.assertEqual([(r.s, r.passed) for r in res], [("s2", True)])
        self.assertIn(b"event=signing_key_missing d=example.com s=s1", d.read_log())


if __name__ == "__main__":
    tap.main()
