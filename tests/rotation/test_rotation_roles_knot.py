"""signetctl rotate against a real Knot DNS: ARC and extra Ed25519 keys,
disclosure, the TSIG algorithm check, and hostile-inputs.md KY-08 (with
faketime) and KY-09 (a kill -9 loop, then VERIFY with dkimpy and OpenDKIM
against the records Knot serves).

Timing as in test_rotate_knot.py: TTL 300 s, N 60, skew 120 s, reload
bound 60 s, max transit 1 d, period 2 d.
"""
import calendar
import os
import random
import signal
import shutil
import smtplib
import stat
import subprocess
import sys
import time
import unittest

import knot
import tap
import verifiers
from signet_env import binary, free_port

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rotrig import config_text, exec_hook, record, rfc2136  # noqa: E402
from test_rotate_knot import (ASAN, GONE_WAIT, GUARD, PERIOD, R,  # noqa: E402
                              READY_WAIT, T0, ZONE, Rig, step_lines)

FAKETIME = shutil.which("faketime")
ROOT = os.environ.get("SIGNET_ROOT", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))

MESSAGE = (b"From: Alice <alice@example.test>\r\n"
           b"To: Bob <bob@example.org>\r\n"
           b"Subject: rotation check\r\n"
           b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
           b"Message-ID: <rotation-check@example.test>\r\n"
           b"\r\n"
           b"Signed with whatever the key store says is signing.\r\n")


def entered(key, state):
    """When the journal says key entered state, as a UNIX time."""
    return calendar.timegm(time.strptime(key["entered"][state],
                                         "%Y-%m-%dT%H:%M:%SZ"))


class RoleRig(Rig):
    """Rig with a configurable domain entry and rotation extras."""

    def __init__(self, primary, servers, selectors="[s1, s2]", alg="rsa",
                 domain_extra="", rotation_extra="", tsig_alg="hmac-sha256",
                 strategy="dual-selector"):
        self.opts = dict(selectors=selectors, alg=alg,
                         domain_extra=domain_extra,
                         rotation_extra=rotation_extra, tsig_alg=tsig_alg,
                         strategy=strategy, hook=None)
        super().__init__(primary, servers)

    def write_config(self, servers, *args, **kw):
        o = self.opts
        backend = exec_hook(o["hook"]) if o["hook"] else rfc2136(
            self.primary.server, self.primary.secret_file, o["tsig_alg"])
        with open(self.conf, "w") as f:
            f.write(config_text(
                self.dir, servers, backend, selectors=o["selectors"],
                alg=o["alg"], domain_extra=o["domain_extra"],
                rotation_extra=o["rotation_extra"], strategy=o["strategy"]))

    def by_selector(self, sel):
        return [k for k in self.keys() if k["selector"] == sel][0]

    def role(self, k):
        return (k.get("attrs") or {}).get("role", "dkim")


