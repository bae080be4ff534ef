"""Rotation after the privilege drop keeps every promise of the first write, or refuses loudly.

The agent rotates as the service user (docs/design.md §10.1): a rotated file keeps its
configured owner, group and mode (an unprivileged fchown to one of the user's groups), and a
group the user is not in makes the rotation fail with rotation_rejected and the reason, never a file with other ids.
A target the service replaced with a FIFO or a symlink is never read: the partner's bytes are
kept in locked memory, so the agent goes on forwarding signals and rotating, and logs nothing
about the linked file.
"""
import grp
import os
import pwd
import shutil
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kubelet  # noqa: E402
import satest  # noqa: E402
from satest import PATH_ENV, facts, write_config  # noqa: E402


def service_user_with_a_supplementary_group():
    """(user, a supplementary group of that user that is not its primary group), or None."""
    for pw in pwd.getpwall():
        if pw.pw_uid == 0:
            continue
        for g in grp.getgrall():
            if pw.pw_name in g.gr_mem and g.gr_gid != pw.pw_gid and g.gr_gid != 0:
                return pw, g
    return None


def group_outside(pw):
    for g in grp.getgrall():
        if g.gr_gid not in (0, pw.pw_gid) and pw.pw_name not in g.gr_mem:
            return g
    return None


class RotatedBase(unittest.TestCase):
    def setUp(self):
        satest.require_root("drops to a service user and checks owners")
        self.tmp = satest.shm_dir("sa-hrot-")
        self.src = os.path.join(self.tmp, "volume")
        self.out = os.path.join(self.tmp, "out")
        self.writer = kubelet.AtomicWriter(self.src)
        self.agent = None

    def tearDown(self):
        if self.agent:
            self.agent.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, config, env=None, args=()):
        cfg = write_config(os.path.join(self.tmp, "agent.ini"), config)
        self.agent = satest.Agent(["run", "--config", cfg] + list(args) +
                                  ["--", "/bin/sleep", "120"], self.tmp, env=env)
        self.assertTrue(self.agent.wait_log("event=child_started"), self.agent.log_text())

    def rotate(self, name, data, target):
        self.writer.write({name: data})
        self.assertTrue(satest.wait_for(
            lambda: satest.file_sha(target) == satest.sha(data), 20), self.agent.log_text())


class OwnerGroupModeAfterTheDrop(RotatedBase):
    def test_rotated_file_keeps_a_supplementary_group_and_mode(self):
        found = service_user_with_a_supplementary_group()
        if not found:
            sys.stderr.write("SKIPPED: no user with a supplementary group on this system\n")
            sys.exit(77)
        pw, g = found
        target = os.path.join(self.out, "token")
        self.writer.write({"token": b"v0\n"})
        self.start("""
[agent]
user = %s
debounce = 0
on_change = none

[secret "token"]
from = file:%s/token
to = %s
type = opaque
group = %s
mode = 0440
""" % (pw.pw_name, self.src, target, g.gr_name))
        self.assertEqual(facts(target), (pw.pw_uid, g.gr_gid, 0o440))
        self.assertIn("event=privileges_dropped", self.agent.log_text())
        self.rotate("token", b"v1\n", target)
        self.assertEqual(facts(target), (pw.pw_uid, g.gr_gid, 0o440), self.agent.log_text())
        self.rotate("token", b"v2\n", target)
        self.assertEqual(facts(target), (pw.pw_uid, g.gr_gid, 0o440), self.agent.log_text())
        self.assertNotIn("rotation_rejected", self.agent.log_text())

    def test_group_the_service_is_not_in_is_refused_loudly(self):
        pw = pwd.getpwnam("nobody")
        g = group_outside(pw)
        target = os.path.join(self.out, "token")
        self.writer.write({"token": b"v0\n"})
        self.start("""
[agent]
user = nobody
debounce = 0
on_change = none

[secret "token"]
from = file:%s/token
to = %s
type = opaque
group = %s
mode = 0440
""" % (self.src, target, g.gr_name))
        self.assertEqual(facts(target), (pw.pw_uid, g.gr_gid, 0o440))
        self.writer.write({"token": b"v1\n"})
        self.assertTrue(self.agent.wait_log("event=rotation_rejected"), self.agent.log_text())
        line = [x for x in self.agent.log_text().splitlines()
                if "event=rotation_rejected" in x][0]
        self.assertIn("gid %d" % g.gr_gid, line)
        self.assertEqual(satest.file_sha(target), satest.sha(b"v0\n"))
        self.assertEqual(facts(target), (pw.pw_uid, g.gr_gid, 0o440))


