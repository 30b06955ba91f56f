"""Module-boundary and style rules that DESIGN.md and STYLE.md make
checkable: proxy/msg/ includes nothing from the rest of the tree, keys/
exports no way to get key bytes, banned string functions stay out, every
C file opens with its purpose comment, and no unfinished markers."""
import glob
import os
import re
import unittest

import tap
from signet_env import ROOT

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# Words that would name a way to hand private material out of keys/.
SECRET_WORDS = re.compile(r"\b\w*(priv|secret|seed|_pem|_der_private|raw_key)\w*\s*\(",
                          re.I)
BANNED = re.compile(r"\b(strcpy|strcat|sprintf|vsprintf|strtok|gets)\s*\(")
MARKERS = re.compile(r"\b(TODO|FIXME|XXX)\b")


def sources(*patterns):
    out = []
    for p in patterns:
        out += glob.glob(os.path.join(ROOT, p), recursive=True)
    return sorted(out)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


class Layout(unittest.TestCase):
    def test_msg_includes_nothing_outside_msg(self):
        for path in sources("proxy/msg/*.[ch]"):
            with self.subTest(file=os.path.relpath(path, ROOT)):
                for inc in INCLUDE.findall(open(path).read()):
                    self.assertTrue(inc.startswith("proxy/msg/"),
                                    "%s includes %s" % (path, inc))

    def test_keys_headers_export_no_key_bytes(self):
        for path in sources("keys/*.h"):
            with self.subTest(file=os.path.relpath(path, ROOT)):
                decls = strip_comments(open(path).read())
                self.assertIsNone(SECRET_WORDS.search(decls),
                                  "keys/ header names a private-key accessor")

    def test_only_keys_reads_private_keys(self):
        # Loading PEM private keys happens in keys/ only (tests excepted).
        for path in sources("proxy/**/*.c", "config/*.c", "tools/*.c"):
            with self.subTest(file=os.path.relpath(path, ROOT)):
                code = strip_comments(open(path).read())
                self.assertNotRegex(code, r"PEM_read_\w*PrivateKey|d2i_PrivateKey|"
                                    r"crypto_sign_seed_keypair")

    def test_no_banned_string_functions(self):
        for path in sources("proxy/**/*.[ch]", "keys/*.[ch]", "config/*.[ch]",
                            "tools/*.[ch]"):
            with self.subTest(file=os.path.relpath(path, ROOT)):
                self.assertIsNone(BANNED.search(strip_comments(open(path).read())))

    def test_every_c_file_opens_with_a_comment(self):
        for path in sources("proxy/**/*.c", "keys/*.c", "config/*.c", "tools/*.c"):
            with self.subTest(file=os.path.relpath(path, ROOT)):
                self.assertTrue(open(path).read().lstrip().startswith("/*"))

    def test_no_unfinished_markers(self):
        for path in sources("proxy/**/*.[ch]", "keys/*.[ch]", "config/*.[ch]",
                            "tools/*.[ch]", "tests/**/*.py", "tests/**/*.c"):
            # TAP's "# TODO" directive is protocol, not a marker.
            if os.path.basename(path) in ("test_layout.py", "tap.py", "run.py"):
                continue
            with self.subTest(file=os.path.relpath(path, ROOT)):
                self.assertIsNone(MARKERS.search(open(path).read()))


if __name__ == "__main__":
    tap.main()
