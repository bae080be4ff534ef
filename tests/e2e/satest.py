"""Shared helpers for the end-to-end tests: they drive the built secret-agent binary.

Test keys and certificates are generated here, at test time, with openssl; nothing secret is
committed. Tests that need root call require_root(), which exits 77 (CTest: skipped) loudly.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

AGENT = os.environ.get("SECRET_AGENT") or os.path.join(
    os.environ.get("SFS_BUILD_DIR", "build/dev"), "agent", "secret-agent")
HELPERS = os.environ.get("SFS_TEST_HELPERS", "")
SOURCE_DIR = os.environ.get("SFS_SOURCE_DIR", os.getcwd())


def require_root(why="this test changes owners and uses namespaces"):
    """Exit with 77 (skip) when not root, saying why on stderr."""
    if os.geteuid() != 0:
        sys.stderr.write("SKIPPED: needs root (%s)\n" % why)
        sys.exit(77)


def run_agent(args, env=None, input=None, timeout=30, extra_env=None, **kw):
    """Runs secret-agent with `args` (list). env=None means a minimal clean environment."""
    if env is None:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    if extra_env:
        env = dict(env, **extra_env)
    return subprocess.run([AGENT] + list(args), env=env, input=input, capture_output=True,
                          timeout=timeout, **kw)


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
    lines = [l for l in pem.splitlines() if l and not l.startswith(b"-----")]
    return b"".join(lines)


class TempDirTestCase(unittest.TestCase):
    """A test case with a fresh temporary directory in self.tmp, removed afterwards."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sa-e2e-")
        os.chmod(self.tmp, 0o755)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    unittest.main(verbosity=2)