class TargetsAreNeverRead(RotatedBase):
    """A tls-key from env: cannot be read again; when its certificate rotates the key is
    checked against the bytes the agent kept, never against its (service-owned) target."""

    def setUp(self):
        super().setUp()
        key = os.path.join(self.tmp, "tls.key")
        self.cert0 = self.cert_for(key, "v0", new_key=True)
        self.key = satest.read(key)
        os.unlink(key)
        self.key_path = key
        self.cert_target = os.path.join(self.out, "tls.crt")
        self.key_target = os.path.join(self.out, "tls.key")

    def cert_for(self, key, tag, new_key=False):
        args = ["req", "-x509", "-subj", "/CN=svc-%s.test" % tag, "-days", "30"]
        if new_key:
            args += ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", key]
        else:
            with open(key, "wb") as f:
                f.write(self.key)
            args += ["-key", key]
        cert = satest.openssl(*args)
        if not new_key:
            os.unlink(key)
        return cert

    def start_pair(self, extra=""):
        self.writer.write({"tls.crt": self.cert0})
        self.start("""
[agent]
user = nobody
debounce = 0
on_change = none
%s
[secret "tls_cert"]
from = file:%s/tls.crt
to = %s
type = tls-cert

[secret "tls_key"]
from = env:SA_TLS_KEY
to = %s
type = tls-key
cert = tls_cert
""" % (extra, self.src, self.cert_target, self.key_target),
                   env=dict(PATH_ENV, SA_TLS_KEY=self.key.decode()))
        self.assertEqual(satest.file_sha(self.cert_target), satest.sha(self.cert0))

    def plant(self, make):
        """The service replaces the key's target (it owns the directory)."""
        nobody = pwd.getpwnam("nobody")
        os.unlink(self.key_target)
        make(self.key_target)
        os.lchown(self.key_target, nobody.pw_uid, nobody.pw_gid)

    def rotate_twice_then_stop(self):
        for tag in ("v1", "v2"):
            cert = self.cert_for(self.key_path, tag)
            self.rotate("tls.crt", cert, self.cert_target)
        child = satest.children(self.agent.pid())
        self.assertEqual(len(child), 1)
        # Still forwarding signals and reaping: the child dies of SIGTERM, the agent follows.
        rc = self.agent.stop(timeout=10)
        self.assertEqual(rc, 128 + signal.SIGTERM, self.agent.log_text())
        self.assertIn("event=child_exited", self.agent.log_text())
        log = self.agent.log_text()
        self.agent = None
        self.assertNotIn("rotation_rejected", log)
        self.assertNotIn("invalid_secret", log)
        satest.assert_no_secret_bytes(self, log, [self.key])
        return log

    def test_fifo_at_the_key_target_blocks_nothing(self):
        self.start_pair()
        self.plant(lambda path: os.mkfifo(path, 0o600))
        self.rotate_twice_then_stop()
        self.assertTrue(os.path.exists(self.key_target))

    def test_symlink_to_a_root_only_file_is_not_read(self):
        other = os.path.join(self.tmp, "root-only")
        os.mkdir(other, 0o700)
        secret_file = os.path.join(other, "other.key")
        other_key = satest.openssl("genpkey", "-algorithm", "RSA",
                                   "-pkeyopt", "rsa_keygen_bits:2048")
        with open(secret_file, "wb") as f:
            f.write(other_key)
        os.chmod(secret_file, 0o600)
        self.start_pair(extra="privileged_watcher = yes\n")
        self.plant(lambda path: os.symlink(secret_file, path))
        log = self.rotate_twice_then_stop()
        self.assertNotIn(secret_file, log)
        self.assertNotIn("RSA", log)
        satest.assert_no_secret_bytes(self, log, [other_key])


