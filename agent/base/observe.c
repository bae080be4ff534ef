#include "base/observe.h"

#include <stddef.h>

static const struct agent_observer *observer;

void observe_set(const struct agent_observer *obs)
{
	observer = obs;
}

void observe_rotation(enum observe_rotation outcome, const char *secrets)
{
	if (observer && observer->rotation)
		observer->rotation(observer->ctx, outcome, secrets);
}

void observe_secret_written(const char *secret, bool changed)
{
	if (observer && observer->secret_written)
		observer->secret_written(observer->ctx, secret, changed);
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
