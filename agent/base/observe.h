/* The agent's notable moments, announced in one place each, for an observer (metrics, a
 * status listener) to count or expose them.
 *
 * Modules call the observe_* functions where the moment happens; nothing is observed until
 * an observer is set with observe_set() (one per process, like the log), so each call costs a
 * NULL check. An observer's callbacks run on the agent's one thread, inside the event loop:
 * they must not block. Names passed are secret names and actions, never secret bytes.
 *
 *   observe_rotation_begin    rotation.c: a changed set is about to be applied
 *   observe_rotation          rotation.c: one secret of that set (applied, rejected: the
 *                             old files stay, unchanged: same bytes)
 *   observe_rotation_end      rotation.c: the set is done, whatever the result
 *   observe_secret_written    materialize.c: a secret committed or validated in place
 *                             (changed or not)
 *   observe_notification      notify.c: a notification delivered or failed
 *   observe_child_restarted   supervise.c: the service child started again
 *   observe_ready             cmd/lifecycle.c: the start is complete (run: child started,
 *                             watch: watching)
 *   observe_stopping          cmd/lifecycle.c: the loop ended, the agent is shutting down
 */
#ifndef AGENT_BASE_OBSERVE_H
#define AGENT_BASE_OBSERVE_H

#include "secret_fs/validate.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum observe_rotation {
	OBSERVE_ROTATION_APPLIED,   /* targets rewritten, the notification follows */
	OBSERVE_ROTATION_REJECTED,  /* the new version is invalid or cannot be written */
	OBSERVE_ROTATION_UNCHANGED, /* sources moved but no target's bytes changed */
};

/* One secret written (or validated in place). `data`/`len` are the canonical bytes that were
 * written: an observer may read certificates (public) from them for x509 and tls-cert
 * secrets and must not look at them for any other type. */
struct observe_write {
	const char *secret;
	enum sfs_secret_type type;
	const char *fingerprint; /* as logged; "" for opaque */
	const void *data;
	size_t len;
	bool changed;
};

struct agent_observer {
	void (*rotation_begin)(void *ctx);
	void (*rotation)(void *ctx, const char *secret, enum observe_rotation outcome);
	void (*rotation_end)(void *ctx);
	void (*secret_written)(void *ctx, const struct observe_write *w);
	/* `action`: "signal", "restart", "exec" or "none". */
	void (*notification)(void *ctx, const char *action, bool ok);
	void (*child_restarted)(void *ctx, pid_t pid);
	void (*ready)(void *ctx);
	void (*stopping)(void *ctx);
	void *ctx;
};

/* Sets (or with NULL clears) the observer; `obs` must outlive its use. Any callback may be
 * NULL. */
void observe_set(const struct agent_observer *obs);

void observe_rotation_begin(void);
void observe_rotation(const char *secret, enum observe_rotation outcome);
void observe_rotation_end(void);
void observe_secret_written(const struct observe_write *w);
void observe_notification(const char *action, bool ok);
void observe_child_restarted(pid_t pid);
void observe_ready(void);
void observe_stopping(void);

#endif
