#include "domain_tag.h"

#include "secret_fs/validate.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static bool tag_char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("._:/-", c) != NULL);
}

int sfs_domain_check(const char *tag, struct sfs_error *err)
{
	size_t len;

	if (!tag)
		return sfs_error_set(err, -EINVAL, "the domain tag is missing");
	len = strlen(tag);
	if (len == 0)
		return sfs_error_set(err, -EINVAL, "the domain tag is empty");
	if (len > 255)
		return sfs_error_set(err, -EINVAL, "the domain tag is %zu bytes, more than 255",
				     len);
	/* Never trimmed: a verifier would prefix other bytes and every signature would fail. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tag[i];
		if (c >= 0x80 || !tag_char_ok(c))
			return sfs_error_set(err, -EINVAL,
					     "the domain tag may only contain [A-Za-z0-9._:/-] "
					     "(byte 0x%02x at offset %zu)",
					     c, i);
	}
	return 0;
}

bool sfs_domain_has_version(const char *tag)
{
	/* "ai.signing.v1", "cybermesh/ai/1", "tx:2": a digit right after a 'v' or a separator. */
	if (!tag[0])
		return false;
	for (size_t i = 1; tag[i]; i++) {
		unsigned char prev = (unsigned char)tag[i - 1];
		if (tag[i] >= '0' && tag[i] <= '9' &&
		    (prev == 'v' || prev == 'V' || strchr("._:/-", prev)))
			return true;
	}
	return false;
}
