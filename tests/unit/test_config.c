/* The config file (our own line parser), the flags over it, config_finish's checks. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "base/exit_codes.h"
#include "config/config.h"
#include "config/keys.h"
#include "test_files.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];
static char ini_path[PATH_MAX];

static int make_tmpdir(void **state)
{
	(void)state;
	if (ut_tmpdir_make(tmpdir, sizeof(tmpdir), "test_config") < 0)
		return -1;
	ut_path(ini_path, tmpdir, "agent.ini");
	return 0;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	if (ut_tmpdir_remove(tmpdir) < 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return 0;
}

static void write_ini(const char *text)
{
	ut_write_text(ini_path, text, 0666);
}

/* Loads `text` and expects success. */
static void load_ok(struct config *cfg, const char *text)
{
	struct agent_error err = {0};

	write_ini(text);
	config_init(cfg);
	if (config_load_file(cfg, ini_path, &err) < 0)
		fail_msg("unexpected config error: %s", err.msg);
}

/* Loads `text`, expects failure with exit 78 and "agent.ini:LINE: ...needle...". */
static void load_fails(const char *text, int line, const char *needle)
{
	struct config cfg;
	struct agent_error err = {0};
	char where[PATH_MAX + 16];

	write_ini(text);
	config_init(&cfg);
	assert_true(config_load_file(&cfg, ini_path, &err) < 0);
	assert_int_equal(agent_exit_code(err.failure), EXIT_CONFIG);
	snprintf(where, sizeof(where), "%s:%d: ", ini_path, line);
	if (strncmp(err.msg, where, strlen(where)) != 0 || !strstr(err.msg, needle))
		fail_msg("expected '%s...%s', got '%s'", where, needle, err.msg);
	config_free(&cfg);
}

static const char example[] =
    "[agent]\n"
    "user = root            ; name or numeric uid\n"
    "on_change = signal:SIGUSR1   ; signal:NAME | restart | exec:/path/to/hook | none\n"
    "debounce = 250ms\n"
    "poll_interval = 0           ; 0 = inotify only\n"
    "\n"
    "[preflight]\n"
    "require_env = NODE_ID ENVIRONMENT REDIS_HOST\n"
    "require_dir = /app/data/models\n"
    "wait_tcp = ${CFGT_REDIS_HOST}:${CFGT_REDIS_PORT}     ; all listed must answer\n"
    "wait_any_tcp = ${CFGT_KAFKA}    ; one of a comma list\n"
    "timeout = 5s\n"
    "\n"
    "[secret \"signing_key\"]\n"
    "from = env:AI_SIGNING_KEY_CONTENT\n"
    "to = /tmp/keys/signing_key.pem\n"
    "type = ed25519              ; ed25519 | x509 | tls-cert | tls-key | opaque\n"
    "domain = ${CFGT_DOMAIN}\n"
    "key_id = ${CFGT_KEY_ID:-0123456789abcdef}\n"
    "mode = 0440\n"
    "scrub_env = no\n"
    "\n"
    "# a start-of-line comment\n"
    "[dir \"/app/logs\"]\n"
    "mode = 0750\n";

static void set_example_env(void)
{
	setenv("CFGT_REDIS_HOST", "127.0.0.1", 1);
	setenv("CFGT_REDIS_PORT", "6379", 1);
	setenv("CFGT_KAFKA", "k1:9092,k2:9092", 1);
	setenv("CFGT_DOMAIN", "cybermesh.ai.v1", 1);
	unsetenv("CFGT_KEY_ID");
}

static void test_example_file(void **state)
{
	struct config cfg;
	struct agent_error err = {0};
	const struct secret_cfg *s;

	(void)state;
	set_example_env();
	load_ok(&cfg, example);
	assert_int_equal(config_finish(&cfg, &err), 0);

	assert_string_equal(cfg.config_path, ini_path);
	assert_true(cfg.has_user);
	assert_int_equal(cfg.uid, 0);
	assert_int_equal(cfg.gid, 0);
	assert_int_equal(cfg.on_change, ON_CHANGE_SIGNAL);
	assert_int_equal(cfg.on_change_signal, SIGUSR1);
	assert_int_equal(cfg.debounce_ms, 250);
	assert_int_equal(cfg.poll_interval_ms, 0);
	assert_int_equal(cfg.grace_ms, 5000);
	assert_int_equal(cfg.timeout_ms, 5000);

	assert_int_equal(cfg.require_env.n, 3);
	assert_string_equal(cfg.require_env.items[2], "REDIS_HOST");
	assert_int_equal(cfg.require_dir.n, 1);
	assert_string_equal(cfg.require_dir.items[0], "/app/data/models");
	/* Inline comments are gone, ${VAR} is expanded, the comma list is split. */
	assert_int_equal(cfg.wait_tcp.n, 1);
	assert_string_equal(cfg.wait_tcp.items[0], "127.0.0.1:6379");
	assert_int_equal(cfg.wait_any_tcp.n, 2);
	assert_string_equal(cfg.wait_any_tcp.items[0], "k1:9092");
	assert_string_equal(cfg.wait_any_tcp.items[1], "k2:9092");

	assert_int_equal(cfg.nsecrets, 1);
	s = &cfg.secrets[0];
	assert_string_equal(s->name, "signing_key");
	assert_string_equal(s->from, "env:AI_SIGNING_KEY_CONTENT");
	assert_int_equal(s->source.kind, SFS_SOURCE_ENV);
	assert_string_equal(s->source.ref, "AI_SIGNING_KEY_CONTENT");
	assert_string_equal(s->to, "/tmp/keys/signing_key.pem");
	assert_int_equal(s->type, SFS_TYPE_ED25519);
	assert_string_equal(s->domain, "cybermesh.ai.v1");
	assert_string_equal(s->key_id, "0123456789abcdef");
	assert_int_equal(s->mode, 0440);
	assert_false(s->scrub_env);
	assert_int_equal(s->uid, 0);
	assert_int_equal(s->gid, 0);
	assert_int_equal(s->cert_index, -1);
	assert_non_null(strstr(s->origin, "agent.ini:14"));

	assert_int_equal(cfg.ndirs, 1);
	assert_string_equal(cfg.dirs[0].path, "/app/logs");
	assert_int_equal(cfg.dirs[0].mode, 0750);
	assert_int_equal(cfg.dirs[0].uid, 0);
	config_free(&cfg);
}

