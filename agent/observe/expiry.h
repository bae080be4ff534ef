/* Expiry watch: every written certificate is looked at again at the instant it enters its
 * warning window (notAfter - warn_days) and at its notAfter, and logs certificate_expiring
 * (warn) or certificate_expired (error) then.
 *
 * One CLOCK_REALTIME timer in the loop is armed at the earliest such instant among all
 * certificates, so nothing polls: between two instants the agent does not wake up. When the
 * wall clock is set the timer fires early and every certificate is re-checked, so a jump
 * forward reports what it skipped and a jump back re-arms. A certificate already inside its
 * window (or expired) when it is written is reported at once.
 *
 * Ownership: the watch borrows `loop` and `metrics` and owns its timer and its copy of the
 * certificates (subjects, dates: nothing secret).
 */
#ifndef AGENT_OBSERVE_EXPIRY_H
#define AGENT_OBSERVE_EXPIRY_H

#include "base/event_loop.h"
#include "observe/metrics.h"

#include <stddef.h>
#include <stdint.h>

struct expiry_watch;

/* warn_days <= 0 means 30. Returns 0 or a negative errno. */
int expiry_watch_new(struct expiry_watch **out, struct ev_loop *loop, struct metrics *metrics,
		     int warn_days);
void expiry_watch_free(struct expiry_watch *w);

/* Replaces the certificates of `secret` (ncerts 0: it has none) and re-arms the timer.
 * Returns 0 or -ENOMEM, or the errno of the timer. */
int expiry_watch_set(struct expiry_watch *w, const char *secret, const struct observed_cert *certs,
		     size_t ncerts);

/* The instant the timer is armed for (seconds since the epoch), or -1 when disarmed. */
int64_t expiry_watch_next(const struct expiry_watch *w);

#endif
