"""The one helper module of the end-to-end tests: they drive the built secret-agent binary.

Sections: where things are and the environment; skipping; running the agent (to completion,
timed, under `run` with the probe_child stand-in service, in the background with a log file);
waiting; /proc readers; the no-secret-bytes check; log lines; files; keys and certificates;
TCP listeners. Stdlib only.

Test keys and certificates are generated here, at test time, with openssl; nothing secret is
committed, and nothing here prints file contents (comparisons are made on SHA-256 digests).
Tests that need root call require_root(), which exits 77 (CTest: skipped) loudly. Kubernetes'
AtomicWriter is in kubelet.py; the key material of the validate tests in valtest_keys.py.
"""
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

# ---- Where things are, and the environment the agent gets ----------------------------------

AGENT = os.environ.get("SECRET_AGENT") or os.path.join(
    os.environ.get("SFS_BUILD_DIR", "build/dev"), "agent", "secret-agent")
HELPERS = os.environ.get("SFS_TEST_HELPERS", "")
SOURCE_DIR = os.environ.get("SFS_SOURCE_DIR", os.getcwd())

PROBE = os.path.join(HELPERS, "probe_child")   # stand-in service that reports what it got
ROT_CHILD = os.path.join(HELPERS, "rot_child")  # stand-in service that records rotations
ROT_READER = os.path.join(HELPERS, "rot_reader")
UNSHARE = ["unshare", "-fp", "--mount-proc"]

PATH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


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


# A minimal clean environment. Sanitizer builds set their options for the tests (no leak
# detection: the agent forbids ptrace); they are passed on so the agent runs with them.
BASE_ENV = dict(PATH_ENV, **sanitizer_env())


def sanitized():
    """True when the agent was built with AddressSanitizer (the asan preset)."""
    with open(AGENT, "rb") as f:
        return b"__asan_init" in f.read()


# ---- Skipping and test cases ------------------------------------------------------------------

def require_root(why="this test changes owners and uses namespaces"):
    """Exit with 77 (skip) when not root, saying why on stderr."""
    if os.geteuid() != 0:
        sys.stderr.write("SKIPPED: needs root (%s)\n" % why)
        sys.exit(77)


class TempDirTestCase(unittest.TestCase):
    """A test case with a fresh temporary directory in self.tmp, removed afterwards."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sa-e2e-")
        os.chmod(self.tmp, 0o755)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    unittest.main(verbosity=2)


# ---- Running the agent --------------------------------------------------------------------------

def run_agent(args, env=None, input=None, timeout=30, extra_env=None, **kw):
    """Runs secret-agent with `args` (list). env=None means BASE_ENV."""
    if env is None:
        env = dict(BASE_ENV)
    if extra_env:
        env = dict(env, **extra_env)
    return subprocess.run([AGENT] + list(args), env=env, input=input, capture_output=True,
                          timeout=timeout, **kw)


def run_timed(args, env=None, timeout=60, **kw):
    """Runs the agent with BASE_ENV plus `env`; returns (CompletedProcess, seconds taken)."""
    start_time = time.monotonic()
    r = run_agent(args, env=dict(BASE_ENV, **(env or {})), timeout=timeout, **kw)
    return r, time.monotonic() - start_time


def agent_cmd(agent_args, child, pid1=False):
    """The argv of `secret-agent run AGENT_ARGS -- CHILD...` (child: list), as PID 1 of a fresh
    PID namespace (`unshare -fp --mount-proc`) when pid1."""
    cmd = [AGENT, "run"] + list(agent_args) + ["--"] + list(child)
    return (UNSHARE + cmd) if pid1 else cmd


def run(agent_args, child, pid1=False, env=None, timeout=60, **kw):
    """`secret-agent run` to completion; returns CompletedProcess (stdout/stderr as text)."""
    return subprocess.run(agent_cmd(agent_args, child, pid1), env=env or dict(BASE_ENV),
                          capture_output=True, text=True, timeout=timeout, **kw)


def start(agent_args, child, pid1=False, env=None, **kw):
    """`secret-agent run` in the background with stdout/stderr pipes (binary, unbuffered
    reads)."""
    return subprocess.Popen(agent_cmd(agent_args, child, pid1), env=env or dict(BASE_ENV),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def read_line(proc, timeout=20.0):
    """Next line of proc.stdout (text, no newline), or raises AssertionError on timeout/EOF."""
    deadline = time.monotonic() + timeout
    buf = getattr(proc, "_linebuf", b"")
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no line from the child within %.0fs (got %r)" % (timeout, buf))
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            raise AssertionError("child output ended before a full line (got %r)" % buf)
        buf += chunk
    line, _, rest = buf.partition(b"\n")
    proc._linebuf = rest
    return line.decode()


def finish(proc, timeout=30):
    """Waits for exit; returns (returncode, stdout rest, stderr) as text."""
    out, err = proc.communicate(timeout=timeout)
    rest = getattr(proc, "_linebuf", b"") + out
    return proc.returncode, rest.decode(errors="replace"), err.decode(errors="replace")


def kill_quietly(proc):
    """Cleanup after a test: SIGKILL the whole tree (an agent killed with SIGKILL cannot take
    its child along), then collect the pipes."""
    if proc.poll() is None:
        for pid in descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        proc.communicate(timeout=10)
    except (ValueError, subprocess.TimeoutExpired):
        pass


def parse_report(text):
    """probe_child report lines -> {key: [values...]} (a key may repeat: fd, env)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
            if not sep:
                continue
        out.setdefault(key, []).append(value.strip())
    return out