static void test_inline_comments_and_semicolons(void **state)
{
	struct config cfg;

	(void)state;
	/* ';' starts a comment only after whitespace; inside a value it stays. */
	load_ok(&cfg, "[secret \"a\"]\n"
		      "from = file:/run/a;b   ; the comment\n"
		      "to = /x/y\t;tab before the comment\n");
	assert_string_equal(cfg.secrets[0].from, "file:/run/a;b");
	assert_string_equal(cfg.secrets[0].to, "/x/y");
	config_free(&cfg);
}

static void test_list_continuation_lines(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg, "[preflight]\n"
		      "require_env = A B\n"
		      "   C D   ; continued\n"
		      "\tE\n"
		      "require_env = F\n"
		      "wait_any_tcp = h1:1, h2:2\n");
	assert_int_equal(cfg.require_env.n, 6);
	assert_string_equal(cfg.require_env.items[2], "C");
	assert_string_equal(cfg.require_env.items[4], "E");
	assert_string_equal(cfg.require_env.items[5], "F");
	assert_int_equal(cfg.wait_any_tcp.n, 2);
	config_free(&cfg);
}

/* An unset ${VAR} is decided by config_finish: a config error with FILE:LINE unless the
 * variable is in require_env, which leaves it to the preflight's "Required environment
 * variable" check. */
static void test_unset_variable_fails_at_finish_unless_required(void **state)
{
	struct config cfg;
	struct agent_error err = {0};
	char where[PATH_MAX + 16];

	(void)state;
	unsetenv("CFGT_UNSET");
	load_ok(&cfg, "[preflight]\n\nwait_tcp = ${CFGT_UNSET}:1\n");
	assert_int_equal(cfg.wait_tcp.n, 0);
	assert_true(config_finish(&cfg, &err) < 0);
	assert_int_equal(agent_exit_code(err.failure), EXIT_CONFIG);
	snprintf(where, sizeof(where), "%s:3: ", ini_path);
	assert_true(strncmp(err.msg, where, strlen(where)) == 0);
	assert_non_null(strstr(err.msg, "CFGT_UNSET is not set"));
	config_free(&cfg);

	load_ok(&cfg, "[preflight]\nrequire_env = CFGT_UNSET\nwait_tcp = ${CFGT_UNSET}:1\n");
	assert_int_equal(config_finish(&cfg, &err), 0);
	assert_int_equal(cfg.unset_vars.n, 1);
	assert_string_equal(cfg.unset_vars.items[0], "CFGT_UNSET");
	assert_int_equal(cfg.wait_tcp.n, 0);
	config_free(&cfg);
}

static void test_file_errors_name_file_and_line(void **state)
{
	(void)state;
	unsetenv("CFGT_UNSET");
	load_fails("[agent]\nusr = x\n", 2, "unknown key 'usr' in [agent]");
	load_fails("[agent]\nuser = x\n\n[agnet]\n", 4, "unknown section [agnet]");
	load_fails("[secret \"k\"]\nfrom = env:K\nmode = 0800\n", 3, "invalid mode '0800'");
	load_fails("[agent]\ndebounce = 5\n", 2, "invalid duration '5'");
	load_fails("[preflight]\ntimeout = 1.5s\n", 2, "invalid duration '1.5s'");
	load_fails("[secret \"k\"]\nfrom = env:K\ndomain = ${CFGT_UNSET:-}\n", 3,
		   "'domain' is empty");
	load_fails("[secret \"k\"]\nfrom = env:K\ntype = rsa\n", 3, "invalid type 'rsa'");
	load_fails("[secret \"k\"]\nfrom = env:K\ntype = auto\n", 3, "invalid type 'auto'");
	load_fails("[secret \"k\"]\nfrom = env:K\nto = relative/path\n", 3, "absolute");
	load_fails("[secret \"k\"]\nfrom = env:K\nowner = a\nowner = b\n", 4,
		   "duplicate key 'owner'");
	load_fails("[secret \"k\"]\nfrom = env:K\n[secret \"k\"]\nfrom = env:L\n", 3,
		   "duplicate secret 'k'");
	load_fails("[dir \"/a\"]\n[dir \"/a\"]\n", 2, "duplicate [dir \"/a\"]");
	load_fails("[dir \"relative\"]\n", 1, "absolute path");
	load_fails("[secret]\nfrom = env:K\n", 1, "quoted name");
	load_fails("[secret \"bad name\"]\n", 1, "invalid secret name");
	load_fails("user = root\n", 1, "key before any section");
	load_fails("[agent]\nuser = root\n  nobody\n", 3, "only a list");
	load_fails("[agent]\non_change = reload\n", 2, "invalid on_change 'reload'");
	load_fails("[agent]\nsignal_group = maybe\n", 2, "invalid value 'maybe'");
	load_fails("[agent]\nlog_format = xml\n", 2, "log_format");
	load_fails("[preflight]\nrequire_env = GOOD bad-name\n", 2, "bad-name");
	load_fails("[preflight]\nrequire_dir = relative\n", 2, "absolute");
	load_fails("[agent]\nthis line has no equals sign\n", 2, "syntax error");
	load_fails("[agent\nuser = root\n", 1, "without ']'");
	load_fails("[secret \"k\"]\nfrom = nope:K\n", 2, "invalid source");
}

