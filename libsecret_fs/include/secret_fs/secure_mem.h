/* Secure memory for secret bytes.
 *
 * A `struct sfs_secret` owns a buffer of the library's secure arena. Every buffer that ever
 * holds secret material (source bytes, normalised PEM, base64, DER, seeds) is one of these,
 * and each one is:
 * - locked: its pages are mlock'ed where RLIMIT_MEMLOCK allows (never swapped out);
 * - not dumped: MADV_DONTDUMP, so no core dump holds it even if dumps are enabled;
 * - guarded: the arena is carved from a few mappings, each between two PROT_NONE guard pages;
 *   a buffer has whole pages of its own with its data ending on the last page's end (16-byte
 *   aligned), so a run past the end of the last buffer of a mapping faults;
 * - wiped on free: all its pages are zeroed before they are handed out again;
 * - protectable: sfs_secret_readonly makes exactly its own pages read-only (a write faults),
 *   sfs_secret_readwrite writable again; freeing a read-only buffer is fine.
 * Allocating and freeing cost no system call once a mapping exists (a read-only buffer costs
 * two mprotect), against about ten for a sodium_malloc/sodium_free pair.
 *
 * AddressSanitizer builds (the asan and fuzz presets, never a release) may select a plain
 * malloc backend with the same API, SFS_SECURE_MEM_MALLOC=1, so the sanitizer sees every byte:
 * buffers are wiped and really freed (no reuse), and read-only protection is not applied.
 */
#ifndef SECRET_FS_SECURE_MEM_H
#define SECRET_FS_SECURE_MEM_H

#include "secret_fs/error.h"

#include <stdbool.h>
#include <stddef.h>

#ifndef SFS_SECURE_MEM_MALLOC
#define SFS_SECURE_MEM_MALLOC 0
#endif

struct sfs_secret {
	unsigned char *data; /* in the secure arena (see above); NULL when empty */
	size_t len;	     /* bytes in use */
	size_t cap;	     /* bytes allocated */
};

/* Initialises libsodium (idempotent, thread-unsafe: call once at start). Returns 0 or -EIO.
 * OpenSSL is not started here: the library starts it on the first secret that needs it. */
SFS_API int sfs_init(struct sfs_error *err);

/* Allocates `cap` bytes (cap > 0); `s->len` starts at 0. Returns 0 or -ENOMEM. */
SFS_API int sfs_secret_alloc(struct sfs_secret *s, size_t cap, struct sfs_error *err);

/* Allocates len bytes and copies `data` in. Returns 0 or -ENOMEM. */
SFS_API int sfs_secret_from(struct sfs_secret *s, const void *data, size_t len,
			    struct sfs_error *err);

/* Wipes and frees; safe on a zeroed struct and when called twice. */
SFS_API void sfs_secret_free(struct sfs_secret *s);

/* Freed buffers stay in the arena's mappings, wiped and locked, for the next allocations.
 * This unmaps the mappings that hold no live buffer, e.g. before a long idle period. Not
 * needed before exit. */
SFS_API void sfs_secure_cache_release(void);

/* Makes the buffer's own pages read-only / writable again (mprotect). */
SFS_API void sfs_secret_readonly(struct sfs_secret *s);
SFS_API void sfs_secret_readwrite(struct sfs_secret *s);

/* Constant-time equality of two secrets (length is not secret). */
SFS_API bool sfs_secret_equal(const struct sfs_secret *a, const struct sfs_secret *b);

/* SHA-256 (libsodium crypto_hash_sha256) of a buffer, for change detection. */
SFS_API void sfs_hash(const void *data, size_t len, unsigned char out[32]);

#endif
