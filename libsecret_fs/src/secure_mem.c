#include "secret_fs/secure_mem.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

int sfs_init(struct sfs_error *err)
{
	/* sodium_init returns 1 when already initialised: that is success too. */
	if (sodium_init() < 0)
		return sfs_error_set(err, -EIO, "cannot initialise libsodium");
	return 0;
}

int sfs_secret_alloc(struct sfs_secret *s, size_t cap, struct sfs_error *err)
{
	s->data = NULL;
	s->len = 0;
	s->cap = 0;
	if (cap == 0)
		cap = 1;
	s->data = sodium_malloc(cap);
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
	/* sodium_free wipes the whole allocation before releasing it, even a read-only one. */
	sodium_free(s->data);
	s->data = NULL;
	s->len = 0;
	s->cap = 0;
}

void sfs_secret_readonly(struct sfs_secret *s)
{
	if (s && s->data)
		sodium_mprotect_readonly(s->data);
}

void sfs_secret_readwrite(struct sfs_secret *s)
{
	if (s && s->data)
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
