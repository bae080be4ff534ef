/* Typed config values (durations, modes, signals, booleans, on_change) and ${VAR} expansion. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "config/config.h"
#include "config/expand.h"
#include "config/keys.h"
#include "config/strlist.h"
#include "config/targets.h"
#include "config/values.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} good[] = {{"0", 0},	     {"100ms", 100}, {"5s", 5000},   {"2m", 120000},
		    {"1h", 3600000}, {"0s", 0},	     {"007s", 7000}, {"1500ms", 1500}};
	static const char *const bad[] = {"",
					  "5",
					  "1.5s",
					  "s",
					  "-1s",
					  "10x",
					  "5 s",
					  " 5s",
					  "5S",
					  "ms",
					  "5sec",
					  "1e3ms",
					  "99999999999999999999ms",
					  "307445734561825861m"};
	uint64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 12345;
		assert_int_equal(config_parse_duration_ms(good[i].text, &ms), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(config_parse_duration_ms(bad[i], &ms), -EINVAL);
}

static void test_duration_format_round_trips(void **state)
{
	static const uint64_t values[] = {0, 1, 100, 1000, 1500, 60000, 90000, 3600000, 7200000};
	char buf[32];
	uint64_t back;

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		config_format_duration(values[i], buf, sizeof(buf));
		assert_int_equal(config_parse_duration_ms(buf, &back), 0);
		assert_int_equal(back, values[i]);
	}
	config_format_duration(100, buf, sizeof(buf));
	assert_string_equal(buf, "100ms");
	config_format_duration(5000, buf, sizeof(buf));
	assert_string_equal(buf, "5s");
	config_format_duration(120000, buf, sizeof(buf));
	assert_string_equal(buf, "2m");
}

static void test_modes(void **state)
{
	mode_t m;

	(void)state;
	assert_int_equal(config_parse_mode("0400", &m), 0);
	assert_int_equal(m, 0400);
	assert_int_equal(config_parse_mode("0750", &m), 0);
	assert_int_equal(m, 0750);
	/* Always octal, even without the leading zero. */
	assert_int_equal(config_parse_mode("644", &m), 0);
	assert_int_equal(m, 0644);
	assert_int_equal(config_parse_mode("04755", &m), 0);
	assert_int_equal(m, 04755);
	assert_int_equal(config_parse_mode("0", &m), 0);
	assert_int_equal(m, 0);
	assert_int_equal(config_parse_mode("", &m), -EINVAL);
	assert_int_equal(config_parse_mode("0800", &m), -EINVAL);
	assert_int_equal(config_parse_mode("rw-r--r--", &m), -EINVAL);
	assert_int_equal(config_parse_mode("010000", &m), -EINVAL);
	assert_int_equal(config_parse_mode("0x1ff", &m), -EINVAL);
	assert_int_equal(config_parse_mode("-400", &m), -EINVAL);
	assert_int_equal(config_parse_mode("0400 ", &m), -EINVAL);
}

static void test_signals(void **state)
{
	int sig;
	char buf[32];

	(void)state;
	assert_int_equal(config_parse_signal("SIGHUP", &sig), 0);
	assert_int_equal(sig, SIGHUP);
	assert_int_equal(config_parse_signal("HUP", &sig), 0);
	assert_int_equal(sig, SIGHUP);
	assert_int_equal(config_parse_signal("sigusr1", &sig), 0);
	assert_int_equal(sig, SIGUSR1);
	assert_int_equal(config_parse_signal("TERM", &sig), 0);
	assert_int_equal(sig, SIGTERM);
	assert_int_equal(config_parse_signal("10", &sig), 0);
	assert_int_equal(sig, 10);
	assert_int_equal(config_parse_signal("0", &sig), -EINVAL);
	assert_int_equal(config_parse_signal("65", &sig), -EINVAL);
	assert_int_equal(config_parse_signal("-1", &sig), -EINVAL);
	assert_int_equal(config_parse_signal("SIGFOO", &sig), -EINVAL);
	assert_int_equal(config_parse_signal("SIG", &sig), -EINVAL);
	assert_int_equal(config_parse_signal("", &sig), -EINVAL);
	assert_int_equal(config_parse_signal("1x", &sig), -EINVAL);
	config_format_signal(SIGHUP, buf, sizeof(buf));
	assert_string_equal(buf, "SIGHUP");
}