static void test_long_lines(void **state)
{
	struct config cfg;
	char text[8192], words[3000], expect[16];
	size_t len = 0;

	(void)state;
	/* Lines stop at 198 bytes (as libinih r55 did), lists excepted: they are read whole. */
	for (int i = 0; i < 300; i++)
		len += (size_t)snprintf(words + len, sizeof(words) - len, " V%03d", i);
	snprintf(text, sizeof(text),
		 "; %s\n[preflight]\nrequire_env =%s   ; comment\n  MORE\ntimeout = 2s\n", words,
		 words);
	load_ok(&cfg, text);
	assert_int_equal(cfg.require_env.n, 301);
	for (int i = 0; i < 300; i++) {
		snprintf(expect, sizeof(expect), "V%03d", i);
		assert_string_equal(cfg.require_env.items[i], expect);
	}
	assert_string_equal(cfg.require_env.items[300], "MORE");
	assert_int_equal(cfg.timeout_ms, 2000);
	config_free(&cfg);

	snprintf(text, sizeof(text), "[secret \"k\"]\nfrom = file:/%0250d\n", 0);
	load_fails(text, 2, "line too long");
	snprintf(text, sizeof(text), "[preflight]\nrequire_dir = /%0250d\n", 0);
	load_fails(text, 2, "too long");
	snprintf(text, sizeof(text), "[preflight]\nrequire_env = A\n  %s\n", words);
	load_fails(text, 3, "line too long");
}

static void test_missing_file_is_78(void **state)
{
	struct config cfg;
	struct agent_error err = {0};

	(void)state;
	config_init(&cfg);
	assert_true(config_load_file(&cfg, "/nonexistent/agent.ini", &err) < 0);
	assert_int_equal(agent_exit_code(err.failure), EXIT_CONFIG);
	assert_non_null(strstr(err.msg, "/nonexistent/agent.ini"));
	assert_true(config_load_file(&cfg, "/tmp", &err) < 0);
	assert_int_equal(agent_exit_code(err.failure), EXIT_CONFIG);
	config_free(&cfg);
}

/* Runs config_parse_args over a NULL-terminated list (argv[0] is the subcommand). */
static int parse(struct config *cfg, struct agent_error *err, int *idx, bool notify,
		 const char **args)
{
	int argc = 0;

	while (args[argc])
		argc++;
	config_init(cfg);
	*idx = 1;
	memset(err, 0, sizeof(*err));
	return config_parse_args(cfg, argc, (char **)args, idx, notify, err);
}

static void test_flags_override_file(void **state)
{
	struct config cfg;
	struct agent_error err;
	int idx;

	(void)state;
	set_example_env();
	unsetenv("SECRET_AGENT_CONFIG");
	write_ini(example);
	/* --config comes last, but the file is loaded first: the flags win. */
	const char *args[] = {"run",
			      "--debounce",
			      "1s",
			      "--require-env=EXTRA1 EXTRA2",
			      "--wait-any-tcp",
			      "k3:1,k4:2",
			      "--on-change=restart",
			      "--user",
			      "0",
			      "--signal-group",
			      "--privileged-watcher=no",
			      "--log-level",
			      "debug",
			      "--config",
			      ini_path,
			      "--",
			      "/bin/true",
			      NULL};
	assert_int_equal(parse(&cfg, &err, &idx, false, args), 0);
	assert_int_equal(idx, 16);
	assert_string_equal(args[idx], "/bin/true");
	assert_int_equal(cfg.debounce_ms, 1000);
	assert_int_equal(cfg.require_env.n, 5);
	assert_string_equal(cfg.require_env.items[4], "EXTRA2");
	assert_int_equal(cfg.wait_any_tcp.n, 4);
	assert_int_equal(cfg.on_change, ON_CHANGE_RESTART);
	assert_string_equal(cfg.user, "0");
	assert_true(cfg.signal_group);
	assert_false(cfg.privileged_watcher);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.poll_interval_ms, 0);
	assert_int_equal(cfg.nsecrets, 1);
	config_free(&cfg);
}

static void test_secret_flag(void **state)
{
	struct config cfg;
	struct agent_error err;
	int idx;
	const struct secret_cfg *s;

	(void)state;
	unsetenv("SECRET_AGENT_CONFIG");
	const char *args[] = {
	    "materialize",
	    "--secret",
	    "name=signing_key,from=env:AI_SIGNING_KEY_CONTENT,to=/tmp/keys/signing_key.pem,"
	    "type=ed25519,mode=0400,domain=d.v1,key_id=abcdef0123456789",
	    "--secret=from=file:/etc/ssl/ca.pem,name=ca,type=x509",
	    "--secret",
	    "name=cert,from=cred:tls.crt,type=tls-cert,ca=ca,to=/run/tls/crt",
	    "--secret",
	    "name=key,from=cred:tls.key,type=tls-key,cert=cert,to=/run/tls/key,owner=0,group=0",
	    NULL};
	assert_int_equal(parse(&cfg, &err, &idx, false, args), 0);
	assert_int_equal(idx, 8);
	assert_int_equal(config_finish(&cfg, &err), 0);
	assert_int_equal(cfg.nsecrets, 4);
	s = &cfg.secrets[0];
	assert_string_equal(s->name, "signing_key");
	assert_int_equal(s->type, SFS_TYPE_ED25519);
	assert_int_equal(s->mode, 0400);
	assert_true(s->scrub_env);
	assert_string_equal(s->domain, "d.v1");
	assert_string_equal(s->origin, "--secret");
	s = &cfg.secrets[1];
	assert_string_equal(s->name, "ca");
	assert_null(s->to);
	assert_int_equal(s->mode, 0444);
	assert_false(s->scrub_env);
	assert_int_equal(cfg.secrets[2].ca_index, 1);
	assert_int_equal(cfg.secrets[2].mode, 0444);
	assert_int_equal(cfg.secrets[3].cert_index, 2);
	assert_int_equal(cfg.secrets[3].mode, 0400);
	assert_int_equal(cfg.secrets[3].source.kind, SFS_SOURCE_CRED);
	/* No [agent] user: everything belongs to the invoking user. */
	assert_false(cfg.has_user);
	assert_int_equal(cfg.uid, getuid());
	assert_int_equal(cfg.secrets[0].uid, getuid());
	assert_int_equal(cfg.secrets[0].gid, getgid());
	config_free(&cfg);
}

