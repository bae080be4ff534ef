"""The observer inside `secret-agent run`, end to end: the status listener answers from the
start (/readyz 503 while a slow preflight waits), /readyz turns 200 once the child has
started, the ready file and READY=1 arrive then; the metrics name the secrets with the
fingerprints the agent logs, a rotation counts as applied (RELOADING=1 then READY=1, the
service notified), a refused version counts as rejected without making the agent unready;
no key byte, source path or environment value is ever served; the agent does not wake up
while idle; SIGTERM sends STOPPING=1 and removes the ready file.

Skipped (exit 77) while `run` does not know --status-listen."""
import hashlib
import http.client
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

import satest  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def metric(body, name, **labels):
    """The value of one sample of the exposition `body`, or None."""
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    pattern = r"(?m)^" + re.escape(name) + (r"\{([^}]*)\}" if labels else r"()") + r" (\S+)$"
    for m in re.finditer(pattern, body.decode()):
        have = m.group(1)
        if all(('%s="%s"' % kv) in have for kv in labels.items()) or (not want and not have):
            return float(m.group(2))
    return None


def ed25519_fingerprint(pem):
    der = satest.openssl("pkey", "-pubout", "-outform", "DER", input=pem)
    return hashlib.sha256(der[-32:]).hexdigest()


def cert_fingerprint(pem):
    return hashlib.sha256(satest.openssl("x509", "-outform", "DER", input=pem)).hexdigest()


