"""`make bench`, end to end (issue 3): Postfix's smtp-source drives
signetd relaying to smtp-sink, and in the same run a private Postfix
with OpenDKIM as its milter signing with the same two RSA keys, relaying
to the same kind of sink.  Printed, never asserted:

  * messages/s for 10 and 50 sessions, 4 KiB and 100 KiB messages, with
    one connection per message (smtp-source's default) and, for signetd,
    with each session's connection kept for all its messages (-d);
  * CPU seconds per message of signetd (and of opendkim) from
    /proc/PID/stat;
  * added latency, p50 and p99: one client sending one message at a time
    through signetd, against the same client talking to smtp-sink
    directly;
  * the crypto-only rate (bench_sign with both keys, dual RSA-2048, on
    one core) and signetd's messages per CPU-second as a share of it
    (issue 3 asks for 80%): the work signetd adds to the signatures,
    whatever else runs on the machine; judged on kept connections, where
    the kernel's TCP setup and teardown (two connections per message,
    paid in signetd's system time) is not counted against signing;
  * signetd with 1 and 2 workers (DESIGN.md targets 1.8x), see scaling(),
    with RSA-2048 keys and again with RSA-4096 keys, where signing
    outweighs the load generator and the sink that share the two CPUs.

Postfix accepts into its queue and relays afterwards, while signetd
answers only with the upstream's verdict, so Postfix's figure is its
acceptance rate.  Both run unpinned on every CPU of the machine.
"""
import contextlib
import os
import resource
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "lib"))
sys.path.insert(0, os.path.join(TESTS, "smtp"))

from daemon import Signetd, make_key, write_domain  # noqa: E402
from peers import SINK_USER, SMTP_SINK, Postfix, stop_pid, wait_port  # noqa: E402
from signet_env import free_port  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"
OPENDKIM = "/usr/sbin/opendkim"
SIZES = [("4 KiB", 4 * 1024, 2000), ("100 KiB", 100 * 1024, 400)]
SESSIONS = [10, 50]
LATENCY_MSGS = 300
# A pinned 1-worker run counts as CPU-bound when signetd used at least
# this share of its core; below it the machine was busy elsewhere.
CPU_BOUND = 0.9
CLK = os.sysconf("SC_CLK_TCK")
FROM = "alice@example.com"
TO = "bob@dest.test"

LIMITS = {"max_message_size": "10M", "max_connections": "1000",
          "max_connections_per_ip": "500", "idle_timeout": "120s",
          "data_timeout": "120s", "hard_error_limit": "100",
          "soft_error_limit": "50"}


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def children_cpu():
    """CPU seconds of the children waited for so far (smtp-source)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@contextlib.contextmanager
def pinned(cpus):
    """Run the block, and the children it starts, on cpus."""
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Procs:
    """Processes started here, stopped by PID at the end."""

    def __init__(self):
        self.procs = []
        self.cleanups = []

    def sink(self):
        port = free_port()
        p = subprocess.Popen([SMTP_SINK, "-4", "-u", SINK_USER, "-h",
                              "sink.test", "127.0.0.1:%d" % port, "1024"],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.procs.append(p)
        time.sleep(0.3)
        return port

    def stop(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # keep stopping the rest
                print("bench e2e: cleanup: %s" % e, file=sys.stderr)
        for p in self.procs:
            if p.poll() is None:
                stop_pid(p.pid)
            p.wait()


def body(size):
    """A message of about size octets with a From of example.com."""
    head = ("From: %s\r\nTo: %s\r\nSubject: e2e bench\r\n\r\n" % (FROM, TO))
    line = "The quick brown fox jumps over the lazy dog 0123456789.\r\n"
    n = max(1, (size - len(head)) // len(line))
    return (head + line * n).encode()


def smtp_source(port, sessions, msgs, size, reuse=False):
    """Wall seconds for smtp-source to send msgs messages of size octets
    over `sessions` parallel sessions (-s), or None when it failed.
    reuse: keep each session for its next message (-d) instead of one
    connection per message."""
    argv = [SMTP_SOURCE, "-s", str(sessions), "-m", str(msgs), "-l",
            str(size), "-f", FROM, "-t", TO, "127.0.0.1:%d" % port]
    if reuse:
        argv[1:1] = ["-d"]
    t0 = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=900)
    t = time.monotonic() - t0
    if r.returncode != 0 or r.stdout.strip():
        print("bench e2e: smtp-source: %s" % r.stdout.decode()[-300:].strip(),
              file=sys.stderr)
        return None
    return t


def latencies(port, n):
    """Seconds per transaction (MAIL .. final reply) of one client."""
    msg = body(4 * 1024)
    out = []
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("latency.test")
        for _ in range(n):
            t0 = time.perf_counter()
            s.sendmail(FROM, [TO], msg)
            out.append(time.perf_counter() - t0)
    return out


def start_signetd(sink_port, workers, keys=None, cpus=None):
    """cpus: the CPUs signetd's threads may run on (default: all)."""
    d = Signetd(upstream=sink_port, limits=LIMITS, workers=workers,
                asan=False)
    if keys is not None:
        # Reuse the first instance's keys so every run signs alike.
        shutil.rmtree(d.keystore)
        shutil.copytree(keys.keystore, d.keystore)
        d.keys, d.dns = keys.keys, keys.dns
    d.write_config(d.config_text().replace("level: debug", "level: warning"))
    with pinned(cpus or os.sched_getaffinity(0)):
        d.start()
    return d


