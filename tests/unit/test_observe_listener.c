/* observe: the status listener answers real HTTP clients from inside the agent's event loop,
 * sd_notify datagrams arrive in order on a socket the test binds (path and abstract), the
 * ready file is written 0444 and removed, and the expiry watch arms its one timer at the next
 * instant and reports on time.
 *
 * Run with `--serve ADDR` this program is also the driver the e2e tests (test_status_*.py)
 * use before the observer is wired into `run`: it starts an observer on ADDR, prints
 * "port=N", and applies one command per stdin line (declare, written, ready, rotation,
 * notification, restart, stopping, quit), answering "ok" to each. */
/* cmocka needs these three first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "base/event_loop.h"
#include "base/log.h"
#include "observe/expiry.h"
#include "observe/observer.h"
#include "observe/sd_notify.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- driver mode ---------------------------------------------------------------------- */

struct driver {
	struct observer obs;
	char line[8192];
	size_t len;
};

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static enum rotation_result parse_result(const char *s)
{
	if (strcmp(s, "rejected") == 0)
		return ROTATION_REJECTED;
	if (strcmp(s, "unchanged") == 0)
		return ROTATION_UNCHANGED;
	return ROTATION_APPLIED;
}

static void command(struct ev_loop *loop, struct driver *d, char *line)
{
	char *argv[8] = {0};
	int argc = 0;
	struct agent_error err = {0};
	enum sfs_secret_type type;

	for (char *tok = strtok(line, " "); tok && argc < 8; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	if (argc == 0)
		return;
	if (strcmp(argv[0], "declare") == 0 && argc == 3 && sfs_type_parse(argv[2], &type) == 0) {
		observer_secret_declared(&d->obs, argv[1], type);
	} else if (strcmp(argv[0], "written") == 0 && argc >= 4 &&
		   sfs_type_parse(argv[2], &type) == 0) {
		size_t len = 0;
		char *pem = argc >= 5 ? read_file(argv[4], &len) : NULL;
		observer_secret_written(&d->obs, argv[1], type,
					strcmp(argv[3], "-") == 0 ? "" : argv[3], pem, len);
		free(pem);
	} else if (strcmp(argv[0], "ready") == 0) {
		if (observer_ready(&d->obs, &err) < 0)
			fprintf(stderr, "ready: %s\n", err.msg);
	} else if (strcmp(argv[0], "rotation") == 0 && argc == 3) {
		observer_rotation_begin(&d->obs);
		observer_rotation_result(&d->obs, argv[1], parse_result(argv[2]));
		observer_rotation_end(&d->obs);
	} else if (strcmp(argv[0], "notification") == 0 && argc == 3) {
		observer_notification(&d->obs, argv[1], strcmp(argv[2], "ok") == 0);
	} else if (strcmp(argv[0], "restart") == 0) {
		observer_child_restart(&d->obs);
	} else if (strcmp(argv[0], "stopping") == 0) {
		observer_stopping(&d->obs);
	} else if (strcmp(argv[0], "quit") == 0) {
		ev_stop(loop);
	} else {
		printf("unknown command\n");
		fflush(stdout);
		return;
	}
	printf("ok\n");
	fflush(stdout);
}

static void on_stdin(struct ev_loop *loop, int fd, uint32_t events, void *ctx)
{
	struct driver *d = ctx;
	ssize_t n;
	char *nl;

	(void)events;
	n = read(fd, d->line + d->len, sizeof(d->line) - 1 - d->len);
	if (n <= 0) {
		ev_del(loop, fd);
		ev_stop(loop);
		return;
	}
	d->len += (size_t)n;
	d->line[d->len] = '\0';
	while ((nl = strchr(d->line, '\n')) != NULL) {
		*nl = '\0';
		command(loop, d, d->line);
		d->len -= (size_t)(nl + 1 - d->line);
		memmove(d->line, nl + 1, d->len + 1);
	}
}

static int serve(int argc, char **argv)
{
	struct observer_opts opts = {.version = "0.0.0-test"};
	struct ev_loop loop = {.epfd = -1};
	struct agent_error err = {0};
	static struct driver d;
	sigset_t block;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--serve") == 0)
			opts.status_listen = strcmp(argv[i + 1], "off") == 0 ? NULL : argv[i + 1];
		else if (strcmp(argv[i], "--ready-file") == 0)
			opts.ready_file = argv[i + 1];
		else if (strcmp(argv[i], "--warn-days") == 0)
			opts.warn_days = atoi(argv[i + 1]);
	}
	/* As in the agent: signals arrive through the loop, never interrupt it. */
	sigemptyset(&block);
	sigaddset(&block, SIGPIPE);
	sigprocmask(SIG_BLOCK, &block, NULL);
	log_setup(LOG_FORMAT_TEXT, LOG_DEBUG);
	if (ev_init(&loop) < 0)
		return 70;
	if (observer_start(&d.obs, &loop, &opts, &err) < 0) {
		fprintf(stderr, "observer_start: %s\n", err.msg);
		return 69;
	}
	if (ev_add(&loop, STDIN_FILENO, EPOLLIN, on_stdin, &d) < 0)
		return 70;
	printf("port=%u\n", (unsigned)observer_listen_port(&d.obs));
	fflush(stdout);
	ev_run(&loop);
	observer_stopping(&d.obs);
	observer_free(&d.obs);
	ev_close(&loop);
	return 0;
}

