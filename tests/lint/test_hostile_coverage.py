"""Every row of design/hostile-inputs.md has a test: the row id (`PR-04`)
or its short form in a test name (`pr04`) must appear in at least one file
under tests/ other than this one.  One subTest per row, so a row that
loses its last test fails by name."""
import os
import re
import unittest

import tap
from signet_env import ROOT, SHARED

TABLE = os.path.join(SHARED, "design", "hostile-inputs.md")
# A table row starts with "| XX-NN |"; prose mentions of ids are not rows.
ROW = re.compile(r"^\|\s*([A-Z]{2})-(\d{2})\s*\|", re.M)
SELF = os.path.abspath(__file__)


def test_texts():
    out = []
    for base, dirs, files in os.walk(os.path.join(ROOT, "tests")):
        dirs[:] = [d for d in dirs if d not in ("corpus", "__pycache__")]
        for name in files:
            path = os.path.abspath(os.path.join(base, name))
            if path == SELF or not name.endswith((".py", ".c", ".h", ".pl")):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                out.append((os.path.relpath(path, ROOT), f.read()))
    return out


class HostileCoverage(unittest.TestCase):
    def test_every_row_has_a_test(self):
        with open(TABLE, encoding="utf-8") as f:
            rows = ROW.findall(f.read())
        # The table says how many rows it has; a parse that finds far fewer
        # would make this check pass vacuously.
        self.assertGreaterEqual(len(rows), 60, "rows parsed from %s" % TABLE)
        texts = test_texts()
        for prefix, num in rows:
            rid = "%s-%s" % (prefix, num)
            # Short form only as part of an identifier (test_x_pr04), so
            # "pr04" inside a base64 blob or a hex string does not count.
            short = re.compile(r"(?<![A-Za-z0-9])%s%s(?![0-9])|_%s%s(?![0-9])"
                               % (prefix.lower(), num, prefix.lower(), num))
            with self.subTest(row=rid):
                hits = [p for p, t in texts if rid in t or short.search(t)]
                self.assertTrue(hits, "%s has no test under tests/" % rid)


if __name__ == "__main__":
    tap.main()