def start_opendkim(procs, tmp, keys):
    """opendkim signing example.com with s1 and s2 on a loopback port."""
    port = free_port()
    kt, st = [], []
    for sel, (pem, _, _) in sorted(keys.items()):
        path = os.path.join(tmp, "%s.pem" % sel)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        kt.append("%s._domainkey.example.com example.com:%s:%s"
                  % (sel, sel, path))
        st.append("*@example.com %s._domainkey.example.com" % sel)
    for name, lines in (("keytable", kt), ("signingtable", st)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write("\n".join(lines) + "\n")
    conf = os.path.join(tmp, "opendkim.conf")
    with open(conf, "w") as f:
        f.write("Mode s\nSyslog no\nBackground no\n"
                "Canonicalization relaxed/relaxed\n"
                "KeyTable file:%s/keytable\n"
                "SigningTable refile:%s/signingtable\n"
                "MultipleSignatures yes\nRequireSafeKeys no\n"
                "InternalHosts 127.0.0.1\n"
                "Socket inet:%d@127.0.0.1\nPidFile %s/opendkim.pid\n"
                % (tmp, tmp, port, tmp))
    p = subprocess.Popen([OPENDKIM, "-f", "-x", conf],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    procs.procs.append(p)
    wait_port(port, proc=p)
    return p, port


def row(label, sessions, msgs, secs, cpu, crypto=None):
    """Print one throughput line; crypto: the crypto-only msg/s, to show
    msg per CPU-second as a share of it."""
    if secs is None:
        print("%-28s %-8s %5d  %10s" % (label, "", sessions, "failed"))
        return None
    rate = msgs / secs
    share = "-"
    if crypto and cpu:
        share = "%.0f%%" % (100 * msgs / cpu / crypto)
    print("%-28s %5d %8.0f %12s %9s" % (label, sessions, rate,
                                        "%.2f ms" % (1000 * cpu / msgs)
                                        if cpu is not None else "-", share))
    return rate


def crypto_rate(build, tmp, keys, size, secs=2):
    driver = os.path.join(build, "bench", "bench_sign")
    if not os.access(driver, os.X_OK):
        return None
    msgfile = os.path.join(tmp, "crypto%d.eml" % size)
    with open(msgfile, "wb") as f:
        f.write(body(size))
    argv = [driver, "-s", str(secs)]
    for sel in sorted(keys):
        argv += ["-k", os.path.join(tmp, "%s.pem" % sel)]
    r = subprocess.run(argv + [msgfile], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    if r.returncode != 0:
        return None
    got = dict(p.split("=", 1) for p in r.stdout.split())
    return float(got["msgs_per_s"])


def scaling(sink, sink_pid, keys, msgs, size, sessions):
    """signetd with 1 and 2 workers, CPU-bound, on a 2-CPU budget.

    The load generator (smtp-source) and the sink run on the same
    machine, so "2 workers on 2 cores" never has 2 cores to itself.  To
    keep the figures honest this prints, for each run, the wall rate,
    the CPU signetd got (cores = CPU-seconds per wall second) and its
    messages per CPU-second; the 1.8x target is judged on the wall
    rates, and the reason is printed when the CPU signetd could get
    bounds it.  1 worker: signetd pinned to the first CPU, generator and
    sink to the second, so signetd has one whole core.  2 workers:
    signetd on both CPUs, generator and sink too (nowhere else to go).
    The generator reuses each session (-d) to stay as light as it can;
    this measures signing and relaying, not TCP connection setup.  Each
    configuration runs twice, alternating, and the faster run counts.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        print("workers: fewer than 2 CPUs available; scaling not measured")
        return
    one, two, other = {cpus[0]}, set(cpus[:2]), {cpus[1]}
    old_sink = os.sched_getaffinity(sink_pid)
    runs = {}
    try:
        # Two rounds, 1 and 2 workers alternating, best of each: the
        # machine's other tenants slow one run or another at random.
        for workers, sig_cpus, gen_cpus in ((1, one, other), (2, two, two),
                                            (1, one, other), (2, two, two)):
            d = start_signetd(sink, workers, keys=keys, cpus=sig_cpus)
            try:
                os.sched_setaffinity(sink_pid, gen_cpus)
                with pinned(gen_cpus):
                    # Warm-up: first connections, page faults, key loads.
                    smtp_source(d.port, sessions, sessions, size, reuse=True)
                    c0, k0 = cpu_seconds(d.proc.pid), cpu_seconds(sink_pid)
                    g0 = children_cpu()
                    t = smtp_source(d.port, sessions, msgs, size, reuse=True)
                    c = cpu_seconds(d.proc.pid) - c0
                    k = cpu_seconds(sink_pid) - k0
                    g = children_cpu() - g0
            finally:
                d.cleanup()
            if t is None or c <= 0:
                print("workers: %d-worker run failed" % workers)
                return
            if workers not in runs or t < runs[workers][0]:
                runs[workers] = (t, c, g + k)
            print("workers %d on CPU %-5s %6.0f msg/s  signetd %.2f cores, "
                  "%.0f msg per CPU-s; generator+sink %.2f cores"
                  % (workers, ",".join(str(x) for x in sorted(sig_cpus)),
                     msgs / t, c / t, msgs / c, (g + k) / t))
    finally:
        os.sched_setaffinity(sink_pid, old_sink)
    (t1, c1, _), (t2, c2, o2) = runs[1], runs[2]
    if c1 / t1 < CPU_BOUND:
        print("  not CPU-bound: with 1 worker signetd got only %.2f of its "
              "core (load average %.1f: other work on the machine); the "
              "ratios below are not a scaling figure"
              % (c1 / t1, os.getloadavg()[0]))
    print("scaling 1 -> 2 workers (best run of each): %.2fx wall (target "
          "1.8x); per CPU-second "
          "%.2fx; CPU signetd got %.2fx" % (t1 / t2, c1 / c2, (c2 / t2) / (c1 / t1)))
    if t1 / t2 < 1.8:
        print("  bound: with 2 workers signetd got %.2f of %d cores, the "
              "generator and sink %.2f; at its own %.0f msg per CPU-s, 1.8x "
              "needs %.2f cores for signetd"
              % (c2 / t2, len(two), o2 / t2, msgs / c2,
                 1.8 * (msgs / t1) / (msgs / c2)))


def rsa4096_keys(sink):
    """A Signetd (not started) whose key store holds RSA-4096 keys for
    s1 and s2, to hand to start_signetd(keys=...)."""
    k = Signetd(upstream=sink, limits=LIMITS, asan=False)
    shutil.rmtree(k.keystore)
    os.makedirs(k.keystore, 0o700)
    k.keys = {sel: make_key(4096) for sel in ("s1", "s2")}
    k.dns = {"%s._domainkey.example.com" % sel: v[2]
             for sel, v in k.keys.items()}
    write_domain(k.keystore, "example.com", k.keys, bits=4096)
    return k


def main(build, cpus=None):
    """Run the end-to-end part; cpus: the affinity to run with (run.py
    pins itself to one CPU for the library figures)."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    for tool in (SMTP_SOURCE, SMTP_SINK, OPENDKIM):
        if not os.access(tool, os.X_OK):
            print("bench e2e: %s is missing; skipped" % tool)
            return 0
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="signet-e2e-")
    os.chmod(tmp, 0o755)
    results = {}
    try:
        sink = procs.sink()
        d2 = start_signetd(sink, 2)
        procs.cleanups.append(d2.cleanup)
        keys = d2.keys
        opendkim, mport = start_opendkim(procs, tmp, keys)
        pf = Postfix(sink, extra={
            "smtpd_milters": "inet:127.0.0.1:%d" % mport,
            "milter_default_action": "tempfail",
            "default_process_limit": "200",
            "smtpd_client_connection_count_limit": "0",
            "in_flow_delay": "0s"})
        pf.start()
        procs.cleanups.append(pf.cleanup)

        for pem_sel in sorted(keys):
            os.chmod(os.path.join(tmp, "%s.pem" % pem_sel), 0o600)
        crypto = {}
        cpu0 = {sorted(os.sched_getaffinity(0))[0]}
        with pinned(cpu0):
            for label, size, _ in SIZES:
                crypto[label] = crypto_rate(build, tmp, keys, size)

        def signetd_row(label, size, sess, msgs, reuse=False):
            """One signetd row, its share judged against the crypto-only
            rate measured just before and just after it: the host's
            speed drifts by 10% and more over a whole run."""
            with pinned(cpu0):
                before = crypto_rate(build, tmp, keys, size, secs=1)
            c0 = cpu_seconds(d2.proc.pid)
            t = smtp_source(d2.port, sess, msgs, size, reuse=reuse)
            c = cpu_seconds(d2.proc.pid) - c0
            with pinned(cpu0):
                after = crypto_rate(build, tmp, keys, size, secs=1)
            near = (before + after) / 2 if before and after else None
            rate = row("signetd %s%s" % (label, ", kept conn" if reuse
                                         else ""), sess, msgs, t, c, near)
            share = msgs / c / near if t is not None and c and near else None
            return rate, share

        print("end to end: smtp-source -> X -> smtp-sink, %d CPUs, load "
              "average %.1f" % (len(os.sched_getaffinity(0)),
                                os.getloadavg()[0]))
        print("%-28s %5s %8s %12s %9s" % ("", "sess", "msg/s", "CPU/msg",
                                          "of crypto"))
        for label, size, msgs in SIZES:
            for sess in SESSIONS:
                results[("signetd", label, sess)], _ = signetd_row(
                    label, size, sess, msgs)
                c0 = cpu_seconds(opendkim.pid)
                t = smtp_source(pf.port, sess, msgs, size)
                c = cpu_seconds(opendkim.pid) - c0
                results[("postfix", label, sess)] = row(
                    "postfix+opendkim %s" % label, sess, msgs, t, c)
        # Applications and ESPs that keep their connection open (-d):
        # what signetd adds to each message without TCP setup.
        for label, size, msgs in SIZES:
            (results[("signetd-reuse", label, 50)],
             results[("share-reuse", label)]) = signetd_row(
                label, size, 50, msgs, reuse=True)
        print("(Postfix+OpenDKIM CPU is opendkim's alone; Postfix's own "
              "processes are not counted.  \"of crypto\": messages per "
              "CPU-second as a share of the crypto-only rate measured just "
              "before and after the row; target 80%.  "
              "\"kept conn\": smtp-source -d, one connection per session "
              "for all its messages; the other rows open one connection "
              "per message)")
        print()

        sig = latencies(d2.port, LATENCY_MSGS)
        direct = latencies(sink, LATENCY_MSGS)
        for p in (50, 99):
            print("latency p%d: through signetd %.2f ms, smtp-sink direct "
                  "%.2f ms, added %.2f ms"
                  % (p, 1000 * percentile(sig, p), 1000 * percentile(direct, p),
                     1000 * (percentile(sig, p) - percentile(direct, p))))
        print()

        label, size, msgs = SIZES[0]
        print("workers, two RSA-2048 signatures per message:")
        scaling(sink, procs.procs[0].pid, d2, 4 * msgs, size, 50)
        print("workers, two RSA-4096 signatures per message (signing "
              "about 7x dearer, so the generator's share of the cores is "
              "small and the run is bound by signetd's CPU):")
        k4 = rsa4096_keys(sink)
        procs.cleanups.append(k4.cleanup)
        scaling(sink, procs.procs[0].pid, k4, 1500, size, 50)
        print()

        for label, size, _ in SIZES:
            e2e = results.get(("signetd", label, 50))
            pfx = results.get(("postfix", label, 50))
            if crypto[label] is None:
                print("crypto-only %s: bench_sign missing" % label)
                continue
            reuse = results.get(("share-reuse", label))
            print("%s: crypto-only %.0f msg per CPU-s (one core, at the start); signetd "
                  "%s msg/s; per CPU-second %s of crypto-only with kept "
                  "connections (target 80%%); signetd / Postfix+OpenDKIM "
                  "%s (target 5x)"
                  % (label, crypto[label], "%.0f" % e2e if e2e else "-",
                     "%.0f%%" % (100 * reuse) if reuse else "-",
                     "%.2fx" % (e2e / pfx) if e2e and pfx else "-"))
    finally:
        procs.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(os.environ.get("SIGNET_BUILD", "build")))
