/* Key id against the key's fingerprints (hex SHA-256 prefix or JWK thumbprint). */
#ifndef SFS_KEY_ID_H
#define SFS_KEY_ID_H

#include "secret_fs/error.h"

#include <stdbool.h>

/* 16..64 hex characters (any case): must be a prefix of `fp_hex`; 43 base64url characters:
 * must equal `jwk`; anything else is a label (printable ASCII, no spaces, <= 128 bytes) that
 * is accepted with a warning. *verified tells whether a fingerprint form matched. Returns 0
 * or -EINVAL. */
int sfs_key_id_check(const char *key_id, const char *fp_hex, const char *jwk, bool *verified,
		     struct sfs_warnings *w, struct sfs_error *err);

#endif
