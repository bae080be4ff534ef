/* See fuzz_util.h. */
#include "fuzz_util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static void remove_tmpdir(void)
{
	fuzz_empty_dir(tmpdir);
	rmdir(tmpdir);
}

const char *fuzz_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/sfs-fuzz-XXXXXX");
		if (!mkdtemp(tmpdir))
			abort();
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

const char *fuzz_write_file(const char *name, const void *data, size_t len)
{
	static char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir(), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == ENOENT && mkdir(tmpdir, 0700) == 0) /* a /tmp cleaner took it */
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		abort();
	close(fd);
	return path;
}

static void empty_at(int dfd)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	if (!d) {
		close(dfd);
		return;
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			continue;
		/* A directory (symlinks went above), maybe made without permissions by a harness:
		 * without root, listing and emptying it needs them back. */
		if (fchmodat(dirfd(d), e->d_name, 0700, 0) < 0) {
			/* not ours to open: the unlinkat below says so */
		}
		int sub =
		    openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			empty_at(sub);
		unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

void fuzz_empty_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd >= 0)
		empty_at(dfd);
}

bool fuzz_ini_value(const char *value, char *out, size_t outsize)
{
	size_t len = strlen(value), o = 0;

	/* inih takes a ';' after whitespace for a comment: "key = ;x" is empty. */
	if (len == 0 || value[0] == ';' || isspace((unsigned char)value[0]) ||
	    isspace((unsigned char)value[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c < 0x20 || c == 0x7f ||
		    (c == ';' && i > 0 && isspace((unsigned char)value[i - 1])))
			return false;
		if (o + 3 >= outsize || o + 3 >= FUZZ_INI_VALUE_MAX)
			return false;
		if (c == '$')
			out[o++] = '$';
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return true;
}

static bool skipped(const char *line, size_t len, const char *const *skip)
{
	const char *p = line;

	while (p < line + len && *p == ' ')
		p++;
	for (; skip && *skip; skip++)
		if (strncmp(p, *skip, strlen(*skip)) == 0)
			return true;
	return false;
}

/* The next line of *text not skipped, as [start, len); false at the end. */
static bool next_line(const char **text, const char **start, size_t *len, const char *const *skip)
{
	while (**text) {
		const char *nl = strchr(*text, '\n');
		size_t n = nl ? (size_t)(nl - *text) : strlen(*text);

		*start = *text;
		*len = n;
		*text += n + (nl ? 1 : 0);
		if (!skipped(*start, n, skip))
			return true;
	}
	return false;
}

bool fuzz_same_lines(const char *a, const char *b, const char *const *skip)
{
	for (;;) {
		const char *la, *lb;
		size_t na, nb;
		bool ha = next_line(&a, &la, &na, skip), hb = next_line(&b, &lb, &nb, skip);

		if (ha != hb)
			return false;
		if (!ha)
			return true;
		if (na != nb || memcmp(la, lb, na) != 0)
			return false;
	}
}
