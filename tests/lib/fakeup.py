"""FAKEUP: a scriptable upstream SMTP server for faults smtp-sink cannot
produce (design/hostile-inputs.md, "Test bench"; rows UP-01 to UP-07,
TL-08).

It runs an asyncio server in a background thread on 127.0.0.1 and answers
from a Script.  Every reply in a Script may be:

    "250 2.1.0 Ok"           a str: one line, CRLF added
    ["250-a", "250 b"]       a list of str: several lines, CRLF each
    b"250 raw\\n"            bytes: sent verbatim (garbage, bare LF, cut off)
    Close()                  close the connection without replying
    Stall(seconds, reply)    wait, then send reply (any of these forms)
    None                     send nothing and keep reading
    ("421 bye", Close())     a tuple: each part in turn

Mistimed replies are bytes too: greeting=b"220 hi\r\n250 early\r\n"
answers a command not yet sent; DataFault(n, send=...) replies in the
middle of DATA; Script(greeting=None) accepts and never greets.

The framing of DATA is strict, like signet's: only CR LF . CR LF ends
it, and the recorded content is exactly the bytes received with one
leading dot removed from each CRLF-delimited line.  Each connection is a
Connection record (commands, transactions, whether it used TLS); each
completed transaction is a Transaction (envelope and content), so tests
assert on what the upstream really got.

    up = FakeUpstream(Script(rcpt={"b@t": "550 5.1.1 no"}))
    up.start()
    try:
        ... point signetd at up.port ...
        up.wait_transactions(1)
        assert up.transactions[0].rcpts == [b"<a@t>"]
    finally:
        up.stop()

Script can also be a callable taking the connection index (0, 1, ...)
and returning a Script, for faults that only the first connection shows
(UP-03: one retry after a reset).
"""
import asyncio
import threading
import time


# Longest command line kept waiting for its LF (a flood, not a command).
COMMAND_MAX = 1 << 20


class Close:
    """Close the connection instead of replying."""

    def __repr__(self):
        return "Close()"


class Stall:
    """Wait `seconds`, then send `reply`."""

    def __init__(self, seconds, reply):
        self.seconds = seconds
        self.reply = reply

    def __repr__(self):
        return "Stall(%r, %r)" % (self.seconds, self.reply)


class DataFault:
    """Something that happens part-way through DATA content.

    after_bytes: content octets received before it fires.
    send: a reply (any Script form) sent at that point, e.g. a premature
          final reply (UP-06) or "421 4.3.0 bye".
    close: close the connection afterwards (UP-03's reset mid-DATA).
    """

    def __init__(self, after_bytes, send=None, close=True):
        self.after_bytes = after_bytes
        self.send = send
        self.close = close


class Script:
    """What the fake upstream says at each stage.  Defaults are a normal,
    polite ESMTP server offering PIPELINING, 8BITMIME, SMTPUTF8,
    ENHANCEDSTATUSCODES and SIZE."""

    def __init__(self, **kw):
        self.greeting = "220 fakeup.test ESMTP"
        self.before_greeting = 0.0      # seconds of silence first
        self.ehlo_name = "fakeup.test"
        self.capabilities = ["PIPELINING", "SIZE 10240000", "8BITMIME",
                             "SMTPUTF8", "ENHANCEDSTATUSCODES"]
        self.ehlo = None                # overrides the built reply
        self.helo = "250 fakeup.test"
        self.mail = "250 2.1.0 Ok"     # or a callable: MAIL count -> reply
        self.rcpt = {}                  # address (no <>) -> reply
        self.rcpt_default = "250 2.1.5 Ok"
        self.data = "354 End data with <CR><LF>.<CR><LF>"
        self.data_fault = None          # a DataFault
        self.final = "250 2.0.0 Ok: queued as FAKE%(n)d"
        self.after_final = None         # e.g. Close(): hang up after it
        self.rset = "250 2.0.0 Ok"
        self.noop = "250 2.0.0 Ok"
        self.quit = "221 2.0.0 Bye"
        # Offered when "XFORWARD ..." is among the capabilities; the
        # attributes are recorded per transaction and, as in Postfix,
        # forgotten at the end of each transaction and at RSET.
        self.xforward = "250 2.0.0 Ok"
        self.unknown = "502 5.5.2 Error: command not recognized"
        # STARTTLS: an ssl.SSLContext (server side) to offer it.
        self.tls = None
        self.starttls = "220 2.0.0 Ready to start TLS"
        self.after_starttls = b""       # injected in the same write
        for k, v in kw.items():
            if not hasattr(self, k):
                raise TypeError("Script has no field %r" % k)
            setattr(self, k, v)

    def ehlo_reply(self, tls_active):
        if self.ehlo is not None:
            return self.ehlo
        caps = list(self.capabilities)
        if self.tls is not None and not tls_active:
            caps.append("STARTTLS")
        lines = [self.ehlo_name] + caps
        return ["250%s%s" % ("-" if i < len(lines) - 1 else " ", l)
                for i, l in enumerate(lines)]


