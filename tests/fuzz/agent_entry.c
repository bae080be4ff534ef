/* The fuzz harnesses' adapter to the agent (see agent_entry.h). Nothing else in tests/fuzz
 * includes an agent header. */
#include "agent_entry.h"

#include "base/event_loop.h"
#include "base/log.h"
#include "cmd/commands.h"
#include "config/config.h"
#include "config/values.h"
#include "observe/metrics.h"
#include "observe/observer.h"
#include "secret_fs/source.h"
#include "secrets/mountinfo.h"
#include "secrets/notify.h"
#include "secrets/source_watch.h"
#include "secrets/tcp_probe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The config API's error type (the agent's one error carrier). */
typedef struct agent_error config_err;

int fuzz_config_plan(const char *path, FILE *plan, char *msg, size_t msgsize)
{
	struct config cfg;
	config_err err = {0};
	int r;

	config_init(&cfg);
	r = config_load_file(&cfg, path, &err);
	if (r == 0)
		r = config_finish(&cfg, &err);
	if (r == 0)
		config_print_plan(&cfg, plan);
	else
		snprintf(msg, msgsize, "%s", err.msg);
	config_free(&cfg);
	return r < 0 ? -1 : 0;
}

int fuzz_flags_plan(int argc, char **argv, bool allow_notify_pidfile, int *consumed, FILE *plan,
		    char *msg, size_t msgsize)
{
	struct config cfg;
	config_err err = {0};
	int idx = 0, r;

	config_init(&cfg);
	r = config_parse_args(&cfg, argc, argv, &idx, allow_notify_pidfile, &err);
	if (r == 0)
		r = config_finish(&cfg, &err);
	if (r == 0)
		config_print_plan(&cfg, plan);
	else
		snprintf(msg, msgsize, "%s", err.msg);
	*consumed = idx;
	config_free(&cfg);
	return r < 0 ? -1 : 0;
}

int fuzz_tcp_list(const char *value, bool commas, void (*each)(const char *item, void *ctx),
		  void *ctx)
{
	char *argv[] = {commas ? "--wait-any-tcp" : "--wait-tcp", (char *)value};
	struct config cfg;
	config_err err = {0};
	struct strlist *list;
	int idx = 0, r;

	config_init(&cfg);
	r = config_parse_args(&cfg, 2, argv, &idx, false, &err);
	list = commas ? &cfg.wait_any_tcp : &cfg.wait_tcp;
	for (size_t i = 0; r == 0 && i < list->n; i++)
		each(list->items[i], ctx);
	config_free(&cfg);
	return r < 0 ? -1 : 0;
}

int fuzz_tcp_address(const char *spec, char *host, char *port, char *msg, size_t msgsize)
{
	struct tcp_address addr;
	struct sfs_error err = {0};
	int r = tcp_address_parse(spec, &addr, &err);

	if (r < 0) {
		snprintf(msg, msgsize, "%s", err.msg);
		return r;
	}
	memcpy(host, addr.host, sizeof(addr.host));
	memcpy(port, addr.port, sizeof(addr.port));
	return 0;
}

int fuzz_read_pidfile(const char *path, pid_t *pid)
{
	char why[256];

	return notify_read_pidfile(path, pid, why, sizeof(why));
}

int fuzz_is_mount_point(const char *mountinfo_path, const char *path, bool *is_mount)
{
	/* NULL: the live check rotation makes (statx first, this process's mountinfo after). */
	if (!mountinfo_path)
		return mount_point_check(path, is_mount);
	return mountinfo_is_mount_point(mountinfo_path, path, is_mount);
}

void fuzz_mountinfo_unescape(char *field)
{
	mountinfo_unescape(field);
}

int fuzz_source_path(const char *spec, char *path, size_t pathsize, char *msg, size_t msgsize)
{
	struct sfs_source src;
	struct sfs_error err = {0};
	int r = sfs_source_parse(spec, &src, &err);

	if (r == 0) {
		r = sfs_source_path(&src, path, pathsize, &err);
		sfs_source_free(&src);
	}
	if (r < 0)
		snprintf(msg, msgsize, "%s", err.msg);
	return r;
}

struct fuzz_watch {
	struct ev_loop loop;
	struct source_watch *sw;
};

static void ignore_changes(void *ctx, const bool *dirty, size_t n, enum source_watch_reason why)
{
	(void)ctx;
	(void)dirty;
	(void)n;
	(void)why;
}

