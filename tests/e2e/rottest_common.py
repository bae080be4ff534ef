"""Shared pieces of the rotation tests: keys and certificates made at test time, an agent
started with the rot_child stand-in service, and readers of what the child recorded.

Nothing here prints file contents: comparisons are made on SHA-256 digests.
"""
import hashlib
import os
import signal
import subprocess
import sys
import time

import satest

ROT_CHILD = os.path.join(satest.HELPERS, "rot_child")
ROT_READER = os.path.join(satest.HELPERS, "rot_reader")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def gen_key_and_cert(workdir, tag):
    """An Ed25519 key and a self-signed CA certificate for it (bytes, bytes)."""
    key_path = os.path.join(workdir, "gen-%s.key" % tag)
    with open(key_path, "wb") as f:
        f.write(satest.gen_ed25519_pem())
    cert = satest.openssl("req", "-x509", "-key", key_path, "-subj", "/CN=rotation-%s" % tag,
                          "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
                          "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(key_path, "rb") as f:
        key = f.read()
    os.unlink(key_path)
    return key, cert


def shm_dir(prefix):
    """A fresh directory on tmpfs (cheap fsync), or under /tmp when /dev/shm is missing."""
    import tempfile
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    d = tempfile.mkdtemp(prefix=prefix, dir=base)
    os.chmod(d, 0o755)
    return d


def wait_for(predicate, timeout, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def file_sha(path):
    try:
        with open(path, "rb") as f:
            return sha(f.read())
    except FileNotFoundError:
        return None


def sanitized():
    """True when the agent was built with AddressSanitizer (the asan preset)."""
    with open(satest.AGENT, "rb") as f:
        return b"__asan_init" in f.read()


def sanitizer_env(**asan):
    """The sanitizer options of the test run, passed through to the agent; `asan` adds
    ASAN_OPTIONS entries."""
    env = {k: v for k, v in os.environ.items()
           if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}
    if asan:
        extra = ":".join("%s=%s" % kv for kv in asan.items())
        env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"] + ":" + extra if env.get("ASAN_OPTIONS") \
            else extra
    return env


class Agent:
    """secret-agent run (or watch) in the background, its stderr collected in a file."""

    def __init__(self, args, workdir, env=None, prefix=()):
        """`prefix` is a command that ends by exec'ing the agent (unshare, sh -c)."""
        self.log_path = os.path.join(workdir, "agent.log")
        self.log = open(self.log_path, "wb")
        env = dict(sanitizer_env(), **(env or {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}))
        argv = list(prefix) + [satest.AGENT] + list(args)
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, needle, timeout=20, count=1):
        return wait_for(lambda: self.log_text().count(needle) >= count, timeout)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def pid(self):
        return self.proc.pid


def records(path):
    """The rot_child record: a list of (ns, signo, [hashes])."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    out.append((int(parts[0]), int(parts[1]), parts[2:]))
    except FileNotFoundError:
        pass
    return out


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    return None


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    return int(proc_status(pid, "VmRSS").split()[0])


def child_pid_of(pid):
    """The first child of `pid` (the service under `run`)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except FileNotFoundError:
        return None


def assert_no_secret_bytes(testcase, text, pems):
    for pem in pems:
        body = satest.pem_body(pem)
        for i in range(0, max(1, len(body) - 24), 24):
            chunk = body[i:i + 24].decode(errors="replace")
            if len(chunk) >= 16:
                testcase.assertNotIn(chunk, text, "secret material in the agent's log")