class Transaction:
    """One MAIL..DATA exchange the upstream saw to its end of data."""

    def __init__(self, mail_from):
        self.mail_from = mail_from      # bytes after "MAIL FROM:"
        self.rcpts = []                 # bytes after "RCPT TO:" (accepted)
        self.content = b""              # un-stuffed, as received
        self.wire = b""                 # DATA bytes before ".CRLF", stuffed
        self.completed = False          # end of data was received
        self.chunks = []                # BDAT chunk sizes (RFC 3030)
        self.final_sent = None          # the final reply bytes we sent
        self.xforward = {}              # XFORWARD attributes in effect
        self.connection = None          # index of the Connection

    @property
    def envelope_rcpts(self):
        """Accepted recipients without <> and parameters, as str."""
        out = []
        for r in self.rcpts:
            addr = r.split(b">", 1)[0].lstrip(b" <")
            out.append(addr.decode("utf-8", "replace"))
        return out


class Connection:
    """One client connection."""

    def __init__(self, index, peer):
        self.index = index
        self.peer = peer
        self.commands = []              # every command line, raw
        self.transactions = []
        self.tls = False
        self.discarded_before_tls = b""  # pipelined after STARTTLS
        self.closed_by = None           # "client", "script" or "stop"


def render(reply, n=0):
    """A Script reply as bytes (None for Close/None)."""
    if reply is None or isinstance(reply, Close):
        return None
    if isinstance(reply, bytes):
        return reply
    if isinstance(reply, str):
        reply = [reply]
    text = "".join(l + "\r\n" for l in reply)
    if "%(n)" in text:
        text = text % {"n": n}
    return text.encode("utf-8")


def unstuff(wire):
    """DATA wire bytes up to and including the CRLF before ".CRLF" ->
    content.  Lines are split on CRLF only, so a bare CR or LF stays
    inside its line, exactly as received."""
    lines = wire.split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)


