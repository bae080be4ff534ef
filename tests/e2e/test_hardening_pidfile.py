"""`watch --notify-pidfile` does not trust the file blindly: a symlink, a FIFO, a file owned by
somebody else than root or the watcher's user, or one writable by everyone is refused with a
log line saying why, and nobody is signalled; the watcher never blocks on it. A valid pidfile
still gets its signal.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
import watchcase  # noqa: E402


class PidfileChecks(watchcase.WatchCase):
    PREFIX = "sa-pidfile-"

    def setUp(self):
        super().setUp()
        self.pidfile = os.path.join(self.tmp, "service.pid")

    def start_watch(self):
        self.agent = satest.Agent(["watch", "--secret", self.secret, "--debounce", "0",
                                   "--notify-pidfile", self.pidfile], self.tmp)
        self.assertTrue(self.agent.wait_log("event=watch_ready"), self.agent.log_text())

    def assert_refused(self, reason, record):
        self.start_watch()
        self.rotate(b"v1\n")
        self.assertTrue(self.agent.wait_log("event=notify_refused", timeout=10),
                        self.agent.log_text())
        refused = [line for line in self.agent.log_text().splitlines()
                   if "event=notify_refused" in line][0]
        self.assertIn(reason, refused)
        self.assertIn(self.pidfile, refused)
        time.sleep(0.3)
        self.assertEqual(satest.records(record), [], "the service was signalled")
        # Still responsive: SIGTERM ends the watcher at once.
        start = time.monotonic()
        self.assertEqual(self.agent.stop(timeout=10), 0, self.agent.log_text())
        self.assertLess(time.monotonic() - start, 5)
        self.agent = None

    def write_pidfile(self, pid, path=None, mode=0o644):
        path = path or self.pidfile
        with open(path, "w") as f:
            f.write("%d\n" % pid)
        os.chmod(path, mode)
        return path

    def test_symlink_is_refused(self):
        p, record = self.service("a")
        real = self.write_pidfile(p.pid, os.path.join(self.tmp, "real.pid"))
        os.symlink(real, self.pidfile)
        self.assert_refused("symbolic link", record)

    def test_fifo_is_refused_without_blocking(self):
        _, record = self.service("a")
        os.mkfifo(self.pidfile, 0o644)
        self.assert_refused("not a regular file", record)

    def test_file_of_another_user_is_refused(self):
        satest.require_root("gives the pidfile to another uid")
        p, record = self.service("a")
        self.write_pidfile(p.pid)
        os.chown(self.pidfile, 4242, 4242)
        self.assert_refused("belongs to uid 4242", record)

    def test_world_writable_file_is_refused(self):
        p, record = self.service("a")
        self.write_pidfile(p.pid, mode=0o666)
        self.assert_refused("writable by everyone", record)

    def test_valid_pidfile_is_signalled(self):
        p, record = self.service("a")
        self.write_pidfile(p.pid)
        self.start_watch()
        self.rotate(b"v1\n")
        self.assertTrue(satest.wait_for(lambda: len(satest.records(record)) == 1, 10),
                        self.agent.log_text())
        self.assertNotIn("notify_refused", self.agent.log_text())
        self.assertEqual(self.agent.stop(), 0)
        self.agent = None


if __name__ == "__main__":
    satest.main()
