/* The start the secret-writing commands share (design §5 steps 2-5, §8).
 *
 * `materialize`, `run` and `watch` all begin the same way once their configuration is final:
 * preflight before any source is read (a failed start leaves env vars and files untouched),
 * then the [dir] sections and every secret read, validated and written as one set. `run` and
 * `watch` then drop privileges and re-read their sources as the service user on rotation,
 * which startup_check_sources_readable() proves possible before the service starts.
 */
#ifndef AGENT_STARTUP_H
#define AGENT_STARTUP_H

#include "config/config.h"
#include "base/event_loop.h"
#include "secrets/materialize.h"
#include "proc/privdrop.h"

#include <stdbool.h>

/* Preflight, then the first application of every secret. On return *have_materializer says
 * whether `m` must be freed (also on failure). Returns an exit code; failures are logged. */
int startup_first_materialization(struct config *cfg, struct ev_loop *loop, struct materializer *m,
				  bool *have_materializer);

/* After the drop: every file and credential source must still be readable by the agent, or
 * rotation would fail later; this fails now, with the fix in the message. Returns 0 or 77. */
int startup_check_sources_readable(const struct config *cfg, const struct privdrop_plan *plan);

#endif
