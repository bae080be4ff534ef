"""Rotation and mounts: poll_interval catches a change inotify cannot see (another directory
bind-mounted over the watched one, in a private mount namespace), and a source that is itself
a bind-mount point (a Kubernetes subPath) is reported at startup as never rotating.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402

UNSHARE = ["unshare", "--mount", "--propagation", "private"]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


class Mounts(unittest.TestCase):
    def setUp(self):
        satest.require_root("mounts in a private mount namespace")
        if not shutil.which("unshare") or not shutil.which("nsenter"):
            sys.stderr.write("SKIPPED: unshare/nsenter (util-linux) missing\n")
            sys.exit(77)
        self.tmp = satest.shm_dir("sa-rotmnt-")
        self.agents = []

    def tearDown(self):
        for a in self.agents:
            a.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, name, poll):
        base = os.path.join(self.tmp, name)
        src, other, out = (os.path.join(base, d) for d in ("src", "other", "out"))
        for d in (src, other):
            os.makedirs(d)
        write(os.path.join(src, "token"), b"before-the-mount\n")
        write(os.path.join(other, "token"), b"after-the-mount\n")
        record, pidfile = os.path.join(base, "record"), os.path.join(base, "child.pid")
        target = os.path.join(out, "token")
        agent = satest.Agent(
            ["run", "--secret",
             "name=token,from=file:%s/token,to=%s,type=opaque" % (src, target),
             "--debounce", "0", "--poll-interval", poll,
             "--", satest.ROT_CHILD, record, pidfile, target],
            base, prefix=UNSHARE)
        self.agents.append(agent)
        self.assertTrue(satest.wait_for(lambda: os.path.exists(pidfile), 20), agent.log_text())
        self.assertTrue(agent.wait_log("event=rotation_watching"))
        # unshare execs the agent: the Popen pid is the agent's, inside the new namespace.
        subprocess.run(["nsenter", "-t", str(agent.pid()), "-m", "mount", "--bind", other, src],
                       check=True)
        return agent, target, record

    def test_poll_interval_sees_a_change_inotify_cannot(self):
        control, control_target, _ = self.start("control", "0")
        polled, target, record = self.start("polled", "200ms")
        new = satest.sha(b"after-the-mount\n")
        self.assertTrue(satest.wait_for(lambda: satest.file_sha(target) == new, 10),
                        polled.log_text())
        self.assertTrue(satest.wait_for(
            lambda: [d[0] for _, _, d in satest.records(record)] == [new], 10))
        # Without polling nothing noticed: inotify watches the covered directory's inode.
        time.sleep(1.0)
        self.assertEqual(satest.file_sha(control_target), satest.sha(b"before-the-mount\n"))
        self.assertEqual(polled.stop(), 0)
        self.assertEqual(control.stop(), 0)

    def test_subpath_source_is_reported_as_never_rotating(self):
        volume = os.path.join(self.tmp, "volume")
        app = os.path.join(self.tmp, "app")
        os.makedirs(volume)
        os.makedirs(app)
        write(os.path.join(volume, "root.crt"), b"opaque-ca\n")
        write(os.path.join(app, "root.crt"), b"")
        target = os.path.join(self.tmp, "out", "root.crt")
        script = ('mount --bind "$1" "$2" && shift 2 && exec "$@"')
        agent = satest.Agent(
            ["run", "--secret",
             "name=root_ca,from=file:%s/root.crt,to=%s,type=opaque" % (app, target),
             "--", "sleep", "30"],
            self.tmp,
            prefix=UNSHARE + ["sh", "-c", script, "sh", os.path.join(volume, "root.crt"),
                              os.path.join(app, "root.crt")])
        self.agents.append(agent)
        self.assertTrue(agent.wait_log("event=source_never_rotates"), agent.log_text())
        log = agent.log_text()
        line = [l for l in log.splitlines() if "source_never_rotates" in l][0]
        self.assertIn("secret=root_ca", line)
        self.assertIn("mount the Secret as a directory", line)
        self.assertEqual(satest.file_sha(target), satest.sha(b"opaque-ca\n"))
        agent.stop()


if __name__ == "__main__":
    satest.main()
