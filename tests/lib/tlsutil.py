"""Throw-away TLS material for loopback tests (STARTTLS on FAKEUP, on
signetd's listeners, client certificates for tenants)."""
import hashlib
import os
import ssl
import subprocess


def self_signed(directory, cn="localhost", name="tls"):
    """Write DIR/NAME.crt and DIR/NAME.key (EC P-256, self-signed, valid
    for a day, key mode 0600); returns (cert_path, key_path)."""
    crt = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "1",
                    "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    return crt, key


def test_ca(directory, name="ca"):
    """A throw-away CA: DIR/NAME.crt and DIR/NAME.key; returns the pair."""
    crt = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "1",
                    "-subj", "/CN=signet test CA " + name,
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    return crt, key


def issued(directory, ca, cn="localhost", name="server"):
    """A server certificate for cn (also its subjectAltName) signed by
    ca = (crt, key) from test_ca(); returns (cert_path, key_path)."""
    crt = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    csr = os.path.join(directory, name + ".csr")
    ext = os.path.join(directory, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n" % cn)
    quiet = {"check": True, "stdout": subprocess.DEVNULL,
             "stderr": subprocess.DEVNULL}
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", csr, "-subj", "/CN=" + cn], **quiet)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0],
                    "-CAkey", ca[1], "-CAcreateserial", "-days", "1",
                    "-extfile", ext, "-out", crt], **quiet)
    os.chmod(key, 0o600)
    return crt, key


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def fingerprint(cert):
    """"sha256:AA:BB:..." of a PEM certificate (the tenants
    certificates: form in DESIGN.md)."""
    der = ssl.PEM_cert_to_DER_cert(open(cert).read())
    hexd = hashlib.sha256(der).hexdigest().upper()
    return "sha256:" + ":".join(hexd[i:i + 2] for i in range(0, len(hexd), 2))
