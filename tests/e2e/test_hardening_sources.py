"""Sources that are not regular files: a FIFO, a socket or a device given as a file: source is
refused at once (exit 65 for validate), never waited on; standard input is reached through -.
"""
import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
from satest import BASE_ENV, write_config  # noqa: E402

# Long enough for a slow machine, far shorter than "forever": a blocked open hits it.
PROMPT = 20


class NonRegularSources(satest.TempDirTestCase):
    def validate(self, *args, **kw):
        try:
            return satest.run_agent(["validate"] + list(args), timeout=PROMPT, **kw)
        except subprocess.TimeoutExpired:
            self.fail("validate waited on a source that is not a regular file")

    def test_fifo_without_writer_is_refused_at_once(self):
        fifo = os.path.join(self.tmp, "key.pem")
        os.mkfifo(fifo, 0o600)
        r = self.validate("file:" + fifo)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn(b"file:%s is a FIFO, not a regular file" % fifo.encode(), r.stderr)
        self.assertIn(b"status: invalid\n", r.stdout)

    def test_fifo_behind_a_symlink_is_refused(self):
        fifo = os.path.join(self.tmp, "real")
        os.mkfifo(fifo, 0o600)
        os.symlink("real", os.path.join(self.tmp, "key.pem"))
        r = self.validate(os.path.join(self.tmp, "key.pem"))
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn(b"is a FIFO, not a regular file", r.stderr)

    def test_socket_and_device_are_refused(self):
        path = os.path.join(self.tmp, "sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        self.addCleanup(s.close)
        r = self.validate("file:" + path)
        self.assertEqual(r.returncode, 65, r.stderr)
        # open() of a socket fails (ENXIO) before its type can be looked at.
        self.assertIn(b"file:%s" % path.encode(), r.stderr)
        r = self.validate("file:/dev/zero")
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn(b"file:/dev/zero is a character device, not a regular file", r.stderr)

    def test_dev_stdin_is_refused_and_dash_reads_the_pipe(self):
        key = satest.gen_ed25519_pem()
        r = self.validate("file:/dev/stdin", input=key)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn(b"(use - to read standard input)", r.stderr)
        r = self.validate("-", input=key)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"status: valid\n", r.stdout)

    def test_materialize_refuses_a_fifo_and_writes_nothing(self):
        fifo = os.path.join(self.tmp, "token")
        os.mkfifo(fifo, 0o600)
        out = os.path.join(self.tmp, "out")
        cfg = write_config(os.path.join(self.tmp, "agent.ini"), """
[secret "token"]
from = file:%s
to = %s/token
""" % (fifo, out))
        try:
            r = satest.run_agent(["materialize", "--config", cfg], env=BASE_ENV, timeout=PROMPT)
        except subprocess.TimeoutExpired:
            self.fail("materialize waited on a FIFO source")
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn(b"is a FIFO, not a regular file", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "token")))


if __name__ == "__main__":
    satest.main()
