/* The agent's configuration: INI file plus command-line flags (docs/secret-agent.1.scd,
 * CONFIGURATION and OPTIONS).
 *
 * Every key is one row of the table in keys.c (section, name, flag, parser, default, list or
 * not, plan printer). Values are expanded (${VAR}, ${VAR:-default}) when read. Unknown sections and
 * keys are errors with file:line. Flags override/extend the file: scalar flags replace, list flags
 * append, --secret adds a secret. Everything is resolved (users, groups, modes, durations,
 * signals) by config_finish(), so later stages never parse text.
 *
 * Choices the contract leaves open (see config_*.c for the reasons):
 *   - "$$" is a literal '$'; a backslash is not an escape. ${VAR:-default} also applies when
 *     VAR is set but empty, as in the shell. Flag values are not expanded (the shell did).
 *   - Durations need a unit (ms, s, m, h) except a bare 0. Modes are always octal.
 *   - A malformed flag, an unknown flag and a bad --secret are usage errors (64); everything
 *     from the file, a missing file and unknown users/groups are config errors (78).
 *   - Scalar keys may appear once per section; list keys (require_env, require_dir,
 *     wait_tcp, wait_any_tcp) append, also over indented continuation lines.
 *   - omit_expired = yes applies to x509 bundles only; on another type it is a config error,
 *     so nobody believes it filters something it does not (no, the default, is accepted
 *     anywhere). status_listen takes literal addresses only (a listener binds before any
 *     name could be trusted).
 *   - Parsing sets nothing global: the log settings are returned in log_format/log_level and
 *     the command calls log_setup().
 *   - [dir] mode defaults to 0755. An owner left out defaults to [agent] user and group (what
 *     the service runs as), else the invoking uid/gid; an explicit owner without group gets
 *     that user's primary group (gid = uid for a numeric uid without passwd entry).
 *   - [agent] group without [agent] user is refused rather than silently ignored.
 */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include "base/error.h"
#include "config/model.h"
#include "config/values.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Zeroes and sets defaults. */
void config_init(struct config *cfg);
void config_free(struct config *cfg);

/* Errors: every function below that can fail returns 0 or a negative errno and fills `err`
 * (struct agent_error) with one sentence such as "agent.ini:12: unknown key 'usr' in [agent]"
 * and the failure class: AGENT_FAIL_CONFIG (exit 78) for the file, unknown users and groups,
 * AGENT_FAIL_USAGE (exit 64) for the command line. */

/* Reads an INI file (missing or unreadable: AGENT_FAIL_CONFIG). */
int config_load_file(struct config *cfg, const char *path, struct agent_error *err);

/* Parses the option flags shared by run/materialize/watch/check-config starting at argv[*idx],
 * stopping at "--" or the first non-option (left in *idx). --config FILE is loaded first
 * wherever it appears; SECRET_AGENT_CONFIG is used when absent. `allow_notify_pidfile`
 * enables --notify-pidfile (watch). Returns 0 or a negative errno with err filled. */
int config_parse_args(struct config *cfg, int argc, char **argv, int *idx,
		      bool allow_notify_pidfile, struct agent_error *err);

/* True when argv[idx..] asks for --help or -h before "--" or the first non-option, so a
 * command can print its usage before any config is loaded. */
bool config_args_want_help(int argc, char **argv, int idx);

/* Applies defaults that depend on other settings (modes by type, owners, scrub_env), resolves
 * users/groups (unknown: AGENT_FAIL_CONFIG), links cert/ca names, checks required keys.
 * Returns 0 or a negative errno with err filled. */
int config_finish(struct config *cfg, struct agent_error *err);

/* Whether `name` is listed in [preflight] require_env (or --require-env). */
bool config_is_required_env(const struct config *cfg, const char *name);

/* Prints the resolved plan (check-config) on stdout; never prints secret values. */
void config_print_plan(const struct config *cfg, FILE *out);

#endif
