/* The agent's notable moments, announced in one place each, for an observer (metrics, a
 * status listener) to count or expose them.
 *
 * Modules call the observe_* functions where the moment happens; nothing is observed until
 * an observer is set with observe_set() (one per process, like the log), so each call costs a
 * NULL check. An observer's callbacks run on the agent's one thread, inside the event loop:
 * they must not block. Names passed are secret names and actions, never secret bytes.
 *
 *   observe_rotation          rotation.c: an application of changed sources (applied,
 *                             rejected: the old files stay, unchanged: same bytes)
 *   observe_secret_written    materialize.c: a target committed (changed or not)
 *   observe_notification      notify.c: a notification delivered or failed
 *   observe_child_restarted   supervise.c: the service child started again
 *   observe_ready             cmd/lifecycle.c: the start is complete (run: child started,
 *                             watch: watching)
 */
#ifndef AGENT_BASE_OBSERVE_H
#define AGENT_BASE_OBSERVE_H

#include <stdbool.h>
#include <sys/types.h>

enum observe_rotation {
	OBSERVE_ROTATION_APPLIED,   /* targets rewritten, the notification follows */
	OBSERVE_ROTATION_REJECTED,  /* the new version is invalid or cannot be written */
	OBSERVE_ROTATION_UNCHANGED, /* sources moved but no target's bytes changed */
};

struct agent_observer {
	/* `secrets`: "a,b" for APPLIED, NULL otherwise. */
	void (*rotation)(void *ctx, enum observe_rotation outcome, const char *secrets);
	void (*secret_written)(void *ctx, const char *secret, bool changed);
	/* `action`: "signal", "restart", "exec" or "none". */
	void (*notification)(void *ctx, const char *action, bool ok);
	void (*child_restarted)(void *ctx, pid_t pid);
	void (*ready)(void *ctx);
	void *ctx;
};

/* Sets (or with NULL clears) the observer; `obs` must outlive its use. Any callback may be
 * NULL. */
void observe_set(const struct agent_observer *obs);

void observe_rotation(enum observe_rotation outcome, const char *secrets);
void observe_secret_written(const char *secret, bool changed);
void observe_notification(const char *action, bool ok);
void observe_child_restarted(pid_t pid);
void observe_ready(void);

#endif
