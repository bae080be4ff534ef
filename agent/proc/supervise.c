#include "proc/supervise.h"

#include "base/log.h"
#include "base/observe.h"
#include "proc/idle_trim.h"
#include "proc/signals.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A process tree larger than this is signalled in several passes (the SIGKILL pass and the
 * reaping that follows catch what the first one missed). */
#define MAX_DESCENDANTS 1024

enum sv_state {
	SV_IDLE,     /* no child started yet */
	SV_RUNNING,  /* the main child runs */
	SV_STOPPING, /* SIGTERM sent (restart or shutdown), grace timer armed */
	SV_DRAINING, /* the main child is gone; other descendants get SIGTERM, grace, SIGKILL */
	SV_DONE,
};

struct tracked_pid {
	pid_t pid; /* 0: free slot */
	supervisor_exit_cb on_exit;
	void *ctx;
};

struct supervisor {
	struct ev_loop *loop;
	struct supervisor_opts opts;
	const struct child_spec *spec; /* NULL: no child (watch) */
	int sigfd;
	struct ev_timer grace;	    /* restart/shutdown grace, then the descendants' grace */
	struct ev_timer kill_after; /* SIGKILL a child that ignored a forwarded SIGTERM */
	bool is_pid1;
	enum sv_state state;
	bool restart_after_stop;
	bool descendants_signalled;
	bool descendants_killed;
	pid_t child;
	pid_t last_child; /* the main child that exited: its process group may live on */
	int exit_code;
	bool exit_code_forced;
	struct tracked_pid tracked[SUPERVISOR_MAX_TRACKED];
};

static void log_pid_event(enum log_level level, const char *event, pid_t pid, const char *key,
			  const char *value, const char *msg)
{
	char pidbuf[24];

	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)pid);
	log_event(level, event, NULL, (const char *[]){"pid", pidbuf, key, value, NULL}, "%s",
		  msg ? msg : "");
}

int supervisor_signal_child(struct supervisor *sv, int sig)
{
	if (!sv || sv->child <= 0)
		return -ESRCH;
	/* The child called setsid(), so its pid is also its process group id; should it have
	 * left that group since, the child itself still gets the signal. */
	if (sv->opts.signal_group && kill(-sv->child, sig) == 0)
		return 0;
	if (kill(sv->child, sig) < 0)
		return -errno;
	return 0;
}

int supervisor_track_pid(struct supervisor *sv, pid_t pid, supervisor_exit_cb on_exit, void *ctx)
{
	for (int i = 0; i < SUPERVISOR_MAX_TRACKED; i++) {
		if (sv->tracked[i].pid == 0) {
			sv->tracked[i] =
			    (struct tracked_pid){.pid = pid, .on_exit = on_exit, .ctx = ctx};
			return 0;
		}
	}
	return -ENOSPC;
}

static int start_child(struct supervisor *sv, struct agent_error *err)
{
	struct child_result res;
	char codebuf[16];
	int r;

	r = child_spawn(sv->spec, &res, err);
	if (r < 0) {
		log_error("child_start_failed", NULL, "%s", err->msg);
		err->reported = true;
		return r;
	}
	sv->child = res.pid;
	sv->state = SV_RUNNING;
	if (res.failed == CHILD_OK) {
		log_pid_event(LOG_INFO, "child_started", res.pid, "command", sv->spec->argv[0],
			      NULL);
		return 0;
	}
	/* The child exits with res.exit_code; the reaper turns that into the agent's exit. */
	snprintf(codebuf, sizeof(codebuf), "%d", res.exit_code);
	if (res.failed == CHILD_FAILED_EXEC)
		log_event(LOG_ERROR, "exec_failed", NULL,
			  (const char *[]){"command", sv->spec->argv[0], "code", codebuf, NULL},
			  "cannot execute %s: %s", sv->spec->argv[0], strerror(res.error));
	else if (res.failed == CHILD_FAILED_PRIVDROP)
		log_event(LOG_ERROR, "child_privdrop_failed", NULL,
			  (const char *[]){"code", codebuf, NULL},
			  "the child still held privileges before exec (%s): not started",
			  strerror(res.error));
	else
		log_event(LOG_ERROR, "child_setup_failed", NULL,
			  (const char *[]){"code", codebuf, NULL},
			  "cannot prepare the child before exec: %s", strerror(res.error));
	return 0;
}

int supervisor_start(struct supervisor *sv, struct agent_error *err)
{
	return start_child(sv, err);
}

