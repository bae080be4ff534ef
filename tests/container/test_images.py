"""The Debian package in a Debian 12 root, without a container engine (label container; needs
root).

A minimal Debian 12 root (scripts/container-root.sh: debootstrap, cached) is overlaid per test;
the .deb made by cpack (pkg.deb_build) is installed into it with dpkg and removed again, and the
systemd template unit's recipe runs in it with the unit's capabilities. The service images are
built and run by podman in test_podman_images.py; the helpers here (keys, certificates, TCP
listeners) are shared with it.

Keys and certificates are generated with openssl at test time; their bytes are compared here,
never printed.
"""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

import pkgtest

ROOTFS_SCRIPT = os.path.join(pkgtest.SOURCE_DIR, "scripts", "container-root.sh")
PRIVATE_NS_MARK = "SFS_CONTAINER_TEST_PRIVATE_MOUNTS"
# Host tools by absolute path: the environment given to a container has the container's PATH.
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
BASE_ROOTFS = None  # set by main()
DOMAIN = "cybermesh.ai-service.v1"

# --- secrets made at test time -----------------------------------------------------------------

def gen_ed25519():
    return pkgtest.openssl("genpkey", "-algorithm", "ed25519")


def ed25519_key_id(pem):
    """Hex SHA-256 of the raw public key, first 16 characters (a key id form of the contract)."""
    der = pkgtest.openssl("pkey", "-pubout", "-outform", "DER", input=pem)
    return hashlib.sha256(der[-32:]).hexdigest()[:16]


def gen_rsa():
    return pkgtest.openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")


def gen_cert(tmp, cn, ca=True, expired=False):
    """A self-signed certificate (PEM bytes): a CA, a leaf (CA:FALSE), or an expired CA."""
    d = tempfile.mkdtemp(dir=tmp)
    key = os.path.join(d, "key.pem")
    ext = ("basicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
           if ca else "basicConstraints = critical,CA:FALSE\nkeyUsage = digitalSignature\n")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n"
                "serial = serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                "[p]\ncommonName = supplied\n[v3]\nsubjectKeyIdentifier = hash\n" + ext)
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("01\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj", "/CN=" + cn,
                    "-out", "req.csr"], cwd=d, check=True, capture_output=True)
    dates = (["-startdate", "20200101000000Z", "-enddate", "20210101000000Z"] if expired else
             ["-days", "365"])
    subprocess.run(["openssl", "ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile",
                    key, "-in", "req.csr", "-extensions", "v3", "-notext", "-out", "cert.pem"]
                   + dates, cwd=d, check=True, capture_output=True)
    with open(os.path.join(d, "cert.pem"), "rb") as f:
        pem = f.read()
    shutil.rmtree(d)
    return pem


def pem_body(pem):
    return b"".join(l for l in pem.splitlines() if l and not l.startswith(b"-----"))


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- network stand-ins -------------------------------------------------------------------------

class Listener:
    """A TCP listener on 127.0.0.1 that accepts and closes (a Redis or Kafka stand-in)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
                conn.close()
            except OSError:
                return

    def close(self):
        self.stopping = True
        # shutdown wakes the accept() blocked in the thread; close alone would leave the port
        # listening until then.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def closed_port():
    """A port on 127.0.0.1 nobody listens on (connection refused)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- the container -----------------------------------------------------------------------------

def run_checked(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), r.returncode,
                                                   (r.stdout + r.stderr)[-2000:]))
    return r


class Container:
    """A Debian 12 root with the package and one image's layout, on an overlay of the cache."""

    def __init__(self, image, tmp):
        self.image = image
        self.dir = tempfile.mkdtemp(prefix=image + "-", dir=tmp)
        self.root = os.path.join(self.dir, "root")
        for d in ("upper", "work", "root"):
            os.mkdir(os.path.join(self.dir, d))
        r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            "lowerdir=%s,upperdir=%s/upper,workdir=%s/work" %
                            (BASE_ROOTFS, self.dir, self.dir), self.root], capture_output=True)
        self.mounted = r.returncode == 0
        if not self.mounted:
            # No overlayfs here (e.g. inside some containers): a plain copy does the same.
            run_checked(["cp", "-a", BASE_ROOTFS + "/.", self.root])

    def install_package(self):
        deb = pkgtest.deb_path()
        if not os.path.exists(deb):
            raise AssertionError("%s missing: pkg.deb_build (cpack -G DEB) did not make it" % deb)
        shutil.copy(deb, self.path("/tmp/secret-agent.deb"))
        r = self.chroot("dpkg", "-i", "/tmp/secret-agent.deb")
        os.unlink(self.path("/tmp/secret-agent.deb"))
        return r

    def chroot(self, *argv):
        return run_checked([CHROOT, self.root] + list(argv),
                           env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})

    def path(self, p):
        """The host path of `p` inside the root; refuses to leave it through a symlink."""
        full = os.path.join(self.root, p.lstrip("/"))
        parent = os.path.realpath(os.path.dirname(full))
        if parent != self.root and not parent.startswith(self.root + "/"):
            raise AssertionError("%s leaves the container root" % p)
        return full

    def destroy(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.root], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


