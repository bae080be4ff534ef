#include "private_key_pem.h"

#include "pem_armor.h"

#include <errno.h>
#include <string.h>

int sfs_private_key_label_check(const char *label, struct sfs_error *err)
{
	if (strcmp(label, "PRIVATE KEY") == 0)
		return 0;
	if (strcmp(label, "ENCRYPTED PRIVATE KEY") == 0)
		return sfs_error_set(err, -EINVAL,
				     "encrypted PKCS#8 key is not supported; decrypt it first: "
				     "openssl pkey -in enc.pem -out key.pem");
	if (strcmp(label, "OPENSSH PRIVATE KEY") == 0)
		return sfs_error_set(err, -EINVAL,
				     "OpenSSH format key: provide PKCS#8 (ssh-keygen -p -m PKCS8 "
				     "-f KEYFILE, or openssl pkey -in KEYFILE)");
	if (strcmp(label, "ED25519 PRIVATE KEY") == 0)
		return sfs_error_set(err, -EINVAL,
				     "non-standard 'ED25519 PRIVATE KEY' block: provide PKCS#8 "
				     "('PRIVATE KEY', RFC 8410)");
	if (strcmp(label, "RSA PRIVATE KEY") == 0)
		return sfs_error_set(err, -EINVAL,
				     "expected a PKCS#8 'PRIVATE KEY' block, got a legacy RSA key "
				     "('RSA PRIVATE KEY')");
	if (strcmp(label, "EC PRIVATE KEY") == 0)
		return sfs_error_set(err, -EINVAL,
				     "expected a PKCS#8 'PRIVATE KEY' block, got a legacy EC key "
				     "('EC PRIVATE KEY')");
	if (strcmp(label, "PUBLIC KEY") == 0 || strcmp(label, "CERTIFICATE") == 0 ||
	    strcmp(label, "RSA PUBLIC KEY") == 0)
		return sfs_error_set(err, -EINVAL, "not a private key: found a '%s' block", label);
	return sfs_error_set(err, -EINVAL, "unexpected PEM label '%s' (expected 'PRIVATE KEY')",
			     label);
}

int sfs_private_key_pem_decode(const char *text, size_t len, struct sfs_secret *der,
			       struct sfs_error *err)
{
	struct sfs_pem_block blk, extra;
	size_t pos = 0;
	bool text_after = false;
	int r;

	r = sfs_pem_next(text, len, &pos, &blk, &text_after, err);
	if (r < 0)
		return r;
	if (r == 0)
		return sfs_error_set(err, -EINVAL, "no PEM block found");
	r = sfs_private_key_label_check(blk.label, err);
	if (r < 0)
		return r;
	if (strcmp(blk.end_label, blk.label) != 0)
		return sfs_error_set(err, -EINVAL, "PEM END label '%s' does not match BEGIN '%s'",
				     blk.end_label, blk.label);
	if (blk.text_before)
		return sfs_error_set(err, -EINVAL, "unexpected text before the PEM BEGIN line");
	r = sfs_pem_next(text, len, &pos, &extra, &text_after, err);
	if (r < 0)
		return r;
	if (r == 1)
		return sfs_error_set(err, -EINVAL,
				     "more than one PEM block (a key must be a single block)");
	if (text_after)
		return sfs_error_set(err, -EINVAL, "unexpected text after the PEM END line");
	if (blk.has_headers)
		return sfs_error_set(err, -EINVAL,
				     "PEM headers (Proc-Type, DEK-Info) are not supported in a "
				     "PKCS#8 key");
	return sfs_pem_body_decode(&blk, der, err);
}
