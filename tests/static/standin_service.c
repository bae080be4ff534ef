/* A service stand-in for the empty-root test, linked statically (the root has no libc).
 *
 *   standin_service EXIT_CODE FILE...
 *
 * Reports on stdout, one "key=value" line each: its pid and parent pid, the credential and
 * capability lines of /proc/self/status, whether AI_SIGNING_KEY_CONTENT is in its
 * environment, and for every FILE whether it could read it and how many bytes (never the
 * bytes). Then "ready". With EXIT_CODE "wait" it stays: every SIGHUP re-reads the files and
 * prints "hup N" followed by the same file lines and "ready"; SIGTERM ends it with status 0.
 * Otherwise it exits with EXIT_CODE.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void report_status(void)
{
	static const char *const keys[] = {"Uid:",    "Gid:",	 "Groups:", "CapInh:",	  "CapPrm:",
					   "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:"};
	char line[512];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f) {
		printf("status=unreadable %s\n", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0)
				fputs(line, stdout);
	fclose(f);
}

static void report_files(int n, char **paths)
{
	for (int i = 0; i < n; i++) {
		char buf[65536];
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		ssize_t got;

		if (fd < 0) {
			printf("file %s=error %d\n", paths[i], errno);
			continue;
		}
		got = read(fd, buf, sizeof(buf));
		printf("file %s=%zd\n", paths[i], got);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	sigset_t set;
	int sig, hups = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: standin_service EXIT_CODE|wait FILE...\n");
		return 64;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	printf("pid=%ld\nppid=%ld\n", (long)getpid(), (long)getppid());
	report_status();
	printf("env AI_SIGNING_KEY_CONTENT=%s\n",
	       getenv("AI_SIGNING_KEY_CONTENT") ? "present" : "absent");
	report_files(argc - 2, argv + 2);
	printf("ready\n");
	fflush(stdout);
	if (strcmp(argv[1], "wait") != 0)
		return atoi(argv[1]);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			return 70;
		if (sig == SIGTERM)
			return 0;
		printf("hup %d\n", ++hups);
		report_files(argc - 2, argv + 2);
		printf("ready\n");
		fflush(stdout);
	}
}
