"""check-config: the docs/design.md §4 example passes and prints its plan; flags and
SECRET_AGENT_CONFIG; nothing is written and no source is read."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402

# The example config of docs/design.md §4.
DESIGN_EXAMPLE = """\
[agent]
user = aiservice            ; name or numeric uid; group defaults to the user's primary group
group = aiservice
on_change = signal:SIGHUP   ; signal:NAME | restart | exec:/path/to/hook | none
debounce = 100ms
poll_interval = 0           ; 0 = inotify only; >0 also re-checks every interval

[preflight]
require_env = NODE_ID ENVIRONMENT KAFKA_BOOTSTRAP_SERVERS REDIS_HOST REDIS_PORT ED25519_SIGNING_KEY_ID ED25519_DOMAIN_SEPARATION
require_dir = /app/data/models
wait_tcp = ${REDIS_HOST}:${REDIS_PORT}                  ; all listed must answer
wait_any_tcp = ${KAFKA_BOOTSTRAP_SERVERS}               ; one of a comma list (Kafka bootstrap)
timeout = 5s

[secret "signing_key"]
from = env:AI_SIGNING_KEY_CONTENT
to = /tmp/keys/signing_key.pem
type = ed25519              ; ed25519 | x509 | tls-cert | tls-key | opaque
domain = ${ED25519_DOMAIN_SEPARATION}
key_id = ${ED25519_SIGNING_KEY_ID}
mode = 0400                 ; default 0400 for keys, 0444 for certs
owner = aiservice           ; default: [agent] user
scrub_env = yes             ; default yes for env: sources: the child never sees the variable

[dir "/app/logs"]
mode = 0750
owner = aiservice
"""

EXAMPLE_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "NODE_ID": "node-1",
    "ENVIRONMENT": "test",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092,127.0.0.1:9093",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": "6379",
    "ED25519_SIGNING_KEY_ID": "0123456789abcdef0123",
    "ED25519_DOMAIN_SEPARATION": "cybermesh.ai.signing.v1",
}


def snapshot(root):
    """Every path under root with its type, mode, owner and content."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            data = None
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    data = f.read()
            out[p] = (st.st_mode, st.st_uid, st.st_gid, data)
    return out


