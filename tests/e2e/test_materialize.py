"""`secret-agent materialize`: exact owners, modes and bytes of every target; nothing at all
written when any secret is invalid; [dir] sections; env sources scrubbed from the agent's own
/proc/PID/environ; exit codes of the contract (65, 73, 77, 78). Runs as root (chown)."""
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
from satest import (BASE_ENV, assert_no_secret_bytes, ed25519_fingerprint, facts,  # noqa: E402
                    field, gen_ca_cert, k8s_secret_volume, lines_with, listing, read,
                    run_timed, write_config)


class MaterializeTest(satest.TempDirTestCase):

    def setUp(self):
        super().setUp()
        self.out = os.path.join(self.tmp, "out")
        self.key = satest.gen_ed25519_pem()

    def materialize(self, cfg_text, env=None, **kw):
        cfg = write_config(os.path.join(self.tmp, "agent.ini"), cfg_text.replace("@OUT@",
                                                                                 self.out))
        r, _ = run_timed(["materialize", "--config", cfg], env=env, **kw)
        # Whatever happened, no byte of a secret reaches the output.
        assert_no_secret_bytes(self, r.stdout + r.stderr, [self.key])
        return r

    def three_secrets(self):
        self.ca = gen_ca_cert(self.tmp)
        mount = k8s_secret_volume(os.path.join(self.tmp, "mount"), {"root.crt": self.ca})
        with open(os.path.join(self.tmp, "token"), "wb") as f:
            f.write(b"opaque token\r\n  kept exactly\n")
        return """
[secret "signing_key"]
from = env:SIGNING_KEY
to = @OUT@/keys/signing_key.pem
type = ed25519
owner = 1001
[secret "ca"]
from = file:%s/root.crt
to = @OUT@/certs/root.crt
type = x509
owner = 1000
group = 1000
[secret "token"]
from = %s/token
to = @OUT@/token
mode = 0440
owner = 1000
group = 4
""" % (mount, self.tmp)

    def test_writes_every_target_with_owner_mode_bytes(self):
        r = self.materialize(self.three_secrets(), env={"SIGNING_KEY": self.key.decode()})
        self.assertEqual(r.returncode, 0, r.stderr)
        key_path = os.path.join(self.out, "keys", "signing_key.pem")
        self.assertEqual(read(key_path), self.key)  # openssl writes the canonical v1 PEM
        self.assertEqual(facts(key_path), (1001, 1001, 0o400))
        ca_path = os.path.join(self.out, "certs", "root.crt")
        self.assertEqual(read(ca_path), self.ca)
        self.assertEqual(facts(ca_path), (1000, 1000, 0o444))
        token = os.path.join(self.out, "token")
        self.assertEqual(read(token), b"opaque token\r\n  kept exactly\n")
        self.assertEqual(facts(token), (1000, 4, 0o440))
        # Directories created on the way get the secret's owner and 0700 (docs/design.md §13).
        self.assertEqual(facts(os.path.join(self.out, "keys")), (1001, 1001, 0o700))
        self.assertEqual(facts(os.path.join(self.out, "certs")), (1000, 1000, 0o700))
        # No temp file left behind.
        self.assertEqual(listing(self.out), ["certs", "certs/root.crt", "keys",
                                             "keys/signing_key.pem", "token"])
        written = lines_with(r.stderr, "event=secret_written")
        self.assertEqual(len(written), 3, r.stderr)
        key_line = [l for l in written if "secret=signing_key" in l][0]
        self.assertEqual(field(key_line, "path"), key_path)
        self.assertEqual(field(key_line, "mode"), "0400")
        self.assertEqual(field(key_line, "uid"), "1001")
        self.assertEqual(field(key_line, "changed"), "true")
        self.assertEqual(field(key_line, "fingerprint"), ed25519_fingerprint(self.key))

    def test_second_run_changes_nothing(self):
        cfg = self.three_secrets()
        env = {"SIGNING_KEY": self.key.decode()}
        r = self.materialize(cfg, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        key_path = os.path.join(self.out, "keys", "signing_key.pem")
        inode = os.stat(key_path).st_ino
        r = self.materialize(cfg, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(key_path).st_ino, inode)
        for l in lines_with(r.stderr, "event=secret_written"):
            self.assertEqual(field(l, "changed"), "false", l)

    def test_normalised_key_is_written_canonical(self):
        # A PEM pasted into an env var with literal \n and CRLF (what CI systems do).
        mangled = self.key.decode().strip().replace("\n", "\\n")
        r = self.materialize("""
[secret "signing_key"]
from = env:SIGNING_KEY
to = @OUT@/key.pem
type = ed25519
""", env={"SIGNING_KEY": mangled})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read(os.path.join(self.out, "key.pem")), self.key)
        self.assertGreaterEqual(len(lines_with(r.stderr, "level=warn")), 1, r.stderr)

    def test_invalid_secret_writes_nothing_at_all(self):
        cfg = self.three_secrets() + """
[secret "second_key"]
from = env:SECOND_KEY
to = @OUT@/second/key.pem
type = ed25519
[dir "@OUT@/logs"]
mode = 0750
owner = 1000
"""
        rsa = satest.openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
        r = self.materialize(cfg, env={"SIGNING_KEY": self.key.decode(),
                                       "SECOND_KEY": rsa.decode()})
        assert_no_secret_bytes(self, r.stdout + r.stderr, [rsa])
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertFalse(os.path.exists(self.out), listing(self.tmp))
        bad = lines_with(r.stderr, "event=invalid_secret")
        self.assertEqual(len(bad), 1, r.stderr)
        self.assertEqual(field(bad[0], "secret"), "second_key")
        self.assertEqual(field(bad[0], "source"), "env:SECOND_KEY")
        self.assertIn("RSA", field(bad[0], "msg"))

    def test_invalid_secret_keeps_earlier_files(self):
        cfg = self.three_secrets()
        r = self.materialize(cfg, env={"SIGNING_KEY": self.key.decode()})
        self.assertEqual(r.returncode, 0, r.stderr)
        before = {p: read(os.path.join(self.out, p)) for p in ["keys/signing_key.pem", "token"]}
        with open(os.path.join(self.tmp, "token"), "wb") as f:
            f.write(b"new token")
        r = self.materialize(cfg, env={"SIGNING_KEY": "not a key"})
        self.assertEqual(r.returncode, 65, r.stderr)
        for p, data in before.items():
            self.assertEqual(read(os.path.join(self.out, p)), data)

    def test_missing_env_source(self):
        r = self.materialize("""
[secret "signing_key"]
from = env:AI_SIGNING_KEY_CONTENT
to = @OUT@/key.pem
type = ed25519
[secret "password"]
from = env:DB_PASSWORD
to = @OUT@/password
""")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertEqual(len(lines_with(r.stderr, "No signing key available: environment "
                                        "variable AI_SIGNING_KEY_CONTENT is not set")), 1)
        self.assertEqual(len(lines_with(r.stderr, "Required environment variable DB_PASSWORD "
                                        "is not set")), 1)
        self.assertFalse(os.path.exists(self.out))

    def test_missing_source_file_is_a_config_error(self):
        r = self.materialize("""
[secret "ca"]
from = file:%s/nonexistent/root.crt
to = @OUT@/root.crt
type = x509
""" % self.tmp)
        self.assertEqual(r.returncode, 78, r.stderr)
        line = lines_with(r.stderr, "secret=ca")
        self.assertEqual(len(line), 1, r.stderr)
        self.assertIn("nonexistent/root.crt", line[0])
        self.assertFalse(os.path.exists(self.out))

    def test_secret_without_target_is_validated_in_place(self):
        path = os.path.join(self.tmp, "subpath-key.pem")
        with open(path, "wb") as f:
            f.write(self.key)
        r = self.materialize("""
[secret "mounted_key"]
from = file:%s
type = ed25519
""" % path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(lines_with(r.stderr, "event=secret_validated")), 1, r.stderr)
        with open(path, "wb") as f:
            f.write(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        r = self.materialize("""
[secret "mounted_key"]
from = file:%s
type = ed25519
""" % path)
        self.assertEqual(r.returncode, 65, r.stderr)

    def test_write_failure_leaves_every_target_as_it_was(self):
        os.makedirs(self.out)
        with open(os.path.join(self.out, "a"), "wb") as f:
            f.write(b"old a")
        with open(os.path.join(self.out, "blocker"), "wb") as f:
            f.write(b"a file where a directory should be")
        with open(os.path.join(self.tmp, "src"), "wb") as f:
            f.write(b"new")
        r = self.materialize("""
[secret "a"]
from = file:%s/src
to = @OUT@/a
[secret "b"]
from = file:%s/src
to = @OUT@/blocker/b
""" % (self.tmp, self.tmp))
        self.assertEqual(r.returncode, 73, r.stderr)
        self.assertEqual(read(os.path.join(self.out, "a")), b"old a")
        self.assertEqual(sorted(os.listdir(self.out)), ["a", "blocker"])
        line = lines_with(r.stderr, "event=write_failed")
        self.assertEqual(len(line), 1, r.stderr)
        self.assertEqual(field(line[0], "secret"), "b")

    def test_symlink_on_the_way_is_refused(self):
        os.makedirs(os.path.join(self.tmp, "elsewhere"))
        os.makedirs(self.out)
        os.symlink(os.path.join(self.tmp, "elsewhere"), os.path.join(self.out, "keys"))
        os.lchown(os.path.join(self.out, "keys"), 1000, 1000)  # not a root-owned system link
        with open(os.path.join(self.tmp, "src"), "wb") as f:
            f.write(b"data")
        r = self.materialize("""
[secret "a"]
from = file:%s/src
to = @OUT@/keys/a
""" % self.tmp)
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertEqual(os.listdir(os.path.join(self.tmp, "elsewhere")), [])

    def test_dir_sections(self):
        app = os.path.join(self.tmp, "app")
        os.makedirs(os.path.join(app, "existing_mine"), mode=0o777)
        os.chmod(os.path.join(app, "existing_mine"), 0o777)
        os.chown(os.path.join(app, "existing_mine"), 1000, 1000)
        os.makedirs(os.path.join(app, "existing_root"))
        os.chmod(os.path.join(app, "existing_root"), 0o711)
        r = self.materialize("""
[dir "%(app)s/deep/logs"]
mode = 0750
owner = 1000
[dir "%(app)s/keys"]
mode = 0700
owner = 1000
[dir "%(app)s/existing_mine"]
mode = 0750
owner = 1000
[dir "%(app)s/existing_root"]
mode = 0750
owner = 1000
""" % {"app": app})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(facts(os.path.join(app, "deep", "logs")), (1000, 1000, 0o750))
        # A [dir]'s missing parents are root-owned 0755.
        self.assertEqual(facts(os.path.join(app, "deep")), (0, 0, 0o755))
        self.assertEqual(facts(os.path.join(app, "keys")), (1000, 1000, 0o700))
        # An existing directory of the owner gets its mode; someone else's is left alone.
        self.assertEqual(facts(os.path.join(app, "existing_mine")), (1000, 1000, 0o750))
        self.assertEqual(facts(os.path.join(app, "existing_root")), (0, 0, 0o711))
        warn = lines_with(r.stderr, "level=warn")
        self.assertEqual(len(warn), 1, r.stderr)
        self.assertIn("existing_root", warn[0])

    def test_secret_inside_dir_section(self):
        with open(os.path.join(self.tmp, "src"), "wb") as f:
            f.write(b"data")
        r = self.materialize("""
[dir "@OUT@/keys"]
mode = 0750
owner = 1000
group = 4
[secret "a"]
from = file:%s/src
to = @OUT@/keys/a
owner = 1000
""" % self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(facts(os.path.join(self.out, "keys")), (1000, 4, 0o750))
        self.assertEqual(facts(os.path.join(self.out, "keys", "a")), (1000, 1000, 0o400))

    def spawn_blocked_on_stdin(self, scrub):
        """Starts materialize with an env source first and standard input second: the agent
        reads the env var, then blocks reading the pipe until we write to it. (A FIFO given as
        a file: source is refused at once, so a pipe on stdin is the way to hold it there.)"""
        cfg = write_config(os.path.join(self.tmp, "agent.ini"), """
[secret "signing_key"]
from = env:SIGNING_KEY
to = %s/key.pem
type = ed25519
scrub_env = %s
[secret "token"]
from = -
to = %s/token
""" % (self.out, "yes" if scrub else "no", self.out))
        env = dict(BASE_ENV, SIGNING_KEY=self.key.decode(), UNRELATED="visible-marker")
        return subprocess.Popen([satest.AGENT, "materialize", "--config", cfg], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def environ_while_blocked(self, p):
        # Sources are read in order: once the agent sits in read(0, ...) it has read the env
        # source. /proc/PID/syscall starts with the syscall number (0: read) and its first
        # argument (the fd).
        deadline = time.monotonic() + 30
        while True:
            with open("/proc/%d/syscall" % p.pid) as f:
                if f.read().startswith("0 0x0 "):
                    break
            self.assertIsNone(p.poll(), "the agent exited before reading standard input")
            self.assertLess(time.monotonic(), deadline, "the agent never read standard input")
            time.sleep(0.01)
        with open("/proc/%d/environ" % p.pid, "rb") as f:
            environ = f.read()
        out, err = p.communicate(b"fifo token", timeout=30)
        return environ, p.returncode, err

    def test_env_source_scrubbed_from_agent_environ(self):
        satest.require_root("reads the agent's /proc/PID/environ (the agent is not dumpable)")
        p = self.spawn_blocked_on_stdin(scrub=True)
        environ, rc, err = self.environ_while_blocked(p)
        self.assertEqual(rc, 0, err)
        self.assertIn(b"UNRELATED=visible-marker", environ)  # we really read its environ
        assert_no_secret_bytes(self, environ, [self.key])
        self.assertNotIn(b"SIGNING_KEY=-----BEGIN", environ)
        self.assertEqual(read(os.path.join(self.out, "key.pem")), self.key)
        self.assertEqual(read(os.path.join(self.out, "token")), b"fifo token")

    def test_scrub_env_no_keeps_the_variable(self):
        satest.require_root("reads the agent's /proc/PID/environ (the agent is not dumpable)")
        p = self.spawn_blocked_on_stdin(scrub=False)
        environ, rc, err = self.environ_while_blocked(p)
        self.assertEqual(rc, 0, err)
        self.assertIn(b"SIGNING_KEY=" + self.key, environ)

    def test_non_root_owner_other_than_self_is_77(self):
        out = os.path.join(self.tmp, "nobody")
        os.makedirs(out)
        os.chown(out, 65534, 65534)
        src = os.path.join(self.tmp, "src")
        with open(src, "wb") as f:
            f.write(b"data")
        os.chmod(src, 0o644)
        cfg = write_config(os.path.join(self.tmp, "n.ini"), """
[secret "mine"]
from = file:%s
to = %s/mine
[secret "theirs"]
from = file:%s
to = %s/theirs
owner = 0
""" % (src, out, src, out))
        r, _ = run_timed(["materialize", "--config", cfg], user=65534, group=65534)
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertEqual(os.listdir(out), [])
        self.assertEqual(len(lines_with(r.stderr, "secret=theirs")), 1, r.stderr)
        # Without the foreign owner, the file is the invoking user's, mode still enforced.
        cfg = write_config(os.path.join(self.tmp, "n.ini"), """
[secret "mine"]
from = file:%s
to = %s/mine
mode = 0440
""" % (src, out))
        r, _ = run_timed(["materialize", "--config", cfg], user=65534, group=65534)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(facts(os.path.join(out, "mine")), (65534, 65534, 0o440))

    def gen_tls_pair(self, name):
        key, crt = (os.path.join(self.tmp, name + ext) for ext in (".key", ".crt"))
        satest.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                       "-nodes", "-keyout", key, "-out", crt, "-subj", "/CN=svc.test",
                       "-days", "30")
        return key, crt

    def test_tls_pair(self):
        key, crt = self.gen_tls_pair("tls")
        other_key, _ = self.gen_tls_pair("other")
        cfg = """
[secret "tls_cert"]
from = file:%s
to = @OUT@/tls/tls.crt
type = tls-cert
[secret "tls_key"]
from = file:%s
to = @OUT@/tls/tls.key
type = tls-key
cert = tls_cert
"""
        r = self.materialize(cfg % (crt, other_key))
        assert_no_secret_bytes(self, r.stdout + r.stderr, [read(other_key), read(key)])
        self.assertEqual(r.returncode, 65, r.stderr)
        bad = lines_with(r.stderr, "event=invalid_secret")
        self.assertEqual(len(bad), 1, r.stderr)
        self.assertEqual(field(bad[0], "secret"), "tls_key")
        self.assertFalse(os.path.exists(self.out))
        r = self.materialize(cfg % (crt, key))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(facts(os.path.join(self.out, "tls", "tls.key")), (0, 0, 0o400))
        self.assertEqual(facts(os.path.join(self.out, "tls", "tls.crt")), (0, 0, 0o444))
        self.assertEqual(read(os.path.join(self.out, "tls", "tls.crt")), read(crt))

    def test_config_error_writes_nothing(self):
        r = self.materialize("""
[secret "a"]
from = env:SIGNING_KEY
to = @OUT@/a
typo_key = 1
""", env={"SIGNING_KEY": self.key.decode()})
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertFalse(os.path.exists(self.out))


if __name__ == "__main__":
    satest.main()
