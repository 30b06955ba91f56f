"""Client certificates as a tenant identity: the SHA-256 fingerprint of
the certificate a client presents selects the tenant that pins it in
tenants[].certificates, whatever the client's address; that tenant may
sign only for its own domains (TN-02, TN-03).  A certificate nobody
pins gives no identity."""
import tap
import verifiers
import tlsutil
from tlsd import TlsTest, message


class ClientCert(TlsTest):

    def send(self, c, mail_from, frm, subject):
        """One transaction on an established TLS client; the replies of
        MAIL and of the final dot (None when MAIL was refused)."""
        self.assertReply(c.cmd("EHLO cert.client"), 250)
        r = c.cmd("MAIL FROM:<%s>" % mail_from)
        if r.code != 250:
            return r, None
        self.assertReply(c.cmd("RCPT TO:<bob@dest.test>"), 250)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(message(frm=frm, subject=subject) + b".\r\n")
        return r, c.read_reply()

    def client(self, who, port=None, source="127.0.0.2"):
        cert = {"pinned": (self.d.client_cert, self.d.client_key),
                "stranger": (self.d.stranger_cert, self.d.stranger_key),
                "none": (None, None)}[who]
        return self.tls_client(port=port, cert=cert[0], key=cert[1],
                               source=source)

    def test_pinned_certificate_signs_for_its_domain(self):
        for port in (self.d.port, self.d.port_smtps):
            with self.subTest(port="starttls" if port == self.d.port
                              else "implicit"):
                before = len(self.d.outbox())
                c = self.client("pinned", port)
                mail, final = self.send(c, "app@cert.test", "app@cert.test",
                                        "pinned")
                self.assertReply(mail, 250)
                self.assertReply(final, 250)
                msgs = self.d.outbox()
                self.assertEqual(len(msgs), before + 1)
                tags = verifiers.signature_tags(msgs[-1])
                self.assertEqual([t[0] for t in tags], ["cert.test"])
                res = verifiers.dkimpy(msgs[-1], self.d.dns)
                self.assertTrue(res and all(r.result == "pass" for r in res),
                                res)
        fp = tlsutil.fingerprint(self.d.client_cert).encode()
        self.assertTrue(self.d.wait_log(b"client_cert=" + fp +
                                        b" verified=no tenant=certified"))

    def test_pinned_certificate_wins_over_network(self):
        # 127.0.0.1 is tenant "local"'s network; the certificate decides.
        before = len(self.d.outbox())
        c = self.client("pinned", source="127.0.0.1")
        mail, final = self.send(c, "app@cert.test", "app@cert.test", "net")
        self.assertReply(mail, 250)
        self.assertReply(final, 250)
        self.assertEqual(len(self.d.outbox()), before + 1)

    def test_pinned_certificate_other_domain_refused(self):
        before = len(self.d.outbox())
        c = self.client("pinned")
        mail, final = self.send(c, "app@cert.test", "alice@example.com",
                                "not mine")
        self.assertReply(mail, 250)
        self.assertReply(final, 550, "5.7.1",
                         "certified may not send as example.com")
        mail, _ = self.send(c, "alice@example.com", "alice@example.com",
                            "not mine either")
        self.assertReply(mail, 553, "5.7.1", "not owned by certified")
        self.assertEqual(len(self.d.outbox()), before)

    def test_unpinned_or_no_certificate_has_no_identity(self):
        before = len(self.d.outbox())
        for who in ("stranger", "none"):
            with self.subTest(who=who):
                c = self.client(who)
                mail, _ = self.send(c, "app@cert.test", "app@cert.test", who)
                self.assertReply(mail, 530, "5.7.0")
        fp = tlsutil.fingerprint(self.d.stranger_cert).encode()
        self.assertTrue(self.d.wait_log(b"client_cert=" + fp +
                                        b" verified=no tenant=-"))
        self.assertEqual(len(self.d.outbox()), before)


class ClientCertWithCA(ClientCert):
    """The same with client_ca set to the pinned certificate (its own
    issuer): the log says it verified; identity stays the fingerprint."""
    client_ca = True

    def test_verified_against_client_ca(self):
        c = self.client("pinned")
        self.assertReply(c.cmd("EHLO ca.test"), 250)
        fp = tlsutil.fingerprint(self.d.client_cert).encode()
        self.assertTrue(self.d.wait_log(b"client_cert=" + fp +
                                        b" verified=yes tenant=certified"))

    def test_pinned_certificate_signs_for_its_domain(self):
        c = self.client("pinned")
        mail, final = self.send(c, "app@cert.test", "app@cert.test", "ca")
        self.assertReply(mail, 250)
        self.assertReply(final, 250)


if __name__ == "__main__":
    tap.main()
