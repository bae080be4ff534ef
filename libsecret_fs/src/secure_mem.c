#include "secret_fs/secure_mem.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if SFS_SECURE_MEM_MALLOC
/* The sanitizer backend (asan and fuzz builds only; CMake refuses it elsewhere): plain
 * malloc/free with the same API. The arena below puts a buffer's end against its page's end
 * and hands freed pages out again unpoisoned, so AddressSanitizer could see neither a small
 * overrun at the front, an under-read, nor a use after free. Here every buffer
 * has ASan's redzones on both sides, is wiped and then really freed (ASan poisons it and keeps
 * it in quarantine), and nothing is reused. Read-only protection needs whole pages and is not
 * applied: the arena backend and its tests enforce it. */
#if defined(__has_feature)
#if !__has_feature(address_sanitizer)
#error "SFS_SECURE_MEM_MALLOC is for AddressSanitizer builds only"
#endif
#elif !defined(__SANITIZE_ADDRESS__)
#error "SFS_SECURE_MEM_MALLOC is for AddressSanitizer builds only"
#endif
#endif

/* The arena backend (every other build).
 *
 * A sodium_malloc buffer is its own mapping: mmap, mprotect of both guard pages, mlock and
 * madvise to allocate, as many again to free, and one more mprotect per canary check: an
 * Ed25519 rotation made about 66 system calls for its ten buffers. Secrets are carved instead
 * out of a few chunks, each one mapping laid out as
 *
 *	[guard page][page][page]...[page][guard page]
 *
 * mapped once, made readable and writable between its guards (the guards stay PROT_NONE),
 * mlock'ed (where RLIMIT_MEMLOCK allows, like sodium_malloc) and MADV_DONTDUMP. An
 * allocation takes whole pages, so that sfs_secret_readonly can protect exactly its own pages
 * and nobody else's; its data ends on its last page's end (16-byte aligned), so an overrun that
 * does not meet a neighbour's page meets a guard. Freeing wipes the data, makes the pages
 * writable again if they were read-only, and returns them to the chunk; nothing is unmapped
 * until sfs_secure_cache_release finds a chunk empty. Allocating and freeing a writable
 * secret thus costs no system call, a read-only one two mprotect. */
#define CHUNK_MIN_PAGES 16 /* 64 KiB locked: the startup of ten secrets fits in one */
#define MAX_CHUNKS	64

/* Per page of a chunk: 0 = free, otherwise the page belongs to an allocation; the first page
 * of an allocation carries its length in pages and whether it is read-only. */
struct page_state {
	uint32_t span; /* pages of the allocation starting here; 0 on the other pages */
	bool used;
	bool readonly;
};

struct chunk {
	unsigned char *base; /* first usable page (the mapping starts one guard page before) */
	size_t npages;
	size_t nused;
	struct page_state *pages;
};

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static struct chunk chunks[MAX_CHUNKS];
static size_t nchunks;
static size_t page_size;

int sfs_init(struct sfs_error *err)
{
	/* sodium_init returns 1 when already initialised: that is success too. OpenSSL is not
	 * touched here: the library starts it on its first need (certificates, TLS pairs, the
	 * Ed25519 cross-check), so a run without those never pays for it. */
	if (sodium_init() < 0)
		return sfs_error_set(err, -EIO, "cannot initialise libsodium");
	return 0;
}

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

static void chunk_unmap(struct chunk *c)
{
	size_t len = c->npages * page_size;

	munlock(c->base, len);
	munmap(c->base - page_size, len + 2 * page_size);
	free(c->pages);
	*c = (struct chunk){0};
}

static struct chunk *chunk_map(size_t npages)
{
	struct chunk *c;
	unsigned char *map;
	size_t len;

