"""A signetd with TLS listeners, for the tls suite.

TlsSignetd extends tests/smtp/daemon.py's Signetd with
  port        STARTTLS listener (certificate tls.crt)
  port_smtps  implicit-TLS listener (same certificate)
  port_plain  listener without TLS
  port_metrics  /metrics
and a tenant "certified" that has no network and no users: only the
client certificate client.crt (its SHA-256 pinned in tenants[]) selects
it; it owns cert.test.  stranger.crt is a client certificate nobody pins.
"""
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "smtp"))

from daemon import ASAN, Signetd, SessionTest, make_key, message, write_domain  # noqa: E402,F401
from rawsmtp import RawSMTP  # noqa: E402
from signet_env import free_port  # noqa: E402
import tlsutil  # noqa: E402

TLS_LIMITS = {"tls_handshake_timeout": "2s"}


def client_context(cert=None, key=None):
    """A client context that trusts anything (the server certificate is
    self-signed) and optionally presents cert/key."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def served_fingerprint(port, starttls=True):
    """sha256: fingerprint of the certificate the server presents."""
    with RawSMTP(port) as c:
        if starttls:
            assert c.read_reply().code == 220
            c.cmd("EHLO fp.test")
            r = c.cmd("STARTTLS")
            assert r.code == 220, r
        c.starttls(client_context())
        der = c.sock.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    path = os.path.join("/tmp", "signet-served-%d.pem" % os.getpid())
    with open(path, "w") as f:
        f.write(pem)
    try:
        return tlsutil.fingerprint(path)
    finally:
        os.unlink(path)


class TlsSignetd(Signetd):

    def __init__(self, limits=None, client_ca=False, smtps_proxy=None, **kw):
        lim = dict(TLS_LIMITS)
        lim.update(limits or {})
        self.client_ca = None
        self.smtps_proxy = smtps_proxy
        super().__init__(limits=lim, **kw)
        self.port_smtps = free_port()
        self.port_plain = free_port()
        self.port_metrics = free_port()
        self.cert, self.key = tlsutil.self_signed(self.dir, "mx.signet.test",
                                                  "tls")
        self.client_cert, self.client_key = tlsutil.self_signed(
            self.dir, "client.test", "client")
        self.stranger_cert, self.stranger_key = tlsutil.self_signed(
            self.dir, "stranger.test", "stranger")
        if client_ca:
            self.client_ca = self.client_cert
        self.cert_keys = {"s1": make_key()}
        write_domain(self.keystore, "cert.test", self.cert_keys)
        self.dns["s1._domainkey.cert.test"] = self.cert_keys["s1"][2]
        self.write_config()

    def listen_lines(self):
        tls = ["    starttls:", "      cert: %s" % self.cert,
               "      key: %s" % self.key]
        if self.client_ca:
            tls.append("      client_ca: %s" % self.client_ca)
        return (["listen:", "  - address: 127.0.0.1:%d" % self.port] + tls +
                ["  - address: 127.0.0.1:%d" % self.port_smtps,
                 "    implicit_tls: true"] +
                (["    proxy_protocol: %s" % self.smtps_proxy]
                 if self.smtps_proxy else []) + tls +
                ["  - address: 127.0.0.1:%d" % self.port_plain])

    def config_text(self):
        text = super().config_text()
        if not hasattr(self, "cert"):
            return text
        lines = text.split("\n")
        out = self.listen_lines()
        i = 2   # "listen:" and the one listener of the base config
        for line in lines[i:]:
            if line == "limits:":
                out += ["  - name: certified",
                        "    certificates: [\"%s\"]" %
                        tlsutil.fingerprint(self.client_cert),
                        "    domains: [cert.test]"]
            out.append(line)
            if line.startswith("  other.test:"):
                out.append("  cert.test: { selectors: [s1] }")
        out.insert(-1, "metrics: { listen: 127.0.0.1:%d }" % self.port_metrics)
        return "\n".join(out)

    def metric(self, name):
        """The value of one sample line of /metrics, e.g.
        'signet_tls_handshakes_total{result="ok"}'."""
        import urllib.request
        url = "http://127.0.0.1:%d/metrics" % self.port_metrics
        page = urllib.request.urlopen(url, timeout=5).read().decode()
        for line in page.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return None

    def tls_client(self, port=None, cert=None, key=None, ehlo=True,
                   source=None):
        """RawSMTP through STARTTLS (or on the implicit port when port is
        port_smtps), after the greeting; EHLO sent before STARTTLS."""
        port = port or self.port
        c = RawSMTP(port, source=source)
        if port == self.port_smtps:
            c.starttls(client_context(cert, key))
            r = c.read_reply()
            assert r.code == 220, r
            return c
        assert c.read_reply().code == 220
        if ehlo:
            assert c.cmd("EHLO tls.test").code == 250
        r = c.cmd("STARTTLS")
        assert r.code == 220, r
        c.starttls(client_context(cert, key))
        return c


class TlsTest(SessionTest):
    """One TlsSignetd per class (see SessionTest)."""
    client_ca = False

    @classmethod
    def new_daemon(cls):
        return TlsSignetd(limits=cls.limits, client_ca=cls.client_ca)

    def tls_client(self, **kw):
        c = self.d.tls_client(**kw)
        self.addCleanup(c.close)
        return c


def socket_closed(sock, timeout=5.0):
    """True if the peer closes sock within timeout (data read is dropped)."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (socket.timeout, TimeoutError):
        return False
    except (ConnectionResetError, ssl.SSLError, OSError):
        return True
