"""The TCP preflight has no silent limit: every address of wait_tcp must answer, however long
the list (the 65th address used to be dropped unchecked), and an answering address of a long
wait_any_tcp list is still tried.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
from satest import Listener, field, lines_with, run_timed  # noqa: E402


class LongAddressLists(satest.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.live = [Listener() for _ in range(4)]
        self.dead = Listener(listening=False)

    def tearDown(self):
        for l in self.live + [self.dead]:
            l.close()
        super().tearDown()

    def test_65_addresses_with_the_last_one_dead_fail(self):
        addrs = ["127.0.0.1:%d" % self.live[i % 4].port for i in range(64)]
        addrs.append("127.0.0.1:%d" % self.dead.port)
        r, _ = run_timed(["materialize", "--wait-tcp", " ".join(addrs), "--timeout", "1s"])
        self.assertEqual(r.returncode, 69, r.stderr)
        failed = lines_with(r.stderr, "Cannot connect to Redis at")
        self.assertEqual(len(failed), 1, r.stderr)
        self.assertEqual(field(failed[0], "address"), "127.0.0.1:%d" % self.dead.port)

    def test_65_live_addresses_pass(self):
        addrs = ["127.0.0.1:%d" % self.live[i % 4].port for i in range(65)]
        r, _ = run_timed(["materialize", "--wait-tcp", " ".join(addrs), "--timeout", "5s"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"event=preflight_ok", r.stderr)

    def test_any_list_beyond_4096_bytes_still_reaches_its_last_broker(self):
        dead = "PLAINTEXT://127.0.0.1:%d" % self.dead.port
        addrs = [dead] * 200 + ["PLAINTEXT://127.0.0.1:%d" % self.live[0].port]
        self.assertGreater(len(",".join(addrs)), 4096)
        r, _ = run_timed(["materialize", "--wait-any-tcp", ",".join(addrs), "--timeout", "5s"])
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    satest.main()
