/* ${VAR} / ${VAR:-default} / $$ expansion of config values against the environment. */
#ifndef AGENT_CONFIG_EXPAND_H
#define AGENT_CONFIG_EXPAND_H

#include "base/error.h"

#include <stddef.h>

/* Returns 0 with *out (heap), -ENOENT when a variable is unset (the sentence names it),
 * -EINVAL for a malformed reference, or -ENOMEM; `err` holds the sentence (AGENT_FAIL_CONFIG). */
int config_expand(const char *in, char **out, struct agent_error *err);

/* Finds the next ${VAR} (without default) in `in` whose variable is unset: fills `name` and
 * returns where to continue, or NULL when there is none. */
const char *config_next_unset_var(const char *in, char *name, size_t namesize);

/* The one sentence for an unset variable, into `err`; returns -ENOENT. */
int config_unset_var_error(const char *name, struct agent_error *err);

#endif
