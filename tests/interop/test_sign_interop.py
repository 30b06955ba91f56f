"""Promise 2 (DESIGN.md): what signet signs verifies everywhere, and
signet's verifier agrees with the others.

* Keys come from `signetctl keygen` (its printed TXT value is the DNS
  record); every message of tests/lib/msgset.py is signed by
  `signetctl sign` with two signatures (RSA-2048 s1 + RSA-2048 s2, and
  RSA-2048 + Ed25519), and dkimpy, OpenDKIM and Mail::DKIM (RSA only:
  Debian's Mail::DKIM has no Ed25519) verify every signature of the
  message as it goes on the wire.
* Messages signed by dkimpy (relaxed/relaxed and simple/simple, RSA and
  Ed25519) verify with `signetctl verify --dns-file`.
* A one-octet change to a signed header or to the body fails in every
  verifier, signetctl's included.

signetctl is required: without its keygen/sign/verify subcommands these
tests fail (they never skip).  SIGNET_INTEROP_ASAN=1 runs them against
the ASan+UBSan build's signetctl instead (any sanitizer report makes
signetctl exit non-zero, which fails the test).
"""
import base64
import os
import re
import stat
import subprocess
import tempfile
import time
import unittest

import msgset
import tap
import verifiers
from signet_env import binary

DOMAIN = msgset.FROM_DOMAIN
# t= for every signature: a minute ago, so x= (default t + 5d) has not
# passed for the verifiers, which check it against their own clock.
SIGN_TIME = int(time.time()) - 60
PAIRS = {
    "rsa+rsa": (("s1", "rsa"), ("s2", "rsa")),
    "rsa+ed25519": (("s1", "rsa"), ("e1", "ed25519")),
}
# (pair, --canon or None for the default relaxed/relaxed)
SIGNINGS = [("rsa+rsa", None), ("rsa+ed25519", None), ("rsa+ed25519", "simple/simple")]
CANONS = [(b"relaxed", b"relaxed"), (b"simple", b"simple")]
VERIFY_LINE = re.compile(r"^d=(\S+) s=(\S+) a=(\S+) (\S+)(?: (.*))?$")


ASAN = os.environ.get("SIGNET_INTEROP_ASAN") == "1"


def ctl(*args, stdin=b""):
    """Run build/bin/signetctl; CompletedProcess with bytes output."""
    path = binary("signetctl", asan=ASAN)
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is missing: build it first (make)" % path)
    return subprocess.run([path] + list(args), input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120)


def txt_value(out):
    """The TXT value keygen printed: plain, or as zone-file strings
    ("..." "...") which are joined (RFC 6376 3.6.2.2)."""
    text = out.decode().strip()
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', text)
    return "".join(strings) if strings else text


def txt_tags(value):
    tags = {}
    for part in value.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            tags[k.strip()] = re.sub(r"\s+", "", v)
    return tags


def sig_fields(signed):
    """Raw DKIM-Signature fields (with folding) at the top of signed."""
    return re.findall(rb"(?:^|(?<=\n))(DKIM-Signature:.*?\r?\n)(?![ \t])",
                      signed, re.S | re.I)


def verify_with_signetctl(msg, dns_file):
    """(exit status, [(d, s, a, result, reason)]) of signetctl verify."""
    r = ctl("verify", "--dns-file", dns_file, stdin=msg)
    if r.returncode == 2:
        raise AssertionError("signetctl verify: usage error: %s" % r.stderr.decode())
    rows = []
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        m = VERIFY_LINE.match(line.strip())
        if m:
            rows.append(m.groups())
    return r, rows


