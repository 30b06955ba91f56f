"""The spool under faults (hostile-inputs RS-01, RS-02): a full disk
refuses MAIL with 452 4.3.1 or fails the message with 451 4.3.0 and leaves
nothing behind; an unsafe spool directory stops start-up; leftovers (and a
planted symlink) are removed at start-up without following them; a kill -9
in the middle of DATA never acknowledged the message and leaves no file.

The spool is a small tmpfs mounted for the test (the suite runs as root);
without mount permission these tests are skipped."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

import tap
from daemon import Signetd, message
from peers import SmtpSink
from rawsmtp import RawSMTP, dot_stuff, session
from signet_env import binary

MiB = 1024 * 1024
SPOOL_PREFIX = "signet-spool."      # proxy/spool.h SPOOL_FILE_PREFIX


def mount_tmpfs(path, size):
    p = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%d,mode=0700" % size, "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode == 0


def umount(path):
    subprocess.run(["umount", "-l", path], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def free_bytes(path):
    v = os.statvfs(path)
    return v.f_bavail * v.f_frsize


def fill(path, leave):
    """A filler file in path leaving about `leave` bytes free."""
    name = os.path.join(path, "..filler")
    with open(name, "wb") as f:
        chunk = b"\0" * 65536
        try:
            while free_bytes(path) > leave + len(chunk):
                f.write(chunk)
                f.flush()
        except OSError:
            pass
    return name


def big_message(size):
    line = b"x" * 76 + b"\r\n"
    return message(body=line * (size // len(line)))


class SpoolFaults(unittest.TestCase):
    def daemon(self, tmpfs_size, extra="", upstream=None, limits=None):
        if upstream is None:
            sink = SmtpSink(())
            sink.start()
            self.addCleanup(sink.cleanup)
            upstream = sink.port
            self.sink = sink
        d = Signetd(upstream=upstream, limits=limits)
        self.addCleanup(d.cleanup)
        if not mount_tmpfs(d.spool, tmpfs_size):
            self.skipTest("cannot mount a tmpfs (not root?)")
        # cleanup runs in reverse: unmount after signetd stopped.
        self.addCleanup(umount, d.spool)
        os.chmod(d.spool, 0o700)
        d.write_config(d.config_text() + extra)
        d.start()
        return d

    def spool_entries(self, d):
        return sorted(n for n in os.listdir(d.spool) if n != "..filler")

    def test_disk_full_during_data_rs01(self):
        """RS-01: free space vanishes after MAIL; the write error during
        DATA gives 451 4.3.0 after the real end of data, nothing reaches
        the upstream, no partial file stays, and the next message (with
        space again) goes through."""
        d = self.daemon(4 * MiB, "spool_memory_max: 64K\n",
                        limits={"max_message_size": "2M"})
        c = RawSMTP(d.port)
        self.addCleanup(c.close)
        self.assertEqual(c.read_reply().code, 220)
        self.assertEqual(c.cmd("EHLO client.test").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<bob@dest.test>").code, 250)
        filler = fill(d.spool, 256 * 1024)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(dot_stuff(big_message(3 * MiB // 2)) + b".\r\n")
        r = c.read_reply(timeout=30)
        self.assertEqual((r.code, r.enhanced), (451, "4.3.0"), r.raw)
        # The session goes on (RFC 5321: a 4xx leaves it usable).
        self.assertEqual(c.cmd("NOOP").code, 250)
        c.cmd("QUIT")
        self.assertEqual(self.sink.count(), 0)
        self.assertEqual(self.spool_entries(d), [])
        os.unlink(filler)
        # The unnamed temporary file is gone too: all space is back.
        self.assertGreater(free_bytes(d.spool), 4 * MiB - 64 * 1024)
        self.assertIn(b"spool", d.read_log())
        r = session(d.port, "alice@example.com", ["bob@dest.test"],
                    big_message(3 * MiB // 2))
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        self.assertEqual(len(self.sink.wait_count(1)), 1)

    def test_short_space_refused_at_mail_rs01(self):
        """RS-01: less than 1.5 x max_message_size free: MAIL gets
        452 4.3.1 and nothing is relayed; with space again, MAIL works."""
        d = self.daemon(4 * MiB, limits={"max_message_size": "2M"})
        filler = fill(d.spool, 2 * MiB)
        r = session(d.port, "alice@example.com", ["bob@dest.test"], message())
        self.assertEqual((r[-1].code, r[-1].enhanced), (452, "4.3.1"),
                         r[-1].raw)
        self.assertIn(b"event=spool_space_short", d.read_log())
        os.unlink(filler)
        r = session(d.port, "alice@example.com", ["bob@dest.test"], message())
        self.assertEqual(r[-1].code, 250, r[-1].raw)
        self.assertEqual(len(self.sink.wait_count(1)), 1)


class SpoolStartup(unittest.TestCase):
    def fresh(self):
        d = Signetd()
        self.addCleanup(d.cleanup)
        return d

    def test_unsafe_spool_dir_refused_rs02(self):
        """RS-02: a spool directory others can write (or a symlink in its
        place) stops start-up with a non-zero exit naming it."""
        for case in ("0777", "0755", "symlink"):
            with self.subTest(case=case):
                d = self.fresh()
                if case == "symlink":
                    real = tempfile.mkdtemp(prefix="signet-elsewhere-")
                    self.addCleanup(os.rmdir, real)
                    os.rmdir(d.spool)
                    os.symlink(real, d.spool)
                else:
                    os.chmod(d.spool, int(case, 8))
                p = subprocess.run([binary("signetd", d.asan), "-c", d.config,
                                    "-f"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, cwd=d.dir,
                                   timeout=30)
                self.assertNotEqual(p.returncode, 0, p.stdout)
                self.assertIn(d.spool.encode(), p.stdout)
                self.assertNotIn(b"Sanitizer", p.stdout)

    def test_leftovers_and_planted_symlink_removed_rs02(self):
        """RS-02: spool files left by a crash (named signet-spool.*) are
        removed at start-up and counted in the log; a symlink planted under
        such a name is removed without touching its target; other names are
        not ours and stay."""
        d = self.fresh()
        victim = os.path.join(d.dir, "victim")
        with open(victim, "wb") as f:
            f.write(b"keep me\n")
        os.symlink(victim, os.path.join(d.spool, SPOOL_PREFIX + "planted"))
        for i in range(2):
            with open(os.path.join(d.spool, SPOOL_PREFIX + "left%d" % i),
                      "wb") as f:
                f.write(b"half a message\r\n")
        with open(os.path.join(d.spool, "not-ours"), "wb") as f:
            f.write(b"x")
        d.start()
        self.assertTrue(d.wait_log(b"spool_leftovers=3"), d.read_log()[-500:])
        self.assertEqual(os.listdir(d.spool), ["not-ours"])
        with open(victim, "rb") as f:
            self.assertEqual(f.read(), b"keep me\n")
        r = session(d.port, "alice@example.com", ["bob@dest.test"], message())
        self.assertEqual(r[-1].code, 250)
        self.assertEqual(os.listdir(d.spool), ["not-ours"])

    def test_kill_9_mid_data_rs02(self):
        """RS-02: signetd killed in the middle of a large DATA: the client
        never got a 250, nothing was relayed, no spool file remains, and a
        restart starts clean."""
        d = Signetd(limits={"max_message_size": "4M"})
        self.addCleanup(d.cleanup, False)
        d.write_config(d.config_text() + "spool_memory_max: 64K\n")
        d.start()
        c = RawSMTP(d.port)
        self.addCleanup(c.close)
        c.open_data(ehlo="client.test")
        c.send(dot_stuff(big_message(MiB)))   # no final dot
        time.sleep(0.5)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(10)
        d.proc = None
        d.log.close()
        got = b""
        try:
            c.sock.settimeout(5)
            while True:
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
        self.assertNotIn(b"250", got)
        self.assertEqual(os.listdir(d.spool), [])
        self.assertEqual(d.outbox(), [])
        d.start()
        self.assertTrue(d.wait_log(b"event=started"))
        self.assertEqual(os.listdir(d.spool), [])
        self.assertEqual(d.outbox(), [])


if __name__ == "__main__":
    tap.main()
