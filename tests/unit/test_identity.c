/* Users and groups: by name (with supplementary groups), by number (with or without a passwd
 * entry), "user:group", explicit groups, unknown names. Checked against getpwnam/getgrnam of
 * the system the test runs on; the names used exist in every Debian base image. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "proc/identity.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>

static bool has_group(const struct identity *id, gid_t gid)
{
	for (size_t i = 0; i < id->ngroups; i++)
		if (id->groups[i] == gid)
			return true;
	return false;
}

static void test_user_by_name_gets_supplementary_groups(void **state)
{
	struct identity id;
	char msg[256];
	struct passwd *pw = getpwnam("root");
	int n = 64;
	gid_t expected[64];

	(void)state;
	assert_non_null(pw);
	assert_int_equal(identity_resolve("root", NULL, &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.uid, 0);
	assert_int_equal(id.gid, pw->pw_gid);
	assert_true(id.by_name);
	assert_string_equal(id.name, "root");
	assert_string_equal(id.home, pw->pw_dir);
	assert_int_equal(getgrouplist("root", pw->pw_gid, expected, &n) >= 0, 1);
	assert_int_equal(id.ngroups, (size_t)n);
	assert_true(has_group(&id, pw->pw_gid));
}

static void test_numeric_uid_with_entry(void **state)
{
	struct identity id;
	char msg[256];
	struct passwd *pw = getpwnam("nobody");

	(void)state;
	assert_non_null(pw);
	assert_int_equal(identity_resolve("65534", NULL, &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.uid, pw->pw_uid);
	assert_int_equal(id.gid, pw->pw_gid);
	assert_false(id.by_name);
	assert_int_equal(id.ngroups, 0);
	assert_string_equal(id.name, "nobody");
	assert_string_equal(id.home, pw->pw_dir);
}

static void test_numeric_uid_without_entry(void **state)
{
	struct identity id;
	char msg[256];

	(void)state;
	assert_null(getpwuid(54321));
	assert_int_equal(identity_resolve("54321", NULL, &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.uid, 54321);
	assert_int_equal(id.gid, 54321);
	assert_false(id.by_name);
	assert_int_equal(id.ngroups, 0);
	assert_string_equal(id.name, "");
	assert_string_equal(id.home, "/");
	assert_int_equal(identity_resolve("54321", "54322", &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.gid, 54322);
}

static void test_explicit_group_means_only_that_group(void **state)
{
	struct identity id;
	char msg[256];
	struct group *nogroup = getgrnam("nogroup");

	(void)state;
	assert_non_null(nogroup);
	assert_int_equal(identity_resolve("root", "nogroup", &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.uid, 0);
	assert_int_equal(id.gid, nogroup->gr_gid);
	assert_false(id.by_name);
	assert_int_equal(id.ngroups, 0);
	assert_int_equal(identity_resolve("root:nogroup", NULL, &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.gid, nogroup->gr_gid);
	assert_int_equal(id.ngroups, 0);
	assert_int_equal(identity_resolve("1000:1000", NULL, &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.uid, 1000);
	assert_int_equal(id.gid, 1000);
	assert_int_equal(identity_resolve("root:0", "0", &id, msg, sizeof(msg)), -EINVAL);
}

static void test_unknown_names(void **state)
{
	struct identity id;
	char msg[256];

	(void)state;
	assert_int_equal(identity_resolve("no_such_user_x", NULL, &id, msg, sizeof(msg)), -ENOENT);
	assert_string_equal(msg, "unknown user 'no_such_user_x'");
	assert_int_equal(identity_resolve("root", "no_such_group_x", &id, msg, sizeof(msg)),
			 -ENOENT);
	assert_string_equal(msg, "unknown group 'no_such_group_x'");
	assert_int_equal(identity_resolve("", NULL, &id, msg, sizeof(msg)), -EINVAL);
	/* (uid_t)-1 means "leave unchanged" to setresuid(): never a valid id. */
	assert_int_equal(identity_resolve("4294967295", NULL, &id, msg, sizeof(msg)), -ENOENT);
}

static void test_resolve_group(void **state)
{
	gid_t gid = 1;

	(void)state;
	assert_int_equal(identity_resolve_group("root", &gid), 0);
	assert_int_equal(gid, 0);
	assert_int_equal(identity_resolve_group("12345", &gid), 0);
	assert_int_equal(gid, 12345);
	assert_int_equal(identity_resolve_group("no_such_group_x", &gid), -ENOENT);
	assert_int_equal(identity_resolve_group("", &gid), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_user_by_name_gets_supplementary_groups),
	    cmocka_unit_test(test_numeric_uid_with_entry),
	    cmocka_unit_test(test_numeric_uid_without_entry),
	    cmocka_unit_test(test_explicit_group_means_only_that_group),
	    cmocka_unit_test(test_unknown_names),
	    cmocka_unit_test(test_resolve_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
