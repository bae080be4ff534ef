"""The seed's two containers as agent configs, materialized at their real paths (/app, /tmp) in
a private mount namespace with tmpfs over /app and /tmp, so the host is never touched:

- AI service: 7 required env vars, key PEM from AI_SIGNING_KEY_CONTENT to
  /tmp/keys/signing_key.pem 0400 owned by 1001, /app/data/models must exist, Redis and Kafka
  reachable (listeners on loopback started here);
- backend: key from an env var to /tmp/keys, CockroachDB CA from a Kubernetes Secret volume
  (symlink farm) to /app/certs/root.crt, /app/keys and /app/logs owned by 1000.

The test re-runs itself under `unshare -m`; the outer process only creates /app when the host
has none (an empty directory, removed again afterwards)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
from satest import (Listener, assert_no_secret_bytes, ed25519_fingerprint, facts,  # noqa: E402
                    field, gen_ca_cert, k8s_secret_volume, lines_with, listing, read,
                    run_timed, write_config)

INSIDE = "MATTEST_IN_MOUNT_NS"

AI_CONFIG = """
[agent]
user = 1001

[preflight]
require_env = NODE_ID ENVIRONMENT KAFKA_BOOTSTRAP_SERVERS REDIS_HOST REDIS_PORT ED25519_SIGNING_KEY_ID ED25519_DOMAIN_SEPARATION
require_dir = /app/data/models
wait_tcp = ${REDIS_HOST}:${REDIS_PORT}
wait_any_tcp = ${KAFKA_BOOTSTRAP_SERVERS}
timeout = 5s

[secret "signing_key"]
from = env:AI_SIGNING_KEY_CONTENT
to = /tmp/keys/signing_key.pem
type = ed25519
domain = ${ED25519_DOMAIN_SEPARATION}
key_id = ${ED25519_SIGNING_KEY_ID}
mode = 0400
"""

BACKEND_CONFIG = """
[agent]
user = 1000

[secret "signing_key"]
from = env:CYBERMESH_SIGNING_KEY
to = /tmp/keys/signing_key.pem
type = ed25519

[secret "cockroach_ca"]
from = file:/tmp/k8s/cockroach-certs/root.crt
to = /app/certs/root.crt
type = x509

[dir "/app/keys"]
mode = 0700

