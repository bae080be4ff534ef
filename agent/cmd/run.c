/* `secret-agent run`: docs/design.md §5 steps 1-8 in order. Parse, preflight, materialize, drop the
 * agent's own privileges, start the child with the inherited signal state, supervise it as
 * PID 1 (or subreaper) and watch the sources for rotation; exit with the child's status.
 * Everything but the child's command line is the pipeline it shares with watch (lifecycle.h). */
#include "cmd/commands.h"
#include "cmd/lifecycle.h"

#include <stdio.h>

void cmd_run_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: secret-agent run [--config FILE] [OPTIONS] -- COMMAND [ARG...]\n"
	    "\n"
	    "Runs the preflight checks, writes every secret, drops to [agent] user with no\n"
	    "capabilities left, then starts COMMAND as its only child and supervises it:\n"
	    "signals are forwarded, orphans reaped, sources watched for rotation. Exits with\n"
	    "the child's code, or 128+N when it died of signal N.\n"
	    "\n"
	    "options: the same as check-config (see secret-agent check-config --help), e.g.\n"
	    "  --config FILE  --secret name=N,from=SOURCE,to=PATH,...  --user U  --group G\n"
	    "  --grace 5s  --kill-after 0  --signal-group  --privileged-watcher\n"
	    "\n"
	    "exit: the child's status; 64 usage, 65 invalid secret, 69 preflight, 73 cannot\n"
	    "write, 77 permission or privilege drop, 78 configuration, 126/127 cannot execute\n");
}

int cmd_run(int argc, char **argv, struct agent_error *err)
{
	struct lifecycle lc;
	int idx = 1, r;

	if (config_args_want_help(argc, argv, 1)) {
		cmd_run_usage(stdout);
		return 0;
	}
	lifecycle_init(&lc, true);
	r = lifecycle_parse(&lc, argc, argv, &idx, err);
	if (r == 0 && idx >= argc)
		r = agent_error_usage(err, "no command given after --");
	if (r == 0)
		r = lifecycle_finish_config(&lc, err);
	if (r == 0)
		r = lifecycle_start(&lc, err);
	if (r == 0)
		r = lifecycle_run(&lc, argv + idx, err);
	lifecycle_free(&lc);
	return r;
}
