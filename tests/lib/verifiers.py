"""VERIFY: independent DKIM verifiers run on a message against a fixed
set of DNS records, with one result per signature.

    dns = {"s1._domainkey.example.com": "v=DKIM1; k=rsa; p=MIIB..."}
    for r in verify_all(message_bytes, dns)["opendkim"]:
        print(r.index, r.d, r.s, r.a, r.result, r.passed)

No verifier touches real DNS:

* dkimpy: dkim.DKIM(msg).verify(idx=i, dnsfunc=...) for each signature
  index, dnsfunc answering from the dict.
* OpenDKIM: `opendkim -t FILE` (test mode of the filter, libopendkim
  2.11) with a private config whose `TestDNSData` data set holds the
  records (opendkim.conf(5): "keys treated as DNS record names and
  values as TXT record contents. Intended for use during automated
  testing").  That needs neither Knot nor port 53.  At -vv opendkim
  prints the Authentication-Results field it would add, with one
  `dkim=` result per signature and its `header.b` prefix, which maps the
  results back to signatures.  (opendkim-testmsg has no such option and
  would query live DNS.)  Every signature is checked
  (MaximumSignaturesToVerify raised from its default of 3).  A message
  without a final CRLF gets one first: test mode mishandles it, and the
  canonical body is the same (RFC 6376 3.4.3, 3.4.4).
* Mail::DKIM: tests/lib/mail_dkim_verify.pl with Mail::DKIM::DNS's
  resolver replaced by a fake one reading the same records.  The
  Debian 12 Mail::DKIM (1.20230212) has no Ed25519: such signatures
  come back "invalid (unsupported algorithm)"; see MAIL_DKIM_ALGS.

Each wrapper is tested by tests/interop/test_verifiers_selfcheck.py on
messages that dkimpy signs with keys made in the test: good ones must
pass and tampered ones fail, or the interop tests would prove nothing.
"""
import base64
import os
import re
import subprocess
import tempfile

import dkim

HERE = os.path.dirname(os.path.abspath(__file__))
MAIL_DKIM_SCRIPT = os.path.join(HERE, "mail_dkim_verify.pl")
OPENDKIM = "/usr/sbin/opendkim"
# Algorithms the installed Mail::DKIM implements.
MAIL_DKIM_ALGS = frozenset({"rsa-sha256", "rsa-sha1"})
VERIFIERS = ("dkimpy", "opendkim", "mail_dkim")


class SigResult:
    """One signature's verdict from one verifier."""

    def __init__(self, index, d, s, a, result, detail=""):
        self.index = index      # 0 = topmost DKIM-Signature
        self.d = d
        self.s = s
        self.a = a
        self.result = result    # "pass" or the verifier's word for failure
        self.detail = detail

    @property
    def passed(self):
        return self.result == "pass"

    def __repr__(self):
        return "SigResult(%d, d=%s, s=%s, a=%s, %s%s)" % (
            self.index, self.d, self.s, self.a, self.result,
            " (%s)" % self.detail if self.detail else "")


def _norm(name):
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")
    return name.lower().rstrip(".")


def write_dns_file(dns, path):
    """The dict as `name TXT-value` lines (signetctl verify --dns-file,
    opendkim TestDNSData, mail_dkim_verify.pl all read this)."""
    with open(path, "w") as f:
        for name, value in dns.items():
            f.write("%s %s\n" % (_norm(name), value))
    return path


def signature_tags(msg):
    """(d, s, a, b) of each DKIM-Signature field, top down."""
    out = []
    headers, _ = dkim.rfc822_parse(msg)
    for name, value in headers:
        if name.lower() != b"dkim-signature":
            continue
        tags = {}
        for part in value.split(b";"):
            if b"=" in part:
                k, v = part.split(b"=", 1)
                tags[k.strip().decode()] = re.sub(rb"\s+", b"", v).decode("ascii", "replace")
        out.append((tags.get("d", ""), tags.get("s", ""), tags.get("a", ""),
                    tags.get("b", "")))
    return out


def first_field(msg, name):
    """The first field called name (unfolded value), or None."""
    m = re.search(rb"(?mi)^" + re.escape(name.encode()) +
                  rb":((?:[^\r\n]*\r\n[ \t])*[^\r\n]*)\r\n", msg)
    return re.sub(rb"\r\n[ \t]", b" ", m.group(1)).decode() if m else None


def dnsfunc(dns):
    """A dkimpy dnsfunc (DKIM and ARC) answering TXT lookups from the
    dict: names in any case, with or without the final dot."""
    table = {_norm(k): v for k, v in dns.items()}

    def lookup(name, timeout=5):
        v = table.get(_norm(name))
        return v.encode() if isinstance(v, str) else v
    return lookup


def dkimpy(msg, dns):
    """Verify each signature with dkimpy."""
    lookup = dnsfunc(dns)
    out = []
    for i, (d, s, a, _) in enumerate(signature_tags(msg)):
        try:
            ok = dkim.DKIM(msg, minkey=1024).verify(idx=i, dnsfunc=lookup)
            res, detail = ("pass", "") if ok else ("fail", "")
        except dkim.DKIMException as e:
            res, detail = "fail", str(e)
        out.append(SigResult(i, d, s, a, res, detail))
    return out


AR_RESULT = re.compile(r"dkim=(\w+)(?: reason=\"([^\"]*)\")?[^;]*?header\.b=([A-Za-z0-9+/=]+)")


