#!/usr/bin/python3
"""Run one libFuzzer target for a bounded number of iterations.

Seeds come from tests/fuzz/corpus/<target>/ (committed) and the run's new
inputs go to a scratch directory, so the tree is never written.  Prints one
TAP line; a crash, leak or sanitizer report fails it and the reproducer is
left in build/fuzz/crashes/.

The seed is fixed (SIGNET_FUZZ_SEED, default 1) so that make test gives
the same answer on every run; SIGNET_FUZZ_SEED=0 lets libFuzzer pick one,
for exploratory runs with a larger SIGNET_FUZZ_RUNS.
"""
import os
import shutil
import subprocess
import sys
import tempfile

target, runs = sys.argv[1], sys.argv[2]
name = os.path.basename(target)
root = os.environ.get("SIGNET_ROOT", os.getcwd())
seeds = os.path.join(root, "tests", "fuzz", "corpus", name)
crashes = os.path.join(root, "build", "fuzz", "crashes", name)
os.makedirs(crashes, exist_ok=True)
work = tempfile.mkdtemp(prefix="signet-fuzz-")
try:
    seed = os.environ.get("SIGNET_FUZZ_SEED", "1")
    argv = [target, "-runs=" + runs, "-seed=" + seed, "-max_len=65536", "-timeout=10",
            "-rss_limit_mb=2048", "-artifact_prefix=" + crashes + "/", work]
    if os.path.isdir(seeds):
        argv.append(seeds)
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode == 0:
        print("ok 1 - %s: %s runs without a finding" % (name, runs))
    else:
        print("not ok 1 - %s: exit %d" % (name, proc.returncode))
        for line in out.splitlines()[-60:]:
            print("#   " + line)
finally:
    shutil.rmtree(work, ignore_errors=True)
print("1..1")
