/* Supervision: PID 1 duties and the agent's one reaper (docs/design.md §9).
 *
 * One epoll loop over a signalfd (every catchable signal is blocked and read from it), the
 * grace timers and whatever rotation registers. Every exited child of the agent is collected
 * here (waitpid(-1) on SIGCHLD) and handed to whoever registered its pid: the service child,
 * an exec: hook (supervisor_track_pid), or, for anything else, logged as an orphan.
 *
 * With a child (`run`): signals are forwarded to the child (or its process group), and the
 * agent exits with the child's status once every descendant is gone. Without one (`watch`):
 * SIGTERM, SIGINT and SIGQUIT end the loop with status 0; other signals are ignored.
 */
#ifndef AGENT_SUPERVISE_H
#define AGENT_SUPERVISE_H

#include "base/error.h"
#include "base/event_loop.h"
#include "proc/child_spawn.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct supervisor;

struct supervisor_opts {
	uint64_t grace_ms;	/* SIGTERM to SIGKILL on restart, shutdown and for descendants */
	uint64_t kill_after_ms; /* SIGKILL this long after a forwarded SIGTERM; 0: never */
	bool signal_group;	/* signals go to the child's process group */
};

/* Creates the supervisor over `loop`: registers `sigfd` (from signals_take_over, owned by the
 * supervisor from now on, even on failure) and its timers. `spec` (NULL: no child, the watch
 * form) must outlive it. With a child, when the agent is not PID 1 it becomes a child
 * subreaper, so orphans of the service are reaped here too (failure is fatal). Returns 0 or a
 * negative errno with `err` filled. */
int supervisor_create(struct supervisor **out, struct ev_loop *loop,
		      const struct supervisor_opts *opts, const struct child_spec *spec, int sigfd,
		      struct agent_error *err);
void supervisor_destroy(struct supervisor *sv);

/* Starts the first child. Returns 0 (an exec failure included: the child exits 126/127 and
 * supervisor_run returns that) or a negative errno (logged) when nothing could be started. */
int supervisor_start(struct supervisor *sv, struct agent_error *err);

/* Runs the loop: with a child, until it is gone and every other descendant has been reaped
 * (SIGTERM, grace, SIGKILL); without one, until SIGTERM/SIGINT/SIGQUIT. Gives back the
 * startup-only memory once the agent is idle. Returns the agent's exit status: the child's,
 * 128+N for signal N, 0 for a stopped watch, or the status given to supervisor_shutdown. */
int supervisor_run(struct supervisor *sv);

/* Stops the child (SIGTERM, grace, SIGKILL) and makes supervisor_run return `exit_status`
 * instead of the child's status (for failures after the child started). */
void supervisor_shutdown(struct supervisor *sv, int exit_status);

/* Registers a process the agent started (rotation's exec: hooks): its wait status goes to
 * `on_exit` when the reaper collects it. At most SUPERVISOR_MAX_TRACKED at once. Returns 0 or
 * -ENOSPC. */
#define SUPERVISOR_MAX_TRACKED 16
typedef void (*supervisor_exit_cb)(pid_t pid, int wstatus, void *ctx);
int supervisor_track_pid(struct supervisor *sv, pid_t pid, supervisor_exit_cb on_exit, void *ctx);

/* Sends `sig` to the child (or its group with signal_group). Returns 0 or a negative errno
 * (-ESRCH when there is no child). */
int supervisor_signal_child(struct supervisor *sv, int sig);

/* Stops the child (SIGTERM, grace, SIGKILL) and starts it again with the same privileges.
 * Asynchronous: returns once the stop has begun. Returns 0 or -ESRCH (no child). */
int supervisor_restart_child(struct supervisor *sv);

#endif