/* Our direct children and all their descendants, breadth first, read from
 * /proc/PID/task/TID/children (orphans are reparented to us as subreaper, so this is the
 * whole tree). Returns how many pids were stored. */
static size_t collect_descendants(pid_t *pids, size_t max)
{
	size_t n = 0;
	pid_t parent = getpid();

	for (size_t next = 0;; parent = pids[next++]) {
		char path[64];
		DIR *tasks;
		struct dirent *de;

		snprintf(path, sizeof(path), "/proc/%ld/task", (long)parent);
		tasks = opendir(path);
		if (tasks) {
			while ((de = readdir(tasks)) != NULL && n < max) {
				char cpath[384], buf[4096];
				ssize_t len;
				int fd;

				if (de->d_name[0] == '.')
					continue;
				snprintf(cpath, sizeof(cpath), "/proc/%ld/task/%s/children",
					 (long)parent, de->d_name);
				fd = open(cpath, O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					continue;
				len = read(fd, buf, sizeof(buf) - 1);
				close(fd);
				if (len <= 0)
					continue;
				buf[len] = '\0';
				for (char *p = buf, *end; *p && n < max; p = end) {
					long v = strtol(p, &end, 10);
					if (end == p)
						break;
					if (v > 0)
						pids[n++] = (pid_t)v;
				}
			}
			closedir(tasks);
		}
		if (next >= n)
			break;
	}
	return n;
}

static void signal_descendants(struct supervisor *sv, int sig)
{
	pid_t pids[MAX_DESCENDANTS];
	size_t n;

	/* As PID 1 of a namespace, kill(-1) reaches exactly the container's processes. Anywhere
	 * else it would reach every process of the user, so walk our own tree instead. */
	if (sv->is_pid1) {
		kill(-1, sig);
		return;
	}
	/* The main child's process group first: it needs no /proc. */
	if (sv->last_child > 0)
		kill(-sv->last_child, sig);
	n = collect_descendants(pids, MAX_DESCENDANTS);
	for (size_t i = 0; i < n; i++)
		kill(pids[i], sig);
}

static void finish(struct supervisor *sv)
{
	ev_timer_disarm(&sv->grace);
	ev_timer_disarm(&sv->kill_after);
	sv->state = SV_DONE;
	ev_stop(sv->loop);
}

static void on_main_exit(struct supervisor *sv, int wstatus)
{
	char codebuf[16], pidbuf[24], signame[32];
	int code = agent_exit_code(AGENT_FAIL_SOFTWARE);

	if (WIFEXITED(wstatus))
		code = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		code = 128 + WTERMSIG(wstatus);
	snprintf(codebuf, sizeof(codebuf), "%d", code);
	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)sv->child);
	signame[0] = '\0';
	if (WIFSIGNALED(wstatus))
		signals_name(WTERMSIG(wstatus), signame, sizeof(signame));
	log_event(LOG_INFO, "child_exited", NULL,
		  (const char *[]){"pid", pidbuf, "code", codebuf, signame[0] ? "signal" : NULL,
				   signame, NULL},
		  "%s", "");
	sv->last_child = sv->child;
	sv->child = 0;
	ev_timer_disarm(&sv->kill_after);
	if (sv->state == SV_STOPPING && sv->restart_after_stop) {
		sv->restart_after_stop = false;
		ev_timer_disarm(&sv->grace);
		struct agent_error err;

		if (start_child(sv, &err) == 0) {
			observe_child_restarted(sv->child);
			return;
		}
		code = agent_exit_code(err.failure);
		sv->exit_code_forced = false;
	}
	if (!sv->exit_code_forced)
		sv->exit_code = code;
	ev_timer_disarm(&sv->grace);
	sv->state = SV_DRAINING;
}

static bool deliver_tracked(struct supervisor *sv, pid_t pid, int wstatus)
{
	for (int i = 0; i < SUPERVISOR_MAX_TRACKED; i++) {
		if (sv->tracked[i].pid == pid) {
			struct tracked_pid t = sv->tracked[i];
			sv->tracked[i].pid = 0;
			t.on_exit(pid, wstatus, t.ctx);
			return true;
		}
	}
	return false;
}