# --- the package itself ------------------------------------------------------------------------

class PackageInstall(unittest.TestCase):
    """dpkg -i and dpkg -r of the .deb in a clean Debian 12 root."""

    def test_install_and_remove(self):
        tmp = tempfile.mkdtemp(prefix="sa-dpkg-")
        c = Container("plain", tmp)
        try:
            c.install_package()
            st = c.chroot("dpkg-query", "-W", "-f", "${Status} ${Version}", "secret-agent")
            self.assertEqual(st.stdout, "install ok installed %s" % pkgtest.VERSION)
            # It runs from its Depends alone: the root has only what debootstrap put there.
            r = c.chroot("/usr/bin/secret-agent", "--version")
            self.assertEqual(r.stdout.strip(), "secret-agent %s" % pkgtest.VERSION)
            for p in ("/usr/share/man/man1/secret-agent.1.gz",
                      "/usr/lib/systemd/system/secret-agent@.service",
                      "/usr/share/bash-completion/completions/secret-agent",
                      "/usr/share/doc/secret-agent/examples/ai-service.conf",
                      "/usr/share/doc/secret-agent/examples/backend.conf"):
                self.assertTrue(os.path.isfile(c.path(p)), p)
            # The example configs parse with the installed binary (values from the env).
            env = {"PATH": "/usr/bin:/bin", "NODE_ID": "n", "ENVIRONMENT": "e",
                   "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "REDIS_HOST": "127.0.0.1",
                   "REDIS_PORT": "6379", "ED25519_SIGNING_KEY_ID": "0123456789abcdef",
                   "ED25519_DOMAIN_SEPARATION": DOMAIN}
            c.chroot("sh", "-c", "groupadd -g 1000 cybermesh && useradd -u 1000 -g 1000 "
                     "cybermesh && groupadd -g 1001 aiservice && useradd -u 1001 -g 1001 "
                     "aiservice")
            for conf in ("ai-service.conf", "backend.conf"):
                with self.subTest(config=conf):
                    r = subprocess.run([CHROOT, c.root, "/usr/bin/secret-agent",
                                        "check-config", "--config",
                                        "/usr/share/doc/secret-agent/examples/" + conf],
                                       env=env, capture_output=True, text=True)
                    self.assertEqual(r.returncode, 0, r.stderr)
            c.chroot("dpkg", "-r", "secret-agent")
            self.assertFalse(os.path.exists(c.path("/usr/bin/secret-agent")))
            self.assertFalse(os.path.exists(c.path("/usr/lib/systemd/system/secret-agent@.service")))
            c.chroot("dpkg", "-P", "secret-agent")
            r = subprocess.run([CHROOT, c.root, "dpkg-query", "-W", "secret-agent"],
                               capture_output=True)
            self.assertNotEqual(r.returncode, 0)
        finally:
            c.destroy()
            shutil.rmtree(tmp, ignore_errors=True)


