"""Shared by the rotation tests: one configuration template (config_text),
signetctl runs, the key store journal (Store), a Knot primary with its
secondary (knot_pair) and the TXT value of a key file (record).  RotRig,
for test_e2e_signetd.py and test_selfcheck.py, is a temp dir with a
configuration that both signetd and `signetctl rotate` read, a key store
driven on a simulated clock against a real Knot, and a signetd started
on it.

Timing (short, as in test_rotate_knot.py): TTL 300 s, N 60 s (the SOA of
knot.zone_text), skew 120 s, reload bound 60 s, max transit 1 d, period
2 d.  A key is READY max(TTL, N) + S after it is visible, ACTIVE R later.
"""
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import dkim
import dns.rdatatype
import yaml

import knot
from signet_env import ROOT, binary, free_port

sys.path.insert(0, os.path.join(ROOT, "tests", "smtp"))
from daemon import (sanitizer_excerpt, spawn_signetd,  # noqa: E402
                    stop_signetd)
from peers import wait_port  # noqa: E402

ZONE = "example.test"
T0 = 1735689600          # 2025-01-01T00:00:00Z, in the past for dkimpy
TTL = 300
READY_WAIT = 300 + 120   # max(TTL, N) + S
R = 60
M = 86400
GUARD = M + R + 120      # M + R + S: I5
PERIOD = 2 * 86400
ASAN = os.environ.get("SIGNET_TEST_ASAN") == "1"

# Every rotation test's configuration; the defaults are the short
# timing above.  port/upstream: where signetd would listen and relay (the
# file sink in the temp dir unless given); *_extra: lines added, indented
# for their block; backend: rfc2136() or exec_hook().
CONFIG = """listen:
  - address: 127.0.0.1:%(port)d
upstream:
  address: %(upstream)s
keystore: %(dir)s/keys
spool: %(dir)s/spool
domains:
  example.test:
    selectors: %(selectors)s
    algorithm: %(alg)s
%(domain_extra)s
tenants:
  - name: t
    networks: [127.0.0.0/8]
    domains: [example.test]
%(extra)s
rotation:
  strategy: %(strategy)s
  period: %(period)s
  max_transit: %(max_transit)s
  reload_bound: %(reload_bound)s
  skew: %(skew)s
  ttl: %(ttl)s
%(rotation_extra)s
  dns:
    zone: example.test
    authoritative: [%(servers)s]
%(backend)s
"""
CONFIG_DEFAULTS = dict(
    port=2525, upstream=None, selectors="[s1, s2]", alg="ed25519",
    domain_extra="", extra="", strategy="dual-selector", period="2d",
    max_transit="1d", reload_bound="60s", skew="120s", ttl="300s",
    rotation_extra="")


def rfc2136(server, secret_file, tsig_alg="hmac-sha256"):
    return ("    backend: rfc2136\n    server: %s\n    tsig: { name: signet, "
            "algorithm: %s, secret_file: %s }\n" %
            (server, tsig_alg, secret_file))


def exec_hook(hook):
    return "    backend: exec\n    exec: { hook: %s }\n" % hook


def config_text(dir, servers, backend, **kw):
    """CONFIG for a temp dir, its authoritative servers and DNS backend."""
    o = dict(CONFIG_DEFAULTS, **kw)
    o.update(dir=dir, servers=", ".join(servers), backend=backend)
    if o["upstream"] is None:
        o["upstream"] = "file:%s/out" % dir
    return CONFIG % o


def signetctl(conf, args, env=None, stdin=None, asan=ASAN):
    """signetctl -c conf args, without an inherited crash point."""
    e = dict(os.environ)
    e.pop("SIGNET_CRASH_AT", None)
    e.update(env or {})
    return subprocess.run([binary("signetctl", asan), "-c", conf] +
                          list(args), input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=e, timeout=120)


