"""SMTP AUTH on signetd (RFC 4954; hostile-inputs.md TL-05, TL-06,
TL-07): PLAIN and LOGIN from swaks, smtplib and raw sockets on a loopback
listener, the payload rules, brute force and spraying counted per client
address, plaintext refusal on a non-loopback listener, and the identity an
AUTH user brings (its tenant wins over the network's).  `signetctl
passwd` makes every password hash used here (tenantbench.py)."""
import base64
import smtplib
import subprocess
import time
import unittest

import nacl.pwhash

import tap
import verifiers
from daemon import message
from rawsmtp import RawSMTP, dot_stuff
from signet_env import binary, free_port
from peers import wait_port
from tenantbench import PASSWORDS, TenantDaemon, passwd_hash


def b64(data):
    return base64.b64encode(data).decode()


class AuthTest(unittest.TestCase):
    extra = ()
    limits = None

    @classmethod
    def setUpClass(cls):
        cls.extra_port = free_port()
        cls.d = TenantDaemon(
            extra_listeners=[l % {"p": cls.extra_port} for l in cls.extra],
            limits=cls.limits)
        try:
            cls.d.start()
            # start() waits for the first listener only.
            if cls.extra:
                wait_port(cls.extra_port, proc=cls.d.proc)
        except Exception:
            cls.d.cleanup(check=False)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup(check=False)

    def tearDown(self):
        report = self.d.sanitizer_report()
        if report:
            self.fail("sanitizer report:\n" + report)

    def client(self, source="127.0.0.2", port=None):
        c = RawSMTP(port or self.d.port, source=source)
        self.addCleanup(c.close)
        r = c.read_reply()
        self.assertEqual(r.code, 220)
        return c

    def assertReply(self, r, code, enh=None, text=None):
        self.assertTrue(r.wellformed, r.raw)
        self.assertEqual(r.code, code, r.raw)
        if enh is not None:
            self.assertEqual(r.enhanced, enh, r.raw)
        if text is not None:
            self.assertIn(text, r.text, r.raw)

    def login(self, c, user="alice"):
        c.cmd("EHLO client.test")
        r = c.cmd("AUTH PLAIN " + b64(b"\0" + user.encode() + b"\0" +
                                      PASSWORDS[user].encode()))
        self.assertReply(r, 235, "2.7.0", "Authentication successful")

    def send_msg(self, c, frm, rcpt="rcpt@dest.test", mail_from=None):
        """One transaction; the final reply (or the refusal on the way)."""
        r = c.cmd("MAIL FROM:<%s>" % (mail_from or frm))
        if r.code != 250:
            return r
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        if r.code != 250:
            return r
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(dot_stuff(message(frm=frm, to=rcpt)) + b".\r\n")
        return c.read_reply()


