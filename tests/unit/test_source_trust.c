/* source_trust: a source path is refused when the service's uid could change a directory on
 * its way (owner, write permission, a link inside such a directory), and accepted when every
 * directory is out of its reach, sticky directories holding somebody else's entry included. */
/* cmocka needs these three first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "secrets/source_trust.h"
#include "test_files.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERVICE_UID 4242
#define SERVICE_GID 4242
#define OTHER_GID   4343

static char dir[64];
static const gid_t service_groups[] = {SERVICE_GID};

static int check(const char *path, char *why, size_t size)
{
	return source_trust_check(path, SERVICE_UID, service_groups, 1, why, size);
}

/* DIR/name as a directory with owner, group and mode. */
static char *make_dir(char *buf, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	ut_path(buf, dir, name);
	assert_int_equal(mkdir(buf, 0700), 0);
	assert_int_equal(chown(buf, uid, gid), 0);
	assert_int_equal(chmod(buf, mode), 0);
	return buf;
}

static void file_in(const char *d, const char *name, uid_t uid)
{
	char p[PATH_MAX];

	assert_true(snprintf(p, sizeof(p), "%s/%s", d, name) < (int)sizeof(p));
	ut_write_text(p, "token", 0644);
	assert_int_equal(chown(p, uid, uid), 0);
}

static void root_owned_directories_are_trusted(void **state)
{
	char d[PATH_MAX], p[PATH_MAX + 64], why[256] = "";

	(void)state;
	make_dir(d, "root755", 0, 0, 0755);
	file_in(d, "token", 0);
	snprintf(p, sizeof(p), "%s/token", d);
	assert_int_equal(check(p, why, sizeof(why)), 0);
	/* "." and ".." are resolved, not trusted blindly. */
	snprintf(p, sizeof(p), "%s/./../root755/token", d);
	assert_int_equal(check(p, why, sizeof(why)), 0);
}

static void a_directory_the_service_owns_or_may_write_is_refused(void **state)
{
	char d[PATH_MAX], p[PATH_MAX + 64], why[256] = "";

	(void)state;
	make_dir(d, "owned", SERVICE_UID, SERVICE_GID, 0555);
	file_in(d, "token", 0);
	snprintf(p, sizeof(p), "%s/token", d);
	assert_int_equal(check(p, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, d));

	make_dir(d, "groupw", 0, SERVICE_GID, 0775);
	file_in(d, "token", 0);
	snprintf(p, sizeof(p), "%s/token", d);
	assert_int_equal(check(p, why, sizeof(why)), -EPERM);

	/* Group-writable for a group the service is not in: out of reach. */
	make_dir(d, "othergroupw", 0, OTHER_GID, 0775);
	file_in(d, "token", 0);
	snprintf(p, sizeof(p), "%s/token", d);
	assert_int_equal(check(p, why, sizeof(why)), 0);

	make_dir(d, "worldw", 0, 0, 0777);
	file_in(d, "token", 0);
	snprintf(p, sizeof(p), "%s/token", d);
	assert_int_equal(check(p, why, sizeof(why)), -EPERM);
}

/* The sticky bit keeps the service from renaming an entry it does not own. */
static void sticky_directory_depends_on_the_entry(void **state)
{
	char d[PATH_MAX], p[PATH_MAX + 64], why[256] = "";

	(void)state;
	make_dir(d, "sticky", 0, 0, 01777);
	file_in(d, "roots", 0);
	file_in(d, "services", SERVICE_UID);
	snprintf(p, sizeof(p), "%s/roots", d);
	assert_int_equal(check(p, why, sizeof(why)), 0);
	snprintf(p, sizeof(p), "%s/services", d);
	assert_int_equal(check(p, why, sizeof(why)), -EPERM);
}

/* Links are followed one at a time and the directories they lead through are checked too. */
static void links_lead_through_checked_directories(void **state)
{
	char safe[PATH_MAX], svc[PATH_MAX], p[PATH_MAX + 64], l[PATH_MAX + 64], why[256] = "";

	(void)state;
	make_dir(safe, "safe", 0, 0, 0755);
	make_dir(svc, "svc", SERVICE_UID, SERVICE_GID, 0755);
	file_in(svc, "token", 0);
	/* safe/link -> ../svc : the link itself is safe, where it leads is not. */
	snprintf(l, sizeof(l), "%s/link", safe);
	assert_int_equal(symlink("../svc", l), 0);
	snprintf(p, sizeof(p), "%s/link/token", safe);
	assert_int_equal(check(p, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, svc));

	/* A Kubernetes-like volume: token -> ..data/token, ..data -> ..stamp, all root's. */
	make_dir(l, "safe/..stamp", 0, 0, 0755);
	file_in(l, "token", 0);
	snprintf(l, sizeof(l), "%s/..data", safe);
	assert_int_equal(symlink("..stamp", l), 0);
	snprintf(l, sizeof(l), "%s/token", safe);
	assert_int_equal(symlink("..data/token", l), 0);
	assert_int_equal(check(l, why, sizeof(why)), 0);

	snprintf(l, sizeof(l), "%s/loop", safe);
	assert_int_equal(symlink("loop", l), 0);
	assert_int_equal(check(l, why, sizeof(why)), -ELOOP);
}

static int setup(void **state)
{
	(void)state;
	return ut_tmpdir_make(dir, sizeof(dir), "sa-trust");
}

static int teardown(void **state)
{
	(void)state;
	return ut_tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(root_owned_directories_are_trusted, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_directory_the_service_owns_or_may_write_is_refused,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(sticky_directory_depends_on_the_entry, setup, teardown),
	    cmocka_unit_test_setup_teardown(links_lead_through_checked_directories, setup,
					    teardown),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "SKIPPED: needs root (gives directories to another uid)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
