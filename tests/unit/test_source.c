/* Secret sources: parsing, env scrubbing (checked in /proc/self/environ of a re-executed
 * copy of this program, where the value really lives in the initial environment block),
 * files through a Kubernetes-style symlink farm, credentials, stdin, limits. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "secret_fs/source.h"
#include "test_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[64];

static int read_spec(const char *spec, size_t max, bool keep, struct sfs_secret *out,
		     struct sfs_error *err)
{
	struct sfs_source src;
	struct sfs_read_opts opts = {.max_bytes = max, .keep_env = keep};
	int r = sfs_source_parse(spec, &src, err);

	if (r < 0)
		return r;
	r = sfs_source_read(&src, &opts, out, err);
	sfs_source_free(&src);
	return r;
}

static void parse_kinds(void **state)
{
	struct sfs_source s;
	struct sfs_error err = {0};
	(void)state;

	assert_int_equal(sfs_source_parse("env:AI_KEY", &s, &err), 0);
	assert_int_equal(s.kind, SFS_SOURCE_ENV);
	assert_string_equal(s.ref, "AI_KEY");
	assert_string_equal(s.spec, "env:AI_KEY");
	sfs_source_free(&s);

	assert_int_equal(sfs_source_parse("file:/etc/x.pem", &s, &err), 0);
	assert_int_equal(s.kind, SFS_SOURCE_FILE);
	assert_string_equal(s.ref, "/etc/x.pem");
	sfs_source_free(&s);

	assert_int_equal(sfs_source_parse("/app/certs/root.crt", &s, &err), 0);
	assert_int_equal(s.kind, SFS_SOURCE_FILE);
	assert_string_equal(s.ref, "/app/certs/root.crt");
	sfs_source_free(&s);

	assert_int_equal(sfs_source_parse("./odd:name", &s, &err), 0);
	assert_int_equal(s.kind, SFS_SOURCE_FILE);
	sfs_source_free(&s);

	assert_int_equal(sfs_source_parse("cred:signing_key", &s, &err), 0);
	assert_int_equal(s.kind, SFS_SOURCE_CRED);
	assert_string_equal(s.ref, "signing_key");
	sfs_source_free(&s);

	assert_int_equal(sfs_source_parse("-", &s, &err), 0);
	assert_int_equal(s.kind, SFS_SOURCE_STDIN);
	sfs_source_free(&s);
	sfs_source_free(&s); /* twice is harmless */
}

static void parse_errors(void **state)
{
	static const char *bad[] = {
	    "", "env:", "env:A=B", "file:", "cred:", "cred:a/b", "cred:..", "evn:KEY"};
	struct sfs_source s;
	struct sfs_error err;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(sfs_source_parse(bad[i], &s, &err), -EINVAL);
		assert_int_equal(err.code, -EINVAL);
		assert_true(strlen(err.msg) > 0);
		assert_null(s.ref);
	}
	sfs_source_parse("evn:KEY", &s, &err);
	assert_non_null(strstr(err.msg, "evn:KEY"));
}

static void env_unset_and_empty(void **state)
{
	struct sfs_secret sec = {0};
	struct sfs_error err = {0};
	(void)state;

	unsetenv("SFS_TEST_NOT_SET");
	assert_int_equal(read_spec("env:SFS_TEST_NOT_SET", 0, false, &sec, &err), -ENOENT);
	assert_string_equal(err.msg, "environment variable SFS_TEST_NOT_SET is not set");
	assert_null(sec.data);

	setenv("SFS_TEST_EMPTY", "", 1);
	assert_int_equal(read_spec("env:SFS_TEST_EMPTY", 0, false, &sec, &err), -ENODATA);
	assert_null(sec.data);
}

static void env_size_limit(void **state)
{
	char value[101];
	struct sfs_secret sec = {0};
	struct sfs_error err = {0};
	(void)state;

	memset(value, 'k', 100);
	value[100] = '\0';
	setenv("SFS_TEST_BIG", value, 1);
	assert_int_equal(read_spec("env:SFS_TEST_BIG", 99, false, &sec, &err), -EFBIG);
	assert_string_equal(err.msg, "env:SFS_TEST_BIG is larger than 99 bytes");
	assert_int_equal(read_spec("env:SFS_TEST_BIG", 100, false, &sec, &err), 0);
	assert_int_equal(sec.len, 100);
	assert_memory_equal(sec.data, value, 100);
	assert_null(getenv("SFS_TEST_BIG"));
	sfs_secret_free(&sec);
}

