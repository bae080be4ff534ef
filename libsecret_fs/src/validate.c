#include "secret_fs/validate.h"

#include "domain_tag.h"
#include "ed25519_key.h"
#include "key_id.h"
#include "openssl_setup.h"
#include "pem_armor.h"
#include "pem_normalize.h"
#include "private_key_pem.h"
#include "secret_fs/source.h"
#include "tls_pair.h"
#include "x509_bundle.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WARN_DAYS 30

static const char *const type_names[] = {
    [SFS_TYPE_AUTO] = "auto", [SFS_TYPE_OPAQUE] = "opaque",	[SFS_TYPE_ED25519] = "ed25519",
    [SFS_TYPE_X509] = "x509", [SFS_TYPE_TLS_CERT] = "tls-cert", [SFS_TYPE_TLS_KEY] = "tls-key",
};

int sfs_type_parse(const char *name, enum sfs_secret_type *out)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (name && strcmp(name, type_names[i]) == 0) {
			*out = (enum sfs_secret_type)i;
			return 0;
		}
	return -EINVAL;
}

const char *sfs_type_name(enum sfs_secret_type t)
{
	if ((size_t)t < sizeof(type_names) / sizeof(type_names[0]))
		return type_names[t];
	return "unknown";
}

static time_t req_now(const struct sfs_validate_req *req)
{
	return req->now ? req->now : time(NULL);
}

static int req_warn_days(const struct sfs_validate_req *req)
{
	if (req->warn_days == 0)
		return DEFAULT_WARN_DAYS;
	return req->warn_days < 0 ? 0 : req->warn_days;
}

static bool is_key_type(enum sfs_secret_type t)
{
	return t == SFS_TYPE_ED25519 || t == SFS_TYPE_TLS_KEY;
}

static void fill_key_info(const struct sfs_ed25519_key *key, struct sfs_validate_result *res)
{
	res->has_key_info = true;
	res->pkcs8_version = key->version;
	res->key_algorithm = "Ed25519";
	sfs_fingerprint_sha256_hex(key->pk, res->fingerprint_sha256);
	sfs_fingerprint_jwk(key->pk, res->jwk_thumbprint);
}

/* Steps 9-18 on a decoded DER; `cross_check` has OpenSSL derive and sign too. */
static int check_ed25519_der(const struct sfs_validate_req *req, const struct sfs_secret *der,
			     bool cross_check, struct sfs_ed25519_key *key,
			     struct sfs_validate_result *res, struct sfs_error *err)
{
	int r = sfs_ed25519_from_der(der->data, der->len, cross_check, key, err);
	if (r < 0)
		return r;
	if (req->domain) {
		r = sfs_domain_check(req->domain, err);
		if (r < 0)
			return r;
		if (!sfs_domain_has_version(req->domain))
			sfs_warn(
			    &res->warnings,
			    "domain tag '%.64s' carries no version (such as v1): a later format "
			    "cannot be told apart",
			    req->domain);
	}
	r = sfs_ed25519_self_test(key, req->domain, err);
	if (r < 0)
		return r;
	fill_key_info(key, res);
	if (req->key_id) {
		r = sfs_key_id_check(req->key_id, res->fingerprint_sha256, res->jwk_thumbprint,
				     &res->key_id_verified, &res->warnings, err);
		if (r < 0)
			return r;
	}
	return sfs_ed25519_canonical_pem(key, &res->canonical, err);
}

static int validate_ed25519(const struct sfs_validate_req *req, const struct sfs_secret *text,
			    struct sfs_validate_result *res, struct sfs_error *err)
{
	struct sfs_secret der = {0};
	struct sfs_ed25519_key key = {0};
	int r;

	r = sfs_private_key_pem_decode((const char *)text->data, text->len, &der, err);
	if (r < 0)
		goto out;
	/* An Ed25519 key alone never starts OpenSSL: the DER has a fixed shape we match byte for
	 * byte and libsodium does the maths, self-test included. OpenSSL's start-up (provider,
	 * name maps, first algorithm fetch) cost more than everything else validate does for one
	 * key, and the second library's agreement bought no check that libsodium's own sign and
	 * verify over the derived key does not already make. */
	r = check_ed25519_der(req, &der, false, &key, res, err);
out:
	sfs_ed25519_key_free(&key);
	sfs_secret_free(&der);
	return r;
}

/* Certificates given alongside (the tls-key's cert, the tls-cert's CA) are normalised like any
 * certificate source; their own warnings belong to their own validation, not to this one. */
