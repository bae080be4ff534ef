"""The fixture the `watch` tests share: a kubelet-style volume holding one opaque token, its
target, and stand-in services (tests/helpers/rot_child, not the agent's child) that record the
signals they get. Stdlib only, beside satest.py."""
import os
import shutil
import signal
import subprocess
import unittest

import kubelet
import satest


class WatchCase(unittest.TestCase):
    PREFIX = "sa-watch-"

    def setUp(self):
        self.tmp = satest.shm_dir(self.PREFIX)
        self.src = os.path.join(self.tmp, "volume")
        self.target = os.path.join(self.tmp, "out", "token")
        self.procs = []
        self.agent = None
        self.writer = kubelet.AtomicWriter(self.src)
        self.writer.write({"token": b"v0\n"})
        self.secret = "name=token,from=file:%s/token,to=%s,type=opaque" % (self.src, self.target)

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.agent:
            self.agent.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def service(self, name):
        """A stand-in service recording its signals; returns (Popen, record path)."""
        record = os.path.join(self.tmp, name + ".record")
        own_pid = os.path.join(self.tmp, name + ".ownpid")
        p = subprocess.Popen([satest.ROT_CHILD, record, own_pid, self.target])
        self.procs.append(p)
        self.assertTrue(satest.wait_for(lambda: os.path.exists(own_pid), 10))
        return p, record

    def rotate(self, data):
        """Publishes `data` and waits until the target holds it."""
        self.writer.write({"token": data})
        self.assertTrue(satest.wait_for(
            lambda: satest.file_sha(self.target) == satest.sha(data), 20),
            self.agent.log_text() if self.agent else "")
