"""Writes after a crash: a temp file that an interrupted run left beside a target (the whole
secret under ".NAME.XXXXXX") is removed by the next run; look-alikes are left alone.
"""
import os
import sys
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


if __name__ == "__main__":
    satest.main()
