"""STARTTLS on client listeners: hostile-inputs.md TL-01 to TL-04 and the
ordinary clients (smtplib, swaks, openssl s_client).

Each test sends the row's input and asserts the reply, and that nothing
was relayed that should not have been (the file upstream's outbox)."""
import os
import re
import smtplib
import socket
import ssl
import subprocess
import threading
import time
import unittest
import warnings

import tap
import verifiers
from rawsmtp import Closed, RawSMTP
from tlsd import TlsTest, client_context, message, socket_closed


def no_plaintext_waiting(sock, wait=0.3):
    """True if the server sent nothing more in plaintext (a TLS server
    waits for our ClientHello, so any byte here is a stray reply)."""
    time.sleep(wait)
    old = sock.gettimeout()
    sock.settimeout(0)
    try:
        sock.recv(4096, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(old)
    return False


class Injector:
    """A man in the middle between a client and signetd that appends
    `inject` to the client's STARTTLS line, in the same segment
    (CVE-2011-0411), then relays bytes both ways unchanged."""

    def __init__(self, port, inject):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]
        self.target = port
        self.inject = inject
        self.injected = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        c, _ = self.lsock.accept()
        s = socket.create_connection(("127.0.0.1", self.target))

        def pump(a, b, up):
            try:
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    if up and not self.injected and \
                            data.upper().startswith(b"STARTTLS\r\n"):
                        data = data + self.inject
                        self.injected = True
                    b.sendall(data)
            except OSError:
                pass
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        t = threading.Thread(target=pump, args=(s, c, False), daemon=True)
        t.start()
        pump(c, s, True)
        t.join(5)
        c.close()
        s.close()
        self.lsock.close()


