"""Privilege drop (docs/design.md §8, §13): the child of `run --user` has the user's ids
and groups, no capability in any set, NoNewPrivs 1, cannot setuid(0), gains nothing from a
setuid-root binary or from capabilities the agent inherited (capsh --inh / --addamb); an
injected failure of any id change, or a faked success, never lets the child run (exit 77)."""
import os
import shutil
import subprocess

import satest

NOBODY = 65534
ZERO_CAPS = "0000000000000000"
CAP_KEYS = ("status.CapInh", "status.CapPrm", "status.CapEff", "status.CapBnd",
            "status.CapAmb")


def ids(line):
    return [int(x) for x in line.split()]


class PrivDrop(satest.TempDirTestCase):
    def setUp(self):
        satest.require_root("dropping privileges needs root")
        super().setUp()

    def marker(self):
        """A path the dropped child could create: its absence means the child never ran."""
        d = os.path.join(self.tmp, "marker-dir")
        if not os.path.isdir(d):
            os.mkdir(d, 0o777)
            os.chmod(d, 0o777)
        return os.path.join(d, "child-ran")

    def report(self, agent_args, pid1=False, child=None, **kw):
        r = satest.run(agent_args, child or [satest.PROBE, "report"], pid1=pid1, **kw)
        self.assertEqual(r.returncode, 0, r.stderr)
        return satest.parse_report(r.stdout), r

    def assert_no_privileges(self, got, uid, gid):
        self.assertEqual(ids(got["status.Uid"][0]), [uid] * 4)
        self.assertEqual(ids(got["status.Gid"][0]), [gid] * 4)
        for key in CAP_KEYS:
            self.assertEqual(got[key], [ZERO_CAPS], key)
        self.assertEqual(got["status.NoNewPrivs"], ["1"])
        self.assertEqual(got["setuid0"], ["EPERM"])

    def test_named_user_gets_its_groups_and_nothing_else(self):
        for pid1 in (False, True):
            with self.subTest(pid1=pid1):
                got, r = self.report(["--user", "nobody"], pid1=pid1)
                self.assert_no_privileges(got, NOBODY, NOBODY)
                self.assertEqual(ids(got["status.Groups"][0]), [NOBODY])
                self.assertEqual(got["HOME"], ["/nonexistent"])
                self.assertIn("event=privileges_dropped", r.stderr)

    def test_numeric_uid_gets_only_its_group(self):
        got, _ = self.report(["--user", "4242"])
        self.assert_no_privileges(got, 4242, 4242)
        self.assertEqual(got["status.Groups"], [""])
        got, _ = self.report(["--user", "4242", "--group", "4243"])
        self.assert_no_privileges(got, 4242, 4243)
        self.assertEqual(got["status.Groups"], [""])

    def test_explicit_group_replaces_the_user_groups(self):
        got, _ = self.report(["--user", "nobody", "--group", "4243"])
        self.assert_no_privileges(got, NOBODY, 4243)
        self.assertEqual(got["status.Groups"], [""])

    def test_root_supplementary_groups_do_not_leak(self):
        def root_groups():
            os.setgroups([4, 27, 100])

        got, _ = self.report(["--user", "nobody"], preexec_fn=root_groups)
        self.assertEqual(ids(got["status.Groups"][0]), [NOBODY])

    def test_agent_itself_runs_dropped(self):
        p = satest.start(["--user", "nobody"], [satest.PROBE, "sleep"])
        try:
            self.assertEqual(satest.read_line(p), "ready")
            self.assertEqual(ids(satest.proc_status(p.pid, "Uid")), [NOBODY] * 4)
            for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
                self.assertEqual(satest.proc_status(p.pid, key), ZERO_CAPS, key)
            self.assertEqual(satest.proc_status(p.pid, "NoNewPrivs"), "1")
        finally:
            satest.kill_quietly(p)

    def test_privileged_watcher_keeps_three_caps_in_the_agent_only(self):
        p = satest.start(["--user", "nobody", "--privileged-watcher"], [satest.PROBE, "sleep"])
        try:
            self.assertEqual(satest.read_line(p), "ready")
            # CAP_CHOWN (0), CAP_DAC_READ_SEARCH (2), CAP_FOWNER (3).
            self.assertEqual(satest.proc_status(p.pid, "CapEff"), "000000000000000d")
            self.assertEqual(satest.proc_status(p.pid, "CapPrm"), "000000000000000d")
            for key in ("CapInh", "CapBnd", "CapAmb"):
                self.assertEqual(satest.proc_status(p.pid, key), ZERO_CAPS, key)
            child = satest.children(p.pid)[0]
            for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
                self.assertEqual(satest.proc_status(child, key), ZERO_CAPS, key)
            self.assertEqual(satest.proc_status(child, "NoNewPrivs"), "1")
        finally:
            satest.kill_quietly(p)

    def test_setuid_root_binary_gives_nothing(self):
        bindir = os.path.join(self.tmp, "bin")
        os.mkdir(bindir, 0o755)
        suid = os.path.join(bindir, "probe_suid")
        shutil.copy(satest.PROBE, suid)
        os.chown(suid, 0, 0)
        os.chmod(suid, 0o4755)
        # Precondition: without the agent, the bit does work here (else the test proves
        # nothing, e.g. on a nosuid mount).
        plain = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                                "--clear-groups", suid, "report"], capture_output=True,
                               text=True)
        if ids(satest.parse_report(plain.stdout)["uids"][0])[1] != 0:
            self.skipTest("setuid bit has no effect in %s" % bindir)
        got, _ = self.report(["--user", "nobody"], child=[suid, "report"])
        self.assertEqual(ids(got["uids"][0]), [NOBODY] * 3)
        self.assert_no_privileges(got, NOBODY, NOBODY)

    def capsh(self, agent_args):
        inner = " ".join([satest.AGENT, "run"] + agent_args + ["--", satest.PROBE, "report"])
        r = subprocess.run(["capsh", "--inh=cap_net_raw", "--addamb=cap_net_raw", "--",
                            "-c", "exec " + inner], capture_output=True, text=True,
                           env=dict(satest.BASE_ENV), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return satest.parse_report(r.stdout)

    def test_inherited_capabilities_do_not_reach_the_child(self):
        if not shutil.which("capsh"):
            self.skipTest("capsh not installed")
        plain = subprocess.run(["capsh", "--inh=cap_net_raw", "--addamb=cap_net_raw", "--",
                                "-c", "exec %s report" % satest.PROBE], capture_output=True,
                               text=True)
        before = satest.parse_report(plain.stdout)
        self.assertNotEqual(before["status.CapInh"], [ZERO_CAPS])
        self.assertNotEqual(before["status.CapAmb"], [ZERO_CAPS])
        got = self.capsh(["--user", "nobody"])
        self.assert_no_privileges(got, NOBODY, NOBODY)
        # Root without a user stays root, but inheritable and ambient are still cleared.
        got = self.capsh([])
        self.assertEqual(got["status.CapInh"], [ZERO_CAPS])
        self.assertEqual(got["status.CapAmb"], [ZERO_CAPS])
        self.assertEqual(got["status.NoNewPrivs"], ["1"])

    def strace(self, inject, pid1=False):
        if not shutil.which("strace"):
            self.skipTest("strace not installed")
        marker = self.marker()
        cmd = (["strace", "-f", "-o", "/dev/null", "-e", "inject=" + inject] +
               satest.agent_cmd(["--user", "nobody"], ["/bin/sh", "-c", "touch " + marker],
                                pid1=pid1))
        r = subprocess.run(cmd, capture_output=True, text=True, env=dict(satest.BASE_ENV),
                           timeout=120)
        self.assertFalse(os.path.exists(marker), "the child ran after a failed drop")
        return r

    def test_under_strace_without_injection_the_child_runs(self):
        """The control for the injection tests: the marker is writable by the child."""
        marker = self.marker()
        r = subprocess.run(["strace", "-f", "-o", "/dev/null"] +
                           satest.agent_cmd(["--user", "nobody"],
                                            ["/bin/sh", "-c", "touch " + marker]),
                           capture_output=True, text=True, env=dict(satest.BASE_ENV), timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(marker))

    def test_injected_id_change_failure_never_runs_the_child(self):
        for syscall in ("setgroups", "setresgid", "setresuid"):
            with self.subTest(syscall=syscall):
                r = self.strace("%s:error=EPERM" % syscall)
                self.assertEqual(r.returncode, 77, r.stderr)
                self.assertIn("event=privdrop_failed", r.stderr)

    def test_faked_id_change_success_is_caught_by_verification(self):
        """The syscall is skipped but reports success: only reading the ids back notices."""
        for syscall in ("setresuid", "setresgid", "setgroups"):
            with self.subTest(syscall=syscall):
                r = self.strace("%s:retval=0" % syscall)
                self.assertEqual(r.returncode, 77, r.stderr)
                self.assertIn("privilege drop failed", r.stderr)

    def test_injected_capability_failure_never_runs_the_child(self):
        r = self.strace("capset:error=EPERM")
        self.assertEqual(r.returncode, 77, r.stderr)

    def test_secret_env_var_absent_from_the_child(self):
        token = os.urandom(12).hex()
        out = os.path.join(self.tmp, "out")
        env = dict(satest.BASE_ENV, SA_TEST_TOKEN=token)
        p = satest.start(["--user", "nobody",
                          "--secret", "name=tok,from=env:SA_TEST_TOKEN,to=%s/tok" % out],
                         [satest.PROBE, "report"], env=env)
        try:
            code, stdout, stderr = satest.finish(p)
        finally:
            satest.kill_quietly(p)
        self.assertEqual(code, 0, stderr)
        got = satest.parse_report(stdout)
        self.assertNotIn("SA_TEST_TOKEN", got["env"])
        satest.assert_no_secret_bytes(self, stdout + stderr, [token.encode()])
        with open(os.path.join(out, "tok"), "rb") as f:
            self.assertEqual(f.read().strip(), token.encode())
        st = os.stat(os.path.join(out, "tok"))
        self.assertEqual(st.st_uid, NOBODY)

    def test_secret_absent_from_agent_environ(self):
        token = os.urandom(12).hex()
        env = dict(satest.BASE_ENV, SA_TEST_TOKEN=token)
        p = satest.start(["--user", "nobody", "--secret",
                          "name=tok,from=env:SA_TEST_TOKEN,to=%s/o/tok" % self.tmp],
                         [satest.PROBE, "sleep"], env=env)
        try:
            self.assertEqual(satest.read_line(p), "ready")
            child = satest.children(p.pid)[0]
            for pid in (p.pid, child):
                with open("/proc/%d/environ" % pid, "rb") as f:
                    self.assertNotIn(token.encode(), f.read())
        finally:
            satest.kill_quietly(p)

    def test_source_unreadable_by_the_user_fails_with_the_fix(self):
        secret_dir = os.path.join(self.tmp, "rootonly")
        os.mkdir(secret_dir, 0o700)
        src = os.path.join(secret_dir, "token")
        with open(src, "w") as f:
            f.write(os.urandom(8).hex())
        os.chmod(src, 0o600)
        marker = self.marker()
        args = ["--user", "nobody", "--secret",
                "name=tok,from=file:%s,to=%s/o/tok" % (src, self.tmp)]
        r = satest.run(args, ["/bin/sh", "-c", "touch " + marker])
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertIn("not readable by uid %d" % NOBODY, r.stderr)
        self.assertIn("privileged_watcher", r.stderr)
        self.assertFalse(os.path.exists(marker))
        r = satest.run(args + ["--privileged-watcher"], ["/bin/sh", "-c", "touch " + marker])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(marker))


