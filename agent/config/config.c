/* The config object's lifetime and the secrets and dirs it holds. Defaults come from the key
 * table (keys.c), so they are written once, next to their key. */
#include "config/config.h"

#include "config/internal.h"
#include "config/keys.h"
#include "config/strlist.h"
#include "config/values.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	config_keys_set_defaults(CONFIG_AGENT, cfg);
	config_keys_set_defaults(CONFIG_PREFLIGHT, cfg);
}

static void secret_free(struct secret_cfg *s)
{
	free(s->name);
	free(s->from);
	sfs_source_free(&s->source);
	free(s->to);
	free(s->domain);
	free(s->key_id);
	free(s->owner);
	free(s->group);
	free(s->cert);
	free(s->ca);
	free(s->origin);
}

static void dir_free(struct dir_cfg *d)
{
	free(d->path);
	free(d->owner);
	free(d->group);
	free(d->origin);
}

void config_free(struct config *cfg)
{
	free(cfg->config_path);
	free(cfg->user);
	free(cfg->group);
	free(cfg->on_change_exec);
	free(cfg->notify_pidfile);
	free(cfg->status_listen);
	free(cfg->ready_file);
	strlist_free(&cfg->require_env);
	strlist_free(&cfg->require_dir);
	strlist_free(&cfg->wait_tcp);
	strlist_free(&cfg->wait_any_tcp);
	strlist_free(&cfg->unset_vars);
	strlist_free(&cfg->unset_msgs);
	for (size_t i = 0; i < cfg->nsecrets; i++)
		secret_free(&cfg->secrets[i]);
	free(cfg->secrets);
	for (size_t i = 0; i < cfg->ndirs; i++)
		dir_free(&cfg->dirs[i]);
	free(cfg->dirs);
	memset(cfg, 0, sizeof(*cfg));
}

struct secret_cfg *config_find_secret(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsecrets; i++)
		if (strcmp(cfg->secrets[i].name, name) == 0)
			return &cfg->secrets[i];
	return NULL;
}

struct secret_cfg *config_add_secret(struct config *cfg, const char *name, const char *origin,
				     struct agent_error *err)
{
	struct secret_cfg *grown, *s;
	struct secret_cfg *dup = config_find_secret(cfg, name);

	if (!config_secret_name_ok(name)) {
		agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				"invalid secret name '%s' (use 1 to 64 of A-Z a-z 0-9 . _ : @ + -)",
				name);
		return NULL;
	}
	if (dup) {
		agent_error_set(err, AGENT_FAIL_CONFIG, -EEXIST,
				"duplicate secret '%s' (first defined at %s)", name, dup->origin);
		return NULL;
	}
	grown = realloc(cfg->secrets, (cfg->nsecrets + 1) * sizeof(*grown));
	if (!grown)
		goto nomem;
	cfg->secrets = grown;
	s = &cfg->secrets[cfg->nsecrets];
	memset(s, 0, sizeof(*s));
	config_keys_set_defaults(CONFIG_SECRET, s);
	s->cert_index = -1;
	s->ca_index = -1;
	s->name = strdup(name);
	s->origin = strdup(origin);
	if (!s->name || !s->origin) {
		secret_free(s);
		goto nomem;
	}
	cfg->nsecrets++;
	return s;
nomem:
	agent_error_set(err, AGENT_FAIL_CONFIG, -ENOMEM, "out of memory");
	return NULL;
}

struct dir_cfg *config_add_dir(struct config *cfg, const char *path, const char *origin,
			       struct agent_error *err)
{
	struct dir_cfg *grown, *d;

	if (path[0] != '/') {
		agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				"[dir \"%s\"] needs an absolute path", path);
		return NULL;
	}
	for (size_t i = 0; i < cfg->ndirs; i++) {
		if (strcmp(cfg->dirs[i].path, path) == 0) {
			agent_error_set(err, AGENT_FAIL_CONFIG, -EEXIST,
					"duplicate [dir \"%s\"] (first defined at %s)", path,
					cfg->dirs[i].origin);
			return NULL;
		}
	}
	grown = realloc(cfg->dirs, (cfg->ndirs + 1) * sizeof(*grown));
	if (!grown)
		goto nomem;
	cfg->dirs = grown;
	d = &cfg->dirs[cfg->ndirs];
	memset(d, 0, sizeof(*d));
	config_keys_set_defaults(CONFIG_DIR, d);
	d->path = strdup(path);
	d->origin = strdup(origin);
	if (!d->path || !d->origin) {
		dir_free(d);
		goto nomem;
	}
	cfg->ndirs++;
	return d;
nomem:
	agent_error_set(err, AGENT_FAIL_CONFIG, -ENOMEM, "out of memory");
	return NULL;
}
