/* The resolved plan as check-config prints it: one "key: value" per line, grouped by section,
 * stable enough for scripts to grep. Each key's line comes from its row in the key table;
 * only names, paths and numbers: check-config never reads a source, and the domain tag and key
 * id are shown as present or not. */
#include "config/config.h"
#include "config/keys.h"

#include <stdio.h>

void config_print_plan(const struct config *cfg, FILE *out)
{
	fprintf(out, "config: %s\n", cfg->config_path ? cfg->config_path : "none (flags only)");
	fprintf(out, "agent:\n");
	config_keys_print(out, cfg, CONFIG_AGENT, cfg);
	/* A command-line option of watch, not a key of the file. */
	if (cfg->notify_pidfile)
		fprintf(out, "  notify_pidfile: %s\n", cfg->notify_pidfile);
	fprintf(out, "preflight:\n");
	config_keys_print(out, cfg, CONFIG_PREFLIGHT, cfg);
	for (size_t i = 0; i < cfg->nsecrets; i++) {
		const struct secret_cfg *s = &cfg->secrets[i];

		fprintf(out, "secret %s:\n", s->name);
		fprintf(out, "  origin: %s\n", s->origin);
		config_keys_print(out, cfg, CONFIG_SECRET, s);
	}
	for (size_t i = 0; i < cfg->ndirs; i++) {
		fprintf(out, "dir %s:\n", cfg->dirs[i].path);
		config_keys_print(out, cfg, CONFIG_DIR, &cfg->dirs[i]);
	}
	fprintf(out, "secrets: %zu, dirs: %zu\n", cfg->nsecrets, cfg->ndirs);
}
