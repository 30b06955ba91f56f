"""signetctl rotate / revoke against a real Knot DNS on loopback
(design/rotation.md §b and §e; hostile-inputs.md KY-06, KY-08, KY-09).

The clock is simulated with --now.  Knot runs as a primary on 127.0.0.1:P
and, for the propagation tests, a secondary on 127.0.0.2:P.  Keys are
Ed25519 (fast to make); the state machine does not depend on the
algorithm.  Timing: TTL 300 s, SOA MINIMUM 60 (so N = 60), skew 120 s,
reload bound 60 s, max transit 1 d, period 2 d: a key is READY 420 s after
it is visible, ACTIVE 60 s later; a slot may leave ACTIVE one day and
180 s after the other slot became ACTIVE.
"""
import base64
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import knot
import tap
from rotrig import (ASAN, R, READY_WAIT, ZONE, Store, config_text,  # noqa: F401
                    exec_hook, knot_pair, rfc2136, signetctl)
from signet_env import binary

T0 = 1767225600          # 2026-01-01T00:00:00Z
GUARD = 86400 + 60 + 120  # M + R + S
PERIOD = 2 * 86400
GONE_WAIT = 300 + 3 * 86400
STATE_WORDS = {"GENERATED", "PUBLISHING", "PUBLISHED", "VISIBLE", "READY",
               "ACTIVE", "DRAINING", "WITHDRAWING", "REVOKED", "GONE",
               "DESTROYED", "COMPROMISED", "RETIRING"}


class Rig(Store):
    """One temp dir: config, key store; helpers around signetctl."""

    def __init__(self, primary, servers, strategy="dual-selector",
                 selectors="[s1, s2]", backend="rfc2136", secret_file=None,
                 hook=None):
        self.dir = tempfile.mkdtemp(prefix="signet-rotate-")
        os.chmod(self.dir, 0o700)
        self.primary = primary
        self.conf = os.path.join(self.dir, "signet.yaml")
        self.write_config(servers, strategy, selectors, backend,
                          secret_file, hook)

    def write_config(self, servers, strategy, selectors, backend,
                     secret_file=None, hook=None):
        bc = rfc2136(self.primary.server,
                     secret_file or self.primary.secret_file) \
            if backend == "rfc2136" else exec_hook(hook)
        with open(self.conf, "w") as f:
            f.write(config_text(self.dir, servers, bc,
                                selectors=selectors, strategy=strategy))

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args, env=None):
        r = signetctl(self.conf, args, env=env)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def journal_bytes(self):
        with open(self.journal_path, "rb") as f:
            return f.read()

    def keys(self):
        return self.journal().get("keys") or []

    def rotation_state(self):
        """Keys and selector map: what a failed step must not change."""
        j = self.journal()
        return (j.get("keys"), j.get("selectors"))

    def failures(self):
        return int((self.journal().get("attrs") or {}).get(
            "publish_failures", "0"))

    def normal(self):
        """The journal with key ids replaced by their position."""
        j = self.journal()
        ids = {k["id"]: "k%d" % i for i, k in enumerate(j.get("keys") or [])}
        for k in j.get("keys") or []:
            k["id"] = ids[k["id"]]
        j["selectors"] = {s: ids[i] for s, i in
                          (j.get("selectors") or {}).items()}
        return j

    def dns_normal(self, names):
        """What each name holds, as the position of the key it matches."""
        out = {}
        recs = {}
        for i, k in enumerate(self.keys()):
            if k["state"] != "DESTROYED":
                recs[self.record(k["id"])] = "k%d" % i
        for n in names:
            vals = self.primary.txt("%s._domainkey.%s" % (n, ZONE))
            out[n] = [recs.get(v, v) for v in vals]
        return out


def step_lines(out):
    return [l for l in out.splitlines()
            if len(l.split()) == 4 and l.split()[3] in STATE_WORDS]


