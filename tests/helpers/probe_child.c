/* A stand-in service for the run/supervision tests. It reports what it inherited on stdout
 * (one "key: value" per line) and then behaves as asked:
 *
 *   probe_child report              status lines, ids, fds, env names, setuid(0) result
 *   probe_child report-sleep        report, then "ready" and sleep until a signal ends it
 *   probe_child exit N              exit with N
 *   probe_child raise SIG           die of signal SIG (default action, unblocked)
 *   probe_child signals S1,S2,...   print "ready", then "got N" per signal received (all
 *                                   blocked and read with sigwaitinfo), exit 0 after the list
 *   probe_child orphans N           leave N grandchildren that exit 1 s later as orphans,
 *                                   print "orphans: N", then wait for any signal and exit 0
 *   probe_child leave-stubborn PIDFILE  leave a grandchild that ignores SIGTERM (pid written to
 *                                   PIDFILE), then exit 7
 *   probe_child ignore-term         ignore SIGTERM, print "ready", sleep until killed
 *   probe_child sleep               print "ready", sleep until a signal ends it
 *
 * Environment values are never printed (they may be secrets): only names, and HOME and
 * LISTEN_* which the tests check.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void report_status(void)
{
	static const char *const keys[] = {
	    "Uid:",    "Gid:",	  "Groups:",	 "CapInh:", "CapPrm:", "CapEff:",
	    "CapBnd:", "CapAmb:", "NoNewPrivs:", "SigBlk:", "SigIgn:"};
	char line[512];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f) {
		printf("status: unreadable\n");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strncmp(line, keys[i], strlen(keys[i])) == 0) {
				char *v = line + strlen(keys[i]);
				v += strspn(v, " \t");
				printf("status.%.*s: %s", (int)strlen(keys[i]) - 1, keys[i], v);
				if (!strchr(v, '\n'))
					printf("\n");
			}
		}
	}
	fclose(f);
}

static void report_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[64], target[256];
		int fd;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		printf("fd: %d %s\n", fd, target);
	}
	closedir(d);
}

static void report(void)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	printf("pid: %ld\nppid: %ld\npgid: %ld\nsid: %ld\n", (long)getpid(), (long)getppid(),
	       (long)getpgid(0), (long)getsid(0));
	printf("uids: %u %u %u\ngids: %u %u %u\n", ru, eu, su, rg, eg, sg);
	printf("umask: %04o\n", (unsigned)umask(0));
	report_status();
	report_fds();
	for (char **e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		int len = eq ? (int)(eq - *e) : (int)strlen(*e);
		printf("env: %.*s\n", len, *e);
	}
	printf("HOME: %s\n", getenv("HOME") ? getenv("HOME") : "(unset)");
	printf("LISTEN_PID: %s\n", getenv("LISTEN_PID") ? getenv("LISTEN_PID") : "(unset)");
	printf("LISTEN_FDS: %s\n", getenv("LISTEN_FDS") ? getenv("LISTEN_FDS") : "(unset)");
	errno = 0;
	if (setuid(0) == 0)
		printf("setuid0: succeeded\n");
	else
		printf("setuid0: %s\n", errno == EPERM ? "EPERM" : strerror(errno));
	fflush(stdout);
}

static int wait_signals(const char *list)
{
	int want[64], nwant = 0, got = 0;
	char *copy = strdup(list), *save = NULL;
	sigset_t all;

	for (char *t = strtok_r(copy, ",", &save); t && nwant < 64; t = strtok_r(NULL, ",", &save))
		want[nwant++] = atoi(t);
	free(copy);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	printf("ready\n");
	fflush(stdout);
	while (got < nwant) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		printf("got %d\n", sig);
		fflush(stdout);
		for (int i = 0; i < nwant; i++) {
			if (want[i] == sig) {
				want[i] = -1;
				got++;
			}
		}
	}
	return 0;
}

static int leave_orphans(int n)
{
	pid_t middle = fork();
	sigset_t all;
	int sig;

	if (middle == 0) {
		for (int i = 0; i < n; i++) {
			if (fork() == 0) {
				usleep(1000000);
				_exit(0);
			}
		}
		_exit(0);
	}
	waitpid(middle, NULL, 0);
	printf("orphans: %d\n", n);
	fflush(stdout);
	sigfillset(&all);
	sigdelset(&all, SIGCHLD);
	sigprocmask(SIG_SETMASK, &all, NULL);
	sigwait(&all, &sig);
	return 0;
}

static int leave_stubborn(const char *pidfile)
{
	pid_t pid;

	/* Ignored before the fork: the agent's SIGTERM may come before the grandchild runs. */
	signal(SIGTERM, SIG_IGN);
	pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	FILE *f = fopen(pidfile, "w");
	if (f) {
		fprintf(f, "%ld\n", (long)pid);
		fclose(f);
	}
	return 7;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "report";

	if (strcmp(mode, "report") == 0) {
		report();
		return 0;
	}
	if (strcmp(mode, "report-sleep") == 0) {
		report();
		mode = "sleep";
	}
	if (strcmp(mode, "exit") == 0 && argc > 2)
		return atoi(argv[2]);
	if (strcmp(mode, "raise") == 0 && argc > 2) {
		int sig = atoi(argv[2]);
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, sig);
		signal(sig, SIG_DFL);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
		raise(sig);
		return 100;
	}
	if (strcmp(mode, "signals") == 0 && argc > 2)
		return wait_signals(argv[2]);
	if (strcmp(mode, "orphans") == 0 && argc > 2)
		return leave_orphans(atoi(argv[2]));
	if (strcmp(mode, "leave-stubborn") == 0 && argc > 2)
		return leave_stubborn(argv[2]);
	if (strcmp(mode, "ignore-term") == 0)
		signal(SIGTERM, SIG_IGN);
	if (strcmp(mode, "ignore-term") == 0 || strcmp(mode, "sleep") == 0) {
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	fprintf(stderr, "probe_child: unknown mode\n");
	return 2;
}
