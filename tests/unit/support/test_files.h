/* Temporary directories and small files for the unit tests.
 *
 * One implementation for every cmocka program: a fresh directory under /tmp, removed with
 * everything below it (no shell, symlinks never followed, other filesystems never entered),
 * paths inside it, and whole-file writes and reads of test data (never real secrets).
 * The writers assert (cmocka) because a test cannot go on without its input files; the
 * directory and read helpers return 0 or a negative errno so that main() and setup functions
 * can decide what a failure means there.
 */
#ifndef TESTS_UNIT_TEST_FILES_H
#define TESTS_UNIT_TEST_FILES_H

#include <stddef.h>
#include <sys/types.h>

struct CMUnitTest;

/* Creates a fresh directory "/tmp/PREFIX.XXXXXX" (mode 0700) and stores its path in `buf`.
 * Returns 0, or a negative errno with `buf` left as it was. */
int ut_tmpdir_make(char *buf, size_t size, const char *prefix);

/* Removes `dir` and everything below it, depth first, without following symlinks or crossing
 * into another mounted filesystem. Returns 0 or the first negative errno met (the removal
 * still goes on with the rest). */
int ut_tmpdir_remove(const char *dir);

/* Runs the cmocka group `tests` (an array) with `dir` (a char array) holding a fresh
 * temporary directory "/tmp/PREFIX.XXXXXX", removed with everything below it afterwards.
 * Returns cmocka's result, or 1 when the directory cannot be made. */
#define ut_run_group_in_tmpdir(tests, dir, prefix)                                                 \
	ut_run_group_in_tmpdir_(#tests, tests, sizeof(tests) / sizeof((tests)[0]), dir,            \
				sizeof(dir), prefix)
int ut_run_group_in_tmpdir_(const char *group_name, const struct CMUnitTest *tests, size_t n,
			    char *dir, size_t size, const char *prefix);

/* "DIR/REL" into `buf`, which holds PATH_MAX bytes; returns `buf`. Fails the test when the
 * path does not fit. */
char *ut_path(char *buf, const char *dir, const char *rel);

/* Writes exactly `len` bytes to `path`, creating it with `mode` (the umask applies) or
 * truncating an existing file without changing its mode. Fails the test on any error. */
void ut_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* ut_write_file() of a NUL-terminated text. */
void ut_write_text(const char *path, const char *text, mode_t mode);

/* Reads at most size - 1 bytes of `path` into `buf` and NUL-terminates them. Returns the
 * number of bytes read or a negative errno. */
ssize_t ut_read_file(const char *path, char *buf, size_t size);

#endif
