/* mountinfo: a file bind-mounted onto a path (Kubernetes subPath) is recognised as a mount
 * point; ordinary files are not; escaped paths are decoded. */
/* cmocka needs these three first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "secrets/mountinfo.h"
#include "test_files.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

static char fixture_dir[64];
static char fixture_path[PATH_MAX];

static int setup(void **state)
{
	(void)state;
	assert_int_equal(ut_tmpdir_make(fixture_dir, sizeof(fixture_dir), "mountinfo-test"), 0);
	ut_write_text(
	    ut_path(fixture_path, fixture_dir, "mountinfo"),
	    "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
	    "1301 1290 0:52 / /var/run/secrets/kubernetes.io/serviceaccount ro,relatime - "
	    "tmpfs tmpfs rw,size=65536k\n"
	    "1302 1290 259:2 /var/lib/kubelet/pods/uid/volume-subpaths/ca/app/0 "
	    "/app/certs/root.crt ro,relatime - ext4 /dev/root rw\n"
	    "1303 1290 0:60 / /mnt/with\\040space rw - tmpfs tmpfs rw\n",
	    0600);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return ut_tmpdir_remove(fixture_dir) < 0 ? -1 : 0;
}

static void subpath_file_is_a_mount_point(void **state)
{
	bool is_mount = false;

	(void)state;
	assert_int_equal(mountinfo_is_mount_point(fixture_path, "/app/certs/root.crt", &is_mount),
			 0);
	assert_true(is_mount);
}

static void ordinary_paths_are_not(void **state)
{
	bool is_mount = true;

	(void)state;
	assert_int_equal(mountinfo_is_mount_point(fixture_path, "/app/certs/other.crt", &is_mount),
			 0);
	assert_false(is_mount);
	/* A prefix of a mount point is not one. */
	assert_int_equal(mountinfo_is_mount_point(fixture_path, "/app/certs", &is_mount), 0);
	assert_false(is_mount);
}

static void escaped_mount_points_are_decoded(void **state)
{
	bool is_mount = false;
	char s[] = "/a\\040b\\011c\\134d";

	(void)state;
	mountinfo_unescape(s);
	assert_string_equal(s, "/a b\tc\\d");
	assert_int_equal(mountinfo_is_mount_point(fixture_path, "/mnt/with space", &is_mount), 0);
	assert_true(is_mount);
}

static void missing_mountinfo_is_an_error(void **state)
{
	bool is_mount = true;

	(void)state;
	assert_int_equal(mountinfo_is_mount_point("/nonexistent/mountinfo", "/x", &is_mount),
			 -ENOENT);
	assert_false(is_mount);
}

/* The live table: / is always a mount point; this fixture file never is. */
static void live_table(void **state)
{
	bool is_mount = false;

	(void)state;
	assert_int_equal(mountinfo_is_mount_point(NULL, "/", &is_mount), 0);
	assert_true(is_mount);
	assert_int_equal(mountinfo_is_mount_point(NULL, fixture_path, &is_mount), 0);
	assert_false(is_mount);
}

/* The statx answer agrees with the table: / is a mount root, the fixture file is not. */
static void statx_check_agrees(void **state)
{
	bool is_mount = false;

	(void)state;
	assert_int_equal(mount_point_check("/", &is_mount), 0);
	assert_true(is_mount);
	assert_int_equal(mount_point_check(fixture_path, &is_mount), 0);
	assert_false(is_mount);
	/* A path that is not there is no mount point (as the table scan says). */
	assert_int_equal(mount_point_check("/nonexistent/x", &is_mount), 0);
	assert_false(is_mount);
}

/* A file bind-mounted onto another (what subPath does), in a private mount namespace of a
 * child so the host's table is never touched: both ways of asking see the mount point. */
static void bind_mounted_file_is_seen(void **state)
{
	char target[PATH_MAX];
	pid_t pid;
	int status;

	(void)state;
	if (geteuid() != 0)
		skip(); /* bind mounts need root; cmocka reports the test as SKIPPED */
	ut_write_text(ut_path(target, fixture_dir, "bound"), "x", 0600);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bool by_statx = false, by_table = false;

		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(77);
		if (mount(fixture_path, target, NULL, MS_BIND, NULL) < 0)
			_exit(77);
		if (mount_point_check(target, &by_statx) < 0 ||
		    mountinfo_is_mount_point(NULL, target, &by_table) < 0)
			_exit(2);
		_exit(by_statx && by_table ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* no mount namespace here (a restricted container) */
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(subpath_file_is_a_mount_point),
	    cmocka_unit_test(ordinary_paths_are_not),
	    cmocka_unit_test(escaped_mount_points_are_decoded),
	    cmocka_unit_test(missing_mountinfo_is_an_error),
	    cmocka_unit_test(live_table),
	    cmocka_unit_test(statx_check_agrees),
	    cmocka_unit_test(bind_mounted_file_is_seen),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
