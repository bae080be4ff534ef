#!/usr/bin/env python3
"""Writes the seed corpora for the fuzz harnesses: `make_corpus.py OUTDIR`.

Keys and certificates are generated now with the openssl CLI (nothing is committed), then
turned into the shapes secrets arrive in: CRLF, literal \\n, quotes, YAML indentation,
base64-wrapped PEM, v2 PKCS#8, other algorithms, bundles with text and foreign blocks.
OUTDIR/fuzz_pem_ed25519 and OUTDIR/fuzz_x509_bundle (one per harness) are (re)created.
"""
import base64
import os
import shutil
import subprocess
import sys
import tempfile


def openssl(*args, input=None):
    return subprocess.run(["openssl"] + list(args), input=input, check=True,
                          capture_output=True).stdout


def pem(label, der, width=64):
    b64 = base64.b64encode(der)
    body = b"\n".join(b64[i:i + width] for i in range(0, len(b64), width))
    return b"-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, body, label)


def variants(p):
    lines = p.strip().split(b"\n")
    one = b"\\n".join(lines)
    b64 = base64.b64encode(p)
    return [
        p, p.replace(b"\n", b"\r\n"), p.replace(b"\n", b"\r"), one, b'"' + one + b'"',
        b"'" + p + b"'", b"".join(b"  " + l + b"\n" for l in lines), b"\xef\xbb\xbf" + p, b64,
        b"\n".join(b64[i:i + 76] for i in range(0, len(b64), 76)), b"junk\n" + p, p + p,
    ]


def key_seeds():
    k = openssl("genpkey", "-algorithm", "ed25519")
    der = base64.b64decode(b"".join(l for l in k.splitlines() if not l.startswith(b"-----")))
    pub = openssl("pkey", "-pubout", "-outform", "DER", input=k)[-32:]
    v2 = bytes.fromhex("3051020101300506032b657004220420") + der[16:48] + b"\x81\x21\x00" + pub
    out = variants(k) + variants(pem(b"PRIVATE KEY", v2))
    out.append(openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:x", input=k))
    out.append(openssl("pkey", "-pubout", input=k))
    for alg, opts in (("ED448", []), ("X25519", []), ("RSA", ["rsa_keygen_bits:1024"]),
                      ("EC", ["ec_paramgen_curve:P-256"])):
        args = ["genpkey", "-algorithm", alg]
        for o in opts:
            args += ["-pkeyopt", o]
        out.append(openssl(*args))
    out.append(pem(b"PRIVATE KEY", bytes.fromhex("30812e") + der[2:]))
    out.append(pem(b"PRIVATE KEY", der + b"\x00"))
    out.append(pem(b"OPENSSH PRIVATE KEY", b"openssh-key-v1\x00" + bytes(40)))
    out.append(b"-----BEGIN PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\n" +
               base64.b64encode(der) + b"\n-----END PRIVATE KEY-----\n")
    return out


def cert_seeds(tmp):
    def path(n):
        return os.path.join(tmp, n)

    ext = path("ca.ext")
    with open(ext, "w") as f:
        f.write("[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n"
                "[leaf]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:db.example\n")
    openssl("genpkey", "-algorithm", "ed25519", "-out", path("ca.key"))
    openssl("req", "-new", "-key", path("ca.key"), "-subj", "/CN=Fuzz Root/O=Example",
            "-out", path("ca.csr"))
    openssl("x509", "-req", "-in", path("ca.csr"), "-signkey", path("ca.key"), "-days", "30",
            "-extfile", ext, "-extensions", "v3", "-out", path("ca.pem"))
    openssl("x509", "-req", "-in", path("ca.csr"), "-signkey", path("ca.key"), "-days", "30",
            "-out", path("v1.pem"))
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
            path("leaf.key"))
    openssl("req", "-new", "-key", path("leaf.key"), "-subj", "/CN=db.example", "-out",
            path("leaf.csr"))
    openssl("x509", "-req", "-in", path("leaf.csr"), "-CA", path("ca.pem"), "-CAkey",
            path("ca.key"), "-set_serial", "7", "-days", "20", "-extfile", ext, "-extensions",
            "leaf", "-out", path("leaf.pem"))
    ca, v1, leaf = (open(path(n), "rb").read() for n in ("ca.pem", "v1.pem", "leaf.pem"))
    key = open(path("leaf.key"), "rb").read()
    out = variants(ca) + [v1, leaf, leaf + ca, ca + v1, b"# root\n" + ca + b"note\n" + leaf,
                         ca + key, ca.replace(b"CERTIFICATE", b"X509 CRL")]
    der = openssl("x509", "-in", path("ca.pem"), "-outform", "DER")
    out.append(pem(b"CERTIFICATE", der + b"\x00"))
    out.append(pem(b"CERTIFICATE", der[:-10]))
    return out


def write(d, seeds):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "seed-%03d" % i), "wb") as f:
            f.write(s)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py OUTDIR")
    out = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        write(os.path.join(out, "fuzz_pem_ed25519"), key_seeds())
        write(os.path.join(out, "fuzz_x509_bundle"), cert_seeds(tmp))
    print("corpus written to %s" % out)


if __name__ == "__main__":
    main()
