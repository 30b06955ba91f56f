"""Implicit TLS behind a load balancer: the PROXY header and the
client's ClientHello arrive in one segment (HAProxy writes them
together).  The bytes after the header are the handshake, not
plaintext to discard; the policy address is the one in the header."""
import socket
import ssl
import unittest

import tap
from tlsd import TlsSignetd, client_context, message


class MemTLS:
    """A TLS client over a plain socket through memory BIOs, so the
    first flight can be glued to other bytes in one send."""

    def __init__(self, port, prefix):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = client_context().wrap_bio(self.inc, self.out)
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        self.sock.sendall(prefix + self.out.read())
        self._call(self.tls.do_handshake)
        self.buf = b""

    def _call(self, fn, *args):
        while True:
            try:
                r = fn(*args)
                self._flush()
                return r
            except ssl.SSLWantReadError:
                self._flush()
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("closed by the server")
                self.inc.write(data)

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def reply(self):
        while True:
            lines = self.buf.split(b"\r\n")
            for i, l in enumerate(lines[:-1]):
                if l[3:4] != b"-":
                    raw = b"\r\n".join(lines[:i + 1]) + b"\r\n"
                    self.buf = self.buf[len(raw):]
                    return raw
            self.buf += self._call(self.tls.read, 65536)

    def cmd(self, data):
        self._call(self.tls.write, data)
        return self.reply()

    def close(self):
        self.sock.close()


class ImplicitBehindProxy(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.d = TlsSignetd(smtps_proxy="v1")
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def session(self, src):
        c = MemTLS(self.d.port_smtps, b"PROXY TCP4 %s 127.0.0.1 40000 465\r\n"
                   % src.encode())
        self.addCleanup(c.close)
        self.assertTrue(c.reply().startswith(b"220 "))
        self.assertTrue(c.cmd(b"EHLO lb.test\r\n").startswith(b"250-"))
        return c

    def test_header_and_client_hello_in_one_segment(self):
        before = len(self.d.outbox())
        c = self.session("127.0.0.1")
        self.assertTrue(c.cmd(b"MAIL FROM:<alice@example.com>\r\n")
                        .startswith(b"250 "))
        self.assertTrue(c.cmd(b"RCPT TO:<bob@dest.test>\r\n")
                        .startswith(b"250 "))
        self.assertTrue(c.cmd(b"DATA\r\n").startswith(b"354 "))
        self.assertTrue(c.cmd(message(subject="behind lb") + b".\r\n")
                        .startswith(b"250 "))
        self.assertEqual(len(self.d.outbox()), before + 1)
        self.assertIn(b"with ESMTPS", self.d.outbox()[-1])
        self.assertNotIn(b"event=starttls_injection", self.d.read_log())

    def test_policy_uses_the_header_address(self):
        c = self.session("192.0.2.7")
        self.assertTrue(c.cmd(b"MAIL FROM:<alice@example.com>\r\n")
                        .startswith(b"530 "))


if __name__ == "__main__":
    tap.main()