class RotateKnot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skip = None
        if not os.access(binary("signetctl", ASAN), os.X_OK):
            cls.skip = "signetctl is not built"
            return
        cls.primary, cls.secondary = knot_pair()
        cls.both = [cls.primary.server, cls.secondary.server]

    @classmethod
    def tearDownClass(cls):
        if cls.skip:
            return
        for k in (cls.secondary, cls.primary):
            k.cleanup()

    def setUp(self):
        if self.skip:
            self.skipTest(self.skip)
        self.rigs = []
        self.wipe_dns()

    def tearDown(self):
        for r in self.rigs:
            r.cleanup()

    def rig(self, servers=None, **kw):
        r = Rig(self.primary, servers or self.both, **kw)
        self.rigs.append(r)
        return r

    def wipe_dns(self, names=("s1", "s2")):
        self.primary.knsupdate(ZONE, ["del %s._domainkey TXT" % n
                                      for n in names])

    def assert_visible(self, rig, sel):
        key = rig.key_at(sel)
        want = rig.record(key)
        self.assertEqual(self.primary.txt("%s._domainkey.%s" % (sel, ZONE)),
                         [want])

    def bring_up_dual(self, rig):
        rig.settle(T0)
        for k in rig.keys():
            self.assertEqual(k["state"], "VISIBLE", k)
        self.assertEqual(rig.signing(), [])
        rc, out, err = rig.rotate(T0 + READY_WAIT - 1)
        self.assertEqual(rc, 0, err)
        self.assertEqual(rig.signing(), [], "not READY before the wait")
        rig.settle(T0 + READY_WAIT)
        self.assertEqual([k["state"] for k in rig.keys()], ["READY"] * 2)
        self.assertEqual(rig.signing(), ["s1", "s2"])
        rig.settle(T0 + READY_WAIT + R)
        self.assertEqual([k["state"] for k in rig.keys()], ["ACTIVE"] * 2)
        return T0 + READY_WAIT + R

    # -- full rotations ------------------------------------------------

    def test_dual_selector_full_rotation(self):
        rig = self.rig()
        t_act = self.bring_up_dual(rig)
        self.assert_visible(rig, "s1")
        self.assert_visible(rig, "s2")
        rc, _, err = rig.ctl("check")
        self.assertEqual(rc, 0, err)
        # not due yet: nothing happens
        before = rig.journal_bytes()
        rc, out, err = rig.rotate(T0 + PERIOD - 1)
        self.assertEqual((rc, step_lines(out)), (0, []), out + err)
        self.assertEqual(rig.journal_bytes(), before)
        # s1 is due: it leaves the signing set, s2 keeps signing
        t = T0 + PERIOD
        old_s1 = rig.key_at("s1")
        rig.settle(t)
        self.assertEqual(rig.signing(), ["s2"])
        self.assertEqual(self.primary.txt("s1._domainkey." + ZONE),
                         [rig.record(old_s1)], "record kept for R")
        rig.settle(t + R)
        states = [k["state"] for k in rig.keys()]
        self.assertEqual(states, ["REVOKED", "ACTIVE", "VISIBLE"])
        self.assertEqual(rig.signing(), ["s2"])
        new_s1 = rig.keys()[2]["id"]
        self.assertEqual(self.primary.txt("s1._domainkey." + ZONE),
                         [rig.record(new_s1)])
        rig.settle(t + R + READY_WAIT)
        self.assertEqual(rig.signing(), ["s1", "s2"])
        self.assertEqual(rig.key_at("s1"), new_s1)
        rig.settle(t + 2 * R + READY_WAIT)
        t_s1 = t + 2 * R + READY_WAIT
        # s2 is due too, but I5 holds it until s1 has been ACTIVE M+R+S
        rc, out, err = rig.rotate(t_s1 + GUARD - 1)
        self.assertEqual(rc, 0, err)
        self.assertEqual(rig.signing(), ["s1", "s2"])
        self.assertIn("next step at", out)
        rig.settle(t_s1 + GUARD)
        self.assertEqual(rig.signing(), ["s1"])
        # the old s1 key: GONE after TTL + stale margin, then destroyed
        rig.settle(t + R + GONE_WAIT)
        old = [k for k in rig.keys() if k["id"] == old_s1][0]
        self.assertEqual(old["state"], "DESTROYED")
        self.assertFalse(os.path.exists(os.path.join(
            rig.dir, "keys", ZONE, "keys", old_s1 + ".pem")))
        # the clock going back is refused, the journal untouched
        before = rig.journal_bytes()
        rc, out, err = rig.rotate(T0)
        self.assertEqual(rc, 1)
        self.assertIn("earlier than the journal", err)
        self.assertEqual(rig.journal_bytes(), before)
        del t_act

    def test_generational_full_rotation(self):
        rig = self.rig(strategy="generational", selectors="[gen]")
        rig.settle(T0)
        rig.settle(T0 + READY_WAIT)
        rig.settle(T0 + READY_WAIT + R)
        first = rig.keys()[0]
        self.assertEqual(first["selector"], "gen-20260101")
        self.assertEqual(first["state"], "ACTIVE")
        self.assertEqual(rig.signing(), ["gen-20260101"])
        # due: a successor under a new name; make before break
        t = T0 + PERIOD
        rig.settle(t)
        rig.settle(t + READY_WAIT)
        self.assertEqual(rig.signing(), ["gen-20260101", "gen-20260103"])
        rig.settle(t + READY_WAIT + R)
        self.assertEqual(rig.signing(), ["gen-20260103"])
        self.assertEqual(rig.keys()[0]["state"], "DRAINING")
        t_off = t + READY_WAIT + R
        old_name = "gen-20260101._domainkey." + ZONE
        # I2: the old record stays byte-identical for R + M + S
        rig.settle(t_off + GUARD - 1)
        self.assertEqual(self.primary.txt(old_name),
                         [rig.record(first["id"])])
        rig.settle(t_off + GUARD)
        self.assertEqual(rig.keys()[0]["state"], "REVOKED")
        self.assertEqual(self.primary.txt(old_name), [b"v=DKIM1; p="])
        rig.settle(t_off + GUARD + GONE_WAIT)
        self.assertEqual(rig.keys()[0]["state"], "DESTROYED")
        self.assertEqual(self.primary.txt(old_name), [], "name removed")
        rc, _, err = rig.ctl("check")
        self.assertEqual(rc, 0, err)

    # -- failures ------------------------------------------------------

    def assert_fails_untouched(self, rig, now, needle=None):
        """A failing run: one line on stderr, exit 1, every key's state
        and the selector map as they were (only the failure count in the
        domain's attrs changes)."""
        before = rig.rotation_state()
        signing = rig.signing()
        rc, out, err = rig.rotate(now)
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        if needle:
            self.assertIn(needle, err)
        self.assertEqual(rig.rotation_state(), before)
        self.assertEqual(rig.signing(), signing)
        return err

    def assert_backs_off(self, rig, now):
        """Within the backoff: no DNS work, exit 0, nothing changes."""
        before = rig.journal_bytes()
        serial = self.primary.serial(ZONE) if self.primary.proc \
            else None
        rc, out, err = rig.rotate(now)
        self.assertEqual((rc, err), (0, ""), out)
        self.assertIn("backing off until", out)
        self.assertEqual(rig.journal_bytes(), before)
        if serial is not None:
            self.assertEqual(self.primary.serial(ZONE), serial)

    def rotation_due(self, rig):
        """Bring up, make s1 due and drained: the next run publishes."""
        self.bring_up_dual(rig)
        rig.settle(T0 + PERIOD)
        return T0 + PERIOD + R

    def failing_publishes(self, rig, t, needle):
        """rotation.md §e: stay in PUBLISHING, retry with backoff (300 s,
        then 600 s, 1200 s...), ALERT from the third failure on."""
        # the intent is journalled first, then the publish fails
        rc, out, err = rig.rotate(t)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("failure 1", err)
        self.assertEqual(rig.keys()[2]["state"], "PUBLISHING")
        self.assert_backs_off(rig, t + 299)
        err = self.assert_fails_untouched(rig, t + 300, needle)
        self.assertIn("failure 2", err)
        self.assertNotIn("ALERT", err)
        self.assert_backs_off(rig, t + 300 + 599)
        err = self.assert_fails_untouched(rig, t + 900, needle)
        self.assertIn("ALERT: %s: publishing dkim keys has failed 3 times"
                      % ZONE, err)
        self.assertEqual(rig.failures(), 3)
        # within the backoff the ALERT is repeated for cron, no DNS work
        rc, out, err = rig.rotate(t + 901)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("backing off until", out)
        self.assertTrue(err.startswith("signetctl: ALERT: "), err)
        return t + 900 + 1200

    def test_publish_failures_leave_signing_alone(self):
        """KY-06: DNS down, refused or deferred while publishing: each run
        fails without changing what is signed; a later run completes."""
        cases = ("stopped", "wrong-tsig", "hook-75")
        for case in cases:
            with self.subTest(case=case):
                self.wipe_dns()
                rig = self.rig()
                t = self.rotation_due(rig)
                if case == "stopped":
                    self.primary.stop()
                    try:
                        t = self.failing_publishes(rig, t, "publish")
                    finally:
                        self.primary.start()
                elif case == "wrong-tsig":
                    bad = os.path.join(rig.dir, "bad.key")
                    with open(bad, "w") as f:
                        f.write(base64.b64encode(os.urandom(32)).decode())
                    os.chmod(bad, 0o600)
                    rig.write_config(self.both, "dual-selector", "[s1, s2]",
                                     "rfc2136", secret_file=bad)
                    t = self.failing_publishes(rig, t, "publish")
                    rig.write_config(self.both, "dual-selector", "[s1, s2]",
                                     "rfc2136")
                else:
                    hook = os.path.join(rig.dir, "hook")
                    with open(hook, "w") as f:
                        f.write("#!/bin/sh\ncat >/dev/null\n"
                                "echo later >&2\nexit 75\n")
                    os.chmod(hook, 0o755)
                    rig.write_config(self.both, "dual-selector", "[s1, s2]",
                                     "exec", hook=hook)
                    t = self.failing_publishes(rig, t, "retry")
                    rig.write_config(self.both, "dual-selector", "[s1, s2]",
                                     "rfc2136")
                self.assertEqual(rig.signing(), ["s2"])
                # the next run after the backoff continues where the
                # failed one stopped, and the failure count starts over
                rig.settle(t)
                self.assertEqual(rig.keys()[2]["state"], "VISIBLE")
                self.assertEqual(rig.failures(), 0)
                self.assert_visible(rig, "s2")

    def test_blocked_transfer_keeps_key_out_of_visible(self):
        rig = self.rig()
        t = self.rotation_due(rig)
        self.assertTrue(self.secondary.wait_serial(
            ZONE, self.primary.serial(ZONE)))
        self.primary.block_transfers()
        try:
            for now in (t, t + READY_WAIT + R, t + 2 * (READY_WAIT + R)):
                rc, out, err = rig.rotate(now)
                self.assertEqual(rc, 0, out + err)
                self.assertIn("waiting for the new key", out)
                self.assertEqual(rig.keys()[2]["state"], "PUBLISHED")
                self.assertEqual(rig.signing(), ["s2"])
        finally:
            self.primary.allow_transfers()
        self.secondary.knotc("zone-refresh", ZONE)
        rig.settle(t + 2 * (READY_WAIT + R))
        self.assertEqual(rig.keys()[2]["state"], "VISIBLE")

    def test_drift_before_visible_is_repaired(self):
        rig = self.rig(servers=[self.primary.server])
        t = self.rotation_due(rig)
        # stop right after PUBLISHED (commits: PUBLISHING, PUBLISHED)
        rc, out, err = rig.rotate(t, env={"SIGNET_CRASH_AT": "2"})
        self.assertLess(rc, 0, out + err)
        self.assertEqual(rig.keys()[2]["state"], "PUBLISHED")
        self.primary.knsupdate(ZONE, ["del s1._domainkey TXT",
                                      'add s1._domainkey 300 TXT "v=DKIM1; '
                                      'p=behindourback"'])
        rc, out, err = rig.rotate(t)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("drift", out)
        self.assertEqual(rig.keys()[2]["state"], "VISIBLE")
        self.assertEqual(self.primary.txt("s1._domainkey." + ZONE),
                         [rig.record(rig.keys()[2]["id"])])

    def test_drift_of_active_key_is_repaired(self):
        rig = self.rig(servers=[self.primary.server])
        t = self.bring_up_dual(rig)
        self.primary.knsupdate(ZONE, ["del s2._domainkey TXT",
                                      'add s2._domainkey 300 TXT "v=DKIM1; '
                                      'p=behindourback"'])
        rc, out, err = rig.rotate(t + 10)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("s2._domainkey.%s" % ZONE, err)
        self.assertIn("re-published", err)
        self.assert_visible(rig, "s2")
        rc, out, err = rig.rotate(t + 20)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(rig.signing(), ["s1", "s2"])

    # -- revoke --------------------------------------------------------

    def test_revoke_compromised(self):
        rig = self.rig()
        t = self.bring_up_dual(rig) + 10
        victim = rig.key_at("s1")
        rc, out, err = rig.ctl("revoke", ZONE, "s1", "--compromised",
                               "--now", str(t))
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(rig.signing(), ["s2"], "out of the set at once")
        rig.settle(t)
        self.assertEqual(rig.signing(), ["s2"])
        k = [k for k in rig.keys() if k["id"] == victim][0]
        self.assertEqual(k["state"], "REVOKED")
        self.assertNotIn(rig.record(victim),
                         self.primary.txt("s1._domainkey." + ZONE))
        # the slot comes back with a new key
        rig.settle(t + 1)
        rig.settle(t + 1 + READY_WAIT + R)
        rig.settle(t + 1 + READY_WAIT + 2 * R)
        self.assertEqual(rig.signing(), ["s1", "s2"])
        self.assertNotEqual(rig.key_at("s1"), victim)

    def test_revoke_respects_i5(self):
        rig = self.rig()
        t = self.bring_up_dual(rig) + 10
        rc, out, err = rig.ctl("revoke", ZONE, "s1", "--now", str(t))
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(rig.signing(), ["s1", "s2"], "other slot too young")
        rig.settle(t - 10 + GUARD)
        self.assertEqual(rig.signing(), ["s2"])

    def test_concurrent_run_waits_then_exits_0(self):
        """KY-09, rotation.md section e: a second run waits for the
        lock and then does what is due; one whose wait runs out says so
        on one line, does nothing, and still exits 0 (cron overlap is
        not an error)."""
        rig = self.rig()
        os.makedirs(os.path.join(rig.dir, "keys"), mode=0o700, exist_ok=True)
        lock = os.path.join(rig.dir, "keys", ".rotate.lock")
        holder = subprocess.Popen(["flock", lock, "sleep", "5"])
        try:
            time.sleep(0.5)
            rc, out, err = rig.rotate(T0, env={"SIGNET_ROTATE_WAIT": "1"})
            self.assertEqual(rc, 0, out + err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("another signetctl rotate is still running", err)
            self.assertEqual(out, "")
            self.assertFalse(os.path.exists(rig.journal_path))
        finally:
            holder.kill()
            holder.wait()
        holder = subprocess.Popen(["flock", lock, "sleep", "2"])
        try:
            time.sleep(0.5)
            rc, out, err = rig.rotate(T0)
            self.assertEqual(rc, 0, out + err)
            self.assertIn("waited", out)
            self.assertTrue(os.path.exists(rig.journal_path), out + err)
        finally:
            holder.kill()
            holder.wait()

    def test_dry_run_changes_nothing(self):
        rig = self.rig()
        self.bring_up_dual(rig)
        before = rig.journal_bytes()
        serial = self.primary.serial(ZONE)
        rc, out, err = rig.ctl("rotate", "--dry-run", "--now",
                               str(T0 + PERIOD + R))
        self.assertEqual(rc, 0, err)
        self.assertIn("plan: %s s1" % ZONE, out)
        self.assertIn("DRAINING", out)
        self.assertEqual(rig.journal_bytes(), before)
        self.assertEqual(self.primary.serial(ZONE), serial)

    # -- crash at every journalled step --------------------------------

    def test_crash_at_every_step_dual(self):
        """For each run of a bootstrap and a rotation, and each commit k of
        that run: crash after k, rerun, and the store and DNS must equal
        what the clean run left."""
        times = [T0, T0 + READY_WAIT, T0 + READY_WAIT + R, T0 + PERIOD,
                 T0 + PERIOD + R, T0 + PERIOD + R + READY_WAIT,
                 T0 + PERIOD + 2 * R + READY_WAIT,
                 T0 + PERIOD + R + GONE_WAIT]
        rig = self.rig(servers=[self.primary.server])
        self.crash_sequence(rig, times, ("s1", "s2"))

    def test_crash_at_every_step_generational(self):
        t = T0 + PERIOD
        t_off = t + READY_WAIT + R
        times = [T0, T0 + READY_WAIT, T0 + READY_WAIT + R, t,
                 t + READY_WAIT, t_off, t_off + GUARD,
                 t_off + GUARD + GONE_WAIT]
        names = ("gen-20260101", "gen-20260103")
        self.wipe_dns(names)
        rig = self.rig(servers=[self.primary.server],
                       strategy="generational", selectors="[gen]")
        self.crash_sequence(rig, times, names)

    def crash_sequence(self, rig, times, names):
        store = os.path.join(rig.dir, "keys")
        snap = os.path.join(rig.dir, "snap")
        clean = os.path.join(rig.dir, "clean")
        total = 0
        for now in times:
            # the state before this run: store and DNS
            shutil.rmtree(snap, ignore_errors=True)
            if os.path.exists(store):
                shutil.copytree(store, snap, symlinks=True)
            dns_before = {n: self.primary.txt("%s._domainkey.%s" % (n, ZONE))
                          for n in names}
            rc, out, err = rig.rotate(now)
            self.assertEqual(rc, 0, err)
            n = len(step_lines(out))
            want, want_dns = rig.normal(), rig.dns_normal(names)
            shutil.rmtree(clean, ignore_errors=True)
            shutil.copytree(store, clean, symlinks=True)
            for k in range(1, n + 1):
                with self.subTest(now=now, crash_at=k):
                    shutil.rmtree(store, ignore_errors=True)
                    if os.path.exists(snap):
                        shutil.copytree(snap, store, symlinks=True)
                    self.restore_dns(dns_before)
                    rc, out, err = rig.rotate(
                        now, env={"SIGNET_CRASH_AT": str(k)})
                    self.assertLess(rc, 0, "aborted: " + out + err)
                    self.assertEqual(len(step_lines(out)), k, out)
                    rc, out, err = rig.rotate(now)
                    self.assertEqual(rc, 0, err)
                    self.assertEqual(rig.normal(), want)
                    self.assertEqual(rig.dns_normal(names), want_dns)
                    total += 1
            # go on from the clean run's state
            shutil.rmtree(store, ignore_errors=True)
            shutil.copytree(clean, store, symlinks=True)
            self.restore_dns(dns_before)
            self.restore_dns_from(rig, names)
        self.assertGreater(total, 10)

    def restore_dns(self, values):
        cmds = []
        for n, vals in values.items():
            cmds.append("del %s._domainkey TXT" % n)
            for v in vals:
                cmds.append("add %s._domainkey 300 TXT %s" %
                            (n, knot.quote_txt(v)))
        self.primary.knsupdate(ZONE, cmds)

    def restore_dns_from(self, rig, names):
        """DNS as the clean journal says, name by name in key order."""
        vals = {}
        for k in rig.keys():
            if k["selector"] not in names:
                continue
            if k["state"] in ("PUBLISHED", "VISIBLE", "READY", "ACTIVE",
                              "DRAINING"):
                vals[k["selector"]] = [rig.record(k["id"])]
            elif k["state"] in ("REVOKED", "GONE") and \
                    k["selector"].startswith("gen-"):
                vals[k["selector"]] = [b"v=DKIM1; p="]
            elif k["state"] == "DESTROYED" and \
                    k["selector"].startswith("gen-"):
                vals[k["selector"]] = []
        self.restore_dns(vals)


if __name__ == "__main__":
    tap.main()
