"""`signetctl sign` and `signetctl verify` as users run them (DESIGN.md
contracts): what is refused and how, line endings, signature order,
oversigning, determinism under a fixed clock, and that what we sign
verifies with our verifier and with dkimpy.  Keys are the RFC 8463 ones,
copied to 0600 files."""
import os
import re
import shutil
import tempfile
import unittest

import dkim

import tap
from signet_env import CONFORMANCE, crlf, signetctl

RFC8463 = os.path.join(CONFORMANCE, "rfc8463")
DNS = os.path.join(RFC8463, "dns.txt")
T = "1528637909"

MSG = ("From: Joe SixPack <joe@football.example.com>\n"
       "To: Suzie Q <suzie@shopping.example.net>\n"
       "To: Other <other@shopping.example.net>\n"
       "Subject: Is dinner ready?\n"
       "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\n"
       "Message-ID: <20030712040037.46341.5F8J@football.example.com>\n"
       "\n"
       "Hi.\n\nWe lost the game.  Are you hungry yet?\n\nJoe.\n")


def dns_records():
    recs = {}
    with open(DNS) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, value = line.strip().split(" ", 1)
                recs[name + "."] = value.encode()
    return recs


def fields(out, name=b"DKIM-Signature"):
    """Unfolded values of every field called name, top first."""
    head = out.split(b"\r\n\r\n", 1)[0]
    unfolded = re.sub(rb"\r\n[ \t]", b" ", head)
    return [l.split(b":", 1)[1] for l in unfolded.split(b"\r\n")
            if l.lower().startswith(name.lower() + b":")]


def tag(value, name):
    m = re.search(rb"(?:^|;)\s*" + name.encode() + rb"=([^;]*)", value)
    return re.sub(rb"\s+", b"", m.group(1)) if m else None


class SignCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="signet-sign-")
        os.chmod(cls.dir, 0o700)
        cls.ed = os.path.join(cls.dir, "ed.b64")
        cls.rsa = os.path.join(cls.dir, "rsa.pem")
        shutil.copy(os.path.join(RFC8463, "ed25519-brisbane.seed.b64"), cls.ed)
        shutil.copy(os.path.join(RFC8463, "rsa-test.pem"), cls.rsa)
        os.chmod(cls.ed, 0o600)
        os.chmod(cls.rsa, 0o600)
        cls.ed_key = "football.example.com:brisbane:" + cls.ed
        cls.rsa_key = "football.example.com:test:" + cls.rsa

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def sign(self, msg, *args):
        return signetctl("sign", *args, stdin=msg)

    def test_signs_lf_input_as_crlf_and_verifies(self):
        p = self.sign(MSG.encode(), "--key", self.ed_key, "--key",
                      self.rsa_key, "--time", T, "--expiration", "0")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotRegex(p.stdout, rb"(?<!\r)\n", "every line ends CRLF")
        self.assertTrue(p.stdout.endswith(crlf(MSG)), "message unchanged")
        sigs = fields(p.stdout)
        self.assertEqual([tag(s, "a") for s in sigs],
                         [b"ed25519-sha256", b"rsa-sha256"],
                         "one per --key, the first on top")
        v = signetctl("verify", "--dns-file", DNS, "--time", T,
                      stdin=p.stdout)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertEqual(v.stdout.decode().splitlines(), [
            "d=football.example.com s=brisbane a=ed25519-sha256 pass "
            "signature verified",
            "d=football.example.com s=test a=rsa-sha256 pass "
            "signature verified"])
        recs = dns_records()
        d = dkim.DKIM(p.stdout)
        for i in range(2):
            with self.subTest(dkimpy=i):
                self.assertTrue(d.verify(
                    idx=i, dnsfunc=lambda n, timeout=5: recs.get(
                        n.decode() if isinstance(n, bytes) else n)))

    def test_fixed_clock_is_deterministic(self):
        a = self.sign(MSG.encode(), "--key", self.ed_key, "--time", T)
        b = self.sign(crlf(MSG), "--key", self.ed_key, "--time", T)
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertEqual(a.stdout, b.stdout, "same input, same clock")
        sig = fields(a.stdout)[0]
        self.assertEqual(tag(sig, "t"), T.encode())
        self.assertEqual(tag(sig, "x"), str(int(T) + 5 * 86400).encode(),
                         "default expiration 5d (DESIGN.md)")
        self.assertIsNone(tag(sig, "l"), "never l=")
        for line in a.stdout.split(b"\r\n\r\n")[0].split(b"\r\n"):
            self.assertLessEqual(len(line), 998)
        head = a.stdout.split(b"DKIM-Signature", 2)[1]
        for line in head.split(b"\r\n"):
            self.assertLessEqual(len(line), 78, line)

    def test_oversigning_defaults(self):
        p = self.sign(MSG.encode(), "--key", self.ed_key, "--time", T)
        h = tag(fields(p.stdout)[0], "h").decode().split(":")
        self.assertEqual(h.count("to"), 3, "two To fields: to listed 3 times")
        self.assertEqual(h.count("cc"), 1, "absent cc oversigned: once")
        self.assertEqual(h.count("from"), 2)
        for mime in ("mime-version", "content-type",
                     "content-transfer-encoding"):
            self.assertEqual(h.count(mime), 1, mime + " absent: once")
        self.assertEqual(h.count("references"), 0, "absent, not oversigned")

    def test_headers_option(self):
        p = self.sign(MSG.encode(), "--key", self.ed_key, "--time", T,
                      "--headers", "from,subject,x-custom")
        self.assertEqual(p.returncode, 0, p.stderr)
        h = tag(fields(p.stdout)[0], "h").decode()
        self.assertEqual(h, "from:subject:from:subject")

    def test_existing_signature_is_kept_and_not_covered(self):
        # hostile-inputs DK-06: an earlier signature stays byte for byte,
        # ours goes on top, h= never lists DKIM-Signature, both verify.
        # Signed now: dkimpy checks x= against the real clock.
        first = self.sign(MSG.encode(), "--key", self.ed_key)
        self.assertEqual(first.returncode, 0, first.stderr)
        second = self.sign(first.stdout, "--key", self.rsa_key)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertTrue(second.stdout.endswith(first.stdout),
                        "the signed input follows our new field unchanged")
        sigs = fields(second.stdout)
        self.assertEqual(len(sigs), 2)
        self.assertEqual(tag(sigs[0], "s"), b"test", "ours is on top")
        self.assertNotIn("dkim-signature",
                         tag(sigs[0], "h").decode().lower().split(":"))
        v = signetctl("verify", "--dns-file", DNS, stdin=second.stdout)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertEqual(v.stdout.count(b" pass "), 2)
        recs = dns_records()
        for i in range(2):
            self.assertTrue(dkim.DKIM(second.stdout).verify(
                idx=i, dnsfunc=lambda n, timeout=5: recs.get(n.decode()
                if isinstance(n, bytes) else n)), "dkimpy, signature %d" % i)

    def test_prepended_from_breaks_the_signature(self):
        p = self.sign(MSG.encode(), "--key", self.ed_key, "--time", T)
        sig_end = p.stdout.index(b"From: Joe")
        forged = (p.stdout[:sig_end] + b"From: Eve <eve@evil.example>\r\n" +
                  p.stdout[sig_end:])
        v = signetctl("verify", "--dns-file", DNS, "--time", T, stdin=forged)
        self.assertEqual(v.returncode, 1)
        self.assertIn(b"fail signature did not verify", v.stdout)

    def test_refusals(self):
        long_subject = "Subject: " + "x" * 1000 + "\n"
        cases = [
            ("no From", MSG.replace("From: Joe SixPack "
                                    "<joe@football.example.com>\n", ""),
             "no From header field"),
            ("two From", "From: a@example.com\n" + MSG,
             "more than one From header field"),
            ("From without a domain", MSG.replace(
                "Joe SixPack <joe@football.example.com>", "bob"),
             "From address has no domain"),
            ("NUL octet", MSG.replace("Hi.", "H\0i."),
             "message contains a NUL octet"),
            ("bare CR", MSG.replace("Hi.", "H\ri."),
             "message contains a bare CR"),
            ("header line over 998", long_subject + MSG,
             "header line over 998 octets"),
            ("line without a colon", "Garbage\n" + MSG,
             "malformed header section"),
        ]
        for name, msg, why in cases:
            with self.subTest(case=name):
                p = self.sign(msg.encode(), "--key", self.ed_key)
                self.assertEqual(p.returncode, 1)
                self.assertEqual(p.stdout, b"", "nothing signed")
                err = p.stderr.decode()
                self.assertEqual(err.count("\n"), 1, "one line: " + err)
                self.assertIn(why, err)

    def test_usage_errors(self):
        group_readable = os.path.join(self.dir, "open.pem")
        shutil.copy(self.rsa, group_readable)
        os.chmod(group_readable, 0o640)
        cases = [
            ("--arc with an Ed25519 key",
             ["--arc", "--key", self.ed_key, "--authserv-id", "x"],
             1, "rsa-sha256 only"),
            ("--config with --key", ["--config", "/etc/signet/signet.yaml",
                                     "--key", self.ed_key], 2,
             "from the configuration"),
            ("--client without --config", ["--key", self.ed_key,
                                           "--client", "127.0.0.1"], 2,
             "--client needs --config"),
            ("no --key", [], 2, "--key"),
            ("--key without a file", ["--key", "example.com:s1"], 2,
             "DOMAIN:SELECTOR:FILE"),
            ("bad --canon", ["--key", self.ed_key, "--canon", "loose"], 2,
             "--canon"),
            ("bad --time", ["--key", self.ed_key, "--time", "soon"], 2,
             "--time"),
            ("missing key file", ["--key", "example.com:s1:/nonexistent"],
             1, "/nonexistent"),
            ("group-readable key file",
             ["--key", "example.com:s1:" + group_readable], 1, "open.pem"),
        ]
        for name, args, code, why in cases:
            with self.subTest(case=name):
                p = self.sign(MSG.encode(), *args)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertEqual(p.stdout, b"")
                self.assertIn(why, p.stderr.decode())
                self.assertEqual(p.stderr.count(b"\n"), 1, p.stderr)

    def test_help_mentions_line_endings(self):
        p = signetctl("sign", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"LF", p.stdout)


