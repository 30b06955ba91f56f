"""Shared by the signetd rotation tests (test_e2e_signetd.py,
test_selfcheck.py): a temp dir with a configuration that both signetd and
`signetctl rotate` read, a key store driven on a simulated clock against
a real Knot, and a signetd started on it.

Timing (short, as in test_rotate_knot.py): TTL 300 s, N 60 s (the SOA of
knot.zone_text), skew 120 s, reload bound 60 s, max transit 1 d, period
2 d.  A key is READY max(TTL, N) + S after it is visible, ACTIVE R later.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

from signet_env import ROOT, binary, free_port

sys.path.insert(0, os.path.join(ROOT, "tests", "smtp"))
from peers import stop_pid, wait_port  # noqa: E402

ZONE = "example.test"
T0 = 1735689600          # 2025-01-01T00:00:00Z, in the past for dkimpy
TTL = 300
READY_WAIT = 300 + 120   # max(TTL, N) + S
R = 60
M = 86400
GUARD = M + R + 120      # M + R + S: I5
PERIOD = 2 * 86400
ASAN = os.environ.get("SIGNET_TEST_ASAN") == "1"

CONFIG = """listen:
  - address: 127.0.0.1:%(port)d
upstream:
  address: %(upstream)s
  starttls: off
keystore: %(dir)s/keys
spool: %(dir)s/spool
domains:
  example.test: { selectors: [s1, s2], algorithm: %(alg)s }
tenants:
  - name: t
    networks: [127.0.0.0/8]
    domains: [example.test]
metrics:
  listen: 127.0.0.1:%(mport)d
workers: 2
log: { level: info, stderr: true }
rotation:
  strategy: dual-selector
  period: 2d
  max_transit: 1d
  reload_bound: 60s
  skew: 120s
  ttl: 300s
  self_check: %(self_check)s
  dns:
    backend: rfc2136
    zone: example.test
    authoritative: [%(servers)s]
    server: %(primary)s
    tsig: { name: signet, algorithm: hmac-sha256, secret_file: %(secret)s }
"""


class RotRig:
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
        with open(self.conf, "w") as f:
            f.write(CONFIG % {
                "dir": self.dir, "port": self.port, "mport": self.mport,
                "upstream": "127.0.0.1:%d" % self.upstream
                if self.upstream else "file:%s/out" % self.dir,
                "alg": self.alg, "self_check": self.self_check,
                "servers": ", ".join(self.servers),
                "primary": self.primary.server,
                "secret": self.primary.secret_file})

    # -- signetctl -----------------------------------------------------

    def ctl(self, *args, env=None, stdin=None):
        e = dict(os.environ)
        e.pop("SIGNET_CRASH_AT", None)
        e.update(env or {})
        r = subprocess.run([binary("signetctl", ASAN), "-c", self.conf] +
                           list(args), input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=e, timeout=120)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def rotate(self, now):
        return self.ctl("rotate", "--now", str(now))

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
            time.sleep(0.2)
        raise AssertionError("DNS did not settle: " + out)

    def bring_up(self, t=T0):
        """Both slots ACTIVE; returns the simulated time reached."""
        self.settle(t)
        self.settle(t + READY_WAIT)
        self.settle(t + READY_WAIT + R)
        return t + READY_WAIT + R

    @property
    def journal_path(self):
        return os.path.join(self.dir, "keys", ZONE, "state.yaml")

    def journal(self):
        with open(self.journal_path) as f:
            return yaml.load(f, Loader=yaml.BaseLoader) or {}

    def signing(self):
        j = self.journal()
        states = {k["id"]: k["state"] for k in j.get("keys") or []}
        return sorted(s for s, i in (j.get("selectors") or {}).items()
                      if states[i] in ("READY", "ACTIVE"))

    def key_at(self, sel):
        return (self.journal().get("selectors") or {}).get(sel)

    # -- signetd -------------------------------------------------------

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [binary("signetd", ASAN), "-c", self.conf, "-f"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            cwd=self.dir, env=env)
        wait_port(self.port, proc=self.proc)
        # the metrics listener opens just after the SMTP ones
        wait_port(self.mport, proc=self.proc)
        return self

    def stop(self):
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    rc = self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    stop_pid(self.proc.pid)
                    rc = self.proc.wait()
            else:
                rc = self.proc.returncode
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
        log = self.read_log()
        for mark in ("Sanitizer", "runtime error:"):
            i = log.find(mark)
            if i != -1:
                return log[max(0, i - 200):i + 3000]
        return None

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
