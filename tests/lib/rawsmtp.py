"""RAW: an SMTP client that sends exactly the bytes it is given.

swaks and smtplib normalise line endings and refuse odd input, so the
hostile-input tests (design/hostile-inputs.md, "Test bench") talk through
this instead.  Nothing is added or rewritten: send() is one sendall() of
the caller's bytes, dribble() trickles them, and nothing is read unless
asked.  Replies are parsed leniently (a reply is whatever lines arrive up
to one whose fourth octet is not '-') and each Reply says whether it was
well formed, so a test can assert on signet's own output format.

    with RawSMTP(port, source="127.0.0.2") as c:
        assert c.read_reply().code == 220
        c.send(b"EHLO x\\r\\nMAIL FROM:<a@b>\\r\\n")
        ehlo, mail = c.read_reply(), c.read_reply()
"""
import re
import socket
import ssl
import time

# One reply line as RFC 5321 4.2 allows it, and signet promises to send
# (hostile-inputs UP-06: printable text, at most 512 octets with CRLF).
REPLY_LINE = re.compile(rb"^[2-5][0-9][0-9]([ -][ -~]*)?\r\n$")
REPLY_LINE_MAX = 512
ENHANCED = re.compile(rb"^([245]\.[0-9]{1,3}\.[0-9]{1,3})(?: |$)")


class Reply:
    """One SMTP reply: the raw bytes and the parsed lines."""

    def __init__(self, raw):
        self.raw = raw
        self.lines = raw.split(b"\r\n")
        if self.lines and self.lines[-1] == b"":
            self.lines.pop()
        first = self.lines[0] if self.lines else b""
        self.code = int(first[:3]) if first[:3].isdigit() else None

    @property
    def text(self):
        """The text of every line (after the code and separator), joined
        with LF, as str."""
        return "\n".join(l[4:].decode("utf-8", "replace") for l in self.lines)

    @property
    def enhanced(self):
        """The RFC 3463 enhanced status code of the first line, or None."""
        m = ENHANCED.match(self.lines[0][4:]) if self.lines else None
        return m.group(1).decode() if m else None

    @property
    def wellformed(self):
        """Every line is CRLF-terminated, printable, at most 512 octets,
        carries the same code, and only the last one uses ' ' (or nothing)
        after the code."""
        if not self.raw.endswith(b"\r\n") or self.code is None:
            return False
        parts = self.raw.split(b"\r\n")[:-1]
        for i, line in enumerate(parts):
            full = line + b"\r\n"
            if len(full) > REPLY_LINE_MAX or not REPLY_LINE.match(full):
                return False
            if int(line[:3]) != self.code:
                return False
            last = i == len(parts) - 1
            sep = line[3:4]
            if last != (sep in (b" ", b"")):
                return False
        return True

    def __repr__(self):
        return "Reply(%r)" % self.raw


class Closed(Exception):
    """The peer closed the connection before a complete reply arrived."""

    def __init__(self, partial):
        super().__init__("connection closed; pending bytes %r" % partial[:200])
        self.partial = partial


