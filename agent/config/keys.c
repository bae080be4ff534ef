/* The configuration schema (see keys.h): the table of keys, the parser of each value type and
 * each key's plan line. The table is at the end of the file; everything above it is a column. */
#include "config/keys.h"

#include "config/strlist.h"
#include "config/values.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(obj, key, type)  ((type *)(void *)((char *)(obj) + (key)->offset))
#define CFIELD(obj, key, type) ((const type *)(const void *)((const char *)(obj) + (key)->offset))

/* ---- Value types: each parser stores into the row's field. ---- */

static int set_text(char **field, const char *copy_of, struct agent_error *err)
{
	char *copy = strdup(copy_of);

	if (!copy)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -ENOMEM, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

/* A non-empty string. */
static int parse_string(void *obj, const struct config_key *key, const char *value,
			struct agent_error *err)
{
	if (*value == '\0')
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL, "'%s' is empty", key->name);
	return set_text(FIELD(obj, key, char *), value, err);
}

/* An absolute path naming a file. */
static int parse_file_path(void *obj, const struct config_key *key, const char *value,
			   struct agent_error *err)
{
	size_t len = strlen(value);

	if (value[0] != '/')
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "'%s' needs an absolute path, got '%s'", key->name, value);
	if (value[len - 1] == '/')
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "'%s' must name a file, got '%s'", key->name, value);
	return set_text(FIELD(obj, key, char *), value, err);
}

static int parse_duration(void *obj, const struct config_key *key, const char *value,
			  struct agent_error *err)
{
	if (config_parse_duration_ms(value, FIELD(obj, key, uint64_t)) < 0)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "invalid duration '%s' for '%s' (e.g. 100ms, 5s, 2m or 0)",
				       value, key->name);
	return 0;
}

static int parse_bool(void *obj, const struct config_key *key, const char *value,
		      struct agent_error *err)
{
	if (config_parse_bool(value, FIELD(obj, key, bool)) < 0)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "invalid value '%s' for '%s' (yes or no)", value, key->name);
	return 0;
}

static int parse_mode(void *obj, const struct config_key *key, const char *value,
		      struct agent_error *err)
{
	if (config_parse_mode(value, FIELD(obj, key, mode_t)) < 0)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "invalid mode '%s' (octal such as 0400 or 0750)", value);
	return 0;
}

/* Days, as validate --warn-days takes them (0: no warning window). */
static int parse_days(void *obj, const struct config_key *key, const char *value,
		      struct agent_error *err)
{
	if (config_parse_uint(value, 36500, FIELD(obj, key, unsigned)) < 0)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "invalid value '%s' for '%s' (a number of days, 0 to 36500)",
				       value, key->name);
	return 0;
}

/* Appends words; returns the index of the first new one (or a negative errno). */
static int append_words(void *obj, const struct config_key *key, const char *value, bool commas,
			struct agent_error *err)
{
	struct strlist *list = FIELD(obj, key, struct strlist);
	size_t before = list->n;

	if (strlist_append_words(list, value, commas) < 0)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -ENOMEM, "out of memory");
	return (int)before;
}

static int parse_words(void *obj, const struct config_key *key, const char *value,
		       struct agent_error *err)
{
	int r = append_words(obj, key, value, false, err);

	return r < 0 ? r : 0;
}

/* Commas separate too: Kafka bootstrap lists are written that way. */
static int parse_words_or_commas(void *obj, const struct config_key *key, const char *value,
				 struct agent_error *err)
{
	int r = append_words(obj, key, value, true, err);

	return r < 0 ? r : 0;
}

static bool env_name_ok(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

static int parse_env_names(void *obj, const struct config_key *key, const char *value,
			   struct agent_error *err)
{
	const struct strlist *list = FIELD(obj, key, struct strlist);
	int first = append_words(obj, key, value, false, err);

	for (size_t k = (size_t)(first < 0 ? 0 : first); first >= 0 && k < list->n; k++)
		if (!env_name_ok(list->items[k]))
			return agent_error_set(
			    err, AGENT_FAIL_CONFIG, -EINVAL,
			    "invalid environment variable name '%s' in require_env",
			    list->items[k]);
	return first < 0 ? first : 0;
}

static int parse_absolute_paths(void *obj, const struct config_key *key, const char *value,
				struct agent_error *err)
{
	const struct strlist *list = FIELD(obj, key, struct strlist);
	int first = append_words(obj, key, value, false, err);

	for (size_t k = (size_t)(first < 0 ? 0 : first); first >= 0 && k < list->n; k++)
		if (list->items[k][0] != '/')
			return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
					       "%s needs absolute paths, got '%s'", key->name,
					       list->items[k]);
	return first < 0 ? first : 0;
}

