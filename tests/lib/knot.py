"""Knot DNS on loopback for the DNS tests (DESIGN.md "DNS: Knot DNS on
127.0.0.1 with TSIG-scoped dynamic updates").

    primary = knot.Knot(zones={"example.test": knot.zone_text("example.test")})
    primary.start()
    ... primary.port, primary.secret_file, primary.txt(name) ...
    primary.stop()

Every instance lives in its own temp dir (config, rundir, storage, zone
files, control socket, log), listens on ADDRESS@port (a free port), and is
stopped by the PID it was started with.  The TSIG keys "signet"
(hmac-sha256) and "signet512" (hmac-sha512), random, may update TXT records at or below _domainkey of
each zone and nothing else (Knot 3.2 ACL: update-type, update-owner: name,
update-owner-match: sub-or-equal, update-owner-name: [_domainkey]).

A secondary is a Knot with primary=<Knot>: it transfers the zones from
the primary, which notifies it; primary.block_transfers() withdraws the
transfer ACL (and the NOTIFY) so the secondary keeps what it has.
"""
import base64
import os
import shutil
import subprocess
import tempfile
import time

import dns.flags
import dns.message
import dns.query
import dns.rdatatype

KNOTD = "/usr/sbin/knotd"
KNOTC = "/usr/sbin/knotc"
KNSUPDATE = "/usr/bin/knsupdate"
KDIG = "/usr/bin/kdig"
KEY_NAME = "signet"
KEY512_NAME = "signet512"


def zone_text(zone, serial=1, ns=(("ns1", "127.0.0.1"),), extra=""):
    """A small zone: SOA, the NS set with in-zone addresses, extra lines."""
    lines = ["$ORIGIN %s." % zone, "$TTL 300",
             "@ SOA %s hostmaster %d 3600 600 86400 60" % (ns[0][0], serial)]
    for name, addr in ns:
        lines.append("@ NS %s" % name)
        lines.append("%s A %s" % (name, addr))
    lines.append(extra)
    return "\n".join(lines) + "\n"


