"""`secret-agent status` against a live status listener: text and --json carry the secrets,
fingerprints, last writes, rejected rotations and expiries; exit 0 ready, 1 not ready, 69
unreachable; the address comes from --status-listen or [agent] status_listen of --config."""
import json
import os
import socket
import subprocess
import sys
import time

import satest
from test_status_listener import DRIVER, Driver


class StatusCommand(satest.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.d = Driver()
        self.addCleanup(self.d.close)
        self.addr = "127.0.0.1:%d" % self.d.port
        self.cert = os.path.join(self.tmp, "cert.pem")
        self.key = os.path.join(self.tmp, "key.pem")
        satest.openssl("req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", self.key,
                       "-days", "40", "-out", self.cert, "-subj", "/O=Example/CN=api.test")
        self.d.cmd("declare signing_key ed25519")
        self.d.cmd("written signing_key ed25519 " + "ab" * 32)
        self.d.cmd("written tls_cert tls-cert " + "cd" * 32 + " " + self.cert)
        self.d.cmd("rotation tls_cert rejected")

    def status(self, *args):
        return satest.run_agent(["status"] + list(args))

    def test_text_not_ready_then_ready(self):
        r = self.status("--status-listen", self.addr)
        self.assertEqual(r.returncode, 1, r.stderr)
        out = r.stdout.decode()
        self.assertIn("at %s: not ready" % self.addr, out)
        self.assertIn("secret signing_key (ed25519)\n  fingerprint  " + "ab" * 32, out)
        self.assertIn("secret tls_cert (tls-cert)", out)
        self.assertIn("0 applied, 1 rejected, 0 unchanged", out)
        self.assertIn("REJECTED", out)
        self.assertIn("certificate 0  CN=api.test,O=Example\n    expires ", out)
        self.assertRegex(out, r"last write   \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
        self.d.cmd("ready")
        r = self.status("--status-listen", self.addr)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("at %s: ready" % self.addr, r.stdout.decode())
        # The private key next to the certificate never shows.
        with open(self.key, "rb") as f:
            self.assertNotIn(satest.pem_body(f.read())[:40], r.stdout + r.stderr)

    def test_json(self):
        self.d.cmd("ready")
        r = self.status("--status-listen", self.addr, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertIs(doc["ready"], True)
        by_name = {s["name"]: s for s in doc["secrets"]}
        self.assertEqual(by_name["signing_key"]["fingerprint"], "ab" * 32)
        self.assertEqual(by_name["signing_key"]["type"], "ed25519")
        self.assertIs(by_name["tls_cert"]["rejected"], True)
        self.assertEqual(by_name["tls_cert"]["rotations"],
                         {"applied": 0, "rejected": 1, "unchanged": 0})
        self.assertLess(abs(by_name["tls_cert"]["last_write_seconds"] - time.time()), 60)
        cert = by_name["tls_cert"]["certificates"][0]
        self.assertEqual((cert["index"], cert["subject"]), (0, "CN=api.test,O=Example"))
        end = subprocess.run(["date", "-d", satest.openssl(
            "x509", "-noout", "-enddate", "-in", self.cert).decode().split("=", 1)[1], "+%s"],
            capture_output=True, text=True).stdout.strip()
        self.assertEqual(cert["not_after_seconds"], int(end))

    def test_config_lookup(self):
        conf = os.path.join(self.tmp, "agent.conf")
        with open(conf, "w") as f:
            f.write("[agent]\nuser = nobody\nstatus_listen = ${STATUS_HOST:-127.0.0.1}:%d"
                    "   ; the listener\n\n[secret \"k\"]\nfrom = env:NOT_READ\n"
                    "to = /tmp/never\n" % self.d.port)
        r = self.status("--config", conf)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("at 127.0.0.1:%d: not ready" % self.d.port, r.stdout.decode())
        r = satest.run_agent(["status", "--json"], extra_env={"SECRET_AGENT_CONFIG": conf})
        self.assertEqual(r.returncode, 1, r.stderr)
        # A config without a listener is a configuration error.
        with open(conf, "w") as f:
            f.write("[agent]\nuser = nobody\n")
        r = self.status("--config", conf)
        self.assertEqual(r.returncode, 78)
        self.assertIn(b"status_listen", r.stderr)

    def test_unreachable(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        r = self.status("--status-listen", "127.0.0.1:%d" % port)
        self.assertEqual(r.returncode, 69)
        self.assertIn(b"no agent answers at", r.stderr)
        self.assertEqual(r.stdout, b"")
        # Something that is not an agent (accepts, answers garbage) is unreachable too.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        self.addCleanup(srv.close)
        p = subprocess.Popen([satest.AGENT, "status", "--status-listen",
                              "127.0.0.1:%d" % srv.getsockname()[1]],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        conn, _ = srv.accept()
        conn.recv(4096)
        conn.sendall(b"SSH-2.0-OpenSSH\r\n")
        conn.close()
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 69, err)

    def test_usage(self):
        for args in [[], ["--bogus"], ["--status-listen", "localhost:1"],
                     ["--status-listen", self.addr, "--config", "/x"]]:
            r = self.status(*args)
            self.assertEqual(r.returncode, 64, (args, r.stderr))
        r = self.status("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"usage: secret-agent status", r.stdout)


if __name__ == "__main__":
    if not os.access(DRIVER, os.X_OK):
        sys.stderr.write("SKIPPED: the observer driver %s is not built\n" % DRIVER)
        sys.exit(77)
    satest.main()