class RotationCheckedAtStart(RotatedBase):
    """A rotation that the post-drop identity can never carry out is named at start, with a
    warning (the first write, as root, worked: the service starts), not at the first
    rotation."""

    def start_token(self, target, extra=""):
        self.writer.write({"token": b"v0\n"})
        self.start("""
[agent]
user = nobody
debounce = 0
on_change = none

[secret "token"]
from = file:%s/token
to = %s
type = opaque
%s""" % (self.src, target, extra))
        self.assertTrue(self.agent.wait_log("event=rotation_watching"), self.agent.log_text())
        return [x for x in self.agent.log_text().splitlines()
                if "event=rotation_impossible" in x]

    def test_target_in_a_root_owned_directory_is_warned_about_at_start(self):
        os.mkdir(self.out, 0o755)
        target = os.path.join(self.out, "token")
        warned = self.start_token(target)
        self.assertEqual(len(warned), 1, self.agent.log_text())
        self.assertIn("level=warn", warned[0])
        self.assertIn("secret=token", warned[0])
        self.assertIn("path=%s" % target, warned[0])
        self.assertIn("Permission denied", warned[0])
        # A warning, not a refusal: the service runs with the file written at start.
        self.assertEqual(satest.file_sha(target), satest.sha(b"v0\n"))
        self.assertEqual(len(satest.children(self.agent.pid())), 1)

    def test_group_outside_the_service_is_warned_about_at_start(self):
        g = group_outside(pwd.getpwnam("nobody"))
        warned = self.start_token(os.path.join(self.out, "token"), "group = %s\n" % g.gr_name)
        self.assertEqual(len(warned), 1, self.agent.log_text())
        self.assertIn("gid %d" % g.gr_gid, warned[0])

    def test_rotatable_target_is_not_warned_about(self):
        warned = self.start_token(os.path.join(self.out, "token"))
        self.assertEqual(warned, [])
        self.rotate("token", b"v1\n", os.path.join(self.out, "token"))


class SourcesOutOfTheServicesReach(RotatedBase):
    """privileged_watcher reads sources with CAP_DAC_READ_SEARCH: a source the service could
    redirect (a directory on its way that the service owns or may write) refuses the start."""

    def start_refused(self, source):
        marker = os.path.join(self.tmp, "child-ran")
        r = satest.run(["--user", "nobody", "--privileged-watcher", "--secret",
                        "name=tok,from=file:%s,to=%s/tok,type=opaque" % (source, self.out)],
                       ["/bin/sh", "-c", "touch " + marker])
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertFalse(os.path.exists(marker), "the child was started")
        refused = [x for x in r.stderr.splitlines() if "event=source_untrusted" in x]
        self.assertEqual(len(refused), 1, r.stderr)
        return refused[0]

    def service_dir(self, name):
        nobody = pwd.getpwnam("nobody")
        d = os.path.join(self.tmp, name)
        os.mkdir(d, 0o755)
        os.chown(d, nobody.pw_uid, nobody.pw_gid)
        return d

    def test_source_in_a_directory_of_the_service_is_refused(self):
        d = self.service_dir("svc")
        src = os.path.join(d, "token")
        with open(src, "wb") as f:
            f.write(b"token")
        line = self.start_refused(src)
        self.assertIn("directory %s " % d, line)

    def test_link_planted_by_the_service_is_refused(self):
        rootonly = os.path.join(self.tmp, "rootonly")
        os.mkdir(rootonly, 0o700)
        with open(os.path.join(rootonly, "secret"), "wb") as f:
            f.write(b"root only")
        d = self.service_dir("svc")
        os.symlink(os.path.join(rootonly, "secret"), os.path.join(d, "token"))
        # The configured path goes through a root-owned link into the service's directory.
        os.symlink(d, os.path.join(self.tmp, "volume-link"))
        line = self.start_refused(os.path.join(self.tmp, "volume-link", "token"))
        self.assertIn("directory %s " % d, line)
        self.assertNotIn("root only", line)

    def test_source_in_root_owned_directories_is_accepted(self):
        self.writer.write({"token": b"v0\n"})
        r = satest.run(["--user", "nobody", "--privileged-watcher", "--secret",
                        "name=tok,from=file:%s/token,to=%s/tok,type=opaque"
                        % (self.src, self.out)], ["/bin/true"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("source_untrusted", r.stderr)


if __name__ == "__main__":
    satest.main()
