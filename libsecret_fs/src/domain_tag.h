/* Domain-separation tag helpers beyond the public syntax check. */
#ifndef SFS_DOMAIN_TAG_H
#define SFS_DOMAIN_TAG_H

#include <stdbool.h>

/* True when the tag carries a version ("v1", "/1", ":2"...): a tag without one cannot be
 * rotated to a new protocol version without ambiguity, hence the warning. */
bool sfs_domain_has_version(const char *tag);

#endif
