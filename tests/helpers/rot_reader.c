/* Reads FILE over and over until SIGTERM/SIGINT, then prints how often each distinct content
 * was seen: "reads N" and one "SHA256HEX COUNT" line per content ("missing" when the file
 * could not be opened). Tests check that every read was a complete old or new version.
 *
 * usage: rot_reader FILE
 */
#include "secret_fs/secure_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILE     (1024 * 1024)
#define MAX_DISTINCT 4096

static volatile sig_atomic_t stop;
static char content[MAX_FILE];

struct seen {
	char hex[65];
	unsigned long count;
};

static struct seen seen[MAX_DISTINCT];
static size_t nseen;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void tally(const char *hex)
{
	for (size_t i = 0; i < nseen; i++) {
		if (strcmp(seen[i].hex, hex) == 0) {
			seen[i].count++;
			return;
		}
	}
	if (nseen < MAX_DISTINCT) {
		snprintf(seen[nseen].hex, sizeof(seen[nseen].hex), "%s", hex);
		seen[nseen++].count = 1;
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_stop};
	unsigned long reads = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: rot_reader FILE\n");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* Ready: the caller starts rotating after this line. */
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		unsigned char digest[32];
		char hex[65];
		size_t len = 0;
		ssize_t r;
		int fd = open(argv[1], O_RDONLY | O_CLOEXEC);

		reads++;
		if (fd < 0) {
			tally("missing");
			continue;
		}
		while (len < sizeof(content) &&
		       (r = read(fd, content + len, sizeof(content) - len)) != 0) {
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
			snprintf(hex + 2 * i, 3, "%02x", digest[i]);
		tally(hex);
	}
	printf("reads %lu\n", reads);
	for (size_t i = 0; i < nseen; i++)
		printf("%s %lu\n", seen[i].hex, seen[i].count);
	return 0;
}
