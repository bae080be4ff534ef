"""A real Prometheus server (Debian package prometheus), started on 127.0.0.1 with a
one-target scrape config, scrapes the status listener: its query API sees
secret_agent_ready 1, and secret_agent_rotations_total rise after a rotation."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import satest
from test_status_listener import DRIVER, Driver


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusScrape(satest.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.d = Driver()
        self.addCleanup(self.d.close)
        self.web = free_port()
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: secret-agent\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % self.d.port)
        self.log = open(os.path.join(self.tmp, "prometheus.log"), "wb")
        self.prom = subprocess.Popen(
            ["prometheus", "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(self.tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.web, "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.tmp)
        self.addCleanup(self.stop_prometheus)

    def stop_prometheus(self):
        self.prom.terminate()
        try:
            self.prom.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.prom.kill()
            self.prom.wait()
        self.log.close()

    def query(self, expr):
        url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (self.web, urllib.parse.quote(expr))
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                doc = json.load(r)
        except OSError:
            return None
        if doc.get("status") != "success" or not doc["data"]["result"]:
            return None
        return float(doc["data"]["result"][0]["value"][1])

    def wait_for(self, expr, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            self.assertIsNone(self.prom.poll(), "prometheus exited")
            value = self.query(expr)
            if value is not None and predicate(value):
                return value
            time.sleep(0.5)
        with open(os.path.join(self.tmp, "prometheus.log"), "rb") as f:
            log = f.read().decode(errors="replace")[-2000:]
        self.fail("%s never matched (last value %r)\n%s" % (expr, value, log))

    def test_scrape(self):
        self.d.cmd("declare signing_key ed25519")
        self.d.cmd("written signing_key ed25519 " + "ab" * 32)
        # Not ready yet: scraped as 0 (the target itself is up).
        self.wait_for('up{job="secret-agent"}', lambda v: v == 1)
        self.assertEqual(self.wait_for("secret_agent_ready", lambda v: True), 0)
        self.d.cmd("ready")
        self.wait_for("secret_agent_ready", lambda v: v == 1)
        expr = 'secret_agent_rotations_total{secret="signing_key",result="applied"}'
        self.assertEqual(self.wait_for(expr, lambda v: True), 0)
        self.d.cmd("rotation signing_key applied")
        self.d.cmd("rotation signing_key applied")
        self.assertEqual(self.wait_for(expr, lambda v: v >= 2), 2)
        # Prometheus parsed the labels as they were meant.
        self.wait_for('secret_agent_secret_info{secret="signing_key",type="ed25519",'
                      'fingerprint="%s"}' % ("ab" * 32), lambda v: v == 1)


if __name__ == "__main__":
    if not shutil.which("prometheus"):
        sys.stderr.write("SKIPPED: prometheus is not installed (Debian package prometheus)\n")
        sys.exit(77)
    if not os.access(DRIVER, os.X_OK):
        sys.stderr.write("SKIPPED: the observer driver %s is not built\n" % DRIVER)
        sys.exit(77)
    satest.main()
