#include "openssl_setup.h"

#include "secret_fs/validate.h"

#include <errno.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* OpenSSL frees many buffers that held key material without clearing them: the PKCS#8 decoder
 * behind EVP_PKCS82PKEY frees the DER of an EC private key and the octet string with its
 * scalar as they are, and glibc leaves freed heap as it was (a scan of the process found the
 * scalar in [heap] long after validation). Its secure heap (CRYPTO_secure_malloc_init) does not
 * help there: only some BIGNUMs are allocated from it, those copies come from the ordinary
 * OPENSSL_malloc. So every block OpenSSL gives back is wiped before it reaches free(): the
 * block's usable size is known to the allocator, no header is needed. A few microseconds per
 * validation; nothing is locked, so RLIMIT_MEMLOCK does not matter. */

static bool heap_wiped;
static unsigned long allocations;

static void *wiping_malloc(size_t num, const char *file, int line)
{
	(void)file;
	(void)line;
	allocations++;
	return malloc(num);
}

static void wiping_free(void *ptr, const char *file, int line)
{
	(void)file;
	(void)line;
	if (!ptr)
		return;
	explicit_bzero(ptr, malloc_usable_size(ptr));
	free(ptr);
}

/* Never realloc in place: the old block would be freed (or shrunk) uncleared. */
static void *wiping_realloc(void *ptr, size_t num, const char *file, int line)
{
	size_t old;
	void *p;

	if (!ptr)
		return wiping_malloc(num, file, line);
	allocations++;
	if (num == 0) {
		wiping_free(ptr, file, line);
		return NULL;
	}
	p = malloc(num);
	if (!p)
		return NULL;
	old = malloc_usable_size(ptr);
	memcpy(p, ptr, old < num ? old : num);
	wiping_free(ptr, file, line);
	return p;
}

/* OpenSSL accepts other memory functions only before its first allocation, so this runs before
 * main(). When something allocated earlier (the call then fails), OpenSSL keeps its own
 * functions and sfs_openssl_heap_wiped() says so. */
__attribute__((constructor)) static void install_wiping_heap(void)
{
	heap_wiped = CRYPTO_set_mem_functions(wiping_malloc, wiping_realloc, wiping_free) == 1;
}

bool sfs_openssl_heap_wiped(void)
{
	return heap_wiped;
}

unsigned long sfs_openssl_allocations(void)
{
	return allocations;
}

static bool started;

int sfs_openssl_ready(struct sfs_error *err)
{
	if (started)
		return 0;
	/* openssl.cnf is never read: reading and applying it cost a third of OpenSSL's start-up,
	 * and whatever a host's or an image's config file says (other providers, engines, a
	 * different default property query, security level) must not change which keys and
	 * certificates this library accepts. Nothing here encrypts or decrypts, and no message
	 * quotes OpenSSL's error strings: loading the legacy cipher table (which every first
	 * algorithm fetch then copies into the name map) and the strings is start-up time spent
	 * for nothing. The first call's options win for the process, so this must run before any
	 * other OpenSSL call (any of them starts OpenSSL with the defaults). */
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
				    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
				NULL) != 1)
		return sfs_error_set(err, -EIO, "cannot initialise OpenSSL");
	started = true;
	return 0;
}

bool sfs_openssl_started(void)
{
	return started;
}
