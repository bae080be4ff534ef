/* TCP probes: address forms, and real connects against loopback listeners this test opens. */
/* cmocka needs these three first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "base/event_loop.h"
#include "secrets/tcp_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void parses(const char *spec, const char *host, const char *port)
{
	struct tcp_address a;
	struct sfs_error err = {0};

	assert_int_equal(tcp_address_parse(spec, &a, &err), 0);
	assert_string_equal(a.host, host);
	assert_string_equal(a.port, port);
}

static void refuses(const char *spec)
{
	struct tcp_address a;
	struct sfs_error err = {0};

	assert_int_equal(tcp_address_parse(spec, &a, &err), -EINVAL);
	/* The sentence names what was given so the operator finds it in the config. */
	assert_non_null(strstr(err.msg, spec));
}

static void test_address_forms(void **state)
{
	(void)state;
	parses("redis:6379", "redis", "6379");
	parses("127.0.0.1:6379", "127.0.0.1", "6379");
	parses("PLAINTEXT://kafka-0.kafka:9092", "kafka-0.kafka", "9092");
	parses("SSL://broker:9093", "broker", "9093");
	parses("SASL_SSL://b-1.example.com:9096", "b-1.example.com", "9096");
	parses("SASL_PLAINTEXT://broker:9094", "broker", "9094");
	parses("[::1]:9092", "::1", "9092");
	parses("PLAINTEXT://[::1]:9092", "::1", "9092");
	parses("[fe80::1%lo]:9092", "fe80::1%lo", "9092");
	parses("host:00080", "host", "80");
}

static void test_address_refusals(void **state)
{
	(void)state;
	refuses("redis");
	refuses("redis:");
	refuses(":6379");
	refuses("redis:0");
	refuses("redis:65536");
	refuses("redis:99999999999999999999");
	refuses("redis:63a9");
	refuses("::1:9092");
	refuses("[::1]9092");
	refuses("[::1");
	refuses("://redis:6379");
	refuses("PLAIN TEXT://redis:6379");
	refuses("red is:6379");
	refuses("redis/x:6379");
}

static void test_format_timeout(void **state)
{
	char buf[32];

	(void)state;
	tcp_format_timeout(5000, buf, sizeof(buf));
	assert_string_equal(buf, "5s");
	tcp_format_timeout(500, buf, sizeof(buf));
	assert_string_equal(buf, "500ms");
	tcp_format_timeout(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1500ms");
	tcp_format_timeout(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
}

/* A bound socket that is not listening: connects to its port are refused, and nobody else can
 * take the port while the test runs. Calling listen() later makes it answer. */
static int bound_socket(int family, char *port, size_t size)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s4);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	snprintf(port, size, "%u",
		 ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					  : ((struct sockaddr_in *)&ss)->sin_port));
	return fd;
}

__attribute__((format(printf, 4, 5))) static void endpoint(struct tcp_endpoint *ep, char *spec_buf,
							   size_t size, const char *fmt, ...)
{
	va_list ap;

	struct sfs_error err = {0};

	memset(ep, 0, sizeof(*ep));
	va_start(ap, fmt);
	vsnprintf(spec_buf, size, fmt, ap);
	va_end(ap);
	ep->spec = spec_buf;
	assert_int_equal(tcp_address_parse(spec_buf, &ep->addr, &err), 0);
}

static void test_listener_answers(void **state)
{
	struct ev_loop loop;
	struct tcp_endpoint ep;
	struct tcp_check check = {.endpoints = &ep, .n = 1};
	char port[8], spec[64];
	int fd = bound_socket(AF_INET, port, sizeof(port));

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(ev_init(&loop), 0);
	endpoint(&ep, spec, sizeof(spec), "127.0.0.1:%s", port);
	assert_int_equal(tcp_probe_run(&loop, &check, 1, 5000), 0);
	assert_true(check.ok);
	assert_true(ep.answered);
	assert_non_null(strstr(ep.tried, "127.0.0.1:"));
	ev_close(&loop);
	close(fd);
}

static void test_refused_port_times_out(void **state)
{
	struct ev_loop loop;
	struct tcp_endpoint ep;
	struct tcp_check check = {.endpoints = &ep, .n = 1};
	char port[8], spec[64];
	int fd = bound_socket(AF_INET, port, sizeof(port));
	uint64_t start, elapsed;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ev_init(&loop), 0);
	endpoint(&ep, spec, sizeof(spec), "localhost:%s", port);
	start = ev_now_ms();
	assert_int_equal(tcp_probe_run(&loop, &check, 1, 400), -ETIMEDOUT);
	elapsed = ev_now_ms() - start;
	assert_false(check.ok);
	assert_false(ep.answered);
	assert_non_null(strstr(ep.reason, "Connection refused"));
	/* Retried until the deadline, not beyond it (generous bound for a loaded machine). */
	assert_true(elapsed >= 400);
	assert_true(elapsed < 3000);
	ev_close(&loop);
	close(fd);
}

struct late_listen {
	int listen_fd;
	int timer_fd;
};

static void on_timer(struct ev_loop *loop, int fd, uint32_t events, void *ctx)
{
	struct late_listen *l = ctx;
	uint64_t ticks;

	(void)events;
	assert_int_equal(read(fd, &ticks, sizeof(ticks)), (ssize_t)sizeof(ticks));
	ev_del(loop, fd);
	assert_int_equal(listen(l->listen_fd, 4), 0);
}

