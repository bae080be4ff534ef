/* Ed25519 private keys: strict RFC 8410 PKCS#8 v1/v2 parsing, key checks, the cross-library
 * self-test and the canonical v1 PEM.
 *
 * OpenSSL 3.0 cannot read v2 and accepts BER, junk and foreign algorithms, so the DER is
 * matched byte for byte: both forms have fixed sizes, which makes an exact match a complete
 * strict parse.
 */
#ifndef SFS_ED25519_KEY_H
#define SFS_ED25519_KEY_H

#include "secret_fs/error.h"
#include "secret_fs/secure_mem.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

/* The libraries' handles are derived once from the seed (step 13) and kept for the self-test
 * and the tls-key match: each derivation is a scalar multiplication. `ossl` is NULL unless the
 * OpenSSL cross-check was asked for. */
struct sfs_ed25519_key {
	struct sfs_secret seed; /* 32 bytes, read-only once loaded */
	struct sfs_secret sk;	/* libsodium's 64-byte secret key (seed || pk), read-only */
	EVP_PKEY *ossl;		/* OpenSSL's key from the same seed */
	unsigned char pk[32];	/* derived public key (agreed by libsodium and OpenSSL) */
	int version;		/* PKCS#8 version: 1 or 2 */
};

/* True when `der` is an Ed25519 PKCS#8 (any form we may be asked about): used to route
 * `--type auto` and tls-key to the strict path. */
bool sfs_der_is_ed25519(const unsigned char *der, size_t len);

/* Parses and checks the key (steps 9-14). The fixed-size DER is matched byte for byte and the
 * maths is libsodium's; with `cross_check` OpenSSL derives the public key too (it must agree)
 * and key->ossl is kept for the self-test and a certificate match. Returns 0, -EINVAL with a
 * reason, -EIO (OpenSSL cannot start) or -ENOMEM. `key` must be released with
 * sfs_ed25519_key_free either way. */
int sfs_ed25519_from_der(const unsigned char *der, size_t len, bool cross_check,
			 struct sfs_ed25519_key *key, struct sfs_error *err);

/* Step 16: sign `domain || 0x00 || "secret-agent self-test"` (the bare message without a
 * domain) with libsodium, and with OpenSSL when key->ossl is set (the signatures must be
 * identical); it must verify in libsodium, and a flipped bit must not. Returns 0, -EINVAL or
 * -ENOMEM. */
int sfs_ed25519_self_test(const struct sfs_ed25519_key *key, const char *domain,
			  struct sfs_error *err);

/* Step 18: the 119-byte canonical v1 PEM into `out` (secure memory). Returns 0 or -ENOMEM. */
int sfs_ed25519_canonical_pem(const struct sfs_ed25519_key *key, struct sfs_secret *out,
			      struct sfs_error *err);

void sfs_ed25519_key_free(struct sfs_ed25519_key *key);

/* Names the algorithm of a non-Ed25519 PKCS#8 ("RSA", "Ed448", ...) or NULL. */
const char *sfs_pkcs8_algorithm_name(const unsigned char *der, size_t len);

#endif
