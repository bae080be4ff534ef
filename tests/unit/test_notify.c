/* notify: signals reach the pid the pidfile names at that moment (and only it), a stale pid is
 * retried until a live one appears, exec: hooks run with the changed names, are timed out and
 * coalesced, hooks are reaped by the supervisor (the one reaper), and run-mode notifications
 * signal or restart the supervised child. */
/* cmocka needs these three first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "base/event_loop.h"
#include "base/log.h"
#include "proc/signals.h"
#include "proc/supervise.h"
#include "secrets/notify.h"
#include "test_files.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The signal state before the first supervisor blocked everything: what children get back. */
static struct inherited_state inherited;

struct fixture {
	char dir[64];
	char pidfile[96];
	struct ev_loop loop;
	struct supervisor *sv; /* the reaper, as in watch: no child */
};

/* A process that reports every SIGHUP it receives as one byte on a pipe. */
struct listener {
	pid_t pid;
	int fd; /* read end */
};

static void start_listener(struct listener *l)
{
	int p[2];
	sigset_t hup;

	assert_int_equal(pipe(p), 0);
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	l->pid = fork();
	assert_true(l->pid >= 0);
	if (l->pid == 0) {
		int sig;

		close(p[0]);
		sigprocmask(SIG_BLOCK, &hup, NULL);
		/* Ready: the parent may signal from now on. */
		if (write(p[1], "R", 1) != 1)
			_exit(1);
		for (;;) {
			if (sigwait(&hup, &sig) == 0 && write(p[1], "H", 1) != 1)
				_exit(1);
		}
	}
	close(p[1]);
	l->fd = p[0];
	{
		char c = 0;
		assert_int_equal(read(l->fd, &c, 1), 1);
		assert_int_equal(c, 'R');
	}
}

static void stop_listener(struct listener *l)
{
	kill(l->pid, SIGKILL);
	waitpid(l->pid, NULL, 0);
	close(l->fd);
}

/* Counts the SIGHUPs a listener reported within `ms`. */
static int hups_within(struct listener *l, int ms)
{
	struct pollfd pfd = {.fd = l->fd, .events = POLLIN};
	int count = 0;
	char c;

	while (poll(&pfd, 1, ms) == 1 && read(l->fd, &c, 1) == 1) {
		if (c == 'H')
			count++;
		ms = 100;
	}
	return count;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	ut_write_text(path, text, mode);
	assert_int_equal(chmod(path, mode), 0);
}

static void write_pid(const char *path, pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	write_text(path, buf, 0644);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(ut_tmpdir_make(fx->dir, sizeof(fx->dir), "notify-test"), 0);
	snprintf(fx->pidfile, sizeof(fx->pidfile), "%s/service.pid", fx->dir);
	assert_int_equal(ev_init(&fx->loop), 0);
	{
		struct supervisor_opts sopts = {.grace_ms = 1000};
		struct agent_error err;
		int sigfd = signals_take_over(&inherited);

		assert_true(sigfd >= 0);
		assert_int_equal(supervisor_create(&fx->sv, &fx->loop, &sopts, NULL, sigfd, &err),
				 0);
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	supervisor_destroy(fx->sv);
	ev_close(&fx->loop);
	assert_int_equal(ut_tmpdir_remove(fx->dir), 0);
	free(fx);
	return 0;
}

static void run_loop_until(struct fixture *fx, const unsigned *counter, unsigned want, int ms)
{
	uint64_t deadline = ev_now_ms() + (uint64_t)ms;

	while (*counter < want && ev_now_ms() < deadline)
		ev_run_once(&fx->loop, 50);
}

static void pidfile_parsing(void **state)
{
	struct fixture *fx = *state;
	pid_t pid = 0;
	char own[32];

	write_text(fx->pidfile, " 4242\n", 0644);
	assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, NULL, 0), 0);
	assert_int_equal(pid, 4242);
	write_text(fx->pidfile, "42x\n", 0644);
	assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, NULL, 0), -EINVAL);
	write_text(fx->pidfile, "0\n", 0644);
	assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, NULL, 0), -EINVAL);
	write_text(fx->pidfile, "-1\n", 0644);
	assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, NULL, 0), -EINVAL);
	write_text(fx->pidfile, "", 0644);
	assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, NULL, 0), -EINVAL);
	snprintf(own, sizeof(own), "%d", (int)getpid());
	write_text(fx->pidfile, own, 0644);
	assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, NULL, 0), -EINVAL);
	unlink(fx->pidfile);
	assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, NULL, 0), -ENOENT);
}

