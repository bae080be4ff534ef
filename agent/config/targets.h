/* Whether two secrets' targets are the same file, however their paths are spelled. */
#ifndef AGENT_CONFIG_TARGETS_H
#define AGENT_CONFIG_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

/* Lexical normalisation of an absolute path: "." and empty components dropped, ".." removes the
 * previous one (never above "/"). Returns 0 or -ENAMETOOLONG. */
int config_normalize_path(const char *in, char *out, size_t outsize);

/* True when the absolute paths `a` and `b` name the same file: equal once normalised, or the
 * same name in the same existing directory (device and inode: a directory reached through a
 * symlink), or the same existing file (device and inode of the final component, not
 * followed). */
bool config_same_target(const char *a, const char *b);

#endif
