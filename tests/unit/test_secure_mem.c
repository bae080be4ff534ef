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
#include <stdio.h>
#include <stdlib.h>
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

/* The mapping of /proc/self/smaps that holds `addr`: its range, permissions and VmFlags, and
 * the permissions of the mappings right before and after it ("" when not adjacent). */
struct vma {
	unsigned long start, end;
	char perms[8], flags[512], prev_perms[8], next_perms[8];
	long locked_kb;
};

static bool find_vma(const void *addr, struct vma *out)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512], perms[8];
	unsigned long a = (unsigned long)addr, start, end, prev_end = 0;
	char prev_perms[8] = "";
	bool in = false, found = false;

	memset(out, 0, sizeof(*out));
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 && strchr(line, '-') &&
		    line[0] != 'V') {
			if (found && in && start == out->end)
				snprintf(out->next_perms, sizeof(out->next_perms), "%s", perms);
			if (found && in) {
				in = false;
				continue;
			}
			if (!found && a >= start && a < end) {
				out->start = start;
				out->end = end;
				snprintf(out->perms, sizeof(out->perms), "%s", perms);
				if (prev_end == start)
					snprintf(out->prev_perms, sizeof(out->prev_perms), "%s",
						 prev_perms);
				found = in = true;
			}
			prev_end = end;
			snprintf(prev_perms, sizeof(prev_perms), "%s", perms);
			continue;
		}
		if (in && strncmp(line, "Locked:", 7) == 0)
			out->locked_kb = strtol(line + 7, NULL, 10);
		if (in && strncmp(line, "VmFlags:", 8) == 0)
			snprintf(out->flags, sizeof(out->flags), "%s", line + 8);
	}
	fclose(f);
	return found;
}

static bool has_flag(const char *flags, const char *flag)
{
	char padded[8];

	snprintf(padded, sizeof(padded), " %s ", flag);
	return strstr(flags, padded) != NULL;
}

/* Every buffer lives in a locked (as root: RLIMIT_MEMLOCK does not apply), never-dumped
 * mapping with a PROT_NONE guard page on either side. */
static void arena_is_locked_undumped_and_guarded(void **state)
{
	struct sfs_secret s, big;
	struct vma v;
	(void)state;

	if (SFS_SECURE_MEM_MALLOC)
		skip();
	assert_int_equal(sfs_secret_from(&s, "k", 1, NULL), 0);
	assert_true(find_vma(s.data, &v));
	assert_string_equal(v.perms, "rw-p");
	assert_true(has_flag(v.flags, "dd"));
	if (geteuid() == 0) {
		assert_true(has_flag(v.flags, "lo"));
		assert_true(v.locked_kb > 0);
	}
	/* Walk to the ends of the arena mapping: a guard on each side. */
	while (strcmp(v.prev_perms, "---p") != 0) {
		assert_true(v.prev_perms[0] != '\0'); /* adjacent, not a hole */
		assert_true(find_vma((const void *)(v.start - 1), &v));
	}
	assert_true(find_vma(s.data, &v));
	while (strcmp(v.next_perms, "---p") != 0) {
		assert_true(v.next_perms[0] != '\0');
		assert_true(find_vma((const void *)v.end, &v));
	}
	/* A buffer larger than a whole chunk gets a mapping of its own, guarded alike, and its
	 * data ends right before the guard. */
	assert_int_equal(sfs_secret_alloc(&big, 300000, NULL), 0);
	memset(big.data, 0x5a, big.cap);
	assert_true(find_vma(big.data + big.cap - 1, &v));
	assert_true(has_flag(v.flags, "dd"));
	assert_true((unsigned long)(big.data + big.cap) + 16 > v.end);
	assert_string_equal(v.next_perms, "---p");
	sfs_secret_free(&big);
	sfs_secret_free(&s);
}

/* Freed bytes are zero before the pages are handed out again (the arena keeps them mapped,
 * so the old address can be read back here). */
static void arena_wipes_on_free(void **state)
{
	struct sfs_secret s;
	volatile unsigned char *old;
	unsigned char zero[200] = {0};
	(void)state;

	if (SFS_SECURE_MEM_MALLOC)
		skip();
	assert_int_equal(sfs_secret_alloc(&s, sizeof(zero), NULL), 0);
	memset(s.data, 0xab, sizeof(zero));
	old = s.data;
	sfs_secret_readonly(&s); /* a read-only buffer is wiped too */
	sfs_secret_free(&s);
	assert_memory_equal((const void *)old, zero, sizeof(zero));
}

/* Read-only protection covers the buffer's own pages only: its neighbours stay writable, and
 * the pages come back writable for the next allocation. */
static void readonly_is_per_buffer(void **state)
{
	struct sfs_secret a, b, c, again;
	int status;
	pid_t pid;
	(void)state;

	assert_int_equal(sfs_secret_from(&a, "aaaa", 4, NULL), 0);
	assert_int_equal(sfs_secret_from(&b, "bbbb", 4, NULL), 0);
	assert_int_equal(sfs_secret_from(&c, "cccc", 4, NULL), 0);
	sfs_secret_readonly(&b);
	a.data[0] = 'A';
	c.data[3] = 'C';
	assert_memory_equal(a.data, "Aaaa", 4);
	assert_memory_equal(c.data, "cccC", 4);
	if (!SFS_SECURE_MEM_MALLOC) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			signal(SIGSEGV, SIG_DFL);
			((volatile unsigned char *)b.data)[3] = 'x';
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	}
	sfs_secret_free(&b);
	assert_int_equal(sfs_secret_alloc(&again, 4, NULL), 0);
	memcpy(again.data, "new!", 4); /* faults if the freed read-only pages came back */
	assert_memory_equal(again.data, "new!", 4);
	sfs_secret_free(&again);
	sfs_secret_free(&a);
	sfs_secret_free(&c);
}

/* Many live buffers at once (more than one chunk holds), then all freed, released, and the
 * arena works again. */
static void arena_grows_and_releases(void **state)
{
	struct sfs_secret s[100];
	char want[32];
	(void)state;

	for (int i = 0; i < 100; i++) {
		snprintf(want, sizeof(want), "secret %d", i);
		assert_int_equal(sfs_secret_from(&s[i], want, strlen(want) + 1, NULL), 0);
		if (i % 3 == 0)
			sfs_secret_readonly(&s[i]);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(want, sizeof(want), "secret %d", i);
		assert_string_equal((const char *)s[i].data, want);
	}
	sfs_secure_cache_release(); /* live buffers stay */
	for (int i = 0; i < 100; i += 2)
		sfs_secret_free(&s[i]);
	for (int i = 1; i < 100; i += 2)
		assert_true(s[i].data[0] == 's');
	for (int i = 1; i < 100; i += 2)
		sfs_secret_free(&s[i]);
	sfs_secure_cache_release();
	assert_int_equal(sfs_secret_from(&s[0], "after", 6, NULL), 0);
	assert_string_equal((const char *)s[0].data, "after");
	sfs_secret_free(&s[0]);
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
	    cmocka_unit_test(arena_is_locked_undumped_and_guarded),
	    cmocka_unit_test(arena_wipes_on_free),
	    cmocka_unit_test(readonly_is_per_buffer),
	    cmocka_unit_test(arena_grows_and_releases),
	};

	if (sfs_init(NULL) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
