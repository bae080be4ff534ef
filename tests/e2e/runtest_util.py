"""Helpers for the run / privdrop / supervise tests: start `secret-agent run` with the
probe_child stand-in service (tests/helpers/probe_child.c), optionally as PID 1 of a fresh PID
namespace (`unshare -fp --mount-proc`), read what the child reports, and look at the process
tree from outside.
"""
import os
import select
import signal
import subprocess
import time

import satest

PROBE = os.path.join(satest.HELPERS, "probe_child")
UNSHARE = ["unshare", "-fp", "--mount-proc"]
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
# Sanitizer builds set these for the tests (no leak detection: the agent forbids ptrace).
BASE_ENV.update({k: v for k, v in os.environ.items()
                 if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")})


def agent_cmd(agent_args, child, pid1=False):
    """The argv of `secret-agent run AGENT_ARGS -- CHILD...` (child: list)."""
    cmd = [satest.AGENT, "run"] + list(agent_args) + ["--"] + list(child)
    return (UNSHARE + cmd) if pid1 else cmd


def run(agent_args, child, pid1=False, env=None, timeout=60, **kw):
    """Runs to completion; returns CompletedProcess (stdout/stderr as text)."""
    return subprocess.run(agent_cmd(agent_args, child, pid1), env=env or dict(BASE_ENV),
                          capture_output=True, text=True, timeout=timeout, **kw)


def start(agent_args, child, pid1=False, env=None, **kw):
    """Starts in the background with stdout/stderr pipes (binary, unbuffered reads)."""
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


def proc_state(pid):
    """The state letter of /proc/PID/stat (R, S, Z, T...), or None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(")") + 2]


def status_field(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split(":", 1)[1].strip()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


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
        return os.readlink("/proc/%d/exe" % pid) == os.path.realpath(satest.AGENT)
    except OSError:
        return False


def wait_blocked(pid, sig=signal.SIGTERM, timeout=20.0):
    """Waits until the agent `pid` blocks `sig` (it reads signals from a signalfd). The exe
    is checked too: unshare's child blocks SIGTERM itself before it execs the agent."""
    deadline = time.monotonic() + timeout
    bit = 1 << (sig - 1)
    while time.monotonic() < deadline:
        v = status_field(pid, "SigBlk")
        if v is not None and int(v, 16) & bit and is_agent(pid):
            return
        time.sleep(0.005)
    raise AssertionError("agent never blocked signal %d" % sig)


def wait_for(predicate, timeout=20.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
