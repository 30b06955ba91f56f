"""ARC sealing inside signetd (issue 6), through a real daemon relaying to
the file sink, with its key records served by Knot on loopback.

* A sealed message validates as pass with dkimpy's arc_verify and
  Mail::DKIM's ARC verifier; tampering after sealing makes them and
  `signetctl verify --arc` say fail.
* A dkimpy chain (i=1) is validated by signetd: our set is i=2 cv=pass.
  A second pass through signetd extends our own chain to i=2 (i=3 over
  the dkimpy one).  A 4096-bit dkimpy seal needs a key record over 512
  octets: the lookup uses EDNS0.
* hostile-inputs AR-01: forged Authentication-Results claiming our
  authserv-id over a broken chain give cv=fail, and the forged claims
  are gone from the message and from our AAR; a trusted authserv-id's
  results are copied.
* AR-02: hostile chains get a clear reply and no crash (the ASan daemon
  too, when built).
* A key lookup that times out: 451 4.4.3 and nothing relayed, unless
  RFC 8617 decides without the key (a structurally broken chain is
  sealed cv=fail).  A chain whose newest seal says cv=fail is relayed
  DKIM-signed without a new set.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "smtp"))

import dkim  # noqa: E402

import knot  # noqa: E402
import msgset  # noqa: E402
import tap  # noqa: E402
import verifiers  # noqa: E402
from verifiers import dnsfunc, first_field  # noqa: E402
from daemon import Signetd, make_key  # noqa: E402
from rawsmtp import session  # noqa: E402
from signet_env import binary, free_port, signetctl  # noqa: E402

ARC_PL = os.path.join(HERE, "..", "lib", "mail_dkim_arc_verify.pl")
AUTHSERV = "mx.example.com"
TRUSTED = "trusted.example.net"
LIST = "list.example.org"


def norm(msg):
    """CRLF line ends whatever the sink wrote."""
    return msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def head(msg):
    return msg.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def zone_records(zone, dns):
    lines = []
    for name, value in sorted(dns.items()):
        if name.endswith("." + zone):
            lines.append("%s. 300 TXT %s" % (name, knot.quote_txt(value)))
    return "\n".join(lines)


class LateResolver:
    """A resolver in front of Knot that answers only the first try of
    each query, and late: after `delay` seconds, by which time signetd
    has asked again."""

    def __init__(self, upstream_port, delay):
        self.upstream = ("127.0.0.1", upstream_port)
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen = {}
        self.stopped = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def answer(self, query, client):
        time.sleep(self.delay)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
            up.settimeout(2)
            up.sendto(query, self.upstream)
            try:
                self.sock.sendto(up.recv(65535), client)
            except OSError:
                pass

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                query, client = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            question = query[12:]
            self.seen[question] = self.seen.get(question, 0) + 1
            if self.seen[question] == 1:
                threading.Thread(target=self.answer, args=(query, client),
                                 daemon=True).start()

    def stop(self):
        self.stopped = True
        self.thread.join()
        self.sock.close()


class ArcSignetd(Signetd):
    """example.com with arc enabled (selector arc1), looking keys up at
    the given resolver port."""

    def __init__(self, resolver_port, timeout="3s", **kw):
        self.resolver_port = resolver_port
        self.timeout = timeout
        self.metrics_port = free_port()
        super().__init__(domains_keys=("s1", "s2", "arc1"), **kw)

    def config_text(self):
        text = super().config_text()
        text = text.replace(
            "  example.com: { selectors: [s1, s2] }",
            "  example.com:\n"
            "    selectors: [s1, s2]\n"
            "    arc:\n"
            "      enabled: true\n"
            "      selector: arc1\n"
            "      authserv_id: %s\n"
            "      trusted_authserv_ids: [%s]" % (AUTHSERV, TRUSTED))
        assert "arc:" in text
        return text + ("resolver:\n  nameservers: [127.0.0.1:%d]\n"
                       "  timeout: %s\n"
                       "metrics: { listen: 127.0.0.1:%d }\n" % (
                           self.resolver_port, self.timeout,
                           self.metrics_port))

    def arc_counts(self):
        """{result: count} from signet_arc_total on /metrics."""
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        with urllib.request.urlopen(url, timeout=5) as r:
            page = r.read().decode()
        return {m.group(1): int(m.group(2)) for m in re.finditer(
            r'(?m)^signet_arc_total\{result="(\w+)"\} (\d+)$', page)}


class ArcDaemon(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pem = {}
        cls.extra_dns = {}
        for name, bits in (("dk", 2048), ("big", 4096)):
            pem, txt = verifiers.rsa_key(bits)
            cls.pem[name] = pem
            cls.extra_dns["%s._domainkey.%s" % (name, LIST)] = txt
        # The daemon's keys are made first so Knot can serve them.
        cls.d = ArcSignetd(resolver_port=0)
        cls.dns = dict(cls.d.dns)
        cls.dns.update(cls.extra_dns)
        cls.knot = knot.Knot(zones={
            "example.com": knot.zone_text(
                "example.com", extra=zone_records("example.com", cls.dns)),
            LIST: knot.zone_text(LIST, extra=zone_records(LIST, cls.dns) +
                                 "\ncn._domainkey 300 CNAME dk._domainkey"),
        })
        cls.knot.start()
        cls.d.resolver_port = cls.knot.port
        cls.d.write_config()
        try:
            cls.d.start()
        except Exception:
            cls.knot.stop()
            cls.d.cleanup(check=False)
            raise
        # What the CNAME leads to, for the verifiers' own tables.
        cls.dns["cn._domainkey." + LIST] = cls.dns["dk._domainkey." + LIST]
        cls.dnsfile = os.path.join(cls.d.dir, "dns.txt")
        verifiers.write_dns_file(cls.dns, cls.dnsfile)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup(check=False)
        cls.knot.stop()
        cls.knot.cleanup()

    def tearDown(self):
        report = self.d.sanitizer_report()
        if report:
            self.fail("sanitizer report:\n" + report)

    # -- tools -------------------------------------------------------

    def relay(self, msg, d=None, want=250):
        """Send msg through the daemon; the relayed copy (or None)."""
        d = d or self.d
        before = len(d.outbox())
        replies = session(d.port, "alice@example.com", ["bob@dest.test"],
                          msg)
        self.assertEqual(replies[-1].code, want, replies[-1].raw)
        out = d.outbox()
        if want != 250:
            self.assertEqual(len(out), before, "nothing relayed")
            return replies[-1]
        self.assertEqual(len(out), before + 1)
        return norm(out[-1])

    def dkimpy_seal(self, msg, sel="dk", results="arc=none", key=None):
        msg = re.sub(rb"(?m)^Authentication-Results: " +
                     re.escape(LIST.encode()) + rb";[^\r\n]*\r\n", b"", msg)
        msg = ("Authentication-Results: %s; %s\r\n" % (LIST, results)
               ).encode() + msg
        hdrs = dkim.arc_sign(msg, sel.encode(), LIST.encode(),
                             self.pem[key or sel], LIST.encode(),
                             include_headers=[b"from", b"to", b"subject"])
        self.assertTrue(hdrs, "dkimpy added no set")
        return b"".join(hdrs) + msg

    def dkimpy(self, msg):
        cv, _, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc(self.dns))
        return (cv or b"fail").decode(), reason

    def mail_dkim(self, msg):
        p = subprocess.run(["perl", ARC_PL, self.dnsfile], input=msg,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60, check=True)
        lines = [l.split("\t") for l in p.stdout.decode().splitlines()]
        return lines[0][1], p.stdout.decode()

    def ours(self, msg):
        p = signetctl("verify", "--arc", "--dns-file", self.dnsfile,
                      stdin=msg)
        return p.stdout.decode().split()[1], p.stdout.decode()

    def all_say(self, msg, want, ours=False):
        got = {"dkimpy": self.dkimpy(msg), "mail_dkim": self.mail_dkim(msg)}
        if ours:
            got["signet"] = self.ours(msg)
        self.assertEqual({k: v[0] for k, v in got.items()},
                         {k: want for k in got}, got)

    def seal_of(self, msg):
        seal = first_field(msg, "ARC-Seal")
        self.assertIsNotNone(seal, head(msg))
        i = int(re.search(r"\bi=(\d+)", seal).group(1))
        cv = re.search(r"\bcv=(\w+)", seal).group(1)
        return i, cv

    # -- tests -------------------------------------------------------

    def test_sealed_validates(self):
        for name, msg in msgset.messages()[:4]:
            if name == "utf8-8bit":
                continue  # needs SMTPUTF8 on both hops
            with self.subTest(message=name):
                out = self.relay(msgset.wire(msg))
                self.assertEqual(self.seal_of(out), (1, "none"))
                self.assertIn("s=arc1", first_field(out, "ARC-Seal"))
                aar = first_field(out, "ARC-Authentication-Results")
                self.assertIn(AUTHSERV, aar)
                self.assertIn("arc=none", aar)
                self.all_say(out, "pass", ours=True)
                # The DKIM signatures still verify beside the seal.
                res = verifiers.dkimpy(out, self.dns)
                self.assertTrue(res and all(r.passed for r in res), res)
        self.assertTrue(self.d.wait_log(b"event=arc_sealed"))
        self.assertRegex(self.d.read_log().decode("utf-8", "replace"),
                         r"event=arc_sealed i=1 cv=none")

    def test_metrics_count_results(self):
        before = self.d.arc_counts()
        self.relay(msgset.wire(msgset.messages()[0][1]))
        self.relay(self.dkimpy_seal(msgset.wire(msgset.messages()[0][1])))
        failed = self.relay(msgset.tamper_body(self.dkimpy_seal(
            msgset.wire(msgset.messages()[0][1]))))
        self.relay(failed)
        after = self.d.arc_counts()
        self.assertEqual({k: after[k] - before[k] for k in after},
                         {"sealed_none": 1, "sealed_pass": 1,
                          "sealed_fail": 1, "not_extended": 1,
                          "tempfail": 0, "error": 0})

    def test_tampering_fails(self):
        out = self.relay(msgset.wire(msgset.messages()[0][1]))
        for what, bad in (("header", msgset.tamper_header(out)),
                          ("body", msgset.tamper_body(out))):
            with self.subTest(tampered=what):
                self.all_say(bad, "fail", ours=True)

    def test_dkimpy_chain_extended(self):
        msg = self.dkimpy_seal(msgset.wire(msgset.messages()[0][1]))
        self.all_say(msg, "pass")
        out = self.relay(msg)
        self.assertEqual(self.seal_of(out), (2, "pass"))
        self.assertIn("arc=pass", first_field(out,
                                              "ARC-Authentication-Results"))
        self.all_say(out, "pass", ours=True)
        # A second signetd hop on top: i=3.
        again = self.relay(out)
        self.assertEqual(self.seal_of(again), (3, "pass"))
        self.all_say(again, "pass", ours=True)

    def test_second_hop_extends(self):
        hop1 = self.relay(msgset.wire(msgset.messages()[1][1]))
        hop2 = self.relay(hop1)
        self.assertEqual(self.seal_of(hop2), (2, "pass"))
        self.all_say(hop2, "pass", ours=True)

    def test_big_key_over_edns(self):
        msg = self.dkimpy_seal(msgset.wire(msgset.messages()[0][1]),
                               sel="big")
        self.assertGreater(len(self.dns["big._domainkey." + LIST]), 512)
        out = self.relay(msg)
        self.assertEqual(self.seal_of(out), (2, "pass"))
        self.all_say(out, "pass")

    def test_late_answer_to_first_try(self):
        """Retries keep the query's id: an answer to the first try that
        comes after the second still counts."""
        late = LateResolver(self.knot.port, delay=1.5)
        self.addCleanup(late.stop)
        d = ArcSignetd(resolver_port=late.port, timeout="3s")
        shutil.rmtree(d.keystore)
        shutil.copytree(self.d.keystore, d.keystore)
        d.start()
        self.addCleanup(d.cleanup)
        msg = self.dkimpy_seal(msgset.wire(msgset.messages()[0][1]))
        out = self.relay(msg, d=d)
        self.assertEqual(self.seal_of(out), (2, "pass"))
        self.assertTrue(max(late.seen.values()) >= 2, late.seen)

    def test_key_behind_cname(self):
        msg = self.dkimpy_seal(msgset.wire(msgset.messages()[0][1]),
                               sel="cn", key="dk")
        out = self.relay(msg)
        self.assertEqual(self.seal_of(out), (2, "pass"))
        self.all_say(out, "pass")

    def test_forged_ar_over_broken_chain(self):
        """AR-01."""
        broken = self.dkimpy_seal(msgset.wire(msgset.messages()[0][1]))
        broken = msgset.tamper_body(broken)
        forged = (b"Authentication-Results: mx.example.com; arc=pass;\r\n"
                  b" dkim=pass header.d=example.com\r\n"
                  b"Authentication-Results: MX.Example.COM; spf=pass\r\n"
                  b"Authentication-Results: %s; spf=pass "
                  b"smtp.mailfrom=example.com\r\n" % TRUSTED.encode())
        out = self.relay(forged + broken)
        self.assertEqual(self.seal_of(out), (2, "fail"))
        h = head(out)
        self.assertNotIn(b"mx.example.com; arc=pass", h)
        self.assertNotIn(b"MX.Example.COM", h)
        aar = first_field(out, "ARC-Authentication-Results")
        self.assertIn("arc=fail", aar)
        self.assertNotIn("arc=pass", aar)
        self.assertNotIn("dkim=pass header.d=example.com", aar)
        self.assertIn("spf=pass smtp.mailfrom=example.com", aar)
        self.assertEqual(self.ours(out)[0], "fail")
        self.assertNotEqual(self.dkimpy(out)[0], "pass")
        self.assertTrue(self.d.wait_log(b"event=arc_ar_removed count=2"))

    def test_cv_fail_not_extended(self):
        broken = msgset.tamper_body(self.dkimpy_seal(
            msgset.wire(msgset.messages()[0][1])))
        failed = self.relay(broken)
        self.assertEqual(self.seal_of(failed), (2, "fail"))
        again = self.relay(failed)
        self.assertEqual(self.seal_of(again), (2, "fail"))
        self.assertEqual(head(again).count(b"ARC-Seal:"), 2)
        res = verifiers.dkimpy(again, self.dns)
        ours = [r for r in res if r.d == "example.com"]
        self.assertTrue(ours and all(r.passed for r in ours[:2]), res)
        self.assertTrue(self.d.wait_log(b"event=arc_not_extended"))

    def test_hostile_chains(self):
        """AR-02 through the daemon (and the ASan one when built)."""
        base = msgset.wire(msgset.messages()[0][1])
        good = self.dkimpy_seal(base)
        sets = re.findall(rb"(?m)^ARC-[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*",
                          good)
        gap = re.sub(rb"\bi=1;", b"i=2;", b"".join(sets)) + base
        dup = b"".join(sets) + good
        big_b = b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=x.test; s=s; b=" + \
            b"A" * 684 + b"\r\n"
        fifty_one = base
        for i in range(1, 52):
            fifty_one = (b"ARC-Seal: i=%d; a=rsa-sha256; cv=%s; d=x.test; "
                         b"s=s; b=Zm9v\r\n"
                         b"ARC-Message-Signature: i=%d; a=rsa-sha256; "
                         b"d=x.test; s=s; h=from; bh=Zm9v; b=Zm9v\r\n"
                         b"ARC-Authentication-Results: i=%d; x.test; "
                         b"none\r\n" % (i, b"none" if i == 1 else b"pass",
                                        i, i)) + fifty_one
        cases = {
            "gap": gap,
            "duplicate": dup,
            "no_equals": b"ARC-Seal: x\r\nARC-Seal: i\r\n" + base,
            "i0": re.sub(rb"\bi=1;", b"i=0;", good),
            "i99": re.sub(rb"\bi=1;", b"i=99;", good),
            "no_ams": re.sub(rb"(?m)^ARC-Message-Signature:[^\r\n]*\r\n"
                             rb"(?:[ \t][^\r\n]*\r\n)*", b"", good),
            "big_b": big_b + base,
            "fifty_one": fifty_one,
            "huge_field": b"ARC-Seal: i=1; a=rsa-sha256; d=x.test; s=s; "
                          b"b=" + b"\r\n ".join([b"QUFB" * 19] * 180) +
                          b"\r\n" + base,
        }
        daemons = [self.d]
        if os.path.exists(binary("signetd", asan=True)) and not self.d.asan:
            a = ArcSignetd(resolver_port=self.knot.port, asan=True)
            a.keys = self.d.keys
            shutil.rmtree(a.keystore)
            shutil.copytree(self.d.keystore, a.keystore)
            a.start()
            self.addCleanup(a.cleanup)
            daemons.append(a)
        for d in daemons:
            for name, msg in cases.items():
                with self.subTest(case=name, asan=d.asan):
                    out = self.relay(msg, d=d)
                    # Ours, if added, is the first ARC-Seal and says fail.
                    seal = first_field(out, "ARC-Seal")
                    if seal is not None and "s=arc1" in seal:
                        self.assertIn("cv=fail", seal)
                    self.assertIsNone(d.sanitizer_report())


class ArcDnsTimeout(unittest.TestCase):
    """Key lookups at a resolver that never answers."""

    @classmethod
    def setUpClass(cls):
        cls.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.sink.bind(("127.0.0.1", 0))
        cls.d = ArcSignetd(resolver_port=cls.sink.getsockname()[1],
                           timeout="1s")
        try:
            cls.d.start()
        except Exception:
            cls.d.cleanup(check=False)
            cls.sink.close()
            raise
        pem, _ = verifiers.rsa_key(2048)
        cls.pem = pem

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup(check=False)
        cls.sink.close()

    def tearDown(self):
        report = self.d.sanitizer_report()
        if report:
            self.fail("sanitizer report:\n" + report)

    def relay(self, msg, want):
        before = len(self.d.outbox())
        replies = session(self.d.port, "alice@example.com",
                          ["bob@dest.test"], msg)
        return replies[-1], self.d.outbox()[before:]

    def test_timeout_tempfails(self):
        before = self.d.arc_counts()["tempfail"]
        r, out = self.relay(self.chain_message(), 451)
        self.assertEqual(r.code, 451, r.raw)
        self.assertIn(b"4.4.3", r.raw)
        self.assertEqual(self.d.arc_counts()["tempfail"], before + 1)
        self.assertEqual(out, [], "nothing relayed")
        # The sink did get our queries.
        self.sink.settimeout(0.1)
        got = self.sink.recv(4096)
        self.assertIn(b"\x02dk\x0a_domainkey", got)

    def test_client_gone_while_waiting(self):
        """The job dies with the session: no reply, no crash, no leak."""
        from rawsmtp import RawSMTP, dot_stuff
        before = len(self.d.outbox())
        with RawSMTP(self.d.port) as c:
            c.read_reply()
            for line in ("EHLO client.test", "MAIL FROM:<alice@example.com>",
                         "RCPT TO:<bob@dest.test>", "DATA"):
                c.cmd(line)
            c.send(dot_stuff(self.chain_message()) + b".\r\n")
        self.assertTrue(self.d.wait_log(b"event=disconnect"))
        r, out = self.relay(self.chain_message(), 451)
        self.assertEqual(r.code, 451, r.raw)
        self.assertEqual(len(self.d.outbox()), before)

    def chain_message(self):
        base = msgset.wire(msgset.messages()[0][1])
        ar = b"Authentication-Results: %s; arc=none\r\n" % LIST.encode()
        hdrs = dkim.arc_sign(ar + base, b"dk", LIST.encode(), self.pem,
                             LIST.encode(),
                             include_headers=[b"from", b"to", b"subject"])
        return b"".join(hdrs) + ar + base

    def test_broken_chain_needs_no_key(self):
        """RFC 8617 5.2: a chain with a gap fails without any key."""
        msg = (b"ARC-Seal: i=2; a=rsa-sha256; cv=pass; d=x.test; s=s; "
               b"b=Zm9v\r\n"
               b"ARC-Message-Signature: i=2; a=rsa-sha256; d=x.test; s=s; "
               b"h=from; bh=Zm9v; b=Zm9v\r\n"
               b"ARC-Authentication-Results: i=2; x.test; none\r\n"
               + msgset.wire(msgset.messages()[0][1]))
        r, out = self.relay(msg, 250)
        self.assertEqual(r.code, 250, r.raw)
        self.assertEqual(len(out), 1)
        seal = first_field(norm(out[0]), "ARC-Seal")
        self.assertIn("cv=fail", seal)

    def test_no_chain_no_lookup(self):
        """Without ARC fields or DKIM signatures nothing is looked up."""
        r, out = self.relay(msgset.wire(msgset.messages()[0][1]), 250)
        self.assertEqual(r.code, 250, r.raw)
        self.assertEqual(len(out), 1)


if __name__ == "__main__":
    tap.main()