class RawSMTP:
    """A plain TCP (later TLS) connection to an SMTP server.

    host/port: the server; source: a local address such as "127.0.0.2"
    (any 127/8 address works on Linux without setup); timeout: the
    default wait in seconds for read_reply() and expect_closed().
    """

    def __init__(self, port, host="127.0.0.1", source=None, timeout=10.0):
        self.timeout = timeout
        self.buf = b""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if source:
                self.sock.bind((source, 0))
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        except OSError:
            self.sock.close()
            raise
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    @property
    def local_address(self):
        return self.sock.getsockname()

    def send(self, data):
        """Send data exactly, in one sendall()."""
        self.sock.sendall(data)

    def sendline(self, line):
        """Send line plus CRLF (line as str or bytes)."""
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")

    def dribble(self, data, chunk=1, interval=0.01, rate=None):
        """Send data chunk octets at a time, sleeping interval seconds
        between writes, or at about rate octets per second when rate is
        given (a slow client, PR-02).  Returns early, with the number of
        octets sent, if the peer closes the connection."""
        if rate:
            interval = chunk / float(rate)
        sent = 0
        for i in range(0, len(data), chunk):
            try:
                self.sock.sendall(data[i:i + chunk])
            except (BrokenPipeError, ConnectionResetError):
                return sent
            sent += len(data[i:i + chunk])
            if interval:
                time.sleep(interval)
        return sent

    def _fill(self, deadline):
        """Read once into the buffer; False at EOF."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no complete reply; pending %r" % self.buf[:200])
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        except ssl.SSLError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take_reply(self):
        """A complete reply from the buffer, or None."""
        pos = 0
        while True:
            nl = self.buf.find(b"\n", pos)
            if nl < 0:
                return None
            line = self.buf[pos:nl + 1]
            pos = nl + 1
            if line[3:4] != b"-":
                raw, self.buf = self.buf[:pos], self.buf[pos:]
                return Reply(raw)

    def read_reply(self, timeout=None):
        """The next reply, waiting up to timeout (default self.timeout).
        Raises socket.timeout, or Closed if the peer closed first."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            r = self._take_reply()
            if r is not None:
                return r
            if self.eof or not self._fill(deadline):
                raise Closed(self.buf)

    def read_replies(self, quiet=0.5, timeout=None):
        """Every reply that arrives until the connection has been quiet
        for `quiet` seconds (or closed, or timeout passed)."""
        out = []
        end = time.monotonic() + (self.timeout if timeout is None else timeout)
        while time.monotonic() < end:
            r = self._take_reply()
            if r is not None:
                out.append(r)
                continue
            if self.eof:
                break
            try:
                if not self._fill(min(end, time.monotonic() + quiet)):
                    break
            except socket.timeout:
                break
        return out

    def cmd(self, line, timeout=None):
        """Send one command line (CRLF added) and return its reply."""
        self.sendline(line)
        return self.read_reply(timeout)

    def open_data(self, mail_from="alice@example.com", rcpt="bob@dest.test",
                  ehlo="c", greeting=True):
        """Greeting, EHLO, MAIL, RCPT, DATA: ready for content
        (greeting=False: the caller has read the greeting already).
        AssertionError with the reply unless the greeting got 220, EHLO,
        MAIL and RCPT 250 and DATA 354."""
        if greeting:
            r = self.read_reply()
            if r.code != 220:
                raise AssertionError("greeting: %r" % r.raw)
        for line, want in (("EHLO " + ehlo, 250),
                           ("MAIL FROM:<%s>" % mail_from, 250),
                           ("RCPT TO:<%s>" % rcpt, 250), ("DATA", 354)):
            r = self.cmd(line)
            if r.code != want:
                raise AssertionError("%s: %r" % (line, r.raw))
        return self

    def expect_closed(self, timeout=None):
        """True if the peer closes the connection within timeout, reading
        (and keeping in self.buf) anything it sends first."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while not self.eof:
                self._fill(deadline)
        except socket.timeout:
            return False
        return True

    def starttls(self, context=None, server_hostname=None):
        """Wrap the socket in TLS (after the server's 220 to STARTTLS).
        Bytes already buffered are discarded, as RFC 3207 requires of the
        client too.  The default context verifies nothing: tests check
        protocol behaviour, not the certificate chain."""
        if context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self.buf = b""
        self.sock.settimeout(self.timeout)
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)


def session(port, mail_from, rcpts, content, ehlo="client.test", **kw):
    """One ordinary transaction, each command waited for.  Returns the
    list of replies (greeting, EHLO, MAIL, RCPT..., DATA, final); stops
    early when a reply is not the expected class or the server closes
    the connection.  content is sent dot-stuffed, then CRLF.CRLF."""
    replies = []
    steps = [("EHLO " + ehlo, 250), ("MAIL FROM:<%s>" % mail_from, 250)] + \
        [("RCPT TO:<%s>" % r, None) for r in rcpts] + [("DATA", 354)]
    with RawSMTP(port, **kw) as c:
        try:
            replies.append(c.read_reply())
            if replies[-1].code != 220:
                return replies
            for line, want in steps:
                replies.append(c.cmd(line))
                if want is not None and replies[-1].code != want:
                    return replies
            c.send(dot_stuff(content) + b".\r\n")
            replies.append(c.read_reply())
            c.cmd("QUIT", timeout=2)
        except (Closed, OSError):
            pass
    return replies


def dot_stuff(content):
    """content (CRLF lines) as sent after DATA: a '.' doubled at the start
    of every line, a final CRLF added if missing (the terminating '.' is
    not included)."""
    if content and not content.endswith(b"\r\n"):
        content += b"\r\n"
    lines = content.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)
