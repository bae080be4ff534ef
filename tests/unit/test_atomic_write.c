/* Atomic writes: owner/mode/bytes of written files, unchanged content keeps the inode, planted
 * symlinks replaced and never written through, readers never see a partial file, a full
 * filesystem leaves the old target and no temp file, two-phase abort keeps the old set.
 * Needs root: files go to uid 1000 and a tiny tmpfs is mounted in a private mount namespace. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "secret_fs/atomic_write.h"
#include "secret_fs/safe_dir.h"
#include "secret_fs/secure_mem.h"
#include "test_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TARGET_UID 1000
#define TARGET_GID 1000

static char tmpdir[64];

static const struct sfs_file_opts key_opts = {
    .owner = {.uid = TARGET_UID, .gid = TARGET_GID, .chown = true},
    .mode = 0400,
};

static const struct sfs_dir_opts dir_opts = {
    .owner = {.uid = TARGET_UID, .gid = TARGET_GID, .chown = true},
    .mode = 0700,
    .parent_mode = 0700,
    .create = true,
};

static int write_path(const char *path, const char *data, const struct sfs_file_opts *fo,
		      bool *changed, struct sfs_error *err)
{
	return sfs_write_file(path, data, strlen(data), &dir_opts, fo, changed, err);
}

static void assert_content(const char *path, const char *expect)
{
	char buf[512];
	ssize_t n = ut_read_file(path, buf, sizeof(buf));

	assert_int_equal(n, (ssize_t)strlen(expect));
	assert_memory_equal(buf, expect, (size_t)n);
}

/* Asserts the directory holds exactly `n` entries (no leftover temp files). */
static void assert_entries(const char *dir, int n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int count = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			count++;
	closedir(d);
	assert_int_equal(count, n);
}

static ino_t inode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_ino;
}

static void new_file_owner_mode_bytes(void **state)
{
	char p[PATH_MAX], d[PATH_MAX];
	struct sfs_error err = {0};
	struct stat st;
	bool changed = false;
	(void)state;

	assert_int_equal(write_path(ut_path(p, tmpdir, "w1/keys/signing_key.pem"), "key-one",
				    &key_opts, &changed, &err),
			 0);
	assert_true(changed);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_uid, TARGET_UID);
	assert_int_equal(st.st_gid, TARGET_GID);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_content(p, "key-one");
	assert_entries(ut_path(d, tmpdir, "w1/keys"), 1);
	assert_int_equal(lstat(d, &st), 0);
	assert_int_equal(st.st_uid, TARGET_UID);
	assert_int_equal(st.st_mode & 07777, 0700);
}

static void unchanged_keeps_inode(void **state)
{
	char p[PATH_MAX];
	struct sfs_error err = {0};
	struct sfs_file_opts fo = key_opts;
	struct stat st;
	bool changed;
	ino_t ino, ino2;
	(void)state;

	assert_int_equal(write_path(ut_path(p, tmpdir, "w2/a.pem"), "same", &fo, &changed, &err),
			 0);
	ino = inode_of(p);

	assert_int_equal(write_path(p, "same", &fo, &changed, &err), 0);
	assert_false(changed);
	assert_int_equal(inode_of(p), ino);

	assert_int_equal(write_path(p, "other", &fo, &changed, &err), 0);
	assert_true(changed);
	ino2 = inode_of(p);
	assert_true(ino2 != ino);
	assert_content(p, "other");

	/* Same bytes but another mode or owner: rewritten. */
	fo.mode = 0440;
	assert_int_equal(write_path(p, "other", &fo, &changed, &err), 0);
	assert_true(changed);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0440);
	fo.owner.gid = 1001;
	assert_int_equal(write_path(p, "other", &fo, &changed, &err), 0);
	assert_true(changed);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_gid, 1001);

	/* Same length, different bytes. */
	assert_int_equal(write_path(p, "othex", &fo, &changed, &err), 0);
	assert_true(changed);
	assert_content(p, "othex");
}

