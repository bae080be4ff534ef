/* The one start and run pipeline of the secret-writing commands (docs/design.md §5 steps 1-8, §8).
 *
 * `run` and `watch` start the same way: process hardening, every signal taken over (a SIGTERM
 * before the loop runs waits in the signalfd), configuration, logging, the privilege-drop
 * plan (the [agent] user looked up once), the event loop; then the preflight before any
 * source is read (a failed start leaves env vars and files untouched), every secret read,
 * validated and written as one set with the [dir] sections, the drop, and the proof that every
 * source stays readable for rotation. They run the same loop: the supervisor (signals, the one
 * reaper, idle trim) and rotation. They differ only in what a rotation notifies: the
 * supervised child (`run`), or a pidfile/exec: hook (`watch`, no child).
 * `materialize` shares the first materialization alone.
 *
 * Every step returns 0 or a negative errno with `err` filled; the command returns it to main,
 * which reports it once and exits with its failure class's status.
 */
#ifndef AGENT_LIFECYCLE_H
#define AGENT_LIFECYCLE_H

#include "base/error.h"
#include "base/event_loop.h"
#include "config/config.h"
#include "observe/observer.h"
#include "proc/child_spawn.h"
#include "proc/privdrop.h"
#include "proc/signals.h"
#include "secrets/materialize.h"

#include <stdbool.h>

struct supervisor;
struct rotation;

struct lifecycle {
	bool has_child; /* run: a supervised child; watch: a pidfile or hook target */
	struct inherited_state inherited;
	struct config cfg;
	struct privdrop_plan plan;
	struct ev_loop loop;
	struct materializer m;
	bool have_materializer;
	int sigfd;
	struct child_spec spec;
	struct supervisor *sv;
	struct rotation *rot;
	struct observer obs; /* status listener, metrics, ready file, service-manager notify */
};

/* Records the inherited signal state and umask (before anything changes them) and sets the
 * configuration's defaults. Never fails; lifecycle_free undoes it. */
void lifecycle_init(struct lifecycle *lc, bool has_child);
void lifecycle_free(struct lifecycle *lc);

/* Hardening, signals taken over, the command line parsed (from argv[*idx]; *idx ends at the
 * first argument that is not an option). */
int lifecycle_parse(struct lifecycle *lc, int argc, char **argv, int *idx, struct agent_error *err);
/* The configuration made final (files read, ${VAR} expanded, users resolved). */
int lifecycle_finish_config(struct lifecycle *lc, struct agent_error *err);
/* Logging, privilege-drop plan, loop, preflight, first materialization, drop, sources
 * readable. */
int lifecycle_start(struct lifecycle *lc, struct agent_error *err);
/* The loop: the supervisor (with the child started from `child_argv` when has_child) and
 * rotation, until the child is gone or the watch is stopped. Returns the exit status (>= 0,
 * logged as agent_exit) or a negative errno. */
int lifecycle_run(struct lifecycle *lc, char **child_argv, struct agent_error *err);

/* Preflight, then the first application of every secret with the [dir] sections; `durable`
 * says whether targets are fsynced (struct materializer). On return *have_materializer says
 * whether `m` must be freed (also on failure). */
int lifecycle_first_materialization(struct config *cfg, struct ev_loop *loop,
				    struct materializer *m, bool durable, bool *have_materializer,
				    struct agent_error *err);

#endif