static void expect_usage_error(const char **args, bool notify, const char *needle)
{
	struct config cfg;
	struct agent_error err;
	int idx;

	assert_true(parse(&cfg, &err, &idx, notify, args) < 0);
	assert_int_equal(agent_exit_code(err.failure), EXIT_USAGE);
	if (!strstr(err.msg, needle))
		fail_msg("expected '%s' in '%s'", needle, err.msg);
	config_free(&cfg);
}

/* Parses `args`, then expects config_finish to fail with a usage error holding `needle`. */
static void finish_usage_fails(const char **args, const char *needle)
{
	struct config cfg;
	struct agent_error err;
	int idx;

	assert_int_equal(parse(&cfg, &err, &idx, false, args), 0);
	assert_true(config_finish(&cfg, &err) < 0);
	assert_int_equal(agent_exit_code(err.failure), EXIT_USAGE);
	if (!strstr(err.msg, needle))
		fail_msg("expected '%s' in '%s'", needle, err.msg);
	config_free(&cfg);
}

static void test_flag_errors_are_usage_errors(void **state)
{
	(void)state;
	unsetenv("SECRET_AGENT_CONFIG");
	expect_usage_error((const char *[]){"run", "--bogus", NULL}, false,
			   "unknown option '--bogus'");
	expect_usage_error((const char *[]){"run", "-x", NULL}, false, "unknown option '-x'");
	expect_usage_error((const char *[]){"run", "--notify-pidfile", "/p", NULL}, false,
			   "unknown option '--notify-pidfile'");
	expect_usage_error((const char *[]){"run", "--debounce", NULL}, false, "needs a value");
	expect_usage_error((const char *[]){"run", "--debounce", "5", NULL}, false,
			   "--debounce: invalid duration '5'");
	expect_usage_error((const char *[]){"run", "--timeout=soon", NULL}, false,
			   "--timeout: invalid duration");
	expect_usage_error((const char *[]){"run", "--on-change", "reload", NULL}, false,
			   "--on-change");
	expect_usage_error((const char *[]){"run", "--log-format", "xml", NULL}, false,
			   "--log-format");
	expect_usage_error((const char *[]){"run", "--secret", "from=env:X", NULL}, false,
			   "needs name=");
	expect_usage_error(
	    (const char *[]){"run", "--secret", "name=a,from=env:X,colour=red", NULL}, false,
	    "unknown key 'colour'");
	expect_usage_error((const char *[]){"run", "--secret", "name=a,mode=999", NULL}, false,
			   "invalid mode");
	expect_usage_error((const char *[]){"run", "--secret", "name=a,from", NULL}, false,
			   "not key=value");
	expect_usage_error((const char *[]){"run", "--secret", "name=a,from=env:X", "--secret",
					    "name=a,from=env:Y", NULL},
			   false, "duplicate secret 'a'");
	expect_usage_error((const char *[]){"run", "--config", "a", "--config", "b", NULL}, false,
			   "twice");
	/* A secret from a flag that misses `from` is a usage error too. */
	finish_usage_fails((const char *[]){"run", "--secret", "name=a,to=/x", NULL}, "no 'from'");
}

static void test_parsing_stops_at_first_non_option(void **state)
{
	struct config cfg;
	struct agent_error err;
	int idx;
	const char *args[] = {"validate", "--user", "0", "env:KEY", "--bogus", NULL};
	const char *dash[] = {"run", "--", "--user", NULL};
	const char *bools[] = {"run", "--signal-group", "no",  "--privileged-watcher",
			       "yes", "--signal-group", "cmd", NULL};

	(void)state;
	unsetenv("SECRET_AGENT_CONFIG");
	assert_int_equal(parse(&cfg, &err, &idx, false, args), 0);
	assert_int_equal(idx, 3);
	config_free(&cfg);
	assert_int_equal(parse(&cfg, &err, &idx, false, dash), 0);
	assert_int_equal(idx, 2);
	assert_null(cfg.user);
	config_free(&cfg);
	/* A boolean flag takes a following yes/no, and nothing else. */
	assert_int_equal(parse(&cfg, &err, &idx, false, bools), 0);
	assert_int_equal(idx, 6);
	assert_true(cfg.signal_group);
	assert_true(cfg.privileged_watcher);
	config_free(&cfg);
	bools[5] = NULL;
	assert_int_equal(parse(&cfg, &err, &idx, false, bools), 0);
	assert_false(cfg.signal_group);
	config_free(&cfg);
}

static void test_notify_pidfile_and_help(void **state)
{
	struct config cfg;
	struct agent_error err;
	int idx;
	const char *args[] = {"watch", "--notify-pidfile", "/run/app.pid", NULL};

	(void)state;
	unsetenv("SECRET_AGENT_CONFIG");
	assert_int_equal(parse(&cfg, &err, &idx, true, args), 0);
	assert_string_equal(cfg.notify_pidfile, "/run/app.pid");
	config_free(&cfg);
	assert_true(
	    config_args_want_help(3, (char **)(const char *[]){"run", "--user=0", "--help"}, 1));
	assert_true(config_args_want_help(2, (char **)(const char *[]){"run", "-h"}, 1));
	assert_false(config_args_want_help(3, (char **)(const char *[]){"run", "--", "--help"}, 1));
	assert_false(
	    config_args_want_help(3, (char **)(const char *[]){"run", "cmd", "--help"}, 1));
}

static void test_config_from_environment(void **state)
{
	struct config cfg;
	struct agent_error err;
	int idx;
	const char *args[] = {"check-config", NULL};

	(void)state;
	set_example_env();
	write_ini(example);
	setenv("SECRET_AGENT_CONFIG", ini_path, 1);
	assert_int_equal(parse(&cfg, &err, &idx, false, args), 0);
	assert_string_equal(cfg.config_path, ini_path);
	assert_int_equal(cfg.nsecrets, 1);
	config_free(&cfg);
	/* --config wins over the variable. */
	setenv("SECRET_AGENT_CONFIG", "/nonexistent.ini", 1);
	assert_int_equal(parse(&cfg, &err, &idx, false,
			       (const char *[]){"check-config", "--config", ini_path, NULL}),
			 0);
	config_free(&cfg);
	assert_true(parse(&cfg, &err, &idx, false, args) < 0);
	assert_int_equal(agent_exit_code(err.failure), EXIT_CONFIG);
	assert_non_null(strstr(err.msg, "/nonexistent.ini"));
	config_free(&cfg);
	unsetenv("SECRET_AGENT_CONFIG");
}

