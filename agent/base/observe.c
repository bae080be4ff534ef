#include "base/observe.h"

#include <stddef.h>

static const struct agent_observer *observer;

void observe_set(const struct agent_observer *obs)
{
	observer = obs;
}

void observe_rotation_begin(void)
{
	if (observer && observer->rotation_begin)
		observer->rotation_begin(observer->ctx);
}

void observe_rotation(const char *secret, enum observe_rotation outcome)
{
	if (observer && observer->rotation)
		observer->rotation(observer->ctx, secret, outcome);
}

void observe_rotation_end(void)
{
	if (observer && observer->rotation_end)
		observer->rotation_end(observer->ctx);
}

void observe_secret_written(const struct observe_write *w)
{
	if (observer && observer->secret_written)
		observer->secret_written(observer->ctx, w);
}

void observe_notification(const char *action, bool ok)
{
	if (observer && observer->notification)
		observer->notification(observer->ctx, action, ok);
}

void observe_child_restarted(pid_t pid)
{
	if (observer && observer->child_restarted)
		observer->child_restarted(observer->ctx, pid);
}

void observe_ready(void)
{
	if (observer && observer->ready)
		observer->ready(observer->ctx);
}

void observe_stopping(void)
{
	if (observer && observer->stopping)
		observer->stopping(observer->ctx);
}
