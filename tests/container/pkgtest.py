"""Shared helpers of the packaging and container tests (stdlib only).

Paths come from the environment CTest sets (tests/container/CMakeLists.txt). Skips exit 77 and
say why on stderr.
"""
import os
import subprocess
import sys
import unittest

SOURCE_DIR = os.environ.get("SFS_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("SFS_BUILD_DIR", os.path.join(SOURCE_DIR, "build", "dev"))
AGENT = os.environ.get("SECRET_AGENT") or os.path.join(BUILD_DIR, "agent", "secret-agent")
MAN_DIR = os.environ.get("SFS_MAN_DIR") or os.path.join(BUILD_DIR, "packaging", "man")
MAN_PAGE = os.path.join(MAN_DIR, "man1", "secret-agent.1")
VERSION = os.environ.get("SFS_VERSION", "")


def agent_env(**extra):
    """A minimal environment for running the agent, keeping the sanitizers' options (leak
    detection has to stay off under ASan: the agent refuses ptrace)."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    env.update({k: v for k, v in os.environ.items()
                if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")})
    env.update(extra)
    return env


def skip(why):
    """Skips the whole test program (CTest: exit 77), loudly."""
    sys.stderr.write("SKIPPED: %s\n" % why)
    sys.stderr.flush()
    sys.exit(77)


def require_root(why):
    if os.geteuid() != 0:
        skip("needs root (%s)" % why)


def deb_path():
    """The package cpack made in the build directory (pkg.deb_build)."""
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    return os.path.join(BUILD_DIR, "secret-agent_%s_%s.deb" % (VERSION, arch))


def openssl(*args, input=None):
    r = subprocess.run(["openssl"] + list(args), input=input, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.decode(errors="replace")))
    return r.stdout


def main():
    unittest.main(verbosity=2)
