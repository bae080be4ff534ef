/* Placeholder until the validate command is built. */
#include <stdio.h>

#include "commands.h"
#include "exit_codes.h"

int cmd_validate(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "secret-agent: 'validate' is not available yet\n");
	return EXIT_SOFTWARE;
}
