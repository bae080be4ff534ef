/* Preflight: exit codes and the exact sentences of the seed, read back from the agent's log. */
/* cmocka needs these three first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "base/event_loop.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "config/config.h"
#include "secrets/preflight.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* The log goes to fd 2: point it at a memfd while preflight runs, then read it back. */
struct capture {
	int saved_stderr;
	int memfd;
	char text[16384];
};

static void capture_start(struct capture *c)
{
	c->memfd = memfd_create("log", MFD_CLOEXEC);
	assert_true(c->memfd >= 0);
	c->saved_stderr = dup(2);
	assert_true(c->saved_stderr >= 0);
	assert_int_equal(dup2(c->memfd, 2), 2);
}

static void capture_end(struct capture *c)
{
	ssize_t n;

	assert_int_equal(dup2(c->saved_stderr, 2), 2);
	close(c->saved_stderr);
	n = pread(c->memfd, c->text, sizeof(c->text) - 1, 0);
	assert_true(n >= 0);
	c->text[n] = '\0';
	close(c->memfd);
	/* Shown so a failing assertion can be understood from the test output. */
	fprintf(stderr, "%s", c->text);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

struct fixture {
	struct config cfg;
	char *env[8], *dirs[8], *wait[8], *any[8];
	char bufs[16][128];
	int nbufs;
	int socks[8];
	int nsocks;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->cfg.require_env.items = f->env;
	f->cfg.require_dir.items = f->dirs;
	f->cfg.wait_tcp.items = f->wait;
	f->cfg.wait_any_tcp.items = f->any;
	f->cfg.timeout_ms = 5000;
}

static void fixture_free(struct fixture *f)
{
	for (int i = 0; i < f->nsocks; i++)
		close(f->socks[i]);
}

static void add(struct strlist *l, char *item)
{
	l->items[l->n++] = item;
}

/* A loopback port that refuses connections (bound, not listening) or answers (listening). */
static const char *port(struct fixture *f, bool listening)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char *buf = f->bufs[f->nbufs++];

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	if (listening)
		assert_int_equal(listen(fd, 4), 0);
	f->socks[f->nsocks++] = fd;
	snprintf(buf, 128, "%u", ntohs(sin.sin_port));
	return buf;
}

__attribute__((format(printf, 2, 3))) static char *fmt(struct fixture *f, const char *format, ...)
{
	char *buf = f->bufs[f->nbufs++];
	va_list ap;

	va_start(ap, format);
	vsnprintf(buf, 128, format, ap);
	va_end(ap);
	return buf;
}

static int run(struct fixture *f, struct capture *c)
{
	struct ev_loop loop;
	struct agent_error err;
	int r;

	assert_int_equal(ev_init(&loop), 0);
	capture_start(c);
	r = preflight_run(&f->cfg, &loop, &err);
	capture_end(c);
	ev_close(&loop);
	/* The exit status the agent would end with. */
	return r < 0 ? agent_exit_code(err.failure) : EXIT_OK;
}

/* No silent limit on a list: the 65th address of a wait_tcp value (past the 64 entries and
 * the 4096 bytes the list once held) is checked like the first. */
static void test_wait_tcp_long_list_checks_every_address(void **state)
{
	struct fixture f;
	struct capture c;
	const char *live, *dead;
	char *list, *needle;
	size_t size = 65 * 96 + 1, used = 0;

	(void)state;
	fixture_init(&f);
	f.cfg.timeout_ms = 2000;
	live = port(&f, true);
	assert_int_equal(listen(f.socks[f.nsocks - 1], 128), 0); /* 64 connects at once */
	dead = port(&f, false);
	list = malloc(size);
	assert_non_null(list);
	/* Padded with spaces past 4096 bytes, so both old limits are crossed. */
	for (int i = 0; i < 64; i++)
		used +=
		    (size_t)snprintf(list + used, size - used, "127.0.0.1:%s%*s", live, 60, " ");
	snprintf(list + used, size - used, "127.0.0.1:%s", dead);
	assert_true(strlen(list) > 4096);
	add(&f.cfg.wait_tcp, list);
	assert_int_equal(run(&f, &c), EXIT_UNAVAILABLE);
	needle = fmt(&f, "Cannot connect to Redis at 127.0.0.1:%s ", dead);
	assert_int_equal(count(c.text, needle), 1);
	assert_int_equal(count(c.text, "level=error"), 1);
	free(list);
	fixture_free(&f);
}

