#include "x509_bundle.h"

#include <errno.h>
#include <openssl/x509v3.h>
#include <string.h>

#define NAME_LEN 320

static void format_time(const ASN1_TIME *t, char *buf, size_t size)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "an unreadable date");
}

/* Returns 0 when `cert` is inside its validity window at `now`, else -EINVAL naming it and the
 * date. Inside the window, a warning when fewer than `warn_days` remain. */
static int check_one_validity(X509 *cert, size_t index, time_t now, int warn_days,
			      struct sfs_warnings *w, struct sfs_error *err)
{
	const ASN1_TIME *nb = X509_get0_notBefore(cert), *na = X509_get0_notAfter(cert);
	char name[NAME_LEN], date[64];
	time_t t = now;
	int days = 0, secs = 0;

	sfs_x509_name_cert(cert, index, name, sizeof(name));
	if (X509_cmp_time(nb, &t) > 0) {
		format_time(nb, date, sizeof(date));
		return sfs_error_set(err, -EINVAL, "%s is not yet valid until %s", name, date);
	}
	if (X509_cmp_time(na, &t) < 0) {
		format_time(na, date, sizeof(date));
		return sfs_error_set(err, -EINVAL, "%s expired on %s", name, date);
	}
	if (warn_days > 0) {
		ASN1_TIME *now_asn1 = ASN1_TIME_set(NULL, now);
		if (now_asn1 && ASN1_TIME_diff(&days, &secs, now_asn1, na) == 1 &&
		    days < warn_days) {
			format_time(na, date, sizeof(date));
			sfs_warn(w, "%.200s expires in %d days (on %s)", name, days, date);
		}
		ASN1_TIME_free(now_asn1);
	}
	return 0;
}

int sfs_x509_check_validity(STACK_OF(X509) * certs, time_t now, int warn_days,
			    struct sfs_warnings *w, struct sfs_error *err)
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		int r =
		    check_one_validity(sk_X509_value(certs, i), (size_t)i, now, warn_days, w, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int sfs_x509_check_trust_validity(STACK_OF(X509) * certs, time_t now, int warn_days,
				  bool omit_outside, struct sfs_warnings *w, bool *inside,
				  struct sfs_error *err)
{
	struct sfs_error first = {0};
	int n = sk_X509_num(certs), ninside = 0;

	for (int i = 0; i < n; i++) {
		struct sfs_error why = {0};

		inside[i] = check_one_validity(sk_X509_value(certs, i), (size_t)i, now, warn_days,
					       w, &why) == 0;
		if (inside[i]) {
			ninside++;
			continue;
		}
		if (!first.code)
			first = why;
		sfs_warn(w, "%.180s; %s", why.msg,
			 omit_outside ? "left out of the written bundle (omit_expired)"
				      : "kept in the CA bundle");
	}
	if (ninside > 0)
		return 0;
	/* One certificate alone keeps the sentence a leaf would get. */
	if (n == 1)
		return sfs_error_set(err, first.code, "%s", first.msg);
	return sfs_error_set(err, -EINVAL,
			     "no certificate of the CA bundle is inside its validity window (%s)",
			     first.msg);
}

/* A v1 certificate cannot carry basicConstraints; OpenSSL treats a self-signed one as a CA
 * (X509_check_ca = 3). */
static bool is_v1_self_signed_root(X509 *cert)
{
	return X509_get_version(cert) == X509_VERSION_1 && X509_check_ca(cert) == 3;
}

static bool self_issued(X509 *cert)
{
	return X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0;
}

static int check_one_ca(X509 *cert, size_t index, struct sfs_warnings *w, struct sfs_error *err)
{
	char name[NAME_LEN];
	bool v1_root = is_v1_self_signed_root(cert);

	sfs_x509_name_cert(cert, index, name, sizeof(name));
	if (self_issued(cert) && X509_self_signed(cert, 1) != 1)
		return sfs_error_set(err, -EINVAL,
				     "%s is self-issued but its signature does not verify", name);
	if (v1_root) {
		sfs_warn(w, "%.200s is an X.509 v1 self-signed root (no CA extensions)", name);
		return 0;
	}
	/* Without a keyUsage extension X509_get_key_usage reports every bit, so look first. */
	if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN))
		return sfs_error_set(err, -EINVAL,
				     "%s is not a CA (its keyUsage lacks keyCertSign)", name);
	if (X509_check_ca(cert) != 1)
		return sfs_error_set(err, -EINVAL, "%s is not a CA", name);
	return 0;
}

int sfs_x509_check_ca_bundle(STACK_OF(X509) * certs, struct sfs_warnings *w, struct sfs_error *err)
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		int r = check_one_ca(sk_X509_value(certs, i), (size_t)i, w, err);
		if (r < 0)
			return r;
	}
	return 0;
}

bool sfs_x509_all_ca(STACK_OF(X509) * certs)
{
	struct sfs_warnings scratch = {0};

	for (int i = 0; i < sk_X509_num(certs); i++)
		if (check_one_ca(sk_X509_value(certs, i), (size_t)i, &scratch, NULL) < 0)
			return false;
	return true;
}

int sfs_x509_verify_chain(STACK_OF(X509) * certs, STACK_OF(X509) * ca, time_t now,
			  struct sfs_error *err)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = NULL;
	char name[NAME_LEN];
	int r;

	if (!store || !ctx) {
		r = sfs_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < sk_X509_num(ca); i++)
		if (X509_STORE_add_cert(store, sk_X509_value(ca, i)) != 1) {
			r = sfs_error_set(err, -ENOMEM, "cannot build the CA trust store");
			goto out;
		}
	untrusted = sk_X509_dup(certs);
	if (!untrusted ||
	    X509_STORE_CTX_init(ctx, store, sk_X509_value(certs, 0), untrusted) != 1) {
		r = sfs_error_set(err, -ENOMEM, "cannot set up chain verification");
		goto out;
	}
	X509_STORE_CTX_set_time(ctx, 0, now);
	if (X509_verify_cert(ctx) != 1) {
		int code = X509_STORE_CTX_get_error(ctx);
		X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
		int depth = X509_STORE_CTX_get_error_depth(ctx);

		sfs_x509_name_cert(bad ? bad : sk_X509_value(certs, 0), (size_t)depth, name,
				   sizeof(name));
		r = sfs_error_set(
		    err, -EINVAL,
		    "certificate chain does not verify against the CA: %s (chain depth %d: %s)",
		    X509_verify_cert_error_string(code), depth, name);
		goto out;
	}
	r = 0;
out:
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return r;
}
