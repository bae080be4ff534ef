#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "commands.h"
#include "exit_codes.h"
#include "secret_fs/secure_mem.h"

int agent_process_setup(void)
{
	struct rlimit no_core = {0, 0};
	struct sfs_error err;

	/* Nothing the agent creates is readable by others until it sets the mode itself. */
	umask(077);
	/* Secret bytes must never land in a core dump, and nobody may ptrace the agent. */
	if (setrlimit(RLIMIT_CORE, &no_core) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		fprintf(stderr, "secret-agent: cannot disable core dumps\n");
		return EXIT_NOPERM;
	}
	if (sfs_init(&err) < 0) {
		fprintf(stderr, "secret-agent: %s\n", err.msg);
		return EXIT_SOFTWARE;
	}
	return EXIT_OK;
}
