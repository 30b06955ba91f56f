"""Paths and small helpers shared by the Python tests."""
import os
import socket
import subprocess

ROOT = os.environ.get("SIGNET_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SIGNET_BUILD") or os.path.join(ROOT, "build")
ASAN_BUILD = os.environ.get("SIGNET_ASAN_BUILD") or os.path.join(BUILD, "asan")
SHARED = os.environ.get("SIGNET_SHARED") or os.path.realpath(
    os.path.join(ROOT, "..", "shared"))
CONFORMANCE = os.path.join(SHARED, "conformance")


def binary(name, asan=False):
    """Path of build/bin/NAME (or the ASan build's)."""
    return os.path.join(ASAN_BUILD if asan else BUILD, "bin", name)


def signetctl(*args, stdin=b"", asan=False, check=False, env=None):
    """Run signetctl; returns CompletedProcess with bytes stdout/stderr."""
    return subprocess.run([binary("signetctl", asan)] + list(args), input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=check, env=env, timeout=120)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crlf(text):
    """Text with LF line endings -> bytes with CRLF."""
    if isinstance(text, str):
        text = text.encode()
    return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
