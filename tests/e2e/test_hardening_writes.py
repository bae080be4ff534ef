"""Writes after a crash: a temp file that an interrupted run left beside a target (the whole
secret under ".NAME.XXXXXX") is removed by the next run; look-alikes are left alone. And the
durability policy on a disk filesystem, seen by strace: `materialize` fsyncs the file and its
directory (its files outlive it), `run` only renames (it writes every target again at each
start, before the service can read it). Secrets that share a directory have it walked from
"/" once per pass, not once each.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
from satest import BASE_ENV, write_config  # noqa: E402


class StaleTempFiles(satest.TempDirTestCase):
    def plant(self, name, uid=None):
        path = os.path.join(self.out, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        os.write(fd, b"stale copy of the token")
        os.close(fd)
        if uid is not None:
            os.chown(path, uid, uid)
        return path

    def test_next_materialize_removes_leftover_temp(self):
        self.out = os.path.join(self.tmp, "out")
        os.makedirs(self.out, 0o700)
        src = os.path.join(self.tmp, "token.src")
        with open(src, "wb") as f:
            f.write(b"token")
        cfg = write_config(os.path.join(self.tmp, "agent.ini"), """
[secret "token"]
from = file:%s
to = %s/k.pem
""" % (src, self.out))
        r = satest.run_agent(["materialize", "--config", cfg], env=BASE_ENV)
        self.assertEqual(r.returncode, 0, r.stderr)
        stale = self.plant(".k.pem.q7Rx2Z")
        keep = [self.plant(".k.pem.q7Rx2"), self.plant(".k.pem.q7Rx2Z9"),
                self.plant(".x.pem.q7Rx2Z")]
        if os.geteuid() == 0:
            keep.append(self.plant(".k.pem.N0tMin", uid=4242))
        os.symlink(src, os.path.join(self.out, ".k.pem.L1nkkk"))
        keep.append(os.path.join(self.out, ".k.pem.L1nkkk"))

        # Content unchanged: nothing is rewritten, the leftover still goes.
        r = satest.run_agent(["materialize", "--config", cfg], env=BASE_ENV)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.lexists(stale), "the stale temp file survived")
        for path in keep:
            self.assertTrue(os.path.lexists(path), "%s was removed" % path)
        with open(os.path.join(self.out, "k.pem"), "rb") as f:
            self.assertEqual(f.read(), b"token")


class DurabilityPolicy(unittest.TestCase):
    def setUp(self):
        if not shutil.which("strace"):
            self.skipTest("SKIPPED: strace is not installed")
        # A disk filesystem: the build tree's (never tmpfs, where fsync is always skipped).
        base = os.path.abspath(os.environ.get("SFS_BUILD_DIR", "."))
        self.tmp = tempfile.mkdtemp(prefix="sa-durable-", dir=base)
        kind = subprocess.run(["stat", "-f", "-c", "%T", self.tmp], capture_output=True,
                              text=True).stdout.strip()
        if kind in ("tmpfs", "ramfs"):
            self.skipTest("SKIPPED: %s is on %s, not a disk filesystem" % (self.tmp, kind))
        self.src = os.path.join(self.tmp, "token.src")
        with open(self.src, "wb") as f:
            f.write(b"token")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def traced(self, args, target):
        """Runs the agent under strace; returns (syncs, renames onto `target`'s name)."""
        log = os.path.join(self.tmp, "strace.log")
        # -s 0: not even test bytes reach the log. No sanitizer leak check under ptrace.
        env = dict(BASE_ENV, **satest.sanitizer_env(detect_leaks="0"))
        r = subprocess.run(["strace", "-f", "-s", "0", "-o", log, "-e",
                            "trace=fsync,fdatasync,syncfs,sync,renameat,renameat2",
                            satest.AGENT] + args, env=env, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(log) as f:
            lines = f.read().splitlines()
        syncs = [ln for ln in lines if "sync(" in ln and "resumed" not in ln]
        renames = [ln for ln in lines if "rename" in ln and os.path.basename(target) in ln]
        with open(target, "rb") as f:
            self.assertEqual(f.read(), b"token")
        return syncs, renames

    def test_materialize_syncs_file_and_directory(self):
        target = os.path.join(self.tmp, "out-m", "k.pem")
        syncs, renames = self.traced(
            ["materialize", "--secret", "name=k,from=file:%s,to=%s" % (self.src, target)],
            target)
        self.assertEqual(len(renames), 1, renames)
        self.assertGreaterEqual(len(syncs), 2, "expected fsync of the file and the directory")

    def test_run_renames_without_sync(self):
        target = os.path.join(self.tmp, "out-r", "k.pem")
        syncs, renames = self.traced(
            ["run", "--secret", "name=k,from=file:%s,to=%s" % (self.src, target), "--",
             "/bin/true"], target)
        self.assertEqual(len(renames), 1, renames)
        self.assertEqual(syncs, [])

    def test_one_walk_per_directory_per_pass(self):
        log = os.path.join(self.tmp, "walk.log")
        out = os.path.join(self.tmp, "out-w")
        args = []
        for i in range(5):
            args += ["--secret", "name=k%d,from=file:%s,to=%s/k%d" % (i, self.src, out, i)]
        env = dict(BASE_ENV, **satest.sanitizer_env(detect_leaks="0"))
        r = subprocess.run(["strace", "-f", "-s", "64", "-o", log, "-e", "trace=openat",
                            satest.AGENT, "materialize"] + args, env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(log) as f:
            walks = [ln for ln in f if 'openat(AT_FDCWD, "/", ' in ln and "O_PATH" in ln]
        self.assertEqual(len(walks), 1, walks)
        for i in range(5):
            with open(os.path.join(out, "k%d" % i), "rb") as f:
                self.assertEqual(f.read(), b"token")


if __name__ == "__main__":
    satest.main()
