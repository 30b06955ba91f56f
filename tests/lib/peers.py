"""Real peers on loopback: SINK (Postfix's smtp-sink) and REALUP (a
private Postfix instance relaying to a SINK), from the "Test bench" of
design/hostile-inputs.md.

Every process started here is stopped by its own PID (never by name),
also when a test fails: use the objects as context managers or call
stop() in a finally/addCleanup.

SINK dump files are lossy in one way that matters: smtp-sink stores
lines with LF and silently drops a bare CR, so a SINK dump cannot show a
stray CR that reached the upstream.  Byte-exact assertions (SM-03's
"no CR or LF outside CRLF pairs") belong on FAKEUP (fakeup.py), which
records the exact bytes; SINK is for counting messages, envelopes and
verifying signatures of well-formed mail.

REALUP never touches the system instance: it has its own
config_directory, queue_directory and data_directory in a temporary
directory, is always driven with `postfix -c DIR`, listens only on
127.0.0.1:PORT and relays everything to [127.0.0.1]:SINKPORT.  It only
reads /etc/postfix (meta_directory: postfix-files, dynamicmaps.cf).
"""
import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from signet_env import free_port

SMTP_SINK = "/usr/sbin/smtp-sink"
POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
# smtp-sink refuses to run as root and needs a user to switch to.
SINK_USER = "postfix"


def wait_port(port, host="127.0.0.1", timeout=10.0, proc=None):
    """Wait until something accepts TCP connections on host:port.  With
    proc (a Popen), give up early if it exits."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process %d exited with %s before listening on %d"
                               % (proc.pid, proc.returncode, port))
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("nothing listening on %s:%d after %.0f s" % (host, port, timeout))


def stop_pid(pid, timeout=5.0):
    """SIGTERM one process, wait up to timeout, then SIGKILL it."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:
            # Not our child: poll for its disappearance instead.
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


# Every peer still running, stopped at exit if a test forgot (or died
# with an exception outside a with-block).  SIGKILL cannot be caught;
# the PIDs are in each peer's directory for a manual cleanup then.
_running = set()


@atexit.register
def _stop_leftovers():
    for peer in list(_running):
        peer.stop()


QUEUED_AS = re.compile(r"queued as ([0-9A-Za-z]+)")


def queued_as(reply_text):
    """The queue id in a final reply ("250 2.0.0 Ok: queued as 4Xyz"),
    or None.  Takes str or bytes (or a rawsmtp.Reply's .text)."""
    if isinstance(reply_text, bytes):
        reply_text = reply_text.decode("utf-8", "replace")
    m = QUEUED_AS.search(reply_text)
    return m.group(1) if m else None