/* Whoever can write the pidfile picks whom the agent signals: only a regular file of root or
 * of our own uid, not writable by everyone, reached without following a final link. */
static void pidfile_that_anyone_could_plant_is_refused(void **state)
{
	struct fixture *fx = *state;
	char real[160], why[128];
	pid_t pid = 0;

	snprintf(real, sizeof(real), "%s/real.pid", fx->dir);
	write_text(real, "4242\n", 0644);
	assert_int_equal(symlink(real, fx->pidfile), 0);
	why[0] = '\0';
	assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "symbolic link"));
	assert_int_equal(pid, 0);
	unlink(fx->pidfile);

	/* A FIFO nobody writes to: refused at once instead of blocking in open or read. */
	assert_int_equal(mkfifo(fx->pidfile, 0644), 0);
	assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "not a regular file"));
	unlink(fx->pidfile);

	write_text(fx->pidfile, "4242\n", 0644);
	assert_int_equal(chmod(fx->pidfile, 0666), 0);
	assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable by everyone"));
	assert_int_equal(chmod(fx->pidfile, 0644), 0);

	if (geteuid() == 0) {
		assert_int_equal(chown(fx->pidfile, 4242, 4242), 0);
		assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, why, sizeof(why)), -EPERM);
		assert_non_null(strstr(why, "uid 4242"));
		assert_int_equal(chown(fx->pidfile, 0, 0), 0);
	}
	assert_int_equal(notify_read_pidfile(fx->pidfile, &pid, why, sizeof(why)), 0);
	assert_int_equal(pid, 4242);
}

static void pidfile_is_read_at_every_notification(void **state)
{
	struct fixture *fx = *state;
	struct listener a, b;
	struct notifier *n;
	struct notifier_opts opts = {
	    .kind = ON_CHANGE_SIGNAL, .sig = SIGHUP, .pidfile = fx->pidfile};

	start_listener(&a);
	start_listener(&b);
	assert_int_equal(notifier_create(&n, &fx->loop, &opts), 0);
	write_pid(fx->pidfile, a.pid);
	assert_int_equal(notifier_notify(n, "signing_key", "signing_key:ab12"), 0);
	assert_int_equal(hups_within(&a, 2000), 1);
	assert_int_equal(hups_within(&b, 100), 0);

	write_pid(fx->pidfile, b.pid);
	assert_int_equal(notifier_notify(n, "signing_key", "signing_key:cd34"), 0);
	assert_int_equal(hups_within(&b, 2000), 1);
	assert_int_equal(hups_within(&a, 200), 0);
	assert_int_equal(notifier_get_stats(n)->delivered, 2);
	assert_int_equal(notifier_get_stats(n)->last_pid, b.pid);

	notifier_destroy(n);
	stop_listener(&a);
	stop_listener(&b);
}

static void stale_pid_is_retried_until_a_live_one_appears(void **state)
{
	struct fixture *fx = *state;
	struct listener live;
	struct notifier *n;
	struct notifier_opts opts = {
	    .kind = ON_CHANGE_SIGNAL, .sig = SIGHUP, .pidfile = fx->pidfile};
	pid_t dead = fork();

	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	write_pid(fx->pidfile, dead);
	assert_int_equal(notifier_create(&n, &fx->loop, &opts), 0);
	/* Scheduled for a retry: not delivered yet, not an error either. */
	assert_int_equal(notifier_notify(n, "root_ca", ""), 0);
	assert_int_equal(notifier_get_stats(n)->delivered, 0);
	assert_true(notifier_get_stats(n)->failed >= 1);

	start_listener(&live);
	write_pid(fx->pidfile, live.pid);
	run_loop_until(fx, &notifier_get_stats(n)->delivered, 1, 5000);
	assert_int_equal(notifier_get_stats(n)->delivered, 1);
	assert_int_equal(hups_within(&live, 2000), 1);

	notifier_destroy(n);
	stop_listener(&live);
}

static void missing_pidfile_is_retried(void **state)
{
	struct fixture *fx = *state;
	struct listener live;
	struct notifier *n;
	struct notifier_opts opts = {
	    .kind = ON_CHANGE_SIGNAL, .sig = SIGHUP, .pidfile = fx->pidfile};

	unlink(fx->pidfile);
	assert_int_equal(notifier_create(&n, &fx->loop, &opts), 0);
	assert_int_equal(notifier_notify(n, "root_ca", ""), 0);
	assert_int_equal(notifier_get_stats(n)->delivered, 0);
	start_listener(&live);
	write_pid(fx->pidfile, live.pid);
	run_loop_until(fx, &notifier_get_stats(n)->delivered, 1, 5000);
	assert_int_equal(hups_within(&live, 2000), 1);
	notifier_destroy(n);
	stop_listener(&live);
}

