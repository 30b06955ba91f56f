"""Tenants and relaying (hostile-inputs.md F: TN-01..TN-04) and the ESP
double signature: nobody gets mail signed for a domain its tenant does
not own, whatever the spelling, and nothing refused reaches the
upstream.  Tenants and users are tenantbench.py's."""
import base64
import unittest

import tap
import verifiers
from daemon import message
from rawsmtp import RawSMTP, dot_stuff
from signet_env import free_port
from tenantbench import PASSWORDS, TenantDaemon


def b64(data):
    return base64.b64encode(data).decode()


class TenantTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = TenantDaemon()
        try:
            cls.d.start()
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

    def client(self, source="127.0.0.2", user=None):
        c = RawSMTP(self.d.port, source=source)
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply().code, 220)
        self.assertEqual(c.cmd("EHLO client.test").code, 250)
        if user is not None:
            r = c.cmd("AUTH PLAIN " + b64(b"\0" + user.encode() + b"\0" +
                                          PASSWORDS[user].encode()))
            self.assertEqual(r.code, 235, r.raw)
        return c

    def assertReply(self, r, code, enh=None, text=None):
        self.assertTrue(r.wellformed, r.raw)
        self.assertEqual(r.code, code, r.raw)
        if enh is not None:
            self.assertEqual(r.enhanced, enh, r.raw)
        if text is not None:
            self.assertIn(text, r.text, r.raw)

    def transaction(self, c, mail_from, content, rcpt="rcpt@dest.test"):
        r = c.cmd("MAIL FROM:<%s>" % mail_from)
        if r.code != 250:
            return r
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        if r.code != 250:
            return r
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(dot_stuff(content) + b".\r\n")
        return c.read_reply()


class OpenRelay(TenantTest):
    """TN-01: neither authenticated nor on a tenant's network."""
    TRICKS = ["user%remote.test@example.com", "@relay.test:user@remote.test",
              "@a.test,@b.test:user@remote.test", '"user@remote.test"@example.com',
              "user@remote.test@example.com", "user@[192.0.2.1]",
              "remote.test!user@example.com", "rcpt@dest.test"]

    def test_probes_refused_nothing_relayed(self):
        before = len(self.d.outbox())
        for i, rcpt in enumerate(self.TRICKS):
            for frm in ("a@example.com", "a@alpha.test", "", "a@remote.test"):
                with self.subTest(rcpt=rcpt, frm=frm):
                    c = self.client("127.0.6.%d" % (i + 1))
                    self.assertReply(c.cmd("MAIL FROM:<%s>" % frm), 530, "5.7.0",
                                     "Authentication required")
                    # No transaction: the recipient is never looked at.
                    self.assertReply(c.cmd("RCPT TO:<%s>" % rcpt), 503, "5.5.1")
                    self.assertEqual(c.cmd("DATA").code, 503)
        self.assertEqual(len(self.d.outbox()), before)
        self.assertIn(b"event=relay_denied", self.d.read_log())

    def test_allowlisted_network_relays(self):
        before = len(self.d.outbox())
        c = self.client("127.0.0.1")
        r = self.transaction(c, "a@example.com", message(frm="a@example.com"))
        self.assertReply(r, 250)
        self.assertEqual(len(self.d.outbox()), before + 1)


