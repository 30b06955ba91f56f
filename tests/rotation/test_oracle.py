"""The rotation oracle (design/rotation.md §e "Oracle test"; issue 5):
a simulated year of `signetctl rotate --now` against a real Knot primary
and secondary, with randomized publish delays, publish failures and
crashes, and a message signed with the real signer every simulated minute.

The driver below runs the rotation timeline: each run of `signetctl
rotate` happens at a simulated time (when the previous run said the next
step is due, plus cron jitter), and sometimes
  - the primary is stopped, or the TSIG secret is wrong (publish fails),
  - the run is killed after its k-th journal commit (SIGNET_CRASH_AT),
  - zone transfers to the secondary are blocked for up to three hours
    (a slow publish: the new record reaches one server first).
After every run it records what each server answers for s1 and s2 (TXT
value and TTL, or nothing) and, when the journal changed, a copy of the
key store.  tests/unit/test_keys_oracle.c then replays the timeline: a
message per simulated minute signed with the store's signing set as
signetd loads it, each verified by our verifier at a random time up to
max_transit later through a resolver that caches by TTL and negative TTL.

About twenty sample messages are also signed during the run (signetctl
sign with the keys signing at that moment) and verified by dkimpy (and
OpenDKIM, which must agree) at their simulated verification time against
the records Knot serves then.

The same runs with generational names (<prefix>-<yyyymmdd>), whose old
keys go through DRAINING and an explicit revocation, over
SIGNET_ORACLE_GEN_DAYS (default 90).

SIGNET_ORACLE_DAYS (default 365) scales the simulated span down;
SIGNET_ORACLE_SEED fixes the randomness (default 20261123, 0 for a new
one; printed on every run);
SIGNET_ORACLE_THREADS sets the engine's threads (default 2);
SIGNET_ORACLE_KEEP=1 keeps the plan and store copies (path printed).
"""
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import dns.rcode
import dns.rdatatype

import tap
import verifiers
from rotrig import (Store, config_text, dkimpy_each, knot_pair, live_dns,
                    rfc2136, signetctl)
from signet_env import BUILD, binary, crlf

ZONE = "example.test"
# 2025-01-01T00:00:00Z: the simulated year and its transit window lie in
# the past, so dkimpy's "t= in the future" check does not fire.
T0 = 1735689600
DAY = 86400
DAYS = int(os.environ.get("SIGNET_ORACLE_DAYS", "365"))
# A fixed seed by default, as the fuzz stage does, so that make test is
# repeatable; SIGNET_ORACLE_SEED=0 draws a new one (printed) to explore.
SEED = int(os.environ.get("SIGNET_ORACLE_SEED", "20261123")) or \
    random.SystemRandom().randrange(1, 2 ** 31)
TTL = 3600
NEG = 600            # min(SOA MINIMUM, SOA TTL) of the zone below
M = 5 * DAY
R = 60
SKEW = 120
SAMPLES = 20
NAMES = ("s1", "s2")
# The generational strategy runs a shorter span by default.
GEN_DAYS = int(os.environ.get("SIGNET_ORACLE_GEN_DAYS", "90"))
ORACLE = os.path.join(BUILD, "tests", "test_keys_oracle")

def zone_text():
    return "\n".join([
        "$ORIGIN %s." % ZONE, "$TTL %d" % TTL,
        "@ SOA ns1 hostmaster 1 3600 600 86400 %d" % NEG,
        "@ NS ns1", "ns1 A 127.0.0.1", "@ NS ns2", "ns2 A 127.0.0.2", ""])


