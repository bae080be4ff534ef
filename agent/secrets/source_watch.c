#include "secrets/source_watch.h"

#include "base/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

/* IN_CLOSE_WRITE and not IN_MODIFY: a writer in the middle of a write must not trigger a
 * re-read of half a file. IN_MASK_ADD: the same inode may also be watched as another
 * directory's parent, and each role must keep the events it needs. */
#define DIR_MASK                                                                                   \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB |        \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_MASK_ADD)
#define PARENT_MASK                                                                                \
	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |     \
	 IN_ONLYDIR | IN_MASK_ADD)

struct watched_dir {
	char *path;   /* absolute directory path */
	char *parent; /* its parent, or NULL for "/" */
	char *base;   /* its name inside parent */
	int wd;	      /* -1 while not watched */
	int parent_wd;
};

struct source_watch {
	struct ev_loop *loop;
	int ifd;
	struct ev_timer poll;
	struct ev_timer rearm;
	uint64_t poll_interval_ms;
	uint64_t rearm_interval_ms;
	struct watched_dir *dirs;
	size_t ndirs;
	int *secret_dir; /* per secret: index into dirs, or -1 */
	bool *dirty;
	bool *delivering; /* the marks passed to the callback */
	size_t n;
	bool any_dirty;
	source_watch_cb cb;
	void *ctx;
};

static void mark_dir(struct source_watch *sw, size_t d)
{
	for (size_t i = 0; i < sw->n; i++) {
		if (sw->secret_dir[i] == (int)d) {
			sw->dirty[i] = true;
			sw->any_dirty = true;
		}
	}
}

static void mark_all(struct source_watch *sw)
{
	for (size_t d = 0; d < sw->ndirs; d++)
		mark_dir(sw, d);
}

static void deliver(struct source_watch *sw, enum source_watch_reason reason)
{
	if (!sw->any_dirty)
		return;
	/* Cleared before the call: marks the callback collects are only the newer ones. */
	memcpy(sw->delivering, sw->dirty, sw->n * sizeof(sw->dirty[0]));
	memset(sw->dirty, 0, sw->n * sizeof(sw->dirty[0]));
	sw->any_dirty = false;
	sw->cb(sw->ctx, sw->delivering, sw->n, reason);
}

/* A watch descriptor names an inode, and several roles may share it: once that inode is gone
 * or moved, every role holding it is stale. */
static void drop_wd(struct source_watch *sw, int wd, bool remove)
{
	if (wd < 0)
		return;
	if (remove)
		inotify_rm_watch(sw->ifd, wd);
	for (size_t d = 0; d < sw->ndirs; d++) {
		if (sw->dirs[d].wd == wd)
			sw->dirs[d].wd = -1;
		if (sw->dirs[d].parent_wd == wd)
			sw->dirs[d].parent_wd = -1;
	}
}

/* (Re)attaches a watch to the inode now at `path`. A different wd than before means the
 * directory was replaced: the old one is dropped. Returns true when the path is watched. */
static bool attach(struct source_watch *sw, const char *path, uint32_t mask, int *wd_slot)
{
	int wd = inotify_add_watch(sw->ifd, path, mask);
	int old = *wd_slot;

	if (wd < 0)
		return false;
	if (old >= 0 && old != wd)
		drop_wd(sw, old, true);
	*wd_slot = wd;
	return true;
}

static void schedule_rearm(struct source_watch *sw)
{
	if (!sw->rearm.armed)
		ev_timer_arm_ms(&sw->rearm, sw->rearm_interval_ms);
}

/* Tries every missing watch. A directory watched again after a gap may have changed
 * meanwhile, so its secrets are marked. */
static void rearm_missing(struct source_watch *sw)
{
	bool missing = false;

	for (size_t d = 0; d < sw->ndirs; d++) {
		struct watched_dir *w = &sw->dirs[d];

		if (w->parent && w->parent_wd < 0 &&
		    !attach(sw, w->parent, PARENT_MASK, &w->parent_wd))
			missing = true;
		if (w->wd < 0) {
			if (attach(sw, w->path, DIR_MASK, &w->wd)) {
				log_info("watch_rearmed", NULL, "watching %s again", w->path);
				mark_dir(sw, d);
			} else {
				missing = true;
			}
		}
	}
	if (missing)
		schedule_rearm(sw);
}

