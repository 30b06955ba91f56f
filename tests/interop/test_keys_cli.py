"""signetctl keygen / keys init / keys import / keys list, through the binary.

The DNS records signetctl prints must publish exactly the keys it stored:
dkimpy signs a message with the private key file and verifies it against
the printed record (via dnsfunc), so a record that does not match its key
fails here.  Keys made by OpenDKIM (opendkim-genkey) and dkimpy-style
Ed25519 seeds are imported and must keep their published records."""
import base64
import fcntl
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

import dkim
import nacl.signing

import tap
from signet_env import signetctl

MESSAGE = (b"From: Joe <joe@example.com>\r\n"
           b"To: Suzie <suzie@example.net>\r\n"
           b"Subject: key check\r\n"
           b"Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
           b"Message-ID: <keys-cli@example.com>\r\n"
           b"\r\n"
           b"Is dinner ready?\r\n")

# RFC 8410: PKCS#8 for Ed25519 is this prefix and the 32-byte seed.
ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
ZONE_LINE = re.compile(
    r'^(?P<sel>[a-z0-9.-]+)\._domainkey\.(?P<dom>[a-z0-9.-]+)\. (?P<ttl>\d+) '
    r'IN TXT \( (?P<strings>(?:"[^"]*" )+)\)$')


def pem_body(pem):
    lines = [l for l in pem.decode().splitlines() if not l.startswith("-----")]
    return base64.b64decode("".join(lines))


def ed25519_seed_b64(pem):
    der = pem_body(pem)
    assert der.startswith(ED25519_PKCS8_PREFIX) and len(der) == 48, der
    return base64.b64encode(der[16:])


def zone_records(text):
    """{(selector, domain): (ttl, joined TXT value, [strings])} of the output."""
    out = {}
    for line in text.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        m = ZONE_LINE.match(line)
        assert m, "not a zone line: %r" % line
        strings = re.findall(r'"([^"]*)"', m.group("strings"))
        out[(m.group("sel"), m.group("dom"))] = (
            int(m.group("ttl")), "".join(strings), strings)
    return out


def sign_and_verify(privkey, selector, domain, record, algorithm):
    """dkimpy signs with privkey and verifies with record as the DNS TXT."""
    sig = dkim.sign(MESSAGE, selector.encode(), domain.encode(), privkey,
                    signature_algorithm=algorithm,
                    include_headers=[b"from", b"to", b"subject", b"date"])
    name = "%s._domainkey.%s." % (selector, domain)

    def dnsfunc(qname, timeout=5):
        q = qname.decode() if isinstance(qname, bytes) else qname
        return record.encode() if q.rstrip(".") == name.rstrip(".") else None

    return dkim.verify(sig + MESSAGE, dnsfunc=dnsfunc)


def list_rows(out):
    lines = out.decode().splitlines()
    assert lines[0].split() == ["DOMAIN", "SELECTOR", "ALGORITHM", "ID",
                                "STATE", "AGE", "NEXT"], lines[0]
    # NEXT is "-" or a step and its time ("ready 2026-01-01T00:07Z")
    return [l.split(None, 6) for l in lines[1:]]


class KeysCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="signet-keys-cli.")
        os.chmod(self.tmp, 0o700)
        self.ks = os.path.join(self.tmp, "ks")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ctl(self, *args):
        return signetctl(*args)

    def key_file(self, domain, key_id):
        return os.path.join(self.ks, domain, "keys", key_id + ".pem")

    # -- keygen ---------------------------------------------------------

    def test_keygen_record_matches_key(self):
        for alg, bits, sig_alg in (("rsa", "2048", b"rsa-sha256"),
                                   ("rsa", "3072", b"rsa-sha256"),
                                   ("ed25519", None, b"ed25519-sha256")):
            with self.subTest(alg=alg, bits=bits):
                out = os.path.join(self.tmp, "%s-%s.pem" % (alg, bits))
                args = ["keygen", "--algorithm", alg, "--out", out]
                if bits:
                    args += ["--bits", bits]
                r = self.ctl(*args)
                self.assertEqual(r.returncode, 0, r.stderr)
                lines = r.stdout.decode().splitlines()
                self.assertEqual(len(lines), 1)
                self.assertRegex(lines[0],
                                 r"^v=DKIM1; k=%s; p=[A-Za-z0-9+/=]+$" % alg)
                self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
                pem = open(out, "rb").read()
                self.assertTrue(pem.startswith(b"-----BEGIN PRIVATE KEY-----\n"))
                self.assertEqual(subprocess.run(
                    ["openssl", "pkey", "-in", out, "-noout"]).returncode, 0)
                priv = pem if alg == "rsa" else ed25519_seed_b64(pem)
                self.assertTrue(sign_and_verify(priv, "sel", "example.com",
                                                lines[0], sig_alg))
                if bits:
                    text = subprocess.run(
                        ["openssl", "pkey", "-in", out, "-noout", "-text"],
                        stdout=subprocess.PIPE).stdout.decode()
                    self.assertIn("(%s bit" % bits, text)

    def test_keygen_refusals(self):
        existing = os.path.join(self.tmp, "existing.pem")
        open(existing, "w").write("do not touch\n")
        for name, args, code, text in (
                ("existing file", ["--algorithm", "ed25519", "--out", existing],
                 1, "already exists"),
                ("1024 bits", ["--algorithm", "rsa", "--bits", "1024", "--out",
                               os.path.join(self.tmp, "a.pem")], 2, "RFC 8301"),
                ("odd bits", ["--algorithm", "rsa", "--bits", "2500", "--out",
                              os.path.join(self.tmp, "b.pem")], 2, "2048, 3072"),
                ("bits for ed25519", ["--algorithm", "ed25519", "--bits", "256",
                                      "--out", os.path.join(self.tmp, "c.pem")],
                 2, "only for rsa"),
                ("unknown algorithm", ["--algorithm", "dsa", "--out",
                                       os.path.join(self.tmp, "d.pem")],
                 2, "rsa or ed25519"),
                ("no --out", ["--algorithm", "rsa"], 2, "usage")):
            with self.subTest(case=name):
                r = self.ctl("keygen", *args)
                self.assertEqual(r.returncode, code, r.stderr)
                err = r.stderr.decode()
                self.assertIn(text, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertEqual(r.stdout, b"")
        self.assertEqual(open(existing).read(), "do not touch\n")
        for f in "abcd":
            self.assertFalse(os.path.exists(os.path.join(self.tmp, f + ".pem")))

    # -- keys init ------------------------------------------------------

    def init(self, domain, *extra):
        return self.ctl("keys", "init", domain, "--keystore", self.ks, *extra)

    def test_init_records_verify(self):
        for domain, extra, k, sig_alg in (
                ("example.com", [], "rsa", b"rsa-sha256"),
                ("ed.example", ["--algorithm", "ed25519", "--selectors",
                                "a,B"], "ed25519", b"ed25519-sha256")):
            with self.subTest(domain=domain):
                r = self.init(domain, *extra)
                self.assertEqual(r.returncode, 0, r.stderr)
                recs = zone_records(r.stdout.decode())
                want_sels = ["a", "b"] if extra else ["s1", "s2"]
                self.assertEqual(sorted(s for s, _ in recs), want_sels)
                rows = {row[1]: row for row in list_rows(
                    self.ctl("keys", "list", "--keystore", self.ks).stdout)
                    if row[0] == domain}
                for sel in want_sels:
                    ttl, value, strings = recs[(sel, domain)]
                    self.assertEqual(ttl, 3600)
                    self.assertTrue(all(len(s) <= 255 for s in strings))
                    self.assertEqual(strings[0], "v=DKIM1; k=%s; " % k)
                    row = rows[sel]
                    self.assertEqual(row[4], "ACTIVE")
                    path = self.key_file(domain, row[3])
                    self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
                    pem = open(path, "rb").read()
                    priv = pem if k == "rsa" else ed25519_seed_b64(pem)
                    self.assertTrue(sign_and_verify(priv, sel, domain, value,
                                                    sig_alg), sel)
                for d in (self.ks, os.path.join(self.ks, domain),
                          os.path.join(self.ks, domain, "keys")):
                    self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o700)

    def test_init_from_config(self):
        cfg = os.path.join(self.tmp, "signet.yaml")
        open(cfg, "w").write(
            "listen:\n  - address: 127.0.0.1:2525\n"
            "upstream:\n  address: 127.0.0.1:25\n"
            "keystore: %s\n"
            "spool: %s\n"
            "domains:\n  example.com: { selectors: [x1, x2], "
            "algorithm: ed25519 }\n"
            "tenants:\n  - name: app\n    networks: [127.0.0.0/8]\n"
            "    domains: [example.com]\n"
            "rotation:\n  ttl: 600\n" % (self.ks, self.tmp))
        r = self.ctl("-c", cfg, "keys", "init", "example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = zone_records(r.stdout.decode())
        self.assertEqual(sorted(recs), [("x1", "example.com"),
                                        ("x2", "example.com")])
        for ttl, value, _ in recs.values():
            self.assertEqual(ttl, 600)
            self.assertTrue(value.startswith("v=DKIM1; k=ed25519; p="))
        rows = list_rows(self.ctl("-c", cfg, "keys", "list").stdout)
        self.assertEqual([(row[1], row[2]) for row in rows],
                         [("x1", "ed25519"), ("x2", "ed25519")])
        r = self.ctl("-c", os.path.join(self.tmp, "missing.yaml"), "keys",
                     "list")
        self.assertEqual(r.returncode, 1)

    def test_init_refuses_then_force_drains(self):
        r = self.init("example.com", "--algorithm", "ed25519")
        self.assertEqual(r.returncode, 0, r.stderr)
        first = list_rows(self.ctl("keys", "list", "--keystore", self.ks).stdout)
        r = self.init("example.com", "--algorithm", "ed25519")
        self.assertEqual(r.returncode, 1)
        self.assertIn("already has active keys", r.stderr.decode())
        self.assertEqual(r.stdout, b"")
        r = self.init("example.com", "--algorithm", "ed25519", "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list_rows(self.ctl("keys", "list", "--keystore", self.ks).stdout)
        self.assertEqual(len(rows), 4)
        old_ids = {row[3] for row in first}
        for row in rows:
            self.assertEqual(row[4], "DRAINING" if row[3] in old_ids
                             else "ACTIVE", row)

    def test_init_busy(self):
        r = self.init("example.com", "--algorithm", "ed25519")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.ks, "example.com", ".lock"), "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            r = self.init("example.com", "--algorithm", "ed25519", "--force")
        self.assertEqual(r.returncode, 1)
        self.assertIn("busy", r.stderr.decode())

    def test_init_usage(self):
        for name, args in (("bad domain", ["exa mple.com"]),
                           ("bad selector", ["example.com", "--selectors",
                                             "s1,s_2"]),
                           ("duplicate selector", ["example.com",
                                                   "--selectors", "s1,S1"]),
                           ("1024 bits", ["example.com", "--bits", "1024"]),
                           ("no domain", [])):
            with self.subTest(case=name):
                r = self.ctl("keys", "init", *args, "--keystore", self.ks)
                self.assertEqual(r.returncode, 2, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.ks, "example.com")))

    # -- keys import ----------------------------------------------------

    def test_import_opendkim_key(self):
        src = os.path.join(self.tmp, "odk")
        os.mkdir(src)
        subprocess.run(["opendkim-genkey", "-D", src, "-d", "example.org",
                        "-s", "mail"], check=True)
        priv = os.path.join(src, "mail.private")
        before = open(priv, "rb").read()
        mode = os.stat(priv).st_mode
        published = "".join(re.findall(r'"([^"]*)"',
                                        open(os.path.join(src, "mail.txt")).read()))
        p_odk = re.search(r"p=([A-Za-z0-9+/=]+)", published).group(1)
        r = self.ctl("keys", "import", "example.org", "mail", priv,
                     "--keystore", self.ks)
        self.assertEqual(r.returncode, 0, r.stderr)
        ttl, value, _ = zone_records(r.stdout.decode())[("mail", "example.org")]
        self.assertEqual(re.search(r"p=([A-Za-z0-9+/=]+)", value).group(1), p_odk)
        self.assertEqual(open(priv, "rb").read(), before)
        self.assertEqual(os.stat(priv).st_mode, mode)
        rows = list_rows(self.ctl("keys", "list", "--keystore", self.ks).stdout)
        self.assertEqual(len(rows), 1)
        domain, sel, alg, key_id, state, age, _next = rows[0]
        self.assertEqual((domain, sel, alg, state),
                         ("example.org", "mail", "rsa-2048", "ACTIVE"))
        self.assertRegex(age, r"^\d+(s|m|h\d+m|d\d+h)$")
        stored = self.key_file("example.org", key_id)
        self.assertEqual(stat.S_IMODE(os.stat(stored).st_mode), 0o600)
        self.assertTrue(open(stored, "rb").read().startswith(
            b"-----BEGIN PRIVATE KEY-----\n"))
        # The stored copy signs what OpenDKIM's own record verifies.
        self.assertTrue(sign_and_verify(open(stored, "rb").read(), "mail",
                                        "example.org", published, b"rsa-sha256"))
        # Importing the same key again changes nothing.
        r = self.ctl("keys", "import", "example.org", "mail", priv,
                     "--keystore", self.ks)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(list_rows(self.ctl(
            "keys", "list", "--keystore", self.ks).stdout)), 1)

    def test_import_ed25519_seed_world_readable(self):
        sk = nacl.signing.SigningKey.generate()
        seed_b64 = base64.b64encode(bytes(sk))
        src = os.path.join(self.tmp, "dkimpy.key")
        open(src, "wb").write(seed_b64 + b"\n")
        os.chmod(src, 0o644)
        r = self.ctl("keys", "import", "Example.NET", "ED1", src,
                     "--keystore", self.ks)
        self.assertEqual(r.returncode, 0, r.stderr)
        err = r.stderr.decode()
        self.assertIn("warning", err)
        self.assertIn("0644", err)
        self.assertEqual(len(err.strip().splitlines()), 1)
        _, value, _ = zone_records(r.stdout.decode())[("ed1", "example.net")]
        self.assertEqual(value, "v=DKIM1; k=ed25519; p=" +
                         base64.b64encode(bytes(sk.verify_key)).decode())
        self.assertTrue(sign_and_verify(seed_b64, "ed1", "example.net", value,
                                        b"ed25519-sha256"))

    def test_import_refusals(self):
        garbage = os.path.join(self.tmp, "garbage.key")
        open(garbage, "w").write("SECRET-LOOKING TEXT\n")
        os.chmod(garbage, 0o600)
        r = self.ctl("keys", "import", "example.org", "mail", garbage,
                     "--keystore", self.ks)
        self.assertEqual(r.returncode, 1)
        err = r.stderr.decode()
        self.assertIn(garbage, err)
        self.assertNotIn("SECRET", err)
        r = self.ctl("keys", "import", "example.org", "mail",
                     os.path.join(self.tmp, "missing"), "--keystore", self.ks)
        self.assertEqual(r.returncode, 1)
        r = self.ctl("keys", "import", "example.org", "mail",
                     "--keystore", self.ks)
        self.assertEqual(r.returncode, 2)
        # A second, different key for an active selector needs --force.
        for n in ("one", "two"):
            path = os.path.join(self.tmp, n + ".key")
            open(path, "wb").write(
                base64.b64encode(bytes(nacl.signing.SigningKey.generate())))
            os.chmod(path, 0o600)
        self.assertEqual(self.ctl("keys", "import", "example.org", "mail",
                                  os.path.join(self.tmp, "one.key"),
                                  "--keystore", self.ks).returncode, 0)
        r = self.ctl("keys", "import", "example.org", "mail",
                     os.path.join(self.tmp, "two.key"), "--keystore", self.ks)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--force", r.stderr.decode())
        r = self.ctl("keys", "import", "example.org", "mail",
                     os.path.join(self.tmp, "two.key"), "--keystore", self.ks,
                     "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        states = sorted(row[4] for row in list_rows(
            self.ctl("keys", "list", "--keystore", self.ks).stdout))
        self.assertEqual(states, ["ACTIVE", "DRAINING"])

    # -- keys list ------------------------------------------------------

    def test_list_ignores_crash_leftovers(self):
        self.assertEqual(self.init("example.com", "--algorithm",
                                   "ed25519").returncode, 0)
        open(os.path.join(self.ks, "example.com", ".state.yaml.tmp"),
             "w").write("generation: [broken")
        r = self.ctl("keys", "list", "--keystore", self.ks)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(list_rows(r.stdout)), 2)

    def test_list_reports_broken_journal(self):
        self.assertEqual(self.init("example.com", "--algorithm",
                                   "ed25519").returncode, 0)
        os.mkdir(os.path.join(self.ks, "broken.example"), 0o700)
        journal = os.path.join(self.ks, "broken.example", "state.yaml")
        open(journal, "w").write("version: 1\nbogus: 2\n")
        r = self.ctl("keys", "list", "--keystore", self.ks)
        self.assertEqual(r.returncode, 1)
        self.assertIn(journal + ":2:1: unknown key", r.stderr.decode())
        self.assertEqual(len(list_rows(r.stdout)), 2)

    def test_list_missing_store(self):
        r = self.ctl("keys", "list", "--keystore",
                     os.path.join(self.tmp, "nothing"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file", r.stderr.decode())


if __name__ == "__main__":
    tap.main()