def opendkim(msg, dns):
    """Verify with OpenDKIM's test mode; per-signature results from the
    Authentication-Results field it builds."""
    sigs = signature_tags(msg)
    if not sigs:
        return []
    with tempfile.TemporaryDirectory(prefix="signet-opendkim-") as tmp:
        dnsfile = write_dns_file(dns, os.path.join(tmp, "dns.txt"))
        conf = os.path.join(tmp, "opendkim.conf")
        with open(conf, "w") as f:
            f.write("Mode v\nSyslog no\nTestDNSData file:%s\n"
                    "MaximumSignaturesToVerify %d\nAuthservID verify.test\n"
                    "AlwaysAddARHeader yes\nTemporaryDirectory %s\n"
                    % (dnsfile, len(sigs) + 1, tmp))
        path = os.path.join(tmp, "msg.eml")
        with open(path, "wb") as f:
            # opendkim -t reports "message not signed" when the file's last
            # line has no newline.  SMTP always ends the content with CRLF,
            # and both body canonicalizations add that CRLF anyway (RFC 6376
            # 3.4.3, 3.4.4), so adding it changes no hash.
            f.write(msg if msg.endswith(b"\n") else msg + b"\r\n")
        proc = subprocess.run([OPENDKIM, "-x", conf, "-t", path, "-vv"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)
    text = proc.stdout.decode("utf-8", "replace")
    m = re.search(r"hname='Authentication-Results' hvalue='(.*?)'\n", text, re.S)
    if m is None:
        # A key it could not fetch makes the filter tempfail the whole
        # message (451 4.7.5) without an Authentication-Results field.
        why = re.search(r"replytxt='([^']*)'", text)
        if why is None:
            raise RuntimeError("opendkim gave no verdict:\n" + text)
        return [SigResult(i, d, s, a, "temperror", why.group(1))
                for i, (d, s, a, _) in enumerate(sigs)]
    found = [(r, reason or "", bpre) for r, reason, bpre in AR_RESULT.findall(m.group(1))]
    out = []
    used = set()
    for i, (d, s, a, b) in enumerate(sigs):
        match = None
        for j, (r, reason, bpre) in enumerate(found):
            if j not in used and b.startswith(bpre):
                match = j
                break
        if match is None:
            out.append(SigResult(i, d, s, a, "missing", "not in opendkim's report"))
            continue
        used.add(match)
        r, reason, _ = found[match]
        out.append(SigResult(i, d, s, a, r, reason))
    return out


def mail_dkim(msg, dns):
    """Verify each signature with Mail::DKIM (perl)."""
    with tempfile.TemporaryDirectory(prefix="signet-maildkim-") as tmp:
        dnsfile = write_dns_file(dns, os.path.join(tmp, "dns.txt"))
        proc = subprocess.run(["perl", MAIL_DKIM_SCRIPT, dnsfile], input=msg,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60)
    if proc.returncode != 0:
        raise RuntimeError("mail_dkim_verify.pl failed: %s" % proc.stderr.decode())
    out = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        idx, d, s, a, res, detail = (line.split("\t") + [""] * 6)[:6]
        out.append(SigResult(int(idx), d, s, a, res, detail))
    return out


def verify_all(msg, dns, which=VERIFIERS):
    """{verifier name: [SigResult per signature]}."""
    funcs = {"dkimpy": dkimpy, "opendkim": opendkim, "mail_dkim": mail_dkim}
    return {name: funcs[name](msg, dns) for name in which}


def supports(verifier, alg):
    """False when the verifier cannot check that a= at all."""
    return verifier != "mail_dkim" or alg in MAIL_DKIM_ALGS


# Key material for tests: generated per test run, never stored.  The
# openssl command line does the work, so no Python crypto package is
# needed beyond dkimpy's own dependencies.

def _openssl(*args, data=None):
    return subprocess.run(["openssl"] + list(args), input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=True, timeout=60).stdout


def key_info(pem):
    """(algorithm "rsa" or "ed25519", bits, DER SubjectPublicKeyInfo) of
    a PEM private key."""
    text = _openssl("pkey", "-noout", "-text", data=pem).decode()
    der = _openssl("pkey", "-pubout", "-outform", "DER", data=pem)
    m = re.search(r"Private-Key: \((\d+) bit", text)
    alg = "ed25519" if text.startswith("ED25519") else "rsa"
    return alg, int(m.group(1)) if m else 0, der


def rsa_key(bits=2048):
    """(PKCS#8 PEM private key bytes, DNS TXT value)."""
    pem = _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % bits)
    der = _openssl("pkey", "-pubout", "-outform", "DER", data=pem)
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def ed25519_key():
    """(dkimpy private key form: base64 of the 32-octet seed, PKCS#8 PEM
    of the same key, DNS TXT value)."""
    pem = _openssl("genpkey", "-algorithm", "ED25519")
    # Both DER forms end with the 32 key octets (RFC 8410 7 and 4).
    seed = _openssl("pkey", "-outform", "DER", data=pem)[-32:]
    pub = _openssl("pkey", "-pubout", "-outform", "DER", data=pem)[-32:]
    return base64.b64encode(seed), pem, "v=DKIM1; k=ed25519; p=" + base64.b64encode(pub).decode()


def dkimpy_sign(msg, domain, selector, key, alg="rsa-sha256",
                canon=(b"relaxed", b"relaxed"), headers=None):
    """msg with one more DKIM-Signature (from dkimpy) on top."""
    if headers is None:
        headers = [b"from", b"to", b"subject", b"date", b"message-id"]
    sig = dkim.sign(msg, selector.encode(), domain.encode(), key,
                    canonicalize=canon, include_headers=headers,
                    signature_algorithm=alg.encode())
    return sig + msg
