"""signetd's connection to its upstream: STARTTLS (off, opportunistic,
required), implicit TLS, certificate and name verification against a
test CA, and AUTH PLAIN/LOGIN with the secret from a file (issue 4;
hostile-inputs TL-08).  What a user relies on: mail goes upstream
encrypted when configured, a required TLS that fails is a 451 4.7.5 and
nothing reaches the upstream, the secret never appears in the log, and
relayed mail still verifies."""
import base64
import os
import shutil
import signal
import ssl
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "smtp"))

import tap  # noqa: E402
import tlsutil  # noqa: E402
import verifiers  # noqa: E402
from daemon import Signetd, message  # noqa: E402
import fakeup  # noqa: E402
from fakeup import Script  # noqa: E402
from peers import sink_behind_postfix  # noqa: E402
from rawsmtp import RawSMTP, session  # noqa: E402

FAST = {"connect": "2s", "greeting": "3s", "command": "3s", "final": "30s"}
SECRET = "s3cret-Upstream-pw"


class TLSDaemon(Signetd):
    """Signetd whose upstream block is `upstream` (YAML lines below
    upstream:, address excluded)."""

    def __init__(self, port, upstream, **kw):
        self.up_lines = list(upstream)
        super().__init__(upstream=port, **kw)

    def config_text(self):
        text = super().config_text()
        repl = "".join("  %s\n" % l for l in self.up_lines)
        return text.replace("  starttls: off\n", repl, 1)