/* Child side of env_scrub_*: argv = --env-probe NAME VALUE keep|scrub|replace. Exit status
 * bit 0: VALUE still in /proc/self/environ; bit 1: getenv still returns something;
 * bit 2: the bytes read were wrong; 16: read failed. Prints nothing. */
static int env_probe(char **argv)
{
	const char *name = argv[2], *value = argv[3], *mode = argv[4];
	struct sfs_secret sec = {0}, environ_bytes = {0};
	char spec[256];
	int status = 0;
	bool found = false;
	int fd;

	if (sfs_init(NULL) < 0)
		return 16;
	/* Something else already replaced the variable: the old bytes still sit in the initial
	 * block and must go too. */
	if (strcmp(mode, "replace") == 0 && setenv(name, "a-later-value", 1) < 0)
		return 16;
	snprintf(spec, sizeof(spec), "env:%s", name);
	if (read_spec(spec, 0, strcmp(mode, "keep") == 0, &sec, NULL) < 0)
		return 16;
	if (strcmp(mode, "replace") != 0 &&
	    (sec.len != strlen(value) || memcmp(sec.data, value, sec.len) != 0))
		status |= 4;
	fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || sfs_secret_alloc(&environ_bytes, 1 << 20, NULL) < 0)
		return 16;
	for (ssize_t n; (n = read(fd, environ_bytes.data + environ_bytes.len,
				  environ_bytes.cap - environ_bytes.len)) > 0;)
		environ_bytes.len += (size_t)n;
	close(fd);
	found = memmem(environ_bytes.data, environ_bytes.len, value, strlen(value)) != NULL;
	if (found)
		status |= 1;
	if (getenv(name))
		status |= 2;
	sfs_secret_free(&sec);
	sfs_secret_free(&environ_bytes);
	return status;
}

