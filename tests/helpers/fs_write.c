/* Test helper: writes one file with sfs_write_file, so tests can watch the syscalls under
 * strace. Usage: fs_write PATH CONTENT UID GID MODE. Content comes from argv: test data only.
 * Exit 0 on success, 1 with the library's message on stderr otherwise. */
#include "secret_fs/atomic_write.h"
#include "secret_fs/secure_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct sfs_error err = {0};
	struct sfs_file_opts fo = {0}; /* durable: the syscall-order test expects both fsyncs */
	bool changed = false;

	if (argc != 6) {
		fprintf(stderr, "usage: fs_write PATH CONTENT UID GID MODE\n");
		return 2;
	}
	fo.owner.uid = (uid_t)strtoul(argv[3], NULL, 10);
	fo.owner.gid = (gid_t)strtoul(argv[4], NULL, 10);
	fo.owner.chown = true;
	fo.mode = (mode_t)strtoul(argv[5], NULL, 8);
	if (sfs_init(&err) < 0 ||
	    sfs_write_file(argv[1], argv[2], strlen(argv[2]), NULL, &fo, &changed, &err) < 0) {
		fprintf(stderr, "fs_write: %s\n", err.msg);
		return 1;
	}
	printf("%s\n", changed ? "changed" : "unchanged");
	return 0;
}
