/* Placeholder until the materialize command is built. */
#include <stdio.h>

#include "commands.h"
#include "exit_codes.h"

int cmd_materialize(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "secret-agent: 'materialize' is not available yet\n");
	return EXIT_SOFTWARE;
}
