/* Placeholder until the check-config command is built. */
#include <stdio.h>

#include "commands.h"
#include "exit_codes.h"

int cmd_check_config(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "secret-agent: 'check-config' is not available yet\n");
	return EXIT_SOFTWARE;
}
