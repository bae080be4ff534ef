#include "proc/child_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Socket activation never passes more than this; anything larger is not systemd's doing. */
#define MAX_LISTEN_FDS 4096

struct exec_report {
	int stage; /* enum child_failure */
	int error;
};

/* What the failed child exits with (a table lookup: fine in the vfork child). */
static int exit_code_for(enum child_failure stage, int error)
{
	if (stage == CHILD_FAILED_EXEC)
		return agent_exit_code(
		    (error == ENOENT || error == ENOTDIR || error == ENAMETOOLONG)
			? AGENT_FAIL_NOTFOUND
			: AGENT_FAIL_NOEXEC);
	if (stage == CHILD_FAILED_PRIVDROP)
		return agent_exit_code(AGENT_FAIL_NOPERM);
	return agent_exit_code(AGENT_FAIL_SOFTWARE);
}

static void __attribute__((noreturn)) child_fail(int report_fd, enum child_failure stage, int error)
{
	struct exec_report rep = {.stage = stage, .error = error};
	ssize_t n = write(report_fd, &rep, sizeof(rep));

	(void)n;
	_exit(exit_code_for(stage, error));
}

/* Marks every fd from `first` up close-on-exec, so the report pipe survives until exec. */
static int close_fds_on_exec(unsigned first)
{
	struct rlimit rl;

	if (close_range(first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	/* Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk up to the fd limit instead. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	for (unsigned fd = first; fd < rl.rlim_cur && fd < 1u << 20; fd++) {
		int flags = fcntl((int)fd, F_GETFD);
		if (flags >= 0 && fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC) < 0)
			return -errno;
	}
	return 0;
}

/* The child's environment, built before the child exists: the child shares the agent's memory
 * until exec, so it must not setenv (that would change the agent's own environ) nor allocate.
 * Only LISTEN_PID is filled in by the child, which alone knows its pid. */
struct child_env {
	char **envp;
	char *home;	     /* "HOME=..." or NULL */
	char listen_pid[32]; /* "LISTEN_PID=<child pid>", written by the child */
};

static bool env_is(const char *entry, const char *name)
{
	size_t n = strlen(name);
	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static int child_env_build(const struct child_spec *spec, struct child_env *ce)
{
	size_t n = 0, k = 0;

	memset(ce, 0, sizeof(*ce));
	while (environ[n])
		n++;
	ce->envp = calloc(n + 3, sizeof(char *));
	if (!ce->envp)
		return -ENOMEM;
	if (spec->plan->home[0]) {
		size_t len = strlen("HOME=") + strlen(spec->plan->home) + 1;
		ce->home = malloc(len);
		if (!ce->home) {
			free(ce->envp);
			ce->envp = NULL;
			return -ENOMEM;
		}
		snprintf(ce->home, len, "HOME=%s", spec->plan->home);
	}
	for (size_t i = 0; i < n; i++) {
		const char *e = environ[i];

		if (ce->home && env_is(e, "HOME"))
			continue;
		if (spec->listen_fds > 0 && env_is(e, "LISTEN_PID"))
			continue;
		if (spec->listen_fds <= 0 && spec->strip_listen_env &&
		    (env_is(e, "LISTEN_PID") || env_is(e, "LISTEN_FDS") ||
		     env_is(e, "LISTEN_FDNAMES")))
			continue;
		ce->envp[k++] = environ[i];
	}
	if (ce->home)
		ce->envp[k++] = ce->home;
	if (spec->listen_fds > 0)
		ce->envp[k++] = ce->listen_pid;
	ce->envp[k] = NULL;
	return 0;
}

static void child_env_free(struct child_env *ce)
{
	free(ce->envp);
	free(ce->home);
	ce->envp = NULL;
	ce->home = NULL;
}

/* "LISTEN_PID=" and the decimal pid, without stdio (the child runs on the agent's memory). */
static void format_listen_pid(char *buf, size_t size, pid_t pid)
{
	static const char prefix[] = "LISTEN_PID=";
	char digits[24];
	size_t nd = 0, pos = sizeof(prefix) - 1;
	unsigned long v = (unsigned long)pid;

	memcpy(buf, prefix, pos);
	do
		digits[nd++] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && nd < sizeof(digits));
	while (nd > 0 && pos < size - 1)
		buf[pos++] = digits[--nd];
	buf[pos] = '\0';
}

/* Runs in the vfork child: system calls only (no malloc, no stdio, no setenv), and it never
 * returns, because the agent's stack frame below it is still the agent's. */
static void __attribute__((noreturn))
child_main(const struct child_spec *spec, struct child_env *ce, int cap_last, int report_fd)
{
	int r;

	if (setsid() < 0)
		child_fail(report_fd, CHILD_FAILED_SETUP, errno);
	if (spec->listen_fds > 0) {
		for (int fd = 3; fd < 3 + spec->listen_fds; fd++)
			if (fcntl(fd, F_SETFD, 0) < 0)
				child_fail(report_fd, CHILD_FAILED_SETUP, errno);
		format_listen_pid(ce->listen_pid, sizeof(ce->listen_pid), getpid());
	}
	r = close_fds_on_exec(3u + (unsigned)(spec->listen_fds > 0 ? spec->listen_fds : 0));
	if (r < 0)
		child_fail(report_fd, CHILD_FAILED_SETUP, -r);
	r = privdrop_child(spec->plan, cap_last);
	if (r < 0)
		child_fail(report_fd, CHILD_FAILED_PRIVDROP, -r);
	r = signals_restore_for_exec(spec->inherited);
	if (r < 0)
		child_fail(report_fd, CHILD_FAILED_SETUP, -r);
	execvpe(spec->argv[0], spec->argv, ce->envp);
	child_fail(report_fd, CHILD_FAILED_EXEC, errno);
}

int child_spawn(const struct child_spec *spec, struct child_result *out, struct agent_error *err)
{
	int cap_last = privdrop_cap_last_cap();
	struct exec_report rep;
	struct child_env ce;
	int pipefd[2], r;
	ssize_t n;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	r = child_env_build(spec, &ce);
	if (r < 0)
		return agent_error_set(err, AGENT_FAIL_SOFTWARE, r,
				       "cannot prepare the child's environment: %s", strerror(-r));
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = -errno;
		child_env_free(&ce);
		return agent_error_set(err, AGENT_FAIL_SOFTWARE, r,
				       "cannot create the exec report pipe: %s", strerror(-r));
	}
	/* vfork: no copy of the agent's page tables and no copy-on-write faults before exec
	 * (fork cost ~3 ms here, most of the time to the service's first instruction); the agent
	 * is suspended until the child has exec'd or exited. */
	pid = vfork();
	if (pid == 0) {
		close(pipefd[0]);
		child_main(spec, &ce, cap_last, pipefd[1]);
	}
	r = pid < 0 ? -errno : 0;
	child_env_free(&ce);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return agent_error_set(err, AGENT_FAIL_SOFTWARE, r, "cannot start the child: %s",
				       strerror(-r));
	}
	out->pid = pid;
	/* EOF means exec closed the pipe: the service is running. */
	do
		n = read(pipefd[0], &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(rep)) {
		out->failed = (enum child_failure)rep.stage;
		out->error = rep.error;
		out->exit_code = exit_code_for(out->failed, rep.error);
	}
	return 0;
}

void child_spec_socket_activation(struct child_spec *spec)
{
	const char *pid_s = getenv("LISTEN_PID");
	const char *fds_s = getenv("LISTEN_FDS");
	char *end;
	long pid, nfds;

	spec->listen_fds = 0;
	spec->strip_listen_env = false;
	if (!pid_s && !fds_s && !getenv("LISTEN_FDNAMES"))
		return;
	spec->strip_listen_env = true;
	if (!pid_s || !fds_s)
		return;
	errno = 0;
	pid = strtol(pid_s, &end, 10);
	if (errno || *end || end == pid_s || pid != (long)getpid())
		return;
	nfds = strtol(fds_s, &end, 10);
	if (errno || *end || end == fds_s || nfds <= 0 || nfds > MAX_LISTEN_FDS)
		return;
	for (int fd = 3; fd < 3 + (int)nfds; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			return;
	/* Hooks started by rotation must not get the service's sockets; the child re-enables. */
	for (int fd = 3; fd < 3 + (int)nfds; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	spec->listen_fds = (int)nfds;
	spec->strip_listen_env = false;
}