class StartTLS(TlsTest):

    def plain(self, port=None):
        c = RawSMTP(port or self.d.port)
        self.addCleanup(c.close)
        self.assertReply(c.read_reply(), 220)
        return c

    def outbox_count(self):
        return len(self.d.outbox())

    def test_ehlo_advertises_starttls_only_before_tls(self):
        c = self.plain()
        r = c.cmd("EHLO a.test")
        self.assertReply(r, 250)
        self.assertIn("STARTTLS", r.text.split("\n"))
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0",
                         "Ready to start TLS")
        c.starttls(client_context())
        r = c.cmd("EHLO a.test")
        self.assertReply(r, 250)
        self.assertNotIn("STARTTLS", r.text.split("\n"))
        r = self.plain(self.d.port_plain).cmd("EHLO a.test")
        self.assertReply(r, 250)
        self.assertNotIn("STARTTLS", r.text.split("\n"))

    def test_tl01_rset_injected_is_never_executed(self):
        c = self.plain()
        self.assertReply(c.cmd("EHLO a.test"), 250)
        c.send(b"STARTTLS\r\nRSET\r\n")
        self.assertReply(c.read_reply(), 220, "2.0.0")
        self.assertEqual(c.buf, b"", "a stray plaintext reply")
        self.assertTrue(no_plaintext_waiting(c.sock),
                        "RSET answered in plaintext")
        c.starttls(client_context())
        r = c.cmd("EHLO a.test")
        self.assertReply(r, 250)
        self.assertIn("PIPELINING", r.text, "first TLS reply is not EHLO's")
        self.assertEqual(c.read_replies(quiet=0.3), [], "a reply for RSET")
        self.assertTrue(self.d.wait_log(b"event=starttls_injection bytes=6 "))

    def test_tl01_mail_from_injected_is_never_executed(self):
        before = self.outbox_count()
        c = self.plain()
        self.assertReply(c.cmd("EHLO a.test"), 250)
        inj = b"MAIL FROM:<alice@example.com>\r\n"
        c.send(b"STARTTLS\r\n" + inj)
        self.assertReply(c.read_reply(), 220)
        self.assertTrue(no_plaintext_waiting(c.sock))
        c.starttls(client_context())
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("RCPT TO:<bob@dest.test>"), 503, "5.5.1")
        self.assertTrue(self.d.wait_log(
            b"event=starttls_injection bytes=%d " % len(inj)))
        self.assertEqual(self.outbox_count(), before)

    def test_tl01_openssl_s_client_through_injector(self):
        mitm = Injector(self.d.port, b"RSET\r\n")
        p = subprocess.run(
            ["openssl", "s_client", "-starttls", "smtp", "-crlf", "-quiet",
             "-connect", "127.0.0.1:%d" % mitm.port],
            input=b"EHLO after.test\nQUIT\n", stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=30)
        self.assertTrue(mitm.injected, "the injector saw no STARTTLS")
        out = p.stdout.decode("utf-8", "replace")
        replies = re.findall(r"^(\d{3})([ -])(.*?)\r?$", out, re.M)
        self.assertTrue(replies, out + p.stderr.decode("utf-8", "replace"))
        # The first reply over TLS belongs to our EHLO, then QUIT's 221.
        self.assertEqual(replies[0][0], "250", out)
        self.assertNotIn("Ok", replies[0][2], out)
        self.assertIn(("221", " ", "2.0.0 Bye"), replies, out)
        self.assertNotIn("2.0.0 Ok", out, "RSET was answered")
        self.assertTrue(self.d.wait_log(b"event=starttls_injection bytes=6 "))

    def test_tl02_state_before_tls_is_forgotten(self):
        before = self.outbox_count()
        c = self.plain()
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("MAIL FROM:<alice@example.com>"), 250)
        self.assertReply(c.cmd("STARTTLS"), 220)
        c.starttls(client_context())
        self.assertReply(c.cmd("RCPT TO:<bob@dest.test>"), 503, "5.5.1",
                         "send HELO/EHLO first")
        self.assertReply(c.cmd("MAIL FROM:<alice@example.com>"), 503,
                         "5.5.1", "send HELO/EHLO first")
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("RCPT TO:<bob@dest.test>"), 503, "5.5.1")
        # A whole transaction after the new EHLO works.
        self.assertReply(c.cmd("MAIL FROM:<alice@example.com>"), 250)
        self.assertReply(c.cmd("RCPT TO:<bob@dest.test>"), 250)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(message(subject="tl02") + b".\r\n")
        self.assertReply(c.read_reply(), 250)
        self.assertEqual(self.outbox_count(), before + 1)
        msg = self.d.outbox()[-1]
        self.assertIn(b"Subject: tl02", msg)
        self.assertIn(b"with ESMTPS", msg)
        self.assertRegex(msg, rb"\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\)")

    def test_tl03_starttls_twice(self):
        c = self.tls_client()
        self.assertReply(c.cmd("STARTTLS"), 554, "5.5.1",
                         "TLS already active")
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("STARTTLS"), 554, "5.5.1",
                         "TLS already active")
        self.assertReply(c.cmd("NOOP"), 250)

    def test_tl03_starttls_on_implicit_tls_port(self):
        c = self.tls_client(port=self.d.port_smtps)
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("STARTTLS"), 554, "5.5.1")

    def test_tl03_starttls_with_argument(self):
        c = self.plain()
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("STARTTLS now"), 501, "5.5.4",
                         "Syntax: STARTTLS")
        self.assertReply(c.cmd("NOOP"), 250, None, "Ok")

    def test_tl03_starttls_not_configured(self):
        c = self.plain(self.d.port_plain)
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("STARTTLS"), 502, "5.5.1",
                         "command not implemented")
        self.assertReply(c.cmd("NOOP"), 250)

    def test_tl03_handshake_stall_is_closed_by_timeout(self):
        c = self.plain()
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("STARTTLS"), 220)
        # Limit 2 s; idle_timeout is 10 s, so this is the handshake's.
        t0 = time.monotonic()
        self.assertTrue(c.expect_closed(timeout=8))
        self.assertLess(time.monotonic() - t0, 8)
        self.assertTrue(self.d.wait_log(b"event=tls_failed reason=timeout"))

    def test_tl03_garbage_instead_of_client_hello(self):
        before = self.outbox_count()
        c = self.plain()
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("STARTTLS"), 220)
        c.send(b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<b@dest.test>\r\n"
               b"DATA\r\n")
        self.assertTrue(c.expect_closed(timeout=5))
        self.assertNotIn(b"250", c.buf)
        self.assertTrue(self.d.wait_log(b"event=tls_failed reason="))
        self.assertEqual(self.outbox_count(), before)

    def test_tl03_client_hello_on_plaintext_port(self):
        sock = socket.create_connection(("127.0.0.1", self.d.port_plain))
        self.addCleanup(sock.close)
        sock.settimeout(5)
        with self.assertRaises((ssl.SSLError, OSError)):
            client_context().wrap_socket(sock).do_handshake()
        # The listener keeps serving.
        c = self.plain(self.d.port_plain)
        self.assertReply(c.cmd("EHLO a.test"), 250)

    def test_tl03_plaintext_on_implicit_tls_port(self):
        c = RawSMTP(self.d.port_smtps)
        self.addCleanup(c.close)
        c.send(b"EHLO a.test\r\n")
        self.assertTrue(c.expect_closed(timeout=5))
        self.assertNotIn(b"220", c.buf, "greeted in plaintext")
        self.assertTrue(self.d.wait_log(b"event=tls_failed"))

    def test_tl03_renegotiation_refused(self):
        # s_client's interactive "R" renegotiates a TLS 1.2 session.
        p = subprocess.Popen(
            ["openssl", "s_client", "-tls1_2", "-crlf", "-connect",
             "127.0.0.1:%d" % self.d.port_smtps],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self.addCleanup(p.kill)
        try:
            for line, wait in ((b"EHLO a.test\n", 1.0), (b"R\n", 1.0),
                               (b"NOOP\n", 0.5)):
                p.stdin.write(line)
                p.stdin.flush()
                time.sleep(wait)
            p.stdin.close()
        except BrokenPipeError:
            pass    # s_client gave up after the refusal
        out = p.stdout.read().decode("utf-8", "replace")
        p.wait(10)
        self.assertIn("250-PIPELINING", out, "no session before R")
        self.assertIn("RENEGOTIATING", out)
        self.assertIn("no renegotiation", out)
        self.assertNotIn("250 2.0.0 Ok", out, "session went on renegotiated")
        c = self.tls_client(port=self.d.port_smtps)
        self.assertReply(c.cmd("EHLO a.test"), 250)

    def test_tls11_client_refused(self):
        ctx = client_context()
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        failed = self.d.metric('signet_tls_handshakes_total{result="failed"}')
        c = self.plain()
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("STARTTLS"), 220)
        with self.assertRaises(ssl.SSLError) as e:
            c.starttls(ctx)
        self.assertNotIn("NO_PROTOCOLS_AVAILABLE", str(e.exception),
                         "the client refused by itself, test is void")
        self.assertTrue(self.d.wait_log(b"event=tls_failed reason=error"))
        end = time.monotonic() + 5
        while time.monotonic() < end and self.d.metric(
                'signet_tls_handshakes_total{result="failed"}') <= failed:
            time.sleep(0.1)
        self.assertGreater(self.d.metric(
            'signet_tls_handshakes_total{result="failed"}'), failed)

    def test_tls12_and_13_accepted(self):
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_context()
            ctx.minimum_version = ctx.maximum_version = v
            c = self.plain()
            self.assertReply(c.cmd("EHLO a.test"), 250)
            self.assertReply(c.cmd("STARTTLS"), 220)
            c.starttls(ctx)
            self.assertEqual(c.sock.version(), v.name.replace("v1_", "v1."))
            self.assertReply(c.cmd("EHLO a.test"), 250)
            if v == ssl.TLSVersion.TLSv1_2:
                self.assertIn("ECDHE", c.sock.cipher()[0])

    def test_tl04_close_notify_mid_data_then_cleartext(self):
        before = self.outbox_count()
        c = self.tls_client()
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("MAIL FROM:<alice@example.com>"), 250)
        self.assertReply(c.cmd("RCPT TO:<bob@dest.test>"), 250)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(message(subject="tl04")[:30])
        raw = c.sock.unwrap()           # close_notify, socket now plain
        try:
            raw.sendall(b"X\r\n.\r\n")   # cleartext end-of-data
        except OSError:
            pass
        self.assertTrue(socket_closed(raw))
        raw.close()
        self.assertTrue(self.d.wait_log(b"event=tls_closed stage=DATA"))
        time.sleep(0.3)
        self.assertEqual(self.outbox_count(), before, "something relayed")
        c2 = self.tls_client()
        self.assertReply(c2.cmd("EHLO a.test"), 250)

    def test_tl04_tls_error_mid_data_then_cleartext(self):
        before = self.outbox_count()
        c = self.tls_client()
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertReply(c.cmd("MAIL FROM:<alice@example.com>"), 250)
        self.assertReply(c.cmd("RCPT TO:<bob@dest.test>"), 250)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(message(subject="tl04b")[:30])
        seen = self.d.read_log().count(b"event=tls_closed stage=DATA")
        # A corrupt TLS record (bad MAC) then cleartext end-of-data.
        fd = c.sock.detach()
        raw = socket.socket(fileno=fd)
        raw.sendall(b"\x17\x03\x03\x00\x20" + b"\x00" * 32 + b"\r\n.\r\n")
        self.assertTrue(socket_closed(raw))
        raw.close()
        self.assertTrue(self.d.wait_log(b"event=tls_closed stage=DATA",
                                        count=seen + 1))
        time.sleep(0.3)
        self.assertEqual(self.outbox_count(), before, "something relayed")

    def test_smtplib_starttls_message_verifies(self):
        before = self.outbox_count()
        with smtplib.SMTP("127.0.0.1", self.d.port, timeout=10) as s:
            s.ehlo("smtplib.test")
            self.assertTrue(s.has_extn("starttls"))
            s.starttls(context=client_context())
            s.ehlo("smtplib.test")
            self.assertFalse(s.has_extn("starttls"))
            s.sendmail("alice@example.com", ["bob@dest.test"],
                       message(subject="smtplib starttls"))
        msgs = self.d.outbox()
        self.assertEqual(len(msgs), before + 1)
        self.assertIn(b"with ESMTPS", msgs[-1])
        res = verifiers.dkimpy(msgs[-1], self.d.dns)
        self.assertTrue(res and all(r.result == "pass" for r in res), res)

    def test_smtplib_implicit_tls_message_verifies(self):
        before = self.outbox_count()
        with smtplib.SMTP_SSL("127.0.0.1", self.d.port_smtps, timeout=10,
                              context=client_context()) as s:
            s.ehlo("smtps.test")
            self.assertFalse(s.has_extn("starttls"))
            s.sendmail("alice@example.com", ["bob@dest.test"],
                       message(subject="smtplib implicit"))
        msgs = self.d.outbox()
        self.assertEqual(len(msgs), before + 1)
        self.assertIn(b"with ESMTPS", msgs[-1])
        res = verifiers.dkimpy(msgs[-1], self.d.dns)
        self.assertTrue(res and all(r.result == "pass" for r in res), res)
        self.assertTrue(all(r.result == "pass" for r in
                            verifiers.opendkim(msgs[-1], self.d.dns)))

    def test_swaks_tls_message_verifies(self):
        before = self.outbox_count()
        p = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(self.d.port),
             "--tls", "--from", "alice@example.com", "--to", "bob@dest.test",
             "--h-From", "alice@example.com", "--h-Subject", "swaks tls",
             "--body", "Hello over TLS.", "--helo", "swaks.test"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("TLS started", out)
        msgs = self.d.outbox()
        self.assertEqual(len(msgs), before + 1, out)
        res = verifiers.dkimpy(msgs[-1], self.d.dns)
        self.assertTrue(res and all(r.result == "pass" for r in res), res)

    def test_handshakes_counted(self):
        ok = self.d.metric('signet_tls_handshakes_total{result="ok"}')
        c = self.tls_client()
        self.assertReply(c.cmd("EHLO a.test"), 250)
        self.assertGreater(self.d.metric(
            'signet_tls_handshakes_total{result="ok"}'), ok)


if __name__ == "__main__":
    tap.main()
