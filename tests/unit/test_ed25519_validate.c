/* Ed25519 keys through sfs_validate (docs/design.md §16 steps 9-18): v1 and hand-built v2 DER from
 * a random seed, the refusals of the key checks, canonical output byte-identical to OpenSSL's
 * writer, fingerprints against RFC 8037's published thumbprint, domain tag and key id rules.
 * Seeds are random per run; nothing secret is printed. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "ed25519_key.h"
#include "key_id.h"
#include "openssl_setup.h"
#include "secret_fs/validate.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const unsigned char v1_prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
					    0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
static const unsigned char v2_prefix[16] = {0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06,
					    0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};

struct key {
	unsigned char seed[32];
	unsigned char pk[32];
	char pem[512]; /* v1 */
	char pem_v2[512];
};

static void to_pem(const unsigned char *der, size_t len, char *out, size_t size)
{
	char b64[256];

	sodium_bin2base64(b64, sizeof(b64), der, len, sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, size, "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n", b64);
}

static void v2_der(const unsigned char seed[32], const unsigned char pk[32], unsigned char der[83])
{
	memcpy(der, v2_prefix, 16);
	memcpy(der + 16, seed, 32);
	der[48] = 0x81;
	der[49] = 0x21;
	der[50] = 0x00;
	memcpy(der + 51, pk, 32);
}

static void make_key(struct key *k)
{
	unsigned char sk[64], der[83];

	randombytes_buf(k->seed, 32);
	crypto_sign_seed_keypair(k->pk, sk, k->seed);
	memcpy(der, v1_prefix, 16);
	memcpy(der + 16, k->seed, 32);
	to_pem(der, 48, k->pem, sizeof(k->pem));
	v2_der(k->seed, k->pk, der);
	to_pem(der, 83, k->pem_v2, sizeof(k->pem_v2));
	sodium_memzero(sk, sizeof(sk));
}

static int run(const char *pem, const char *domain, const char *key_id,
	       struct sfs_validate_result *res, struct sfs_error *err)
{
	struct sfs_validate_req req = {
	    .type = SFS_TYPE_ED25519,
	    .data = (const unsigned char *)pem,
	    .len = strlen(pem),
	    .domain = domain,
	    .key_id = key_id,
	};
	memset(err, 0, sizeof(*err));
	return sfs_validate(&req, res, err);
}

static void expect_refusal(const char *pem, const char *domain, const char *key_id,
			   const char *wording)
{
	struct sfs_validate_result res;
	struct sfs_error err;

	assert_int_equal(run(pem, domain, key_id, &res, &err), -EINVAL);
	if (!strstr(err.msg, wording))
		fail_msg("expected '%s' in '%s'", wording, err.msg);
	assert_null(res.canonical.data);
	sfs_validate_result_free(&res);
}

/* What `openssl pkey` / `openssl genpkey` writes for this seed. */
static size_t openssl_pem(const unsigned char seed[32], char *out, size_t size)
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	BIO *bio = BIO_new(BIO_s_mem());
	int n;

	assert_non_null(pkey);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_read(bio, out, (int)size);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return n > 0 ? (size_t)n : 0;
}

static void test_v1_and_v2_give_openssl_canonical_bytes(void **state)
{
	struct key k;
	struct sfs_validate_result res;
	struct sfs_error err;
	char expected[512];
	size_t n;
	const char *pems[2];
	(void)state;

	make_key(&k);
	n = openssl_pem(k.seed, expected, sizeof(expected));
	assert_int_equal(n, 119);
	pems[0] = k.pem;
	pems[1] = k.pem_v2;
	for (int i = 0; i < 2; i++) {
		char fp[65];

		assert_int_equal(run(pems[i], "ai.signing.v1", NULL, &res, &err), 0);
		assert_int_equal(res.type, SFS_TYPE_ED25519);
		assert_int_equal(res.pkcs8_version, i + 1);
		assert_true(res.has_key_info);
		assert_string_equal(res.key_algorithm, "Ed25519");
		assert_int_equal(res.canonical.len, 119);
		assert_memory_equal(res.canonical.data, expected, 119);
		sfs_fingerprint_sha256_hex(k.pk, fp);
		assert_string_equal(res.fingerprint_sha256, fp);
		assert_int_equal(res.warnings.count, 0);
		sfs_validate_result_free(&res);
	}
}

