"""The static secret-agent where it will live: PID 1 of new pid and mount namespaces whose root
holds nothing but the binary, /etc/passwd, /etc/group, /etc/hosts, /tmp, /app/data/models, the
config and a statically linked service stand-in (no libc, no NSS module, no shell).

- The AI service's packaged config, verbatim: seven required env vars, the models directory,
  Redis by name (`localhost`, from the root's /etc/hosts) and Kafka (any of a list with a dead
  broker first), the Ed25519 key from AI_SIGNING_KEY_CONTENT written 0400 for uid 1001 resolved
  from the root's /etc/passwd, privileges dropped, the service's exit code passed through.
- The same config with a CA bundle from a file and on_change = signal:SIGHUP: a rotation of
  the CA rewrites the target with the new bytes and signals the service.
- Failures keep their exit codes: a missing env var (78), Redis down (69), an unknown user (78);
  and /etc/nsswitch.conf naming modules the binary cannot load does not hide the files.

Root only (namespaces, chown); skips with 77 otherwise.
"""
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

AGENT = os.environ.get("SECRET_AGENT", "build/static/agent/secret-agent")
STANDIN = os.environ.get("SFS_STANDIN_SERVICE", "build/static/tests/static/standin_service")
SOURCE_DIR = os.environ.get("SFS_SOURCE_DIR", os.getcwd())
AI_CONFIG = os.path.join(SOURCE_DIR, "packaging/docker/ai-service/secret-agent.conf")
UID = 1001
MODELS_GID = 2000

PASSWD = "root:x:0:0:root:/root:/sbin/nologin\naiservice:x:%d:%d::/app:/sbin/nologin\n" % (UID, UID)
GROUP = "root:x:0:\naiservice:x:%d:\nmodels:x:%d:aiservice\n" % (UID, MODELS_GID)
HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"

CA_SECTION = """
[secret "ca"]
from = file:/run/ca/ca.pem
to = /tmp/certs/ca.pem
type = x509
owner = aiservice
"""

STATUS_ZERO = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


def require_root():
    if os.geteuid() != 0:
        sys.stderr.write("SKIPPED: needs root (new pid and mount namespaces, a chroot, chown "
                         "to uid %d)\n" % UID)
        sys.exit(77)
    for tool in ("unshare", "openssl"):
        if not shutil.which(tool):
            sys.stderr.write("SKIPPED: %s is not installed\n" % tool)
            sys.exit(77)


def openssl(*args):
    return subprocess.run(["openssl"] + list(args), check=True, capture_output=True).stdout


def make_ca(tmp, name):
    out = os.path.join(tmp, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout",
                    "/dev/null", "-subj", "/CN=" + name, "-days", "30", "-addext",
                    "basicConstraints=critical,CA:TRUE", "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign", "-out", out],
                   check=True, capture_output=True)
    with open(out, "rb") as f:
        return f.read()


