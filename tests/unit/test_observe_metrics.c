/* observe/metrics: the registry renders the contract's families in text format 0.0.4, label
 * values are escaped, counters count, the rejected gauge follows the newest version, and
 * promtool (the Prometheus project's own checker) accepts the output. Certificates parsed from
 * PEM carry the subject exactly as `openssl x509 -subject -nameopt RFC2253` prints it. */
/* cmocka needs these three first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "observe/cert_list.h"
#include "observe/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *render(struct metrics *m)
{
	char *text;
	size_t len;

	assert_int_equal(metrics_render(m, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

static void assert_has_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
		p += n;
	}
	fail_msg("missing line: %s\n--- in:\n%s", line, text);
}

static void test_initial_state(void **state)
{
	struct metrics *m;
	char *text;

	(void)state;
	assert_int_equal(metrics_new(&m, "1.2.3"), 0);
	assert_int_equal(metrics_secret_declare(m, "signing_key", "ed25519"), 0);
	text = render(m);
	assert_has_line(text, "# TYPE secret_agent_build_info gauge");
	assert_has_line(text, "secret_agent_build_info{version=\"1.2.3\"} 1");
	assert_has_line(text, "secret_agent_ready 0");
	assert_has_line(text, "# TYPE secret_agent_rotations_total counter");
	assert_has_line(
	    text, "secret_agent_rotations_total{secret=\"signing_key\",result=\"applied\"} 0");
	assert_has_line(
	    text, "secret_agent_rotations_total{secret=\"signing_key\",result=\"rejected\"} 0");
	assert_has_line(
	    text, "secret_agent_rotations_total{secret=\"signing_key\",result=\"unchanged\"} 0");
	assert_has_line(text, "secret_agent_secret_rejected{secret=\"signing_key\"} 0");
	assert_has_line(text, "secret_agent_child_restarts_total 0");
	/* Not written yet: no info, no last write. */
	assert_null(strstr(text, "secret_agent_secret_info{"));
	assert_null(strstr(text, "secret_agent_secret_last_write_timestamp_seconds{"));
	free(text);
	metrics_free(m);
}

static void test_recorders(void **state)
{
	struct metrics *m;
	struct observed_cert certs[2] = {
	    {.index = 0, .subject = "CN=leaf,O=Example", .not_after = 1900000000},
	    {.index = 1, .subject = "CN=Root CA", .not_after = 2000000000},
	};
	char *text;

	(void)state;
	assert_int_equal(metrics_new(&m, "0.1.0"), 0);
	assert_int_equal(
	    metrics_secret_written(m, "signing_key", "ed25519", "ab12", NULL, 0, 1700000000.25), 0);
	assert_int_equal(
	    metrics_secret_written(m, "tls_cert", "tls-cert", "cd34", certs, 2, 1700000001.0), 0);
	assert_int_equal(metrics_secret_written(m, "blob", "opaque", NULL, NULL, 0, 1700000002.0),
			 0);
	assert_int_equal(metrics_rotation(m, "signing_key", ROTATION_APPLIED), 0);
	assert_int_equal(metrics_rotation(m, "signing_key", ROTATION_APPLIED), 0);
	assert_int_equal(metrics_rotation(m, "tls_cert", ROTATION_REJECTED), 0);
	assert_int_equal(metrics_notification(m, "signal", true), 0);
	assert_int_equal(metrics_notification(m, "signal", false), 0);
	assert_int_equal(metrics_notification(m, "signal", true), 0);
	metrics_child_restart(m);
	metrics_set_ready(m, true);
	assert_true(metrics_is_ready(m));
	assert_int_equal(metrics_secrets_written(m), 3);

	text = render(m);
	assert_has_line(text, "secret_agent_ready 1");
	assert_has_line(text, "secret_agent_secret_info{secret=\"signing_key\",type=\"ed25519\","
			      "fingerprint=\"ab12\"} 1");
	assert_has_line(
	    text, "secret_agent_secret_info{secret=\"blob\",type=\"opaque\",fingerprint=\"\"} 1");
	assert_has_line(text,
			"secret_agent_secret_last_write_timestamp_seconds{secret=\"signing_key\"} "
			"1700000000.250");
	assert_has_line(
	    text, "secret_agent_rotations_total{secret=\"signing_key\",result=\"applied\"} 2");
	assert_has_line(text,
			"secret_agent_rotations_total{secret=\"tls_cert\",result=\"rejected\"} 1");
	assert_has_line(text, "secret_agent_secret_rejected{secret=\"tls_cert\"} 1");
	assert_has_line(text, "secret_agent_secret_rejected{secret=\"signing_key\"} 0");
	assert_has_line(text,
			"secret_agent_certificate_expiry_timestamp_seconds{secret=\"tls_cert\","
			"index=\"0\",subject=\"CN=leaf,O=Example\"} 1900000000");
	assert_has_line(text,
			"secret_agent_certificate_expiry_timestamp_seconds{secret=\"tls_cert\","
			"index=\"1\",subject=\"CN=Root CA\"} 2000000000");
	assert_has_line(text,
			"secret_agent_notifications_total{action=\"signal\",result=\"ok\"} 2");
	assert_has_line(text,
			"secret_agent_notifications_total{action=\"signal\",result=\"failed\"} 1");
	assert_has_line(text, "secret_agent_child_restarts_total 1");
	free(text);

	/* A later accepted version clears the rejected gauge; a rewrite replaces the certs. */
	assert_int_equal(metrics_rotation(m, "tls_cert", ROTATION_UNCHANGED), 0);
	assert_int_equal(
	    metrics_secret_written(m, "tls_cert", "tls-cert", "ef56", certs, 1, 1700000003.0), 0);
	text = render(m);
	assert_has_line(text, "secret_agent_secret_rejected{secret=\"tls_cert\"} 0");
	assert_has_line(text,
			"secret_agent_rotations_total{secret=\"tls_cert\",result=\"unchanged\"} 1");
	assert_null(strstr(text, "index=\"1\""));
	assert_null(strstr(text, "cd34"));
	free(text);
	metrics_free(m);
}

