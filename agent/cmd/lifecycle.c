#include "cmd/lifecycle.h"

#include "base/log.h"
#include "base/observe.h"
#include "proc/process_setup.h"
#include "proc/supervise.h"
#include "secrets/preflight.h"
#include "secrets/rotation.h"
#include "secrets/source_trust.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void lifecycle_init(struct lifecycle *lc, bool has_child)
{
	memset(lc, 0, sizeof(*lc));
	lc->has_child = has_child;
	lc->sigfd = -1;
	lc->loop.epfd = -1;
	/* Recorded before anything changes them: the child gets them back. */
	signals_record_inherited(&lc->inherited, umask(077));
	config_init(&lc->cfg);
}

void lifecycle_free(struct lifecycle *lc)
{
	observe_set(NULL);
	rotation_stop(lc->rot);
	supervisor_destroy(lc->sv);
	if (lc->sigfd >= 0)
		close(lc->sigfd);
	if (lc->have_materializer)
		materializer_free(&lc->m);
	observer_free(&lc->obs);
	if (lc->loop.epfd >= 0)
		ev_close(&lc->loop);
	config_free(&lc->cfg);
}

int lifecycle_parse(struct lifecycle *lc, int argc, char **argv, int *idx, struct agent_error *err)
{
	int r = agent_process_setup(err);

	if (r < 0)
		return r;
	/* Blocked from the start: a SIGTERM before the loop runs is read later. */
	lc->sigfd = signals_take_over(&lc->inherited);
	if (lc->sigfd < 0)
		return agent_error_set(err, AGENT_FAIL_SOFTWARE, lc->sigfd,
				       "cannot take over signals: %s", strerror(-lc->sigfd));
	/* Only watch notifies through a pidfile. */
	r = config_parse_args(&lc->cfg, argc, argv, idx, !lc->has_child, err);
	if (r < 0)
		return r;
	/* So that errors found later (config_finish) already use --log-format/--log-level. */
	log_setup(lc->cfg.log_format, lc->cfg.log_level);
	return 0;
}

int lifecycle_finish_config(struct lifecycle *lc, struct agent_error *err)
{
	return config_finish(&lc->cfg, err);
}

int lifecycle_first_materialization(struct config *cfg, struct ev_loop *loop,
				    struct materializer *m, bool durable, bool *have_materializer,
				    struct agent_error *err)
{
	int r;

	*have_materializer = false;
	r = preflight_run(cfg, loop, err);
	if (r < 0)
		return r;
	r = materializer_init(m, cfg);
	if (r < 0) {
		agent_error_set(err, AGENT_FAIL_SOFTWARE, r, "%s", strerror(-r));
		err->event = "materialize_failed";
		return r;
	}
	*have_materializer = true;
	m->durable = durable;
	r = materializer_make_dirs(m, err);
	if (r == 0)
		r = materializer_apply(m, NULL, NULL, err);
	return r;
}

/* --- the observer: the moments of base/observe.h fed to observe/observer.h -------------- */

static void on_rotation_begin(void *ctx)
{
	observer_rotation_begin(ctx);
}

static void on_rotation(void *ctx, const char *secret, enum observe_rotation outcome)
{
	static const enum rotation_result result[] = {
	    [OBSERVE_ROTATION_APPLIED] = ROTATION_APPLIED,
	    [OBSERVE_ROTATION_REJECTED] = ROTATION_REJECTED,
	    [OBSERVE_ROTATION_UNCHANGED] = ROTATION_UNCHANGED,
	};

	observer_rotation_result(ctx, secret, result[outcome]);
}

static void on_rotation_end(void *ctx)
{
	observer_rotation_end(ctx);
}

static void on_secret_written(void *ctx, const struct observe_write *w)
{
	observer_secret_written(ctx, w->secret, w->type, w->fingerprint, w->data, w->len);
}

static void on_notification(void *ctx, const char *action, bool ok)
{
	observer_notification(ctx, action, ok);
}

static void on_child_restarted(void *ctx, pid_t pid)
{
	(void)pid;
	observer_child_restart(ctx);
}

static void on_ready(void *ctx)
{
	struct agent_error err;

	/* The ready file is for probes: failing to write it must not stop the service. */
	if (observer_ready(ctx, &err) < 0)
		log_error("ready_file_failed", NULL, "%s", err.msg);
}

static void on_stopping(void *ctx)
{
	observer_stopping(ctx);
}

