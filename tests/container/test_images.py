"""Both container images, without a container engine (label container; needs root).

A minimal Debian 12 root (scripts/container-root.sh: debootstrap, cached) is overlaid per
image; the .deb made by cpack (pkg.deb_build) is installed into it with dpkg, and the image's
own layout script and agent config (packaging/docker/<image>/) are applied as the Dockerfile
does. Each run is the image's ENTRYPOINT, `secret-agent run --config ... --`, as PID 1 of new
pid and mount namespaces (unshare --fork --pid --mount-proc, chroot), with a stand-in service
(a shell script in the root) that reports its ids, /proc/self/status Cap*/NoNewPrivs lines,
files and environment variable names, and traps SIGHUP. The chroot shares the host's network
namespace, so Redis and Kafka are plain TCP listeners on 127.0.0.1 started here.

Keys and certificates are generated with openssl at test time; their bytes are compared here,
never printed (assertion messages name files and hashes of public certificates only).
"""
import hashlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import pkgtest

ROOTFS_SCRIPT = os.path.join(pkgtest.SOURCE_DIR, "scripts", "container-root.sh")
DOCKER = os.path.join(pkgtest.SOURCE_DIR, "packaging", "docker")
PRIVATE_NS_MARK = "SFS_CONTAINER_TEST_PRIVATE_MOUNTS"
# Host tools by absolute path: the environment given to a container has the container's PATH.
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
BASE_ROOTFS = None  # set by main()
DOMAIN = "cybermesh.ai-service.v1"

STANDIN = r"""#!/bin/sh
# Stand-in service: reports what the agent gave it (ids, capabilities, files, variable names;
# never a secret's bytes), then exits ("exit") or reports signals until SIGTERM ("wait").
mode=$1
shift
echo "standin: started pid=$$"
echo "standin: ids uid=$(id -u) gid=$(id -g) groups=$(id -G)"
while IFS= read -r line; do
	case $line in
	Cap*|NoNewPrivs*) echo "standin: status $line" ;;
	esac
done < /proc/$$/status
echo "standin: env $(awk 'BEGIN { for (k in ENVIRON) printf "%s ", k }')"
for f in "$@"; do
	if [ -f "$f" ] && [ -r "$f" ]; then
		echo "standin: file $f readable"
	elif [ -e "$f" ]; then
		echo "standin: file $f unreadable"
	else
		echo "standin: file $f missing"
	fi
done
for d in ${STANDIN_WRITABLE:-}; do
	if touch "$d/.standin-probe" 2>/dev/null; then
		rm -f "$d/.standin-probe"
		echo "standin: writable $d"
	else
		echo "standin: not-writable $d"
	fi
done
case $mode in
wait)
	# A certificate is public: its hash says which version the service saw when signalled.
	trap 'echo "standin: HUP $(sha256sum < "$STANDIN_CERT" | cut -d" " -f1)"' HUP
	trap 'echo "standin: TERM"; exit 0' TERM
	echo "standin: ready"
	while :; do
		sleep 1 &
		wait $!
	done
	;;
*)
	exit "${STANDIN_EXIT:-0}"
	;;
esac
"""


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

    def layout(self):
        """The image's layout as its Dockerfile applies it: users, directories, agent config."""
        os.makedirs(self.path("/tmp/layout"))
        for f in ("secret-agent.conf", "image-layout.sh"):
            shutil.copy(os.path.join(DOCKER, self.image, f), self.path("/tmp/layout/" + f))
        run_checked([CHROOT, self.root, "sh", "-c",
                     "cd /tmp/layout && sh image-layout.sh secret-agent.conf"])
        shutil.rmtree(self.path("/tmp/layout"))
        with open(self.path("/usr/local/bin/standin"), "w") as f:
            f.write(STANDIN)
        os.chmod(self.path("/usr/local/bin/standin"), 0o755)

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

    def argv(self, command):
        conf = "/etc/secret-agent/%s.conf" % self.image
        return ([UNSHARE, "--fork", "--pid", "--kill-child", "--mount-proc=%s/proc" % self.root,
                 CHROOT, self.root, "/usr/bin/secret-agent", "run", "--config", conf, "--"]
                + command)

    def run(self, command, env, timeout=60):
        env = dict(env, PATH="/usr/local/bin:/usr/bin:/bin")
        return subprocess.run(self.argv(command), env=env, capture_output=True, timeout=timeout)

    def start(self, command, env):
        env = dict(env, PATH="/usr/local/bin:/usr/bin:/bin")
        return Running(subprocess.Popen(self.argv(command), env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE))

    def destroy(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.root], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Running:
    """A container started in the background; its output read line by line."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = queue.Queue()
        self.stdout, self.stderr = [], []
        threading.Thread(target=self._read, args=(proc.stdout, self.stdout, True),
                         daemon=True).start()
        threading.Thread(target=self._read, args=(proc.stderr, self.stderr, False),
                         daemon=True).start()

    def _read(self, pipe, store, feed):
        for raw in iter(pipe.readline, b""):
            store.append(raw)
            if feed:
                self.lines.put(raw.decode(errors="replace").rstrip("\n"))
        pipe.close()

    def wait_line(self, prefix, timeout):
        """The next stdout line starting with `prefix`, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line.startswith(prefix):
                return line

    def agent_pid(self):
        """The host pid of PID 1 of the container (unshare's only child)."""
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return int(f.read().split()[0])
        except (OSError, IndexError):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open("/proc/%s/stat" % pid) as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == self.proc.pid:
                    return int(pid)
            raise

    def stop(self, timeout=30):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def output(self):
        return b"".join(self.stdout), b"".join(self.stderr)


