#include "observe/status_listener.h"

#include "observe/status_addr.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Room for 8 KiB of header fields plus MHD's own bookkeeping in the same pool: a request
 * between 8 KiB and this reaches the handler and gets the 431 below; a larger one is refused
 * by MHD itself (also 431, connection closed). Bounds a connection's memory either way. */
#define CONNECTION_MEMORY_LIMIT (16 * 1024)

struct status_listener {
	struct ev_loop *loop;
	const struct metrics *metrics;
	struct MHD_Daemon *daemon;
	int epfd; /* MHD's epoll descriptor, a watch in `loop` */
	struct ev_timer timer;
	uint16_t port;
	unsigned connections; /* open now, from MHD's connection notifications */
	bool closed_during_run;
};

static const char TEXT_PLAIN[] = "text/plain; charset=utf-8";
static const char METRICS_TYPE[] = "text/plain; version=0.0.4; charset=utf-8";

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
			     const char *type, bool close_after, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result r;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (close_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result reply_metrics(struct status_listener *l, struct MHD_Connection *conn)
{
	struct MHD_Response *resp;
	enum MHD_Result r;
	char *text;
	size_t len;

	if (metrics_render(l->metrics, &text, &len) < 0)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", TEXT_PLAIN,
			     true, NULL);
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_TYPE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	size_t *total = cls;

	(void)kind;
	/* As on the wire: "Key: value\r\n". */
	*total += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	struct status_listener *l = cls;
	size_t header_bytes = 0;

	(void)version;
	(void)upload_data;
	/* Refusals are answered at once, from the headers alone, and close the connection: a
	 * body is never read. */
	if (!*con_cls) {
		MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header_size, &header_bytes);
		if (header_bytes > STATUS_MAX_HEADER_BYTES)
			return reply(conn, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
				     "request header fields too large\n", TEXT_PLAIN, true, NULL);
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
				     TEXT_PLAIN, true, "GET, HEAD");
		/* A response queued before the request is complete makes MHD close the
		 * connection afterwards: answer on the next call and keep it alive. */
		*con_cls = l;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		/* A GET with a body: drop it. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/healthz") == 0)
		return reply(conn, MHD_HTTP_OK, "ok", TEXT_PLAIN, false, NULL);
	if (strcmp(url, "/readyz") == 0)
		return metrics_is_ready(l->metrics)
			   ? reply(conn, MHD_HTTP_OK, "ready", TEXT_PLAIN, false, NULL)
			   : reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready", TEXT_PLAIN,
				   false, NULL);
	if (strcmp(url, "/metrics") == 0)
		return reply_metrics(l, conn);
	return reply(conn, MHD_HTTP_NOT_FOUND, "not found\n", TEXT_PLAIN, false, NULL);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct status_listener *l = cls;

	(void)conn;
	(void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		l->connections++;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		l->connections--;
		l->closed_during_run = true;
	}
}

/* At the connection limit MHD takes its listening socket out of its epoll set, and puts it
 * back only at the start of a later MHD_run. A connection that closes inside MHD_run frees a
 * slot, but nothing would call MHD_run again while clients wait in the backlog: so run once
 * more then, which re-adds the socket and accepts them. */
static void run_daemon(struct status_listener *l)
{
	bool was_full;

	do {
		was_full = l->connections >= STATUS_MAX_CONNECTIONS;
		l->closed_during_run = false;
		MHD_run(l->daemon);
	} while (was_full && l->closed_during_run);
}

/* MHD's next deadline (a connection's idle timeout, or work it has queued) becomes the
 * loop timer; with no connection open there is none and the timer stays disarmed. */
static void update_timer(struct status_listener *l)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(l->daemon, &ms) == MHD_YES)
		(void)ev_timer_arm_ms(&l->timer, (uint64_t)ms);
	else if (l->timer.armed)
		ev_timer_disarm(&l->timer);
}

static void on_events(struct ev_loop *loop, int fd, uint32_t events, void *ctx)
{
	struct status_listener *l = ctx;

	(void)loop;
	(void)fd;
	(void)events;
	run_daemon(l);
	update_timer(l);
}

