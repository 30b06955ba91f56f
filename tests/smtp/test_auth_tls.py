"""SMTP AUTH after STARTTLS on a non-loopback listener (RFC 4954 4,
hostile-inputs.md TL-06, TL-07): no AUTH before TLS, AUTH PLAIN and LOGIN
after it, the tenant's mail signed and verified."""
import base64
import shutil
import smtplib
import ssl
import tempfile
import unittest

import tap
import tlsutil
import verifiers
from daemon import message
from rawsmtp import RawSMTP, dot_stuff
from peers import wait_port
from signet_env import free_port
from tenantbench import PASSWORDS, TenantDaemon


def b64(data):
    return base64.b64encode(data).decode()


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class AuthAfterStartTLS(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tlsdir = tempfile.mkdtemp(prefix="signet-tls-")
        crt, key = tlsutil.self_signed(cls.tlsdir)
        cls.tls_port = free_port()
        cls.d = TenantDaemon(extra_listeners=[
            "- address: 0.0.0.0:%d" % cls.tls_port, "  auth: required",
            "  starttls: { cert: %s, key: %s }" % (crt, key)])
        try:
            cls.d.start()
            # start() waits for the first listener only.
            wait_port(cls.tls_port, proc=cls.d.proc)
        except Exception:
            cls.d.cleanup(check=False)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup(check=False)
        shutil.rmtree(cls.tlsdir, ignore_errors=True)

    def tearDown(self):
        report = self.d.sanitizer_report()
        if report:
            self.fail("sanitizer report:\n" + report)

    def test_raw_auth_only_after_tls(self):
        c = RawSMTP(self.tls_port, source="127.0.0.2")
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply().code, 220)
        r = c.cmd("EHLO client.test")
        self.assertIn("STARTTLS", r.text)
        self.assertNotIn("AUTH", r.text)
        self.assertEqual(c.cmd("AUTH PLAIN " + b64(b"\0alice\0x")).code, 538)
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        c.starttls(client_context())
        r = c.cmd("EHLO client.test")
        self.assertIn("AUTH PLAIN LOGIN", r.text.split("\n"))
        self.assertNotIn("STARTTLS", r.text)
        r = c.cmd("AUTH PLAIN " + b64(b"\0alice\0" + PASSWORDS["alice"].encode()))
        self.assertEqual(r.code, 235, r.raw)
        before = len(self.d.outbox())
        self.assertEqual(c.cmd("MAIL FROM:<x@alpha.test>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<r@dest.test>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(dot_stuff(message(frm="x@alpha.test")) + b".\r\n")
        self.assertEqual(c.read_reply().code, 250)
        msg = self.d.outbox()[before]
        sigs = verifiers.dkimpy(msg, self.d.dns)
        self.assertEqual(sorted(set(s.d for s in sigs)), ["alpha.test", "esp.test"])
        self.assertTrue(all(s.result == "pass" for s in sigs), sigs)

    def test_smtplib_starttls_login(self):
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mech=mech):
                s = smtplib.SMTP("127.0.0.1", self.tls_port,
                                 source_address=("127.0.0.2", 0), timeout=20)
                self.addCleanup(s.close)
                s.starttls(context=client_context())
                s.ehlo("client.test")
                s.user, s.password = "bob", PASSWORDS["bob"]
                code, _ = s.auth(mech, getattr(s, "auth_" + mech.lower()),
                                 initial_response_ok=(mech == "PLAIN"))
                self.assertEqual(code, 235)
                s.sendmail("x@beta.test", ["r@dest.test"], message(frm="x@beta.test"))
                s.quit()

    def test_wrong_password_after_tls(self):
        c = RawSMTP(self.tls_port, source="127.0.7.1")
        self.addCleanup(c.close)
        c.read_reply()
        c.cmd("EHLO c")
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        c.starttls(client_context())
        c.cmd("EHLO c")
        r = c.cmd("AUTH PLAIN " + b64(b"\0alice\0wrong"))
        self.assertEqual((r.code, r.enhanced), (535, "5.7.8"))
        self.assertEqual(c.cmd("MAIL FROM:<x@alpha.test>").code, 530)


if __name__ == "__main__":
    tap.main()
