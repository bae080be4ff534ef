/* `secret-agent materialize`: one shot for init containers and systemd ExecStartPre= (design
 * §13: steps 1-5). Preflight, then every secret read, validated and written as one set with the
 * [dir] sections; exit 0 when done. Nothing is written when the config, the preflight or any
 * secret fails. */
#include "base/log.h"
#include "cmd/commands.h"
#include "cmd/lifecycle.h"
#include "proc/process_setup.h"

#include <stdio.h>

void cmd_materialize_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: secret-agent materialize [--config FILE] [OPTIONS]\n"
	    "\n"
	    "Runs the preflight checks, reads every secret, validates all of them, creates the\n"
	    "[dir] sections' directories and writes every target with its owner and mode,\n"
	    "atomically and all together; then exits. For init containers and ExecStartPre=.\n"
	    "\n"
	    "options (the same as for run and watch; check-config --help lists them all):\n"
	    "  --config FILE            INI config file (default: $SECRET_AGENT_CONFIG)\n"
	    "  --secret name=N,from=SOURCE[,to=PATH][,type=T][,mode=M][,owner=U][,group=G]...\n"
	    "  --user U  --group G  --require-env 'A B'  --require-dir D  --wait-tcp H:P\n"
	    "  --wait-any-tcp 'H:P,H:P'  --timeout 5s  --log-format text|json  --log-level L\n"
	    "\n"
	    "exit: 0 done, 64 usage, 65 invalid secret, 69 preflight unavailable,\n"
	    "      73 cannot write, 77 permission, 78 configuration or missing env var\n");
}

int cmd_materialize(int argc, char **argv, struct agent_error *err)
{
	struct config cfg;
	struct materializer m = {0};
	struct ev_loop loop = {.epfd = -1};
	bool have_m = false;
	int idx = 1, r;

	if (config_args_want_help(argc, argv, 1)) {
		cmd_materialize_usage(stdout);
		return 0;
	}
	config_init(&cfg);
	r = agent_process_setup(err);
	if (r < 0)
		goto out;
	r = config_parse_args(&cfg, argc, argv, &idx, false, err);
	if (r < 0) {
		err->event = "config_error";
		goto out;
	}
	/* So that errors found later (config_finish) already use --log-format/--log-level. */
	log_setup(cfg.log_format, cfg.log_level);
	if (idx < argc) {
		r = agent_error_usage(err, "unexpected argument '%s'", argv[idx]);
		goto out;
	}
	r = config_finish(&cfg, err);
	if (r < 0) {
		err->event = "config_error";
		goto out;
	}
	r = ev_init(&loop);
	if (r < 0) {
		agent_error_set(err, AGENT_FAIL_SOFTWARE, r, "cannot create the event loop");
		err->event = "internal_error";
		goto out;
	}
	r = lifecycle_first_materialization(&cfg, &loop, &m, true, &have_m, err);
	if (r == 0)
		log_info("materialized", NULL, "%zu secrets, %zu directories", cfg.nsecrets,
			 cfg.ndirs);
out:
	if (have_m)
		materializer_free(&m);
	if (loop.epfd >= 0)
		ev_close(&loop);
	config_free(&cfg);
	return r;
}
