#include "pem_normalize.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool has_begin_marker(const unsigned char *p, size_t len)
{
	return memmem(p, len, "-----BEGIN", 10) != NULL;
}

/* Step 1: a BOM is an editor artefact. */
static void strip_bom(struct sfs_secret *s, struct sfs_warnings *w)
{
	if (s->len >= 3 && memcmp(s->data, "\xef\xbb\xbf", 3) == 0) {
		memmove(s->data, s->data + 3, s->len - 3);
		s->len -= 3;
		sfs_warn(w, "UTF-8 byte order mark removed");
	}
}

/* Control bytes other than whitespace mean the value is not text. */
static int check_bytes(struct sfs_secret *s, struct sfs_error *err)
{
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = s->data[i];
		if (c == 0)
			return sfs_error_set(err, -EINVAL, "contains a NUL byte at offset %zu", i);
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
			return sfs_error_set(
			    err, -EINVAL, "contains control character 0x%02x at offset %zu", c, i);
	}
	return 0;
}

/* Step 2. Trailing whitespace (a file's final newline) is not worth a warning. */
static void trim_outer(struct sfs_secret *s, struct sfs_warnings *w)
{
	size_t start = 0, end = s->len;

	while (start < end && is_blank(s->data[start]))
		start++;
	while (end > start && is_blank(s->data[end - 1]))
		end--;
	if (start > 0)
		sfs_warn(w, "leading whitespace removed");
	if (end - start >= 2 && (s->data[start] == '"' || s->data[start] == '\'') &&
	    s->data[end - 1] == s->data[start]) {
		start++;
		end--;
		while (start < end && is_blank(s->data[start]))
			start++;
		while (end > start && is_blank(s->data[end - 1]))
			end--;
		sfs_warn(w, "outer quotes removed");
	}
	memmove(s->data, s->data + start, end - start);
	s->len = end - start;
}

/* Step 3: a value pasted into a single-line variable often carries `\n` escapes. When real
 * newlines exist too, the value was mangled in a way we cannot undo with certainty. */
static int unescape_newlines(struct sfs_secret *s, struct sfs_warnings *w, struct sfs_error *err)
{
	bool real_newline = memchr(s->data, '\n', s->len) || memchr(s->data, '\r', s->len);
	size_t in = 0, out = 0;
	bool converted = false;

	if (!memchr(s->data, '\\', s->len))
		return 0;
	if (real_newline)
		return sfs_error_set(err, -EINVAL,
				     "literal \\n sequences (or other backslashes) in a value that "
				     "also has real newlines");
	while (in < s->len) {
		if (s->data[in] != '\\') {
			s->data[out++] = s->data[in++];
			continue;
		}
		if (in + 1 < s->len && s->data[in + 1] == 'n') {
			in += 2;
		} else if (in + 3 < s->len && memcmp(s->data + in, "\\r\\n", 4) == 0) {
			in += 4;
		} else {
			return sfs_error_set(err, -EINVAL,
					     "unexpected backslash at offset %zu (only literal \\n "
					     "sequences are understood)",
					     in);
		}
		s->data[out++] = '\n';
		converted = true;
	}
	s->len = out;
	if (converted)
		sfs_warn(w, "literal \\n sequences converted to newlines");
	return 0;
}

/* Step 4: CRLF/CR to LF, and every line trimmed (YAML block indentation). */
static void normalize_lines(struct sfs_secret *s, struct sfs_warnings *w)
{
	size_t in = 0, out = 0, line_start = 0;
	bool had_cr = false, trimmed = false;

	while (in < s->len) {
		unsigned char c = s->data[in++];
		bool eol = false;

		if (c == '\r') {
			had_cr = true;
			if (in < s->len && s->data[in] == '\n')
				in++;
			eol = true;
		} else if (c == '\n') {
			eol = true;
		}
		if (!eol) {
			/* Leading blanks of a line are dropped as they come. */
			if (out == line_start && (c == ' ' || c == '\t')) {
				trimmed = true;
				continue;
			}
			s->data[out++] = c;
			continue;
		}
		while (out > line_start && (s->data[out - 1] == ' ' || s->data[out - 1] == '\t')) {
			out--;
			trimmed = true;
		}
		s->data[out++] = '\n';
		line_start = out;
	}
	while (out > line_start && (s->data[out - 1] == ' ' || s->data[out - 1] == '\t')) {
		out--;
		trimmed = true;
	}
	/* A final newline (a file's, or a converted literal one) carries nothing. */
	while (out > 0 && s->data[out - 1] == '\n')
		out--;
	s->len = out;
	if (had_cr)
		sfs_warn(w, "CRLF or CR line endings converted to LF");
	if (trimmed)
		sfs_warn(w, "indentation and trailing spaces removed from lines");
}