static void finish_fails(const char *text, int exit_code, const char *needle)
{
	struct config cfg;
	struct agent_error err = {0};

	load_ok(&cfg, text);
	assert_true(config_finish(&cfg, &err) < 0);
	assert_int_equal(agent_exit_code(err.failure), exit_code);
	if (!strstr(err.msg, needle))
		fail_msg("expected '%s' in '%s'", needle, err.msg);
	config_free(&cfg);
}

static void test_finish_checks(void **state)
{
	(void)state;
	finish_fails("[agent]\nuser = no_such_user_cfgt\n", EXIT_CONFIG,
		     "unknown user 'no_such_user_cfgt'");
	finish_fails("[agent]\nuser = root\ngroup = no_such_group_cfgt\n", EXIT_CONFIG,
		     "unknown group 'no_such_group_cfgt'");
	finish_fails("[agent]\ngroup = root\n", EXIT_CONFIG, "without [agent] user");
	finish_fails("[secret \"k\"]\nfrom = env:K\nowner = no_such_user_cfgt\n", EXIT_CONFIG,
		     "unknown user 'no_such_user_cfgt'");
	finish_fails("[dir \"/d\"]\ngroup = no_such_group_cfgt\n", EXIT_CONFIG,
		     "unknown group 'no_such_group_cfgt'");
	finish_fails("[secret \"k\"]\nto = /x\n", EXIT_CONFIG, "no 'from'");
	finish_fails("[secret \"k\"]\nfrom = env:K\ntype = tls-key\n", EXIT_CONFIG,
		     "needs 'cert = NAME'");
	finish_fails("[secret \"k\"]\nfrom = env:K\ntype = tls-key\ncert = c\n", EXIT_CONFIG,
		     "cert = c does not name a tls-cert");
	finish_fails("[secret \"c\"]\nfrom = env:C\ntype = x509\n"
		     "[secret \"k\"]\nfrom = env:K\ntype = tls-key\ncert = c\n",
		     EXIT_CONFIG, "does not name a tls-cert");
	finish_fails("[secret \"c\"]\nfrom = env:C\ntype = tls-cert\nca = nope\n", EXIT_CONFIG,
		     "ca = nope");
	finish_fails("[secret \"c\"]\nfrom = env:C\ntype = opaque\nca = c\n", EXIT_CONFIG,
		     "tls-cert only");
	finish_fails("[secret \"c\"]\nfrom = env:C\ntype = x509\ndomain = d\n", EXIT_CONFIG,
		     "ed25519 and tls-key");
	finish_fails("[secret \"a\"]\nfrom = env:A\nto = /t/x\n"
		     "[secret \"b\"]\nfrom = env:B\nto = /t/x\n",
		     EXIT_CONFIG, "writes to /t/x");
}

static void test_finish_defaults(void **state)
{
	struct config cfg;
	struct agent_error err = {0};

	(void)state;
	load_ok(&cfg, "[agent]\nuser = nobody\n"
		      "[secret \"key\"]\nfrom = env:K\ntype = ed25519\n"
		      "[secret \"crt\"]\nfrom = file:/c.pem\ntype = tls-cert\n"
		      "[secret \"ca\"]\nfrom = file:/ca.pem\ntype = x509\nowner = 0\n"
		      "[secret \"blob\"]\nfrom = env:B\nscrub_env = no\ngroup = 0\n"
		      "[dir \"/app/logs\"]\n"
		      "[dir \"/app/keys\"]\nowner = root\nmode = 0700\n");
	assert_int_equal(config_finish(&cfg, &err), 0);
	assert_true(cfg.has_user);
	assert_int_equal(cfg.uid, 65534);
	assert_int_equal(cfg.secrets[0].type, SFS_TYPE_ED25519);
	assert_int_equal(cfg.secrets[0].mode, 0400);
	assert_true(cfg.secrets[0].scrub_env);
	assert_int_equal(cfg.secrets[0].uid, 65534);
	assert_int_equal(cfg.secrets[0].gid, cfg.gid);
	assert_int_equal(cfg.secrets[1].mode, 0444);
	assert_false(cfg.secrets[1].scrub_env);
	assert_int_equal(cfg.secrets[2].mode, 0444);
	assert_int_equal(cfg.secrets[2].uid, 0);
	assert_int_equal(cfg.secrets[2].gid, 0);
	assert_int_equal(cfg.secrets[3].type, SFS_TYPE_OPAQUE);
	assert_int_equal(cfg.secrets[3].mode, 0400);
	assert_false(cfg.secrets[3].scrub_env);
	assert_int_equal(cfg.secrets[3].uid, 65534);
	assert_int_equal(cfg.secrets[3].gid, 0);
	assert_int_equal(cfg.dirs[0].mode, 0755);
	assert_int_equal(cfg.dirs[0].uid, 65534);
	assert_int_equal(cfg.dirs[1].mode, 0700);
	assert_int_equal(cfg.dirs[1].uid, 0);
	assert_int_equal(cfg.dirs[1].gid, 0);
	config_free(&cfg);
}

