"""[agent] status_listen, ready_file, warn_days and [secret] omit_expired as a user meets them in
check-config: accepted values shown in the plan, malformed ones refused with exit 78 naming the
file and line (64 for the flags), nothing on stdout."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402


class OpsKeysTest(satest.TempDirTestCase):
    def check_config(self, text, *args):
        path = os.path.join(self.tmp, "agent.ini")
        with open(path, "w") as f:
            f.write(text)
        return path, satest.run_agent(["check-config", "--config", path] + list(args))

    def test_plan_shows_the_keys(self):
        _, r = self.check_config(
            "[agent]\nstatus_listen = 127.0.0.1:9090\nready_file = /run/app/ready\n"
            "warn_days = 14\n[secret \"ca\"]\nfrom = file:/ca.pem\ntype = x509\n"
            "omit_expired = yes\n")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = r.stdout.decode()
        self.assertIn("  status_listen: 127.0.0.1:9090\n  ready_file: /run/app/ready\n"
                      "  warn_days: 14\n", out)
        self.assertIn("  omit_expired: yes\n", out)

    def test_flags_override(self):
        _, r = self.check_config("[agent]\nstatus_listen = 127.0.0.1:9090\n",
                                 "--status-listen", "[::1]:9091", "--warn-days", "0")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn(b"  status_listen: [::1]:9091\n", r.stdout)
        self.assertIn(b"  warn_days: 0\n", r.stdout)

    def test_bad_values_in_the_file_are_78(self):
        for text, line, needle in (
                ("[agent]\nstatus_listen = localhost:9090\n", 2, "invalid status_listen"),
                ("[agent]\nstatus_listen = ::1:9090\n", 2, "invalid status_listen"),
                ("[agent]\n\nstatus_listen = 127.0.0.1:99999\n", 3, "invalid status_listen"),
                ("[agent]\nready_file = ready\n", 2, "'ready_file' needs an absolute path"),
                ("[agent]\nwarn_days = -3\n", 2, "invalid value '-3' for 'warn_days'"),
                ("[secret \"k\"]\nfrom = env:K\nomit_expired = perhaps\n", 3,
                 "invalid value 'perhaps' for 'omit_expired'")):
            with self.subTest(text=text):
                path, r = self.check_config(text)
                self.assertEqual(r.returncode, 78, r.stderr.decode())
                self.assertEqual(r.stdout, b"")
                self.assertIn(("%s:%d: %s" % (path, line, needle)).encode(), r.stderr)

    def test_omit_expired_outside_x509_is_78(self):
        path, r = self.check_config(
            "[secret \"leaf\"]\nfrom = file:/c.pem\ntype = tls-cert\nomit_expired = yes\n")
        self.assertEqual(r.returncode, 78, r.stderr.decode())
        self.assertIn(("%s:1: secret 'leaf': 'omit_expired' applies to type x509 only"
                       % path).encode(), r.stderr)

    def test_bad_flags_are_64(self):
        for args, needle in ((["--status-listen", "9090"], "--status-listen: invalid"),
                             (["--ready-file", "rel"], "--ready-file: 'ready_file' needs"),
                             (["--warn-days", "many"], "--warn-days: invalid value 'many'")):
            with self.subTest(args=args):
                r = satest.run_agent(["check-config"] + args)
                self.assertEqual(r.returncode, 64, r.stderr.decode())
                self.assertIn(needle.encode(), r.stderr)


if __name__ == "__main__":
    satest.main()
