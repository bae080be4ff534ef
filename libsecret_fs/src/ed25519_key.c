#include "ed25519_key.h"

#include "openssl_setup.h"
#include "pem_armor.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <string.h>

#define V1_LEN		  48
#define V2_LEN		  83
#define SEED_OFFSET	  16
#define V2_PK_TAG_OFFSET  48
#define V2_PK_OFFSET	  51
#define SELF_TEST_MESSAGE "secret-agent self-test"

static const unsigned char v1_prefix[SEED_OFFSET] = {
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
static const unsigned char v2_prefix[SEED_OFFSET] = {
    0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
static const unsigned char v2_pk_tag[3] = {0x81, 0x21, 0x00};
static const unsigned char ed25519_oid[5] = {0x06, 0x03, 0x2b, 0x65, 0x70};

/* Published seeds: anyone can sign with them (RFC 8032 §7.1 tests 1-3, RFC 8410 §10.3). */
static const unsigned char published_seeds[][32] = {
    {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
     0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
     0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60},
    {0x4c, 0xcd, 0x08, 0x9b, 0x28, 0xff, 0x96, 0xda, 0x9d, 0xb6, 0xc3,
     0x46, 0xec, 0x11, 0x4e, 0x0f, 0x5b, 0x8a, 0x31, 0x9f, 0x35, 0xab,
     0xa6, 0x24, 0xda, 0x8c, 0xf6, 0xed, 0x4f, 0xb8, 0xa6, 0xfb},
    {0xc5, 0xaa, 0x8d, 0xf4, 0x3f, 0x9f, 0x83, 0x7b, 0xed, 0xb7, 0x44,
     0x2f, 0x31, 0xdc, 0xb7, 0xb1, 0x66, 0xd3, 0x85, 0x35, 0x07, 0x6f,
     0x09, 0x4b, 0x85, 0xce, 0x3a, 0x2e, 0x0b, 0x44, 0x58, 0xf7},
    {0xd4, 0xee, 0x72, 0xdb, 0xf9, 0x13, 0x58, 0x4a, 0xd5, 0xb6, 0xd8,
     0xf1, 0xf7, 0x69, 0xf8, 0xad, 0x3a, 0xfe, 0x7c, 0x28, 0xcb, 0xf1,
     0xd4, 0xfb, 0xe0, 0x97, 0xa8, 0x8f, 0x44, 0x75, 0x58, 0x42},
};

bool sfs_der_is_ed25519(const unsigned char *der, size_t len)
{
	/* The algorithm identifier sits in the first bytes of any PKCS#8; looking for the OID
	 * there is enough to route the key, the strict parse decides the rest. */
	size_t window = len < 24 ? len : 24;
	return window >= sizeof(ed25519_oid) &&
	       memmem(der, window, ed25519_oid, sizeof(ed25519_oid));
}

const char *sfs_pkcs8_algorithm_name(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	const ASN1_OBJECT *obj = NULL;
	const char *name = NULL;

	if (len > 1u << 20 || sfs_openssl_ready(NULL) < 0)
		return NULL;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	if (!p8 || !PKCS8_pkey_get0(&obj, NULL, NULL, NULL, p8) || !obj)
		goto out;
	switch (OBJ_obj2nid(obj)) {
	case NID_rsaEncryption:
		name = "RSA";
		break;
	case NID_rsassaPss:
		name = "RSA-PSS";
		break;
	case NID_X9_62_id_ecPublicKey:
		name = "EC";
		break;
	case NID_dsa:
		name = "DSA";
		break;
	case NID_dhKeyAgreement:
		name = "DH";
		break;
	case NID_ED448:
		name = "Ed448";
		break;
	case NID_X25519:
		name = "X25519";
		break;
	case NID_X448:
		name = "X448";
		break;
	case NID_ED25519:
		name = "Ed25519";
		break;
	default:
		name = "an unknown algorithm";
		break;
	}
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	return name;
}

/* Step 11: say what the DER is instead of a generic refusal whenever we can. */
static int diagnose(const unsigned char *der, size_t len, struct sfs_error *err)
{
	static const unsigned char inner64[4] = {0x04, 0x42, 0x04, 0x40};
	const char *alg = sfs_pkcs8_algorithm_name(der, len);

	if (alg && strcmp(alg, "Ed25519") != 0)
		return sfs_error_set(err, -EINVAL, "expected Ed25519, got %s", alg);
	if (sfs_der_is_ed25519(der, len) &&
	    memmem(der, len < 24 ? len : 24, inner64, sizeof(inner64)))
		return sfs_error_set(err, -EINVAL,
				     "non-standard Ed25519 key with a 64-byte private key (seed "
				     "and public key); provide the RFC 8410 form with a 32-byte "
				     "seed");
	return sfs_error_set(err, -EINVAL, "not a canonical RFC 8410 Ed25519 PKCS#8 key");
}

/* Step 12: keys nobody should deploy, whatever their format. */
static int check_seed_quality(const unsigned char *seed, struct sfs_error *err)
{
	bool repeated = true;

	for (size_t i = 1; i < 32; i++)
		if (seed[i] != seed[0])
			repeated = false;
	if (repeated && seed[0] == 0)
		return sfs_error_set(err, -EINVAL, "the private key seed is all zero");
	if (repeated)
		return sfs_error_set(err, -EINVAL, "the private key seed is one repeated byte");
	for (size_t i = 0; i < sizeof(published_seeds) / sizeof(published_seeds[0]); i++)
		if (sodium_memcmp(seed, published_seeds[i], 32) == 0)
			return sfs_error_set(err, -EINVAL,
					     "the private key is a published test key (RFC 8032 / "
					     "RFC 8410 example)");
	return 0;
}

/* Step 13: the public key from the seed, with libsodium; with `cross_check`, OpenSSL must
 * derive the same one. Both keys are kept in `key` for the self-test (and freed with it, also
 * on failure). */
static int derive_public_key(struct sfs_ed25519_key *key, bool cross_check, struct sfs_error *err)
{
	unsigned char ossl_pk[32];
	size_t ossl_pk_len = sizeof(ossl_pk);
	int r;

	r = sfs_secret_alloc(&key->sk, crypto_sign_SECRETKEYBYTES, err);
	if (r < 0)
		return r;
	crypto_sign_seed_keypair(key->pk, key->sk.data, key->seed.data);
	key->sk.len = crypto_sign_SECRETKEYBYTES;
	sfs_secret_readonly(&key->sk);
	if (!cross_check)
		return 0;
	r = sfs_openssl_ready(err);
	if (r < 0)
		return r;
	key->ossl = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, key->seed.data, 32);
	if (!key->ossl || EVP_PKEY_get_raw_public_key(key->ossl, ossl_pk, &ossl_pk_len) != 1 ||
	    ossl_pk_len != 32)
		return sfs_error_set(err, -EINVAL, "OpenSSL cannot derive the Ed25519 public key");
	if (sodium_memcmp(ossl_pk, key->pk, 32) != 0)
		return sfs_error_set(err, -EINVAL,
				     "libsodium and OpenSSL derive different public keys");
	return 0;
}

int sfs_ed25519_from_der(const unsigned char *der, size_t len, bool cross_check,
			 struct sfs_ed25519_key *key, struct sfs_error *err)
{
	const unsigned char *embedded_pk = NULL;
	int r;

	memset(key, 0, sizeof(*key));
	if (len == V1_LEN && memcmp(der, v1_prefix, SEED_OFFSET) == 0) {
		key->version = 1;
	} else if (len == V2_LEN && memcmp(der, v2_prefix, SEED_OFFSET) == 0 &&
		   memcmp(der + V2_PK_TAG_OFFSET, v2_pk_tag, sizeof(v2_pk_tag)) == 0) {
		key->version = 2;
		embedded_pk = der + V2_PK_OFFSET;
	} else {
		return diagnose(der, len, err);
	}
	r = sfs_secret_from(&key->seed, der + SEED_OFFSET, 32, err);
	if (r < 0)
		return r;
	sfs_secret_readonly(&key->seed);
	r = check_seed_quality(key->seed.data, err);
	if (r < 0)
		return r;
	r = derive_public_key(key, cross_check, err);
	if (r < 0)
		return r;
	if (embedded_pk) {
		/* Step 14: a foreign public key next to the seed is how signing oracles leak the
		 * scalar; it must be a point and exactly ours. */
		if (crypto_core_ed25519_is_valid_point(embedded_pk) != 1)
			return sfs_error_set(
			    err, -EINVAL,
			    "the public key embedded in the PKCS#8 v2 key is not a "
			    "valid Ed25519 point");
		if (sodium_memcmp(embedded_pk, key->pk, 32) != 0)
			return sfs_error_set(
			    err, -EINVAL,
			    "the public key embedded in the PKCS#8 v2 key does not "
			    "match the private key");
	}
	return 0;
}

static int openssl_sign(EVP_PKEY *pkey, const unsigned char *msg, size_t msg_len,
			unsigned char sig[64], struct sfs_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t sig_len = 64;
	int r = 0;

	if (!pkey || !ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &sig_len, msg, msg_len) != 1 || sig_len != 64)
		r = sfs_error_set(err, -EINVAL, "OpenSSL cannot sign with the key");
	EVP_MD_CTX_free(ctx);
	return r;
}