static void hook_runs_with_the_changed_names_and_its_status_is_kept(void **state)
{
	struct fixture *fx = *state;
	char hook[128], outfile[128], script[512], got[128] = {0};
	struct notifier *n;
	struct notifier_opts opts = {.kind = ON_CHANGE_EXEC, .exec_path = hook, .sv = fx->sv};
	FILE *f;

	snprintf(hook, sizeof(hook), "%s/hook.sh", fx->dir);
	snprintf(outfile, sizeof(outfile), "%s/hook.out", fx->dir);
	snprintf(script, sizeof(script),
		 "#!/bin/sh\nprintf '%%s' \"$SECRET_AGENT_SECRETS\" > %s\nexit 3\n", outfile);
	write_text(hook, script, 0755);
	assert_int_equal(notifier_create(&n, &fx->loop, &opts), 0);
	assert_int_equal(notifier_notify(n, "signing_key,root_ca", ""), 0);
	run_loop_until(fx, &notifier_get_stats(n)->hooks_finished, 1, 10000);
	assert_int_equal(notifier_get_stats(n)->hooks_finished, 1);
	assert_true(WIFEXITED(notifier_get_stats(n)->last_hook_wstatus));
	assert_int_equal(WEXITSTATUS(notifier_get_stats(n)->last_hook_wstatus), 3);
	f = fopen(outfile, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "signing_key,root_ca");
	notifier_destroy(n);
}

static void hook_over_its_time_bound_is_killed(void **state)
{
	struct fixture *fx = *state;
	char hook[128];
	struct notifier *n;
	struct notifier_opts opts = {
	    .kind = ON_CHANGE_EXEC, .exec_path = hook, .hook_timeout_ms = 200, .sv = fx->sv};

	snprintf(hook, sizeof(hook), "%s/slow.sh", fx->dir);
	write_text(hook, "#!/bin/sh\nsleep 60\n", 0755);
	assert_int_equal(notifier_create(&n, &fx->loop, &opts), 0);
	assert_int_equal(notifier_notify(n, "k", ""), 0);
	run_loop_until(fx, &notifier_get_stats(n)->hooks_finished, 1, 20000);
	assert_int_equal(notifier_get_stats(n)->hooks_finished, 1);
	assert_true(WIFSIGNALED(notifier_get_stats(n)->last_hook_wstatus));
	assert_int_equal(WTERMSIG(notifier_get_stats(n)->last_hook_wstatus), SIGKILL);
	notifier_destroy(n);
}

static void changes_during_a_hook_coalesce_into_one_more_run(void **state)
{
	struct fixture *fx = *state;
	char hook[128];
	struct notifier *n;
	struct notifier_opts opts = {.kind = ON_CHANGE_EXEC, .exec_path = hook, .sv = fx->sv};

	snprintf(hook, sizeof(hook), "%s/busy.sh", fx->dir);
	write_text(hook, "#!/bin/sh\nsleep 0.3\n", 0755);
	assert_int_equal(notifier_create(&n, &fx->loop, &opts), 0);
	assert_int_equal(notifier_notify(n, "a", ""), 0);
	/* Coalesced into one more run after the first. */
	assert_int_equal(notifier_notify(n, "b", ""), 0);
	assert_int_equal(notifier_notify(n, "c", ""), 0);
	assert_int_equal(notifier_get_stats(n)->delivered, 1);
	run_loop_until(fx, &notifier_get_stats(n)->hooks_finished, 3, 5000);
	assert_int_equal(notifier_get_stats(n)->hooks_finished, 2);
	assert_int_equal(notifier_get_stats(n)->delivered, 2);
	notifier_destroy(n);
}

/* A supervisor with a real child (`sleep 30`), as run has. */
static struct supervisor *supervise_sleep(struct fixture *fx, struct child_spec *spec,
					  struct privdrop_plan *plan)
{
	static char *argv[] = {"sleep", "30", NULL};
	struct supervisor_opts sopts = {.grace_ms = 1000};
	struct supervisor *sv;
	struct agent_error err;
	int sigfd = signals_take_over(&inherited);