def report(stdout):
    """The stand-in's report lines, without the 'standin: ' prefix."""
    text = stdout.decode(errors="replace") if isinstance(stdout, bytes) else stdout
    return [l[len("standin: "):] for l in text.splitlines() if l.startswith("standin: ")]


def status_lines(lines):
    out = {}
    for l in lines:
        m = re.match(r"^status (\w+):\s+(\S+)$", l)
        if m:
            out[m.group(1)] = m.group(2)
    return out


class ImageTestCase(unittest.TestCase):
    IMAGE = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sa-container-")
        os.chmod(cls.tmp, 0o755)
        cls.c = Container(cls.IMAGE, cls.tmp)
        cls.c.install_package()
        cls.c.layout()

    @classmethod
    def tearDownClass(cls):
        cls.c.destroy()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assertNoSecretIn(self, output, *pems):
        for pem in pems:
            body = pem_body(pem)
            # Every 32-byte window of the base64 body: a partial leak is a leak too.
            for i in range(0, max(1, len(body) - 32), 16):
                self.assertNotIn(body[i:i + 32], output, "secret material in the output")

    def assertChildPrivileges(self, lines, uid):
        self.assertIn("ids uid=%d gid=%d groups=%d" % (uid, uid, uid), lines)
        st = status_lines(lines)
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(st.get(cap), "0000000000000000", "%s of the service" % cap)
        self.assertEqual(st.get("NoNewPrivs"), "1")

    def assertFile(self, path, uid, mode, content=None):
        st = os.lstat(self.c.path(path))
        self.assertTrue(os.path.isfile(self.c.path(path)) and not os.path.islink(
            self.c.path(path)), path)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (uid, uid, mode), path)
        if content is not None:
            with open(self.c.path(path), "rb") as f:
                self.assertTrue(f.read() == content, "%s: content differs" % path)

    def assertDir(self, path, uid, mode):
        st = os.lstat(self.c.path(path))
        self.assertTrue(os.path.isdir(self.c.path(path)) and not os.path.islink(
            self.c.path(path)), path)
        self.assertEqual((st.st_uid, st.st_mode & 0o7777), (uid, mode), path)

    def assertRefused(self, r, code, message, *secrets):
        out, err = r.stdout, r.stderr
        text = err.decode(errors="replace")
        self.assertEqual(r.returncode, code, text[-3000:])
        self.assertRegex(text, message)
        self.assertNotIn("started", report(out), "the service started")
        self.assertNoSecretIn(out + err, *secrets)


# --- the AI service ----------------------------------------------------------------------------