static void test_nothing_to_check(void **state)
{
	struct fixture f;
	struct capture c;

	(void)state;
	fixture_init(&f);
	assert_int_equal(run(&f, &c), EXIT_OK);
	assert_null(strstr(c.text, "level=error"));
}

/* Every missing variable is named, each on its own line, in one run; empty counts as unset. */
static void test_missing_env_all_named(void **state)
{
	struct fixture f;
	struct capture c;

	(void)state;
	fixture_init(&f);
	setenv("SA_TEST_PRESENT", "node-1", 1);
	setenv("SA_TEST_EMPTY", "", 1);
	unsetenv("SA_TEST_UNSET");
	add(&f.cfg.require_env, "SA_TEST_UNSET");
	add(&f.cfg.require_env, "SA_TEST_PRESENT");
	add(&f.cfg.require_env, "SA_TEST_EMPTY");
	assert_int_equal(run(&f, &c), EXIT_CONFIG);
	assert_non_null(strstr(c.text, "Required environment variable SA_TEST_UNSET is not set"));
	assert_non_null(strstr(c.text, "Required environment variable SA_TEST_EMPTY is not set"));
	assert_null(strstr(c.text, "SA_TEST_PRESENT is not set"));
	assert_int_equal(count(c.text, "\n"), 2);
	/* A value is never logged, even of a variable that is present. */
	assert_null(strstr(c.text, "node-1"));
}

static void test_missing_dir(void **state)
{
	struct fixture f;
	struct capture c;

	(void)state;
	fixture_init(&f);
	add(&f.cfg.require_dir, "/nonexistent/app/data/models");
	add(&f.cfg.require_dir, "/proc/self/status"); /* exists, but a file */
	add(&f.cfg.require_dir, "/");
	assert_int_equal(run(&f, &c), EXIT_UNAVAILABLE);
	assert_non_null(strstr(c.text, "Model directory not found: /nonexistent/app/data/models"));
	assert_non_null(strstr(c.text, "Model directory not found: /proc/self/status"));
	assert_null(strstr(c.text, "Model directory not found: /\""));
	assert_int_equal(count(c.text, "level=error"), 2);
}

static void test_wait_tcp_refused(void **state)
{
	struct fixture f;
	struct capture c;
	uint64_t start, elapsed;
	char *dead, *live;

	(void)state;
	fixture_init(&f);
	f.cfg.timeout_ms = 500;
	dead = fmt(&f, "127.0.0.1:%s", port(&f, false));
	live = fmt(&f, "localhost:%s", port(&f, true));
	add(&f.cfg.wait_tcp, live);
	add(&f.cfg.wait_tcp, dead);
	start = ev_now_ms();
	assert_int_equal(run(&f, &c), EXIT_UNAVAILABLE);
	elapsed = ev_now_ms() - start;
	assert_non_null(
	    strstr(c.text, fmt(&f, "Cannot connect to Redis at %s (timeout 500ms)", dead)));
	assert_null(strstr(c.text, fmt(&f, "Cannot connect to Redis at %s", live)));
	assert_non_null(strstr(c.text, "Connection refused"));
	assert_true(elapsed >= 500 && elapsed < 3000);
	fixture_free(&f);
}

/* wait_tcp also takes a whitespace list in one value. */
static void test_wait_tcp_list_in_one_value(void **state)
{
	struct fixture f;
	struct capture c;

	(void)state;
	fixture_init(&f);
	add(&f.cfg.wait_tcp, fmt(&f, "127.0.0.1:%s  [::1]:%s", port(&f, true), "1"));
	f.cfg.timeout_ms = 200;
	assert_int_equal(run(&f, &c), EXIT_UNAVAILABLE);
	assert_non_null(strstr(c.text, "Cannot connect to Redis at [::1]:1 (timeout 200ms)"));
	assert_int_equal(count(c.text, "Cannot connect"), 1);
	fixture_free(&f);
}

