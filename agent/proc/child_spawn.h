/* Starting the service child (docs/design.md §9, §13 "Child inheritance").
 *
 * vfork (the agent is suspended until the child has exec'd; the child allocates nothing and
 * sees an environment built beforehand), then in the child: setsid (own session, no
 * controlling terminal), systemd socket activation fds passed on with LISTEN_PID set to the
 * child (or foreign LISTEN_* removed), every other fd above 2 closed on exec, HOME of the
 * service user, capabilities the agent kept cleared and checked, inherited signal mask /
 * ignored signals / umask restored, exec.
 * Why exec failed travels back over a CLOEXEC pipe, so the parent knows before it returns.
 */
#ifndef AGENT_CHILD_SPAWN_H
#define AGENT_CHILD_SPAWN_H

#include "base/error.h"
#include "proc/privdrop.h"
#include "proc/signals.h"

#include <stdbool.h>
#include <sys/types.h>

struct child_spec {
	char **argv; /* NULL-terminated; argv[0] is looked up in PATH */
	const struct inherited_state *inherited;
	const struct privdrop_plan *plan; /* the drop already applied to the agent */
	int listen_fds;			  /* > 0: fds 3.. are passed on (socket activation) */
	bool strip_listen_env;		  /* LISTEN_* were addressed to another process */
};

/* Where the child stopped when it could not exec. */
enum child_failure { CHILD_OK, CHILD_FAILED_SETUP, CHILD_FAILED_PRIVDROP, CHILD_FAILED_EXEC };

struct child_result {
	pid_t pid;		   /* > 0 whenever fork succeeded: the caller reaps it */
	enum child_failure failed; /* CHILD_OK: exec succeeded */
	int error;		   /* errno of the failing step */
	int exit_code;		   /* what the failed child exits with: 126, 127 or 77 */
};

/* Starts the child and waits until it has exec'd or failed. Returns 0 (see `out`, including
 * exec failures) or a negative errno when no child could be forked. */
int child_spawn(const struct child_spec *spec, struct child_result *out, struct agent_error *err);

/* Reads LISTEN_PID/LISTEN_FDS: sets spec->listen_fds when they are addressed to this process
 * (and marks those fds close-on-exec in the agent itself), else strip_listen_env when any
 * LISTEN_* variable is present. */
void child_spec_socket_activation(struct child_spec *spec);

#endif
