"""`secret-agent run`: the agent exits with the child's code, 128+N when the child died of
signal N, 127/126 when the command cannot be found / executed, 64 without a command, 78 for
an unknown user (and then the child never runs). Each case runs with the agent as a plain
subreaper and as PID 1 of a new PID namespace."""
import os
import signal
import sys

import satest


class ExitCodes(satest.TempDirTestCase):
    def modes(self):
        return (False, True)

    def test_child_exit_codes_pass_through(self):
        for pid1 in self.modes():
            for code in (0, 1, 2, 3, 127, 255):
                with self.subTest(pid1=pid1, code=code):
                    r = satest.run([], [satest.PROBE, "exit", str(code)], pid1=pid1)
                    self.assertEqual(r.returncode, code, r.stderr)
                    self.assertIn("event=child_exited", r.stderr)
                    self.assertIn("code=%d" % code, r.stderr)

    def test_child_killed_by_signal_is_128_plus_n(self):
        for pid1 in self.modes():
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGKILL,
                        signal.SIGSEGV):
                with self.subTest(pid1=pid1, sig=sig.name):
                    r = satest.run([], [satest.PROBE, "raise", str(int(sig))], pid1=pid1)
                    self.assertEqual(r.returncode, 128 + int(sig), r.stderr)
                    self.assertIn("signal=%s" % sig.name, r.stderr)

    def test_missing_command_is_127(self):
        for pid1 in self.modes():
            with self.subTest(pid1=pid1):
                missing = os.path.join(self.tmp, "no-such-program")
                r = satest.run([], [missing], pid1=pid1)
                self.assertEqual(r.returncode, 127, r.stderr)
                self.assertIn("event=exec_failed", r.stderr)
                self.assertIn("No such file or directory", r.stderr)
                r = satest.run([], ["no-such-program-in-path-xyz"], pid1=pid1)
                self.assertEqual(r.returncode, 127, r.stderr)

    def test_non_executable_command_is_126(self):
        path = os.path.join(self.tmp, "not-executable")
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(path, 0o644)
        for pid1 in self.modes():
            with self.subTest(pid1=pid1):
                r = satest.run([], [path], pid1=pid1)
                self.assertEqual(r.returncode, 126, r.stderr)
                self.assertIn("Permission denied", r.stderr)
        # A directory is found but cannot be executed either.
        r = satest.run([], [self.tmp])
        self.assertEqual(r.returncode, 126, r.stderr)

    def test_no_command_is_usage_error(self):
        r = satest.run_agent(["run"])
        self.assertEqual(r.returncode, 64, r.stderr)
        r = satest.run_agent(["run", "--"])
        self.assertEqual(r.returncode, 64, r.stderr)

    def test_help(self):
        r = satest.run_agent(["run", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"usage: secret-agent run", r.stdout)

    def test_unknown_user_never_runs_the_child(self):
        satest.require_root("only root can switch users")
        os.chmod(self.tmp, 0o777)
        marker = os.path.join(self.tmp, "ran")
        for pid1 in self.modes():
            with self.subTest(pid1=pid1):
                r = satest.run(["--user", "no-such-user-sa-e2e"],
                               ["/bin/sh", "-c", "touch %s" % marker], pid1=pid1)
                self.assertEqual(r.returncode, 78, r.stderr)
                self.assertIn("no-such-user-sa-e2e", r.stderr)
                self.assertFalse(os.path.exists(marker), "the child ran")
                r = satest.run(["--user", "nobody", "--group", "no-such-group-sa-e2e"],
                               ["/bin/sh", "-c", "touch %s" % marker], pid1=pid1)
                self.assertEqual(r.returncode, 78, r.stderr)
                self.assertFalse(os.path.exists(marker), "the child ran")

    def test_exit_code_does_not_depend_on_agent_signals(self):
        """A forwarded signal the child handles by exiting 0 gives 0, not 128+N."""
        p = satest.start([], [satest.PROBE, "signals", str(int(signal.SIGUSR1))])
        try:
            self.assertEqual(satest.read_line(p), "ready")
            p.send_signal(signal.SIGUSR1)
            self.assertEqual(satest.read_line(p), "got %d" % signal.SIGUSR1)
            code, _, err = satest.finish(p)
            self.assertEqual(code, 0, err)
        finally:
            satest.kill_quietly(p)


if __name__ == "__main__":
    if not os.access(satest.PROBE, os.X_OK):
        sys.stderr.write("probe_child not built at %s\n" % satest.PROBE)
        sys.exit(1)
    satest.main()
