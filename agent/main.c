/* secret-agent: materializes secrets, drops privileges and supervises the service as PID 1.
 * This file only dispatches to the subcommands (commands.h). */
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "base/exit_codes.h"

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
};

static const struct subcommand subcommands[] = {
	{"run", cmd_run, "run [--config FILE] [OPTIONS] -- COMMAND [ARG...]"},
	{"materialize", cmd_materialize, "materialize [--config FILE] [OPTIONS]"},
	{"watch", cmd_watch, "watch [--config FILE] [OPTIONS] --notify-pidfile FILE"},
	{"validate", cmd_validate,
	 "validate [--type auto|ed25519|x509|tls-cert|tls-key] [--domain TAG] [--key-id ID]\n"
	 "                      [--cert SOURCE] [--ca SOURCE] [--warn-days N] [--json] SOURCE..."},
	{"check-config", cmd_check_config, "check-config --config FILE"},
	{"status", cmd_status, "status [--status-listen ADDR | --config FILE] [--json]"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: secret-agent COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  secret-agent %s\n", subcommands[i].synopsis);
	fprintf(out, "  secret-agent --help | --version\n\n"
		     "Each command has --help. SOURCE is env:NAME, file:PATH, cred:NAME or - (stdin).\n"
		     "See secret-agent(1).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("secret-agent %s\n", SECRET_AGENT_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "secret-agent: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
