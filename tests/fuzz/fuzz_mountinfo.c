/* libFuzzer harness: /proc/self/mountinfo content, as rotation reads it to tell a subPath
 * bind mount (a source that never rotates) from a file in a Secret volume. The first line of
 * the input is the path asked about, the rest is the mountinfo file.
 *
 * Invariants, beyond no crash/leak/UB:
 *   1. Escaping round trip: a path written into the mount point field the way the kernel
 *      escapes it (space, tab, newline and backslash as \ooo) unescapes to the same path.
 *   2. Whatever precedes it, a line whose mount point is the asked path makes that path a
 *      mount point.
 */
#include "agent_entry.h"
#include "fuzz_util.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The kernel's show_mountinfo escaping (seq_path with " \t\n\\"). */
static void escape(const char *in, char *out)
{
	for (; *in; in++) {
		if (strchr(" \t\n\\", *in)) {
			sprintf(out, "\\%03o", (unsigned char)*in);
			out += 4;
		} else {
			*out++ = *in;
		}
	}
	*out = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t path_len = nl ? (size_t)(nl - data) : size;
	size_t rest = nl ? size - path_len - 1 : 0;
	char path[PATH_MAX], escaped[PATH_MAX * 4 + 1], *text;
	const char *file;
	bool is_mount;
	int n;

	if (path_len == 0 || path_len >= sizeof(path) - 1 || memchr(data, '\0', path_len))
		return 0;
	/* Absolute, as rotation asks. */
	path[0] = '/';
	memcpy(path + (data[0] != '/'), data, path_len);
	path[path_len + (data[0] != '/')] = '\0';

	/* The mountinfo text as given, for no crash on anything. */
	file = fuzz_write_file("mountinfo", nl ? nl + 1 : data, rest);
	fuzz_is_mount_point(file, path, &is_mount);

	escape(path, escaped);
	{
		char copy[sizeof(escaped)];

		memcpy(copy, escaped, strlen(escaped) + 1);
		fuzz_mountinfo_unescape(copy);
		if (strcmp(copy, path) != 0)
			abort(); /* invariant 1 */
	}
	text = malloc(rest + strlen(escaped) + 128);
	if (!text)
		abort();
	memcpy(text, nl ? nl + 1 : data, rest);
	n = sprintf(text + rest, "\n36 35 98:0 / %s rw,relatime shared:1 - ext4 /dev/vda1 rw\n",
		    escaped);
	file = fuzz_write_file("mountinfo", text, rest + (size_t)n);
	if (fuzz_is_mount_point(file, path, &is_mount) < 0 || !is_mount)
		abort(); /* invariant 2 */
	free(text);
	return 0;
}