static void reap_children(struct supervisor *sv)
{
	bool none_left = false;

	for (;;) {
		int wstatus;
		pid_t pid = waitpid(-1, &wstatus, WNOHANG);

		if (pid == 0)
			break;
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			none_left = (errno == ECHILD);
			break;
		}
		if (sv->child > 0 && pid == sv->child)
			on_main_exit(sv, wstatus);
		else if (!deliver_tracked(sv, pid, wstatus))
			log_pid_event(LOG_DEBUG, "orphan_reaped", pid, NULL, NULL, NULL);
	}
	if (sv->state != SV_DRAINING)
		return;
	if (none_left) {
		finish(sv);
		return;
	}
	if (!sv->descendants_signalled) {
		sv->descendants_signalled = true;
		log_info("descendants_terminating", NULL,
			 "the main child is gone: SIGTERM to the processes it left");
		signal_descendants(sv, SIGTERM);
		ev_timer_arm_ms(&sv->grace, sv->opts.grace_ms);
	}
}

static void forward_signal(struct supervisor *sv, const struct signalfd_siginfo *si)
{
	char name[32];
	int sig = (int)si->ssi_signo;
	int r;

	signals_name(sig, name, sizeof(name));
	if (sv->state != SV_RUNNING && sv->state != SV_STOPPING) {
		log_event(LOG_DEBUG, "signal_ignored", NULL, (const char *[]){"signal", name, NULL},
			  "no child to forward to");
		return;
	}
	r = supervisor_signal_child(sv, sig);
	if (r < 0) {
		log_event(LOG_WARN, "signal_forward_failed", NULL,
			  (const char *[]){"signal", name, NULL}, "%s", strerror(-r));
		return;
	}
	log_pid_event(LOG_INFO, "signal_forwarded", sv->child, "signal", name, NULL);
	if (sig == SIGTERM && sv->opts.kill_after_ms > 0) {
		if (!sv->kill_after.armed)
			ev_timer_arm_ms(&sv->kill_after, sv->opts.kill_after_ms);
	}
}

static void on_signalfd(struct ev_loop *loop, int fd, uint32_t events, void *ctx)
{
	struct supervisor *sv = ctx;
	struct signalfd_siginfo si;

	(void)loop;
	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;
		char name[32];

		if (sig == SIGCHLD) {
			reap_children(sv);
		} else if (!sv->spec) {
			/* watch: no child to forward to; these three end it. */
			if (sig != SIGTERM && sig != SIGINT && sig != SIGQUIT)
				continue;
			log_info("watch_stopping", NULL, "received %s",
				 signals_name(sig, name, sizeof(name)));
			sv->exit_code = 0;
			finish(sv);
		} else if (si.ssi_code == SI_USER && (pid_t)si.ssi_pid == getpid())
			/* The agent's own doing, e.g. SIGPIPE from a log write to a closed stderr:
			 * not meant for the service. */
			continue;
		else
			forward_signal(sv, &si);
	}
}

static void kill_child(struct supervisor *sv, const char *reason)
{
	if (sv->child <= 0)
		return;
	log_pid_event(LOG_WARN, "child_killed", sv->child, "reason", reason, NULL);
	kill(-sv->child, SIGKILL);
	kill(sv->child, SIGKILL);
}

static void on_grace(struct ev_loop *loop, struct ev_timer *timer, void *ctx)
{
	struct supervisor *sv = ctx;

	(void)loop;
	(void)timer;
	if (sv->state == SV_STOPPING) {
		kill_child(sv, "grace");
	} else if (sv->state == SV_DRAINING && !sv->descendants_killed) {
		sv->descendants_killed = true;
		log_warn("descendants_killed", NULL, "grace period over: SIGKILL to what is left");
		signal_descendants(sv, SIGKILL);
		/* SIGKILL cannot be refused; this only bounds a process stuck in the kernel. */
		ev_timer_arm_ms(&sv->grace, sv->opts.grace_ms);
	} else if (sv->state == SV_DRAINING) {
		log_warn("descendants_left", NULL, "processes survived SIGKILL: exiting anyway");
		finish(sv);
	}
}

static void on_kill_after(struct ev_loop *loop, struct ev_timer *timer, void *ctx)
{
	struct supervisor *sv = ctx;

	(void)loop;
	(void)timer;
	if (sv->state == SV_RUNNING || sv->state == SV_STOPPING)
		kill_child(sv, "kill_after");
}

static void begin_stop(struct supervisor *sv)
{
	sv->state = SV_STOPPING;
	if (supervisor_signal_child(sv, SIGTERM) < 0)
		kill(sv->child, SIGTERM);
	ev_timer_arm_ms(&sv->grace, sv->opts.grace_ms);
}

