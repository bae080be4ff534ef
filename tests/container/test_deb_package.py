"""The Debian package cpack made (pkg.deb_build) and the bash completion it ships (label
packaging). Installing it is tested by container.images, inside a Debian 12 root.
"""
import gzip
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import unittest

import pkgtest

SRC = pkgtest.SOURCE_DIR
DOC = "usr/share/doc/secret-agent"
# Installed path -> source file it must be byte-identical to.
SHIPPED = {
    "usr/lib/systemd/system/secret-agent@.service": "systemd/secret-agent@.service",
    "usr/share/bash-completion/completions/secret-agent": "completion/secret-agent.bash",
    DOC + "/examples/backend.conf": "packaging/docker/backend/secret-agent.conf",
    DOC + "/examples/ai-service.conf": "packaging/docker/ai-service/secret-agent.conf",
    DOC + "/examples/systemd-myapp.conf": "packaging/examples/systemd-myapp.conf",
    DOC + "/examples/systemd-myapp-dropin.conf": "packaging/examples/systemd-myapp-dropin.conf",
    DOC + "/examples/k8s/backend.yaml": "packaging/k8s/backend.yaml",
    DOC + "/examples/k8s/ai-service.yaml": "packaging/k8s/ai-service.yaml",
    DOC + "/deploy.md": "docs/deploy.md",
}
RUNTIME_LIBS = ["libc6", "libsodium23", "libssl3", "libcap2", "libjson-c5"]


def dpkg_deb(*args):
    return subprocess.run(["dpkg-deb"] + list(args), capture_output=True, check=True).stdout


class DebPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.deb = pkgtest.deb_path()
        if not os.path.exists(cls.deb):
            raise AssertionError("%s missing: pkg.deb_build (cpack -G DEB) did not make it" %
                                 cls.deb)
        cls.tmp = tempfile.mkdtemp(prefix="sa-deb-")
        cls.root = os.path.join(cls.tmp, "root")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True)
        cls.members = {}
        listing = dpkg_deb("--fsys-tarfile", cls.deb)
        with tarfile.open(fileobj=__import__("io").BytesIO(listing)) as tar:
            for m in tar.getmembers():
                cls.members[os.path.normpath(m.name).lstrip("./")] = m

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def field(self, name):
        return dpkg_deb("-f", self.deb, name).decode().strip()

    def test_name_version_arch(self):
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                              text=True).stdout.strip()
        self.assertEqual(os.path.basename(self.deb),
                         "secret-agent_%s_%s.deb" % (pkgtest.VERSION, arch))
        self.assertEqual(self.field("Package"), "secret-agent")
        self.assertEqual(self.field("Version"), pkgtest.VERSION)
        self.assertEqual(self.field("Architecture"), arch)

    def test_depends_from_shlibdeps(self):
        depends = [d.strip() for d in self.field("Depends").split(",")]
        names = {re.match(r"[a-z0-9.+-]+", d).group(0): d for d in depends}
        for lib in RUNTIME_LIBS:
            with self.subTest(lib=lib):
                self.assertIn(lib, names)
                # dpkg-shlibdeps writes a minimum version; a hand-written list rarely does.
                self.assertIn("(>= ", names[lib])

    def test_binary(self):
        m = self.members.get("usr/bin/secret-agent")
        self.assertIsNotNone(m, sorted(self.members))
        self.assertEqual((m.mode & 0o7777, m.uname, m.gname), (0o755, "root", "root"))
        r = subprocess.run([os.path.join(self.root, "usr/bin/secret-agent"), "--version"],
                           capture_output=True, text=True)
        self.assertEqual(r.stdout.strip(), "secret-agent %s" % pkgtest.VERSION)

    def test_shipped_files(self):
        for path, source in SHIPPED.items():
            with self.subTest(path=path):
                m = self.members.get(path)
                self.assertIsNotNone(m, path)
                self.assertEqual((m.mode & 0o7777, m.uname), (0o644, "root"))
                with open(os.path.join(self.root, path), "rb") as a, \
                        open(os.path.join(SRC, source), "rb") as b:
                    self.assertTrue(a.read() == b.read(), "%s differs from %s" % (path, source))

    def test_man_page(self):
        path = "usr/share/man/man1/secret-agent.1.gz"
        self.assertIn(path, self.members)
        with gzip.open(os.path.join(self.root, path), "rb") as f:
            page = f.read()
        with open(pkgtest.MAN_PAGE, "rb") as f:
            self.assertTrue(page == f.read(), "packaged man page differs from the built one")
        self.assertIn(b".TH \"secret-agent\" \"1\"", page)

    def test_only_usr_and_no_secret_material(self):
        for path, m in self.members.items():
            if path in (".", ""):
                continue
            with self.subTest(path=path):
                self.assertTrue(path == "usr" or path.startswith("usr/"), path)
                if m.isfile() and path != "usr/bin/secret-agent":
                    with open(os.path.join(self.root, path), "rb") as f:
                        self.assertNotIn(b"-----BEGIN", f.read())
        self.assertEqual(dpkg_deb("-f", self.deb, "Conffiles").strip(), b"")

    def test_maintainer_scripts(self):
        ctrl = os.path.join(self.tmp, "control")
        subprocess.run(["dpkg-deb", "-e", self.deb, ctrl], check=True)
        for script in ("postinst", "postrm"):
            with self.subTest(script=script):
                st = os.stat(os.path.join(ctrl, script))
                self.assertEqual(st.st_mode & 0o777, 0o755)
                r = subprocess.run(["sh", "-n", os.path.join(ctrl, script)])
                self.assertEqual(r.returncode, 0)


