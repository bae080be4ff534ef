/* PEM armor (RFC 7468) over normalised text: finding blocks, strict body decoding, and
 * writing canonical PEM (LF, 64-column body).
 *
 * The scanner is ours because OpenSSL's PEM reader is lenient (it skips junk,
 * extra blocks and, for certificates, PRIVATE KEY blocks).
 */
#ifndef SFS_PEM_ARMOR_H
#define SFS_PEM_ARMOR_H

#include "secret_fs/error.h"
#include "secret_fs/secure_mem.h"

#include <stdbool.h>
#include <stddef.h>

#define SFS_PEM_LABEL_MAX 64

struct sfs_pem_block {
	char label[SFS_PEM_LABEL_MAX + 1];     /* BEGIN label */
	char end_label[SFS_PEM_LABEL_MAX + 1]; /* END label (may differ: the caller refuses) */
	const char *body;		       /* lines between BEGIN and END, inside the text */
	size_t body_len;
	bool has_headers; /* a "Name: value" line (Proc-Type, DEK-Info) inside the block */
	bool text_before; /* non-blank text between the previous block (or start) and BEGIN */
};

/* Finds the next block in `text[*pos..len)` and advances *pos past its END line.
 * Returns 1 with *blk filled, 0 when no block is left (*text_after tells whether non-blank
 * text remains), or -EINVAL for a broken structure (BEGIN without END, malformed lines). */
int sfs_pem_next(const char *text, size_t len, size_t *pos, struct sfs_pem_block *blk,
		 bool *text_after, struct sfs_error *err);

/* Decodes a block body: lines joined, canonical base64 (libsodium ORIGINAL variant, fully
 * consumed). `out` (secure memory) is allocated here and freed by the caller. Returns 0,
 * -EINVAL or -ENOMEM. */
int sfs_pem_body_decode(const struct sfs_pem_block *blk, struct sfs_secret *out,
			struct sfs_error *err);

/* Appends the canonical PEM of `der` under `label` to `out`, growing it as needed (secure
 * memory). Returns 0 or -ENOMEM. */
int sfs_pem_encode_append(const char *label, const unsigned char *der, size_t der_len,
			  struct sfs_secret *out, struct sfs_error *err);

#endif
