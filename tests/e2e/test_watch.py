"""`secret-agent watch`: the sidecar. It signals whatever pid --notify-pidfile names at the
moment of each rotation (retrying a stale one), needs the pidfile only for signal:, runs exec:
hooks, and exits 0 on SIGTERM."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
import watchcase  # noqa: E402


class Watch(watchcase.WatchCase):
    def test_signal_goes_to_the_pid_in_the_file_at_that_moment(self):
        a, rec_a = self.service("a")
        b, rec_b = self.service("b")
        notify = os.path.join(self.tmp, "service.pid")
        with open(notify, "w") as f:
            f.write("%d\n" % a.pid)
        self.agent = satest.Agent(["watch", "--secret", self.secret, "--debounce", "0",
                                   "--notify-pidfile", notify], self.tmp)
        self.assertTrue(self.agent.wait_log("event=watch_ready"), self.agent.log_text())
        self.assertEqual(satest.file_sha(self.target), satest.sha(b"v0\n"))

        self.rotate(b"v1\n")
        self.assertTrue(satest.wait_for(lambda: len(satest.records(rec_a)) == 1, 10))
        with open(notify + ".new", "w") as f:
            f.write("%d\n" % b.pid)
        os.rename(notify + ".new", notify)
        self.rotate(b"v2\n")
        self.assertTrue(satest.wait_for(lambda: len(satest.records(rec_b)) == 1, 10))

        # A stale pid: logged and retried until the file names a live process.
        dead = subprocess.Popen(["true"])
        dead.wait()
        with open(notify, "w") as f:
            f.write("%d\n" % dead.pid)
        self.rotate(b"v3\n")
        self.assertTrue(self.agent.wait_log("stale pidfile"), self.agent.log_text())
        with open(notify, "w") as f:
            f.write("%d\n" % b.pid)
        self.assertTrue(satest.wait_for(lambda: len(satest.records(rec_b)) == 2, 15),
                        self.agent.log_text())
        time.sleep(0.3)
        self.assertEqual(self.agent.stop(), 0)
        self.agent = None
        self.assertEqual([d[0] for _, _, d in satest.records(rec_a)], [satest.sha(b"v1\n")])
        self.assertEqual([d[0] for _, _, d in satest.records(rec_b)],
                         [satest.sha(b"v2\n"), satest.sha(b"v3\n")])

    def test_dropped_watcher_signals_a_service_of_the_same_user(self):
        if os.geteuid() != 0:
            self.skipTest("needs root: drops the watcher to nobody")
        import pwd
        nobody = pwd.getpwnam("nobody")
        spool = os.path.join(self.tmp, "spool")
        os.makedirs(spool)
        os.chmod(spool, 0o777)
        record, pidfile = os.path.join(spool, "svc.record"), os.path.join(spool, "svc.pid")

        def as_nobody():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)

        self.agent = satest.Agent(["watch", "--secret", self.secret, "--user", "nobody",
                                   "--debounce", "0", "--notify-pidfile", pidfile], self.tmp)
        self.assertTrue(self.agent.wait_log("event=watch_ready"), self.agent.log_text())
        self.assertEqual(os.stat(self.target).st_uid, nobody.pw_uid)
        uids = satest.proc_status(self.agent.pid(), "Uid").split()
        self.assertEqual(set(uids), {str(nobody.pw_uid)}, "the watcher kept root")
        self.assertEqual(satest.proc_status(self.agent.pid(), "CapEff"), "0000000000000000")
        svc = subprocess.Popen([satest.ROT_CHILD, record, pidfile, self.target],
                               preexec_fn=as_nobody)
        self.procs.append(svc)
        self.assertTrue(satest.wait_for(lambda: os.path.exists(pidfile), 10))
        self.rotate(b"v1\n")
        self.assertTrue(satest.wait_for(lambda: len(satest.records(record)) == 1, 10),
                        self.agent.log_text())
        self.assertEqual(satest.records(record)[0][2], [satest.sha(b"v1\n")])
        self.assertEqual(self.agent.stop(), 0)
        self.agent = None

    def test_signal_needs_a_pidfile_restart_needs_run(self):
        r = satest.run_agent(["watch", "--secret", self.secret])
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn(b"--notify-pidfile", r.stderr)
        r = satest.run_agent(["watch", "--secret", self.secret, "--on-change", "restart"])
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertFalse(os.path.exists(self.target), "a usage error wrote a file")

    def test_exec_hook_without_pidfile_and_sigterm_exits_zero(self):
        out = os.path.join(self.tmp, "hook.out")
        hook = os.path.join(self.tmp, "hook.sh")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\nsha256sum < %s | cut -d' ' -f1 > %s.tmp\n"
                    "echo \"$SECRET_AGENT_SECRETS\" >> %s.tmp\nmv %s.tmp %s\nexit 5\n"
                    % (self.target, out, out, out, out))
        os.chmod(hook, 0o755)
        self.agent = satest.Agent(["watch", "--secret", self.secret, "--debounce", "0",
                                   "--on-change", "exec:" + hook], self.tmp)
        self.assertTrue(self.agent.wait_log("event=watch_ready"), self.agent.log_text())
        self.rotate(b"v1\n")
        self.assertTrue(satest.wait_for(lambda: os.path.exists(out), 10), self.agent.log_text())
        with open(out) as f:
            digest, names = f.read().split()
        self.assertEqual(digest, satest.sha(b"v1\n"))
        self.assertEqual(names, "token")
        self.assertTrue(self.agent.wait_log("event=hook_exited"), self.agent.log_text())
        line = [l for l in self.agent.log_text().splitlines() if "event=hook_exited" in l][0]
        self.assertIn("status=5", line)
        self.assertEqual(self.agent.stop(signal.SIGTERM), 0)
        self.agent = None

    def test_as_pid1_reaps_what_a_hook_leaves_behind(self):
        """A sidecar's watch is its container's PID 1: a hook's background process is
        reparented to it and must not stay a zombie; the hook's own exit is still logged."""
        satest.require_root("unshare -p needs root")
        orphan_pidfile = os.path.join(self.tmp, "orphan.pid")
        hook = os.path.join(self.tmp, "hook.sh")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\nsleep 0.3 &\necho $! > %s\nexit 3\n" % orphan_pidfile)
        os.chmod(hook, 0o755)
        self.agent = satest.Agent(["watch", "--secret", self.secret, "--debounce", "0",
                                   "--on-change", "exec:" + hook], self.tmp,
                                  prefix=satest.UNSHARE)
        self.assertTrue(self.agent.wait_log("event=watch_ready"), self.agent.log_text())
        agent = satest.agent_pid(self.agent.proc, pid1=True)
        for i in range(1, 4):
            self.rotate(b"v%d\n" % i)
            self.assertTrue(self.agent.wait_log("event=hook_exited", count=i),
                            self.agent.log_text())
            # The orphan lives 0.3 s under the agent; reaped, the agent has no child left.
            self.assertTrue(satest.wait_for(lambda: satest.children(agent) == [], timeout=20),
                            "left under the agent: %s" % [(q, satest.proc_state(q))
                                                          for q in satest.children(agent)])
        hooks = [ln for ln in self.agent.log_text().splitlines() if "event=hook_exited" in ln]
        self.assertEqual(len(hooks), 3)
        self.assertTrue(all("status=3" in ln for ln in hooks), hooks)
        # unshare only waits; the agent itself gets the SIGTERM, and unshare returns its code.
        os.kill(agent, signal.SIGTERM)
        self.assertEqual(self.agent.proc.wait(timeout=20), 0, self.agent.log_text())
        self.assertEqual(self.agent.stop(), 0)
        self.agent = None

    def test_on_change_none_runs_without_pidfile(self):
        self.agent = satest.Agent(["watch", "--secret", self.secret, "--debounce", "0",
                                   "--on-change", "none"], self.tmp)
        self.assertTrue(self.agent.wait_log("event=watch_ready"), self.agent.log_text())
        self.rotate(b"v1\n")
        self.assertTrue(self.agent.wait_log("action=none"), self.agent.log_text())
        self.assertEqual(self.agent.stop(signal.SIGINT), 0)
        self.agent = None


if __name__ == "__main__":
    satest.main()
