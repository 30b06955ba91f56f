"""The ARC key from the key store to a verified seal.

`signetctl keys init` on a domain with arc enabled creates its ARC key
(RSA, even for an Ed25519 domain) beside the DKIM keys and prints its
record; `signetctl dns` prints it too; signetd loads it and its seals
verify with dkimpy against exactly those records.  Without the ARC key
the mail still leaves DKIM-signed, unsealed, and forged
Authentication-Results claiming our authserv-id are still deleted.
"""
import os
import re
import shutil
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "smtp"))

import dkim  # noqa: E402

import msgset  # noqa: E402
import tap  # noqa: E402
import verifiers  # noqa: E402
from daemon import Signetd  # noqa: E402
from rawsmtp import session  # noqa: E402
from signet_env import signetctl  # noqa: E402


def records(text):
    """{owner name: joined TXT value} of zone-file lines."""
    out = {}
    for line in text.splitlines():
        if line.startswith(";") or "TXT" not in line:
            continue
        name = line.split()[0].rstrip(".")
        out[name] = "".join(re.findall(r'"([^"]*)"', line))
    return out


class ArcKeyDaemon(Signetd):
    def config_text(self):
        return "\n".join([
            "listen:", "  - address: 127.0.0.1:%d" % self.port,
            "upstream:", "  address: file:%s" % self.outdir,
            "  starttls: off",
            "keystore: %s" % self.keystore, "spool: %s" % self.spool,
            "domains:", "  example.com:", "    algorithm: ed25519",
            "    arc: { enabled: true, selector: arc7, "
            "authserv_id: mx.example.com }",
            "tenants:", "  - name: local", "    networks: [127.0.0.1/32]",
            "    domains: [example.com]",
            "resolver: { nameservers: [127.0.0.1:1], timeout: 1s }",
            "workers: 1", "log: { level: debug, stderr: true }"]) + "\n"


class ArcKeys(unittest.TestCase):
    def setUp(self):
        self.d = ArcKeyDaemon(domains_keys=())
        self.addCleanup(self.d.cleanup)
        # An empty store: signetctl makes every key.
        shutil.rmtree(os.path.join(self.d.keystore, "example.com"))

    def relay(self, extra=b""):
        before = len(self.d.outbox())
        r = session(self.d.port, "alice@example.com", ["bob@dest.test"],
                    extra + msgset.wire(msgset.messages()[0][1]))
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        out = self.d.outbox()
        self.assertEqual(len(out), before + 1)
        return out[-1].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def test_init_dns_and_seal(self):
        r = signetctl("-c", self.d.config, "keys", "init", "example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        made = records(r.stdout.decode())
        self.assertEqual(sorted(made), ["arc7._domainkey.example.com",
                                        "s1._domainkey.example.com",
                                        "s2._domainkey.example.com"])
        self.assertTrue(made["arc7._domainkey.example.com"].startswith(
            "v=DKIM1; k=rsa; p="))
        self.assertIn("k=ed25519", made["s1._domainkey.example.com"])
        r = signetctl("-c", self.d.config, "dns", "example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(records(r.stdout.decode()), made)
        self.d.start()
        out = self.relay()
        seal = re.search(rb"(?m)^ARC-Seal:[^\r\n]*(\r\n[ \t][^\r\n]*)*",
                         out).group(0)
        self.assertIn(b"s=arc7", seal)
        self.assertIn(b"a=rsa-sha256", seal)
        table = {k + ".": v.encode() for k, v in made.items()}

        def dnsfunc(name, timeout=5):
            name = name.decode() if isinstance(name, bytes) else name
            return table.get(name.rstrip(".") + ".")
        cv, _, reason = dkim.arc_verify(out, dnsfunc=dnsfunc)
        self.assertEqual(cv, b"pass", reason)
        res = verifiers.dkimpy(out, made)
        self.assertTrue(res and all(x.passed for x in res), res)
        # The RSA ARC key of an Ed25519 domain is no algorithm mismatch.
        self.assertNotIn(b"key_algorithm_mismatch", self.d.read_log())

    def test_missing_arc_key_still_signs(self):
        r = signetctl("-c", self.d.config, "keys", "init", "example.com",
                      "--selectors", "s1,s2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(b"arc7", r.stdout)
        self.d.start()
        out = self.relay(b"Authentication-Results: mx.example.com; "
                         b"arc=pass\r\n")
        self.assertNotIn(b"mx.example.com; arc=pass", out)
        self.assertNotIn(b"ARC-Seal:", out)
        self.assertIn(b"DKIM-Signature:", out)
        self.assertTrue(self.d.wait_log(b"event=arc_key_missing"))


if __name__ == "__main__":
    tap.main()
