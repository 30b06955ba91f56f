"""The verifier wrappers (tests/lib/verifiers.py) tell good signatures
from bad ones.  The interop tests trust these wrappers, so each one is
checked here on messages dkimpy signs with keys made in this test: every
signature passes untouched, fails after a one-octet change to a signed
header or to the body, fails against the wrong key, does not pass with
no key, and a message with one good and one bad signature gets the two
verdicts on the right signatures."""
import unittest

import tap
import verifiers
from signet_env import crlf

DOMAIN = "example.com"

MESSAGES = {
    "plain": crlf("From: Alice <alice@example.com>\nTo: bob@example.org\n"
                  "Subject: hello\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n"
                  "Message-ID: <1@example.com>\n\nHello Bob.\n"),
    "folded": crlf("From: alice@example.com\nTo: bob@example.org,\n\tcarol@example.org\n"
                   "Subject: a  folded\n   subject  line\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n"
                   "\nbody  with   spaces \t\n\n\n"),
    "empty-body": crlf("From: alice@example.com\nTo: bob@example.org\nSubject: empty\n\n"),
}

CANONS = [(b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple")]


def tamper_header(msg):
    """One octet of the Subject value changed."""
    i = msg.index(b"Subject: ") + len(b"Subject: ")
    return msg[:i] + bytes([msg[i] ^ 1]) + msg[i + 1:]


def tamper_body(msg):
    """One octet appended to the body's first line (or a body added)."""
    i = msg.index(b"\r\n\r\n") + 4
    return msg[:i] + b"X" + msg[i:]


class Selfcheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rsa_pem, cls.rsa_txt = verifiers.rsa_key()
        cls.ed_seed, _, cls.ed_txt = verifiers.ed25519_key()
        _, cls.other_txt = verifiers.rsa_key()
        cls.dns = {"rsa._domainkey." + DOMAIN: cls.rsa_txt,
                   "ed._domainkey." + DOMAIN: cls.ed_txt}

    def signed(self, msg, canon):
        m = verifiers.dkimpy_sign(msg, DOMAIN, "rsa", self.rsa_pem, canon=canon)
        return verifiers.dkimpy_sign(m, DOMAIN, "ed", self.ed_seed,
                                     alg="ed25519-sha256", canon=canon)

    def results(self, msg, dns):
        out = verifiers.verify_all(msg, dns)
        for name, res in out.items():
            self.assertEqual(len(res), 2, "%s saw %r" % (name, res))
            self.assertEqual([r.s for r in res], ["ed", "rsa"], name)
        return out

    def test_good_signatures_pass(self):
        for mname, msg in MESSAGES.items():
            for canon in CANONS:
                with self.subTest(msg=mname, canon=b"/".join(canon).decode()):
                    for name, res in self.results(self.signed(msg, canon), self.dns).items():
                        for r in res:
                            if verifiers.supports(name, r.a):
                                self.assertTrue(r.passed, "%s: %r" % (name, r))
                            else:
                                self.assertFalse(r.passed, "%s: %r" % (name, r))

    def test_tampered_fails(self):
        for mname, msg in MESSAGES.items():
            for canon in CANONS:
                for tname, tamper in (("header", tamper_header), ("body", tamper_body)):
                    with self.subTest(msg=mname, canon=b"/".join(canon).decode(), change=tname):
                        bad = tamper(self.signed(msg, canon))
                        for name, res in self.results(bad, self.dns).items():
                            for r in res:
                                self.assertFalse(r.passed, "%s: %r" % (name, r))

    def test_wrong_or_missing_key_does_not_pass(self):
        msg = self.signed(MESSAGES["plain"], CANONS[0])
        cases = {
            "wrong key": {"rsa._domainkey." + DOMAIN: self.other_txt,
                          "ed._domainkey." + DOMAIN: self.rsa_txt},
            "no record": {},
        }
        for cname, dns in cases.items():
            with self.subTest(case=cname):
                for name, res in self.results(msg, dns).items():
                    for r in res:
                        self.assertFalse(r.passed, "%s: %r" % (name, r))

    def test_verdicts_land_on_the_right_signature(self):
        # Two RSA signatures, only the lower one's record is right.
        msg = verifiers.dkimpy_sign(MESSAGES["plain"], DOMAIN, "good", self.rsa_pem)
        msg = verifiers.dkimpy_sign(msg, DOMAIN, "bad", self.rsa_pem)
        dns = {"good._domainkey." + DOMAIN: self.rsa_txt,
               "bad._domainkey." + DOMAIN: self.other_txt}
        for name, res in verifiers.verify_all(msg, dns).items():
            with self.subTest(verifier=name):
                self.assertEqual([(r.s, r.passed) for r in res],
                                 [("bad", False), ("good", True)], repr(res))

    def test_every_signature_is_checked(self):
        # OpenDKIM checks only 3 signatures unless told otherwise.
        msg = MESSAGES["plain"]
        sels = ["k%d" % i for i in range(5)]
        for sel in sels:
            msg = verifiers.dkimpy_sign(msg, DOMAIN, sel, self.rsa_pem)
        dns = {"%s._domainkey.%s" % (sel, DOMAIN): self.rsa_txt for sel in sels}
        for name, res in verifiers.verify_all(msg, dns).items():
            with self.subTest(verifier=name):
                self.assertEqual([(r.s, r.passed) for r in res],
                                 [(sel, True) for sel in reversed(sels)], repr(res))

    def test_unsigned_message_has_no_results(self):
        for name, res in verifiers.verify_all(MESSAGES["plain"], self.dns).items():
            with self.subTest(verifier=name):
                self.assertEqual(res, [])


if __name__ == "__main__":
    tap.main()
