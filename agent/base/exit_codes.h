/* Exit codes of secret-agent (docs/design.md §5; sysexits.h values). */
#ifndef AGENT_EXIT_CODES_H
#define AGENT_EXIT_CODES_H

enum {
	EXIT_OK = 0,
	EXIT_USAGE = 64,       /* bad command line */
	EXIT_INVALID = 65,     /* a secret failed validation */
	EXIT_UNAVAILABLE = 69, /* preflight: directory missing, TCP unreachable */
	EXIT_SOFTWARE = 70,    /* internal error (should not happen) */
	EXIT_CANTCREAT = 73,   /* cannot write a target */
	EXIT_NOPERM = 77,      /* permission denied / privilege drop failed */
	EXIT_CONFIG = 78,      /* configuration error, missing env var, unknown user */
	EXIT_EXEC_NOT_EXECUTABLE = 126,
	EXIT_EXEC_NOT_FOUND = 127,
};

#endif
