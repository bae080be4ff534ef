#include "pem_armor.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define BEGIN_PREFIX "-----BEGIN "
#define END_PREFIX   "-----END "
#define DASHES	     "-----"

struct line {
	const char *p;
	size_t len;
};

static bool next_line(const char *text, size_t len, size_t *pos, struct line *l)
{
	const char *nl;

	if (*pos >= len)
		return false;
	l->p = text + *pos;
	nl = memchr(l->p, '\n', len - *pos);
	l->len = nl ? (size_t)(nl - l->p) : len - *pos;
	*pos += l->len + (nl ? 1 : 0);
	return true;
}

static bool starts_with(const struct line *l, const char *prefix)
{
	size_t n = strlen(prefix);
	return l->len >= n && memcmp(l->p, prefix, n) == 0;
}

static bool is_blank_line(const struct line *l)
{
	for (size_t i = 0; i < l->len; i++)
		if (l->p[i] != ' ' && l->p[i] != '\t')
			return false;
	return true;
}

/* Extracts the label of "-----BEGIN LABEL-----"; labels are printable ASCII without '-' at
 * either end (RFC 7468 §3). */
static int parse_label(const struct line *l, const char *prefix, char label[SFS_PEM_LABEL_MAX + 1],
		       struct sfs_error *err)
{
	size_t plen = strlen(prefix), dlen = strlen(DASHES), n;
	const char *what = prefix[5] == 'B' ? "BEGIN" : "END";

	if (l->len < plen + dlen || memcmp(l->p + l->len - dlen, DASHES, dlen) != 0)
		return sfs_error_set(err, -EINVAL, "malformed PEM %s line", what);
	n = l->len - plen - dlen;
	if (n == 0 || n > SFS_PEM_LABEL_MAX)
		return sfs_error_set(err, -EINVAL, "malformed PEM %s line (bad label length)",
				     what);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l->p[plen + i];
		if (c < 0x20 || c > 0x7e)
			return sfs_error_set(err, -EINVAL, "malformed PEM %s line (bad label)",
					     what);
	}
	if (l->p[plen] == '-' || l->p[plen + n - 1] == '-' || l->p[plen] == ' ')
		return sfs_error_set(err, -EINVAL, "malformed PEM %s line", what);
	memcpy(label, l->p + plen, n);
	label[n] = '\0';
	return 0;
}

int sfs_pem_next(const char *text, size_t len, size_t *pos, struct sfs_pem_block *blk,
		 bool *text_after, struct sfs_error *err)
{
	struct line l;
	bool outside_text = false;
	int r;

	memset(blk, 0, sizeof(*blk));
	*text_after = false;
	for (;;) {
		if (!next_line(text, len, pos, &l)) {
			*text_after = outside_text;
			return 0;
		}
		if (starts_with(&l, "-----BEGIN"))
			break;
		if (starts_with(&l, "-----END"))
			return sfs_error_set(err, -EINVAL, "PEM END line without a BEGIN line");
		if (!is_blank_line(&l))
			outside_text = true;
	}
	if (!starts_with(&l, BEGIN_PREFIX))
		return sfs_error_set(err, -EINVAL, "malformed PEM BEGIN line");
	r = parse_label(&l, BEGIN_PREFIX, blk->label, err);
	if (r < 0)
		return r;
	blk->text_before = outside_text;
	blk->body = text + *pos;
	for (;;) {
		size_t line_start = *pos;

		if (!next_line(text, len, pos, &l))
			return sfs_error_set(err, -EINVAL, "PEM block '%s' has no END line",
					     blk->label);
		if (starts_with(&l, "-----BEGIN"))
			return sfs_error_set(err, -EINVAL,
					     "PEM BEGIN line inside block '%s' (missing END line)",
					     blk->label);
		if (starts_with(&l, "-----END")) {
			if (!starts_with(&l, END_PREFIX))
				return sfs_error_set(err, -EINVAL, "malformed PEM END line");
			r = parse_label(&l, END_PREFIX, blk->end_label, err);
			if (r < 0)
				return r;
			blk->body_len = (size_t)(text + line_start - blk->body);
			return 1;
		}
		if (memchr(l.p, ':', l.len))
			blk->has_headers = true;
	}
}

int sfs_pem_body_decode(const struct sfs_pem_block *blk, struct sfs_secret *out,
			struct sfs_error *err)
{
	struct sfs_secret b64 = {0};
	size_t bin_len = 0;
	const char *end = NULL;
	int r;

	r = sfs_secret_alloc(&b64, blk->body_len + 1, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < blk->body_len; i++)
		if (blk->body[i] != '\n')
			b64.data[b64.len++] = (unsigned char)blk->body[i];
	if (b64.len == 0) {
		r = sfs_error_set(err, -EINVAL, "PEM block '%s' has an empty body", blk->label);
		goto out;
	}
	r = sfs_secret_alloc(out, b64.len / 4 * 3 + 3, err);
	if (r < 0)
		goto out;
	if (sodium_base642bin(out->data, out->cap, (const char *)b64.data, b64.len, NULL, &bin_len,
			      &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != (const char *)b64.data + b64.len || bin_len == 0) {
		r = sfs_error_set(err, -EINVAL, "PEM block '%s' body is not valid base64",
				  blk->label);
		goto out;
	}
	out->len = bin_len;
	r = 0;
out:
	sfs_secret_free(&b64);
	return r;
}

static int reserve(struct sfs_secret *s, size_t extra, struct sfs_error *err)
{
	struct sfs_secret bigger = {0};
	int r;

	if (s->data && s->len + extra <= s->cap)
		return 0;
	r = sfs_secret_alloc(&bigger, (s->len + extra) * 2, err);
	if (r < 0)
		return r;
	if (s->len)
		memcpy(bigger.data, s->data, s->len);
	bigger.len = s->len;
	sfs_secret_free(s);
	*s = bigger;
	return 0;
}

int sfs_pem_encode_append(const char *label, const unsigned char *der, size_t der_len,
			  struct sfs_secret *out, struct sfs_error *err)
{
	struct sfs_secret b64 = {0};
	size_t b64_len = sodium_base64_ENCODED_LEN(der_len, sodium_base64_VARIANT_ORIGINAL);
	size_t label_len = strlen(label), body_len;
	int r;

	r = sfs_secret_alloc(&b64, b64_len, err);
	if (r < 0)
		goto out;
	sodium_bin2base64((char *)b64.data, b64_len, der, der_len, sodium_base64_VARIANT_ORIGINAL);
	body_len = strlen((const char *)b64.data);
	r = reserve(out, 2 * (label_len + 16) + body_len + body_len / 64 + 8, err);
	if (r < 0)
		goto out;
	out->len += (size_t)sprintf((char *)out->data + out->len, "-----BEGIN %s-----\n", label);
	for (size_t off = 0; off < body_len; off += 64) {
		size_t n = body_len - off < 64 ? body_len - off : 64;
		memcpy(out->data + out->len, b64.data + off, n);
		out->len += n;
		out->data[out->len++] = '\n';
	}
	out->len += (size_t)sprintf((char *)out->data + out->len, "-----END %s-----\n", label);
	r = 0;
out:
	sfs_secret_free(&b64);
	return r;
}