/* Set once libsodium's verifier has refused a corrupted signature in this process. */
static bool verifier_rejects_forgery;

int sfs_ed25519_self_test(const struct sfs_ed25519_key *key, const char *domain,
			  struct sfs_error *err)
{
	unsigned char msg[256 + sizeof(SELF_TEST_MESSAGE)];
	unsigned char sig_sodium[64], sig_openssl[64];
	size_t msg_len = 0, domain_len = domain ? strlen(domain) : 0;
	int r;

	if (domain_len > 255)
		return sfs_error_set(err, -EINVAL, "the domain tag is longer than 255 bytes");
	if (domain) {
		memcpy(msg, domain, domain_len);
		msg[domain_len] = 0x00;
		msg_len = domain_len + 1;
	}
	memcpy(msg + msg_len, SELF_TEST_MESSAGE, strlen(SELF_TEST_MESSAGE));
	msg_len += strlen(SELF_TEST_MESSAGE);

	/* key->sk is never seed || embedded public key: step 13 derived it from the seed alone. */
	if (key->sk.len != crypto_sign_SECRETKEYBYTES)
		return sfs_error_set(err, -EINVAL, "the key was not derived");
	crypto_sign_detached(sig_sodium, NULL, msg, msg_len, key->sk.data);
	if (key->ossl) {
		r = openssl_sign(key->ossl, msg, msg_len, sig_openssl, err);
		if (r < 0)
			goto out;
		if (memcmp(sig_sodium, sig_openssl, 64) != 0) {
			r = sfs_error_set(
			    err, -EINVAL,
			    "self-test failed: libsodium and OpenSSL signatures differ");
			goto out;
		}
	}
	if (crypto_sign_verify_detached(sig_sodium, msg, msg_len, key->pk) != 0) {
		r = sfs_error_set(err, -EINVAL, "self-test failed: the signature does not verify");
		goto out;
	}
	/* A verifier that accepts anything would make the check above prove nothing. That is a
	 * property of the library, not of the key, so it is shown once per process: a rotation
	 * (one more key) then costs one verification instead of two, of its ~0.3 ms. */
	if (!verifier_rejects_forgery) {
		sig_sodium[17] ^= 0x04;
		if (crypto_sign_verify_detached(sig_sodium, msg, msg_len, key->pk) == 0) {
			r = sfs_error_set(err, -EINVAL,
					  "self-test failed: a corrupted signature still verifies");
			goto out;
		}
		verifier_rejects_forgery = true;
	}
	r = 0;
out:
	sodium_memzero(msg, sizeof(msg));
	return r;
}

int sfs_ed25519_canonical_pem(const struct sfs_ed25519_key *key, struct sfs_secret *out,
			      struct sfs_error *err)
{
	struct sfs_secret der = {0};
	int r;

	r = sfs_secret_alloc(&der, V1_LEN, err);
	if (r < 0)
		goto out;
	memcpy(der.data, v1_prefix, SEED_OFFSET);
	memcpy(der.data + SEED_OFFSET, key->seed.data, 32);
	der.len = V1_LEN;
	r = sfs_pem_encode_append("PRIVATE KEY", der.data, der.len, out, err);
out:
	sfs_secret_free(&der);
	return r;
}

void sfs_ed25519_key_free(struct sfs_ed25519_key *key)
{
	if (!key)
		return;
	sfs_secret_free(&key->seed);
	sfs_secret_free(&key->sk);
	EVP_PKEY_free(key->ossl);
	key->ossl = NULL;
	sodium_memzero(key->pk, sizeof(key->pk));
	key->version = 0;
}
