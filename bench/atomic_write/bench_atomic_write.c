/* What fsync costs an atomic write. In DIR, writes a 119-byte file (an Ed25519 key's size)
 * N times, each time with new bytes so every write is a real replacement:
 *   library:      sfs_write_file (which decides on fsync from the filesystem type)
 *   with fsync:   temp, fchmod, write, fsync, rename, fsync of the directory
 *   without:      the same sequence without the two fsyncs
 * Usage: bench_atomic_write DIR [N, default 200]. Prints the filesystem type and the mean
 * microseconds per write of each; asserts nothing. */
#include "secret_fs/atomic_write.h"
#include "secret_fs/secure_mem.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define FILE_LEN 119

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void fill(char *buf, int i)
{
	memset(buf, 'a' + i % 26, FILE_LEN);
}

static int raw_write(int dirfd, const char *data, bool sync)
{
	int fd =
	    openat(dirfd, ".raw.tmp", O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_WRONLY, 0600);

	if (fd < 0 || fchmod(fd, 0400) < 0 || write(fd, data, FILE_LEN) != FILE_LEN ||
	    (sync && fsync(fd) < 0) || close(fd) < 0)
		return -1;
	if (renameat(dirfd, ".raw.tmp", dirfd, "raw.pem") < 0 || (sync && fsync(dirfd) < 0))
		return -1;
	return 0;
}

static double bench_raw(int dirfd, int n, bool sync)
{
	char data[FILE_LEN];
	double t0 = now_us();

	for (int i = 0; i < n; i++) {
		fill(data, i);
		if (raw_write(dirfd, data, sync) < 0) {
			perror("raw write");
			exit(1);
		}
	}
	return (now_us() - t0) / n;
}

static double bench_library(const char *dir, int n)
{
	struct sfs_file_opts fo = {.owner = {.chown = false}, .mode = 0400};
	struct sfs_error err = {0};
	char path[4096], data[FILE_LEN];
	double t0;

	snprintf(path, sizeof(path), "%s/lib.pem", dir);
	t0 = now_us();
	for (int i = 0; i < n; i++) {
		fill(data, i);
		if (sfs_write_file(path, data, FILE_LEN, NULL, &fo, NULL, &err) < 0) {
			fprintf(stderr, "sfs_write_file: %s\n", err.msg);
			exit(1);
		}
	}
	return (now_us() - t0) / n;
}

int main(int argc, char **argv)
{
	struct statfs fs;
	const char *fstype;
	int n = argc > 2 ? atoi(argv[2]) : 200;
	int dirfd;

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: bench_atomic_write DIR [N]\n");
		return 2;
	}
	if (sfs_init(NULL) < 0)
		return 1;
	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || fstatfs(dirfd, &fs) < 0) {
		perror(argv[1]);
		return 1;
	}
	fstype = fs.f_type == TMPFS_MAGIC	 ? "tmpfs"
		 : fs.f_type == RAMFS_MAGIC	 ? "ramfs"
		 : fs.f_type == EXT4_SUPER_MAGIC ? "ext4"
						 : "other";
	printf("directory: %s (%s), %d writes of %d bytes\n", argv[1], fstype, n, FILE_LEN);
	printf("with fsync:    %8.1f us/write\n", bench_raw(dirfd, n, true));
	printf("without fsync: %8.1f us/write\n", bench_raw(dirfd, n, false));
	printf("library:       %8.1f us/write\n", bench_library(argv[1], n));
	unlinkat(dirfd, "raw.pem", 0);
	close(dirfd);
	return 0;
}