class CheckConfigTest(satest.TempDirTestCase):
    def write(self, name, text, mode=0o644):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def run_with_aiservice(self, args, env):
        """Runs the agent where user and group `aiservice` (1001) exist: /etc/passwd and
        /etc/group are bind-mounted over in a private mount namespace, so the host is untouched."""
        satest.require_root("bind-mounts a passwd file with user aiservice in a mount namespace")
        with open("/etc/passwd") as f:
            passwd = f.read()
        with open("/etc/group") as f:
            group = f.read()
        pw = self.write("passwd", passwd + "aiservice:x:1001:1001::/home/aiservice:/bin/sh\n")
        gr = self.write("group", group + "aiservice:x:1001:\n")
        script = 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec "$@"'
        probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                               capture_output=True)
        if probe.returncode != 0:
            self.skipTest("cannot create a mount namespace here: %s" % probe.stderr.decode())
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", pw, gr,
             satest.AGENT] + args, env=env, capture_output=True, timeout=30)

    def test_design_example_prints_plan(self):
        ini = self.write("agent.ini", DESIGN_EXAMPLE)
        key = satest.gen_ed25519_pem()
        env = dict(EXAMPLE_ENV, AI_SIGNING_KEY_CONTENT=key.decode())
        r = self.run_with_aiservice(["check-config", "--config", ini], env)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = r.stdout.decode()
        for line in [
            "config: %s" % ini,
            "  user: aiservice (uid 1001, gid 1001)",
            "  group: aiservice (gid 1001)",
            "  on_change: signal:SIGHUP",
            "  debounce: 100ms",
            "  poll_interval: 0 (inotify only)",
            "  grace: 5s",
            "  require_env: NODE_ID ENVIRONMENT KAFKA_BOOTSTRAP_SERVERS REDIS_HOST REDIS_PORT "
            "ED25519_SIGNING_KEY_ID ED25519_DOMAIN_SEPARATION",
            "  require_dir: /app/data/models",
            "  wait_tcp: 127.0.0.1:6379",
            "  wait_any_tcp: 127.0.0.1:9092 127.0.0.1:9093",
            "  timeout: 5s",
            "secret signing_key:",
            "  source: env:AI_SIGNING_KEY_CONTENT",
            "  target: /tmp/keys/signing_key.pem",
            "  type: ed25519",
            "  mode: 0400",
            "  owner: uid 1001 gid 1001",
            "  domain: set",
            "  key_id: set",
            "  scrub_env: yes",
            "dir /app/logs:",
            "  mode: 0750",
            "secrets: 1, dirs: 1",
        ]:
            self.assertIn(line + "\n", out)
        # Never a byte of the key; the plan shows the domain and key id as present only.
        both = r.stdout + r.stderr
        satest.assert_no_secret_bytes(self, both, [key])
        self.assertNotIn(b"cybermesh.ai.signing.v1", both)
        self.assertNotIn(b"0123456789abcdef0123", both)
        # check-config never reads the source: it passes with the variable unset too.
        env.pop("AI_SIGNING_KEY_CONTENT")
        r = self.run_with_aiservice(["check-config", "--config", ini], env)
        self.assertEqual(r.returncode, 0, r.stderr.decode())

    def test_design_example_unknown_user_is_78(self):
        ini = self.write("agent.ini", DESIGN_EXAMPLE.replace("aiservice", "no_such_user_cfgt"))
        r = satest.run_agent(["check-config", "--config", ini], env=EXAMPLE_ENV)
        self.assertEqual(r.returncode, 78)
        self.assertIn(b"unknown user 'no_such_user_cfgt'", r.stderr)
        self.assertEqual(r.stdout, b"")

    def test_writes_nothing(self):
        out = os.path.join(self.tmp, "out")
        # A FIFO with no writer: reading it would block, so the run would time out.
        src = os.path.join(self.tmp, "ca.pem")
        os.mkfifo(src, 0o600)
        ini = self.write("agent.ini", """\
[agent]
user = nobody
[secret "ca"]
from = file:%s
to = %s/certs/root.crt
type = x509
[secret "missing"]
from = file:%s/does/not/exist
to = %s/keys/k.pem
[dir "%s/logs"]
mode = 0750
""" % (src, out, self.tmp, out, out))
        before = snapshot(self.tmp)
        r = satest.run_agent(["check-config", "--config", ini], timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn(b"  target: %s/certs/root.crt\n" % out.encode(), r.stdout)
        self.assertIn(b"dir %s/logs:\n" % out.encode(), r.stdout)
        self.assertEqual(snapshot(self.tmp), before)
        self.assertFalse(os.path.exists(out))

    def test_config_from_environment_variable(self):
        ini = self.write("agent.ini", '[secret "a"]\nfrom = env:A\nto = /tmp/x/a\n')
        r = satest.run_agent(["check-config"], extra_env={"SECRET_AGENT_CONFIG": ini})
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn(b"config: %s\n" % ini.encode(), r.stdout)
        self.assertIn(b"secret a:\n", r.stdout)
        # --config wins over the variable.
        other = self.write("other.ini", '[secret "b"]\nfrom = env:B\n')
        r = satest.run_agent(["check-config", "--config", other],
                             extra_env={"SECRET_AGENT_CONFIG": ini})
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn(b"secret b:\n  origin: %s:1\n" % other.encode(), r.stdout)
        self.assertIn(b"  target: validated in place\n", r.stdout)
        self.assertNotIn(b"secret a:", r.stdout)

    def test_flags_override_and_extend_the_file(self):
        ini = self.write("agent.ini", """\
[agent]
debounce = 100ms
on_change = signal:HUP
[preflight]
require_env = A B
timeout = 5s
[secret "a"]
from = env:A
""")
        r = satest.run_agent([
            "check-config", "--debounce", "2s", "--on-change=restart",
            "--require-env", "C D", "--require-env=E", "--wait-any-tcp", "h1:1,h2:2",
            "--secret", "name=b,from=file:/run/b.pem,to=/tmp/b/b.pem,type=x509",
            "--log-format=json", "--notify-pidfile", "/run/app.pid", "--config", ini])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = r.stdout.decode()
        self.assertIn("  debounce: 2s\n", out)
        self.assertIn("  on_change: restart\n", out)
        self.assertIn("  require_env: A B C D E\n", out)
        self.assertIn("  wait_any_tcp: h1:1 h2:2\n", out)
        self.assertIn("  timeout: 5s\n", out)
        self.assertIn("  log_format: json\n", out)
        self.assertIn("  notify_pidfile: /run/app.pid\n", out)
        self.assertIn("secret a:\n", out)
        self.assertIn("secret b:\n  origin: --secret\n  source: file:/run/b.pem\n"
                      "  target: /tmp/b/b.pem\n  type: x509\n  mode: 0444\n", out)
        self.assertIn("secrets: 2, dirs: 0\n", out)

    def test_flags_only_and_defaults(self):
        r = satest.run_agent(["check-config", "--secret", "name=k,from=env:K,to=/tmp/k/k"])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = r.stdout.decode()
        self.assertIn("config: none (flags only)\n", out)
        self.assertIn("  user: none (stays the invoking user, uid %d" % os.getuid(), out)
        self.assertIn("  type: opaque\n  mode: 0400\n  owner: uid %d gid %d\n"
                      % (os.getuid(), os.getgid()), out)
        self.assertIn("  scrub_env: yes\n", out)
        self.assertIn("  on_change: signal:SIGHUP\n", out)

    def test_help_and_usage(self):
        r = satest.run_agent(["check-config", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"usage: secret-agent check-config", r.stdout)
        r = satest.run_agent(["check-config"])
        self.assertEqual(r.returncode, 64)
        self.assertIn(b"--config FILE", r.stderr)
        ini = self.write("agent.ini", "[agent]\n")
        r = satest.run_agent(["check-config", "--config", ini, "extra"])
        self.assertEqual(r.returncode, 64)
        self.assertIn(b"unexpected argument 'extra'", r.stderr)


if __name__ == "__main__":
    satest.main()
