/* Rotation (docs/design.md §10): watch the directory of every file:/cred: source with inotify (and
 * poll every poll_interval when set), debounce with a loop timer, re-apply the changed set
 * through the materializer, and notify once when any target changed. An invalid new version
 * keeps every old file, is logged, and nobody is notified.
 *
 * Debounce: every event restarts the timer, but a set never waits longer than ten debounce
 * periods after its first event; debounce 0 applies as soon as the inotify queue is drained.
 * Reading a set of files is not atomic, so after an application the queue is checked again:
 * a source that moved during the reads (kubelet swapping ..data between a key and its
 * certificate) is applied again before the one notification, which names every secret
 * changed. env: and stdin sources are never re-read. A source that is a bind-mount point
 * (subPath) is reported at startup: it never changes.
 *
 * Ownership: the rotation borrows `loop` and `m` (they must outlive it) and owns its watcher,
 * notifier and timer; rotation_stop releases them (NULL is fine).
 */
#ifndef AGENT_ROTATION_H
#define AGENT_ROTATION_H

#include "base/error.h"
#include "base/event_loop.h"
#include "config/config.h"
#include "secrets/materialize.h"

#include <sys/types.h>

struct supervisor;
struct rotation;

/* How a change is announced. */
struct rotation_notify {
	struct supervisor *sv;	    /* the reaper of hooks; in run also the child to signal */
	const char *notify_pidfile; /* watch: read at every notification */
};

/* Registers the watches in `loop`. *out is NULL when there is nothing to watch. Returns 0 or
 * a negative errno (logged, failure class SOFTWARE). */
int rotation_start(struct rotation **out, struct ev_loop *loop, struct materializer *m,
		   const struct rotation_notify *notify, struct agent_error *err);
void rotation_stop(struct rotation *r);

#endif
