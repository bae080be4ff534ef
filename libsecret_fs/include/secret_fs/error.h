/* Error reporting for libsecret_fs.
 *
 * Every function that can fail returns 0 or a negative errno and, when `err` is not NULL, fills
 * it with one human sentence (no trailing newline) that names the path or source involved.
 * The sentence never contains secret bytes. The library never prints and never exits.
 *
 * What the errno says (what a caller does with it, an exit status for instance, is its own
 * business):
 *   -EINVAL / -EBADMSG  the secret's content is invalid
 *   -ENOENT             a source does not exist, or an env var is unset
 *   -EPERM / -EACCES    permission, refused ownership, planted symlink
 *   anything else       cannot read or write
 */
#ifndef SECRET_FS_ERROR_H
#define SECRET_FS_ERROR_H

#include <stddef.h>

#define SFS_API	      __attribute__((visibility("default")))
#define SFS_ERROR_MAX 512

struct sfs_error {
	int code;		 /* the negative errno that was returned */
	char msg[SFS_ERROR_MAX]; /* one sentence, NUL-terminated */
};

/* Fills `err` (when not NULL) and returns `code` (a negative errno), so callers can write
 * `return sfs_error_set(err, -ENOENT, "...", ...);`. */
SFS_API int sfs_error_set(struct sfs_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with "PREFIX: " (used to name a source or secret). */
SFS_API void sfs_error_prefix(struct sfs_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Non-fatal findings (a normalisation applied, a certificate close to expiry). Fixed capacity:
 * further warnings past the last slot are counted in `dropped`. Never contain secret bytes. */
#define SFS_WARNINGS_MAX 16
#define SFS_WARNING_LEN	 256
struct sfs_warnings {
	unsigned count;
	unsigned dropped;
	char msg[SFS_WARNINGS_MAX][SFS_WARNING_LEN];
};

SFS_API void sfs_warn(struct sfs_warnings *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
