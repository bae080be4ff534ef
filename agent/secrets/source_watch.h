/* Watching secret sources for change (docs/design.md §10): inotify on the DIRECTORY of every
 * source, never on the file, plus an optional poll timer.
 *
 * Why directories: Kubernetes' AtomicWriter swaps a `..data` symlink, editors and most tools
 * rename over the file; a watch on the file's inode would see neither. Every event in a
 * directory marks every secret sourced from it as possibly changed; the caller compares
 * content hashes, so spurious marks are cheap.
 *
 * A watched directory that is deleted, moved away or replaced is re-armed: its parent is
 * watched too, so its re-creation is noticed at once; a timer retries while any watch is
 * missing (the parent may be gone as well). An overflowed inotify queue (IN_Q_OVERFLOW)
 * marks everything. With poll_interval_ms > 0 every source is also marked on that period,
 * for filesystems inotify cannot see (NFS, FUSE, CSI drivers, changes through another mount).
 *
 * Ownership: the watcher owns its inotify and timer descriptors and registers them in the
 * caller's event loop; source_watch_destroy unregisters and closes them.
 */
#ifndef AGENT_SOURCE_WATCH_H
#define AGENT_SOURCE_WATCH_H

#include "base/event_loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct source_watch;

enum source_watch_reason {
	SOURCE_WATCH_EVENT,    /* inotify events were drained */
	SOURCE_WATCH_OVERFLOW, /* the kernel dropped events: everything is marked */
	SOURCE_WATCH_REARM,    /* a lost directory watch was re-established */
	SOURCE_WATCH_POLL,     /* the poll period elapsed */
};

/* Called from the loop with the secrets that may have changed (dirty[i] for i < n; at least
 * one is set). The array is only valid during the call. */
typedef void (*source_watch_cb)(void *ctx, const bool *dirty, size_t n,
				enum source_watch_reason reason);

struct source_watch_opts {
	uint64_t poll_interval_ms;  /* 0: inotify only */
	uint64_t rearm_interval_ms; /* retry period for lost watches; 0: 500 ms */
};

/* paths[i] is the absolute path of secret i's source file, or NULL when secret i is not
 * watched (env: and stdin sources). Returns 0, -ENOMEM, or the errno of inotify_init1 /
 * ev_timer_init / ev_add. A directory that cannot be watched yet (missing) is not an error:
 * it is retried. */
int source_watch_create(struct source_watch **out, struct ev_loop *loop, const char *const *paths,
			size_t n, const struct source_watch_opts *opts, source_watch_cb cb,
			void *ctx);
void source_watch_destroy(struct source_watch *sw);

/* Reads the events already queued, without waiting and without calling the callback, and ORs
 * their marks into dirty[] (n entries). Returns true when any secret was marked. Lets the
 * caller see whether a source changed again while it was reading a set of them. */
bool source_watch_collect(struct source_watch *sw, bool *dirty);

/* Number of distinct directories watched, and how many of them have a live watch now. */
size_t source_watch_dir_count(const struct source_watch *sw);
size_t source_watch_armed_count(const struct source_watch *sw);

#endif
