#include "proc/signals.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

void signals_record_inherited(struct inherited_state *st, mode_t umask_at_start)
{
	sigemptyset(&st->mask);
	sigemptyset(&st->ignored);
	sigprocmask(SIG_SETMASK, NULL, &st->mask);
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			sigaddset(&st->ignored, sig);
	}
	st->umask = umask_at_start;
	if (getrlimit(RLIMIT_CORE, &st->core) < 0)
		st->core.rlim_cur = st->core.rlim_max = 0;
	st->recorded = true;
}

int signals_take_over(const struct inherited_state *st)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t all;
	int fd;

	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigismember(&st->ignored, sig) == 1 || sig == SIGCHLD)
			sigaction(sig, &dfl, NULL);
	}
	/* glibc keeps its two internal real-time signals out of the mask by itself. */
	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

int signals_restore_for_exec(const struct inherited_state *st)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};

	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(&st->ignored, sig) == 1 && sigaction(sig, &ign, NULL) < 0 &&
		    errno != EINVAL)
			return -errno;
	}
	umask(st->umask);
	/* Only the soft limit was lowered, so an unprivileged child can have it back. */
	if (setrlimit(RLIMIT_CORE, &st->core) < 0)
		return -errno;
	if (sigprocmask(SIG_SETMASK, &st->mask, NULL) < 0)
		return -errno;
	return 0;
}

const char *signals_name(int sig, char *buf, size_t bufsize)
{
	const char *abbrev = sigabbrev_np(sig);

	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, bufsize, "SIGRTMIN+%d", sig - SIGRTMIN);
	else if (abbrev)
		snprintf(buf, bufsize, "SIG%s", abbrev);
	else
		snprintf(buf, bufsize, "SIG%d", sig);
	return buf;
}