class BashCompletion(unittest.TestCase):
    """Drives the completion function the way bash does, without bash-completion installed."""

    def complete(self, line):
        words = line.split(" ")
        script = (
            'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
            'COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _secret_agent; '
            'printf "%s\\n" "${COMPREPLY[@]}"')
        r = subprocess.run(["bash", "-c", script, "bash",
                            os.path.join(SRC, "completion/secret-agent.bash")] + words,
                           capture_output=True, text=True, cwd="/",
                           env={"PATH": "/usr/bin:/bin", "SFS_COMPLETION_TEST": "1"})
        self.assertEqual(r.stderr, "")
        return [w for w in r.stdout.split("\n") if w]

    def test_syntax(self):
        r = subprocess.run(["bash", "-n", os.path.join(SRC, "completion/secret-agent.bash")])
        self.assertEqual(r.returncode, 0)

    def test_commands(self):
        self.assertEqual(self.complete("secret-agent va"), ["validate"])
        self.assertEqual(self.complete("secret-agent status --j"), ["--json"])
        self.assertEqual(sorted(self.complete("secret-agent ")), sorted(
            ["run", "materialize", "watch", "validate", "check-config", "status", "--help", "--version"]))

    def test_flags_and_values(self):
        self.assertIn("--notify-pidfile", self.complete("secret-agent watch --no"))
        self.assertNotIn("--notify-pidfile", self.complete("secret-agent run --no"))
        self.assertEqual(self.complete("secret-agent validate --type ed"), ["ed25519"])
        self.assertEqual(self.complete("secret-agent run --log-format j"), ["json"])
        self.assertEqual(self.complete("secret-agent validate env:SFS_COMPLETION_TE"),
                         ["env:SFS_COMPLETION_TEST"])

    def test_flags_match_binary(self):
        # Every flag the binary's help lists is offered for that command.
        for cmd in ("run", "materialize", "validate", "check-config", "watch"):
            r = subprocess.run([pkgtest.AGENT, cmd, "--help"], capture_output=True, text=True)
            if r.returncode != 0:
                continue  # not built yet; test_man_page reports it
            offered = set(self.complete("secret-agent %s --" % cmd))
            for flag in set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", r.stdout)):
                with self.subTest(command=cmd, flag=flag):
                    self.assertIn(flag, offered)


if __name__ == "__main__":
    if not shutil.which("dpkg-deb"):
        pkgtest.skip("dpkg-deb is not available")
    pkgtest.main()
