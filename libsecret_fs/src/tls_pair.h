/* TLS private keys (any PKCS#8 private key OpenSSL reads) and their certificate. Ed25519 keys
 * take the strict path of ed25519_key.h instead; this file handles the rest.
 */
#ifndef SFS_TLS_PAIR_H
#define SFS_TLS_PAIR_H

#include "secret_fs/error.h"
#include "secret_fs/secure_mem.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>

/* Parses a PKCS#8 DER (every byte consumed), checks the key's consistency where the algorithm
 * supports it, and writes its canonical PKCS#8 PEM (what `openssl pkey` prints) to
 * `canonical`. *pkey is freed by the caller with EVP_PKEY_free (which clears it); *algorithm
 * is a static name. Returns 0, -EINVAL or -ENOMEM. */
int sfs_tls_key_load(const unsigned char *der, size_t len, EVP_PKEY **pkey, const char **algorithm,
		     struct sfs_secret *canonical, struct sfs_error *err);

/* X509_check_private_key of the bundle's first certificate. Returns 0 or -EINVAL. */
int sfs_tls_key_match(EVP_PKEY *pkey, X509 *cert, struct sfs_error *err);

#endif
