#include "secrets/notify.h"

#include "base/log.h"
#include "base/observe.h"
#include "proc/signals.h"
#include "proc/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RETRY_FIRST_MS		100
#define RETRY_MAX_MS		5000
#define RETRY_ATTEMPTS		10
#define DEFAULT_HOOK_TIMEOUT_MS 30000

extern char **environ;

struct notifier {
	struct ev_loop *loop;
	struct notifier_opts opts;
	struct notifier_stats stats;
	/* Kept so a retry or a coalesced hook run names what changed. */
	char secrets[1024];
	char fingerprints[2048];

	struct ev_timer retry;
	unsigned retry_attempt; /* 0: no retry pending */

	pid_t hook_pid;		      /* 0: no hook running */
	struct ev_timer hook_timeout; /* kills the hook's group */
	bool hook_again;	      /* a change arrived while the hook ran */
	bool hook_killed;
};

static int refuse_pidfile(int fd, char *why, size_t why_size, const char *reason)
{
	if (fd >= 0)
		close(fd);
	if (why && why_size)
		snprintf(why, why_size, "%s", reason);
	return -EPERM;
}

int notify_read_pidfile(const char *path, pid_t *out, char *why, size_t why_size)
{
	char buf[32], reason[96];
	char *end;
	ssize_t len;
	long pid;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);

	*out = 0;
	if (fd < 0 && errno == ELOOP)
		return refuse_pidfile(-1, why, why_size, "it is a symbolic link");
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode))
		return refuse_pidfile(fd, why, why_size, "it is not a regular file");
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(reason, sizeof(reason), "it belongs to uid %u, neither root nor uid %u",
			 (unsigned)st.st_uid, (unsigned)geteuid());
		return refuse_pidfile(fd, why, why_size, reason);
	}
	if (st.st_mode & S_IWOTH)
		return refuse_pidfile(fd, why, why_size, "it is writable by everyone");
	/* A pid and a newline fit with room to spare: anything longer is not a pidfile, and is
	 * refused rather than judged by its first bytes. */
	len = read(fd, buf, sizeof(buf));
	close(fd);
	if (len < 0)
		return -errno;
	if ((size_t)len == sizeof(buf) || memchr(buf, '\0', (size_t)len))
		return -EINVAL;
	buf[len] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	/* 0 and negative pids would make kill(2) address a process group or everything. */
	if (errno || end == buf || *end || pid <= 0 || pid > INT_MAX || (pid_t)pid == getpid())
		return -EINVAL;
	*out = (pid_t)pid;
	return 0;
}

static void log_notification(struct notifier *n, const char *action, pid_t pid, const char *detail)
{
	char pidbuf[16];
	const char *fields[] = {"action",	 action, "secrets", n->secrets, "fingerprints",
				n->fingerprints, "pid",	 pidbuf,    NULL};

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	if (pid <= 0)
		fields[6] = NULL;
	log_event(LOG_INFO, "rotation_notified", NULL, fields, "%s", detail);
	observe_notification(action, true);
}

/* Every failed attempt (each retry counts). */
static void count_failure(struct notifier *n, const char *action)
{
	n->stats.failed++;
	observe_notification(action, false);
}

static void schedule_retry(struct notifier *n, const char *why)
{
	uint64_t delay = RETRY_FIRST_MS;

	for (unsigned i = 1; i < n->retry_attempt && delay < RETRY_MAX_MS; i++)
		delay *= 2;
	if (delay > RETRY_MAX_MS)
		delay = RETRY_MAX_MS;
	if (n->retry_attempt > RETRY_ATTEMPTS) {
		log_error("notify_failed", NULL,
			  "giving up notifying after %u attempts: %s (secrets %s)", RETRY_ATTEMPTS,
			  why, n->secrets);
		n->retry_attempt = 0;
		return;
	}
	log_warn("notify_retry", NULL, "%s; retrying in %llu ms", why, (unsigned long long)delay);
	ev_timer_arm_ms(&n->retry, delay);
}