class PasswdTool(unittest.TestCase):
    """DESIGN.md: `signetctl passwd` reads a password on stdin and prints
    its argon2id string."""

    def run_passwd(self, data):
        return subprocess.run([binary("signetctl"), "passwd"], input=data,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60)

    def test_prints_argon2id_that_verifies(self):
        p = self.run_passwd(b"correct horse\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        h = p.stdout.strip()
        self.assertTrue(h.startswith(b"$argon2id$v=19$"), h)
        self.assertNotIn(b"correct horse", p.stdout + p.stderr)
        self.assertTrue(nacl.pwhash.verify(h, b"correct horse"))
        with self.assertRaises(nacl.exceptions.InvalidkeyError):
            nacl.pwhash.verify(h, b"correct horse\n")
        # A fresh salt each time.
        self.assertNotEqual(h, self.run_passwd(b"correct horse\n").stdout.strip())

    def test_refuses_empty_and_overlong(self):
        for data in (b"", b"\n", b"x" * 1025 + b"\n"):
            with self.subTest(n=len(data)):
                p = self.run_passwd(data)
                self.assertEqual(p.returncode, 1)
                self.assertEqual(p.stdout, b"")
                self.assertEqual(len(p.stderr.splitlines()), 1)


class Login(AuthTest):
    extra = ["- address: 127.0.0.1:%(p)d", "  auth: required"]

    def test_ehlo_offers_auth_on_loopback(self):
        c = self.client()
        r = c.cmd("EHLO client.test")
        self.assertIn("AUTH PLAIN LOGIN", r.text.split("\n"))

    def test_smtplib_plain_and_login_sign_as_the_tenant(self):
        before = len(self.d.outbox())
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mech=mech):
                s = smtplib.SMTP("127.0.0.1", self.d.port,
                                 source_address=("127.0.0.2", 0), timeout=20)
                self.addCleanup(s.close)
                s.ehlo("client.test")
                s.user, s.password = "alice", PASSWORDS["alice"]
                code, resp = s.auth(mech, getattr(s, "auth_" + mech.lower()),
                                    initial_response_ok=(mech == "PLAIN"))
                self.assertEqual(code, 235, resp)
                s.sendmail("a@alpha.test", ["rcpt@dest.test"],
                           message(frm="a@alpha.test"))
                s.quit()
        msgs = self.d.outbox()[before:]
        self.assertEqual(len(msgs), 2)
        for m in msgs:
            res = verifiers.verify_all(m, self.d.dns, ("dkimpy", "opendkim"))
            for name, sigs in res.items():
                # Both active selectors of alpha.test, then the ESP's.
                self.assertEqual([(s.d, s.result) for s in sigs],
                                 [("alpha.test", "pass"), ("alpha.test", "pass"),
                                  ("esp.test", "pass")], (name, sigs))

    def test_swaks_plain_and_login(self):
        before = len(self.d.outbox())
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mech=mech):
                p = subprocess.run(
                    ["swaks", "--server", "127.0.0.1", "--port", str(self.d.port),
                     "--local-interface", "127.0.0.2",
                     "--from", "swaks@beta.test", "--to", "rcpt@dest.test",
                     "--header", "From: swaks@beta.test",
                     "--auth", mech, "--auth-user", "bob",
                     "--auth-password", PASSWORDS["bob"], "--timeout", "20"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
                out = p.stdout.decode("utf-8", "replace")
                self.assertEqual(p.returncode, 0, out)
                self.assertIn("235 2.7.0 Authentication successful", out)
        msgs = self.d.outbox()[before:]
        self.assertEqual(len(msgs), 2)
        for m in msgs:
            self.assertEqual([(s.d, s.result) for s in verifiers.dkimpy(m, self.d.dns)],
                             [("beta.test", "pass"), ("beta.test", "pass")])

    def test_mail_auth_parameter_accepted(self):
        # RFC 4954 5: clients that saw AUTH may send AUTH=<> (Postfix does).
        c = self.client("127.0.0.2")
        self.login(c, "alice")
        self.assertReply(c.cmd("MAIL FROM:<x@alpha.test> AUTH=<>"), 250)
        c.cmd("RSET")
        self.assertReply(c.cmd("MAIL FROM:<x@alpha.test> AUTH=alice+40alpha.test"), 250)

    def test_log_names_user_never_password(self):
        c = self.client("127.0.0.31")
        c.cmd("EHLO c")
        r = c.cmd("AUTH PLAIN " + b64(b"\0alice\0not-the-password-xyz"))
        self.assertReply(r, 535, "5.7.8")
        self.assertTrue(self.d.wait_log(b"auth_failed"))
        log = self.d.read_log()
        self.assertIn(b"user=\"alice\"", log)
        self.assertIn(b"client=127.0.0.31", log)
        self.assertNotIn(b"not-the-password-xyz", log)
        for pw in PASSWORDS.values():
            self.assertNotIn(pw.encode(), log)

    def test_required_listener(self):
        c = self.client("127.0.0.1", port=self.extra_port)
        c.cmd("EHLO c")
        # The network alone does not do on an auth: required listener.
        self.assertReply(c.cmd("MAIL FROM:<a@example.com>"), 530, "5.7.0",
                         "Authentication required")
        c.cmd("RSET")
        r = c.cmd("AUTH PLAIN " + b64(b"\0alice\0" + PASSWORDS["alice"].encode()))
        self.assertReply(r, 235)
        self.assertReply(self.send_msg(c, "x@alpha.test"), 250)

    def test_auth_wins_over_network(self):
        # From beta's network, logged in as alice: alpha's rules apply.
        before = len(self.d.outbox())
        c = self.client("127.0.0.5")
        self.login(c, "alice")
        self.assertReply(self.send_msg(c, "x@beta.test", mail_from="x@alpha.test"),
                         550, "5.7.1", "alpha may not send as beta.test")
        self.assertReply(c.cmd("MAIL FROM:<x@beta.test>"), 553, "5.7.1",
                         "not owned by alpha")
        c.cmd("RSET")
        self.assertReply(self.send_msg(c, "x@alpha.test"), 250)
        self.assertEqual(len(self.d.outbox()), before + 1)


class Payloads(AuthTest):
    """TL-07: each payload from its own address, so failure counting
    (TL-05) does not mix cases."""

    def test_payloads(self):
        pw = PASSWORDS["alice"].encode()
        long_resp = "A" * 12288 + "=="
        cases = [
            # (lines, code, enhanced, text)
            (["AUTH PLAIN !!!notbase64"], 501, "5.5.2", "Cannot decode response"),
            (["AUTH PLAIN AGFsaWNl="], 501, "5.5.2", "Cannot decode response"),
            (["AUTH PLAIN", "@@@"], 501, "5.5.2", "Cannot decode response"),
            (["AUTH PLAIN", "*"], 501, "5.0.0", "Authentication cancelled"),
            (["AUTH LOGIN", "*"], 501, "5.0.0", "Authentication cancelled"),
            (["AUTH LOGIN", b64(b"alice"), "*"], 501, "5.0.0",
             "Authentication cancelled"),
            (["AUTH PLAIN " + long_resp], 500, "5.5.6",
             "Authentication exchange line is too long"),
            (["AUTH PLAIN", long_resp], 500, "5.5.6",
             "Authentication exchange line is too long"),
            (["AUTH PLAIN " + b64(b"\0ali\0ce\0" + pw)], 535, "5.7.8", None),
            (["AUTH PLAIN " + b64(b"\0ali\rce\0" + pw)], 535, "5.7.8", None),
            (["AUTH PLAIN " + b64(b"\0ali\nce\0" + pw)], 535, "5.7.8", None),
            (["AUTH LOGIN", b64(b"ali\r\nce")], 535, "5.7.8", None),
            (["AUTH PLAIN " + b64(b"bob\0alice\0" + pw)], 535, "5.7.8",
             "authorization identity not permitted"),
            (["AUTH PLAIN " + b64(b"\0alice")], 535, "5.7.8", None),
            (["AUTH CRAM-MD5"], 504, "5.5.4", None),
            (["AUTH"], 501, None, None),
        ]
        for i, (lines, code, enh, text) in enumerate(cases):
            with self.subTest(case=lines[0][:40] + " / " + lines[-1][:20]):
                c = self.client("127.0.2.%d" % (i + 1))
                c.cmd("EHLO c")
                for l in lines[:-1]:
                    self.assertEqual(c.cmd(l).code, 334)
                self.assertReply(c.cmd(lines[-1]), code, enh, text)
                # The exchange is over: the session goes on, unauthenticated.
                self.assertReply(c.cmd("NOOP"), 250)
                self.assertReply(c.cmd("MAIL FROM:<a@alpha.test>"), 530, "5.7.0")

    def test_authzid_equal_and_empty_accepted(self):
        pw = PASSWORDS["alice"].encode()
        for i, payload in enumerate((b"alice\0alice\0" + pw, b"\0alice\0" + pw)):
            c = self.client("127.0.3.%d" % (i + 1))
            c.cmd("EHLO c")
            self.assertReply(c.cmd("AUTH PLAIN " + b64(payload)), 235)

    def test_plain_and_login_challenges(self):
        pw = PASSWORDS["alice"].encode()
        c = self.client("127.0.3.10")
        c.cmd("EHLO c")
        r = c.cmd("AUTH PLAIN")
        self.assertEqual(r.raw, b"334 \r\n")
        self.assertReply(c.cmd(b64(b"\0alice\0" + pw)), 235)
        c = self.client("127.0.3.11")
        c.cmd("EHLO c")
        r = c.cmd("AUTH LOGIN")
        self.assertEqual(base64.b64decode(r.text), b"Username:")
        r = c.cmd(b64(b"alice"))
        self.assertEqual(base64.b64decode(r.text), b"Password:")
        self.assertReply(c.cmd(b64(pw)), 235)
        # LOGIN with the user name as initial response.
        c = self.client("127.0.3.12")
        c.cmd("EHLO c")
        self.assertEqual(c.cmd("AUTH LOGIN " + b64(b"alice")).code, 334)
        self.assertReply(c.cmd(b64(pw)), 235)

    def test_second_auth_and_auth_in_transaction(self):
        c = self.client("127.0.3.20")
        self.login(c)
        self.assertReply(c.cmd("AUTH PLAIN " + b64(b"\0bob\0beta-secret")),
                         503, "5.5.1", "already authenticated")
        # The identity stays alice's.
        self.assertReply(c.cmd("MAIL FROM:<x@beta.test>"), 553, "5.7.1")
        c = self.client("127.0.0.4")
        c.cmd("EHLO c")
        self.assertReply(c.cmd("MAIL FROM:<x@alpha.test>"), 250)
        self.assertReply(c.cmd("AUTH PLAIN " + b64(b"\0bob\0beta-secret")),
                         503, "5.5.1", "MAIL transaction in progress")
        self.assertReply(c.cmd("AUTH PLAIN"), 503, "5.5.1")

    def test_auth_before_ehlo(self):
        c = self.client("127.0.3.30")
        self.assertReply(c.cmd("AUTH PLAIN " + b64(b"\0alice\0x")), 503, "5.5.1")


class BruteForce(AuthTest):
    """TL-05 with error_delay 200ms and auth_failures 3."""
    limits = {"error_delay": "200ms", "auth_failures": "3"}

    def attempt(self, c, user, password):
        t0 = time.monotonic()
        r = c.cmd("AUTH PLAIN " + b64(b"\0" + user + b"\0" + password))
        return r, time.monotonic() - t0

    def test_delays_grow_then_421_then_454(self):
        c = self.client("127.0.4.2")
        c.cmd("EHLO c")
        r1, t1 = self.attempt(c, b"alice", b"wrong1")
        self.assertReply(r1, 535, "5.7.8", "authentication failed")
        r2, t2 = self.attempt(c, b"alice", b"wrong2")
        self.assertReply(r2, 535, "5.7.8")
        # Lower bounds only: 200 ms, then 400 ms.
        self.assertGreaterEqual(t1, 0.2)
        self.assertGreaterEqual(t2, 0.4)
        r3, _ = self.attempt(c, b"alice", b"wrong3")
        self.assertReply(r3, 421, "4.7.0", "too many authentication failures")
        self.assertTrue(c.expect_closed())
        # A new session from the same address is refused before any
        # password check, even with the right password.
        c = self.client("127.0.4.2")
        c.cmd("EHLO c")
        r, _ = self.attempt(c, b"alice", PASSWORDS["alice"].encode())
        self.assertReply(r, 454, "4.7.0", "Temporary authentication failure")
        # Other addresses are not affected: nobody locks alice out.
        c = self.client("127.0.4.3")
        c.cmd("EHLO c")
        r, _ = self.attempt(c, b"alice", b"wrong")
        self.assertReply(r, 535)
        r, _ = self.attempt(c, b"alice", PASSWORDS["alice"].encode())
        self.assertReply(r, 235)

    def test_spraying_counted_per_address(self):
        users = [b"alice", b"bob", b"nobody", b"carol"]
        c = self.client("127.0.4.10")
        c.cmd("EHLO c")
        self.assertReply(self.attempt(c, users[0], b"x")[0], 535)
        c = self.client("127.0.4.10")
        c.cmd("EHLO c")
        self.assertReply(self.attempt(c, users[1], b"x")[0], 535)
        # Unknown users fail the same way.
        c = self.client("127.0.4.10")
        c.cmd("EHLO c")
        self.assertReply(self.attempt(c, users[2], b"x")[0], 535)
        c = self.client("127.0.4.10")
        c.cmd("EHLO c")
        self.assertReply(self.attempt(c, users[3], PASSWORDS["carol"].encode())[0],
                         454, "4.7.0")
        self.assertTrue(self.d.wait_log(b"auth_throttled"))

    def test_login_mechanism_counts_too(self):
        c = self.client("127.0.4.20")
        c.cmd("EHLO c")
        for i in range(2):
            self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
            self.assertEqual(c.cmd(b64(b"bob")).code, 334)
            self.assertReply(c.cmd(b64(b"bad%d" % i)), 535, "5.7.8")
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        self.assertEqual(c.cmd(b64(b"bob")).code, 334)
        self.assertReply(c.cmd(b64(b"bad")), 421, "4.7.0")


class Plaintext(AuthTest):
    """TL-06: a listener on a non-loopback address (0.0.0.0) with
    starttls: configured; before TLS no AUTH is offered or accepted."""
    extra = ["- address: 0.0.0.0:%(p)d", "  auth: optional",
             "  starttls: { cert: %(dir)s/tls.crt, key: %(dir)s/tls.key }"]

    @classmethod
    def setUpClass(cls):
        import tempfile
        import tlsutil
        cls.tlsdir = tempfile.mkdtemp(prefix="signet-tls-")
        tlsutil.self_signed(cls.tlsdir)
        cls.extra = [l.replace("%(dir)s", cls.tlsdir) for l in cls.extra]
        super().setUpClass()

    def test_no_auth_before_tls(self):
        c = self.client("127.0.0.2", port=self.extra_port)
        r = c.cmd("EHLO c")
        self.assertNotIn("AUTH", r.text)
        for line in ("AUTH PLAIN " + b64(b"\0alice\0" + PASSWORDS["alice"].encode()),
                     "AUTH LOGIN", "AUTH PLAIN"):
            with self.subTest(line=line[:12]):
                self.assertReply(c.cmd(line), 538, "5.7.11",
                                 "Encryption required for requested "
                                 "authentication mechanism")
        self.assertReply(c.cmd("MAIL FROM:<a@alpha.test>"), 530, "5.7.0")

    def test_config_refuses_plaintext_auth_off_loopback(self):
        text = self.d.config_text().replace(
            "    auth: optional\n", "    auth: optional\n", 1)
        text = text.replace("  starttls: { cert:", "  # starttls:", 1)
        path = self.d.config + ".bad"
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([binary("signetctl"), "config", "check", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"needs TLS", p.stderr)


if __name__ == "__main__":
    tap.main()
