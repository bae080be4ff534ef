#include "observe/cert_list.h"

#include <errno.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Exactly what `openssl x509 -noout -subject -nameopt RFC2253` prints after "subject=":
 * the same flags, so an operator can match the label with the command line. */
static void subject_rfc2253(X509 *cert, char *buf, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n;

	buf[0] = '\0';
	if (!bio)
		return;
	if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_read(bio, buf, (int)size - 1);
		buf[n > 0 ? n : 0] = '\0';
	}
	BIO_free(bio);
}

static int not_after(X509 *cert, int64_t *out)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int cert_list_from_pem(const void *pem, size_t len, struct observed_cert **out, size_t *n)
{
	struct observed_cert *certs = NULL, *grown;
	size_t count = 0;
	BIO *bio;
	X509 *cert;
	int r = 0;

	if (len > INT_MAX)
		return -EINVAL;
	ERR_clear_error();
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return -ENOMEM;
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		grown = realloc(certs, (count + 1) * sizeof(*grown));
		if (!grown) {
			X509_free(cert);
			r = -ENOMEM;
			goto out;
		}
		certs = grown;
		certs[count].index = (unsigned)count;
		subject_rfc2253(cert, certs[count].subject, sizeof(certs[count].subject));
		r = not_after(cert, &certs[count].not_after);
		X509_free(cert);
		if (r < 0)
			goto out;
		count++;
	}
	/* The end of the input reads as "no start line"; anything else is a broken block. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE && ERR_peek_last_error())
		r = -EINVAL;
out:
	ERR_clear_error();
	BIO_free(bio);
	if (r < 0) {
		free(certs);
		return r;
	}
	*out = certs;
	*n = count;
	return 0;
}