static void handle_event(struct source_watch *sw, const struct inotify_event *ev)
{
	for (size_t d = 0; d < sw->ndirs; d++) {
		struct watched_dir *w = &sw->dirs[d];

		if (w->wd == ev->wd) {
			mark_dir(sw, d);
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
				log_warn("watch_lost", NULL,
					 "%s was removed or moved; re-arming when it reappears",
					 w->path);
				/* A moved directory keeps its watch: remove it, it no longer
				 * is the path we read. */
				drop_wd(sw, ev->wd, !(ev->mask & IN_IGNORED));
			}
		}
		if (w->parent_wd == ev->wd) {
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
				drop_wd(sw, ev->wd, !(ev->mask & IN_IGNORED));
			} else if (ev->len && strcmp(ev->name, w->base) == 0) {
				/* The directory itself appeared, vanished or was replaced. */
				mark_dir(sw, d);
				attach(sw, w->path, DIR_MASK, &w->wd);
			}
		}
	}
}

/* Reads every queued event without blocking and records the marks. Returns the reason to
 * report: an overflow outranks ordinary events. */
static enum source_watch_reason drain(struct source_watch *sw)
{
	enum source_watch_reason reason = SOURCE_WATCH_EVENT;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t len = read(sw->ifd, buf, sizeof(buf));

		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			break;
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_Q_OVERFLOW) {
				/* Events were lost: everything may have changed, and any
				 * directory may have been replaced unseen. */
				reason = SOURCE_WATCH_OVERFLOW;
				log_warn("watch_overflow", NULL,
					 "inotify queue overflowed; rescanning every source");
				mark_all(sw);
				for (size_t d = 0; d < sw->ndirs; d++)
					attach(sw, sw->dirs[d].path, DIR_MASK, &sw->dirs[d].wd);
			} else {
				handle_event(sw, ev);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	rearm_missing(sw);
	return reason;
}

static void on_inotify(struct ev_loop *loop, int fd, uint32_t events, void *ctx)
{
	struct source_watch *sw = ctx;

	(void)loop;
	(void)fd;
	(void)events;
	deliver(sw, drain(sw));
}

bool source_watch_collect(struct source_watch *sw, bool *dirty)
{
	bool any = false;

	drain(sw);
	for (size_t i = 0; i < sw->n; i++) {
		if (sw->dirty[i]) {
			dirty[i] = true;
			any = true;
		}
	}
	memset(sw->dirty, 0, sw->n * sizeof(sw->dirty[0]));
	sw->any_dirty = false;
	return any;
}

static void on_poll(struct ev_loop *loop, struct ev_timer *timer, void *ctx)
{
	struct source_watch *sw = ctx;

	(void)loop;
	/* Timers fire once: the next period starts now. */
	ev_timer_arm_ms(timer, sw->poll_interval_ms);
	mark_all(sw);
	rearm_missing(sw);
	deliver(sw, SOURCE_WATCH_POLL);
}

static void on_rearm(struct ev_loop *loop, struct ev_timer *timer, void *ctx)
{
	struct source_watch *sw = ctx;

	(void)loop;
	(void)timer;
	rearm_missing(sw);
	deliver(sw, SOURCE_WATCH_REARM);
}

/* Splits absolute `file` into its directory, that directory's parent and name. */
static int split_dir(const char *file, struct watched_dir *w)
{
	char abs[PATH_MAX];
	char *slash;
	int ret = -ENOMEM;

	if (file[0] == '/') {
		if (strlen(file) >= sizeof(abs))
			return -ENAMETOOLONG;
		strcpy(abs, file);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, file) >= sizeof(abs))
			return -ENAMETOOLONG;
	}
	slash = strrchr(abs, '/');
	if (slash == abs)
		slash[1] = '\0';
	else
		*slash = '\0';
	w->path = strdup(abs);
	if (!w->path)
		goto out;
	if (strcmp(abs, "/") != 0) {
		slash = strrchr(abs, '/');
		w->base = strdup(slash + 1);
		if (slash == abs)
			slash[1] = '\0';
		else
			*slash = '\0';
		w->parent = strdup(abs);
		if (!w->base || !w->parent)
			goto out;
	}
	ret = 0;
out:
	return ret;
}

