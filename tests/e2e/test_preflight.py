"""Preflight of `secret-agent materialize`, driven as an operator would: the seed's messages,
exit codes, every failing item named at once, TCP checks against loopback listeners started
here (closed, late, Kafka lists with scheme prefixes and IPv6)."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
from satest import (Listener, assert_no_secret_bytes, field, ipv6_loopback_available,  # noqa: E402
                    lines_with, listing, run_timed, write_config)

AI_VARS = ["NODE_ID", "ENVIRONMENT", "KAFKA_BOOTSTRAP_SERVERS", "REDIS_HOST", "REDIS_PORT",
           "ED25519_SIGNING_KEY_ID", "ED25519_DOMAIN_SEPARATION"]


class PreflightTest(satest.TempDirTestCase):

    def setUp(self):
        super().setUp()
        self.listeners = []
        self.out = os.path.join(self.tmp, "out")

    def tearDown(self):
        for l in self.listeners:
            l.close()
        super().tearDown()

    def listener(self, **kw):
        l = Listener(**kw)
        self.listeners.append(l)
        return l

    def materialize(self, *args, env=None, **kw):
        return run_timed(["materialize"] + list(args), env=env, **kw)

    def test_missing_env_vars_all_named_at_once(self):
        key = satest.gen_ed25519_pem()
        cfg = write_config(os.path.join(self.tmp, "a.ini"), """
[preflight]
require_env = %s
[secret "signing_key"]
from = env:AI_SIGNING_KEY_CONTENT
to = %s/keys/signing_key.pem
type = ed25519
""" % (" ".join(AI_VARS), self.out))
        env = {v: "x" for v in AI_VARS}
        del env["NODE_ID"]
        env["REDIS_PORT"] = ""  # empty counts as not set, like the seed's [ -z "$VAR" ]
        env["AI_SIGNING_KEY_CONTENT"] = key.decode()
        r, _ = self.materialize("--config", cfg, env=env)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertEqual(len(lines_with(r.stderr, "Required environment variable NODE_ID "
                                        "is not set")), 1)
        self.assertEqual(len(lines_with(r.stderr, "Required environment variable REDIS_PORT "
                                        "is not set")), 1)
        self.assertEqual(len(lines_with(r.stderr, "level=error")), 2, r.stderr)
        # The preflight runs before any source is read: nothing written, nothing leaked.
        self.assertFalse(os.path.exists(self.out))
        assert_no_secret_bytes(self, r.stderr + r.stdout, [key])

    def test_missing_model_dir(self):
        models = os.path.join(self.tmp, "app", "data", "models")
        r, _ = self.materialize("--require-dir", models)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertEqual(len(lines_with(r.stderr, "Model directory not found: " + models)), 1)
        os.makedirs(models)
        r, _ = self.materialize("--require-dir", models)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_closed_port_fails_within_timeout(self):
        dead = self.listener(listening=False)
        addr = "127.0.0.1:%d" % dead.port
        r, took = self.materialize("--wait-tcp", addr, "--timeout", "1s")
        self.assertEqual(r.returncode, 69, r.stderr)
        lines = lines_with(r.stderr, "Cannot connect to Redis at %s (timeout 1s)" % addr)
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("Connection refused", field(lines[0], "reason"))
        # Retried until the deadline, and given up then (generous bound: a busy 2-core box).
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 8)

    def test_timeout_in_milliseconds_is_worded_so(self):
        dead = self.listener(listening=False)
        addr = "localhost:%d" % dead.port
        r, _ = self.materialize("--wait-tcp", addr, "--timeout", "500ms")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertEqual(len(lines_with(
            r.stderr, "Cannot connect to Redis at %s (timeout 500ms)" % addr)), 1, r.stderr)

    def test_late_listener_is_waited_for(self):
        late = self.listener(listening=False, delay=1.0)
        r, took = self.materialize("--wait-tcp", "127.0.0.1:%d" % late.port, "--timeout", "20s")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 15)
        self.assertGreaterEqual(late.wait_accepted(), 1)

    def test_every_wait_tcp_address_must_answer(self):
        live = self.listener()
        dead = self.listener(listening=False)
        r, _ = self.materialize("--wait-tcp", "127.0.0.1:%d 127.0.0.1:%d" % (live.port, dead.port),
                                "--timeout", "1s")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertEqual(len(lines_with(r.stderr, "Cannot connect to Redis")), 1, r.stderr)
        self.assertEqual(len(lines_with(r.stderr, "127.0.0.1:%d (timeout" % dead.port)), 1)

    def test_kafka_one_dead_one_live_broker(self):
        dead = self.listener(listening=False)
        live = self.listener()
        brokers = "PLAINTEXT://127.0.0.1:%d,SASL_SSL://localhost:%d" % (dead.port, live.port)
        r, _ = self.materialize("--wait-any-tcp", brokers, "--timeout", "5s")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(live.wait_accepted(), 1)

    def test_kafka_ipv6_broker(self):
        if not ipv6_loopback_available():
            self.skipTest("no IPv6 loopback here")
        dead = self.listener(listening=False)
        live = self.listener(family=socket.AF_INET6)
        brokers = "SSL://127.0.0.1:%d [::1]:%d" % (dead.port, live.port)
        cfg = write_config(os.path.join(self.tmp, "k.ini"), """
