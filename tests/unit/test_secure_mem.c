/* Secure memory: allocation, copies, constant-time equality, protection changes, hashing. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "secret_fs/secure_mem.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void alloc_and_free(void **state)
{
	struct sfs_secret s;
	struct sfs_error err = {0};
	(void)state;

	assert_int_equal(sfs_secret_alloc(&s, 100, &err), 0);
	assert_non_null(s.data);
	assert_int_equal(s.len, 0);
	assert_int_equal(s.cap, 100);
	memset(s.data, 0xab, 100);
	sfs_secret_free(&s);
	assert_null(s.data);
	assert_int_equal(s.cap, 0);
	sfs_secret_free(&s); /* twice is harmless */

	memset(&s, 0, sizeof(s));
	sfs_secret_free(&s); /* zeroed struct too */
	sfs_secret_free(NULL);
}

static void from_copies(void **state)
{
	struct sfs_secret s, empty;
	struct sfs_error err = {0};
	(void)state;

	assert_int_equal(sfs_secret_from(&s, "hello", 5, &err), 0);
	assert_int_equal(s.len, 5);
	assert_memory_equal(s.data, "hello", 5);
	assert_int_equal(sfs_secret_from(&empty, NULL, 0, &err), 0);
	assert_int_equal(empty.len, 0);
	sfs_secret_free(&s);
	sfs_secret_free(&empty);
}

static void equality(void **state)
{
	struct sfs_secret a, b, c, d;
	(void)state;

	assert_int_equal(sfs_secret_from(&a, "abcdef", 6, NULL), 0);
	assert_int_equal(sfs_secret_from(&b, "abcdef", 6, NULL), 0);
	assert_int_equal(sfs_secret_from(&c, "abcdeg", 6, NULL), 0);
	assert_int_equal(sfs_secret_from(&d, "abcde", 5, NULL), 0);
	assert_true(sfs_secret_equal(&a, &b));
	assert_false(sfs_secret_equal(&a, &c));
	assert_false(sfs_secret_equal(&a, &d));
	sfs_secret_free(&a);
	sfs_secret_free(&b);
	sfs_secret_free(&c);
	sfs_secret_free(&d);
}

/* Runs `touch` on a fresh 16-byte secret in a child: true when the child was stopped by a
 * report (AddressSanitizer exits 1) or a signal, false when it returned normally. */
static bool reported_in_child(void (*touch)(struct sfs_secret *s))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sfs_secret s;

		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		if (sfs_secret_from(&s, "0123456789abcdef", 16, NULL) < 0)
			_exit(3);
		touch(&s);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

static void read_after_free(struct sfs_secret *s)
{
	volatile unsigned char *p = s->data;

	sfs_secret_free(s);
	(void)p[3];
}

static void read_one_past_end(struct sfs_secret *s)
{
	(void)((volatile unsigned char *)s->data)[s->cap];
}

static void read_one_before_start(struct sfs_secret *s)
{
	(void)((volatile unsigned char *)s->data)[-1];
}

/* The plain-malloc backend exists so that AddressSanitizer reports these three; the sodium
 * backend hides all of them (guard page only after the end of the page, a cache that reuses
 * freed buffers). A child that returns normally means the access went unseen. */
static void sanitizer_sees_secure_memory(void **state)
{
	(void)state;
	if (!SFS_SECURE_MEM_MALLOC)
		skip();
	assert_true(reported_in_child(read_after_free));
	assert_true(reported_in_child(read_one_past_end));
	assert_true(reported_in_child(read_one_before_start));
}

/* The plain-malloc backend keeps nothing for reuse: a freed buffer is never handed out again
 * (ASan holds it in quarantine), so a stale pointer cannot alias a new secret. */
static void malloc_backend_does_not_reuse(void **state)
{
	struct sfs_secret a, b;
	unsigned char *old;
	(void)state;

	if (!SFS_SECURE_MEM_MALLOC)
		skip();
	assert_int_equal(sfs_secret_from(&a, "abc", 3, NULL), 0);
	old = a.data;
	sfs_secret_free(&a);
	assert_int_equal(sfs_secret_alloc(&b, 3, NULL), 0);
	assert_ptr_not_equal(b.data, old);
	sfs_secret_free(&b);
	sfs_secure_cache_release(); /* a no-op here, and harmless */
}

/* A write to a read-only secret must fault, and readwrite must allow it again. The
 * plain-malloc backend (sanitizer builds) does not apply read-only protection: there the
 * contents must merely survive the calls. */
static void readonly_faults(void **state)
{
	struct sfs_secret s;
	int status;
	pid_t pid;
	(void)state;

	assert_int_equal(sfs_secret_from(&s, "ro", 2, NULL), 0);
	sfs_secret_readonly(&s);
	assert_memory_equal(s.data, "ro", 2);
	if (SFS_SECURE_MEM_MALLOC) {
		sfs_secret_readwrite(&s);
		s.data[0] = 'x';
		assert_memory_equal(s.data, "xo", 2);
		sfs_secret_free(&s);
		return;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		((volatile unsigned char *)s.data)[0] = 'x';
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* Killed by SIGSEGV, or under AddressSanitizer a non-zero exit after its report. */
	assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sfs_secret_readwrite(&s);
	s.data[0] = 'x';
	assert_memory_equal(s.data, "xo", 2);
	sfs_secret_readonly(&s);
	sfs_secret_free(&s); /* freeing a read-only secret works */
}

static void sha256_vector(void **state)
{
	static const unsigned char abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
					      0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
					      0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
					      0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	unsigned char out[32];
	(void)state;

	sfs_hash("abc", 3, out);
	assert_memory_equal(out, abc, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(alloc_and_free),
	    cmocka_unit_test(from_copies),
	    cmocka_unit_test(equality),
	    cmocka_unit_test(readonly_faults),
	    cmocka_unit_test(sha256_vector),
	    cmocka_unit_test(sanitizer_sees_secure_memory),
	    cmocka_unit_test(malloc_backend_does_not_reuse),
	};

	if (sfs_init(NULL) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
