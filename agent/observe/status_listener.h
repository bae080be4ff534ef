/* The status listener: /healthz, /readyz and /metrics over HTTP/1.1 on `status_listen`.
 *
 * libmicrohttpd runs in its external-event-loop mode: MHD_USE_EPOLL without a thread of its
 * own. Its epoll descriptor is one watch in the agent's loop and MHD_get_timeout() feeds one
 * loop timer, disarmed whenever MHD has nothing timed (no connection open): the agent still
 * sleeps in exactly one epoll_wait and never wakes up while nothing happens.
 *
 * GET and HEAD only (405 with Allow otherwise); /healthz 200 "ok"; /readyz 200 once the
 * metrics say ready, 503 before; /metrics the registry in text format 0.0.4; other paths 404.
 * Request header fields over 8 KiB: 431 and the connection is closed. A connection idle for
 * 5 s is closed; at most 16 connections are served at once.
 *
 * Ownership: the listener borrows `loop` and `metrics` (both must outlive it) and owns its
 * socket, MHD daemon and timer; status_listener_stop releases them (NULL is fine).
 */
#ifndef AGENT_OBSERVE_STATUS_LISTENER_H
#define AGENT_OBSERVE_STATUS_LISTENER_H

#include "base/error.h"
#include "base/event_loop.h"
#include "observe/metrics.h"

#include <stdint.h>

#define STATUS_MAX_CONNECTIONS	16
#define STATUS_IDLE_TIMEOUT_SEC 5
#define STATUS_MAX_HEADER_BYTES 8192

struct status_listener;

/* Binds `addr` (IPv4 HOST:PORT or [IPV6]:PORT) and registers in `loop`. Returns 0, or -EINVAL
 * (bad address: AGENT_FAIL_CONFIG), or the errno of socket/bind/listen (AGENT_FAIL_UNAVAILABLE),
 * with `err` filled. */
int status_listener_start(struct status_listener **out, struct ev_loop *loop, const char *addr,
			  const struct metrics *metrics, struct agent_error *err);
void status_listener_stop(struct status_listener *l);

/* The bound port (the kernel's choice when the address said port 0). */
uint16_t status_listener_port(const struct status_listener *l);

#endif
