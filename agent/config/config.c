/* The config object's lifetime and the small containers it holds (lists, secrets, dirs). */
#include "config/internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->on_change = ON_CHANGE_SIGNAL;
	cfg->on_change_signal = SIGHUP;
	cfg->debounce_ms = 100;
	cfg->poll_interval_ms = 0;
	cfg->grace_ms = 5000;
	cfg->kill_after_ms = 0;
	cfg->hook_timeout_ms = 30000;
	cfg->log_format = LOG_FORMAT_TEXT;
	cfg->log_level = LOG_INFO;
	cfg->timeout_ms = 5000;
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

int config_msg(char *msg, size_t msgsize, int code, const char *fmt, ...)
{
	va_list ap;

	if (msg && msgsize) {
		va_start(ap, fmt);
		vsnprintf(msg, msgsize, fmt, ap);
		va_end(ap);
	}
	return code;
}

int strlist_push(struct strlist *l, const char *item)
{
	char *copy = strdup(item);
	char **grown;

	if (!copy)
		return -ENOMEM;
	grown = realloc(l->items, (l->n + 1) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	l->items = grown;
	l->items[l->n++] = copy;
	return 0;
}

int strlist_append_words(struct strlist *l, const char *text, bool commas)
{
	const char *seps = commas ? " \t\r\n\v\f," : " \t\r\n\v\f";
	char *copy = strdup(text);
	char *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, seps, &save); w; w = strtok_r(NULL, seps, &save)) {
		r = strlist_push(l, w);
		if (r < 0)
			goto out;
	}
out:
	free(copy);
	return r;
}

void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

struct secret_cfg *config_find_secret(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsecrets; i++)
		if (strcmp(cfg->secrets[i].name, name) == 0)
			return &cfg->secrets[i];
	return NULL;
}

struct secret_cfg *config_add_secret(struct config *cfg, const char *name, const char *origin,
				     char *msg, size_t msgsize)
{
	struct secret_cfg *grown, *s;
	struct secret_cfg *dup = config_find_secret(cfg, name);

	if (!config_secret_name_ok(name)) {
		config_msg(msg, msgsize, -EINVAL,
			   "invalid secret name '%s' (use 1 to 64 of A-Z a-z 0-9 . _ : @ + -)",
			   name);
		return NULL;
	}
	if (dup) {
		config_msg(msg, msgsize, -EEXIST, "duplicate secret '%s' (first defined at %s)",
			   name, dup->origin);
		return NULL;
	}
	grown = realloc(cfg->secrets, (cfg->nsecrets + 1) * sizeof(*grown));
	if (!grown)
		goto nomem;
	cfg->secrets = grown;
	s = &cfg->secrets[cfg->nsecrets];
	memset(s, 0, sizeof(*s));
	s->type = SFS_TYPE_OPAQUE;
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
	config_msg(msg, msgsize, -ENOMEM, "out of memory");
	return NULL;
}

struct dir_cfg *config_add_dir(struct config *cfg, const char *path, const char *origin, char *msg,
			       size_t msgsize)
{
	struct dir_cfg *grown, *d;

	if (path[0] != '/') {
		config_msg(msg, msgsize, -EINVAL, "[dir \"%s\"] needs an absolute path", path);
		return NULL;
	}
	for (size_t i = 0; i < cfg->ndirs; i++) {
		if (strcmp(cfg->dirs[i].path, path) == 0) {
			config_msg(msg, msgsize, -EEXIST,
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
	d->mode = 0755;
	d->path = strdup(path);
	d->origin = strdup(origin);
	if (!d->path || !d->origin) {
		dir_free(d);
		goto nomem;
	}
	cfg->ndirs++;
	return d;
nomem:
	config_msg(msg, msgsize, -ENOMEM, "out of memory");
	return NULL;
}
