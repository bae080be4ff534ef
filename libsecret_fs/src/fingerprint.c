#include "secret_fs/validate.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void sfs_fingerprint_sha256_hex(const unsigned char pk[32], char out[65])
{
	unsigned char digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, pk, 32);
	sodium_bin2hex(out, 65, digest, sizeof(digest));
}

void sfs_fingerprint_jwk(const unsigned char pk[32], char out[44])
{
	/* RFC 7638: the required members in lexicographic order, no whitespace; RFC 8037 gives
	 * the OKP members. */
	char x[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	char json[128];
	unsigned char digest[crypto_hash_sha256_BYTES];
	int n;

	sodium_bin2base64(x, sizeof(x), pk, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n = snprintf(json, sizeof(json), "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x);
	crypto_hash_sha256(digest, (const unsigned char *)json, (unsigned long long)n);
	sodium_bin2base64(out, 44, digest, sizeof(digest),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
