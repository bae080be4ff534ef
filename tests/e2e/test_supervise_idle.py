"""While the service runs and nothing happens, the agent sleeps in one epoll_wait: no timer
ticks, no polling (docs/design.md §9 "no wakeups while idle"). Measured as the agent's voluntary
context switches over an idle stretch, which must not change at all."""
import time

import satest


class Idle(satest.TempDirTestCase):
    def idle_switches(self, pid1):
        p = satest.start([], [satest.PROBE, "sleep"], pid1=pid1)
        try:
            agent = satest.agent_pid(p, pid1)
            self.assertEqual(satest.read_line(p), "ready")
            # Past the one-time trim of startup pages (300 ms after the child starts).
            time.sleep(1.0)
            before = int(satest.proc_status(agent, "voluntary_ctxt_switches"))
            time.sleep(2.0)
            after = int(satest.proc_status(agent, "voluntary_ctxt_switches"))
            self.assertEqual(after, before, "the agent woke up %d times while idle"
                             % (after - before))
        finally:
            satest.kill_quietly(p)

    def test_no_wakeups_while_idle(self):
        self.idle_switches(pid1=False)

    def test_no_wakeups_while_idle_as_pid1(self):
        satest.require_root("unshare -p needs root")
        self.idle_switches(pid1=True)


if __name__ == "__main__":
    satest.main()
