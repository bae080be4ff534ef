"""`user = root` (or 0) is no privilege drop: it is warned about like no user at all
(running_as_root), and privileges_dropped is never logged for it.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
from satest import BASE_ENV  # noqa: E402


class RootIsNoDrop(satest.TempDirTestCase):
    def setUp(self):
        satest.require_root("only root can be asked to drop to root")
        super().setUp()

    def check(self, user):
        r = satest.run(["--user", user], ["/bin/true"], env=dict(BASE_ENV))
        self.assertEqual(r.returncode, 0, r.stderr)
        warned = [line for line in r.stderr.splitlines() if "event=running_as_root" in line]
        self.assertEqual(len(warned), 1, r.stderr)
        self.assertIn("level=warn", warned[0])
        self.assertIn("uid 0", warned[0])
        self.assertNotIn("event=privileges_dropped", r.stderr)

    def test_user_root_by_name_is_warned_and_not_a_drop(self):
        self.check("root")

    def test_user_zero_is_warned_and_not_a_drop(self):
        self.check("0")

    def test_real_user_still_drops(self):
        r = satest.run(["--user", "nobody"], ["/bin/true"], env=dict(BASE_ENV))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("event=privileges_dropped", r.stderr)
        self.assertNotIn("event=running_as_root", r.stderr)


if __name__ == "__main__":
    satest.main()
