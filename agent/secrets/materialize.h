/* Materialization: read sources, validate, write targets as one set (design §5 steps 3-5).
 *
 * Used by `materialize`, `run`, `watch` and by rotation. The set is all-or-nothing: every
 * secret of the set is read and validated before anything is written; then every target is
 * staged (temp file written and synced) and only when all are staged are they renamed into
 * place. A failure leaves every earlier target as it was before.
 */
#ifndef AGENT_MATERIALIZE_H
#define AGENT_MATERIALIZE_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>

/* What the agent remembers about each secret between applications (no secret bytes). */
struct secret_runtime {
	bool applied;		       /* written (or validated in place) at least once */
	unsigned char source_hash[32]; /* SHA-256 of the raw source bytes last applied */
	unsigned char output_hash[32]; /* SHA-256 of the canonical bytes last written */
	char fingerprint[65];	       /* public-key fingerprint (keys) or "" */
	bool changed; /* set by the last materializer_apply: target bytes changed */
};

struct materializer {
	struct config *cfg;
	struct secret_runtime *rt; /* cfg->nsecrets entries */
	bool first_done;	   /* env: sources are read once, at the first application */
	bool dirs_pending;	   /* [dir] sections wait for the first application's validation */
};

int materializer_init(struct materializer *m, struct config *cfg);
void materializer_free(struct materializer *m);

/* Creates the [dir] sections' directories. Returns an exit code (0, 73, 77).
 * Before the first materializer_apply this only marks them: the first application creates them
 * once every secret has been read and validated, so a start with an invalid secret leaves the
 * filesystem untouched (its exit code then carries any [dir] failure). */
int materializer_make_dirs(struct materializer *m);

/* Runs read+validate+write for the secrets with which[i] true (NULL: all). A secret whose
 * source bytes hash the same as last time is skipped. A tls-key/tls-cert whose partner is in
 * the set is validated against the partner's new content, else against its current one.
 * On return rt[i].changed says which targets changed; *nchanged (may be NULL) counts them.
 * Returns an exit code: 0, 65 (invalid), 73 (cannot write), 77 (permission), 78 (env source
 * unset: "No signing key available: environment variable NAME is not set" for keys). Every
 * failure has been logged with the secret's name, source and reason. */
int materializer_apply(struct materializer *m, const bool *which, size_t *nchanged);

#endif
