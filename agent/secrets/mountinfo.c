#include "secrets/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void mountinfo_unescape(char *s)
{
	char *out = s;

	for (const char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
}

/* The fifth space-separated field is the mount point (proc(5)). */
static char *mount_point_field(char *line)
{
	char *save = NULL;
	char *field = strtok_r(line, " ", &save);

	for (int i = 0; field && i < 4; i++)
		field = strtok_r(NULL, " ", &save);
	return field;
}

int mountinfo_is_mount_point(const char *mountinfo_path, const char *path, bool *is_mount)
{
	char resolved[PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int ret = 0;

	*is_mount = false;
	if (!realpath(path, resolved))
		resolved[0] = '\0';
	f = fopen(mountinfo_path ? mountinfo_path : "/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *mp;

		line[strcspn(line, "\n")] = '\0';
		mp = mount_point_field(line);
		if (!mp)
			continue;
		mountinfo_unescape(mp);
		if (strcmp(mp, path) == 0 || (resolved[0] && strcmp(mp, resolved) == 0)) {
			*is_mount = true;
			break;
		}
	}
	if (ferror(f))
		ret = -EIO;
	free(line);
	fclose(f);
	return ret;
}

int mount_point_check(const char *path, bool *is_mount)
{
	struct statx stx;

	/* The kernel knows whether a dentry is its mount's root; asking costs one call, where
	 * reading mountinfo has the kernel print every mount of the namespace, once per secret. */
	if (statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) == 0 &&
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
		*is_mount = (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
		return 0;
	}
	return mountinfo_is_mount_point(NULL, path, is_mount);
}