class _Session:
    def __init__(self, up, reader, writer, conn, script):
        self.up = up
        self.r = reader
        self.w = writer
        self.conn = conn
        self.s = script
        self.tx = None
        # Bytes read but not yet used: DATA reads in chunks, and what
        # follows the end of data (pipelined commands) stays here.
        self.pending = b""
        self.xfwd = {}
        self.nmail = 0

    async def say(self, reply):
        """Send a reply; False when the connection is to be closed."""
        if isinstance(reply, tuple):
            for part in reply:
                if not await self.say(part):
                    return False
            return True
        if isinstance(reply, Stall):
            await asyncio.sleep(reply.seconds)
            reply = reply.reply
        if isinstance(reply, Close):
            self.conn.closed_by = "script"
            return False
        data = render(reply, self.up.queue_n)
        if data:
            self.w.write(data)
            await self.w.drain()
        return True

    async def more(self):
        """Read one chunk into pending; False at end of input."""
        chunk = await self.r.read(65536)
        if not chunk:
            return False
        self.pending += chunk
        return True

    async def readline(self):
        """The next command line, LF-terminated (CR kept); None at end of
        input or past COMMAND_MAX without an LF."""
        while True:
            nl = self.pending.find(b"\n")
            if nl >= 0:
                line, self.pending = self.pending[:nl + 1], self.pending[nl + 1:]
                self.conn.commands.append(line)
                return line
            if len(self.pending) > COMMAND_MAX or not await self.more():
                if self.pending:
                    self.conn.commands.append(self.pending)
                    self.pending = b""
                return None

    async def run(self):
        s = self.s
        if s.before_greeting:
            await asyncio.sleep(s.before_greeting)
        if s.greeting is None:
            # Accept and never greet (UP-01): wait for the client to leave.
            await self.r.read()
            self.conn.closed_by = "client"
            return
        if not await self.say(s.greeting):
            return
        while True:
            line = await self.readline()
            if line is None:
                self.conn.closed_by = self.conn.closed_by or "client"
                return
            verb = line.split(b" ", 1)[0].strip().upper().split(b":")[0]
            handler = getattr(self, "on_" + verb.decode("ascii", "replace").lower(),
                              None)
            if handler is None:
                ok = await self.say(s.unknown)
            else:
                ok = await handler(line)
            if not ok:
                return

    async def on_ehlo(self, line):
        self.tx = None
        return await self.say(self.s.ehlo_reply(self.conn.tls))

    async def on_helo(self, line):
        self.tx = None
        return await self.say(self.s.helo)

    async def on_mail(self, line):
        reply = self.s.mail
        if callable(reply):
            reply = reply(self.nmail)
        self.nmail += 1
        self.tx = Transaction(line.split(b":", 1)[1].rstrip(b"\r\n")
                              if b":" in line else b"")
        self.tx.xforward = dict(self.xfwd)
        self.tx.connection = self.conn.index
        if _code(reply) != 2:
            self.tx = None
        return await self.say(reply)

    async def on_rcpt(self, line):
        arg = line.split(b":", 1)[1].rstrip(b"\r\n") if b":" in line else b""
        addr = arg.split(b">", 1)[0].lstrip(b" <").decode("utf-8", "replace")
        reply = self.s.rcpt.get(addr, self.s.rcpt_default)
        if self.tx is not None and _code(reply) == 2:
            self.tx.rcpts.append(arg)
        return await self.say(reply)

    async def on_data(self, line):
        s = self.s
        reply = s.data
        if self.tx is None or not self.tx.rcpts:
            reply = "503 5.5.1 Error: need RCPT command"
        if not await self.say(reply):
            return False
        if _code(reply) != 3:
            return True
        tx = self.tx
        self.conn.transactions.append(tx)
        self.tx = None
        self.xfwd = {}
        wire = await self.read_data(tx)
        if wire is None:
            return False
        tx.wire = wire
        tx.content = unstuff(wire)
        return await self.finish(tx)

    async def finish(self, tx):
        """tx's end of data was received: record it, send the final
        reply (and what the script says follows it)."""
        s = self.s
        tx.completed = True
        self.up.record(tx)
        final = s.final
        n = self.up.next_queue_id()
        tx.final_sent = render(final.reply if isinstance(final, Stall) else final, n)
        if isinstance(final, Stall):
            await asyncio.sleep(final.seconds)
            final = final.reply
        if isinstance(final, Close):
            self.conn.closed_by = "script"
            return False
        if tx.final_sent:
            self.w.write(tx.final_sent)
            await self.w.drain()
        if s.after_final is not None:
            return await self.say(s.after_final)
        return True

    async def on_bdat(self, line):
        """RFC 3030, when the script offers CHUNKING: the chunk is read
        by count whatever the verdict; LAST ends the message."""
        s = self.s
        if "CHUNKING" not in s.capabilities:
            return await self.say(s.unknown)
        parts = line.split()
        try:
            n = int(parts[1])
            last = len(parts) > 2 and parts[2].upper() == b"LAST"
        except (IndexError, ValueError):
            return await self.say("501 5.5.4 Syntax: BDAT count [LAST]")
        chunk = await self.read_count(n)
        if chunk is None:
            return False
        tx = self.tx
        if tx is None or not tx.rcpts:
            return await self.say("503 5.5.1 Error: need RCPT command")
        if not tx.chunks:
            self.conn.transactions.append(tx)
        tx.chunks.append(n)
        tx.wire += chunk
        tx.content += chunk
        if not last:
            return await self.say("250 2.0.0 %d octets received" % n)
        self.tx = None
        self.xfwd = {}
        return await self.finish(tx)

    async def fire(self, fault):
        """Carry out a DataFault: send its reply; True when it also
        closes the connection (the caller stops reading)."""
        if fault.send is not None:
            data = render(fault.send, self.up.queue_n)
            if data:
                self.w.write(data)
                await self.w.drain()
        if fault.close:
            self.conn.closed_by = "script"
        return fault.close

    async def read_count(self, n):
        """The next n octets; None when the connection ended or the
        script's DataFault closed it first."""
        fault = self.s.data_fault
        while True:
            if fault is not None and len(self.pending) >= min(
                    n, fault.after_bytes):
                if await self.fire(fault):
                    self.pending = b""
                    return None
                fault = None
            if len(self.pending) >= n:
                break
            if not await self.more():
                self.pending = b""
                self.conn.closed_by = "client"
                return None
        chunk, self.pending = self.pending[:n], self.pending[n:]
        return chunk

    async def read_data(self, tx):
        """DATA bytes up to (not including) CRLF.CRLF; None when the
        connection ended or a DataFault closed it."""
        fault = self.s.data_fault
        while True:
            got = self.pending
            if fault is not None and len(got) >= fault.after_bytes:
                if await self.fire(fault):
                    tx.wire, self.pending = got, b""
                    return None
                fault = None
            # An empty message is "." right after the 354.
            if got.startswith(b".\r\n"):
                self.pending = got[3:]
                return b""
            end = got.find(b"\r\n.\r\n")
            if end >= 0:
                self.pending = got[end + 5:]
                return got[:end + 2]
            if not await self.more():
                tx.wire, self.pending = got, b""
                self.conn.closed_by = "client"
                return None

    async def on_rset(self, line):
        self.tx = None
        self.xfwd = {}
        return await self.say(self.s.rset)

    async def on_xforward(self, line):
        if not any(c.upper().startswith("XFORWARD")
                   for c in self.s.capabilities):
            return await self.say(self.s.unknown)
        for item in line.split()[1:]:
            if b"=" in item:
                k, v = item.split(b"=", 1)
                self.xfwd[k.decode("ascii", "replace").upper()] = \
                    v.decode("ascii", "replace")
        return await self.say(self.s.xforward)

    async def on_noop(self, line):
        return await self.say(self.s.noop)

    async def on_quit(self, line):
        await self.say(self.s.quit)
        self.conn.closed_by = "client"
        return False

    async def on_starttls(self, line):
        s = self.s
        if s.tls is None or self.conn.tls:
            return await self.say(s.unknown)
        reply = render(s.starttls) + s.after_starttls
        # RFC 3207 4.2: nothing sent before the handshake counts.
        self.conn.discarded_before_tls = self.pending
        self.pending = b""
        self.w.write(reply)
        await self.w.drain()
        try:
            await self.w.start_tls(s.tls)
        except (OSError, ConnectionError) as e:
            self.conn.closed_by = "tls-error: %s" % e
            return False
        self.conn.tls = True
        self.tx = None
        return True


