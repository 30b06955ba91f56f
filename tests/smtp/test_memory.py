"""Bounded resources (promise 5, RS-03, PR-08): 200 clients each sending a
20 MiB message at the same time keep signetd's peak RSS (VmHWM) under
200 MiB, because the spool keeps at most spool_memory_max (default 1 MiB)
per message in memory and, past it, moves the whole message to an
unlinked temp file and frees the memory, and the relay streams the body
back from the spool.  Clients that announce SIZE= spill early; clients
that do not are measured too.  Every message is
accepted by the upstream (smtp-sink, without dumps: 4 GiB of dumps would
only measure the disk).

The ASan build carries its own allocator quarantine and shadow memory,
so there the same traffic is sent at a tenth of the scale and only the
replies are checked."""
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

import tap
from daemon import ASAN, Signetd
from peers import SINK_USER, SMTP_SINK, stop_pid
from signet_env import free_port

MIB = 1024 * 1024
CLIENTS = 20 if ASAN else 200
SIZE = 20 * MIB
RSS_LIMIT_KB = 200 * 1024

# 78 octets of text and CRLF: a valid body line, repeated.
LINE = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+\r\n"
BLOCK = LINE * (MIB // len(LINE))


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for %d" % pid)


def read_reply(sock, f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("closed after %r" % lines)
        lines.append(line)
        if line[3:4] != b"-":
            return int(line[:3]), b"".join(lines)


def send_big(port, k, results, announce=True):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
            f = s.makefile("rb")
            read_reply(s, f)
            s.sendall(b"EHLO big%d.test\r\n" % k)
            read_reply(s, f)
            size = b" SIZE=%d" % (SIZE + 200) if announce else b""
            s.sendall(b"MAIL FROM:<alice@example.com>%s\r\n" % size)
            code, raw = read_reply(s, f)
            if code != 250:
                results[k] = raw
                return
            s.sendall(b"RCPT TO:<bob@dest.test>\r\n")
            read_reply(s, f)
            s.sendall(b"DATA\r\n")
            code, raw = read_reply(s, f)
            if code != 354:
                results[k] = raw
                return
            s.sendall(b"From: alice@example.com\r\nTo: bob@dest.test\r\n"
                      b"Subject: big %d\r\n\r\n" % k)
            sent = 0
            while sent < SIZE:
                s.sendall(BLOCK)
                sent += len(BLOCK)
            s.sendall(b".\r\n")
            code, raw = read_reply(s, f)
            results[k] = code if code == 250 else raw
            s.sendall(b"QUIT\r\n")
    except OSError as e:
        results[k] = repr(e)


class Memory(unittest.TestCase):
    def sink(self):
        port = free_port()
        log = open(os.devnull, "wb")
        self.addCleanup(log.close)
        p = subprocess.Popen([SMTP_SINK, "-4", "-u", SINK_USER, "-h",
                              "sink.test", "127.0.0.1:%d" % port, "512"],
                             stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT)
        self.addCleanup(lambda: (stop_pid(p.pid), p.wait()))
        end = time.monotonic() + 10
        needle = ":%04X" % port
        while time.monotonic() < end:
            with open("/proc/net/tcp") as f:
                if any(l.split()[1].endswith(needle) and l.split()[3] == "0A"
                       for l in list(f)[1:]):
                    return port
            time.sleep(0.05)
        self.fail("smtp-sink did not start")

    def test_200_concurrent_20mib_messages_bounded_rss(self):
        self.run_clients(announce=True)

    def test_200_concurrent_20mib_without_size_bounded_rss(self):
        self.run_clients(announce=False)

    def run_clients(self, announce):
        sink = self.sink()
        d = Signetd(upstream=sink, limits={
            "max_message_size": "32M", "max_connections": "1000",
            "max_connections_per_ip": "500", "data_timeout": "120s",
            "idle_timeout": "120s"})
        self.addCleanup(d.cleanup)
        d.start()
        base = vm_hwm_kb(d.proc.pid)
        results = {}
        threads = [threading.Thread(target=send_big,
                                    args=(d.port, k, results, announce))
                   for k in range(CLIENTS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        hwm = vm_hwm_kb(d.proc.pid)
        print("# %d x %d MiB (%s) in %.1f s; VmHWM %d KiB (at start %d KiB)"
              % (CLIENTS, SIZE // MIB, "SIZE=" if announce else "no SIZE=",
                 elapsed, hwm, base), file=sys.stderr)
        bad = {k: v for k, v in results.items() if v != 250}
        self.assertEqual(bad, {})
        self.assertEqual(len(results), CLIENTS)
        if not ASAN:
            self.assertLess(hwm, RSS_LIMIT_KB)
        self.assertEqual(os.listdir(d.spool), [])


if __name__ == "__main__":
    tap.main()
