/* PEM normalisation and the armor scanner, on synthetic text: no key
 * material is needed to test how text is cleaned up and split into blocks. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "pem_armor.h"
#include "pem_normalize.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define PEM	 "-----BEGIN X-----\nQUJD\n-----END X-----"
#define CRLF_PEM "-----BEGIN X-----\r\nQUJD\r\n-----END X-----\r\n"

struct outcome {
	int rc;
	struct sfs_secret out;
	struct sfs_warnings w;
	struct sfs_error err;
};

static void normalize(const char *in, size_t len, size_t max, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->rc = sfs_pem_normalize((const unsigned char *)in, len, max, &o->out, &o->w, &o->err);
}

static void assert_result(struct outcome *o, const char *expected)
{
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->out.len, strlen(expected));
	assert_memory_equal(o->out.data, expected, o->out.len);
	sfs_secret_free(&o->out);
}

static bool has_warning(const struct outcome *o, const char *text)
{
	for (unsigned i = 0; i < o->w.count; i++)
		if (strstr(o->w.msg[i], text))
			return true;
	return false;
}

static void assert_refused(const char *in, size_t len, const char *wording)
{
	struct outcome o;

	normalize(in, len, 8192, &o);
	assert_int_equal(o.rc, -EINVAL);
	assert_non_null(strstr(o.err.msg, wording));
	sfs_secret_free(&o.out);
}

static void test_plain_pem_unchanged_without_warnings(void **state)
{
	struct outcome o;
	(void)state;
	normalize(PEM "\n", strlen(PEM "\n"), 8192, &o);
	assert_int_equal(o.w.count, 0);
	assert_result(&o, PEM);
}

static void test_bom_stripped(void **state)
{
	struct outcome o;
	(void)state;
	normalize("\xef\xbb\xbf" PEM, strlen(PEM) + 3, 8192, &o);
	assert_true(has_warning(&o, "byte order mark"));
	assert_result(&o, PEM);
}

static void test_nul_and_control_refused(void **state)
{
	(void)state;
	assert_refused(PEM "\0", strlen(PEM) + 1, "NUL byte");
	assert_refused("\x07" PEM, strlen(PEM) + 1, "control character 0x07");
	assert_refused(PEM "\x7f", strlen(PEM) + 1, "control character 0x7f");
}

static void test_quotes_and_outer_whitespace(void **state)
{
	struct outcome o;
	(void)state;
	normalize("  \"" PEM "\"\n", strlen(PEM) + 5, 8192, &o);
	assert_true(has_warning(&o, "outer quotes removed"));
	assert_true(has_warning(&o, "leading whitespace removed"));
	assert_result(&o, PEM);
	normalize("'" PEM "'", strlen(PEM) + 2, 8192, &o);
	assert_result(&o, PEM);
	/* Unmatched quotes stay, and the text is then not PEM at its start. */
	normalize("\"" PEM "'", strlen(PEM) + 2, 8192, &o);
	assert_int_equal(o.rc, 0);
	assert_int_equal(o.out.data[0], '"');
	sfs_secret_free(&o.out);
}

static void test_literal_newlines(void **state)
{
	const char *one = "-----BEGIN X-----\\nQUJD\\r\\n-----END X-----\\n";
	struct outcome o;
	(void)state;
	normalize(one, strlen(one), 8192, &o);
	assert_true(has_warning(&o, "literal \\n sequences converted to newlines"));
	assert_result(&o, PEM);
	assert_refused("-----BEGIN X-----\nQUJD\\n-----END X-----", 38, "also has real newlines");
	assert_refused("-----BEGIN X-----\\tQUJD", 23, "unexpected backslash at offset 17");
	assert_refused("-----BEGIN X-----\\", 18, "unexpected backslash");
}

static void test_crlf_cr_and_indentation(void **state)
{
	const char *crlf = "-----BEGIN X-----\r\nQUJD\r\n-----END X-----\r\n";
	const char *cr = "-----BEGIN X-----\rQUJD\r-----END X-----";
	const char *yaml = "    -----BEGIN X-----  \n\t  QUJD\n    -----END X-----   ";
	struct outcome o;
	(void)state;
	normalize(crlf, strlen(crlf), 8192, &o);
	assert_true(has_warning(&o, "CRLF or CR"));
	assert_result(&o, PEM);
	normalize(cr, strlen(cr), 8192, &o);
	assert_result(&o, PEM);
	normalize(yaml, strlen(yaml), 8192, &o);
	assert_true(has_warning(&o, "indentation"));
	assert_result(&o, PEM);
}

static void test_base64_wrapped_pem(void **state)
{
	char b64[256], wrapped[300];
	size_t n, j = 0;
	struct outcome o;
	(void)state;

	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)CRLF_PEM, strlen(CRLF_PEM),
			  sodium_base64_VARIANT_ORIGINAL);
	normalize(b64, strlen(b64), 8192, &o);
	assert_true(has_warning(&o, "base64-wrapped PEM decoded"));
	assert_true(has_warning(&o, "CRLF"));
	assert_result(&o, PEM);
	/* The wrapping may itself be line-wrapped (base64 -w 20). */
	n = strlen(b64);
	for (size_t i = 0; i < n; i++) {
		wrapped[j++] = b64[i];
		if (i % 20 == 19)
			wrapped[j++] = '\n';
	}
	wrapped[j] = '\0';
	normalize(wrapped, j, 8192, &o);
	assert_result(&o, PEM);
}

static void test_base64_of_non_pem_refused(void **state)
{
	(void)state;
	assert_refused("aGVsbG8gd29ybGQ=", 16, "does not decode to PEM");
	assert_refused("not base64 at all!", 18, "not PEM, and not base64-encoded PEM");
	assert_refused("   \n\t", 5, "the value is empty");
	assert_refused("\"\"", 2, "the value is empty");
}

