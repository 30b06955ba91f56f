#!/usr/bin/python3
"""Run every signet test and print one closing line: "N passed, N failed".

Each test program speaks TAP ("ok N - name", "not ok N - name",
"ok N - name # SKIP why").  A program that exits non-zero without reporting
a failure counts as one failure, so a crash is never a pass.

Stages, in order (a name filter on the command line selects programs):
  layout     tests/lint/*.py          module-boundary rules
  unit       build/tests/*            C unit tests
  unit-asan  build/asan/tests/*       the same under ASan+UBSan
  fuzz       build/fuzz/fuzz_*        bounded libFuzzer runs over seeds
  scripts    tests/<suite>/test_*.py  conformance, interop, smtp, rotation
  smtp-asan  tests/smtp/test_*.py     again, against the ASan+UBSan signetd
  tls-asan   tests/tls/test_*.py      the same for the TLS suite
  arc-asan   tests/arc/test_*.py      and for ARC sealing in signetd

Environment given to every test: SIGNET_ROOT, SIGNET_BUILD,
SIGNET_ASAN_BUILD, SIGNET_SHARED (the conformance data), PYTHONPATH with
tests/lib.
"""
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITES = ["lint", "conformance", "interop", "smtp", "rotation", "arc", "tls"]
FUZZ_RUNS = int(os.environ.get("SIGNET_FUZZ_RUNS", "20000"))
TIMEOUT = int(os.environ.get("SIGNET_TEST_TIMEOUT", "900"))

TAP_LINE = re.compile(r"^(not ok|ok)\b[^#]*(#\s*(SKIP|TODO)\b.*)?", re.I)


def shared_dir():
    env = os.environ.get("SIGNET_SHARED")
    if env:
        return env
    for cand in (os.path.join(ROOT, "..", "shared"),
                 os.path.join(ROOT, "shared")):
        if os.path.isdir(os.path.join(cand, "conformance")):
            return os.path.realpath(cand)
    return os.path.realpath(os.path.join(ROOT, "..", "shared"))


def environment():
    env = dict(os.environ)
    env["SIGNET_ROOT"] = ROOT
    env["SIGNET_BUILD"] = os.path.join(ROOT, "build")
    env["SIGNET_ASAN_BUILD"] = os.path.join(ROOT, "build", "asan")
    env["SIGNET_SHARED"] = shared_dir()
    env["PYTHONPATH"] = os.path.join(ROOT, "tests", "lib")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def run(self, label, argv, env, cwd=ROOT):
        start = time.time()
        try:
            proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=TIMEOUT)
            out = proc.stdout.decode("utf-8", "replace")
            rc = proc.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode("utf-8", "replace")
            out += "\n# timed out after %d s\n" % TIMEOUT
            rc = -1
        p = f = s = 0
        for line in out.splitlines():
            m = TAP_LINE.match(line)
            if not m:
                continue
            if m.group(3) and m.group(3).upper() == "SKIP":
                s += 1
            elif m.group(1).lower() == "ok":
                p += 1
            else:
                f += 1
                self.failures.append("%s: %s" % (label, line))
        if rc != 0 and f == 0:
            f = 1
            self.failures.append("%s: exited with status %d" % (label, rc))
        self.passed += p
        self.failed += f
        self.skipped += s
        status = "ok  " if f == 0 else "FAIL"
        print("%s %-48s %4d passed %3d failed %3d skipped %6.1fs" %
              (status, label, p, f, s, time.time() - start), flush=True)
        if f:
            sys.stdout.write(indent(out))
            sys.stdout.flush()


def indent(text, limit=200):
    lines = text.splitlines()
    if len(lines) > limit:
        lines = lines[:limit // 2] + ["...(%d lines)..." % (len(lines) - limit)] \
            + lines[-limit // 2:]
    return "".join("    | %s\n" % l for l in lines)


def programs(pattern):
    """(label, argv) for every test program, in stage order."""
    out = []
    for stage, d in (("unit", "build/tests"), ("unit-asan", "build/asan/tests")):
        full = os.path.join(ROOT, d)
        if os.path.isdir(full):
            for name in sorted(os.listdir(full)):
                path = os.path.join(full, name)
                if name.startswith("test_") and os.access(path, os.X_OK):
                    out.append(("%s/%s" % (stage, name), [path]))
    fuzzdir = os.path.join(ROOT, "build", "fuzz")
    if os.path.isdir(fuzzdir):
        for name in sorted(os.listdir(fuzzdir)):
            path = os.path.join(fuzzdir, name)
            if name.startswith("fuzz_") and os.access(path, os.X_OK) \
                    and os.path.isfile(path):
                out.append(("fuzz/%s" % name,
                            [sys.executable, os.path.join(ROOT, "tests", "fuzz", "run_one.py"),
                             path, str(FUZZ_RUNS)]))
    for suite in SUITES:
        d = os.path.join(ROOT, "tests", suite)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.startswith("test_") and name.endswith(".py"):
                out.append(("%s/%s" % (suite, name[:-3]),
                            ["/usr/bin/python3", os.path.join(d, name)]))
    # The integration suites again with the sanitized daemon: the tests
    # pick SIGNET_ASAN_BUILD's binaries when SIGNET_TEST_ASAN is set.
    for suite in ("smtp", "tls", "arc"):
        d = os.path.join(ROOT, "tests", suite)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.startswith("test_") and name.endswith(".py"):
                out.append(("%s-asan/%s" % (suite, name[:-3]),
                            ["/usr/bin/env", "SIGNET_TEST_ASAN=1", "/usr/bin/python3",
                             os.path.join(d, name)]))
    if pattern:
        out = [p for p in out if any(x in p[0] for x in pattern)]
    return out


def main():
    env = environment()
    tally = Tally()
    progs = programs(sys.argv[1:])
    start = time.time()
    for label, argv in progs:
        tally.run(label, argv, env)
    if tally.failures:
        print("\nfailures:")
        for f in tally.failures[:100]:
            print("  " + f)
    print("\n%d programs in %.0f s" % (len(progs), time.time() - start))
    if not progs:
        print("no test programs found")
        tally.failed += 1
    print("%d passed, %d failed, %d skipped" %
          (tally.passed, tally.failed, tally.skipped))
    sys.exit(0 if tally.failed == 0 else 1)


if __name__ == "__main__":
    main()