class Knot:
    def __init__(self, zones=None, address="127.0.0.1", port=None,
                 primary=None, secret=None, zonefile_zones=(),
                 update_acl=True):
        from signet_env import free_port
        self.dir = tempfile.mkdtemp(prefix="signet-knot-")
        os.chmod(self.dir, 0o755)
        self.address = address
        self.port = port or free_port()
        self.primary = primary
        self.secondaries = []
        self.zones = dict(zones or {})
        self.zonefile_zones = set(zonefile_zones)
        self.update_acl = update_acl
        self.transfers = True
        self.proc = None
        self.secret = secret or base64.b64encode(os.urandom(32)).decode()
        self.secret512 = base64.b64encode(os.urandom(64)).decode()
        self.conf = os.path.join(self.dir, "knot.conf")
        self.socket = os.path.join(self.dir, "knot.sock")
        self.zonedir = os.path.join(self.dir, "zones")
        self.log = os.path.join(self.dir, "knot.log")
        self.secret_file = os.path.join(self.dir, "tsig.key")
        self.secret512_file = os.path.join(self.dir, "tsig512.key")
        os.makedirs(self.zonedir)
        os.makedirs(os.path.join(self.dir, "run"))
        os.makedirs(os.path.join(self.dir, "storage"))
        with open(self.secret_file, "w") as f:
            f.write(self.secret + "\n")
        os.chmod(self.secret_file, 0o600)
        # The same key in Knot's own key-file syntax, for hmac-sha512.
        with open(self.secret512_file, "w") as f:
            f.write("key:\n  - id: %s\n    algorithm: hmac-sha512\n"
                    "    secret: %s\n" % (KEY512_NAME, self.secret512))
        os.chmod(self.secret512_file, 0o600)
        if primary is not None:
            primary.secondaries.append(self)
            self.zones = {z: None for z in primary.zones}
            self.secret = primary.secret
        for zone, text in self.zones.items():
            if text is not None:
                self.write_zone(zone, text)

    # -- configuration -------------------------------------------------

    def zone_path(self, zone):
        return os.path.join(self.zonedir, "%s.zone" % zone)

    def write_zone(self, zone, text):
        with open(self.zone_path(zone), "w") as f:
            f.write(text)

    def _config(self):
        c = ["server:",
             '    rundir: "%s/run"' % self.dir,
             '    listen: "%s@%d"' % (self.address, self.port),
             "database:",
             '    storage: "%s/storage"' % self.dir,
             "control:",
             '    listen: "%s"' % self.socket,
             "log:",
             '  - target: "%s"' % self.log,
             "    any: info",
             "key:",
             "  - id: %s" % KEY_NAME,
             "    algorithm: hmac-sha256",
             "    secret: %s" % self.secret,
             "  - id: %s" % KEY512_NAME,
             "    algorithm: hmac-sha512",
             "    secret: %s" % self.secret512,
             "acl:",
             "  - id: signet_update",
             "    key: [%s, %s]" % (KEY_NAME, KEY512_NAME),
             "    action: update",
             "    update-type: [TXT]",
             "    update-owner: name",
             "    update-owner-match: sub-or-equal",
             "    update-owner-name: [_domainkey]",
             "  - id: transfer",
             "    address: 127.0.0.0/8",
             "    action: transfer",
             "  - id: notify",
             "    address: 127.0.0.0/8",
             "    action: notify"]
        remotes = []
        if self.primary is not None:
            remotes.append(("primary", self.primary))
        for i, s in enumerate(self.secondaries):
            remotes.append(("secondary%d" % i, s))
        if remotes:
            c.append("remote:")
            for rid, k in remotes:
                c.append("  - id: %s" % rid)
                c.append('    address: "%s@%d"' % (k.address, k.port))
        c += ["template:",
              "  - id: default",
              '    storage: "%s"' % self.zonedir,
              '    file: "%s.zone"',
              "    zonefile-sync: -1",
              "    journal-content: changes",
              "    semantic-checks: off",
              "zone:"]
        for zone in self.zones:
            c.append("  - domain: %s" % zone)
            acl = []
            if self.primary is not None:
                c.append("    master: primary")
                acl.append("notify")
            else:
                if self.update_acl and zone not in self.zonefile_zones:
                    acl.append("signet_update")
                if self.transfers:
                    acl.append("transfer")
                if self.secondaries and self.transfers:
                    c.append("    notify: [%s]" % ", ".join(
                        "secondary%d" % i for i in range(len(self.secondaries))))
                if zone in self.zonefile_zones:
                    c.append("    zonefile-load: whole")
                    c.append("    journal-content: none")
            if acl:
                c.append("    acl: [%s]" % ", ".join(acl))
        return "\n".join(c) + "\n"

    def _write_config(self):
        with open(self.conf, "w") as f:
            f.write(self._config())

    # -- process -------------------------------------------------------

    def start(self, timeout=20):
        self._write_config()
        self.logf = open(self.log + ".stderr", "ab")
        self.proc = subprocess.Popen([KNOTD, "-c", self.conf],
                                     stdout=self.logf, stderr=self.logf)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("knotd exited: %s" % self.read_log())
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("knotd did not come up: %s" % self.read_log())

    def _answers(self):
        for zone in self.zones:
            try:
                r = self.query(zone, "SOA", timeout=0.5)
            except Exception:
                return False
            if r.rcode() != 0 or not r.answer:
                return False
        return True

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def read_log(self):
        out = ""
        for p in (self.log, self.log + ".stderr"):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out += f.read()[-3000:]
        return out

    def knotc(self, *args):
        return subprocess.run([KNOTC, "-s", self.socket, "-b"] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=60)

    def reload_config(self):
        self._write_config()
        r = self.knotc("reload")
        if r.returncode != 0:
            raise RuntimeError("knotc reload: %s" % r.stdout.decode())

    def block_transfers(self):
        """No transfer ACL and no NOTIFY: secondaries keep their data."""
        self.transfers = False
        self.reload_config()

    def allow_transfers(self):
        self.transfers = True
        self.reload_config()

    # -- DNS -----------------------------------------------------------

    @property
    def server(self):
        return "%s:%d" % (self.address, self.port)

    def query(self, name, rdtype, timeout=3.0):
        q = dns.message.make_query(name, rdtype)
        q.flags &= ~dns.flags.RD
        return dns.query.tcp(q, self.address, port=self.port, timeout=timeout)

    def txt(self, name):
        """Every TXT record at name, each as its joined bytes (sorted)."""
        r = self.query(name, "TXT")
        out = []
        for rrset in r.answer:
            if rrset.rdtype != dns.rdatatype.TXT:
                continue
            for rd in rrset:
                out.append(b"".join(rd.strings))
        return sorted(out)

    def txt_strings(self, name):
        """The character-strings of each TXT record at name."""
        r = self.query(name, "TXT")
        return [list(rd.strings) for rrset in r.answer
                if rrset.rdtype == dns.rdatatype.TXT for rd in rrset]

    def serial(self, zone):
        r = self.query(zone, "SOA")
        return r.answer[0][0].serial

    def kdig_txt(self, name):
        """The TXT strings as kdig prints them (+short)."""
        r = subprocess.run([KDIG, "@%s" % self.address, "-p", str(self.port),
                            "+norec", "+short", "+tcp", name, "TXT"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        return r.stdout.decode()

    def knsupdate(self, zone, commands):
        """Change the zone behind signet's back with knsupdate (TSIG)."""
        script = ["server %s %d" % (self.address, self.port),
                  "key hmac-sha256:%s %s" % (KEY_NAME, self.secret),
                  "zone %s." % zone, "origin %s." % zone]
        script += list(commands) + ["send", "quit"]
        r = subprocess.run([KNSUPDATE], input="\n".join(script).encode() + b"\n",
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError("knsupdate: %s" % r.stdout.decode())
        return r

    def wait_serial(self, zone, at_least, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.serial(zone) >= at_least:
                    return True
            except Exception:
                pass
            time.sleep(0.2)
        return False


def quote_txt(value):
    """A TXT value for knsupdate/zone files: 255-octet quoted strings."""
    if isinstance(value, str):
        value = value.encode()
    parts = [value[i:i + 255] for i in range(0, len(value), 255)] or [b""]
    return " ".join('"%s"' % p.decode().replace("\\", "\\\\").replace('"', '\\"')
                    for p in parts)