	assert_true(sigfd >= 0);
	memset(plan, 0, sizeof(*plan));
	plan->uid = getuid();
	plan->gid = getgid();
	*spec = (struct child_spec){.argv = argv, .inherited = &inherited, .plan = plan};
	/* As run does before starting the child (ids stay: no_new_privs, no inheritable caps). */
	assert_int_equal(privdrop_agent(plan, &err), 0);
	assert_int_equal(supervisor_create(&sv, &fx->loop, &sopts, spec, sigfd, &err), 0);
	assert_int_equal(supervisor_start(sv, &err), 0);
	return sv;
}

static void run_mode_goes_to_the_supervisor(void **state)
{
	struct fixture *fx = *state;
	struct child_spec spec;
	struct privdrop_plan plan;
	struct notifier_opts sig_opts = {.kind = ON_CHANGE_SIGNAL, .sig = SIGUSR2};
	struct notifier_opts restart_opts = {.kind = ON_CHANGE_RESTART};
	struct notifier_opts none_opts = {.kind = ON_CHANGE_NONE};
	struct notifier *n;
	uint64_t deadline;

	/* One reaper per process: this test's supervisors have a child. */
	supervisor_destroy(fx->sv);
	fx->sv = NULL;

	sig_opts.sv = supervise_sleep(fx, &spec, &plan);
	assert_int_equal(notifier_create(&n, &fx->loop, &sig_opts), 0);
	assert_int_equal(notifier_notify(n, "k", "k:00"), 0);
	assert_int_equal(notifier_get_stats(n)->delivered, 1);
	/* SIGUSR2 ends `sleep`; once the reaper has collected it there is nobody to signal. */
	assert_int_equal(supervisor_run(sig_opts.sv), 128 + SIGUSR2);
	assert_int_equal(notifier_notify(n, "k", "k:00"), -ESRCH);
	assert_int_equal(notifier_get_stats(n)->failed, 1);
	notifier_destroy(n);
	supervisor_destroy(sig_opts.sv);

	restart_opts.sv = supervise_sleep(fx, &spec, &plan);
	assert_int_equal(notifier_create(&n, &fx->loop, &restart_opts), 0);
	assert_int_equal(notifier_notify(n, "k", ""), 0);
	assert_int_equal(notifier_get_stats(n)->delivered, 1);
	/* The restarted child runs again: signalling it works after the old one was reaped. */
	deadline = ev_now_ms() + 3000;
	while (ev_now_ms() < deadline)
		ev_run_once(&fx->loop, 100);
	assert_int_equal(supervisor_signal_child(restart_opts.sv, 0), 0);
	notifier_destroy(n);

	none_opts.sv = restart_opts.sv;
	assert_int_equal(notifier_create(&n, &fx->loop, &none_opts), 0);
	assert_int_equal(notifier_notify(n, "k", ""), 0);
	assert_int_equal(notifier_get_stats(n)->delivered, 0);
	assert_int_equal(supervisor_signal_child(none_opts.sv, 0), 0);
	notifier_destroy(n);
	supervisor_shutdown(restart_opts.sv, 0);
	assert_int_equal(supervisor_run(restart_opts.sv), 0);
	supervisor_destroy(restart_opts.sv);
}

static void signal_without_a_target_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct notifier *n = NULL;
	struct notifier_opts opts = {.kind = ON_CHANGE_SIGNAL, .sig = SIGHUP};
	struct notifier_opts hook = {.kind = ON_CHANGE_EXEC, .exec_path = "/bin/true"};

	assert_int_equal(notifier_create(&n, &fx->loop, &opts), -EINVAL);
	assert_null(n);
	/* A hook nobody would reap is refused too. */
	assert_int_equal(notifier_create(&n, &fx->loop, &hook), -EINVAL);
	assert_null(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(pidfile_parsing, setup, teardown),
	    cmocka_unit_test_setup_teardown(pidfile_that_anyone_could_plant_is_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(pidfile_is_read_at_every_notification, setup, teardown),
	    cmocka_unit_test_setup_teardown(stale_pid_is_retried_until_a_live_one_appears, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(missing_pidfile_is_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(hook_runs_with_the_changed_names_and_its_status_is_kept,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(hook_over_its_time_bound_is_killed, setup, teardown),
	    cmocka_unit_test_setup_teardown(changes_during_a_hook_coalesce_into_one_more_run, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(run_mode_goes_to_the_supervisor, setup, teardown),
	    cmocka_unit_test_setup_teardown(signal_without_a_target_is_refused, setup, teardown),
	};

	log_setup(LOG_FORMAT_TEXT, LOG_ERROR);
	signals_record_inherited(&inherited, 077);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