static void test_v2_with_foreign_public_key_refused(void **state)
{
	struct key k, other;
	unsigned char der[83];
	char pem[512];
	(void)state;

	make_key(&k);
	make_key(&other);
	v2_der(k.seed, other.pk, der);
	to_pem(der, sizeof(der), pem, sizeof(pem));
	expect_refusal(pem, NULL, NULL,
		       "embedded in the PKCS#8 v2 key does not match the private key");
	/* A single flipped bit in the embedded key is enough. */
	v2_der(k.seed, k.pk, der);
	der[82] ^= 0x01;
	to_pem(der, sizeof(der), pem, sizeof(pem));
	assert_true(strstr(pem, "PRIVATE KEY") != NULL);
	{
		struct sfs_validate_result res;
		struct sfs_error err;
		assert_int_equal(run(pem, NULL, NULL, &res, &err), -EINVAL);
		sfs_validate_result_free(&res);
	}
	/* Small-order point (all zero): not a valid public key at all. */
	memset(other.pk, 0, 32);
	v2_der(k.seed, other.pk, der);
	to_pem(der, sizeof(der), pem, sizeof(pem));
	expect_refusal(pem, NULL, NULL, "is not a valid Ed25519 point");
}

static void test_weak_and_published_seeds_refused(void **state)
{
	/* RFC 8032 §7.1 test 1 and RFC 8410 §10.3: public knowledge. */
	static const char *const published[] = {
	    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	    "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842",
	};
	unsigned char der[48];
	char pem[512];
	(void)state;

	memcpy(der, v1_prefix, 16);
	memset(der + 16, 0, 32);
	to_pem(der, 48, pem, sizeof(pem));
	expect_refusal(pem, NULL, NULL, "seed is all zero");
	memset(der + 16, 0xa5, 32);
	to_pem(der, 48, pem, sizeof(pem));
	expect_refusal(pem, NULL, NULL, "seed is one repeated byte");
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(sodium_hex2bin(der + 16, 32, published[i], 64, NULL, NULL, NULL),
				 0);
		to_pem(der, 48, pem, sizeof(pem));
		expect_refusal(pem, NULL, NULL, "published test key");
	}
}

static void test_non_canonical_der_diagnosed(void **state)
{
	struct key k;
	unsigned char der[100];
	char pem[512];
	(void)state;

	make_key(&k);
	/* Trailing byte. */
	memcpy(der, v1_prefix, 16);
	memcpy(der + 16, k.seed, 32);
	der[48] = 0;
	to_pem(der, 49, pem, sizeof(pem));
	expect_refusal(pem, NULL, NULL, "not a canonical RFC 8410 Ed25519 PKCS#8 key");
	/* Truncated. */
	to_pem(der, 47, pem, sizeof(pem));
	expect_refusal(pem, NULL, NULL, "not a canonical RFC 8410 Ed25519 PKCS#8 key");
	/* v2 prefix with v1 length. */
	memcpy(der, v2_prefix, 16);
	to_pem(der, 48, pem, sizeof(pem));
	expect_refusal(pem, NULL, NULL, "not a canonical RFC 8410 Ed25519 PKCS#8 key");
	/* 64-byte inner key (seed || public key, as some libraries export). */
	{
		static const unsigned char p64[16] = {0x30, 0x50, 0x02, 0x01, 0x00, 0x30,
						      0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
						      0x04, 0x42, 0x04, 0x40};
		memcpy(der, p64, 16);
		memcpy(der + 16, k.seed, 32);
		memcpy(der + 48, k.pk, 32);
		to_pem(der, 80, pem, sizeof(pem));
		expect_refusal(pem, NULL, NULL, "64-byte private key");
	}
	/* Ed448 and X25519 OIDs in the v1 layout. */
	memcpy(der, v1_prefix, 16);
	memcpy(der + 16, k.seed, 32);
	der[11] = 0x6e;
	to_pem(der, 48, pem, sizeof(pem));
	expect_refusal(pem, NULL, NULL, "expected Ed25519, got X25519");
}

static void test_other_algorithms_named(void **state)
{
	static const struct {
		const char *name;
		const char *expected;
	} algs[] = {{"ED448", "got Ed448"}, {"X448", "got X448"}, {"EC", "got EC"}};
	(void)state;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		EVP_PKEY *pkey = strcmp(algs[i].name, "EC") == 0
				     ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
				     : EVP_PKEY_Q_keygen(NULL, NULL, algs[i].name);
		BIO *bio = BIO_new(BIO_s_mem());
		char pem[2048] = {0};

		assert_non_null(pkey);
		assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
		assert_true(BIO_read(bio, pem, sizeof(pem) - 1) > 0);
		expect_refusal(pem, NULL, NULL, algs[i].expected);
		BIO_free(bio);
		EVP_PKEY_free(pkey);
		OPENSSL_cleanse(pem, sizeof(pem));
	}
}