/* ---- Values of one key each. ---- */

/* "signal:NAME" | "restart" | "exec:/abs/path" | "none" (three fields of struct config). */
static int parse_on_change(void *obj, const struct config_key *key, const char *s,
			   struct agent_error *err)
{
	struct config *cfg = obj;
	enum on_change_kind kind;
	int sig = cfg->on_change_signal;
	char *path = NULL;

	(void)key;
	if (strncmp(s, "signal:", 7) == 0) {
		if (config_parse_signal(s + 7, &sig) < 0)
			return agent_error_set(
			    err, AGENT_FAIL_CONFIG, -EINVAL,
			    "unknown signal '%s' in on_change (e.g. signal:SIGHUP)", s + 7);
		kind = ON_CHANGE_SIGNAL;
	} else if (strcmp(s, "restart") == 0) {
		kind = ON_CHANGE_RESTART;
	} else if (strcmp(s, "none") == 0) {
		kind = ON_CHANGE_NONE;
	} else if (strncmp(s, "exec:", 5) == 0) {
		if (s[5] != '/')
			return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
					       "on_change exec: needs an absolute path, got '%s'",
					       s + 5);
		path = strdup(s + 5);
		if (!path)
			return agent_error_set(err, AGENT_FAIL_CONFIG, -ENOMEM, "out of memory");
		kind = ON_CHANGE_EXEC;
	} else {
		return agent_error_set(
		    err, AGENT_FAIL_CONFIG, -EINVAL,
		    "invalid on_change '%s' (signal:NAME, restart, exec:/path or none)", s);
	}
	free(cfg->on_change_exec);
	cfg->on_change_exec = path;
	cfg->on_change = kind;
	cfg->on_change_signal = sig;
	return 0;
}

static int parse_log_format(void *obj, const struct config_key *key, const char *value,
			    struct agent_error *err)
{
	if (log_parse_format(value, FIELD(obj, key, enum log_format)) < 0)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "invalid log_format '%s' (text or json)", value);
	return 0;
}

static int parse_log_level(void *obj, const struct config_key *key, const char *value,
			   struct agent_error *err)
{
	if (log_parse_level(value, FIELD(obj, key, enum log_level)) < 0)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "invalid log_level '%s' (debug, info, warn or error)",
				       value);
	return 0;
}

static int parse_listen_address(void *obj, const struct config_key *key, const char *value,
				struct agent_error *err)
{
	if (config_parse_listen_address(value) < 0)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "invalid %s '%s' (IPv4 ADDRESS:PORT or [IPv6]:PORT, e.g. "
				       "127.0.0.1:9090 or [::1]:9090)",
				       key->name, value);
	return set_text(FIELD(obj, key, char *), value, err);
}

static int parse_source(void *obj, const struct config_key *key, const char *value,
			struct agent_error *err)
{
	struct secret_cfg *s = obj;
	struct sfs_source parsed = {0};
	struct sfs_error serr = {0};
	int r;

	(void)key;
	if (*value == '\0')
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL, "'from' is empty");
	if (sfs_source_parse(value, &parsed, &serr) < 0)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL, "invalid source '%s': %s",
				       value, serr.msg);
	r = set_text(&s->from, value, err);
	if (r < 0) {
		sfs_source_free(&parsed);
		return r;
	}
	sfs_source_free(&s->source);
	s->source = parsed;
	return 0;
}

static int parse_target(void *obj, const struct config_key *key, const char *value,
			struct agent_error *err)
{
	size_t len = strlen(value);

	if (value[0] != '/')
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "'to' needs an absolute path, got '%s'", value);
	if (value[len - 1] == '/')
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "'to' must name a file, got '%s'", value);
	/* A ".." could climb out of the directory an operator reviewed. */
	if (strstr(value, "/../") || (len >= 3 && strcmp(value + len - 3, "/..") == 0))
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "'to' must not contain '..', got '%s'", value);
	return set_text(FIELD(obj, key, char *), value, err);
}

static int parse_type(void *obj, const struct config_key *key, const char *value,
		      struct agent_error *err)
{
	enum sfs_secret_type type;

