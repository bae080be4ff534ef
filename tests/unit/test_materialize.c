/* The materializer as rotation drives it: repeated applications in one process, change
 * detection, env sources read once, selections, invalid new versions keeping the old files, and
 * a TLS key checked again when only its certificate changes. Configs are filled by hand. */
/* cmocka needs these three first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "base/exit_codes.h"
#include "base/observe.h"
#include "config/config.h"
#include "secret_fs/secure_mem.h"
#include "secrets/materialize.h"
#include "test_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The exit status the agent would end with after one application (0 when it succeeded). */
static int apply(struct materializer *m, const bool *which, size_t *nchanged)
{
	struct agent_error err;

	return materializer_apply(m, which, nchanged, &err) < 0 ? agent_exit_code(err.failure)
								: EXIT_OK;
}

static int make_dirs(struct materializer *m)
{
	struct agent_error err;

	return materializer_make_dirs(m, &err) < 0 ? agent_exit_code(err.failure) : EXIT_OK;
}

struct fixture {
	char dir[64];
	struct config cfg;
	struct secret_cfg secrets[4];
	struct dir_cfg dirs[2];
	char paths[12][PATH_MAX];
	int npaths;
};

static char *path(struct fixture *f, const char *name)
{
	return ut_path(f->paths[f->npaths++], f->dir, name);
}

static void add_secret(struct fixture *f, const char *name, const char *from, const char *to,
		       enum sfs_secret_type type)
{
	struct secret_cfg *s = &f->secrets[f->cfg.nsecrets++];
	struct sfs_error err = {0};

	memset(s, 0, sizeof(*s));
	s->name = (char *)name;
	s->from = (char *)from;
	assert_int_equal(sfs_source_parse(from, &s->source, &err), 0);
	s->to = (char *)to;
	s->type = type;
	s->mode = 0400;
	s->uid = geteuid();
	s->gid = getegid();
	s->scrub_env = true;
	s->cert_index = -1;
	s->ca_index = -1;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sfs_error err;

	assert_non_null(f);
	assert_int_equal(sfs_init(&err), 0);
	assert_int_equal(ut_tmpdir_make(f->dir, sizeof(f->dir), "sa-mat"), 0);
	f->cfg.secrets = f->secrets;
	f->cfg.dirs = f->dirs;
	f->cfg.timeout_ms = 5000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < f->cfg.nsecrets; i++)
		sfs_source_free(&f->secrets[i].source);
	assert_int_equal(ut_tmpdir_remove(f->dir), 0);
	free(f);
	return 0;
}

