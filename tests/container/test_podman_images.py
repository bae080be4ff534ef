"""Both service images built by podman from packaging/docker/ and run by runc (label container;
needs root).

The images are built with the services' own two commands in a directory laid out as their
repository (servicerepo.py), from base images made locally (scripts/container-images.sh) and
the agent image of the static agent. The containers run on the host's network, so the real
Debian redis-server and a TCP listener standing in for Kafka are on 127.0.0.1, and the services'
health endpoints are asked from here with http.client. What the service process is and holds
(ids, capabilities, the key it loaded, the CA it serves with) comes from its own health answer
and from /proc on the host.

Keys and certificates are generated at test time; their bytes are compared here, never printed.
"""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import pkgtest
import podman
import servicerepo
from test_images import (Listener, closed_port, ed25519_key_id, gen_cert, gen_ed25519, gen_rsa,
                         pem_body)

sys.path.insert(0, os.path.join(pkgtest.SOURCE_DIR, "tests", "e2e"))
from kubelet import AtomicWriter  # noqa: E402

DOMAIN = "cybermesh.ai-service.v1"
TMP = None  # set by main()
CAPS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
# What a root start of the backend needs once every other capability is dropped: chown and
# chmod the files it gives to 1000 (CHOWN, FOWNER), write into the image's directories that
# belong to 1000 (DAC_OVERRIDE), change ids (SETUID, SETGID) and empty the bounding set
# (SETPCAP). Measured: without any one of them the start fails.
ROOT_START_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID", "SETPCAP"]


def http_get(port, path, timeout=3):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_health(port, path, name, timeout=30):
    """The first 200 answer of the service, or a failure with the container's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body = http_get(port, path)
            if status == 200:
                return body
        except OSError:
            pass
        state = podman.run("inspect", "--format", "{{.State.Status}}", name, check=False)
        if state.stdout.strip() not in ("running", "created", "configured"):
            break
        time.sleep(0.2)
    raise AssertionError("%s: no answer on %d%s; log:\n%s" % (
        name, port, path, logs(name)[-3000:]))


def logs(name):
    r = podman.run("logs", name, check=False)
    return (r.stdout or "") + (r.stderr or "")


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def container_pid(name):
    return int(podman.run("inspect", "--format", "{{.State.Pid}}", name).stdout)


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Redis:
    """Debian's redis-server on 127.0.0.1, nothing persisted."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", TMP],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start on %d" % self.port)
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class ContainerTest(unittest.TestCase):
    IMAGE = None

    def setUp(self):
        self.names = []

    def tearDown(self):
        for name in self.names:
            podman.run("rm", "-f", "-v", "-t", "2", name, check=False)

    def name(self):
        n = "sa-test-%s-%d-%d" % (self.IMAGE.split("/")[-1].split(":")[0], os.getpid(),
                                  len(self.names))
        self.names.append(n)
        return n

    def podman_run(self, env, args=(), detach=False, timeout=60):
        """`podman run` of the image with env; (name, completed process)."""
        name = self.name()
        argv = ["run", "--name", name, "--network", "host", "--pull=never"]
        if detach:
            argv.append("-d")
        # Values through podman's environment (`-e NAME`): a key never appears in an argv
        # (which an error message would print).
        for k in env:
            argv += ["-e", k]
        r = podman.run(*(argv + list(args) + [self.IMAGE]), check=False, timeout=timeout,
                       env=dict(os.environ, **env))
        return name, r

    def assertNoSecretIn(self, text, *pems):
        data = text.encode() if isinstance(text, str) else text
        for pem in pems:
            body = pem_body(pem)
            for i in range(0, max(1, len(body) - 32), 16):
                self.assertNotIn(body[i:i + 32], data, "secret material in the output")

    def assertNoCapabilities(self, status, what):
        for cap in CAPS:
            self.assertEqual(status.get(cap), "0000000000000000", "%s of %s" % (cap, what))
        self.assertEqual(status.get("NoNewPrivs"), "1", "NoNewPrivs of %s" % what)

    def stat(self, name, path):
        """(uid, gid, octal mode) of a file in a running container."""
        r = podman.run("exec", name, "stat", "-c", "%u %g %a", path)
        uid, gid, mode = r.stdout.split()
        return int(uid), int(gid), mode

    def read(self, name, path):
        """The bytes of a file in a running container (kept here, never printed)."""
        r = podman.run("exec", name, "cat", path, text=False)
        return r.stdout

    def stop_and_status(self, name):
        podman.run("stop", "-t", "10", name)
        return int(podman.run("inspect", "--format", "{{.State.ExitCode}}", name).stdout)


# --- the AI service ----------------------------------------------------------------------------

