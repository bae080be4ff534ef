#include "secrets/source_trust.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINKS 40

static bool in_groups(gid_t gid, const gid_t *groups, size_t ngroups)
{
	for (size_t i = 0; i < ngroups; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* Whether `uid` could add, rename or remove entry `entry` (lstat'ed) in directory `dir`. */
static bool can_change(const struct stat *dir, const struct stat *entry, uid_t uid,
		       const gid_t *groups, size_t ngroups)
{
	bool writable;

	if (dir->st_uid == uid) /* the owner may chmod it writable at any time */
		return true;
	writable = (dir->st_mode & S_IWOTH) ||
		   ((dir->st_mode & S_IWGRP) && in_groups(dir->st_gid, groups, ngroups));
	if (!writable)
		return false;
	/* Sticky: only the entry's owner (or the directory's) may rename or remove it. */
	return !(dir->st_mode & S_ISVTX) || entry->st_uid == uid;
}

/* Drops the last component of absolute `dir` ("/a/b" -> "/a", "/a" -> "/"). */
static void parent_of(char *dir)
{
	char *slash = strrchr(dir, '/');

	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
}

int source_trust_check(const char *path, uid_t uid, const gid_t *groups, size_t ngroups, char *why,
		       size_t why_size)
{
	char dir[PATH_MAX] = "/", rest[PATH_MAX], next[PATH_MAX], target[PATH_MAX];
	unsigned links = 0;

	if (path[0] != '/' || strlen(path) >= sizeof(rest)) {
		snprintf(why, why_size, "%s is not an absolute path", path);
		return -EINVAL;
	}
	snprintf(rest, sizeof(rest), "%s", path);
	for (;;) {
		char *comp = rest, *slash;
		struct stat dst, est;
		ssize_t n;

		while (*comp == '/')
			comp++;
		if (*comp == '\0')
			return 0;
		slash = strchr(comp, '/');
		if (slash)
			*slash = '\0';
		/* What is left after this component, kept aside before `rest` is rewritten. */
		snprintf(target, sizeof(target), "%s", slash ? slash + 1 : "");
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			if (comp[1] == '.')
				parent_of(dir);
			snprintf(rest, sizeof(rest), "%s", target);
			continue;
		}
		if (snprintf(next, sizeof(next), "%s%s%s", dir, strcmp(dir, "/") ? "/" : "",
			     comp) >= (int)sizeof(next)) {
			snprintf(why, why_size, "the path of %s is too long", path);
			return -ENAMETOOLONG;
		}
		if (stat(dir, &dst) < 0 || lstat(next, &est) < 0) {
			int r = -errno;
			snprintf(why, why_size, "cannot examine %s: %s", next, strerror(-r));
			return r;
		}
		if (can_change(&dst, &est, uid, groups, ngroups)) {
			snprintf(why, why_size,
				 "uid %u can change directory %s on the way to %s (owner uid %u, "
				 "mode %04o)",
				 (unsigned)uid, dir, path, (unsigned)dst.st_uid,
				 (unsigned)(dst.st_mode & 07777));
			return -EPERM;
		}
		if (S_ISLNK(est.st_mode)) {
			char link[PATH_MAX];

			if (++links > MAX_LINKS) {
				snprintf(why, why_size, "too many symbolic links in %s", path);
				return -ELOOP;
			}
			n = readlink(next, link, sizeof(link) - 1);
			if (n < 0) {
				int r = -errno;
				snprintf(why, why_size, "cannot read link %s: %s", next,
					 strerror(-r));
				return r;
			}
			link[n] = '\0';
			if (link[0] == '/')
				snprintf(dir, sizeof(dir), "/");
			if (snprintf(rest, sizeof(rest), "%s/%s", link, target) >=
			    (int)sizeof(rest)) {
				snprintf(why, why_size, "the path of %s is too long", path);
				return -ENAMETOOLONG;
			}
			continue;
		}
		snprintf(dir, sizeof(dir), "%s", next);
		snprintf(rest, sizeof(rest), "%s", target);
	}
}