static void on_timer(struct ev_loop *loop, struct ev_timer *timer, void *ctx)
{
	struct status_listener *l = ctx;

	(void)loop;
	(void)timer;
	run_daemon(l);
	update_timer(l);
}

static int listen_socket(const char *addr, int *fd_out, uint16_t *port_out, bool *v6,
			 struct agent_error *err)
{
	struct sockaddr_storage ss, bound;
	socklen_t len, blen = sizeof(bound);
	int fd, one = 1, r;

	if (status_addr_parse(addr, &ss, &len) < 0)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "status_listen '%s' is not IPV4:PORT or [IPV6]:PORT", addr);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return agent_error_set(err, AGENT_FAIL_UNAVAILABLE, -errno,
				       "status listener: socket: %s", strerror(errno));
	/* A restarted agent must not wait for TIME_WAIT of the previous one's connections. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) < 0) {
		r = -errno;
		close(fd);
		return agent_error_set(err, AGENT_FAIL_UNAVAILABLE, r,
				       "status listener cannot listen on %s: %s", addr,
				       strerror(-r));
	}
	*port_out = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						      : ((struct sockaddr_in *)&bound)->sin_port);
	*v6 = ss.ss_family == AF_INET6;
	*fd_out = fd;
	return 0;
}

int status_listener_start(struct status_listener **out, struct ev_loop *loop, const char *addr,
			  const struct metrics *metrics, struct agent_error *err)
{
	struct status_listener *l;
	const union MHD_DaemonInfo *info;
	int fd = -1, r;
	bool v6 = false;

	l = calloc(1, sizeof(*l));
	if (!l)
		return agent_error_set(err, AGENT_FAIL_SOFTWARE, -ENOMEM, "out of memory");
	l->loop = loop;
	l->metrics = metrics;
	l->epfd = -1;
	l->timer.fd = -1;
	r = listen_socket(addr, &fd, &l->port, &v6, err);
	if (r < 0)
		goto fail;
	/* No MHD_USE_INTERNAL_POLLING_THREAD: MHD only works inside MHD_run, called by the loop. */
	l->daemon =
	    MHD_start_daemon(MHD_USE_EPOLL | (v6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, handle_request,
			     l, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)STATUS_MAX_CONNECTIONS,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)STATUS_IDLE_TIMEOUT_SEC,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY_LIMIT,
			     MHD_OPTION_NOTIFY_CONNECTION, on_connection, l, MHD_OPTION_END);
	if (!l->daemon) {
		close(fd);
		r = agent_error_set(err, AGENT_FAIL_SOFTWARE, -EIO,
				    "status listener: the HTTP server did not start on %s", addr);
		goto fail;
	}
	info = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		r = agent_error_set(err, AGENT_FAIL_SOFTWARE, -EIO,
				    "status listener: no epoll descriptor from the HTTP server");
		goto fail;
	}
	r = ev_timer_init(loop, &l->timer, CLOCK_MONOTONIC, on_timer, l);
	if (r < 0) {
		agent_error_set(err, AGENT_FAIL_SOFTWARE, r, "status listener: timer: %s",
				strerror(-r));
		goto fail;
	}
	r = ev_add(loop, info->epoll_fd, EPOLLIN, on_events, l);
	if (r < 0) {
		agent_error_set(err, AGENT_FAIL_SOFTWARE, r, "status listener: event loop: %s",
				strerror(-r));
		goto fail;
	}
	l->epfd = info->epoll_fd;
	update_timer(l);
	*out = l;
	return 0;
fail:
	status_listener_stop(l);
	return r;
}

void status_listener_stop(struct status_listener *l)
{
	if (!l)
		return;
	if (l->epfd >= 0)
		ev_del(l->loop, l->epfd);
	ev_timer_close(&l->timer);
	/* Closes the listening socket and every connection. */
	if (l->daemon)
		MHD_stop_daemon(l->daemon);
	free(l);
}

uint16_t status_listener_port(const struct status_listener *l)
{
	return l ? l->port : 0;
}
