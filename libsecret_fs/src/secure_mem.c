#include "secret_fs/secure_mem.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#if SFS_SECURE_MEM_MALLOC
/* The sanitizer backend (asan and fuzz builds only; CMake refuses it elsewhere): plain
 * malloc/free with the same API. sodium_malloc puts a buffer's end against a guard page and
 * the cache below hands freed buffers out again unpoisoned, so AddressSanitizer could see
 * neither a small overrun at the front, an under-read, nor a use after free. Here every buffer
 * has ASan's redzones on both sides, is wiped and then really freed (ASan poisons it and keeps
 * it in quarantine), and nothing is reused. Read-only protection needs whole pages and is not
 * applied: the sodium backend and its tests enforce it. */
#if defined(__has_feature)
#if !__has_feature(address_sanitizer)
#error "SFS_SECURE_MEM_MALLOC is for AddressSanitizer builds only"
#endif
#elif !defined(__SANITIZE_ADDRESS__)
#error "SFS_SECURE_MEM_MALLOC is for AddressSanitizer builds only"
#endif
#endif

/* Every sodium_malloc costs mmap, mprotect for both guard pages, mlock and two madvise, and
 * every sodium_free as many again: about ten system calls per buffer, which dominated applying
 * a secret. A freed buffer is therefore wiped and kept for the next allocation of exactly the
 * same size (startup and every rotation ask for the same sizes again and again). It stays a
 * libsodium buffer: locked, between its guard pages, with its data ending at the guard as
 * before. Only small buffers are kept, and few of them, so little memory stays locked. */
#define CACHE_SLOTS	16
#define CACHE_MAX_BYTES 4000 /* one locked page each with libsodium's canary */
#define READONLY_SLOTS	16

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	unsigned char *data;
	size_t cap;
} cache[CACHE_SLOTS];
static size_t ncached;
/* Buffers made read-only are made writable again before they are wiped and kept (one
 * mprotect, still far fewer calls than a new mapping). Once more than READONLY_SLOTS were
 * read-only at the same time the set is unknown, and every kept buffer gets that mprotect. */
static unsigned char *readonly[READONLY_SLOTS];
static size_t nreadonly;
static bool readonly_overflow;

int sfs_init(struct sfs_error *err)
{
	/* sodium_init returns 1 when already initialised: that is success too. */
	if (sodium_init() < 0)
		return sfs_error_set(err, -EIO, "cannot initialise libsodium");
	/* openssl.cnf is never read: reading and applying it cost a third of OpenSSL's start-up,
	 * and whatever a host's or an image's config file says (other providers, engines, a
	 * different default property query, security level) must not change which keys and
	 * certificates this library accepts. Nothing here encrypts or decrypts, and no message
	 * quotes OpenSSL's error strings: loading the legacy cipher table (which every first
	 * algorithm fetch then copies into the name map) and the strings is start-up time spent
	 * for nothing. The first call's options win for the process. */
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
				    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
				NULL) != 1)
		return sfs_error_set(err, -EIO, "cannot initialise OpenSSL");
	return 0;
}

static unsigned char *take_cached(size_t cap)
{
	unsigned char *p = NULL;

	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < ncached; i++) {
		if (cache[i].cap != cap)
			continue;
		p = cache[i].data;
		cache[i] = cache[--ncached];
		break;
	}
	pthread_mutex_unlock(&cache_lock);
	return p;
}

static bool is_registered_readonly(const unsigned char *data)
{
	for (size_t i = 0; i < nreadonly; i++)
		if (readonly[i] == data)
			return true;
	return false;
}

/* True when the buffer was read-only (and forgets it), or when that cannot be known. */
static bool was_readonly(const unsigned char *data)
{
	for (size_t i = 0; i < nreadonly; i++) {
		if (readonly[i] != data)
			continue;
		readonly[i] = readonly[--nreadonly];
		return true;
	}
	return readonly_overflow;
}

/* Keeps a wiped buffer for reuse; false when it must go back to libsodium. */
static bool keep_cached(unsigned char *data, size_t cap)
{
	bool kept = false, read_only;

	pthread_mutex_lock(&cache_lock);
	read_only = was_readonly(data);
	if (cap <= CACHE_MAX_BYTES && ncached < CACHE_SLOTS &&
	    (!read_only || sodium_mprotect_readwrite(data) == 0)) {
		sodium_memzero(data, cap);
		cache[ncached].data = data;
		cache[ncached].cap = cap;
		ncached++;
		kept = true;
	}
	pthread_mutex_unlock(&cache_lock);
	return kept;
}

void sfs_secure_cache_release(void)
{
	if (SFS_SECURE_MEM_MALLOC)
		return; /* nothing is kept */
	pthread_mutex_lock(&cache_lock);
	while (ncached > 0)
		sodium_free(cache[--ncached].data);
	pthread_mutex_unlock(&cache_lock);
}

int sfs_secret_alloc(struct sfs_secret *s, size_t cap, struct sfs_error *err)
{
	s->data = NULL;
	s->len = 0;
	s->cap = 0;
	if (cap == 0)
		cap = 1;
	if (SFS_SECURE_MEM_MALLOC) {
		s->data = malloc(cap);
	} else {
		s->data = take_cached(cap);
		if (!s->data)
			s->data = sodium_malloc(cap);
	}
	if (!s->data)
		return sfs_error_set(err, -ENOMEM, "cannot allocate %zu bytes of secure memory",
				     cap);
	s->cap = cap;
	return 0;
}

int sfs_secret_from(struct sfs_secret *s, const void *data, size_t len, struct sfs_error *err)
{
	int r = sfs_secret_alloc(s, len, err);
	if (r < 0)
		return r;
	if (len)
		memcpy(s->data, data, len);
	s->len = len;
	return 0;
}

void sfs_secret_free(struct sfs_secret *s)
{
	if (!s || !s->data)
		return;
	if (SFS_SECURE_MEM_MALLOC) {
		sodium_memzero(s->data, s->cap);
		free(s->data);
	} else if (!keep_cached(s->data, s->cap)) {
		/* Either way the bytes are wiped: keep_cached wipes what it keeps, sodium_free
		 * wipes the whole allocation before releasing it, even a read-only one. */
		sodium_free(s->data);
	}
	s->data = NULL;
	s->len = 0;
	s->cap = 0;
}

void sfs_secret_readonly(struct sfs_secret *s)
{
	if (!s || !s->data || SFS_SECURE_MEM_MALLOC)
		return;
	pthread_mutex_lock(&cache_lock);
	if (!is_registered_readonly(s->data)) {
		if (nreadonly < READONLY_SLOTS)
			readonly[nreadonly++] = s->data;
		else
			readonly_overflow = true;
	}
	pthread_mutex_unlock(&cache_lock);
	sodium_mprotect_readonly(s->data);
}

void sfs_secret_readwrite(struct sfs_secret *s)
{
	if (s && s->data && !SFS_SECURE_MEM_MALLOC)
		sodium_mprotect_readwrite(s->data);
}

bool sfs_secret_equal(const struct sfs_secret *a, const struct sfs_secret *b)
{
	if (a->len != b->len)
		return false;
	if (a->len == 0)
		return true;
	return sodium_memcmp(a->data, b->data, a->len) == 0;
}

void sfs_hash(const void *data, size_t len, unsigned char out[32])
{
	crypto_hash_sha256(out, data, len);
}