/* Step 5: a whole PEM base64-encoded once more (a common way to fit it in one line). The
 * wrapping may itself be line-wrapped. Accepted only when the result is PEM. */
static int unwrap_base64(struct sfs_secret *s, struct sfs_secret *decoded, struct sfs_error *err)
{
	struct sfs_secret compact = {0};
	size_t bin_len = 0;
	const char *end = NULL;
	int r;

	r = sfs_secret_alloc(&compact, s->len + 1, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < s->len; i++)
		if (!is_blank(s->data[i]))
			compact.data[compact.len++] = s->data[i];
	r = sfs_secret_alloc(decoded, compact.len + 1, err);
	if (r < 0)
		goto out;
	if (sodium_base642bin(decoded->data, decoded->cap, (const char *)compact.data, compact.len,
			      NULL, &bin_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != (const char *)compact.data + compact.len || bin_len == 0) {
		r = sfs_error_set(err, -EINVAL,
				  "no PEM block found (not PEM, and not base64-encoded PEM)");
		goto out;
	}
	decoded->len = bin_len;
	if (!has_begin_marker(decoded->data, decoded->len)) {
		r = sfs_error_set(err, -EINVAL,
				  "no PEM block found (the value is base64 but does not decode to "
				  "PEM)");
		goto out;
	}
	r = 0;
out:
	sfs_secret_free(&compact);
	return r;
}

/* Steps 1-3 peel layers a value picked up on its way (a BOM behind leading blank lines, quotes
 * around quotes, a `\n` escape that becomes a leading newline), so they repeat until nothing
 * more comes off: normalising a normalised value must change nothing. Each step only ever
 * shrinks the value, so an unchanged length means a fixed point. */
static int normalize_text(struct sfs_secret *s, struct sfs_warnings *w, struct sfs_error *err)
{
	size_t before;
	int r = check_bytes(s, err);

	if (r < 0)
		return r;
	do {
		before = s->len;
		strip_bom(s, w);
		trim_outer(s, w);
		if (s->len == 0)
			return sfs_error_set(err, -EINVAL, "the value is empty");
		r = unescape_newlines(s, w, err);
		if (r < 0)
			return r;
	} while (s->len != before);
	normalize_lines(s, w);
	return 0;
}

int sfs_pem_normalize(const unsigned char *in, size_t len, size_t max_bytes, struct sfs_secret *out,
		      struct sfs_warnings *w, struct sfs_error *err)
{
	struct sfs_secret decoded = {0};
	int r;

	if (len == 0)
		return sfs_error_set(err, -EINVAL, "the value is empty");
	/* Normalisation only shrinks text (base64 decoding too), so a first bound on the raw size
	 * keeps absurd inputs out before any work. */
	if (len > max_bytes * 2 + 64)
		return sfs_error_set(err, -EINVAL, "is %zu bytes, more than the %zu allowed", len,
				     max_bytes);
	r = sfs_secret_from(out, in, len, err);
	if (r < 0)
		goto out;
	r = normalize_text(out, w, err);
	if (r < 0)
		goto out;
	if (!has_begin_marker(out->data, out->len)) {
		r = unwrap_base64(out, &decoded, err);
		if (r < 0)
			goto out;
		sfs_secret_free(out);
		*out = decoded;
		decoded = (struct sfs_secret){0};
		sfs_warn(w, "base64-wrapped PEM decoded");
		r = normalize_text(out, w, err);
		if (r < 0)
			goto out;
	}
	if (out->len > max_bytes) {
		r = sfs_error_set(err, -EINVAL,
				  "is %zu bytes after normalisation, more than the %zu allowed",
				  out->len, max_bytes);
		goto out;
	}
	r = 0;
out:
	sfs_secret_free(&decoded);
	return r;
}