class Keys:
    """Keys made once per run with signetctl keygen."""
    tmp = None
    files = {}
    dns = {}
    error = None

    @classmethod
    def make(cls):
        if cls.tmp is not None:
            return
        cls.tmp = tempfile.TemporaryDirectory(prefix="signet-interop-")
        for sel, alg in {("s1", "rsa"), ("s2", "rsa"), ("e1", "ed25519")}:
            path = os.path.join(cls.tmp.name, "%s.pem" % sel)
            args = ["keygen", "--algorithm", alg, "--out", path]
            if alg == "rsa":
                args[3:3] = ["--bits", "2048"]
            r = ctl(*args)
            if r.returncode != 0:
                cls.error = "signetctl %s: exit %d: %s" % (
                    " ".join(args), r.returncode, r.stderr.decode().strip())
                return
            cls.files[sel] = (alg, path, r)
            cls.dns["%s._domainkey.%s" % (sel, DOMAIN)] = txt_value(r.stdout)
        cls.dns_file = verifiers.write_dns_file(cls.dns, os.path.join(cls.tmp.name, "dns.txt"))


class KeygenContract(unittest.TestCase):
    def setUp(self):
        Keys.make()
        if Keys.error:
            self.fail(Keys.error)

    def test_keygen_files_and_records(self):
        for sel, (alg, path, _) in sorted(Keys.files.items()):
            with self.subTest(selector=sel, algorithm=alg):
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
                pem = open(path, "rb").read()
                self.assertIn(b"-----BEGIN PRIVATE KEY-----", pem, "PKCS#8 PEM")
                kalg, bits, spki = verifiers.key_info(pem)
                self.assertEqual(kalg, alg)
                tags = txt_tags(Keys.dns["%s._domainkey.%s" % (sel, DOMAIN)])
                self.assertEqual(tags.get("v"), "DKIM1")
                self.assertEqual(tags.get("k", "rsa"), alg)
                p = base64.b64decode(tags["p"], validate=True)
                if alg == "rsa":
                    self.assertEqual(bits, 2048)
                    want = spki
                else:
                    want = spki[-32:]       # RFC 8463 4.2: the raw key
                self.assertEqual(p, want, "p= is the public half of the written key")


class SignetSigns(unittest.TestCase):
    """signetctl sign -> every independent verifier."""

    def setUp(self):
        Keys.make()
        if Keys.error:
            self.fail(Keys.error)

    def sign(self, msg, pair, canon=None):
        args = ["sign"]
        for sel, _ in PAIRS[pair]:
            args += ["--key", "%s:%s:%s" % (DOMAIN, sel, Keys.files[sel][1])]
        args += ["--time", str(SIGN_TIME)]
        if canon:
            args += ["--canon", canon]
        r = ctl(*args, stdin=msg)
        self.assertEqual(r.returncode, 0, "signetctl sign: %s" % r.stderr.decode())
        return r.stdout

    def check_signed_form(self, msg, signed, pair, canon):
        """Two signatures on top, in --key order, then the message
        unchanged; c= as asked, t= is --time, x= after it, no l=, From
        is signed."""
        fields = sig_fields(signed)
        self.assertEqual(len(fields), 2, "two DKIM-Signature fields")
        head = b"".join(fields)
        self.assertTrue(signed.startswith(head), "signatures are the first fields")
        self.assertEqual(msgset.wire(signed[len(head):]), msgset.wire(msg),
                         "the message itself is unchanged")
        for field, (sel, alg) in zip(fields, PAIRS[pair]):
            tags = txt_tags(field.split(b":", 1)[1].decode())
            self.assertEqual(tags.get("d"), DOMAIN)
            self.assertEqual(tags.get("s"), sel)
            self.assertEqual(tags.get("a"), "%s-sha256" % alg)
            self.assertEqual(tags.get("c", "simple/simple"), canon or "relaxed/relaxed")
            self.assertEqual(tags.get("t"), str(SIGN_TIME))
            self.assertGreater(int(tags.get("x", "0")), SIGN_TIME, "x= (DK-07)")
            self.assertNotIn("l", tags, "no l= (hostile-inputs DK-01)")
            self.assertIn("from", tags.get("h", "").lower().split(":"))

    def test_signatures_verify_everywhere(self):
        for pair, canon in SIGNINGS:
            for name, msg in msgset.messages():
                with self.subTest(pair=pair, canon=canon or "default", msg=name):
                    signed = self.sign(msg, pair, canon)
                    self.check_signed_form(msg, signed, pair, canon)
                    onwire = msgset.wire(signed)
                    for vname, res in verifiers.verify_all(onwire, Keys.dns).items():
                        self.assertEqual([r.s for r in res], [s for s, _ in PAIRS[pair]],
                                         "%s saw %r" % (vname, res))
                        for r in res:
                            if verifiers.supports(vname, r.a):
                                self.assertTrue(r.passed, "%s: %r" % (vname, r))
                    r, rows = verify_with_signetctl(onwire, Keys.dns_file)
                    self.assertEqual(r.returncode, 0, "signetctl verify: %r %s"
                                     % (rows, r.stderr.decode()))
                    self.assertEqual([(row[1], row[3]) for row in rows],
                                     [(s, "pass") for s, _ in PAIRS[pair]])

    def test_one_octet_change_fails_everywhere(self):
        pair = "rsa+ed25519"
        for name, msg in msgset.messages():
            onwire = msgset.wire(self.sign(msg, pair))
            for where, tamper in (("header", msgset.tamper_header),
                                  ("body", msgset.tamper_body)):
                with self.subTest(msg=name, changed=where):
                    bad = tamper(onwire)
                    self.assertNotEqual(bad, onwire)
                    for vname, res in verifiers.verify_all(bad, Keys.dns).items():
                        self.assertEqual(len(res), 2, "%s saw %r" % (vname, res))
                        for r in res:
                            self.assertFalse(r.passed, "%s: %r" % (vname, r))
                    r, rows = verify_with_signetctl(bad, Keys.dns_file)
                    self.assertEqual(r.returncode, 1, "signetctl verify exits 1 on a "
                                     "failed signature: %s" % r.stderr.decode())
                    self.assertEqual(len(rows), 2, "one line per signature: %r" % rows)
                    self.assertFalse(any(row[3] == "pass" for row in rows), repr(rows))