/* ---- unit tests ----------------------------------------------------------------------- */

/* Runs `cmd` in a shell while the loop serves; returns its output (malloc'ed) and status. */
static char *run_client(struct ev_loop *loop, const char *cmd, int *status)
{
	int p[2];
	pid_t pid;
	char *out = calloc(1, 65536);
	size_t len = 0;
	ssize_t n;

	assert_non_null(out);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		ev_run_once(loop, 20);
		while ((n = read(p[0], out + len, 65535 - len)) > 0)
			len += (size_t)n;
		if (n == 0)
			break;
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, status, 0), pid);
	return out;
}

static void test_listener_curl(void **state)
{
	struct ev_loop loop = {.epfd = -1};
	struct observer obs;
	struct observer_opts opts = {.status_listen = "127.0.0.1:0", .version = "9.9.9"};
	struct agent_error err = {0};
	char cmd[512], *out;
	unsigned port;
	int status;

	(void)state;
	if (system("command -v curl >/dev/null") != 0) {
		fprintf(stderr, "SKIPPED: curl not installed\n");
		skip();
	}
	assert_int_equal(ev_init(&loop), 0);
	assert_int_equal(observer_start(&obs, &loop, &opts, &err), 0);
	port = observer_listen_port(&obs);
	assert_true(port > 0);

	snprintf(
	    cmd, sizeof(cmd),
	    "for p in healthz readyz metrics nope; do curl -s -o /dev/null -w '%%{http_code} ' "
	    "http://127.0.0.1:%u/$p; done; curl -s -o /dev/null -w '%%{http_code}' -X POST "
	    "http://127.0.0.1:%u/healthz",
	    port, port);
	out = run_client(&loop, cmd, &status);
	assert_int_equal(status, 0);
	assert_string_equal(out, "200 503 200 404 405");
	free(out);

	assert_int_equal(observer_ready(&obs, &err), 0);
	snprintf(cmd, sizeof(cmd), "curl -s -w ' %%{http_code}' http://127.0.0.1:%u/readyz", port);
	out = run_client(&loop, cmd, &status);
	assert_string_equal(out, "ready 200");
	free(out);
	snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%u/metrics", port);
	out = run_client(&loop, cmd, &status);
	assert_non_null(strstr(out, "\nsecret_agent_ready 1\n"));
	assert_non_null(strstr(out, "secret_agent_build_info{version=\"9.9.9\"} 1\n"));
	free(out);

	observer_stopping(&obs);
	observer_free(&obs);
	ev_close(&loop);
}

