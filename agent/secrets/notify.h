/* Announcing a rotation (design §10, §13): a signal to the child (run) or to the pid in a
 * pidfile (watch), a restart of the child, an exec: hook, or nothing.
 *
 * Each notification is logged once, with the names and fingerprints of the secrets that
 * changed (never their bytes). The pidfile is read at every notification, never cached; a
 * missing, malformed or stale pid is logged and retried with a doubling backoff (100 ms up
 * to 5 s, 10 attempts), and a newer notification replaces a pending retry.
 *
 * exec: hooks run as the agent's current (already dropped) user, in their own process group,
 * with SECRET_AGENT_SECRETS naming the changed secrets. The loop never waits for a hook: its
 * exit is collected through the supervisor's reaper (run) or a pidfd in the loop (watch), a
 * loop timer kills the group after hook_timeout_ms, and the exit status is logged. A change
 * while a hook runs is coalesced into one more run after it.
 *
 * Ownership: the notifier owns its descriptors (timers, pidfd) and registers them in the
 * caller's loop. Strings in the options must outlive it.
 */
#ifndef AGENT_NOTIFY_H
#define AGENT_NOTIFY_H

#include "config/config.h"
#include "base/event_loop.h"

#include <stdint.h>
#include <sys/types.h>

struct notifier;

typedef void (*notify_exit_cb)(pid_t pid, int wstatus, void *ctx);

/* The service child, as `run` supervises it. Each returns 0 or a negative errno. */
struct notify_child_ops {
	int (*signal_child)(void *ctx, int sig);
	int (*restart_child)(void *ctx);
	/* Delivers a hook's wait status (the supervisor reaps every process); NULL: the
	 * notifier reaps its hooks itself. */
	int (*track_pid)(void *ctx, pid_t pid, notify_exit_cb on_exit, void *cb_ctx);
	void *ctx;
};

struct notifier_opts {
	enum on_change_kind kind;
	int sig;			      /* ON_CHANGE_SIGNAL */
	const char *exec_path;		      /* ON_CHANGE_EXEC */
	uint64_t hook_timeout_ms;	      /* ON_CHANGE_EXEC; 0: 30 s */
	const char *pidfile;		      /* watch: signal the pid written here */
	const struct notify_child_ops *child; /* run: signal/restart the supervised child */
};

/* What a notifier has done, for tests and the benchmark. */
struct notifier_stats {
	unsigned notifications; /* notifier_notify calls */
	unsigned delivered;	/* signals sent, restarts begun, hooks started */
	unsigned failed;	/* attempts that failed (each retry counts) */
	unsigned hooks_finished;
	int last_hook_wstatus;
	pid_t last_pid; /* the pid last signalled or the last hook started */
};

/* Returns 0, -EINVAL (signal/restart without a target) or the errno of a descriptor. */
int notifier_create(struct notifier **out, struct ev_loop *loop, const struct notifier_opts *opts);
void notifier_destroy(struct notifier *n);

/* Announces one change. `secrets` and `fingerprints` are short printable lists for the log
 * and the hook's environment ("signing_key,root_ca"). Returns 0 when delivered now, 1 when
 * a retry or a coalesced hook run was scheduled, or a negative errno (logged). */
int notifier_notify(struct notifier *n, const char *secrets, const char *fingerprints);

/* A process the caller reaped itself (watch as PID 1 reaps everything): when it is the running
 * hook, its exit is handled as if the hook's pidfd had reported it. Other pids are ignored. */
void notifier_child_reaped(struct notifier *n, pid_t pid, int wstatus);

const struct notifier_stats *notifier_get_stats(const struct notifier *n);

/* Reads a pid from `path`: decimal, surrounding whitespace allowed. Returns 0, -ENOENT,
 * -EINVAL (malformed, or a pid that would address a group or this process) or -errno. */
int notify_read_pidfile(const char *path, pid_t *out);

#endif
