"""Trust bundles and validity windows: in a CA bundle (type x509) a certificate outside its
window is kept with a warning naming it and the date; the bundle is refused (65) only when none
is inside its window. A leaf, and the certificate given with a tls-key, is still refused.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import satest  # noqa: E402
import valtest_keys as vk  # noqa: E402

CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"


class TrustBundles(satest.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.cf = vk.CertFactory(self.tmp)
        self.ca, self.ca_key = self.cf.self_signed("ca", "Test Root")
        self.old_ca, _ = self.cf.issued("old", "Old CA", self.ca, self.ca_key, ext=CA_EXT,
                                        startdate="20200101000000Z", enddate="20210101000000Z")
        self.new_ca, _ = self.cf.issued("new", "Next CA", self.ca, self.ca_key, ext=CA_EXT,
                                        startdate="20400101000000Z", enddate="20410101000000Z")

    def cat(self, name, *paths):
        out = os.path.join(self.tmp, name)
        with open(out, "wb") as f:
            for p in paths:
                f.write(satest.read(p))
        return out

    def test_expired_ca_is_kept_with_a_warning(self):
        b = self.cat("b.pem", self.ca, self.old_ca, self.new_ca)
        r = satest.run_agent(["validate", "--type", "x509", b])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"warning: certificate 2 (CN=Old CA) expired on 2021-01-01 00:00:00 UTC; "
                      b"kept in the CA bundle\n", r.stdout)
        self.assertIn(b"warning: certificate 3 (CN=Next CA) is not yet valid until 2040-01-01 "
                      b"00:00:00 UTC; kept in the CA bundle\n", r.stdout)
        # auto sees a CA bundle too.
        r = satest.run_agent(["validate", b])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"type: x509\n", r.stdout)

    def test_bundle_with_nothing_inside_its_window_is_refused(self):
        r = satest.run_agent(["validate", "--type", "x509", self.old_ca])
        self.assertEqual(r.returncode, 65)
        self.assertEqual(r.stderr, b"%s: certificate 1 (CN=Old CA) expired on 2021-01-01 "
                         b"00:00:00 UTC\n" % self.old_ca.encode())
        b = self.cat("b.pem", self.old_ca, self.new_ca)
        r = satest.run_agent(["validate", "--type", "x509", b])
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"no certificate of the CA bundle is inside its validity window "
                      b"(certificate 1 (CN=Old CA) expired on 2021-01-01", r.stderr)

    def test_leaf_outside_its_window_is_refused(self):
        leaf, _ = self.cf.issued("leaf", "old.example", self.ca, self.ca_key,
                                 startdate="20200101000000Z", enddate="20210101000000Z")
        r = satest.run_agent(["validate", "--type", "tls-cert", leaf])
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"certificate 1 (CN=old.example) expired on 2021-01-01", r.stderr)

    def test_tls_key_with_an_expired_certificate_is_refused(self):
        leaf, key = self.cf.issued("leaf", "old.example", self.ca, self.ca_key,
                                   startdate="20200101000000Z", enddate="20210101000000Z",
                                   algorithm="EC")
        r = satest.run_agent(["validate", "--type", "tls-key", "--cert", leaf, key])
        self.assertEqual(r.returncode, 65, r.stdout)
        self.assertEqual(r.stderr, b"%s: certificate: certificate 1 (CN=old.example) expired "
                         b"on 2021-01-01 00:00:00 UTC\n" % key.encode())
        self.assertIn(b"status: invalid\n", r.stdout)

    def test_materialize_writes_the_bundle_with_the_expired_ca(self):
        b = self.cat("b.pem", self.ca, self.old_ca)
        target = os.path.join(self.tmp, "out", "root.crt")
        r = satest.run_agent(["materialize", "--secret",
                              "name=ca,from=file:%s,to=%s,type=x509" % (b, target)])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(satest.read(target), satest.read(b))
        self.assertIn(b"certificate 2 (CN=Old CA) expired on 2021-01-01 00:00:00 UTC; kept in "
                      b"the CA bundle", r.stderr)


if __name__ == "__main__":
    satest.main()