	if (sfs_type_parse(value, &type) < 0 || type == SFS_TYPE_AUTO)
		return agent_error_set(
		    err, AGENT_FAIL_CONFIG, -EINVAL,
		    "invalid type '%s' (ed25519, x509, tls-cert, tls-key or opaque)", value);
	*FIELD(obj, key, enum sfs_secret_type) = type;
	return 0;
}

static int parse_domain(void *obj, const struct config_key *key, const char *value,
			struct agent_error *err)
{
	if (*value == '\0')
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "'domain' is empty (after expansion); remove the key for a "
				       "key without a domain tag");
	return parse_string(obj, key, value, err);
}

/* ---- Plan lines. ---- */

static void print_duration(FILE *out, const char *name, uint64_t ms, const char *zero_means)
{
	char buf[32];

	config_format_duration(ms, buf, sizeof(buf));
	if (ms == 0 && zero_means)
		fprintf(out, "  %s: 0 (%s)\n", name, zero_means);
	else
		fprintf(out, "  %s: %s\n", name, buf);
}

static void plan_duration(FILE *out, const struct config *cfg, const void *obj,
			  const struct config_key *key)
{
	(void)cfg;
	print_duration(out, key->name, *CFIELD(obj, key, uint64_t), NULL);
}

static void plan_poll_interval(FILE *out, const struct config *cfg, const void *obj,
			       const struct config_key *key)
{
	(void)cfg;
	print_duration(out, key->name, *CFIELD(obj, key, uint64_t), "inotify only");
}

static void plan_kill_after(FILE *out, const struct config *cfg, const void *obj,
			    const struct config_key *key)
{
	(void)cfg;
	print_duration(out, key->name, *CFIELD(obj, key, uint64_t), "never");
}

static void plan_bool(FILE *out, const struct config *cfg, const void *obj,
		      const struct config_key *key)
{
	(void)cfg;
	fprintf(out, "  %s: %s\n", key->name, *CFIELD(obj, key, bool) ? "yes" : "no");
}

/* Keys that are off by default show only when set, so plans without them stay as they were. */
static void plan_bool_if_yes(FILE *out, const struct config *cfg, const void *obj,
			     const struct config_key *key)
{
	if (*CFIELD(obj, key, bool))
		plan_bool(out, cfg, obj, key);
}

static void plan_string_if_set(FILE *out, const struct config *cfg, const void *obj,
			       const struct config_key *key)
{
	const char *value = *CFIELD(obj, key, char *);

	(void)cfg;
	if (value)
		fprintf(out, "  %s: %s\n", key->name, value);
}

static void plan_days_if_not_default(FILE *out, const struct config *cfg, const void *obj,
				     const struct config_key *key)
{
	unsigned days = *CFIELD(obj, key, unsigned);

	(void)cfg;
	if (days != (unsigned)strtoul(key->def, NULL, 10))
		fprintf(out, "  %s: %u\n", key->name, days);
}

static void plan_list(FILE *out, const struct config *cfg, const void *obj,
		      const struct config_key *key)
{
	const struct strlist *l = CFIELD(obj, key, struct strlist);

	(void)cfg;
	fprintf(out, "  %s:", key->name);
	if (l->n == 0)
		fprintf(out, " none");
	for (size_t i = 0; i < l->n; i++)
		fprintf(out, " %s", l->items[i]);
	fprintf(out, "\n");
}

static void plan_user(FILE *out, const struct config *cfg, const void *obj,
		      const struct config_key *key)
{
	(void)obj;
	(void)key;
	if (cfg->has_user)
		fprintf(out, "  user: %s (uid %u, gid %u)\n", cfg->user, (unsigned)cfg->uid,
			(unsigned)cfg->gid);
	else
		fprintf(out, "  user: none (stays the invoking user, uid %u, gid %u)\n",
			(unsigned)cfg->uid, (unsigned)cfg->gid);
}

static void plan_group(FILE *out, const struct config *cfg, const void *obj,
		       const struct config_key *key)
{
	(void)obj;
	(void)key;
	if (cfg->group)
		fprintf(out, "  group: %s (gid %u)\n", cfg->group, (unsigned)cfg->gid);
}

