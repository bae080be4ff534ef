"""Config defects a review found, as check-config shows them: a NUL byte in the file, ${VAR} in a
[dir] section name, two secrets writing one file under different spellings, and the secret a
--secret error is reported under."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402


class ConfigDefectsTest(satest.TempDirTestCase):
    def check_config(self, data, *args, env=None):
        path = os.path.join(self.tmp, "agent.ini")
        with open(path, "wb") as f:
            f.write(data)
        return path, satest.run_agent(["check-config", "--config", path] + list(args),
                                      extra_env=env)

    def test_nul_byte_is_78_naming_the_line(self):
        out = os.path.join(self.tmp, "x")
        path, r = self.check_config(b'[secret "k"]\nfrom = env:K\nto = %s/a.pem\x00/../../etc\n'
                                    % out.encode())
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertIn(b"%s:3: contains a NUL byte" % path.encode(), r.stderr)

    def test_dir_section_name_is_expanded(self):
        home = os.path.join(self.tmp, "app")
        _, r = self.check_config(b'[dir "${CFGT_APP_HOME}/logs"]\nmode = 0750\n',
                                 env={"CFGT_APP_HOME": home})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"dir %s/logs:\n  mode: 0750\n" % home.encode(), r.stdout)
        path, r = self.check_config(b'[dir "${CFGT_APP_HOME}/logs"]\n')
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn(b"%s:1: environment variable CFGT_APP_HOME is not set" % path.encode(),
                      r.stderr)

    def test_same_target_file_is_78_naming_both(self):
        path, r = self.check_config(b'[secret "a"]\nfrom = env:A\nto = /x/k.pem\n'
                                    b'[secret "b"]\nfrom = env:B\nto = /x/./k.pem\n')
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn(b"%s:4: secret 'b' writes to /x/./k.pem, the same file as secret 'a' "
                      b"(/x/k.pem)" % path.encode(), r.stderr)

    def test_secret_flag_error_names_the_secret(self):
        r = satest.run_agent(["check-config", "--secret", "to=rel,name=k,from=env:A"])
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertEqual(r.stderr, b"secret-agent: check-config: --secret k: 'to' needs an "
                                   b"absolute path, got 'rel'\n")

    def test_secret_flag_key_given_twice_is_refused(self):
        # As in the file: the second `to` is not silently the one that wins.
        r = satest.run_agent(["check-config", "--secret",
                              "name=k,from=env:A,to=/x/a.pem,to=/x/b.pem"])
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertEqual(r.stderr, b"secret-agent: check-config: --secret k: 'to' given twice\n")

    def test_ipv6_address_continues_a_list(self):
        # An indented "[::1]:9092" under wait_tcp is the list's next address, not a section.
        _, r = self.check_config(b"[preflight]\nwait_tcp = 127.0.0.1:6379\n  [::1]:9092\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"127.0.0.1:6379", r.stdout)
        self.assertIn(b"[::1]:9092", r.stdout)
        # Under a key that is not a list, an indented header is still refused.
        path, r = self.check_config(b"[agent]\ndebounce = 1s\n  [preflight]\n")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn(b"%s:3:" % path.encode(), r.stderr)


if __name__ == "__main__":
    satest.main()
