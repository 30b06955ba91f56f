"""Upstream connections reused across client sessions (proxy/uppool.c):
applications that send one message per connection share a few upstream
connections instead of opening one each, every transaction still carries
its own client's XFORWARD, and a cached connection the upstream closed,
timed out or answered 421 never turns into a 4xx for the client: the
message goes over a fresh connection.  A reload that changes the
upstream sends the next message to the new one."""
import re
import signal
import time
import unittest
import urllib.request

import tap
import verifiers
from daemon import Signetd, message
import fakeup
from fakeup import Close, Script, Stall
from rawsmtp import session
from signet_env import free_port

FAST = {"connect": "2s", "greeting": "2s", "command": "3s", "final": "5s"}
XFORWARD = "XFORWARD NAME ADDR PORT PROTO HELO"
SOURCES = ("127.0.0.1", "127.0.0.2")


def per_connection(*scripts):
    """scripts[i] for connection i, the last one for every later one."""
    return lambda i: scripts[min(i, len(scripts) - 1)]


def xforward_script(**kw):
    s = Script(**kw)
    s.capabilities = s.capabilities + [XFORWARD]
    return s


class Reuse(unittest.TestCase):
    def daemon(self, port, workers=2):
        d = Signetd(upstream=port, upstream_timeouts=FAST, workers=workers)
        d.metrics_port = free_port()
        # 127.0.0.2 signs for example.com too, so XFORWARD can tell the
        # two clients apart.
        d.write_config(d.config_text().replace(
            "networks: [127.0.0.1/32]",
            "networks: [127.0.0.1/32, 127.0.0.2/32]") +
            "metrics: { listen: 127.0.0.1:%d }\n" % d.metrics_port)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def fake(self, script):
        return fakeup.started(self, script)

    def upstream_connections(self, d):
        url = "http://127.0.0.1:%d/metrics" % d.metrics_port
        with urllib.request.urlopen(url, timeout=10) as r:
            page = r.read().decode()
        return {how: int(float(v)) for how, v in re.findall(
            r'^signet_upstream_connections_total\{how="(\w+)"\} (\S+)$',
            page, re.M)}

    def send(self, d, subject="hello", source=None):
        return session(d.port, "alice@example.com", ["bob@dest.test"],
                       message(subject=subject), source=source)

    def test_sequential_clients_share_connections(self):
        n = 10
        up = self.fake(xforward_script())
        d = self.daemon(up.port)
        sent = {}
        for i in range(n):
            src = SOURCES[i % 2]
            subject = "msg-%d" % i
            r = self.send(d, subject, source=src)
            self.assertEqual(r[-1].code, 250, r[-1].raw)
            sent[subject] = src
        txs = up.wait_transactions(n)
        # Two workers, one cache each: without reuse this would be n.
        self.assertLessEqual(len(up.connections), 2,
                             [c.peer for c in up.connections])
        self.assertTrue(any(len(c.transactions) > 1 for c in up.connections))
        seen = set()
        for tx in txs:
            subject = verifiers.first_field(tx.content, "Subject").strip()
            seen.add(subject)
            with self.subTest(subject=subject):
                # Each transaction names its own client, never the
                # previous user of the connection.
                self.assertEqual(tx.xforward.get("ADDR"), sent[subject],
                                 tx.xforward)
                self.assertEqual(tx.xforward.get("HELO"), "client.test")
                res = verifiers.dkimpy(tx.content, d.dns)
                self.assertTrue(res and all(x.passed for x in res), res)
        self.assertEqual(seen, set(sent))
        self.assertEqual(self.upstream_connections(d),
                         {"new": len(up.connections),
                          "reused": n - len(up.connections)})
        # One XFORWARD per transaction, always before its MAIL.
        for c in up.connections:
            verbs = [l.split(b" ", 1)[0].strip().upper() for l in c.commands]
            verbs = [v for v in verbs if v in (b"XFORWARD", b"MAIL")]
            self.assertEqual(verbs, [b"XFORWARD", b"MAIL"] *
                             len(c.transactions), verbs)

    def test_cache_off(self):
        up = self.fake(xforward_script())
        d = Signetd(upstream=up.port, upstream_timeouts=FAST, workers=1)
        d.write_config(d.config_text().replace(
            "  starttls: off\n", "  starttls: off\n  connection_cache: false\n"))
        self.addCleanup(d.cleanup)
        d.start()
        for i in range(3):
            self.assertEqual(self.send(d, "msg-%d" % i)[-1].code, 250)
        up.wait_transactions(3)
        self.assertEqual(len(up.connections), 3)

    def test_upstream_closes_idle_connection(self):
        # After each message the upstream times the connection out (421,
        # then it hangs up) while signetd keeps it parked.
        bye = (Stall(0.2, "421 4.4.2 fakeup.test Error: timeout exceeded"),
               Close())
        up = self.fake(Script(after_final=bye))
        d = self.daemon(up.port, workers=1)
        for i in range(3):
            r = self.send(d, "msg-%d" % i)
            self.assertEqual(r[-1].code, 250, r[-1].raw)
            up.wait_connections(i + 1)
            # Let the 421 arrive while the connection is parked.
            self.assertTrue(d.wait_log(b"upstream_idle_closed", count=i + 1))
        self.assertEqual(len(up.wait_transactions(3)), 3)
        self.assertEqual(len(up.connections), 3)
        self.assertIn(b"reason=unsolicited_input", d.read_log())

    def test_421_to_mail_on_reused_connection_retried(self):
        for xfwd in (False, True):
            with self.subTest(xforward=xfwd):
                mk = xforward_script if xfwd else Script
                # The first connection accepts one message, then answers
                # the next MAIL with 421 and hangs up (or just hangs up).
                first = mk(mail=lambda k: "250 2.1.0 Ok" if k == 0 else
                           ("421 4.3.2 fakeup.test shutting down", Close()))
                up = self.fake(per_connection(first, mk()))
                d = self.daemon(up.port, workers=1)
                self.assertEqual(self.send(d, "one")[-1].code, 250)
                r = self.send(d, "two")
                self.assertEqual(r[-1].code, 250, r[-1].raw)
                self.assertEqual([x.code for x in r[2:4]], [250, 250])
                txs = up.wait_transactions(2)
                self.assertEqual([t.connection for t in txs], [0, 1])
                self.assertEqual(len(up.connections), 2)
                self.assertTrue(d.wait_log(b"upstream_reuse_failed"))
                self.assertIn(b"why=421", d.read_log())
                if xfwd:
                    self.assertEqual(txs[1].xforward.get("ADDR"),
                                     "127.0.0.1")

    def test_lost_on_reused_connection_retried(self):
        # The upstream hangs up when the cached connection sends MAIL.
        first = Script(mail=lambda k: "250 2.1.0 Ok" if k == 0 else Close())
        up = self.fake(per_connection(first, Script()))
        d = self.daemon(up.port, workers=1)
        self.assertEqual(self.send(d, "one")[-1].code, 250)
        r = self.send(d, "two")
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        self.assertEqual([t.connection for t in up.wait_transactions(2)],
                         [0, 1])
        self.assertTrue(d.wait_log(b"upstream_reuse_failed"))

    def test_reload_to_new_upstream_skips_cache(self):
        old = self.fake(Script(final="250 2.0.0 Ok: queued as OLD%(n)d"))
        new = self.fake(Script(final="250 2.0.0 Ok: queued as NEW%(n)d"))
        d = self.daemon(old.port, workers=1)
        self.assertEqual(self.send(d, "one")[-1].code, 250)
        self.assertEqual(self.send(d, "two")[-1].code, 250)
        # Both went over one connection, now parked.
        self.assertEqual(len(old.connections), 1)
        with open(d.config) as f:
            text = f.read()
        d.write_config(text.replace("127.0.0.1:%d" % old.port,
                                    "127.0.0.1:%d" % new.port))
        ok = d.read_log().count(b"event=reload outcome=ok")
        d.signal(signal.SIGHUP)
        self.assertTrue(d.wait_log(b"event=reload outcome=ok", count=ok + 1))
        r = self.send(d, "three")
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        self.assertIn("NEW", r[-1].text)
        self.assertEqual(len(new.wait_transactions(1)), 1)
        self.assertEqual(len(old.transactions), 2)

    def test_reload_chunking_applies_to_cached_connection(self):
        # upstream.chunking is not part of a connection's identity: the
        # cached connection stays in use after a reload, and the next
        # message follows the new setting on it (BDAT, then DATA).
        s = Script()
        s.capabilities = s.capabilities + ["CHUNKING"]
        up = self.fake(s)
        d = self.daemon(up.port, workers=1)
        self.assertEqual(self.send(d, "one")[-1].code, 250)
        with open(d.config) as f:
            text = f.read()
        d.write_config(text.replace("  starttls: off\n",
                                    "  starttls: off\n  chunking: off\n"))
        ok = d.read_log().count(b"event=reload outcome=ok")
        d.signal(signal.SIGHUP)
        self.assertTrue(d.wait_log(b"event=reload outcome=ok", count=ok + 1))
        self.assertEqual(self.send(d, "two")[-1].code, 250)
        txs = up.wait_transactions(2)
        self.assertEqual(len(up.connections), 1)
        self.assertEqual(self.upstream_connections(d),
                         {"new": 1, "reused": 1})
        self.assertEqual(len(txs[0].chunks), 1)
        self.assertEqual(txs[1].chunks, [])
        verbs = [l.split(b" ", 1)[0].strip().upper()
                 for l in up.connections[0].commands]
        self.assertEqual([v for v in verbs if v in (b"BDAT", b"DATA")],
                         [b"BDAT", b"DATA"], verbs)
        for tx in txs:
            res = verifiers.dkimpy(tx.content, d.dns)
            self.assertTrue(res and all(x.passed for x in res), res)

    def test_drain_quits_parked_connections(self):
        up = self.fake(Script())
        d = self.daemon(up.port, workers=1)
        self.assertEqual(self.send(d)[-1].code, 250)
        self.assertTrue(d.wait_log(b"event=disconnect"))
        self.assertEqual(d.stop(), 0)
        deadline = time.monotonic() + 5
        while up.connections[0].closed_by is None and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        cmds = [l.strip().upper() for l in up.connections[0].commands]
        self.assertEqual(cmds[-1], b"QUIT", cmds)


if __name__ == "__main__":
    tap.main()
