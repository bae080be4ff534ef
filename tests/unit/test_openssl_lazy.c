/* OpenSSL is started only by a secret that needs it: an Ed25519 key alone (the agent's most
 * common secret) and opaque secrets never start it, because starting it costs most of the
 * agent's start-up. The library routes every OpenSSL allocation through its own wiping
 * allocator, which counts them; initialising OpenSSL allocates, so a count of 0 proves that
 * nothing has started it. */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "openssl_setup.h"
#include "secret_fs/secure_mem.h"
#include "secret_fs/validate.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const unsigned char v1_prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
					    0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};

static bool openssl_untouched(void)
{
	assert_true(sfs_openssl_heap_wiped()); /* else the count means nothing */
	return sfs_openssl_allocations() == 0;
}

static void ed25519_pem(char *out, size_t size)
{
	unsigned char seed[32], pk[32], sk[64], der[48];
	char b64[128];

	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	memcpy(der, v1_prefix, 16);
	memcpy(der + 16, seed, 32);
	sodium_bin2base64(b64, sizeof(b64), der, sizeof(der), sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, size, "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n", b64);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(der, sizeof(der));
}

static int validate(enum sfs_secret_type type, const char *data, const char *domain)
{
	struct sfs_validate_req req = {.type = type,
				       .data = (const unsigned char *)data,
				       .len = strlen(data),
				       .domain = domain};
	struct sfs_validate_result res = {0};
	struct sfs_error err = {0};
	int r = sfs_validate(&req, &res, &err);

	sfs_validate_result_free(&res);
	return r;
}

/* sfs_init, Ed25519 keys (with and without a domain tag, and text that is no key) and opaque
 * secrets. (Refusing a DER that is not Ed25519 may start OpenSSL: naming the algorithm of a
 * foreign key is worth it on that error path.) */
static void ed25519_and_opaque_leave_openssl_alone(void **state)
{
	char pem[256];
	(void)state;

	assert_int_equal(sfs_init(NULL), 0);
	ed25519_pem(pem, sizeof(pem));
	assert_int_equal(validate(SFS_TYPE_ED25519, pem, NULL), 0);
	assert_int_equal(validate(SFS_TYPE_ED25519, pem, "svc.example/v1"), 0);
	assert_int_equal(validate(SFS_TYPE_ED25519, "not a key", NULL), -EINVAL);
	assert_int_equal(validate(SFS_TYPE_OPAQUE, "opaque bytes", NULL), 0);
	assert_true(openssl_untouched());
}

/* The probe can fail: initialising OpenSSL moves the count. In a child, so that the test
 * above keeps its clean process whatever the order. */
static void the_probe_sees_openssl_start(void **state)
{
	int status;
	pid_t pid;
	(void)state;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned long before = sfs_openssl_allocations();

		if (!sfs_openssl_heap_wiped())
			_exit(2);
		OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
		_exit(sfs_openssl_allocations() > before ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0); /* 2: not our allocator, 1: not seen */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ed25519_and_opaque_leave_openssl_alone),
	    cmocka_unit_test(the_probe_sees_openssl_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
