#include "cmd/lifecycle.h"

#include "base/exit_codes.h"
#include "base/log.h"
#include "secrets/preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int startup_first_materialization(struct config *cfg, struct ev_loop *loop, struct materializer *m,
				  bool *have_materializer)
{
	int rc, r;

	*have_materializer = false;
	rc = preflight_run(cfg, loop);
	if (rc != EXIT_OK)
		return rc;
	r = materializer_init(m, cfg);
	if (r < 0) {
		log_error("materialize_failed", NULL, "%s", strerror(-r));
		return EXIT_SOFTWARE;
	}
	*have_materializer = true;
	rc = materializer_make_dirs(m);
	if (rc == EXIT_OK)
		rc = materializer_apply(m, NULL, NULL);
	return rc;
}

int startup_check_sources_readable(const struct config *cfg, const struct privdrop_plan *plan)
{
	char path[4096];

	/* Still root, or keeping CAP_DAC_READ_SEARCH: every source stays readable. */
	if (!plan->change_ids || plan->keep_watcher_caps)
		return EXIT_OK;
	for (size_t i = 0; i < cfg->nsecrets; i++) {
		const struct secret_cfg *s = &cfg->secrets[i];
		struct sfs_error err;
		int fd;

		if (s->source.kind != SFS_SOURCE_FILE && s->source.kind != SFS_SOURCE_CRED)
			continue;
		if (sfs_source_path(&s->source, path, sizeof(path), &err) < 0)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno == EACCES || errno == EPERM) {
			log_error("source_unreadable", s->name,
				  "source %s is not readable by uid %u: make it readable or set "
				  "[agent] privileged_watcher = yes",
				  s->source.spec, (unsigned)plan->uid);
			return EXIT_NOPERM;
		}
	}
	return EXIT_OK;
}
