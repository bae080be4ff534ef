/* Safe directory walk: owners and modes of created directories, planted symlinks and
 * directories refused (naming the path, writing nothing outside), trusted root links followed.
 * Needs root: it creates directories for other uids and plants links owned by them. */
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
#include "test_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TARGET_UID   1000
#define TARGET_GID   1000
#define INTRUDER_UID 4242

static char tmpdir[64];

static struct sfs_dir_opts target_opts(void)
{
	return (struct sfs_dir_opts){
	    .owner = {.uid = TARGET_UID, .gid = TARGET_GID, .chown = true},
	    .mode = 0700,
	    .parent_mode = 0750,
	    .create = true,
	};
}

static void assert_dir(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(st.st_mode & 07777, mode);
}

/* mkdir with an exact mode (the test runs under umask 077 like the agent) and owner. */
static void make_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chown(path, uid, gid), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void assert_absent(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static int open_dir(const char *path, const struct sfs_dir_opts *o, struct sfs_error *err)
{
	int fd = -1;
	int r = sfs_dir_open(path, o, &fd, err);

	if (r == 0) {
		assert_true(fd >= 0);
		close(fd);
	} else {
		assert_int_equal(fd, -1);
		assert_int_equal(err->code, r);
	}
	return r;
}

static void creates_with_owner_and_mode(void **state)
{
	char p[PATH_MAX];
	struct sfs_dir_opts o = target_opts();
	struct sfs_error err = {0};
	(void)state;

	assert_int_equal(open_dir(ut_path(p, tmpdir, "c1/a/b"), &o, &err), 0);
	assert_dir(ut_path(p, tmpdir, "c1"), TARGET_UID, TARGET_GID, 0750);
	assert_dir(ut_path(p, tmpdir, "c1/a"), TARGET_UID, TARGET_GID, 0750);
	assert_dir(ut_path(p, tmpdir, "c1/a/b"), TARGET_UID, TARGET_GID, 0700);
	/* Opening again changes nothing and succeeds. */
	assert_int_equal(open_dir(ut_path(p, tmpdir, "c1/a/b"), &o, &err), 0);
	assert_dir(ut_path(p, tmpdir, "c1/a/b"), TARGET_UID, TARGET_GID, 0700);
}

static void root_owned_parents(void **state)
{
	char p[PATH_MAX];
	struct sfs_dir_opts o = target_opts();
	struct sfs_error err = {0};
	(void)state;

	o.parents_root_owned = true;
	o.parent_mode = 0755;
	o.mode = 0750;
	assert_int_equal(open_dir(ut_path(p, tmpdir, "c2/x/logs"), &o, &err), 0);
	assert_dir(ut_path(p, tmpdir, "c2"), 0, 0, 0755);
	assert_dir(ut_path(p, tmpdir, "c2/x"), 0, 0, 0755);
	assert_dir(ut_path(p, tmpdir, "c2/x/logs"), TARGET_UID, TARGET_GID, 0750);
}

static void no_chown_means_invoking_owner(void **state)
{
	char p[PATH_MAX];
	struct sfs_dir_opts o = target_opts();
	struct sfs_error err = {0};
	(void)state;

	o.owner.chown = false;
	assert_int_equal(open_dir(ut_path(p, tmpdir, "c3/y"), &o, &err), 0);
	assert_dir(ut_path(p, tmpdir, "c3"), geteuid(), getegid(), 0750);
	assert_dir(ut_path(p, tmpdir, "c3/y"), geteuid(), getegid(), 0700);
}

static void existing_dirs_left_alone_unless_owned(void **state)
{
	char p[PATH_MAX];
	struct sfs_dir_opts o = target_opts();
	struct sfs_error err = {0};
	(void)state;

	/* Someone else's directory: never chmod'ed, even when enforcing. */
	make_dir(ut_path(p, tmpdir, "c4"), 0755, 2000, 2000);
	o.enforce_final = true;
	assert_int_equal(open_dir(p, &o, &err), 0);
	assert_dir(p, 2000, 2000, 0755);

	/* The target owner's directory: left alone unless enforcing, then given `mode`. */
	assert_int_equal(chown(p, TARGET_UID, 0), 0);
	o.enforce_final = false;
	assert_int_equal(open_dir(p, &o, &err), 0);
	assert_dir(p, TARGET_UID, 0, 0755);
	o.enforce_final = true;
	assert_int_equal(open_dir(p, &o, &err), 0);
	assert_dir(p, TARGET_UID, TARGET_GID, 0700);
}

static void symlink_as_final_dir_refused(void **state)
{
	char p[PATH_MAX], outside[PATH_MAX], q[PATH_MAX];
	struct sfs_dir_opts o = target_opts();
	struct sfs_error err = {0};
	bool changed = true;
	struct sfs_file_opts fo = {.owner = o.owner, .mode = 0400};
	(void)state;

	assert_int_equal(mkdir(ut_path(outside, tmpdir, "outside1"), 0755), 0);
	assert_int_equal(mkdir(ut_path(p, tmpdir, "home1"), 0755), 0);
	assert_int_equal(symlink(outside, ut_path(p, tmpdir, "home1/keys")), 0);
	assert_int_equal(lchown(p, TARGET_UID, TARGET_GID), 0);

	assert_int_equal(open_dir(p, &o, &err), -ELOOP);
	assert_non_null(strstr(err.msg, p));
	assert_non_null(strstr(err.msg, "uid 1000"));

	assert_int_equal(sfs_write_file(ut_path(q, tmpdir, "home1/keys/signing_key.pem"), "x", 1,
					&o, &fo, &changed, &err),
			 -ELOOP);
	assert_false(changed);
	assert_non_null(strstr(err.msg, p));
	assert_absent(ut_path(q, tmpdir, "outside1/signing_key.pem"));
}

static void symlink_as_intermediate_refused(void **state)
{
	char p[PATH_MAX], outside[PATH_MAX], q[PATH_MAX];
	struct sfs_dir_opts o = target_opts();
	struct sfs_error err = {0};
	(void)state;

	assert_int_equal(mkdir(ut_path(outside, tmpdir, "outside2"), 0755), 0);
	assert_int_equal(symlink(outside, ut_path(p, tmpdir, "mid")), 0);
	assert_int_equal(lchown(p, INTRUDER_UID, INTRUDER_UID), 0);

	assert_int_equal(open_dir(ut_path(q, tmpdir, "mid/deeper/keys"), &o, &err), -ELOOP);
	assert_non_null(strstr(err.msg, p));
	assert_non_null(strstr(err.msg, "never followed"));
	assert_absent(ut_path(q, tmpdir, "outside2/deeper"));
}

/* A root-owned link inside a directory someone else owns is no system link. */
static void root_link_in_foreign_dir_refused(void **state)
{
	char p[PATH_MAX], outside[PATH_MAX], q[PATH_MAX];
	struct sfs_dir_opts o = target_opts();
	struct sfs_error err = {0};
	(void)state;

	assert_int_equal(mkdir(ut_path(outside, tmpdir, "outside3"), 0755), 0);
	make_dir(ut_path(p, tmpdir, "userdir"), 0755, INTRUDER_UID, INTRUDER_UID);
	assert_int_equal(symlink(outside, ut_path(p, tmpdir, "userdir/link")), 0);

	assert_int_equal(open_dir(ut_path(q, tmpdir, "userdir/link/keys"), &o, &err), -ELOOP);
	assert_non_null(strstr(err.msg, p));
	assert_absent(ut_path(q, tmpdir, "outside3/keys"));
}

static void root_link_in_root_dir_followed(void **state)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct sfs_dir_opts o = target_opts();
	struct sfs_error err = {0};
	struct stat st;
	int fd = -1;
	(void)state;

	/* Like /var/run -> /run: absolute target, then a relative one with "..". */
	assert_int_equal(mkdir(ut_path(p, tmpdir, "sys"), 0755), 0);
	assert_int_equal(mkdir(ut_path(p, tmpdir, "sys/real"), 0755), 0);
	assert_int_equal(mkdir(ut_path(p, tmpdir, "sys/var"), 0755), 0);
	assert_int_equal(symlink(ut_path(q, tmpdir, "sys/real"), ut_path(p, tmpdir, "sys/var/run")),
			 0);
	assert_int_equal(symlink("../real", ut_path(p, tmpdir, "sys/var/rel")), 0);

	assert_int_equal(sfs_dir_open(ut_path(p, tmpdir, "sys/var/run/app"), &o, &fd, &err), 0);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	assert_dir(ut_path(p, tmpdir, "sys/real/app"), TARGET_UID, TARGET_GID, 0700);

	assert_int_equal(sfs_dir_open(ut_path(p, tmpdir, "sys/var/rel/app2"), &o, &fd, &err), 0);
	close(fd);
	assert_dir(ut_path(p, tmpdir, "sys/real/app2"), TARGET_UID, TARGET_GID, 0700);

	/* The link as the final directory itself. */
	assert_int_equal(sfs_dir_open(ut_path(p, tmpdir, "sys/var/run"), &o, &fd, &err), 0);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	{
		struct stat real;
		assert_int_equal(stat(ut_path(q, tmpdir, "sys/real"), &real), 0);
		assert_int_equal(st.st_ino, real.st_ino);
	}
}