class Material:
    """One test CA, a certificate for "localhost" from it, one for
    another name, and a self-signed "localhost" from no CA at all."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="signet-tls-")
        os.chmod(self.dir, 0o755)
        self.ca = tlsutil.test_ca(self.dir)
        self.good = tlsutil.issued(self.dir, self.ca, "localhost", "good")
        self.wrong_name = tlsutil.issued(self.dir, self.ca, "other.test",
                                         "wrongname")
        self.stranger = tlsutil.self_signed(self.dir, "localhost",
                                            "stranger")
        for n in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, n), 0o644)

    def ctx(self, pair=None):
        return tlsutil.server_context(*(pair or self.good))


MAT = None


def setUpModule():
    global MAT
    MAT = Material()


def tearDownModule():
    if MAT is not None:
        shutil.rmtree(MAT.dir, ignore_errors=True)


class Base(unittest.TestCase):
    def daemon(self, port, upstream, **kw):
        d = TLSDaemon(port, upstream, upstream_timeouts=FAST, **kw)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def verified_upstream(self, mode="required", extra=()):
        return ["starttls: %s" % mode, "ca_file: %s" % MAT.ca[0],
                "servername: localhost", "verify: true"] + list(extra)

    def fake(self, script=None, **kw):
        return fakeup.started(self, script, **kw)

    def send(self, d):
        return session(d.port, "alice@example.com", ["bob@dest.test"],
                       message())

    def assertRefused(self, replies, enhanced="4.7.5"):
        # MAIL is where the upstream connection opens (DESIGN.md).
        self.assertGreaterEqual(len(replies), 3, replies)
        r = replies[2]
        self.assertTrue(r.wellformed, r.raw)
        self.assertEqual((r.code, r.enhanced), (451, enhanced), r.raw)

    def assertVerifies(self, content, d):
        res = verifiers.dkimpy(content, d.dns)
        self.assertTrue(res and all(x.passed for x in res), res)


class FakeStartTLS(Base):
    def test_opportunistic_verified(self):
        up = self.fake(Script(tls=MAT.ctx()))
        d = self.daemon(up.port, self.verified_upstream("opportunistic"))
        r = self.send(d)
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        tx = up.wait_transactions(1)[0]
        conn = up.connections[0]
        self.assertTrue(conn.tls)
        verbs = [c.split(b" ")[0].split(b":")[0].strip().upper()
                 for c in conn.commands]
        # RFC 3207 4.2: EHLO again after the handshake, then MAIL.
        self.assertEqual(verbs[:4], [b"EHLO", b"STARTTLS", b"EHLO", b"MAIL"])
        self.assertVerifies(tx.content, d)
        log = d.read_log()
        self.assertIn(b"event=upstream_tls version=TLSv1.", log)
        self.assertIn(b"verified=yes", log)

    def test_required_not_offered_tl08(self):
        up = self.fake(Script())          # no STARTTLS in EHLO
        d = self.daemon(up.port, self.verified_upstream("required"))
        self.assertRefused(self.send(d))
        self.assertEqual(up.transactions, [])
        self.assertTrue(all(b"MAIL" not in c for cn in up.connections
                            for c in cn.commands))
        self.assertTrue(d.wait_log(b"event=upstream_tls_failed "
                                   b"reason=not_offered"))

    def test_opportunistic_not_offered_goes_plaintext(self):
        up = self.fake(Script())
        d = self.daemon(up.port, self.verified_upstream("opportunistic"))
        r = self.send(d)
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        self.assertFalse(up.wait_transactions(1) and up.connections[0].tls)
        self.assertIn(b"event=upstream_plaintext reason=not_offered",
                      d.read_log())

    def test_bytes_after_220_abort_tl08(self):
        for mode in ("opportunistic", "required"):
            with self.subTest(mode=mode):
                up = self.fake(Script(tls=MAT.ctx(),
                                      after_starttls=b"250-FAKE\r\n"))
                d = self.daemon(up.port, self.verified_upstream(mode))
                self.assertRefused(self.send(d))
                self.assertEqual(up.transactions, [])
                self.assertTrue(d.wait_log(
                    b"event=upstream_starttls_injection bytes=10"))
                # No MAIL went anywhere, in TLS or not.
                self.assertTrue(all(b"MAIL" not in c for cn in up.connections
                                    for c in cn.commands))

    def test_capabilities_only_from_ehlo_after_tls_tl08(self):
        # Plaintext EHLO offers SIZE (a man in the middle may add
        # anything there); the EHLO inside TLS does not, so MAIL must
        # go without SIZE=.
        class TwoFaced(Script):
            def ehlo_reply(self, tls_active):
                caps = ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]
                if not tls_active:
                    caps = caps + ["SIZE 10240000", "STARTTLS"]
                lines = ["fakeup.test"] + caps
                return ["250%s%s" % ("-" if i < len(lines) - 1 else " ", l)
                        for i, l in enumerate(lines)]

        up = self.fake(TwoFaced(tls=MAT.ctx()))
        d = self.daemon(up.port, self.verified_upstream("required"))
        with RawSMTP(d.port) as c:
            self.assertEqual(c.read_reply().code, 220)
            self.assertEqual(c.cmd("EHLO client.test").code, 250)
            r = c.cmd("MAIL FROM:<alice@example.com> SIZE=100")
            self.assertEqual(r.code, 250, r.raw)
        mails = [l for l in up.connections[0].commands
                 if l.upper().startswith(b"MAIL")]
        self.assertEqual(mails, [b"MAIL FROM:<alice@example.com>\r\n"])

    def test_starttls_refused_required(self):
        up = self.fake(Script(tls=MAT.ctx(),
                              starttls="454 4.7.0 TLS not available"))
        d = self.daemon(up.port, self.verified_upstream("required"))
        self.assertRefused(self.send(d))
        self.assertEqual(up.transactions, [])

    def test_wrong_certificate_required_tl08(self):
        for name, pair in (("other CA", MAT.stranger),
                           ("other name", MAT.wrong_name)):
            with self.subTest(cert=name):
                up = self.fake(Script(tls=MAT.ctx(pair)))
                d = self.daemon(up.port, self.verified_upstream("required"))
                self.assertRefused(self.send(d))
                self.assertEqual(up.transactions, [])
                self.assertTrue(d.wait_log(b"reason=verify"))
                self.assertIn(b"verified=no", d.read_log())

    def test_wrong_certificate_opportunistic_encrypts(self):
        # Documented choice: opportunistic TLS is Postfix's "may".
        up = self.fake(Script(tls=MAT.ctx(MAT.stranger)))
        d = self.daemon(up.port, self.verified_upstream("opportunistic"))
        r = self.send(d)
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        up.wait_transactions(1)
        self.assertTrue(up.connections[0].tls)
        self.assertIn(b"verified=no", d.read_log())

    def test_verify_false_required_accepts_any(self):
        up = self.fake(Script(tls=MAT.ctx(MAT.stranger)))
        d = self.daemon(up.port, ["starttls: required", "verify: false"])
        r = self.send(d)
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        up.wait_transactions(1)
        self.assertTrue(up.connections[0].tls)

    def test_system_store_rejects_test_ca(self):
        # No ca_file: the system store does not know our test CA.
        up = self.fake(Script(tls=MAT.ctx()))
        d = self.daemon(up.port, ["starttls: required",
                                  "servername: localhost"])
        self.assertRefused(self.send(d))
        self.assertEqual(up.transactions, [])

    def test_handshake_failure_opportunistic_falls_back(self):
        # The upstream says 220 but cannot do TLS 1.2 or later.
        bad = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        bad.load_cert_chain(*MAT.good)
        bad.minimum_version = ssl.TLSVersion.TLSv1
        bad.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            bad.set_ciphers("DEFAULT:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        up = self.fake(Script(tls=bad))
        d = self.daemon(up.port, self.verified_upstream("opportunistic"))
        r = self.send(d)
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        txs = up.wait_transactions(1)
        self.assertEqual(len(txs), 1)
        self.assertGreaterEqual(len(up.connections), 2)
        self.assertFalse(up.connections[-1].tls)
        self.assertIn(b"event=upstream_tls_fallback", d.read_log())


class Reload(Base):
    def test_reload_reads_new_ca(self):
        up = self.fake(Script(tls=MAT.ctx()))
        ca = os.path.join(MAT.dir, "reload-ca.crt")
        shutil.copy(MAT.stranger[0], ca)
        d = self.daemon(up.port, ["starttls: required", "ca_file: %s" % ca,
                                  "servername: localhost"])
        self.assertRefused(self.send(d))
        shutil.copy(MAT.ca[0], ca)
        d.signal(signal.SIGHUP)
        self.assertTrue(d.wait_log(b"event=reload outcome=ok"))
        r = self.send(d)
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        self.assertEqual(len(up.wait_transactions(1)), 1)

    def test_reload_without_secret_keeps_old(self):
        # FAKEUP has no AUTH verb: its reply to unknown commands accepts.
        up = self.fake(Script(tls=MAT.ctx(), capabilities=["AUTH PLAIN"],
                              unknown="235 2.7.0 Authentication successful"))
        fd, secret = tempfile.mkstemp(prefix="signet-secret-")
        os.write(fd, SECRET.encode() + b"\n")
        os.close(fd)
        d = self.daemon(up.port, self.verified_upstream("required", [
            "auth:", "  user: signet", "  secret_file: %s" % secret]))
        os.unlink(secret)
        d.signal(signal.SIGHUP)
        self.assertTrue(d.wait_log(b"event=reload outcome=refused"))
        r = self.send(d)
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        auth = [c for c in up.connections[0].commands
                if c.startswith(b"AUTH PLAIN ")]
        self.assertEqual(len(auth), 1)
        self.assertNotIn(SECRET.encode(), d.read_log())


class ImplicitTLS(Base):
    def test_implicit_tls_relays(self):
        up = self.fake(Script(), ssl=MAT.ctx())
        d = self.daemon(up.port, ["implicit_tls: true",
                                  "ca_file: %s" % MAT.ca[0],
                                  "servername: localhost"])
        r = self.send(d)
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        tx = up.wait_transactions(1)[0]
        self.assertVerifies(tx.content, d)
        self.assertIn(b"verified=yes", d.read_log())

    def test_implicit_tls_wrong_certificate(self):
        up = self.fake(Script(), ssl=MAT.ctx(MAT.stranger))
        d = self.daemon(up.port, ["implicit_tls: true",
                                  "ca_file: %s" % MAT.ca[0],
                                  "servername: localhost"])
        self.assertRefused(self.send(d))
        self.assertEqual(up.transactions, [])

    def test_implicit_tls_plaintext_upstream(self):
        up = self.fake(Script())
        d = self.daemon(up.port, ["implicit_tls: true",
                                  "ca_file: %s" % MAT.ca[0]])
        self.assertRefused(self.send(d))
        self.assertEqual(up.transactions, [])


class AuthUpstream:
    """aiosmtpd with STARTTLS and AUTH (user "signet", SECRET)."""

    def __init__(self, mechanisms=("PLAIN", "LOGIN"), require_tls=True,
                 tls=True):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult
        from signet_env import free_port

        self.messages = []
        self.logins = []
        self.lock = threading.Lock()
        outer = self

        class Handler:
            async def handle_DATA(self, server, sess, envelope):
                with outer.lock:
                    outer.messages.append((sess.authenticated,
                                           envelope.content))
                return "250 2.0.0 Ok: queued as AIO%d" % len(outer.messages)

        def authenticator(server, sess, envelope, mechanism, data):
            ok = (data.login == b"signet" and
                  data.password == SECRET.encode())
            with outer.lock:
                outer.logins.append((mechanism, ok))
            return AuthResult(success=ok, handled=False)

        excl = [m for m in ("PLAIN", "LOGIN") if m not in mechanisms]
        self.port = free_port()
        self.ctl = Controller(
            Handler(), hostname="127.0.0.1", port=self.port,
            tls_context=MAT.ctx() if tls else None,
            require_starttls=tls, authenticator=authenticator,
            auth_require_tls=require_tls, auth_exclude_mechanism=excl)
        self.ctl.start()

    def stop(self):
        self.ctl.stop()


class UpstreamAuth(Base):
    def auth_upstream(self, **kw):
        a = AuthUpstream(**kw)
        self.addCleanup(a.stop)
        return a

    def secret_file(self, text):
        fd, path = tempfile.mkstemp(prefix="signet-secret-")
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        self.addCleanup(os.unlink, path)
        return path

    def auth_lines(self, secret):
        return ["auth:", "  user: signet",
                "  secret_file: %s" % self.secret_file(secret)]

    def test_auth_plain_and_login(self):
        for mechs in (("PLAIN", "LOGIN"), ("LOGIN",)):
            with self.subTest(mechanisms=mechs):
                a = self.auth_upstream(mechanisms=mechs)
                d = self.daemon(a.port, self.verified_upstream(
                    "required", self.auth_lines(SECRET)))
                r = self.send(d)
                self.assertEqual(r[-1].code, 250, r[-1].raw)
                self.assertEqual(a.logins, [(mechs[0], True)])
                self.assertEqual(len(a.messages), 1)
                self.assertTrue(a.messages[0][0])
                self.assertVerifies(a.messages[0][1], d)
                log = d.read_log()
                self.assertNotIn(SECRET.encode(), log)
                for enc in (b"\0signet\0" + SECRET.encode(), SECRET.encode()):
                    self.assertNotIn(base64.b64encode(enc), log)
                self.assertIn(b"event=upstream_auth outcome=ok",
                              d.read_log())

    def test_wrong_secret_451(self):
        a = self.auth_upstream()
        d = self.daemon(a.port, self.verified_upstream(
            "required", self.auth_lines("not-the-password")))
        self.assertRefused(self.send(d), "4.7.0")
        self.assertEqual(a.messages, [])
        self.assertEqual(a.logins, [("PLAIN", False)])
        log = d.read_log()
        self.assertIn(b"event=upstream_auth_failed reason=refused", log)
        self.assertNotIn(b"not-the-password", log)

    def test_no_secret_over_unverified_tls(self):
        # Opportunistic TLS to a certificate we cannot verify: encrypted,
        # but the peer may be anyone, so the password is not sent.
        a = self.auth_upstream()
        d = self.daemon(a.port, ["starttls: opportunistic",
                                 "servername: localhost"] +
                        self.auth_lines(SECRET))
        self.assertRefused(self.send(d))
        self.assertEqual(a.logins, [])
        self.assertIn(b"reason=auth_needs_tls", d.read_log())

    def test_plaintext_auth_to_loopback(self):
        # starttls: off is accepted with auth only for a loopback upstream.
        a = self.auth_upstream(require_tls=False, tls=False)
        d = self.daemon(a.port, ["starttls: off"] + self.auth_lines(SECRET))
        r = self.send(d)
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        self.assertEqual(a.logins, [("PLAIN", True)])

    def test_plaintext_auth_to_remote_is_config_error(self):
        d = TLSDaemon(25, ["starttls: off"] + self.auth_lines(SECRET))
        self.addCleanup(d.cleanup, False)
        with open(d.config) as f:
            text = f.read().replace("127.0.0.1:25", "192.0.2.1:25")
        d.write_config(text)
        with self.assertRaises(Exception):
            d.start()
        self.assertIn(b"auth needs TLS", d.read_log())

    def test_missing_secret_file_is_config_error(self):
        d = TLSDaemon(25, self.verified_upstream(
            "required", ["auth:", "  user: signet",
                         "  secret_file: /nonexistent/secret"]))
        self.addCleanup(d.cleanup, False)
        with self.assertRaises(Exception):
            d.start()
        self.assertIn(b"auth.secret_file /nonexistent/secret", d.read_log())


class RealPostfix(Base):
    def postfix(self, tls):
        return sink_behind_postfix(self, tls=MAT.good if tls else None)

    def test_postfix_opportunistic_tls(self):
        s, pf = self.postfix(tls=True)
        d = self.daemon(pf.port, self.verified_upstream("opportunistic"))
        r = self.send(d)
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        self.assertEqual(len(s.wait_count(1, timeout=30)), 1)
        m = s.messages()[0]
        self.assertIn(b"with ESMTPS", m.content)
        self.assertIn("Anonymous TLS connection established", pf.log())
        self.assertVerifies(m.content, d)
        self.assertIn(b"verified=yes", d.read_log())

    def test_postfix_required_plaintext(self):
        s, pf = self.postfix(tls=False)
        d = self.daemon(pf.port, self.verified_upstream("required"))
        self.assertRefused(self.send(d))
        self.assertEqual(pf.queued_ids(), [])

    def test_postfix_required_wrong_ca(self):
        s, pf = self.postfix(tls=True)
        d = self.daemon(pf.port, ["starttls: required",
                                  "ca_file: %s" % MAT.stranger[0],
                                  "servername: localhost"])
        self.assertRefused(self.send(d))
        self.assertEqual(pf.queued_ids(), [])
        self.assertIn(b"reason=verify", d.read_log())


if __name__ == "__main__":
    tap.main()