static void test_plan_never_holds_values(void **state)
{
	struct config cfg;
	struct agent_error err = {0};
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	(void)state;
	set_example_env();
	load_ok(&cfg, example);
	assert_int_equal(config_finish(&cfg, &err), 0);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	config_print_plan(&cfg, out);
	fclose(out);
	assert_non_null(strstr(text, "secret signing_key:\n"));
	assert_non_null(strstr(text, "  target: /tmp/keys/signing_key.pem\n"));
	assert_non_null(strstr(text, "  type: ed25519\n"));
	assert_non_null(strstr(text, "  mode: 0440\n"));
	assert_non_null(strstr(text, "  domain: set\n"));
	assert_non_null(strstr(text, "  on_change: signal:SIGUSR1\n"));
	assert_non_null(strstr(text, "  debounce: 250ms\n"));
	assert_non_null(strstr(text, "  wait_any_tcp: k1:9092 k2:9092\n"));
	assert_null(strstr(text, "cybermesh.ai.v1"));
	assert_null(strstr(text, "0123456789abcdef"));
	free(text);
	config_free(&cfg);
}

/* Every default in the key table is a valid value of its key (config_init relies on it). */
static void test_every_default_parses(void **state)
{
	struct config cfg;
	struct secret_cfg secret;
	struct dir_cfg dir;

	(void)state;
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		struct agent_error err = {0};
		void *obj = k->section == CONFIG_SECRET ? (void *)&secret
			    : k->section == CONFIG_DIR	? (void *)&dir
							: (void *)&cfg;

		memset(&cfg, 0, sizeof(cfg));
		memset(&secret, 0, sizeof(secret));
		memset(&dir, 0, sizeof(dir));
		if (k->def && k->parse(obj, k, k->def, &err) < 0)
			fail_msg("default '%s' of %s: %s", k->def, k->name, err.msg);
		assert_non_null(k->value);
		assert_true(k->flag == NULL || k->section == CONFIG_AGENT ||
			    k->section == CONFIG_PREFLIGHT);
		config_free(&cfg);
	}
	config_init(&cfg);
	assert_int_equal(cfg.debounce_ms, 100);
	assert_int_equal(cfg.hook_timeout_ms, 30000);
	assert_int_equal(cfg.on_change_signal, SIGHUP);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.given, 0);
	config_free(&cfg);
}

/* The flags and the file reach a key through the same row: a flag's error is its key's
 * sentence under the flag's name, as a usage error. */
static void test_flag_and_file_share_the_key(void **state)
{
	(void)state;
	unsetenv("SECRET_AGENT_CONFIG");
	expect_usage_error((const char *[]){"run", "--debounce", "5", NULL}, false,
			   "--debounce: invalid duration '5' for 'debounce'");
	load_fails("[agent]\ndebounce = 5\n", 2, "invalid duration '5' for 'debounce'");
}

/* The name of a --secret is copied before the spec is cut again: an error after it names the
 * secret, not a piece of the spec. */
static void test_secret_flag_error_names_the_secret(void **state)
{
	struct config cfg;
	struct agent_error err;
	int idx;

	(void)state;
	unsetenv("SECRET_AGENT_CONFIG");
	assert_true(parse(&cfg, &err, &idx, false,
			  (const char *[]){"run", "--secret", "to=rel,name=k,from=env:A", NULL}) <
		    0);
	assert_int_equal(agent_exit_code(err.failure), EXIT_USAGE);
	assert_string_equal(err.msg, "--secret k: 'to' needs an absolute path, got 'rel'");
	config_free(&cfg);
}

/* An unknown key is refused even when its value names an unset variable (the variable must
 * not hide the typo). */
static void test_unknown_key_with_unset_variable(void **state)
{
	(void)state;
	unsetenv("CFGT_UNSET");
	load_fails("[preflight]\nrequire_env = CFGT_UNSET\nwiat_tcp = ${CFGT_UNSET}:1\n", 3,
		   "unknown key 'wiat_tcp' in [preflight]");
}

/* [agent] status_listen, ready_file, warn_days: file (78) and flags (64), defaults, plan. */
static void test_operability_keys(void **state)
{
	static const char *const good_listen[] = {"127.0.0.1:9090", "0.0.0.0:1", "[::1]:9090",
						  "[fe80::1]:65535", "[::]:80"};
	static const char *const bad_listen[] = {
	    "localhost:9090", "127.0.0.1",    "127.0.0.1:0", "127.0.0.1:65536", "[::1]9090",
	    "::1:9090",	      "[::1]:",	      ":9090",	     "1.2.3:80",	"127.0.0.1:80x",
	    "[127.0.0.1]:80", "127.0.0.1:-1", "[::1]:9090x"};
	struct config cfg;
	struct agent_error err;
	char text[256];
	int idx;

	(void)state;
	unsetenv("SECRET_AGENT_CONFIG");
	config_init(&cfg);
	assert_null(cfg.status_listen);
	assert_null(cfg.ready_file);
	assert_int_equal(cfg.warn_days, 30);
	config_free(&cfg);

	for (size_t i = 0; i < sizeof(good_listen) / sizeof(good_listen[0]); i++) {
		snprintf(text, sizeof(text), "[agent]\nstatus_listen = %s\n", good_listen[i]);
		load_ok(&cfg, text);
		assert_string_equal(cfg.status_listen, good_listen[i]);
		config_free(&cfg);
	}
	for (size_t i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
		snprintf(text, sizeof(text), "[agent]\nstatus_listen = %s\n", bad_listen[i]);
		load_fails(text, 2, "invalid status_listen");
		expect_usage_error((const char *[]){"run", "--status-listen", bad_listen[i], NULL},
				   false, "--status-listen: invalid status_listen");
	}

	load_ok(&cfg, "[agent]\nready_file = /run/app/ready\nwarn_days = 7\n");
	assert_string_equal(cfg.ready_file, "/run/app/ready");
	assert_int_equal(cfg.warn_days, 7);
	config_free(&cfg);
	load_ok(&cfg, "[agent]\nwarn_days = 0\n");
	assert_int_equal(cfg.warn_days, 0);
	config_free(&cfg);
	load_fails("[agent]\nready_file = run/ready\n", 2, "'ready_file' needs an absolute path");
	load_fails("[agent]\nready_file = /run/\n", 2, "'ready_file' must name a file");
	load_fails("[agent]\nready_file =\n", 2, "'ready_file' needs an absolute path");
	load_fails("[agent]\nwarn_days = 7\nwarn_days = 8\n", 3, "duplicate key 'warn_days'");
	load_fails("[agent]\nwarn_days = -1\n", 2, "invalid value '-1' for 'warn_days'");
	load_fails("[agent]\nwarn_days = 30d\n", 2, "invalid value '30d'");
	load_fails("[agent]\nwarn_days = 36501\n", 2, "0 to 36500");
	load_fails("[agent]\nwarn_days = 99999999999999999999\n", 2, "invalid value");
	expect_usage_error((const char *[]){"run", "--warn-days", "x", NULL}, false,
			   "--warn-days: invalid value 'x' for 'warn_days'");
	expect_usage_error((const char *[]){"run", "--ready-file", "rel", NULL}, false,
			   "--ready-file: 'ready_file' needs an absolute path");

	/* Flags over the file. */
	write_ini("[agent]\nstatus_listen = 127.0.0.1:1\nwarn_days = 3\n");
	assert_int_equal(parse(&cfg, &err, &idx, false,
			       (const char *[]){"run", "--config", ini_path, "--status-listen",
						"[::1]:9090", "--ready-file", "/r", NULL}),
			 0);
	assert_string_equal(cfg.status_listen, "[::1]:9090");
	assert_string_equal(cfg.ready_file, "/r");
	assert_int_equal(cfg.warn_days, 3);
	config_free(&cfg);
}

