#include "secrets/rotation.h"

#include "base/log.h"
#include "base/observe.h"
#include "secrets/mountinfo.h"
#include "secrets/notify.h"
#include "secrets/source_watch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Events that keep coming must not postpone an application forever: past this many debounce
 * periods since the first pending event, the set is applied anyway. */
#define DEBOUNCE_MAX_PERIODS 10
/* Re-applications in a row while sources keep changing under the reads. */
#define MAX_APPLY_ROUNDS 8

struct rotation {
	struct ev_loop *loop;
	struct materializer *m;
	struct source_watch *sw;
	struct notifier *notifier;
	struct ev_timer debounce;
	uint64_t first_pending_ms;
	bool *pending; /* cfg->nsecrets entries */
	bool *which;
	bool *changed;	 /* union over the rounds of one application */
	bool *attempted; /* in the set of one of those rounds (for the observer) */
	bool *refused;	 /* in a round that was rejected */
	bool *stale;	 /* found by the comparison made once the watches are armed */
	size_t n;
};

/* "a,b" and "a:fp,b:fp" for the secrets the last application changed. */
static void describe_changes(const struct rotation *r, char *names, size_t names_size, char *fps,
			     size_t fps_size)
{
	size_t nl = 0, fl = 0;

	names[0] = fps[0] = '\0';
	for (size_t i = 0; i < r->n; i++) {
		const struct secret_cfg *s = &r->m->cfg->secrets[i];
		const struct secret_runtime *rt = &r->m->rt[i];

		if (!r->changed[i])
			continue;
		if (nl < names_size)
			nl += (size_t)snprintf(names + nl, names_size - nl, "%s%s", nl ? "," : "",
					       s->name);
		if (rt->fingerprint[0] && fl < fps_size)
			fl += (size_t)snprintf(fps + fl, fps_size - fl, "%s%s:%s", fl ? "," : "",
					       s->name, rt->fingerprint);
	}
}

static bool take_pending(struct rotation *r)
{
	bool any = false;

	for (size_t i = 0; i < r->n; i++) {
		r->which[i] = r->pending[i];
		r->pending[i] = false;
		any |= r->which[i];
	}
	return any;
}

static void log_rejected(const struct agent_error *err)
{
	/* The log names the class by the status a start would have ended with. */
	log_event(LOG_WARN, "rotation_rejected", NULL, (const char *[]){"reason", err->msg, NULL},
		  "the new version was not applied (exit code %d): every file stays as it was; "
		  "the next change is tried again",
		  agent_exit_code(err->failure));
}

/* Applies the pending set. Reading several files is not atomic: when a source changed again
 * while the set was being read (kubelet swapped ..data between the key and its certificate),
 * the written set may mix two versions, so it is applied again before anyone is told. The
 * notification names every secret changed in any round. */
static void apply_pending(struct rotation *r)
{
	char names[1024], fps[2048];
	size_t total = 0;

	if (!take_pending(r))
		return;
	memset(r->changed, 0, r->n * sizeof(r->changed[0]));
	memset(r->attempted, 0, r->n * sizeof(r->attempted[0]));
	memset(r->refused, 0, r->n * sizeof(r->refused[0]));
	observe_rotation_begin();
	for (int round = 0; round < MAX_APPLY_ROUNDS; round++) {
		struct agent_error err;
		size_t nchanged = 0;

		for (size_t i = 0; i < r->n; i++)
			r->attempted[i] |= r->which[i];
		if (materializer_apply(r->m, r->which, &nchanged, &err) < 0) {
			log_rejected(&err);
			/* The set is all or nothing: each of its secrets is refused. */
			for (size_t i = 0; i < r->n; i++)
				r->refused[i] |= r->which[i];
			break;
		}
		for (size_t i = 0; i < r->n; i++)
			r->changed[i] |= r->m->rt[i].changed;
		total += nchanged;
		if (!source_watch_collect(r->sw, r->pending))
			break;
		if (round + 1 == MAX_APPLY_ROUNDS) {
			ev_timer_arm_ms(&r->debounce,
					0); /* sources still moving: the rest on the next turn */
			break;
		}
		if (!take_pending(r))
			break;
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->attempted[i])
			observe_rotation(r->m->cfg->secrets[i].name,
					 r->refused[i]	 ? OBSERVE_ROTATION_REJECTED
					 : r->changed[i] ? OBSERVE_ROTATION_APPLIED
							 : OBSERVE_ROTATION_UNCHANGED);
	observe_rotation_end();
	if (total == 0)
		return;
	describe_changes(r, names, sizeof(names), fps, sizeof(fps));
	log_event(LOG_DEBUG, "rotation_applied", NULL,
		  (const char *[]){"secrets", names, "fingerprints", fps, NULL},
		  "%zu target(s) rewritten", total);
	notifier_notify(r->notifier, names, fps);
}