static void test_listener_bad_address(void **state)
{
	struct ev_loop loop = {.epfd = -1};
	struct observer obs, first;
	struct observer_opts opts = {.status_listen = "localhost:80"};
	struct agent_error err = {0};
	char addr[32];

	(void)state;
	assert_int_equal(ev_init(&loop), 0);
	assert_int_equal(observer_start(&obs, &loop, &opts, &err), -EINVAL);
	assert_int_equal(err.failure, AGENT_FAIL_CONFIG);
	opts.status_listen = "[::1]:x";
	assert_int_equal(observer_start(&obs, &loop, &opts, &err), -EINVAL);
	/* A port in use is reported with the address. */
	opts.status_listen = "127.0.0.1:0";
	assert_int_equal(observer_start(&first, &loop, &opts, &err), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", observer_listen_port(&first));
	opts.status_listen = addr;
	assert_int_equal(observer_start(&obs, &loop, &opts, &err), -EADDRINUSE);
	assert_int_equal(err.failure, AGENT_FAIL_UNAVAILABLE);
	assert_non_null(strstr(err.msg, addr));
	observer_free(&first);
	ev_close(&loop);
}

/* A datagram socket standing in for the service manager. */
static int bind_notify_socket(const char *name, bool abstract)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (abstract) {
		sun.sun_path[0] = '\0';
		memcpy(sun.sun_path + 1, name, strlen(name));
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	} else {
		unlink(name);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", name);
		len = sizeof(sun);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

static void recv_message(int fd, char *buf, size_t size)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	assert_int_equal(poll(&pfd, 1, 2000), 1);
	n = recv(fd, buf, size - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
}

static void test_sd_notify_order(void **state)
{
	char name[64], env[80], msg[512], rf[64];
	struct ev_loop loop = {.epfd = -1};
	struct observer obs;
	struct observer_opts opts = {0};
	struct agent_error err = {0};
	struct stat st;
	unsigned long long usec;
	struct timespec now;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "sa-notify-test-%d", getpid());
	fd = bind_notify_socket(name, true);
	snprintf(env, sizeof(env), "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	snprintf(rf, sizeof(rf), "/tmp/sa-ready-%d", getpid());
	opts.ready_file = rf;

	assert_int_equal(ev_init(&loop), 0);
	assert_int_equal(observer_start(&obs, &loop, &opts, &err), 0);
	observer_secret_written(&obs, "signing_key", SFS_TYPE_ED25519, "abcd", NULL, 0);
	/* Not ready yet: no file, nothing sent, not even for a rotation. */
	observer_rotation_begin(&obs);
	observer_rotation_result(&obs, "signing_key", ROTATION_UNCHANGED);
	observer_rotation_end(&obs);
	assert_int_equal(stat(rf, &st), -1);
	assert_int_equal(observer_ready(&obs, &err), 0);
	recv_message(fd, msg, sizeof(msg));
	assert_true(strncmp(msg,
			    "READY=1\nSTATUS=1 secrets written; last rotation unchanged "
			    "signing_key at ",
			    strlen("READY=1\nSTATUS=1 secrets written; last rotation unchanged "
				   "signing_key at ")) == 0);
	assert_int_equal(stat(rf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0444);
	assert_int_equal(st.st_uid, geteuid());

	observer_rotation_begin(&obs);
	recv_message(fd, msg, sizeof(msg));
	clock_gettime(CLOCK_MONOTONIC, &now);
	assert_int_equal(sscanf(msg, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec), 1);
	assert_true(usec <= (unsigned long long)now.tv_sec * 1000000ULL + now.tv_nsec / 1000);
	assert_true(usec + 2000000ULL > (unsigned long long)now.tv_sec * 1000000ULL);
	observer_rotation_result(&obs, "signing_key", ROTATION_APPLIED);
	observer_rotation_end(&obs);
	recv_message(fd, msg, sizeof(msg));
	assert_true(strncmp(msg,
			    "READY=1\nSTATUS=1 secrets written; last rotation applied "
			    "signing_key at ",
			    strlen("READY=1\nSTATUS=1 secrets written; last rotation applied "
				   "signing_key at ")) == 0);
	assert_null(strchr(strstr(msg, "STATUS="), '\n'));

	observer_stopping(&obs);
	recv_message(fd, msg, sizeof(msg));
	assert_string_equal(msg, "STOPPING=1");
	assert_int_equal(stat(rf, &st), -1);
	assert_int_equal(errno, ENOENT);
	observer_free(&obs);
	close(fd);

	/* A path socket works the same way. */
	snprintf(name, sizeof(name), "/tmp/sa-notify-%d.sock", getpid());
	fd = bind_notify_socket(name, false);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(sd_notify_send("STATUS=x"), 1);
	recv_message(fd, msg, sizeof(msg));
	assert_string_equal(msg, "STATUS=x");
	close(fd);
	unlink(name);
	/* Unset: nothing is sent; relative: refused. */
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sd_notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative.sock", 1);
	assert_int_equal(sd_notify_send("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
	ev_close(&loop);
}

static void test_expiry_timer(void **state)
{
	struct ev_loop loop = {.epfd = -1};
	struct metrics *m;
	struct expiry_watch *w;
	time_t now = time(NULL);
	/* warn_days 1: the warning instant of a certificate valid for 1 day + 2 s is 1 to 2 s
	 * away (time() truncates). */
	struct observed_cert certs[2] = {
	    {.index = 0, .subject = "CN=soon", .not_after = (int64_t)now + 86400 + 2},
	    {.index = 1, .subject = "CN=later", .not_after = (int64_t)now + 10 * 86400},
	};
	char *text;
	size_t len;
	uint64_t start;
	int n;

	(void)state;
	assert_int_equal(ev_init(&loop), 0);
	assert_int_equal(metrics_new(&m, "x"), 0);
	assert_int_equal(expiry_watch_new(&w, &loop, m, 1), 0);
	assert_int_equal(expiry_watch_next(w), -1);
	assert_int_equal(expiry_watch_set(w, "tls_cert", certs, 2), 0);
	assert_int_equal(expiry_watch_next(w), certs[0].not_after - 86400);
	/* Nothing is due before the instant: the loop sleeps without a wakeup. */
	start = ev_now_ms();
	n = ev_run_once(&loop, 500);
	assert_int_equal(n, 0);
	/* Then the timer fires once, on time, and moves on to the next instant. */
	n = ev_run_once(&loop, 3000);
	assert_int_equal(n, 1);
	assert_true(ev_now_ms() - start <= 3000);
	assert_int_equal(expiry_watch_next(w), certs[0].not_after);
	assert_int_equal(metrics_render(m, &text, &len), 0);
	assert_non_null(strstr(text, "\nsecret_agent_certificates_expiring 1\n"));
	free(text);
	/* Replacing the secret's certificates re-arms at the new set's next instant. */
	assert_int_equal(expiry_watch_set(w, "tls_cert", &certs[1], 1), 0);
	assert_int_equal(expiry_watch_next(w), certs[1].not_after - 86400);
	assert_int_equal(expiry_watch_set(w, "tls_cert", NULL, 0), 0);
	assert_int_equal(expiry_watch_next(w), -1);
	expiry_watch_free(w);
	metrics_free(m);
	ev_close(&loop);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_listener_curl),
	    cmocka_unit_test(test_listener_bad_address),
	    cmocka_unit_test(test_sd_notify_order),
	    cmocka_unit_test(test_expiry_timer),
	};

	if (argc > 1 && strcmp(argv[1], "--serve") == 0)
		return serve(argc, argv);
	log_setup(LOG_FORMAT_TEXT, LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
