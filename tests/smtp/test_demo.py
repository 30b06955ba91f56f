"""`make run` end to end, as a new user meets it: tools/run-demo.sh in an
empty working directory generates example.com's keys (signetctl keys
init) and prints the records to publish, then runs signetd --demo on
127.0.0.1:2525 writing to ./var/outbox.  The swaks line it prints
delivers a message, `signetctl verify --dns-file` with the printed
records passes it (as does dkimpy), and SIGTERM stops it with status 0.
A second run reuses the keys."""
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import tap
import verifiers
from peers import stop_pid, wait_port
from daemon import ASAN
from signet_env import ASAN_BUILD, BUILD, ROOT, binary

DEMO_PORT = 2525
RECORD = re.compile(r'^(\S+)\.\s+\d+\s+IN\s+TXT\s+\((.*)\)\s*$', re.M)


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def records(text):
    """{name: TXT value} from the zone-file lines keys init prints."""
    return {m.group(1): "".join(re.findall(r'"([^"]*)"', m.group(2)))
            for m in RECORD.finditer(text)}


class Demo(unittest.TestCase):
    def setUp(self):
        if not port_free(DEMO_PORT):
            self.skipTest("127.0.0.1:%d is in use" % DEMO_PORT)
        self.dir = tempfile.mkdtemp(prefix="signet-demo-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def start(self):
        out = open(os.path.join(self.dir, "demo.out"), "ab")
        self.addCleanup(out.close)
        env = dict(os.environ, BUILD=ASAN_BUILD if ASAN else BUILD)
        p = subprocess.Popen(["sh", os.path.join(ROOT, "tools", "run-demo.sh")],
                             cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                             stdout=out, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: p.poll() is None and stop_pid(p.pid))
        wait_port(DEMO_PORT, proc=p, timeout=60)
        return p

    def output(self):
        with open(os.path.join(self.dir, "demo.out")) as f:
            return f.read()

    def stop(self, p):
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=20), 0, self.output())
        self.assertNotIn("Sanitizer", self.output())
        self.assertNotIn("runtime error:", self.output())

    def swaks(self, text):
        m = re.search(r"try:\s+(swaks .*?)\n\s+stop:", text, re.S)
        self.assertIsNotNone(m, text)
        argv = shlex.split(m.group(1).replace("\\\n", " "))
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:])

    def outbox(self):
        box = os.path.join(self.dir, "var", "outbox")
        names = sorted(n for n in os.listdir(box) if n.endswith(".eml"))
        out = []
        for n in names:
            with open(os.path.join(box, n), "rb") as f:
                out.append(f.read())
        return out

    def test_make_run_as_new_user(self):
        p = self.start()
        text = self.output()
        dns = records(text)
        self.assertEqual(sorted(dns), ["s1._domainkey.example.com",
                                       "s2._domainkey.example.com"], text)
        self.swaks(text)
        msgs = self.outbox()
        self.assertEqual(len(msgs), 1)

        dnsfile = os.path.join(self.dir, "records.txt")
        with open(dnsfile, "w") as f:
            for name, value in dns.items():
                f.write("%s %s\n" % (name, value))
        v = subprocess.run([binary("signetctl", ASAN), "verify", "--dns-file",
                            dnsfile], input=msgs[0], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        lines = v.stdout.decode().splitlines()
        self.assertEqual(len(lines), 2, lines)
        for sel, line in zip(("s1", "s2"), lines):
            self.assertIn("s=%s" % sel, line)
            self.assertIn("pass", line)
        res = verifiers.dkimpy(msgs[0], dns)
        self.assertTrue(res and all(r.passed for r in res), res)
        self.stop(p)

        # Later runs keep the keys: the same records still verify.
        p = self.start()
        self.assertEqual(self.output().count("first run"), 1)
        self.swaks(self.output())
        self.assertEqual(len(self.outbox()), 2)
        for m in self.outbox():
            res = verifiers.dkimpy(m, dns)
            self.assertTrue(res and all(r.passed for r in res), res)
        self.stop(p)


if __name__ == "__main__":
    tap.main()
