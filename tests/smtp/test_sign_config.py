"""`signetctl sign --config FILE` signs a message as signetd with FILE
would (DESIGN.md "signetctl sign"): the From domain's domains: entry
(exact, or a parent with subdomains: true) and its selectors' keys from
the configured key store, the configured canonicalization, expiration and
header lists (a tenant's own with --client), Date and Message-ID added
when missing, signetd's refusals as one line and exit 1.

The key store is made with `signetctl keys init` and the DNS records come
from `signetctl dns`; dkimpy and OpenDKIM verify every signature.  The
last class sends the same message through signetd and through
`sign --config` at signetd's t=: the signatures must be the same bytes.
Under SIGNET_TEST_ASAN=1 both programs are the ASan+UBSan builds."""
import os
import re
import shutil
import tempfile
import time
import unittest

import tap
import verifiers
from daemon import ASAN, SessionTest, message
from rawsmtp import session
from signet_env import crlf, free_port, signetctl

T = int(time.time()) - 60      # x= must still be ahead for the verifiers

MSG = ("From: Alice <alice@example.com>\n"
       "To: Bob <bob@dest.test>\n"
       "Subject: lunch\n"
       "Date: Mon, 02 Jan 2023 10:00:00 +0000\n"
       "Message-ID: <lunch.1@example.com>\n"
       "\n"
       "Noon?\n")


def ctl(*args, stdin=b""):
    return signetctl(*args, stdin=stdin, asan=ASAN)


def sigs(out):
    """{tag: value} of every DKIM-Signature at the top of out, in order."""
    res = []
    for d, s, a, b in verifiers.signature_tags(out):
        res.append({"d": d, "s": s, "a": a, "b": b})
    head = out.split(b"\r\n\r\n", 1)[0]
    unfolded = re.sub(rb"\r\n[ \t]", b" ", head).decode()
    fields = [l.split(":", 1)[1] for l in unfolded.split("\r\n")
              if l.lower().startswith("dkim-signature:")]
    for r, f in zip(res, fields):
        for part in f.split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                r[k.strip()] = re.sub(r"\s+", "", v)
    return res


def field(out, name):
    return verifiers.first_field(out, name)


class SignConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="signet-signcfg-")
        os.chmod(cls.dir, 0o700)
        cls.keystore = os.path.join(cls.dir, "keys")
        cls.config = os.path.join(cls.dir, "signet.yaml")
        for sub in ("keys", "spool", "outbox"):
            os.makedirs(os.path.join(cls.dir, sub), mode=0o700)
        with open(cls.config, "w") as f:
            f.write("\n".join([
                "listen:",
                "  - address: 127.0.0.1:%d" % free_port(),
                "upstream:",
                "  address: file:%s/outbox" % cls.dir,
                "  starttls: off",
                "keystore: %s" % cls.keystore,
                "spool: %s/spool" % cls.dir,
                "signing:",
                "  canonicalization: simple/relaxed",
                "  expiration: 1d",
                "domains:",
                "  example.com: { selectors: [s1, s2], subdomains: true }",
                "  plain.test: { selectors: [s1] }",
                "  other.test: { selectors: [s1, s2] }",
                "tenants:",
                "  - name: local",
                "    networks: [127.0.0.1/32]",
                "    domains: [example.com, \"*.example.com\"]",
                "    signing:",
                "      headers: [from, to, subject, date, message-id]",
                "      oversign: [from, subject]",
                "  - name: other",
                "    networks: [127.0.0.3/32]",
                "    domains: [plain.test, other.test]",
                ""]))
        cls.dns = {}
        for dom in ("example.com", "plain.test", "other.test"):
            p = ctl("-c", cls.config, "keys", "init", dom)
            if p.returncode != 0:
                raise AssertionError("keys init %s: %s" % (dom, p.stderr))
        p = ctl("-c", cls.config, "dns")
        if p.returncode != 0:
            raise AssertionError("dns: %s" % p.stderr)
        for line in p.stdout.decode().splitlines():
            m = re.match(r"(\S+)\s+\d+\s+IN\s+TXT\s+(.*)$", line)
            if m:
                cls.dns[m.group(1)] = "".join(
                    re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2)))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def sign(self, msg, *args):
        if isinstance(msg, str):
            msg = msg.encode()
        return ctl("sign", "--config", self.config, *args, stdin=msg)

    def assertVerifies(self, out, n):
        res = verifiers.verify_all(out, self.dns, ("dkimpy", "opendkim"))
        for name, results in res.items():
            self.assertEqual(len(results), n, name)
            for r in results:
                self.assertTrue(r.passed, "%s: %r" % (name, r))

    def assertRefused(self, p, *needles):
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, b"", "nothing signed")
        err = p.stderr.decode()
        self.assertEqual(err.count("\n"), 1, "one line: " + err)
        for n in needles:
            self.assertIn(n, err)

    def test_both_selectors_configured_lists_verify(self):
        p = self.sign(MSG, "--time", str(T))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, b"")
        self.assertNotRegex(p.stdout, rb"(?<!\r)\n", "CRLF throughout")
        self.assertTrue(p.stdout.endswith(crlf(MSG)), "message unchanged")
        got = sigs(p.stdout)
        self.assertEqual([(g["d"], g["s"]) for g in got],
                         [("example.com", "s1"), ("example.com", "s2")])
        for g in got:
            self.assertEqual(g["c"], "simple/relaxed", "signing: of FILE")
            self.assertEqual(g["t"], str(T), "--time")
            self.assertEqual(g["x"], str(T + 86400), "expiration: 1d")
            h = g["h"].split(":")
            self.assertEqual(h.count("from"), 2, "global default list, "
                             "from oversigned")
            self.assertIn("mime-version", h)
        self.assertVerifies(p.stdout, 2)

    def test_date_and_message_id_added_bcc_removed(self):
        msg = ("From: alice@example.com\nTo: bob@dest.test\n"
               "Bcc: hidden@dest.test\nSubject: no date\n\nbody\n")
        p = self.sign(msg, "--time", str(T))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(field(p.stdout, "Date").strip(),
                         time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                                       time.gmtime(T)), "Date from --time")
        self.assertRegex(field(p.stdout, "Message-ID").strip(),
                         r"^<%d\.[0-9a-f]{16}@example\.com>$" % T)
        self.assertIsNone(field(p.stdout, "Bcc"), "RFC 6409 8: Bcc goes")
        for g in sigs(p.stdout):
            self.assertIn("date", g["h"].split(":"))
            self.assertIn("message-id", g["h"].split(":"))
        self.assertVerifies(p.stdout, 2)

    def test_unconfigured_domain_refused(self):
        p = self.sign(MSG.replace("alice@example.com", "a@nobody.test"))
        self.assertRefused(p, "nobody.test", "domains:")

    def test_subdomains(self):
        p = self.sign(MSG.replace("alice@example.com", "a@Mail.Example.COM"),
                      "--time", str(T))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([g["d"] for g in sigs(p.stdout)],
                         ["example.com", "example.com"],
                         "subdomains: true signs as the parent")
        self.assertVerifies(p.stdout, 2)
        p = self.sign(MSG.replace("alice@example.com", "a@x.plain.test"))
        self.assertRefused(p, "x.plain.test")
        p = self.sign(MSG.replace("alice@example.com", "a@plain.test"),
                      "--time", str(T))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([(g["d"], g["s"]) for g in sigs(p.stdout)],
                         [("plain.test", "s1")])
        self.assertVerifies(p.stdout, 1)

    def key_file(self, domain, sel):
        with open(os.path.join(self.keystore, domain, "state.yaml")) as f:
            kid = re.search(r"(?m)^  %s: (\S+)$" % sel, f.read()).group(1)
        return os.path.join(self.keystore, domain, "keys", kid + ".pem")

    def test_missing_key_signs_with_the_other(self):
        msg = MSG.replace("alice@example.com", "a@other.test")
        os.unlink(self.key_file("other.test", "s2"))
        p = self.sign(msg, "--time", str(T))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([(g["d"], g["s"]) for g in sigs(p.stdout)],
                         [("other.test", "s1")])
        err = p.stderr.decode()
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("warning", err)
        self.assertIn("other.test/s2", err)
        self.assertVerifies(p.stdout, 1)
        os.unlink(self.key_file("other.test", "s1"))
        p = self.sign(msg)
        self.assertRefused(p, "no usable signing key for other.test")

    def test_client_picks_the_tenant(self):
        p = self.sign(MSG, "--client", "127.0.0.3")
        self.assertRefused(p, "550 5.7.1", "other may not send as "
                           "example.com")
        p = self.sign(MSG, "--client", "127.0.0.9")
        self.assertRefused(p, "530 5.7.0")
        p = self.sign(MSG, "--client", "127.0.0.1", "--time", str(T))
        self.assertEqual(p.returncode, 0, p.stderr)
        for g in sigs(p.stdout):
            self.assertEqual(g["h"], "from:to:subject:date:message-id:"
                             "from:subject", "the tenant's own lists")
        self.assertVerifies(p.stdout, 2)
        p = self.sign(MSG, "--client", "not-an-address")
        self.assertEqual(p.returncode, 2)

    def test_refusals(self):
        cases = [
            ("no From", MSG.replace("From: Alice <alice@example.com>\n", ""),
             "554 5.6.0"),
            ("two From", "From: b@example.com\n" + MSG,
             "more than one From"),
            ("two mailboxes", MSG.replace(
                "Alice <alice@example.com>",
                "alice@example.com, eve@example.com"), "exactly one From"),
            ("no domain", MSG.replace("Alice <alice@example.com>", "alice"),
             "exactly one From"),
            ("bare CR", MSG.replace("Noon?", "No\ron?"), "bare <CR>"),
            ("NUL", MSG.replace("Noon?", "No\0on?"), "NUL"),
            ("body line over 998", MSG + "x" * 1000 + "\n", "998"),
            ("space before colon", MSG.replace("Subject:", "Subject :"),
             "554 5.6.0"),
            ("no colon", "Garbage\n" + MSG, "malformed header"),
            ("malformed UTF-8", MSG.replace("lunch", "l\xffunch"),
             "UTF-8"),
        ]
        for name, msg, why in cases:
            with self.subTest(case=name):
                raw = msg.encode("latin-1")
                self.assertRefused(self.sign(raw), why)

    def test_long_header_line_refolded(self):
        msg = MSG.replace("Subject: lunch", "Subject:" + " lunch" * 300)
        p = self.sign(msg, "--time", str(T))
        self.assertEqual(p.returncode, 0, p.stderr)
        for line in p.stdout.split(b"\r\n"):
            self.assertLessEqual(len(line), 998)
        self.assertVerifies(p.stdout, 2)

    def test_usage(self):
        p = ctl("sign", "--help")
        self.assertEqual(p.returncode, 0)
        for word in (b"--config", b"--client", b"ARC"):
            self.assertIn(word, p.stdout)
        p = self.sign(MSG, "--canon", "simple")
        self.assertEqual(p.returncode, 2)
        p = ctl("sign", "--config", os.path.join(self.dir, "none.yaml"),
                stdin=crlf(MSG))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.count(b"\n"), 1, p.stderr)


