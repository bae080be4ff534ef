/* `secret-agent watch`: the sidecar form (docs/design.md §3, §13: steps 1-5, then 8). Materialize
 * everything once, drop to [agent] user, then watch the sources with no child of its own: a
 * rotation signals the pid named in --notify-pidfile (read anew every time) or runs an exec:
 * hook. SIGTERM, SIGINT and SIGQUIT end it with exit 0. Everything but the notification target
 * is the pipeline it shares with run (lifecycle.h). */
#include "cmd/commands.h"
#include "cmd/lifecycle.h"

#include <errno.h>
#include <stdio.h>

void cmd_watch_usage(FILE *out)
{
	fprintf(out,
		"usage: secret-agent watch [--config FILE] [OPTIONS] --notify-pidfile FILE\n"
		"\n"
		"Sidecar mode: writes every secret like materialize, drops to [agent] user, then\n"
		"watches the sources. When a rotation changed any written file, the process whose\n"
		"pid is in FILE (read at every notification) gets on_change's signal, or the\n"
		"exec: hook runs. An invalid new version keeps the old files and notifies nobody.\n"
		"--notify-pidfile is required for on_change = signal:NAME, not for exec:/none.\n"
		"\n"
		"options: the same as run (check-config --help lists them all), e.g.\n"
		"  --config FILE  --secret name=N,from=SOURCE,to=PATH,...  --user U\n"
		"  --on-change signal:SIGHUP|exec:/path|none  --debounce 100ms  --poll-interval 0\n"
		"\n"
		"exit: 0 on SIGTERM/SIGINT; 64 usage, 65 invalid secret, 69 preflight, 73 cannot\n"
		"write, 77 permission or privilege drop, 78 configuration\n");
}

/* watch has no child to restart, and a signal needs somebody to receive it. */
static int check_notification_target(const struct config *cfg, struct agent_error *err)
{
	if (cfg->on_change == ON_CHANGE_SIGNAL && !cfg->notify_pidfile)
		return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
				       "on_change = signal needs --notify-pidfile FILE (or use "
				       "on_change = exec:PATH or none)");
	if (cfg->on_change == ON_CHANGE_RESTART)
		return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
				       "on_change = restart needs a child: use run, or "
				       "signal:NAME with --notify-pidfile");
	return 0;
}

int cmd_watch(int argc, char **argv, struct agent_error *err)
{
	struct lifecycle lc;
	int idx = 1, r;

	if (config_args_want_help(argc, argv, 1)) {
		cmd_watch_usage(stdout);
		return 0;
	}
	lifecycle_init(&lc, false);
	r = lifecycle_parse(&lc, argc, argv, &idx, err);
	if (r == 0 && idx < argc)
		r = agent_error_usage(err, "unexpected argument '%s'", argv[idx]);
	if (r == 0)
		r = lifecycle_finish_config(&lc, err);
	if (r == 0)
		r = check_notification_target(&lc.cfg, err);
	if (r == 0)
		r = lifecycle_start(&lc, err);
	if (r == 0)
		r = lifecycle_run(&lc, NULL, err);
	lifecycle_free(&lc);
	return r;
}
