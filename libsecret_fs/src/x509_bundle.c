#include "x509_bundle.h"

#include "pem_armor.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void name_to_string(const X509_NAME *name, char *buf, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n;

	buf[0] = '\0';
	if (!bio)
		return;
	/* RFC 2253 with UTF-8 kept readable; control characters are escaped by OpenSSL. */
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_read(bio, buf, (int)size - 1);
		buf[n > 0 ? n : 0] = '\0';
	}
	BIO_free(bio);
}

void sfs_x509_name_cert(X509 *cert, size_t index, char *buf, size_t size)
{
	char subject[256];

	name_to_string(X509_get_subject_name(cert), subject, sizeof(subject));
	snprintf(buf, size, "certificate %zu (%s)", index + 1,
		 subject[0] ? subject : "empty subject");
}

static int parse_block(const struct sfs_pem_block *blk, size_t index, STACK_OF(X509) * certs,
		       struct sfs_secret *canonical, struct sfs_error *err)
{
	struct sfs_secret der = {0};
	const unsigned char *p;
	X509 *cert = NULL;
	int r;

	if (strcmp(blk->label, "CERTIFICATE") != 0) {
		r = sfs_error_set(err, -EINVAL,
				  "PEM block %zu is '%s', not a certificate (only CERTIFICATE "
				  "blocks are allowed in a certificate bundle)",
				  index + 1, blk->label);
		goto out;
	}
	if (strcmp(blk->end_label, blk->label) != 0) {
		r = sfs_error_set(err, -EINVAL,
				  "PEM block %zu: END label '%s' does not match BEGIN '%s'",
				  index + 1, blk->end_label, blk->label);
		goto out;
	}
	if (blk->has_headers) {
		r = sfs_error_set(err, -EINVAL, "PEM block %zu has headers (not allowed)",
				  index + 1);
		goto out;
	}
	r = sfs_pem_body_decode(blk, &der, err);
	if (r < 0) {
		sfs_error_prefix(err, "certificate %zu", index + 1);
		goto out;
	}
	p = der.data;
	cert = d2i_X509(NULL, &p, (long)der.len);
	if (!cert || p != der.data + der.len) {
		r = sfs_error_set(err, -EINVAL,
				  "certificate %zu is not a valid DER X.509 certificate%s",
				  index + 1, cert ? " (trailing bytes after it)" : "");
		goto out;
	}
	if (canonical) {
		r = sfs_pem_encode_append("CERTIFICATE", der.data, der.len, canonical, err);
		if (r < 0)
			goto out;
	}
	if (!sk_X509_push(certs, cert)) {
		r = sfs_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	cert = NULL;
	r = 0;
out:
	X509_free(cert);
	sfs_secret_free(&der);
	return r;
}

int sfs_x509_bundle_parse(const char *text, size_t len, STACK_OF(X509) * *certs,
			  struct sfs_secret *canonical, struct sfs_warnings *w,
			  struct sfs_error *err)
{
	struct sfs_pem_block blk;
	size_t pos = 0, index = 0;
	bool text_after = false, outside_text = false;
	int r;

	*certs = sk_X509_new_null();
	if (!*certs)
		return sfs_error_set(err, -ENOMEM, "out of memory");
	for (;;) {
		r = sfs_pem_next(text, len, &pos, &blk, &text_after, err);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		if (blk.text_before)
			outside_text = true;
		r = parse_block(&blk, index, *certs, canonical, err);
		if (r < 0)
			return r;
		index++;
	}
	if (index == 0)
		return sfs_error_set(err, -EINVAL, "no certificate found");
	if (outside_text || text_after)
		sfs_warn(w, "text outside the PEM blocks ignored");
	return 0;
}

int sfs_x509_bundle_encode(STACK_OF(X509) * certs, const bool *keep, struct sfs_secret *canonical,
			   struct sfs_error *err)
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		unsigned char *der = NULL;
		int n, r;

		if (!keep[i])
			continue;
		/* A parsed certificate re-encodes to the DER it was read from (d2i consumed it
		 * all, and OpenSSL keeps that encoding). */
		n = i2d_X509(sk_X509_value(certs, i), &der);
		if (n <= 0)
			return sfs_error_set(err, -EINVAL, "cannot encode certificate %d", i + 1);
		r = sfs_pem_encode_append("CERTIFICATE", der, (size_t)n, canonical, err);
		OPENSSL_free(der);
		if (r < 0)
			return r;
	}
	return 0;
}

static time_t asn1_to_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

/* The usual certificate fingerprint (`openssl x509 -fingerprint -sha256`), lowercase hex. */
static void cert_fingerprint(X509 *cert, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	out[0] = '\0';
	if (X509_digest(cert, EVP_sha256(), md, &len) == 1 && len == 32)
		sodium_bin2hex(out, 65, md, len);
}

int sfs_x509_summarize(STACK_OF(X509) * certs, time_t now, struct sfs_cert_summary **out, size_t *n,
		       struct sfs_error *err)
{
	int count = sk_X509_num(certs);
	struct sfs_cert_summary *s;

	*out = NULL;
	*n = 0;
	if (count <= 0)
		return 0;
	s = calloc((size_t)count, sizeof(*s));
	if (!s)
		return sfs_error_set(err, -ENOMEM, "out of memory");
	for (int i = 0; i < count; i++) {
		X509 *cert = sk_X509_value(certs, i);

		name_to_string(X509_get_subject_name(cert), s[i].subject, sizeof(s[i].subject));
		name_to_string(X509_get_issuer_name(cert), s[i].issuer, sizeof(s[i].issuer));
		s[i].not_before = asn1_to_time(X509_get0_notBefore(cert));
		s[i].not_after = asn1_to_time(X509_get0_notAfter(cert));
		s[i].days_left = (long)((s[i].not_after - now) / 86400);
		s[i].is_ca = X509_check_ca(cert) == 1;
		cert_fingerprint(cert, s[i].sha256);
	}
	*out = s;
	*n = (size_t)count;
	return 0;
}
