"""Helpers for the preflight / materialize end-to-end tests: configs, listeners, log lines,
file facts. Stdlib only. Keys and certificates are generated at test time (satest/openssl)."""
import hashlib
import os
import re
import socket
import stat
import subprocess
import threading
import time

import satest

BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def write_config(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def run(args, env=None, timeout=60, **kw):
    """Runs the agent with BASE_ENV plus `env`; returns (CompletedProcess, seconds taken)."""
    start = time.monotonic()
    r = satest.run_agent(args, env=dict(BASE_ENV, **(env or {})), timeout=timeout, **kw)
    return r, time.monotonic() - start


def log_lines(stderr):
    return stderr.decode(errors="replace").splitlines()


def lines_with(stderr, needle):
    return [l for l in log_lines(stderr) if needle in l]


def field(line, key):
    """The value of a logfmt field (quoted or bare), or None."""
    m = re.search(r'(?:^| )%s=("(?:[^"\\]|\\.)*"|\S*)' % re.escape(key), line)
    if not m:
        return None
    v = m.group(1)
    if v.startswith('"'):
        v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return v


def facts(path):
    """(uid, gid, mode) of a path, not following a final symlink."""
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def listing(path):
    """Every entry below `path` (relative), to prove that nothing at all was written."""
    out = []
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(root, n), path))
    return sorted(out)


class Listener:
    """A loopback TCP port. listening=False keeps the port bound but refusing connections
    (nobody else can take it); start_listening() makes it answer, possibly later."""

    def __init__(self, family=socket.AF_INET, listening=True, delay=None):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = False
        self._thread = None
        self._timer = None
        if listening:
            self.start_listening()
        elif delay is not None:
            self._timer = threading.Timer(delay, self.start_listening)
            self._timer.start()

    def start_listening(self):
        self.sock.listen(16)
        self.listening_since = time.monotonic()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                c, _ = self.sock.accept()
                self.accepted += 1
                c.close()
            except (socket.timeout, OSError):
                continue

    def wait_accepted(self, n=1, timeout=10):
        """The number of connections accepted, once it reaches n or timeout passes (a client
        that connected and left is still in the backlog for the accept thread)."""
        end = time.monotonic() + timeout
        while self.accepted < n and time.monotonic() < end:
            time.sleep(0.05)
        return self.accepted

    def close(self):
        self._stop = True
        if self._timer:
            self._timer.cancel()
        if self._thread:
            self._thread.join()
        self.sock.close()


def ipv6_loopback_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def ed25519_fingerprint(pem):
    """Hex SHA-256 of the raw 32-byte public key (the agent's fingerprint and key id form)."""
    der = satest.openssl("pkey", "-pubout", "-outform", "DER", input=pem)
    return hashlib.sha256(der[-32:]).hexdigest()


def gen_ca_cert(workdir, cn="Test Root CA", days=365):
    """A self-signed CA certificate (PEM bytes, CA:TRUE); its key stays in workdir."""
    key = os.path.join(workdir, "ca-%s.key" % hashlib.sha1(cn.encode()).hexdigest()[:8])
    out = satest.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-nodes", "-keyout", key, "-subj", "/CN=" + cn, "-days", str(days),
                         "-addext", "basicConstraints=critical,CA:TRUE",
                         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return out


def k8s_secret_volume(root, files, stamp="..2026_11_28_14_22_04.123456789"):
    """Lays out a Kubernetes Secret volume: files in a timestamped dir, `..data` pointing at it,
    and each visible name a symlink through `..data` (what kubelet's AtomicWriter makes)."""
    os.makedirs(os.path.join(root, stamp), exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(root, stamp, name), "wb") as f:
            f.write(data)
    os.symlink(stamp, os.path.join(root, "..data"))
    for name in files:
        os.symlink(os.path.join("..data", name), os.path.join(root, name))
    return root


def secret_free(testcase, output, secrets):
    """Asserts that no secret (nor the base64 body of a PEM) appears in `output` (bytes)."""
    for s in secrets:
        body = satest.pem_body(s) if b"-----BEGIN" in s else s
        testcase.assertNotIn(body, output)
        for line in s.splitlines():
            if len(line) >= 16 and not line.startswith(b"-----"):
                testcase.assertNotIn(line, output)