class SystemdRecipe(unittest.TestCase):
    """The template unit's ExecStart with the packaged example config, as systemd would start
    it: credentials in $CREDENTIALS_DIRECTORY, the RuntimeDirectory created, and only the
    unit's CapabilityBoundingSet with NoNewPrivileges (setpriv stands in for systemd)."""

    UNIT = os.path.join(pkgtest.SOURCE_DIR, "systemd", "secret-agent@.service")
    CREDS = "/run/credentials/secret-agent@myapp.service"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sa-systemd-")
        os.chmod(cls.tmp, 0o755)
        cls.c = Container("systemd", cls.tmp)
        cls.c.install_package()
        cls.c.chroot("useradd", "--system", "--user-group", "myapp")
        cls.uid = int(cls.c.chroot("id", "-u", "myapp").stdout)
        os.makedirs(cls.c.path("/etc/secret-agent"))
        shutil.copy(cls.c.path("/usr/share/doc/secret-agent/examples/systemd-myapp.conf"),
                    cls.c.path("/etc/secret-agent/myapp.conf"))
        cls.key = gen_ed25519()
        cls.ca = gen_cert(cls.tmp, "myapp-db-ca")
        with open(cls.UNIT) as f:
            unit = f.read()
        cls.exec_start = re.search(r"(?m)^ExecStart=(.*)$", unit).group(1).replace(
            "%i", "myapp").split()
        cls.caps = re.search(r"(?m)^CapabilityBoundingSet=(.*)$", unit).group(1).split()
        cls.runtime_dir = "/run/" + re.search(r"(?m)^RuntimeDirectory=(.*)$", unit).group(
            1).replace("%i", "myapp")

    @classmethod
    def tearDownClass(cls):
        cls.c.destroy()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        for d in (self.runtime_dir, self.CREDS):
            shutil.rmtree(self.c.path(d), ignore_errors=True)
        # What systemd does before ExecStart: the runtime directory and the credentials.
        os.makedirs(self.c.path(self.runtime_dir), mode=0o755)
        os.makedirs(self.c.path(self.CREDS), mode=0o500)
        for name, data in (("signing_key", self.key), ("db_ca", self.ca)):
            with open(self.c.path(self.CREDS + "/" + name), "wb") as f:
                f.write(data)
            os.chmod(self.c.path(self.CREDS + "/" + name), 0o400)

    def start(self, caps):
        bounding = "-all" + "".join(",+" + c[len("CAP_"):].lower() for c in caps)
        argv = [CHROOT, self.c.root, "/usr/bin/setpriv", "--bounding-set", bounding,
                "--inh-caps", "-all", "--no-new-privs"] + self.exec_start
        env = pkgtest.agent_env(CREDENTIALS_DIRECTORY=self.CREDS)
        return subprocess.run(argv, env=env, capture_output=True, timeout=60)

    def test_materializes_credentials_with_the_units_capabilities(self):
        self.assertEqual(self.exec_start[:2], ["/usr/bin/secret-agent", "materialize"])
        r = self.start(self.caps)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-3000:])
        for name, mode, data in (("signing_key.pem", 0o400, self.key),
                                 ("root.crt", 0o444, self.ca)):
            path = self.c.path("%s/%s" % (self.runtime_dir, name))
            st = os.lstat(path)
            self.assertEqual((st.st_uid, st.st_mode & 0o7777), (self.uid, mode), name)
            with open(path, "rb") as f:
                self.assertTrue(f.read() == data, "%s: content differs" % name)
        out = r.stdout + r.stderr
        self.assertNotIn(pem_body(self.key)[:32], out)

    def test_without_chown_nothing_is_written(self):
        # The bounding set is what limits the unit: without CAP_CHOWN it cannot give the files
        # to myapp, and must fail rather than leave them owned by root.
        r = self.start([c for c in self.caps if c != "CAP_CHOWN"])
        self.assertIn(r.returncode, (73, 77), r.stderr.decode(errors="replace")[-3000:])
        self.assertEqual(sorted(os.listdir(self.c.path(self.runtime_dir))), [])


def main():
    pkgtest.require_root("debootstrap, chroot, mounts and pid namespaces")
    for tool in ("unshare", "chroot", "mount", "dpkg", "openssl"):
        if not shutil.which(tool):
            pkgtest.skip("%s is not installed" % tool)
    if os.environ.get(PRIVATE_NS_MARK) != "1":
        # Every mount of this test lives in a private mount namespace and dies with it.
        env = dict(os.environ, **{PRIVATE_NS_MARK: "1"})
        os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private",
                               sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)
    r = subprocess.run([ROOTFS_SCRIPT], stdout=subprocess.PIPE, text=True)
    if r.returncode == 77:
        pkgtest.skip("no Debian 12 root (see container-root's message above)")
    if r.returncode != 0:
        sys.stderr.write("FAILED: scripts/container-root.sh exited %d\n" % r.returncode)
        sys.exit(1)
    global BASE_ROOTFS
    BASE_ROOTFS = r.stdout.strip().splitlines()[-1]
    pkgtest.main()


if __name__ == "__main__":
    main()
