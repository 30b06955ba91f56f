"""Cached upstream connections keep their TLS and AUTH (proxy/uppool.c):
a second client's message goes over the same encrypted, authenticated
connection without a second STARTTLS or AUTH, and a reload that changes
the upstream's TLS settings never lets a connection made under the old
ones carry the next message."""
import os
import signal
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "smtp"))

import tap  # noqa: E402
import test_upstream_tls as base  # noqa: E402
from fakeup import Script  # noqa: E402


def setUpModule():
    base.setUpModule()


def tearDownModule():
    base.tearDownModule()


class Reuse(base.Base):
    def auth_lines(self, secret):
        fd, path = tempfile.mkstemp(prefix="signet-secret-")
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
        self.addCleanup(os.unlink, path)
        return ["auth:", "  user: signet", "  secret_file: %s" % path]

    def test_tls_and_auth_kept_across_sessions(self):
        # FAKEUP has no AUTH verb: its reply to unknown commands accepts.
        up = self.fake(Script(tls=base.MAT.ctx(), capabilities=[
            "PIPELINING", "8BITMIME", "AUTH PLAIN"],
            unknown="235 2.7.0 Authentication successful"))
        d = self.daemon(up.port, self.verified_upstream(
            "required", self.auth_lines(base.SECRET)), workers=1)
        for _ in range(3):
            r = self.send(d)
            self.assertEqual(r[-1].code, 250, r[-1].raw)
        txs = up.wait_transactions(3)
        self.assertEqual(len(up.connections), 1)
        conn = up.connections[0]
        self.assertTrue(conn.tls)
        cmds = [c.split(b" ", 1)[0].strip().upper() for c in conn.commands]
        self.assertEqual(cmds.count(b"STARTTLS"), 1, cmds)
        self.assertEqual(cmds.count(b"AUTH"), 1, cmds)
        for tx in txs:
            self.assertVerifies(tx.content, d)
        self.assertNotIn(base.SECRET.encode(), d.read_log())

    def test_reload_to_required_tls_never_reuses_plaintext(self):
        up = self.fake(Script(tls=base.MAT.ctx()))
        d = self.daemon(up.port, ["starttls: off"], workers=1)
        self.assertEqual(self.send(d)[-1].code, 250)
        up.wait_transactions(1)
        self.assertFalse(up.connections[0].tls)
        d.up_lines = self.verified_upstream("required")
        d.write_config()
        d.signal(signal.SIGHUP)
        self.assertTrue(d.wait_log(b"event=reload outcome=ok"))
        r = self.send(d)
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        txs = up.wait_transactions(2)
        self.assertEqual(len(up.connections), 2)
        self.assertEqual(len(up.connections[0].transactions), 1)
        self.assertTrue(up.connections[1].tls)
        self.assertEqual(up.connections[1].transactions, [txs[1]])


if __name__ == "__main__":
    tap.main()
