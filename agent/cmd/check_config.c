/* `secret-agent check-config`: parse, expand and resolve the configuration, print the plan,
 * write nothing (docs/design.md §13: step 1 only). Sources are never read, so no secret byte can be
 * printed; errors go to stderr as one plain line, since this command is read by people. */
#include "base/log.h"
#include "cmd/commands.h"
#include "config/config.h"
#include "config/keys.h"
#include "proc/process_setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void cmd_check_config_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: secret-agent check-config [--config FILE] [OPTIONS]\n"
	    "\n"
	    "Parses the config file (default: $SECRET_AGENT_CONFIG) and the options, expands\n"
	    "${VAR} and ${VAR:-default}, resolves users, groups, modes and defaults, and prints\n"
	    "the plan on stdout. Reads no secret source and writes nothing.\n"
	    "\n"
	    "options (the same as for run, materialize and watch):\n"
	    "  --config FILE            INI config file\n"
	    "  --secret name=N,from=SOURCE[,to=PATH][,type=T][,mode=M][,owner=U][,group=G]\n"
	    "           [,domain=TAG][,key_id=ID][,scrub_env=yes|no][,cert=N][,ca=N]\n"
	    "  --user U  --group G\n"
	    "  --require-env 'A B'  --require-dir 'D1 D2'  --wait-tcp 'H:P ...'\n"
	    "  --wait-any-tcp 'H:P,H:P'  --timeout 5s\n"
	    "  --on-change signal:NAME|restart|exec:/path|none  --debounce 100ms\n"
	    "  --poll-interval 0  --grace 5s  --kill-after 0  --hook-timeout 30s\n"
	    "  --signal-group[=yes|no]  --privileged-watcher[=yes|no]\n"
	    "  --status-listen HOST:PORT  --ready-file PATH  --warn-days N\n"
	    "  --log-format text|json  --log-level debug|info|warn|error\n"
	    "  --notify-pidfile FILE    as for watch\n"
	    "\n"
	    "Durations take a unit (ms, s, m, h); 0 needs none. Modes are octal.\n"
	    "exit: 0 valid, 64 usage error, 78 configuration error\n");
}

int cmd_check_config(int argc, char **argv, struct agent_error *err)
{
	struct config cfg;
	int idx = 1, r;

	if (config_args_want_help(argc, argv, 1)) {
		cmd_check_config_usage(stdout);
		return 0;
	}
	/* Hidden: the key table, for the shell completion and the man page tests. */
	if (argc == 2 && strcmp(argv[1], "--list-keys") == 0) {
		config_print_keys(stdout);
		return 0;
	}
	config_init(&cfg);
	r = agent_process_setup(err);
	if (r < 0)
		goto out;
	/* --notify-pidfile is accepted so a `watch` command line can be checked as it is. */
	r = config_parse_args(&cfg, argc, argv, &idx, true, err);
	if (r < 0)
		goto out;
	/* So that errors found later (config_finish) already use --log-format/--log-level. */
	log_setup(cfg.log_format, cfg.log_level);
	if (idx < argc) {
		r = agent_error_usage(err, "unexpected argument '%s'", argv[idx]);
		goto out;
	}
	if (!cfg.config_path && argc <= 1) {
		r = agent_error_usage(err, "no configuration: give --config FILE or set "
					   "SECRET_AGENT_CONFIG");
		goto out;
	}
	r = config_finish(&cfg, err);
	if (r < 0)
		goto out;
	if (cfg.unset_vars.n > 0) {
		/* Only required variables are left here (config_finish refused the others): name
		 * each, in the preflight's words, since the plan cannot be expanded without them.
		 */
		for (size_t i = 0; i < cfg.unset_vars.n; i++)
			fprintf(stderr,
				"secret-agent: check-config: Required environment variable %s "
				"is not set\n",
				cfg.unset_vars.items[i]);
		r = agent_error_logged(err, AGENT_FAIL_CONFIG, -ENOENT,
				       "required environment variables are not set");
		goto out;
	}
	config_print_plan(&cfg, stdout);
	fflush(stdout);
out:
	config_free(&cfg);
	return r;
}