static void plan_on_change(FILE *out, const struct config *cfg, const void *obj,
			   const struct config_key *key)
{
	char sig[32];

	(void)obj;
	(void)key;
	switch (cfg->on_change) {
	case ON_CHANGE_SIGNAL:
		config_format_signal(cfg->on_change_signal, sig, sizeof(sig));
		fprintf(out, "  on_change: signal:%s\n", sig);
		break;
	case ON_CHANGE_RESTART:
		fprintf(out, "  on_change: restart\n");
		break;
	case ON_CHANGE_EXEC:
		fprintf(out, "  on_change: exec:%s\n", cfg->on_change_exec);
		break;
	case ON_CHANGE_NONE:
		fprintf(out, "  on_change: none\n");
		break;
	}
}

static void plan_log_format(FILE *out, const struct config *cfg, const void *obj,
			    const struct config_key *key)
{
	(void)obj;
	(void)key;
	fprintf(out, "  log_format: %s\n", cfg->log_format == LOG_FORMAT_JSON ? "json" : "text");
}

static void plan_log_level(FILE *out, const struct config *cfg, const void *obj,
			   const struct config_key *key)
{
	/* The names log_parse_level() accepts, in enum log_level order. */
	static const char *const names[] = {"debug", "info", "warn", "error"};

	(void)obj;
	(void)key;
	fprintf(out, "  log_level: %s\n", names[cfg->log_level]);
}

static void plan_source(FILE *out, const struct config *cfg, const void *obj,
			const struct config_key *key)
{
	(void)cfg;
	(void)key;
	fprintf(out, "  source: %s\n", ((const struct secret_cfg *)obj)->from);
}

static void plan_target(FILE *out, const struct config *cfg, const void *obj,
			const struct config_key *key)
{
	const struct secret_cfg *s = obj;

	(void)cfg;
	(void)key;
	fprintf(out, "  target: %s\n", s->to ? s->to : "validated in place");
}

static void plan_type(FILE *out, const struct config *cfg, const void *obj,
		      const struct config_key *key)
{
	(void)cfg;
	(void)key;
	fprintf(out, "  type: %s\n", sfs_type_name(((const struct secret_cfg *)obj)->type));
}

static void plan_mode(FILE *out, const struct config *cfg, const void *obj,
		      const struct config_key *key)
{
	(void)cfg;
	fprintf(out, "  %s: %04o\n", key->name, (unsigned)*CFIELD(obj, key, mode_t));
}

static void plan_secret_owner(FILE *out, const struct config *cfg, const void *obj,
			      const struct config_key *key)
{
	const struct secret_cfg *s = obj;

	(void)cfg;
	(void)key;
	fprintf(out, "  owner: uid %u gid %u\n", (unsigned)s->uid, (unsigned)s->gid);
}

static void plan_dir_owner(FILE *out, const struct config *cfg, const void *obj,
			   const struct config_key *key)
{
	const struct dir_cfg *d = obj;

	(void)cfg;
	(void)key;
	fprintf(out, "  owner: uid %u gid %u\n", (unsigned)d->uid, (unsigned)d->gid);
}

/* The domain tag and key id are shown as present or not, never as values. */
static void plan_set_or_none(FILE *out, const struct config *cfg, const void *obj,
			     const struct config_key *key)
{
	(void)cfg;
	if (config_type_is_key(((const struct secret_cfg *)obj)->type))
		fprintf(out, "  %s: %s\n", key->name, *CFIELD(obj, key, char *) ? "set" : "none");
}

static void plan_scrub_env(FILE *out, const struct config *cfg, const void *obj,
			   const struct config_key *key)
{
	if (((const struct secret_cfg *)obj)->source.kind == SFS_SOURCE_ENV)
		plan_bool(out, cfg, obj, key);
}

static void plan_partner(FILE *out, const struct config *cfg, const void *obj,
			 const struct config_key *key)
{
	const struct secret_cfg *s = obj;
	int index = key->offset == offsetof(struct secret_cfg, cert) ? s->cert_index : s->ca_index;

	if (index >= 0)
		fprintf(out, "  %s: %s\n", key->name, cfg->secrets[index].name);
}

/* ---- The table. Rows print in this order in the plan. ---- */

