"""`secret-agent validate`: flags, exit codes and what is printed.

Keys and certificates are generated here with openssl; every output is scanned for the key's
base64 body and seed.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
import valtest_keys as vk  # noqa: E402


class ValidateKeyCli(satest.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.key = vk.Ed25519Key()

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.tmp, "key.pem")
        with open(self.path, "wb") as f:
            f.write(self.key.pem)

    def run_validate(self, *args, **kw):
        r = satest.run_agent(["validate"] + list(args), **kw)
        for s in self.key.secrets():
            self.assertNotIn(s, r.stdout + r.stderr, "secret material in output")
        return r

    def test_valid_key_prints_both_fingerprints_and_no_domain(self):
        r = self.run_validate(self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("source: %s\n" % self.path, out)
        self.assertIn("type: ed25519\n", out)
        self.assertIn("status: valid\n", out)
        self.assertIn("fingerprint-sha256: %s\n" % self.key.fp, out)
        self.assertIn("jwk-thumbprint: %s\n" % self.key.jwk, out)
        self.assertIn("domain: none\n", out)
        self.assertEqual(r.stderr, b"")

    def test_domain_is_printed_and_unversioned_domain_warns(self):
        r = self.run_validate("--domain", "ai.signing.v1", self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"domain: ai.signing.v1\n", r.stdout)
        self.assertNotIn(b"warning:", r.stdout)
        r = self.run_validate("--domain", "cybermesh/ai-signing", self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"domain: cybermesh/ai-signing\n", r.stdout)
        self.assertIn(b"warning: domain tag 'cybermesh/ai-signing' carries no version", r.stdout)

    def test_key_id_forms(self):
        for kid in (self.key.fp[:16], self.key.fp, self.key.fp[:40].upper(), self.key.jwk):
            with self.subTest(kid):
                r = self.run_validate("--key-id", kid, self.path)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(("key-id: %s (matches)\n" % kid).encode(), r.stdout)
        r = self.run_validate("--key-id", "ai-service-2026-11", self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"key-id: ai-service-2026-11 (label, not checked)\n", r.stdout)
        self.assertIn(b"warning: key id 'ai-service-2026-11' is a free-form label", r.stdout)
        # 15 hex chars is too short to be a fingerprint: a label, with the warning.
        r = self.run_validate("--key-id", self.key.fp[:15], self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"free-form label", r.stdout)
        # A one-character change in a thumbprint is refused.
        bad = ("A" if self.key.jwk[0] != "A" else "B") + self.key.jwk[1:]
        r = self.run_validate("--key-id", bad, self.path)
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"does not match the key's JWK thumbprint", r.stderr)

    def test_json_document(self):
        r = self.run_validate("--json", "--domain", "d.v1", "--key-id", self.key.fp[:16],
                              self.path, "file:" + os.path.join(self.tmp, "missing"))
        self.assertEqual(r.returncode, 65)
        doc = json.loads(r.stdout)
        self.assertFalse(doc["valid"])
        ok, bad = doc["results"]
        self.assertEqual(ok["status"], "valid")
        self.assertEqual(ok["type"], "ed25519")
        self.assertEqual(ok["fingerprint_sha256"], self.key.fp)
        self.assertEqual(ok["jwk_thumbprint"], self.key.jwk)
        self.assertEqual(ok["domain"], "d.v1")
        self.assertTrue(ok["key_id_verified"])
        self.assertEqual(ok["pkcs8_version"], 1)
        self.assertEqual(bad["status"], "invalid")
        self.assertIn("reason", bad)

    def test_stdin_and_env_and_cred(self):
        r = self.run_validate("-", input=self.key.pem)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_validate("env:K", extra_env={"K": self.key.pem})
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_validate("cred:signing", extra_env={"CREDENTIALS_DIRECTORY": self.tmp})
        self.assertEqual(r.returncode, 65)  # no such credential
        os.rename(self.path, os.path.join(self.tmp, "signing"))
        r = self.run_validate("cred:signing", extra_env={"CREDENTIALS_DIRECTORY": self.tmp})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_unset_env_source(self):
        r = self.run_validate("--type", "ed25519", "env:AI_SIGNING_KEY_CONTENT")
        self.assertEqual(r.returncode, 78)
        self.assertEqual(r.stderr, b"env:AI_SIGNING_KEY_CONTENT: No signing key available: "
                         b"environment variable AI_SIGNING_KEY_CONTENT is not set\n")

    def test_any_invalid_source_makes_65(self):
        bad = os.path.join(self.tmp, "bad.pem")
        with open(bad, "wb") as f:
            f.write(vk.pem(b"PRIVATE KEY", vk.v1_der(bytes(32))))
        r = self.run_validate(self.path, bad, self.path)
        self.assertEqual(r.returncode, 65)
        self.assertEqual(r.stdout.count(b"status: valid\n"), 2)
        self.assertEqual(r.stderr, ("%s: the private key seed is all zero\n" % bad).encode())

    def test_usage_errors(self):
        cases = [
            ([], "no SOURCE given"),
            (["--bogus", self.path], "unknown option '--bogus'"),
            (["--type", "rsa", self.path], "unknown --type 'rsa'"),
            (["--type", "opaque", self.path], "unknown --type 'opaque'"),
            (["--type", "tls-key", self.path], "--type tls-key needs --cert SOURCE"),
            (["--warn-days", "soon", self.path], "--warn-days takes a number"),
            (["--domain"], "--domain needs a value"),
        ]
        for args, wording in cases:
            with self.subTest(args):
                r = self.run_validate(*args)
                self.assertEqual(r.returncode, 64, r.stderr)
                self.assertIn(wording.encode(), r.stderr)
                self.assertEqual(r.stdout, b"")

    def test_process_cannot_dump_core(self):
        # RLIMIT_CORE 0 before any secret is read. `-` blocks on stdin,
        # so the process can be inspected while it waits for the key.
        import subprocess
        import time
        p = subprocess.Popen([satest.AGENT, "validate", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # The soft limit is what stops a dump; the hard one stays so that a child of
            # `run` can have its inherited limit back.
            soft = None
            for _ in range(100):
                with open("/proc/%d/limits" % p.pid) as f:
                    line = [l for l in f if l.startswith("Max core file size")][0]
                soft = line.split()[4]
                if soft == "0":
                    break
                time.sleep(0.05)
            self.assertEqual(soft, "0")
            out, err = p.communicate(self.key.pem, timeout=30)
            self.assertEqual(p.returncode, 0, err)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_help(self):
        r = self.run_validate("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"usage: secret-agent validate", r.stdout)
        for flag in (b"--type", b"--domain", b"--key-id", b"--cert", b"--ca", b"--warn-days",
                     b"--json"):
            self.assertIn(flag, r.stdout)


class ValidateCertCli(satest.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.cf = vk.CertFactory(self.tmp)
        self.ca, self.ca_key = self.cf.self_signed("ca", "Test Root")
        self.inter, self.inter_key = self.cf.issued(
            "inter", "Test Intermediate", self.ca, self.ca_key,
            ext="basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        self.leaf, self.leaf_key = self.cf.issued("leaf", "db.example", self.inter,
                                                  self.inter_key, days=200, algorithm="EC")
        self.bundle = self.cat("bundle.pem", self.ca, self.inter)

    def cat(self, name, *paths, between=b""):
        out = os.path.join(self.tmp, name)
        with open(out, "wb") as f:
            f.write(between.join(vk.read(p) for p in paths))
        return out

    def run_validate(self, *args):
        r = satest.run_agent(["validate"] + list(args))
        for k in (self.ca_key, self.inter_key, self.leaf_key):
            self.assertNotIn(satest.pem_body(vk.read(k))[:40], r.stdout + r.stderr)
        return r

    def test_ca_bundle_is_x509_with_per_cert_details(self):
        r = self.run_validate(self.bundle)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("type: x509\n", out)
        self.assertIn("certificate 1:\n  subject: CN=Test Root\n  issuer: CN=Test Root\n", out)
        self.assertIn("certificate 2:\n  subject: CN=Test Intermediate\n", out)
        self.assertRegex(out, r"  days-left: 36[45]\n")
        self.assertIn("  notAfter: ", out)
        fps = []
        for path in (self.ca, self.inter):
            fp = satest.openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", path)
            fps.append(fp.decode().strip().split("=", 1)[1].replace(":", "").lower())
            self.assertIn("  fingerprint-sha256: %s\n" % fps[-1], out)
        r = self.run_validate("--json", self.bundle)
        self.assertEqual(r.returncode, 0, r.stderr)
        certs = json.loads(r.stdout)["results"][0]["certificates"]
        self.assertEqual([c["fingerprint_sha256"] for c in certs], fps)

    def test_leaf_chain_verifies_with_ca(self):
        chain = self.cat("chain.pem", self.leaf, self.inter)
        r = self.run_validate("--type", "tls-cert", "--ca", self.ca, chain)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"type: tls-cert\n", r.stdout)
        # Without the intermediate the chain cannot be built.
        r = self.run_validate("--type", "tls-cert", "--ca", self.ca, self.leaf)
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"certificate chain does not verify against the CA", r.stderr)

    def test_chain_against_another_ca_is_refused(self):
        other, _ = self.cf.self_signed("other", "Other Root")
        r = self.run_validate("--ca", other, self.cat("c.pem", self.leaf, self.inter))
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"certificate chain does not verify against the CA", r.stderr)

    def test_leaf_in_ca_bundle_is_not_a_ca(self):
        r = self.run_validate("--type", "x509", self.cat("b.pem", self.ca, self.leaf))
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"certificate 2 (CN=db.example) is not a CA", r.stderr)

    def test_ca_without_keycertsign_is_not_a_ca(self):
        bad, _ = self.cf.self_signed("noku", "No KU",
                                     ext="basicConstraints=critical,CA:TRUE\n"
                                     "keyUsage=critical,digitalSignature\n")
        r = self.run_validate("--type", "x509", bad)
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"(CN=No KU) is not a CA (its keyUsage lacks keyCertSign)", r.stderr)

    def test_v1_root_is_accepted_with_a_warning(self):
        v1, _ = self.cf.v1_root("v1", "Legacy Root")
        r = self.run_validate("--type", "x509", v1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"warning: certificate 1 (CN=Legacy Root) is an X.509 v1 self-signed root",
                      r.stdout)

    def test_expired_and_not_yet_valid(self):
        exp, _ = self.cf.issued("exp", "old", self.ca, self.ca_key,
                                startdate="20200101000000Z", enddate="20210101000000Z")
        fut, _ = self.cf.issued("fut", "new", self.ca, self.ca_key,
                                startdate="20400101000000Z", enddate="20410101000000Z")
        r = self.run_validate(exp)
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"certificate 1 (CN=old) expired on 2021-01-01", r.stderr)
        r = self.run_validate(fut)
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"certificate 1 (CN=new) is not yet valid until 2040-01-01", r.stderr)
        # One bad certificate among good ones is named by its index.
        r = self.run_validate(self.cat("mix.pem", self.ca, self.inter, exp))
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"certificate 3 (CN=old) expired on 2021-01-01", r.stderr)

    def test_expiry_warning_threshold(self):
        soon, _ = self.cf.issued("soon", "soon", self.ca, self.ca_key, days=10)
        r = self.run_validate(soon)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"warning: certificate 1 (CN=soon) expires in", r.stdout)
        r = self.run_validate("--warn-days", "0", soon)
        self.assertNotIn(b"warning:", r.stdout)
        r = self.run_validate("--warn-days", "5", soon)
        self.assertNotIn(b"warning:", r.stdout)
        r = self.run_validate("--warn-days", "400", self.ca)
        self.assertRegex(r.stdout, rb"expires in 36[45] days")

    def test_private_key_inside_bundle_is_refused(self):
        b = self.cat("withkey.pem", self.ca, self.leaf_key, self.inter)
        r = self.run_validate(b)
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"PEM block 2 is 'PRIVATE KEY', not a certificate", r.stderr)

    def test_explanatory_text_is_ignored_with_a_warning(self):
        b = self.cat("text.pem", self.ca, self.inter, between=b"# intermediate below\n")
        with open(b, "ab") as f:
            f.write(b"trailing note\n")
        r = self.run_validate(b)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"warning: text outside the PEM blocks ignored\n", r.stdout)

    def test_tls_key_matches_its_certificate(self):
        r = self.run_validate("--type", "tls-key", "--cert", self.leaf, self.leaf_key)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"algorithm: EC\n", r.stdout)
        r = self.run_validate("--type", "tls-key", "--cert", self.inter, self.leaf_key)
        self.assertEqual(r.returncode, 65)
        self.assertEqual(r.stderr, ("%s: key does not match certificate\n" %
                                    self.leaf_key).encode())
        # auto: a non-Ed25519 PKCS#8 key is a tls-key.
        r = self.run_validate("--cert", self.leaf, self.leaf_key)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"type: tls-key\n", r.stdout)

    def test_tls_key_canonical_output_equals_openssl(self):
        target = os.path.join(self.tmp, "out", "tls.key")
        r = satest.run_agent([
            "materialize", "--secret", "name=c,from=file:%s,type=tls-cert" % self.leaf,
            "--secret", "name=k,from=env:K,to=%s,type=tls-key,cert=c" % target
        ], extra_env={"K": vk.read(self.leaf_key).replace(b"\n", b"\r\n")})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(vk.read(target), satest.openssl("pkey", "-in", self.leaf_key))

    def test_certificate_written_canonical(self):
        # 76-column body and CRLF in, 64-column LF out: what `openssl x509` writes.
        der = satest.openssl("x509", "-in", self.ca, "-outform", "DER")
        wide = vk.pem(b"CERTIFICATE", der, width=76).replace(b"\n", b"\r\n")
        target = os.path.join(self.tmp, "out2", "root.crt")
        r = satest.run_agent(["materialize", "--secret",
                              "name=ca,from=env:CA,to=%s,type=x509" % target],
                             extra_env={"CA": wide})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(vk.read(target), satest.openssl("x509", "-in", self.ca))


if __name__ == "__main__":
    satest.main()
