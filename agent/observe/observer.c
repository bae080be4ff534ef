#include "observe/observer.h"

#include "base/log.h"
#include "observe/cert_list.h"
#include "observe/expiry.h"
#include "observe/ready_file.h"
#include "observe/sd_notify.h"
#include "observe/status_listener.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SECRET_AGENT_VERSION
#define SECRET_AGENT_VERSION "unknown"
#endif

static bool active(const struct observer *obs)
{
	return obs && obs->started;
}

/* Recording never fails the agent; a lost update is worth one line in the log. */
static void recorded(int r, const char *what, const char *secret)
{
	if (r < 0)
		log_warn("observe_failed", secret, "cannot record %s: %s", what, strerror(-r));
}

static void notify(const char *state)
{
	int r = sd_notify_send(state);

	if (r < 0)
		log_warn("sd_notify_failed", NULL, "cannot notify the service manager: %s",
			 strerror(-r));
}

/* One line (no newline in a STATUS=): how many secrets are written, and the last rotation. */
static void notify_ready_status(const struct observer *obs)
{
	char msg[320];

	if (!sd_notify_enabled())
		return;
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%zu secrets written%s%s",
		 metrics_secrets_written(obs->metrics),
		 obs->last_rotation[0] ? "; last rotation " : "", obs->last_rotation);
	notify(msg);
}

int observer_start(struct observer *obs, struct ev_loop *loop, const struct observer_opts *opts,
		   struct agent_error *err)
{
	int r;

	*obs = (struct observer){.loop = loop};
	r = metrics_new(&obs->metrics, opts->version ? opts->version : SECRET_AGENT_VERSION);
	if (r < 0)
		return agent_error_set(err, AGENT_FAIL_SOFTWARE, r, "out of memory");
	if (opts->ready_file) {
		if (opts->ready_file[0] != '/') {
			r = agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
					    "ready_file must be an absolute path");
			goto fail;
		}
		obs->ready_file = strdup(opts->ready_file);
		if (!obs->ready_file) {
			r = agent_error_set(err, AGENT_FAIL_SOFTWARE, -ENOMEM, "out of memory");
			goto fail;
		}
		/* A file left by an earlier agent that was killed must not claim readiness. */
		(void)ready_file_remove(obs->ready_file);
	}
	r = expiry_watch_new(&obs->expiry, loop, obs->metrics, opts->warn_days);
	if (r < 0) {
		agent_error_set(err, AGENT_FAIL_SOFTWARE, r, "expiry watch: %s", strerror(-r));
		goto fail;
	}
	if (opts->status_listen) {
		r = status_listener_start(&obs->listener, loop, opts->status_listen, obs->metrics,
					  err);
		if (r < 0)
			goto fail;
		log_event(LOG_INFO, "status_listening", NULL,
			  (const char *[]){"address", opts->status_listen, NULL},
			  "status listener on %s (port %u)", opts->status_listen,
			  (unsigned)status_listener_port(obs->listener));
	}
	obs->started = true;
	return 0;
fail:
	observer_free(obs);
	return r;
}

void observer_free(struct observer *obs)
{
	if (!obs)
		return;
	status_listener_stop(obs->listener);
	expiry_watch_free(obs->expiry);
	if (obs->ready_file_written)
		(void)ready_file_remove(obs->ready_file);
	free(obs->ready_file);
	metrics_free(obs->metrics);
	*obs = (struct observer){0};
}

void observer_secret_declared(struct observer *obs, const char *secret, enum sfs_secret_type type)
{
	if (active(obs))
		recorded(metrics_secret_declare(obs->metrics, secret, sfs_type_name(type)),
			 "a secret", secret);
}

void observer_secret_written(struct observer *obs, const char *secret, enum sfs_secret_type type,
			     const char *fingerprint, const void *written, size_t len)
{
	struct observed_cert *certs = NULL;
	struct timespec now;
	size_t ncerts = 0;
	int r = 0;

	if (!active(obs))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	/* Only certificates are parsed: a key's bytes are never looked at. */
	if (written && (type == SFS_TYPE_X509 || type == SFS_TYPE_TLS_CERT))
		r = cert_list_from_pem(written, len, &certs, &ncerts);
	recorded(r, "its certificates", secret);
	recorded(metrics_secret_written(obs->metrics, secret, sfs_type_name(type), fingerprint,
					certs, ncerts,
					(double)now.tv_sec + (double)now.tv_nsec / 1e9),
		 "a write", secret);
	recorded(expiry_watch_set(obs->expiry, secret, certs, ncerts), "its expiry", secret);
	free(certs);
}

int observer_ready(struct observer *obs, struct agent_error *err)
{
	int r = 0;

	if (!active(obs) || obs->ready)
		return 0;
	obs->ready = true;
	metrics_set_ready(obs->metrics, true);
	if (obs->ready_file) {
		r = ready_file_write(obs->ready_file, err);
		obs->ready_file_written = r == 0;
	}
	notify_ready_status(obs);
	return r;
}

void observer_rotation_begin(struct observer *obs)
{
	if (!active(obs) || obs->reloading)
		return;
	obs->reloading = true;
	/* Before READY=1 the manager still waits for the start: a reload means nothing to it. */
	if (obs->ready && sd_notify_enabled()) {
		int r = sd_notify_reloading();
		if (r < 0)
			log_warn("sd_notify_failed", NULL, "cannot notify the service manager: %s",
				 strerror(-r));
	}
}

void observer_rotation_result(struct observer *obs, const char *secret, enum rotation_result result)
{
	static const char *const names[] = {"applied", "rejected", "unchanged"};
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	if (!active(obs))
		return;
	recorded(metrics_rotation(obs->metrics, secret, result), "a rotation", secret);
	if (!gmtime_r(&now, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		when[0] = '\0';
	snprintf(obs->last_rotation, sizeof(obs->last_rotation), "%s %s at %s",
		 names[(unsigned)result <= ROTATION_UNCHANGED ? result : 0], secret, when);
}

void observer_rotation_end(struct observer *obs)
{
	if (!active(obs) || !obs->reloading)
		return;
	obs->reloading = false;
	/* Before readiness the manager has not been told READY=1 yet: that is observer_ready's. */
	if (obs->ready)
		notify_ready_status(obs);
}

void observer_notification(struct observer *obs, const char *action, bool ok)
{
	if (active(obs))
		recorded(metrics_notification(obs->metrics, action, ok), "a notification", NULL);
}

void observer_child_restart(struct observer *obs)
{
	if (active(obs))
		metrics_child_restart(obs->metrics);
}

void observer_stopping(struct observer *obs)
{
	if (!active(obs))
		return;
	obs->ready = false;
	metrics_set_ready(obs->metrics, false);
	if (obs->ready_file_written) {
		(void)ready_file_remove(obs->ready_file);
		obs->ready_file_written = false;
	}
	notify("STOPPING=1");
}

uint16_t observer_listen_port(const struct observer *obs)
{
	return active(obs) ? status_listener_port(obs->listener) : 0;
}