class AIService(ContainerTest):
    IMAGE = servicerepo.AI_IMAGE
    REQUIRED = ["NODE_ID", "ENVIRONMENT", "KAFKA_BOOTSTRAP_SERVERS", "REDIS_HOST", "REDIS_PORT",
                "ED25519_SIGNING_KEY_ID", "ED25519_DOMAIN_SEPARATION"]
    TERM_EXIT = 3

    @classmethod
    def setUpClass(cls):
        cls.redis = Redis()
        cls.kafka = Listener()
        cls.key = gen_ed25519()
        cls.public = pkgtest.openssl("pkey", "-pubout", "-outform", "DER", input=cls.key)[-32:]
        cls.models = tempfile.mkdtemp(prefix="models-", dir=TMP)
        os.chmod(cls.models, 0o755)

    @classmethod
    def tearDownClass(cls):
        cls.redis.stop()
        cls.kafka.close()

    def env(self, **over):
        env = {
            "NODE_ID": "node-1", "ENVIRONMENT": "test", "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.redis.port),
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:%d,127.0.0.1:%d" % (closed_port(),
                                                                      self.kafka.port),
            "ED25519_SIGNING_KEY_ID": ed25519_key_id(self.key),
            "ED25519_DOMAIN_SEPARATION": DOMAIN,
            "AI_SIGNING_KEY_CONTENT": self.key.decode(),
            "STANDIN_TERM_EXIT": str(self.TERM_EXIT),
        }
        for k, v in over.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def models_mount(self):
        return ["-v", "%s:/app/data/models:ro" % self.models]

    def assertRefused(self, r, code, message):
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, code, out[-3000:])
        self.assertRegex(out, message)
        self.assertNotIn("ai-service: serving", out, "the service started")
        self.assertNoSecretIn(out, self.key)

    def test_each_required_variable(self):
        for var in self.REQUIRED:
            with self.subTest(variable=var):
                _, r = self.podman_run(self.env(**{var: None}), self.models_mount())
                self.assertRefused(r, 78, r"environment variable %s is not set" % var)

    def test_redis_then_kafka_stopped(self):
        # Redis is the real server; stopped, the start fails naming it.
        port = self.redis.port
        self.redis.stop()
        try:
            _, r = self.podman_run(self.env(), self.models_mount())
            self.assertRefused(r, 69, r"Cannot connect to Redis at 127\.0\.0\.1:%d \(timeout "
                               r"5s\)" % port)
        finally:
            type(self).redis = Redis(port)
        # Redis back, the Kafka listener stopped: every broker refuses.
        brokers = "127.0.0.1:%d,127.0.0.1:%d" % (closed_port(), self.kafka.port)
        self.kafka.close()
        try:
            _, r = self.podman_run(self.env(KAFKA_BOOTSTRAP_SERVERS=brokers),
                                   self.models_mount())
            self.assertRefused(r, 69, r"Cannot reach any Kafka broker in %s" % re.escape(
                brokers))
        finally:
            type(self).kafka = Listener()

    def test_bad_keys(self):
        other, rsa = gen_ed25519(), gen_rsa()
        cases = [
            ("RSA key", self.env(AI_SIGNING_KEY_CONTENT=rsa.decode()), r"RSA", rsa),
            ("key id of another key", self.env(ED25519_SIGNING_KEY_ID=ed25519_key_id(other)),
             r"key id \S+ does not match", self.key),
            ("invalid domain tag", self.env(ED25519_DOMAIN_SEPARATION="bad domain"),
             r"(?i)domain", self.key),
        ]
        for case, env, message, secret in cases:
            with self.subTest(case=case):
                _, r = self.podman_run(env, self.models_mount())
                self.assertRefused(r, 65, message)
                self.assertRegex(r.stdout + r.stderr, r"signing_key")
                self.assertNoSecretIn(r.stdout + r.stderr, secret)

    def test_models_dir_missing(self):
        _, r = self.podman_run(self.env())
        self.assertRefused(r, 69, r"Model directory not found: /app/data/models")

    def check_running(self, name):
        body = wait_health(8000, "/health", name)
        health = json.loads(body)
        self.assertEqual((health["uid"], health["gid"]), (1001, 1001))
        self.assertNoCapabilities(health["proc"], "the service (its own /proc/self/status)")
        # The service loaded the key the agent wrote: the public halves match.
        self.assertEqual(bytes.fromhex(health["public_key"]), self.public)
        self.assertIs(health["key_env"], False, "the key variable reached the service")
        self.assertEqual(self.stat(name, "/tmp/keys/signing_key.pem"), (1001, 1001, "400"))
        self.assertTrue(self.read(name, "/tmp/keys/signing_key.pem") == self.key,
                        "the key file differs from the key given")
        # Seen from the host: the agent, PID 1, is 1001 with nothing left whether it started as
        # root and dropped or started as 1001; the service is its only child.
        agent = container_pid(name)
        self.assertEqual(proc_status(agent)["Uid"].split(), ["1001"] * 4)
        self.assertNoCapabilities(proc_status(agent), "the agent (host /proc)")
        service = children(agent)
        self.assertEqual(len(service), 1, service)
        st = proc_status(service[0])
        self.assertEqual(st["Uid"].split(), ["1001"] * 4)
        self.assertNoCapabilities(st, "the service (host /proc)")
        # podman stop: SIGTERM to the agent, forwarded; the container ends with the service's
        # own exit status.
        self.assertEqual(self.stop_and_status(name), self.TERM_EXIT, logs(name)[-3000:])
        self.assertIn("ai-service: SIGTERM", logs(name))
        self.assertNoSecretIn(logs(name), self.key)

    def test_root_start_runs_service_as_1001_without_capabilities(self):
        name, r = self.podman_run(self.env(), self.models_mount(), detach=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_running(name)

    def test_start_as_1001(self):
        name, r = self.podman_run(self.env(), self.models_mount() + [
            "--user", "1001", "--cap-drop", "ALL"], detach=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_running(name)


# --- the backend -------------------------------------------------------------------------------

class Backend(ContainerTest):
    IMAGE = servicerepo.BACKEND_IMAGE
    CA_MOUNT = "/var/run/secrets/cockroachdb"
    # A read-only root: the key on a tmpfs, the directories the backend writes as volumes that
    # keep the image's owner (a --tmpfs over an image directory gets its mode but root's owner).
    READ_ONLY = ["--read-only", "--tmpfs", "/tmp/keys", "-v", "/app/certs", "-v", "/app/keys",
                 "-v", "/app/logs"]

    @classmethod
    def setUpClass(cls):
        cls.key = gen_ed25519()
        cls.ca1 = gen_cert(TMP, "cockroach-ca-1")
        cls.ca2 = gen_cert(TMP, "cockroach-ca-2")

    def setUp(self):
        super().setUp()
        self.secret_dir = tempfile.mkdtemp(prefix="cockroach-ca-", dir=TMP)
        os.chmod(self.secret_dir, 0o755)
        self.secret = AtomicWriter(self.secret_dir, mode=0o444)
        self.secret.write({"ca.crt": self.ca1})

    def tearDown(self):
        super().tearDown()
        shutil.rmtree(self.secret_dir, ignore_errors=True)

    def env(self):
        return {"BACKEND_SIGNING_KEY_CONTENT": self.key.decode(), "STANDIN_TERM_EXIT": "0"}

    def health(self, name):
        body = wait_health(9441, "/api/v1/health", name)
        head, _, ca = body.partition(b"\nca\n")
        lines = head.decode().splitlines()
        fields = {}
        for l in lines:
            k, _, v = l.replace("\t", " ").partition(" ")
            fields[k.rstrip(":")] = v.strip()
        return fields, lines, ca

    def start(self, args):
        name, r = self.podman_run(self.env(), ["-v", "%s:%s:ro" % (self.secret_dir,
                                                                    self.CA_MOUNT)] + args,
                                  detach=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return name

    def check_running_and_rotation(self, name):
        fields, lines, ca = self.health(name)
        self.assertEqual((fields["uid"], fields["gid"]), ("1000", "1000"))
        self.assertNoCapabilities(fields, "the backend")
        self.assertEqual(fields["key"], "readable %d" % len(self.key))
        self.assertEqual(fields["key_env"], "absent")
        self.assertIn("writable /app/keys yes", lines)
        self.assertIn("writable /app/logs yes", lines)
        self.assertTrue(ca == self.ca1, "the backend does not serve with the first CA")
        self.assertEqual(self.stat(name, "/tmp/keys/signing_key.pem"), (1000, 1000, "400"))
        self.assertTrue(self.read(name, "/tmp/keys/signing_key.pem") == self.key,
                        "the key file differs from the key given")
        self.assertEqual(self.stat(name, "/app/certs/root.crt"), (1000, 1000, "444"))
        self.assertTrue(self.read(name, "/app/certs/root.crt") == self.ca1)
        # The agent (PID 1, watching the CA) keeps nothing either way.
        agent = container_pid(name)
        self.assertEqual(proc_status(agent)["Uid"].split(), ["1000"] * 4)
        self.assertNoCapabilities(proc_status(agent), "the agent (host /proc)")

        # kubelet's swap of ..data on the host side of the directory mount.
        self.secret.write({"ca.crt": self.ca2})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            fields, lines, ca = self.health(name)
            if fields["reloads"] != "0":
                break
            time.sleep(0.2)
        self.assertEqual(fields["reloads"], "1", "no SIGHUP after the rotation:\n%s" % logs(
            name)[-3000:])
        self.assertTrue(ca == self.ca2, "the backend reloaded but not the new CA")
        self.assertTrue(self.read(name, "/app/certs/root.crt") == self.ca2)
        self.assertEqual(self.stat(name, "/app/certs/root.crt"), (1000, 1000, "444"))
        self.assertEqual(self.stop_and_status(name), 0, logs(name)[-3000:])
        self.assertIn("cybermesh: SIGTERM", logs(name))
        self.assertNoSecretIn(logs(name), self.key)

    def test_root_start_read_only_with_only_the_capabilities_it_needs(self):
        args = self.READ_ONLY + ["--cap-drop", "ALL"]
        for cap in ROOT_START_CAPS:
            args += ["--cap-add", cap]
        self.check_running_and_rotation(self.start(args))

    def test_start_as_1000_without_any_capability(self):
        args = self.READ_ONLY + ["--user", "1000", "--cap-drop", "ALL"]
        self.check_running_and_rotation(self.start(args))

    def test_bad_ca_refused_before_the_backend_starts(self):
        for case, cert, message in (
                ("expired CA", gen_cert(TMP, "expired", expired=True), r"(?i)expired"),
                ("not a CA", gen_cert(TMP, "leaf", ca=False), r"(?i)\bCA\b")):
            with self.subTest(case=case):
                self.secret.write({"ca.crt": cert})
                _, r = self.podman_run(self.env(), ["-v", "%s:%s:ro" % (
                    self.secret_dir, self.CA_MOUNT), "--user", "1000", "--cap-drop", "ALL"])
                out = r.stdout + r.stderr
                self.assertEqual(r.returncode, 65, out[-3000:])
                self.assertRegex(out, message)
                self.assertRegex(out, r"cockroach_ca")
                self.assertNotIn("cybermesh: serving", out)
                self.assertNoSecretIn(out, self.key)

    def test_root_start_fails_without_each_capability(self):
        # Each capability of the list is needed: the start fails, and the backend never runs.
        for missing in ROOT_START_CAPS:
            with self.subTest(missing=missing):
                args = self.READ_ONLY + ["--cap-drop", "ALL"]
                for cap in ROOT_START_CAPS:
                    if cap != missing:
                        args += ["--cap-add", cap]
                name, r = self.podman_run(self.env(), ["-v", "%s:%s:ro" % (
                    self.secret_dir, self.CA_MOUNT)] + args)
                out = r.stdout + r.stderr
                self.assertNotEqual(r.returncode, 0, out[-3000:])
                self.assertNotIn("cybermesh: serving", out)
                self.assertNoSecretIn(out, self.key)


class Images(unittest.TestCase):
    def test_backend_size(self):
        # The backend image is debian:12-slim, the backend and the static agent: nothing else.
        slim = servicerepo.image_size("docker.io/library/debian:12-slim")
        backend = servicerepo.image_size(servicerepo.BACKEND_IMAGE)
        agent = servicerepo.image_size(servicerepo.AGENT_IMAGE)
        service = os.path.getsize(os.path.join(REPO, "docker", "backend", "bin", "cybermesh"))
        sys.stderr.write("image sizes: debian:12-slim %d, agent %d, backend %d (service binary "
                         "%d); ai-service %d, python:3.11-slim %d\n" % (
                             slim, agent, backend, service,
                             servicerepo.image_size(servicerepo.AI_IMAGE),
                             servicerepo.image_size("docker.io/library/python:3.11-slim")))
        self.assertLessEqual(backend - slim - service, 10 * 1000 * 1000)

    def test_config(self):
        for image, cmd, conf in ((servicerepo.BACKEND_IMAGE, ["/app/bin/cybermesh"],
                                  "/etc/secret-agent/backend.conf"),
                                 (servicerepo.AI_IMAGE, ["python", "main.py"],
                                  "/etc/secret-agent/ai-service.conf")):
            with self.subTest(image=image):
                cfg = json.loads(podman.run("image", "inspect", "--format", "{{json .Config}}",
                                            image).stdout)
                self.assertEqual(cfg["Entrypoint"], ["/usr/bin/secret-agent", "run",
                                                     "--config", conf, "--"])
                self.assertEqual(cfg["Cmd"], cmd)
                self.assertIn(cfg.get("User", ""), ("", "root", "0"))


REPO = None


def main():
    global TMP, REPO
    pkgtest.require_root("podman with runc and cgroupfs")
    servicerepo.check_environment()
    if not shutil.which("redis-server"):
        pkgtest.skip("redis-server is not installed (Debian package redis-server)")
    TMP = tempfile.mkdtemp(prefix="sa-podman-")
    os.chmod(TMP, 0o755)
    try:
        REPO = servicerepo.build_all(TMP)
        prog = unittest.main(verbosity=2, exit=False, argv=sys.argv)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
