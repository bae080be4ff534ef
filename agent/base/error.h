/* The agent's one error convention (the systemd/crun way).
 *
 * A function that can fail returns 0 (or a non-negative result) on success, or a negative errno
 * and fills one `struct agent_error`: the errno, the failure class that decides the exit code,
 * and one sentence (never secret bytes). Nothing below a command decides an exit code: commands
 * return the error up, and `main` reports it once and maps its class to the exit code through
 * the one table in error.c (agent_exit_code). Out-parameters are untouched on failure.
 */
#ifndef AGENT_BASE_ERROR_H
#define AGENT_BASE_ERROR_H

#include "secret_fs/error.h"

#include <stdbool.h>

/* What kind of failure it is; agent_exit_code() turns it into the process exit status. */
enum agent_failure {
	AGENT_FAIL_SOFTWARE = 0, /* internal error, should not happen (70) */
	AGENT_FAIL_USAGE,	 /* bad command line (64) */
	AGENT_FAIL_INVALID,	 /* a secret failed validation (65) */
	AGENT_FAIL_UNAVAILABLE,	 /* preflight: directory missing, TCP unreachable (69) */
	AGENT_FAIL_CANTCREAT,	 /* cannot write a target (73) */
	AGENT_FAIL_NOPERM,	 /* permission denied, privilege drop failed (77) */
	AGENT_FAIL_CONFIG,	 /* configuration error, missing env var, unknown user (78) */
	AGENT_FAIL_NOEXEC,	 /* the command exists but cannot be executed (126) */
	AGENT_FAIL_NOTFOUND,	 /* the command does not exist (127) */
};

#define AGENT_ERROR_MAX 1024

struct agent_error {
	int code;		    /* the negative errno that was returned */
	enum agent_failure failure; /* decides the exit code */
	const char *event;	    /* log event to report it under (NULL: a plain stderr line) */
	bool reported;		    /* already logged where it happened: main only exits */
	bool show_usage;	    /* a usage error: main prints the command's usage after it */
	char msg[AGENT_ERROR_MAX];  /* one sentence, NUL-terminated, no trailing newline */
};

/* Fills `err` (when not NULL) and returns `code` (a negative errno; 0 becomes -EINVAL), so
 * callers write `return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL, "...", ...);`. */
int agent_error_set(struct agent_error *err, enum agent_failure failure, int code, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

/* As agent_error_set, for a failure that was logged where it happened (every detail is in
 * the log already): main reports nothing more and only exits. */
int agent_error_logged(struct agent_error *err, enum agent_failure failure, int code,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A bad command line: the sentence, then the command's usage. */
int agent_error_usage(struct agent_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Takes over a library error (its errno and sentence) under the given failure class. */
int agent_error_from_sfs(struct agent_error *err, enum agent_failure failure,
			 const struct sfs_error *src);

/* Prefixes the sentence with "PREFIX: " (to name a secret, a file, a line). */
void agent_error_prefix(struct agent_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The one table from failure class to exit status. */
int agent_exit_code(enum agent_failure failure);

#endif