def listener(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen(16)
    return s


def dead_port():
    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for %s" % predicate)


def status_lines(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


class EmptyRoot(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sa-static-")
        os.chmod(self.tmp, 0o755)
        self.root = os.path.join(self.tmp, "root")
        for d in ("etc/secret-agent", "tmp", "proc", "app/data/models", "run/ca"):
            os.makedirs(os.path.join(self.root, d))
        os.chmod(os.path.join(self.root, "tmp"), 0o1777)
        # As the image lays it out: /app/data for the service, the models mounted below it;
        # /app/logs is left for the agent's [dir] section to create.
        os.chown(os.path.join(self.root, "app/data"), UID, UID)
        os.chmod(os.path.join(self.root, "app/data"), 0o750)
        shutil.copy(AGENT, os.path.join(self.root, "secret-agent"))
        shutil.copy(STANDIN, os.path.join(self.root, "service"))
        self.write("etc/passwd", PASSWD)
        self.write("etc/group", GROUP)
        self.write("etc/hosts", HOSTS)
        with open(AI_CONFIG) as f:
            self.ai_config = f.read()
        self.write("etc/secret-agent/ai-service.conf", self.ai_config)

        self.redis = listener()
        self.kafka = listener()
        self.key = openssl("genpkey", "-algorithm", "ed25519")
        keyfile = os.path.join(self.tmp, "key.pem")
        with open(keyfile, "wb") as f:
            f.write(self.key)
        v = subprocess.run([AGENT, "validate", "--json", "file:" + keyfile],
                           capture_output=True, check=True)
        fingerprint = json.loads(v.stdout)["results"][0]["fingerprint_sha256"]
        os.unlink(keyfile)
        self.env = {
            "NODE_ID": "ai-node-1",
            "ENVIRONMENT": "static-test",
            "KAFKA_BOOTSTRAP_SERVERS": "PLAINTEXT://[::1]:%d,PLAINTEXT://127.0.0.1:%d"
                                       % (dead_port(), self.kafka.getsockname()[1]),
            "REDIS_HOST": "localhost",
            "REDIS_PORT": str(self.redis.getsockname()[1]),
            "ED25519_SIGNING_KEY_ID": fingerprint[:16],
            "ED25519_DOMAIN_SEPARATION": "cybermesh.ai.v1",
            "AI_SIGNING_KEY_CONTENT": self.key.decode(),
        }

    def tearDown(self):
        self.redis.close()
        self.kafka.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, rel, text, mode=0o644):
        path = os.path.join(self.root, rel)
        with open(path, "w" if isinstance(text, str) else "wb") as f:
            f.write(text)
        os.chmod(path, mode)

    def path(self, rel):
        return os.path.join(self.root, rel.lstrip("/"))

    def argv(self, agent_args, child):
        # The environment is exactly `env`: nothing of the test's own leaks in.
        return ["unshare", "--pid", "--fork", "--mount", "--mount-proc", "--root", self.root,
                "/secret-agent"] + agent_args + ["--", "/service"] + child

    def run_agent(self, agent_args, child, env=None, timeout=60):
        return subprocess.run(self.argv(agent_args, child), env=self.env if env is None else env,
                              capture_output=True, timeout=timeout)

    def assert_no_secret(self, *outputs):
        body = b"".join(l for l in self.key.splitlines() if not l.startswith(b"-----"))
        for out in outputs:
            self.assertNotIn(body[:40], out.replace(b"\n", b""), "key material in an output")

    def assert_key_file(self):
        path = self.path("/tmp/keys/signing_key.pem")
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (UID, UID, 0o400))
        with open(path, "rb") as f:
            self.assertTrue(f.read() == self.key, "the written key differs from its source")
        st = os.lstat(self.path("/app/logs"))
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (UID, UID, 0o750))

    def parse_report(self, text):
        lines = text.decode().splitlines()
        fields = {}
        for line in lines:
            key, sep, value = line.partition("=") if "=" in line else line.partition(":\t")
            if sep:
                fields[key] = value.strip()
        return lines, fields

    def assert_dropped(self, fields):
        self.assertEqual(fields["ppid"], "1", "the agent is not the service's parent as PID 1")
        self.assertEqual(fields["Uid"].split(), [str(UID)] * 4)
        self.assertEqual(fields["Gid"].split(), [str(UID)] * 4)
        for key in STATUS_ZERO:
            self.assertEqual(fields[key], "0000000000000000", key)
        self.assertEqual(fields["NoNewPrivs"], "1")
        self.assertEqual(fields["env AI_SIGNING_KEY_CONTENT"], "absent")

    def test_ai_service_config_as_pid1(self):
        r = self.run_agent(["run", "--config", "/etc/secret-agent/ai-service.conf"],
                           ["7", "/tmp/keys/signing_key.pem"])
        self.assert_no_secret(r.stdout, r.stderr)
        self.assertEqual(r.returncode, 7, r.stderr.decode())
        lines, fields = self.parse_report(r.stdout)
        self.assertEqual(lines[-1], "ready")
        self.assertEqual(fields["pid"], "2")
        self.assert_dropped(fields)
        # group = aiservice is explicit in the config: no supplementary groups.
        self.assertEqual(fields["Groups"].split(), [])
        self.assertEqual(fields["file /tmp/keys/signing_key.pem"], str(len(self.key)))
        self.assert_key_file()
        self.assertIn(b"event=privileges_dropped uid=1001 gid=1001", r.stderr)

    def test_user_by_name_takes_groups_from_etc_group(self):
        r = self.run_agent(["run", "--user", "aiservice"], ["0"])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        _, fields = self.parse_report(r.stdout)
        self.assertEqual(sorted(fields["Groups"].split()), sorted([str(UID), str(MODELS_GID)]))

    def test_nsswitch_naming_modules_that_cannot_load(self):
        # What images may carry. Users and groups come from the files whatever it says (even
        # a module alone); host names through glibc's built-in `files`.
        self.write("etc/nsswitch.conf", "passwd: sss\ngroup: sss\n"
                                        "hosts: files myhostname dns\n")
        r = self.run_agent(["run", "--user", "aiservice", "--wait-tcp",
                            "localhost:%d" % self.redis.getsockname()[1]], ["0"])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        _, fields = self.parse_report(r.stdout)
        self.assertEqual(fields["Uid"].split(), [str(UID)] * 4)

    def test_unknown_user(self):
        r = self.run_agent(["run", "--user", "nosuchuser"], ["0"])
        self.assertEqual(r.returncode, 78, r.stderr.decode())
        self.assertIn(b"unknown user 'nosuchuser'", r.stderr)
        self.assertEqual(r.stdout, b"", "the service started")

    def test_missing_env_var(self):
        env = dict(self.env)
        del env["NODE_ID"]
        r = self.run_agent(["run", "--config", "/etc/secret-agent/ai-service.conf"], ["0"],
                           env=env)
        self.assertEqual(r.returncode, 78, r.stderr.decode())
        self.assertIn(b"Required environment variable NODE_ID is not set", r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertFalse(os.path.exists(self.path("/tmp/keys/signing_key.pem")))

    def test_redis_down(self):
        port = self.redis.getsockname()[1]
        self.redis.close()
        r = self.run_agent(["run", "--config", "/etc/secret-agent/ai-service.conf"], ["0"])
        self.assertEqual(r.returncode, 69, r.stderr.decode())
        self.assertIn(("Cannot connect to Redis at localhost:%d (timeout 5s)" % port).encode(),
                      r.stderr)
        self.assertEqual(r.stdout, b"")

    def test_ca_rotation(self):
        ca1, ca2 = make_ca(self.tmp, "ca-one"), make_ca(self.tmp, "ca-two")
        self.write("run/ca/ca.pem", ca1)
        config = self.ai_config.replace("on_change = none", "on_change = signal:SIGHUP")
        self.assertNotEqual(config, self.ai_config, "the packaged config changed its on_change")
        self.write("etc/secret-agent/rotating.conf", config + CA_SECTION)
        proc = subprocess.Popen(
            self.argv(["run", "--config", "/etc/secret-agent/rotating.conf"],
                      ["wait", "/tmp/keys/signing_key.pem", "/tmp/certs/ca.pem"]),
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = self.read_until_ready(proc)
            _, fields = self.parse_report(first)
            self.assert_dropped(fields)
            self.assertEqual(fields["file /tmp/certs/ca.pem"], str(len(ca1)))
            self.assert_ca_file(ca1)

            agent = wait_for(lambda: (children(proc.pid) or [None])[0])
            service = wait_for(lambda: (children(agent) or [None])[0])
            st = status_lines(service)
            self.assertEqual(st["Uid"].split(), [str(UID)] * 4)
            for key in STATUS_ZERO:
                self.assertEqual(st[key], "0000000000000000", key)
            self.assertEqual(st["NoNewPrivs"], "1")
            self.assertEqual(status_lines(agent)["NSpid"].split()[-1], "1")

            # Rotation as an operator (or kubelet) does it: a new file renamed over.
            tmp = self.path("/run/ca/.ca.pem.new")
            with open(tmp, "wb") as f:
                f.write(ca2)
            os.chmod(tmp, 0o644)
            os.rename(tmp, self.path("/run/ca/ca.pem"))
            after = self.read_until_ready(proc)
            self.assertTrue(after.startswith(b"hup 1\n"), after)
            _, fields = self.parse_report(after)
            self.assertEqual(fields["file /tmp/certs/ca.pem"], str(len(ca2)))
            self.assert_ca_file(ca2)

            os.kill(agent, signal.SIGTERM)
            rest, err = proc.communicate(timeout=30)
            self.assertEqual(proc.returncode, 0, err.decode())
            self.assertIn(b"secret=ca", err)
            self.assert_no_secret(first, after, rest, err)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def assert_ca_file(self, want):
        st = os.lstat(self.path("/tmp/certs/ca.pem"))
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (UID, UID, 0o444))
        with open(self.path("/tmp/certs/ca.pem"), "rb") as f:
            self.assertEqual(f.read(), want)

    def read_until_ready(self, proc, timeout=20.0):
        buf = getattr(proc, "_buf", b"")
        deadline = time.monotonic() + timeout
        while b"ready\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise AssertionError("no report from the service (got %r, stderr %r)"
                                     % (buf, proc.stderr.read1() if proc.poll() is not None
                                        else b""))
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    continue
                buf += chunk
        report, _, proc._buf = buf.partition(b"ready\n")
        return report + b"ready\n"


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
