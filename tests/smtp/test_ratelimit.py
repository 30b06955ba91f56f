"""Per-tenant rate limits (hostile-inputs.md DK-07, PR-07): past the
tenant's message limit MAIL gets `450 4.7.1 Error: too much mail from
<tenant>`, past its recipient limit RCPT gets `450 4.7.1 Error: too many
recipients from <tenant>`; other tenants are not affected, a reload keeps
the counts, and the next window frees the tenant."""
import signal
import time

import tap
from daemon import SessionTest, message
from rawsmtp import dot_stuff

WINDOW = 6


class Messages(SessionTest):
    tenant_extra = ["rate: { messages: 3, window: %ds }" % WINDOW]

    def mails_until_refused(self, c, most=10):
        """MAIL+RSET until a refusal; (accepted count, the refusal)."""
        for n in range(most):
            r = c.cmd("MAIL FROM:<alice@example.com>")
            if r.code != 250:
                return n, r
            self.assertReply(c.cmd("RSET"), 250)
        return most, None

    def test_loop_past_limit_then_window_frees(self):
        c = self.client()
        self.assertReply(c.cmd("EHLO c"), 250)
        start = time.monotonic()
        n, r = self.mails_until_refused(c)
        self.assertEqual(n, 3)
        self.assertReply(r, 450, "4.7.1", "Error: too much mail from local")
        self.assertIn(b"event=rate_limited", self.d.read_log())
        # Another tenant has its own count.
        o = self.client(source="127.0.0.3")
        self.assertReply(o.cmd("EHLO o"), 250)
        self.assertReply(o.cmd("MAIL FROM:<x@other.test>"), 250)
        # A reload keeps the count: still refused in this window.
        self.d.signal(signal.SIGHUP)
        self.assertTrue(self.d.wait_log(b"event=reload outcome=ok"))
        c2 = self.client()
        self.assertReply(c2.cmd("EHLO c"), 250)
        r = c2.cmd("MAIL FROM:<alice@example.com>")
        if time.monotonic() - start < WINDOW - 0.5:
            self.assertReply(r, 450, "4.7.1", "too much mail from local")
        # The window passes: mail flows again, up to the limit.
        time.sleep(max(0.0, start + WINDOW + 1.2 - time.monotonic()))
        self.assertReply(c2.cmd("RSET"), 250)
        self.assertReply(c2.cmd("MAIL FROM:<alice@example.com>"), 250)
        self.assertReply(c2.cmd("RCPT TO:<bob@dest.test>"), 250)
        self.assertReply(c2.cmd("DATA"), 354)
        c2.send(dot_stuff(message()) + b".\r\n")
        self.assertReply(c2.read_reply(), 250)


class Recipients(SessionTest):
    tenant_extra = ["rate: { recipients: 5, window: %ds }" % WINDOW]

    def test_sixth_recipient_refused_then_window_frees(self):
        before = len(self.d.outbox())
        c = self.client()
        self.assertReply(c.cmd("EHLO c"), 250)
        start = time.monotonic()
        self.assertReply(c.cmd("MAIL FROM:<alice@example.com>"), 250)
        for i in range(5):
            self.assertReply(c.cmd("RCPT TO:<r%d@dest.test>" % i), 250)
        self.assertReply(c.cmd("RCPT TO:<r5@dest.test>"), 450, "4.7.1",
                         "Error: too many recipients from local")
        # The message still goes to the five accepted.
        self.assertReply(c.cmd("DATA"), 354)
        c.send(dot_stuff(message()) + b".\r\n")
        self.assertReply(c.read_reply(), 250)
        self.assertEqual(len(self.d.outbox()), before + 1)
        self.assertReply(c.cmd("MAIL FROM:<alice@example.com>"), 250)
        r = c.cmd("RCPT TO:<late@dest.test>")
        if time.monotonic() - start < WINDOW - 0.5:
            self.assertReply(r, 450, "4.7.1")
        time.sleep(max(0.0, start + WINDOW + 1.2 - time.monotonic()))
        self.assertReply(c.cmd("RCPT TO:<later@dest.test>"), 250)


if __name__ == "__main__":
    tap.main()
