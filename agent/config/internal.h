/* The config model's own helpers (config.c), shared by the reader, the flags and the final
 * checks of this folder only. Not for other modules (use config.h). */
#ifndef AGENT_CONFIG_INTERNAL_H
#define AGENT_CONFIG_INTERNAL_H

#include "base/error.h"
#include "config/model.h"

/* Adds a secret or a dir with its defaults; NULL with `err` filled (AGENT_FAIL_CONFIG) for a bad
 * or repeated name. `origin` is "FILE:LINE" or "--secret". */
struct secret_cfg *config_add_secret(struct config *cfg, const char *name, const char *origin,
				     struct agent_error *err);
struct dir_cfg *config_add_dir(struct config *cfg, const char *path, const char *origin,
			       struct agent_error *err);
struct secret_cfg *config_find_secret(const struct config *cfg, const char *name);

#endif