class Timeline(Store):
    """One simulated span: config, key store, Knot pair, recorded plan."""

    def __init__(self, primary, secondary, rng, strategy="dual-selector"):
        self.strategy = strategy
        # the names to watch: s1/s2, or every generated name
        self.names = set(NAMES) if strategy == "dual-selector" else set()
        self.dir = tempfile.mkdtemp(prefix="signet-oracle-")
        os.chmod(self.dir, 0o700)
        self.primary, self.secondary, self.rng = primary, secondary, rng
        self.conf = os.path.join(self.dir, "signet.yaml")
        self.bad_secret = os.path.join(self.dir, "bad.key")
        with open(self.bad_secret, "w") as f:
            f.write("c2lnbmV0IHdyb25nIHNlY3JldCBmb3IgdGVzdHMh\n")
        os.chmod(self.bad_secret, 0o600)
        self.write_config(primary.secret_file)
        self.plan = ["domain %s" % ZONE]
        self.last_dns = {}
        self.last_journal = None
        self.nsets = 0
        self.stats = {"runs": 0, "crashes": 0, "stopped": 0, "bad_tsig": 0,
                      "delays": 0, "failed_runs": 0}

    def write_config(self, secret):
        with open(self.conf, "w") as f:
            f.write(config_text(
                self.dir, [self.primary.server, self.secondary.server],
                rfc2136(self.primary.server, secret),
                strategy=self.strategy, period="30d", max_transit="5d",
                reload_bound="%ds" % R, skew="%ds" % SKEW, ttl="%ds" % TTL,
                selectors="[s1, s2]" if self.strategy == "dual-selector"
                else "[gen]"))

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args, env=None, stdin=None):
        r = signetctl(self.conf, args, env=env, stdin=stdin, asan=False)
        return r.returncode, r.stdout, r.stderr.decode()

    # -- the key store -------------------------------------------------

    def signing(self):
        """(selector, key file) of every READY or ACTIVE key."""
        if not os.path.exists(self.journal_path):
            return []
        j = self.journal()
        states = {k["id"]: k["state"] for k in j.get("keys") or []}
        return [(s, os.path.join(self.dir, "keys", ZONE, "keys",
                                 i + ".pem"))
                for s, i in sorted((j.get("selectors") or {}).items())
                if states.get(i) in ("READY", "ACTIVE")]

    def snapshot_store(self, t):
        if not os.path.exists(self.journal_path):
            return
        with open(self.journal_path, "rb") as f:
            data = f.read()
        if data == self.last_journal:
            return
        self.last_journal = data
        dst = os.path.join(self.dir, "sets", "%05d" % self.nsets)
        self.nsets += 1
        shutil.copytree(os.path.join(self.dir, "keys"), dst, symlinks=True)
        self.plan.append("set %d %s" % (t, dst))

    # -- DNS as the servers answer it ----------------------------------

    def answer(self, server, name):
        r = server.query("%s._domainkey.%s" % (name, ZONE), "TXT")
        recs = [(b"".join(rd.strings), rrset.ttl) for rrset in r.answer
                if rrset.rdtype == dns.rdatatype.TXT for rd in rrset]
        if r.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise AssertionError("%s: %s" % (server.server,
                                             dns.rcode.to_text(r.rcode())))
        if not recs:
            return ("-", NEG)
        if len(recs) > 1:
            return ("!", 0)
        return (recs[0][0].decode("ascii"), recs[0][1])

    def capture_dns(self, t, blocked):
        if not blocked:
            self.secondary.wait_serial(ZONE, self.primary.serial(ZONE))
        if os.path.exists(self.journal_path):
            for k in self.journal().get("keys") or []:
                self.names.add(k["selector"])
        for si, server in enumerate((self.primary, self.secondary)):
            for n in sorted(self.names):
                val, ttl = self.answer(server, n)
                key = (si, n)
                if self.last_dns.get(key) == (val, ttl):
                    continue
                self.last_dns[key] = (val, ttl)
                self.plan.append("dns %d %d %s._domainkey.%s %d %s" %
                                 (t, si, n, ZONE, ttl, val))

    # -- one cron run --------------------------------------------------

    def rotate(self, t, blocked):
        """One run at t with a random mishap; the next run's time."""
        rng = self.rng
        env = {}
        roll = rng.random()
        mishap = None
        if roll < 0.06:
            mishap = "crash"
            env["SIGNET_CRASH_AT"] = str(rng.randint(1, 3))
        elif roll < 0.10:
            mishap = "stopped"
            self.primary.stop()
        elif roll < 0.14:
            mishap = "bad_tsig"
            self.write_config(self.bad_secret)
        try:
            rc, out, err = self.ctl("rotate", "--now", str(t), env=env)
        finally:
            if mishap == "stopped":
                self.primary.start()
            elif mishap == "bad_tsig":
                self.write_config(self.primary.secret_file)
        out = out.decode()
        self.stats["runs"] += 1
        if mishap == "crash" and rc < 0:
            self.stats["crashes"] += 1
        elif mishap in ("stopped", "bad_tsig"):
            self.stats[mishap] += 1
        # After repeated publish failures every run alerts and exits 1
        # until a publish goes through, even one that meets no fault
        # itself (it may still be backing off): that is not a failure.
        alert_only = rc == 1 and err.strip() != "" and all(
            "ALERT" in line for line in err.strip().splitlines())
        if alert_only:
            self.stats["alerts"] = self.stats.get("alerts", 0) + 1
        if rc > 0:
            self.stats["failed_runs"] += 1
            if mishap not in ("stopped", "bad_tsig") and not alert_only:
                raise AssertionError("rotate at %d failed: %s%s" %
                                     (t, out, err))
        self.snapshot_store(t)
        self.capture_dns(t, blocked)
        m = re.search(r"next step at .*\((\d+)\)", out)
        if rc != 0 or "waiting for" in out or m is None:
            # cron comes back in 5 to 30 minutes
            return t + rng.randint(300, 1800)
        return max(int(m.group(1)), t + 1) + rng.randint(0, 600)


