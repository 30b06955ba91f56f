"""Keys loaded on first use (issue 4, KY-01): with more signing keys than
keys_eager_max (here 0, so every key), signetd starts without reading
the key files and loads each key when a message first needs it.  A key
file that went bad before that costs its selector only: the message is
signed with the other one, the failure is logged once, and with no key
left the message gets 451 4.3.0 — never sent unsigned by accident.  A
key loaded once stays in memory: deleting its file changes nothing until
a reload."""
import os
import unittest

import tap
import verifiers
from daemon import Signetd, message
from rawsmtp import session


class LazyDaemon(Signetd):
    def config_text(self):
        return super().config_text() + "keys_eager_max: 0\n"

    def key_file(self, sel):
        return os.path.join(self.keystore, "example.com", "keys",
                            self.keys[sel][1] + ".pem")


class FirstUse(unittest.TestCase):
    def setUp(self):
        self.d = LazyDaemon()
        self.addCleanup(self.d.cleanup)
        self.d.start()

    def send(self):
        return session(self.d.port, "alice@example.com", ["bob@dest.test"],
                       message())

    def selectors_passing(self, msg):
        res = verifiers.verify_all(msg, self.d.dns, ("dkimpy", "opendkim"))
        out = {}
        for name, sigs in res.items():
            out[name] = sorted((s.d, s.s) for s in sigs if s.result == "pass")
        return out

    def test_started_without_reading_keys(self):
        self.assertTrue(self.d.wait_log(b"event=keys_lazy"), "lazy mode logged")
        os.unlink(self.d.key_file("s1"))
        replies = self.send()
        self.assertEqual(replies[-1].code, 250, replies[-1].raw)
        msg = self.d.outbox()[-1]
        self.assertEqual(self.selectors_passing(msg),
                         {"dkimpy": [("example.com", "s2")],
                          "opendkim": [("example.com", "s2")]})
        self.assertEqual([t[1] for t in verifiers.signature_tags(msg)], ["s2"])
        replies = self.send()
        self.assertEqual(replies[-1].code, 250, replies[-1].raw)
        log = self.d.read_log()
        fails = [l for l in log.splitlines() if b"event=key_load_failed" in l]
        self.assertEqual(len(fails), 1, fails)
        self.assertIn(b"s=s1", fails[0])
        self.assertIn(self.d.key_file("s1").encode(), fails[0])

    def test_no_key_left_is_451(self):
        os.unlink(self.d.key_file("s1"))
        os.chmod(self.d.key_file("s2"), 0o644)
        before = len(self.d.outbox())
        replies = self.send()
        last = replies[-1]
        self.assertEqual(last.code, 451, last.raw)
        self.assertIn("4.3.0", last.text)
        self.assertEqual(len(self.d.outbox()), before, "nothing sent unsigned")

    def test_loaded_key_outlives_its_file(self):
        replies = self.send()
        self.assertEqual(replies[-1].code, 250, replies[-1].raw)
        for sel in ("s1", "s2"):
            os.unlink(self.d.key_file(sel))
        replies = self.send()
        self.assertEqual(replies[-1].code, 250, replies[-1].raw)
        self.assertEqual(self.selectors_passing(self.d.outbox()[-1])["dkimpy"],
                         [("example.com", "s1"), ("example.com", "s2")])


if __name__ == "__main__":
    tap.main()
