/* Users and groups: by name (with supplementary groups), by number (with or without a passwd
 * entry), "user:group", explicit groups, unknown names. Checked against getpwnam/getgrnam of
 * the system the test runs on; the names used exist in every Debian base image.
 *
 * The files-only resolver of the static build is compiled in here a second time, under other
 * names, and run against passwd and group files this test writes. */
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The static build's resolver, reading the files named here. */
static char files_passwd[64], files_group[64];
#define IDENTITY_FILES_ONLY
#define IDENTITY_PASSWD_FILE   files_passwd
#define IDENTITY_GROUP_FILE    files_group
#define identity_resolve       files_identity_resolve
#define identity_resolve_group files_identity_resolve_group
int files_identity_resolve(const char *user, const char *group, struct identity *out, char *msg,
			   size_t msgsize);
int files_identity_resolve_group(const char *group, gid_t *out);
#include "proc/identity.c"
#undef identity_resolve
#undef identity_resolve_group
#undef getpwnam_r
#undef getpwuid_r
#undef getgrnam_r
#undef getgrgid_r
#undef getgrouplist

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

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int files_setup(void **state)
{
	/* One group line longer than the first buffer: read again after ERANGE. */
	size_t big = 40000;
	char *group = malloc(big + 512), *p;
	int fd;

	(void)state;
	strcpy(files_passwd, "/tmp/sa-test-passwd-XXXXXX");
	strcpy(files_group, "/tmp/sa-test-group-XXXXXX");
	fd = mkstemp(files_passwd);
	assert_true(fd >= 0);
	close(fd);
	fd = mkstemp(files_group);
	assert_true(fd >= 0);
	close(fd);
	write_text(files_passwd, "root:x:0:0:root:/root:/bin/sh\n"
				 "alice:x:2001:2001:Alice:/home/alice:/bin/sh\n"
				 "bob:x:2002:2002::/:/bin/sh\n"
				 "svc:x:2003:3000::/srv:/sbin/nologin\n");
	assert_non_null(group);
	p = group + sprintf(group, "root:x:0:\nalice:x:2001:\nbob:x:2002:\n"
				   "dev:x:3000:bob,alice\nops:x:3001:alice\n"
				   "again:x:2001:alice\nbig:x:3002:");
	while ((size_t)(p - group) < big)
		p += sprintf(p, "member%05d,", (int)(p - group));
	sprintf(p, "alice\nother:x:3003:bob\n");
	write_text(files_group, group);
	free(group);
	return 0;
}

static int files_teardown(void **state)
{
	(void)state;
	unlink(files_passwd);
	unlink(files_group);
	return 0;
}

static void test_files_user_by_name(void **state)
{
	struct identity id;
	char msg[256];

	(void)state;
	assert_int_equal(files_identity_resolve("alice", NULL, &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.uid, 2001);
	assert_int_equal(id.gid, 2001);
	assert_true(id.by_name);
	assert_string_equal(id.name, "alice");
	assert_string_equal(id.home, "/home/alice");
	/* Primary first, then each group listing her once (2001 is listed twice). */
	assert_int_equal(id.ngroups, 4);
	assert_int_equal(id.groups[0], 2001);
	assert_true(has_group(&id, 3000));
	assert_true(has_group(&id, 3001));
	assert_true(has_group(&id, 3002));
	assert_false(has_group(&id, 3003));

	assert_int_equal(files_identity_resolve("svc", NULL, &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.gid, 3000);
	assert_int_equal(id.ngroups, 1);
	assert_string_equal(id.home, "/srv");
}

static void test_files_numbers_and_groups(void **state)
{
	struct identity id;
	char msg[256];
	gid_t gid = 0;

	(void)state;
	assert_int_equal(files_identity_resolve("2002", NULL, &id, msg, sizeof(msg)), 0);
	assert_string_equal(id.name, "bob");
	assert_int_equal(id.gid, 2002);
	assert_int_equal(id.ngroups, 0);
	assert_int_equal(files_identity_resolve("alice:ops", NULL, &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.gid, 3001);
	assert_int_equal(id.ngroups, 0);
	assert_int_equal(files_identity_resolve_group("big", &gid), 0);
	assert_int_equal(gid, 3002);
	assert_int_equal(files_identity_resolve("nobody", NULL, &id, msg, sizeof(msg)), -ENOENT);
	assert_string_equal(msg, "unknown user 'nobody'");
	assert_int_equal(files_identity_resolve("alice", "nogroup", &id, msg, sizeof(msg)),
			 -ENOENT);
	assert_string_equal(msg, "unknown group 'nogroup'");
}

static void test_files_missing(void **state)
{
	char saved_passwd[64], saved_group[64];
	struct identity id;
	char msg[256];

	(void)state;
	/* An image without the files: numbers still work, names are unknown. */
	strcpy(saved_passwd, files_passwd);
	strcpy(saved_group, files_group);
	strcpy(files_passwd, "/nonexistent/passwd");
	strcpy(files_group, "/nonexistent/group");
	assert_int_equal(files_identity_resolve("1001", NULL, &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.uid, 1001);
	assert_int_equal(id.gid, 1001);
	assert_int_equal(files_identity_resolve("alice", NULL, &id, msg, sizeof(msg)), -ENOENT);
	strcpy(files_passwd, saved_passwd);
	strcpy(files_group, saved_group);
}

/* Empty files (an image that has them but lists nobody) read like missing ones. */
static void test_files_empty(void **state)
{
	char saved_passwd[64], saved_group[64], empty[64] = "/tmp/identity-empty-XXXXXX";
	struct identity id;
	char msg[256];
	int fd = mkstemp(empty);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	strcpy(saved_passwd, files_passwd);
	strcpy(saved_group, files_group);
	strcpy(files_passwd, empty);
	strcpy(files_group, empty);
	assert_int_equal(files_identity_resolve("1001", NULL, &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.uid, 1001);
	assert_int_equal(files_identity_resolve("alice", NULL, &id, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(files_identity_resolve("1001", "staff", &id, msg, sizeof(msg)), -ENOENT);
	strcpy(files_passwd, saved_passwd);
	strcpy(files_group, saved_group);
	unlink(empty);
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
	const struct CMUnitTest files_tests[] = {
	    cmocka_unit_test(test_files_user_by_name),
	    cmocka_unit_test(test_files_numbers_and_groups),
	    cmocka_unit_test(test_files_missing),
	    cmocka_unit_test(test_files_empty),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed +
	       cmocka_run_group_tests_name("files only", files_tests, files_setup, files_teardown);
}
