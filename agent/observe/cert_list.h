/* The certificates of a written file, as the metrics and the expiry watch describe them:
 * index in file order, subject in RFC 2253 form, notAfter. Certificates are public; this is
 * never given a private key (a tls-key's bytes stay with the materializer).
 */
#ifndef AGENT_OBSERVE_CERT_LIST_H
#define AGENT_OBSERVE_CERT_LIST_H

#include "observe/metrics.h"

#include <stddef.h>

/* Parses every CERTIFICATE block of `pem`. *out is malloc'ed (NULL when *n is 0); the caller
 * frees it. Returns 0, -EINVAL (a block that is not a readable certificate) or -ENOMEM. */
int cert_list_from_pem(const void *pem, size_t len, struct observed_cert **out, size_t *n);

#endif
