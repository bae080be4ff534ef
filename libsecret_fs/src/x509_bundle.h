/* X.509 certificate bundles: strict parsing and the certificate checks.
 *
 * Blocks are enumerated by our PEM scanner (plain PEM_read_bio_X509 silently skips a PRIVATE
 * KEY block), every label must be CERTIFICATE, each body strict base64, and d2i_X509 must
 * consume every byte.
 */
#ifndef SFS_X509_BUNDLE_H
#define SFS_X509_BUNDLE_H

#include "secret_fs/error.h"
#include "secret_fs/secure_mem.h"
#include "secret_fs/validate.h"

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Parses normalised PEM text into *certs (bundle order; free with
 * sk_X509_pop_free(certs, X509_free)). When `canonical` is not NULL the canonical PEM of the
 * bundle is appended to it. Text outside the blocks is ignored with a warning. Returns 0,
 * -EINVAL or -ENOMEM. */
int sfs_x509_bundle_parse(const char *text, size_t len, STACK_OF(X509) * *certs,
			  struct sfs_secret *canonical, struct sfs_warnings *w,
			  struct sfs_error *err);

/* Fills one summary per certificate (heap array, *out freed with free()). */
int sfs_x509_summarize(STACK_OF(X509) * certs, time_t now, struct sfs_cert_summary **out, size_t *n,
		       struct sfs_error *err);

/* Every certificate inside its validity window at `now`; a warning when fewer than
 * `warn_days` remain (warn_days <= 0: none). Returns 0 or -EINVAL naming the certificate. */
int sfs_x509_check_validity(STACK_OF(X509) * certs, time_t now, int warn_days,
			    struct sfs_warnings *w, struct sfs_error *err);

/* A CA bundle is a trust store: a certificate outside its validity window is kept, with a
 * warning naming it and the date ("left out" instead when `omit_outside`); inside[i] tells
 * which are inside (an array of sk_X509_num(certs) entries). Refused (-EINVAL) only when none
 * is inside its window. Certificates inside get the `warn_days` warning as above. */
int sfs_x509_check_trust_validity(STACK_OF(X509) * certs, time_t now, int warn_days,
				  bool omit_outside, struct sfs_warnings *w, bool *inside,
				  struct sfs_error *err);

/* Appends the canonical PEM of the certificates whose `keep` entry is true. Returns 0,
 * -ENOMEM or -EINVAL. */
int sfs_x509_bundle_encode(STACK_OF(X509) * certs, const bool *keep, struct sfs_secret *canonical,
			   struct sfs_error *err);

/* type = x509: every certificate may sign certificates (CA:TRUE, keyCertSign when keyUsage
 * is present); a self-issued one verifies its own signature; an X.509 v1 self-signed root is
 * accepted with a warning. Returns 0 or -EINVAL. */
int sfs_x509_check_ca_bundle(STACK_OF(X509) * certs, struct sfs_warnings *w, struct sfs_error *err);

/* True when every certificate would pass sfs_x509_check_ca_bundle (for --type auto). */
bool sfs_x509_all_ca(STACK_OF(X509) * certs);

/* The chain from certs[0] (the rest of `certs` as untrusted intermediates) verifies against
 * the `ca` bundle at `now`. Returns 0 or -EINVAL with OpenSSL's reason. */
int sfs_x509_verify_chain(STACK_OF(X509) * certs, STACK_OF(X509) * ca, time_t now,
			  struct sfs_error *err);

/* "certificate N (SUBJECT)" naming used in every message; `buf` of at least 300 bytes. */
void sfs_x509_name_cert(X509 *cert, size_t index, char *buf, size_t size);

#endif
