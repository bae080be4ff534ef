/* Validation of secrets before they are written: one entry point for every secret type.
 *
 * The checks, in order: normalisation of PEM that came through env vars or YAML, strict
 * armor/base64/DER, Ed25519 with a sign/verify self-test over `domain || 0x00 || message`
 * (across libsodium and OpenSSL for a tls-key), key id against the key's fingerprints, X.509
 * bundles, TLS key/certificate pairs. On success the canonical bytes to write are returned in
 * secure memory. Errors are -EINVAL with one sentence that never contains secret bytes (the caller
 * prefixes it with the secret's name and source).
 */
#ifndef SECRET_FS_VALIDATE_H
#define SECRET_FS_VALIDATE_H

#include "secret_fs/error.h"
#include "secret_fs/secure_mem.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum sfs_secret_type {
	SFS_TYPE_AUTO,	   /* `validate --type auto`: decided from the PEM label(s) */
	SFS_TYPE_OPAQUE,   /* no validation, bytes written as they are, never normalised */
	SFS_TYPE_ED25519,  /* Ed25519 PKCS#8 private key */
	SFS_TYPE_X509,	   /* CA bundle: every certificate CA:TRUE */
	SFS_TYPE_TLS_CERT, /* leaf certificate (chain optional) */
	SFS_TYPE_TLS_KEY,  /* private key that must match its certificate */
};

/* "ed25519", "x509", ... Returns 0 or -EINVAL. */
SFS_API int sfs_type_parse(const char *name, enum sfs_secret_type *out);
SFS_API const char *sfs_type_name(enum sfs_secret_type t);

struct sfs_validate_req {
	enum sfs_secret_type type;
	const unsigned char *data; /* raw source bytes (not modified) */
	size_t len;
	const char *domain;	   /* Ed25519 domain-separation tag, or NULL */
	const char *key_id;	   /* expected key id, or NULL */
	const unsigned char *cert; /* tls-key: its certificate (PEM), required */
	size_t cert_len;
	const unsigned char *ca; /* tls-cert: CA bundle for chain verification, or NULL */
	size_t ca_len;
	int warn_days;	   /* warn when a certificate expires within this many days;
			      0 means the default (30), a negative value never warns */
	time_t now;	   /* 0 = time(NULL) */
	bool omit_expired; /* x509 (CA bundle): write the bundle without the certificates that
			      are outside their validity window (they are kept by default) */
};

struct sfs_cert_summary {
	char subject[256];
	char issuer[256];
	time_t not_before;
	time_t not_after;
	long days_left;
	bool is_ca;
	char sha256[65]; /* lowercase hex SHA-256 of the certificate's DER (its fingerprint) */
};

struct sfs_validate_result {
	enum sfs_secret_type type; /* resolved type (AUTO is replaced) */
	/* The bytes to write: canonical PEM, or the raw bytes for opaque. */
	struct sfs_secret canonical;
	/* keys (ed25519, and tls-key when the key is Ed25519) */
	bool has_key_info;
	int pkcs8_version;	     /* 1 or 2 */
	char fingerprint_sha256[65]; /* lowercase hex SHA-256 of the raw public key */
	char jwk_thumbprint[44];     /* RFC 7638 thumbprint, base64url, no padding */
	bool key_id_verified;	     /* a key id was given and matched a fingerprint form */
	const char *key_algorithm;   /* "Ed25519", "RSA", "EC", ... (static string) or NULL */
	/* certificates, in bundle order (heap, freed with the result) */
	struct sfs_cert_summary *certs;
	size_t ncerts;
	struct sfs_warnings warnings;
};

/* Validates `req` and fills `res` (zero it first). Returns 0, -EINVAL (invalid content, with
 * the reason), or -ENOMEM. `res` must be released with sfs_validate_result_free either way. */
SFS_API int sfs_validate(const struct sfs_validate_req *req, struct sfs_validate_result *res,
			 struct sfs_error *err);
SFS_API void sfs_validate_result_free(struct sfs_validate_result *res);

/* True when every block OpenSSL frees is wiped first, so that no freed copy of a TLS key's
 * numbers stays in the heap (set up before main; false only when OpenSSL had allocated
 * before this library was loaded: the caller should warn). */
SFS_API bool sfs_openssl_heap_wiped(void);

/* Domain tag syntax: 1..255 bytes of [A-Za-z0-9._:/-]. Returns 0 or -EINVAL with a reason. */
SFS_API int sfs_domain_check(const char *tag, struct sfs_error *err);

/* Public-key fingerprints of a raw Ed25519 public key. */
SFS_API void sfs_fingerprint_sha256_hex(const unsigned char pk[32], char out[65]);
SFS_API void sfs_fingerprint_jwk(const unsigned char pk[32], char out[44]);

#endif
