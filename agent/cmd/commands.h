/* Subcommands. Each takes argc/argv after the subcommand name (argv[0] is the subcommand) and
 * returns the exit status when it finished (0, or the service child's status for run), or a
 * negative errno with `err` filled: main reports that error once and exits with its failure
 * class's status. Each has a usage printer, which main also prints after a usage error. */
#ifndef AGENT_COMMANDS_H
#define AGENT_COMMANDS_H

#include "base/error.h"

#include <stdbool.h>
#include <stdio.h>

int cmd_run(int argc, char **argv, struct agent_error *err);
int cmd_materialize(int argc, char **argv, struct agent_error *err);
int cmd_watch(int argc, char **argv, struct agent_error *err);
int cmd_validate(int argc, char **argv, struct agent_error *err);
int cmd_check_config(int argc, char **argv, struct agent_error *err);
int cmd_status(int argc, char **argv, struct agent_error *err);

void cmd_run_usage(FILE *out);
void cmd_materialize_usage(FILE *out);
void cmd_watch_usage(FILE *out);
void cmd_validate_usage(FILE *out);
void cmd_check_config_usage(FILE *out);
void cmd_status_usage(FILE *out);

/* `status --json`'s document for a /metrics body (`text` is consumed by the reading) and the
 * readiness /readyz gave: *json malloc'ed. Returns 0 or -ENOMEM. For the fuzz harness. */
int cmd_status_metrics_json(char *text, bool ready, char **json);

#endif
