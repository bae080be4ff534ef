#include "base/event_loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

int ev_init(struct ev_loop *loop)
{
	loop->stop = false;
	for (int i = 0; i < EV_MAX_WATCHES; i++)
		loop->watches[i].fd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epfd < 0 ? -errno : 0;
}

void ev_close(struct ev_loop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}

static struct ev_watch *find(struct ev_loop *loop, int fd)
{
	for (int i = 0; i < EV_MAX_WATCHES; i++)
		if (loop->watches[i].fd == fd)
			return &loop->watches[i];
	return NULL;
}

int ev_add(struct ev_loop *loop, int fd, uint32_t events, ev_callback cb, void *ctx)
{
	struct ev_watch *w = find(loop, -1);
	struct epoll_event ev = {.events = events};

	if (!w)
		return -ENOSPC;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	w->fd = fd;
	w->cb = cb;
	w->ctx = ctx;
	return 0;
}

void ev_del(struct ev_loop *loop, int fd)
{
	struct ev_watch *w = find(loop, fd);

	if (!w)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	w->fd = -1;
	w->cb = NULL;
	w->ctx = NULL;
}

void ev_del_close(struct ev_loop *loop, int *fd)
{
	if (*fd < 0)
		return;
	ev_del(loop, *fd);
	close(*fd);
	*fd = -1;
}

int ev_run_once(struct ev_loop *loop, int timeout_ms)
{
	struct epoll_event events[32];
	int n;

	do
		n = epoll_wait(loop->epfd, events, 32, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		struct ev_watch *w = events[i].data.ptr;
		/* A callback earlier in this batch may have removed this watch. */
		if (w->fd < 0 || !w->cb)
			continue;
		w->cb(loop, w->fd, events[i].events, w->ctx);
	}
	return n;
}

int ev_run(struct ev_loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		int r = ev_run_once(loop, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

void ev_stop(struct ev_loop *loop)
{
	loop->stop = true;
}

uint64_t ev_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void timer_ready(struct ev_loop *loop, int fd, uint32_t events, void *ctx)
{
	struct ev_timer *timer = ctx;
	uint64_t expirations;

	(void)events;
	/* ECANCELED: the wall clock was set; the callback re-checks its instant either way. */
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != ECANCELED)
		return;
	timer->armed = false;
	timer->cb(loop, timer, timer->ctx);
}

int ev_timer_init(struct ev_loop *loop, struct ev_timer *timer, int clock, ev_timer_cb cb,
		  void *ctx)
{
	int fd = timerfd_create(clock, TFD_NONBLOCK | TFD_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	timer->fd = fd;
	timer->loop = loop;
	timer->cb = cb;
	timer->ctx = ctx;
	timer->armed = false;
	r = ev_add(loop, fd, EPOLLIN, timer_ready, timer);
	if (r < 0) {
		close(fd);
		timer->fd = -1;
	}
	return r;
}

static int timer_set(struct ev_timer *timer, int flags, const struct timespec *value)
{
	struct itimerspec its = {.it_value = *value};

	if (timerfd_settime(timer->fd, flags, &its, NULL) < 0)
		return -errno;
	timer->armed = value->tv_sec != 0 || value->tv_nsec != 0;
	return 0;
}

int ev_timer_arm_ms(struct ev_timer *timer, uint64_t delay_ms)
{
	/* A zero it_value would disarm: the shortest delay stands for "now". */
	struct timespec ts = {.tv_sec = (time_t)(delay_ms / 1000),
			      .tv_nsec = (long)(delay_ms % 1000) * 1000000L};

	if (delay_ms == 0)
		ts.tv_nsec = 1;
	return timer_set(timer, 0, &ts);
}

int ev_timer_arm_at(struct ev_timer *timer, int64_t at_sec)
{
	struct timespec ts = {.tv_sec = at_sec > 0 ? (time_t)at_sec : 0,
			      .tv_nsec = at_sec > 0 ? 0 : 1};

	return timer_set(timer, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &ts);
}

void ev_timer_disarm(struct ev_timer *timer)
{
	static const struct timespec zero;

	if (timer->fd >= 0)
		(void)timer_set(timer, 0, &zero);
}

void ev_timer_close(struct ev_timer *timer)
{
	if (timer->fd < 0)
		return;
	ev_del_close(timer->loop, &timer->fd);
	timer->armed = false;
}
