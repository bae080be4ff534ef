/* Users and groups: names or numeric ids resolved through passwd/group (NSS; in the static
 * build, the files /etc/passwd and /etc/group alone). */
#ifndef AGENT_IDENTITY_H
#define AGENT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct identity {
	uid_t uid;
	gid_t gid;
	bool by_name;        /* given as a name: supplementary groups via initgroups() */
	char name[64];       /* passwd name, or "" for a numeric uid without an entry */
	char home[256];      /* passwd home directory, or "/" */
	gid_t groups[64];    /* supplementary groups to set (getgrouplist for names, else none) */
	size_t ngroups;
};

/* Resolves `user` (name or number) and optional `group` (name or number; NULL: the user's
 * primary group, or gid == uid for a numeric uid without a passwd entry). Returns 0, -ENOENT
 * with `msg` naming the unknown user or group, or another negative errno. */
int identity_resolve(const char *user, const char *group, struct identity *out, char *msg,
		     size_t msgsize);

/* Resolves a group name or number. Returns 0 or -ENOENT. */
int identity_resolve_group(const char *group, gid_t *out);

#endif
