#include "idle_trim.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* More mappings than any agent has; the rest are simply left alone. */
#define MAX_RELEASABLE 256

struct mapping {
	unsigned long start, end;
	bool candidate; /* file-backed, not writable */
	long anonymous_kib;
};

struct range {
	unsigned long start, end;
};

/* Only a mapping without a single private (copied-on-write) page can be dropped: zapping
 * such a page would throw away what was written to it, e.g. relocated pointers. */
static void keep_if_releasable(const struct mapping *m, struct range *out, size_t *n)
{
	if (!m->candidate || m->anonymous_kib != 0 || m->end <= m->start || *n >= MAX_RELEASABLE)
		return;
	out[(*n)++] = (struct range){m->start, m->end};
}

size_t idle_trim_memory(void)
{
	struct range ranges[MAX_RELEASABLE];
	struct mapping cur = {0};
	char line[512];
	size_t n = 0, released = 0;
	FILE *f;

	malloc_trim(0);
	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		char perms[8], path[256] = "";
		long kib;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &start, &end, perms, path) >= 3) {
			keep_if_releasable(&cur, ranges, &n);
			cur = (struct mapping){.start = start,
					       .end = end,
					       .candidate = path[0] == '/' && perms[1] != 'w',
					       .anonymous_kib = -1};
		} else if (sscanf(line, "Anonymous: %ld kB", &kib) == 1) {
			cur.anonymous_kib = kib;
		}
	}
	keep_if_releasable(&cur, ranges, &n);
	fclose(f);
	/* All at the end, so the parsing above does not fault back in what was just dropped. */
	for (size_t i = 0; i < n; i++)
		if (madvise((void *)ranges[i].start, ranges[i].end - ranges[i].start,
			    MADV_DONTNEED) == 0)
			released += (ranges[i].end - ranges[i].start) / 1024;
	return released;
}
