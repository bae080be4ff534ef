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

/* Whether `path` is a mount point listed in the mountinfo file `mountinfo_path` (NULL: the
 * live check rotation makes, statx then this process's mountinfo), and the in-place
 * unescaping of a mountinfo path field. */
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

/* The status listener as the agent runs it: an observer started on its own event loop with
 * status_listen 127.0.0.1:0 (the kernel picks the port) and `ready_file`. Secrets are declared
 * and written as ed25519 keys with `fingerprint`; `written` are the bytes the materializer
 * wrote (never looked at for that type). */
struct fuzz_status;
int fuzz_status_start(struct fuzz_status **out, const char *ready_file);
void fuzz_status_secret(struct fuzz_status *s, const char *name, const char *fingerprint,
			const void *written, size_t len);
void fuzz_status_set_ready(struct fuzz_status *s, bool ready);
unsigned short fuzz_status_port(const struct fuzz_status *s);
/* One turn of the agent's loop, waiting up to timeout_ms: ev_run_once's result. */
int fuzz_status_run_once(struct fuzz_status *s, int timeout_ms);
void fuzz_status_stop(struct fuzz_status *s);

/* The metrics registry (rendered for /metrics) and `secret-agent status`'s reading of it. */
struct fuzz_metrics;
int fuzz_metrics_new(struct fuzz_metrics **out, const char *version);
void fuzz_metrics_free(struct fuzz_metrics *m);
bool fuzz_secret_name_ok(const char *name);
int fuzz_metrics_declare(struct fuzz_metrics *m, const char *secret, const char *type);
/* One certificate: subject (NUL-terminated, at most 511 bytes) and notAfter. */
struct fuzz_cert {
	const char *subject;
	long long not_after;
};
int fuzz_metrics_written(struct fuzz_metrics *m, const char *secret, const char *type,
			 const char *fingerprint, const struct fuzz_cert *certs, size_t ncerts,
			 double when);
/* result: 0 applied, 1 rejected, 2 unchanged. */
int fuzz_metrics_rotation(struct fuzz_metrics *m, const char *secret, int result);
int fuzz_metrics_notification(struct fuzz_metrics *m, const char *action, bool ok);
void fuzz_metrics_misc(struct fuzz_metrics *m, bool ready, unsigned restarts, unsigned expiring,
		       unsigned expired);
int fuzz_metrics_render(const struct fuzz_metrics *m, char **text, size_t *len);
/* `secret-agent status --json`'s document for a /metrics body (`text` is consumed) and the
 * readiness /readyz gave; *json malloc'ed. */
int fuzz_status_metrics_json(char *text, bool ready, char **json);

#endif