/* watch: the target is whatever pid the pidfile names right now. */
static int signal_pidfile(struct notifier *n)
{
	char why[PATH_MAX + 128], signame[32], refused[128] = "";
	pid_t pid;
	int r = notify_read_pidfile(n->opts.pidfile, &pid, refused, sizeof(refused));

	signals_name(n->opts.sig, signame, sizeof(signame));
	if (r == -EPERM && refused[0])
		log_event(LOG_ERROR, "notify_refused", NULL,
			  (const char *[]){"pidfile", n->opts.pidfile, "reason", refused, NULL},
			  "not signalling anyone named by %s: %s", n->opts.pidfile, refused);
	if (r == 0 && kill(pid, n->opts.sig) < 0)
		r = -errno;
	if (r == 0) {
		n->retry_attempt = 0;
		n->stats.delivered++;
		n->stats.last_pid = pid;
		snprintf(why, sizeof(why), "sent %s to pid %d from %s", signame, (int)pid,
			 n->opts.pidfile);
		log_notification(n, "signal", pid, why);
		return 0;
	}
	count_failure(n, "signal");
	n->retry_attempt++;
	if (r == -ESRCH)
		snprintf(why, sizeof(why), "pid %d from %s is not running (stale pidfile)",
			 (int)pid, n->opts.pidfile);
	else if (r == -EINVAL)
		snprintf(why, sizeof(why), "%s does not hold a usable pid", n->opts.pidfile);
	else if (r == -EPERM && refused[0])
		snprintf(why, sizeof(why), "%s is refused: %s", n->opts.pidfile, refused);
	else if (pid > 0)
		snprintf(why, sizeof(why), "cannot signal pid %d from %s: %s", (int)pid,
			 n->opts.pidfile, strerror(-r));
	else
		snprintf(why, sizeof(why), "cannot read %s: %s", n->opts.pidfile, strerror(-r));
	schedule_retry(n, why);
	return n->retry_attempt ? 0 : r;
}

static int signal_child(struct notifier *n)
{
	char signame[32], msg[96];
	int r = supervisor_signal_child(n->opts.sv, n->opts.sig);

	signals_name(n->opts.sig, signame, sizeof(signame));
	if (r < 0) {
		count_failure(n, "signal");
		log_warn("notify_failed", NULL, "cannot send %s to the child: %s (secrets %s)",
			 signame, strerror(-r), n->secrets);
		return r;
	}
	n->stats.delivered++;
	snprintf(msg, sizeof(msg), "sent %s to the child", signame);
	log_notification(n, "signal", 0, msg);
	return 0;
}

static int restart_child(struct notifier *n)
{
	int r = supervisor_restart_child(n->opts.sv);

	if (r < 0) {
		count_failure(n, "restart");
		log_warn("notify_failed", NULL, "cannot restart the child: %s (secrets %s)",
			 strerror(-r), n->secrets);
		return r;
	}
	n->stats.delivered++;
	log_notification(n, "restart", 0, "restarting the child");
	return 0;
}

static int run_hook(struct notifier *n);

static void hook_finished(pid_t pid, int wstatus, void *ctx)
{
	struct notifier *n = ctx;
	char status[64];

	if (WIFEXITED(wstatus))
		snprintf(status, sizeof(status), "%d", WEXITSTATUS(wstatus));
	else if (WIFSIGNALED(wstatus))
		snprintf(status, sizeof(status), "signal %d", WTERMSIG(wstatus));
	else
		snprintf(status, sizeof(status), "unknown");
	ev_timer_disarm(&n->hook_timeout);
	n->hook_pid = 0;
	n->stats.hooks_finished++;
	n->stats.last_hook_wstatus = wstatus;
	{
		char pidbuf[16];
		const char *fields[] = {"hook", n->opts.exec_path, "pid", pidbuf, "status", status,
					NULL};
		bool ok = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;

		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
		log_event(ok ? LOG_INFO : LOG_WARN, "hook_exited", NULL, fields, "%s",
			  n->hook_killed ? "hook killed after its timeout" : "hook finished");
	}
	n->hook_killed = false;
	if (n->hook_again) {
		n->hook_again = false;
		run_hook(n);
	}
}

static void on_hook_timeout(struct ev_loop *loop, struct ev_timer *timer, void *ctx)
{
	struct notifier *n = ctx;

	(void)loop;
	(void)timer;
	if (n->hook_pid <= 0)
		return;
	log_warn("hook_timeout", NULL, "%s ran longer than %llu ms; killing it", n->opts.exec_path,
		 (unsigned long long)n->opts.hook_timeout_ms);
	n->hook_killed = true;
	kill(-n->hook_pid, SIGKILL);
}

/* In the forked hook, before exec: only async-signal-safe calls. */
static void exec_hook(const char *path, char *const envp[])
{
	sigset_t none;
	int devnull;

	setpgid(0, 0);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0 && devnull != STDIN_FILENO) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	syscall(SYS_close_range, 3U, ~0U, 0U);
	execve(path, (char *const[]){(char *)path, NULL}, envp);
	_exit(errno == ENOENT ? 127 : 126);
}

/* The hook's environment: the agent's plus SECRET_AGENT_SECRETS. Built before fork so the
 * child only calls async-signal-safe functions. */
