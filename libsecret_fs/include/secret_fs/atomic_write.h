/* Atomic file writes.
 *
 * A file is written to a fresh temp name in the target's directory (O_CREAT|O_EXCL|O_NOFOLLOW|
 * O_CLOEXEC, mode 0600), fchown + fchmod to the final owner and mode before the first byte,
 * all bytes written, fsync, renameat over the target, fsync of the directory. No reader ever
 * sees a partial file or a wrong mode: the rename alone gives that, fsync adds durability
 * across a power loss. Both fsyncs are skipped on tmpfs and ramfs, where nothing outlives a
 * reboot, and when the caller says the file is written again at every start (skip_sync). Content
 * equal to the current target (and the same owner and mode) is not rewritten: the inode stays.
 *
 * Writes are two-phase so a set of files changes together or not at all: stage every file
 * (temp written and synced), then commit all; any staging failure aborts every staged temp.
 *
 * A crash between write and rename leaves a temp file holding the secret. Staging a name first
 * removes such leftovers for that name: regular files with one link, named exactly
 * ".NAME.XXXXXX" (six letters or digits), owned by the writer or by the target's owner.
 */
#ifndef SECRET_FS_ATOMIC_WRITE_H
#define SECRET_FS_ATOMIC_WRITE_H

#include "secret_fs/error.h"
#include "secret_fs/safe_dir.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sfs_file_opts {
	struct sfs_owner owner;
	mode_t mode;
	/* The file is a copy that its writer re-creates from the source before anyone can rely
	 * on it after a reboot: durability buys nothing, so neither fsync is made. */
	bool skip_sync;
};

struct sfs_staged {
	int dirfd;		    /* dup of the directory; closed by commit/abort */
	char name[NAME_MAX + 1];    /* final name inside dirfd */
	char tmpname[NAME_MAX + 1]; /* temp name; empty when unchanged */
	char path[PATH_MAX];	    /* full target path, for messages */
	bool unchanged;		    /* target already has these bytes, owner and mode */
	unsigned stale_removed;	    /* temp files an interrupted earlier write left, now removed */
	bool durable; /* fsync the file and the directory (not on tmpfs/ramfs, not skip_sync) */
};

/* Phase 1: stage `len` bytes for `name` inside `dirfd`. `path` is the full target path (for
 * messages). The target name itself is never followed: a symlink there is replaced, never
 * written through. Leftover temp files of `name` are removed first (out->stale_removed counts
 * them, also on failure). Errors: -ENOSPC, -EACCES, -EPERM, -EISDIR, ...; no temp file is
 * left. */
SFS_API int sfs_stage(int dirfd, const char *name, const char *path, const void *data, size_t len,
		      const struct sfs_file_opts *opts, struct sfs_staged *out,
		      struct sfs_error *err);

/* Phase 2: rename the temp over the target and fsync the directory (no-op when unchanged).
 * Always releases the staged entry. Committing a released entry returns 0. */
SFS_API int sfs_commit(struct sfs_staged *st, struct sfs_error *err);

/* Removes the temp file and releases the entry. Safe to call on a released entry, on one whose
 * sfs_stage failed, and on a zeroed struct (which owns nothing). */
SFS_API void sfs_abort(struct sfs_staged *st);

/* Convenience: open/create the parent directory of absolute `path` with `dir_opts`, stage and
 * commit. *changed (may be NULL) tells whether the target was rewritten. `dir_opts` may be NULL:
 * missing directories are then created 0700 for opts->owner. */
SFS_API int sfs_write_file(const char *path, const void *data, size_t len,
			   const struct sfs_dir_opts *dir_opts, const struct sfs_file_opts *opts,
			   bool *changed, struct sfs_error *err);

#endif