def _code(reply):
    """Reply class digit of a Script reply (0 when unknown)."""
    if isinstance(reply, tuple):
        reply = reply[0] if reply else None
    if isinstance(reply, Stall):
        reply = reply.reply
    data = render(reply)
    return int(data[:1]) if data and data[:1].isdigit() else 0


class FakeUpstream:
    """The server.  port: 0 picks a free one (see .port after start()).
    ssl: a server ssl.SSLContext for implicit TLS (port 465 style): every
    connection is TLS from its first byte."""

    def __init__(self, script=None, port=0, host="127.0.0.1", ssl=None):
        self.script = script if script is not None else Script()
        self.ssl = ssl
        self.host = host
        self.port = port
        self.connections = []
        self.transactions = []
        self._cond = threading.Condition()
        self._loop = None
        self._thread = None
        self._server = None
        self._tasks = set()
        self.queue_n = 0                # the last queue id handed out

    def next_queue_id(self):
        self.queue_n += 1
        return self.queue_n

    def record(self, tx):
        with self._cond:
            self.transactions.append(tx)
            self._cond.notify_all()

    def _script_for(self, index):
        if callable(self.script) and not isinstance(self.script, Script):
            return self.script(index)
        return self.script

    async def _handle(self, reader, writer):
        task = asyncio.current_task()
        self._tasks.add(task)
        with self._cond:
            conn = Connection(len(self.connections), writer.get_extra_info("peername"))
            conn.tls = self.ssl is not None
            self.connections.append(conn)
            self._cond.notify_all()
        sess = _Session(self, reader, writer, conn, self._script_for(conn.index))
        try:
            await sess.run()
        except (ConnectionError, OSError):
            conn.closed_by = conn.closed_by or "client"
        except asyncio.CancelledError:
            conn.closed_by = "stop"
        finally:
            try:
                writer.close()
            except (ConnectionError, OSError, RuntimeError):
                pass
            self._tasks.discard(task)
            with self._cond:
                self._cond.notify_all()

    def start(self):
        """Listen and serve in a background thread; returns self."""
        ready = threading.Event()
        failure = []

        def main():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(asyncio.start_server(
                    self._handle, self.host, self.port, limit=1 << 20,
                    ssl=self.ssl))
            except OSError as e:
                failure.append(e)
                ready.set()
                return
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=main, name="fakeup", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self):
        """Close the listener and every connection; wait for the thread."""
        if self._loop is None or self._thread is None:
            return

        async def shutdown():
            self._server.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.sleep(0)
            await self._server.wait_closed()

        if self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
            try:
                fut.result(10)
            except Exception:
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_transactions(self, n, timeout=10.0):
        """Wait until at least n transactions completed; returns them."""
        return self._wait(lambda: len(self.transactions) >= n, timeout,
                          lambda: list(self.transactions))

    def wait_connections(self, n, timeout=10.0):
        return self._wait(lambda: len(self.connections) >= n, timeout,
                          lambda: list(self.connections))

    def _wait(self, pred, timeout, result):
        end = time.monotonic() + timeout
        with self._cond:
            while not pred():
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("fakeup: condition not met in %.1f s" % timeout)
                self._cond.wait(left)
            return result()


def started(test, script=None, **kw):
    """A FakeUpstream running script (default: a polite Script()),
    stopped when the unittest.TestCase test ends."""
    up = FakeUpstream(script or Script(), **kw)
    up.start()
    test.addCleanup(up.stop)
    return up
