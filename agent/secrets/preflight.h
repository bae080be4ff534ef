/* Preflight checks (docs/design.md §5 step 2): required env vars, required directories, TCP
 * reachability. Every check runs even when an earlier one failed, and every failing item is
 * logged with the seed's wording:
 *   Required environment variable X is not set
 *   Model directory not found: PATH
 *   Cannot connect to Redis at H:P (timeout 5s)
 *   Cannot reach any Kafka broker in LIST
 * TCP connects are non-blocking, all concurrent, driven by the agent's epoll loop, retried
 * with a short backoff until the deadline.
 */
#ifndef AGENT_PREFLIGHT_H
#define AGENT_PREFLIGHT_H

#include "base/error.h"
#include "base/event_loop.h"
#include "config/config.h"

/* Returns 0 or a negative errno with `err` filled (every failing item already logged): failure
 * class CONFIG when a required env var is missing (an empty value counts as missing, like the
 * seed's `[ -z "$VAR" ]`) or a TCP address cannot be parsed, else UNAVAILABLE when anything
 * else failed. A wait_tcp or wait_any_tcp value may itself hold a comma/whitespace separated
 * list. */
int preflight_run(const struct config *cfg, struct ev_loop *loop, struct agent_error *err);

#endif
