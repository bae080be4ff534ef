/* `secret-agent run`: design §5 steps 1-8 in order. Parse, preflight, materialize, drop the
 * agent's own privileges, start the child with the inherited signal state, supervise it as
 * PID 1 (or subreaper) and watch the sources for rotation; exit with the child's status. */
#include "proc/child_spawn.h"
#include "cmd/commands.h"
#include "config/config.h"
#include "base/event_loop.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "secrets/materialize.h"
#include "proc/privdrop.h"
#include "secrets/rotation.h"
#include "proc/signals.h"
#include "cmd/lifecycle.h"
#include "proc/supervise.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
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

static void log_drop(const struct config *cfg, const struct privdrop_plan *plan)
{
	char uid[16], gid[16], groups[256] = "";
	size_t len = 0;

	if (!plan->change_ids) {
		if (!cfg->user && geteuid() == 0)
			log_warn("running_as_root", NULL,
				 "no [agent] user is set: the child runs as root; set [agent] user "
				 "to drop privileges");
		else if (cfg->user)
			log_warn(
			    "privdrop_skipped", NULL,
			    "not started as root: [agent] user %s is not applied, staying uid %u",
			    cfg->user, (unsigned)getuid());
		return;
	}
	snprintf(uid, sizeof(uid), "%u", (unsigned)plan->uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)plan->gid);
	for (size_t i = 0; i < plan->ngroups && len < sizeof(groups) - 16; i++)
		len += (size_t)snprintf(groups + len, sizeof(groups) - len, "%s%u", i ? "," : "",
					(unsigned)plan->groups[i]);
	log_event(LOG_INFO, "privileges_dropped", NULL,
		  (const char *[]){"uid", uid, "gid", gid, "groups", groups, NULL},
		  "running as %s%s", plan->user_name[0] ? plan->user_name : uid,
		  plan->keep_watcher_caps ? " (privileged watcher)" : "");
}

int cmd_run(int argc, char **argv)
{
	struct inherited_state inherited;
	struct config cfg;
	struct agent_error cerr = {.failure = AGENT_FAIL_CONFIG};
	struct privdrop_plan plan;
	struct child_spec spec = {0};
	struct materializer m = {0};
	struct rotation *rot = NULL;
	struct rotation_notify notify = {0};
	struct supervisor *sv = NULL;
	struct ev_loop loop = {.epfd = -1};
	struct sfs_error err;
	bool have_materializer = false;
	mode_t umask_at_start;
	int idx = 1, sigfd = -1, rc, r;

	if (config_args_want_help(argc, argv, 1)) {
		usage(stdout);
		return EXIT_OK;
	}
	/* Recorded before anything changes them: the child gets them back. */
	umask_at_start = umask(077);
	signals_record_inherited(&inherited, umask_at_start);
	config_init(&cfg);
	rc = agent_process_setup();
	if (rc != EXIT_OK)
		goto out;
	/* Blocked from the start: a SIGTERM before the child exists waits for it. */
	sigfd = signals_take_over(&inherited);
	if (sigfd < 0) {
		fprintf(stderr, "secret-agent: run: cannot take over signals: %s\n",
			strerror(-sigfd));
		rc = EXIT_SOFTWARE;
		goto out;
	}
	if (config_parse_args(&cfg, argc, argv, &idx, false, &cerr) < 0) {
		fprintf(stderr, "secret-agent: run: %s\n", cerr.msg);
		rc = agent_exit_code(cerr.failure);
		goto out;
	}
	/* So that errors found later (config_finish) already use --log-format/--log-level. */
	log_setup(cfg.log_format, cfg.log_level);
	if (idx >= argc) {
		fprintf(stderr, "secret-agent: run: no command given after --\n\n");
		usage(stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	if (config_finish(&cfg, &cerr) < 0) {
		fprintf(stderr, "secret-agent: run: %s\n", cerr.msg);
		rc = agent_exit_code(cerr.failure);
		goto out;
	}
	log_setup(cfg.log_format, cfg.log_level);
	r = privdrop_plan_from_config(&cfg, &plan, &err);
	if (r < 0) {
		log_error("config_error", NULL, "%s", err.msg);
		rc = r == -ENOENT ? EXIT_CONFIG : EXIT_NOPERM;
		goto out;
	}
	r = ev_init(&loop);
	if (r < 0) {
		log_error("event_loop_failed", NULL, "%s", strerror(-r));
		rc = EXIT_SOFTWARE;
		goto out;
	}

	rc = startup_first_materialization(&cfg, &loop, &m, &have_materializer);
	if (rc != EXIT_OK)
		goto out;

	log_drop(&cfg, &plan);
	r = privdrop_agent(&plan, &err);
	if (r < 0) {
		log_error("privdrop_failed", NULL, "%s: the child is not started", err.msg);
		rc = EXIT_NOPERM;
		goto out;
	}
	rc = startup_check_sources_readable(&cfg, &plan);
	if (rc != EXIT_OK)
		goto out;

	spec.argv = argv + idx;
	spec.inherited = &inherited;
	spec.plan = &plan;
	child_spec_socket_activation(&spec);
	r = supervisor_create(&sv, &loop, &cfg, &spec, sigfd, &err);
	sigfd = -1; /* owned by the supervisor, even on failure */
	if (r < 0) {
		log_error("supervisor_failed", NULL, "%s", err.msg);
		rc = EXIT_SOFTWARE;
		goto out;
	}
	rc = supervisor_start(sv);
	if (rc != EXIT_OK)
		goto out;
	notify.sv = sv;
	if (rotation_start(&rot, &loop, &m, &notify) != 0)
		supervisor_shutdown(sv, EXIT_SOFTWARE);
	rc = supervisor_run(sv);
	log_event(LOG_INFO, "agent_exit", NULL, NULL, "exit code %d", rc);
out:
	rotation_stop(rot);
	supervisor_destroy(sv);
	if (sigfd >= 0)
		close(sigfd);
	if (have_materializer)
		materializer_free(&m);
	ev_close(&loop);
	config_free(&cfg);
	return rc;
}