/* The service comes up while the agent waits: the retries must find it. */
static void test_late_listener(void **state)
{
	struct ev_loop loop;
	struct tcp_endpoint ep;
	struct tcp_check check = {.endpoints = &ep, .n = 1};
	struct itimerspec its = {.it_value = {.tv_nsec = 600 * 1000 * 1000}};
	struct late_listen l;
	char port[8], spec[64];

	(void)state;
	l.listen_fd = bound_socket(AF_INET, port, sizeof(port));
	assert_true(l.listen_fd >= 0);
	l.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	assert_true(l.timer_fd >= 0);
	assert_int_equal(ev_init(&loop), 0);
	assert_int_equal(timerfd_settime(l.timer_fd, 0, &its, NULL), 0);
	assert_int_equal(ev_add(&loop, l.timer_fd, EPOLLIN, on_timer, &l), 0);
	endpoint(&ep, spec, sizeof(spec), "127.0.0.1:%s", port);
	assert_int_equal(tcp_probe_run(&loop, &check, 1, 10000), 0);
	assert_true(ep.answered);
	ev_close(&loop);
	close(l.timer_fd);
	close(l.listen_fd);
}

/* wait_any_tcp: one dead broker and one live one (with scheme prefixes) is a success. */
static void test_any_of_list(void **state)
{
	struct ev_loop loop;
	struct tcp_endpoint eps[2];
	struct tcp_check check = {.endpoints = eps, .n = 2};
	char dead_port[8], live_port[8], spec0[64], spec1[64];
	int dead = bound_socket(AF_INET, dead_port, sizeof(dead_port));
	int live = bound_socket(AF_INET, live_port, sizeof(live_port));

	(void)state;
	assert_true(dead >= 0 && live >= 0);
	assert_int_equal(listen(live, 4), 0);
	assert_int_equal(ev_init(&loop), 0);
	endpoint(&eps[0], spec0, sizeof(spec0), "PLAINTEXT://127.0.0.1:%s", dead_port);
	endpoint(&eps[1], spec1, sizeof(spec1), "SASL_SSL://127.0.0.1:%s", live_port);
	assert_int_equal(tcp_probe_run(&loop, &check, 1, 5000), 0);
	assert_true(check.ok);
	assert_false(eps[0].answered);
	assert_true(eps[1].answered);
	ev_close(&loop);
	close(dead);
	close(live);
}

/* Several checks at once: the satisfied one is reported ok, the other is not; the whole run
 * lasts one timeout, not one per check. */
static void test_checks_run_concurrently(void **state)
{
	struct ev_loop loop;
	struct tcp_endpoint eps[3];
	struct tcp_check checks[3] = {{.endpoints = &eps[0], .n = 1},
				      {.endpoints = &eps[1], .n = 1},
				      {.endpoints = &eps[2], .n = 1}};
	char p0[8], p1[8], p2[8], s0[64], s1[64], s2[64];
	int d0 = bound_socket(AF_INET, p0, sizeof(p0));
	int d1 = bound_socket(AF_INET, p1, sizeof(p1));
	int live = bound_socket(AF_INET, p2, sizeof(p2));
	uint64_t start, elapsed;

	(void)state;
	assert_true(d0 >= 0 && d1 >= 0 && live >= 0);
	assert_int_equal(listen(live, 4), 0);
	assert_int_equal(ev_init(&loop), 0);
	endpoint(&eps[0], s0, sizeof(s0), "127.0.0.1:%s", p0);
	endpoint(&eps[1], s1, sizeof(s1), "127.0.0.1:%s", p1);
	endpoint(&eps[2], s2, sizeof(s2), "127.0.0.1:%s", p2);
	start = ev_now_ms();
	assert_int_equal(tcp_probe_run(&loop, checks, 3, 1000), -ETIMEDOUT);
	elapsed = ev_now_ms() - start;
	assert_false(checks[0].ok);
	assert_false(checks[1].ok);
	assert_true(checks[2].ok);
	assert_true(elapsed < 1900);
	ev_close(&loop);
	close(d0);
	close(d1);
	close(live);
}

static void test_ipv6_loopback(void **state)
{
	struct ev_loop loop;
	struct tcp_endpoint ep;
	struct tcp_check check = {.endpoints = &ep, .n = 1};
	char port[8], spec[64];
	int fd = bound_socket(AF_INET6, port, sizeof(port));

	(void)state;
	if (fd < 0)
		skip(); /* no IPv6 loopback in this sandbox */
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(ev_init(&loop), 0);
	endpoint(&ep, spec, sizeof(spec), "[::1]:%s", port);
	assert_int_equal(tcp_probe_run(&loop, &check, 1, 5000), 0);
	assert_true(ep.answered);
	assert_non_null(strstr(ep.tried, "[::1]:"));
	ev_close(&loop);
	close(fd);
}

static void test_unresolvable_host(void **state)
{
	struct ev_loop loop;
	struct tcp_endpoint ep;
	struct tcp_check check = {.endpoints = &ep, .n = 1};
	char spec[64];

	(void)state;
	assert_int_equal(ev_init(&loop), 0);
	/* RFC 6761: .invalid never resolves. */
	endpoint(&ep, spec, sizeof(spec), "no-such-host.invalid:%s", "6379");
	assert_int_equal(tcp_probe_run(&loop, &check, 1, 300), -ETIMEDOUT);
	assert_non_null(strstr(ep.reason, "cannot resolve no-such-host.invalid"));
	ev_close(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_address_forms),
	    cmocka_unit_test(test_address_refusals),
	    cmocka_unit_test(test_format_timeout),
	    cmocka_unit_test(test_listener_answers),
	    cmocka_unit_test(test_refused_port_times_out),
	    cmocka_unit_test(test_late_listener),
	    cmocka_unit_test(test_any_of_list),
	    cmocka_unit_test(test_checks_run_concurrently),
	    cmocka_unit_test(test_ipv6_loopback),
	    cmocka_unit_test(test_unresolvable_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