[dir "/app/logs"]
mode = 0750
owner = 1000
"""


class ServiceConfigsTest(unittest.TestCase):

    def setUp(self):
        for where, mode in (("/app", "0755"), ("/tmp", "1777")):
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=" + mode, "tmpfs", where],
                           check=True)
        self.tmp = "/tmp/test"
        os.makedirs(self.tmp)
        self.listeners = []
        self.key = satest.gen_ed25519_pem()

    def tearDown(self):
        for l in self.listeners:
            l.close()
        for where in ("/tmp", "/app"):
            subprocess.run(["umount", where], check=True)

    def listener(self, **kw):
        l = Listener(**kw)
        self.listeners.append(l)
        return l

    def ai_env(self, redis, kafka):
        fp = ed25519_fingerprint(self.key)
        return {
            "NODE_ID": "ai-node-1",
            "ENVIRONMENT": "test",
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(redis.port),
            "ED25519_SIGNING_KEY_ID": fp[:16],
            "ED25519_DOMAIN_SEPARATION": "cybermesh.ai.v1",
            "AI_SIGNING_KEY_CONTENT": self.key.decode(),
        }

    def materialize(self, config, env):
        cfg = write_config(os.path.join(self.tmp, "agent.ini"), config)
        r, took = run_timed(["materialize", "--config", cfg], env=env)
        assert_no_secret_bytes(self, r.stdout + r.stderr, [self.key])
        return r, took

    def test_ai_service(self):
        redis = self.listener()
        dead_broker, broker = self.listener(listening=False), self.listener()
        kafka = "PLAINTEXT://127.0.0.1:%d,PLAINTEXT://localhost:%d" % (dead_broker.port,
                                                                       broker.port)
        os.makedirs("/app/data/models")
        r, _ = self.materialize(AI_CONFIG, self.ai_env(redis, kafka))
        self.assertEqual(r.returncode, 0, r.stderr)
        key = "/tmp/keys/signing_key.pem"
        self.assertEqual(read(key), self.key)
        self.assertEqual(facts(key), (1001, 1001, 0o400))
        self.assertEqual(facts("/tmp/keys"), (1001, 1001, 0o700))
        self.assertEqual(listing("/tmp/keys"), ["signing_key.pem"])
        line = lines_with(r.stderr, "event=secret_written")
        self.assertEqual(len(line), 1, r.stderr)
        self.assertEqual(field(line[0], "fingerprint"), ed25519_fingerprint(self.key))
        self.assertGreaterEqual(redis.wait_accepted(), 1)
        self.assertGreaterEqual(broker.wait_accepted(), 1)

    def test_ai_service_without_models_dir(self):
        redis, broker = self.listener(), self.listener()
        r, _ = self.materialize(AI_CONFIG, self.ai_env(redis, "127.0.0.1:%d" % broker.port))
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertEqual(len(lines_with(r.stderr, "Model directory not found: "
                                        "/app/data/models")), 1, r.stderr)
        self.assertFalse(os.path.exists("/tmp/keys"))

    def test_ai_service_redis_down(self):
        redis = self.listener(listening=False)
        broker = self.listener()
        os.makedirs("/app/data/models")
        r, took = self.materialize(AI_CONFIG, self.ai_env(redis, "127.0.0.1:%d" % broker.port))
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertEqual(len(lines_with(r.stderr, "Cannot connect to Redis at 127.0.0.1:%d "
                                        "(timeout 5s)" % redis.port)), 1, r.stderr)
        self.assertGreaterEqual(took, 4.5)
        self.assertLess(took, 20)
        self.assertFalse(os.path.exists("/tmp/keys"))

    def test_ai_service_wrong_key_id(self):
        redis, broker = self.listener(), self.listener()
        os.makedirs("/app/data/models")
        env = self.ai_env(redis, "127.0.0.1:%d" % broker.port)
        other = ed25519_fingerprint(satest.gen_ed25519_pem())
        env["ED25519_SIGNING_KEY_ID"] = other[:16]
        r, _ = self.materialize(AI_CONFIG, env)
        self.assertEqual(r.returncode, 65, r.stderr)
        bad = lines_with(r.stderr, "event=invalid_secret")
        self.assertEqual(len(bad), 1, r.stderr)
        self.assertEqual(field(bad[0], "source"), "env:AI_SIGNING_KEY_CONTENT")
        self.assertFalse(os.path.exists("/tmp/keys"))

    def test_backend(self):
        ca = gen_ca_cert(self.tmp, cn="Cockroach CA")
        k8s_secret_volume("/tmp/k8s/cockroach-certs", {"root.crt": ca})
        r, _ = self.materialize(BACKEND_CONFIG, {"CYBERMESH_SIGNING_KEY": self.key.decode()})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read("/tmp/keys/signing_key.pem"), self.key)
        self.assertEqual(facts("/tmp/keys/signing_key.pem"), (1000, 1000, 0o400))
        self.assertEqual(facts("/tmp/keys"), (1000, 1000, 0o700))
        self.assertEqual(read("/app/certs/root.crt"), ca)
        self.assertEqual(facts("/app/certs/root.crt"), (1000, 1000, 0o444))
        self.assertEqual(facts("/app/certs"), (1000, 1000, 0o700))
        self.assertEqual(facts("/app/keys"), (1000, 1000, 0o700))
        self.assertEqual(facts("/app/logs"), (1000, 1000, 0o750))
        self.assertEqual(facts("/app"), (0, 0, 0o755))
        self.assertEqual(listing("/app"), ["certs", "certs/root.crt", "keys", "logs"])
        self.assertEqual(len(lines_with(r.stderr, "event=dir_ready")), 2, r.stderr)


def main():
    if os.environ.get(INSIDE) == "1":
        satest.main()
        return
    satest.require_root("mounts tmpfs over /app and /tmp in a private mount namespace")
    created_app = not os.path.exists("/app")
    if created_app:
        os.mkdir("/app", 0o755)
    # The tmpfs mounts hide whatever lies under /tmp and /app, the build directory included when
    # the checkout is there (a CI clone in /tmp): the inner run execs a copy kept in /var/tmp.
    agent_dir = tempfile.mkdtemp(prefix="secret-agent-test.", dir="/var/tmp")
    agent_copy = os.path.join(agent_dir, "secret-agent")
    shutil.copy2(os.path.abspath(satest.AGENT), agent_copy)
    try:
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                            os.path.abspath(__file__)] + sys.argv[1:],
                           env=dict(os.environ, **{INSIDE: "1", "SECRET_AGENT": agent_copy}))
    finally:
        shutil.rmtree(agent_dir, ignore_errors=True)
        if created_app:
            try:
                os.rmdir("/app")
            except OSError:
                pass  # someone else's test uses it now; an empty directory does no harm
    sys.exit(r.returncode)


if __name__ == "__main__":
    main()
