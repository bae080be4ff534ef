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
/* Unregisters `fd`; safe to call from inside a callback (also for other fds). */
void ev_del(struct ev_loop *loop, int fd);
/* Unregisters and closes *fd (a descriptor the caller owns), then sets it to -1; nothing when
 * it is already -1. The one teardown for every module's descriptors. */
void ev_del_close(struct ev_loop *loop, int *fd);

/* Waits up to timeout_ms (-1: forever) and dispatches ready callbacks once.
 * Returns the number of events dispatched, or a negative errno (EINTR is retried). */
int ev_run_once(struct ev_loop *loop, int timeout_ms);
/* Dispatches until ev_stop() is called. Returns 0 or a negative errno. */
int ev_run(struct ev_loop *loop);
void ev_stop(struct ev_loop *loop);

/* Timers: one timerfd each, registered in the loop, so a module that waits (a debounce, a
 * grace period, a certificate's expiry) never carries its own timerfd code. A timer is armed
 * once (no periodic timers: nothing in the agent wakes up unless something is due). */
struct ev_timer;
typedef void (*ev_timer_cb)(struct ev_loop *loop, struct ev_timer *timer, void *ctx);

struct ev_timer {
	int fd; /* the timerfd; -1 before ev_timer_init and after ev_timer_close */
	struct ev_loop *loop;
	ev_timer_cb cb;
	void *ctx;
	bool armed;
};

/* Creates a disarmed timer on `clock` (CLOCK_MONOTONIC for delays, CLOCK_REALTIME for wall-clock
 * instants such as a certificate's notAfter) and registers it. Returns 0 or a negative errno. */
int ev_timer_init(struct ev_loop *loop, struct ev_timer *timer, int clock, ev_timer_cb cb,
		  void *ctx);
/* Fires once, `delay_ms` from now (0: at the next loop iteration). Re-arming replaces. */
int ev_timer_arm_ms(struct ev_timer *timer, uint64_t delay_ms);
/* Fires once at the absolute instant `at_sec` on the timer's clock (a CLOCK_REALTIME timer also
 * fires early when the wall clock is set, so the caller re-checks and re-arms). */
int ev_timer_arm_at(struct ev_timer *timer, int64_t at_sec);
void ev_timer_disarm(struct ev_timer *timer);
/* Unregisters and closes; safe on a timer that was never initialised with fd = -1. */
void ev_timer_close(struct ev_timer *timer);

/* Monotonic clock in milliseconds, for deadlines. */
uint64_t ev_now_ms(void);

#endif
