/* Signal state of the agent and of the processes it starts (docs/design.md §9, §13).
 *
 * The agent reads every catchable signal from a signalfd, so it blocks them all; signals it
 * inherited as ignored are reset to the default action, because an ignored signal is dropped
 * before it could reach the signalfd and so could never be forwarded. What the agent
 * inherited (mask, ignored set, umask) is recorded first and given back to every child just
 * before exec, with the core-dump limit the agent lowered for itself.
 */
#ifndef AGENT_SIGNALS_H
#define AGENT_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

struct inherited_state {
	sigset_t mask;	    /* the blocked set the agent was started with */
	sigset_t ignored;   /* signals whose disposition was SIG_IGN at start */
	mode_t umask;	    /* the umask before the agent set 077 */
	struct rlimit core; /* RLIMIT_CORE before the agent set its soft limit to 0 */
	bool recorded;
};

/* Records the current mask, ignored signals and core-dump limit. Call before anything changes
 * them. `umask_at_start`
 * is the umask the process had before agent_process_setup(). Never fails. */
void signals_record_inherited(struct inherited_state *st, mode_t umask_at_start);

/* Resets inherited SIG_IGN dispositions to SIG_DFL (SIGCHLD too, or zombies would vanish
 * without a status), blocks every signal and returns a CLOEXEC non-blocking signalfd that
 * reads them, or a negative errno. */
int signals_take_over(const struct inherited_state *st);

/* In a freshly forked child: ignored signals ignored again, the inherited mask, umask and
 * core-dump limit back.
 * Async-signal-safe. Returns 0 or a negative errno. */
int signals_restore_for_exec(const struct inherited_state *st);

/* "SIGTERM" for 15, "SIGRTMIN+3" for real-time signals, "SIG<n>" otherwise; `buf` holds at
 * least 16 bytes. */
const char *signals_name(int sig, char *buf, size_t bufsize);

#endif
