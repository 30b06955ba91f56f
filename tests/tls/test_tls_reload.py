"""Certificates follow the configuration snapshot: SIGHUP with a new
certificate serves it to new connections while an open one keeps its
session; a certificate or key that cannot be used refuses the reload
(the old one keeps serving) and, at startup, stops signetd with the
file named."""
import os
import signal
import subprocess

import tap
import tlsutil
from tlsd import TlsSignetd, served_fingerprint, message
from signet_env import binary
import unittest


class Reload(unittest.TestCase):

    def setUp(self):
        self.d = TlsSignetd()
        self.addCleanup(self.d.cleanup)
        self.d.start()

    def reload(self, outcome):
        n = self.d.read_log().count(b"event=reload outcome=")
        self.d.signal(signal.SIGHUP)
        self.assertTrue(self.d.wait_log(b"event=reload outcome=", count=n + 1))
        tail = self.d.read_log().split(b"event=reload outcome=")[n + 1]
        self.assertTrue(tail.startswith(outcome), tail[:100])

    def test_new_certificate_for_new_connections_only(self):
        old_fp = tlsutil.fingerprint(self.d.cert)
        self.assertEqual(served_fingerprint(self.d.port), old_fp)
        self.assertEqual(served_fingerprint(self.d.port_smtps, False), old_fp)
        before = len(self.d.outbox())
        c = self.d.tls_client()
        self.addCleanup(c.close)
        self.assertEqual(c.cmd("EHLO old.test").code, 250)
        # Same paths, new key pair: only the reload may pick it up.
        tlsutil.self_signed(self.d.dir, "mx2.signet.test", "tls")
        new_fp = tlsutil.fingerprint(self.d.cert)
        self.assertNotEqual(new_fp, old_fp)
        self.assertEqual(served_fingerprint(self.d.port), old_fp,
                         "certificate read outside a reload")
        self.reload(b"ok")
        self.assertEqual(served_fingerprint(self.d.port), new_fp)
        self.assertEqual(served_fingerprint(self.d.port_smtps, False), new_fp)
        # The connection opened before the reload still works.
        self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<bob@dest.test>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(message(subject="across reload") + b".\r\n")
        self.assertEqual(c.read_reply().code, 250)
        self.assertEqual(len(self.d.outbox()), before + 1)

    def test_broken_certificate_refuses_reload(self):
        old_fp = tlsutil.fingerprint(self.d.cert)
        cases = [("cert", b"-----BEGIN CERTIFICATE-----\nnot base64\n"),
                 ("key", None)]
        for what, garbage in cases:
            with self.subTest(what=what):
                path = self.d.cert if what == "cert" else self.d.key
                saved = open(path, "rb").read()
                if garbage is None:
                    # A valid key that does not match the certificate.
                    _, other = tlsutil.self_signed(self.d.dir, "x", "other")
                    garbage = open(other, "rb").read()
                with open(path, "wb") as f:
                    f.write(garbage)
                self.reload(b"refused")
                self.assertIn(b"event=reload_failed detail=\"listen[0] "
                              b"starttls " + what.encode() + b" " +
                              path.encode(), self.d.read_log())
                self.assertEqual(served_fingerprint(self.d.port), old_fp)
                with open(path, "wb") as f:
                    f.write(saved)
        self.reload(b"ok")
        self.assertEqual(served_fingerprint(self.d.port), old_fp)


class Startup(unittest.TestCase):

    def test_unusable_key_stops_startup_naming_the_file(self):
        d = TlsSignetd()
        self.addCleanup(d.cleanup, False)
        os.unlink(d.key)
        p = subprocess.run([binary("signetd", d.asan), "-c", d.config, "-f"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           cwd=d.dir, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(("starttls key %s" % d.key).encode(), p.stderr)


if __name__ == "__main__":
    tap.main()