def record(pem_path):
    """The TXT value signet publishes for a private key file."""
    der = subprocess.run(["openssl", "pkey", "-in", pem_path, "-pubout",
                          "-outform", "DER"], stdout=subprocess.PIPE,
                         check=True).stdout
    if len(der) == 44:  # Ed25519 SubjectPublicKeyInfo
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def pair_zone():
    """ZONE with ns1 and ns2, the servers of knot_pair()."""
    return knot.zone_text(ZONE, ns=(("ns1", "127.0.0.1"),
                                     ("ns2", "127.0.0.2")))


def knot_pair(zones=None, **kw):
    """A started Knot primary on 127.0.0.1 and its secondary on
    127.0.0.2, same port; zones default to {ZONE: pair_zone()}."""
    port = free_port()
    if zones is None:
        zones = {ZONE: pair_zone()}
    primary = knot.Knot(zones=zones, port=port, **kw)
    secondary = knot.Knot(primary=primary, address="127.0.0.2", port=port)
    primary.start()
    secondary.start()
    return primary, secondary


def sig_count(msg):
    return len(re.findall(rb"^DKIM-Signature:", msg, re.M | re.I))


def dkimpy_each(msg, dnsfunc):
    """dkimpy's verdict on each signature."""
    d = dkim.DKIM(msg)
    out = []
    for i in range(sig_count(msg)):
        try:
            out.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
        except dkim.DKIMException:
            out.append(False)
    return out


def live_dns(server):
    """A dkimpy dnsfunc asking a Knot server (no recursion)."""
    def dnsfunc(name, timeout=5):
        r = server.query(name.decode().rstrip("."), "TXT")
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                return b"".join(rrset[0].strings)
        return None
    return dnsfunc


class Store:
    """The key store of a rig with dir and ctl(): its journal, the
    selectors signing, settling `rotate` at a simulated time."""

    def rotate(self, now, env=None):
        return self.ctl("rotate", "--now", str(now), env=env)

    def settle(self, now, tries=40):
        """Rotate at now until no step waits for DNS propagation."""
        out = ""
        for _ in range(tries):
            rc, o, e = self.rotate(now)
            if rc != 0:
                raise AssertionError("rotate failed: %s%s" % (o, e))
            out += o
            if "waiting for" not in o:
                return out
            time.sleep(0.3)
        raise AssertionError("DNS did not settle: " + out)

    @property
    def journal_path(self):
        return os.path.join(self.dir, "keys", ZONE, "state.yaml")

    def journal(self):
        # every scalar a string: a key id may be all digits
        with open(self.journal_path) as f:
            return yaml.load(f, Loader=yaml.BaseLoader) or {}

    def signing(self):
        """Selectors whose mapped key is READY or ACTIVE (signetd's set)."""
        j = self.journal()
        states = {k["id"]: k["state"] for k in j.get("keys") or []}
        return sorted(s for s, i in (j.get("selectors") or {}).items()
                      if states[i] in ("READY", "ACTIVE"))

    def key_at(self, sel):
        return (self.journal().get("selectors") or {}).get(sel)

    def key_path(self, key_id):
        return os.path.join(self.dir, "keys", ZONE, "keys", key_id + ".pem")

    def record(self, key_id):
        return record(self.key_path(key_id))