class VerifyCli(unittest.TestCase):
    def test_no_signatures(self):
        p = signetctl("verify", "--dns-file", DNS, stdin=crlf(MSG))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"no signatures", p.stderr)

    def test_arc_without_sets(self):
        # A chain that is not there does not pass (RFC 8617 cv=none).
        p = signetctl("verify", "--arc", "--dns-file", DNS, stdin=crlf(MSG))
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stdout.startswith(b"arc none"), p.stdout)

    def test_rfc8463_signed(self):
        with open(os.path.join(RFC8463, "signed.eml"), "rb") as f:
            msg = f.read()
        p = signetctl("verify", "--dns-file", DNS, stdin=msg)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 2)
        p = signetctl("verify", "--dns-file", DNS,
                      stdin=msg.replace(b"Is dinner", b"Is lunch"))
        self.assertEqual(p.returncode, 1, "exit 1 when any one fails")

    def test_bad_dns_file(self):
        with tempfile.NamedTemporaryFile(suffix=".dns") as f:
            f.write(b"name-without-value\n")
            f.flush()
            with open(os.path.join(RFC8463, "signed.eml"), "rb") as m:
                p = signetctl("verify", "--dns-file", f.name, stdin=m.read())
        self.assertEqual(p.returncode, 1)
        self.assertIn(b":1: name without a value", p.stderr)


if __name__ == "__main__":
    tap.main()
