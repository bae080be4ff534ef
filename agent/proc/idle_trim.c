#include "proc/idle_trim.h"

#include "secret_fs/secure_mem.h"

#include <elf.h>
#include <link.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A library with text relocations has written to its read-only segments: those pages are
 * private copies now and dropping them would undo the relocations. */
static bool has_text_relocations(const struct dl_phdr_info *info)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const ElfW(Dyn) * dyn;

		if (ph->p_type != PT_DYNAMIC)
			continue;
		dyn = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
		for (; dyn->d_tag != DT_NULL; dyn++)
			if (dyn->d_tag == DT_TEXTREL ||
			    (dyn->d_tag == DT_FLAGS && (dyn->d_un.d_val & DF_TEXTREL)))
				return true;
	}
	return false;
}

/* More segments than the agent's program and libraries have; the rest are left alone. */
#define MAX_RANGES 128

struct ranges {
	uintptr_t page;
	size_t n;
	struct {
		uintptr_t start, end;
	} r[MAX_RANGES];
};

static int collect_object(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct ranges *out = ctx;

	(void)size;
	/* The vDSO is the kernel's, not a file mapping. */
	if (info->dlpi_name && strstr(info->dlpi_name, "vdso"))
		return 0;
	if (has_text_relocations(info))
		return 0;
	for (int i = 0; i < info->dlpi_phnum && out->n < MAX_RANGES; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t first = info->dlpi_addr + ph->p_vaddr;

		/* Writable segments hold relocated data (and RELRO lives inside them). */
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) || ph->p_memsz == 0)
			continue;
		out->r[out->n].start = first & ~(out->page - 1);
		out->r[out->n].end = (first + ph->p_memsz + out->page - 1) & ~(out->page - 1);
		out->n++;
	}
	return 0;
}

size_t idle_trim_memory(void)
{
	struct ranges ranges = {.page = (uintptr_t)sysconf(_SC_PAGESIZE)};
	size_t released_kib = 0;

	/* The secure buffers kept from startup would stay resident (and locked) while idle; a
	 * rotation that comes later builds the cache again. */
	sfs_secure_cache_release();
	malloc_trim(0);
	dl_iterate_phdr(collect_object, &ranges);
	/* All in one tight loop at the end, so no code runs in between that would fault back
	 * what was just dropped. */
	for (size_t i = 0; i < ranges.n; i++)
		if (madvise((void *)ranges.r[i].start, ranges.r[i].end - ranges.r[i].start,
			    MADV_DONTNEED) == 0)
			released_kib += (ranges.r[i].end - ranges.r[i].start) / 1024;
	return released_kib;
}
