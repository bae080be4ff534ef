#!/usr/bin/env python3
"""Writes the seed corpora for the fuzz harnesses: `make_corpus.py OUTDIR`.

Keys and certificates are generated now with the openssl CLI (nothing is committed), then
turned into the shapes secrets arrive in: CRLF, literal \\n, quotes, YAML indentation,
base64-wrapped PEM, v2 PKCS#8, other algorithms, bundles with text and foreign blocks.
The agent's parsers get hand-written seeds: config files (and the packaged ones), argument
vectors, TCP address lists, pidfiles, mountinfo text and kubelet volume layout programs.
OUTDIR/NAME is (re)created for every harness NAME.
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


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CONFIGS = [
    b"",
    b"[agent]\n",
    b"[agent]\nuser = root\ngroup = root\non_change = signal:SIGHUP\ndebounce = 500ms\n",
    b"[agent]\non_change = restart\npoll_interval = 2s\ngrace = 1m\nkill_after = 1h\n"
    b"hook_timeout = 250ms\nsignal_group = yes\nprivileged_watcher = no\n"
    b"log_format = json\nlog_level = debug\n",
    b"[agent]\non_change = exec:/usr/local/bin/reload\n[agent]\non_change = none\n",
    b"[preflight]\nrequire_env = A B\nrequire_dir = /tmp /run\n"
    b"wait_tcp = 127.0.0.1:6379 [::1]:9092\n"
    b"wait_any_tcp = PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9093\ntimeout = 5s\n",
    b"[preflight]\nrequire_env = A\n  B C\n\tD ; comment\nwait_tcp = ${FUZZ_HOST}\n",
    b"[secret \"signing_key\"]\nfrom = env:KEY\nto = /tmp/keys/signing.pem\ntype = ed25519\n"
    b"domain = svc.signing.v1\nkey_id = k1\nmode = 0400\nowner = 0\ngroup = 0\n"
    b"scrub_env = no\n",
    b"[secret \"ca\"]\nfrom = file:${FUZZ_DIR:-/run/secrets}/ca.crt\ntype = x509\n"
    b"[secret \"crt\"]\nfrom = file:/run/tls/tls.crt\nto = /app/tls.crt\ntype = tls-cert\n"
    b"ca = ca\n[secret \"key\"]\nfrom = cred:tls.key\nto = /app/tls.key\ntype = tls-key\n"
    b"cert = crt\nowner = root\n",
    b"[secret \"stdin\"]\nfrom = -\nto = /tmp/$$literal\n[dir \"/app/certs\"]\nmode = 0750\n"
    b"owner = root\n[dir \"/app/logs\"]\n",
    b"[secret \"x\"]\nfrom = env:${FUZZ_UNSET}\n[preflight]\nrequire_env = FUZZ_UNSET\n",
    b"[secret \"x\"]\nfrom = ${FUZZ_EMPTY:-env:A}\nto = ${FUZZ_UNSET:-/a/b}\n",
    b"\xef\xbb\xbf; bom\r\n[agent]\r\nuser = ${FUZZ_USER}\r\n",
    b"[preflight]\nrequire_env = " + b" ".join(b"VAR_%d" % i for i in range(60)) + b"\n",
    b"[agent]\nuser = nobody\nunknown = 1\n",
    b"[secret x]\n", b"[dir \"rel\"]\n", b"key = value\n", b"[agent\n", b"[agent] x\n",
    b"[secret \"a\"]\nfrom = env:A\nfrom = env:B\n",
    b"[secret \"a\"]\nfrom = env:A\n[secret \"a\"]\nfrom = env:B\n",
    b"[secret \"a\"]\nfrom = evn:A\n", b"[secret \"a\"]\nfrom = env:A\nto = /a/../b\n",
    b"[agent]\ndebounce = 5\ngrace = 18446744073709551615ms\n",
]


def packaged_configs():
    out = []
    for sub in ("packaging/docker/backend", "packaging/docker/ai-service"):
        path = os.path.join(ROOT, sub, "secret-agent.conf")
        if os.path.exists(path):
            with open(path, "rb") as f:
                conf = f.read()
            out += [conf, conf.replace(b"cybermesh", b"root")]
    return out


FLAGS = [
    b"",
    b"--secret\nname=k,from=env:FUZZ_KEY,to=/tmp/k.pem,type=ed25519",
    b"--secret=name=k,from=env:A\n--secret=name=c,from=file:/run/c.crt,type=x509,mode=0444",
    b"--secret\nto=/tmp/k,name=k,from=env:A\n--user\nroot\n--group=root",
    b"--secret\nto=rel,name=k,from=env:A",
    b"--secret\nname=crt,from=/a,type=tls-cert,ca=ca\n--secret\nname=ca,from=/b,type=x509\n"
    b"--secret\nname=key,from=/c,type=tls-key,cert=crt,owner=0,group=0,scrub_env=no",
    b"--require-env\nA B\n--require-dir=/tmp\n--wait-tcp\n127.0.0.1:1\n"
    b"--wait-any-tcp=PLAINTEXT://h:1,[::1]:2\n--timeout\n2s",
    b"--on-change\nsignal:USR1\n--debounce=0\n--poll-interval\n1s\n--grace=3s\n"
    b"--kill-after=1m\n--hook-timeout=10s\n--log-format=json\n--log-level\nwarn",
    b"--signal-group\n--privileged-watcher=no\n--notify-pidfile\n/run/app.pid\n--\ncmd",
    b"!--notify-pidfile\n/run/app.pid",
    b"--signal-group\nno\nserve\n--port",
    b"--secret\nname=a,name=b", b"--secret\nfrom=env:A", b"--secret\nname=k,bogus",
    b"--secret\nname=k,from=env:A,to=/x,to=/y", b"--secret\nname=k,from=env:A$$B",
    b"--help", b"-h", b"--bogus", b"--user", b"--timeout\n5",
]

TCP = [
    b"\x00127.0.0.1:6379", b"\x00[::1]:9092", b"\x01PLAINTEXT://kafka-0:9092,SSL://[fe80::1]:9093",
    b"\x01a:1 b:2\tc:3,d:4", b"\x00localhost:65535", b"\x00host:0", b"\x00host:65536",
    b"\x00host:007", b"\x00::1:80", b"\x00[::1]80", b"\x00[]:1", b"\x00:1", b"\x00host:",
    b"\x00://h:1", b"\x00SASL_SSL://b.example.com:9094", b"\x00x+y.z-w://h:1",
    b"\x00h\xffst:1", b"\x00" + b"a" * 300 + b":1", b"\x01,,, ,",
]

PIDFILES = [
    b"1\n", b"4242\n", b"  77  \n", b"\t12\r\n", b"+5", b"0\n", b"-1\n", b"2147483647",
    b"2147483648", b"99999999999999999999", b"12abc", b"abc", b"", b"\n", b"1 2",
    b"12\x00junk", b"1" + b" " * 40 + b"x",
]

MOUNTINFO = [
    b"/run/secrets/key\n36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw\n",
    b"/with space\n22 1 8:1 / / rw - ext4 /dev/sda1 rw\n23 22 0:5 / /with\\040space rw - tmpfs t rw\n",
    b"/a\\b\n1 2 3:4 / /a\\134b rw - x y rw\n1 2 3:4 / /a\\012b rw - x y rw\n",
    b"/x\n1 2\n\n   \n1 2 3 4\n1 2 3 4 5\n\\0\\1\\77\\400 a b c d\n",
]


def own_mountinfo():
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            return [b"/proc\n" + f.read()]
    except OSError:
        return []


def layout(*ops, path=b""):
    """A kubelet layout program: ops are byte strings, path the source below the volume."""
    return b"".join(ops) + b"\xff" + path


# Indexes into the harness's tables (names: ..data=0, ..2026_01=1, ..2026_02=2, ..data_tmp=3,
# key=4, tls.crt=5, tls.key=6, ca.crt=7, sub=8, ..data/key=9, ..data/sub=10, sub/key=11,
# ..2026_01/key=12, ..2026_02/key=13, key/=14, ..=15; targets: ..data/key=0, ..2026_01=1,
# ..2026_02=2, ..data=3, key=4, ../key=5, /=6, /nonexistent=7, .=8, ..data/tls.crt=9,
# sub/key=10, ..data_tmp=11, ..data/..data/key=12, ""=13, /dev/null=14, /etc/hostname=15).
def mkdir(n):
    return bytes([0, n])


def symlink(n, t):
    return bytes([1, n, t])


def write_file(n, content):
    return bytes([2, n, len(content)]) + content


def rename(a, b):
    return bytes([3, a, b])


KUBELET = [
    layout(mkdir(1), write_file(12, b"key-v1\n"), symlink(0, 1), symlink(4, 0), path=b"key"),
    layout(mkdir(1), write_file(12, b"v1"), mkdir(2), write_file(13, b"v2"), symlink(0, 1),
           symlink(4, 0), symlink(3, 2), rename(3, 0), path=b"key"),
    layout(symlink(4, 4), path=b"key"),
    layout(symlink(0, 3), symlink(4, 0), path=b"key"),
    layout(mkdir(8), write_file(11, b"nested"), path=b"sub/key"),
    layout(symlink(4, 6), path=b"key"),
    layout(symlink(4, 14), path=b"key"),
    layout(mkdir(4), path=b"key"),
    layout(write_file(4, b""), path=b"key"),
    layout(write_file(4, b"x" * 63), path=b"key/"),
    layout(mkdir(1), symlink(0, 1), write_file(9, b"through"), path=b"..data/key"),
    layout(path=b"missing"),
    layout(bytes([0x80, 8]), write_file(11, b"locked"), path=b"sub/key"),
]


def write(d, seeds):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "seed-%03d" % i), "wb") as f:
            f.write(s)


def http_get(path, method=b"GET", version=b"HTTP/1.1", extra=b""):
    return (method + b" " + path + b" " + version + b"\r\nHost: 127.0.0.1:9464\r\n" + extra +
            b"\r\n")


# Status listener: what a client sends on one connection.
STATUS_HTTP = [
    http_get(b"/healthz"), http_get(b"/readyz"), http_get(b"/metrics"), http_get(b"/nope"),
    http_get(b"/metrics", b"HEAD"), http_get(b"/healthz", b"POST",
                                             extra=b"Content-Length: 4\r\n") + b"abcd",
    http_get(b"/healthz", b"DELETE"), http_get(b"/healthz", version=b"HTTP/1.0"),
    http_get(b"/healthz", version=b"HTTP/2.0"), http_get(b"/healthz", version=b"HTTP/1.1",
                                                         extra=b"Connection: close\r\n"),
    http_get(b"/healthz") + http_get(b"/readyz") + http_get(b"/metrics"),
    http_get(b"/healthz", extra=b"X-Big: " + b"a" * 9000 + b"\r\n"),
    http_get(b"/healthz", extra=b"X-Big: " + b"a" * 20000 + b"\r\n"),
    http_get(b"/" + b"a" * 9000),
    http_get(b"/healthz", extra=b"Transfer-Encoding: chunked\r\n") + b"4\r\nabcd\r\n0\r\n\r\n",
    http_get(b"/healthz", extra=b"Expect: 100-continue\r\nContent-Length: 3\r\n") + b"abc",
    http_get(b"/metrics?x=1&y=%00"), http_get(b"/healthz").replace(b"\r\n", b"\n"),
    b"GET /healthz\r\n\r\n", b"GET\r\n\r\n", b"\r\n\r\n", b"GET /healthz HTTP/1.1\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01",
]


def metrics_program(*ops):
    return b"".join(ops)


def m_secret(name, type_index):
    return bytes([0, len(name) - 1]) + bytes(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@+-".index(c)
        for c in name) + bytes([type_index])


def m_write(index, type_index, fp, when, certs=()):
    out = bytes([1, index, type_index, 1 if fp else 0])
    if fp:
        out += bytes(range(16))
    out += when.to_bytes(4, "big") + (123).to_bytes(2, "big") + bytes([len(certs)])
    for subject, not_after in certs:
        out += bytes([len(subject)]) + subject + (not_after + 62167219200).to_bytes(5, "big")
    return out


# Metrics registry programs (ops: 0 declare, 1 write, 2 rotation, 3 notification).
METRICS = [
    b"",
    metrics_program(m_secret("signing_key", 1), m_write(0, 1, True, 1767225600)),
    metrics_program(m_secret("tls.crt", 3), m_write(0, 3, True, 1767225600, [
        (b"CN=svc.example,O=Example\\, Inc.", 1798761600),
        (b'CN=quote"back\\slash\nnewline', 1798761600), (b"CN=\xc3\xa9t\xc3\xa9", 0)])),
    metrics_program(m_secret("db:password", 0), m_write(0, 0, False, 1), bytes([2, 0x10]),
                    bytes([2, 0x00]), bytes([2, 0x20]), bytes([3, 1, 6]) + b"signal",
                    bytes([3, 0, 7]) + b"restart", bytes([3, 1, 4]) + b"exec"),
    metrics_program(m_secret("a", 2), m_secret("b-" + "x" * 62, 4), bytes([2, 0x11]),
                    m_write(1, 4, True, 4294967295, [(b"\xff\xfe\x00bad", -62167219200)])),
]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py OUTDIR")
    out = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        write(os.path.join(out, "fuzz_pem_ed25519"), key_seeds())
        write(os.path.join(out, "fuzz_x509_bundle"), cert_seeds(tmp))
    write(os.path.join(out, "fuzz_config"), CONFIGS + packaged_configs())
    write(os.path.join(out, "fuzz_flags"), FLAGS)
    write(os.path.join(out, "fuzz_tcp_address"), TCP)
    write(os.path.join(out, "fuzz_pidfile"), PIDFILES)
    write(os.path.join(out, "fuzz_mountinfo"), MOUNTINFO + own_mountinfo())
    write(os.path.join(out, "fuzz_kubelet_layout"), KUBELET)
    write(os.path.join(out, "fuzz_status_http"), STATUS_HTTP)
    write(os.path.join(out, "fuzz_metrics"), METRICS)
    print("corpus written to %s" % out)


if __name__ == "__main__":
    main()
