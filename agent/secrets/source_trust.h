/* Sources that the service cannot redirect (docs/design.md §10.1).
 *
 * With privileged_watcher the agent keeps CAP_DAC_READ_SEARCH after dropping to the service's
 * uid, and sources are opened through symlinks (a Kubernetes Secret volume is made of them).
 * If the service could change any directory on the way to a source, it could point the source
 * at a file only root may read and have the agent read it. So every directory met while
 * resolving the source path, links followed one at a time, must be out of the service's
 * reach: not owned by it and not writable by it, except a sticky directory (/tmp, a Secret
 * volume's tmpfs root) whose entry on the path belongs to somebody else, since the sticky bit
 * keeps the service from renaming or removing that entry. ACLs are not looked at.
 */
#ifndef AGENT_SOURCE_TRUST_H
#define AGENT_SOURCE_TRUST_H

#include <stddef.h>
#include <sys/types.h>

/* Checks absolute `path` as described above for `uid`, whose groups are `groups` (`ngroups`
 * entries; its primary group included). Returns 0, -EPERM with the reason in `why` (naming
 * the directory), or another negative errno (a component cannot be examined, a link loop)
 * with the reason in `why`. */
int source_trust_check(const char *path, uid_t uid, const gid_t *groups, size_t ngroups, char *why,
		       size_t why_size);

#endif
