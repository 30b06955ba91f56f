"""A signetd under test: a temporary directory with a key store, a
generated configuration and the daemon's log, started on a free loopback
port and stopped by its own PID (also when a test fails: use it as a
context manager or call stop() from addCleanup).

The key store is written here in the on-disk format of keys/store.h
(keys/<id>.pem, 0600, and the state.yaml journal), with keys made by the
`cryptography` module, so these tests do not depend on signetctl.

    with Signetd(upstream="file") as d:
        ...talk to d.port...
        msgs = d.outbox()
        verifiers.dkimpy(msgs[0], d.dns)
"""
import base64
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from peers import stop_pid, wait_port
from rawsmtp import RawSMTP
from signet_env import binary, free_port

ASAN = os.environ.get("SIGNET_TEST_ASAN") == "1"


def spawn_signetd(config, log, cwd, asan=ASAN):
    """signetd -c config -f in cwd, its output to the open file log;
    under ASan, leaks are reported but do not abort."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    return subprocess.Popen(
        [binary("signetd", asan), "-c", config, "-f"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=cwd, env=env)


def stop_signetd(proc, timeout):
    """SIGTERM (drain) and wait, killing it after timeout seconds; the
    exit status."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop_pid(proc.pid)
        return proc.wait()


def sanitizer_excerpt(log):
    """The ASan/UBSan/LSan report in log (bytes) with some context,
    as text, or None."""
    for mark in (b"Sanitizer", b"runtime error:"):
        i = log.find(mark)
        if i != -1:
            return log[max(0, i - 200):i + 3000].decode("utf-8", "replace")
    return None


