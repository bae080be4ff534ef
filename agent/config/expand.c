/* ${VAR} expansion of config values from the environment.
 *
 *   ${VAR}            the variable's value; unset is an error naming VAR (an empty value is
 *                     kept: the key's own check decides whether empty is allowed)
 *   ${VAR:-default}   the value, or `default` (literal text, no '}') when unset or empty,
 *                     as in the shell
 *   $$                a literal '$' (the escape, as in docker-compose and systemd; a
 *                     backslash is kept as it is so Windows-free paths and regexes pass)
 *   $ followed by anything else is kept literally.
 * The expanded text is not expanded again, so a value cannot inject another reference.
 */
#include "config/expand.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	char *data;
	size_t len, cap;
};

static int buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *grown = realloc(b->data, cap);

		if (!grown)
			return -ENOMEM;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static bool var_name_ok(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Expands one "${...}" starting at `ref` (pointing at '$'); *consumed gets its length. */
int config_unset_var_error(const char *name, struct agent_error *err)
{
	return agent_error_set(err, AGENT_FAIL_CONFIG, -ENOENT,
			       "environment variable %s is not set (referenced as ${%s}; use "
			       "${%s:-default} for a default)",
			       name, name, name);
}

static int expand_reference(const char *ref, struct buf *b, size_t *consumed,
			    struct agent_error *err)
{
	const char *body = ref + 2;
	const char *close = strchr(body, '}');
	const char *sep, *value;
	size_t name_len;
	char name[256];

	if (!close)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "unterminated '${' in value");
	sep = strstr(body, ":-");
	if (sep && sep > close)
		sep = NULL;
	name_len = (size_t)((sep ? sep : close) - body);
	if (!var_name_ok(body, name_len) || name_len >= sizeof(name))
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "invalid variable reference '${%.*s}'", (int)(close - body),
				       body);
	memcpy(name, body, name_len);
	name[name_len] = '\0';
	*consumed = (size_t)(close + 1 - ref);

	value = getenv(name);
	if (sep) {
		if (!value || !*value)
			return buf_put(b, sep + 2, (size_t)(close - (sep + 2)));
		return buf_put(b, value, strlen(value));
	}
	if (!value)
		return config_unset_var_error(name, err);
	return buf_put(b, value, strlen(value));
}

const char *config_next_unset_var(const char *in, char *name, size_t namesize)
{
	for (const char *p = strstr(in, "${"); p; p = strstr(p + 2, "${")) {
		const char *body = p + 2, *close = strchr(body, '}'), *sep = strstr(body, ":-");
		size_t len;

		if (p > in && p[-1] == '$')
			continue; /* "$${" is an escaped dollar followed by text */
		if (!close)
			break;
		if (sep && sep < close)
			continue; /* has a default */
		len = (size_t)(close - body);
		if (!var_name_ok(body, len) || len >= namesize)
			continue;
		memcpy(name, body, len);
		name[len] = '\0';
		if (!getenv(name))
			return close + 1;
	}
	return NULL;
}

int config_expand(const char *in, char **out, struct agent_error *err)
{
	struct buf b = {NULL, 0, 0};
	const char *p = in;
	int r = 0;

	r = buf_put(&b, "", 0);
	if (r < 0)
		goto out;
	while (*p) {
		const char *dollar = strchr(p, '$');
		size_t consumed = 0;

		if (!dollar) {
			r = buf_put(&b, p, strlen(p));
			break;
		}
		r = buf_put(&b, p, (size_t)(dollar - p));
		if (r < 0)
			break;
		if (dollar[1] == '$') {
			r = buf_put(&b, "$", 1);
			p = dollar + 2;
		} else if (dollar[1] == '{') {
			r = expand_reference(dollar, &b, &consumed, err);
			p = dollar + consumed;
		} else {
			r = buf_put(&b, "$", 1);
			p = dollar + 1;
		}
		if (r < 0)
			break;
	}
out:
	if (r == -ENOMEM)
		agent_error_set(err, AGENT_FAIL_CONFIG, r, "out of memory");
	if (r < 0) {
		free(b.data);
		return r;
	}
	*out = b.data;
	return 0;
}