static char *plan_of(const char *text)
{
	struct config cfg;
	struct agent_error err = {0};
	char *out_text = NULL;
	size_t len = 0;
	FILE *out;

	load_ok(&cfg, text);
	if (config_finish(&cfg, &err) < 0)
		fail_msg("config_finish: %s", err.msg);
	out = open_memstream(&out_text, &len);
	assert_non_null(out);
	config_print_plan(&cfg, out);
	fclose(out);
	config_free(&cfg);
	return out_text;
}

/* The new keys show in the plan only when set, so plans without them are as they were. */
static void test_operability_keys_in_plan(void **state)
{
	char *plan;

	(void)state;
	plan =
	    plan_of("[agent]\nwarn_days = 30\n[secret \"ca\"]\nfrom = file:/ca.pem\ntype = x509\n");
	assert_null(strstr(plan, "status_listen"));
	assert_null(strstr(plan, "ready_file"));
	assert_null(strstr(plan, "warn_days"));
	assert_null(strstr(plan, "omit_expired"));
	free(plan);
	plan = plan_of("[agent]\nstatus_listen = [::1]:9090\nready_file = /run/ready\n"
		       "warn_days = 0\n[secret \"ca\"]\nfrom = file:/ca.pem\ntype = x509\n"
		       "omit_expired = yes\n");
	assert_non_null(strstr(plan, "  log_level: info\n  status_listen: [::1]:9090\n"
				     "  ready_file: /run/ready\n  warn_days: 0\npreflight:\n"));
	assert_non_null(strstr(plan, "  owner: uid 0 gid 0\n  omit_expired: yes\n"));
	free(plan);
}

/* omit_expired = yes only on an x509 bundle; elsewhere a config error naming the secret. */
static void test_omit_expired(void **state)
{
	struct config cfg;
	struct agent_error err = {0};

	(void)state;
	load_ok(&cfg, "[secret \"ca\"]\nfrom = file:/ca.pem\ntype = x509\nomit_expired = yes\n"
		      "[secret \"c\"]\nfrom = file:/c.pem\ntype = tls-cert\nomit_expired = no\n");
	assert_int_equal(config_finish(&cfg, &err), 0);
	assert_true(cfg.secrets[0].omit_expired);
	assert_false(cfg.secrets[1].omit_expired);
	config_free(&cfg);
	finish_fails("[secret \"c\"]\nfrom = file:/c.pem\ntype = tls-cert\nomit_expired = yes\n",
		     EXIT_CONFIG, "secret 'c': 'omit_expired' applies to type x509 only");
	finish_fails("[secret \"o\"]\nfrom = env:O\nomit_expired = yes\n", EXIT_CONFIG,
		     "'omit_expired' applies to type x509 only");
	load_fails("[secret \"ca\"]\nfrom = file:/ca.pem\nomit_expired = maybe\n", 3,
		   "invalid value 'maybe' for 'omit_expired'");
	finish_usage_fails((const char *[]){"run", "--secret",
					    "name=c,from=file:/c,type=tls-cert,omit_expired=yes",
					    NULL},
			   "applies to type x509 only");
}

/* A NUL byte anywhere in the file is refused, naming its line: it would cut the value short
 * ("to = /x/a.pem\0/../../etc" was read as /x/a.pem). */
