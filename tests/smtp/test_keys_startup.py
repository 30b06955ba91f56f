"""Key files that must never sign (hostile-inputs KY-01, KY-02): missing,
empty, truncated, of the wrong type or too weak, or stored where someone
else could read or replace them.  At start-up each one stops signetd with
a non-zero status and a message naming the file (never its content); on
SIGHUP each one refuses the reload and the old keys keep signing (KY-05).
Once loaded, keys live in signetd's memory: deleting the file changes
nothing until a reload."""
import os
import signal
import subprocess
import unittest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import tap
import verifiers
from daemon import Signetd, make_key, message, write_domain
from rawsmtp import session
from signet_env import binary


def key_path(d, sel="s1"):
    return os.path.join(d.keystore, "example.com", "keys",
                        d.keys[sel][1] + ".pem")


def rewrite(path, data):
    with open(path, "wb") as f:
        f.write(data)


def empty(d, p):
    rewrite(p, b"")


def missing(d, p):
    os.unlink(p)


def truncated(d, p):
    with open(p, "rb") as f:
        data = f.read()
    rewrite(p, data[:len(data) // 2])


def other_key(d, p):
    rewrite(p, make_key()[0])


def ed25519_for_rsa(d, p):
    rewrite(p, ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def mode_0644(d, p):
    os.chmod(p, 0o644)


def mode_0640(d, p):
    os.chmod(p, 0o640)


def owned_by_nobody(d, p):
    os.chown(p, 65534, 65534)


def symlink_to_tmp(d, p):
    target = os.path.join(d.dir, "elsewhere.pem")
    os.rename(p, target)
    os.symlink(target, p)


def dir_group_writable(d, p):
    os.chmod(os.path.dirname(p), 0o770)


def dir_world_writable(d, p):
    os.chmod(os.path.dirname(p), 0o777)


KY01 = [empty, missing, truncated, other_key, ed25519_for_rsa]
KY02 = [mode_0644, mode_0640, owned_by_nobody, symlink_to_tmp,
        dir_group_writable, dir_world_writable]


def weak_rsa(d):
    """Replace s1 by a 768-bit RSA key whose journal entry matches it, so
    only the size check (RFC 8301: at least 1024 bits) can refuse it."""
    keys = dict(d.keys)
    keys["s1"] = make_key(bits=768)
    d.keys = keys
    write_domain(d.keystore, "example.com", keys, generation=2)
    return key_path(d)


class KeysAtStartup(unittest.TestCase):
    def start_fails(self, d, path, pem):
        p = subprocess.run([binary("signetd", d.asan), "-c", d.config, "-f"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, cwd=d.dir, timeout=30)
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn(path.encode(), out)
        # The message names the file; no key bytes reach the terminal.
        self.assertNotIn(b"PRIVATE KEY", out)
        body = b"".join(pem.splitlines()[1:-1])
        self.assertNotIn(body[:40], out)
        self.assertNotIn(b"Sanitizer", out)

    def check(self, mutate):
        d = Signetd()
        self.addCleanup(d.cleanup, False)
        path = key_path(d)
        pem = d.keys["s1"][0]
        mutate(d, path)
        self.start_fails(d, path, pem)

    def test_bad_key_file_refused_at_startup_ky01(self):
        for mutate in KY01:
            with self.subTest(case=mutate.__name__):
                self.check(mutate)

    def test_weak_rsa_refused_at_startup_ky01(self):
        d = Signetd()
        self.addCleanup(d.cleanup, False)
        path = weak_rsa(d)
        self.start_fails(d, path, d.keys["s1"][0])

    def test_unsafe_key_file_refused_at_startup_ky02(self):
        for mutate in KY02:
            with self.subTest(case=mutate.__name__):
                self.check(mutate)


class KeysAtReload(unittest.TestCase):
    def daemon(self):
        d = Signetd()
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def signed_by_both(self, d):
        r = session(d.port, "alice@example.com", ["bob@dest.test"], message())
        self.assertEqual(r[-1].code, 250)
        res = verifiers.dkimpy(d.outbox()[-1], d.dns)
        self.assertEqual(sorted((x.s, x.passed) for x in res),
                         [("s1", True), ("s2", True)])

    def test_bad_key_refused_at_reload_ky01_ky02(self):
        d = self.daemon()
        path = key_path(d)
        with open(path, "rb") as f:
            good = f.read()
        for mutate in KY01 + KY02:
            with self.subTest(case=mutate.__name__):
                refused = d.read_log().count(b"outcome=refused")
                mutate(d, path)
                d.signal(signal.SIGHUP)
                self.assertTrue(d.wait_log(b"outcome=refused",
                                           count=refused + 1))
                self.assertIsNone(d.proc.poll())
                self.assertIn(path.encode(), d.read_log())
                # The old snapshot still holds both keys.
                self.signed_by_both(d)
                # Repair for the next case.
                if os.path.islink(path):
                    os.unlink(path)
                if os.path.exists(path):
                    os.chown(path, 0, 0)
                    os.chmod(path, 0o600)
                else:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                    os.close(fd)
                rewrite(path, good)
                os.chmod(os.path.dirname(path), 0o700)
        ok = d.read_log().count(b"event=reload outcome=ok")
        d.signal(signal.SIGHUP)
        self.assertTrue(d.wait_log(b"event=reload outcome=ok", count=ok + 1))
        self.signed_by_both(d)

    def test_key_file_deleted_after_start_still_signs_ky01(self):
        d = self.daemon()
        os.unlink(key_path(d))
        for _ in range(2):
            self.signed_by_both(d)


if __name__ == "__main__":
    tap.main()