static int find_or_add_dir(struct source_watch *sw, const char *file, int *index)
{
	struct watched_dir w = {.wd = -1, .parent_wd = -1};
	int ret = split_dir(file, &w);

	if (ret < 0)
		goto out;
	for (size_t d = 0; d < sw->ndirs; d++) {
		if (strcmp(sw->dirs[d].path, w.path) == 0) {
			*index = (int)d;
			goto out;
		}
	}
	*index = (int)sw->ndirs;
	sw->dirs[sw->ndirs++] = w;
	return 0;
out:
	free(w.path);
	free(w.parent);
	free(w.base);
	return ret;
}

int source_watch_create(struct source_watch **out, struct ev_loop *loop, const char *const *paths,
			size_t n, const struct source_watch_opts *opts, source_watch_cb cb,
			void *ctx)
{
	struct source_watch *sw = calloc(1, sizeof(*sw));
	int ret = -ENOMEM;

	*out = NULL;
	if (!sw)
		return -ENOMEM;
	sw->loop = loop;
	sw->ifd = sw->poll.fd = sw->rearm.fd = -1;
	sw->n = n;
	sw->cb = cb;
	sw->ctx = ctx;
	sw->rearm_interval_ms = opts && opts->rearm_interval_ms ? opts->rearm_interval_ms : 500;
	sw->dirs = calloc(n ? n : 1, sizeof(*sw->dirs));
	sw->secret_dir = calloc(n ? n : 1, sizeof(*sw->secret_dir));
	sw->dirty = calloc(n ? n : 1, sizeof(*sw->dirty));
	sw->delivering = calloc(n ? n : 1, sizeof(*sw->delivering));
	if (!sw->dirs || !sw->secret_dir || !sw->dirty || !sw->delivering)
		goto out;
	for (size_t i = 0; i < n; i++) {
		sw->secret_dir[i] = -1;
		if (paths[i] && (ret = find_or_add_dir(sw, paths[i], &sw->secret_dir[i])) < 0)
			goto out;
	}

	sw->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sw->ifd < 0) {
		ret = -errno;
		goto out;
	}
	if ((ret = ev_add(loop, sw->ifd, EPOLLIN, on_inotify, sw)) < 0)
		goto out;
	if ((ret = ev_timer_init(loop, &sw->rearm, CLOCK_MONOTONIC, on_rearm, sw)) < 0)
		goto out;
	if (opts && opts->poll_interval_ms > 0) {
		sw->poll_interval_ms = opts->poll_interval_ms;
		if ((ret = ev_timer_init(loop, &sw->poll, CLOCK_MONOTONIC, on_poll, sw)) < 0 ||
		    (ret = ev_timer_arm_ms(&sw->poll, sw->poll_interval_ms)) < 0)
			goto out;
	}
	for (size_t d = 0; d < sw->ndirs; d++) {
		struct watched_dir *w = &sw->dirs[d];

		if (w->parent)
			attach(sw, w->parent, PARENT_MASK, &w->parent_wd);
		if (!attach(sw, w->path, DIR_MASK, &w->wd))
			log_warn("watch_missing", NULL, "cannot watch %s yet (%s); retrying",
				 w->path, strerror(errno));
	}
	rearm_missing(sw);
	/* Marks from the initial arming describe no change: the caller just applied. */
	memset(sw->dirty, 0, sw->n * sizeof(sw->dirty[0]));
	sw->any_dirty = false;
	*out = sw;
	return 0;
out:
	source_watch_destroy(sw);
	return ret;
}

void source_watch_destroy(struct source_watch *sw)
{
	if (!sw)
		return;
	ev_del_close(sw->loop, &sw->ifd);
	ev_timer_close(&sw->poll);
	ev_timer_close(&sw->rearm);
	for (size_t d = 0; d < sw->ndirs; d++) {
		free(sw->dirs[d].path);
		free(sw->dirs[d].parent);
		free(sw->dirs[d].base);
	}
	free(sw->dirs);
	free(sw->secret_dir);
	free(sw->dirty);
	free(sw->delivering);
	free(sw);
}

size_t source_watch_dir_count(const struct source_watch *sw)
{
	return sw ? sw->ndirs : 0;
}

size_t source_watch_armed_count(const struct source_watch *sw)
{
	size_t armed = 0;

	for (size_t d = 0; sw && d < sw->ndirs; d++)
		armed += sw->dirs[d].wd >= 0;
	return armed;
}