static void link_loop_bounded(void **state)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct sfs_dir_opts o = target_opts();
	struct sfs_error err = {0};
	(void)state;

	assert_int_equal(mkdir(ut_path(p, tmpdir, "loop"), 0755), 0);
	assert_int_equal(symlink(ut_path(q, tmpdir, "loop/b"), ut_path(p, tmpdir, "loop/a")), 0);
	assert_int_equal(symlink(ut_path(q, tmpdir, "loop/a"), ut_path(p, tmpdir, "loop/b")), 0);
	assert_int_equal(open_dir(ut_path(p, tmpdir, "loop/a/x"), &o, &err), -ELOOP);
	assert_non_null(strstr(err.msg, "too many"));

	/* A trusted link whose target holds a name longer than NAME_MAX: refused, not cut
	 * down to a name that exists. */
	{
		char target[NAME_MAX + 64], cut[PATH_MAX];

		memset(target, 'n', sizeof(target) - 1);
		target[sizeof(target) - 1] = '\0';
		snprintf(cut, sizeof(cut), "%s/loop/%.*s", tmpdir, NAME_MAX, target);
		assert_int_equal(mkdir(cut, 0700), 0);
		assert_int_equal(symlink(target, ut_path(p, tmpdir, "loop/long")), 0);
		assert_int_equal(open_dir(ut_path(p, tmpdir, "loop/long/x"), &o, &err),
				 -ENAMETOOLONG);
		strcat(cut, "/x");
		assert_absent(cut);
	}
}

