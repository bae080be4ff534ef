/* Materialization: read sources, validate, write targets as one set (docs/design.md §5 steps 3-5).
 *
 * Used by `materialize`, `run`, `watch` and by rotation. The set is all-or-nothing: every
 * secret of the set is read and validated before anything is written; then every target is
 * staged (temp file written and synced) and only when all are staged are they renamed into
 * place. A failure leaves every earlier target as it was before.
 */
#ifndef AGENT_MATERIALIZE_H
#define AGENT_MATERIALIZE_H

#include "base/error.h"
#include "config/config.h"
#include "secret_fs/secure_mem.h"

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
	bool can_chown; /* root or CAP_CHOWN: asked once at the start of each operation */
	/* fsync the targets (docs/design.md §6): set for `materialize`, whose files outlive it
	 * and may be read after a reboot before anything writes them again. `run` and `watch`
	 * write every target again at each start before the service can read it, so for them
	 * the rename's atomicity is the whole guarantee and fsync would only add latency. */
	bool durable;
	/* The canonical bytes last applied of each secret that is half of a pair (a tls-key and
	 * its tls-cert, a tls-cert and its CA), in secure memory (locked, guarded, wiped when
	 * freed); empty for the others. When one half rotates, the other is checked against
	 * these: a target is never read back, since after the drop the service owns it. */
	struct sfs_secret *kept; /* cfg->nsecrets entries */
};

/* Ed25519 keys and TLS private keys: small size limit, domain and key id apply.
 * (The config checks the same; one helper in the library would serve both.) */
static inline bool secret_type_is_key(enum sfs_secret_type t)
{
	return t == SFS_TYPE_ED25519 || t == SFS_TYPE_TLS_KEY;
}

int materializer_init(struct materializer *m, struct config *cfg);
void materializer_free(struct materializer *m);

/* Creates the [dir] sections' directories. Returns 0 or a negative errno (failure class
 * CANTCREAT or NOPERM, already logged).
 * Before the first materializer_apply this only marks them: the first application creates them
 * once every secret has been read and validated, so a start with an invalid secret leaves the
 * filesystem untouched (its error then carries any [dir] failure). */
int materializer_make_dirs(struct materializer *m, struct agent_error *err);

/* Runs read+validate+write for the secrets with which[i] true (NULL: all). A secret whose
 * source bytes hash the same as last time is skipped. A tls-key/tls-cert whose partner is in
 * the set is validated against the partner's new content, else against the bytes it was
 * last applied with (kept in secure memory: targets are never read back).
 * On return rt[i].changed says which targets changed; *nchanged (may be NULL) counts them.
 * Returns 0 or a negative errno with `err` (may be NULL) filled: failure class INVALID,
 * CANTCREAT, NOPERM, or CONFIG (a source missing, an env source unset: "No signing key
 * available: environment variable NAME is not set" for keys; it wins over the others). Every
 * failure has been logged with the secret's name, source and reason (err->reported). */
int materializer_apply(struct materializer *m, const bool *which, size_t *nchanged,
		       struct agent_error *err);

/* After the privilege drop: for every secret that can rotate (a file: or cred: source with a
 * target), checks that the agent as it is now can give the file its configured owner, group
 * and mode, reach the target's directory and create a file in it. Each one that cannot is
 * logged as a warning (rotation_impossible, naming the secret, the target and the reason): the
 * start goes on, since the first write succeeded, and each rotation of it is refused later.
 * Returns how many were found. */
size_t materializer_check_rotation(struct materializer *m);

/* Whether the source of secret `i` (a file: or cred: source already applied) now holds other
 * bytes than those last applied. Quiet: a source that cannot be read says false, and the next
 * application that reads it reports why. */
bool materializer_source_stale(struct materializer *m, size_t i);

#endif