static void on_sources_changed(void *ctx, const bool *dirty, size_t n,
			       enum source_watch_reason reason)
{
	struct rotation *r = ctx;
	uint64_t debounce = r->m->cfg->debounce_ms;
	uint64_t now, deadline, delay;

	(void)reason;
	for (size_t i = 0; i < n && i < r->n; i++)
		r->pending[i] |= dirty[i];
	if (debounce == 0) {
		apply_pending(r);
		return;
	}
	/* Each event restarts the quiet period, up to the cap. */
	now = ev_now_ms();
	if (!r->debounce.armed)
		r->first_pending_ms = now;
	deadline = r->first_pending_ms + debounce * DEBOUNCE_MAX_PERIODS;
	delay = now + debounce <= deadline ? debounce : (deadline > now ? deadline - now : 0);
	ev_timer_arm_ms(&r->debounce, delay);
}

static void on_debounce(struct ev_loop *loop, struct ev_timer *timer, void *ctx)
{
	(void)loop;
	(void)timer;
	apply_pending(ctx);
}

/* A source that changed after the first application read it and before its watch was armed
 * sent no event, and would wait for the next change, days away for a Kubernetes Secret. So
 * once the watches are armed, and before the service starts, every source is compared with
 * the bytes applied; those that differ are applied now, as the end of the first application
 * (nobody is told: the service has not started, or in `watch` was not told of the first one
 * either). A change after this comparison comes as an event. */
static void catch_up(struct rotation *r)
{
	struct agent_error err;
	bool any = false;

	for (size_t i = 0; i < r->n; i++) {
		r->stale[i] = materializer_source_stale(r->m, i);
		any |= r->stale[i];
	}
	if (any && materializer_apply(r->m, r->stale, NULL, &err) < 0)
		log_rejected(&err);
}