class RotRig(Store):
    def __init__(self, primary, servers=None, alg="ed25519",
                 self_check="0", upstream=None):
        """upstream: a port on 127.0.0.1 (e.g. a SINK), else the file
        sink in the temp dir (outbox())."""
        self.dir = tempfile.mkdtemp(prefix="signet-rote2e-")
        os.chmod(self.dir, 0o700)
        for d in ("out", "spool"):
            os.makedirs(os.path.join(self.dir, d), mode=0o700)
        self.primary = primary
        self.servers = servers or [primary.server]
        self.port = free_port()
        self.mport = free_port()
        self.alg = alg
        self.self_check = self_check
        self.upstream = upstream
        self.conf = os.path.join(self.dir, "signet.yaml")
        self.logpath = os.path.join(self.dir, "signetd.log")
        self.proc = None
        self.log = None
        self.write_config()

    def write_config(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)
        # starttls: off belongs to the upstream block.
        up = "127.0.0.1:%d" % self.upstream if self.upstream else \
            "file:%s/out" % self.dir
        with open(self.conf, "w") as f:
            f.write(config_text(
                self.dir, self.servers,
                rfc2136(self.primary.server, self.primary.secret_file),
                port=self.port, upstream=up + "\n  starttls: off",
                alg=self.alg, rotation_extra="  self_check: %s" %
                self.self_check,
                extra="metrics:\n  listen: 127.0.0.1:%d\nworkers: 2\n"
                "log: { level: info, stderr: true }" % self.mport))

    # -- signetctl -----------------------------------------------------

    def ctl(self, *args, env=None, stdin=None):
        r = signetctl(self.conf, args, env=env, stdin=stdin)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def bring_up(self, t=T0):
        """Both slots ACTIVE; returns the simulated time reached."""
        self.settle(t)
        self.settle(t + READY_WAIT)
        self.settle(t + READY_WAIT + R)
        return t + READY_WAIT + R

    # -- signetd -------------------------------------------------------

    def start(self):
        self.log = open(self.logpath, "ab")
        self.proc = spawn_signetd(self.conf, self.log, self.dir, ASAN)
        wait_port(self.port, proc=self.proc)
        # the metrics listener opens just after the SMTP ones
        wait_port(self.mport, proc=self.proc)
        return self

    def stop(self):
        rc = None
        if self.proc is not None:
            rc = stop_signetd(self.proc, 15)
            self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None
        return rc

    def read_log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def sanitizer_report(self):
        if not os.path.exists(self.logpath):
            return None
        with open(self.logpath, "rb") as f:
            return sanitizer_excerpt(f.read())

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" %
                                    self.mport, timeout=5) as r:
            return r.read().decode()

    def metric(self, name, **labels):
        """The value of one sample, or None when absent."""
        want = name
        if labels:
            want += "{" + ",".join('%s="%s"' % kv for kv in
                                   labels.items()) + "}"
        for line in self.metrics().splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return None

    def outbox(self):
        d = os.path.join(self.dir, "out")
        paths = [os.path.join(d, n) for n in os.listdir(d)
                 if n.endswith(".eml")]
        out = []
        for p in sorted(paths, key=lambda p: (os.stat(p).st_mtime_ns, p)):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RotRigCase(unittest.TestCase):
    """signetd and signetctl against a Knot primary (PAIR: and its
    secondary, both authoritative); each test's rigs are stopped, must
    have exited cleanly and without a sanitizer report."""
    PAIR = False

    @classmethod
    def setUpClass(cls):
        cls.skip = None
        for b in ("signetd", "signetctl"):
            if not os.access(binary(b, ASAN), os.X_OK):
                cls.skip = "%s is not built" % b
                return
        if cls.PAIR:
            cls.primary, cls.secondary = knot_pair()
            cls.servers = [cls.primary.server, cls.secondary.server]
        else:
            cls.primary = knot.Knot(zones={ZONE: knot.zone_text(ZONE)})
            cls.primary.start()
            cls.secondary = None
            cls.servers = None

    @classmethod
    def tearDownClass(cls):
        if cls.skip:
            return
        for k in (cls.secondary, cls.primary):
            if k is not None:
                k.cleanup()

    def setUp(self):
        if self.skip:
            self.skipTest(self.skip)
        self.primary.knsupdate(ZONE, ["del s1._domainkey TXT",
                                      "del s2._domainkey TXT"])

    def rig(self, **kw):
        rig = RotRig(self.primary, servers=self.servers, **kw)
        self.addCleanup(self.finish, rig)
        return rig

    def finish(self, rig):
        rc = rig.stop()
        report = rig.sanitizer_report()
        rig.cleanup()
        self.assertIsNone(report, report)
        self.assertIn(rc, (0, None))
