"""No copy of a TLS private key's secret numbers is left in the agent's writable memory after
validation: OpenSSL's PKCS#8 decoder frees DER copies and the key's numbers, and freed heap is
not cleared by default. The agent runs a TLS pair with a sleeping child; its readable and
writable mappings are then scanned (/proc/PID/mem) for the EC scalar and the RSA private
exponent and primes, both as DER/big-endian bytes and as BIGNUM little-endian limbs.
"""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
import runtest_util as rt  # noqa: E402
from mattest_util import write_config  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
import datetime  # noqa: E402


def self_signed(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mem.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def secret_numbers(key):
    """(label, big-endian bytes) of the numbers that give the private key away."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return [("EC scalar", key.private_numbers().private_value.to_bytes(32, "big"))]
    n = key.private_numbers()
    size = key.key_size // 8
    return [("RSA d", n.d.to_bytes(size, "big")), ("RSA p", n.p.to_bytes(size // 2, "big")),
            ("RSA q", n.q.to_bytes(size // 2, "big"))]


def writable_memory(pid):
    """Yields (mapping line, bytes) for every readable and writable private mapping."""
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) rw", line)
            if not m:
                continue
            start, end = int(m.group(1), 16), int(m.group(2), 16)
            try:
                mem.seek(start)
                yield line.strip(), mem.read(end - start)
            except OSError:
                continue


class KeyMemory(satest.TempDirTestCase):
    def scan_after_run(self, key):
        satest.require_root("reads the agent's /proc/PID/mem (the agent is not dumpable)")
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        for name, data in (("tls.key.src", key_pem), ("tls.crt.src", self_signed(key))):
            with open(os.path.join(self.tmp, name), "wb") as f:
                f.write(data)
        out = os.path.join(self.tmp, "out")
        cfg = write_config(os.path.join(self.tmp, "agent.ini"), """
[secret "tls_cert"]
from = file:{d}/tls.crt.src
to = {o}/tls.crt
type = tls-cert
[secret "tls_key"]
from = file:{d}/tls.key.src
to = {o}/tls.key
type = tls-key
cert = tls_cert
""".format(d=self.tmp, o=out))
        p = rt.start(["--config", cfg], ["sleep", "120"])
        self.addCleanup(rt.kill_quietly, p)
        self.assertTrue(rt.wait_for(lambda: any(
            os.path.basename(os.readlink("/proc/%d/exe" % c)) == "sleep"
            for c in rt.children(p.pid) if os.path.exists("/proc/%d/exe" % c))),
            "the agent never started its child")
        self.assertTrue(os.path.exists(os.path.join(out, "tls.key")))
        found = []
        scanned = 0
        for label, be in secret_numbers(key):
            for region, data in writable_memory(p.pid):
                scanned += len(data)
                for form, needle in (("big-endian", be), ("little-endian", be[::-1])):
                    if needle in data:
                        found.append("%s (%s) in %s" % (label, form, region))
        self.assertGreater(scanned, 0, "nothing of the agent's memory could be read")
        self.assertEqual(found, [], "private key numbers left in the agent's memory")

    def test_ec_key_leaves_no_scalar(self):
        self.scan_after_run(ec.generate_private_key(ec.SECP256R1()))

    def test_rsa_key_leaves_no_private_numbers(self):
        self.scan_after_run(rsa.generate_private_key(public_exponent=65537, key_size=2048))


if __name__ == "__main__":
    satest.main()
