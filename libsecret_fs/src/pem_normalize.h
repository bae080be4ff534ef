/* Normalisation of PEM text that travelled through env vars, YAML or CI variables, after the
 * input limits are checked. The key bytes never change: only quoting, escaping, line endings,
 * indentation and an outer base64 wrapping are undone, each with a warning.
 */
#ifndef SFS_PEM_NORMALIZE_H
#define SFS_PEM_NORMALIZE_H

#include "secret_fs/error.h"
#include "secret_fs/secure_mem.h"

#include <stddef.h>

/* Normalises `len` bytes of `in` into `out` (secure memory, freed by the caller, even on
 * error). The result is at most `max_bytes` long. Returns 0, -EINVAL with a reason, or
 * -ENOMEM. */
int sfs_pem_normalize(const unsigned char *in, size_t len, size_t max_bytes, struct sfs_secret *out,
		      struct sfs_warnings *w, struct sfs_error *err);

#endif
