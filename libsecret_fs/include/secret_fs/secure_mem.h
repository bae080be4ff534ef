/* Secure memory for secret bytes.
 *
 * A `struct sfs_secret` owns a libsodium `sodium_malloc` buffer: guarded, mlock'ed where the
 * kernel allows, and wiped on free. Every buffer that ever holds secret material (source bytes,
 * normalised PEM, base64, DER, seeds) is one of these.
 *
 * AddressSanitizer builds (the asan and fuzz presets, never a release) may select a plain
 * malloc backend with the same API, SFS_SECURE_MEM_MALLOC=1, so the sanitizer sees every byte:
 * buffers are wiped and really freed (no reuse), and read-only protection is not applied.
 */
#ifndef SECRET_FS_SECURE_MEM_H
#define SECRET_FS_SECURE_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "secret_fs/error.h"

#ifndef SFS_SECURE_MEM_MALLOC
#define SFS_SECURE_MEM_MALLOC 0
#endif

struct sfs_secret {
	unsigned char *data; /* sodium_malloc'ed (see above); NULL when empty */
	size_t len;          /* bytes in use */
	size_t cap;          /* bytes allocated */
};

/* Initialises libsodium (idempotent, thread-unsafe: call once at start). Returns 0 or -EIO. */
SFS_API int sfs_init(struct sfs_error *err);

/* Allocates `cap` bytes (cap > 0); `s->len` starts at 0. Returns 0 or -ENOMEM. */
SFS_API int sfs_secret_alloc(struct sfs_secret *s, size_t cap, struct sfs_error *err);

/* Allocates len bytes and copies `data` in. Returns 0 or -ENOMEM. */
SFS_API int sfs_secret_from(struct sfs_secret *s, const void *data, size_t len,
			    struct sfs_error *err);

/* Wipes and frees; safe on a zeroed struct and when called twice. */
SFS_API void sfs_secret_free(struct sfs_secret *s);

/* Freed small buffers are kept, wiped and locked, for reuse by an allocation of the same size
 * (a sodium_malloc/sodium_free pair is about ten system calls). This gives them back to
 * libsodium, e.g. before a long idle period. Not needed before exit. */
SFS_API void sfs_secure_cache_release(void);

/* Makes the buffer read-only (sodium_mprotect_readonly) / writable again. */
SFS_API void sfs_secret_readonly(struct sfs_secret *s);
SFS_API void sfs_secret_readwrite(struct sfs_secret *s);

/* Constant-time equality of two secrets (length is not secret). */
SFS_API bool sfs_secret_equal(const struct sfs_secret *a, const struct sfs_secret *b);

/* SHA-256 (libsodium crypto_hash_sha256) of a buffer, for change detection. */
SFS_API void sfs_hash(const void *data, size_t len, unsigned char out[32]);

#endif