static void test_nul_byte_is_refused(void **state)
{
	static const char text[] = "[secret \"k\"]\nfrom = env:K\nto = /x/a.pem\0/../../etc\n";
	static const char comment[] = "[agent]\n; a comment \0 with a NUL\n";
	struct config cfg;
	struct agent_error err = {0};
	char where[PATH_MAX + 16];
	FILE *f;

	(void)state;
	for (int pass = 0; pass < 2; pass++) {
		const char *bytes = pass ? comment : text;
		size_t len = pass ? sizeof(comment) - 1 : sizeof(text) - 1;
		int line = pass ? 2 : 3;

		f = fopen(ini_path, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(bytes, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
		config_init(&cfg);
		assert_true(config_load_file(&cfg, ini_path, &err) < 0);
		assert_int_equal(agent_exit_code(err.failure), EXIT_CONFIG);
		snprintf(where, sizeof(where), "%s:%d: ", ini_path, line);
		if (strncmp(err.msg, where, strlen(where)) != 0 || !strstr(err.msg, "NUL byte"))
			fail_msg("expected '%s...NUL byte', got '%s'", where, err.msg);
		config_free(&cfg);
	}
}

/* ${VAR} expands in a [dir "..."] section name as in values. */
static void test_dir_section_name_is_expanded(void **state)
{
	struct config cfg;

	(void)state;
	setenv("CFGT_APP_HOME", "/srv/app", 1);
	unsetenv("CFGT_UNSET");
	load_ok(&cfg, "[dir \"${CFGT_APP_HOME}/logs\"]\nmode = 0750\n"
		      "[dir \"${CFGT_UNSET:-/var}/cache\"]\n");
	assert_int_equal(cfg.ndirs, 2);
	assert_string_equal(cfg.dirs[0].path, "/srv/app/logs");
	assert_int_equal(cfg.dirs[0].mode, 0750);
	assert_string_equal(cfg.dirs[1].path, "/var/cache");
	config_free(&cfg);
	load_fails("[dir \"/srv/app/logs\"]\n[dir \"${CFGT_APP_HOME}/logs\"]\n", 2,
		   "duplicate [dir \"/srv/app/logs\"]");
	load_fails("[agent]\n[dir \"${CFGT_UNSET}/logs\"]\n", 2,
		   "environment variable CFGT_UNSET is not set");
	load_fails("[dir \"${CFGT_APP_HOME\"]\n", 1, "unterminated");
}

/* Two secrets writing the same file, however the path is spelled, are refused naming both. */
static void test_same_target_file_is_refused(void **state)
{
	char text[3 * PATH_MAX], real[PATH_MAX], dirlink[PATH_MAX], file[PATH_MAX];

	(void)state;
	finish_fails("[secret \"a\"]\nfrom = env:A\nto = /x/k.pem\n"
		     "[secret \"b\"]\nfrom = env:B\nto = /x/./k.pem\n",
		     EXIT_CONFIG, "secret 'b' writes to /x/./k.pem, the same file as secret 'a'");
	finish_fails("[secret \"a\"]\nfrom = env:A\nto = /x//y/k.pem\n"
		     "[secret \"b\"]\nfrom = env:B\nto = /x/y/./k.pem\n",
		     EXIT_CONFIG, "the same file as secret 'a' (/x//y/k.pem)");
	finish_fails("[secret \"a\"]\nfrom = env:A\nto = /x/k.pem\n"
		     "[secret \"b\"]\nfrom = env:B\nto = //x/k.pem\n",
		     EXIT_CONFIG, "secret 'b' writes to //x/k.pem, the same file as secret 'a'");

	/* Through a directory symlink: the same directory by device and inode. */
	snprintf(real, sizeof(real), "%s/real", tmpdir);
	snprintf(dirlink, sizeof(dirlink), "%s/link", tmpdir);
	snprintf(file, sizeof(file), "%s/real/k.pem", tmpdir);
	assert_int_equal(mkdir(real, 0700), 0);
	assert_int_equal(symlink(real, dirlink), 0);
	snprintf(text, sizeof(text),
		 "[secret \"a\"]\nfrom = env:A\nto = %s/k.pem\n"
		 "[secret \"b\"]\nfrom = env:B\nto = %s/k.pem\n",
		 real, dirlink);
	finish_fails(text, EXIT_CONFIG, "the same file as secret 'a'");
	/* And once the file exists (a hard link is another name of the same file). */
	{
		char hard[PATH_MAX];
		FILE *f = fopen(file, "w");

		assert_non_null(f);
		fclose(f);
		snprintf(hard, sizeof(hard), "%s/hard.pem", tmpdir);
		assert_int_equal(link(file, hard), 0);
		snprintf(text, sizeof(text),
			 "[secret \"a\"]\nfrom = env:A\nto = %s\n"
			 "[secret \"b\"]\nfrom = env:B\nto = %s\n",
			 file, hard);
		finish_fails(text, EXIT_CONFIG, "the same file as secret 'a'");
		unlink(hard);
	}
	unlink(file);
	unlink(dirlink);
	rmdir(real);

	/* Different files pass. */
	{
		struct config cfg;
		struct agent_error err = {0};

		load_ok(&cfg, "[secret \"a\"]\nfrom = env:A\nto = /x/k.pem\n"
			      "[secret \"b\"]\nfrom = env:B\nto = /x/k.pem.bak\n"
			      "[secret \"c\"]\nfrom = env:C\nto = /x/y/k.pem\n");
		assert_int_equal(config_finish(&cfg, &err), 0);
		config_free(&cfg);
	}
	/* --secret: a usage error, both named. */
	finish_usage_fails((const char *[]){"run", "--secret", "name=a,from=env:A,to=/t/k",
					    "--secret", "name=b,from=env:B,to=/t/./k", NULL},
			   "secret 'b' writes to /t/./k, the same file as secret 'a'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example_file),
	    cmocka_unit_test(test_inline_comments_and_semicolons),
	    cmocka_unit_test(test_list_continuation_lines),
	    cmocka_unit_test(test_file_errors_name_file_and_line),
	    cmocka_unit_test(test_unset_variable_fails_at_finish_unless_required),
	    cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_missing_file_is_78),
	    cmocka_unit_test(test_flags_override_file),
	    cmocka_unit_test(test_secret_flag),
	    cmocka_unit_test(test_flag_errors_are_usage_errors),
	    cmocka_unit_test(test_parsing_stops_at_first_non_option),
	    cmocka_unit_test(test_notify_pidfile_and_help),
	    cmocka_unit_test(test_config_from_environment),
	    cmocka_unit_test(test_finish_checks),
	    cmocka_unit_test(test_finish_defaults),
	    cmocka_unit_test(test_plan_never_holds_values),
	    cmocka_unit_test(test_every_default_parses),
	    cmocka_unit_test(test_flag_and_file_share_the_key),
	    cmocka_unit_test(test_secret_flag_error_names_the_secret),
	    cmocka_unit_test(test_unknown_key_with_unset_variable),
	    cmocka_unit_test(test_operability_keys),
	    cmocka_unit_test(test_operability_keys_in_plan),
	    cmocka_unit_test(test_omit_expired),
	    cmocka_unit_test(test_nul_byte_is_refused),
	    cmocka_unit_test(test_dir_section_name_is_expanded),
	    cmocka_unit_test(test_same_target_file_is_refused),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
