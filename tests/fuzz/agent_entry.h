/* The only door from the fuzz harnesses into the agent: one small function per parser, so a
 * rename in the agent is a one-line change here and none in the harnesses. Every function
 * returns 0 on success or a negative value, with a message in `msg` where there is one. */
#ifndef FUZZ_AGENT_ENTRY_H
#define FUZZ_AGENT_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Loads the INI file at `path`, runs the final checks and prints the check-config plan to
 * `plan`. */
int fuzz_config_plan(const char *path, FILE *plan, char *msg, size_t msgsize);

/* Parses the command-line flags argv[0..argc) (as after the subcommand; --config must not
 * appear), runs the final checks and prints the plan. *consumed is where parsing stopped. */
int fuzz_flags_plan(int argc, char **argv, bool allow_notify_pidfile, int *consumed, FILE *plan,
		    char *msg, size_t msgsize);

/* Splits a wait_tcp (commas = false) or wait_any_tcp (commas = true) value into the list the
 * config stores, calling `each` per item. */
int fuzz_tcp_list(const char *value, bool commas, void (*each)(const char *item, void *ctx),
		  void *ctx);

/* Parses one TCP address; host (256 bytes) and port (8 bytes) receive its parts. */
int fuzz_tcp_address(const char *spec, char *host, char *port, char *msg, size_t msgsize);

/* Reads a pid from a pidfile as the notifier does. */
int fuzz_read_pidfile(const char *path, pid_t *pid);

/* Whether `path` is a mount point listed in the mountinfo file `mountinfo_path` (NULL: this
 * process's), and the in-place unescaping of a mountinfo path field. */
int fuzz_is_mount_point(const char *mountinfo_path, const char *path, bool *is_mount);
void fuzz_mountinfo_unescape(char *field);

/* Rotation's view of a file: source: the path it watches and reads (`path`, PATH_MAX bytes),
 * whether it would be reported as a bind mount, and a watcher on its directory whose events
 * are collected with fuzz_watch_collect. */
struct fuzz_watch;
int fuzz_source_path(const char *spec, char *path, size_t pathsize, char *msg, size_t msgsize);
int fuzz_watch_start(struct fuzz_watch **out, const char *path);
bool fuzz_watch_collect(struct fuzz_watch *w);
size_t fuzz_watch_armed(const struct fuzz_watch *w);
void fuzz_watch_stop(struct fuzz_watch *w);

#endif
