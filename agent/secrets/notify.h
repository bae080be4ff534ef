/* Announcing a rotation (docs/design.md §10, §13): a signal to the child (run) or to the pid in a
 * pidfile (watch), a restart of the child, an exec: hook, or nothing.
 *
 * Each notification is logged once, with the names and fingerprints of the secrets that
 * changed (never their bytes). The pidfile is read at every notification, never cached; a
 * missing, malformed or stale pid is logged and retried with a doubling backoff (100 ms up
 * to 5 s, 10 attempts), and a newer notification replaces a pending retry.
 *
 * exec: hooks run as the agent's current (already dropped) user, in their own process group,
 * with SECRET_AGENT_SECRETS naming the changed secrets. The loop never waits for a hook: its
 * exit is collected by the supervisor's reaper (the one reaper, in run and watch alike), a
 * loop timer kills the group after hook_timeout_ms, and the exit status is logged. A change
 * while a hook runs is coalesced into one more run after it.
 *
 * Ownership: the notifier owns its timers and registers them in the caller's loop. Strings
 * and the supervisor in the options must outlive it.
 */
#ifndef AGENT_NOTIFY_H
#define AGENT_NOTIFY_H

#include "base/event_loop.h"
#include "config/config.h"

#include <stdint.h>
#include <sys/types.h>

struct notifier;
struct supervisor;

struct notifier_opts {
	enum on_change_kind kind;
	int sig;		  /* ON_CHANGE_SIGNAL */
	const char *exec_path;	  /* ON_CHANGE_EXEC */
	uint64_t hook_timeout_ms; /* ON_CHANGE_EXEC; 0: 30 s */
	const char *pidfile;	  /* watch: signal the pid written here */
	/* Reaps the exec: hooks; without a pidfile, its child is the one signalled or restarted
	 * (run). */
	struct supervisor *sv;
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

/* Returns 0, -EINVAL (signal/restart without a target, exec: without a supervisor to reap the
 * hook) or the errno of a descriptor. */
int notifier_create(struct notifier **out, struct ev_loop *loop, const struct notifier_opts *opts);
void notifier_destroy(struct notifier *n);

/* Announces one change. `secrets` and `fingerprints` are short printable lists for the log
 * and the hook's environment ("signing_key,root_ca"). Returns 0 when delivered or scheduled
 * (a retry of a pidfile signal, one more hook run after the running one: see the stats), or
 * a negative errno (logged). */
int notifier_notify(struct notifier *n, const char *secrets, const char *fingerprints);

const struct notifier_stats *notifier_get_stats(const struct notifier *n);

/* Reads a pid from `path`: decimal, surrounding whitespace allowed. Whoever can write the file
 * chooses whom the agent signals, so it must be a regular file (the last component is never
 * followed, a FIFO is never waited on: O_NOFOLLOW|O_NONBLOCK), owned by root or by the agent's
 * own uid, and not writable by everyone. Returns 0, -ENOENT, -EINVAL (malformed, or a pid that
 * would address a group or this process), -EPERM (refused for one of those reasons: `why`
 * says which) or -errno. `why` (may be NULL) gets a short reason on -EPERM. */
int notify_read_pidfile(const char *path, pid_t *out, char *why, size_t why_size);

#endif
