#include "key_id.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static bool all_chars(const char *s, const char *set)
{
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

int sfs_key_id_check(const char *key_id, const char *fp_hex, const char *jwk, bool *verified,
		     struct sfs_warnings *w, struct sfs_error *err)
{
	static const char hex[] = "0123456789abcdefABCDEF";
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789-_";
	size_t len = strlen(key_id);

	*verified = false;
	if (len >= 16 && len <= 64 && all_chars(key_id, hex)) {
		for (size_t i = 0; i < len; i++)
			if (tolower((unsigned char)key_id[i]) != fp_hex[i])
				return sfs_error_set(err, -EINVAL,
						     "key id %s does not match the key's SHA-256 "
						     "fingerprint %s",
						     key_id, fp_hex);
		*verified = true;
		return 0;
	}
	if (len == 43 && all_chars(key_id, b64url)) {
		if (strcmp(key_id, jwk) != 0)
			return sfs_error_set(err, -EINVAL,
					     "key id %s does not match the key's JWK thumbprint %s",
					     key_id, jwk);
		*verified = true;
		return 0;
	}
	if (len == 0)
		return sfs_error_set(err, -EINVAL, "the key id is empty");
	if (len > 128)
		return sfs_error_set(err, -EINVAL, "the key id is longer than 128 bytes");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)key_id[i];
		if (c <= 0x20 || c >= 0x7f)
			return sfs_error_set(err, -EINVAL,
					     "the key id may only contain printable ASCII without "
					     "spaces (byte 0x%02x at offset %zu)",
					     c, i);
	}
	sfs_warn(w,
		 "key id '%.128s' is a free-form label, not a fingerprint: it cannot be checked "
		 "against the key",
		 key_id);
	return 0;
}