class NonRoot(satest.TempDirTestCase):
    """Started as a non-root user: no uid change, but NoNewPrivs and empty sets for the
    child all the same."""

    def setUp(self):
        satest.require_root("setpriv to another user needs root")
        super().setUp()

    def test_non_root_agent_keeps_its_uid_and_sets_nnp(self):
        cmd = (["setpriv", "--reuid=4242", "--regid=4242", "--clear-groups"] +
               satest.agent_cmd([], [satest.PROBE, "report"]))
        r = subprocess.run(cmd, capture_output=True, text=True, env=dict(satest.BASE_ENV),
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = satest.parse_report(r.stdout)
        self.assertEqual(ids(got["status.Uid"][0]), [4242] * 4)
        self.assertEqual(got["status.NoNewPrivs"], ["1"])
        for key in ("status.CapInh", "status.CapPrm", "status.CapEff", "status.CapAmb"):
            self.assertEqual(got[key], [ZERO_CAPS], key)

    def test_non_root_agent_with_another_user_stays_itself(self):
        cmd = (["setpriv", "--reuid=4242", "--regid=4242", "--clear-groups"] +
               satest.agent_cmd(["--user", "nobody"], [satest.PROBE, "report"]))
        r = subprocess.run(cmd, capture_output=True, text=True, env=dict(satest.BASE_ENV),
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = satest.parse_report(r.stdout)
        self.assertEqual(ids(got["status.Uid"][0]), [4242] * 4)
        self.assertIn("event=privdrop_skipped", r.stderr)


if __name__ == "__main__":
    satest.main()