/* Starts the observer (the status listener answers from here on, /readyz 503 until ready)
 * and routes the agent's moments to it. */
static int start_observer(struct lifecycle *lc, struct agent_error *err)
{
	static struct agent_observer hooks = {
	    .rotation_begin = on_rotation_begin,
	    .rotation = on_rotation,
	    .rotation_end = on_rotation_end,
	    .secret_written = on_secret_written,
	    .notification = on_notification,
	    .child_restarted = on_child_restarted,
	    .ready = on_ready,
	    .stopping = on_stopping,
	};
	const struct observer_opts opts = {
	    .status_listen = lc->cfg.status_listen,
	    .ready_file = lc->cfg.ready_file,
	    .warn_days = (int)lc->cfg.warn_days,
	};
	int r = observer_start(&lc->obs, &lc->loop, &opts, err);

	if (r < 0) {
		err->event = "status_listen_failed";
		return r;
	}
	for (size_t i = 0; i < lc->cfg.nsecrets; i++)
		observer_secret_declared(&lc->obs, lc->cfg.secrets[i].name,
					 lc->cfg.secrets[i].type);
	hooks.ctx = &lc->obs;
	observe_set(&hooks);
	return 0;
}

static void log_drop(const struct lifecycle *lc)
{
	const struct config *cfg = &lc->cfg;
	const struct privdrop_plan *plan = &lc->plan;
	char uid[16], gid[16], groups[256] = "";
	size_t len = 0;

	if (!plan->change_ids) {
		if (!cfg->user && geteuid() == 0)
			log_warn("running_as_root", NULL,
				 "no [agent] user is set: %s; set [agent] user "
				 "to drop privileges",
				 lc->has_child ? "the child runs as root"
					       : "the watcher keeps running as root");
		else if (plan->user_is_root && geteuid() == 0)
			log_warn("running_as_root", NULL,
				 "[agent] user %s is uid 0, which drops nothing: %s; set [agent] "
				 "user to an unprivileged user to drop privileges",
				 cfg->user,
				 lc->has_child ? "the child runs as root"
					       : "the watcher keeps running as root");
		else if (cfg->user && lc->has_child)
			log_warn(
			    "privdrop_skipped", NULL,
			    "not started as root: [agent] user %s is not applied, staying uid %u",
			    cfg->user, (unsigned)getuid());
		return;
	}
	if (!lc->has_child)
		return;
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

/* After the drop: every file and credential source must still be readable by the agent, or
 * rotation would fail later; this fails now, with the fix in the message. */
static int check_sources_readable(const struct config *cfg, const struct privdrop_plan *plan,
				  struct agent_error *err)
{
	char path[4096];

	/* Still root, or keeping CAP_DAC_READ_SEARCH: every source stays readable. */
	if (!plan->change_ids || plan->keep_watcher_caps)
		return 0;
	for (size_t i = 0; i < cfg->nsecrets; i++) {
		const struct secret_cfg *s = &cfg->secrets[i];
		struct sfs_error serr;
		int fd;

		if (s->source.kind != SFS_SOURCE_FILE && s->source.kind != SFS_SOURCE_CRED)
			continue;
		if (sfs_source_path(&s->source, path, sizeof(path), &serr) < 0)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno == EACCES || errno == EPERM) {
			int r = agent_error_logged(
			    err, AGENT_FAIL_NOPERM, -errno,
			    "source %s is not readable by uid %u: make it readable or set "
			    "[agent] privileged_watcher = yes",
			    s->source.spec, (unsigned)plan->uid);
			log_error("source_unreadable", s->name, "%s", err->msg);
			return r;
		}
	}
	return 0;
}

/* privileged_watcher reads sources with CAP_DAC_READ_SEARCH: none may lie where the service
 * could redirect it to a file it cannot read itself (source_trust.h). */
static int check_sources_trusted(const struct config *cfg, const struct privdrop_plan *plan,
				 struct agent_error *err)
{
	gid_t groups[PRIVDROP_MAX_GROUPS + 1];
	char path[4096], why[512];

