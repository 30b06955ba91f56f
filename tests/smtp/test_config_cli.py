"""`signetctl config check` as an operator uses it (DESIGN.md contract,
hostile-inputs.md KY-05): "FILE: ok" and exit 0 for a good file; every
error as FILE:LINE:COL on stderr and exit 1 for a bad one; exit 2 for a
usage error.  The shipped config/signet.yaml must pass."""
import os
import re
import shutil
import tempfile
import unittest

import tap
from signet_env import ROOT, binary, signetctl

GOOD = """listen: [{ address: "127.0.0.1:2525" }]
upstream: { address: "file:/tmp/out" }
keystore: /k
spool: /s
"""

ERROR_LINE = re.compile(r"^(.+):(\d+):(\d+): (.+)$")


class ConfigCheck(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(binary("signetctl")):
            self.skipTest("signetctl not built")
        self.dir = tempfile.mkdtemp(prefix="signet-cfgcli-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_example_file_passes(self):
        path = os.path.join(ROOT, "config", "signet.yaml")
        p = signetctl("config", "check", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode(), "%s: ok\n" % path)

    def test_good_file(self):
        path = self.write("good.yaml", GOOD)
        p = signetctl("config", "check", path)
        self.assertEqual((p.returncode, p.stdout.decode(), p.stderr),
                         (0, "%s: ok\n" % path, b""))

    def test_dash_c_names_the_file(self):
        path = self.write("good.yaml", GOOD)
        p = signetctl("-c", path, "config", "check")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode(), "%s: ok\n" % path)

    def test_errors(self):
        cases = [
            ("unknown key", GOOD + "bogus: 1\n", [(5, 1, "unknown key 'bogus'")]),
            ("syntax", GOOD + "limits: [\n", [(6, 1, "YAML syntax error")]),
            ("two problems", GOOD + "limits: { max_message_size: 5G }\n"
             "workers: none\n",
             [(5, 29, "max_message_size: 5G out of range"),
              (6, 10, "workers: expected auto or 1..256")]),
            ("chunking enum", GOOD.replace(
                'upstream: { address: "file:/tmp/out" }',
                "upstream:\n  address: 127.0.0.1:25\n  chunking: maybe"),
             [(4, 13, "chunking: invalid value 'maybe' (expected auto, off)")]),
        ]
        for name, text, want in cases:
            with self.subTest(name):
                path = self.write("bad.yaml", text)
                p = signetctl("config", "check", path)
                self.assertEqual(p.returncode, 1)
                self.assertEqual(p.stdout, b"")
                lines = p.stderr.decode().splitlines()
                self.assertEqual(len(lines), len(want), lines)
                for line, (ln, col, msg) in zip(lines, want):
                    m = ERROR_LINE.match(line)
                    self.assertIsNotNone(m, line)
                    self.assertEqual((m.group(1), int(m.group(2)),
                                      int(m.group(3))), (path, ln, col))
                    self.assertTrue(m.group(4).startswith(msg), line)

    def test_missing_file(self):
        path = os.path.join(self.dir, "absent.yaml")
        p = signetctl("config", "check", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s:1:1: No such file" % path, p.stderr.decode())

    def test_usage(self):
        for argv in (["config"], ["config", "lint", "x"],
                     ["config", "check", "a", "b"]):
            with self.subTest(" ".join(argv)):
                p = signetctl(*argv)
                self.assertEqual(p.returncode, 2)
                self.assertIn(b"usage", p.stderr)


if __name__ == "__main__":
    tap.main()
