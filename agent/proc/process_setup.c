#include "proc/process_setup.h"

#include "secret_fs/secure_mem.h"
#include "secret_fs/validate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

int agent_process_setup(struct agent_error *err)
{
	struct rlimit core;
	struct sfs_error serr;
	int r;

	/* Nothing the agent creates is readable by others until it sets the mode itself. */
	umask(077);
	/* Secret bytes must never land in a core dump, and nobody may ptrace the agent. Only the
	 * soft limit is lowered: the child gets the inherited one back (signals.h). */
	bool core_off = getrlimit(RLIMIT_CORE, &core) == 0;
	core.rlim_cur = 0;
	core_off = core_off && setrlimit(RLIMIT_CORE, &core) == 0;
	if (!core_off || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		r = -errno;
		fprintf(stderr, "secret-agent: cannot disable core dumps\n");
		return agent_error_logged(err, AGENT_FAIL_NOPERM, r, "cannot disable core dumps");
	}
	r = sfs_init(&serr);
	if (r < 0) {
		fprintf(stderr, "secret-agent: %s\n", serr.msg);
		agent_error_from_sfs(err, AGENT_FAIL_SOFTWARE, &serr);
		err->reported = true;
		return r;
	}
	/* OpenSSL's decoders free copies of private numbers without cleansing them; the library
	 * replaces OpenSSL's allocator before main() so every freed block is wiped. Should that
	 * ever fail (something allocated through OpenSSL first), say so rather than hide it. */
	if (!sfs_openssl_heap_wiped())
		fprintf(stderr, "secret-agent: warning: memory freed by OpenSSL is not wiped (its "
				"allocator could not be replaced)\n");
	return 0;
}
