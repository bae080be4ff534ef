"""What the child inherits (docs/design.md §13 "Child inheritance"): the agent's inherited
signal mask and ignored signals (not the agent's own all-blocked mask), fds 0-2 only, systemd socket
activation fds passed on with LISTEN_PID rewritten (also LISTEN_* addressed elsewhere
removed), its own session, the umask the agent was started with."""
import os
import signal
import subprocess

import satest


def with_signal_state():
    """preexec_fn: SIGUSR1 and SIGWINCH blocked, SIGUSR2 and SIGHUP ignored, umask 027."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGWINCH})
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    os.umask(0o027)


class Inheritance(satest.TempDirTestCase):
    def test_signal_mask_and_ignored_set_are_the_inherited_ones(self):
        plain = subprocess.run([satest.PROBE, "report"], preexec_fn=with_signal_state,
                               capture_output=True, text=True, env=dict(satest.BASE_ENV))
        expected = satest.parse_report(plain.stdout)
        # The precondition that makes the comparison mean something.
        self.assertNotEqual(int(expected["status.SigBlk"][0], 16), 0)
        self.assertNotEqual(int(expected["status.SigIgn"][0], 16), 0)
        for pid1 in (False, True):
            with self.subTest(pid1=pid1):
                r = satest.run([], [satest.PROBE, "report"], pid1=pid1,
                               preexec_fn=with_signal_state)
                self.assertEqual(r.returncode, 0, r.stderr)
                got = satest.parse_report(r.stdout)
                self.assertEqual(got["status.SigBlk"], expected["status.SigBlk"])
                self.assertEqual(got["status.SigIgn"], expected["status.SigIgn"])
                self.assertEqual(got["umask"], ["0027"])

    def test_core_dump_limit_is_the_inherited_one(self):
        """The agent lowers its own soft RLIMIT_CORE to 0; the child gets the inherited soft
        limit back (an unprivileged child could not raise it itself)."""
        import resource
        script = 'ulimit -S -c 12345 && exec "$@"'
        r = subprocess.run(["/bin/sh", "-c", script, "sh", satest.AGENT, "run", "--",
                            "/bin/sh", "-c", "ulimit -S -c"], capture_output=True, text=True,
                           env=dict(satest.BASE_ENV), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
        expected = "12345" if hard == resource.RLIM_INFINITY or hard >= 12345 * 1024 else None
        if expected is None:
            self.skipTest("hard core limit too low to set a recognisable soft limit")
        self.assertEqual(r.stdout.strip(), expected)

    def test_default_signal_state_is_clean(self):
        r = satest.run([], [satest.PROBE, "report"])
        got = satest.parse_report(r.stdout)
        self.assertEqual(int(got["status.SigBlk"][0], 16), 0)

    def test_ignored_signal_is_still_forwarded(self):
        """The agent inherited SIGUSR2 ignored: it must still read and forward it (an ignored
        signal is discarded before it could reach a signalfd). The probe has it ignored again
        but blocked and waited for, which the kernel still queues."""
        p = satest.start([], [satest.PROBE, "signals", str(int(signal.SIGUSR2))],
                         preexec_fn=with_signal_state)
        try:
            self.assertEqual(satest.read_line(p), "ready")
            p.send_signal(signal.SIGUSR2)
            self.assertEqual(satest.read_line(p), "got %d" % signal.SIGUSR2)
            code, _, err = satest.finish(p)
            self.assertEqual(code, 0, err)
        finally:
            satest.kill_quietly(p)

    def test_only_stdio_fds_reach_the_child(self):
        extra = os.open("/etc/hostname", os.O_RDONLY)
        try:
            os.set_inheritable(extra, True)
            r = satest.run([], [satest.PROBE, "report"], pass_fds=(extra,))
            self.assertEqual(r.returncode, 0, r.stderr)
            fds = sorted(int(x.split()[0]) for x in satest.parse_report(r.stdout)["fd"])
            self.assertEqual(fds, [0, 1, 2])
        finally:
            os.close(extra)

    def socket_activation(self, listen_pid_expr):
        script = ('export LISTEN_PID=%s LISTEN_FDS=2 LISTEN_FDNAMES=a:b; '
                  'exec "$0" "$@" 3</etc/hostname 4</etc/passwd 5</etc/group'
                  % listen_pid_expr)
        r = subprocess.run(["/bin/sh", "-c", script, satest.AGENT, "run", "--",
                            satest.PROBE, "report"], capture_output=True, text=True,
                           env=dict(satest.BASE_ENV), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return satest.parse_report(r.stdout)

    def test_socket_activation_fds_are_passed_on(self):
        got = self.socket_activation("$$")
        fds = {int(x.split()[0]): x.split()[1] for x in got["fd"]}
        self.assertEqual(sorted(fds), [0, 1, 2, 3, 4])
        self.assertEqual(fds[3], "/etc/hostname")
        self.assertEqual(fds[4], "/etc/passwd")
        self.assertEqual(got["LISTEN_PID"], got["pid"])
        self.assertEqual(got["LISTEN_FDS"], ["2"])

    def test_foreign_socket_activation_is_removed(self):
        got = self.socket_activation("1")
        fds = sorted(int(x.split()[0]) for x in got["fd"])
        self.assertEqual(fds, [0, 1, 2])
        self.assertEqual(got["LISTEN_PID"], ["(unset)"])
        self.assertEqual(got["LISTEN_FDS"], ["(unset)"])
        self.assertNotIn("LISTEN_FDNAMES", got["env"])

    def test_child_has_its_own_session(self):
        r = satest.run([], [satest.PROBE, "report"])
        got = satest.parse_report(r.stdout)
        self.assertEqual(got["sid"], got["pid"])
        self.assertEqual(got["pgid"], got["pid"])


if __name__ == "__main__":
    satest.main()
