#include "child_spawn.h"

#include "exit_codes.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

static int exit_code_for(enum child_failure stage, int error)
{
	if (stage == CHILD_FAILED_EXEC)
		return (error == ENOENT || error == ENOTDIR || error == ENAMETOOLONG)
			   ? EXIT_EXEC_NOT_FOUND
			   : EXIT_EXEC_NOT_EXECUTABLE;
	if (stage == CHILD_FAILED_PRIVDROP)
		return EXIT_NOPERM;
	return EXIT_SOFTWARE;
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

static void __attribute__((noreturn)) child_main(const struct child_spec *spec, int report_fd)
{
	char pidbuf[24];
	int r;

	if (setsid() < 0)
		child_fail(report_fd, CHILD_FAILED_SETUP, errno);
	if (spec->listen_fds > 0) {
		for (int fd = 3; fd < 3 + spec->listen_fds; fd++)
			if (fcntl(fd, F_SETFD, 0) < 0)
				child_fail(report_fd, CHILD_FAILED_SETUP, errno);
		snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)getpid());
		if (setenv("LISTEN_PID", pidbuf, 1) < 0)
			child_fail(report_fd, CHILD_FAILED_SETUP, errno);
	} else if (spec->strip_listen_env) {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
	}
	r = close_fds_on_exec(3u + (unsigned)(spec->listen_fds > 0 ? spec->listen_fds : 0));
	if (r < 0)
		child_fail(report_fd, CHILD_FAILED_SETUP, -r);
	if (spec->plan->home[0] && setenv("HOME", spec->plan->home, 1) < 0)
		child_fail(report_fd, CHILD_FAILED_SETUP, errno);
	r = privdrop_child(spec->plan);
	if (r < 0)
		child_fail(report_fd, CHILD_FAILED_PRIVDROP, -r);
	r = signals_restore_for_exec(spec->inherited);
	if (r < 0)
		child_fail(report_fd, CHILD_FAILED_SETUP, -r);
	execvp(spec->argv[0], spec->argv);
	child_fail(report_fd, CHILD_FAILED_EXEC, errno);
}

int child_spawn(const struct child_spec *spec, struct child_result *out, struct sfs_error *err)
{
	struct exec_report rep;
	int pipefd[2];
	ssize_t n;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return sfs_error_set(err, -errno, "cannot create the exec report pipe: %s",
				     strerror(errno));
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return sfs_error_set(err, -e, "cannot fork the child: %s", strerror(e));
	}
	if (pid == 0) {
		close(pipefd[0]);
		child_main(spec, pipefd[1]);
	}
	close(pipefd[1]);
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
