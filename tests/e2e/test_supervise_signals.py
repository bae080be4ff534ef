"""Signal forwarding (docs/design.md §9): every catchable signal the agent receives reaches the
child, including SIGTSTP/SIGTTIN/SIGTTOU (the agent never stops itself) and the signals that are
normally synchronous (SEGV, BUS, ILL, FPE, ABRT, TRAP, SYS) when sent with kill(2). Both as a
subreaper and as PID 1 of a PID namespace (where an init without handlers would drop them)."""
import os
import signal
import socket
import time

import satest

UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD}
FORWARDED = [s for s in range(1, 32) if s not in UNCATCHABLE]


class Forwarding(satest.TempDirTestCase):
    def forward_all(self, pid1):
        p = satest.start([], [satest.PROBE, "signals", ",".join(str(s) for s in FORWARDED)],
                         pid1=pid1)
        try:
            agent = satest.agent_pid(p, pid1)
            self.assertEqual(satest.read_line(p), "ready")
            for sig in FORWARDED:
                os.kill(agent, sig)
                self.assertEqual(satest.read_line(p), "got %d" % sig,
                                 "signal %d was not forwarded" % sig)
                # Job-control signals must not stop the agent itself.
                self.assertNotIn(satest.proc_state(agent), ("T", "t"), "agent stopped by %d" % sig)
            code, _, err = satest.finish(p)
            self.assertEqual(code, 0, err)
            self.assertIn("event=signal_forwarded", err)
            self.assertIn("signal=SIGSEGV", err)
        finally:
            satest.kill_quietly(p)

    def test_every_catchable_signal_is_forwarded(self):
        self.forward_all(pid1=False)

    def test_every_catchable_signal_is_forwarded_as_pid1(self):
        satest.require_root("unshare -p needs root")
        self.forward_all(pid1=True)

    def test_agent_own_sigpipe_is_not_forwarded(self):
        """With stderr closed, every log line gives the agent a SIGPIPE of its own; the
        service must not get it (it would die of it), while real signals still pass."""
        p = satest.start([], [satest.PROBE, "signals", "%d,%d" % (signal.SIGUSR1, signal.SIGUSR2)])
        try:
            p.stderr.close()
            self.assertEqual(satest.read_line(p), "ready")
            p.send_signal(signal.SIGUSR1)
            self.assertEqual(satest.read_line(p), "got %d" % signal.SIGUSR1)
            p.send_signal(signal.SIGUSR2)
            self.assertEqual(satest.read_line(p), "got %d" % signal.SIGUSR2)
            self.assertEqual(p.wait(timeout=30), 0)
        finally:
            satest.kill_quietly(p)

    def test_sigterm_kills_a_default_child_143(self):
        for pid1 in (False, True):
            with self.subTest(pid1=pid1):
                p = satest.start([], [satest.PROBE, "sleep"], pid1=pid1)
                try:
                    agent = satest.agent_pid(p, pid1)
                    self.assertEqual(satest.read_line(p), "ready")
                    os.kill(agent, signal.SIGTERM)
                    code, _, err = satest.finish(p)
                    self.assertEqual(code, 143, err)
                finally:
                    satest.kill_quietly(p)

    def test_sigterm_right_after_start(self):
        """Sent as soon as the agent blocks signals, before the child exists: not lost."""
        for pid1 in (False, True):
            with self.subTest(pid1=pid1):
                p = satest.start([], [satest.PROBE, "sleep"], pid1=pid1)
                try:
                    agent = satest.agent_pid(p, pid1)
                    satest.wait_blocked(agent)
                    os.kill(agent, signal.SIGTERM)
                    code, _, err = satest.finish(p)
                    self.assertEqual(code, 143, err)
                finally:
                    satest.kill_quietly(p)

    def test_sigterm_during_preflight_reaches_the_child(self):
        """A SIGTERM that arrives while the preflight still waits for a listener is kept and
        forwarded once the child runs (a PID 1 without handlers would drop it)."""
        port_sock = socket.socket()
        port_sock.bind(("127.0.0.1", 0))
        port = port_sock.getsockname()[1]
        port_sock.close()
        p = satest.start(["--wait-tcp", "127.0.0.1:%d" % port, "--timeout", "30s"],
                         [satest.PROBE, "sleep"], pid1=True)
        listener = None
        try:
            agent = satest.agent_pid(p, True)
            satest.wait_blocked(agent)
            os.kill(agent, signal.SIGTERM)
            time.sleep(0.3)
            self.assertIsNone(p.poll(), "the agent gave up before the listener came")
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(4)
            code, _, err = satest.finish(p, timeout=40)
            self.assertEqual(code, 143, err)
            self.assertIn("event=child_started", err)
            self.assertIn("signal=SIGTERM", err)
        finally:
            satest.kill_quietly(p)
            if listener:
                listener.close()

    def test_kill_after_kills_a_child_ignoring_sigterm(self):
        for pid1 in (False, True):
            with self.subTest(pid1=pid1):
                p = satest.start(["--kill-after", "500ms"], [satest.PROBE, "ignore-term"],
                                 pid1=pid1)
                try:
                    agent = satest.agent_pid(p, pid1)
                    self.assertEqual(satest.read_line(p), "ready")
                    os.kill(agent, signal.SIGTERM)
                    code, _, err = satest.finish(p, timeout=30)
                    self.assertEqual(code, 128 + signal.SIGKILL, err)
                    self.assertIn("reason=kill_after", err)
                finally:
                    satest.kill_quietly(p)

    def test_without_kill_after_a_child_ignoring_sigterm_keeps_running(self):
        p = satest.start([], [satest.PROBE, "ignore-term"])
        try:
            self.assertEqual(satest.read_line(p), "ready")
            p.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            self.assertIsNone(p.poll(), "the agent or child exited on an ignored SIGTERM")
            for pid in satest.children(p.pid):
                os.kill(pid, signal.SIGKILL)
            code, _, err = satest.finish(p)
            self.assertEqual(code, 128 + signal.SIGKILL, err)
        finally:
            satest.kill_quietly(p)

    def test_signal_group_reaches_the_whole_process_group(self):
        """With --signal-group a grandchild in the child's group gets the signal too; without,
        only the child does."""
        script = ("trap 'echo sh-got-usr1' USR1; %s signals %d & wait $!; wait $!; "
                  'echo "bg-exit $?"' % (satest.PROBE, signal.SIGUSR1))
        for group in (True, False):
            with self.subTest(signal_group=group):
                args = ["--signal-group"] if group else []
                p = satest.start(args, ["/bin/sh", "-c", script])
                try:
                    self.assertEqual(satest.read_line(p), "ready")
                    p.send_signal(signal.SIGUSR1)
                    if group:
                        lines = {satest.read_line(p), satest.read_line(p)}
                        self.assertEqual(lines, {"sh-got-usr1", "got %d" % signal.SIGUSR1})
                    else:
                        self.assertEqual(satest.read_line(p), "sh-got-usr1")
                        time.sleep(0.3)
                        probe = [q for q in satest.descendants(p.pid)
                                 if q not in satest.children(p.pid)]
                        self.assertEqual(len(probe), 1, "the probe did not keep waiting")
                        os.kill(probe[0], signal.SIGUSR1)
                        self.assertEqual(satest.read_line(p), "got %d" % signal.SIGUSR1)
                    self.assertEqual(satest.read_line(p), "bg-exit 0")
                    code, _, err = satest.finish(p)
                    self.assertEqual(code, 0, err)
                finally:
                    satest.kill_quietly(p)


if __name__ == "__main__":
    satest.main()