static void planted_dir_in_sticky_dir_refused(void **state)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct sfs_dir_opts o = target_opts();
	struct sfs_error err = {0};
	(void)state;

	/* A private /tmp: root-owned, 1777. */
	make_dir(ut_path(p, tmpdir, "stmp"), 01777, 0, 0);
	make_dir(ut_path(p, tmpdir, "stmp/keys"), 0777, INTRUDER_UID, INTRUDER_UID);

	assert_int_equal(open_dir(ut_path(p, tmpdir, "stmp/keys"), &o, &err), -EPERM);
	assert_non_null(strstr(err.msg, p));
	assert_non_null(strstr(err.msg, "uid 4242"));
	assert_int_equal(open_dir(ut_path(q, tmpdir, "stmp/keys/sub"), &o, &err), -EPERM);
	assert_absent(ut_path(q, tmpdir, "stmp/keys/sub"));
	assert_dir(p, INTRUDER_UID, INTRUDER_UID, 0777);

	/* The same directory owned by the target owner or root is fine. */
	assert_int_equal(chown(p, TARGET_UID, TARGET_GID), 0);
	assert_int_equal(open_dir(p, &o, &err), 0);
	assert_int_equal(chown(p, 0, 0), 0);
	assert_int_equal(open_dir(p, &o, &err), 0);

	/* Below a non-sticky parent the rule does not apply. */
	make_dir(ut_path(p, tmpdir, "plain"), 0755, 0, 0);
	make_dir(ut_path(p, tmpdir, "plain/keys"), 0755, INTRUDER_UID, INTRUDER_UID);
	assert_int_equal(open_dir(p, &o, &err), 0);
	assert_dir(p, INTRUDER_UID, INTRUDER_UID, 0755);
}

static void other_errors(void **state)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct sfs_dir_opts o = target_opts();
	struct sfs_error err = {0};
	int fd;
	(void)state;

	fd = open(ut_path(p, tmpdir, "afile"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(open_dir(ut_path(q, tmpdir, "afile/sub"), &o, &err), -ENOTDIR);
	assert_non_null(strstr(err.msg, p));

	o.create = false;
	assert_int_equal(open_dir(ut_path(p, tmpdir, "nothere/sub"), &o, &err), -ENOENT);
	assert_absent(ut_path(q, tmpdir, "nothere"));

	o.create = true;
	assert_int_equal(open_dir("relative/dir", &o, &err), -EINVAL);
	assert_int_equal(open_dir(ut_path(p, tmpdir, "c1/../c1"), &o, &err), -EINVAL);
	assert_int_equal(open_dir("/", &o, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(creates_with_owner_and_mode),
	    cmocka_unit_test(root_owned_parents),
	    cmocka_unit_test(no_chown_means_invoking_owner),
	    cmocka_unit_test(existing_dirs_left_alone_unless_owned),
	    cmocka_unit_test(symlink_as_final_dir_refused),
	    cmocka_unit_test(symlink_as_intermediate_refused),
	    cmocka_unit_test(root_link_in_foreign_dir_refused),
	    cmocka_unit_test(root_link_in_root_dir_followed),
	    cmocka_unit_test(link_loop_bounded),
	    cmocka_unit_test(planted_dir_in_sticky_dir_refused),
	    cmocka_unit_test(other_errors),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_safe_dir: skipped, needs root to create directories and "
				"links owned by other uids\n");
		return 77;
	}
	umask(077);
	return ut_run_group_in_tmpdir(tests, tmpdir, "sfs-test-safedir");
}
