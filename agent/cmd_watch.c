/* Placeholder until the watch command is built. */
#include <stdio.h>

#include "commands.h"
#include "exit_codes.h"

int cmd_watch(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "secret-agent: 'watch' is not available yet\n");
	return EXIT_SOFTWARE;
}
