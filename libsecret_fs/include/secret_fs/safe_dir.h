/* Safe directories: open (and create) a directory path without ever being redirected.
 *
 * The path is walked component by component from "/" with openat(O_DIRECTORY|O_NOFOLLOW|
 * O_CLOEXEC). Rules:
 *  - a symlink component is followed only when the link and the directory holding it are both
 *    owned by root (system links such as /var/run); any other symlink is refused (-ELOOP);
 *  - an existing directory below a sticky world-writable parent (/tmp) must be owned by root
 *    or by the target owner, else it is refused (-EPERM): someone else planted it;
 *  - missing components are created with the owner/group/mode given for them; existing
 *    directories are never chmod'ed or chown'ed unless they already belong to the target owner
 *    and the caller asks for the final directory's mode to be enforced.
 */
#ifndef SECRET_FS_SAFE_DIR_H
#define SECRET_FS_SAFE_DIR_H

#include "secret_fs/error.h"

#include <stdbool.h>
#include <sys/types.h>

struct sfs_owner {
	uid_t uid;
	gid_t gid;
	bool chown; /* false when not root: files and dirs keep the invoking uid/gid */
};

struct sfs_dir_opts {
	struct sfs_owner owner;	 /* target owner: created dirs get it, /tmp rule checks it */
	mode_t mode;		 /* mode of the final directory when created (e.g. 0700) */
	mode_t parent_mode;	 /* mode of missing intermediate directories */
	bool parents_root_owned; /* intermediates created as the invoking uid/gid ([dir] sections)
				    instead of `owner` */
	bool enforce_final;	 /* an existing final directory owned by `owner.uid` gets `mode` */
	bool create;		 /* false: only open, -ENOENT when missing */
};

/* Opens (creating as allowed) the absolute directory `path`. On success *dirfd_out is an
 * O_DIRECTORY|O_CLOEXEC descriptor the caller closes. Errors: -ELOOP (symlink refused),
 * -EPERM (planted directory), -ENOTDIR, -ENOENT, -EACCES, other errno from the kernel; the
 * message names the offending path component. */
SFS_API int sfs_dir_open(const char *path, const struct sfs_dir_opts *opts, int *dirfd_out,
			 struct sfs_error *err);

#endif
