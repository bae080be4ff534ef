/* Placeholder until rotation is built: nothing is watched. */
#include <stddef.h>

#include "rotation.h"

int rotation_start(struct rotation **out, struct ev_loop *loop, struct materializer *m,
		   const struct rotation_notify *notify)
{
	(void)loop;
	(void)m;
	(void)notify;
	*out = NULL;
	return 0;
}

void rotation_stop(struct rotation *r)
{
	(void)r;
}