static void test_bools(void **state)
{
	bool b = false;

	(void)state;
	assert_int_equal(config_parse_bool("yes", &b), 0);
	assert_true(b);
	assert_int_equal(config_parse_bool("No", &b), 0);
	assert_false(b);
	assert_int_equal(config_parse_bool("true", &b), 0);
	assert_true(b);
	assert_int_equal(config_parse_bool("0", &b), 0);
	assert_false(b);
	assert_int_equal(config_parse_bool("maybe", &b), -EINVAL);
	assert_int_equal(config_parse_bool("", &b), -EINVAL);
}

/* Sets on_change through its row of the key table, as the file and the flag do. */
static int set_on_change(struct config *cfg, const char *value, struct agent_error *err)
{
	return config_key_set(config_key_find(CONFIG_AGENT, "on_change"), cfg, &cfg->given, value,
			      err);
}

static void test_on_change(void **state)
{
	struct config cfg;
	struct agent_error err;

	(void)state;
	config_init(&cfg);
	assert_int_equal(cfg.on_change, ON_CHANGE_SIGNAL);
	assert_int_equal(cfg.on_change_signal, SIGHUP);
	assert_int_equal(set_on_change(&cfg, "signal:USR2", &err), 0);
	assert_int_equal(cfg.on_change, ON_CHANGE_SIGNAL);
	assert_int_equal(cfg.on_change_signal, SIGUSR2);
	assert_int_equal(set_on_change(&cfg, "exec:/usr/local/bin/reload", &err), 0);
	assert_int_equal(cfg.on_change, ON_CHANGE_EXEC);
	assert_string_equal(cfg.on_change_exec, "/usr/local/bin/reload");
	assert_int_equal(set_on_change(&cfg, "restart", &err), 0);
	assert_int_equal(cfg.on_change, ON_CHANGE_RESTART);
	assert_null(cfg.on_change_exec);
	assert_int_equal(set_on_change(&cfg, "none", &err), 0);
	assert_int_equal(cfg.on_change, ON_CHANGE_NONE);
	assert_int_equal(set_on_change(&cfg, "exec:reload.sh", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "absolute"));
	assert_int_equal(set_on_change(&cfg, "signal:NOPE", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "NOPE"));
	assert_int_equal(set_on_change(&cfg, "reload", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'reload'"));
	config_free(&cfg);
}

static void expect_expansion(const char *in, const char *want)
{
	struct agent_error err;
	char *out = NULL;

	assert_int_equal(config_expand(in, &out, &err), 0);
	assert_string_equal(out, want);
	free(out);
}

static void expect_expansion_error(const char *in, const char *needle)
{
	struct agent_error err = {0};
	char *out = NULL;

	assert_true(config_expand(in, &out, &err) < 0);
	assert_null(out);
	assert_int_equal(err.failure, AGENT_FAIL_CONFIG);
	assert_non_null(strstr(err.msg, needle));
}

static void test_expansion(void **state)
{
	(void)state;
	setenv("CFGT_HOST", "redis.local", 1);
	setenv("CFGT_PORT", "6379", 1);
	setenv("CFGT_EMPTY", "", 1);
	setenv("CFGT_REF", "${CFGT_HOST}", 1);
	unsetenv("CFGT_UNSET");

	expect_expansion("plain value", "plain value");
	expect_expansion("", "");
	expect_expansion("${CFGT_HOST}:${CFGT_PORT}", "redis.local:6379");
	expect_expansion("${CFGT_UNSET:-fallback}", "fallback");
	expect_expansion("${CFGT_EMPTY:-fallback}", "fallback");
	expect_expansion("${CFGT_HOST:-fallback}", "redis.local");
	expect_expansion("${CFGT_UNSET:-}", "");
	expect_expansion("${CFGT_EMPTY}", "");
	expect_expansion("${CFGT_UNSET:-a b:c/d}", "a b:c/d");
	/* $$ is the escape; a lone $ is kept; expanded text is never expanded again. */
	expect_expansion("cost $$5 and $${CFGT_HOST}", "cost $5 and ${CFGT_HOST}");
	expect_expansion("a$b $ end$", "a$b $ end$");
	expect_expansion("${CFGT_REF}", "${CFGT_HOST}");
	expect_expansion("\\$x", "\\$x");

	expect_expansion_error("${CFGT_UNSET}", "CFGT_UNSET is not set");
	expect_expansion_error("x ${CFGT_HOST} ${CFGT_UNSET} y", "CFGT_UNSET");
	expect_expansion_error("${CFGT_HOST", "unterminated");
	expect_expansion_error("${}", "invalid variable reference");
	expect_expansion_error("${1ABC}", "invalid variable reference");
	expect_expansion_error("${A-B}", "invalid variable reference");
}

static void test_lists(void **state)
{
	struct strlist l = {0};

	(void)state;
	assert_int_equal(strlist_append_words(&l, "  A  B\tC ", false), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.items[2], "C");
	assert_int_equal(strlist_append_words(&l, "h1:1,h2:2, h3:3 h4:4", true), 0);
	assert_int_equal(l.n, 7);
	assert_string_equal(l.items[3], "h1:1");
	assert_string_equal(l.items[6], "h4:4");
	assert_int_equal(strlist_append_words(&l, "x,y", false), 0);
	assert_string_equal(l.items[7], "x,y");
	assert_int_equal(strlist_append_words(&l, "   ", false), 0);
	assert_int_equal(l.n, 8);
	strlist_free(&l);
	assert_int_equal(l.n, 0);
}

static void test_secret_names(void **state)
{
	(void)state;
	assert_true(config_secret_name_ok("signing_key"));
	assert_true(config_secret_name_ok("tls-cert.v2"));
	assert_false(config_secret_name_ok(""));
	assert_false(config_secret_name_ok("has space"));
	assert_false(config_secret_name_ok("a,b"));
	assert_false(config_secret_name_ok("quote\"d"));
}

static void expect_normalized(const char *in, const char *want)
{
	char out[64];

	assert_int_equal(config_normalize_path(in, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_normalize_path(void **state)
{
	char small[8];

	(void)state;
	expect_normalized("/x/k.pem", "/x/k.pem");
	expect_normalized("/x/./k.pem", "/x/k.pem");
	expect_normalized("//x///k.pem", "/x/k.pem");
	expect_normalized("/x/a/../k.pem", "/x/k.pem");
	expect_normalized("/../../x", "/x");
	expect_normalized("/x/..", "/");
	expect_normalized("/", "/");
	expect_normalized("/x/.hidden/..k", "/x/.hidden/..k");
	assert_int_equal(config_normalize_path("/abcdefgh", small, sizeof(small)), -ENAMETOOLONG);
	assert_true(config_same_target("/nonexistent-cfgt/a/../k", "/nonexistent-cfgt/./k"));
	assert_false(config_same_target("/nonexistent-cfgt/k", "/nonexistent-cfgt/k2"));
	/* "/" and "/." are the same existing directory, and k the same name in it. */
	assert_true(config_same_target("/nonexistent-cfgt-k", "/./nonexistent-cfgt-k"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalize_path),
	    cmocka_unit_test(test_durations),	 cmocka_unit_test(test_duration_format_round_trips),
	    cmocka_unit_test(test_modes),	 cmocka_unit_test(test_signals),
	    cmocka_unit_test(test_bools),	 cmocka_unit_test(test_on_change),
	    cmocka_unit_test(test_expansion),	 cmocka_unit_test(test_lists),
	    cmocka_unit_test(test_secret_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
