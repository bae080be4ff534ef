"""How `run` announces a rotation: a chosen signal, a restart (the new child starts with the
new files), an exec: hook whose exit status the supervisor hands back, or nothing."""
import os
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kubelet  # noqa: E402
import satest  # noqa: E402


class RunNotifications(unittest.TestCase):
    def setUp(self):
        self.tmp = satest.shm_dir("sa-rotnfy-")
        self.src = os.path.join(self.tmp, "volume")
        self.target = os.path.join(self.tmp, "out", "token")
        self.record = os.path.join(self.tmp, "record")
        self.pidfile = os.path.join(self.tmp, "child.pid")
        self.writer = kubelet.AtomicWriter(self.src)
        self.writer.write({"token": b"v0\n"})
        self.secret = "name=token,from=file:%s/token,to=%s,type=opaque" % (self.src, self.target)
        self.agent = None

    def tearDown(self):
        if self.agent:
            self.agent.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *extra):
        self.agent = satest.Agent(
            ["run", "--secret", self.secret, "--debounce", "0"] + list(extra)
            + ["--", satest.ROT_CHILD, self.record, self.pidfile, self.target], self.tmp)
        self.assertTrue(satest.wait_for(lambda: os.path.exists(self.pidfile), 20),
                        self.agent.log_text())
        self.assertTrue(self.agent.wait_log("event=rotation_watching"), self.agent.log_text())

    def rotate(self, data):
        self.writer.write({"token": data})
        self.assertTrue(satest.wait_for(
            lambda: satest.file_sha(self.target) == satest.sha(data), 20), self.agent.log_text())

    def child_pid(self):
        with open(self.pidfile) as f:
            return int(f.read())

    def test_chosen_signal(self):
        self.start("--on-change", "signal:SIGUSR1")
        self.rotate(b"v1\n")
        self.assertTrue(satest.wait_for(lambda: len(satest.records(self.record)) == 1, 10))
        self.assertEqual(satest.records(self.record)[0][1], signal.SIGUSR1)
        self.assertEqual(satest.records(self.record)[0][2], [satest.sha(b"v1\n")])
        self.assertEqual(self.agent.stop(), 0)
        self.agent = None

    def test_restart_starts_a_new_child_after_the_files_changed(self):
        self.start("--on-change", "restart", "--grace", "2s")
        first = self.child_pid()
        os.unlink(self.pidfile)
        self.rotate(b"v1\n")
        self.assertTrue(satest.wait_for(lambda: os.path.exists(self.pidfile), 20),
                        self.agent.log_text())
        second = self.child_pid()
        self.assertNotEqual(first, second)
        self.assertTrue(satest.wait_for(lambda: not os.path.exists("/proc/%d" % first), 10),
                        "the old child was neither stopped nor reaped")
        # The restarted child is supervised like the first: the next rotation restarts it.
        os.unlink(self.pidfile)
        self.rotate(b"v2\n")
        self.assertTrue(satest.wait_for(lambda: os.path.exists(self.pidfile), 20))
        self.assertNotIn(self.child_pid(), (first, second))
        self.assertEqual(self.agent.log_text().count("action=restart"), 2)
        self.assertEqual(self.agent.stop(), 0)
        self.agent = None

    def test_exec_hook_status_comes_back_through_the_supervisor(self):
        out = os.path.join(self.tmp, "hook.out")
        hook = os.path.join(self.tmp, "hook.sh")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\necho \"$SECRET_AGENT_SECRETS\" > %s.tmp && mv %s.tmp %s\n"
                    "exit 7\n" % (out, out, out))
        os.chmod(hook, 0o755)
        self.start("--on-change", "exec:" + hook)
        self.rotate(b"v1\n")
        self.assertTrue(satest.wait_for(lambda: os.path.exists(out), 10), self.agent.log_text())
        with open(out) as f:
            self.assertEqual(f.read().strip(), "token")
        self.assertTrue(self.agent.wait_log("event=hook_exited"), self.agent.log_text())
        line = [l for l in self.agent.log_text().splitlines() if "event=hook_exited" in l][0]
        self.assertIn("status=7", line)
        # The service itself was not signalled, and is still running.
        self.assertEqual(satest.records(self.record), [])
        self.assertIsNotNone(satest.proc_status(self.child_pid(), "State"))
        self.assertEqual(self.agent.stop(), 0)
        self.agent = None

    def test_none_changes_files_and_tells_nobody(self):
        self.start("--on-change", "none")
        self.rotate(b"v1\n")
        self.assertTrue(self.agent.wait_log("action=none"))
        time.sleep(0.3)
        self.assertEqual(satest.records(self.record), [])
        self.assertEqual(self.agent.stop(), 0)
        self.agent = None


if __name__ == "__main__":
    satest.main()