static void test_size_limit(void **state)
{
	struct outcome o;
	char big[200];
	(void)state;
	memset(big, 'A', sizeof(big));
	memcpy(big, "-----BEGIN X-----\n", 18);
	normalize(big, sizeof(big), 100, &o);
	assert_int_equal(o.rc, -EINVAL);
	assert_non_null(strstr(o.err.msg, "more than the 100 allowed"));
	sfs_secret_free(&o.out);
}

static void test_scanner_blocks_and_text(void **state)
{
	const char *t = "intro\n-----BEGIN A-----\nQUJD\n-----END A-----\n\nmid\n"
			"-----BEGIN B-----\nK: v\n\nQUJD\n-----END C-----\nend\n";
	struct sfs_pem_block blk;
	struct sfs_error err;
	size_t pos = 0;
	bool after;
	(void)state;

	assert_int_equal(sfs_pem_next(t, strlen(t), &pos, &blk, &after, &err), 1);
	assert_string_equal(blk.label, "A");
	assert_true(blk.text_before);
	assert_false(blk.has_headers);
	assert_int_equal(blk.body_len, 5);
	assert_int_equal(sfs_pem_next(t, strlen(t), &pos, &blk, &after, &err), 1);
	assert_string_equal(blk.label, "B");
	assert_string_equal(blk.end_label, "C");
	assert_true(blk.has_headers);
	assert_true(blk.text_before);
	assert_int_equal(sfs_pem_next(t, strlen(t), &pos, &blk, &after, &err), 0);
	assert_true(after);
}

static void test_scanner_structure_errors(void **state)
{
	static const struct {
		const char *text;
		const char *wording;
	} cases[] = {
	    {"-----BEGIN A-----\nQUJD\n", "has no END line"},
	    {"-----BEGIN A-----\n-----BEGIN A-----\n", "BEGIN line inside block"},
	    {"-----END A-----\n", "END line without a BEGIN line"},
	    {"-----BEGINA-----\n", "malformed PEM BEGIN line"},
	    {"-----BEGIN A----\n", "malformed PEM BEGIN line"},
	    {"-----BEGIN -----\n", "bad label length"},
	    {"-----BEGIN A-----\nQUJD\n-----ENDA-----\n", "malformed PEM END line"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sfs_pem_block blk;
		struct sfs_error err = {0};
		size_t pos = 0;
		bool after;
		assert_int_equal(
		    sfs_pem_next(cases[i].text, strlen(cases[i].text), &pos, &blk, &after, &err),
		    -EINVAL);
		assert_non_null(strstr(err.msg, cases[i].wording));
	}
}

static void test_body_decode_is_strict(void **state)
{
	static const struct {
		const char *text;
		int rc;
	} cases[] = {
	    {"-----BEGIN A-----\nQUJD\nRA==\n-----END A-----\n", 0},
	    {"-----BEGIN A-----\nQUJDRA\n-----END A-----\n", -EINVAL},	  /* no padding */
	    {"-----BEGIN A-----\nQUJD RA==\n-----END A-----\n", -EINVAL}, /* inner space */
	    {"-----BEGIN A-----\nQUJDRA==QUJD\n-----END A-----\n", -EINVAL},
	    {"-----BEGIN A-----\nQUJDRB==\n-----END A-----\n", -EINVAL}, /* non-zero pad bits */
	    {"-----BEGIN A-----\nQU-D\n-----END A-----\n", -EINVAL},	 /* url-safe alphabet */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sfs_pem_block blk;
		struct sfs_secret der = {0};
		struct sfs_error err = {0};
		size_t pos = 0;
		bool after;
		assert_int_equal(
		    sfs_pem_next(cases[i].text, strlen(cases[i].text), &pos, &blk, &after, &err),
		    1);
		assert_int_equal(sfs_pem_body_decode(&blk, &der, &err), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_int_equal(der.len, 4);
			assert_memory_equal(der.data, "ABCD", 4);
		}
		sfs_secret_free(&der);
	}
}

static void test_encode_is_64_columns_lf(void **state)
{
	unsigned char der[100];
	struct sfs_secret out = {0};
	const char *expected_end = "-----END T-----\n";
	(void)state;
	for (size_t i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)i;
	assert_int_equal(sfs_pem_encode_append("T", der, sizeof(der), &out, NULL), 0);
	assert_int_equal(sfs_pem_encode_append("T", der, 3, &out, NULL), 0);
	/* 100 bytes: 136 base64 chars on lines of 64, 64, 8. */
	assert_memory_equal(out.data, "-----BEGIN T-----\nAAECAwQF", 26);
	assert_int_equal(out.data[18 + 64], '\n');
	assert_int_equal(out.data[18 + 65 + 64], '\n');
	assert_int_equal(out.len, (18 + 139 + 16) + (18 + 5 + 16));
	assert_memory_equal(out.data + out.len - strlen(expected_end), expected_end,
			    strlen(expected_end));
	sfs_secret_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_pem_unchanged_without_warnings),
	    cmocka_unit_test(test_bom_stripped),
	    cmocka_unit_test(test_nul_and_control_refused),
	    cmocka_unit_test(test_quotes_and_outer_whitespace),
	    cmocka_unit_test(test_literal_newlines),
	    cmocka_unit_test(test_crlf_cr_and_indentation),
	    cmocka_unit_test(test_base64_wrapped_pem),
	    cmocka_unit_test(test_base64_of_non_pem_refused),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_scanner_blocks_and_text),
	    cmocka_unit_test(test_scanner_structure_errors),
	    cmocka_unit_test(test_body_decode_is_strict),
	    cmocka_unit_test(test_encode_is_64_columns_lf),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