class Oracle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skip = None
        for p in (binary("signetctl"), ORACLE):
            if not os.access(p, os.X_OK):
                cls.skip = "%s is not built" % p
                return
        cls.primary, cls.secondary = knot_pair({ZONE: zone_text()})

    @classmethod
    def tearDownClass(cls):
        if cls.skip:
            return
        for k in (cls.secondary, cls.primary):
            k.cleanup()

    def setUp(self):
        if self.skip:
            self.skipTest(self.skip)

    def sign_sample(self, tl, t):
        keys = tl.signing()
        if not keys:
            return None
        args = ["sign", "--time", str(t), "--expiration", "0"]
        for sel, pem in keys:
            args += ["--key", "%s:%s:%s" % (ZONE, sel, pem)]
        msg = crlf("From: Sample <sample@%s>\nTo: someone@example.net\n"
                   "Subject: sample at %d\nMessage-ID: <%d.s@%s>\n\n"
                   "A sample of the oracle.\n" % (ZONE, t, t, ZONE))
        rc, out, err = tl.ctl(*args, stdin=msg)
        self.assertEqual(rc, 0, err)
        return out

    def test_simulated_year(self):
        self.run_oracle("dual-selector", DAYS)

    def test_simulated_generational(self):
        """Generational names: the DRAINING and revocation path (I2, I3)
        that dual selectors skip."""
        self.run_oracle("generational", GEN_DAYS)

    def run_oracle(self, strategy, days):
        rng = random.Random(SEED)
        print("# %s: seed %d, %d days" % (strategy, SEED, days))
        tl = Timeline(self.primary, self.secondary, rng, strategy)
        if os.environ.get("SIGNET_ORACLE_KEEP"):
            print("# kept: %s" % tl.dir)
        else:
            self.addCleanup(tl.cleanup)
        started = time.monotonic()
        end = T0 + days * DAY
        last = end + M
        # samples: (sign time, verification time), signed once a key signs
        samples = sorted((s, s + rng.randint(0, M)) for s in
                         (rng.randint(T0 + 2 * DAY, end) for _ in
                          range(SAMPLES)))
        pending = []          # (verify time, message, sign time)
        checked = []
        opendkim_checked = 0
        blocked_until = None
        t = T0
        while t <= last:
            if blocked_until is not None and t >= blocked_until:
                self.primary.allow_transfers()
                self.secondary.knotc("zone-refresh", ZONE)
                blocked_until = None
            if blocked_until is None and rng.random() < 0.10:
                self.primary.block_transfers()
                blocked_until = t + rng.randint(60, 3 * 3600)
                tl.stats["delays"] += 1
            nxt = tl.rotate(t, blocked_until is not None)
            if blocked_until is not None:
                nxt = min(nxt, blocked_until)
            nxt = max(nxt, t + 1)
            # the DNS and the store now hold for [t, nxt)
            while samples and samples[0][0] < nxt:
                ts, tv = samples.pop(0)
                msg = self.sign_sample(tl, max(ts, t))
                if msg is not None:
                    pending.append((max(tv, t), msg, ts))
            pending.sort(key=lambda p: p[0])
            while pending and pending[0][0] < nxt:
                tv, msg, ts = pending.pop(0)
                server = rng.choice((self.primary, self.secondary))
                res = dkimpy_each(msg, live_dns(server))
                checked.append((ts, tv, res))
                self.assertTrue(any(res), "sample signed at %d, verified "
                                "at %d by dkimpy via %s: %s" %
                                (ts, tv, server.server, res))
                # OpenDKIM on the same records agrees, signature by
                # signature (it tempfails a message whose key it cannot
                # fetch, so only when every name holds a record)
                recs = {}
                names = set(re.findall(rb"(?:^|;)\s*s=([A-Za-z0-9_.-]+)",
                                       msg, re.M))
                for n in names:
                    val, _ = tl.answer(server, n.decode())
                    if val not in ("-", "!"):
                        recs["%s._domainkey.%s" % (n.decode(), ZONE)] = val
                if len(recs) == len(names):
                    od = verifiers.opendkim(msg, recs)
                    self.assertEqual([r.passed for r in od], res,
                                     "OpenDKIM and dkimpy disagree: %s" %
                                     od)
                    opendkim_checked += 1
            t = nxt
        if blocked_until is not None:
            self.primary.allow_transfers()
        print("# timeline: %s, %d store versions, %d plan lines, %.0f s" %
              (tl.stats, tl.nsets, len(tl.plan),
               time.monotonic() - started))
        self.assertGreaterEqual(len(checked), SAMPLES // 2,
                                "samples cross-checked with dkimpy")
        self.assertGreater(opendkim_checked, 0)
        print("# %d samples verified by dkimpy, %d also by OpenDKIM" %
              (len(checked), opendkim_checked))
        # the rotation really happened: many keys over the span
        keys = set()
        for line in tl.plan:
            if line.startswith("dns ") and line.split()[-1] not in "-!":
                keys.add(line.split(" ", 5)[5])
        self.assertGreaterEqual(len(keys), max(3, days // 30),
                                "distinct key records published")
        plan = os.path.join(tl.dir, "plan")
        with open(plan, "w") as f:
            f.write("\n".join(tl.plan + [
                "param start %d" % T0, "param end %d" % end,
                "param step 60", "param transit %d" % M,
                "param reload %d" % R, "param neg %d" % NEG,
                "param seed %d" % SEED]) + "\n")
        env = dict(os.environ, SIGNET_ORACLE_PLAN=plan)
        started = time.monotonic()
        r = subprocess.run([ORACLE], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=1800)
        out = r.stdout.decode()
        print("# oracle engine: %.0f s" % (time.monotonic() - started))
        print("\n".join("# " + l.lstrip("# ") for l in out.splitlines()
                        if l.startswith("#")))
        self.assertEqual(r.returncode, 0, out)
        self.assertNotIn("not ok", out)
        m = re.search(r"messages=(\d+)", out)
        self.assertIsNotNone(m, out)
        self.assertGreaterEqual(int(m.group(1)), (days - 2) * 1440,
                                "a message for (nearly) every minute")


if __name__ == "__main__":
    tap.main()
