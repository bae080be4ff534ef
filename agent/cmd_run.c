/* Placeholder until the run command is built. */
#include <stdio.h>

#include "commands.h"
#include "exit_codes.h"

int cmd_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "secret-agent: 'run' is not available yet\n");
	return EXIT_SOFTWARE;
}
