"""keys/publish and keys/dnscheck against a real Knot DNS on loopback
(rotation.md §d and §e, hostile-inputs.md KY-06, KY-07, KY-08).

The C side is driven through build/tests/test_keys_dns (publish | check),
once per build found (normal, and ASan+UBSan when it is built).  Knot
runs as a primary on 127.0.0.1:P and a secondary on 127.0.0.2:P that
transfers from it; the zone's NS set names both.
"""
import base64
import math
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import knot
import tap
from rotrig import knot_pair, pair_zone
from signet_env import ASAN_BUILD, BUILD, ROOT, free_port

ZONE = "example.test"
ZF_ZONE = "zf.test"
ZF_TEMPLATE = """$ORIGIN zf.test.
$TTL 300
@ SOA ns1 hostmaster @SERIAL@ 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.1
"""


def drivers():
    out = []
    for label, base in (("normal", BUILD), ("asan", ASAN_BUILD)):
        path = os.path.join(base, "tests", "test_keys_dns")
        if os.access(path, os.X_OK):
            out.append((label, path))
    return out


def signetctls():
    out = []
    for label, base in (("normal", BUILD), ("asan", ASAN_BUILD)):
        path = os.path.join(base, "bin", "signetctl")
        if os.access(path, os.X_OK):
            out.append((label, path))
    return out


CTL_CONFIG = """listen:
  - address: 127.0.0.1:2525
upstream:
  address: file:%(dir)s/out
keystore: %(dir)s/keys
spool: %(dir)s/spool
domains:
  example.test: { selectors: [s1, s2] }
tenants:
  - name: t
    networks: [127.0.0.0/8]
    domains: [example.test]
rotation:
  ttl: 300s
  dns:
    backend: none
    zone: example.test
    authoritative: [%(primary)s, %(secondary)s]
"""


def rsa_record(bits):
    """v=DKIM1; k=rsa; p=<base64 DER SubjectPublicKeyInfo>, via openssl."""
    key = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                          "-pkeyopt", "rsa_keygen_bits:%d" % bits],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"],
                         input=key, stdout=subprocess.PIPE, check=True).stdout
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


