"""Config errors as a user meets them: exit 78 with FILE:LINE and the reason for the file,
exit 64 for malformed flags, nothing on stdout, nothing written, and no secret in the output."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402


class ConfigErrorsTest(satest.TempDirTestCase):
    def check(self, text, code, expected, env=None, args=()):
        path = os.path.join(self.tmp, "agent.ini")
        with open(path, "w") as f:
            f.write(text)
        r = satest.run_agent(["check-config", "--config", path] + list(args), extra_env=env)
        self.assertEqual(r.returncode, code, r.stderr.decode())
        self.assertEqual(r.stdout, b"")
        self.assertIn(expected.replace("FILE", path).encode(), r.stderr)
        self.assertEqual(r.stderr.count(b"\n"), 1, r.stderr)
        return r

    def test_unknown_key(self):
        self.check("[agent]\nuser = root\nusr = x\n", 78, "FILE:3: unknown key 'usr' in [agent]")
        self.check('[secret "k"]\nfrom = env:K\nfrm = x\n', 78,
                   "FILE:3: unknown key 'frm' in [secret \"k\"]")

    def test_unknown_section(self):
        self.check("[agent]\n\n[preflite]\ntimeout = 5s\n", 78, "FILE:3: unknown section [preflite]")

    def test_bad_mode(self):
        self.check('[secret "k"]\nfrom = env:K\nmode = 0649\n', 78, "FILE:3: invalid mode '0649'")
        self.check('[dir "/d"]\nmode = rwx\n', 78, "FILE:2: invalid mode 'rwx'")

    def test_bad_duration(self):
        self.check("[agent]\ndebounce = 100\n", 78, "FILE:2: invalid duration '100' for 'debounce'")
        self.check("[preflight]\ntimeout = five\n", 78, "FILE:2: invalid duration 'five'")

    def test_unset_variable_is_named(self):
        r = self.check("[preflight]\nwait_tcp = ${CFGT_HOST}:${CFGT_PORT}\n", 78,
                       "FILE:2: environment variable CFGT_PORT is not set",
                       env={"CFGT_HOST": "127.0.0.1"})
        self.assertNotIn(b"CFGT_HOST is not set", r.stderr)

    def test_unset_required_variables_are_named_in_the_preflight_words(self):
        """A ${VAR} of a variable that require_env lists (the AI service's wait_tcp =
        ${REDIS_HOST}:${REDIS_PORT}) fails as the old entrypoint did: every missing required
        variable named at once, in the preflight's words, exit 78, before anything else runs."""
        text = ("[preflight]\nrequire_env = CFGT_HOST CFGT_PORT CFGT_OTHER\n"
                "wait_tcp = ${CFGT_HOST}:${CFGT_PORT}\n")
        path = os.path.join(self.tmp, "agent.ini")
        with open(path, "w") as f:
            f.write(text)
        r = satest.run_agent(["check-config", "--config", path], extra_env={"CFGT_OTHER": "x"})
        self.assertEqual(r.returncode, 78, r.stderr.decode())
        self.assertEqual(r.stdout, b"")
        for var in (b"CFGT_HOST", b"CFGT_PORT"):
            self.assertIn(b"Required environment variable " + var + b" is not set", r.stderr)
        self.assertNotIn(b"CFGT_OTHER is not set", r.stderr)
        r = satest.run_agent(["materialize", "--config", path], extra_env={"CFGT_PORT": "1"})
        self.assertEqual(r.returncode, 78, r.stderr.decode())
        self.assertIn(b"Required environment variable CFGT_HOST is not set", r.stderr)
        self.assertIn(b"Required environment variable CFGT_OTHER is not set", r.stderr)
        self.assertNotIn(b"CFGT_PORT is not set", r.stderr)
        self.assertNotIn(b"Cannot connect", r.stderr)

    def test_unset_variable_not_required_is_a_config_error_even_beside_required_ones(self):
        self.check("[preflight]\nrequire_env = CFGT_HOST\nwait_tcp = ${CFGT_HOST}:${CFGT_PORT}\n",
                   78, "FILE:3: environment variable CFGT_PORT is not set")

    def test_default_value_and_escape(self):
        path = os.path.join(self.tmp, "agent.ini")
        with open(path, "w") as f:
            f.write("[preflight]\nwait_tcp = ${CFGT_HOST:-127.0.0.1}:${CFGT_PORT:-6379}\n"
                    "require_dir = /data/$$literal\n")
        r = satest.run_agent(["check-config", "--config", path], extra_env={"CFGT_PORT": "7000"})
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn(b"  wait_tcp: 127.0.0.1:7000\n", r.stdout)
        self.assertIn(b"  require_dir: /data/$literal\n", r.stdout)

    def test_empty_domain(self):
        self.check('[secret "k"]\nfrom = env:K\ntype = ed25519\ndomain = ${CFGT_DOMAIN}\n', 78,
                   "FILE:4: 'domain' is empty", env={"CFGT_DOMAIN": ""})

    def test_duplicate_secret(self):
        self.check('[secret "k"]\nfrom = env:K\n\n[secret "k"]\nfrom = env:L\n', 78,
                   "FILE:4: duplicate secret 'k' (first defined at FILE:1)")

    def test_missing_from_and_tls_pairing(self):
        self.check('[secret "k"]\nto = /x/k\n', 78, "FILE:1: secret 'k' has no 'from'")
        self.check('[secret "k"]\nfrom = env:K\ntype = tls-key\n', 78,
                   "FILE:1: secret 'k': a tls-key needs 'cert = NAME'")

    def test_unknown_user_and_group(self):
        self.check("[agent]\nuser = no_such_user_cfgt\n", 78, "unknown user 'no_such_user_cfgt'")
        self.check("[agent]\nuser = root\ngroup = no_such_group_cfgt\n", 78,
                   "unknown group 'no_such_group_cfgt'")
        self.check('[secret "k"]\nfrom = env:K\nowner = no_such_user_cfgt\n', 78,
                   "FILE:1: secret 'k': unknown user 'no_such_user_cfgt'")

    def test_missing_config_file(self):
        missing = os.path.join(self.tmp, "nope.ini")
        r = satest.run_agent(["check-config", "--config", missing])
        self.assertEqual(r.returncode, 78)
        self.assertIn(("cannot read config file %s" % missing).encode(), r.stderr)
        r = satest.run_agent(["check-config"], extra_env={"SECRET_AGENT_CONFIG": missing})
        self.assertEqual(r.returncode, 78)
        self.assertIn(missing.encode(), r.stderr)

    def test_bad_flags_are_usage_errors(self):
        ok = "[agent]\n"
        self.check(ok, 64, "unknown option '--debounse'", args=["--debounse", "1s"])
        self.check(ok, 64, "--debounce: invalid duration '10'", args=["--debounce", "10"])
        self.check(ok, 64, "option '--timeout' needs a value", args=["--timeout"])
        self.check(ok, 64, "option '--notify-pidfile' needs a value", args=["--notify-pidfile"])
        self.check(ok, 64, "--secret k: unknown key 'form'", args=["--secret", "name=k,form=env:K"])
        self.check(ok, 64, "--secret k: invalid mode '0999'",
                   args=["--secret", "name=k,from=env:K,mode=0999"])

    def test_usage_error_wins_over_config_error(self):
        # The command line is checked before the file is read.
        self.check("[agent]\nusr = x\n", 64, "unknown option '--bogus'", args=["--bogus"])

    def test_secret_value_never_printed(self):
        key = satest.gen_ed25519_pem()
        for text in ['[secret "k"]\nfrom = env:KEY\ntype = ed25519\nmode = 0999\n',
                     '[secret "k"]\nfrom = env:KEY\ntype = ed25519\nowner = nobody_x\n']:
            path = os.path.join(self.tmp, "agent.ini")
            with open(path, "w") as f:
                f.write(text)
            r = satest.run_agent(["check-config", "--config", path],
                                 extra_env={"KEY": key.decode()})
            self.assertEqual(r.returncode, 78)
            satest.assert_no_secret_bytes(self, r.stdout + r.stderr, [key])


if __name__ == "__main__":
    satest.main()