static void no_chown_keeps_invoking_owner(void **state)
{
	char p[PATH_MAX];
	struct sfs_error err = {0};
	struct sfs_file_opts fo = {.owner = {.uid = 1000, .gid = 1000, .chown = false},
				   .mode = 0440};
	struct stat st;
	bool changed;
	(void)state;

	assert_int_equal(mkdir(ut_path(p, tmpdir, "w3"), 0700), 0);
	assert_int_equal(write_path(ut_path(p, tmpdir, "w3/f"), "data", &fo, &changed, &err), 0);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_gid, getegid());
	assert_int_equal(st.st_mode & 07777, 0440);
	assert_int_equal(write_path(p, "data", &fo, &changed, &err), 0);
	assert_false(changed);
}

static void symlink_target_replaced_not_followed(void **state)
{
	char p[PATH_MAX], outside[PATH_MAX], q[PATH_MAX];
	struct sfs_error err = {0};
	bool changed;
	struct stat st;
	int fd;
	(void)state;

	assert_int_equal(mkdir(ut_path(p, tmpdir, "w4"), 0700), 0);
	fd = open(ut_path(outside, tmpdir, "w4-outside"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ORIGINAL", 8), 8);
	close(fd);
	assert_int_equal(symlink(outside, ut_path(p, tmpdir, "w4/key.pem")), 0);
	assert_int_equal(
	    symlink(ut_path(q, tmpdir, "w4-never"), ut_path(p, tmpdir, "w4/dangling.pem")), 0);

	assert_int_equal(
	    write_path(ut_path(p, tmpdir, "w4/key.pem"), "new", &key_opts, &changed, &err), 0);
	assert_true(changed);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_content(p, "new");
	assert_content(outside, "ORIGINAL");

	assert_int_equal(
	    write_path(ut_path(p, tmpdir, "w4/dangling.pem"), "new", &key_opts, &changed, &err), 0);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(lstat(ut_path(q, tmpdir, "w4-never"), &st), -1);
	assert_entries(ut_path(q, tmpdir, "w4"), 2);
}

static void directory_target_refused(void **state)
{
	char p[PATH_MAX], d[PATH_MAX];
	struct sfs_error err = {0};
	bool changed = true;
	(void)state;

	assert_int_equal(mkdir(ut_path(p, tmpdir, "w5"), 0700), 0);
	assert_int_equal(mkdir(ut_path(p, tmpdir, "w5/key.pem"), 0700), 0);
	assert_int_equal(write_path(p, "x", &key_opts, &changed, &err), -EISDIR);
	assert_false(changed);
	assert_non_null(strstr(err.msg, p));
	assert_entries(ut_path(d, tmpdir, "w5"), 1);
	assert_entries(p, 0);
}

static void stage_commit_abort(void **state)
{
	char p[PATH_MAX], t[PATH_MAX + NAME_MAX + 2];
	struct sfs_error err = {0};
	struct sfs_staged st, zero;
	struct stat sb;
	int dirfd;
	(void)state;

	assert_int_equal(sfs_dir_open(ut_path(p, tmpdir, "w6"), &dir_opts, &dirfd, &err), 0);
	assert_int_equal(sfs_stage(dirfd, "k", "w6/k", "v1", 2, &key_opts, &st, &err), 0);
	assert_false(st.unchanged);
	assert_true(st.tmpname[0] == '.');
	assert_non_null(strstr(st.tmpname, ".k."));
	/* The staged temp already has its final owner and mode; the target does not exist yet. */
	snprintf(t, sizeof(t), "%s/%s", p, st.tmpname);
	assert_int_equal(lstat(t, &sb), 0);
	assert_int_equal(sb.st_uid, TARGET_UID);
	assert_int_equal(sb.st_mode & 07777, 0400);
	assert_int_equal(sb.st_size, 2);
	ut_path(t, tmpdir, "w6/k");
	assert_int_equal(lstat(t, &sb), -1);
	assert_int_equal(sfs_commit(&st, &err), 0);
	assert_content(t, "v1");
	assert_entries(p, 1);
	sfs_abort(&st); /* released: nothing happens */
	assert_int_equal(sfs_commit(&st, &err), 0);

	assert_int_equal(sfs_stage(dirfd, "k", "w6/k", "v2", 2, &key_opts, &st, &err), 0);
	sfs_abort(&st);
	assert_content(t, "v1");
	assert_entries(p, 1);

	/* A zeroed entry owns nothing: aborting it must not close fd 0. */
	memset(&zero, 0, sizeof(zero));
	sfs_abort(&zero);
	assert_true(fcntl(0, F_GETFD) >= 0 || errno != EBADF);

	assert_int_equal(sfs_stage(dirfd, "a/b", "x", "v", 1, &key_opts, &st, &err), -EINVAL);
	assert_int_equal(sfs_stage(dirfd, "..", "x", "v", 1, &key_opts, &st, &err), -EINVAL);
	{
		char longname[NAME_MAX];
		memset(longname, 'n', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		assert_int_equal(sfs_stage(dirfd, longname, "x", "v", 1, &key_opts, &st, &err),
				 -ENAMETOOLONG);
	}
	assert_entries(p, 1);
	close(dirfd);
}

/* 1,000 rewrites while another process reads 10,000 times: every read is a whole old or new
 * content, never a mix, a prefix or an empty file. */
static void readers_see_whole_files(void **state)
{
	enum { WRITES = 1000, READS = 10000, ALEN = 3000, BLEN = 5000 };
	static char a[ALEN + 1], b[BLEN + 1];
	char p[PATH_MAX];
	struct sfs_error err = {0};
	struct sfs_file_opts fo = key_opts;
	ino_t prev;
	bool changed;
	int status;
	pid_t reader;
	(void)state;

	memset(a, 'a', ALEN);
	memset(b, 'b', BLEN);
	fo.mode = 0444;
	assert_int_equal(write_path(ut_path(p, tmpdir, "w7/cert.pem"), a, &fo, &changed, &err), 0);
	prev = inode_of(p);

	reader = fork();
	assert_true(reader >= 0);
	if (reader == 0) {
		static char buf[BLEN + 16];
		int bad = 0;

		for (int i = 0; i < READS; i++) {
			ssize_t n = ut_read_file(p, buf, sizeof(buf));

			if (!((n == ALEN && memcmp(buf, a, ALEN) == 0) ||
			      (n == BLEN && memcmp(buf, b, BLEN) == 0)))
				bad++;
		}
		_exit(bad ? 1 : 0);
	}
	for (int i = 1; i <= WRITES; i++) {
		const char *content = i % 2 ? b : a;
		ino_t now;

		assert_int_equal(write_path(p, content, &fo, &changed, &err), 0);
		assert_true(changed);
		now = inode_of(p);
		assert_true(now != prev);
		prev = now;
		if (i % 100 == 0) {
			assert_int_equal(write_path(p, content, &fo, &changed, &err), 0);
			assert_false(changed);
			assert_int_equal(inode_of(p), prev);
		}
	}
	assert_int_equal(waitpid(reader, &status, 0), reader);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_entries(ut_path(p, tmpdir, "w7"), 1);
}

static bool have_tiny_fs;

/* A 64 KiB tmpfs in a private mount namespace: nothing outside this process sees it. */
static int mount_tiny_fs(const char *where)
{
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if (mount("tmpfs", where, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") < 0)
		return -errno;
	return 0;
}

static void full_fs_keeps_old_target(void **state)
{
	static char big[200 * 1024];
	char full[PATH_MAX], p[PATH_MAX];
	struct sfs_error err = {0};
	bool changed = true;
	(void)state;

	if (!have_tiny_fs)
		skip();
	ut_path(full, tmpdir, "full");
	ut_path(p, tmpdir, "full/key.pem");
	assert_int_equal(write_path(p, "old-key", &key_opts, &changed, &err), 0);
	memset(big, 'z', sizeof(big));
	assert_int_equal(sfs_write_file(p, big, sizeof(big), &dir_opts, &key_opts, &changed, &err),
			 -ENOSPC);
	assert_int_equal(err.code, -ENOSPC);
	assert_false(changed);
	assert_non_null(strstr(err.msg, p));
	assert_content(p, "old-key");
	assert_entries(full, 1);
}

/* Two-phase: A stages fine, B fails on the full filesystem, aborting A keeps A's old file. */
static void failed_stage_aborts_the_set(void **state)
{
	static char big[200 * 1024];
	char a_dir[PATH_MAX], b_dir[PATH_MAX], a[PATH_MAX];
	struct sfs_error err = {0};
	struct sfs_staged sa, sb;
	bool changed;
	int afd, bfd;
	(void)state;

	if (!have_tiny_fs)
		skip();
	assert_int_equal(
	    write_path(ut_path(a, tmpdir, "w8/a.pem"), "old-a", &key_opts, &changed, &err), 0);
	assert_int_equal(sfs_dir_open(ut_path(a_dir, tmpdir, "w8"), &dir_opts, &afd, &err), 0);
	assert_int_equal(sfs_dir_open(ut_path(b_dir, tmpdir, "full"), &dir_opts, &bfd, &err), 0);

	assert_int_equal(sfs_stage(afd, "a.pem", a, "new-a", 5, &key_opts, &sa, &err), 0);
	memset(big, 'y', sizeof(big));
	assert_int_equal(
	    sfs_stage(bfd, "b.pem", "full/b.pem", big, sizeof(big), &key_opts, &sb, &err), -ENOSPC);
	sfs_abort(&sb);
	sfs_abort(&sa);
	assert_content(a, "old-a");
	assert_entries(a_dir, 1);
	assert_entries(b_dir, 1); /* key.pem from the previous test only */

	/* And the successful path commits both. */
	assert_int_equal(sfs_stage(afd, "a.pem", a, "new-a", 5, &key_opts, &sa, &err), 0);
	assert_int_equal(sfs_stage(bfd, "b.pem", "full/b.pem", "b", 1, &key_opts, &sb, &err), 0);
	assert_int_equal(sfs_commit(&sa, &err), 0);
	assert_int_equal(sfs_commit(&sb, &err), 0);
	assert_content(a, "new-a");
	assert_entries(b_dir, 2);
	close(afd);
	close(bfd);
}

/* Runs in a child that became uid/gid 1000: chown=false writes files owned by that uid, and a
 * stage into a directory it may not write fails with -EACCES and leaves the set as it was.
 * Returns a nonzero code naming the first failed check (cmocka asserts cannot run here). */
static int unprivileged_writer(const char *own_dir, const char *root_dir)
{
	struct sfs_file_opts fo = {.owner = {.uid = TARGET_UID, .gid = TARGET_GID, .chown = false},
				   .mode = 0440};
	struct sfs_dir_opts d = {.owner = fo.owner, .mode = 0700, .create = false};
	struct sfs_error err = {0};
	struct sfs_staged sa, sb;
	char a[PATH_MAX];
	bool changed;
	int afd, bfd;

	if (setgroups(0, NULL) < 0 || setresgid(TARGET_GID, TARGET_GID, TARGET_GID) < 0 ||
	    setresuid(TARGET_UID, TARGET_UID, TARGET_UID) < 0)
		return 10;
	if (snprintf(a, sizeof(a), "%s/a.pem", own_dir) >= (int)sizeof(a))
		return 10;
	if (sfs_write_file(a, "a-one", 5, &d, &fo, &changed, &err) < 0 || !changed) {
		fprintf(stderr, "unprivileged write: %s\n", err.msg);
		return 11;
	}
	if (sfs_dir_open(own_dir, &d, &afd, &err) < 0 || sfs_dir_open(root_dir, &d, &bfd, &err) < 0)
		return 12;
	if (sfs_stage(afd, "a.pem", a, "a-two", 5, &fo, &sa, &err) < 0)
		return 13;
	if (sfs_stage(bfd, "b.pem", "b.pem", "b", 1, &fo, &sb, &err) != -EACCES)
		return 14;
	if (!strstr(err.msg, "b.pem"))
		return 15;
	sfs_abort(&sb);
	sfs_abort(&sa);
	close(afd);
	close(bfd);
	return 0;
}

static void unprivileged_writer_and_readonly_dir(void **state)
{
	char own[PATH_MAX], ro[PATH_MAX], a[PATH_MAX];
	struct stat st;
	int status;
	pid_t pid;
	(void)state;

	assert_int_equal(mkdir(ut_path(own, tmpdir, "w9"), 0700), 0);
	assert_int_equal(chown(own, TARGET_UID, TARGET_GID), 0);
	assert_int_equal(mkdir(ut_path(ro, tmpdir, "w9-root"), 0700), 0);
	assert_int_equal(chmod(ro, 0755), 0);
	/* The test directory itself is 0700 root: let uid 1000 through. */
	assert_int_equal(chmod(tmpdir, 0711), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(unprivileged_writer(own, ro));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(chmod(tmpdir, 0700), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(lstat(ut_path(a, tmpdir, "w9/a.pem"), &st), 0);
	assert_int_equal(st.st_uid, TARGET_UID);
	assert_int_equal(st.st_gid, TARGET_GID);
	assert_int_equal(st.st_mode & 07777, 0440);
	assert_content(a, "a-one");
	assert_entries(own, 1);
	assert_entries(ro, 0);
}

/* The order of the contract, seen by strace: temp created O_EXCL|O_NOFOLLOW, fchown and
 * fchmod before the first byte, fsync, rename over the target, then fsync of the directory. */
static void syscall_order(void **state)
{
	const char *helpers = getenv("SFS_TEST_HELPERS");
	char cmd[3 * PATH_MAX], log[PATH_MAX], target[PATH_MAX], line[1024];
	char tmpname[NAME_MAX + 1] = "";
	int step = 0, tmpfd = -1, dirfd = -1;
	FILE *f;
	(void)state;

	snprintf(cmd, sizeof(cmd), "%s/fs_write", helpers ? helpers : "");
	if (!helpers || access(cmd, X_OK) < 0 || system("command -v strace >/dev/null 2>&1") != 0) {
		fprintf(stderr, "syscall_order skipped: needs strace and the fs_write helper "
				"($SFS_TEST_HELPERS, built with the tests)\n");
		skip();
	}
	ut_path(log, tmpdir, "strace.log");
	ut_path(target, tmpdir, "w10/k.pem");
	assert_int_equal(mkdir(ut_path(cmd, tmpdir, "w10"), 0700), 0);
	/* -s 0: not even test bytes reach the log. LeakSanitizer cannot run under ptrace. */
	snprintf(cmd, sizeof(cmd),
		 "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" strace -s 0 -o "
		 "'%s' -e trace=openat,fchown,fchmod,write,fsync,renameat,"
		 "renameat2 '%s/fs_write' '%s' test-bytes 1000 1000 0400 >/dev/null",
		 log, helpers, target);
	assert_int_equal(system(cmd), 0);
	f = fopen(log, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char name[NAME_MAX + 1];
		int fd, dfd;

		if (step == 0 && strstr(line, "O_CREAT|O_EXCL|O_NOFOLLOW") &&
		    sscanf(line, "openat(%d, \"%255[^\"]\", %*[^)]) = %d", &dfd, name, &fd) == 3) {
			assert_true(name[0] == '.');
			snprintf(tmpname, sizeof(tmpname), "%s", name);
			tmpfd = fd;
			step = 1;
		} else if (step == 1 && sscanf(line, "fchown(%d, 1000, 1000)", &fd) == 1 &&
			   fd == tmpfd) {
			step = 2;
		} else if (step == 2 && sscanf(line, "fchmod(%d, 0400)", &fd) == 1 && fd == tmpfd) {
			step = 3;
		} else if (sscanf(line, "write(%d,", &fd) == 1 && fd == tmpfd) {
			if (step != 3)
				fail_msg("a byte was written before fchown and fchmod (step %d)",
					 step);
			step = 4;
		} else if (step == 4 && sscanf(line, "fsync(%d)", &fd) == 1 && fd == tmpfd) {
			step = 5;
		} else if (step == 5 && strncmp(line, "renameat", 8) == 0 &&
			   strstr(line, tmpname) && strstr(line, "\"k.pem\"")) {
			assert_int_equal(sscanf(strchr(line, '('), "(%d,", &dirfd), 1);
			step = 6;
		} else if (step == 6 && sscanf(line, "fsync(%d)", &fd) == 1 && fd == dirfd) {
			step = 7;
		}
	}
	fclose(f);
	assert_int_equal(step, 7);
	assert_content(target, "test-bytes");
}

/* On tmpfs a write is still a rename of a fully written temp (atomicity) but without fsync:
 * nothing there outlives a power loss. syscall_order checks the fsyncs on a disk filesystem. */
static void tmpfs_target_skips_fsync(void **state)
{
	const char *helpers = getenv("SFS_TEST_HELPERS");
	char cmd[3 * PATH_MAX], log[PATH_MAX], dir[PATH_MAX], target[PATH_MAX], line[1024];
	bool renamed = false;
	int fsyncs = 0;
	FILE *f;
	(void)state;

	snprintf(cmd, sizeof(cmd), "%s/fs_write", helpers ? helpers : "");
	if (!have_tiny_fs || !helpers || access(cmd, X_OK) < 0 ||
	    system("command -v strace >/dev/null 2>&1") != 0) {
		fprintf(stderr, "tmpfs_target_skips_fsync skipped: needs a private tmpfs mount, "
				"strace and the fs_write helper\n");
		skip();
	}
	assert_int_equal(mkdir(ut_path(dir, tmpdir, "ram"), 0755), 0);
	assert_int_equal(mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755"),
			 0);
	ut_path(log, tmpdir, "strace-tmpfs.log");
	ut_path(target, tmpdir, "ram/k.pem");
	snprintf(cmd, sizeof(cmd),
		 "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" strace -s 0 -o "
		 "'%s' -e trace=fsync,fdatasync,syncfs,renameat,renameat2 '%s/fs_write' '%s' "
		 "test-bytes 1000 1000 0400 >/dev/null",
		 log, helpers, target);
	assert_int_equal(system(cmd), 0);
	f = fopen(log, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "renameat", 8) == 0 && strstr(line, "\"k.pem\""))
			renamed = true;
		if (strstr(line, "sync"))
			fsyncs++;
	}
	fclose(f);
	assert_content(target, "test-bytes");
	umount2(dir, MNT_DETACH);
	assert_true(renamed);
	assert_int_equal(fsyncs, 0);
}

static void plant(const char *dir, const char *name, uid_t uid)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "stale-secret", 12), 12);
	assert_int_equal(fchown(fd, uid, uid), 0);
	assert_int_equal(close(fd), 0);
}

static bool exists(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
		fail_msg("path too long: %s/%s", dir, name);
	return lstat(p, &st) == 0;
}

/* What a crash between write and rename leaves (".k.pem.XXXXXX", owned by the writer or
 * already by the target's owner) is removed at the next write of k.pem, even one that finds
 * the content unchanged; anything that only looks like it is left alone. */
static void stale_temp_files_removed(void **state)
{
	static const char *const left_alone[] = {
	    ".k.pem.Ab12C",   /* suffix too short */
	    ".k.pem.Ab12Cd7", /* too long */
	    ".k.pem.Ab-2Cd",  /* not a letter or digit */
	    ".k.pemAb12Cde",  /* no dot */
	    "k.pem.Ab12Cd",   /* no leading dot */
	    ".j.pem.Ab12Cd",  /* another target's temp */
	    ".k.pem.Other1",  /* owned by someone else (below) */
	    ".k.pem.Link22",  /* a symlink */
	    ".k.pem.Dir333",  /* a directory */
	    ".k.pem.Hard44",  /* a second name of another file */
	};
	char d[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
	struct sfs_error err = {0};
	bool changed = false;
	(void)state;

	assert_int_equal(write_path(ut_path(p, tmpdir, "stale/k.pem"), "key-one", &key_opts, &changed, &err), 0);
	ut_path(d, tmpdir, "stale");
	plant(d, ".k.pem.Ab12Cd", 0);	       /* crashed before fchown */
	plant(d, ".k.pem.zZ9yY8", TARGET_UID); /* crashed after fchown */
	plant(d, ".k.pem.Ab12C", 0);
	plant(d, ".k.pem.Ab12Cd7", 0);
	plant(d, ".k.pem.Ab-2Cd", 0);
	plant(d, ".k.pemAb12Cde", 0);
	plant(d, "k.pem.Ab12Cd", 0);
	plant(d, ".j.pem.Ab12Cd", 0);
	plant(d, ".k.pem.Other1", 4242);
	assert_int_equal(symlink("k.pem", ut_path(p, tmpdir, "stale/.k.pem.Link22")), 0);
	assert_int_equal(mkdir(ut_path(p, tmpdir, "stale/.k.pem.Dir333"), 0700), 0);
	plant(d, "hard-original", 0);
	assert_int_equal(link(ut_path(p, tmpdir, "stale/hard-original"), ut_path(q, tmpdir, "stale/.k.pem.Hard44")), 0);

	/* Same bytes: no rewrite, and still the leftovers go. */
	assert_int_equal(write_path(ut_path(p, tmpdir, "stale/k.pem"), "key-one", &key_opts, &changed, &err), 0);
	assert_false(changed);
	assert_false(exists(d, ".k.pem.Ab12Cd"));
	assert_false(exists(d, ".k.pem.zZ9yY8"));
	for (size_t i = 0; i < sizeof(left_alone) / sizeof(left_alone[0]); i++)
		if (!exists(d, left_alone[i]))
			fail_msg("%s was removed", left_alone[i]);
	assert_true(exists(d, "hard-original"));
	assert_content(ut_path(p, tmpdir, "stale/k.pem"), "key-one");

	/* And when the target is rewritten. */
	plant(d, ".k.pem.AAAAAA", 0);
	assert_int_equal(write_path(ut_path(p, tmpdir, "stale/k.pem"), "key-two", &key_opts, &changed, &err), 0);
	assert_true(changed);
	assert_false(exists(d, ".k.pem.AAAAAA"));
	assert_content(ut_path(p, tmpdir, "stale/k.pem"), "key-two");
	/* k.pem, hard-original and the ten look-alikes. */
	assert_entries(d, 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(new_file_owner_mode_bytes),
	    cmocka_unit_test(unchanged_keeps_inode),
	    cmocka_unit_test(no_chown_keeps_invoking_owner),
	    cmocka_unit_test(symlink_target_replaced_not_followed),
	    cmocka_unit_test(directory_target_refused),
	    cmocka_unit_test(stage_commit_abort),
	    cmocka_unit_test(readers_see_whole_files),
	    cmocka_unit_test(unprivileged_writer_and_readonly_dir),
	    cmocka_unit_test(syscall_order),
	    cmocka_unit_test(full_fs_keeps_old_target),
	    cmocka_unit_test(failed_stage_aborts_the_set),
	    cmocka_unit_test(stale_temp_files_removed),
	    cmocka_unit_test(tmpfs_target_skips_fsync),
	};
	char full[PATH_MAX];
	int r;

	if (geteuid() != 0) {
		fprintf(stderr, "test_atomic_write: skipped, needs root to give files to uid 1000 "
				"and to mount a tiny tmpfs\n");
		return 77;
	}
	umask(077);
	if (sfs_init(NULL) < 0)
		return 1;
	if (ut_tmpdir_make(tmpdir, sizeof(tmpdir), "sfs-test-atomic") < 0)
		return 1;
	if (mkdir(ut_path(full, tmpdir, "full"), 0755) < 0)
		return 1;
	r = mount_tiny_fs(full);
	have_tiny_fs = r == 0;
	if (!have_tiny_fs)
		fprintf(stderr, "full-filesystem tests skipped: cannot mount a tmpfs (%s)\n",
			strerror(-r));
	r = cmocka_run_group_tests(tests, NULL, NULL);
	if (have_tiny_fs)
		umount2(full, MNT_DETACH);
	if (ut_tmpdir_remove(tmpdir) < 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return r;
}