class AIService(ImageTestCase):
    IMAGE = "ai-service"
    REQUIRED = ["NODE_ID", "ENVIRONMENT", "KAFKA_BOOTSTRAP_SERVERS", "REDIS_HOST", "REDIS_PORT",
                "ED25519_SIGNING_KEY_ID", "ED25519_DOMAIN_SEPARATION"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis = Listener()
        cls.kafka = Listener()
        cls.key = gen_ed25519()
        os.makedirs(cls.c.path("/app/data/models"))

    @classmethod
    def tearDownClass(cls):
        cls.redis.close()
        cls.kafka.close()
        super().tearDownClass()

    def setUp(self):
        shutil.rmtree(self.c.path("/tmp/keys"), ignore_errors=True)
        os.makedirs(self.c.path("/app/data/models"), exist_ok=True)

    def env(self, **over):
        env = {
            "NODE_ID": "node-1", "ENVIRONMENT": "test", "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.redis.port),
            # A dead broker first: any one broker answering is enough.
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:%d,PLAINTEXT://127.0.0.1:%d" % (
                closed_port(), self.kafka.port),
            "ED25519_SIGNING_KEY_ID": ed25519_key_id(self.key),
            "ED25519_DOMAIN_SEPARATION": DOMAIN,
            "AI_SIGNING_KEY_CONTENT": self.key.decode(),
            "STANDIN_WRITABLE": "/app/data /app/logs /tmp/keys",
        }
        for k, v in over.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def standin(self):
        return ["/usr/local/bin/standin", "exit", "/tmp/keys/signing_key.pem"]

    def assertNothingWritten(self):
        self.assertFalse(os.path.exists(self.c.path("/tmp/keys/signing_key.pem")),
                         "a key was written")

    def test_starts_service_with_key_and_no_privileges(self):
        r = self.c.run(self.standin(), self.env())
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, err[-3000:])
        lines = report(r.stdout)
        self.assertTrue(any(l.startswith("started pid=") for l in lines), lines)
        self.assertChildPrivileges(lines, 1001)
        # The variable is scrubbed; the file is there for the service.
        env_names = [l for l in lines if l.startswith("env ")][0].split()[1:]
        self.assertNotIn("AI_SIGNING_KEY_CONTENT", env_names)
        self.assertIn("NODE_ID", env_names)
        self.assertIn("file /tmp/keys/signing_key.pem readable", lines)
        for d in ("/app/data", "/app/logs", "/tmp/keys"):
            self.assertIn("writable %s" % d, lines)
        # openssl genpkey writes the canonical PKCS#8 v1 PEM: what the agent must write.
        self.assertFile("/tmp/keys/signing_key.pem", 1001, 0o400, self.key)
        self.assertDir("/tmp/keys", 1001, 0o700)
        self.assertDir("/app/data", 1001, 0o750)
        self.assertDir("/app/logs", 1001, 0o750)
        self.assertNoSecretIn(r.stdout + r.stderr, self.key)

    def test_key_from_env_in_kubernetes_shapes(self):
        # A key pasted with literal \n, or with CRLF and quotes, is normalised to the same file.
        for name, value in (("literal \\n", self.key.decode().strip().replace("\n", "\\n")),
                            ("CRLF and quotes", '"%s"' % self.key.decode().replace("\n", "\r\n"))):
            with self.subTest(shape=name):
                shutil.rmtree(self.c.path("/tmp/keys"), ignore_errors=True)
                r = self.c.run(self.standin(), self.env(AI_SIGNING_KEY_CONTENT=value))
                self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-3000:])
                self.assertFile("/tmp/keys/signing_key.pem", 1001, 0o400, self.key)
                self.assertNoSecretIn(r.stdout + r.stderr, self.key)

    def test_each_required_variable(self):
        for var in self.REQUIRED:
            with self.subTest(variable=var):
                r = self.c.run(self.standin(), self.env(**{var: None}))
                self.assertRefused(r, 78, r"environment variable %s is not set" % var, self.key)
                self.assertNothingWritten()

    def test_missing_key(self):
        r = self.c.run(self.standin(), self.env(AI_SIGNING_KEY_CONTENT=None))
        self.assertRefused(r, 78, r"No signing key available: environment variable "
                           r"AI_SIGNING_KEY_CONTENT is not set")
        self.assertNothingWritten()

    def test_missing_models_dir(self):
        os.rmdir(self.c.path("/app/data/models"))
        r = self.c.run(self.standin(), self.env())
        self.assertRefused(r, 69, r"Model directory not found: /app/data/models", self.key)
        self.assertNothingWritten()

    def test_redis_unreachable(self):
        port = closed_port()
        r = self.c.run(self.standin(), self.env(REDIS_PORT=str(port)))
        self.assertRefused(r, 69, r"Cannot connect to Redis at 127\.0\.0\.1:%d \(timeout 5s\)" %
                           port, self.key)
        self.assertNothingWritten()

    def test_kafka_unreachable(self):
        brokers = "127.0.0.1:%d,127.0.0.1:%d" % (closed_port(), closed_port())
        r = self.c.run(self.standin(), self.env(KAFKA_BOOTSTRAP_SERVERS=brokers))
        self.assertRefused(r, 69, r"Cannot reach any Kafka broker in %s" % re.escape(brokers),
                           self.key)
        self.assertNothingWritten()

    def test_bad_keys(self):
        other = gen_ed25519()
        rsa = gen_rsa()
        cases = [
            ("RSA key", self.env(AI_SIGNING_KEY_CONTENT=rsa.decode()), r"RSA", rsa),
            ("key id of another key", self.env(ED25519_SIGNING_KEY_ID=ed25519_key_id(other)),
             r"(?i)key.?id", self.key),
            ("not a PEM", self.env(AI_SIGNING_KEY_CONTENT="not-a-key"), r"signing_key",
             self.key),
            ("invalid domain tag", self.env(ED25519_DOMAIN_SEPARATION="bad domain"),
             r"(?i)domain", self.key),
        ]
        for name, env, message, secret in cases:
            with self.subTest(case=name):
                r = self.c.run(self.standin(), env)
                self.assertRefused(r, 65, message, secret, self.key)
                self.assertRegex(r.stderr.decode(errors="replace"), r"signing_key")
                self.assertNothingWritten()