static char **hook_environment(const char *secrets)
{
	size_t count = 0, k = 0;
	char **envp;

	while (environ && environ[count])
		count++;
	envp = calloc(count + 2, sizeof(*envp));
	if (!envp)
		return NULL;
	for (size_t i = 0; i < count; i++)
		if (strncmp(environ[i], "SECRET_AGENT_SECRETS=", 21) != 0)
			envp[k++] = environ[i];
	if (asprintf(&envp[k], "SECRET_AGENT_SECRETS=%s", secrets) < 0) {
		free(envp);
		return NULL;
	}
	return envp;
}

static int run_hook(struct notifier *n)
{
	char msg[PATH_MAX + 64];
	char **envp;
	size_t nenv = 0;
	pid_t pid;
	int r = 0;

	if (n->hook_pid > 0) {
		n->hook_again = true;
		log_info("hook_busy", NULL, "%s still runs; it runs again when it ends",
			 n->opts.exec_path);
		return 0;
	}
	envp = hook_environment(n->secrets);
	if (!envp)
		return -ENOMEM;
	pid = fork();
	if (pid == 0)
		exec_hook(n->opts.exec_path, envp);
	while (envp[nenv])
		nenv++;
	free(envp[nenv - 1]);
	free(envp);
	if (pid < 0) {
		r = -errno;
		count_failure(n, "exec");
		log_error("notify_failed", NULL, "cannot start %s: %s", n->opts.exec_path,
			  strerror(-r));
		return r;
	}
	/* Also from here: the hook may not have reached setpgid yet when a timeout fires. */
	setpgid(pid, pid);
	n->hook_pid = pid;
	r = supervisor_track_pid(n->opts.sv, pid, hook_finished, n);
	if (r < 0)
		log_warn("hook_untracked", NULL,
			 "cannot follow %s (pid %d): %s; its exit is not logged", n->opts.exec_path,
			 (int)pid, strerror(-r));
	ev_timer_arm_ms(&n->hook_timeout, n->opts.hook_timeout_ms);
	n->stats.delivered++;
	n->stats.last_pid = pid;
	snprintf(msg, sizeof(msg), "started %s", n->opts.exec_path);
	log_notification(n, "exec", pid, msg);
	return 0;
}

static int deliver(struct notifier *n)
{
	switch (n->opts.kind) {
	case ON_CHANGE_SIGNAL:
		return n->opts.pidfile ? signal_pidfile(n) : signal_child(n);
	case ON_CHANGE_RESTART:
		return restart_child(n);
	case ON_CHANGE_EXEC:
		return run_hook(n);
	case ON_CHANGE_NONE:
		log_notification(n, "none", 0, "files changed; on_change = none notifies nobody");
		return 0;
	}
	return -EINVAL;
}

static void on_retry(struct ev_loop *loop, struct ev_timer *timer, void *ctx)
{
	struct notifier *n = ctx;

	(void)loop;
	(void)timer;
	if (n->retry_attempt)
		deliver(n);
}

int notifier_notify(struct notifier *n, const char *secrets, const char *fingerprints)
{
	n->stats.notifications++;
	snprintf(n->secrets, sizeof(n->secrets), "%s", secrets ? secrets : "");
	snprintf(n->fingerprints, sizeof(n->fingerprints), "%s", fingerprints ? fingerprints : "");
	/* This notification supersedes a pending retry of an earlier one. */
	n->retry_attempt = 0;
	ev_timer_disarm(&n->retry);
	return deliver(n);
}

const struct notifier_stats *notifier_get_stats(const struct notifier *n)
{
	return &n->stats;
}

int notifier_create(struct notifier **out, struct ev_loop *loop, const struct notifier_opts *opts)
{
	struct notifier *n;
	int ret;

	*out = NULL;
	if ((opts->kind == ON_CHANGE_SIGNAL && !opts->sv && !opts->pidfile) ||
	    (opts->kind == ON_CHANGE_RESTART && !opts->sv) ||
	    (opts->kind == ON_CHANGE_EXEC && (!opts->exec_path || !opts->sv)))
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->loop = loop;
	n->opts = *opts;
	if (!n->opts.hook_timeout_ms)
		n->opts.hook_timeout_ms = DEFAULT_HOOK_TIMEOUT_MS;
	n->retry.fd = n->hook_timeout.fd = -1;
	if ((ret = ev_timer_init(loop, &n->retry, CLOCK_MONOTONIC, on_retry, n)) < 0 ||
	    (ret = ev_timer_init(loop, &n->hook_timeout, CLOCK_MONOTONIC, on_hook_timeout, n)) <
		0) {
		notifier_destroy(n);
		return ret;
	}
	*out = n;
	return 0;
}

void notifier_destroy(struct notifier *n)
{
	if (!n)
		return;
	ev_timer_close(&n->retry);
	ev_timer_close(&n->hook_timeout);
	free(n);
}
