/* Supervision of the service child: PID 1 duties (design §9).
 *
 * One epoll loop over a signalfd (every catchable signal is blocked and read from it), the
 * grace timers and whatever rotation registers. Signals are forwarded to the child (or its process
 * group), zombies are reaped, and the agent exits with the child's status.
 */
#ifndef AGENT_SUPERVISE_H
#define AGENT_SUPERVISE_H

#include "proc/child_spawn.h"
#include "config/config.h"
#include "base/event_loop.h"

#include <stdbool.h>
#include <sys/types.h>

struct supervisor;

/* Creates the supervisor over `loop`: registers `sigfd` (from signals_take_over, owned by the
 * supervisor from now on) and its timers. `cfg` and `spec` must outlive it. When the agent is
 * not PID 1 it becomes a child subreaper, so orphans of the service are reaped here too
 * (failure is fatal). Returns 0 or a negative errno with `err` filled. */
int supervisor_create(struct supervisor **out, struct ev_loop *loop, const struct config *cfg,
		      const struct child_spec *spec, int sigfd, struct sfs_error *err);
void supervisor_destroy(struct supervisor *sv);

/* Starts the first child. Returns 0 (an exec failure included: the child exits 126/127 and
 * supervisor_run returns that) or an exit code when nothing could be started. */
int supervisor_start(struct supervisor *sv);

/* Runs the loop until the main child is gone and every other descendant has been reaped
 * (SIGTERM, grace, SIGKILL). Returns the agent's exit code: the child's, 128+N for signal N. */
int supervisor_run(struct supervisor *sv);

/* Stops the child (SIGTERM, grace, SIGKILL) and makes supervisor_run return `exit_code`
 * instead of the child's status (for failures after the child started). */
void supervisor_shutdown(struct supervisor *sv, int exit_code);

/* Other processes the agent starts (rotation's exec: hooks) are reaped by the supervisor's
 * waitpid(-1) loop too; registering one delivers its wait status to `on_exit` instead of
 * losing it. At most SUPERVISOR_MAX_TRACKED at once. Returns 0 or -ENOSPC. */
#define SUPERVISOR_MAX_TRACKED 16
typedef void (*supervisor_exit_cb)(pid_t pid, int wstatus, void *ctx);
int supervisor_track_pid(struct supervisor *sv, pid_t pid, supervisor_exit_cb on_exit, void *ctx);

/* Sends `sig` to the child (or its group with signal_group). Returns 0 or a negative errno
 * (-ESRCH when there is no child). */
int supervisor_signal_child(struct supervisor *sv, int sig);

/* Stops the child (SIGTERM, grace, SIGKILL) and starts it again with the same privileges.
 * Asynchronous: returns once the stop has begun. */
int supervisor_restart_child(struct supervisor *sv);

#endif
