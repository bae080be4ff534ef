/* The armor of a private key: exactly one `PRIVATE KEY` block,
 * nothing around it, no headers, a canonical base64 body. Specific refusals name what was
 * found instead (encrypted PKCS#8, OpenSSH, legacy PKCS#1/SEC1, public keys, certificates).
 */
#ifndef SFS_PRIVATE_KEY_PEM_H
#define SFS_PRIVATE_KEY_PEM_H

#include "secret_fs/error.h"
#include "secret_fs/secure_mem.h"

#include <stddef.h>

/* Decodes normalised PEM text into its DER (secure memory, freed by the caller).
 * Returns 0, -EINVAL with a reason, or -ENOMEM. */
int sfs_private_key_pem_decode(const char *text, size_t len, struct sfs_secret *der,
			       struct sfs_error *err);

/* Only the label check (step 6), for `validate --type auto` and for the armor above. */
int sfs_private_key_label_check(const char *label, struct sfs_error *err);

#endif