[preflight]
wait_any_tcp = ${KAFKA_BOOTSTRAP_SERVERS}
timeout = 5s
""")
        r, _ = self.materialize("--config", cfg, env={"KAFKA_BOOTSTRAP_SERVERS": brokers})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(live.wait_accepted(), 1)

    def test_kafka_all_dead_names_the_list_and_every_address(self):
        a, b = self.listener(listening=False), self.listener(listening=False)
        brokers = ["PLAINTEXT://127.0.0.1:%d" % a.port, "SSL://localhost:%d" % b.port]
        if ipv6_loopback_available():
            c = self.listener(family=socket.AF_INET6, listening=False)
            brokers.append("[::1]:%d" % c.port)
        r, took = self.materialize("--wait-any-tcp", ",".join(brokers), "--timeout", "1s")
        self.assertEqual(r.returncode, 69, r.stderr)
        lines = lines_with(r.stderr, "Cannot reach any Kafka broker in %s" % ",".join(brokers))
        self.assertEqual(len(lines), 1, r.stderr)
        tried = field(lines[0], "tried")
        for spec in brokers:
            self.assertIn(spec + " -> ", tried)
        self.assertIn("127.0.0.1:%d" % a.port, tried)
        self.assertLess(took, 8)

    def test_all_failures_named_and_env_decides_the_code(self):
        dead = self.listener(listening=False)
        dead2 = self.listener(listening=False)
        models = os.path.join(self.tmp, "models")
        r, took = self.materialize(
            "--require-env", "NODE_ID ENVIRONMENT", "--require-dir", models,
            "--wait-tcp", "127.0.0.1:%d" % dead.port,
            "--wait-any-tcp", "127.0.0.1:%d" % dead2.port, "--timeout", "1s",
            env={"ENVIRONMENT": "prod"})
        self.assertEqual(r.returncode, 78, r.stderr)
        for needle in ["Required environment variable NODE_ID is not set",
                       "Model directory not found: " + models,
                       "Cannot connect to Redis at 127.0.0.1:%d (timeout 1s)" % dead.port,
                       "Cannot reach any Kafka broker in 127.0.0.1:%d" % dead2.port]:
            self.assertEqual(len(lines_with(r.stderr, needle)), 1, needle)
        self.assertNotIn("ENVIRONMENT is not set", r.stderr.decode())
        # Without the missing variable the same failures are "unavailable".
        r, _ = self.materialize(
            "--require-dir", models, "--wait-tcp", "127.0.0.1:%d" % dead.port, "--timeout", "1s")
        self.assertEqual(r.returncode, 69, r.stderr)
        # The TCP checks ran concurrently: one timeout, not one per check.
        self.assertLess(took, 8)

    def test_json_log_lines(self):
        r, _ = self.materialize("--require-env", "NODE_ID", "--log-format", "json")
        self.assertEqual(r.returncode, 78, r.stderr)
        import json
        objs = [json.loads(l) for l in r.stderr.decode().splitlines() if l.startswith("{")]
        msgs = [o for o in objs if o.get("msg") == "Required environment variable NODE_ID "
                                                   "is not set"]
        self.assertEqual(len(msgs), 1, r.stderr)
        self.assertEqual(msgs[0]["level"], "error")

    def test_bad_address_is_a_config_error(self):
        r, _ = self.materialize("--wait-tcp", "redis-without-port", "--timeout", "1s")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn(b"redis-without-port", r.stderr)

    def test_help(self):
        r, _ = self.materialize("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"usage: secret-agent materialize", r.stdout)
        self.assertEqual(listing(self.tmp), [])


if __name__ == "__main__":
    satest.main()