class KnotPublish(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.drivers = drivers()
        cls.primary = cls.secondary = None
        if not cls.drivers:
            return
        cls.tmp = tempfile.mkdtemp(prefix="signet-dns-test-")
        os.chmod(cls.tmp, 0o700)
        cls.primary, cls.secondary = knot_pair(
            {ZONE: pair_zone(), ZF_ZONE: ZF_TEMPLATE.replace("@SERIAL@", "1")},
            zonefile_zones=[ZF_ZONE])

    @classmethod
    def tearDownClass(cls):
        for k in (cls.secondary, cls.primary):
            if k is not None:
                k.cleanup()
        if cls.drivers:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        if not self.drivers:
            self.skipTest("build/tests/test_keys_dns is not built")

    # -- helpers -------------------------------------------------------

    def run_driver(self, path, *args, env=None):
        r = subprocess.run([path] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=120)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def publish(self, path, name, value=None, prev=None, server=None,
                secret_file=None, key_name="signet", extra=(), env=None):
        args = ["publish", "--backend", "rfc2136", "--zone", ZONE,
                "--server", server or self.primary.server,
                "--tsig-name", key_name,
                "--tsig-file", secret_file or self.primary.secret_file,
                "--name", name, "--ttl", "300"]
        args += self.value_args(value, "--value-file", "--absent")
        if prev == "absent":
            args.append("--prev-absent")
        elif prev is not None:
            args += ["--prev-file", self.write_value(prev)]
        return self.run_driver(path, *(args + list(extra)), env=env)

    def check(self, path, name, value=None, servers=None, extra=()):
        args = ["check", "--zone", ZONE, "--name", name, "--timeout-ms",
                "2000"]
        if servers is None:
            args += ["--seed", self.primary.server, "--ns-port",
                     str(self.primary.port)]
        else:
            for s in servers:
                args += ["--server", s]
        args += self.value_args(value, "--value-file", "--absent")
        return self.run_driver(path, *(args + list(extra)))

    def value_args(self, value, file_opt, absent_opt):
        if value is None:
            return [absent_opt]
        return [file_opt, self.write_value(value)]

    def write_value(self, value):
        if isinstance(value, str):
            value = value.encode()
        fd, path = tempfile.mkstemp(dir=self.tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(value)
        return path

    def name(self, label, sel):
        return "%s-%s._domainkey.%s" % (sel, label, ZONE)

    def wait_secondary(self):
        self.assertTrue(self.secondary.wait_serial(
            ZONE, self.primary.serial(ZONE)), "secondary caught up")

    # -- publish and see -----------------------------------------------

    def test_publish_then_visible_everywhere(self):
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = self.name(label, "pub")
                value = b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
                rc, out, err = self.publish(drv, name, value, prev="absent")
                self.assertEqual(rc, 0, out + err)
                self.assertTrue(out.startswith("done drift=0"), out)
                self.assertEqual(self.primary.txt(name), [value])
                self.assertIn(value.decode(), self.primary.kdig_txt(name))
                self.wait_secondary()
                rc, out, err = self.check(drv, name, value, extra=(
                    "--min-serial", str(self.primary.serial(ZONE))))
                self.assertEqual(rc, 0, out + err)
                self.assertEqual(out.count("\tmatch\t"), 2, out)
                self.assertTrue(out.rstrip().endswith("\nvisible"), out)

    def test_hmac_sha512_key(self):
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = self.name(label, "sha512")
                rc, out, err = self.publish(
                    drv, name, "v=DKIM1; p=512", key_name=knot.KEY512_NAME,
                    secret_file=self.primary.secret512_file,
                    extra=("--tsig-alg", "hmac-sha512"))
                self.assertEqual(rc, 0, out + err)
                self.assertEqual(self.primary.txt(name), [b"v=DKIM1; p=512"])

    def test_rsa_records_split_and_round_trip(self):
        for bits in (2048, 4096):
            value = rsa_record(bits)
            for label, drv in self.drivers:
                with self.subTest(bits=bits, build=label):
                    name = self.name(label, "rsa%d" % bits)
                    rc, out, err = self.publish(drv, name, value)
                    self.assertEqual(rc, 0, out + err)
                    strings = self.primary.txt_strings(name)
                    self.assertEqual(len(strings), 1, "one record")
                    self.assertEqual(len(strings[0]),
                                     math.ceil(len(value) / 255))
                    self.assertTrue(all(len(s) <= 255 for s in strings[0]))
                    self.assertTrue(all(len(s) == 255
                                        for s in strings[0][:-1]))
                    self.assertEqual(b"".join(strings[0]), value)
                    self.wait_secondary()
                    rc, out, err = self.check(drv, name, value)
                    self.assertEqual(rc, 0, out + err)

    def test_withdraw(self):
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = self.name(label, "wd")
                self.assertEqual(self.publish(drv, name, "v=DKIM1; p=wd")[0], 0)
                rc, out, err = self.publish(drv, name, None,
                                            prev="v=DKIM1; p=wd")
                self.assertEqual(rc, 0, out + err)
                self.assertEqual(self.primary.txt(name), [])
                self.wait_secondary()
                rc, out, err = self.check(drv, name, None)
                self.assertEqual(rc, 0, out + err)

    # -- failures leave the zone alone ---------------------------------

    def assert_untouched(self, name, serial):
        self.assertEqual(self.primary.serial(ZONE), serial, "serial kept")
        self.assertEqual(self.primary.txt(name), [], "nothing published")

    def test_server_down_is_retry(self):
        closed = "127.0.0.1:%d" % free_port()
        for label, drv in self.drivers:
            with self.subTest(build=label):
                rc, out, err = self.publish(drv, self.name(label, "down"),
                                            "v=DKIM1; p=x", server=closed,
                                            extra=("--timeout-ms", "500"))
                self.assertEqual(rc, 75, out + err)
                self.assertTrue(out.startswith("retry"), out)

    def test_stopped_knot_is_retry(self):
        other = knot.Knot(zones={ZONE: knot.zone_text(ZONE)})
        try:
            other.start()
            other.stop()
            for label, drv in self.drivers:
                with self.subTest(build=label):
                    rc, out, err = self.publish(
                        drv, self.name(label, "stopped"), "v=DKIM1; p=x",
                        server=other.server, secret_file=other.secret_file,
                        extra=("--timeout-ms", "500"))
                    self.assertEqual(rc, 75, out + err)
        finally:
            other.cleanup()

    def test_wrong_tsig_is_permanent(self):
        wrong = self.write_value(base64.b64encode(os.urandom(32)))
        os.chmod(wrong, 0o600)
        cases = (("bad secret", "signet", wrong, ("BADSIG", "NOTAUTH")),
                 ("unknown key", "nosuchkey", self.primary.secret_file,
                  ("BADKEY", "NOTAUTH")))
        for label, drv in self.drivers:
            for what, key, secret, words in cases:
                with self.subTest(build=label, case=what):
                    name = self.name(label, "tsig")
                    serial = self.primary.serial(ZONE)
                    rc, out, err = self.publish(drv, name, "v=DKIM1; p=x",
                                                secret_file=secret,
                                                key_name=key)
                    self.assertEqual(rc, 1, out + err)
                    self.assertTrue(out.startswith("permanent"), out)
                    self.assertTrue(any(w in out for w in words), out)
                    self.assert_untouched(name, serial)

    def test_name_outside_acl_is_refused(self):
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = "www-%s.%s" % (label, ZONE)
                serial = self.primary.serial(ZONE)
                rc, out, err = self.publish(drv, name, "v=DKIM1; p=x")
                # Knot denies a signed update outside its ACL with
                # NOTAUTH/BADKEY; BIND answers REFUSED.  Either is final.
                self.assertEqual(rc, 1, out + err)
                self.assertTrue(out.startswith("permanent"), out)
                self.assertTrue(any(w in out for w in
                                    ("REFUSED", "BADKEY", "NOTAUTH")), out)
                self.assert_untouched(name, serial)

    def test_hook_exit_75_is_retry(self):
        hook = os.path.join(self.tmp, "hook75")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\necho 'provider says later' >&2\n"
                    "exit 75\n")
        os.chmod(hook, 0o755)
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = self.name(label, "hook75")
                serial = self.primary.serial(ZONE)
                rc, out, err = self.run_driver(
                    drv, "publish", "--backend", "exec", "--zone", ZONE,
                    "--hook", hook, "--name", name, "--value", "v=DKIM1; p=x")
                self.assertEqual(rc, 75, out + err)
                self.assertIn("provider says later", out)
                self.assert_untouched(name, serial)

    # -- compare-and-swap ----------------------------------------------

    def test_replayed_update_reconciles(self):
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = self.name(label, "replay")
                rc, out, _ = self.publish(drv, name, "v=DKIM1; p=r",
                                          prev="absent")
                self.assertEqual(rc, 0, out)
                serial = self.primary.serial(ZONE)
                rc, out, err = self.publish(drv, name, "v=DKIM1; p=r",
                                            prev="absent")
                self.assertEqual(rc, 0, out + err)
                self.assertIn("YXRRSET", out)
                self.assertIn("already in place", out)
                self.assertEqual(self.primary.serial(ZONE), serial,
                                 "the replay changed nothing")

    def test_drift_is_repaired(self):
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = self.name(label, "drift")
                self.assertEqual(self.publish(drv, name, "v=DKIM1; p=a")[0], 0)
                self.primary.knsupdate(ZONE, [
                    "update delete %s. TXT" % name,
                    'update add %s. 300 TXT "v=DKIM1; p=someone-else"' % name])
                rc, out, err = self.publish(drv, name, "v=DKIM1; p=b",
                                            prev="v=DKIM1; p=a")
                self.assertEqual(rc, 0, out + err)
                self.assertTrue(out.startswith("done drift=1"), out)
                self.assertEqual(self.primary.txt(name), [b"v=DKIM1; p=b"])

    # -- what is not visible -------------------------------------------

    def test_two_records_not_visible(self):
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = self.name(label, "two")
                self.assertEqual(self.publish(drv, name, "v=DKIM1; p=one")[0], 0)
                self.primary.knsupdate(ZONE, [
                    'update add %s. 300 TXT "v=DKIM1; p=two"' % name])
                rc, out, err = self.check(drv, name, "v=DKIM1; p=one",
                                          servers=[self.primary.server])
                self.assertEqual(rc, 1, out + err)
                self.assertIn("2 TXT records", out)
                self.assertTrue(out.rstrip().endswith("not visible"), out)

    def test_truncated_record_mismatch(self):
        value = rsa_record(2048)
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = self.name(label, "trunc")
                self.assertEqual(self.publish(drv, name, value)[0], 0)
                self.primary.knsupdate(ZONE, [
                    "update delete %s. TXT" % name,
                    "update add %s. 300 TXT %s" % (name,
                                                   knot.quote_txt(value[:255]))])
                rc, out, err = self.check(drv, name, value,
                                          servers=[self.primary.server])
                self.assertEqual(rc, 1, out + err)
                self.assertIn("\tmismatch\t", out)
                self.assertIn("255 octets served", out)

    def test_large_answer_over_tcp(self):
        # About 16 KB of TXT: over the 4096-octet EDNS size, so the UDP
        # answer is truncated and the check must go on over TCP.
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = self.name(label, "big")
                cmds = ["update add %s. 300 TXT %s" % (
                    name, knot.quote_txt(("%02d" % i) * 380)) for i in range(20)]
                self.primary.knsupdate(ZONE, cmds)
                rc, out, err = self.check(drv, name, "v=DKIM1; p=x",
                                          servers=[self.primary.server])
                self.assertEqual(rc, 1, out + err)
                self.assertIn("20 TXT records", out)

    def test_blocked_transfer_not_visible_at_secondary(self):
        drv = self.drivers[0][1]
        name = self.name("xfr", "blocked")
        self.wait_secondary()
        self.primary.block_transfers()
        try:
            rc, out, err = self.publish(drv, name, "v=DKIM1; p=new")
            self.assertEqual(rc, 0, out + err)
            time.sleep(1)
            for label, d in self.drivers:
                with self.subTest(build=label):
                    rc, out, err = self.check(d, name, "v=DKIM1; p=new")
                    self.assertEqual(rc, 1, out + err)
                    rows = dict(l.split("\t")[0:2] for l in out.splitlines()
                                if "\t" in l)
                    self.assertEqual(rows.get("ns1.%s %s" % (
                        ZONE, self.primary.server)), "match", out)
                    self.assertEqual(rows.get("ns2.%s %s" % (
                        ZONE, self.secondary.server)), "missing", out)
        finally:
            self.primary.allow_transfers()
        self.secondary.knotc("zone-refresh", ZONE)
        self.wait_secondary()
        rc, out, err = self.check(drv, name, "v=DKIM1; p=new")
        self.assertEqual(rc, 0, out + err)

    # -- the other backends --------------------------------------------

    def test_zonefile_backend_with_knotc_reload(self):
        template = os.path.join(self.tmp, "zf.template")
        with open(template, "w") as f:
            f.write(ZF_TEMPLATE)
        zonefile = self.primary.zone_path(ZF_ZONE)
        reload_cmd = "%s -s %s -b zone-reload %s" % (
            knot.KNOTC, self.primary.socket, ZF_ZONE)
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = "s1-%s._domainkey.%s" % (label, ZF_ZONE)
                value = rsa_record(2048)
                base = ["publish", "--backend", "zonefile", "--zone", ZF_ZONE,
                        "--zonefile", zonefile, "--template", template,
                        "--reload", reload_cmd, "--name", name]
                rc, out, err = self.run_driver(
                    drv, *(base + ["--value-file", self.write_value(value)]))
                self.assertEqual(rc, 0, out + err)
                with open(zonefile + ".state") as f:
                    serial = int([l for l in f if l.startswith("serial ")][0]
                                 .split()[1])
                self.assertEqual(self.primary.serial(ZF_ZONE), serial)
                self.assertEqual(self.primary.txt(name), [value])
                rc, out, err = self.run_driver(
                    drv, "check", "--zone", ZF_ZONE, "--name", name,
                    "--server", self.primary.server, "--value-file",
                    self.write_value(value), "--min-serial", str(serial))
                self.assertEqual(rc, 0, out + err)
                rc, out, err = self.run_driver(drv, *(base + ["--absent"]))
                self.assertEqual(rc, 0, out + err)
                self.assertEqual(self.primary.txt(name), [])
                self.assertGreater(self.primary.serial(ZF_ZONE), serial)

    def test_zonefile_failed_reload_is_retry(self):
        drv = self.drivers[0][1]
        zonefile = os.path.join(self.tmp, "unserved.zone")
        rc, out, err = self.run_driver(
            drv, "publish", "--backend", "zonefile", "--zone", "unserved.test",
            "--zonefile", zonefile, "--reload",
            "%s -s %s -b zone-reload unserved.test" % (knot.KNOTC,
                                                      self.primary.socket),
            "--name", "s1._domainkey.unserved.test", "--value", "v=DKIM1; p=x")
        self.assertEqual(rc, 75, out + err)
        self.assertIn("reload command exited", out)

    def test_exec_backend_with_knsupdate_hook(self):
        hook = os.path.join(self.tmp, "knsupdate-hook")
        shutil.copy(os.path.join(ROOT, "contrib", "hooks", "knsupdate-hook"),
                    hook)
        os.chmod(hook, 0o755)
        conf = os.path.join(self.tmp, "hook.conf")
        with open(conf, "w") as f:
            f.write("SERVER=%s\nPORT=%d\nTSIG_KEY=hmac-sha256:%s\n"
                    "TSIG_SECRET_FILE=%s\n" % (
                        self.primary.address, self.primary.port, knot.KEY_NAME,
                        self.primary.secret_file))
        env = dict(os.environ, SIGNET_HOOK_CONF=conf)
        for label, drv in self.drivers:
            with self.subTest(build=label):
                name = self.name(label, "hook")
                value = rsa_record(2048)
                vfile = self.write_value(value)
                base = ["--backend", "exec", "--zone", ZONE, "--hook", hook,
                        "--name", name]
                rc, out, err = self.run_driver(
                    drv, "publish", *(base + ["--value-file", vfile]), env=env)
                self.assertEqual(rc, 0, out + err)
                self.assertEqual(self.primary.txt(name), [value])
                rc, out, err = self.run_driver(
                    drv, "publish", "--status", *(base + ["--value-file", vfile]),
                    env=env)
                self.assertEqual(rc, 0, out + err)
                self.wait_secondary()
                self.assertEqual(self.check(drv, name, value)[0], 0)
                rc, out, err = self.run_driver(
                    drv, "publish", *(base + ["--absent"]), env=env)
                self.assertEqual(rc, 0, out + err)
                self.assertEqual(self.primary.txt(name), [])
                rc, out, err = self.run_driver(
                    drv, "publish", "--status", *(base + ["--value-file", vfile]),
                    env=env)
                self.assertEqual(rc, 75, "status: the record is not there")

    # -- signetctl dns and check ---------------------------------------

    def test_signetctl_dns_and_check(self):
        ctls = signetctls()
        if not ctls:
            self.skipTest("signetctl is not built")
        name = "s1._domainkey.%s" % ZONE
        for (label, ctl), (_, drv) in zip(ctls, self.drivers):
            with self.subTest(build=label):
                d = tempfile.mkdtemp(dir=self.tmp)
                for sub in ("keys", "spool"):
                    os.makedirs(os.path.join(d, sub), mode=0o700)
                conf = os.path.join(d, "signet.yaml")
                with open(conf, "w") as f:
                    f.write(CTL_CONFIG % {"dir": d,
                                          "primary": self.primary.server,
                                          "secondary": self.secondary.server})
                keys = os.path.join(d, "keys")
                for sel, state in (("s1", "ACTIVE"), ("s2", "GENERATED")):
                    rc, out, err = self.run_driver(drv, "store-add", keys, ZONE,
                                                   sel, "2048", state)
                    self.assertEqual(rc, 0, err)
                r = subprocess.run([ctl, "-c", conf, "dns"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                lines = r.stdout.decode().splitlines()
                # s2's key is only GENERATED: not published yet.
                self.assertEqual(len(lines), 1, lines)
                prefix = "%s. 300 IN TXT " % name
                self.assertTrue(lines[0].startswith(prefix), lines[0])
                self.primary.knsupdate(ZONE, ["update delete %s. TXT" % name])
                r = subprocess.run([ctl, "-c", conf, "check"],
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=60)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn(b" missing", r.stdout)
                # Published as `signetctl dns` printed it: check agrees.
                self.primary.knsupdate(ZONE, ["update add " + lines[0]])
                strings = self.primary.txt_strings(name)[0]
                self.assertEqual([len(x) for x in strings[:-1]],
                                 [255] * (len(strings) - 1))
                self.wait_secondary()
                r = subprocess.run([ctl, "-c", conf, "check"],
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=60)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertEqual(r.stdout.count(b" match"), 2, r.stdout)
                # Drift behind signet's back: one octet less.
                value = b"".join(strings)
                self.primary.knsupdate(ZONE, [
                    "update delete %s. TXT" % name,
                    "update add %s. 300 TXT %s" % (name,
                                                   knot.quote_txt(value[:-1]))])
                self.wait_secondary()
                r = subprocess.run([ctl, "-c", conf, "check"],
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=60)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertEqual(r.stdout.count(b" mismatch"), 2, r.stdout)
                self.primary.knsupdate(ZONE, ["update delete %s. TXT" % name])


if __name__ == "__main__":
    tap.main()
