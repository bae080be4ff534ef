/* The stand-in service of the startup benchmark: prints CLOCK_MONOTONIC (ns) as its very first
 * action, so the launcher's cost is the difference from the moment it was exec'd. Statically
 * linked, so its own loading is tiny and the same under every launcher. With "sleep" it then
 * waits for a signal (for the idle measurements). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ts;
	char line[32];
	int n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(line, sizeof(line), "%lld\n",
		     (long long)ts.tv_sec * 1000000000LL + (long long)ts.tv_nsec);
	if (write(STDOUT_FILENO, line, (size_t)n) != n)
		return 1;
	if (argc > 1 && strcmp(argv[1], "sleep") == 0)
		for (;;)
			pause();
	return 0;
}