static void test_fingerprints_match_rfc8037(void **state)
{
	/* RFC 8037 Appendix A.3: thumbprint of the RFC 8032 test 1 public key. */
	unsigned char pk[32];
	char fp[65], jwk[44];
	(void)state;

	assert_int_equal(
	    sodium_hex2bin(pk, 32,
			   "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", 64,
			   NULL, NULL, NULL),
	    0);
	sfs_fingerprint_jwk(pk, jwk);
	assert_string_equal(jwk, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
	sfs_fingerprint_sha256_hex(pk, fp);
	assert_int_equal(strlen(fp), 64);
	assert_string_equal(fp, "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9");
}

static void test_key_id_forms(void **state)
{
	struct key k;
	struct sfs_validate_result res;
	struct sfs_error err;
	char fp[65], jwk[44], upper[65];
	(void)state;

	make_key(&k);
	sfs_fingerprint_sha256_hex(k.pk, fp);
	sfs_fingerprint_jwk(k.pk, jwk);
	for (size_t i = 0; i < 65; i++)
		upper[i] = (char)(fp[i] >= 'a' && fp[i] <= 'f' ? fp[i] - 32 : fp[i]);
	upper[20] = '\0';
	assert_int_equal(run(k.pem, NULL, upper, &res, &err), 0);
	assert_true(res.key_id_verified);
	sfs_validate_result_free(&res);
	assert_int_equal(run(k.pem, NULL, jwk, &res, &err), 0);
	assert_true(res.key_id_verified);
	sfs_validate_result_free(&res);
	assert_int_equal(run(k.pem, NULL, "signing-key-7", &res, &err), 0);
	assert_false(res.key_id_verified);
	assert_int_equal(res.warnings.count, 1);
	assert_non_null(strstr(res.warnings.msg[0], "free-form label"));
	sfs_validate_result_free(&res);

	fp[0] = fp[0] == '0' ? '1' : '0';
	fp[16] = '\0';
	expect_refusal(k.pem, NULL, fp, "does not match the key's SHA-256 fingerprint");
	jwk[5] = jwk[5] == 'A' ? 'B' : 'A';
	expect_refusal(k.pem, NULL, jwk, "does not match the key's JWK thumbprint");
	expect_refusal(k.pem, NULL, "", "the key id is empty");
	expect_refusal(k.pem, NULL, "a b", "printable ASCII without spaces");
	expect_refusal(k.pem, NULL, "caf\xc3\xa9", "printable ASCII without spaces");
	{
		char long_id[130];
		memset(long_id, 'k', 129);
		long_id[129] = '\0';
		expect_refusal(k.pem, NULL, long_id, "longer than 128 bytes");
		long_id[128] = '\0';
		assert_int_equal(run(k.pem, NULL, long_id, &res, &err), 0);
		sfs_validate_result_free(&res);
	}
}

static void test_domain_tag_rules(void **state)
{
	struct key k;
	struct sfs_validate_result res;
	struct sfs_error err;
	char tag[300];
	(void)state;

	make_key(&k);
	assert_int_equal(sfs_domain_check("cybermesh+ai", NULL), -EINVAL);
	assert_int_equal(sfs_domain_check("cybermesh:ai/signing_v1.2", NULL), 0);
	assert_int_equal(sfs_domain_check("cybermesh:ai/signing-v1.2", NULL), 0);
	expect_refusal(k.pem, " ai.v1", NULL, "may only contain");
	expect_refusal(k.pem, "ai.v1\n", NULL, "may only contain");
	expect_refusal(k.pem, "", NULL, "the domain tag is empty");
	memset(tag, 'a', 256);
	tag[256] = '\0';
	expect_refusal(k.pem, tag, NULL, "more than 255");
	tag[255] = '\0';
	assert_int_equal(run(k.pem, tag, NULL, &res, &err), 0);
	assert_int_equal(res.warnings.count, 1); /* no version */
	assert_non_null(strstr(res.warnings.msg[0], "carries no version"));
	sfs_validate_result_free(&res);
	assert_int_equal(run(k.pem, "cybermesh/ai/2", NULL, &res, &err), 0);
	assert_int_equal(res.warnings.count, 0);
	sfs_validate_result_free(&res);
}

/* The self-test signs tag || 0x00 || message; a verifier using that convention accepts
 * what this key signs, so check the convention with an independent signature here. */
static void test_self_test_runs_with_and_without_domain(void **state)
{
	struct key k;
	struct sfs_ed25519_key key;
	struct sfs_error err;
	unsigned char der[48];
	(void)state;

	make_key(&k);
	memcpy(der, v1_prefix, 16);
	memcpy(der + 16, k.seed, 32);
	/* With the OpenSSL cross-check (a tls-key) and without it (an Ed25519 key alone). */
	for (int cross = 0; cross < 2; cross++) {
		assert_int_equal(sfs_ed25519_from_der(der, 48, cross, &key, &err), 0);
		assert_memory_equal(key.pk, k.pk, 32);
		if (cross)
			assert_non_null(key.ossl);
		else
			assert_null(key.ossl);
		assert_int_equal(sfs_ed25519_self_test(&key, NULL, &err), 0);
		assert_int_equal(sfs_ed25519_self_test(&key, "ai.signing.v1", &err), 0);
		sfs_ed25519_key_free(&key);
		assert_null(key.seed.data);
		assert_null(key.sk.data);
		assert_null(key.ossl);
	}
	sodium_memzero(der, sizeof(der));
}

static void test_messages_never_hold_key_bytes(void **state)
{
	struct key k;
	struct sfs_validate_result res;
	struct sfs_error err;
	char hex[65], b64[64];
	const char *body;
	char variant[1024];
	(void)state;

	make_key(&k);
	sodium_bin2hex(hex, sizeof(hex), k.seed, 32);
	body = strchr(k.pem, '\n') + 1;
	memcpy(b64, body, 40);
	b64[40] = '\0';
	/* A refusal after normalisation, with warnings on the way. */
	snprintf(variant, sizeof(variant), "  \"%s\"  ", k.pem);
	assert_int_equal(run(variant, "bad tag", NULL, &res, &err), -EINVAL);
	assert_null(strstr(err.msg, b64));
	assert_null(strstr(err.msg, hex));
	for (unsigned i = 0; i < res.warnings.count; i++) {
		assert_null(strstr(res.warnings.msg[i], b64));
		assert_null(strstr(res.warnings.msg[i], hex));
	}
	sfs_validate_result_free(&res);
}

static void test_type_names(void **state)
{
	enum sfs_secret_type t;
	(void)state;
	assert_int_equal(sfs_type_parse("tls-key", &t), 0);
	assert_int_equal(t, SFS_TYPE_TLS_KEY);
	assert_string_equal(sfs_type_name(SFS_TYPE_X509), "x509");
	assert_int_equal(sfs_type_parse("X509", &t), -EINVAL);
	assert_int_equal(sfs_type_parse(NULL, &t), -EINVAL);
}

/* An Ed25519 key alone is parsed and checked by libsodium: the library never starts OpenSSL
 * for it (its start-up cost more than the whole validation). A key of another algorithm
 * starts it to name the algorithm. Run first, in a child that the other tests do not see. */
static void test_ed25519_alone_never_starts_openssl(void **state)
{
	struct key k;
	int status;
	pid_t pid;
	(void)state;

	make_key(&k);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sfs_validate_result res;
		struct sfs_error err;
		static const char rsa_like[] = "-----BEGIN PRIVATE KEY-----\n"
					       "MBkCAQAwDQYJKoZIhvcNAQEBBQAEBTADAgEA\n"
					       "-----END PRIVATE KEY-----\n";

		if (sfs_openssl_started() || run(k.pem, "ai.signing.v1", NULL, &res, &err) != 0)
			_exit(2);
		sfs_validate_result_free(&res);
		if (sfs_openssl_started())
			_exit(3);
		if (run(rsa_like, NULL, NULL, &res, &err) != -EINVAL)
			_exit(4);
		sfs_validate_result_free(&res);
		_exit(sfs_openssl_started() ? 0 : 5);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    /* First: once any test has started OpenSSL, it stays started. */
	    cmocka_unit_test(test_ed25519_alone_never_starts_openssl),
	    cmocka_unit_test(test_v1_and_v2_give_openssl_canonical_bytes),
	    cmocka_unit_test(test_v2_with_foreign_public_key_refused),
	    cmocka_unit_test(test_weak_and_published_seeds_refused),
	    cmocka_unit_test(test_non_canonical_der_diagnosed),
	    cmocka_unit_test(test_other_algorithms_named),
	    cmocka_unit_test(test_fingerprints_match_rfc8037),
	    cmocka_unit_test(test_key_id_forms),
	    cmocka_unit_test(test_domain_tag_rules),
	    cmocka_unit_test(test_self_test_runs_with_and_without_domain),
	    cmocka_unit_test(test_messages_never_hold_key_bytes),
	    cmocka_unit_test(test_type_names),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