class FromDomain(TenantTest):
    """TN-02: bob (tenant beta: beta.test, no subdomains) tries alpha's
    and everybody else's domains; alice (alpha: alpha.test and
    *.alpha.test) tries beta's."""
    FOREIGN_FOR_BOB = [
        "alpha.test", "ALPHA.TEST", "Alpha.Test", "alpha.test.",
        "sub.alpha.test", "beta.test.alpha.test", "alpha.test.beta.test",
        "sub.beta.test", "evilalpha.test", "evil-alpha.test",
        "alpha.test.evil", "alphatest", "xn--lpha-4ve.test",
        "example.com", "esp.test", "nokey.test", "unknown.test",
    ]

    def test_foreign_from_refused(self):
        before = len(self.d.outbox())
        for dom in self.FOREIGN_FOR_BOB:
            with self.subTest(domain=dom):
                c = self.client("127.0.0.2", user="bob")
                r = self.transaction(c, "x@beta.test", message(frm="x@" + dom))
                self.assertReply(r, 550, "5.7.1", "beta may not send as")
        self.assertEqual(len(self.d.outbox()), before)
        self.assertIn(b"event=from_not_owned", self.d.read_log())

    def test_auth_as_one_tenant_from_anothers_network(self):
        before = len(self.d.outbox())
        # bob logs in from alpha's network: alpha's domains stay alpha's.
        c = self.client("127.0.0.4", user="bob")
        r = self.transaction(c, "x@beta.test", message(frm="x@alpha.test"))
        self.assertReply(r, 550, "5.7.1", "beta may not send as alpha.test")
        # alice from beta's network.
        c = self.client("127.0.0.5", user="alice")
        r = self.transaction(c, "x@alpha.test", message(frm="x@beta.test"))
        self.assertReply(r, 550, "5.7.1", "alpha may not send as beta.test")
        self.assertEqual(len(self.d.outbox()), before)

    def test_own_domain_in_any_spelling_signs(self):
        cases = [("bob", "beta.test", "beta.test"), ("bob", "BETA.TEST", "beta.test"),
                 ("bob", "Beta.Test.", "beta.test"),
                 ("alice", "alpha.test", "alpha.test"),
                 ("alice", "news.alpha.test", "alpha.test")]
        for user, dom, d in cases:
            with self.subTest(user=user, domain=dom):
                before = len(self.d.outbox())
                c = self.client("127.0.0.2", user=user)
                own = "x@" + d
                r = self.transaction(c, own, message(frm="x@" + dom))
                self.assertReply(r, 250)
                msgs = self.d.outbox()
                self.assertEqual(len(msgs), before + 1)
                sigs = verifiers.dkimpy(msgs[-1], self.d.dns)
                self.assertTrue(sigs)
                self.assertEqual(sigs[0].d, d)
                self.assertTrue(all(s.result == "pass" for s in sigs), sigs)


class EnvelopeAndSender(TenantTest):
    """TN-03."""

    def test_mail_from_foreign_domain(self):
        for addr in ("x@alpha.test", "x@ALPHA.TEST", "x@sub.beta.test",
                     "x@example.com", ""):
            with self.subTest(addr=addr):
                c = self.client("127.0.0.2", user="bob")
                r = c.cmd("MAIL FROM:<%s>" % addr)
                self.assertReply(r, 553, "5.7.1",
                                 "Sender address rejected: not owned by beta")
        # A trailing dot is not RFC 5321 syntax at all.
        c = self.client("127.0.0.2", user="bob")
        self.assertReply(c.cmd("MAIL FROM:<x@alpha.test.>"), 501, "5.1.7")

    def test_sender_field_foreign(self):
        before = len(self.d.outbox())
        c = self.client("127.0.0.2", user="bob")
        r = self.transaction(c, "x@beta.test", message(
            frm="x@beta.test", extra=b"Sender: y@alpha.test\r\n"))
        self.assertReply(r, 550, "5.7.1", "beta may not send as alpha.test")
        self.assertEqual(len(self.d.outbox()), before)


class NoKey(TenantTest):
    """TN-04: carol's tenant owns nokey.test, which has no key; dave's
    owns nokey2.test with unsigned: allow."""

    def test_no_key_is_451_and_nothing_relayed(self):
        before = len(self.d.outbox())
        c = self.client("127.0.0.2", user="carol")
        r = self.transaction(c, "x@nokey.test", message(frm="x@nokey.test"))
        self.assertReply(r, 451, "4.3.0", "no signing key for nokey.test yet")
        self.assertEqual(len(self.d.outbox()), before)

    def test_unsigned_allow_relays_unsigned_and_logs(self):
        before = len(self.d.outbox())
        c = self.client("127.0.0.2", user="dave")
        r = self.transaction(c, "x@nokey2.test", message(frm="x@nokey2.test"))
        self.assertReply(r, 250)
        msgs = self.d.outbox()
        self.assertEqual(len(msgs), before + 1)
        self.assertNotIn(b"DKIM-Signature", msgs[-1])
        self.assertTrue(self.d.wait_log(b"event=unsigned tenant=loose domain=nokey2.test"))


class TenantHeaderList(TenantTest):
    """signing: { headers, oversign } on a tenant applies to its mail only."""

    def h_tag(self, msg):
        head = msg.split(b"\r\n\r\n", 1)[0].replace(b"\r\n\t", b"").replace(
            b"\r\n ", b"")
        line = [l for l in head.split(b"\r\n") if l.lower().startswith(b"dkim-signature:")][0]
        tags = dict(t.strip().split(b"=", 1) for t in line.split(b":", 1)[1].split(b";")
                    if b"=" in t)
        return [h.strip().lower() for h in tags[b"h"].replace(b" ", b"").split(b":")]

    def test_tenant_headers(self):
        for user, dom, want in (("bob", "beta.test", [b"from", b"from", b"subject", b"date"]),
                                ("alice", "alpha.test", None)):
            with self.subTest(user=user):
                before = len(self.d.outbox())
                c = self.client("127.0.0.2", user=user)
                r = self.transaction(c, "x@" + dom, message(frm="x@" + dom))
                self.assertReply(r, 250)
                msg = self.d.outbox()[before]
                h = self.h_tag(msg)
                if want is not None:
                    # From oversigned (n+1), nothing outside the list.
                    self.assertEqual(sorted(h), sorted(want))
                else:
                    self.assertIn(b"to", h)
                    self.assertIn(b"message-id", h)
                sigs = verifiers.dkimpy(msg, self.d.dns)
                self.assertTrue(all(s.result == "pass" for s in sigs), sigs)


