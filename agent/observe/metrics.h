/* The agent's metrics: an in-memory registry of what an operator may see, rendered in the
 * Prometheus text exposition format 0.0.4.
 *
 * Only names, types, public fingerprints, certificate subjects and timestamps are recorded:
 * no secret byte, no source path, no environment value ever enters the registry, so nothing
 * of the kind can reach a response. Recorders copy their strings; the registry owns its memory.
 * Every function that can fail returns 0 or a negative errno (-ENOMEM, -EINVAL).
 */
#ifndef AGENT_OBSERVE_METRICS_H
#define AGENT_OBSERVE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rotation_result {
	ROTATION_APPLIED,   /* a new version was validated and written */
	ROTATION_REJECTED,  /* the new version was refused: the old files stay */
	ROTATION_UNCHANGED, /* the source changed, the written bytes did not */
};

/* One certificate of a written secret, in file order. */
struct observed_cert {
	unsigned index;	   /* position in the file, from 0 */
	char subject[512]; /* RFC 2253, as `openssl x509 -noout -subject -nameopt RFC2253` */
	int64_t not_after; /* seconds since the epoch */
};

struct metrics;

int metrics_new(struct metrics **out, const char *version);
void metrics_free(struct metrics *m);

/* A secret the agent manages, known before anything is written: its counters start at 0. */
int metrics_secret_declare(struct metrics *m, const char *secret, const char *type);

/* A secret was written (or validated in place) at `when` (seconds since the epoch, with
 * a fraction).
 * `fingerprint` is the public fingerprint ("" or NULL for none); `certs` replaces the
 * secret's previous certificates (ncerts 0 for keys and opaque secrets). */
int metrics_secret_written(struct metrics *m, const char *secret, const char *type,
			   const char *fingerprint, const struct observed_cert *certs,
			   size_t ncerts, double when);

/* A rotation of `secret` ended with `result`; a rejected one sets the secret's rejected gauge
 * until a later version is accepted. */
int metrics_rotation(struct metrics *m, const char *secret, enum rotation_result result);

/* One notification of the service: `action` is the kind (signal, restart, exec). */
int metrics_notification(struct metrics *m, const char *action, bool ok);

void metrics_child_restart(struct metrics *m);
void metrics_set_ready(struct metrics *m, bool ready);
bool metrics_is_ready(const struct metrics *m);

/* How many written certificates are inside their warning window, and past their notAfter
 * (the expiry watch keeps these current). */
void metrics_set_certificates_expiring(struct metrics *m, unsigned expiring, unsigned expired);

/* Renders the registry. *out is malloc'ed (the caller frees it), NUL-terminated, *len without
 * the NUL. Returns 0 or -ENOMEM. */
int metrics_render(const struct metrics *m, char **out, size_t *len);

/* For the status line sent to the service manager: secrets written, and the last rotation. */
size_t metrics_secrets_written(const struct metrics *m);

#endif
