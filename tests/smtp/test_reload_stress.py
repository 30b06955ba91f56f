"""Reload under load (promise 6, KY-04): SIGHUP every 100 ms while
several smtplib clients send 2,000 messages over long-lived connections.
No connection is dropped, every message is answered 250 and lands in the
file sink exactly once, and a sample verifies with dkimpy.  Every other
reload swaps in a configuration that really differs (another limit), so
the snapshot is rebuilt rather than found equal."""
import signal
import smtplib
import threading
import time
import unittest

import tap
import verifiers
from daemon import Signetd, message

TOTAL = 2000
CLIENTS = 8
PER_CONNECTION = 50
HUP_INTERVAL = 0.1


class ReloadStress(unittest.TestCase):
    def test_sighup_every_100ms_2000_messages(self):
        d = Signetd(limits={"max_recipients": "100"})
        self.addCleanup(d.cleanup)
        d.start()
        texts = [d.config_text(),
                 d.config_text().replace("max_recipients: 100",
                                         "max_recipients: 101")]
        self.assertNotEqual(texts[0], texts[1])
        errors = []
        codes = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(k):
            sent = 0
            mine = TOTAL // CLIENTS
            while sent < mine:
                try:
                    s = smtplib.SMTP("127.0.0.1", d.port, timeout=60)
                    s.ehlo("stress%d.test" % k)
                    for _ in range(min(PER_CONNECTION, mine - sent)):
                        body = message(subject="stress %d/%d" % (k, sent),
                                       extra=b"Message-ID: <%d.%d@example.com>\r\n"
                                       % (k, sent))
                        refused = s.sendmail("alice@example.com",
                                             ["bob@dest.test"], body)
                        with lock:
                            codes.append(250 if not refused else refused)
                        sent += 1
                    s.quit()
                except (smtplib.SMTPException, OSError) as e:
                    with lock:
                        errors.append("client %d after %d: %r" % (k, sent, e))
                    return

        def hupper():
            n = 0
            while not stop.is_set():
                d.write_config(texts[n % 2])
                d.signal(signal.SIGHUP)
                n += 1
                time.sleep(HUP_INTERVAL)

        h = threading.Thread(target=hupper)
        h.start()
        started = time.monotonic()
        workers = [threading.Thread(target=client, args=(k,))
                   for k in range(CLIENTS)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        stop.set()
        h.join()
        elapsed = time.monotonic() - started

        self.assertEqual(errors, [])
        self.assertEqual(codes, [250] * TOTAL)
        self.assertIsNone(d.proc.poll())
        log = d.read_log()
        reloads = log.count(b"event=reload outcome=ok")
        # At least one reload per second of traffic actually happened.
        self.assertGreaterEqual(reloads, int(elapsed) // 2, elapsed)
        out = d.outbox()
        self.assertEqual(len(out), TOTAL)
        ids = set()
        for m in out:
            i = m.find(b"Message-ID: <")
            ids.add(m[i:m.index(b">", i)])
        self.assertEqual(len(ids), TOTAL)
        for m in out[::TOTAL // 20]:
            res = verifiers.dkimpy(m, d.dns)
            self.assertTrue(res and all(r.passed for r in res), res)
            self.assertEqual(len(res), 2)


if __name__ == "__main__":
    tap.main()