class Agent:
    """secret-agent run (or watch) in the background, its stderr collected in a file."""

    def __init__(self, args, workdir, env=None, prefix=()):
        """`prefix` is a command that ends by exec'ing the agent (unshare, sh -c)."""
        self.log_path = os.path.join(workdir, "agent.log")
        self.log = open(self.log_path, "wb")
        env = dict(sanitizer_env(), **(env or PATH_ENV))
        argv = list(prefix) + [AGENT] + list(args)
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


# ---- Waiting ------------------------------------------------------------------------------------

def wait_for(predicate, timeout=20.0, interval=0.01):
    """Polls `predicate` until it is true or `timeout` seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# ---- /proc --------------------------------------------------------------------------------------

def proc_status(pid, key):
    """The value of one /proc/PID/status line (e.g. "CapEff"), or None when absent or gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split(":", 1)[1].strip()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def proc_state(pid):
    """The state letter of /proc/PID/stat (R, S, Z, T...), or None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(")") + 2]


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    return int(proc_status(pid, "VmRSS").split()[0])


def children(pid):
    """Direct children of pid (from /proc/PID/task/*/children)."""
    kids = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except FileNotFoundError:
        return kids
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return kids


def descendants(pid):
    out, todo = [], children(pid)
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def agent_pid(proc, pid1, timeout=20.0):
    """Host pid of the agent: proc itself, or unshare's forked child when pid1."""
    if not pid1:
        return proc.pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = children(proc.pid)
        if kids:
            return kids[0]
        time.sleep(0.01)
    raise AssertionError("unshare did not start the agent")


def is_agent(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid) == os.path.realpath(AGENT)
    except OSError:
        return False


def wait_blocked(pid, sig=signal.SIGTERM, timeout=20.0):
    """Waits until the agent `pid` blocks `sig` (it reads signals from a signalfd). The exe
    is checked too: unshare's child blocks SIGTERM itself before it execs the agent."""
    deadline = time.monotonic() + timeout
    bit = 1 << (sig - 1)
    while time.monotonic() < deadline:
        v = proc_status(pid, "SigBlk")
        if v is not None and int(v, 16) & bit and is_agent(pid):
            return
        time.sleep(0.005)
    raise AssertionError("agent never blocked signal %d" % sig)


# ---- No secret bytes in any output --------------------------------------------------------------

def _secret_needles(secret):
    """What must not appear for one secret: a PEM's whole base64 body, each of its body lines,
    and windows of 24 characters every 8 (so any 31 consecutive characters of the body are
    caught, the end included); any other byte string as a whole."""
    if b"-----BEGIN" not in secret:
        return [secret]
    body = pem_body(secret)
    needles = [body]
    needles += [line for line in secret.splitlines()
                if len(line) >= 16 and not line.startswith(b"-----")]
    if len(body) > 24:
        needles += [body[i:i + 24] for i in range(0, len(body) - 24, 8)] + [body[-24:]]
    return needles


def assert_no_secret_bytes(testcase, output, secrets):
    """Asserts that no secret of `secrets` (PEMs or raw byte strings) appears in `output`
    (bytes, or text such as a log file read back)."""
    if isinstance(output, str):
        output = output.encode()
    for s in secrets:
        for needle in _secret_needles(s):
            testcase.assertNotIn(needle, output, "secret material in the output")


# ---- Log lines ----------------------------------------------------------------------------------

def log_lines(stderr):
    return stderr.decode(errors="replace").splitlines()


def lines_with(stderr, needle):
    return [line for line in log_lines(stderr) if needle in line]


def field(line, key):
    """The value of a logfmt field (quoted or bare), or None."""
    m = re.search(r'(?:^| )%s=("(?:[^"\\]|\\.)*"|\S*)' % re.escape(key), line)
    if not m:
        return None
    v = m.group(1)
    if v.startswith('"'):
        v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return v


# ---- Files --------------------------------------------------------------------------------------

def read(path):
    with open(path, "rb") as f:
        return f.read()


def write_config(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def facts(path):
    """(uid, gid, mode) of a path, not following a final symlink."""
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def listing(path):
    """Every entry below `path` (relative), to prove that nothing at all was written."""
    out = []
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(root, n), path))
    return sorted(out)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def file_sha(path):
    """SHA-256 of a file's content (hex), or None when it does not exist."""
    try:
        return sha(read(path))
    except FileNotFoundError:
        return None


def shm_dir(prefix):
    """A fresh directory on tmpfs (cheap fsync), or under /tmp when /dev/shm is missing."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    d = tempfile.mkdtemp(prefix=prefix, dir=base)
    os.chmod(d, 0o755)
    return d


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


def k8s_secret_volume(root, files, stamp="..2026_11_28_14_22_04.123456789"):
    """Lays out a Kubernetes Secret volume: files in a timestamped dir, `..data` pointing at it,
    and each visible name a symlink through `..data` (what kubelet's AtomicWriter makes; see
    kubelet.py for its updates)."""
    os.makedirs(os.path.join(root, stamp), exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(root, stamp, name), "wb") as f:
            f.write(data)
    os.symlink(stamp, os.path.join(root, "..data"))
    for name in files:
        os.symlink(os.path.join("..data", name), os.path.join(root, name))
    return root


# ---- Keys and certificates ----------------------------------------------------------------------

def openssl(*args, input=None):
    r = subprocess.run(["openssl"] + list(args), input=input, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.decode(errors="replace")))
    return r.stdout


def gen_ed25519_pem():
    """A fresh Ed25519 PKCS#8 v1 PEM (bytes), as `openssl genpkey` writes it."""
    return openssl("genpkey", "-algorithm", "ed25519")


def pem_body(pem):
    """The base64 body of a PEM (bytes, lines joined): what must never appear in any output."""
    lines = [line for line in pem.splitlines() if line and not line.startswith(b"-----")]
    return b"".join(lines)


def ed25519_public_key(pem):
    """The raw 32-byte public key of an Ed25519 private key PEM (via openssl)."""
    der = openssl("pkey", "-pubout", "-outform", "DER", input=pem)
    return der[-32:]


def ed25519_fingerprint(pem):
    """Hex SHA-256 of the raw 32-byte public key (the agent's fingerprint and key id form)."""
    return hashlib.sha256(ed25519_public_key(pem)).hexdigest()


def gen_ca_cert(workdir, cn="Test Root CA", days=365):
    """A self-signed CA certificate (PEM bytes, CA:TRUE); its key stays in workdir."""
    key = os.path.join(workdir, "ca-%s.key" % hashlib.sha1(cn.encode()).hexdigest()[:8])
    out = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", key, "-subj", "/CN=" + cn, "-days", str(days),
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return out


def gen_key_and_cert(workdir, tag):
    """An Ed25519 key and a self-signed CA certificate for it (bytes, bytes)."""
    key_path = os.path.join(workdir, "gen-%s.key" % tag)
    with open(key_path, "wb") as f:
        f.write(gen_ed25519_pem())
    cert = openssl("req", "-x509", "-key", key_path, "-subj", "/CN=rotation-%s" % tag,
                   "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    key = read(key_path)
    os.unlink(key_path)
    return key, cert


# ---- TCP listeners ------------------------------------------------------------------------------

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
        wait_for(lambda: self.accepted >= n, timeout, interval=0.05)
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