def make_key(bits=2048):
    """(PKCS#8 PEM, key id, DNS TXT value) for a fresh RSA key."""
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = k.private_bytes(serialization.Encoding.PEM,
                          serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    der = k.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = hashlib.sha256(der).hexdigest()[:16]
    return pem, kid, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def write_domain(keystore, domain, keys, generation=1, bits=2048):
    """keys: {selector: (pem, id, txt)}, RSA of bits; all ACTIVE."""
    ddir = os.path.join(keystore, domain)
    kdir = os.path.join(ddir, "keys")
    os.makedirs(kdir, mode=0o700, exist_ok=True)
    os.chmod(ddir, 0o700)
    os.chmod(kdir, 0o700)
    stamp = "2025-01-02T03:04:05Z"
    lines = ["version: 1", "domain: %s" % domain,
             "generation: %d" % generation, "last_write: %s" % stamp,
             "selectors:"]
    for sel, (_, kid, _) in sorted(keys.items()):
        lines.append("  %s: %s" % (sel, kid))
    lines.append("keys:")
    for sel, (pem, kid, _) in sorted(keys.items()):
        path = os.path.join(kdir, kid + ".pem")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
        lines += ["  - id: %s" % kid, "    algorithm: rsa",
                  "    bits: %d" % bits, "    selector: %s" % sel,
                  "    state: ACTIVE", "    entered:",
                  "      GENERATED: %s" % stamp, "      ACTIVE: %s" % stamp,
                  "    attrs: {}"]
    lines.append("attrs: {}")
    tmp = os.path.join(ddir, ".state.yaml.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(tmp, os.path.join(ddir, "state.yaml"))


# Test limits: small enough that timeouts and caps fire within seconds.
DEFAULT_LIMITS = {
    "max_message_size": "64K",
    "header_size_max": "32K",
    "header_field_max": "16K",
    "idle_timeout": "10s",
    "data_timeout": "10s",
    "min_data_rate": "500",
    "soft_error_limit": "10",
    "hard_error_limit": "20",
    "error_delay": "200ms",
    "drain_timeout": "5s",
}


class Signetd:
    """upstream: "file" (file sink in the temp dir) or a port number.
    limits / upstream_timeouts: overrides of the config's limits: and
    upstream.timeouts: keys.  tenant_extra: extra YAML lines for the
    tenant "local" (e.g. ["unsigned: allow"])."""

    def __init__(self, upstream="file", limits=None, upstream_timeouts=None,
                 tenant_extra=(), domains_keys=("s1", "s2"), workers=2,
                 asan=ASAN):
        self.dir = tempfile.mkdtemp(prefix="signet-smtp-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.keystore = os.path.join(self.dir, "keys")
        self.spool = os.path.join(self.dir, "spool")
        self.outdir = os.path.join(self.dir, "outbox")
        for d in (self.keystore, self.spool, self.outdir):
            os.makedirs(d, mode=0o700)
        self.dns = {}
        self.keys = {}
        for sel in domains_keys:
            self.keys[sel] = make_key()
            self.dns["%s._domainkey.example.com" % sel] = self.keys[sel][2]
        write_domain(self.keystore, "example.com", self.keys)
        self.upstream = upstream
        self.limits = dict(DEFAULT_LIMITS)
        self.limits.update(limits or {})
        self.upstream_timeouts = upstream_timeouts or {}
        self.tenant_extra = list(tenant_extra)
        self.workers = workers
        self.asan = asan
        self.config = os.path.join(self.dir, "signet.yaml")
        self.logpath = os.path.join(self.dir, "signetd.log")
        self.proc = None
        self.write_config()

    def config_text(self):
        up = ("file:" + self.outdir) if self.upstream == "file" else \
            "127.0.0.1:%d" % self.upstream
        lines = ["listen:", "  - address: 127.0.0.1:%d" % self.port,
                 "upstream:", "  address: %s" % up, "  starttls: off"]
        if self.upstream_timeouts:
            lines.append("  timeouts:")
            for k, v in self.upstream_timeouts.items():
                lines.append("    %s: %s" % (k, v))
        lines += ["keystore: %s" % self.keystore,
                  "spool: %s" % self.spool,
                  "domains:",
                  "  example.com: { selectors: [s1, s2] }",
                  "  other.test: { selectors: [s1, s2] }",
                  "tenants:",
                  "  - name: local",
                  "    networks: [127.0.0.1/32]",
                  "    domains: [example.com]"]
        lines += ["    " + l for l in self.tenant_extra]
        lines += ["  - name: other",
                  "    networks: [127.0.0.3/32]",
                  "    domains: [other.test]",
                  "limits:"]
        lines += ["  %s: %s" % kv for kv in sorted(self.limits.items())]
        lines += ["workers: %d" % self.workers,
                  "log: { level: debug, stderr: true }"]
        return "\n".join(lines) + "\n"

    def write_config(self, text=None):
        with open(self.config, "w") as f:
            f.write(text if text is not None else self.config_text())

    def start(self):
        self.log = open(self.logpath, "ab")
        self.proc = spawn_signetd(self.config, self.log, self.dir, self.asan)
        try:
            wait_port(self.port, proc=self.proc)
        except Exception:
            self.stop()
            self.proc = None
            raise
        return self

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10.0):
        """SIGTERM (drain) and wait; returns the exit status."""
        rc = None
        if self.proc is not None:
            rc = stop_signetd(self.proc, timeout)
            self.proc = None
            self.log.close()
        return rc

    def sanitizer_report(self):
        """ASan/UBSan/LSan output in the log, or None."""
        log = self.read_log() if os.path.exists(self.logpath) else b""
        return sanitizer_excerpt(log)

    def cleanup(self, check=True):
        """Stop and remove everything.  With check, a sanitizer report or
        an exit status other than 0 after SIGTERM is an error."""
        started = self.proc is not None
        rc = self.stop()
        report = self.sanitizer_report()
        shutil.rmtree(self.dir, ignore_errors=True)
        if check and report:
            raise AssertionError("sanitizer report:\n" + report)
        if check and started and rc not in (0, None):
            raise AssertionError("signetd exited with status %s" % rc)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def read_log(self):
        with open(self.logpath, "rb") as f:
            return f.read()

    def outbox(self):
        """Messages in the file sink, oldest first (bytes).  Names start
        with the second only, so the order comes from the write time."""
        paths = [os.path.join(self.outdir, n) for n in os.listdir(self.outdir)
                 if n.endswith(".eml")]
        paths.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))
        out = []
        for p in paths:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait_log(self, needle, timeout=10.0, count=1):
        """True once the log holds needle count times."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.read_log().count(needle) >= count:
                return True
            time.sleep(0.05)
        return False


def message(frm="alice@example.com", to="bob@dest.test", subject="hello",
            body=b"Hello, world.\r\n", extra=b""):
    """A small well-formed message (CRLF)."""
    head = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n" % (frm, to, subject)).encode()
    return head + extra + b"\r\n" + body


class SessionTest(unittest.TestCase):
    """One signetd per class, started by the first test that needs it
    (a failure to start then fails that test, not the whole file)."""
    limits = None
    tenant_extra = ()

    @classmethod
    def new_daemon(cls):
        """The class's signetd, not yet started (subclasses override)."""
        return Signetd(limits=cls.limits, tenant_extra=cls.tenant_extra)

    @property
    def d(self):
        cls = type(self)
        if cls.__dict__.get("_daemon") is None:
            d = cls.new_daemon()
            try:
                d.start()
            except Exception:
                d.cleanup(check=False)
                raise
            cls._daemon = d
        return cls._daemon

    def tearDown(self):
        d = type(self).__dict__.get("_daemon")
        report = d.sanitizer_report() if d is not None else None
        if report:
            self.fail("sanitizer report:\n" + report)

    @classmethod
    def tearDownClass(cls):
        # Failures here would not reach TAP; tearDown checked each test.
        if cls.__dict__.get("_daemon") is not None:
            cls._daemon.cleanup(check=False)
            cls._daemon = None

    def client(self, **kw):
        c = RawSMTP(self.d.port, **kw)
        self.addCleanup(c.close)
        r = c.read_reply()
        self.assertEqual(r.code, 220)
        self.assertTrue(r.wellformed, r.raw)
        return c

    def assertReply(self, reply, code, enhanced=None, text=None):
        self.assertTrue(reply.wellformed, reply.raw)
        self.assertEqual(reply.code, code, reply.raw)
        if enhanced is not None:
            self.assertEqual(reply.enhanced, enhanced, reply.raw)
        if text is not None:
            self.assertIn(text, reply.text, reply.raw)
