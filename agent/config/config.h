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
#include "base/log.h"
#include "secret_fs/source.h"
#include "secret_fs/validate.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct strlist {
	char **items;
	size_t n;
};

enum on_change_kind { ON_CHANGE_SIGNAL, ON_CHANGE_RESTART, ON_CHANGE_EXEC, ON_CHANGE_NONE };

struct secret_cfg {
	char *name;                 /* section name: [secret "NAME"] or name= of --secret */
	char *from;                 /* source spec as written (after expansion) */
	struct sfs_source source;   /* parsed `from` */
	char *to;                   /* absolute target path, or NULL: validated in place */
	enum sfs_secret_type type;  /* default opaque */
	char *domain;               /* ed25519 domain tag, or NULL */
	char *key_id;               /* expected key id, or NULL */
	mode_t mode;                /* resolved: default 0400 keys/opaque, 0444 certs */
	char *owner;                /* as written, or NULL: [agent] user */
	char *group;                /* as written, or NULL */
	uid_t uid;                  /* resolved owner (the invoking uid when no user/owner) */
	gid_t gid;                  /* resolved group */
	bool scrub_env;             /* default yes for env: sources */
	char *cert;                 /* tls-key: name of its tls-cert secret */
	char *ca;                   /* tls-cert: name of its CA secret */
	int cert_index;             /* resolved index of `cert` in config.secrets, or -1 */
	int ca_index;               /* resolved index of `ca`, or -1 */
	char *origin;               /* "FILE:LINE" or "--secret", for messages */
	bool omit_expired;	    /* x509: write the bundle without the certificates outside
				       their validity window (default no) */
	uint64_t given;		    /* keys given, by config_key_bit() (mode and scrub_env
				       defaults depend on it) */
};

struct dir_cfg {
	char *path;   /* absolute */
	mode_t mode;  /* default 0755 */
	char *owner;  /* NULL: [agent] user */
	char *group;
	uid_t uid;
	gid_t gid;
	char *origin;
	uint64_t given; /* keys given, by config_key_bit() */
};

struct config {
	char *config_path;          /* file given by --config or SECRET_AGENT_CONFIG, or NULL */

	/* [agent] */
	char *user;                 /* name or numeric uid, or NULL (stay the invoking user) */
	char *group;                /* name or numeric gid, or NULL */
	enum on_change_kind on_change;
	int on_change_signal;       /* for ON_CHANGE_SIGNAL (default SIGHUP) */
	char *on_change_exec;       /* for ON_CHANGE_EXEC: absolute path of the hook */
	uint64_t debounce_ms;       /* default 100 */
	uint64_t poll_interval_ms;  /* default 0 = inotify only */
	uint64_t grace_ms;          /* default 5000 */
	uint64_t kill_after_ms;     /* 0 = never */
	uint64_t hook_timeout_ms;   /* exec: hooks are killed after this (default 30000) */
	bool signal_group;          /* signals go to the child's process group */
	bool privileged_watcher;    /* keep DAC_READ_SEARCH, CHOWN, FOWNER in the agent */
	char *notify_pidfile;       /* watch: --notify-pidfile */
	enum log_format log_format; /* the command passes both to log_setup() */
	enum log_level log_level;
	char *status_listen; /* status listener "ADDR:PORT" or "[V6]:PORT", NULL: off */
	char *ready_file;    /* absolute path written once ready, NULL: off */
	unsigned warn_days;  /* certificate expiry warning window, days (default 30;
				0: none) */

	/* [preflight] */
	struct strlist require_env;
	struct strlist require_dir;
	struct strlist wait_tcp;     /* every address must answer */
	struct strlist wait_any_tcp; /* one address must answer */
	uint64_t timeout_ms;         /* default 5000 */

	struct secret_cfg *secrets;
	size_t nsecrets;
	struct dir_cfg *dirs;
	size_t ndirs;

	/* ${VAR} references in the file whose variable is unset (no default): their keys were
	 * skipped. When every such variable is also in require_env, the preflight reports them
	 * in the seed's words ("Required environment variable X is not set", all at once, 78);
	 * otherwise config_finish fails with the first one's FILE:LINE message. */
	struct strlist unset_vars;
	struct strlist unset_msgs; /* parallel to unset_vars */

	uint64_t given; /* [agent] and [preflight] keys given, by config_key_bit() */

	/* resolved identity of [agent] user (valid after config_finish) */
	bool has_user;
	uid_t uid;
	gid_t gid;
};

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

/* Prints every key, one per line: "SECTION KEY FLAG VALUE [list]" ("-" for no flag), for the
 * shell completion and the man page to be checked against (check-config --list-keys). */
void config_print_keys(FILE *out);

/* Parsers shared with the flags and tests. Return 0 or -EINVAL. */
int config_parse_duration_ms(const char *s, uint64_t *out);   /* "100ms", "5s", "2m", "0" */
int config_parse_mode(const char *s, mode_t *out);            /* octal, <= 07777 */
int config_parse_signal(const char *s, int *out);             /* "SIGHUP", "HUP", "1" */

#endif
