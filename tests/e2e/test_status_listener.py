"""The status listener, driven by real HTTP clients (Python's http.client, raw sockets, curl,
promtool): every path and method, the header and idle limits, the 16-connection cap, IPv6,
no wakeups while idle, the expiry watch firing on time, and sd_notify datagrams in order.

The listener runs inside the observer driver (tests/unit/test_observe_listener --serve ADDR),
the same code the agent runs, with its event loop; commands on its stdin record writes,
rotations and readiness as the agent's pipeline does.
"""
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import satest

BUILD_DIR = os.environ.get("SFS_BUILD_DIR", "build/dev")
DRIVER = os.path.join(BUILD_DIR, "tests", "test_observe_listener")


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]
    raise KeyError(name)


class Driver:
    """One observer with its listener, in its own process."""

    def __init__(self, addr="127.0.0.1:0", args=(), env=None, stderr_path=None):
        self.stderr_path = stderr_path or tempfile.mktemp(prefix="sa-driver-", suffix=".log")
        self.err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([DRIVER, "--serve", addr] + list(args),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, env=env, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("port="):
            self.close()
            raise RuntimeError("driver did not start: %r %s" % (line, self.log()))
        self.port = int(line.split("=")[1])
        self.pid = self.proc.pid

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError("driver answered %r to %r" % (answer, line))

    def log(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        """Ends the driver; returns its exit status (0, unless it crashed or leaked)."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.err.close()
        log = self.log()
        os.unlink(self.stderr_path)
        if self.proc.returncode != 0:
            raise AssertionError("the driver exited %d:\n%s" % (self.proc.returncode, log[-3000:]))
        return 0


def request(port, method, path, headers=None, host="127.0.0.1"):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request(method, path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r, body


def recv_until_closed(sock, timeout):
    """Bytes received until the peer closes (returns (data, True)) or `timeout` passes."""
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


class Listener(satest.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.d = Driver()
        self.addCleanup(self.d.close)

    def test_paths(self):
        r, body = request(self.d.port, "GET", "/healthz")
        self.assertEqual((r.status, body), (200, b"ok"))
        r, body = request(self.d.port, "GET", "/readyz")
        self.assertEqual(r.status, 503)
        r, body = request(self.d.port, "GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        self.assertIn(b"\nsecret_agent_ready 0\n", body)
        for path in ["/", "/metrics/", "/healthz/x", "/READYZ", "/favicon.ico", "/%2e%2e/etc"]:
            r, body = request(self.d.port, "GET", path)
            self.assertEqual(r.status, 404, path)
        # A query string does not change the path.
        r, _ = request(self.d.port, "GET", "/healthz?verbose=1")
        self.assertEqual(r.status, 200)

    def test_ready_and_metrics(self):
        self.d.cmd("declare signing_key ed25519")
        self.d.cmd("written signing_key ed25519 " + "ab" * 32)
        self.d.cmd("ready")
        r, body = request(self.d.port, "GET", "/readyz")
        self.assertEqual(r.status, 200)
        # A refused rotation does not make the agent unready; it shows in the metrics.
        self.d.cmd("rotation signing_key rejected")
        r, _ = request(self.d.port, "GET", "/readyz")
        self.assertEqual(r.status, 200)
        _, body = request(self.d.port, "GET", "/metrics")
        text = body.decode()
        self.assertIn('secret_agent_secret_rejected{secret="signing_key"} 1\n', text)
        self.assertIn('secret_agent_rotations_total{secret="signing_key",result="rejected"} 1\n',
                      text)
        self.assertIn('secret_agent_secret_info{secret="signing_key",type="ed25519",fingerprint="'
                      + "ab" * 32 + '"} 1\n', text)
        self.d.cmd("stopping")
        r, _ = request(self.d.port, "GET", "/readyz")
        self.assertEqual(r.status, 503)

    def test_head(self):
        for path, status in [("/healthz", 200), ("/readyz", 503), ("/metrics", 200),
                             ("/nope", 404)]:
            r, body = request(self.d.port, "HEAD", path)
            self.assertEqual((r.status, body), (status, b""), path)
        _, body = request(self.d.port, "GET", "/metrics")
        r, _ = request(self.d.port, "HEAD", "/metrics")
        self.assertEqual(int(r.getheader("Content-Length")), len(body))

    def test_other_methods(self):
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"]:
            for path in ["/healthz", "/metrics", "/nope"]:
                r, _ = request(self.d.port, method, path)
                self.assertEqual(r.status, 405, (method, path))
                self.assertEqual(r.getheader("Allow"), "GET, HEAD")
        # With a body too; the listener still answers the next request.
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        conn.request("POST", "/metrics", body=b"x" * 100000)
        self.assertEqual(conn.getresponse().status, 405)
        conn.close()
        self.assertEqual(request(self.d.port, "GET", "/healthz")[0].status, 200)

    def test_curl(self):
        if not shutil.which("curl"):
            self.skipTest("curl is not installed")
        base = "http://127.0.0.1:%d" % self.d.port
        out = subprocess.run(["curl", "-sS", "-w", " %{http_code}", base + "/healthz"],
                             capture_output=True, text=True, timeout=10).stdout
        self.assertEqual(out, "ok 200")
        out = subprocess.run(["curl", "-sS", "-I", base + "/readyz"], capture_output=True,
                             text=True, timeout=10).stdout
        self.assertTrue(out.startswith("HTTP/1.1 503"), out)
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X",
                              "DELETE", base + "/metrics"], capture_output=True, text=True,
                             timeout=10).stdout
        self.assertEqual(out, "405")
        # Keep-alive: several requests over one connection.
        out = subprocess.run(["curl", "-sS", "-w", "%{num_connects}\n", base + "/healthz",
                              base + "/healthz", base + "/healthz"],
                             capture_output=True, text=True, timeout=10).stdout
        self.assertEqual(out, "ok1\nok0\nok0\n")

    def test_promtool(self):
        if not shutil.which("promtool"):
            self.skipTest("promtool is not installed (Debian package prometheus)")
        cert = os.path.join(self.tmp, "cert.pem")
        satest.openssl("req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout",
                       os.path.join(self.tmp, "k.pem"), "-days", "5", "-out", cert,
                       "-subj", '/O=Example, "Q"/CN=srv')
        self.d.cmd("written tls_cert tls-cert " + "cd" * 32 + " " + cert)
        self.d.cmd("written blob opaque -")
        # The bytes of a key type are never parsed, even when they hold a certificate.
        self.d.cmd("written tls_key tls-key " + "ee" * 32 + " " + cert)
        self.d.cmd("written signing_key ed25519 " + "ab" * 32 + " " +
                   os.path.join(self.tmp, "k.pem"))
        self.d.cmd("rotation tls_cert applied")
        self.d.cmd("notification signal ok")
        self.d.cmd("restart")
        self.d.cmd("ready")
        _, body = request(self.d.port, "GET", "/metrics")
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout + r.stderr, b"")
        subject = satest.openssl("x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in",
                                 cert).decode().strip()[len("subject="):]
        label = subject.replace("\\", "\\\\").replace('"', '\\"')
        end = subprocess.run(["date", "-d", satest.openssl("x509", "-noout", "-enddate", "-in",
                                                           cert).decode().split("=", 1)[1],
                              "+%s"], capture_output=True, text=True).stdout.strip()
        self.assertIn('secret_agent_certificate_expiry_timestamp_seconds{secret="tls_cert",'
                      'index="0",subject="%s"} %s\n' % (label, end), body.decode())
        self.assertNotIn(b'secret_agent_certificate_expiry_timestamp_seconds{secret="tls_key"',
                         body)
        self.assertIn(b'secret_agent_secret_info{secret="tls_key",type="tls-key",fingerprint="'
                      + b"ee" * 32 + b'"} 1\n', body)
        # Five days left, inside the default 30-day window: counted and logged.
        self.assertIn(b"\nsecret_agent_certificates_expiring 1\n", body)
        self.assertIn("event=certificate_expiring secret=tls_cert", self.d.log())
        # The private key that sat next to the certificate is nowhere in the response.
        with open(os.path.join(self.tmp, "k.pem"), "rb") as f:
            self.assertNotIn(satest.pem_body(f.read())[:40], body)

    def test_header_limit(self):
        # 7 KiB of header fields is served.
        r, _ = request(self.d.port, "GET", "/healthz", headers={"X-Pad": "a" * 7 * 1024})
        self.assertEqual(r.status, 200)
        # 9 KiB: refused and the connection closed.
        for size in [9 * 1024, 64 * 1024]:
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * size +
                          b"\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            data, closed = recv_until_closed(s, 5)
            s.close()
            self.assertTrue(closed, "connection left open after a %d-byte header" % size)
            self.assertTrue(data == b"" or data.startswith(b"HTTP/1.1 431"), data[:80])
        # 9 KiB spread over many fields counts the same.
        headers = {"X-Pad-%d" % i: "b" * 90 for i in range(100)}
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
            ("%s: %s\r\n" % kv).encode() for kv in headers.items()) + b"\r\n")
        data, closed = recv_until_closed(s, 5)
        s.close()
        self.assertTrue(closed)
        self.assertTrue(data.startswith(b"HTTP/1.1 431"), data[:80])
        self.assertEqual(request(self.d.port, "GET", "/healthz")[0].status, 200)

    def test_slow_client(self):
        # A request that never completes: closed after 5 s idle, not before.
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        s.sendall(b"GET /metr")
        start = time.monotonic()
        data, closed = recv_until_closed(s, 3.5)
        self.assertFalse(closed, "closed after %.1f s" % (time.monotonic() - start))
        data, closed = recv_until_closed(s, 4)
        elapsed = time.monotonic() - start
        s.close()
        self.assertTrue(closed, "a slow client kept its connection %.1f s" % elapsed)
        self.assertGreaterEqual(elapsed, 4.5)
        # An idle keep-alive connection too.
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        time.sleep(6.5)
        data, closed = recv_until_closed(conn.sock, 0.5)
        self.assertTrue(closed)
        conn.close()

    def test_connection_cap(self):
        for _ in range(2):  # and again: the cap is released each time
            held = [socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
                    for _ in range(16)]
            try:
                # Every one of the 16 is served.
                for s in held[:2]:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    self.assertIn(b"200 OK", s.recv(4096))
                # The 17th waits while the 16 are held...
                extra = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data, closed = recv_until_closed(extra, 1.5)
                self.assertEqual((data, closed), (b"", False), "a 17th connection was served")
                # ...and is served as soon as one of them goes away.
                held.pop().close()
                start = time.monotonic()
                data, closed = recv_until_closed(extra, 2)
                extra.close()
                self.assertTrue(data.startswith(b"HTTP/1.1 200 OK"), data[:80])
                self.assertLess(time.monotonic() - start, 1.5)
            finally:
                for s in held:
                    s.close()
            r, _ = request(self.d.port, "GET", "/healthz")
            self.assertEqual(r.status, 200)

    def test_no_wakeups_while_idle(self):
        # A few requests first: every connection timer is disarmed once they are closed.
        for _ in range(3):
            request(self.d.port, "GET", "/metrics")
        time.sleep(0.3)
        before = int(status_field(self.d.pid, "voluntary_ctxt_switches"))
        time.sleep(3.0)
        after = int(status_field(self.d.pid, "voluntary_ctxt_switches"))
        self.assertEqual(after, before, "woke up %d times while idle" % (after - before))
        # The measure can see a wakeup: one request is at least one.
        request(self.d.port, "GET", "/healthz")
        time.sleep(0.2)
        self.assertGreater(int(status_field(self.d.pid, "voluntary_ctxt_switches")), after)


class Variants(satest.TempDirTestCase):
    def test_ipv6(self):
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback here")
        d = Driver("[::1]:0")
        self.addCleanup(d.close)
        r, body = request(d.port, "GET", "/healthz", host="::1")
        self.assertEqual((r.status, body), (200, b"ok"))
        # Bound to ::1 only.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", d.port), timeout=2)

    def test_listener_off_no_wakeups(self):
        d = Driver("off")
        self.addCleanup(d.close)
        self.assertEqual(d.port, 0)
        time.sleep(0.3)
        before = int(status_field(d.pid, "voluntary_ctxt_switches"))
        time.sleep(2.0)
        self.assertEqual(int(status_field(d.pid, "voluntary_ctxt_switches")), before)

    def test_expiry_on_time_without_wakeups(self):
        # A certificate whose warning instant (notAfter - 1 day) is 4 s away.
        not_after = int(time.time()) + 86400 + 4
        cert = make_cert_ending_at(self.tmp, not_after)
        d = Driver(args=["--warn-days", "1"])
        self.addCleanup(d.close)
        d.cmd("written tls_cert tls-cert " + "ef" * 32 + " " + cert)
        due = not_after - 86400
        self.assertGreater(due - time.time(), 1.2, "too slow a start to measure")
        self.assertNotIn("certificate_expiring", d.log())
        time.sleep(0.3)
        before = int(status_field(d.pid, "voluntary_ctxt_switches"))
        while time.time() < due - 0.7:
            time.sleep(0.1)
        self.assertEqual(int(status_field(d.pid, "voluntary_ctxt_switches")), before,
                         "woke up before the certificate's warning instant")
        self.assertNotIn("certificate_expiring", d.log())
        deadline = time.monotonic() + 4
        while "certificate_expiring" not in d.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        logged_at = time.time()
        self.assertIn("level=warn event=certificate_expiring secret=tls_cert index=0", d.log())
        self.assertLess(logged_at - due, 1.5, "logged %.1f s late" % (logged_at - due))
        _, body = request(d.port, "GET", "/metrics")
        self.assertIn(b"\nsecret_agent_certificates_expiring 1\n", body)

    def test_sd_notify_in_order(self):
        sock_path = os.path.join(self.tmp, "notify.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        srv.bind(sock_path)
        srv.settimeout(5)
        self.addCleanup(srv.close)
        ready = os.path.join(self.tmp, "ready")
        d = Driver("off", args=["--ready-file", ready],
                   env=dict(os.environ, NOTIFY_SOCKET=sock_path))
        self.addCleanup(d.close)
        d.cmd("written signing_key ed25519 " + "ab" * 32)
        self.assertFalse(os.path.exists(ready))
        d.cmd("ready")
        self.assertEqual(os.stat(ready).st_mode & 0o7777, 0o444)
        with open(ready) as f:
            self.assertEqual(f.read(), "%d\n" % d.pid)
        d.cmd("rotation signing_key applied")
        d.cmd("stopping")
        self.assertFalse(os.path.exists(ready))
        msgs = [srv.recv(4096).decode() for _ in range(4)]
        self.assertEqual(msgs[0], "READY=1\nSTATUS=1 secrets written")
        self.assertRegex(msgs[1], r"^RELOADING=1\nMONOTONIC_USEC=\d+$")
        usec = int(msgs[1].split("=")[-1])
        self.assertLess(abs(usec / 1e6 - time.monotonic()), 5)
        self.assertRegex(msgs[2], r"^READY=1\nSTATUS=1 secrets written; last rotation applied "
                                  r"signing_key at \S+Z$")
        self.assertEqual(msgs[3], "STOPPING=1")


def make_cert_ending_at(tmp, not_after):
    """A self-signed certificate whose notAfter is the given second (openssl ca -enddate)."""
    ca = os.path.join(tmp, "ca")
    os.makedirs(ca, exist_ok=True)
    open(os.path.join(ca, "index.txt"), "w").close()
    with open(os.path.join(ca, "serial"), "w") as f:
        f.write("01\n")
    cnf = os.path.join(ca, "ca.cnf")
    with open(cnf, "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\nnew_certs_dir = %s\n"
                "serial = %s/serial\ndefault_md = default\npolicy = p\n"
                "[p]\ncommonName = supplied\n" % (ca, ca, ca))
    key, csr, cert = (os.path.join(ca, n) for n in ("k.pem", "csr.pem", "cert.pem"))
    satest.openssl("req", "-new", "-newkey", "ed25519", "-nodes", "-keyout", key, "-subj",
                   "/CN=soon", "-out", csr)
    end = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(not_after))
    start = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(not_after - 10 * 86400))
    satest.openssl("ca", "-batch", "-selfsign", "-config", cnf, "-keyfile", key, "-in", csr,
                   "-out", cert, "-startdate", start, "-enddate", end, "-notext")
    return cert


if __name__ == "__main__":
    if not os.access(DRIVER, os.X_OK):
        sys.stderr.write("SKIPPED: the observer driver %s is not built\n" % DRIVER)
        sys.exit(77)
    satest.main()
