/* Secret sources: where bytes come from.
 *
 *   env:NAME   an environment variable; after reading, the bytes behind getenv() are wiped and
 *              the variable is unset (unless the caller asks not to scrub), so
 *              /proc/self/environ no longer holds them.
 *   file:PATH  a regular file, following symlinks (a Kubernetes Secret volume is a symlink
 *              farm); a FIFO, socket or device is refused at once (-EINVAL), never waited on.
 *   cred:NAME  $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential=).
 *   -          standard input.
 *   PATH       a bare path means file:PATH.
 */
#ifndef SECRET_FS_SOURCE_H
#define SECRET_FS_SOURCE_H

#include "secret_fs/error.h"
#include "secret_fs/secure_mem.h"

#include <stdbool.h>
#include <stddef.h>

enum sfs_source_kind { SFS_SOURCE_ENV, SFS_SOURCE_FILE, SFS_SOURCE_CRED, SFS_SOURCE_STDIN };

struct sfs_source {
	enum sfs_source_kind kind;
	char *ref;  /* variable name, path or credential name (heap, owned) */
	char *spec; /* the text as given, e.g. "env:KEY" (heap, owned): used in messages */
};

/* Size limits: keys are small, certificate bundles can be large. */
#define SFS_MAX_KEY_BYTES    8192u
#define SFS_MAX_SECRET_BYTES (1024u * 1024u)

/* Parses a SOURCE string. Returns 0, -EINVAL (bad syntax, message names it) or -ENOMEM. */
SFS_API int sfs_source_parse(const char *spec, struct sfs_source *out, struct sfs_error *err);
SFS_API void sfs_source_free(struct sfs_source *src);

/* The filesystem path a file: or cred: source reads (cred: resolved against
 * $CREDENTIALS_DIRECTORY). Returns 0, -ENOENT (cred: without CREDENTIALS_DIRECTORY) or
 * -EINVAL for env:/stdin, which have no path. */
SFS_API int sfs_source_path(const struct sfs_source *src, char *buf, size_t bufsize,
			    struct sfs_error *err);

struct sfs_read_opts {
	size_t max_bytes; /* refuse larger content with a clear error (-EFBIG); 0 means
			     SFS_MAX_SECRET_BYTES */
	bool keep_env;	  /* env: do not wipe/unset the variable (scrub_env = no) */
};

/* Reads the whole source into `out` (secure memory; freed by the caller with
 * sfs_secret_free). Errors: -ENOENT (unset variable, missing file), -EFBIG (over max_bytes),
 * -ENODATA (empty), -EINVAL (a file: or cred: path that is not a regular file), -EISDIR,
 * -EACCES, -EIO. `opts` may be NULL (defaults). On error `out` is empty.
 * An env: variable is scrubbed only after a successful read. */
SFS_API int sfs_source_read(const struct sfs_source *src, const struct sfs_read_opts *opts,
			    struct sfs_secret *out, struct sfs_error *err);

/* Wipes the bytes of an environment variable in place and unsets it: every copy environ points
 * to, and any NAME= entry left in the process's initial environment block (what
 * /proc/PID/environ shows), even one an earlier setenv() replaced. Returns 0 or -ENOENT. */
SFS_API int sfs_env_scrub(const char *name);

#endif
