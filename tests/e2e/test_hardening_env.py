"""One `env:` variable may feed several secrets: every env: source is read before any is
scrubbed, and the value is gone from /proc/PID/environ of the agent and the child afterwards.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
from satest import PATH_ENV, write_config  # noqa: E402


def exe_of(pid):
    try:
        return os.path.realpath(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        return None


def environ_of(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return f.read()


class SharedEnvVariable(satest.TempDirTestCase):
    def test_one_variable_feeds_two_secrets_then_is_scrubbed(self):
        token = ("shared-token-%s" % os.urandom(12).hex()).encode()
        a, b = os.path.join(self.tmp, "a.txt"), os.path.join(self.tmp, "b.txt")
        cfg = write_config(os.path.join(self.tmp, "agent.ini"), """
[secret "first"]
from = env:SA_SHARED_TOKEN
to = %s
type = opaque

[secret "second"]
from = env:SA_SHARED_TOKEN
to = %s
type = opaque
""" % (a, b))
        agent = satest.Agent(["run", "--config", cfg, "--", "/bin/sleep", "60"], self.tmp,
                             env=dict(PATH_ENV, SA_SHARED_TOKEN=token.decode()))
        try:
            satest.wait_for(lambda: satest.children(agent.pid()) or agent.proc.poll() is not None)
            self.assertTrue(satest.children(agent.pid()), agent.log_text())
            self.assertEqual(satest.read(a), token)
            self.assertEqual(satest.read(b), token)
            child = satest.children(agent.pid())[0]
            # Before its exec the child still shows the agent's own initial block.
            sleep = os.path.realpath("/bin/sleep")
            self.assertTrue(satest.wait_for(lambda: exe_of(child) == sleep), exe_of(child))
            for pid in (agent.pid(), child):
                self.assertNotIn(token, environ_of(pid), "pid %d still holds the value" % pid)
            # The agent's initial block keeps the wiped name; the child never gets it.
            self.assertNotIn(b"SA_SHARED_TOKEN=", environ_of(child))
        finally:
            rc = agent.stop()
        log = agent.log_text()
        self.assertEqual(rc, 128 + 15, log)
        self.assertNotIn("is not set", log)
        satest.assert_no_secret_bytes(self, log, [token])


if __name__ == "__main__":
    satest.main()
