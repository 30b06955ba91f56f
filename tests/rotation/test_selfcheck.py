"""signetd's periodic DNS self-check against a real Knot (hostile-inputs
KY-03; issue 5 "signetd does the same check periodically and exports it
as a metric").

With rotation.self_check set, signetd asks the authoritative servers for
each selector it signs with and exports signet_dns_match{domain,selector}:
1 while the record is exactly the key's, 0 (and an error log line naming
the selector and server) once it is changed behind our back, 1 again when
it is put back.  The checks run on their own thread: mail keeps flowing
while a configured server does not answer at all.
"""
import socket
import time

import knot
import tap
from rawsmtp import session
from rotrig import ZONE, RotRigCase


def message(subject):
    return ("From: a@%s\r\nTo: b@dest.test\r\nSubject: %s\r\n\r\n"
            "body\r\n" % (ZONE, subject)).encode()


class SelfCheck(RotRigCase):
    def wait_metric(self, rig, sel, want, timeout=20):
        end = time.monotonic() + timeout
        got = None
        while time.monotonic() < end:
            got = rig.metric("signet_dns_match", domain=ZONE, selector=sel)
            if got == want:
                return
            time.sleep(0.2)
        self.fail("signet_dns_match %s: %s, want %s\n%s" %
                  (sel, got, want, rig.read_log()[-3000:]))

    def test_match_mismatch_and_back(self):
        rig = self.rig(self_check="1s")
        rig.bring_up()
        self.assertEqual(rig.signing(), ["s1", "s2"])
        rig.start()
        self.wait_metric(rig, "s1", 1)
        self.wait_metric(rig, "s2", 1)
        gen = rig.metric("signet_store_generation")
        self.assertIsNotNone(gen)
        self.assertEqual(rig.metric("signet_dns_check_store_generation"),
                         gen)
        self.assertGreater(rig.metric("signet_dns_check_timestamp_seconds"),
                           time.time() - 60)
        self.assertIn("dns_self_check", rig.read_log())
        self.assertIn("store_generation=%d" % gen, rig.read_log())
        self.assertNotIn("dns_mismatch", rig.read_log())
        # the record is changed behind signet's back
        good = self.primary.txt("s2._domainkey." + ZONE)
        self.primary.knsupdate(ZONE, [
            "del s2._domainkey TXT",
            'add s2._domainkey 300 TXT "v=DKIM1; k=ed25519; p=AAAA"'])
        self.wait_metric(rig, "s2", 0)
        self.assertEqual(rig.metric("signet_dns_match", domain=ZONE,
                                    selector="s1"), 1)
        lines = [l for l in rig.read_log().splitlines()
                 if "dns_mismatch" in l]
        self.assertTrue(lines)
        self.assertIn("selector=s2", lines[0])
        self.assertIn("domain=%s" % ZONE, lines[0])
        self.assertIn(self.primary.server, lines[0])
        self.assertIn(rig.key_at("s2"), lines[0])
        self.assertIn(" error: ", lines[0])
        # put back
        self.primary.knsupdate(ZONE, [
            "del s2._domainkey TXT",
            "add s2._domainkey 300 TXT %s" % knot.quote_txt(good[0])])
        self.wait_metric(rig, "s2", 1)

    def test_off_by_default(self):
        rig = self.rig()
        rig.bring_up()
        rig.start()
        rc, _ = self.send(rig, "off")
        self.assertEqual(rc, 250)
        time.sleep(2)
        self.assertNotIn("dns_self_check", rig.read_log())
        self.assertIsNone(rig.metric("signet_dns_match", domain=ZONE,
                                     selector="s1"))
        self.assertEqual(rig.metric("signet_dns_check_timestamp_seconds"),
                         0)

    def send(self, rig, subject):
        replies = session(rig.port, "a@%s" % ZONE, ["b@dest.test"],
                          message(subject))
        last = replies[-1] if replies else None
        return (last.code if last is not None else None), replies

    def test_silent_server_does_not_hold_mail(self):
        # a UDP socket that never answers: every query waits its timeout
        hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        hole.bind(("127.0.0.1", 0))
        self.addCleanup(hole.close)
        tcp_hole = socket.socket()
        tcp_hole.bind(("127.0.0.1", hole.getsockname()[1]))
        tcp_hole.listen(8)
        self.addCleanup(tcp_hole.close)
        rig = self.rig(self_check="1s")
        rig.bring_up()
        rig.write_config(servers=[self.primary.server,
                                  "127.0.0.1:%d" % hole.getsockname()[1]])
        rig.start()
        # A round waits 2 s (UDP) + 2 s (TCP) per key on the silent
        # server.  Mail sent while a round is under way must be relayed
        # before that round ends: the log shows the order.
        end = time.monotonic() + 30
        while time.monotonic() < end:
            log = rig.read_log()
            if log.count("dns_self_check stage=start") > \
                    log.count("dns_self_check stage=done"):
                break
            time.sleep(0.05)
        else:
            self.fail("no self-check round started")
        round_no = rig.read_log().count("dns_self_check stage=start")
        for i in range(5):
            rc, replies = self.send(rig, "while DNS hangs %d" % i)
            self.assertEqual(rc, 250, replies)
        while time.monotonic() < end and \
                rig.read_log().count("dns_self_check stage=done") < round_no:
            time.sleep(0.1)
        events = [l for l in rig.read_log().splitlines()
                  if "dns_self_check stage=" in l or "event=message " in l]
        starts = [i for i, l in enumerate(events) if "stage=start" in l]
        dones = [i for i, l in enumerate(events) if "stage=done" in l]
        self.assertGreaterEqual(len(dones), round_no, "the round ended")
        between = [l for l in events[starts[round_no - 1]:dones[round_no - 1]]
                   if "outcome=accepted" in l]
        self.assertTrue(between, "no message relayed during a DNS round:\n"
                        + "\n".join(events[-20:]))
        self.wait_metric(rig, "s1", 0, timeout=30)
        self.assertIn("dns_mismatch", rig.read_log())
        self.assertEqual(len(rig.outbox()), 5)


if __name__ == "__main__":
    tap.main()