static void test_kafka_one_live_broker(void **state)
{
	struct fixture f;
	struct capture c;

	(void)state;
	fixture_init(&f);
	add(&f.cfg.wait_any_tcp, fmt(&f, "PLAINTEXT://127.0.0.1:%s,SASL_SSL://localhost:%s",
				     port(&f, false), port(&f, true)));
	assert_int_equal(run(&f, &c), EXIT_OK);
	assert_null(strstr(c.text, "level=error"));
	fixture_free(&f);
}

static void test_kafka_all_dead(void **state)
{
	struct fixture f;
	struct capture c;
	char *a, *b;

	(void)state;
	fixture_init(&f);
	f.cfg.timeout_ms = 300;
	a = fmt(&f, "PLAINTEXT://127.0.0.1:%s", port(&f, false));
	b = fmt(&f, "SSL://127.0.0.1:%s", port(&f, false));
	/* Configured as two values (two flags): the message joins them with a comma. */
	add(&f.cfg.wait_any_tcp, a);
	add(&f.cfg.wait_any_tcp, b);
	assert_int_equal(run(&f, &c), EXIT_UNAVAILABLE);
	assert_non_null(strstr(c.text, fmt(&f, "Cannot reach any Kafka broker in %s,%s", a, b)));
	/* Every address tried is named. */
	assert_non_null(strstr(c.text, fmt(&f, "%s -> 127.0.0.1:", a)));
	assert_non_null(strstr(c.text, fmt(&f, "%s -> 127.0.0.1:", b)));
	assert_int_equal(count(c.text, "level=error"), 1);
	fixture_free(&f);
}

/* Everything fails at once: every item named, 78 because an env var is missing. */
static void test_all_failures_reported(void **state)
{
	struct fixture f;
	struct capture c;

	(void)state;
	fixture_init(&f);
	f.cfg.timeout_ms = 200;
	unsetenv("SA_TEST_NODE_ID");
	add(&f.cfg.require_env, "SA_TEST_NODE_ID");
	add(&f.cfg.require_dir, "/nonexistent/models");
	add(&f.cfg.wait_tcp, fmt(&f, "127.0.0.1:%s", port(&f, false)));
	add(&f.cfg.wait_any_tcp, fmt(&f, "127.0.0.1:%s", port(&f, false)));
	assert_int_equal(run(&f, &c), EXIT_CONFIG);
	assert_non_null(strstr(c.text, "Required environment variable SA_TEST_NODE_ID is not set"));
	assert_non_null(strstr(c.text, "Model directory not found: /nonexistent/models"));
	assert_non_null(strstr(c.text, "Cannot connect to Redis at"));
	assert_non_null(strstr(c.text, "Cannot reach any Kafka broker in"));
	fixture_free(&f);
}

static void test_bad_address_is_config_error(void **state)
{
	struct fixture f;
	struct capture c;

	(void)state;
	fixture_init(&f);
	add(&f.cfg.wait_tcp, "redis-without-port");
	assert_int_equal(run(&f, &c), EXIT_CONFIG);
	assert_non_null(strstr(c.text, "redis-without-port"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nothing_to_check),
	    cmocka_unit_test(test_missing_env_all_named),
	    cmocka_unit_test(test_missing_dir),
	    cmocka_unit_test(test_wait_tcp_refused),
	    cmocka_unit_test(test_wait_tcp_list_in_one_value),
	    cmocka_unit_test(test_kafka_one_live_broker),
	    cmocka_unit_test(test_kafka_all_dead),
	    cmocka_unit_test(test_all_failures_reported),
	    cmocka_unit_test(test_bad_address_is_config_error),
	    cmocka_unit_test(test_wait_tcp_long_list_checks_every_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
