"""signetd relaying to real and scripted upstreams (hostile-inputs.md G):
the client hears the upstream's own MAIL/RCPT/final replies (promise 1,
UP-04, UP-05); an unreachable, slow or misbehaving upstream becomes a
451, never a 250 (UP-01, UP-02, UP-03, UP-06); 8-bit content needs
8BITMIME upstream (DK-12); a real Postfix relays mail whose signatures
still verify (DK-15), and smuggling payloads never become two messages
at a lenient Postfix (SM-03)."""
import socket
import time
import unittest

import tap
import verifiers
from daemon import Signetd, message
import fakeup
from fakeup import Close, DataFault, Script, Stall
from peers import SmtpSink, sink_behind_postfix
from rawsmtp import RawSMTP, dot_stuff, session

FAST = {"connect": "2s", "greeting": "2s", "command": "3s", "final": "3s",
        "noop_interval": "1s"}


class UpstreamTest(unittest.TestCase):
    def daemon(self, port, timeouts=FAST, **kw):
        d = Signetd(upstream=port, upstream_timeouts=timeouts, **kw)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def fake(self, script=None):
        return fakeup.started(self, script)

    def sink(self, flags=()):
        s = SmtpSink(flags)
        s.start()
        self.addCleanup(s.cleanup)
        return s

    def send(self, d, content=None, rcpts=("bob@dest.test",), frm="alice@example.com"):
        return session(d.port, frm, list(rcpts),
                       content if content is not None else message())


class Sink(UpstreamTest):
    def test_relayed_signed_verified(self):
        s = self.sink()
        d = self.daemon(s.port)
        replies = self.send(d, rcpts=("bob@dest.test", "carol@dest.test"))
        self.assertEqual(replies[-1].code, 250, replies[-1].raw)
        self.assertEqual(len(s.wait_count(1)), 1)
        m = s.messages()[0]
        self.assertEqual(sorted(m.rcpt_addrs), ["bob@dest.test", "carol@dest.test"])
        for name, res in verifiers.verify_all(m.content, d.dns).items():
            with self.subTest(verifier=name):
                self.assertTrue(res and all(r.passed for r in res), res)
        self.assertIn(b"event=message", d.read_log())

    def test_upstream_final_reply_passed_up04(self):
        for flag, code in (("-r", 450), ("-f", 500)):
            with self.subTest(flag=flag):
                s = self.sink([flag, "."])
                d = self.daemon(s.port)
                r = self.send(d)[-1]
                self.assertEqual(r.code, code, r.raw)
                self.assertTrue(r.wellformed)

    def test_upstream_refuses_connection_up01(self):
        s = self.sink(["-Q", "CONNECT"])
        d = self.daemon(s.port)
        r = self.send(d)
        self.assertEqual((r[-1].code, r[-1].enhanced), (451, "4.3.0"), r[-1].raw)

    def test_slow_after_dot_up02(self):
        for delay, code in ((10, 451), (1, 250)):
            with self.subTest(delay=delay):
                s = self.sink(["-W", ".:%d" % delay])
                d = self.daemon(s.port)
                t = time.monotonic()
                r = self.send(d)[-1]
                self.assertEqual(r.code, code, r.raw)
                self.assertLess(time.monotonic() - t, 8)
                if code == 451:
                    self.assertEqual(r.enhanced, "4.4.2")
                    self.assertTrue(d.wait_log(b"possible_duplicate=yes"))

    def test_disconnect_after_dot(self):
        s = self.sink(["-q", "."])
        d = self.daemon(s.port)
        r = self.send(d)[-1]
        self.assertEqual((r.code, r.enhanced), (451, "4.4.2"), r.raw)
        self.assertTrue(d.wait_log(b"possible_duplicate=yes"))

    def test_8bit_needs_8bitmime_dk12(self):
        body = "Grüße\r\n".encode()
        s = self.sink(["-8"])
        d = self.daemon(s.port)
        r = self.send(d, message(body=body))[-1]
        self.assertEqual((r.code, r.enhanced), (554, "5.6.3"), r.raw)
        self.assertFalse([m for m in s.messages() if body in m.content])
        s2 = self.sink()
        d2 = self.daemon(s2.port)
        r = self.send(d2, message(body=body))[-1]
        self.assertEqual(r.code, 250, r.raw)