class ExtraEd25519(TenantTest):
    """A domain with extra_ed25519 signs with its RSA selectors and then
    with its Ed25519 key (RFC 8463), besides the ESP's signature."""

    def test_rsa_pair_plus_ed25519(self):
        before = len(self.d.outbox())
        c = self.client("127.0.0.2", user="alice")
        r = self.transaction(c, "x@duo.test", message(frm="x@duo.test"))
        self.assertReply(r, 250)
        msg = self.d.outbox()[before]
        got = [(d, s, a) for d, s, a, _ in verifiers.signature_tags(msg)]
        self.assertEqual(got, [("duo.test", "s1", "rsa-sha256"),
                               ("duo.test", "s2", "rsa-sha256"),
                               ("duo.test", "ed1", "ed25519-sha256"),
                               ("esp.test", "esp1", "rsa-sha256")])
        for name, sigs in verifiers.verify_all(msg, self.d.dns).items():
            with self.subTest(verifier=name):
                for sig in sigs:
                    if verifiers.supports(name, sig.a):
                        self.assertEqual(sig.result, "pass", (name, sig))
        # The Ed25519 key is in use, not reported as a mismatch.
        self.assertNotIn(b"key_algorithm_mismatch domain=duo.test",
                         self.d.read_log())


class ProxyBalancer(unittest.TestCase):
    """limits.max_connections_per_ip caps clients, not the balancer that
    carries all of them to a PROXY listener: behind it, each real client
    (from the PROXY header) is capped."""

    def test_balancer_not_capped(self):
        port = free_port()
        d = TenantDaemon(limits={"max_connections_per_ip": "2"},
                         extra_listeners=["- address: 127.0.0.1:%d" % port,
                                          "  proxy_protocol: v1"])
        self.addCleanup(d.cleanup, False)
        d.start()
        conns = []
        for i in range(5):
            c = RawSMTP(port, source="127.0.0.9")
            conns.append(c)
            self.addCleanup(c.close)
            c.send(b"PROXY TCP4 203.0.113.%d 192.0.2.1 4000 25\r\n" % (i + 1))
            self.assertEqual(c.read_reply().code, 220, i)
        # One real client behind the balancer is capped like a direct one.
        # One at a time: with several workers, connections sent together
        # may be counted in any order.
        same, replies = [], []
        for i in range(3):
            c = RawSMTP(port, source="127.0.0.9")
            same.append(c)
            self.addCleanup(c.close)
            c.send(b"PROXY TCP4 203.0.113.50 192.0.2.1 %d 25\r\n" % (4000 + i))
            replies.append(c.read_reply())
        self.assertEqual([r.code for r in replies], [220, 220, 421])
        self.assertEqual(replies[2].enhanced, "4.7.0")
        self.assertTrue(same[2].expect_closed())
        # Direct clients are still capped.
        codes = []
        for i in range(3):
            c = RawSMTP(d.port, source="127.0.0.10")
            self.addCleanup(c.close)
            codes.append(c.read_reply().code)
        self.assertEqual(codes, [220, 220, 421])
        self.assertIsNone(d.sanitizer_report())


class EspDoubleSignature(TenantTest):
    """extra_signatures: alpha's mail carries the ESP's own d=esp.test
    signature after its own; every verifier passes both."""

    def test_double_signature_verifies_everywhere(self):
        before = len(self.d.outbox())
        c = self.client("127.0.0.2", user="alice")
        r = self.transaction(c, "x@alpha.test", message(frm="x@alpha.test"))
        self.assertReply(r, 250)
        msg = self.d.outbox()[before]
        res = verifiers.verify_all(msg, self.d.dns)
        for name, sigs in res.items():
            with self.subTest(verifier=name):
                self.assertEqual(sorted(set(s.d for s in sigs)),
                                 ["alpha.test", "esp.test"], sigs)
                self.assertTrue(all(s.result == "pass" for s in sigs), sigs)


if __name__ == "__main__":
    tap.main()
