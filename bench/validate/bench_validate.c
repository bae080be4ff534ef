/* Validations per second of sfs_validate for (1) one Ed25519 PKCS#8 key with a domain tag and
 * key id (normalisation, strict parse, libsodium/OpenSSL derivation and sign/verify self-test,
 * canonical PEM) and (2) a 3-certificate CA bundle (root + two intermediates, all checked for
 * validity, CA:TRUE, keyCertSign, self-signature). Key and certificates are generated at run
 * time. Usage: bench_validate [SECONDS per case, default 3]. Prints figures, asserts nothing. */
#include "secret_fs/secure_mem.h"
#include "secret_fs/validate.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *ed25519_pem(char fp[65])
{
	static const unsigned char prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
						 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
	unsigned char der[48], pk[32], sk[64];
	char b64[80];
	char *pem = sodium_malloc(160);

	if (!pem)
		return NULL;
	memcpy(der, prefix, 16);
	randombytes_buf(der + 16, 32);
	crypto_sign_seed_keypair(pk, sk, der + 16);
	sfs_fingerprint_sha256_hex(pk, fp);
	sodium_bin2base64(b64, sizeof(b64), der, sizeof(der), sodium_base64_VARIANT_ORIGINAL);
	snprintf(pem, 160, "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n", b64);
	sodium_memzero(der, sizeof(der));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(b64, sizeof(b64));
	return pem;
}

static X509 *ca_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *signer, long serial)
{
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *bc, *ku;

	X509_set_version(c, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), 3650L * 86400);
	X509_set_pubkey(c, key);
	X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
	bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	ku = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	X509_add_ext(c, bc, -1);
	X509_add_ext(c, ku, -1);
	X509_EXTENSION_free(bc);
	X509_EXTENSION_free(ku);
	X509_sign(c, signer, NULL);
	return c;
}

static char *ca_bundle(void)
{
	EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *k3 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *root = ca_cert("Bench Root", k1, NULL, k1, 1);
	X509 *i1 = ca_cert("Bench Intermediate 1", k2, root, k1, 2);
	X509 *i2 = ca_cert("Bench Intermediate 2", k3, i1, k2, 3);
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	PEM_write_bio_X509(bio, root);
	PEM_write_bio_X509(bio, i1);
	PEM_write_bio_X509(bio, i2);
	n = BIO_get_mem_data(bio, &data);
	out = calloc(1, (size_t)n + 1);
	if (out)
		memcpy(out, data, (size_t)n);
	BIO_free(bio);
	X509_free(root);
	X509_free(i1);
	X509_free(i2);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
	return out;
}

/* Runs validations for `seconds`; returns validations per second, or -1 on a failure. */
static double measure(const struct sfs_validate_req *req, double seconds, unsigned long *count)
{
	double start = now_seconds(), elapsed;
	struct sfs_validate_result res;
	struct sfs_error err;

	*count = 0;
	do {
		for (int i = 0; i < 50; i++) {
			if (sfs_validate(req, &res, &err) < 0) {
				fprintf(stderr, "bench_validate: validation failed: %s\n", err.msg);
				sfs_validate_result_free(&res);
				return -1;
			}
			sfs_validate_result_free(&res);
			(*count)++;
		}
		elapsed = now_seconds() - start;
	} while (elapsed < seconds);
	return (double)*count / elapsed;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0, rate;
	char fp[65];
	char *key = NULL, *bundle = NULL;
	unsigned long count;
	int rc = 1;

	if (seconds <= 0)
		seconds = 3.0;
	if (sfs_init(NULL) < 0)
		return 1;
	key = ed25519_pem(fp);
	bundle = ca_bundle();
	if (!key || !bundle)
		goto out;
	{
		struct sfs_validate_req req = {.type = SFS_TYPE_ED25519,
					       .data = (const unsigned char *)key,
					       .len = strlen(key),
					       .domain = "bench.signing.v1",
					       .key_id = fp};
		rate = measure(&req, seconds, &count);
		if (rate < 0)
			goto out;
		printf("ed25519 key (domain self-test, key id): %.0f validations/s (%lu in %.1f s, "
		       "%.1f us each)\n",
		       rate, count, (double)count / rate, 1e6 / rate);
	}
	{
		struct sfs_validate_req req = {.type = SFS_TYPE_X509,
					       .data = (const unsigned char *)bundle,
					       .len = strlen(bundle)};
		rate = measure(&req, seconds, &count);
		if (rate < 0)
			goto out;
		printf(
		    "x509 CA bundle (3 certificates): %.0f validations/s (%lu in %.1f s, %.1f us "
		    "each)\n",
		    rate, count, (double)count / rate, 1e6 / rate);
	}
	rc = 0;
out:
	sodium_free(key);
	free(bundle);
	return rc;
}
