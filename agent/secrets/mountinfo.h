/* Bind-mount detection through /proc/self/mountinfo (docs/design.md §10).
 *
 * A secret whose source file is itself a mount point (Kubernetes subPath) is a bind mount of
 * one inode: the kubelet's atomic swap of `..data` never reaches it, so it can never rotate.
 * The agent says so at startup instead of watching it silently forever.
 */
#ifndef AGENT_MOUNTINFO_H
#define AGENT_MOUNTINFO_H

#include <stdbool.h>

/* Sets *is_mount to whether `path` (absolute, compared as written and as resolved by
 * realpath) is a mount point listed in the mountinfo file `mountinfo_path` (NULL:
 * /proc/self/mountinfo). Returns 0 or a negative errno (the file could not be read). */
int mountinfo_is_mount_point(const char *mountinfo_path, const char *path, bool *is_mount);

/* Sets *is_mount to whether `path`, links followed, is the root of a mount: one statx
 * (STATX_ATTR_MOUNT_ROOT, Linux 5.8) where the kernel reports it, otherwise the mountinfo scan
 * above on /proc/self/mountinfo. Returns 0 or a negative errno. */
int mount_point_check(const char *path, bool *is_mount);

/* Decodes the octal escapes (\040 space, \011 tab, \012 newline, \134 backslash) mountinfo
 * uses in paths, in place. */
void mountinfo_unescape(char *s);

#endif
