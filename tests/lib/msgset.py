"""A varied set of messages for signing and verification tests: the
shapes that break canonicalization or transport in practice (MIME with
an attachment, 8-bit UTF-8 header and body, folded fields, empty and
CRLF-only bodies, 998-octet lines, dot-leading lines, trailing white
space, no final CRLF, many To fields, LF-only line endings).

messages() returns an ordered list of (name, bytes).  Every message has
From (in FROM_DOMAIN), To, Subject, Date and Message-ID, and all but
"lf-only" use CRLF.  wire() gives the form a message takes on the wire
(CRLF everywhere, ending in CRLF), which is what a verifier at the next
hop sees.
"""
import base64
import zlib

FROM_DOMAIN = "example.com"


def _head(subject, extra=""):
    return ("From: Alice Example <alice@%s>\n"
            "To: Bob <bob@example.org>\n"
            "Subject: %s\n"
            "Date: Mon, 01 Jan 2024 12:00:00 +0000\n"
            "Message-ID: <%s@%s>\n%s" % (FROM_DOMAIN, subject,
                                        zlib.crc32(subject.encode()), FROM_DOMAIN, extra))


def _crlf(text):
    if isinstance(text, str):
        text = text.encode("utf-8")
    return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _multipart():
    attachment = base64.encodebytes(bytes(range(256)) * 8).decode()
    return _crlf(_head("multipart with attachment",
                       "MIME-Version: 1.0\n"
                       "Content-Type: multipart/mixed; boundary=\"outer\"\n") +
                 "\nThis is a multi-part message in MIME format.\n"
                 "--outer\n"
                 "Content-Type: multipart/alternative; boundary=\"inner\"\n\n"
                 "--inner\n"
                 "Content-Type: text/plain; charset=us-ascii\n\n"
                 "Plain part.\n\n"
                 "--inner\n"
                 "Content-Type: text/html; charset=us-ascii\n\n"
                 "<p>HTML part.</p>\n\n"
                 "--inner--\n\n"
                 "--outer\n"
                 "Content-Type: application/octet-stream; name=\"data.bin\"\n"
                 "Content-Transfer-Encoding: base64\n"
                 "Content-Disposition: attachment; filename=\"data.bin\"\n\n" +
                 attachment + "\n--outer--\n")


def messages():
    out = [
        ("plain", _crlf(_head("plain") + "\nHello Bob,\nthis is a test.\n")),
        ("multipart-attachment", _multipart()),
        ("utf8-8bit", _crlf(_head("Grüße aus Köln — ☃",
                                  "MIME-Version: 1.0\n"
                                  "Content-Type: text/plain; charset=utf-8\n"
                                  "Content-Transfer-Encoding: 8bit\n") +
                            "\nÄrger über Öl? Ça va. 日本語のテキスト。\n")),
        ("folded-headers", _crlf(
            "From: Alice Example\n <alice@%s>\n"
            "To: bob@example.org,\n\tcarol@example.org,\n    dave@example.org\n"
            "Subject: a subject   that\n\t is folded\n  twice\n"
            "Date: Mon, 01 Jan 2024\n 12:00:00 +0000\n"
            "Message-ID: <folded@%s>\n"
            "References: <a@example.com>\n <b@example.com>\n\t<c@example.com>\n"
            "\nbody\n" % (FROM_DOMAIN, FROM_DOMAIN))),
        ("empty-body", _crlf(_head("empty body") + "\n")),
        ("only-crlfs", _crlf(_head("only CRLFs") + "\n\n\n\n\n")),
        ("long-lines", _crlf(_head("long lines") + "\n" + "a" * 998 + "\n" +
                             " ".join(["word"] * 199)[:998] + "\n" + "b" * 997 + " \n")),
        ("dot-lines", _crlf(_head("dot lines") + "\n.\n..\n...x\n.\t\n. leading\nend\n.\n")),
        ("trailing-ws", _crlf(_head("trailing   white  space ") +
                              "\nline with spaces   \nline with tab\t\n \t \n\t\n"
                              "inner   runs\tof\t \twhite\n   \n\n  \n")),
        ("no-final-crlf", _crlf(_head("no final CRLF") + "\nfirst line\nlast line")
         .rstrip(b"\r\n")),
        ("many-to", _crlf(
            "From: alice@%s\n" % FROM_DOMAIN +
            "".join("To: user%d@example.org\n" % i for i in range(12)) +
            "To: " + ", ".join("r%d@example.net" % i for i in range(40)) + "\n"
            "Subject: many To fields\nDate: Mon, 01 Jan 2024 12:00:00 +0000\n"
            "Message-ID: <many-to@%s>\n\nhi all\n" % FROM_DOMAIN)),
        ("mixed-case-names", _crlf(
            "FROM: alice@%s\nto: bob@example.org\nSUBJECT: Shouting\n"
            "date: Mon, 01 Jan 2024 12:00:00 +0000\nMessage-Id: <case@%s>\n"
            "X-Empty:\nX-Spaces:    \n\nbody\n" % (FROM_DOMAIN, FROM_DOMAIN))),
        ("lf-only", (_head("LF-only line endings") + "\nunix\nline endings\n")
         .encode("utf-8")),
    ]
    return out


def wire(msg):
    """msg as it travels in SMTP DATA: every line CRLF-terminated."""
    msg = _crlf(msg)
    if not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    return msg


def body_offset(msg):
    """Offset of the body (after the first empty line) in a CRLF or LF
    message."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = msg.find(sep)
        if i >= 0:
            return i + len(sep)
    return len(msg)


def tamper_header(msg, field=b"Subject"):
    """msg with one octet of the named field's value changed (a letter,
    so relaxed canonicalization cannot hide it)."""
    lower = msg.lower()
    i = lower.find(b"\n" + field.lower() + b":")
    i = 0 if lower.startswith(field.lower() + b":") else i + 1
    j = i + len(field) + 1
    while not chr(msg[j]).isalpha():
        j += 1
    return msg[:j] + bytes([msg[j] ^ 0x01]) + msg[j + 1:]


def tamper_body(msg):
    """msg with one octet of the body changed: the first letter flipped,
    or an "X" added when the body has no letter."""
    start = body_offset(msg)
    for j in range(start, len(msg)):
        if chr(msg[j]).isalpha():
            return msg[:j] + bytes([msg[j] ^ 0x01]) + msg[j + 1:]
    return msg[:start] + b"X" + msg[start:]
