#!/usr/bin/python3
"""`make bench`: signet's signing throughput next to the crypto ceiling
and next to dkimpy, all measured in this one run on one core.

Printed:
  * library signing rate (bench_sign: messages/s, in process, no I/O)
    for 4 KiB and 100 KiB messages with one RSA-2048 signature, two
    RSA-2048 signatures, and RSA-2048 + Ed25519;
  * the ceiling from `openssl speed -seconds N rsa2048` / `ed25519`
    (sign/s; a message with two signatures needs both, so its ceiling
    is 1 / (1/a + 1/b), half for two RSA keys) and signet's share of it;
  * SHA-256 throughput (`openssl speed -evp sha256 -bytes 16384`) next
    to signet's relaxed body-hash rate (bench_sign -B);
  * dkimpy's rate on the same messages and keys.

Everything is pinned to one CPU (sched_setaffinity, inherited by the
children), and every rate is per second of CPU time, as `openssl speed`
computes its own (it divides by user time unless given -elapsed): other
load on the machine makes the run longer, not the figures smaller.  Results also go to
BUILD/bench/results.json.

usage: run.py [--seconds N] [--build DIR]
Environment: SIGNET_BUILD (default build/), SIGNET_BENCH_SECONDS.
Exit status 1 when a measurement could not be made.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

import dkim  # noqa: E402

import e2e  # noqa: E402
import verifiers  # noqa: E402
from signet_env import BUILD  # noqa: E402

SIZES = [("4 KiB", 4 * 1024), ("100 KiB", 100 * 1024)]
# (label, key names); keys: r1, r2 RSA-2048, e1 Ed25519.
SETS = [("rsa2048", ["r1"]), ("rsa2048 x2", ["r1", "r2"]),
        ("rsa2048+ed25519", ["r1", "e1"])]

HEADER = ("From: Alice Example <alice@example.com>\r\n"
          "To: Bob <bob@example.org>\r\n"
          "Subject: signet bench message\r\n"
          "Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
          "Message-ID: <bench@example.com>\r\n"
          "MIME-Version: 1.0\r\n"
          "Content-Type: text/plain; charset=us-ascii\r\n\r\n")
LINE = "The quick brown fox jumps over the lazy dog;  pack my box\tof jugs. \r\n"


def message(size):
    """A CRLF text message of exactly size octets."""
    head = HEADER.encode()
    body = (LINE * (size // len(LINE) + 1)).encode()
    body = body[:size - len(head) - 2] + b"\r\n"
    msg = head + body
    assert len(msg) == size
    return msg


def run(argv):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode,
                                                r.stderr.strip()))
    return r.stdout


def kv(line):
    return dict(p.split("=", 1) for p in line.split())


def openssl_sign_rate(alg, seconds):
    """sign/s from `openssl speed -seconds N ALG` (rsa2048, ed25519)."""
    out = run(["openssl", "speed", "-seconds", str(seconds), alg])
    for line in out.splitlines():
        if (alg == "rsa2048" and line.startswith("rsa 2048 bits")) or \
                (alg == "ed25519" and "(Ed25519)" in line):
            return float(line.split()[-2])
    raise RuntimeError("no %s figure in openssl speed output:\n%s" % (alg, out))


def openssl_sha256(seconds):
    """SHA-256 bytes/s on 16 KiB blocks (openssl prints 1000s of bytes/s)."""
    out = run(["openssl", "speed", "-seconds", str(seconds), "-bytes", "16384",
               "-evp", "sha256"])
    for line in out.splitlines():
        m = re.match(r"^sha256\s+([0-9.]+)k\s*$", line.strip())
        if m:
            return float(m.group(1)) * 1000
    raise RuntimeError("no sha256 figure in openssl speed output:\n%s" % out)


def dkimpy_rate(msg, keys, seconds):
    """Messages/s of dkimpy signing msg once per key (relaxed/relaxed)."""
    def once():
        m = msg
        for sel, (alg, key) in keys:
            m = dkim.sign(m, sel.encode(), b"example.com", key,
                          canonicalize=(b"relaxed", b"relaxed"),
                          signature_algorithm=alg) + m
        return m

    once()
    n, t0 = 0, time.process_time()
    while True:
        once()
        n += 1
        t = time.process_time() - t0
        if t >= seconds:
            return n / t


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    ap = argparse.ArgumentParser(description="signet signing benchmark")
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("SIGNET_BENCH_SECONDS", "2")))
    ap.add_argument("--build", default=BUILD)
    args = ap.parse_args()
    secs = args.seconds
    ossl_secs = max(1, int(round(secs)))
    driver = os.path.join(args.build, "bench", "bench_sign")
    if not os.access(driver, os.X_OK):
        print("bench: %s is missing (make bench builds it)" % driver, file=sys.stderr)
        return 1
    allcpus = os.sched_getaffinity(0)
    cpu = sorted(allcpus)[0]
    os.sched_setaffinity(0, {cpu})

    tmp = tempfile.TemporaryDirectory(prefix="signet-bench-")
    keyfiles, pykeys = {}, {}
    for name in ("r1", "r2", "e1"):
        if name.startswith("r"):
            pem, _ = verifiers.rsa_key(2048)
            pykeys[name] = (b"rsa-sha256", pem)
        else:
            seed, pem, _ = verifiers.ed25519_key()
            pykeys[name] = (b"ed25519-sha256", seed)
        path = os.path.join(tmp.name, name + ".pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        keyfiles[name] = path
    msgfiles = {}
    for label, size in SIZES:
        path = os.path.join(tmp.name, "m%d.eml" % size)
        with open(path, "wb") as f:
            f.write(message(size))
        msgfiles[label] = path

    cpu_model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    print("signet bench: one core (cpu %d, %s), %.1f s per figure, %s"
          % (cpu, cpu_model, secs, os.path.relpath(driver)))
    print()

    rsa = openssl_sign_rate("rsa2048", ossl_secs)
    ed = openssl_sign_rate("ed25519", ossl_secs)
    sha = openssl_sha256(ossl_secs)
    ceiling_of = {"r1": rsa, "r2": rsa, "e1": ed}
    print("crypto ceiling (openssl speed): rsa2048 %.0f sign/s, ed25519 %.0f sign/s"
          % (rsa, ed))
    print()
    results = {"cpu": cpu_model, "seconds": secs, "openssl": {
        "rsa2048_sign_per_s": rsa, "ed25519_sign_per_s": ed,
        "sha256_bytes_per_s": sha}, "sign": []}

    fmt = "%-8s %-16s %12s %12s %8s %12s %9s"
    print(fmt % ("message", "signatures", "signet msg/s", "ceiling", "share",
                 "dkimpy msg/s", "vs dkimpy"))
    for label, _ in SIZES:
        msg = open(msgfiles[label], "rb").read()
        for setname, names in SETS:
            argv = [driver, "-s", str(secs)]
            for n in names:
                argv += ["-k", keyfiles[n]]
            got = kv(run(argv + [msgfiles[label]]).strip())
            ours = float(got["msgs_per_s"])
            ceiling = 1.0 / sum(1.0 / ceiling_of[n] for n in names)
            py = dkimpy_rate(msg, [("s%d" % i, pykeys[n]) for i, n in enumerate(names)],
                             secs)
            print(fmt % (label, setname, "%.0f" % ours, "%.0f" % ceiling,
                         "%.0f%%" % (100 * ratio(ours, ceiling)), "%.0f" % py,
                         "%.1fx" % ratio(ours, py)))
            results["sign"].append({"message": label, "signatures": setname,
                                    "signet_msgs_per_s": ours,
                                    "ceiling_msgs_per_s": ceiling,
                                    "dkimpy_msgs_per_s": py})
    print()

    print("SHA-256 (openssl, 16 KiB blocks): %.2f GB/s" % (sha / 1e9))
    for canon in ("simple", "relaxed"):
        body = kv(run([driver, "-s", str(secs), "-B", "-c", canon,
                       msgfiles["100 KiB"]]).strip())
        ours_bh = float(body["bytes_per_s"])
        print("signet %s body hash (canonicalize + SHA-256): %.2f GB/s = "
              "%.0f%% of SHA-256" % (canon, ours_bh / 1e9, 100 * ratio(ours_bh, sha)))
        results["bodyhash_%s_bytes_per_s" % canon] = ours_bh

    out = os.path.join(args.build, "bench", "results.json")
    try:
        with open(out, "w") as f:
            json.dump(results, f, indent=1)
        print("results: %s" % os.path.relpath(out))
    except OSError as e:
        print("bench: cannot write %s: %s" % (out, e), file=sys.stderr)
    tmp.cleanup()
    print()
    return e2e.main(args.build, allcpus)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        print("bench: %s" % e, file=sys.stderr)
        sys.exit(1)