	if (!plan->change_ids || !plan->keep_watcher_caps)
		return 0;
	groups[0] = plan->gid;
	memcpy(groups + 1, plan->groups, plan->ngroups * sizeof(gid_t));
	for (size_t i = 0; i < cfg->nsecrets; i++) {
		const struct secret_cfg *s = &cfg->secrets[i];
		struct sfs_error serr;
		int r;

		if (s->source.kind != SFS_SOURCE_FILE && s->source.kind != SFS_SOURCE_CRED)
			continue;
		if (sfs_source_path(&s->source, path, sizeof(path), &serr) < 0)
			continue;
		r = source_trust_check(path, plan->uid, groups, plan->ngroups + 1, why,
				       sizeof(why));
		if (r == 0)
			continue;
		r = agent_error_logged(err, AGENT_FAIL_NOPERM, r,
				       "source %s cannot be trusted with privileged_watcher: %s; "
				       "keep sources where uid %u cannot change anything",
				       s->source.spec, why, (unsigned)plan->uid);
		log_error("source_untrusted", s->name, "%s", err->msg);
		return r;
	}
	return 0;
}

int lifecycle_start(struct lifecycle *lc, struct agent_error *err)
{
	int r;

	log_setup(lc->cfg.log_format, lc->cfg.log_level);
	r = privdrop_plan_make(&lc->plan, lc->cfg.user, lc->cfg.has_user ? &lc->cfg.user_id : NULL,
			       lc->cfg.privileged_watcher, err);
	if (r < 0) {
		err->event = "config_error";
		return r;
	}
	r = ev_init(&lc->loop);
	if (r < 0) {
		agent_error_set(err, AGENT_FAIL_SOFTWARE, r, "%s", strerror(-r));
		err->event = "event_loop_failed";
		return r;
	}
	r = start_observer(lc, err);
	if (r < 0)
		return r;
	r = lifecycle_first_materialization(&lc->cfg, &lc->loop, &lc->m, false,
					    &lc->have_materializer, err);
	if (r < 0)
		return r;
	log_drop(lc);
	r = privdrop_agent(&lc->plan, err);
	if (r < 0) {
		if (lc->has_child) {
			char why[AGENT_ERROR_MAX];

			snprintf(why, sizeof(why), "%s", err->msg);
			agent_error_set(err, AGENT_FAIL_NOPERM, r, "%s: the child is not started",
					why);
		}
		err->event = "privdrop_failed";
		return r;
	}
	r = check_sources_readable(&lc->cfg, &lc->plan, err);
	if (r == 0)
		r = check_sources_trusted(&lc->cfg, &lc->plan, err);
	if (r == 0)
		materializer_check_rotation(&lc->m);
	return r;
}

int lifecycle_run(struct lifecycle *lc, char **child_argv, struct agent_error *err)
{
	const struct supervisor_opts sopts = {
	    .grace_ms = lc->cfg.grace_ms,
	    .kill_after_ms = lc->cfg.kill_after_ms,
	    .signal_group = lc->cfg.signal_group,
	};
	struct rotation_notify notify = {.notify_pidfile = lc->cfg.notify_pidfile};
	int status, r;

	if (lc->has_child) {
		lc->spec.argv = child_argv;
		lc->spec.inherited = &lc->inherited;
		lc->spec.plan = &lc->plan;
		child_spec_socket_activation(&lc->spec);
	}
	r = supervisor_create(&lc->sv, &lc->loop, &sopts, lc->has_child ? &lc->spec : NULL,
			      lc->sigfd, err);
	lc->sigfd = -1; /* owned by the supervisor, even on failure */
	if (r < 0) {
		err->event = lc->has_child ? "supervisor_failed" : "event_loop_failed";
		return r;
	}
	notify.sv = lc->sv;
	/* The sources are watched before the child starts: a change made the moment the service
	 * is up (it may be the one that triggers it) is seen, never lost in between. */
	r = rotation_start(&lc->rot, &lc->loop, &lc->m, &notify, err);
	if (r < 0 && !lc->has_child)
		return r; /* watch has nothing left to do */
	if (lc->has_child) {
		struct agent_error start_err;
		int s = supervisor_start(lc->sv, &start_err);

		if (s < 0) {
			*err = start_err;
			return s;
		}
		/* run stops the child it started when rotation cannot be watched. */
		if (r < 0)
			supervisor_shutdown(lc->sv, agent_exit_code(err->failure));
	}
	if (!lc->has_child)
		log_info("watch_ready", NULL, "%zu secret(s) written; watching for rotation",
			 lc->cfg.nsecrets);
	/* Readiness: every secret written, privileges dropped, the child started or the watch
	 * armed. An observer (status listener, metrics) is set before this point. */
	if (r == 0)
		observe_ready();
	status = supervisor_run(lc->sv);
	observe_stopping();
	log_event(LOG_INFO, "agent_exit", NULL, NULL, "exit code %d", status);
	return status;
}