class SignetVerifies(unittest.TestCase):
    """dkimpy sign -> signetctl verify --dns-file."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="signet-interop-")
        cls.rsa_pem, rsa_txt = verifiers.rsa_key()
        cls.ed_seed, _, ed_txt = verifiers.ed25519_key()
        cls.dns = {"r1._domainkey." + DOMAIN: rsa_txt, "ed1._domainkey." + DOMAIN: ed_txt}
        cls.dns_file = verifiers.write_dns_file(cls.dns, os.path.join(cls.tmp.name, "dns.txt"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def signed(self, msg, canon, alg):
        if alg == "rsa":
            return verifiers.dkimpy_sign(msg, DOMAIN, "r1", self.rsa_pem, canon=canon)
        return verifiers.dkimpy_sign(msg, DOMAIN, "ed1", self.ed_seed,
                                     alg="ed25519-sha256", canon=canon)

    def test_dkimpy_signatures_verify(self):
        for canon in CANONS:
            for alg in ("rsa", "ed25519"):
                for name, msg in msgset.messages():
                    with self.subTest(canon=b"/".join(canon).decode(), alg=alg, msg=name):
                        onwire = msgset.wire(self.signed(msg, canon, alg))
                        r, rows = verify_with_signetctl(onwire, self.dns_file)
                        self.assertEqual(r.returncode, 0, "%r %s" % (rows, r.stderr.decode()))
                        self.assertEqual(len(rows), 1, repr(rows))
                        d, s, a, result, _ = rows[0]
                        self.assertEqual((d, a, result), (DOMAIN, "%s-sha256" % alg, "pass"))

    def test_dkimpy_signatures_tampered_fail(self):
        for canon in CANONS:
            for alg in ("rsa", "ed25519"):
                onwire = msgset.wire(self.signed(dict(msgset.messages())["plain"], canon, alg))
                for where, tamper in (("header", msgset.tamper_header),
                                      ("body", msgset.tamper_body)):
                    with self.subTest(canon=b"/".join(canon).decode(), alg=alg, changed=where):
                        r, rows = verify_with_signetctl(tamper(onwire), self.dns_file)
                        self.assertEqual(r.returncode, 1, r.stderr.decode())
                        self.assertEqual(len(rows), 1, repr(rows))
                        self.assertNotEqual(rows[0][3], "pass")


if __name__ == "__main__":
    tap.main()
