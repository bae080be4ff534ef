/* Process-wide hardening every command starts with. */
#ifndef AGENT_PROCESS_SETUP_H
#define AGENT_PROCESS_SETUP_H

#include "base/error.h"

/* umask 077, soft RLIMIT_CORE 0, PR_SET_DUMPABLE 0, libsodium initialised. Returns 0 or a
 * negative errno; the failure is printed on stderr here (no log is set up yet). */
int agent_process_setup(struct agent_error *err);

#endif
