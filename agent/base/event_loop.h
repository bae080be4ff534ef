/* The agent's single event loop: one epoll instance dispatching to callbacks.
 *
 * Everything the agent waits for (signalfd, timerfds, inotify, non-blocking connects of the
 * preflight) is a descriptor registered here, so the agent is one thread and sleeps in exactly
 * one epoll_wait: no wakeups while idle.
 */
#ifndef AGENT_EVENT_LOOP_H
#define AGENT_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;
typedef void (*ev_callback)(struct ev_loop *loop, int fd, uint32_t events, void *ctx);

#define EV_MAX_WATCHES 512

struct ev_watch {
	int fd; /* -1 when the slot is free */
	ev_callback cb;
	void *ctx;
};

struct ev_loop {
	int epfd;
	bool stop;
	struct ev_watch watches[EV_MAX_WATCHES];
};

/* Returns 0 or a negative errno. */
int ev_init(struct ev_loop *loop);
void ev_close(struct ev_loop *loop);

/* Registers `fd` for `events` (EPOLLIN, EPOLLOUT...). The loop does not own `fd`. */
int ev_add(struct ev_loop *loop, int fd, uint32_t events, ev_callback cb, void *ctx);
int ev_modify(struct ev_loop *loop, int fd, uint32_t events);
/* Unregisters `fd`; safe to call from inside a callback (also for other fds). */
void ev_del(struct ev_loop *loop, int fd);

/* Waits up to timeout_ms (-1: forever) and dispatches ready callbacks once.
 * Returns the number of events dispatched, or a negative errno (EINTR is retried). */
int ev_run_once(struct ev_loop *loop, int timeout_ms);
/* Dispatches until ev_stop() is called. Returns 0 or a negative errno. */
int ev_run(struct ev_loop *loop);
void ev_stop(struct ev_loop *loop);

/* Monotonic clock in milliseconds, for deadlines. */
uint64_t ev_now_ms(void);

#endif
