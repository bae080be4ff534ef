/* Supervision of the service child: PID 1 duties (design §9).
 *
 * One epoll loop over a signalfd (every catchable signal is blocked and read from it), a
 * timerfd and whatever rotation registers. Signals are forwarded to the child (or its process
 * group), zombies are reaped, and the agent exits with the child's status.
 */
#ifndef AGENT_SUPERVISE_H
#define AGENT_SUPERVISE_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "event_loop.h"

struct supervisor;

/* Sends `sig` to the child (or its group with signal_group). Returns 0 or a negative errno
 * (-ESRCH when there is no child). */
int supervisor_signal_child(struct supervisor *sv, int sig);

/* Stops the child (SIGTERM, grace, SIGKILL) and starts it again with the same privileges.
 * Asynchronous: returns once the stop has begun. */
int supervisor_restart_child(struct supervisor *sv);

/* The current child's pid, or 0. */
pid_t supervisor_child_pid(const struct supervisor *sv);

#endif