# --- the backend -------------------------------------------------------------------------------

class KubeletSecretDir:
    """A Secret volume as kubelet lays it out: ca.crt -> ..data/ca.crt, ..data -> ..TIMESTAMP,
    swapped atomically on update."""

    def __init__(self, path):
        self.path = path
        self.n = 0
        os.makedirs(path, mode=0o755)

    def publish(self, files):
        self.n += 1
        stamp = "..2026_11_28_12_00_%02d.%06d" % (self.n, os.getpid())
        d = os.path.join(self.path, stamp)
        os.mkdir(d, 0o755)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            os.chmod(os.path.join(d, name), 0o444)
        old = os.readlink(os.path.join(self.path, "..data")) if os.path.islink(
            os.path.join(self.path, "..data")) else None
        tmp = os.path.join(self.path, "..data_tmp")
        os.symlink(stamp, tmp)
        os.rename(tmp, os.path.join(self.path, "..data"))
        for name in files:
            link = os.path.join(self.path, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)
        if old:
            shutil.rmtree(os.path.join(self.path, old))


class Backend(ImageTestCase):
    IMAGE = "backend"
    # The agent reads /var/run/secrets/cockroachdb; /var/run is an absolute link to /run in
    # Debian, which on the host side would lead out of the root: use the resolved path here.
    CA_DIR = "/run/secrets/cockroachdb"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = gen_ed25519()
        cls.ca = gen_cert(cls.tmp, "cockroach-ca-1")
        cls.ca2 = gen_cert(cls.tmp, "cockroach-ca-2")
        cls.expired = gen_cert(cls.tmp, "cockroach-ca-expired", expired=True)
        cls.leaf = gen_cert(cls.tmp, "not-a-ca", ca=False)

    def setUp(self):
        for p in ("/tmp/keys", "/app/certs", self.CA_DIR):
            shutil.rmtree(self.c.path(p), ignore_errors=True)
        self.secret = KubeletSecretDir(self.c.path(self.CA_DIR))

    def env(self, **over):
        env = {"BACKEND_SIGNING_KEY_CONTENT": self.key.decode(),
               "STANDIN_WRITABLE": "/app/keys /app/logs", "STANDIN_CERT": "/app/certs/root.crt"}
        for k, v in over.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def standin(self, mode="exit"):
        return ["/usr/local/bin/standin", mode, "/tmp/keys/signing_key.pem",
                "/app/certs/root.crt"]

    def assertNothingWritten(self):
        for p in ("/tmp/keys/signing_key.pem", "/app/certs/root.crt"):
            self.assertFalse(os.path.exists(self.c.path(p)), "%s was written" % p)

    def test_rotation_reaches_backend_as_sighup(self):
        self.secret.publish({"ca.crt": self.ca})
        run = self.c.start(self.standin("wait"), self.env())
        try:
            ready = run.wait_line("standin: ready", 60)
            out, err = run.output()
            self.assertIsNotNone(ready, "service never ready: %s" % err.decode(
                errors="replace")[-3000:])
            lines = report(out)
            self.assertChildPrivileges(lines, 1000)
            env_names = [l for l in lines if l.startswith("env ")][0].split()[1:]
            self.assertNotIn("BACKEND_SIGNING_KEY_CONTENT", env_names)
            for f in ("/tmp/keys/signing_key.pem", "/app/certs/root.crt"):
                self.assertIn("file %s readable" % f, lines)
            for d in ("/app/keys", "/app/logs"):
                self.assertIn("writable %s" % d, lines)
            self.assertFile("/tmp/keys/signing_key.pem", 1000, 0o400, self.key)
            self.assertFile("/app/certs/root.crt", 1000, 0o444, self.ca)
            self.assertDir("/app/certs", 1000, 0o755)
            self.assertDir("/app/keys", 1000, 0o700)
            self.assertDir("/app/logs", 1000, 0o750)

            # An expired CA is refused: the old file stays and the backend is not signalled.
            self.secret.publish({"ca.crt": self.expired})
            self.assertIsNone(run.wait_line("standin: HUP", 5), "signalled for an invalid CA")
            self.assertFile("/app/certs/root.crt", 1000, 0o444, self.ca)

            # A valid new CA is written, then the backend gets SIGHUP once it is in place.
            self.secret.publish({"ca.crt": self.ca2})
            hup = run.wait_line("standin: HUP", 30)
            self.assertIsNotNone(hup, "no SIGHUP after the CA rotation: %s" % run.output()[
                1].decode(errors="replace")[-3000:])
            self.assertEqual(hup.split()[-1], sha256(self.ca2))
            self.assertFile("/app/certs/root.crt", 1000, 0o444, self.ca2)
            self.assertFile("/tmp/keys/signing_key.pem", 1000, 0o400, self.key)

            # SIGTERM to PID 1 reaches the service, and the agent exits with its status.
            os.kill(run.agent_pid(), signal.SIGTERM)
            self.assertIsNotNone(run.wait_line("standin: TERM", 30), "SIGTERM not forwarded")
            self.assertEqual(run.stop(), 0)
        finally:
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
        out, err = run.output()
        self.assertNoSecretIn(out + err, self.key)

    def test_missing_key(self):
        self.secret.publish({"ca.crt": self.ca})
        r = self.c.run(self.standin(), self.env(BACKEND_SIGNING_KEY_CONTENT=None))
        self.assertRefused(r, 78, r"No signing key available: environment variable "
                           r"BACKEND_SIGNING_KEY_CONTENT is not set")
        self.assertNothingWritten()

    def test_bad_ca(self):
        for name, cert, message in (("expired CA", self.expired, r"(?i)expired|not valid after"),
                                    ("not a CA", self.leaf, r"(?i)CA")):
            with self.subTest(case=name):
                shutil.rmtree(self.c.path(self.CA_DIR))
                self.secret = KubeletSecretDir(self.c.path(self.CA_DIR))
                self.secret.publish({"ca.crt": cert})
                r = self.c.run(self.standin(), self.env())
                self.assertRefused(r, 65, message, self.key)
                self.assertRegex(r.stderr.decode(errors="replace"), r"cockroach_ca")
                self.assertNothingWritten()

    def test_bad_key(self):
        self.secret.publish({"ca.crt": self.ca})
        rsa = gen_rsa()
        r = self.c.run(self.standin(), self.env(BACKEND_SIGNING_KEY_CONTENT=rsa.decode()))
        self.assertRefused(r, 65, r"RSA", rsa)
        self.assertNothingWritten()


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
