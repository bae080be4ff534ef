/* The observer: everything an operator or a service manager sees of a running agent, behind
 * one struct and a handful of calls the start pipeline makes.
 *
 *  - metrics registry (always), served by the status listener when `status_listen` is set;
 *  - readiness: /readyz, secret_agent_ready, the ready file, READY=1 to the service manager;
 *  - rotation: RELOADING=1 before applying, READY=1 and STATUS= after, counters by result;
 *  - expiry watch of every written certificate;
 *  - shutdown: STOPPING=1, the ready file removed.
 *
 * Every recorder is safe on a zeroed observer that was never started (materialize-only paths
 * may simply not start one) and never fails the caller: the observer must not stop the agent
 * from doing its job, so a failure to record is logged once and dropped.
 *
 * Ownership: the observer borrows `loop` (it must outlive it); strings in the options are
 * copied. observer_free releases everything and is safe on a zeroed struct.
 */
#ifndef AGENT_OBSERVE_OBSERVER_H
#define AGENT_OBSERVE_OBSERVER_H

#include "base/error.h"
#include "base/event_loop.h"
#include "observe/metrics.h"
#include "secret_fs/validate.h"

#include <stdbool.h>
#include <stddef.h>

struct status_listener;
struct expiry_watch;

struct observer_opts {
	const char *status_listen; /* HOST:PORT, [::1]:PORT, or NULL: no listener */
	const char *ready_file;	   /* absolute path, or NULL */
	int warn_days;		   /* expiry warning window; <= 0 means 30 */
	const char *version;	   /* for secret_agent_build_info; NULL: the build's */
};

struct observer {
	bool started;
	struct ev_loop *loop;
	struct metrics *metrics;
	struct status_listener *listener;
	struct expiry_watch *expiry;
	char *ready_file;
	bool ready;
	bool ready_file_written;
	bool reloading;
	char last_rotation[160]; /* for STATUS=: "applied signing_key at 12:00:01Z" */
};

/* Creates the registry and the expiry watch, and starts the listener so it answers from the
 * start of the process (/readyz 503 until observer_ready). Returns 0 or a negative errno with
 * `err` filled (bad address: AGENT_FAIL_CONFIG; cannot listen: AGENT_FAIL_UNAVAILABLE). */
int observer_start(struct observer *obs, struct ev_loop *loop, const struct observer_opts *opts,
		   struct agent_error *err);
void observer_free(struct observer *obs);

/* A secret the configuration names, before anything is written (its counters start at 0). */
void observer_secret_declared(struct observer *obs, const char *secret, enum sfs_secret_type type);

/* A secret was written or validated in place (at start and after each applied rotation).
 * `fingerprint` as logged ("" or NULL for opaque). `written`/`len` are the bytes written:
 * for x509 and tls-cert secrets the certificates are read from them (public bytes); for every
 * other type they are not looked at, and NULL is fine. */
void observer_secret_written(struct observer *obs, const char *secret, enum sfs_secret_type type,
			     const char *fingerprint, const void *written, size_t len);

/* Readiness reached (first materialization complete and, for run, the child started):
 * secret_agent_ready 1, /readyz 200, the ready file written, READY=1 + STATUS=. Idempotent.
 * Returns 0, or the error of the ready file (the caller decides; logging it is enough). */
int observer_ready(struct observer *obs, struct agent_error *err);

/* Around one rotation: RELOADING=1 + MONOTONIC_USEC= before the changed set is applied, and
 * READY=1 + STATUS= after (whatever the result); both only once ready. observer_rotation_result
 * is called once per secret of the set. */
void observer_rotation_begin(struct observer *obs);
void observer_rotation_result(struct observer *obs, const char *secret,
			      enum rotation_result result);
void observer_rotation_end(struct observer *obs);

/* One notification of the service: action "signal", "restart" or "exec". */
void observer_notification(struct observer *obs, const char *action, bool ok);

/* The supervised child was started again after the first start. */
void observer_child_restart(struct observer *obs);

/* Shutdown begins: STOPPING=1, secret_agent_ready 0, the ready file removed. The listener
 * keeps answering (/readyz 503) until observer_free. */
void observer_stopping(struct observer *obs);

/* For tests and the status line. */
uint16_t observer_listen_port(const struct observer *obs);

#endif
