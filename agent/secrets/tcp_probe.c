#include "secrets/tcp_probe.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <nss.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKOFF_FIRST_MS 100u
#define BACKOFF_MAX_MS	 500u

static bool is_host_char(char c, bool bracketed)
{
	if (isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_')
		return true;
	/* Inside brackets: an IPv6 literal, possibly with a zone ("fe80::1%eth0"). */
	return bracketed && (c == ':' || c == '%');
}

static int parse_port(const char *s, const char *spec, char out[8], struct sfs_error *err)
{
	unsigned long v = 0;

	if (*s == '\0')
		return sfs_error_set(err, -EINVAL, "TCP address '%s' has no port", spec);
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p) || v > 65535)
			return sfs_error_set(err, -EINVAL, "TCP address '%s' has an invalid port",
					     spec);
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return sfs_error_set(err, -EINVAL, "TCP address '%s' has a port outside 1-65535",
				     spec);
	snprintf(out, 8, "%lu", v);
	return 0;
}

int tcp_address_parse(const char *spec, struct tcp_address *out, struct sfs_error *err)
{
	const char *s = spec, *scheme_end = strstr(spec, "://");
	const char *host, *host_end, *port;
	bool bracketed = false;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	/* Kafka listener names (PLAINTEXT://, SASL_SSL://, custom ones) only say how to talk to
	 * the broker, not where it is: reachability ignores them. */
	if (scheme_end) {
		if (scheme_end == spec)
			return sfs_error_set(err, -EINVAL, "TCP address '%s' has an empty scheme",
					     spec);
		for (const char *p = spec; p < scheme_end; p++)
			if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '+' &&
			    *p != '.')
				return sfs_error_set(
				    err, -EINVAL, "TCP address '%s' has an invalid scheme", spec);
		s = scheme_end + 3;
	}
	if (*s == '[') {
		bracketed = true;
		host = s + 1;
		host_end = strchr(host, ']');
		if (!host_end || host_end[1] != ':')
			return sfs_error_set(err, -EINVAL,
					     "TCP address '%s' must be written [IPv6]:PORT", spec);
		port = host_end + 2;
	} else {
		host = s;
		host_end = strrchr(s, ':');
		if (!host_end)
			return sfs_error_set(err, -EINVAL, "TCP address '%s' has no port", spec);
		if (memchr(s, ':', (size_t)(host_end - s)))
			return sfs_error_set(err, -EINVAL,
					     "TCP address '%s': an IPv6 address needs brackets, "
					     "e.g. [::1]:9092",
					     spec);
		port = host_end + 1;
	}
	hlen = (size_t)(host_end - host);
	if (hlen == 0)
		return sfs_error_set(err, -EINVAL, "TCP address '%s' has no host", spec);
	if (hlen >= sizeof(out->host))
		return sfs_error_set(err, -EINVAL, "TCP address '%s' has a host name too long",
				     spec);
	for (const char *p = host; p < host_end; p++)
		if (!is_host_char(*p, bracketed))
			return sfs_error_set(
			    err, -EINVAL, "TCP address '%s' has an invalid character in its host",
			    spec);
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	return parse_port(port, spec, out->port, err);
}

void tcp_format_timeout(uint64_t ms, char *buf, size_t size)
{
	if (ms % 1000 == 0)
		snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, size, "%llums", (unsigned long long)ms);
}

static void note_tried(struct tcp_endpoint *ep, const char *addr_text)
{
	size_t used = strlen(ep->tried), n = strlen(addr_text);
	const char *p = ep->tried;

	/* Each round tries the same addresses again: name each once. */
	while ((p = strstr(p, addr_text)) != NULL) {
		if ((p == ep->tried || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return;
		p += n;
	}
	if (used + n + 2 > sizeof(ep->tried))
		return;
	if (used)
		ep->tried[used++] = ' ';
	memcpy(ep->tried + used, addr_text, n + 1);
}

static void format_sockaddr(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN + 16], port[8];

	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, size, "?");
		return;
	}
	/* A cut address would name the wrong peer in a message: say "?" instead. */
	int n = snprintf(buf, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
	if (n < 0 || (size_t)n >= size)
		snprintf(buf, size, "?");
}

static void close_attempt(struct ev_loop *loop, struct tcp_attempt *a)
{
	if (a->fd < 0)
		return;
	ev_del(loop, a->fd);
	close(a->fd);
	a->fd = -1;
	a->ep->pending--;
}

/* The check is satisfied: the other attempts of every endpoint in it are no longer needed. */
static void check_satisfied(struct ev_loop *loop, struct tcp_endpoint *winner)
{
	struct tcp_check *c = winner->check;

	winner->answered = true;
	winner->reason[0] = '\0';
	c->ok = true;
	for (size_t i = 0; i < c->n; i++)
		for (unsigned j = 0; j < TCP_MAX_ATTEMPTS; j++)
			close_attempt(loop, &c->endpoints[i].attempts[j]);
}

static void schedule_retry(struct tcp_endpoint *ep)
{
	ep->next_try_ms = ev_now_ms() + ep->backoff_ms;
	ep->backoff_ms *= 2;
	if (ep->backoff_ms > BACKOFF_MAX_MS)
		ep->backoff_ms = BACKOFF_MAX_MS;
}

static void on_connect_ready(struct ev_loop *loop, int fd, uint32_t events, void *ctx)
{
	struct tcp_attempt *a = ctx;
	struct tcp_endpoint *ep = a->ep;
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	(void)events;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	close_attempt(loop, a);
	if (soerr == 0) {
		check_satisfied(loop, ep);
		return;
	}
	snprintf(ep->reason, sizeof(ep->reason), "%s: %s", a->addr_text, strerror(soerr));
	if (ep->pending == 0)
		schedule_retry(ep);
}