class RolesKnot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skip = None
        if not os.access(binary("signetctl", ASAN), os.X_OK):
            cls.skip = "signetctl is not built"
            return
        port = free_port()
        zone = knot.zone_text(ZONE, ns=(("ns1", "127.0.0.1"),))
        cls.primary = knot.Knot(zones={ZONE: zone}, port=port)
        cls.primary.start()

    @classmethod
    def tearDownClass(cls):
        if cls.skip:
            return
        cls.primary.cleanup()

    def setUp(self):
        if self.skip:
            self.skipTest(self.skip)
        self.rigs = []

    def tearDown(self):
        for r in self.rigs:
            r.cleanup()

    def wipe(self, names):
        self.primary.knsupdate(ZONE, ["del %s._domainkey TXT" % n
                                      for n in names])

    def role_rig(self, **kw):
        r = RoleRig(self.primary, [self.primary.server], **kw)
        self.rigs.append(r)
        return r

    def plain_rig(self, **kw):
        r = Rig(self.primary, [self.primary.server], **kw)
        self.rigs.append(r)
        return r

    def txt(self, sel):
        return self.primary.txt("%s._domainkey.%s" % (sel, ZONE))

    def dns_table(self, rig):
        """What Knot serves for every selector the journal knows."""
        out = {}
        for k in rig.keys():
            vals = self.txt(k["selector"])
            if len(vals) == 1:
                out["%s._domainkey.%s" % (k["selector"], ZONE)] = vals[0]
        return out

    # -- ARC and Ed25519 keys: single signatures, generational names -----

    def test_arc_and_ed25519_keys_rotate_make_before_break(self):
        names = ["s1", "s2", "arc-20260101", "arc-20260103",
                 "ed25519-20260101", "ed25519-20260103"]
        self.wipe(names)
        rig = self.role_rig(
            domain_extra="    bits: 2048\n    extra_ed25519: true\n"
                         "    arc: { selector: arc, authserv_id: "
                         "mx.example.test }\n")
        for now in (T0, T0 + READY_WAIT, T0 + READY_WAIT + R):
            rig.settle(now)
        self.assertEqual(sorted(rig.signing()),
                         ["arc-20260101", "ed25519-20260101", "s1", "s2"])
        roles = {k["selector"]: (rig.role(k), k["algorithm"], k["state"])
                 for k in rig.keys()}
        self.assertEqual(roles, {
            "s1": ("dkim", "rsa", "ACTIVE"), "s2": ("dkim", "rsa", "ACTIVE"),
            "arc-20260101": ("arc", "rsa", "ACTIVE"),
            "ed25519-20260101": ("ed25519", "ed25519", "ACTIVE")})
        for k in rig.keys():
            self.assertEqual(self.txt(k["selector"]), [rig.record(k["id"])],
                             k["selector"])
        old_arc = rig.by_selector("arc-20260101")["id"]
        old_ed = rig.by_selector("ed25519-20260101")["id"]
        # due: successors under new names; the old keys keep signing
        t = T0 + PERIOD
        rig.settle(t)
        self.assertEqual(rig.by_selector("arc-20260103")["state"], "VISIBLE")
        self.assertEqual(rig.by_selector("ed25519-20260103")["state"],
                         "VISIBLE")
        self.assertIn("arc-20260101", rig.signing())
        self.assertIn("ed25519-20260101", rig.signing())
        rig.settle(t + READY_WAIT)
        self.assertIn("arc-20260103", rig.signing())
        self.assertIn("arc-20260101", rig.signing(), "make before break")
        t_off = t + READY_WAIT + R
        rig.settle(t_off)
        self.assertNotIn("arc-20260101", rig.signing())
        self.assertNotIn("ed25519-20260101", rig.signing())
        self.assertEqual(rig.by_selector("arc-20260101")["state"], "DRAINING")
        # I2: the old records stay byte-identical for M + R + S
        rig.settle(t_off + GUARD - 1)
        self.assertEqual(self.txt("arc-20260101"), [rig.record(old_arc)])
        self.assertEqual(self.txt("ed25519-20260101"), [rig.record(old_ed)])
        rig.settle(t_off + GUARD)
        self.assertEqual(self.txt("arc-20260101"), [b"v=DKIM1; p="])
        self.assertEqual(self.txt("ed25519-20260101"), [b"v=DKIM1; p="])
        # the DKIM slots went on rotating on their own the whole time
        self.assertEqual(sorted(s for s in rig.signing()
                                if s in ("s1", "s2")), ["s1", "s2"])
        rig.settle(t_off + GUARD + GONE_WAIT)
        self.assertEqual(rig.by_selector("arc-20260101")["state"],
                         "DESTROYED")
        self.assertEqual(self.txt("arc-20260101"), [], "name removed")
        self.assertEqual(self.txt("ed25519-20260101"), [], "name removed")
        # keys list: every key with its role's next step
        rc, out, err = rig.ctl("keys", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn("NEXT", out.splitlines()[0])
        row = [l for l in out.splitlines() if "arc-20260103" in l][0]
        self.assertIn("drain", row)
        rc, _, err = rig.ctl("check")
        self.assertEqual(rc, 0, err)
        rc, out, err = rig.ctl("dns")
        self.assertEqual(rc, 0, err)
        for name in ("arc-20260103", "ed25519-20260103", "s1", "s2"):
            self.assertIn("%s._domainkey.%s." % (name, ZONE), out)
        self.signetd_seals(rig, "arc-20260103", "ed25519-20260103")

    def relay_one(self, rig, entry, extra=""):
        """MESSAGE through a signetd (file sink) whose domains: entry for
        ZONE is entry and whose key store is rig's; the message written."""
        sys.path.insert(0, os.path.join(ROOT, "tests", "smtp"))
        from daemon import Signetd
        d = Signetd(upstream="file")
        try:
            text = d.config_text().replace(
                "keystore: %s" % d.keystore,
                "keystore: %s" % os.path.join(rig.dir, "keys"))
            text = text.replace("example.com: { selectors: [s1, s2] }",
                                "%s: %s" % (ZONE, entry)) + extra
            d.write_config(text.replace("example.com", ZONE))
            d.start()
            with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as c:
                c.sendmail("alice@" + ZONE, ["bob@dest.test"], MESSAGE)
            for _ in range(100):
                if d.outbox():
                    break
                time.sleep(0.1)
            out = d.outbox()
            self.assertEqual(len(out), 1, d.read_log()[-2000:])
            return out[0]
        finally:
            d.cleanup()

    def signetd_seals(self, rig, arc_sel, ed_sel):
        """signetd on rig's store signs with the RSA slots plus the
        rotated Ed25519 key and seals with the rotated ARC key; dkimpy
        validates all of it against the records Knot serves."""
        import dkim
        msg = self.relay_one(
            rig, "{ selectors: [s1, s2], extra_ed25519: true, arc: "
            "{ selector: arc, authserv_id: mx.example.test } }",
            "resolver: { nameservers: [%s], timeout: 5s }\n" %
            self.primary.server)
        got = sorted(s for _, s, _, _ in verifiers.signature_tags(msg))
        slots = [x for x in rig.signing() if x in ("s1", "s2")]
        self.assertEqual(got, sorted(slots + [ed_sel]))
        dns = self.dns_table(rig)
        res = verifiers.dkimpy(msg, dns)
        self.assertTrue(len(res) == len(got) and
                        all(x.passed for x in res), res)
        cv, _, why = dkim.arc_verify(msg, dnsfunc=verifiers.dnsfunc(dns))
        self.assertEqual(cv, b"pass", why)
        self.assertIn(("s=%s;" % arc_sel).encode(),
                      msg.replace(b"\r\n\t", b"").replace(b" ", b""))

    def test_arc_key_made_by_keys_import_is_adopted(self):
        """The ARC key at the plain selector (as `keys init`/`import`
        make it, no role) rotates as an ARC key: DKIM rotation leaves it
        alone, and when due a generational successor replaces it."""
        pem, value = verifiers.rsa_key(2048)
        # the import stamps the wall clock: run the schedule after it
        t0 = (int(time.time()) // 86400 + 1) * 86400
        # due a period after the import, which is made within 120 s
        t = int(time.time()) + PERIOD + 120
        succ = "arc-" + time.strftime("%Y%m%d", time.gmtime(t))
        self.wipe(("s1", "s2", "arc", succ))
        rig = self.role_rig(
            alg="ed25519",
            domain_extra="    arc: { selector: arc, authserv_id: "
                         "mx.example.test }\n")
        src = os.path.join(rig.dir, "arc.pem")
        with open(src, "wb") as f:
            f.write(pem)
        os.chmod(src, 0o600)
        rc, out, err = rig.ctl("keys", "import", ZONE, "arc", src)
        self.assertEqual(rc, 0, out + err)
        self.primary.knsupdate(ZONE, ["add arc._domainkey 300 TXT %s" %
                                      knot.quote_txt(value.encode())])
        legacy = rig.key_at("arc")
        for now in (t0, t0 + READY_WAIT, t0 + READY_WAIT + R):
            rig.settle(now)
        self.assertEqual(rig.signing(), ["arc", "s1", "s2"])
        self.assertEqual(len(rig.keys()), 3, "no ARC key made: not due")
        # due (period after the import): a successor, then make before break
        rig.settle(t)
        self.assertEqual(rig.by_selector(succ)["state"], "VISIBLE")
        self.assertEqual(rig.role(rig.by_selector(succ)), "arc")
        self.assertIn("arc", rig.signing())
        t_off = t + READY_WAIT + R
        rig.settle(t + READY_WAIT)
        rig.settle(t_off)
        self.assertNotIn("arc", rig.signing())
        self.assertIn(succ, rig.signing())
        self.assertEqual(self.txt("arc"), [value.encode()], "kept for I2")
        rig.settle(t_off + GUARD)
        self.assertEqual(self.txt("arc"), [b"v=DKIM1; p="])
        rig.settle(t_off + GUARD + GONE_WAIT)
        self.assertEqual([k["state"] for k in rig.keys()
                          if k["id"] == legacy], ["DESTROYED"])
        self.assertEqual(self.txt("arc"), [], "the old name is removed")

    def test_revoke_compromised_arc_key(self):
        self.wipe(["s1", "s2", "arc-20260101", "arc-20260101-2"])
        rig = self.role_rig(
            alg="ed25519",
            domain_extra="    arc: { selector: arc, authserv_id: "
                         "mx.example.test }\n")
        for now in (T0, T0 + READY_WAIT, T0 + READY_WAIT + R):
            rig.settle(now)
        victim = rig.by_selector("arc-20260101")["id"]
        t = T0 + READY_WAIT + R + 10
        rc, out, err = rig.ctl("revoke", ZONE, "arc-20260101",
                               "--compromised", "--now", str(t))
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("arc-20260101", rig.signing())
        rig.settle(t)
        self.assertEqual(self.txt("arc-20260101"), [b"v=DKIM1; p="])
        # a successor under a fresh name; the DKIM slots untouched
        succ = rig.by_selector("arc-20260101-2")
        self.assertNotEqual(succ["id"], victim)
        self.assertEqual(rig.role(succ), "arc")
        self.assertEqual(sorted(s for s in rig.signing()
                                if s in ("s1", "s2")), ["s1", "s2"])

    # -- rotation.md §b state 10: DISCLOSED ------------------------------

    def test_disclosed_only_once_gone(self):
        names = ("gen-20260101", "gen-20260103")
        self.wipe(names)
        rig = self.role_rig(alg="ed25519", selectors="[gen]",
                            strategy="generational")
        pub = os.path.join(rig.dir, "disclosed")
        rig.opts["rotation_extra"] = "  disclose: %s" % pub
        rig.write_config([self.primary.server])
        os.mkdir(pub, 0o755)
        t = T0 + PERIOD
        t_off = t + READY_WAIT + R
        for now in (T0, T0 + READY_WAIT, T0 + READY_WAIT + R, t,
                    t + READY_WAIT, t_off, t_off + GUARD):
            rig.settle(now)
        first = rig.keys()[0]
        published = rig.record(first["id"])
        self.assertEqual(first["state"], "REVOKED")
        self.assertEqual(os.listdir(pub), [], "nothing disclosed before GONE")
        rig.settle(t_off + GUARD + GONE_WAIT - 1)
        self.assertEqual(os.listdir(pub), [])
        out = rig.settle(t_off + GUARD + GONE_WAIT)
        self.assertIn("DISCLOSED", out)
        first = rig.keys()[0]
        self.assertEqual(first["state"], "DISCLOSED")
        name = "%s.gen-20260101.%s.pem" % (ZONE, first["id"])
        self.assertEqual(os.listdir(pub), [name])
        path = os.path.join(pub, name)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)
        self.assertEqual(record(path), published, "the very key published")
        self.assertFalse(os.path.exists(rig.key_path(first["id"])))
        self.assertEqual(self.txt("gen-20260101"), [], "never served again")
        # the current key is neither disclosed nor touched
        self.assertEqual(rig.signing(), ["gen-20260103"])
        self.assertTrue(os.path.exists(rig.key_path(rig.keys()[1]["id"])))

    # -- rotation.dns.tsig.algorithm -------------------------------------

    def test_tsig_hmac_sha384_refused_by_config(self):
        rig = self.role_rig(tsig_alg="hmac-sha384")
        rc, out, err = rig.ctl("config", "check", rig.conf)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("hmac-sha384 cannot sign updates", out + err)
        rc, out, err = rig.rotate(T0)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("hmac-sha384", err)
        self.assertFalse(os.path.exists(rig.journal_path))
        for alg in ("hmac-sha256", "hmac-sha512"):
            rig.opts["tsig_alg"] = alg
            rig.write_config([self.primary.server])
            rc, out, err = rig.ctl("config", "check", rig.conf)
            self.assertEqual(rc, 0, alg + out + err)

    # -- KY-08: faketime steps -------------------------------------------

    def ft(self, rig, when, *args):
        """signetctl at the simulated wall clock when (no --now)."""
        env = dict(os.environ, TZ="UTC", FAKETIME_DONT_FAKE_MONOTONIC="1",
                   SIGNET_HOOK_CONF=self.hook_conf)
        env.pop("SIGNET_CRASH_AT", None)
        # libfaketime is preloaded ahead of the ASan runtime
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + \
            ":verify_asan_link_order=0"
        stamp = time.strftime("@%Y-%m-%d %H:%M:%S", time.gmtime(when))
        r = subprocess.run([FAKETIME, "-f", stamp, binary("signetctl", ASAN),
                            "-c", rig.conf] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=120)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def ft_settle(self, rig, when):
        for _ in range(40):
            rc, out, err = self.ft(rig, when, "rotate")
            self.assertEqual(rc, 0, out + err)
            if "waiting for" not in out:
                return out
            time.sleep(0.3)
        self.fail("DNS did not settle")

    @unittest.skipUnless(FAKETIME, "faketime is not installed")
    def test_ky08_faketime_steps(self):
        names = ("gen-20260101", "gen-20260103")
        self.wipe(names)
        rig = self.plain_rig(strategy="generational", selectors="[gen]")
        # TSIG signs the time: the UPDATEs go out through the knsupdate
        # hook with the real clock, everything else runs on the faked one
        hook = os.path.join(rig.dir, "hook")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\nexec env -u LD_PRELOAD -u FAKETIME "
                    "/usr/bin/python3 %s \"$@\"\n" % os.path.join(
                        ROOT, "contrib", "hooks", "knsupdate-hook"))
        os.chmod(hook, 0o755)
        self.hook_conf = os.path.join(rig.dir, "hook.conf")
        with open(self.hook_conf, "w") as f:
            f.write("SERVER=%s\nPORT=%d\nTSIG_KEY=hmac-sha256:%s\n"
                    "TSIG_SECRET_FILE=%s\n" % (
                        self.primary.address, self.primary.port,
                        knot.KEY_NAME, self.primary.secret_file))
        rig.write_config([self.primary.server], "generational", "[gen]",
                         "exec", hook=hook)
        self.ft_settle(rig, T0)
        self.assertEqual(rig.keys()[0]["state"], "VISIBLE")
        # not before t_vis + max(TTL, N) + S (the faked clock ticks on)
        t_vis = entered(rig.keys()[0], "VISIBLE")
        self.assertLess(t_vis - T0, 30)
        self.ft_settle(rig, t_vis + READY_WAIT - 30)
        self.assertEqual(rig.signing(), [], "not READY early")
        self.ft_settle(rig, t_vis + READY_WAIT + 5)
        self.assertEqual(rig.signing(), ["gen-20260101"])
        self.ft_settle(rig, t_vis + READY_WAIT + R + 10)
        self.assertEqual(rig.keys()[0]["state"], "ACTIVE")
        old = rig.record(rig.keys()[0]["id"])
        t = T0 + PERIOD
        self.ft_settle(rig, t)
        t_vis = entered(rig.keys()[1], "VISIBLE")
        self.ft_settle(rig, t_vis + READY_WAIT + 5)
        self.ft_settle(rig, t_vis + READY_WAIT + R + 10)
        self.assertEqual(rig.keys()[0]["state"], "DRAINING")
        t_off = entered(rig.keys()[0], "DRAINING")
        # the old selector stays, byte-identical, until the retention time
        self.ft_settle(rig, t_off + GUARD - 30)
        self.assertEqual(self.txt("gen-20260101"), [old])
        self.assertEqual(rig.keys()[0]["state"], "DRAINING")
        self.ft_settle(rig, t_off + GUARD + 5)
        self.assertEqual(self.txt("gen-20260101"), [b"v=DKIM1; p="])
        # keys list at the faked clock: the next step and when
        rc, out, err = self.ft(rig, t_off + GUARD + 60, "keys", "list")
        self.assertEqual(rc, 0, err)
        row = [l for l in out.splitlines() if "gen-20260101" in l][0]
        self.assertIn("gone 2026-01-", row)
        # a clock set back is refused, the journal untouched
        before = rig.journal_bytes()
        rc, out, err = self.ft(rig, T0, "rotate")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("earlier than the journal", err)
        self.assertEqual(rig.journal_bytes(), before)

    # -- KY-03, KY-07: the record is not what we meant ------------------

    def sign_and_verify(self, rig, selectors):
        """Sign MESSAGE with the keys at selectors; every signature must
        pass dkimpy and OpenDKIM against what Knot serves."""
        j = rig.journal()
        kdir = os.path.join(rig.dir, "keys", ZONE, "keys")
        args = []
        for s in selectors:
            args += ["--key", "%s:%s:%s" % (ZONE, s, os.path.join(
                kdir, j["selectors"][s] + ".pem"))]
        r = subprocess.run([binary("signetctl", ASAN), "sign"] + args,
                           input=MESSAGE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        dns = self.dns_table(rig)
        for verify in (verifiers.dkimpy, verifiers.opendkim):
            res = verify(r.stdout, dns)
            self.assertEqual(len(res), len(selectors), res)
            self.assertTrue(all(x.passed for x in res), (verify, res))

    def signetd_signs(self, rig, selectors):
        """signetd on rig's key store: a message it relays carries one
        signature per signing selector, each passing dkimpy and OpenDKIM
        against Knot."""
        msg = self.relay_one(rig,
                             "{ selectors: [s1, s2], algorithm: ed25519 }")
        dns = self.dns_table(rig)
        got = sorted(s for _, s, _, _ in verifiers.signature_tags(msg))
        self.assertEqual(got, sorted(selectors))
        for verify in (verifiers.dkimpy, verifiers.opendkim):
            res = verify(msg, dns)
            self.assertTrue(res and all(x.passed for x in res),
                            (verify, res))

    def test_ky03_ky07_bad_record_never_activates(self):
        """A hook that says "done" but the name holds a stale, truncated
        or second record: the new key stays PUBLISHED, the other slot
        keeps signing, and its mail verifies."""
        hook = None
        for case in ("stale", "truncated", "two records"):
            with self.subTest(case=case):
                self.wipe(("s1", "s2"))
                # RSA-2048: a record long enough to be cut at 255 octets
                rig = self.role_rig()
                rig.settle(T0)
                rig.settle(T0 + READY_WAIT)
                rig.settle(T0 + READY_WAIT + R)
                old_s1 = rig.key_at("s1")
                rig.settle(T0 + PERIOD)
                self.assertEqual(rig.signing(), ["s2"])
                hook = os.path.join(rig.dir, "hook")
                with open(hook, "w") as f:
                    f.write("#!/bin/sh\ncat >/dev/null\nexit 0\n")
                os.chmod(hook, 0o755)
                rig.opts["hook"] = hook
                rig.write_config([self.primary.server])
                t = T0 + PERIOD + R
                rc, out, err = rig.rotate(t)
                self.assertEqual(rc, 0, out + err)
                new = rig.keys()[2]
                self.assertEqual(new["state"], "PUBLISHED")
                want = rig.record(new["id"])
                if case == "stale":
                    vals = [rig.record(old_s1)]
                elif case == "truncated":
                    self.assertGreater(len(want), 255)
                    vals = [want[:255]]
                else:
                    vals = [want, b"v=DKIM1; p=another"]
                cmds = ["del s1._domainkey TXT"] + [
                    "add s1._domainkey 300 TXT %s" % knot.quote_txt(v)
                    for v in vals]
                self.primary.knsupdate(ZONE, cmds)
                for now in (t + 1, t + READY_WAIT + R, t + 3 * READY_WAIT):
                    rc, out, err = rig.rotate(now)
                    self.assertEqual(rc, 0, out + err)
                    self.assertIn("waiting for the new key", out)
                    self.assertEqual(rig.keys()[2]["state"], "PUBLISHED")
                    self.assertEqual(rig.signing(), ["s2"])
                self.sign_and_verify(rig, ["s2"])

    def test_ky07_rsa_4096_in_several_strings(self):
        self.wipe(("s1", "s2"))
        rig = self.role_rig(domain_extra="    bits: 4096\n")
        for now in (T0, T0 + READY_WAIT, T0 + READY_WAIT + R):
            rig.settle(now)
        self.assertEqual(rig.signing(), ["s1", "s2"])
        for sel in ("s1", "s2"):
            strings = self.primary.txt_strings("%s._domainkey.%s" % (sel,
                                                                     ZONE))
            self.assertGreaterEqual(len(strings[0]), 3, strings)
            self.assertTrue(all(len(x) <= 255 for x in strings[0]))
        self.sign_and_verify(rig, ["s1", "s2"])

    # -- KY-09: kill -9 loop, concurrency --------------------------------

    def test_ky09_kill_loop_then_verify(self):
        names = ("s1", "s2")
        self.wipe(names)
        rig = self.plain_rig()
        times = [T0, T0 + READY_WAIT, T0 + READY_WAIT + R, T0 + PERIOD,
                 T0 + PERIOD + R, T0 + PERIOD + R + READY_WAIT,
                 T0 + PERIOD + 2 * R + READY_WAIT,
                 T0 + PERIOD + R + GONE_WAIT]
        rnd = random.Random(int(os.environ.get("SIGNET_TEST_SEED", "9")))
        ctl = [binary("signetctl", ASAN), "-c", rig.conf, "rotate", "--now"]
        killed = crashed = 0
        for i in range(50):
            now = times[i * len(times) // 50]
            env = dict(os.environ)
            env.pop("SIGNET_CRASH_AT", None)
            if rnd.random() < 0.5:
                env["SIGNET_CRASH_AT"] = str(rnd.randint(1, 4))
                r = subprocess.run(ctl + [str(now)], env=env, timeout=120,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
                crashed += r.returncode < 0
                continue
            p = subprocess.Popen(ctl + [str(now)], env=env,
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            # a run takes tens of milliseconds on a quiet machine
            time.sleep(rnd.uniform(0, 0.06))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                killed += 1
            p.wait()
        # how many die mid-run depends on the machine's speed; the loop
        # only proves something if some of them did
        self.assertGreaterEqual(killed + crashed, 5, "runs were interrupted")
        # one clean run at the end of the schedule converges
        rig.settle(times[-1])
        sigs = rig.signing()
        self.assertTrue(sigs, "something signs after the kill loop")
        j = rig.journal()
        served = [s for s in sigs
                  if self.txt(s) == [rig.record(j["selectors"][s])]]
        self.assertTrue(served, "a published selector matches a signing key")
        # no orphaned key files: every .pem is a key the journal lists
        kdir = os.path.join(rig.dir, "keys", ZONE, "keys")
        ids = {k["id"] for k in rig.keys() if k["state"] != "DESTROYED"}
        self.assertEqual({f[:-4] for f in os.listdir(kdir)
                          if f.endswith(".pem")}, ids)
        # VERIFY: sign with the served keys, check against Knot's records
        self.sign_and_verify(rig, served)
        # signetd starts on the store the loop left and signs with it
        self.signetd_signs(rig, sigs)
        # every record the journal says is served is served
        rc, out, err = rig.ctl("check")
        self.assertEqual(rc, 0, out + err)

    def test_ky09_two_concurrent_rotates(self):
        """Two runs at once: one works, the other waits for its lock and
        then finds the steps done; both exit 0 (issue 5, rotation.md
        section e; KY-09 accepts a run that waits) and the journal is
        that of one run."""
        self.wipe(("s1", "s2"))
        rig = self.plain_rig()
        ctl = [binary("signetctl", ASAN), "-c", rig.conf, "rotate", "--now",
               str(T0)]
        waited = False
        for _ in range(10):
            procs = [subprocess.Popen(ctl, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
                     for _ in range(2)]
            res = [(p.wait(), p.stdout.read().decode(),
                    p.stderr.read().decode()) for p in procs]
            for p in procs:
                p.stdout.close()
                p.stderr.close()
            self.assertEqual([rc for rc, _, _ in res], [0, 0], res)
            waited = waited or any("waited" in out and
                                   "another signetctl rotate" in out
                                   for _, out, _ in res)
            if waited:
                break
        self.assertTrue(waited, "the lock was never contended")
        rig.settle(T0)
        self.assertEqual([k["state"] for k in rig.keys()], ["VISIBLE"] * 2)

if __name__ == "__main__":
    tap.main()
