/* Temporary directories and small files for the unit tests (see test_files.h). */

/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "test_files.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ut_tmpdir_make(char *buf, size_t size, const char *prefix)
{
	char tmpl[PATH_MAX];
	int n = snprintf(tmpl, sizeof(tmpl), "/tmp/%s.XXXXXX", prefix);

	if (n < 0 || (size_t)n >= sizeof(tmpl) || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (!mkdtemp(tmpl))
		return -errno;
	memcpy(buf, tmpl, (size_t)n + 1);
	return 0;
}

/* nftw() has no context pointer: the first error of the current removal is kept here. */
static int remove_error;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && remove_error == 0)
		remove_error = -errno;
	return 0;
}

int ut_tmpdir_remove(const char *dir)
{
	remove_error = 0;
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return -errno;
	return remove_error;
}

int ut_run_group_in_tmpdir_(const char *group_name, const struct CMUnitTest *tests, size_t n,
			    char *dir, size_t size, const char *prefix)
{
	int r = ut_tmpdir_make(dir, size, prefix);

	if (r < 0) {
		fprintf(stderr, "cannot make a temporary directory /tmp/%s.*: %s\n", prefix,
			strerror(-r));
		return 1;
	}
	r = _cmocka_run_group_tests(group_name, tests, n, NULL, NULL);
	if (ut_tmpdir_remove(dir) < 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return r;
}

char *ut_path(char *buf, const char *dir, const char *rel)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, rel);

	assert_true(n > 0 && n < PATH_MAX);
	return buf;
}

void ut_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

void ut_write_text(const char *path, const char *text, mode_t mode)
{
	ut_write_file(path, text, strlen(text), mode);
}

ssize_t ut_read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n = 0;
	int fd, saved;

	if (size == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	saved = errno;
	close(fd);
	if (n < 0)
		return -saved;
	buf[len] = '\0';
	return (ssize_t)len;
}
