/* The configuration's data model: what config_finish() leaves for the rest of the agent. Only
 * types: the readers (config.h), the key table (keys.h) and the helpers (strlist.h) build on it
 * without depending on one another in a circle. */
#ifndef AGENT_CONFIG_MODEL_H
#define AGENT_CONFIG_MODEL_H

#include "base/log.h"
#include "proc/identity.h"
#include "secret_fs/source.h"
#include "secret_fs/validate.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct strlist {
	char **items;
	size_t n;
};

enum on_change_kind { ON_CHANGE_SIGNAL, ON_CHANGE_RESTART, ON_CHANGE_EXEC, ON_CHANGE_NONE };

struct secret_cfg {
	char *name;		   /* section name: [secret "NAME"] or name= of --secret */
	char *from;		   /* source spec as written (after expansion) */
	struct sfs_source source;  /* parsed `from` */
	char *to;		   /* absolute target path, or NULL: validated in place */
	enum sfs_secret_type type; /* default opaque */
	char *domain;		   /* ed25519 domain tag, or NULL */
	char *key_id;		   /* expected key id, or NULL */
	mode_t mode;		   /* resolved: default 0400 keys/opaque, 0444 certs */
	char *owner;		   /* as written, or NULL: [agent] user */
	char *group;		   /* as written, or NULL */
	uid_t uid;		   /* resolved owner (the invoking uid when no user/owner) */
	gid_t gid;		   /* resolved group */
	bool scrub_env;		   /* default yes for env: sources */
	char *cert;		   /* tls-key: name of its tls-cert secret */
	char *ca;		   /* tls-cert: name of its CA secret */
	int cert_index;		   /* resolved index of `cert` in config.secrets, or -1 */
	int ca_index;		   /* resolved index of `ca`, or -1 */
	char *origin;		   /* "FILE:LINE" or "--secret", for messages */
	bool omit_expired;	   /* x509: write the bundle without the certificates outside
				      their validity window (default no) */
	uint64_t given;		   /* keys given, by config_key_bit() (mode and scrub_env
				      defaults depend on it) */
};

struct dir_cfg {
	char *path;  /* absolute */
	mode_t mode; /* default 0755 */
	char *owner; /* NULL: [agent] user */
	char *group;
	uid_t uid;
	gid_t gid;
	char *origin;
	uint64_t given; /* keys given, by config_key_bit() */
};

struct config {
	char *config_path; /* file given by --config or SECRET_AGENT_CONFIG, or NULL */

	/* [agent] */
	char *user;  /* name or numeric uid, or NULL (stay the invoking user) */
	char *group; /* name or numeric gid, or NULL */
	enum on_change_kind on_change;
	int on_change_signal;	    /* for ON_CHANGE_SIGNAL (default SIGHUP) */
	char *on_change_exec;	    /* for ON_CHANGE_EXEC: absolute path of the hook */
	uint64_t debounce_ms;	    /* default 100 */
	uint64_t poll_interval_ms;  /* default 0 = inotify only */
	uint64_t grace_ms;	    /* default 5000 */
	uint64_t kill_after_ms;	    /* 0 = never */
	uint64_t hook_timeout_ms;   /* exec: hooks are killed after this (default 30000) */
	bool signal_group;	    /* signals go to the child's process group */
	bool privileged_watcher;    /* keep DAC_READ_SEARCH, CHOWN, FOWNER in the agent */
	char *notify_pidfile;	    /* watch: --notify-pidfile */
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
	uint64_t timeout_ms;	     /* default 5000 */

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

	/* resolved identity of [agent] user (valid after config_finish); the whole entry is
	 * kept for the privilege drop, so passwd and group are read once per start */
	bool has_user;
	uid_t uid;
	gid_t gid;
	struct identity user_id;
};

#endif