int fuzz_watch_start(struct fuzz_watch **out, const char *path)
{
	struct source_watch_opts opts = {0};
	const char *paths[] = {path};
	struct fuzz_watch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	/* The watcher logs lost and re-armed watches: expected here, and slow on stderr. */
	log_setup(LOG_FORMAT_TEXT, LOG_ERROR);
	r = ev_init(&w->loop);
	if (r == 0) {
		r = source_watch_create(&w->sw, &w->loop, paths, 1, &opts, ignore_changes, NULL);
		if (r < 0)
			ev_close(&w->loop);
	}
	if (r < 0) {
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

bool fuzz_watch_collect(struct fuzz_watch *w)
{
	bool dirty = false;

	return source_watch_collect(w->sw, &dirty) && dirty;
}

size_t fuzz_watch_armed(const struct fuzz_watch *w)
{
	return source_watch_armed_count(w->sw);
}

void fuzz_watch_stop(struct fuzz_watch *w)
{
	if (!w)
		return;
	source_watch_destroy(w->sw);
	ev_close(&w->loop);
	free(w);
}

struct fuzz_status {
	struct ev_loop loop;
	struct observer obs;
};

int fuzz_status_start(struct fuzz_status **out, const char *ready_file)
{
	struct observer_opts opts = {.status_listen = "127.0.0.1:0", .ready_file = ready_file};
	struct agent_error err = {0};
	struct fuzz_status *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	log_setup(LOG_FORMAT_TEXT, LOG_ERROR);
	r = ev_init(&s->loop);
	if (r == 0) {
		r = observer_start(&s->obs, &s->loop, &opts, &err);
		if (r < 0) {
			fprintf(stderr, "observer: %s\n", err.msg);
			ev_close(&s->loop);
		}
	}
	if (r < 0) {
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

void fuzz_status_secret(struct fuzz_status *s, const char *name, const char *fingerprint,
			const void *written, size_t len)
{
	observer_secret_declared(&s->obs, name, SFS_TYPE_ED25519);
	observer_secret_written(&s->obs, name, SFS_TYPE_ED25519, fingerprint, written, len);
}

void fuzz_status_set_ready(struct fuzz_status *s, bool ready)
{
	metrics_set_ready(s->obs.metrics, ready);
}

unsigned short fuzz_status_port(const struct fuzz_status *s)
{
	return observer_listen_port(&s->obs);
}

int fuzz_status_run_once(struct fuzz_status *s, int timeout_ms)
{
	return ev_run_once(&s->loop, timeout_ms);
}

void fuzz_status_stop(struct fuzz_status *s)
{
	if (!s)
		return;
	observer_free(&s->obs);
	ev_close(&s->loop);
	free(s);
}

int fuzz_metrics_new(struct fuzz_metrics **out, const char *version)
{
	return metrics_new((struct metrics **)out, version);
}

void fuzz_metrics_free(struct fuzz_metrics *m)
{
	metrics_free((struct metrics *)m);
}

bool fuzz_secret_name_ok(const char *name)
{
	return config_secret_name_ok(name);
}

int fuzz_metrics_declare(struct fuzz_metrics *m, const char *secret, const char *type)
{
	return metrics_secret_declare((struct metrics *)m, secret, type);
}

int fuzz_metrics_written(struct fuzz_metrics *m, const char *secret, const char *type,
			 const char *fingerprint, const struct fuzz_cert *certs, size_t ncerts,
			 double when)
{
	struct observed_cert *oc = ncerts ? calloc(ncerts, sizeof(*oc)) : NULL;
	int r;

	if (ncerts && !oc)
		return -ENOMEM;
	for (size_t i = 0; i < ncerts; i++) {
		oc[i].index = (unsigned)i;
		snprintf(oc[i].subject, sizeof(oc[i].subject), "%s", certs[i].subject);
		oc[i].not_after = certs[i].not_after;
	}
	r = metrics_secret_written((struct metrics *)m, secret, type, fingerprint, oc, ncerts,
				   when);
	free(oc);
	return r;
}

int fuzz_metrics_rotation(struct fuzz_metrics *m, const char *secret, int result)
{
	return metrics_rotation((struct metrics *)m, secret, (enum rotation_result)result);
}

int fuzz_metrics_notification(struct fuzz_metrics *m, const char *action, bool ok)
{
	return metrics_notification((struct metrics *)m, action, ok);
}

void fuzz_metrics_misc(struct fuzz_metrics *m, bool ready, unsigned restarts, unsigned expiring,
		       unsigned expired)
{
	metrics_set_ready((struct metrics *)m, ready);
	for (unsigned i = 0; i < restarts; i++)
		metrics_child_restart((struct metrics *)m);
	metrics_set_certificates_expiring((struct metrics *)m, expiring, expired);
}

int fuzz_metrics_render(const struct fuzz_metrics *m, char **text, size_t *len)
{
	return metrics_render((const struct metrics *)m, text, len);
}

int fuzz_status_metrics_json(char *text, bool ready, char **json)
{
	return cmd_status_metrics_json(text, ready, json);
}
