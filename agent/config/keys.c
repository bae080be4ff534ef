/* The keys of each section and how a (expanded) value is stored. Shared by the INI reader and
 * the flags, so a flag and its config key can never disagree. */
#include "config/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const agent_keys[] = {
    "user",	  "group",	"on_change",	"debounce",	"poll_interval",
    "grace",	  "kill_after", "hook_timeout", "signal_group", "privileged_watcher",
    "log_format", "log_level",
};
static const char *const preflight_keys[] = {"require_env", "require_dir", "wait_tcp",
					     "wait_any_tcp", "timeout"};
static const char *const secret_keys[] = {"from",  "to",    "type",	 "domain", "key_id", "mode",
					  "owner", "group", "scrub_env", "cert",   "ca"};
static const char *const dir_keys[] = {"mode", "owner", "group"};

#define NKEYS(a) ((int)(sizeof(a) / sizeof(a[0])))

static int key_index(const char *const *keys, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return i;
	return -1;
}

bool config_key_is_list(const char *key)
{
	return strcmp(key, "require_env") == 0 || strcmp(key, "require_dir") == 0 ||
	       strcmp(key, "wait_tcp") == 0 || strcmp(key, "wait_any_tcp") == 0;
}

static int set_string(char **field, const char *key, const char *value, char *msg, size_t msgsize)
{
	char *copy;

	if (*value == '\0')
		return config_msg(msg, msgsize, -EINVAL, "'%s' is empty", key);
	copy = strdup(value);
	if (!copy)
		return config_msg(msg, msgsize, -ENOMEM, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

static int set_duration(uint64_t *field, const char *key, const char *value, char *msg,
			size_t msgsize)
{
	if (config_parse_duration_ms(value, field) < 0)
		return config_msg(msg, msgsize, -EINVAL,
				  "invalid duration '%s' for '%s' (e.g. 100ms, 5s, 2m or 0)", value,
				  key);
	return 0;
}

static int set_bool(bool *field, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (config_parse_bool(value, field) < 0)
		return config_msg(msg, msgsize, -EINVAL, "invalid value '%s' for '%s' (yes or no)",
				  value, key);
	return 0;
}

static int set_mode(mode_t *field, bool *set, const char *value, char *msg, size_t msgsize)
{
	if (config_parse_mode(value, field) < 0)
		return config_msg(msg, msgsize, -EINVAL,
				  "invalid mode '%s' (octal such as 0400 or 0750)", value);
	*set = true;
	return 0;
}

int config_set_agent_key(struct config *cfg, const char *key, const char *value, int *index_out,
			 char *msg, size_t msgsize)
{
	int i = key_index(agent_keys, NKEYS(agent_keys), key);

	if (index_out)
		*index_out = i;
	if (i < 0)
		return -ENOENT;
	if (strcmp(key, "user") == 0)
		return set_string(&cfg->user, key, value, msg, msgsize);
	if (strcmp(key, "group") == 0)
		return set_string(&cfg->group, key, value, msg, msgsize);
	if (strcmp(key, "on_change") == 0)
		return config_parse_on_change(cfg, value, msg, msgsize);
	if (strcmp(key, "debounce") == 0)
		return set_duration(&cfg->debounce_ms, key, value, msg, msgsize);
	if (strcmp(key, "poll_interval") == 0)
		return set_duration(&cfg->poll_interval_ms, key, value, msg, msgsize);
	if (strcmp(key, "grace") == 0)
		return set_duration(&cfg->grace_ms, key, value, msg, msgsize);
	if (strcmp(key, "kill_after") == 0)
		return set_duration(&cfg->kill_after_ms, key, value, msg, msgsize);
	if (strcmp(key, "hook_timeout") == 0)
		return set_duration(&cfg->hook_timeout_ms, key, value, msg, msgsize);
	if (strcmp(key, "signal_group") == 0)
		return set_bool(&cfg->signal_group, key, value, msg, msgsize);
	if (strcmp(key, "privileged_watcher") == 0)
		return set_bool(&cfg->privileged_watcher, key, value, msg, msgsize);
	if (strcmp(key, "log_format") == 0) {
		if (log_parse_format(value, &cfg->log_format) < 0)
			return config_msg(msg, msgsize, -EINVAL,
					  "invalid log_format '%s' (text or json)", value);
		return 0;
	}
	if (log_parse_level(value, &cfg->log_level) < 0)
		return config_msg(msg, msgsize, -EINVAL,
				  "invalid log_level '%s' (debug, info, warn or error)", value);
	return 0;
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

int config_set_preflight_key(struct config *cfg, const char *key, const char *value, int *index_out,
			     char *msg, size_t msgsize)
{
	int i = key_index(preflight_keys, NKEYS(preflight_keys), key);
	struct strlist *list;
	size_t before;

	if (index_out)
		*index_out = i;
	if (i < 0)
		return -ENOENT;
	if (strcmp(key, "timeout") == 0)
		return set_duration(&cfg->timeout_ms, key, value, msg, msgsize);
	if (strcmp(key, "require_env") == 0)
		list = &cfg->require_env;
	else if (strcmp(key, "require_dir") == 0)
		list = &cfg->require_dir;
	else if (strcmp(key, "wait_tcp") == 0)
		list = &cfg->wait_tcp;
	else
		list = &cfg->wait_any_tcp;
	before = list->n;
	if (strlist_append_words(list, value, list == &cfg->wait_any_tcp) < 0)
		return config_msg(msg, msgsize, -ENOMEM, "out of memory");
	for (size_t k = before; k < list->n; k++) {
		if (list == &cfg->require_env && !env_name_ok(list->items[k]))
			return config_msg(msg, msgsize, -EINVAL,
					  "invalid environment variable name '%s' in require_env",
					  list->items[k]);
		if (list == &cfg->require_dir && list->items[k][0] != '/')
			return config_msg(msg, msgsize, -EINVAL,
					  "require_dir needs absolute paths, got '%s'",
					  list->items[k]);
	}
	return 0;
}

static int set_source(struct secret_cfg *s, const char *value, char *msg, size_t msgsize)
{
	struct sfs_source parsed = {0};
	struct sfs_error serr = {0};
	char *copy;

	if (*value == '\0')
		return config_msg(msg, msgsize, -EINVAL, "'from' is empty");
	if (sfs_source_parse(value, &parsed, &serr) < 0)
		return config_msg(msg, msgsize, -EINVAL, "invalid source '%s': %s", value,
				  serr.msg);
	copy = strdup(value);
	if (!copy) {
		sfs_source_free(&parsed);
		return config_msg(msg, msgsize, -ENOMEM, "out of memory");
	}
	free(s->from);
	sfs_source_free(&s->source);
	s->from = copy;
	s->source = parsed;
	return 0;
}

static int set_target(struct secret_cfg *s, const char *value, char *msg, size_t msgsize)
{
	size_t len = strlen(value);

	if (value[0] != '/')
		return config_msg(msg, msgsize, -EINVAL, "'to' needs an absolute path, got '%s'",
				  value);
	if (value[len - 1] == '/')
		return config_msg(msg, msgsize, -EINVAL, "'to' must name a file, got '%s'", value);
	/* A ".." could climb out of the directory an operator reviewed. */
	if (strstr(value, "/../") || (len >= 3 && strcmp(value + len - 3, "/..") == 0))
		return config_msg(msg, msgsize, -EINVAL, "'to' must not contain '..', got '%s'",
				  value);
	return set_string(&s->to, "to", value, msg, msgsize);
}

int config_set_secret_key(struct secret_cfg *s, const char *key, const char *value, int *index_out,
			  char *msg, size_t msgsize)
{
	int i = key_index(secret_keys, NKEYS(secret_keys), key);

	if (index_out)
		*index_out = i;
	if (i < 0)
		return -ENOENT;
	if (strcmp(key, "from") == 0)
		return set_source(s, value, msg, msgsize);
	if (strcmp(key, "to") == 0)
		return set_target(s, value, msg, msgsize);
	if (strcmp(key, "type") == 0) {
		if (sfs_type_parse(value, &s->type) < 0 || s->type == SFS_TYPE_AUTO)
			return config_msg(
			    msg, msgsize, -EINVAL,
			    "invalid type '%s' (ed25519, x509, tls-cert, tls-key or opaque)",
			    value);
		return 0;
	}
	if (strcmp(key, "domain") == 0) {
		if (*value == '\0')
			return config_msg(msg, msgsize, -EINVAL,
					  "'domain' is empty (after expansion); remove the key "
					  "for a key without a domain tag");
		return set_string(&s->domain, key, value, msg, msgsize);
	}
	if (strcmp(key, "key_id") == 0)
		return set_string(&s->key_id, key, value, msg, msgsize);
	if (strcmp(key, "mode") == 0)
		return set_mode(&s->mode, &s->mode_set, value, msg, msgsize);
	if (strcmp(key, "owner") == 0)
		return set_string(&s->owner, key, value, msg, msgsize);
	if (strcmp(key, "group") == 0)
		return set_string(&s->group, key, value, msg, msgsize);
	if (strcmp(key, "scrub_env") == 0) {
		int r = set_bool(&s->scrub_env, key, value, msg, msgsize);

		if (r == 0)
			s->scrub_env_set = true;
		return r;
	}
	if (strcmp(key, "cert") == 0)
		return set_string(&s->cert, key, value, msg, msgsize);
	return set_string(&s->ca, key, value, msg, msgsize);
}

int config_set_dir_key(struct dir_cfg *d, const char *key, const char *value, int *index_out,
		       char *msg, size_t msgsize)
{
	int i = key_index(dir_keys, NKEYS(dir_keys), key);

	if (index_out)
		*index_out = i;
	if (i < 0)
		return -ENOENT;
	if (strcmp(key, "mode") == 0)
		return set_mode(&d->mode, &d->mode_set, value, msg, msgsize);
	if (strcmp(key, "owner") == 0)
		return set_string(&d->owner, key, value, msg, msgsize);
	return set_string(&d->group, key, value, msg, msgsize);
}
