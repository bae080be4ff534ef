"""The agent does not grow over 10,000 rotations: same number of open descriptors, resident
memory within a small slack, and still one signal per applied change at the end."""
import os
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kubelet  # noqa: E402
import satest  # noqa: E402

ROTATIONS = 10000
WARMUP = 300
RSS_SLACK_KIB = 1024


class Resources(unittest.TestCase):
    def setUp(self):
        self.tmp = satest.shm_dir("sa-rotres-")
        self.agent = None

    def tearDown(self):
        if self.agent:
            self.agent.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_fds_and_rss_stay_flat_over_10000_rotations(self):
        src = os.path.join(self.tmp, "volume")
        target = os.path.join(self.tmp, "out", "token")
        record = os.path.join(self.tmp, "record")
        pidfile = os.path.join(self.tmp, "child.pid")
        writer = kubelet.AtomicWriter(src)
        writer.write({"token": b"rotation 0\n"})
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        if satest.sanitized():
            # ASan holds freed blocks in a quarantine: RSS would measure the quarantine.
            env.update(satest.sanitizer_env(quarantine_size_mb=0,
                                            thread_local_quarantine_size_kb=0))
        self.agent = satest.Agent(
            ["run", "--secret", "name=token,from=file:%s/token,to=%s,type=opaque" % (src, target),
             "--debounce", "0", "--log-level", "debug", "--", satest.ROT_CHILD, record, pidfile,
             target],
            self.tmp, env=env)
        self.assertTrue(satest.wait_for(lambda: os.path.exists(pidfile), 20),
                        self.agent.log_text())
        pid = self.agent.pid()
        # The agent gives back its startup-only pages once, a little after the child starts
        # (event=idle_trim at debug level); the figures are taken after that drop.
        self.assertTrue(satest.wait_for(lambda: "event=idle_trim" in self.agent.log_text(), 20),
                        self.agent.log_text())

        def rotate(i):
            data = b"rotation %d\n" % i
            writer.write({"token": data})
            # Each rotation is applied before the next: 10,000 real applications.
            self.assertTrue(satest.wait_for(lambda: satest.file_sha(target) == satest.sha(data), 20,
                                            interval=0.0002), "rotation %d never applied" % i)

        for i in range(1, WARMUP + 1):
            rotate(i)
        time.sleep(0.2)
        fds_before, rss_before = satest.fd_count(pid), satest.rss_kib(pid)
        started = time.monotonic()
        for i in range(WARMUP + 1, ROTATIONS + 1):
            rotate(i)
        elapsed = time.monotonic() - started
        time.sleep(0.5)
        fds_after, rss_after = satest.fd_count(pid), satest.rss_kib(pid)
        sys.stderr.write("%d rotations in %.1f s: fds %d -> %d, VmRSS %d -> %d KiB\n"
                         % (ROTATIONS - WARMUP, elapsed, fds_before, fds_after, rss_before,
                            rss_after))
        self.assertEqual(fds_after, fds_before, "descriptors leak per rotation")
        self.assertLessEqual(rss_after - rss_before, RSS_SLACK_KIB, "memory grows per rotation")
        final = satest.sha(b"rotation %d\n" % ROTATIONS)
        self.assertTrue(satest.wait_for(
            lambda: satest.records(record) and satest.records(record)[-1][2][0] == final, 20))
        self.assertEqual(self.agent.stop(), 0)
        log = self.agent.log_text()
        self.agent = None
        # Pending SIGHUPs merge in the child, and a swap landing while the agent re-checks
        # its sources joins that application's single notification; never more than one
        # per rotation.
        notified = log.count("event=rotation_notified")
        self.assertLessEqual(notified, ROTATIONS, "duplicate notifications")
        self.assertGreater(notified, ROTATIONS // 2, "rotations went unnoticed")


if __name__ == "__main__":
    satest.main()