const struct config_key config_keys[] = {
    /* section, key, flag, value, parser, field, default, options, plan */
    {CONFIG_AGENT, "user", "user", "NAME|UID", parse_string, offsetof(struct config, user), NULL, 0,
     plan_user},
    {CONFIG_AGENT, "group", "group", "NAME|GID", parse_string, offsetof(struct config, group), NULL,
     0, plan_group},
    {CONFIG_AGENT, "on_change", "on-change", "signal:NAME|restart|exec:PATH|none", parse_on_change,
     offsetof(struct config, on_change), "signal:SIGHUP", 0, plan_on_change},
    {CONFIG_AGENT, "debounce", "debounce", "DURATION", parse_duration,
     offsetof(struct config, debounce_ms), "100ms", 0, plan_duration},
    {CONFIG_AGENT, "poll_interval", "poll-interval", "DURATION", parse_duration,
     offsetof(struct config, poll_interval_ms), "0", 0, plan_poll_interval},
    {CONFIG_AGENT, "grace", "grace", "DURATION", parse_duration, offsetof(struct config, grace_ms),
     "5s", 0, plan_duration},
    {CONFIG_AGENT, "kill_after", "kill-after", "DURATION", parse_duration,
     offsetof(struct config, kill_after_ms), "0", 0, plan_kill_after},
    {CONFIG_AGENT, "hook_timeout", "hook-timeout", "DURATION", parse_duration,
     offsetof(struct config, hook_timeout_ms), "30s", 0, plan_duration},
    {CONFIG_AGENT, "signal_group", "signal-group", "yes|no", parse_bool,
     offsetof(struct config, signal_group), "no", 0, plan_bool},
    {CONFIG_AGENT, "privileged_watcher", "privileged-watcher", "yes|no", parse_bool,
     offsetof(struct config, privileged_watcher), "no", 0, plan_bool},
    {CONFIG_AGENT, "log_format", "log-format", "text|json", parse_log_format,
     offsetof(struct config, log_format), "text", 0, plan_log_format},
    {CONFIG_AGENT, "log_level", "log-level", "debug|info|warn|error", parse_log_level,
     offsetof(struct config, log_level), "info", 0, plan_log_level},
    {CONFIG_AGENT, "status_listen", "status-listen", "ADDRESS:PORT", parse_listen_address,
     offsetof(struct config, status_listen), NULL, 0, plan_string_if_set},
    {CONFIG_AGENT, "ready_file", "ready-file", "PATH", parse_file_path,
     offsetof(struct config, ready_file), NULL, 0, plan_string_if_set},
    {CONFIG_AGENT, "warn_days", "warn-days", "DAYS", parse_days, offsetof(struct config, warn_days),
     "30", 0, plan_days_if_not_default},

    {CONFIG_PREFLIGHT, "require_env", "require-env", "NAME...", parse_env_names,
     offsetof(struct config, require_env), NULL, CONFIG_KEY_LIST, plan_list},
    {CONFIG_PREFLIGHT, "require_dir", "require-dir", "PATH...", parse_absolute_paths,
     offsetof(struct config, require_dir), NULL, CONFIG_KEY_LIST, plan_list},
    {CONFIG_PREFLIGHT, "wait_tcp", "wait-tcp", "HOST:PORT...", parse_words,
     offsetof(struct config, wait_tcp), NULL, CONFIG_KEY_LIST, plan_list},
    {CONFIG_PREFLIGHT, "wait_any_tcp", "wait-any-tcp", "HOST:PORT,...", parse_words_or_commas,
     offsetof(struct config, wait_any_tcp), NULL, CONFIG_KEY_LIST, plan_list},
    {CONFIG_PREFLIGHT, "timeout", "timeout", "DURATION", parse_duration,
     offsetof(struct config, timeout_ms), "5s", 0, plan_duration},

    {CONFIG_SECRET, "from", NULL, "SOURCE", parse_source, offsetof(struct secret_cfg, from), NULL,
     0, plan_source},
    {CONFIG_SECRET, "to", NULL, "PATH", parse_target, offsetof(struct secret_cfg, to), NULL, 0,
     plan_target},
    {CONFIG_SECRET, "type", NULL, "ed25519|x509|tls-cert|tls-key|opaque", parse_type,
     offsetof(struct secret_cfg, type), "opaque", 0, plan_type},
    /* Default by type (0400 keys and opaque, 0444 certificates): config_finish. */
    {CONFIG_SECRET, "mode", NULL, "OCTAL", parse_mode, offsetof(struct secret_cfg, mode), NULL, 0,
     plan_mode},
    {CONFIG_SECRET, "owner", NULL, "NAME|UID", parse_string, offsetof(struct secret_cfg, owner),
     NULL, 0, plan_secret_owner},
    {CONFIG_SECRET, "group", NULL, "NAME|GID", parse_string, offsetof(struct secret_cfg, group),
     NULL, 0, NULL /* in the owner line */},
    {CONFIG_SECRET, "domain", NULL, "TAG", parse_domain, offsetof(struct secret_cfg, domain), NULL,
     0, plan_set_or_none},
    {CONFIG_SECRET, "key_id", NULL, "ID", parse_string, offsetof(struct secret_cfg, key_id), NULL,
     0, plan_set_or_none},
    /* Default yes for env: sources: config_finish. */
    {CONFIG_SECRET, "scrub_env", NULL, "yes|no", parse_bool, offsetof(struct secret_cfg, scrub_env),
     NULL, 0, plan_scrub_env},
    {CONFIG_SECRET, "cert", NULL, "SECRET", parse_string, offsetof(struct secret_cfg, cert), NULL,
     0, plan_partner},
    {CONFIG_SECRET, "ca", NULL, "SECRET", parse_string, offsetof(struct secret_cfg, ca), NULL, 0,
     plan_partner},
    {CONFIG_SECRET, "omit_expired", NULL, "yes|no", parse_bool,
     offsetof(struct secret_cfg, omit_expired), "no", 0, plan_bool_if_yes},

    {CONFIG_DIR, "mode", NULL, "OCTAL", parse_mode, offsetof(struct dir_cfg, mode), "0755", 0,
     plan_mode},
    {CONFIG_DIR, "owner", NULL, "NAME|UID", parse_string, offsetof(struct dir_cfg, owner), NULL, 0,
     plan_dir_owner},
    {CONFIG_DIR, "group", NULL, "NAME|GID", parse_string, offsetof(struct dir_cfg, group), NULL, 0,
     NULL /* in the owner line */},
};

