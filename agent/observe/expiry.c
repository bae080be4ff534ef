#include "observe/expiry.h"

#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum cert_stage { STAGE_VALID, STAGE_EXPIRING, STAGE_EXPIRED };

struct watched_cert {
	char *secret;
	struct observed_cert cert;
	enum cert_stage reported; /* the last stage logged */
};

struct expiry_watch {
	struct ev_loop *loop;
	struct metrics *metrics;
	int64_t warn_seconds;
	struct ev_timer timer;
	struct watched_cert *certs;
	size_t ncerts;
	int64_t next; /* -1: disarmed */
};

static int64_t now_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static enum cert_stage stage_at(const struct expiry_watch *w, const struct watched_cert *c,
				int64_t now)
{
	if (now >= c->cert.not_after)
		return STAGE_EXPIRED;
	if (now >= c->cert.not_after - w->warn_seconds)
		return STAGE_EXPIRING;
	return STAGE_VALID;
}

static void format_utc(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
}

static void report(const struct watched_cert *c, enum cert_stage stage, int64_t now)
{
	char index[16], not_after[32];
	const char *fields[] = {"index",     index,	"subject", c->cert.subject,
				"not_after", not_after, NULL};

	snprintf(index, sizeof(index), "%u", c->cert.index);
	format_utc(c->cert.not_after, not_after, sizeof(not_after));
	if (stage == STAGE_EXPIRED)
		log_event(LOG_ERROR, "certificate_expired", c->secret, fields,
			  "certificate %u (%s) expired at %s", c->cert.index, c->cert.subject,
			  not_after);
	else
		log_event(LOG_WARN, "certificate_expiring", c->secret, fields,
			  "certificate %u (%s) expires at %s, in %lld days", c->cert.index,
			  c->cert.subject, not_after,
			  (long long)((c->cert.not_after - now) / 86400));
}

/* Logs every certificate whose stage moved forward, updates the gauges, and arms the timer
 * at the earliest instant still ahead. */
static void check(struct expiry_watch *w)
{
	int64_t now = now_realtime(), next = -1;
	unsigned expiring = 0, expired = 0;

	for (size_t i = 0; i < w->ncerts; i++) {
		struct watched_cert *c = &w->certs[i];
		enum cert_stage stage = stage_at(w, c, now);
		int64_t at;

		if (stage > c->reported)
			report(c, stage, now);
		/* A wall clock set back makes a certificate valid again: it is reported anew
		 * when it re-enters its window. */
		c->reported = stage;
		expiring += stage == STAGE_EXPIRING;
		expired += stage == STAGE_EXPIRED;
		at = stage == STAGE_VALID      ? c->cert.not_after - w->warn_seconds
		     : stage == STAGE_EXPIRING ? c->cert.not_after
					       : -1;
		if (at >= 0 && (next < 0 || at < next))
			next = at;
	}
	metrics_set_certificates_expiring(w->metrics, expiring, expired);
	w->next = next;
	if (next >= 0)
		(void)ev_timer_arm_at(&w->timer, next);
	else if (w->timer.armed)
		ev_timer_disarm(&w->timer);
}

static void on_timer(struct ev_loop *loop, struct ev_timer *timer, void *ctx)
{
	(void)loop;
	(void)timer;
	check(ctx);
}

int expiry_watch_new(struct expiry_watch **out, struct ev_loop *loop, struct metrics *metrics,
		     int warn_days)
{
	struct expiry_watch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->metrics = metrics;
	w->warn_seconds = (int64_t)(warn_days > 0 ? warn_days : 30) * 86400;
	w->next = -1;
	r = ev_timer_init(loop, &w->timer, CLOCK_REALTIME, on_timer, w);
	if (r < 0) {
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

void expiry_watch_free(struct expiry_watch *w)
{
	if (!w)
		return;
	ev_timer_close(&w->timer);
	for (size_t i = 0; i < w->ncerts; i++)
		free(w->certs[i].secret);
	free(w->certs);
	free(w);
}

/* The stage already reported for the same certificate before a rewrite, so rewriting an
 * unchanged expiring certificate does not log it again. */
static enum cert_stage previous_stage(const struct expiry_watch *w, const char *secret,
				      const struct observed_cert *cert)
{
	for (size_t i = 0; i < w->ncerts; i++) {
		const struct watched_cert *c = &w->certs[i];
		if (strcmp(c->secret, secret) == 0 && c->cert.not_after == cert->not_after &&
		    strcmp(c->cert.subject, cert->subject) == 0)
			return c->reported;
	}
	return STAGE_VALID;
}

int expiry_watch_set(struct expiry_watch *w, const char *secret, const struct observed_cert *certs,
		     size_t ncerts)
{
	struct watched_cert *next;
	size_t n = 0, kept = 0;

	for (size_t i = 0; i < w->ncerts; i++)
		kept += strcmp(w->certs[i].secret, secret) != 0;
	next = calloc(kept + ncerts + 1, sizeof(*next));
	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < ncerts; i++) {
		next[n].secret = strdup(secret);
		if (!next[n].secret)
			goto nomem;
		next[n].cert = certs[i];
		next[n].reported = previous_stage(w, secret, &certs[i]);
		n++;
	}
	for (size_t i = 0; i < w->ncerts; i++) {
		if (strcmp(w->certs[i].secret, secret) == 0)
			free(w->certs[i].secret);
		else
			next[n++] = w->certs[i];
	}
	free(w->certs);
	w->certs = next;
	w->ncerts = n;
	check(w);
	return 0;
nomem:
	for (size_t i = 0; i < n; i++)
		free(next[i].secret);
	free(next);
	return -ENOMEM;
}

int64_t expiry_watch_next(const struct expiry_watch *w)
{
	return w ? w->next : -1;
}
