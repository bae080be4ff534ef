/* libFuzzer harness: pidfile content, read as the notifier reads it before signalling (watch
 * --notify-pidfile). The input is the file.
 *
 * Invariant, beyond no crash/leak/UB: a pid is accepted only when the whole file is optional
 * whitespace, a decimal number, optional whitespace, and the number is a pid that addresses
 * one process other than ourselves (1..INT_MAX, not getpid()); the pid is that number. And
 * such a file is accepted when it is shorter than the notifier's read (31 bytes). */
#include "agent_entry.h"
#include "fuzz_util.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The number the whole content spells, or -1. */
static long long expected_pid(const uint8_t *data, size_t size)
{
	size_t i = 0;
	long long v = 0;
	size_t digits = 0;

	while (i < size && isspace(data[i]))
		i++;
	if (i < size && data[i] == '+')
		i++;
	for (; i < size && isdigit(data[i]); i++, digits++)
		if ((v = v * 10 + (data[i] - '0')) > INT_MAX)
			return -1;
	while (i < size &&
	       (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
		i++;
	if (digits == 0 || i != size || v <= 0 || v == getpid())
		return -1;
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write_file("service.pid", data, size);
	pid_t pid = -1;
	int r = fuzz_read_pidfile(path, &pid);
	long long want;

	want = expected_pid(data, size);

	if (r == 0 && pid != want) {
		fprintf(stderr, "pidfile accepted as pid %d, expected %lld\n", (int)pid, want);
		abort();
	}
	if (r < 0 && (pid != 0 || (want > 0 && size < 31)))
		abort();
	return 0;
}