static void test_change_detection(void **state)
{
	struct fixture *f = *state;
	struct materializer m;
	char *src = path(f, "src"), *dst = path(f, "out/dst"), buf[64], from[300];
	struct stat st1, st2;
	size_t nchanged = 99;

	ut_write_text(src, "version 1", 0600);
	snprintf(from, sizeof(from), "file:%s", src);
	add_secret(f, "token", from, dst, SFS_TYPE_OPAQUE);

	assert_int_equal(materializer_init(&m, &f->cfg), 0);
	assert_int_equal(apply(&m, NULL, &nchanged), EXIT_OK);
	assert_int_equal(nchanged, 1);
	assert_true(m.rt[0].applied);
	assert_true(m.rt[0].changed);
	assert_true(ut_read_file(dst, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, "version 1");
	assert_int_equal(stat(dst, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0400);

	/* Same bytes: nothing rewritten, nobody to notify. */
	assert_int_equal(apply(&m, NULL, &nchanged), EXIT_OK);
	assert_int_equal(nchanged, 0);
	assert_false(m.rt[0].changed);
	assert_int_equal(stat(dst, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);

	ut_write_text(src, "version 2", 0600);
	assert_int_equal(apply(&m, NULL, &nchanged), EXIT_OK);
	assert_int_equal(nchanged, 1);
	assert_true(m.rt[0].changed);
	assert_true(ut_read_file(dst, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, "version 2");
	materializer_free(&m);
}

struct written {
	unsigned count, changed;
	char last[32];
};

static void on_written(void *ctx, const struct observe_write *write)
{
	struct written *w = ctx;

	w->count++;
	w->changed += write->changed;
	snprintf(w->last, sizeof(w->last), "%s", write->secret);
	/* An opaque secret: no fingerprint, and the bytes handed over are the ones written. */
	assert_int_equal(write->type, SFS_TYPE_OPAQUE);
	assert_string_equal(write->fingerprint, "");
	assert_true(write->data != NULL && write->len > 0);
}

/* An observer sees every committed target, changed or not, by the secret's name. */
static void test_observer_sees_writes(void **state)
{
	struct fixture *f = *state;
	struct materializer m;
	struct written w = {0};
	struct agent_observer obs = {.secret_written = on_written, .ctx = &w};
	char *src = path(f, "src"), *dst = path(f, "out/dst"), from[300];

	ut_write_text(src, "version 1", 0600);
	snprintf(from, sizeof(from), "file:%s", src);
	add_secret(f, "token", from, dst, SFS_TYPE_OPAQUE);
	observe_set(&obs);
	assert_int_equal(materializer_init(&m, &f->cfg), 0);
	assert_int_equal(apply(&m, NULL, NULL), EXIT_OK);
	assert_int_equal(w.count, 1);
	assert_int_equal(w.changed, 1);
	assert_string_equal(w.last, "token");
	/* Same source bytes: skipped before writing, nothing to observe. */
	assert_int_equal(apply(&m, NULL, NULL), EXIT_OK);
	assert_int_equal(w.count, 1);
	ut_write_text(src, "version 2", 0600);
	assert_int_equal(apply(&m, NULL, NULL), EXIT_OK);
	assert_int_equal(w.count, 2);
	assert_int_equal(w.changed, 2);
	observe_set(NULL);
	materializer_free(&m);
}

/* An env var is read (and scrubbed) at the first application only; later ones re-read files. */
static void test_env_read_once(void **state)
{
	struct fixture *f = *state;
	struct materializer m;
	char *dst = path(f, "env_dst"), buf[64];
	size_t nchanged;

	setenv("SA_UNIT_TOKEN", "from the environment", 1);
	add_secret(f, "token", "env:SA_UNIT_TOKEN", dst, SFS_TYPE_OPAQUE);
	assert_int_equal(materializer_init(&m, &f->cfg), 0);
	assert_int_equal(apply(&m, NULL, &nchanged), EXIT_OK);
	assert_null(getenv("SA_UNIT_TOKEN"));
	assert_true(ut_read_file(dst, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, "from the environment");
	/* The variable is gone; a second application must not call that a missing variable. */
	assert_int_equal(apply(&m, NULL, &nchanged), EXIT_OK);
	assert_int_equal(nchanged, 0);
	materializer_free(&m);
}

/* One variable may feed several secrets: all env: sources are read before any is scrubbed. */
static void test_one_env_feeds_two_secrets(void **state)
{
	struct fixture *f = *state;
	struct materializer m;
	char *a = path(f, "env_a"), *b = path(f, "env_b"), buf[64];
	size_t nchanged;

	setenv("SA_UNIT_SHARED", "shared value", 1);
	add_secret(f, "first", "env:SA_UNIT_SHARED", a, SFS_TYPE_OPAQUE);
	add_secret(f, "second", "env:SA_UNIT_SHARED", b, SFS_TYPE_OPAQUE);
	assert_int_equal(materializer_init(&m, &f->cfg), 0);
	assert_int_equal(apply(&m, NULL, &nchanged), EXIT_OK);
	assert_int_equal(nchanged, 2);
	assert_null(getenv("SA_UNIT_SHARED"));
	assert_true(ut_read_file(a, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, "shared value");
	assert_true(ut_read_file(b, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, "shared value");
	materializer_free(&m);
}

static void test_missing_env_codes(void **state)
{
	struct fixture *f = *state;
	struct materializer m;

	unsetenv("SA_UNIT_UNSET");
	add_secret(f, "signing_key", "env:SA_UNIT_UNSET", path(f, "k"), SFS_TYPE_ED25519);
	assert_int_equal(materializer_init(&m, &f->cfg), 0);
	assert_int_equal(apply(&m, NULL, NULL), EXIT_CONFIG);
	assert_false(m.rt[0].applied);
	materializer_free(&m);
}

static void test_selection(void **state)
{
	struct fixture *f = *state;
	struct materializer m;
	char *a_src = path(f, "a_src"), *b_src = path(f, "b_src");
	char *a_dst = path(f, "a_dst"), *b_dst = path(f, "b_dst"), buf[64];
	char a_from[300], b_from[300];
	bool only_b[2] = {false, true};
	size_t nchanged;

	snprintf(a_from, sizeof(a_from), "file:%s", a_src);
	snprintf(b_from, sizeof(b_from), "file:%s", b_src);
	ut_write_text(a_src, "a1", 0600);
	ut_write_text(b_src, "b1", 0600);
	add_secret(f, "a", a_from, a_dst, SFS_TYPE_OPAQUE);
	add_secret(f, "b", b_from, b_dst, SFS_TYPE_OPAQUE);
	assert_int_equal(materializer_init(&m, &f->cfg), 0);
	assert_int_equal(apply(&m, only_b, &nchanged), EXIT_OK);
	assert_int_equal(nchanged, 1);
	assert_int_equal(access(a_dst, F_OK), -1);
	assert_false(m.rt[0].applied);
	assert_true(ut_read_file(b_dst, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, "b1");
	materializer_free(&m);
}

/* An invalid new version keeps the old file and the old state; the next valid one applies. */
static void test_invalid_update_keeps_old(void **state)
{
	struct fixture *f = *state;
	struct materializer m;
	char *src = path(f, "key_src"), *dst = path(f, "key.pem"), from[300];
	char old[1024], now[1024];
	unsigned char hash_before[32];
	FILE *p;
	char pem[1024];
	size_t len;

	p = popen("openssl genpkey -algorithm ed25519 2>/dev/null", "r");
	assert_non_null(p);
	len = fread(pem, 1, sizeof(pem), p);
	assert_int_equal(pclose(p), 0);
	assert_true(len > 100);
	ut_write_file(src, pem, len, 0600);
	snprintf(from, sizeof(from), "file:%s", src);
	add_secret(f, "signing_key", from, dst, SFS_TYPE_ED25519);
	assert_int_equal(materializer_init(&m, &f->cfg), 0);
	assert_int_equal(apply(&m, NULL, NULL), EXIT_OK);
	assert_int_equal(strlen(m.rt[0].fingerprint), 64);
	assert_true(ut_read_file(dst, old, sizeof(old)) >= 0);
	memcpy(hash_before, m.rt[0].source_hash, 32);

	ut_write_text(src, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0600);
	assert_int_equal(apply(&m, NULL, NULL), EXIT_INVALID);
	assert_true(ut_read_file(dst, now, sizeof(now)) >= 0);
	assert_string_equal(old, now);
	assert_memory_equal(m.rt[0].source_hash, hash_before, 32);

	ut_write_file(src, pem, len, 0600);
	assert_int_equal(apply(&m, NULL, NULL), EXIT_OK);
	materializer_free(&m);
}

/* [dir] sections wait for the first application's validation, then exist with their mode. */
static void test_dirs_after_validation(void **state)
{
	struct fixture *f = *state;
	struct materializer m;
	char *logs = path(f, "app/logs"), *src = path(f, "bad_src"), from[300];
	struct stat st;

	f->dirs[0] =
	    (struct dir_cfg){.path = logs, .mode = 0750, .uid = geteuid(), .gid = getegid()};
	f->cfg.ndirs = 1;
	ut_write_text(src, "not a key", 0600);
	snprintf(from, sizeof(from), "file:%s", src);
	add_secret(f, "k", from, path(f, "app/k"), SFS_TYPE_ED25519);
	assert_int_equal(materializer_init(&m, &f->cfg), 0);
	assert_int_equal(make_dirs(&m), EXIT_OK);
	assert_int_equal(apply(&m, NULL, NULL), EXIT_INVALID);
	assert_int_equal(access(logs, F_OK), -1);
	f->secrets[0].type = SFS_TYPE_OPAQUE;
	assert_int_equal(apply(&m, NULL, NULL), EXIT_OK);
	assert_int_equal(stat(logs, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	materializer_free(&m);
}

static void openssl_cmd(const char *cmd)
{
	char full[1024];

	snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
	assert_int_equal(system(full), 0);
}

/* A certificate rotated alone must still match the (unchanged) key: the key is checked again
 * and the whole set refused when they no longer match. */
static void test_tls_pair_checked_when_cert_changes(void **state)
{
	struct fixture *f = *state;
	struct materializer m;
	char cmd[768], cert_from[300], key_from[300], before[4096], after[4096];
	char *d = f->dir;

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
		 "%s/tls.key -out %s/tls.crt -subj /CN=svc.test -days 30",
		 d, d);
	openssl_cmd(cmd);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
		 "%s/other.key -out %s/other.crt -subj /CN=svc.test -days 30",
		 d, d);
	openssl_cmd(cmd);
	snprintf(cert_from, sizeof(cert_from), "file:%s/tls.crt", d);
	snprintf(key_from, sizeof(key_from), "file:%s/tls.key", d);
	add_secret(f, "tls_cert", cert_from, path(f, "out/tls.crt"), SFS_TYPE_TLS_CERT);
	add_secret(f, "tls_key", key_from, path(f, "out/tls.key"), SFS_TYPE_TLS_KEY);
	f->secrets[1].cert_index = 0;
	assert_int_equal(materializer_init(&m, &f->cfg), 0);
	assert_int_equal(apply(&m, NULL, NULL), EXIT_OK);
	assert_true(ut_read_file(f->paths[0], before, sizeof(before)) >= 0);

	/* Only the certificate's source changes (and only it is in the rotation's set). */
	snprintf(cmd, sizeof(cmd), "cp %s/other.crt %s/tls.crt", d, d);
	openssl_cmd(cmd);
	assert_int_equal(apply(&m, (bool[]){true, false}, NULL), EXIT_INVALID);
	assert_true(ut_read_file(f->paths[0], after, sizeof(after)) >= 0);
	assert_string_equal(before, after);
	materializer_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_change_detection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_observer_sees_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_read_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_env_codes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_env_feeds_two_secrets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_selection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_update_keeps_old, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dirs_after_validation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tls_pair_checked_when_cert_changes, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