class SameAsSignetd(SessionTest):
    """One message through signetd and through `sign --config` with the
    daemon's own configuration, tenant (127.0.0.1) and t=: the same
    DKIM-Signature fields, byte for byte, and the same message below
    signetd's Received field."""

    def test_same_signatures(self):
        content = message(extra=b"Date: Mon, 02 Jan 2023 10:00:00 +0000\r\n"
                          b"Message-ID: <same.1@example.com>\r\n")
        before = len(self.d.outbox())
        r = session(self.d.port, "alice@example.com", ["bob@dest.test"],
                    content, source="127.0.0.1")
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        out = self.d.outbox()
        self.assertEqual(len(out), before + 1)
        daemon = out[-1]
        want = sigs(daemon)
        self.assertEqual([(g["d"], g["s"]) for g in want],
                         [("example.com", "s1"), ("example.com", "s2")])
        p = ctl("sign", "--config", self.d.config, "--client", "127.0.0.1",
                "--time", want[0]["t"], stdin=content)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = sigs(p.stdout)
        for tagname in ("d", "s", "a", "c", "h", "bh", "t", "x", "b"):
            self.assertEqual([g.get(tagname) for g in got],
                             [g.get(tagname) for g in want], tagname)
        # signetd's Received goes on top; everything below it is ours too.
        self.assertTrue(daemon.startswith(b"Received: "), daemon[:80])
        below = daemon[daemon.index(b"\r\nDKIM-Signature:") + 2:]
        self.assertEqual(p.stdout, below)
        self.assertEqual(
            [r.passed for r in verifiers.dkimpy(p.stdout, self.d.dns)],
            [True, True])

    def test_added_date_same_signed_fields(self):
        content = message()
        r = session(self.d.port, "alice@example.com", ["bob@dest.test"],
                    content, source="127.0.0.1")
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        daemon = self.d.outbox()[-1]
        want = sigs(daemon)
        p = ctl("sign", "--config", self.d.config, "--client", "127.0.0.1",
                "--time", want[0]["t"], stdin=content)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = sigs(p.stdout)
        # Message-ID differs (random); what is signed and how does not.
        for tagname in ("d", "s", "a", "c", "h", "t", "x", "bh"):
            self.assertEqual([g.get(tagname) for g in got],
                             [g.get(tagname) for g in want], tagname)
        self.assertIsNotNone(field(p.stdout, "Date"))
        self.assertIsNotNone(field(p.stdout, "Message-ID"))


if __name__ == "__main__":
    tap.main()
