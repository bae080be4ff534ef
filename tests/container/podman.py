"""Podman as the container tests run it, on any Debian 12 machine without touching its files.

Facts of the machines the tests run on, each handled here once:
  - crun refuses to start containers on hybrid cgroup hierarchies ("cgroups in hybrid mode not
    supported"): the OCI runtime is runc, and the cgroup manager cgroupfs (no systemd scope);
  - podman's default nofile/nproc ulimits for containers exceed the hard limits of a test
    machine's session: a private containers.conf (CONTAINERS_CONF) sets `default_ulimits = []`,
    so containers inherit the caller's limits; the host's /etc/containers is never edited;
  - no registry is reachable: every image is made locally (scripts/container-images.sh) and
    builds and runs never pull (`--pull=never`);
  - the storage lives under a cache directory so the base images persist across runs.

Usage as a module: `podman.run("images")`, `podman.argv("build", ...)`.
Usage as a command: `python3 tests/container/podman.py ARGS...` runs podman with this setup
(e.g. `... podman.py images`, `... podman.py system prune`).
Environment: SFS_PODMAN_CACHE (default /var/cache/secret-agent-test/podman).
"""
import os
import subprocess
import sys

CACHE = os.environ.get("SFS_PODMAN_CACHE", "/var/cache/secret-agent-test/podman")
CONF = os.path.join(CACHE, "containers.conf")
REGISTRIES = os.path.join(CACHE, "registries.conf")

CONTAINERS_CONF = """\
# Written by tests/container/podman.py: the container tests' private podman setup.
[containers]
# Inherit the caller's limits instead of podman's defaults (above some machines' hard limits).
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
# No journald needed to record events.
events_logger = "file"
"""

# Short names (debian:12-slim, python:3.11-slim) resolve to docker.io as on Docker; the images
# are only ever found locally (the tests import or build them under those names).
REGISTRIES_CONF = """\
# Written by tests/container/podman.py.
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
"""


def _write_if_changed(path, text):
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def setup():
    """Creates the cache directory and the private configuration files."""
    os.makedirs(os.path.join(CACHE, "tmp"), mode=0o700, exist_ok=True)
    _write_if_changed(CONF, CONTAINERS_CONF)
    _write_if_changed(REGISTRIES, REGISTRIES_CONF)


def env(base=None):
    e = dict(os.environ if base is None else base)
    e["CONTAINERS_CONF"] = CONF
    e["CONTAINERS_REGISTRIES_CONF"] = REGISTRIES
    # The storage and run roots below; no user-level configuration may add to them.
    e.pop("CONTAINERS_STORAGE_CONF", None)
    return e


def argv(*args):
    return ["podman", "--root", os.path.join(CACHE, "storage"),
            "--runroot", os.path.join(CACHE, "run"), "--storage-driver", "overlay",
            "--runtime", "runc", "--cgroup-manager", "cgroupfs",
            "--tmpdir", os.path.join(CACHE, "tmp")] + list(args)


def run(*args, check=True, timeout=900, **kw):
    """podman ARGS with this setup; text output captured unless the caller says otherwise."""
    setup()
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    r = subprocess.run(argv(*args), env=env(kw.pop("env", None)), timeout=timeout, **kw)
    if check and r.returncode != 0:
        out = (r.stdout or "") + (r.stderr or "") if kw.get("text") else ""
        raise RuntimeError("podman %s failed (exit %d): %s" % (
            " ".join(args[:3]), r.returncode, out[-3000:]))
    return r


def popen(*args, **kw):
    setup()
    return subprocess.Popen(argv(*args), env=env(kw.pop("env", None)), **kw)


def available():
    """None when podman and runc can run here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "needs root (podman with runc and cgroupfs, images under %s)" % CACHE
    for tool in ("podman", "runc"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            return "%s is not installed (Debian packages podman, runc)" % tool
    return None


if __name__ == "__main__":
    setup()
    os.execvpe("podman", argv(*sys.argv[1:]), env())
