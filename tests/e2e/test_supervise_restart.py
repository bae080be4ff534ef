"""on_change = restart (docs/design.md §13 "Rotation"): a changed source makes the supervisor stop
the child (SIGTERM, grace, SIGKILL) and start a new one with the same dropped privileges;
the agent keeps running and still exits with the new child's status."""
import os
import signal
import subprocess

import satest


class Restart(satest.TempDirTestCase):
    def setUp(self):
        satest.require_root("the restarted child must run as the dropped user")
        super().setUp()
        self.src = os.path.join(self.tmp, "token")
        self.write_source("first")

    def write_source(self, text):
        tmp = self.src + ".new"
        with open(tmp, "w") as f:
            f.write(text + "-" + os.urandom(4).hex())
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.src)

    def start(self, child_mode, extra=()):
        script = 'echo "started $$ $(id -u)"; exec %s %s' % (satest.PROBE, child_mode)
        args = ["--user", "nobody", "--on-change", "restart", "--debounce", "50ms",
                "--secret", "name=tok,from=file:%s,to=%s/out/tok" % (self.src, self.tmp)]
        return satest.start(args + list(extra), ["/bin/sh", "-c", script])

    def started(self, p):
        words = satest.read_line(p).split()
        self.assertEqual(words[0], "started")
        self.assertEqual(satest.read_line(p), "ready")
        return int(words[1]), int(words[2])

    def test_changed_source_restarts_the_child(self):
        p = self.start("sleep")
        try:
            first, uid = self.started(p)
            self.assertEqual(uid, 65534)
            self.write_source("second")
            second, uid = self.started(p)
            self.assertNotEqual(first, second)
            self.assertEqual(uid, 65534)
            self.assertIsNone(satest.proc_state(first), "the old child is still there")
            p.send_signal(signal.SIGTERM)
            code, _, err = satest.finish(p)
            self.assertEqual(code, 143, err)
            self.assertIn("event=child_restarting", err)
            self.assertEqual(err.count("event=child_started"), 2)
        finally:
            satest.kill_quietly(p)

    def test_child_ignoring_sigterm_is_killed_after_grace_then_restarted(self):
        p = self.start("ignore-term", ["--grace", "300ms"])
        try:
            first, _ = self.started(p)
            self.write_source("second")
            second, _ = self.started(p)
            self.assertNotEqual(first, second)
            os.kill(second, signal.SIGKILL)
            code, _, err = satest.finish(p)
            self.assertEqual(code, 128 + signal.SIGKILL, err)
            self.assertIn("reason=grace", err)
        finally:
            satest.kill_quietly(p)

    def test_restarted_child_gets_the_socket_activation_fds_again(self):
        args = ["--user", "nobody", "--on-change", "restart", "--debounce", "50ms",
                "--secret", "name=tok,from=file:%s,to=%s/out/tok" % (self.src, self.tmp)]
        script = ('export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" "$@" 3</etc/hostname')
        p = subprocess.Popen(["/bin/sh", "-c", script, satest.AGENT, "run"] + args +
                             ["--", satest.PROBE, "report-sleep"], env=dict(satest.BASE_ENV),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for generation in (1, 2):
                lines = []
                while True:
                    line = satest.read_line(p)
                    if line == "ready":
                        break
                    lines.append(line)
                got = satest.parse_report("\n".join(lines))
                fds = {int(x.split()[0]): x.split()[1] for x in got["fd"]}
                self.assertEqual(sorted(fds), [0, 1, 2, 3], "generation %d" % generation)
                self.assertEqual(fds[3], "/etc/hostname")
                self.assertEqual(got["LISTEN_PID"], got["pid"])
                self.assertEqual(got["LISTEN_FDS"], ["1"])
                if generation == 1:
                    first = got["pid"]
                    self.write_source("second")
            self.assertNotEqual(got["pid"], first)
            p.send_signal(signal.SIGTERM)
            code, _, err = satest.finish(p)
            self.assertEqual(code, 143, err)
        finally:
            satest.kill_quietly(p)


if __name__ == "__main__":
    satest.main()
