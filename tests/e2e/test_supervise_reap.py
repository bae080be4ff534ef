"""PID 1 duties (docs/design.md §9): orphans left by the service are reaped (no zombie stays),
as PID 1 of a PID namespace and as a child subreaper; when the main child exits, what it left behind
gets SIGTERM, then SIGKILL after the grace period, and the agent exits with the main child's
code."""
import os
import signal
import time

import satest


class Reaping(satest.TempDirTestCase):
    def orphans_reaped(self, pid1):
        p = satest.start([], [satest.PROBE, "orphans", "5"], pid1=pid1)
        try:
            agent = satest.agent_pid(p, pid1)
            self.assertEqual(satest.read_line(p), "orphans: 5")
            # The orphans live 1 s, reparented to the agent (PID 1 or subreaper: else they
            # would go to the host's init); an unreaped one stays a zombie child forever.
            kids = satest.children(agent)
            self.assertEqual(len(kids), 6, "the orphans were not reparented to the agent")
            self.assertTrue(satest.wait_for(lambda: len(satest.descendants(agent)) == 1,
                                            timeout=20),
                            "left over: %s" % [(q, satest.proc_state(q))
                                               for q in satest.descendants(agent)])
            self.assertIn(satest.descendants(agent)[0], kids)
            self.assertNotIn("Z", [satest.proc_state(q) for q in satest.descendants(agent)])
            os.kill(agent, signal.SIGTERM)
            code, _, err = satest.finish(p)
            self.assertEqual(code, 0, err)
        finally:
            satest.kill_quietly(p)

    def test_orphans_are_reaped_as_subreaper(self):
        self.orphans_reaped(pid1=False)

    def test_orphans_are_reaped_as_pid1(self):
        satest.require_root("unshare -p needs root")
        self.orphans_reaped(pid1=True)

    def stubborn_descendant(self, pid1):
        pidfile = os.path.join(self.tmp, "stubborn.pid")
        start = time.monotonic()
        r = satest.run(["--grace", "1s"], [satest.PROBE, "leave-stubborn", pidfile], pid1=pid1,
                       timeout=60)
        took = time.monotonic() - start
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertIn("event=descendants_terminating", r.stderr)
        self.assertIn("event=descendants_killed", r.stderr)
        # Generous: the only bound is that SIGKILL follows the 1 s grace, not a forever wait.
        self.assertLess(took, 30)
        self.assertGreaterEqual(took, 0.9, "SIGKILL came before the grace period ended")
        if not pid1:
            with open(pidfile) as f:
                stubborn = int(f.read())
            self.assertIsNone(satest.proc_state(stubborn), "the stubborn grandchild survived")

    def test_descendants_get_term_then_kill_after_grace(self):
        self.stubborn_descendant(pid1=False)

    def test_descendants_get_term_then_kill_after_grace_as_pid1(self):
        satest.require_root("unshare -p needs root")
        self.stubborn_descendant(pid1=True)

    def test_polite_descendants_end_without_waiting_for_grace(self):
        """A background process that exits on SIGTERM does not hold the agent for the grace."""
        start = time.monotonic()
        r = satest.run(["--grace", "20s"], ["/bin/sh", "-c", "sleep 100 & exit 4"], timeout=60)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("event=descendants_terminating", r.stderr)
        self.assertNotIn("event=descendants_killed", r.stderr)
        self.assertLess(time.monotonic() - start, 15)

    def test_no_descendants_no_drain(self):
        r = satest.run([], [satest.PROBE, "exit", "0"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("descendants_terminating", r.stderr)


if __name__ == "__main__":
    satest.main()
