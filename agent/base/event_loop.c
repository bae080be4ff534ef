#include "base/event_loop.h"

#include <errno.h>
#include <sys/epoll.h>
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

int ev_modify(struct ev_loop *loop, int fd, uint32_t events)
{
	struct ev_watch *w = find(loop, fd);
	struct epoll_event ev = {.events = events};

	if (!w)
		return -ENOENT;
	ev.data.ptr = w;
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
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