	if (nchunks == MAX_CHUNKS || npages > SIZE_MAX / page_size - 2)
		return NULL;
	len = npages * page_size;
	/* All of it inaccessible, then the inside opened: the guards need no call of their own. */
	map = mmap(NULL, len + 2 * page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	c = &chunks[nchunks];
	c->base = map + page_size;
	c->npages = npages;
	c->nused = 0;
	c->pages = calloc(npages, sizeof(*c->pages));
	if (!c->pages || mprotect(c->base, len, PROT_READ | PROT_WRITE) < 0) {
		free(c->pages);
		munmap(map, len + 2 * page_size);
		*c = (struct chunk){0};
		return NULL;
	}
	/* Locked where RLIMIT_MEMLOCK allows (a failure is not fatal, as with sodium_malloc);
	 * never in a core dump either way. MLOCK_ONFAULT locks each page as it is first touched
	 * instead of faulting all of them in now: a start with a few secrets touches 3 of the 16
	 * pages, and each fault costs microseconds under virtualization. A page is locked before
	 * any byte lands in it either way. Kernels before 4.4 get the plain mlock. */
	if (mlock2(c->base, len, MLOCK_ONFAULT) < 0)
		(void)mlock(c->base, len);
#ifdef MADV_DONTDUMP
	(void)madvise(c->base, len, MADV_DONTDUMP);
#endif
	nchunks++;
	return c;
}

/* First fit of `span` free pages in `c`; returns the first page's index or SIZE_MAX. */
static size_t chunk_find(const struct chunk *c, size_t span)
{
	size_t run = 0;

	if (c->npages - c->nused < span)
		return SIZE_MAX;
	for (size_t i = 0; i < c->npages; i++) {
		if (c->pages[i].used) {
			i += c->pages[i].span - 1; /* skip the whole allocation */
			run = 0;
			continue;
		}
		if (++run == span)
			return i + 1 - span;
	}
	return SIZE_MAX;
}

static unsigned char *arena_alloc(size_t cap)
{
	size_t need, span, at = SIZE_MAX;
	struct chunk *c = NULL;
	unsigned char *p = NULL;

	pthread_mutex_lock(&arena_lock);
	if (!page_size)
		page_size = (size_t)sysconf(_SC_PAGESIZE);
	need = round_up(cap, 16);
	if (need < cap || need > SIZE_MAX - page_size)
		goto out;
	span = round_up(need, page_size) / page_size;
	for (size_t i = 0; i < nchunks && at == SIZE_MAX; i++) {
		at = chunk_find(&chunks[i], span);
		c = &chunks[i];
	}
	if (at == SIZE_MAX) {
		c = chunk_map(span > CHUNK_MIN_PAGES ? span : CHUNK_MIN_PAGES);
		if (!c)
			goto out;
		at = 0;
	}
	for (size_t i = 0; i < span; i++)
		c->pages[at + i] = (struct page_state){.used = true};
	c->pages[at].span = (uint32_t)span;
	c->nused += span;
	p = c->base + (at + span) * page_size - need;
out:
	pthread_mutex_unlock(&arena_lock);
	return p;
}

/* The chunk and first page of the allocation that holds `data`; false when it is none of
 * the arena's (a caller's bug: the buffer is then left alone). Called with the lock held. */
static bool arena_find(const unsigned char *data, struct chunk **ret_chunk, size_t *ret_page)
{
	for (size_t i = 0; i < nchunks; i++) {
		struct chunk *c = &chunks[i];
		size_t page;

		if (data < c->base || data >= c->base + c->npages * page_size)
			continue;
		page = (size_t)(data - c->base) / page_size;
		while (page > 0 && c->pages[page].used && c->pages[page].span == 0)
			page--;
		if (!c->pages[page].used)
			return false;
		*ret_chunk = c;
		*ret_page = page;
		return true;
	}
	return false;
}

static void arena_protect(const unsigned char *data, bool readonly)
{
	struct chunk *c;
	size_t page;

	pthread_mutex_lock(&arena_lock);
	if (arena_find(data, &c, &page) && c->pages[page].readonly != readonly &&
	    mprotect(c->base + page * page_size, c->pages[page].span * page_size,
		     readonly ? PROT_READ : PROT_READ | PROT_WRITE) == 0)
		c->pages[page].readonly = readonly;
	pthread_mutex_unlock(&arena_lock);
}

static void arena_free(unsigned char *data)
{
	struct chunk *c;
	size_t page, span;

	pthread_mutex_lock(&arena_lock);
	if (!arena_find(data, &c, &page))
		goto out;
	span = c->pages[page].span;
	/* Pages that cannot be made writable again are not wiped nor reused: they stay taken
	 * (read-only and locked) rather than fault here. */
	if (c->pages[page].readonly &&
	    mprotect(c->base + page * page_size, span * page_size, PROT_READ | PROT_WRITE) < 0)
		goto out;
	/* The whole span, not only the data: whatever an overrun wrote goes too. */
	sodium_memzero(c->base + page * page_size, span * page_size);
	for (size_t i = 0; i < span; i++)
		c->pages[page + i] = (struct page_state){0};
	c->nused -= span;
out:
	pthread_mutex_unlock(&arena_lock);
}

void sfs_secure_cache_release(void)
{
	if (SFS_SECURE_MEM_MALLOC)
		return; /* nothing is kept */
	pthread_mutex_lock(&arena_lock);
	for (size_t i = nchunks; i-- > 0;) {
		if (chunks[i].nused > 0)
			continue;
		chunk_unmap(&chunks[i]);
		chunks[i] = chunks[--nchunks];
		chunks[nchunks] = (struct chunk){0};
	}
	pthread_mutex_unlock(&arena_lock);
}

int sfs_secret_alloc(struct sfs_secret *s, size_t cap, struct sfs_error *err)
{
	s->data = NULL;
	s->len = 0;
	s->cap = 0;
	if (cap == 0)
		cap = 1;
	if (SFS_SECURE_MEM_MALLOC)
		s->data = malloc(cap);
	else
		s->data = arena_alloc(cap);
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
	} else {
		arena_free(s->data);
	}
	s->data = NULL;
	s->len = 0;
	s->cap = 0;
}

void sfs_secret_readonly(struct sfs_secret *s)
{
	if (s && s->data && !SFS_SECURE_MEM_MALLOC)
		arena_protect(s->data, true);
}

void sfs_secret_readwrite(struct sfs_secret *s)
{
	if (s && s->data && !SFS_SECURE_MEM_MALLOC)
		arena_protect(s->data, false);
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
