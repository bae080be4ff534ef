/* Subcommands. Each takes argc/argv after the subcommand name (argv[0] is the subcommand) and
 * returns the process exit code. */
#ifndef AGENT_COMMANDS_H
#define AGENT_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_materialize(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_status(int argc, char **argv);

/* Process-wide hardening every command starts with: umask 077, soft RLIMIT_CORE 0,
 * PR_SET_DUMPABLE 0, libsodium initialised. Returns 0 or an exit code. */
int agent_process_setup(void);

#endif
