#include "observe/ready_file.h"

#include "secret_fs/atomic_write.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int ready_file_write(const char *path, struct agent_error *err)
{
	/* No chown: the file belongs to whoever the agent is now (the service user after the
	 * drop), so that same user can remove it on exit. */
	const struct sfs_file_opts opts = {
	    .owner = {.uid = geteuid(), .gid = getegid(), .chown = false},
	    .mode = 0444,
	    .skip_sync = true, /* removed at exit, written again at every start */
	};
	const struct sfs_dir_opts dir = {
	    .owner = opts.owner,
	    .mode = 0755,
	    .create = false,
	};
	char body[32];
	struct sfs_error serr = {0};
	int n, r;

	if (!path || path[0] != '/')
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "ready_file must be an absolute path");
	/* The pid, so a stale file left by a killed agent can be told from a live one. */
	n = snprintf(body, sizeof(body), "%ld\n", (long)getpid());
	r = sfs_write_file(path, body, (size_t)n, &dir, &opts, NULL, &serr);
	if (r < 0) {
		agent_error_from_sfs(err, AGENT_FAIL_CANTCREAT, &serr);
		agent_error_prefix(err, "ready file %s", path);
		return r;
	}
	return 0;
}

int ready_file_remove(const char *path)
{
	if (!path)
		return 0;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
