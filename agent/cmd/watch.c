/* `secret-agent watch`: the sidecar form (design §3, §13: steps 1-5, then 8). Materialize
 * everything once, drop to [agent] user, then watch the sources with no child of its own: a
 * rotation signals the pid named in --notify-pidfile (read anew every time) or runs an exec:
 * hook. SIGTERM, SIGINT and SIGQUIT end it with exit 0. */
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

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void usage(FILE *out)
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
static int check_notification_target(const struct config *cfg)
{
	if (cfg->on_change == ON_CHANGE_SIGNAL && !cfg->notify_pidfile) {
		fprintf(stderr, "secret-agent: watch: on_change = signal needs --notify-pidfile "
				"FILE (or use on_change = exec:PATH or none)\n");
		return EXIT_USAGE;
	}
	if (cfg->on_change == ON_CHANGE_RESTART) {
		fprintf(stderr, "secret-agent: watch: on_change = restart needs a child: use run, "
				"or signal:NAME with --notify-pidfile\n");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* As PID 1 (a sidecar's entrypoint), whatever a hook left running is reparented to the agent:
 * every exited child is reaped here, and the hook's own exit goes to the notifier. Otherwise
 * only hooks are our children, collected through their pidfd. */
static void reap_as_pid1(struct rotation *rot)
{
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0 || (pid < 0 && errno == EINTR))
		if (pid > 0)
			rotation_child_reaped(rot, pid, wstatus);
}

static void on_signal(struct ev_loop *loop, int fd, uint32_t events, void *ctx)
{
	struct rotation **rot = ctx;
	struct signalfd_siginfo si;
	char name[32];

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;

		if (sig == SIGCHLD && getpid() == 1)
			reap_as_pid1(*rot);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
			log_info("watch_stopping", NULL, "received %s",
				 signals_name(sig, name, sizeof(name)));
			ev_stop(loop);
		}
	}
}

int cmd_watch(int argc, char **argv)
{
	struct inherited_state inherited;
	struct config cfg;
	struct agent_error cerr = {.failure = AGENT_FAIL_CONFIG};
	struct privdrop_plan plan;
	struct materializer m = {0};
	struct rotation *rot = NULL;
	struct rotation_notify notify = {0};
	struct ev_loop loop = {.epfd = -1};
	struct sfs_error err;
	bool have_materializer = false;
	int idx = 1, sigfd = -1, rc, r;

	if (config_args_want_help(argc, argv, 1)) {
		usage(stdout);
		return EXIT_OK;
	}
	signals_record_inherited(&inherited, umask(077));
	config_init(&cfg);
	rc = agent_process_setup();
	if (rc != EXIT_OK)
		goto out;
	/* Blocked from the start: a SIGTERM during the first materialization is read later. */
	sigfd = signals_take_over(&inherited);
	if (sigfd < 0) {
		fprintf(stderr, "secret-agent: watch: cannot take over signals: %s\n",
			strerror(-sigfd));
		rc = EXIT_SOFTWARE;
		goto out;
	}
	if (config_parse_args(&cfg, argc, argv, &idx, true, &cerr) < 0) {
		fprintf(stderr, "secret-agent: watch: %s\n", cerr.msg);
		rc = agent_exit_code(cerr.failure);
		goto out;
	}
	/* So that errors found later (config_finish) already use --log-format/--log-level. */
	log_setup(cfg.log_format, cfg.log_level);
	if (idx < argc) {
		fprintf(stderr, "secret-agent: watch: unexpected argument '%s'\n\n", argv[idx]);
		usage(stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	if (config_finish(&cfg, &cerr) < 0) {
		fprintf(stderr, "secret-agent: watch: %s\n", cerr.msg);
		rc = agent_exit_code(cerr.failure);
		goto out;
	}
	rc = check_notification_target(&cfg);
	if (rc != EXIT_OK)
		goto out;
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

	if (!plan.change_ids && !cfg.user && geteuid() == 0)
		log_warn("running_as_root", NULL,
			 "no [agent] user is set: the watcher keeps running as root; set [agent] "
			 "user to drop privileges");
	r = privdrop_agent(&plan, &err);
	if (r < 0) {
		log_error("privdrop_failed", NULL, "%s", err.msg);
		rc = EXIT_NOPERM;
		goto out;
	}
	rc = startup_check_sources_readable(&cfg, &plan);
	if (rc != EXIT_OK)
		goto out;

	r = ev_add(&loop, sigfd, EPOLLIN, on_signal, &rot);
	if (r < 0) {
		log_error("event_loop_failed", NULL, "%s", strerror(-r));
		rc = EXIT_SOFTWARE;
		goto out;
	}
	notify.notify_pidfile = cfg.notify_pidfile;
	rc = rotation_start(&rot, &loop, &m, &notify);
	if (rc != EXIT_OK)
		goto out;
	log_info("watch_ready", NULL, "%zu secret(s) written; watching for rotation", cfg.nsecrets);
	r = ev_run(&loop);
	if (r < 0) {
		log_error("event_loop_failed", NULL, "%s", strerror(-r));
		rc = EXIT_SOFTWARE;
	}
	log_event(LOG_INFO, "agent_exit", NULL, NULL, "exit code %d", rc);
out:
	rotation_stop(rot);
	if (sigfd >= 0)
		close(sigfd);
	if (have_materializer)
		materializer_free(&m);
	if (loop.epfd >= 0)
		ev_close(&loop);
	config_free(&cfg);
	return rc;
}