static int parse_partner_bundle(const unsigned char *data, size_t len, const char *what,
				STACK_OF(X509) * *certs, struct sfs_error *err)
{
	struct sfs_secret text = {0};
	struct sfs_warnings scratch = {0};
	int r;

	*certs = NULL;
	r = sfs_pem_normalize(data, len, SFS_MAX_SECRET_BYTES, &text, &scratch, err);
	if (r == 0)
		r = sfs_x509_bundle_parse((const char *)text.data, text.len, certs, NULL, &scratch,
					  err);
	if (r < 0)
		sfs_error_prefix(err, "%s", what);
	sfs_secret_free(&text);
	return r;
}

static int validate_tls_key(const struct sfs_validate_req *req, const struct sfs_secret *text,
			    struct sfs_validate_result *res, struct sfs_error *err)
{
	struct sfs_secret der = {0};
	struct sfs_ed25519_key key = {0};
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *pkey = NULL;
	int r;

	if (!req->cert || req->cert_len == 0) {
		r = sfs_error_set(err, -EINVAL,
				  "a tls-key is checked against its certificate, and none was "
				  "given");
		goto out;
	}
	r = sfs_openssl_ready(err);
	if (r < 0)
		goto out;
	r = sfs_private_key_pem_decode((const char *)text->data, text->len, &der, err);
	if (r < 0)
		goto out;
	if (sfs_der_is_ed25519(der.data, der.len)) {
		/* OpenSSL is running for the certificate anyway: the cross-check is cheap here. */
		r = check_ed25519_der(req, &der, true, &key, res, err);
		if (r < 0)
			goto out;
		/* The key checked above, not a second derivation. */
		if (EVP_PKEY_up_ref(key.ossl) != 1) {
			r = sfs_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		pkey = key.ossl;
	} else {
		r = sfs_tls_key_load(der.data, der.len, &pkey, &res->key_algorithm, &res->canonical,
				     err);
		if (r < 0)
			goto out;
	}
	r = parse_partner_bundle(req->cert, req->cert_len, "certificate", &certs, err);
	if (r < 0)
		goto out;
	/* The certificate a key is deployed with is a leaf: the same window as a tls-cert secret
	 * (its expiry warnings belong to the certificate's own validation). */
	{
		struct sfs_warnings scratch = {0};

		r = sfs_x509_check_validity(certs, req_now(req), 0, &scratch, err);
		if (r < 0) {
			sfs_error_prefix(err, "certificate");
			goto out;
		}
	}
	r = sfs_tls_key_match(pkey, sk_X509_value(certs, 0), err);
out:
	sk_X509_pop_free(certs, X509_free);
	EVP_PKEY_free(pkey);
	sfs_ed25519_key_free(&key);
	sfs_secret_free(&der);
	return r;
}

/* A CA bundle is a trust store: after a CA rotation it keeps the old CA for a while, so a
 * certificate outside its window is kept with a warning (or left out of the written bundle
 * with omit_expired); only a bundle with no certificate inside its window is refused. */
static int check_trust_bundle_validity(const struct sfs_validate_req *req, STACK_OF(X509) * certs,
				       struct sfs_validate_result *res, struct sfs_error *err)
{
	int n = sk_X509_num(certs);
	bool *inside = calloc((size_t)n, sizeof(*inside));
	int r;

	if (!inside)
		return sfs_error_set(err, -ENOMEM, "out of memory");
	r = sfs_x509_check_trust_validity(certs, req_now(req), req_warn_days(req),
					  req->omit_expired, &res->warnings, inside, err);
	if (r < 0 || !req->omit_expired)
		goto out;
	for (int i = 0; i < n; i++)
		if (!inside[i]) {
			sfs_secret_free(&res->canonical);
			r = sfs_x509_bundle_encode(certs, inside, &res->canonical, err);
			break;
		}
out:
	free(inside);
	return r;
}

static int validate_certs(const struct sfs_validate_req *req, const struct sfs_secret *text,
			  struct sfs_validate_result *res, struct sfs_error *err)
{
	STACK_OF(X509) *certs = NULL, *ca = NULL;
	time_t now = req_now(req);
	int r;