int supervisor_restart_child(struct supervisor *sv)
{
	if (!sv || sv->child <= 0)
		return -ESRCH;
	if (sv->state != SV_RUNNING)
		return sv->state == SV_STOPPING ? 0 : -ESRCH;
	log_pid_event(LOG_INFO, "child_restarting", sv->child, NULL, NULL, NULL);
	sv->restart_after_stop = true;
	begin_stop(sv);
	return 0;
}

void supervisor_shutdown(struct supervisor *sv, int exit_status)
{
	sv->exit_code = exit_status;
	sv->exit_code_forced = true;
	sv->restart_after_stop = false;
	if (sv->state == SV_RUNNING)
		begin_stop(sv);
	else if (sv->state == SV_IDLE)
		finish(sv);
}

/* How long after the child starts the agent waits before giving back its startup-only pages.
 * The trim unmaps a few MiB (TLB shootdowns, page-table work): done at once it competed with
 * the service's own start for the CPU; a service that ends sooner never pays for it. */
#define IDLE_TRIM_DELAY_MS 300

int supervisor_run(struct supervisor *sv)
{
	uint64_t trim_at = ev_now_ms() + IDLE_TRIM_DELAY_MS;
	bool trimmed = false;

	while (sv->state != SV_DONE) {
		/* Until the trim is done the wait is bounded by its deadline; the trim runs at the
		 * first moment after it with nothing pending, then the agent sleeps without a
		 * timeout for the service's lifetime (no idle wakeups). */
		uint64_t now = trimmed ? 0 : ev_now_ms();
		int timeout = trimmed ? -1 : now >= trim_at ? 0 : (int)(trim_at - now);
		int r = ev_run_once(sv->loop, timeout);

		if (r < 0) {
			log_error("event_loop_failed", NULL, "%s", strerror(-r));
			return agent_exit_code(AGENT_FAIL_SOFTWARE);
		}
		if (r == 0 && !trimmed && ev_now_ms() >= trim_at) {
			trimmed = true;
			log_event(LOG_DEBUG, "idle_trim", NULL, NULL,
				  "released %zu KiB of startup-only pages", idle_trim_memory());
		}
	}
	return sv->exit_code;
}

int supervisor_create(struct supervisor **out, struct ev_loop *loop,
		      const struct supervisor_opts *opts, const struct child_spec *spec, int sigfd,
		      struct agent_error *err)
{
	struct supervisor *sv = calloc(1, sizeof(*sv));
	int r;

	*out = NULL;
	if (!sv) {
		close(sigfd);
		return agent_error_set(err, AGENT_FAIL_SOFTWARE, -ENOMEM, "out of memory");
	}
	sv->loop = loop;
	sv->opts = *opts;
	sv->spec = spec;
	sv->sigfd = sigfd;
	sv->state = SV_IDLE;
	sv->is_pid1 = (getpid() == 1);
	sv->grace.fd = sv->kill_after.fd = -1;
	/* Outside PID 1 the service's orphans would go to the real init and never be reaped by
	 * us; as subreaper they come here. */
	if (spec && !sv->is_pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		r = agent_error_set(err, AGENT_FAIL_SOFTWARE, -errno,
				    "cannot become child subreaper: %s", strerror(errno));
		goto fail;
	}
	r = ev_timer_init(loop, &sv->grace, CLOCK_MONOTONIC, on_grace, sv);
	if (r == 0)
		r = ev_timer_init(loop, &sv->kill_after, CLOCK_MONOTONIC, on_kill_after, sv);
	if (r < 0) {
		agent_error_set(err, AGENT_FAIL_SOFTWARE, r, "cannot create timers: %s",
				strerror(-r));
		goto fail;
	}
	r = ev_add(loop, sigfd, EPOLLIN, on_signalfd, sv);
	if (r < 0) {
		agent_error_set(err, AGENT_FAIL_SOFTWARE, r,
				"cannot register with the event loop: %s", strerror(-r));
		goto fail;
	}
	*out = sv;
	return 0;
fail:
	supervisor_destroy(sv);
	return r;
}

void supervisor_destroy(struct supervisor *sv)
{
	if (!sv)
		return;
	ev_del_close(sv->loop, &sv->sigfd);
	ev_timer_close(&sv->grace);
	ev_timer_close(&sv->kill_after);
	free(sv);
}
