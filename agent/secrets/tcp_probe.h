/* TCP reachability probes for the preflight (docs/design.md §5 step 2, §13 "Lists").
 *
 * Addresses are written host:port, [v6addr]:port, or with a Kafka listener scheme in front
 * (PLAINTEXT://, SSL://, SASL_PLAINTEXT://, SASL_SSL://; any NAME:// is accepted because the
 * bootstrap list is copied from broker settings). Host names are resolved with getaddrinfo and
 * every resolved address is tried. Connects are non-blocking and driven by the agent's event
 * loop: all checks run at once, and an endpoint whose attempts all failed is retried after a
 * short backoff (100 ms doubling to 500 ms) until the common deadline.
 *
 * Resolution itself is getaddrinfo, which blocks: a numeric address or /etc/hosts entry costs
 * nothing, a dead DNS server can delay a round (there is no thread to hide it in).
 */
#ifndef AGENT_TCP_PROBE_H
#define AGENT_TCP_PROBE_H

#include "base/event_loop.h"
#include "secret_fs/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tcp_address {
	char host[256]; /* without brackets */
	char port[8];	/* decimal, 1..65535 */
};

/* Parses one address as written above. Returns 0 or -EINVAL with a sentence naming `spec`. */
int tcp_address_parse(const char *spec, struct tcp_address *out, struct sfs_error *err);

/* Resolved addresses of one endpoint tried at most per round. */
#define TCP_MAX_ATTEMPTS 16

struct tcp_attempt {
	int fd; /* -1 when idle */
	struct tcp_endpoint *ep;
	char addr_text[64]; /* numeric "127.0.0.1:6379" or "[::1]:6379" */
};

/* One address to reach. The caller sets `spec` and `addr`; tcp_probe_run fills the rest. */
struct tcp_endpoint {
	const char *spec; /* as configured, for messages; not owned */
	struct tcp_address addr;

	bool answered;
	char reason[320]; /* why the last attempt failed ("Connection refused"), or "" */
	char tried[256];  /* every numeric address tried, space separated (truncated) */

	/* private to tcp_probe.c */
	struct tcp_check *check;
	struct tcp_attempt attempts[TCP_MAX_ATTEMPTS];
	unsigned pending;
	uint64_t next_try_ms;
	uint64_t backoff_ms;
};

/* Satisfied when any of its endpoints answers: wait_tcp makes one check per address,
 * wait_any_tcp one check for the whole list. */
struct tcp_check {
	struct tcp_endpoint *endpoints;
	size_t n;
	bool ok;
};

/* Probes every check concurrently until each is satisfied or `timeout_ms` has passed. Every
 * socket is closed on return. Returns 0 when all checks are satisfied, -ETIMEDOUT when some are
 * not (see each check's `ok` and its endpoints' `reason`/`tried`), or another negative errno
 * when the loop itself failed. */
int tcp_probe_run(struct ev_loop *loop, struct tcp_check *checks, size_t n, uint64_t timeout_ms);

/* Formats a duration the way the seed's messages do: "5s", "500ms", "1500ms". */
void tcp_format_timeout(uint64_t ms, char *buf, size_t size);

#endif