const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);

/* Every `given` mask is a uint64_t with one bit per row. */
_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) <= 64, "too many keys for a mask");

/* ---- Lookups and the operations every reader shares. ---- */

const struct config_key *config_key_find(enum config_section section, const char *name)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (config_keys[i].section == section && strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

const struct config_key *config_key_find_flag(const char *flag, size_t len)
{
	for (size_t i = 0; i < config_nkeys; i++) {
		const char *f = config_keys[i].flag;

		if (f && strlen(f) == len && strncmp(f, flag, len) == 0)
			return &config_keys[i];
	}
	return NULL;
}

bool config_key_takes_bool(const struct config_key *key)
{
	return key->parse == parse_bool;
}

uint64_t config_key_bit(const struct config_key *key)
{
	return UINT64_C(1) << (key - config_keys);
}

bool config_key_given(uint64_t given, enum config_section section, const char *name)
{
	const struct config_key *key = config_key_find(section, name);

	return key && (given & config_key_bit(key));
}

int config_key_set(const struct config_key *key, void *obj, uint64_t *given, const char *value,
		   struct agent_error *err)
{
	int r = key->parse(obj, key, value, err);

	if (r < 0)
		return r;
	*given |= config_key_bit(key);
	return 0;
}

void config_keys_set_defaults(enum config_section section, void *obj)
{
	struct agent_error ignored;

	/* Every default parses (a unit test checks it), so nothing can fail here. */
	for (size_t i = 0; i < config_nkeys; i++)
		if (config_keys[i].section == section && config_keys[i].def)
			(void)config_keys[i].parse(obj, &config_keys[i], config_keys[i].def,
						   &ignored);
}

void config_keys_print(FILE *out, const struct config *cfg, enum config_section section,
		       const void *obj)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (config_keys[i].section == section && config_keys[i].print)
			config_keys[i].print(out, cfg, obj, &config_keys[i]);
}

void config_print_keys(FILE *out)
{
	static const char *const sections[] = {
	    [CONFIG_AGENT] = "agent",
	    [CONFIG_PREFLIGHT] = "preflight",
	    [CONFIG_SECRET] = "secret",
	    [CONFIG_DIR] = "dir",
	};

	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];

		fprintf(out, "%s %s %s%s %s%s\n", sections[k->section], k->name,
			k->flag ? "--" : "", k->flag ? k->flag : "-", k->value,
			config_key_is_list(k) ? " list" : "");
	}
}

bool config_type_is_key(enum sfs_secret_type type)
{
	return type == SFS_TYPE_ED25519 || type == SFS_TYPE_TLS_KEY;
}