	r = sfs_openssl_ready(err);
	if (r < 0)
		goto out;
	r = sfs_x509_bundle_parse((const char *)text->data, text->len, &certs, &res->canonical,
				  &res->warnings, err);
	if (r < 0)
		goto out;
	r = sfs_x509_summarize(certs, now, &res->certs, &res->ncerts, err);
	if (r < 0)
		goto out;
	if (res->type == SFS_TYPE_AUTO)
		res->type = sfs_x509_all_ca(certs) ? SFS_TYPE_X509 : SFS_TYPE_TLS_CERT;
	if (res->type == SFS_TYPE_X509)
		r = check_trust_bundle_validity(req, certs, res, err);
	else
		r = sfs_x509_check_validity(certs, now, req_warn_days(req), &res->warnings, err);
	if (r < 0)
		goto out;
	if (res->type == SFS_TYPE_X509) {
		r = sfs_x509_check_ca_bundle(certs, &res->warnings, err);
		if (r < 0)
			goto out;
	}
	if (res->type == SFS_TYPE_TLS_CERT && req->ca && req->ca_len) {
		r = parse_partner_bundle(req->ca, req->ca_len, "CA bundle", &ca, err);
		if (r < 0)
			goto out;
		r = sfs_x509_verify_chain(certs, ca, now, err);
	}
out:
	sk_X509_pop_free(ca, X509_free);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* `--type auto`: the first PEM label decides; anything but a key or a certificate takes the
 * Ed25519 path, whose armor check names what was found. */
static int resolve_auto(const struct sfs_secret *text, enum sfs_secret_type *type,
			struct sfs_error *err)
{
	struct sfs_pem_block blk;
	struct sfs_secret der = {0};
	size_t pos = 0;
	bool text_after;
	int r;

	*type = SFS_TYPE_ED25519;
	r = sfs_pem_next((const char *)text->data, text->len, &pos, &blk, &text_after, err);
	if (r < 0)
		return r;
	if (r == 0)
		return sfs_error_set(err, -EINVAL, "no PEM block found");
	if (strcmp(blk.label, "CERTIFICATE") == 0) {
		*type = SFS_TYPE_AUTO; /* x509 or tls-cert, decided once parsed */
		return 0;
	}
	if (strcmp(blk.label, "PRIVATE KEY") != 0)
		return 0;
	if (sfs_private_key_pem_decode((const char *)text->data, text->len, &der, NULL) == 0 &&
	    !sfs_der_is_ed25519(der.data, der.len))
		*type = SFS_TYPE_TLS_KEY;
	sfs_secret_free(&der);
	return 0;
}

static const char *auto_key_algorithm(const struct sfs_secret *text)
{
	struct sfs_secret der = {0};
	const char *name = NULL;

	if (sfs_private_key_pem_decode((const char *)text->data, text->len, &der, NULL) == 0)
		name = sfs_pkcs8_algorithm_name(der.data, der.len);
	sfs_secret_free(&der);
	return name ? name : "non-Ed25519";
}

int sfs_validate(const struct sfs_validate_req *req, struct sfs_validate_result *res,
		 struct sfs_error *err)
{
	struct sfs_secret text = {0};
	size_t max;
	int r;

	memset(res, 0, sizeof(*res));
	res->type = req->type;
	if (req->type == SFS_TYPE_OPAQUE) {
		/* Opaque bytes are never normalised: they are written exactly as read. */
		r = sfs_secret_from(&res->canonical, req->data, req->len, err);
		goto out;
	}
	max = is_key_type(req->type) ? SFS_MAX_KEY_BYTES : SFS_MAX_SECRET_BYTES;
	r = sfs_pem_normalize(req->data, req->len, max, &text, &res->warnings, err);
	if (r < 0)
		goto out;
	if (req->type == SFS_TYPE_AUTO) {
		r = resolve_auto(&text, &res->type, err);
		if (r < 0)
			goto out;
		if (is_key_type(res->type) && text.len > SFS_MAX_KEY_BYTES) {
			r = sfs_error_set(err, -EINVAL,
					  "is %zu bytes after normalisation, more than the %u "
					  "allowed for a key",
					  text.len, SFS_MAX_KEY_BYTES);
			goto out;
		}
		if (res->type == SFS_TYPE_TLS_KEY && !req->cert) {
			r = sfs_error_set(err, -EINVAL,
					  "a %s private key is validated as tls-key and needs its "
					  "certificate (--cert)",
					  auto_key_algorithm(&text));
			goto out;
		}
	}
	switch (res->type) {
	case SFS_TYPE_ED25519:
		r = validate_ed25519(req, &text, res, err);
		break;
	case SFS_TYPE_TLS_KEY:
		r = validate_tls_key(req, &text, res, err);
		break;
	case SFS_TYPE_AUTO:
	case SFS_TYPE_X509:
	case SFS_TYPE_TLS_CERT:
		r = validate_certs(req, &text, res, err);
		break;
	default:
		r = sfs_error_set(err, -EINVAL, "unknown secret type");
		break;
	}
out:
	sfs_secret_free(&text);
	/* Nothing half-validated is ever handed out; OpenSSL's error queue may name key parts. */
	if (r < 0)
		sfs_secret_free(&res->canonical);
	else
		sfs_secret_readonly(&res->canonical);
	if (sfs_openssl_started())
		ERR_clear_error();
	return r;
}

void sfs_validate_result_free(struct sfs_validate_result *res)
{
	if (!res)
		return;
	sfs_secret_free(&res->canonical);
	free(res->certs);
	res->certs = NULL;
	res->ncerts = 0;
}
