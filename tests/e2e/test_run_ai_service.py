"""An AI-service-like container run end to end with `run` as PID 1 of a PID namespace: config
file with ${VAR} expansion, 7 required env vars, models dir, Redis (all) and Kafka (any) on
loopback listeners started here, the Ed25519 key from AI_SIGNING_KEY_CONTENT written 0400 for
the service user, privileges dropped, the stand-in service started without the key in its
environment. Failing preflight never starts the service."""
import os
import socket

import satest

CONFIG = """
[agent]
user = nobody

[preflight]
require_env = NODE_ID ENVIRONMENT KAFKA_BOOTSTRAP_SERVERS REDIS_HOST REDIS_PORT ED25519_SIGNING_KEY_ID ED25519_DOMAIN_SEPARATION
require_dir = ${MODELS_DIR}
wait_tcp = ${REDIS_HOST}:${REDIS_PORT}
wait_any_tcp = ${KAFKA_BOOTSTRAP_SERVERS}
timeout = 5s

[secret "signing_key"]
from = env:AI_SIGNING_KEY_CONTENT
to = ${KEY_DIR}/signing_key.pem
type = ed25519
domain = ${ED25519_DOMAIN_SEPARATION}
mode = 0400
"""


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class AIService(satest.TempDirTestCase):
    def setUp(self):
        satest.require_root("the service runs as nobody inside a PID namespace")
        super().setUp()
        self.redis, self.kafka = listener(), listener()
        self.key = satest.gen_ed25519_pem()
        self.config = os.path.join(self.tmp, "ai-service.conf")
        with open(self.config, "w") as f:
            f.write(CONFIG)
        os.makedirs(os.path.join(self.tmp, "app/data/models"))
        self.env = dict(satest.BASE_ENV,
                        NODE_ID="ai-node-1", ENVIRONMENT="test",
                        KAFKA_BOOTSTRAP_SERVERS="PLAINTEXT://127.0.0.1:%d,127.0.0.1:%d"
                        % (free_port(), self.kafka.getsockname()[1]),
                        REDIS_HOST="127.0.0.1", REDIS_PORT=str(self.redis.getsockname()[1]),
                        ED25519_SIGNING_KEY_ID="ai-key-test",
                        ED25519_DOMAIN_SEPARATION="cybermesh.ai.v1",
                        AI_SIGNING_KEY_CONTENT=self.key.decode(),
                        MODELS_DIR=os.path.join(self.tmp, "app/data/models"),
                        KEY_DIR=os.path.join(self.tmp, "keys"))

    def tearDown(self):
        self.redis.close()
        self.kafka.close()
        super().tearDown()

    def run_service(self, env):
        return satest.run(["--config", self.config], [satest.PROBE, "report"], pid1=True, env=env)

    def test_whole_job_as_pid1(self):
        r = self.run_service(self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = satest.parse_report(r.stdout)
        self.assertEqual(got["pid"], ["2"])
        self.assertEqual(got["ppid"], ["1"])
        self.assertEqual([int(x) for x in got["status.Uid"][0].split()], [65534] * 4)
        for key in ("status.CapInh", "status.CapPrm", "status.CapEff", "status.CapBnd",
                    "status.CapAmb"):
            self.assertEqual(got[key], ["0000000000000000"], key)
        self.assertEqual(got["status.NoNewPrivs"], ["1"])
        self.assertNotIn("AI_SIGNING_KEY_CONTENT", got["env"])
        self.assertIn("NODE_ID", got["env"])
        key_path = os.path.join(self.tmp, "keys", "signing_key.pem")
        st = os.stat(key_path)
        self.assertEqual((st.st_mode & 0o7777, st.st_uid), (0o400, 65534))
        with open(key_path, "rb") as f:
            self.assertEqual(satest.pem_body(f.read()), satest.pem_body(self.key))
        satest.assert_no_secret_bytes(self, r.stdout + r.stderr, [self.key])

    def test_redis_down_never_starts_the_service(self):
        env = dict(self.env, REDIS_PORT=str(free_port()))
        r = self.run_service(env)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("Cannot connect to Redis at 127.0.0.1:%s" % env["REDIS_PORT"], r.stderr)
        self.assertEqual(r.stdout, "", "the service ran")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "keys", "signing_key.pem")))

    def test_missing_env_var_never_starts_the_service(self):
        env = dict(self.env)
        del env["NODE_ID"]
        r = self.run_service(env)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("Required environment variable NODE_ID is not set", r.stderr)
        self.assertEqual(r.stdout, "", "the service ran")


if __name__ == "__main__":
    satest.main()