class Fake(UpstreamTest):
    def test_down_up01(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        d = self.daemon(port)
        with RawSMTP(d.port) as c:
            c.read_reply()
            c.cmd("EHLO c")
            r = c.cmd("MAIL FROM:<alice@example.com>")
            self.assertEqual((r.code, r.enhanced), (451, "4.4.1"), r.raw)
            self.assertIn("upstream unavailable", r.text)
            # The session survives; RSET still works.
            self.assertEqual(c.cmd("RSET").code, 250)

    def test_never_greets_up01(self):
        up = self.fake(Script(greeting=None))
        d = self.daemon(up.port)
        t = time.monotonic()
        r = self.send(d)[-1]
        self.assertEqual((r.code, r.enhanced), (451, "4.4.1"), r.raw)
        self.assertLess(time.monotonic() - t, 6)

    def test_refused_session_up01(self):
        # An upstream that will not open a session, at its greeting, at
        # EHLO, or at EHLO then HELO: the client gets 451 and the log
        # names the refused step.
        for script, event in (
                (Script(greeting="421 4.3.2 fakeup busy"), b"upstream_greeting_refused"),
                (Script(ehlo=["421 4.3.2 fakeup busy"]), b"upstream_ehlo_refused"),
                (Script(ehlo=["502 5.5.1 no EHLO"], helo="421 4.3.2 fakeup busy"),
                 b"upstream_helo_refused")):
            with self.subTest(event=event):
                d = self.daemon(self.fake(script).port)
                r = self.send(d)[-1]
                self.assertEqual((r.code, r.enhanced), (451, "4.3.0"), r.raw)
                self.assertIn("upstream unavailable", r.text)
                self.assertTrue(d.wait_log(event))
                self.assertTrue(d.wait_log(b"upstream_unavailable"))

    def test_mail_rcpt_replies_are_upstreams_up05(self):
        up = self.fake(Script(mail="250 2.1.0 Sender fine",
                              rcpt={"b@dest.test": "550 5.1.1 <b@dest.test>: no such user"}))
        d = self.daemon(up.port)
        with RawSMTP(d.port) as c:
            c.read_reply()
            c.cmd("EHLO c")
            r = c.cmd("MAIL FROM:<alice@example.com>")
            self.assertEqual((r.code, r.text), (250, "2.1.0 Sender fine"))
            a = c.cmd("RCPT TO:<a@dest.test>")
            b = c.cmd("RCPT TO:<b@dest.test>")
            self.assertEqual(a.code, 250)
            self.assertEqual((b.code, b.enhanced), (550, "5.1.1"))
            self.assertIn("no such user", b.text)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(dot_stuff(message()) + b".\r\n")
            final = c.read_reply()
            self.assertEqual(final.code, 250, final.raw)
            self.assertIn("queued as FAKE", final.text)
        up.wait_transactions(1)
        self.assertEqual(up.transactions[0].rcpts, [b"<a@dest.test>"])

    def test_all_rcpts_refused_no_data(self):
        up = self.fake(Script(rcpt_default="550 5.1.1 no"))
        d = self.daemon(up.port)
        r = self.send(d)
        self.assertEqual(r[-2].code, 550)
        self.assertEqual((r[-1].code, r[-1].enhanced), (554, "5.5.1"))
        self.assertEqual(up.transactions, [])

    def test_malformed_replies_up06(self):
        cases = [
            ("long_line", b"250 " + b"x" * 5000 + b"\r\n"),
            ("code_mismatch", b"250-ok\r\n550 no\r\n"),
            ("non_digits", b"2x0 ok\r\n"),
            ("bare_lf", b"250 ok\n"),
            ("escape", b"250 \x1b[31mred\r\n"),
            ("wrong_class", b"354 go on\r\n"),
        ]
        for name, rcpt_reply in cases:
            with self.subTest(case=name):
                up = self.fake(Script(rcpt_default=rcpt_reply))
                d = self.daemon(up.port)
                with RawSMTP(d.port) as c:
                    c.read_reply()
                    c.cmd("EHLO c")
                    c.cmd("MAIL FROM:<alice@example.com>")
                    r = c.cmd("RCPT TO:<bob@dest.test>", timeout=8)
                    self.assertTrue(r.wellformed, r.raw)
                    self.assertLessEqual(len(r.raw), 512 * 64)
                    if name == "escape":
                        self.assertEqual(r.code, 250)
                        self.assertNotIn(b"\x1b", r.raw)
                    else:
                        self.assertEqual((r.code, r.enhanced), (451, "4.3.0"),
                                         r.raw)
                self.assertNotIn(b"\x1b", d.read_log())

    def test_more_malformed_replies_up06(self):
        """UP-06, the rest of the row: 1000-line reply, 1-character line,
        reply cut off before CRLF (then silence), a reply to a command not
        yet sent, a multi-line reply that stops half way, and a reply to DATA
        with the wrong class.  The client always gets a well-formed 451
        (4.3.0, or 4.4.2 when the reply never completes), nothing relayed."""
        cases = [
            ("thousand_lines", {"rcpt_default": b"250-x\r\n" * 999 +
                                b"250 ok\r\n"}, "rcpt"),
            ("one_char", {"rcpt_default": b"2\r\n"}, "rcpt"),
            ("cut_off", {"rcpt_default": b"250 2.1.5 O"}, "rcpt"),
            ("unsolicited", {"mail": b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"},
             "rcpt"),
            ("multiline_then_silence", {"rcpt_default": b"250-partial\r\n"},
             "rcpt"),
            ("data_2xx", {"data": b"250 2.0.0 Ok\r\n"}, "data"),
        ]
        for name, kw, stage in cases:
            with self.subTest(case=name):
                up = self.fake(Script(**kw))
                d = self.daemon(up.port)
                r = self.send(d)
                self.assertTrue(all(x.wellformed for x in r),
                                [x.raw for x in r])
                # The first refusal is the one for the broken reply; a
                # later DATA may only add "no valid recipients".
                bad = [x for x in r[1:] if x.code >= 400]
                self.assertTrue(bad, [x.raw for x in r])
                self.assertEqual(bad[0].code, 451, bad[0].raw)
                self.assertIn(bad[0].enhanced, ("4.3.0", "4.4.2"), bad[0].raw)
                self.assertNotEqual(r[-1].code, 250, r[-1].raw)
                self.assertEqual(up.transactions, [])
                self.assertIsNone(d.sanitizer_report())

    def test_log_escapes_client_and_upstream_text_rs04(self):
        """RS-04: format directives in an address, ESC in the EHLO name and
        in a header, ESC in upstream replies: the log holds the escaped
        forms and the directives as plain text, never a raw ESC or CR, and
        the client never sees the upstream's raw ESC."""
        up = self.fake(Script(
            rcpt_default="250 2.1.5 \x1b[31mOk %n%s",
            rcpt={"carol@dest.test": b"250-\x1b[31m%n\r\n550 5.1.1 \r%s\r\n"},
            final="250 2.0.0 \x1b]0;title\x07queued as FAKE%(n)d"))
        d = self.daemon(up.port)
        with RawSMTP(d.port) as c:
            c.read_reply()
            self.assertEqual(c.cmd("EHLO a%n%s\x1b[31m").code, 501)
            self.assertEqual(c.cmd("EHLO client.test").code, 250)
            self.assertEqual(c.cmd("MAIL FROM:<%s%n%x@example.com>").code, 250)
            r = c.cmd("RCPT TO:<bob%s@dest.test>")
            self.assertEqual(r.code, 250, r.raw)
            self.assertTrue(r.wellformed, r.raw)
            self.assertNotIn(b"\x1b", r.raw)
            # A malformed upstream reply is logged, escaped (UP-06).
            r = c.cmd("RCPT TO:<carol@dest.test>")
            self.assertEqual(r.code, 451, r.raw)
            self.assertTrue(r.wellformed, r.raw)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(dot_stuff(message()) + b".\r\n")
            final = c.read_reply()
            self.assertEqual(final.code, 250, final.raw)
            self.assertTrue(final.wellformed, final.raw)
            # ESC in a header is refused (SM-05) and logged escaped.
            self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<bob@dest.test>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(dot_stuff(message(subject="\x1b[2Jhi")) + b".\r\n")
            self.assertEqual(c.read_reply().code, 554)
            c.cmd("QUIT")
        time.sleep(0.3)
        log = d.read_log()
        self.assertNotIn(b"\x1b", log)
        self.assertNotIn(b"\r", log)
        self.assertNotIn(b"\x07", log)
        self.assertIn(b"\\x1b", log)
        # The directives arrive as text: the EHLO detail keeps them.
        self.assertIn(b"EHLO a%n%s\\x1b[31m", log)
        self.assertIn(b"event=upstream_bad_reply", log)
        self.assertIsNone(d.sanitizer_report())

    def test_8bit_relayed_with_body_8bitmime_dk12(self):
        """DK-12: an 8-bit message declared BODY=8BITMIME goes upstream
        with BODY=8BITMIME, bytes unchanged, and its signatures verify."""
        up = self.fake()
        d = self.daemon(up.port)
        body = "Grüße aus Köln\r\n".encode()
        with RawSMTP(d.port) as c:
            c.read_reply()
            c.cmd("EHLO client.test")
            self.assertEqual(c.cmd("MAIL FROM:<alice@example.com> "
                                   "BODY=8BITMIME").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<bob@dest.test>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(dot_stuff(message(body=body)) + b".\r\n")
            self.assertEqual(c.read_reply().code, 250)
        up.wait_transactions(1)
        t8 = up.transactions[0]
        self.assertIn(b"BODY=8BITMIME", t8.mail_from.upper())
        self.assertTrue(t8.content.endswith(body), t8.content[-60:])
        for name, res in verifiers.verify_all(t8.content, d.dns).items():
            with self.subTest(verifier=name):
                self.assertTrue(res and all(r.passed for r in res), res)

    def test_utf8_envelope_and_headers_dk13(self):
        """DK-13: a UTF-8 address needs SMTPUTF8 in MAIL (553 5.6.7); UTF-8
        headers need SMTPUTF8 from the client and from the upstream
        (554 5.6.7); malformed UTF-8 is 554 5.6.0; a declared UTF-8 message
        is relayed with SMTPUTF8, bytes unchanged, and verifies."""
        subj = "Grüße 🌍".encode()
        utf8_msg = (b"From: alice@example.com\r\nTo: bob@dest.test\r\n"
                    b"Subject: " + subj + b"\r\n\r\nHallo\r\n")
        bad_msg = utf8_msg.replace(subj, b"caf\xc3(")

        def tx(d, mail, content, rcpt="bob@dest.test"):
            with RawSMTP(d.port) as c:
                c.read_reply()
                c.cmd("EHLO client.test")
                r = c.cmd(mail)
                if r.code != 250:
                    return r
                r = c.cmd("RCPT TO:<%s>" % rcpt)
                if r.code != 250:
                    return r
                r = c.cmd("DATA")
                if r.code != 354:
                    return r
                c.send(dot_stuff(content) + b".\r\n")
                return c.read_reply()

        up = self.fake()
        d = self.daemon(up.port)
        r = tx(d, "MAIL FROM:<alice@example.com>", message(),
               rcpt="b\u00f6b@dest.test")
        self.assertEqual((r.code, r.enhanced), (553, "5.6.7"), r.raw)
        r = tx(d, "MAIL FROM:<alice@example.com>", utf8_msg)
        self.assertEqual((r.code, r.enhanced), (554, "5.6.7"), r.raw)
        r = tx(d, "MAIL FROM:<alice@example.com> SMTPUTF8", bad_msg)
        self.assertEqual((r.code, r.enhanced), (554, "5.6.0"), r.raw)
        self.assertEqual(up.transactions, [])
        r = tx(d, "MAIL FROM:<alice@example.com> SMTPUTF8", utf8_msg,
               rcpt="b\u00f6b@dest.test")
        self.assertEqual(r.code, 250, r.raw)
        up.wait_transactions(1)
        t = up.transactions[0]
        self.assertIn(b"SMTPUTF8", t.mail_from.upper())
        self.assertIn(b"Subject: " + subj + b"\r\n", t.content)
        res = verifiers.dkimpy(t.content, d.dns)
        self.assertTrue(res and all(x.passed for x in res), res)
        # An upstream without SMTPUTF8: the declared message is refused.
        caps = [c for c in Script().capabilities if c != "SMTPUTF8"]
        up2 = self.fake(Script(capabilities=caps))
        d2 = self.daemon(up2.port)
        r = tx(d2, "MAIL FROM:<alice@example.com> SMTPUTF8", utf8_msg)
        self.assertEqual(r.code // 100, 5, r.raw)
        self.assertIn(r.enhanced, ("5.6.7", "5.6.3"), r.raw)
        self.assertEqual(up2.transactions, [])

    def test_recipient_limit_pr07(self):
        """PR-07: with max_recipients 5 the 6th RCPT gets 452 4.5.3 and is
        never sent upstream; DATA then delivers to the first five."""
        up = self.fake()
        d = self.daemon(up.port, limits={"max_recipients": "5"})
        rcpts = ["r%d@dest.test" % i for i in range(7)]
        with RawSMTP(d.port) as c:
            c.read_reply()
            c.cmd("EHLO c")
            self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
            codes = [c.cmd("RCPT TO:<%s>" % r) for r in rcpts]
            self.assertEqual([x.code for x in codes], [250] * 5 + [452] * 2)
            self.assertEqual(codes[5].enhanced, "4.5.3")
            self.assertIn("too many recipients", codes[5].text)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(dot_stuff(message()) + b".\r\n")
            self.assertEqual(c.read_reply().code, 250)
        up.wait_transactions(1)
        self.assertEqual(up.transactions[0].envelope_rcpts, rcpts[:5])

    def through_dot(self, port, tail=b""):
        """A RawSMTP to port that has sent one message, its dot and
        tail; still open."""
        c = RawSMTP(port).open_data()
        c.send(dot_stuff(message()) + b".\r\n" + tail)
        return c

    def lost_after_dot(self):
        up = self.fake(Script(final=Stall(2, "250 2.0.0 Ok: queued as LATE")))
        d = self.daemon(up.port)
        self.through_dot(d.port).close()
        up.wait_transactions(1)
        self.assertTrue(d.wait_log(b"queue_id=\"LATE\"", timeout=10))
        return up, d

    def test_undeclared_8bit_reopened_with_body_8bitmime_dk12(self):
        """DK-12: 8-bit content from a client that declared no BODY= (or
        BODY=7BIT): MAIL went upstream before the body was seen, so the
        transaction is reset and reopened with BODY=8BITMIME and the same
        recipients before DATA; one message arrives, declared 8-bit, with
        the client's own XFORWARD-free envelope and valid signatures."""
        body = "Grüße aus Köln\r\n".encode()
        for declared in ("", " BODY=7BIT"):
            with self.subTest(declared=declared):
                up = self.fake()
                d = self.daemon(up.port)
                with RawSMTP(d.port) as c:
                    c.read_reply()
                    c.cmd("EHLO client.test")
                    self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>"
                                           + declared).code, 250)
                    for rcpt in ("bob@dest.test", "carol@dest.test"):
                        self.assertEqual(c.cmd("RCPT TO:<%s>" % rcpt).code,
                                         250)
                    self.assertEqual(c.cmd("DATA").code, 354)
                    c.send(dot_stuff(message(body=body)) + b".\r\n")
                    self.assertEqual(c.read_reply().code, 250)
                up.wait_transactions(1)
                done = [t for t in up.transactions if t.completed]
                self.assertEqual(len(done), 1)
                t8 = done[0]
                self.assertIn(b"BODY=8BITMIME", t8.mail_from.upper())
                self.assertEqual(t8.envelope_rcpts,
                                 ["bob@dest.test", "carol@dest.test"])
                self.assertTrue(t8.content.endswith(body))
                cmds = [x.strip().upper()
                        for x in up.connections[0].commands]
                self.assertIn(b"RSET", cmds)
                res = verifiers.dkimpy(t8.content, d.dns)
                self.assertTrue(res and all(r.passed for r in res), res)

    def test_7bit_message_not_reopened_dk12(self):
        """DK-12: a 7-bit message without BODY= is relayed as declared:
        no RSET, no BODY= added."""
        up = self.fake()
        d = self.daemon(up.port)
        self.assertEqual(self.send(d)[-1].code, 250)
        up.wait_transactions(1)
        self.assertNotIn(b"BODY=", up.transactions[0].mail_from.upper())
        self.assertNotIn(b"RSET", [x.strip().upper()
                                   for x in up.connections[0].commands])

    def test_client_lost_after_dot_finished_once_pr11(self):
        """PR-11: the client hangs up right after its final dot while the
        upstream is still deciding: the upstream transaction is finished,
        exactly once, and its outcome logged with the queue id."""
        up, d = self.lost_after_dot()
        time.sleep(0.5)
        self.assertEqual(len(up.transactions), 1)
        self.assertEqual(len(up.connections), 1)
        self.assertIn(b"outcome=accepted", d.read_log())

    def test_client_lost_after_dot_logged_pr11(self):
        """PR-11: the client hangs up right after its final dot while the
        upstream is still deciding: a warn line event=client_lost_after_eod
        with the outcome and the upstream's queue id, so the possible
        duplicate can be traced."""
        up, d = self.lost_after_dot()
        self.assertTrue(d.wait_log(b"event=client_lost_after_eod", timeout=3))
        line = [x for x in d.read_log().splitlines()
                if b"event=client_lost_after_eod" in x][0]
        self.assertIn(b"outcome=accepted", line)
        self.assertIn(b'queue_id="LATE"', line)
        self.assertIn(b"warn", line)

    def test_half_closed_client_still_gets_reply_pr11(self):
        """PR-11: a client that pipelines QUIT after its dot and shuts
        down only its sending side still reads the upstream's 250 and the
        221: nothing is logged as lost."""
        up = self.fake(Script(final=Stall(1, "250 2.0.0 Ok: queued as HALF")))
        d = self.daemon(up.port)
        with self.through_dot(d.port, b"QUIT\r\n") as c:
            c.sock.shutdown(socket.SHUT_WR)
            self.assertEqual(c.read_reply().code, 250)
            self.assertEqual(c.read_reply().code, 221)
        up.wait_transactions(1)
        self.assertNotIn(b"client_lost_after_eod", d.read_log())

    def test_signature_expires_dk07(self):
        """DK-07: every signature has t= and x= (t + 5 days by default,
        signing.expiration; the row proposed 7); dkimpy accepts it now and
        calls it expired 8 days later."""
        from unittest import mock
        import re as _re
        up = self.fake()
        d = self.daemon(up.port)
        self.assertEqual(self.send(d)[-1].code, 250)
        up.wait_transactions(1)
        msg = up.transactions[0].content
        sigs = _re.findall(rb"DKIM-Signature:(.*?)\r\n(?=\S)", msg, _re.S)
        self.assertEqual(len(sigs), 2)
        for sig in sigs:
            flat = _re.sub(rb"\s", b"", sig)
            t = int(_re.search(rb"(?:^|;)t=(\d+)", flat).group(1))
            x = int(_re.search(rb"(?:^|;)x=(\d+)", flat).group(1))
            self.assertEqual(x - t, 5 * 86400)
            self.assertLess(abs(t - time.time()), 300)
        self.assertTrue(all(r.passed for r in verifiers.dkimpy(msg, d.dns)))
        later = time.time() + 8 * 86400
        with mock.patch("time.time", return_value=later):
            res = verifiers.dkimpy(msg, d.dns)
        self.assertTrue(res)
        self.assertFalse(any(r.passed for r in res), res)
        self.assertTrue(all("x= value is past" in r.detail for r in res), res)

    def test_reset_mid_data_up03(self):
        up = self.fake(Script(data_fault=DataFault(10)))
        d = self.daemon(up.port)
        r = self.send(d)[-1]
        self.assertEqual(r.code // 100, 4, r.raw)
        self.assertEqual(up.transactions, [])

    def test_premature_final_reply(self):
        up = self.fake(Script(data_fault=DataFault(10, send="550 5.7.1 go away",
                                                    close=False)))
        d = self.daemon(up.port)
        r = self.send(d, message(body=(b"y" * 900 + b"\r\n") * 40))[-1]
        self.assertEqual(r.code // 100, 5, r.raw)

    def test_noop_keepalive_during_slow_data_up07(self):
        up = self.fake()
        d = self.daemon(up.port)
        with RawSMTP(d.port).open_data() as c:
            # About 2.5 s of upload with noop_interval 1 s.
            c.dribble(dot_stuff(message(body=(b"n" * 48 + b"\r\n") * 50)),
                      chunk=250, interval=0.25)
            c.send(b".\r\n")
            self.assertEqual(c.read_reply(timeout=10).code, 250)
        up.wait_transactions(1)
        cmds = [l.strip() for l in up.connections[0].commands]
        self.assertIn(b"NOOP", cmds)
        self.assertEqual(len(up.transactions), 1)

    def test_xforward_offered(self):
        # With PIPELINING, MAIL goes out in XFORWARD's write (RFC 2920).
        for pipelining in (True, False):
            with self.subTest(pipelining=pipelining):
                script = Script()
                script.capabilities = [
                    c for c in script.capabilities
                    if pipelining or c != "PIPELINING"] + [
                        "XFORWARD NAME ADDR PROTO HELO"]
                up = self.fake(script)
                d = self.daemon(up.port)
                self.assertEqual(self.send(d)[-1].code, 250)
                up.wait_transactions(1)
                cmds = b"".join(up.connections[0].commands)
                self.assertIn(b"XFORWARD", cmds)
                self.assertIn(b"ADDR=127.0.0.1", cmds)
                self.assertLess(cmds.index(b"XFORWARD"),
                                cmds.index(b"MAIL FROM"))
                self.assertEqual(len(up.transactions), 1)

    def test_outbound_bytes_clean_sm03(self):
        up = self.fake()
        d = self.daemon(up.port)
        body = b".\r\n..x\r\nline\r\n"
        self.assertEqual(self.send(d, message(body=body))[-1].code, 250)
        up.wait_transactions(1)
        tx = up.transactions[0]
        wire = tx.wire
        self.assertNotIn(b"\x00", wire)
        stripped = wire.replace(b"\r\n", b"")
        self.assertNotIn(b"\r", stripped)
        self.assertNotIn(b"\n", stripped)
        self.assertTrue(tx.content.endswith(b"\r\n\r\n" + body))
        res = verifiers.dkimpy(tx.content, d.dns)
        self.assertTrue(res and all(r.passed for r in res), res)


    def chunking(self, **kw):
        """A fake upstream that offers CHUNKING (RFC 3030)."""
        return self.fake(Script(capabilities=Script().capabilities +
                                ["CHUNKING"], **kw))

    def relay_dotted(self, chunking=None):
        """A message with lines starting with a dot, relayed to an
        upstream offering CHUNKING with upstream.chunking set as given
        (None: left out).  dkimpy and OpenDKIM must pass on what the
        upstream kept; returns the body, the transaction and the verbs
        the upstream saw."""
        up = self.chunking()
        d = Signetd(upstream=up.port, upstream_timeouts=FAST)
        self.addCleanup(d.cleanup)
        if chunking is not None:
            d.write_config(d.config_text().replace(
                "  starttls: off\n",
                "  starttls: off\n  chunking: %s\n" % chunking))
        d.start()
        body = b".\r\n..x\r\nline\r\n"
        self.assertEqual(self.send(d, message(body=body))[-1].code, 250)
        up.wait_transactions(1)
        tx = up.transactions[0]
        self.assertTrue(tx.content.endswith(b"\r\n\r\n" + body))
        for name, res in verifiers.verify_all(tx.content, d.dns).items():
            with self.subTest(verifier=name):
                self.assertTrue(res and all(r.passed for r in res), res)
        verbs = [c.split(b" ")[0].strip().upper()
                 for c in up.connections[0].commands]
        return body, tx, verbs

    def test_bdat_to_chunking_upstream(self):
        """An upstream offering CHUNKING gets one BDAT n LAST chunk and
        no DATA, by default and with upstream.chunking: auto: the
        message byte for byte, lines starting with a dot not stuffed, n
        exactly its length."""
        for setting in (None, "auto"):
            with self.subTest(chunking=setting):
                _, tx, verbs = self.relay_dotted(setting)
                self.assertIn(b"BDAT", verbs)
                self.assertNotIn(b"DATA", verbs)
                self.assertEqual(tx.chunks, [len(tx.content)])

    def test_chunking_off_sends_data(self):
        """upstream.chunking: off: an upstream offering CHUNKING gets DATA,
        lines starting with a dot stuffed, and no BDAT."""
        body, tx, verbs = self.relay_dotted("off")
        self.assertIn(b"DATA", verbs)
        self.assertNotIn(b"BDAT", verbs)
        self.assertEqual(tx.chunks, [])
        self.assertTrue(tx.wire.endswith(b"\r\n\r\n" + dot_stuff(body)),
                        tx.wire[-40:])

    def test_bdat_refused_passed_on(self):
        """The upstream's verdict on the BDAT chunk is the client's."""
        up = self.chunking(final="554 5.7.1 Error: no thanks")
        d = self.daemon(up.port)
        r = self.send(d)[-1]
        self.assertEqual((r.code, r.enhanced), (554, "5.7.1"), r.raw)

    def test_bdat_lost_midway_never_250_up03(self):
        """The upstream hangs up inside the BDAT chunk (every time): the
        client gets 451, never 250, and nothing was accepted."""
        up = self.chunking(data_fault=DataFault(100))
        d = self.daemon(up.port)
        r = self.send(d)[-1]
        self.assertEqual(r.code, 451, r.raw)
        self.assertFalse([t for t in up.transactions if t.completed])


class RealPostfix(UpstreamTest):
    def test_postfix_relay_verifies_dk15(self):
        s, pf = sink_behind_postfix(self)
        d = self.daemon(pf.port, timeouts={"final": "30s"})
        content = (b"From: alice@example.com\r\nTo: bob@dest.test\r\n"
                   b"Bcc: hidden@dest.test\r\nSubject: through postfix\r\n\r\n"
                   b"body\r\n")
        r = self.send(d, content)[-1]
        self.assertEqual(r.code, 250, r.raw)
        self.assertEqual(len(s.wait_count(1, timeout=30)), 1)
        m = s.messages()[0]
        self.assertNotIn(b"\r\nBcc:", m.content)
        res = verifiers.dkimpy(m.content, d.dns)
        self.assertTrue(res and all(x.passed for x in res), res)

    def test_smuggling_at_lenient_postfix_sm03(self):
        s, pf = sink_behind_postfix(self, lenient=True)
        d = self.daemon(pf.port, timeouts={"final": "30s"})
        for seq in (b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n"):
            with RawSMTP(d.port).open_data() as c:
                c.send(message() + b"x" + seq + b"MAIL FROM:<x@evil.test>\r\n"
                       b"RCPT TO:<victim@test>\r\nDATA\r\nsmuggled\r\n.\r\n")
                self.assertEqual(c.read_reply().code // 100, 5)
        self.assertEqual(self.send(d)[-1].code, 250)
        self.assertEqual(len(s.wait_count(1, timeout=30)), 1)
        time.sleep(1)
        self.assertEqual(s.count(), 1)
        self.assertNotIn(b"victim", s.messages()[0].raw)


if __name__ == "__main__":
    tap.main()