static int run_probe(const char *mode, const char *value)
{
	char envvar[512];
	char *argv[] = {"/proc/self/exe", "--env-probe", "SFS_PROBE_KEY",
			(char *)value,	  (char *)mode,	 NULL};
	char *envp[] = {"PATH=/usr/bin:/bin", envvar, "OTHER=kept", NULL};
	int status;
	pid_t pid;

	snprintf(envvar, sizeof(envvar), "SFS_PROBE_KEY=%s", value);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void env_scrub_wipes_environ(void **state)
{
	(void)state;
	/* 0: read correctly, gone from getenv and from /proc/self/environ. */
	assert_int_equal(run_probe("scrub", "fake-test-value-7f3a9c"), 0);
}

static void env_scrub_wipes_replaced_original(void **state)
{
	(void)state;
	assert_int_equal(run_probe("replace", "fake-test-value-original-51c2") & 3, 0);
}

static void env_keep_leaves_variable(void **state)
{
	(void)state;
	/* 3: still in /proc/self/environ and still set; bytes read correctly. */
	assert_int_equal(run_probe("keep", "fake-test-value-kept-22d8"), 3);
}

static void env_scrub_direct(void **state)
{
	(void)state;
	setenv("SFS_TEST_SCRUB", "abc", 1);
	assert_int_equal(sfs_env_scrub("SFS_TEST_SCRUB"), 0);
	assert_null(getenv("SFS_TEST_SCRUB"));
	assert_int_equal(sfs_env_scrub("SFS_TEST_SCRUB"), -ENOENT);
}

static void file_through_symlink_farm(void **state)
{
	char p[PATH_MAX], q[PATH_MAX], spec[PATH_MAX + 8];
	static const char cert[] = "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n";
	struct sfs_secret sec = {0};
	struct sfs_error err = {0};
	(void)state;

	/* The layout kubelet's AtomicWriter produces for a Secret volume. */
	assert_int_equal(mkdir(ut_path(p, tmpdir, "vol"), 0755), 0);
	assert_int_equal(mkdir(ut_path(p, tmpdir, "vol/..2026_11_28_14_22_04.123"), 0755), 0);
	ut_write_file(ut_path(p, tmpdir, "vol/..2026_11_28_14_22_04.123/root.crt"), cert,
		      sizeof(cert) - 1, 0600);
	assert_int_equal(symlink("..2026_11_28_14_22_04.123", ut_path(p, tmpdir, "vol/..data")), 0);
	assert_int_equal(symlink("..data/root.crt", ut_path(p, tmpdir, "vol/root.crt")), 0);

	snprintf(spec, sizeof(spec), "file:%s", ut_path(q, tmpdir, "vol/root.crt"));
	assert_int_equal(read_spec(spec, 0, false, &sec, &err), 0);
	assert_int_equal(sec.len, sizeof(cert) - 1);
	assert_memory_equal(sec.data, cert, sec.len);
	sfs_secret_free(&sec);

	/* A bare path is file: too. */
	assert_int_equal(read_spec(q, 0, false, &sec, &err), 0);
	assert_int_equal(sec.len, sizeof(cert) - 1);
	sfs_secret_free(&sec);
}

static void file_limits_and_errors(void **state)
{
	char p[PATH_MAX], spec[PATH_MAX + 8];
	char big[8193];
	struct sfs_secret sec = {0};
	struct sfs_error err = {0};
	(void)state;

	memset(big, 'x', sizeof(big));
	ut_write_file(ut_path(p, tmpdir, "big"), big, sizeof(big), 0600);
	snprintf(spec, sizeof(spec), "file:%s", p);
	assert_int_equal(read_spec(spec, SFS_MAX_KEY_BYTES, false, &sec, &err), -EFBIG);
	assert_int_equal(err.code, -EFBIG);
	{
		char expect[PATH_MAX + 64];
		snprintf(expect, sizeof(expect), "%s is larger than 8192 bytes", spec);
		assert_string_equal(err.msg, expect);
	}
	assert_null(sec.data);

	ut_write_file(ut_path(p, tmpdir, "exact"), big, 8192, 0600);
	snprintf(spec, sizeof(spec), "file:%s", p);
	assert_int_equal(read_spec(spec, SFS_MAX_KEY_BYTES, false, &sec, &err), 0);
	assert_int_equal(sec.len, 8192);
	sfs_secret_free(&sec);

	ut_write_file(ut_path(p, tmpdir, "empty"), "", 0, 0600);
	snprintf(spec, sizeof(spec), "file:%s", p);
	assert_int_equal(read_spec(spec, 0, false, &sec, &err), -ENODATA);
	assert_non_null(strstr(err.msg, "empty"));

	snprintf(spec, sizeof(spec), "file:%s", ut_path(p, tmpdir, "missing"));
	assert_int_equal(read_spec(spec, 0, false, &sec, &err), -ENOENT);
	assert_non_null(strstr(err.msg, p));

	snprintf(spec, sizeof(spec), "file:%s", tmpdir);
	assert_int_equal(read_spec(spec, 0, false, &sec, &err), -EISDIR);
}

/* A FIFO with no writer (or a device) as a file: source is refused at once, never waited on.
 * The alarm turns a blocking open into a failure instead of a hung test. */
static void file_not_regular_refused_promptly(void **state)
{
	char p[PATH_MAX], spec[PATH_MAX + 8];
	struct sfs_secret sec = {0};
	struct sfs_error err = {0};
	(void)state;

	assert_int_equal(mkfifo(ut_path(p, tmpdir, "fifo"), 0600), 0);
	snprintf(spec, sizeof(spec), "file:%s", p);
	alarm(5);
	assert_int_equal(read_spec(spec, 0, false, &sec, &err), -EINVAL);
	alarm(0);
	assert_null(sec.data);
	{
		char expect[PATH_MAX + 96];
		snprintf(expect, sizeof(expect),
			 "%s is a FIFO, not a regular file (use - to read standard input)", spec);
		assert_string_equal(err.msg, expect);
	}

	/* Through a symlink (sources follow links) it is still the FIFO that is refused. */
	assert_int_equal(symlink("fifo", ut_path(p, tmpdir, "fifo-link")), 0);
	snprintf(spec, sizeof(spec), "file:%s", p);
	alarm(5);
	assert_int_equal(read_spec(spec, 0, false, &sec, &err), -EINVAL);
	alarm(0);

	/* A device reads without end (/dev/zero) or nothing (/dev/null): refused too. */
	assert_int_equal(read_spec("file:/dev/zero", 0, false, &sec, &err), -EINVAL);
	assert_string_equal(err.msg, "file:/dev/zero is a character device, not a regular file "
				     "(use - to read standard input)");
	assert_int_equal(read_spec("/dev/null", 0, false, &sec, &err), -EINVAL);
	assert_null(sec.data);
}

static void cred_source(void **state)
{
	char p[PATH_MAX], path[PATH_MAX];
	struct sfs_source src;
	struct sfs_secret sec = {0};
	struct sfs_error err = {0};
	(void)state;

	assert_int_equal(mkdir(ut_path(p, tmpdir, "creds"), 0700), 0);
	ut_write_file(ut_path(p, tmpdir, "creds/signing_key"), "cred-bytes", 10, 0600);

	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(read_spec("cred:signing_key", 0, false, &sec, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "CREDENTIALS_DIRECTORY"));

	setenv("CREDENTIALS_DIRECTORY", ut_path(p, tmpdir, "creds"), 1);
	assert_int_equal(sfs_source_parse("cred:signing_key", &src, &err), 0);
	assert_int_equal(sfs_source_path(&src, path, sizeof(path), &err), 0);
	assert_string_equal(path, ut_path(p, tmpdir, "creds/signing_key"));
	assert_int_equal(sfs_source_read(&src, NULL, &sec, &err), 0);
	assert_int_equal(sec.len, 10);
	assert_memory_equal(sec.data, "cred-bytes", 10);
	sfs_secret_free(&sec);
	sfs_source_free(&src);

	assert_int_equal(read_spec("cred:other", 0, false, &sec, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "cred:other"));

	assert_int_equal(sfs_source_parse("env:X", &src, &err), 0);
	assert_int_equal(sfs_source_path(&src, path, sizeof(path), &err), -EINVAL);
	sfs_source_free(&src);
	unsetenv("CREDENTIALS_DIRECTORY");
}

/* stdin from a pipe: no size hint, so the buffer has to grow many times. */
static void stdin_grows(void **state)
{
	enum { LEN = 300 * 1024 };
	int fds[2], saved;
	struct sfs_secret sec = {0};
	struct sfs_error err = {0};
	pid_t pid;
	int status;
	(void)state;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static unsigned char chunk[4096];

		close(fds[0]);
		for (size_t i = 0; i < LEN; i += sizeof(chunk)) {
			for (size_t j = 0; j < sizeof(chunk); j++)
				chunk[j] = (unsigned char)((i + j) * 7);
			if (write(fds[1], chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
				_exit(1);
		}
		_exit(0);
	}
	close(fds[1]);
	saved = dup(0);
	assert_int_equal(dup2(fds[0], 0), 0);
	close(fds[0]);
	assert_int_equal(read_spec("-", 0, false, &sec, &err), 0);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(sec.len, LEN);
	for (size_t i = 0; i < LEN; i++)
		if (sec.data[i] != (unsigned char)(i * 7))
			fail_msg("byte %zu differs", i);
	sfs_secret_free(&sec);
}

static void stdin_over_limit(void **state)
{
	int fds[2], saved;
	struct sfs_secret sec = {0};
	struct sfs_error err = {0};
	(void)state;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "0123456789", 10), 10);
	close(fds[1]);
	saved = dup(0);
	assert_int_equal(dup2(fds[0], 0), 0);
	close(fds[0]);
	assert_int_equal(read_spec("-", 9, false, &sec, &err), -EFBIG);
	assert_string_equal(err.msg, "- is larger than 9 bytes");
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	assert_null(sec.data);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_kinds),
	    cmocka_unit_test(parse_errors),
	    cmocka_unit_test(env_unset_and_empty),
	    cmocka_unit_test(env_size_limit),
	    cmocka_unit_test(env_scrub_wipes_environ),
	    cmocka_unit_test(env_scrub_wipes_replaced_original),
	    cmocka_unit_test(env_keep_leaves_variable),
	    cmocka_unit_test(env_scrub_direct),
	    cmocka_unit_test(file_through_symlink_farm),
	    cmocka_unit_test(file_limits_and_errors),
	    cmocka_unit_test(file_not_regular_refused_promptly),
	    cmocka_unit_test(cred_source),
	    cmocka_unit_test(stdin_grows),
	    cmocka_unit_test(stdin_over_limit),
	};

	if (argc == 5 && strcmp(argv[1], "--env-probe") == 0)
		return env_probe(argv);
	if (sfs_init(NULL) < 0)
		return 1;
	return ut_run_group_in_tmpdir(tests, tmpdir, "sfs-test-source");
}
