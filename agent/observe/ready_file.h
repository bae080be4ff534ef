/* The ready file: a file that exists exactly while the agent is ready, for probes that can
 * only test for a file (`test -f`, Kubernetes exec probes, images without an HTTP client).
 * Written atomically (temp file, fsync, rename) mode 0444, owned by the agent's current user;
 * the directory must exist and is never created or followed through a planted symlink. */
#ifndef AGENT_OBSERVE_READY_FILE_H
#define AGENT_OBSERVE_READY_FILE_H

#include "base/error.h"

/* Returns 0 or a negative errno with `err` filled (AGENT_FAIL_CANTCREAT). */
int ready_file_write(const char *path, struct agent_error *err);

/* Removes the file; a file already gone is fine. Returns 0 or a negative errno. */
int ready_file_remove(const char *path);

#endif
