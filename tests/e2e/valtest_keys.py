"""Key and certificate material for the validate tests, generated at test time.

Nothing here is a committed key: every key comes from `openssl genpkey` or os.urandom when the
test runs. The DER forms of RFC 8410 (v1, v2) are built by hand from a seed so the tests can
make exactly the malformed variants they need.
"""
import base64
import hashlib
import os

import satest

V1_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
V2_PREFIX = bytes.fromhex("3051020101300506032b657004220420")

# Published seeds (RFC 8032 §7.1 test 1, RFC 8410 §10.3): public knowledge, must be refused.
RFC8032_TEST1_SEED = bytes.fromhex(
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8410_EXAMPLE_PEM = (b"-----BEGIN PRIVATE KEY-----\n"
                       b"MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
                       b"-----END PRIVATE KEY-----\n")


def pem(label, der, width=64):
    b64 = base64.b64encode(der)
    lines = [b64[i:i + width] for i in range(0, len(b64), width)]
    return (b"-----BEGIN " + label + b"-----\n" + b"\n".join(lines) + b"\n-----END " + label +
            b"-----\n")


def der_of(pem_bytes):
    return base64.b64decode(satest.pem_body(pem_bytes))


def v1_der(seed):
    return V1_PREFIX + seed


def v2_der(seed, pk):
    return V2_PREFIX + seed + bytes.fromhex("812100") + pk


def fingerprints(pk):
    fp = hashlib.sha256(pk).hexdigest()
    x = base64.urlsafe_b64encode(pk).rstrip(b"=").decode()
    jwk = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % x
    thumb = base64.urlsafe_b64encode(hashlib.sha256(jwk.encode()).digest()).rstrip(b"=")
    return fp, thumb.decode()


class Ed25519Key:
    """A fresh key: its PEM, DER, seed and public key (the seed never leaves the test)."""

    def __init__(self):
        self.pem = satest.gen_ed25519_pem()
        self.der = der_of(self.pem)
        self.seed = self.der[16:48]
        self.pk = satest.ed25519_public_key(self.pem)
        self.fp, self.jwk = fingerprints(self.pk)

    def secrets(self):
        """Byte strings that must never appear in any output."""
        body = satest.pem_body(self.pem)
        return [body, body[:40], self.seed.hex().encode(), self.seed.hex().upper().encode(),
                base64.b64encode(self.seed).rstrip(b"="),
                base64.urlsafe_b64encode(self.seed).rstrip(b"=")]


def other_pkcs8(algorithm, *opts):
    """A PKCS#8 PEM of another algorithm (RSA, EC, Ed448, X25519)."""
    args = ["genpkey", "-algorithm", algorithm]
    for o in opts:
        args += ["-pkeyopt", o]
    return satest.openssl(*args)


class CertFactory:
    """Certificates made with the openssl CLI in a temp dir; dates set with `openssl ca`."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.n = 0

    def path(self, name):
        return os.path.join(self.tmp, name)

    def _run(self, *args):
        return satest.openssl(*args)

    def key(self, name, algorithm="ed25519"):
        p = self.path(name + ".key")
        with open(p, "wb") as f:
            opts = ["-pkeyopt", "ec_paramgen_curve:P-256"] if algorithm == "EC" else []
            f.write(satest.openssl("genpkey", "-algorithm", algorithm, *opts))
        return p

    def self_signed(self, name, cn, ext="basicConstraints=critical,CA:TRUE\n"
                    "keyUsage=critical,keyCertSign,cRLSign\n", days=365, algorithm="ed25519"):
        key = self.key(name, algorithm)
        extfile = self.path(name + ".ext")
        with open(extfile, "w") as f:
            f.write("[v3]\nsubjectKeyIdentifier=hash\n" + ext)
        out = self.path(name + ".pem")
        csr = self.path(name + ".csr")
        self._run("req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", csr)
        self._run("x509", "-req", "-in", csr, "-signkey", key, "-days", str(days), "-extfile",
                  extfile, "-extensions", "v3", "-out", out)
        return out, key

    def v1_root(self, name, cn):
        key = self.key(name)
        out = self.path(name + ".pem")
        csr = self.path(name + ".csr")
        self._run("req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", csr)
        # x509 -req without -extfile writes a v1 certificate.
        self._run("x509", "-req", "-in", csr, "-signkey", key, "-days", "365", "-out", out)
        return out, key

    def issued(self, name, cn, ca_pem, ca_key, ext="basicConstraints=critical,CA:FALSE\n",
               days=365, startdate=None, enddate=None, algorithm="ed25519"):
        """A certificate signed by ca; startdate/enddate (YYYYMMDDHHMMSSZ) via `openssl ca`."""
        key = self.key(name, algorithm)
        csr = self.path(name + ".csr")
        out = self.path(name + ".pem")
        extfile = self.path(name + ".ext")
        with open(extfile, "w") as f:
            f.write("[v3]\n" + ext)
        self._run("req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", csr)
        if startdate is None and enddate is None:
            self._run("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
                      "-set_serial", str(self._serial()), "-days", str(days), "-extfile",
                      extfile, "-extensions", "v3", "-out", out)
            return out, key
        cadir = self.path("ca-" + name)
        os.makedirs(os.path.join(cadir, "new"), exist_ok=True)
        open(os.path.join(cadir, "index.txt"), "w").close()
        with open(os.path.join(cadir, "serial"), "w") as f:
            f.write("%04X\n" % self._serial())
        cnf = os.path.join(cadir, "ca.cnf")
        with open(cnf, "w") as f:
            f.write("[ca]\ndefault_ca=d\n[d]\ndir=%s\ndatabase=$dir/index.txt\n"
                    "new_certs_dir=$dir/new\nserial=$dir/serial\ndefault_md=default\n"
                    "policy=p\nunique_subject=no\n[p]\ncommonName=supplied\n" % cadir)
        args = ["ca", "-batch", "-config", cnf, "-cert", ca_pem, "-keyfile", ca_key, "-in", csr,
                "-out", out, "-notext", "-extfile", extfile, "-extensions", "v3"]
        if startdate:
            args += ["-startdate", startdate]
        if enddate:
            args += ["-enddate", enddate]
        self._run(*args)
        return out, key

    def _serial(self):
        self.n += 1
        return 1000 + self.n