/* A subPath mount binds one inode: kubelet's swap of ..data never reaches it. */
static void warn_bind_mounted(const struct secret_cfg *s, const char *path)
{
	bool is_mount = false;

	if (mount_point_check(path, &is_mount) == 0 && is_mount)
		log_warn("source_never_rotates", s->name,
			 "source %s is a bind mount point (a subPath mount): it never changes "
			 "when the Secret is updated; mount the Secret as a directory and use "
			 "from = file:DIR/%s instead",
			 path, strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
}

static int start(struct rotation *r, const struct rotation_notify *notify)
{
	const struct config *cfg = r->m->cfg;
	struct notifier_opts nopts = {
	    .kind = cfg->on_change,
	    .sig = cfg->on_change_signal,
	    .exec_path = cfg->on_change_exec,
	    .hook_timeout_ms = cfg->hook_timeout_ms,
	    .pidfile = notify->notify_pidfile,
	    .sv = notify->sv,
	};
	struct source_watch_opts wopts = {.poll_interval_ms = cfg->poll_interval_ms};
	char(*paths)[PATH_MAX] = NULL;
	const char **path_ptrs = NULL;
	size_t watched = 0;
	int ret = -ENOMEM;

	paths = calloc(r->n ? r->n : 1, sizeof(*paths));
	path_ptrs = calloc(r->n ? r->n : 1, sizeof(*path_ptrs));
	if (!paths || !path_ptrs)
		goto out;
	for (size_t i = 0; i < r->n; i++) {
		const struct secret_cfg *s = &cfg->secrets[i];
		struct sfs_error err;

		/* env: and stdin are read once; only files can rotate. */
		if (s->source.kind != SFS_SOURCE_FILE && s->source.kind != SFS_SOURCE_CRED)
			continue;
		if (sfs_source_path(&s->source, paths[i], sizeof(paths[i]), &err) < 0) {
			log_warn("source_not_watched", s->name, "%s", err.msg);
			continue;
		}
		path_ptrs[i] = paths[i];
		watched++;
		warn_bind_mounted(s, paths[i]);
	}
	if (watched == 0) {
		ret = 1;
		goto out;
	}
	if ((ret = notifier_create(&r->notifier, r->loop, &nopts)) < 0) {
		log_error("rotation_failed", NULL, "cannot set up notifications: %s",
			  strerror(-ret));
		goto out;
	}
	if ((ret = ev_timer_init(r->loop, &r->debounce, CLOCK_MONOTONIC, on_debounce, r)) < 0) {
		log_error("rotation_failed", NULL, "cannot create the debounce timer: %s",
			  strerror(-ret));
		goto out;
	}
	ret = source_watch_create(&r->sw, r->loop, path_ptrs, r->n, &wopts, on_sources_changed, r);
	if (ret < 0) {
		log_error("rotation_failed", NULL, "cannot watch the sources: %s", strerror(-ret));
		goto out;
	}
	catch_up(r);
	{
		char dirs[16], debounce[24], poll[24];

		snprintf(dirs, sizeof(dirs), "%zu", source_watch_dir_count(r->sw));
		snprintf(debounce, sizeof(debounce), "%llums",
			 (unsigned long long)cfg->debounce_ms);
		snprintf(poll, sizeof(poll), "%llums", (unsigned long long)cfg->poll_interval_ms);
		log_event(LOG_INFO, "rotation_watching", NULL,
			  (const char *[]){"directories", dirs, "debounce", debounce,
					   "poll_interval", poll, NULL},
			  "watching %zu source(s) for rotation", watched);
	}
	ret = 0;
out:
	free(paths);
	free(path_ptrs);
	return ret;
}

int rotation_start(struct rotation **out, struct ev_loop *loop, struct materializer *m,
		   const struct rotation_notify *notify, struct agent_error *err)
{
	struct rotation *r = calloc(1, sizeof(*r));
	int ret = -ENOMEM;

	*out = NULL;
	if (!r)
		goto fail;
	r->loop = loop;
	r->m = m;
	r->n = m->cfg->nsecrets;
	r->debounce.fd = -1;
	r->pending = calloc(r->n ? r->n : 1, sizeof(*r->pending));
	r->which = calloc(r->n ? r->n : 1, sizeof(*r->which));
	r->changed = calloc(r->n ? r->n : 1, sizeof(*r->changed));
	r->attempted = calloc(r->n ? r->n : 1, sizeof(*r->attempted));
	r->refused = calloc(r->n ? r->n : 1, sizeof(*r->refused));
	r->stale = calloc(r->n ? r->n : 1, sizeof(*r->stale));
	if (!r->pending || !r->which || !r->changed || !r->attempted || !r->refused || !r->stale)
		goto fail;
	ret = start(r, notify);
	if (ret == 1) {
		log_info("rotation_idle", NULL, "no file or credential source: nothing to watch");
		rotation_stop(r);
		return 0;
	}
	if (ret < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	if (!r)
		log_error("rotation_failed", NULL, "out of memory");
	rotation_stop(r);
	return agent_error_logged(err, AGENT_FAIL_SOFTWARE, ret,
				  "cannot start watching for rotation");
}

void rotation_stop(struct rotation *r)
{
	if (!r)
		return;
	source_watch_destroy(r->sw);
	notifier_destroy(r->notifier);
	ev_timer_close(&r->debounce);
	free(r->pending);
	free(r->which);
	free(r->changed);
	free(r->attempted);
	free(r->refused);
	free(r->stale);
	free(r);
}
