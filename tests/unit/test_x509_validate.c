/* X.509 bundles, TLS certificates and TLS keys through sfs_validate. Certificates are built
 * here with OpenSSL's API so every property can be set exactly: validity windows in the past
 * or future, CA flags, keyUsage, X.509 v1, a self-issued certificate signed by another key. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "secret_fs/validate.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400L
#define NOW ((time_t)1800000000) /* 2027-01-15: fixed so the tests never depend on the clock */

struct cert_spec {
	const char *cn;
	long not_before; /* seconds from NOW */
	long not_after;
	int ca;		       /* -1: no basicConstraints, 0: CA:FALSE, 1: CA:TRUE */
	const char *key_usage; /* NULL: no keyUsage extension */
	bool v1;
};

static EVP_PKEY *new_key(const char *alg)
{
	EVP_PKEY *k;

	if (strcmp(alg, "EC") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(alg, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, alg);
	assert_non_null(k);
	return k;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(cert, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* Issued by `issuer` (NULL: self-issued) and signed with `signer`. */
static X509 *make_cert(const struct cert_spec *s, EVP_PKEY *key, X509 *issuer, EVP_PKEY *signer)
{
	static long serial = 1;
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(c);
	X509_set_version(c, s->v1 ? X509_VERSION_1 : X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)s->cn, -1, -1,
				   0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	X509_time_adj(X509_getm_notBefore(c), s->not_before, &(time_t){NOW});
	X509_time_adj(X509_getm_notAfter(c), s->not_after, &(time_t){NOW});
	X509_set_pubkey(c, key);
	if (!s->v1) {
		if (s->ca >= 0)
			add_ext(c, issuer ? issuer : c, NID_basic_constraints,
				s->ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
		if (s->key_usage)
			add_ext(c, issuer ? issuer : c, NID_key_usage, s->key_usage);
	}
	assert_true(
	    X509_sign(c, signer,
		      EVP_PKEY_get_base_id(signer) == EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0);
	return c;
}

/* Appends the PEM of `cert` (or of `key`) to a growing heap string. */
static void append_pem(char **buf, X509 *cert, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	size_t old = *buf ? strlen(*buf) : 0;

	if (cert)
		assert_int_equal(PEM_write_bio_X509(bio, cert), 1);
	else
		assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &data);
	*buf = realloc(*buf, old + (size_t)n + 1);
	assert_non_null(*buf);
	memcpy(*buf + old, data, (size_t)n);
	(*buf)[old + (size_t)n] = '\0';
	BIO_free(bio);
}

static void append_text(char **buf, const char *text)
{
	size_t old = *buf ? strlen(*buf) : 0;
	*buf = realloc(*buf, old + strlen(text) + 1);
	assert_non_null(*buf);
	strcpy(*buf + old, text);
}

struct pki {
	EVP_PKEY *root_key, *inter_key, *leaf_key;
	X509 *root, *inter, *leaf;
};

static const struct cert_spec root_spec = {
    "Root", -DAY, 3650 * DAY, 1, "critical,keyCertSign,cRLSign", false};
static const struct cert_spec inter_spec = {"Inter", -DAY, 1000 * DAY, 1, "critical,keyCertSign",
					    false};
static const struct cert_spec leaf_spec = {"leaf.example",     -DAY, 90 * DAY, 0,
					   "digitalSignature", false};

static int setup(void **state)
{
	struct pki *p = calloc(1, sizeof(*p));

	p->root_key = new_key("ED25519");
	p->inter_key = new_key("EC");
	p->leaf_key = new_key("RSA");
	p->root = make_cert(&root_spec, p->root_key, NULL, p->root_key);
	p->inter = make_cert(&inter_spec, p->inter_key, p->root, p->root_key);
	p->leaf = make_cert(&leaf_spec, p->leaf_key, p->inter, p->inter_key);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pki *p = *state;
	X509_free(p->root);
	X509_free(p->inter);
	X509_free(p->leaf);
	EVP_PKEY_free(p->root_key);
	EVP_PKEY_free(p->inter_key);
	EVP_PKEY_free(p->leaf_key);
	free(p);
	return 0;
}

static int run(enum sfs_secret_type type, const char *pem, const char *cert, const char *ca,
	       int warn_days, struct sfs_validate_result *res, struct sfs_error *err)
{
	struct sfs_validate_req req = {
	    .type = type,
	    .data = (const unsigned char *)pem,
	    .len = strlen(pem),
	    .cert = (const unsigned char *)cert,
	    .cert_len = cert ? strlen(cert) : 0,
	    .ca = (const unsigned char *)ca,
	    .ca_len = ca ? strlen(ca) : 0,
	    .warn_days = warn_days,
	    .now = NOW,
	};
	memset(err, 0, sizeof(*err));
	return sfs_validate(&req, res, err);
}

static void expect(enum sfs_secret_type type, const char *pem, const char *cert, const char *ca,
		   int rc, const char *wording)
{
	struct sfs_validate_result res;
	struct sfs_error err;

	assert_int_equal(run(type, pem, cert, ca, 0, &res, &err), rc);
	if (wording && !strstr(err.msg, wording))
		fail_msg("expected '%s' in '%s'", wording, err.msg);
	sfs_validate_result_free(&res);
}

static void test_ca_bundle_valid_and_canonical(void **state)
{
	struct pki *p = *state;
	struct sfs_validate_result res;
	struct sfs_error err;
	char *bundle = NULL, *wide;

	append_pem(&bundle, p->root, NULL);
	append_pem(&bundle, p->inter, NULL);
	/* CRLF input: the canonical output is OpenSSL's own LF PEM, byte for byte. */
	wide = calloc(1, strlen(bundle) * 2 + 1);
	for (size_t i = 0, j = 0; bundle[i]; i++) {
		if (bundle[i] == '\n')
			wide[j++] = '\r';
		wide[j++] = bundle[i];
	}
	assert_int_equal(run(SFS_TYPE_X509, wide, NULL, NULL, 0, &res, &err), 0);
	assert_int_equal(res.ncerts, 2);
	assert_string_equal(res.certs[0].subject, "CN=Root");
	assert_string_equal(res.certs[1].issuer, "CN=Root");
	assert_int_equal(res.certs[1].days_left, 1000);
	assert_true(res.certs[0].is_ca);
	assert_int_equal(res.canonical.len, strlen(bundle));
	assert_memory_equal(res.canonical.data, bundle, strlen(bundle));
	sfs_validate_result_free(&res);
	/* auto: every certificate a CA means x509. */
	assert_int_equal(run(SFS_TYPE_AUTO, bundle, NULL, NULL, 0, &res, &err), 0);
	assert_int_equal(res.type, SFS_TYPE_X509);
	sfs_validate_result_free(&res);
	free(wide);
	free(bundle);
}

static bool has_warning(const struct sfs_validate_result *res, const char *a, const char *b)
{
	for (unsigned i = 0; i < res->warnings.count; i++)
		if (strstr(res->warnings.msg[i], a) && strstr(res->warnings.msg[i], b))
			return true;
	return false;
}

static void test_validity_window(void **state)
{
	struct pki *p = *state;
	struct cert_spec expired = {"old", -400 * DAY, -DAY, 1, NULL, false};
	struct cert_spec future = {"new", 10 * DAY, 400 * DAY, 1, NULL, false};
	X509 *e = make_cert(&expired, p->inter_key, p->root, p->root_key);
	X509 *f = make_cert(&future, p->inter_key, p->root, p->root_key);
	char *pem2 = NULL, *both = NULL, *chain = NULL;

	append_pem(&pem2, f, NULL);
	expect(SFS_TYPE_X509, pem2, NULL, NULL, -EINVAL,
	       "certificate 1 (CN=new) is not yet valid until 2027-01-2");
	expect(SFS_TYPE_TLS_CERT, pem2, NULL, NULL, -EINVAL, "is not yet valid until");
	/* A CA bundle with no certificate inside its window is refused, naming the first. */
	append_pem(&both, e, NULL);
	append_pem(&both, f, NULL);
	expect(SFS_TYPE_X509, both, NULL, NULL, -EINVAL,
	       "no certificate of the CA bundle is inside its validity window (certificate 1 "
	       "(CN=old) expired on 2027-01-");
	/* A leaf's chain: every certificate inside its window. */
	append_pem(&chain, p->leaf, NULL);
	append_pem(&chain, e, NULL);
	expect(SFS_TYPE_TLS_CERT, chain, NULL, NULL, -EINVAL,
	       "certificate 2 (CN=old) expired on 2027-01-");
	X509_free(e);
	X509_free(f);
	free(pem2);
	free(both);
	free(chain);
}

static int run_omit(const char *pem, bool omit, struct sfs_validate_result *res,
		    struct sfs_error *err)
{
	struct sfs_validate_req req = {
	    .type = SFS_TYPE_X509,
	    .data = (const unsigned char *)pem,
	    .len = strlen(pem),
	    .now = NOW,
	    .omit_expired = omit,
	};
	memset(err, 0, sizeof(*err));
	return sfs_validate(&req, res, err);
}

/* A CA bundle is a trust store: one certificate outside its window (an old CA kept after a
 * rotation, a new one not yet valid) is kept with a warning naming it and the date, or left
 * out of the written bundle with omit_expired. */
static void test_trust_bundle_keeps_expired(void **state)
{
	struct pki *p = *state;
	struct cert_spec expired = {"old", -400 * DAY, -DAY, 1, NULL, false};
	struct cert_spec future = {"new", 10 * DAY, 400 * DAY, 1, NULL, false};
	X509 *e = make_cert(&expired, p->inter_key, p->root, p->root_key);
	X509 *f = make_cert(&future, p->inter_key, p->root, p->root_key);
	char *pem = NULL, *kept = NULL;
	struct sfs_validate_result res;
	struct sfs_error err;

	append_pem(&pem, p->root, NULL);
	append_pem(&pem, e, NULL);
	append_pem(&pem, p->inter, NULL);
	append_pem(&pem, f, NULL);
	append_pem(&kept, p->root, NULL);
	append_pem(&kept, p->inter, NULL);

	assert_int_equal(run_omit(pem, false, &res, &err), 0);
	assert_int_equal(res.ncerts, 4);
	assert_true(has_warning(&res, "certificate 2 (CN=old) expired on 2027-01-",
				"kept in the CA bundle"));
	assert_true(has_warning(&res, "certificate 4 (CN=new) is not yet valid until 2027-01-2",
				"kept in the CA bundle"));
	assert_int_equal(res.canonical.len, strlen(pem));
	assert_memory_equal(res.canonical.data, pem, strlen(pem));
	sfs_validate_result_free(&res);

	assert_int_equal(run_omit(pem, true, &res, &err), 0);
	assert_int_equal(res.ncerts, 4);
	assert_true(has_warning(&res, "certificate 2 (CN=old) expired on",
				"left out of the written bundle (omit_expired)"));
	assert_true(has_warning(&res, "certificate 4 (CN=new) is not yet valid until",
				"left out of the written bundle"));
	assert_int_equal(res.canonical.len, strlen(kept));
	assert_memory_equal(res.canonical.data, kept, strlen(kept));
	sfs_validate_result_free(&res);

	/* Nothing outside: omit_expired writes the bundle as it is. */
	assert_int_equal(run_omit(kept, true, &res, &err), 0);
	assert_int_equal(res.warnings.count, 0);
	assert_int_equal(res.canonical.len, strlen(kept));
	sfs_validate_result_free(&res);
	X509_free(e);
	X509_free(f);
	free(pem);
	free(kept);
}

/* The certificate given with a tls-key is a leaf: outside its window the pair is refused, as
 * the tls-cert secret would be. */
static void test_openssl_heap_is_wiped(void **state)
{
	(void)state;
	/* Installed before main: OpenSSL's freed blocks (DER copies of keys) are wiped. */
	assert_true(sfs_openssl_heap_wiped());
}

static void test_tls_key_with_expired_certificate(void **state)
{
	struct pki *p = *state;
	struct cert_spec old_leaf = {"leaf.example",	 -400 * DAY, -DAY, 0,
				     "digitalSignature", false};
	X509 *e = make_cert(&old_leaf, p->leaf_key, p->inter, p->inter_key);
	char *key = NULL, *cert = NULL, *good = NULL;

	append_pem(&key, NULL, p->leaf_key);
	append_pem(&cert, e, NULL);
	append_pem(&good, p->leaf, NULL);
	expect(SFS_TYPE_TLS_KEY, key, good, NULL, 0, NULL);
	expect(SFS_TYPE_TLS_KEY, key, cert, NULL, -EINVAL,
	       "certificate: certificate 1 (CN=leaf.example) expired on 2027-01-");
	X509_free(e);
	free(key);
	free(cert);
	free(good);
}

static void test_expiry_warning(void **state)
{
	struct pki *p = *state;
	struct sfs_validate_result res;
	struct sfs_error err;
	char *pem = NULL;

	append_pem(&pem, p->leaf, NULL);
	assert_int_equal(run(SFS_TYPE_TLS_CERT, pem, NULL, NULL, 0, &res, &err), 0);
	assert_int_equal(res.warnings.count, 0); /* 90 days left, default threshold 30 */
	sfs_validate_result_free(&res);
	assert_int_equal(run(SFS_TYPE_TLS_CERT, pem, NULL, NULL, 100, &res, &err), 0);
	assert_int_equal(res.warnings.count, 1);
	assert_non_null(strstr(res.warnings.msg[0], "(CN=leaf.example) expires in 90 days"));
	sfs_validate_result_free(&res);
	assert_int_equal(run(SFS_TYPE_TLS_CERT, pem, NULL, NULL, -1, &res, &err), 0);
	assert_int_equal(res.warnings.count, 0);
	sfs_validate_result_free(&res);
	free(pem);
}

static void test_not_a_ca(void **state)
{
	struct pki *p = *state;
	struct cert_spec no_bc = {"nobc", -DAY, DAY * 10, -1, NULL, false};
	struct cert_spec no_ku = {"noku", -DAY, DAY * 100, 1, "critical,digitalSignature", false};
	X509 *a = make_cert(&no_bc, p->inter_key, p->root, p->root_key);
	X509 *b = make_cert(&no_ku, p->inter_key, p->root, p->root_key);
	char *pem = NULL, *pem2 = NULL, *pem3 = NULL;

	append_pem(&pem, p->root, NULL);
	append_pem(&pem, p->leaf, NULL);
	expect(SFS_TYPE_X509, pem, NULL, NULL, -EINVAL,
	       "certificate 2 (CN=leaf.example) is not a CA");
	append_pem(&pem2, a, NULL);
	expect(SFS_TYPE_X509, pem2, NULL, NULL, -EINVAL, "certificate 1 (CN=nobc) is not a CA");
	append_pem(&pem3, b, NULL);
	expect(SFS_TYPE_X509, pem3, NULL, NULL, -EINVAL, "its keyUsage lacks keyCertSign");
	/* The same leaf is fine as a tls-cert, and auto picks tls-cert for it. */
	{
		struct sfs_validate_result res;
		struct sfs_error err;
		assert_int_equal(run(SFS_TYPE_AUTO, pem, NULL, NULL, 0, &res, &err), 0);
		assert_int_equal(res.type, SFS_TYPE_TLS_CERT);
		sfs_validate_result_free(&res);
	}
	X509_free(a);
	X509_free(b);
	free(pem);
	free(pem2);
	free(pem3);
}

static void test_self_issued_must_verify_itself(void **state)
{
	struct pki *p = *state;
	struct cert_spec forged = {"Root", -DAY, DAY * 100, 1, "critical,keyCertSign", false};
	/* Subject = issuer = CN=Root, public key of inter, signed by root's key. */
	X509 *f = make_cert(&forged, p->inter_key, NULL, p->root_key);
	char *pem = NULL;

	append_pem(&pem, f, NULL);
	expect(SFS_TYPE_X509, pem, NULL, NULL, -EINVAL,
	       "certificate 1 (CN=Root) is self-issued but its signature does not verify");
	X509_free(f);
	free(pem);
}

static void test_v1_root_accepted_with_warning(void **state)
{
	struct pki *p = *state;
	struct cert_spec v1 = {"Old Root", -DAY, 3650 * DAY, -1, NULL, true};
	X509 *r = make_cert(&v1, p->inter_key, NULL, p->inter_key);
	struct sfs_validate_result res;
	struct sfs_error err;
	char *pem = NULL;

	append_pem(&pem, r, NULL);
	assert_int_equal(run(SFS_TYPE_X509, pem, NULL, NULL, 0, &res, &err), 0);
	assert_int_equal(res.warnings.count, 1);
	assert_non_null(strstr(res.warnings.msg[0], "X.509 v1 self-signed root"));
	sfs_validate_result_free(&res);
	X509_free(r);
	free(pem);
}

static void test_bundle_structure(void **state)
{
	struct pki *p = *state;
	struct sfs_validate_result res;
	struct sfs_error err;
	char *with_key = NULL, *with_text = NULL, *pub = NULL;

	append_pem(&with_key, p->root, NULL);
	append_pem(&with_key, NULL, p->leaf_key);
	expect(SFS_TYPE_X509, with_key, NULL, NULL, -EINVAL,
	       "PEM block 2 is 'PRIVATE KEY', not a certificate");
	expect(SFS_TYPE_TLS_CERT, with_key, NULL, NULL, -EINVAL, "not a certificate");

	append_text(&with_text, "Subject: the root\n");
	append_pem(&with_text, p->root, NULL);
	append_text(&with_text, "and the intermediate:\n");
	append_pem(&with_text, p->inter, NULL);
	assert_int_equal(run(SFS_TYPE_X509, with_text, NULL, NULL, 0, &res, &err), 0);
	assert_int_equal(res.warnings.count, 1);
	assert_string_equal(res.warnings.msg[0], "text outside the PEM blocks ignored");
	assert_int_equal(res.ncerts, 2);
	sfs_validate_result_free(&res);

	append_text(&pub, "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n");
	expect(SFS_TYPE_X509, pub, NULL, NULL, -EINVAL,
	       "certificate 1 is not a valid DER X.509 certificate");
	expect(SFS_TYPE_X509, "no certificate here", NULL, NULL, -EINVAL, "no PEM block found");
	free(with_key);
	free(with_text);
	free(pub);
}

static void test_trailing_der_bytes_refused(void **state)
{
	struct pki *p = *state;
	unsigned char *der = NULL;
	char b64[4096], pem[4200];
	int n = i2d_X509(p->root, &der);
	unsigned char *longer = malloc((size_t)n + 2);

	memcpy(longer, der, (size_t)n);
	longer[n] = 0x05;
	longer[n + 1] = 0x00;
	sodium_bin2base64(b64, sizeof(b64), longer, (size_t)n + 2, sodium_base64_VARIANT_ORIGINAL);
	snprintf(pem, sizeof(pem), "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n",
		 b64);
	expect(SFS_TYPE_X509, pem, NULL, NULL, -EINVAL, "trailing bytes");
	OPENSSL_free(der);
	free(longer);
}

static void test_chain_verification(void **state)
{
	struct pki *p = *state;
	char *chain = NULL, *leaf_only = NULL, *ca = NULL, *other_ca = NULL;
	EVP_PKEY *other_key = new_key("ED25519");
	X509 *other = make_cert(&root_spec, other_key, NULL, other_key);

	append_pem(&chain, p->leaf, NULL);
	append_pem(&chain, p->inter, NULL);
	append_pem(&leaf_only, p->leaf, NULL);
	append_pem(&ca, p->root, NULL);
	append_pem(&other_ca, other, NULL);
	expect(SFS_TYPE_TLS_CERT, chain, NULL, ca, 0, NULL);
	expect(SFS_TYPE_TLS_CERT, leaf_only, NULL, ca, -EINVAL,
	       "certificate chain does not verify against the CA: unable to get local issuer");
	/* Same subject "CN=Root", different key: the signature check fails. */
	expect(SFS_TYPE_TLS_CERT, chain, NULL, other_ca, -EINVAL,
	       "certificate chain does not verify against the CA");
	expect(SFS_TYPE_TLS_CERT, chain, NULL, "garbage", -EINVAL, "CA bundle: no PEM block found");
	X509_free(other);
	EVP_PKEY_free(other_key);
	free(chain);
	free(leaf_only);
	free(ca);
	free(other_ca);
}

static void test_tls_key_pairs(void **state)
{
	struct pki *p = *state;
	struct sfs_validate_result res;
	struct sfs_error err;
	char *leaf = NULL, *inter = NULL, *root = NULL;
	char *leaf_key = NULL, *inter_key = NULL, *root_key = NULL;

	append_pem(&leaf, p->leaf, NULL);
	append_pem(&inter, p->inter, NULL);
	append_pem(&root, p->root, NULL);
	append_pem(&leaf_key, NULL, p->leaf_key);
	append_pem(&inter_key, NULL, p->inter_key);
	append_pem(&root_key, NULL, p->root_key);

	assert_int_equal(run(SFS_TYPE_TLS_KEY, leaf_key, leaf, NULL, 0, &res, &err), 0);
	assert_string_equal(res.key_algorithm, "RSA");
	assert_false(res.has_key_info);
	assert_int_equal(res.canonical.len, strlen(leaf_key)); /* OpenSSL's own PKCS#8 PEM */
	assert_memory_equal(res.canonical.data, leaf_key, strlen(leaf_key));
	sfs_validate_result_free(&res);
	assert_int_equal(run(SFS_TYPE_TLS_KEY, inter_key, inter, NULL, 0, &res, &err), 0);
	assert_string_equal(res.key_algorithm, "EC");
	sfs_validate_result_free(&res);
	/* Ed25519 takes the strict path and still has to match. */
	assert_int_equal(run(SFS_TYPE_TLS_KEY, root_key, root, NULL, 0, &res, &err), 0);
	assert_true(res.has_key_info);
	assert_memory_equal(res.canonical.data, root_key, strlen(root_key));
	sfs_validate_result_free(&res);

	expect(SFS_TYPE_TLS_KEY, leaf_key, inter, NULL, -EINVAL, "key does not match certificate");
	expect(SFS_TYPE_TLS_KEY, root_key, leaf, NULL, -EINVAL, "key does not match certificate");
	expect(SFS_TYPE_TLS_KEY, leaf_key, NULL, NULL, -EINVAL, "none was given");
	expect(SFS_TYPE_TLS_KEY, leaf_key, "junk", NULL, -EINVAL, "certificate: no PEM block");
	expect(SFS_TYPE_TLS_KEY, leaf, leaf, NULL, -EINVAL, "not a private key");
	/* auto: a non-Ed25519 key is a tls-key and needs its certificate. */
	expect(SFS_TYPE_AUTO, leaf_key, NULL, NULL, -EINVAL,
	       "a RSA private key is validated as tls-key");
	assert_int_equal(run(SFS_TYPE_AUTO, leaf_key, leaf, NULL, 0, &res, &err), 0);
	assert_int_equal(res.type, SFS_TYPE_TLS_KEY);
	sfs_validate_result_free(&res);
	assert_int_equal(run(SFS_TYPE_AUTO, root_key, NULL, NULL, 0, &res, &err), 0);
	assert_int_equal(res.type, SFS_TYPE_ED25519);
	sfs_validate_result_free(&res);

	OPENSSL_cleanse(leaf_key, strlen(leaf_key));
	OPENSSL_cleanse(inter_key, strlen(inter_key));
	OPENSSL_cleanse(root_key, strlen(root_key));
	free(leaf);
	free(inter);
	free(root);
	free(leaf_key);
	free(inter_key);
	free(root_key);
}

static void test_opaque_is_untouched(void **state)
{
	static const char raw[] = "  \"not pem\\n\"\r\n";
	struct sfs_validate_result res;
	struct sfs_error err;
	(void)state;

	assert_int_equal(run(SFS_TYPE_OPAQUE, raw, NULL, NULL, 0, &res, &err), 0);
	assert_int_equal(res.canonical.len, strlen(raw));
	assert_memory_equal(res.canonical.data, raw, strlen(raw));
	assert_int_equal(res.warnings.count, 0);
	sfs_validate_result_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ca_bundle_valid_and_canonical),
	    cmocka_unit_test(test_validity_window),
	    cmocka_unit_test(test_trust_bundle_keeps_expired),
	    cmocka_unit_test(test_tls_key_with_expired_certificate),
	    cmocka_unit_test(test_openssl_heap_is_wiped),
	    cmocka_unit_test(test_expiry_warning),
	    cmocka_unit_test(test_not_a_ca),
	    cmocka_unit_test(test_self_issued_must_verify_itself),
	    cmocka_unit_test(test_v1_root_accepted_with_warning),
	    cmocka_unit_test(test_bundle_structure),
	    cmocka_unit_test(test_trailing_der_bytes_refused),
	    cmocka_unit_test(test_chain_verification),
	    cmocka_unit_test(test_tls_key_pairs),
	    cmocka_unit_test(test_opaque_is_untouched),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