static void test_label_escaping(void **state)
{
	struct metrics *m;
	struct observed_cert cert = {.index = 0, .subject = "CN=a\\,b \"q\"\nnext", .not_after = 1};
	char *text;

	(void)state;
	assert_int_equal(metrics_new(&m, "v\"1\\"), 0);
	assert_int_equal(metrics_secret_written(m, "s", "x509", "", &cert, 1, 1.0), 0);
	text = render(m);
	assert_has_line(text, "secret_agent_build_info{version=\"v\\\"1\\\\\"} 1");
	assert_has_line(text, "secret_agent_certificate_expiry_timestamp_seconds{secret=\"s\","
			      "index=\"0\",subject=\"CN=a\\\\,b \\\"q\\\"\\nnext\"} 1");
	free(text);
	metrics_free(m);
}

/* promtool reads the exposition from stdin; skipped (not passed) when it is missing. */
static int promtool_check(const char *text, char *out, size_t outsize)
{
	char path[] = "/tmp/sa-promtool-XXXXXX", cmd[256];
	FILE *f, *p;
	int fd = mkstemp(path), status;
	size_t n;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, outsize - 1, p);
	out[n] = '\0';
	status = pclose(p);
	unlink(path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_promtool(void **state)
{
	struct metrics *m;
	struct observed_cert cert = {.index = 0, .subject = "CN=x \"y\"", .not_after = 1900000000};
	char *text, out[4096];

	(void)state;
	if (system("command -v promtool >/dev/null") != 0) {
		fprintf(stderr, "SKIPPED: promtool not installed (Debian package prometheus)\n");
		skip();
	}
	assert_int_equal(metrics_new(&m, "0.1.0"), 0);
	assert_int_equal(metrics_secret_written(m, "ca", "x509", "00ff", &cert, 1, 1700000000.5),
			 0);
	assert_int_equal(metrics_rotation(m, "ca", ROTATION_APPLIED), 0);
	assert_int_equal(metrics_notification(m, "restart", true), 0);
	text = render(m);
	assert_int_equal(promtool_check(text, out, sizeof(out)), 0);
	/* promtool's lint also reports style problems on exit 0: none are expected. */
	assert_string_equal(out, "");
	free(text);
	/* The check can fail: a broken exposition is refused. */
	assert_int_not_equal(promtool_check("secret_agent_ready{ 1\n", out, sizeof(out)), 0);
	metrics_free(m);
}

static const char CERT_PEM_CMD[] =
    "openssl req -x509 -newkey ed25519 -nodes -keyout /dev/null -days 10 "
    "-subj '/C=DE/O=Ex, Ltd./CN=caf\xc3\xa9 \"q\"' 2>/dev/null";

static void test_cert_list(void **state)
{
	char pem[16384], cmd[1024], expected[512];
	struct observed_cert *certs = NULL;
	size_t n = 0, len;
	FILE *p;
	char path[] = "/tmp/sa-cert-XXXXXX";
	int fd;

	(void)state;
	p = popen(CERT_PEM_CMD, "r");
	assert_non_null(p);
	len = fread(pem, 1, sizeof(pem) / 2, p);
	assert_int_equal(pclose(p), 0);
	/* Twice: a bundle of two, indexes 0 and 1. */
	memcpy(pem + len, pem, len);
	assert_int_equal(cert_list_from_pem(pem, 2 * len, &certs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(certs[1].index, 1);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, pem, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -subject -nameopt RFC2253 -in %s", path);
	p = popen(cmd, "r");
	assert_non_null(fgets(expected, sizeof(expected), p));
	pclose(p);
	expected[strcspn(expected, "\n")] = '\0';
	assert_string_equal(certs[0].subject, expected + strlen("subject="));
	snprintf(
	    cmd, sizeof(cmd),
	    "test $(date -d \"$(openssl x509 -noout -enddate -in %s | cut -d= -f2)\" +%%s) = %lld",
	    path, (long long)certs[0].not_after);
	assert_int_equal(system(cmd), 0);
	unlink(path);
	free(certs);

	/* A damaged block is refused; no certificate at all is an empty list. */
	pem[len / 2] = '!';
	pem[len / 2 + 1] = '!';
	assert_int_equal(cert_list_from_pem(pem, len, &certs, &n), -EINVAL);
	assert_int_equal(cert_list_from_pem("", 0, &certs, &n), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_initial_state),  cmocka_unit_test(test_recorders),
	    cmocka_unit_test(test_label_escaping), cmocka_unit_test(test_promtool),
	    cmocka_unit_test(test_cert_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
