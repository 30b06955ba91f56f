"""A signetd with several tenants, AUTH users and signing domains, for
the AUTH and tenant tests (hostile-inputs.md E and F).

Tenants (passwords are hashed by `signetctl passwd`, so the tool is
exercised by every test that logs in):
  alpha  user alice / "alpha-secret",  network 127.0.0.4/32,
         domains alpha.test, "*.alpha.test" (needs alpha.test with
         subdomains: true), duo.test (RSA s1, s2 and extra_ed25519 with
         an Ed25519 key at selector ed1), ESP signature d=esp.test
  beta   user bob / "beta-secret",     network 127.0.0.5/32,
         domains beta.test (no subdomains), its own signed header list
  local  network 127.0.0.1/32, domains example.com (the Signetd default)
  fresh  user carol / "carol-secret",  domains nokey.test (no key: TN-04)
  loose  user dave / "dave-secret",    domains nokey2.test, unsigned: allow

Listeners: 127.0.0.1:port (auth: optional, loopback), and on request a
0.0.0.0 listener with starttls: configured (TL-06) or an auth: required
listener on 127.0.0.1.
"""
import os
import subprocess

import verifiers

from daemon import Signetd, make_key, write_domain
from signet_env import binary, free_port

PASSWORDS = {"alice": "alpha-secret", "bob": "beta-secret",
             "carol": "carol-secret", "dave": "dave-secret"}

_HASHES = {}


def passwd_hash(password):
    """The argon2id string signetctl passwd prints for password."""
    if password not in _HASHES:
        out = subprocess.run([binary("signetctl"), "passwd"],
                             input=password.encode(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, check=True, timeout=60)
        _HASHES[password] = out.stdout.decode().strip()
    return _HASHES[password]


class TenantDaemon(Signetd):
    """extra_listeners: list of YAML listener dicts as lines, e.g.
    ["- address: 127.0.0.1:%d" % p, "  auth: required"]."""

    def __init__(self, extra_listeners=(), limits=None, **kw):
        self.extra_listeners = list(extra_listeners)
        super().__init__(limits=limits, **kw)
        for dom, sels in (("alpha.test", ("s1", "s2")),
                          ("beta.test", ("s1", "s2")),
                          ("duo.test", ("s1", "s2")),
                          ("esp.test", ("esp1",))):
            keys = {}
            for sel in sels:
                keys[sel] = make_key()
                self.dns["%s._domainkey.%s" % (sel, dom)] = keys[sel][2]
            write_domain(self.keystore, dom, keys)
        self.write_config()
        # duo.test's Ed25519 key, imported the way an operator would.
        _, pem, txt = verifiers.ed25519_key()
        path = os.path.join(self.dir, "ed1.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        subprocess.run([binary("signetctl"), "-c", self.config, "keys", "import",
                        "duo.test", "ed1", path], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.dns["ed1._domainkey.duo.test"] = txt

    def config_text(self):
        up = ("file:" + self.outdir) if self.upstream == "file" else \
            "127.0.0.1:%d" % self.upstream
        h = {u: passwd_hash(p) for u, p in PASSWORDS.items()}
        lines = ["listen:",
                 "  - address: 127.0.0.1:%d" % self.port,
                 "    auth: optional"]
        lines += ["  " + l for l in getattr(self, "extra_listeners", [])]
        lines += ["upstream:", "  address: %s" % up, "  starttls: off",
                  "keystore: %s" % self.keystore,
                  "spool: %s" % self.spool,
                  "domains:",
                  "  example.com: { selectors: [s1, s2] }",
                  "  alpha.test: { selectors: [s1, s2], subdomains: true }",
                  "  beta.test: { selectors: [s1, s2] }",
                  "  esp.test: { selectors: [esp1] }",
                  "  duo.test: { selectors: [s1, s2], extra_ed25519: true }",
                  "  nokey.test: { selectors: [s1, s2] }",
                  "  nokey2.test: { selectors: [s1, s2] }",
                  "tenants:",
                  "  - name: local",
                  "    networks: [127.0.0.1/32]",
                  "    domains: [example.com]",
                  "  - name: alpha",
                  "    networks: [127.0.0.4/32]",
                  "    users: [ { name: alice, password: \"%s\" } ]" % h["alice"],
                  "    domains: [alpha.test, \"*.alpha.test\", duo.test]",
                  "    extra_signatures: [ { domain: esp.test, selector: esp1 } ]",
                  "  - name: beta",
                  "    networks: [127.0.0.5/32]",
                  "    users: [ { name: bob, password: \"%s\" } ]" % h["bob"],
                  "    domains: [beta.test]",
                  "    signing: { headers: [from, subject, date], oversign: [from] }",
                  "  - name: fresh",
                  "    users: [ { name: carol, password: \"%s\" } ]" % h["carol"],
                  "    domains: [nokey.test]",
                  "  - name: loose",
                  "    users: [ { name: dave, password: \"%s\" } ]" % h["dave"],
                  "    domains: [nokey2.test]",
                  "    unsigned: allow",
                  "limits:"]
        lines += ["  %s: %s" % kv for kv in sorted(self.limits.items())]
        lines += ["workers: %d" % self.workers,
                  "log: { level: debug, stderr: true }"]
        return "\n".join(lines) + "\n"
