"""signetd's client-facing SMTP state machine over raw sockets:
hostile-inputs.md D (PR-01, PR-03, PR-04, PR-05, PR-10), A (SM-04,
SM-06), F (TN-01) and H (RS-04).  The file sink is the upstream; every
reply must be well formed (UP-06's line rule applies to ours too)."""
import time

import tap
from daemon import SessionTest, message
from rawsmtp import dot_stuff


class Basics(SessionTest):
    def test_ehlo_advertises(self):
        c = self.client()
        r = c.cmd("EHLO client.test")
        self.assertReply(r, 250)
        words = [l.split()[0] for l in r.text.split("\n")[1:]]
        for ext in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES"):
            self.assertIn(ext, words)
        # RFC 3030; BINARYMIME is not offered (the upstream gets DATA).
        self.assertIn("CHUNKING", words)
        self.assertNotIn("BINARYMIME", words)
        self.assertIn("SIZE 65536", r.text)

    def test_commands_without_transaction(self):
        cases = [
            ("NOOP", 250, "2.0.0", None),
            ("RSET", 250, "2.0.0", None),
            ("VRFY bob", 252, "2.5.2", "Cannot VRFY user, but will accept message"),
            ("EXPN list", 502, "5.5.1", "EXPN command is disabled"),
            ("HELP", 502, "5.5.1", None),
            ("ETRN example.com", 502, "5.5.1", None),
            ("STARTTLS", 502, "5.5.1", None),
            ("AUTH PLAIN AGFAAGI=", 502, "5.5.1", None),
            ("XCLIENT ADDR=1.2.3.4", 550, "5.7.0", "insufficient authorization"),
            ("XFORWARD ADDR=1.2.3.4", 550, "5.7.0", "insufficient authorization"),
            ("FROB", 500, "5.5.2", "command not recognized"),
        ]
        c = self.client()
        c.cmd("EHLO client.test")
        for line, code, enh, text in cases:
            with self.subTest(cmd=line):
                self.assertReply(c.cmd(line), code, enh, text)

    def test_state_machine_pr05(self):
        # (commands, expected code of the last reply, text)
        cases = [
            (["MAIL FROM:<alice@example.com>"], 503, "send HELO/EHLO first"),
            (["EHLO c", "RCPT TO:<bob@dest.test>"], 503, "need MAIL command"),
            (["EHLO c", "DATA"], 503, "need RCPT command"),
            (["EHLO c", "MAIL FROM:<alice@example.com>",
              "MAIL FROM:<alice@example.com>"], 503, "nested MAIL command"),
            (["EHLO c", "MAIL FROM:<alice@example.com>", "DATA"], 554,
             "no valid recipients"),
        ]
        for cmds, code, text in cases:
            with self.subTest(cmds=" / ".join(cmds)):
                c = self.client()
                for line in cmds[:-1]:
                    self.assertLess(c.cmd(line).code, 400)
                self.assertReply(c.cmd(cmds[-1]), code, None, text)
                # The state is unchanged: a normal next step still works.
                self.assertEqual(c.cmd("RSET").code, 250)

    def test_nested_mail_keeps_first_sender(self):
        before = len(self.d.outbox())
        c = self.client()
        c.cmd("EHLO c")
        self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<mallory@example.com>").code, 503)
        self.assertEqual(c.cmd("RCPT TO:<bob@dest.test>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(dot_stuff(message()) + b".\r\n")
        self.assertReply(c.read_reply(), 250)
        self.assertEqual(len(self.d.outbox()), before + 1)

    def test_syntax_errors_pr06(self):
        cases = [
            ("EHLO", 501, "5.5.4"),
            ("MAIL FROM:alice@example.com", 501, "5.1.7"),
            ("MAIL FROM:<alice@example.com> FOO=bar", 555, "5.5.4"),
            ("MAIL FROM:<alice@example.com> SIZE=abc", 501, "5.5.4"),
            ("MAIL FROM:<alice@example.com> SIZE=99999999", 552, "5.3.4"),
        ]
        c = self.client()
        c.cmd("EHLO c")
        for line, code, enh in cases:
            with self.subTest(cmd=line):
                self.assertReply(c.cmd(line), code, enh)

    def test_long_lines_pr01(self):
        for size in (2049, 70000, 1 << 20):
            with self.subTest(octets=size):
                c = self.client()
                c.cmd("EHLO c")
                c.send(b"NOOP " + b"x" * size + b"\r\n")
                self.assertReply(c.read_reply(), 500, "5.5.2",
                                 "command line too long")
                # The session goes on.
                self.assertReply(c.cmd("NOOP"), 250)

    def test_bare_bytes_in_command_sm04(self):
        cases = [b"MAIL FROM:<a@example.com>\nRCPT TO:<b@dest.test>\r\n",
                 b"RCPT TO:<a@ok.test>\x00<b@evil.test>\r\n",
                 b"NOOP\rx\r\n"]
        for data in cases:
            with self.subTest(data=data):
                c = self.client()
                c.cmd("EHLO c")
                c.send(data)
                self.assertReply(c.read_reply(), 500, "5.5.2",
                                 "bare <CR>, <LF> or NUL in command")
                self.assertTrue(c.expect_closed(5))

    def test_bdat_refused_and_closed_pr10(self):
        # CHUNKING is offered only after EHLO: after HELO the chunk that
        # follows could not be told apart from commands.
        before = len(self.d.outbox())
        c = self.client()
        c.cmd("HELO c")
        c.sendline("BDAT 40 LAST")
        self.assertReply(c.read_reply(), 521, "5.5.1")
        try:
            c.send(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n")
        except OSError:
            pass            # already closed: nothing was read
        self.assertTrue(c.expect_closed(5))
        self.assertNotIn(b"250", c.buf)
        self.assertEqual(len(self.d.outbox()), before)

    def test_quit(self):
        c = self.client()
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")
        self.assertTrue(c.expect_closed(5))

    def test_helo_pipelining_refused_pr03(self):
        c = self.client()
        self.assertReply(c.cmd("HELO c"), 250)
        c.send(b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@dest.test>\r\n")
        self.assertReply(c.read_reply(), 554, "5.5.0",
                         "SMTP protocol synchronization")
        self.assertTrue(c.expect_closed(5))

    def test_pipelining_after_data_sm06(self):
        before = len(self.d.outbox())
        for valid_rcpt in (True, False):
            with self.subTest(valid_rcpt=valid_rcpt):
                c = self.client()
                c.cmd("EHLO c")
                c.cmd("MAIL FROM:<alice@example.com>")
                if valid_rcpt:
                    c.cmd("RCPT TO:<bob@dest.test>")
                c.send(b"DATA\r\nFrom: alice@example.com\r\n\r\n"
                       b"RCPT TO:<x@y.test>\r\n")
                replies = c.read_replies()
                self.assertTrue(replies, "no reply")
                self.assertReply(replies[-1], 554, "5.5.0")
                self.assertTrue(c.expect_closed(5))
        self.assertEqual(len(self.d.outbox()), before)

    def test_relay_denied_tn01(self):
        c = self.client(source="127.0.0.2")
        c.cmd("EHLO c")
        self.assertReply(c.cmd("MAIL FROM:<alice@example.com>"), 530, "5.7.0")

    def test_sender_not_owned_tn03(self):
        c = self.client()
        c.cmd("EHLO c")
        cases = ["MAIL FROM:<x@victim.test>", "MAIL FROM:<x@other.test>",
                 "MAIL FROM:<x@example.com.victim.test>", "MAIL FROM:<>"]
        for line in cases:
            with self.subTest(cmd=line):
                self.assertReply(c.cmd(line), 553, "5.7.1", "not owned by local")

    def test_noop_flood_pr03_pr04(self):
        c = self.client()
        c.cmd("EHLO c")
        rss = []
        with open("/proc/%d/status" % self.d.proc.pid) as f:
            rss.append([l for l in f if l.startswith("VmRSS")][0])
        try:
            c.send(b"NOOP\r\n" * 200000)
        except OSError:
            pass
        # Junk beyond the limit counts as errors: delays, then 421.
        self.assertTrue(c.expect_closed(30))
        self.assertIn(b"421 4.7.0", c.buf[-200:], c.buf[-200:])
        with open("/proc/%d/status" % self.d.proc.pid) as f:
            kb = int([l for l in f if l.startswith("VmRSS")][0].split()[1])
        self.assertLess(kb, 200 * 1024, rss)
        # Others are served meanwhile and afterwards.
        other = self.client()
        self.assertEqual(other.cmd("NOOP").code, 250)

    def test_log_escapes_untrusted_rs04(self):
        c = self.client()
        c.cmd("EHLO a%n%s\x1b[31m")
        c.cmd("NOOP \x1b]0;owned\x07")
        c.cmd("QUIT")
        c.expect_closed(5)
        time.sleep(0.3)
        log = self.d.read_log()
        self.assertNotIn(b"\x1b", log)
        self.assertNotIn(b"\r", log)
        self.assertIn(b"\\x1b", log)


class ErrorLimits(SessionTest):
    limits = {"soft_error_limit": "2", "hard_error_limit": "4",
              "error_delay": "300ms"}

    def test_delay_then_421_pr04(self):
        c = self.client()
        c.cmd("EHLO c")
        times = []
        for _ in range(3):
            t = time.monotonic()
            self.assertEqual(c.cmd("FROB").code, 500)
            times.append(time.monotonic() - t)
        self.assertLess(times[0], 0.25)
        self.assertGreaterEqual(times[2], 0.25)
        self.assertEqual(c.cmd("FROB").code, 500)
        r = c.read_reply()
        self.assertReply(r, 421, "4.7.0", "too many errors")
        self.assertTrue(c.expect_closed(5))


class Timeouts(SessionTest):
    limits = {"idle_timeout": "2s", "data_timeout": "2s",
              "min_data_rate": "500"}

    def test_command_deadline_pr02(self):
        c = self.client()
        c.cmd("EHLO c")
        t = time.monotonic()
        # One byte a second never completes a line within the deadline.
        try:
            c.dribble(b"NOOP NOOP NOOP\r\n", chunk=1, interval=0.5)
        except OSError:
            pass
        r = c.read_reply(timeout=5)
        self.assertReply(r, 421, "4.4.2", "timeout exceeded")
        self.assertLess(time.monotonic() - t, 5)
        self.assertTrue(c.expect_closed(5))

    def test_data_min_rate_pr02(self):
        before = len(self.d.outbox())
        c = self.client().open_data(greeting=False)
        try:
            c.dribble(b"From: alice@example.com\r\n" * 20, chunk=5,
                      interval=0.5)
        except OSError:
            pass
        r = c.read_reply(timeout=5)
        self.assertReply(r, 421, "4.4.2")
        self.assertEqual(len(self.d.outbox()), before)

    def test_slowloris_does_not_starve_others_pr02(self):
        """PR-02: several clients dribbling one byte at a time each get
        421 4.4.2 at their deadline, and a normal session started while
        they dribble completes with 250."""
        import threading
        from rawsmtp import session
        before = len(self.d.outbox())
        codes = []

        def loris():
            try:
                c = self.client()
                c.cmd("EHLO c")
                try:
                    c.dribble(b"MAIL FROM:<alice@example.com>\r\n", chunk=1,
                              interval=0.5)
                except OSError:
                    pass
                codes.append(c.read_reply(timeout=10).code)
            except Exception as e:      # reported through codes
                codes.append(repr(e))

        threads = [threading.Thread(target=loris) for _ in range(5)]
        for t in threads:
            t.start()
        time.sleep(1)
        r = session(self.d.port, "alice@example.com", ["bob@dest.test"],
                    message(subject="not starved"))
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        for t in threads:
            t.join(30)
        self.assertEqual(codes, [421] * 5)
        self.assertEqual(len(self.d.outbox()), before + 1)

    def test_steady_data_passes(self):
        before = len(self.d.outbox())
        c = self.client().open_data(greeting=False)
        # 1 KiB/s, above the 500 octets/s floor, for ~3 s > data_timeout.
        c.dribble(dot_stuff(message(body=(b"z" * 98 + b"\r\n") * 30)),
                  chunk=100, interval=0.1)
        c.send(b".\r\n")
        self.assertReply(c.read_reply(timeout=10), 250)
        self.assertEqual(len(self.d.outbox()), before + 1)


if __name__ == "__main__":
    tap.main()
