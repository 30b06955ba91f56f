"""Upstream connection lost during a transaction (hostile-inputs UP-03,
UP-07).  Before our final "." nothing can have been accepted, so signetd
reconnects once and replays MAIL, the accepted RCPTs and DATA: the
message reaches the upstream exactly once.  A second loss, or a replayed
command answered differently from what the client heard, is a 451 4.4.2.
After our "." the outcome is unknown: 451 4.4.2 and a possible-duplicate
log line, never a retry.  An upstream that times out idle sessions is
kept alive with NOOP while a slow client uploads."""
import unittest

import tap
import verifiers
from daemon import Signetd, message
import fakeup
from fakeup import Close, DataFault, Script
from peers import SmtpSink
from rawsmtp import RawSMTP, dot_stuff, session

# The final reply waits for a Python upstream to swallow 16 MiB, which
# takes seconds on a loaded machine; no test here waits for it to expire.
FAST = {"connect": "2s", "greeting": "2s", "command": "3s", "final": "30s",
        "noop_interval": "1s"}
# Larger than every socket buffer between signetd and the upstream, so
# a hang-up after N octets of DATA is seen while signetd still sends
# (once the final "." is in the kernel, the outcome is unknown).
BIG = message(body=(b"z" * 70 + b"\r\n") * (16 * 1024 * 1024 // 72))
BIG_LIMITS = {"max_message_size": "32M", "data_timeout": "60s"}


def per_connection(*scripts):
    """A FakeUpstream script: scripts[i] for connection i, the last one
    for every later connection."""
    return lambda i: scripts[min(i, len(scripts) - 1)]


class Retry(unittest.TestCase):
    def daemon(self, port, timeouts=FAST):
        d = Signetd(upstream=port, upstream_timeouts=timeouts,
                    limits=BIG_LIMITS)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def fake(self, script):
        return fakeup.started(self, script)

    def test_lost_mid_data_retried_once_up03(self):
        for after in (0, 10, 60000):
            with self.subTest(after=after):
                lost = Script(rcpt={"carol@dest.test": "550 5.1.1 no such user"},
                              data_fault=DataFault(after))
                good = Script(rcpt={"carol@dest.test": "550 5.1.1 no such user"})
                up = self.fake(per_connection(lost, good))
                d = self.daemon(up.port)
                r = session(d.port, "alice@example.com",
                            ["bob@dest.test", "carol@dest.test",
                             "dave@dest.test"], BIG)
                self.assertEqual([x.code for x in r[3:6]], [250, 550, 250])
                self.assertEqual(r[-1].code, 250, r[-1].raw)
                up.wait_transactions(1)
                self.assertEqual(len(up.connections), 2)
                self.assertEqual(len(up.transactions), 1)
                tx = up.transactions[0]
                self.assertEqual(tx.envelope_rcpts,
                                 ["bob@dest.test", "dave@dest.test"])
                self.assertIn(b"<alice@example.com>", tx.mail_from)
                res = verifiers.dkimpy(tx.content, d.dns)
                self.assertTrue(res and all(x.passed for x in res), res)
                self.assertIn(b"event=upstream_retry", d.read_log())

    def test_lost_twice_451_up03(self):
        up = self.fake(Script(data_fault=DataFault(10)))
        d = self.daemon(up.port)
        r = session(d.port, "alice@example.com", ["bob@dest.test"], BIG)
        self.assertEqual((r[-1].code, r[-1].enhanced), (451, "4.4.2"),
                         r[-1].raw)
        self.assertTrue(r[-1].wellformed, r[-1].raw)
        self.assertEqual(len(up.connections), 2)
        self.assertEqual(up.transactions, [])

    def test_replay_answered_differently_451_up07(self):
        first = Script(data_fault=DataFault(10))
        second = Script(rcpt={"bob@dest.test": "450 4.2.0 mailbox busy"})
        up = self.fake(per_connection(first, second))
        d = self.daemon(up.port)
        r = session(d.port, "alice@example.com", ["bob@dest.test"], BIG)
        self.assertEqual((r[-1].code, r[-1].enhanced), (451, "4.4.2"),
                         r[-1].raw)
        self.assertEqual(up.transactions, [])
        self.assertIn(b"event=upstream_retry_refused", d.read_log())

    def test_lost_after_dot_not_retried(self):
        up = self.fake(Script(final=Close()))
        d = self.daemon(up.port)
        r = session(d.port, "alice@example.com", ["bob@dest.test"], message())
        self.assertEqual((r[-1].code, r[-1].enhanced), (451, "4.4.2"),
                         r[-1].raw)
        self.assertEqual(len(up.connections), 1)
        self.assertIn(b"possible_duplicate=yes", d.read_log())

    def slow_upload(self, d, seconds):
        with RawSMTP(d.port).open_data() as c:
            data = dot_stuff(message(body=(b"s" * 48 + b"\r\n") * 100))
            chunk = 250
            c.dribble(data, chunk=chunk,
                      interval=seconds / (len(data) / chunk))
            c.send(b".\r\n")
            return c.read_reply(timeout=15)

    def test_idle_upstream_kept_alive_sink_t2_up07(self):
        # smtp-sink -t 2 drops a session idle for 2 s; the upload takes 5 s.
        sink = SmtpSink(["-t", "2"])
        sink.start()
        self.addCleanup(sink.cleanup)
        d = self.daemon(sink.port)
        r = self.slow_upload(d, 5.0)
        self.assertEqual(r.code, 250, r.raw)
        self.assertTrue(sink.wait_count(1))
        self.assertEqual(sink.count(), 1)
        res = verifiers.dkimpy(sink.messages()[0].content, d.dns)
        self.assertTrue(res and all(x.passed for x in res), res)

    def test_upstream_died_during_upload_replayed_up07(self):
        # The first connection hangs up at the first keepalive; the
        # message is replayed on a new connection when it is complete.
        up = self.fake(per_connection(Script(noop=Close()), Script()))
        d = self.daemon(up.port)
        r = self.slow_upload(d, 2.5)
        self.assertEqual(r.code, 250, r.raw)
        up.wait_transactions(1)
        self.assertEqual(len(up.connections), 2)
        self.assertEqual(len(up.transactions), 1)
        self.assertEqual(up.transactions[0].envelope_rcpts, ["bob@dest.test"])


if __name__ == "__main__":
    tap.main()