class SinkMessage:
    """One SINK dump: the envelope smtp-sink recorded and the message
    with CRLF line endings (see the module note on bare CR)."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            raw = f.read()
        self.raw = raw
        lines = raw.split(b"\n")
        self.client_addr = None
        self.helo = None
        self.mail_from = None
        self.rcpts = []
        i = 0
        while i < len(lines):
            l = lines[i]
            if l.startswith(b"X-Client-Addr: "):
                self.client_addr = l[15:].decode()
            elif l.startswith(b"X-Helo-Args: "):
                self.helo = l[13:].decode("utf-8", "replace")
            elif l.startswith(b"X-Mail-Args: "):
                self.mail_from = l[13:].decode("utf-8", "replace")
            elif l.startswith(b"X-Rcpt-Args: "):
                self.rcpts.append(l[13:].decode("utf-8", "replace"))
            elif l.startswith(b"Received: "):
                # smtp-sink's own three-line Received ends its headers.
                i += 3
                break
            i += 1
        body = lines[i:]
        # The dump ends with the message's last LF and one extra empty line.
        if body[-2:] == [b"", b""]:
            body = body[:-2]
        self.content = b"".join(l + b"\r\n" for l in body)

    @property
    def rcpt_addrs(self):
        """Recipients without <> and parameters."""
        return [r.split(">", 1)[0].lstrip("<") for r in self.rcpts]


class SmtpSink:
    """SINK: /usr/sbin/smtp-sink on 127.0.0.1:port dumping each message
    to its own file.  flags: extra smtp-sink options passed through, e.g.
    ["-r", "."] (450 to end of data), ["-W", ".:10"], ["-Q", "CONNECT"],
    ["-A", "0"], ["-t", "2"]."""

    def __init__(self, flags=(), port=None, hostname="sink.test", backlog=64,
                 directory=None):
        self.flags = list(flags)
        self.port = port or free_port()
        self.hostname = hostname
        self.backlog = backlog
        self._own_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="signet-sink-")
        self.dump = os.path.join(self.dir, "dump")
        self.proc = None

    def start(self):
        # smtp-sink writes the dumps as SINK_USER, below a mkdtemp dir.
        os.chmod(self.dir, 0o755)
        os.makedirs(self.dump, exist_ok=True)
        pw = pwd.getpwnam(SINK_USER)
        os.chown(self.dump, pw.pw_uid, pw.pw_gid)
        argv = [SMTP_SINK, "-4", "-u", SINK_USER, "-h", self.hostname,
                "-d", os.path.join(self.dump, "%Y%m%d%H%M%S.")] + self.flags + \
               ["127.0.0.1:%d" % self.port, str(self.backlog)]
        self.log = open(os.path.join(self.dir, "smtp-sink.log"), "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        _running.add(self)
        try:
            self._wait_listening()
        except Exception:
            self.stop()
            raise
        return self

    def _wait_listening(self, timeout=10.0):
        # A TCP connect would count as a session (and trip -Q CONNECT
        # style faults), so look for the listening socket instead.
        end = time.monotonic() + timeout
        needle = ":%04X " % self.port
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("smtp-sink exited: %s" % self.read_log())
            with open("/proc/net/tcp") as f:
                for line in f:
                    fields = line.split()
                    if len(fields) > 3 and fields[1].endswith(needle.strip()) \
                            and fields[1].startswith("0100007F") and fields[3] == "0A":
                        return
            time.sleep(0.05)
        raise TimeoutError("smtp-sink not listening on %d" % self.port)

    def read_log(self):
        try:
            with open(os.path.join(self.dir, "smtp-sink.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def files(self):
        return sorted(glob.glob(os.path.join(self.dump, "*")))

    def count(self):
        """Number of dumped messages.  smtp-sink removes the file of a
        transaction the client aborted, but keeps it when it refused the
        "." itself (-r . / -f .): count what your fault allows."""
        return len(self.files())

    def messages(self):
        return [SinkMessage(p) for p in self.files()]

    def find(self, needle):
        """Dumped messages whose content contains needle (bytes), e.g.
        a Message-ID or a subject."""
        return [m for m in self.messages() if needle in m.content]

    def wait_count(self, n, timeout=10.0):
        """Wait until at least n messages are dumped and the newest has
        stopped growing; returns the messages."""
        end = time.monotonic() + timeout
        while self.count() < n:
            if time.monotonic() > end:
                raise TimeoutError("smtp-sink has %d of %d messages" % (self.count(), n))
            time.sleep(0.05)
        time.sleep(0.1)
        return self.messages()

    def clear(self):
        for p in self.files():
            os.unlink(p)

    def stop(self):
        _running.discard(self)
        if self.proc is not None:
            stop_pid(self.proc.pid)
            self.proc.wait()
            self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def cleanup(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def postfix_version():
    out = subprocess.run([POSTCONF, "-d", "-h", "mail_version"],
                         stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    return tuple(int(x) for x in out.split(".")[:3])


def postfix_has(parameter):
    """True when this Postfix knows the main.cf parameter."""
    r = subprocess.run([POSTCONF, "-d", parameter], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    return r.returncode == 0 and r.stdout.startswith(parameter + " =")


# master.cf of a relay-only instance: no local delivery, no chroot.
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """REALUP: a private Postfix on 127.0.0.1:port relaying every message
    to [127.0.0.1]:relay_port.

    lenient=True sets smtpd_forbid_bare_newline = no explicitly (the most
    lenient peer, hostile-inputs SM-03); lenient=False leaves Debian's
    default, and forbid=True sets it to "yes" when this Postfix knows
    the parameter.  extra: more main.cf settings.  tls=(cert, key)
    offers STARTTLS with that certificate (smtpd_tls_security_level=may,
    with tlsmgr running and TLS logged).
    """

    def __init__(self, relay_port, port=None, lenient=False, forbid=False, extra=None,
                 tls=None):
        self.relay_port = relay_port
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="signet-postfix-")
        self.config = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "lib")
        self.maillog = os.path.join(self.dir, "maillog")
        self.name = "realup%d.test" % self.port
        self.lenient = lenient
        self.forbid = forbid
        self.extra = dict(extra or {})
        self.tls = tls
        self.started = False

    def main_cf(self):
        cf = {
            "compatibility_level": "3.6",
            "config_directory": self.config,
            "queue_directory": self.queue,
            "data_directory": self.data,
            "myhostname": self.name,
            "mydomain": "realup.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relayhost": "[127.0.0.1]:%d" % self.relay_port,
            "relay_domains": "",
            "local_transport": "error:local delivery disabled",
            "alias_maps": "",
            "alias_database": "",
            "smtputf8_enable": "yes",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
            "maillog_file": self.maillog,
            # The default allows only /var and /dev/stdout.
            "maillog_file_prefixes": self.dir,
            "syslog_name": "postfix-" + self.name,
            "smtp_host_lookup": "native",
            "disable_dns_lookups": "yes",
            # Deliver at once, and retry quickly when SINK refused.
            "queue_run_delay": "2s",
            "minimal_backoff_time": "2s",
            "maximal_backoff_time": "4s",
        }
        if postfix_has("smtpd_forbid_bare_newline"):
            if self.lenient:
                cf["smtpd_forbid_bare_newline"] = "no"
            elif self.forbid:
                cf["smtpd_forbid_bare_newline"] = "yes"
                cf["smtpd_forbid_bare_newline_exclusions"] = ""
        elif self.forbid:
            raise RuntimeError("this Postfix has no smtpd_forbid_bare_newline")
        if self.tls is not None:
            cf.update({"smtpd_tls_security_level": "may",
                       "smtpd_tls_cert_file": self.tls[0],
                       "smtpd_tls_key_file": self.tls[1],
                       "smtpd_tls_loglevel": "1",
                       "smtpd_tls_received_header": "yes"})
        cf.update(self.extra)
        return cf

    def postfix(self, *args, check=True):
        env = dict(os.environ, MAIL_CONFIG=self.config)
        return subprocess.run([POSTFIX, "-c", self.config] + list(args), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, check=check, timeout=60)

    def start(self):
        # mkdtemp gives 0700; Postfix daemons run as "postfix".
        os.chmod(self.dir, 0o755)
        os.makedirs(self.config)
        os.makedirs(self.queue)
        os.makedirs(self.data)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        with open(os.path.join(self.config, "main.cf"), "w") as f:
            for k, v in self.main_cf().items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.config, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))
            if self.tls is not None:
                # smtpd disables TLS without tlsmgr (its entropy source).
                f.write("tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n")
        try:
            _running.add(self)
            r = self.postfix("start", check=False)
            if r.returncode != 0:
                raise RuntimeError("postfix start failed: %s" % r.stdout)
            self.started = True
            wait_port(self.port, timeout=20)
        except Exception:
            self.cleanup()
            raise
        return self

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def log(self):
        try:
            with open(self.maillog, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def queued_ids(self):
        """Queue ids of messages smtpd accepted, in order ("queued as"
        is in the client's reply; the log's cleanup line has the id)."""
        return re.findall(r"postfix[^:]*/cleanup\[\d+\]: ([0-9A-Za-z]+): message-id=",
                          self.log())

    def delivered_ids(self):
        """Queue ids relayed to SINK with status=sent."""
        return re.findall(r"/smtp\[\d+\]: ([0-9A-Za-z]+): to=.*status=sent", self.log())

    def wait_delivered(self, n, timeout=20.0):
        end = time.monotonic() + timeout
        while len(set(self.delivered_ids())) < n:
            if time.monotonic() > end:
                raise TimeoutError("postfix delivered %d of %d; log tail:\n%s"
                                   % (len(set(self.delivered_ids())), n, self.log()[-2000:]))
            time.sleep(0.1)
        return sorted(set(self.delivered_ids()))

    def flush(self):
        self.postfix("flush", check=False)

    def stop(self):
        """postfix -c DIR stop, then wait for the master (by its PID) and
        kill it if it lingers.  Also after a start that failed half way."""
        _running.discard(self)
        pid = self.master_pid()
        if not self.started and pid is None:
            return
        self.postfix("stop", check=False)
        if pid is not None:
            end = time.monotonic() + 10
            while time.monotonic() < end:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                stop_pid(pid)
        self.started = False

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def sink_behind_postfix(test, sink_flags=(), **kw):
    """REALUP: a started SmtpSink (sink_flags) and a started Postfix
    (kw: Postfix's options) relaying to it, both cleaned up after test
    (a unittest.TestCase).  Returns (sink, postfix)."""
    sink = SmtpSink(list(sink_flags))
    sink.start()
    test.addCleanup(sink.cleanup)
    pf = Postfix(sink.port, **kw)
    test.addCleanup(pf.cleanup)
    pf.start()
    return sink, pf
