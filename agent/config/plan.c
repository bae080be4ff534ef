/* The resolved plan as check-config prints it: one "key: value" per line, grouped by section,
 * stable enough for scripts to grep. Only names, paths and numbers: check-config never reads
 * a source, and the domain tag and key id are shown as present or not. */
#include "config/internal.h"

#include <stdio.h>

static void print_list(FILE *out, const char *key, const struct strlist *l)
{
	fprintf(out, "  %s:", key);
	if (l->n == 0)
		fprintf(out, " none");
	for (size_t i = 0; i < l->n; i++)
		fprintf(out, " %s", l->items[i]);
	fprintf(out, "\n");
}

static void print_duration(FILE *out, const char *key, uint64_t ms, const char *zero_means)
{
	char buf[32];

	config_format_duration(ms, buf, sizeof(buf));
	if (ms == 0 && zero_means)
		fprintf(out, "  %s: 0 (%s)\n", key, zero_means);
	else
		fprintf(out, "  %s: %s\n", key, buf);
}

static void print_on_change(FILE *out, const struct config *cfg)
{
	char sig[32];

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

static void print_agent(FILE *out, const struct config *cfg)
{
	fprintf(out, "agent:\n");
	if (cfg->has_user)
		fprintf(out, "  user: %s (uid %u, gid %u)\n", cfg->user, (unsigned)cfg->uid,
			(unsigned)cfg->gid);
	else
		fprintf(out, "  user: none (stays the invoking user, uid %u, gid %u)\n",
			(unsigned)cfg->uid, (unsigned)cfg->gid);
	if (cfg->group)
		fprintf(out, "  group: %s (gid %u)\n", cfg->group, (unsigned)cfg->gid);
	print_on_change(out, cfg);
	print_duration(out, "debounce", cfg->debounce_ms, NULL);
	print_duration(out, "poll_interval", cfg->poll_interval_ms, "inotify only");
	print_duration(out, "grace", cfg->grace_ms, NULL);
	print_duration(out, "kill_after", cfg->kill_after_ms, "never");
	print_duration(out, "hook_timeout", cfg->hook_timeout_ms, NULL);
	fprintf(out, "  signal_group: %s\n", cfg->signal_group ? "yes" : "no");
	fprintf(out, "  privileged_watcher: %s\n", cfg->privileged_watcher ? "yes" : "no");
	fprintf(out, "  log_format: %s\n", cfg->log_format == LOG_FORMAT_JSON ? "json" : "text");
	fprintf(out, "  log_level: %s\n",
		(const char *[]){"debug", "info", "warn", "error"}[cfg->log_level]);
	if (cfg->notify_pidfile)
		fprintf(out, "  notify_pidfile: %s\n", cfg->notify_pidfile);
}

static void print_secret(FILE *out, const struct config *cfg, const struct secret_cfg *s)
{
	fprintf(out, "secret %s:\n", s->name);
	fprintf(out, "  origin: %s\n", s->origin);
	fprintf(out, "  source: %s\n", s->from);
	fprintf(out, "  target: %s\n", s->to ? s->to : "validated in place");
	fprintf(out, "  type: %s\n", sfs_type_name(s->type));
	fprintf(out, "  mode: %04o\n", (unsigned)s->mode);
	fprintf(out, "  owner: uid %u gid %u\n", (unsigned)s->uid, (unsigned)s->gid);
	if (s->type == SFS_TYPE_ED25519 || s->type == SFS_TYPE_TLS_KEY) {
		fprintf(out, "  domain: %s\n", s->domain ? "set" : "none");
		fprintf(out, "  key_id: %s\n", s->key_id ? "set" : "none");
	}
	if (s->source.kind == SFS_SOURCE_ENV)
		fprintf(out, "  scrub_env: %s\n", s->scrub_env ? "yes" : "no");
	if (s->cert_index >= 0)
		fprintf(out, "  cert: %s\n", cfg->secrets[s->cert_index].name);
	if (s->ca_index >= 0)
		fprintf(out, "  ca: %s\n", cfg->secrets[s->ca_index].name);
}

void config_print_plan(const struct config *cfg, FILE *out)
{
	fprintf(out, "config: %s\n", cfg->config_path ? cfg->config_path : "none (flags only)");
	print_agent(out, cfg);
	fprintf(out, "preflight:\n");
	print_list(out, "require_env", &cfg->require_env);
	print_list(out, "require_dir", &cfg->require_dir);
	print_list(out, "wait_tcp", &cfg->wait_tcp);
	print_list(out, "wait_any_tcp", &cfg->wait_any_tcp);
	print_duration(out, "timeout", cfg->timeout_ms, NULL);
	for (size_t i = 0; i < cfg->nsecrets; i++)
		print_secret(out, cfg, &cfg->secrets[i]);
	for (size_t i = 0; i < cfg->ndirs; i++) {
		const struct dir_cfg *d = &cfg->dirs[i];

		fprintf(out, "dir %s:\n", d->path);
		fprintf(out, "  mode: %04o\n", (unsigned)d->mode);
		fprintf(out, "  owner: uid %u gid %u\n", (unsigned)d->uid, (unsigned)d->gid);
	}
	fprintf(out, "secrets: %zu, dirs: %zu\n", cfg->nsecrets, cfg->ndirs);
}
