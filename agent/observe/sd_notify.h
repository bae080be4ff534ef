/* Telling the service manager about the agent's state (the sd_notify(3) datagram protocol,
 * documented as stable for reimplementation; no libsystemd).
 *
 * NOTIFY_SOCKET names an AF_UNIX datagram socket: an absolute path, or '@' for the abstract
 * namespace. Each message is one datagram of newline-separated VAR=VALUE assignments.
 */
#ifndef AGENT_OBSERVE_SD_NOTIFY_H
#define AGENT_OBSERVE_SD_NOTIFY_H

#include <stdbool.h>

/* True when NOTIFY_SOCKET is set (to anything): the agent runs under a manager that listens. */
bool sd_notify_enabled(void);

/* Sends `state` (e.g. "READY=1\nSTATUS=..."). Returns 1 when sent, 0 when NOTIFY_SOCKET is
 * unset, -EINVAL (unusable NOTIFY_SOCKET: not '/', not '@', too long) or the errno of
 * socket/sendto. */
int sd_notify_send(const char *state);

/* "RELOADING=1" with "MONOTONIC_USEC=" (the CLOCK_MONOTONIC instant the reload began), as
 * Type=notify-reload expects; returns as sd_notify_send. */
int sd_notify_reloading(void);

#endif