class AgentObserved(satest.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.src = os.path.join(self.tmp, "src")
        self.out = os.path.join(self.tmp, "out")
        os.makedirs(self.src)
        self.key = satest.gen_ed25519_pem()
        self.cert = self.make_cert("v1")
        self.write_source(self.cert)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify_path = os.path.join(self.tmp, "notify.sock")
        self.notify.bind(self.notify_path)
        self.addCleanup(self.notify.close)

    def make_cert(self, name):
        keyfile = os.path.join(self.tmp, "cert-key-%s.pem" % name)
        return satest.openssl("req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", keyfile,
                              "-days", "60", "-subj", "/O=Example/CN=%s.example" % name)

    def write_source(self, data):
        tmp = os.path.join(self.src, ".cert.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.src, "cert.pem"))

    def next_notify(self, timeout=10):
        ready, _, _ = select.select([self.notify], [], [], timeout)
        self.assertTrue(ready, "no sd_notify message within %d s" % timeout)
        return self.notify.recv(4096).decode()

    def wait_metric(self, port, name, predicate, timeout=10, **labels):
        deadline = time.monotonic() + timeout
        while True:
            _, body = get(port, "/metrics")
            value = metric(body, name, **labels)
            if value is not None and predicate(value):
                return body, value
            self.assertLess(time.monotonic(), deadline, "%s%r stayed %r" % (name, labels, value))
            time.sleep(0.05)

    def test_observed_run(self):
        port, preflight_port, ready_file = free_port(), free_port(), os.path.join(self.tmp, "ready")
        env = dict(satest.BASE_ENV, SA_KEY=self.key.decode(), NOTIFY_SOCKET=self.notify_path)
        p = satest.start(["--status-listen", "127.0.0.1:%d" % port, "--ready-file", ready_file,
                      "--wait-tcp", "127.0.0.1:%d" % preflight_port, "--timeout", "30s",
                      "--on-change", "signal:SIGUSR1", "--debounce", "50ms",
                      "--secret", "name=signing_key,from=env:SA_KEY,to=%s/signing_key.pem,"
                                  "type=ed25519" % self.out,
                      "--secret", "name=tls_cert,from=file:%s/cert.pem,to=%s/cert.pem,"
                                  "type=tls-cert" % (self.src, self.out)],
                     [satest.PROBE, "signals", "%d,%d" % (signal.SIGUSR1, signal.SIGTERM)], env=env)
        try:
            self.observe(p, port, preflight_port, ready_file)
        finally:
            satest.kill_quietly(p)

    def observe(self, p, port, preflight_port, ready_file):
        # The slow preflight: the listener answers, the agent is not ready.
        deadline = time.monotonic() + 10
        while True:
            try:
                status, body = get(port, "/healthz")
                break
            except OSError:
                self.assertLess(time.monotonic(), deadline, "the listener never answered")
                time.sleep(0.05)
        self.assertEqual((status, body), (200, b"ok"))
        self.assertEqual(get(port, "/readyz")[0], 503)
        self.assertEqual(metric(get(port, "/metrics")[1], "secret_agent_ready"), 0)
        self.assertFalse(os.path.exists(ready_file))

        # The preflight's service appears: secrets written, child started, ready.
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", preflight_port))
        srv.listen(8)
        self.addCleanup(srv.close)
        self.assertEqual(satest.read_line(p), "ready")
        deadline = time.monotonic() + 5
        while get(port, "/readyz")[0] != 200:
            self.assertLess(time.monotonic(), deadline, "/readyz stayed 503 after the start")
            time.sleep(0.05)
        self.assertEqual(os.stat(ready_file).st_mode & 0o7777, 0o444)
        self.assertEqual(self.next_notify(), "READY=1\nSTATUS=2 secrets written")

        _, body = get(port, "/metrics")
        self.assertEqual(metric(body, "secret_agent_ready"), 1)
        self.assertEqual(metric(body, "secret_agent_secret_info", secret="signing_key",
                                type="ed25519", fingerprint=ed25519_fingerprint(self.key)), 1)
        self.assertEqual(metric(body, "secret_agent_secret_info", secret="tls_cert",
                                type="tls-cert", fingerprint=cert_fingerprint(self.cert)), 1)
        end = subprocess.run(["date", "-d", satest.openssl(
            "x509", "-noout", "-enddate", input=self.cert).decode().split("=", 1)[1], "+%s"],
            capture_output=True, text=True).stdout.strip()
        self.assertEqual(metric(body, "secret_agent_certificate_expiry_timestamp_seconds",
                                secret="tls_cert", index="0", subject="CN=v1.example,O=Example"),
                         int(end))
        first_write = metric(body, "secret_agent_secret_last_write_timestamp_seconds",
                             secret="tls_cert")
        self.assertLess(abs(first_write - time.time()), 30)

        # Idle with the listener on: no wakeup at all.
        agent = p.pid
        time.sleep(1.0)
        before = int(satest.proc_status(agent, "voluntary_ctxt_switches"))
        time.sleep(2.0)
        self.assertEqual(int(satest.proc_status(agent, "voluntary_ctxt_switches")), before)

        # A rotation: applied, announced to the manager, the service notified.
        self.cert2 = self.make_cert("v2")
        self.write_source(self.cert2)
        self.assertEqual(satest.read_line(p), "got %d" % signal.SIGUSR1)
        body, _ = self.wait_metric(port, "secret_agent_rotations_total", lambda v: v == 1,
                                   secret="tls_cert", result="applied")
        self.assertEqual(metric(body, "secret_agent_secret_info", secret="tls_cert",
                                type="tls-cert", fingerprint=cert_fingerprint(self.cert2)), 1)
        self.assertGreater(metric(body, "secret_agent_secret_last_write_timestamp_seconds",
                                  secret="tls_cert"), first_write)
        self.assertEqual(metric(body, "secret_agent_notifications_total", action="signal",
                                result="ok"), 1)
        self.assertRegex(self.next_notify(), r"^RELOADING=1\nMONOTONIC_USEC=\d+$")
        self.assertRegex(self.next_notify(), r"^READY=1\nSTATUS=2 secrets written; last rotation"
                                             r" applied tls_cert at \S+$")

        # A refused version: counted, flagged, the agent stays ready, nobody is notified.
        self.write_source(b"-----BEGIN CERTIFICATE-----\nnot a certificate\n"
                          b"-----END CERTIFICATE-----\n")
        body, _ = self.wait_metric(port, "secret_agent_secret_rejected", lambda v: v == 1,
                                   secret="tls_cert")
        self.assertEqual(metric(body, "secret_agent_rotations_total", secret="tls_cert",
                                result="rejected"), 1)
        self.assertEqual(get(port, "/readyz")[0], 200)
        self.assertRegex(self.next_notify(), r"^RELOADING=1\n")
        self.assertRegex(self.next_notify(), r"^READY=1\n.*last rotation rejected tls_cert")
        r = satest.run_agent(["status", "--status-listen", "127.0.0.1:%d" % port])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"REJECTED", r.stdout)

        # Nothing secret, no source path, no environment value in any answer.
        for path in ["/metrics", "/healthz", "/readyz", "/nope"]:
            _, body = get(port, path)
            for needle in [satest.pem_body(self.key)[:32], self.src.encode(), b"SA_KEY",
                           satest.BASE_ENV["PATH"].encode()]:
                self.assertNotIn(needle, body + r.stdout)

        # Shutdown: the child gets SIGTERM, the manager STOPPING=1, the ready file goes.
        p.send_signal(signal.SIGTERM)
        self.assertEqual(satest.read_line(p), "got %d" % signal.SIGTERM)
        try:
            rc = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = None
        self.assertEqual(rc, 0, "the agent's exit after SIGTERM:\n" + log_tail(p))
        self.assertEqual(self.next_notify(), "STOPPING=1")
        self.assertFalse(os.path.exists(ready_file))


def log_tail(p):
    """What the agent logged, as far as it can be read now (its child may hold the pipe)."""
    data = b""
    while select.select([p.stderr], [], [], 0.2)[0]:
        chunk = os.read(p.stderr.fileno(), 65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")[-3000:]


def observer_wired():
    r = satest.run_agent(["check-config", "--status-listen", "127.0.0.1:1", "--secret",
                          "name=x,from=env:PATH,type=opaque"])
    return r.returncode == 0


if __name__ == "__main__":
    if not observer_wired():
        sys.stderr.write("SKIPPED: this build's run does not take --status-listen yet "
                         "(the observer is not wired into the start pipeline)\n")
        sys.exit(77)
    satest.main()