/* Starts one connect per resolved address; may satisfy the check at once. */
static void start_round(struct ev_loop *loop, struct tcp_endpoint *ep)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	unsigned slot = 0;
	int r;

	/* Resolved every round: a container's DNS name may appear (or move) while we wait. */
	r = getaddrinfo(ep->addr.host, ep->addr.port, &hints, &res);
	if (r != 0) {
		snprintf(ep->reason, sizeof(ep->reason), "cannot resolve %.200s: %s", ep->addr.host,
			 r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		schedule_retry(ep);
		return;
	}
	for (struct addrinfo *ai = res; ai && slot < TCP_MAX_ATTEMPTS; ai = ai->ai_next, slot++) {
		struct tcp_attempt *a = &ep->attempts[slot];
		int fd;

		format_sockaddr(ai->ai_addr, ai->ai_addrlen, a->addr_text, sizeof(a->addr_text));
		note_tried(ep, a->addr_text);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			snprintf(ep->reason, sizeof(ep->reason), "%s: %s", a->addr_text,
				 strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			close(fd);
			check_satisfied(loop, ep);
			break;
		}
		if (errno != EINPROGRESS) {
			snprintf(ep->reason, sizeof(ep->reason), "%s: %s", a->addr_text,
				 strerror(errno));
			close(fd);
			continue;
		}
		r = ev_add(loop, fd, EPOLLOUT, on_connect_ready, a);
		if (r < 0) {
			snprintf(ep->reason, sizeof(ep->reason), "%s: %s", a->addr_text,
				 strerror(-r));
			close(fd);
			continue;
		}
		a->fd = fd;
		ep->pending++;
	}
	freeaddrinfo(res);
	if (!ep->check->ok && ep->pending == 0)
		schedule_retry(ep);
}

static void prepare(struct tcp_check *checks, size_t n, uint64_t now)
{
	for (size_t i = 0; i < n; i++) {
		checks[i].ok = false;
		for (size_t j = 0; j < checks[i].n; j++) {
			struct tcp_endpoint *ep = &checks[i].endpoints[j];

			ep->answered = false;
			ep->reason[0] = '\0';
			ep->tried[0] = '\0';
			ep->check = &checks[i];
			ep->pending = 0;
			ep->next_try_ms = now;
			ep->backoff_ms = BACKOFF_FIRST_MS;
			for (unsigned k = 0; k < TCP_MAX_ATTEMPTS; k++) {
				ep->attempts[k].fd = -1;
				ep->attempts[k].ep = ep;
			}
		}
	}
}

/* Starts the rounds that are due; returns the earliest time something is due again, or 0 when
 * every check is satisfied. */
static uint64_t advance(struct ev_loop *loop, struct tcp_check *checks, size_t n, uint64_t now,
			uint64_t deadline)
{
	uint64_t wake = 0;

	for (size_t i = 0; i < n; i++) {
		struct tcp_check *c = &checks[i];

		for (size_t j = 0; j < c->n && !c->ok; j++) {
			struct tcp_endpoint *ep = &c->endpoints[j];
			if (ep->pending == 0 && ep->next_try_ms <= now)
				start_round(loop, ep);
		}
		if (c->ok)
			continue;
		if (wake == 0)
			wake = deadline;
		for (size_t j = 0; j < c->n; j++) {
			struct tcp_endpoint *ep = &c->endpoints[j];
			if (ep->pending == 0 && ep->next_try_ms < wake)
				wake = ep->next_try_ms;
		}
	}
	return wake;
}

/* In the static build (TCP_PROBE_BUILTIN_NSS) host names go through glibc's built-in `files`
 * and `dns` services only, whatever the image's nsswitch.conf names: a statically linked glibc
 * would dlopen() any other module (mdns, myhostname, resolve), loading a second, shared libc
 * into the agent when the image has one, and failing the lookup when the file names nothing
 * else. /etc/hosts and /etc/resolv.conf are what a container's resolution rests on anyway. */
static void use_builtin_resolution(void)
{
#ifdef TCP_PROBE_BUILTIN_NSS
	static bool done;

	if (!done)
		(void)__nss_configure_lookup("hosts", "files dns");
	done = true;
#endif
}

int tcp_probe_run(struct ev_loop *loop, struct tcp_check *checks, size_t n, uint64_t timeout_ms)
{
	uint64_t now = ev_now_ms(), deadline = now + timeout_ms;
	int ret = 0;

	use_builtin_resolution();
	prepare(checks, n, now);
	for (;;) {
		uint64_t wake = advance(loop, checks, n, now, deadline);
		int r;

		if (wake == 0 || now >= deadline)
			break;
		r = ev_run_once(loop, wake > now ? (int)(wake - now) : 0);
		if (r < 0) {
			ret = r;
			goto out;
		}
		now = ev_now_ms();
	}
out:
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < checks[i].n; j++) {
			struct tcp_endpoint *ep = &checks[i].endpoints[j];
			for (unsigned k = 0; k < TCP_MAX_ATTEMPTS; k++) {
				if (ep->attempts[k].fd >= 0 && !ep->reason[0])
					snprintf(ep->reason, sizeof(ep->reason),
						 "%s: no answer before the deadline",
						 ep->attempts[k].addr_text);
				close_attempt(loop, &ep->attempts[k]);
			}
		}
		if (ret == 0 && !checks[i].ok)
			ret = -ETIMEDOUT;
	}
	return ret;
}
