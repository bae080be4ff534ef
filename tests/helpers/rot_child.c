/* A stand-in service for rotation tests: every SIGHUP (or SIGUSR1/SIGUSR2) is taken with
 * sigwaitinfo, its CLOCK_MONOTONIC time noted at once, then each FILE is read and hashed, and
 * one line "NS SIGNO HASH..." is appended to RECORD. Only SHA-256 digests are recorded, never
 * file bytes. SIGTERM/SIGINT end it with 0.
 *
 * usage: rot_child RECORD PIDFILE|- FILE...
 */
#include "secret_fs/secure_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILE (1024 * 1024)

static char content[MAX_FILE];

static void hash_file(const char *path, char out[65])
{
	unsigned char digest[32];
	size_t len = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(out, 65, "missing");
		return;
	}
	while (len < sizeof(content) && (r = read(fd, content + len, sizeof(content) - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)r;
	}
	close(fd);
	sfs_hash(content, len, digest);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static int write_pidfile(const char *path)
{
	char tmp[4096], buf[32];
	int fd, len;

	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)len) != len || close(fd) < 0)
		return -1;
	return rename(tmp, path);
}

int main(int argc, char **argv)
{
	sigset_t set;
	int record;

	if (argc < 3) {
		fprintf(stderr, "usage: rot_child RECORD PIDFILE|- FILE...\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	record = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (record < 0) {
		perror("rot_child: record");
		return 2;
	}
	if (strcmp(argv[2], "-") != 0 && write_pidfile(argv[2]) < 0) {
		perror("rot_child: pidfile");
		return 2;
	}
	for (;;) {
		struct timespec ts;
		siginfo_t si;
		char line[64 + 66 * 16];
		size_t len;
		int sig = sigwaitinfo(&set, &si);

		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (sig < 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			return 0;
		len = (size_t)snprintf(line, sizeof(line), "%lld %d",
				       (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, sig);
		for (int i = 3; i < argc && i < 3 + 16; i++) {
			char hex[65];

			hash_file(argv[i], hex);
			len += (size_t)snprintf(line + len, sizeof(line) - len, " %s", hex);
		}
		line[len++] = '\n';
		if (write(record, line, len) != (ssize_t)len)
			return 3;
	}
}
