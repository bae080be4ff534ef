/* secret-agent: materializes secrets, drops privileges and supervises the service as PID 1.
 * This file dispatches to the subcommands (commands.h) and is the one place that turns a
 * command's failure into a report and an exit status. */
#include "base/error.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "cmd/commands.h"

#include <stdio.h>
#include <string.h>

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv, struct agent_error *err);
	void (*usage)(FILE *out);
	const char *synopsis;
};

static const struct subcommand subcommands[] = {
    {"run", cmd_run, cmd_run_usage, "run [--config FILE] [OPTIONS] -- COMMAND [ARG...]"},
    {"materialize", cmd_materialize, cmd_materialize_usage,
     "materialize [--config FILE] [OPTIONS]"},
    {"watch", cmd_watch, cmd_watch_usage, "watch [--config FILE] [OPTIONS] --notify-pidfile FILE"},
    {"validate", cmd_validate, cmd_validate_usage,
     "validate [--type auto|ed25519|x509|tls-cert|tls-key] [--domain TAG] [--key-id ID]\n"
     "                      [--cert SOURCE] [--ca SOURCE] [--warn-days N] [--json] SOURCE..."},
    {"check-config", cmd_check_config, cmd_check_config_usage, "check-config --config FILE"},
    {"status", cmd_status, cmd_status_usage,
     "status [--status-listen ADDR | --config FILE] [--json]"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: secret-agent COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  secret-agent %s\n", subcommands[i].synopsis);
	fprintf(out,
		"  secret-agent --help | --version\n\n"
		"Each command has --help. SOURCE is env:NAME, file:PATH, cred:NAME or - (stdin).\n"
		"See secret-agent(1).\n");
}

/* Reports a failed command once: as a log event when it has one (the log is set up by then),
 * else as one plain line on stderr, followed by the command's usage for a usage error. */
static void report(const struct subcommand *sub, const struct agent_error *err)
{
	if (err->reported)
		return;
	if (err->event) {
		log_event(LOG_ERROR, err->event, NULL, NULL, "%s", err->msg);
		return;
	}
	fprintf(stderr, "secret-agent: %s: %s\n", sub->name, err->msg);
	if (err->show_usage) {
		fputc('\n', stderr);
		sub->usage(stderr);
	}
}

static int run_subcommand(const struct subcommand *sub, int argc, char **argv)
{
	struct agent_error err = {.failure = AGENT_FAIL_SOFTWARE};
	int r = sub->fn(argc, argv, &err);

	if (r >= 0)
		return r;
	report(sub, &err);
	return agent_exit_code(err.failure);
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
			return run_subcommand(&subcommands[i], argc - 1, argv + 1);
	fprintf(stderr, "secret-agent: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
