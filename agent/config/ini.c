/* Reading the INI config file: a small line parser of our own, so every message carries its
 * line, every section header is seen, and no line is silently cut.
 *
 * The syntax is the one libinih (r55, as Debian builds it) reads, which earlier releases used:
 *   [section]                  "agent", "preflight", secret "NAME", dir "PATH"
 *   key = value   key: value   whitespace around key and value is dropped
 *   ; comment   # comment      at the start of a line (after optional indentation)
 *   value ; comment            ';' after whitespace ends a value
 *   <indented line>            continues the previous key's value: only lists may do that
 * and lines are at most 198 bytes, except lists (cut into words; a word of 197 bytes at most),
 * so no config that used to be refused for its length is now accepted, or the reverse.
 */
#include "config/config.h"
#include "config/expand.h"
#include "config/internal.h"
#include "config/keys.h"
#include "config/strlist.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LINE_MAX_BYTES 198 /* without the newline */

struct reader {
	struct config *cfg;
	struct agent_error *err;
	const char *path;
	unsigned lineno;

	bool in_section;
	enum config_section section;
	void *obj;		       /* the section's object: cfg, a secret_cfg or a dir_cfg */
	uint64_t *given;	       /* its mask of keys given */
	char label[320];	       /* "[agent]", "[secret \"x\"]": for messages */
	const struct config_key *prev; /* the last key line since the section header */
};

/* Fills the error with "FILE:LINE: " and the sentence; returns -EINVAL. */
static int fail(struct reader *rd, const char *fmt, const char *arg)
{
	return agent_error_set(rd->err, AGENT_FAIL_CONFIG, -EINVAL, "%s:%u: %s%s", rd->path,
			       rd->lineno, fmt, arg ? arg : "");
}

/* Puts "FILE:LINE: " before a sentence that some other part of the config wrote. */
static int located(struct reader *rd, int r)
{
	agent_error_prefix(rd->err, "%s:%u", rd->path, rd->lineno);
	return r;
}

static char *skip_space(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

static void trim_end(char *s)
{
	char *end = s + strlen(s);

	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
}

/* The first of `chars` in s, or of an inline comment (';' after whitespace), or the end. */
static char *find_chars_or_comment(char *s, const char *chars)
{
	bool was_space = false;

	while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

static int open_secret(struct reader *rd, const char *name, const char *origin)
{
	struct secret_cfg *s = config_add_secret(rd->cfg, name, origin, rd->err);

	if (!s)
		return located(rd, -EINVAL);
	rd->section = CONFIG_SECRET;
	rd->obj = s;
	rd->given = &s->given;
	return 0;
}

/* A [dir "PATH"] section: PATH is ${VAR}-expanded as values are. An unset variable is an error
 * here, not deferred: without its path the section has nothing to describe. */
static int open_dir(struct reader *rd, const char *path, const char *origin)
{
	struct dir_cfg *d;
	char *expanded;
	int r;

	r = config_expand(path, &expanded, rd->err);
	if (r < 0)
		return located(rd, r);
	d = config_add_dir(rd->cfg, expanded, origin, rd->err);
	free(expanded);
	if (!d)
		return located(rd, -EINVAL);
	rd->section = CONFIG_DIR;
	rd->obj = d;
	rd->given = &d->given;
	return 0;
}

/* Opens the section named between '[' and ']'. */
static int open_section(struct reader *rd, char *name)
{
	char origin[PATH_MAX + 32];
	char *arg, *end;

	name = skip_space(name);
	trim_end(name);
	rd->prev = NULL;
	if (strcmp(name, "agent") == 0 || strcmp(name, "preflight") == 0) {
		rd->in_section = true;
		rd->section = name[0] == 'a' ? CONFIG_AGENT : CONFIG_PREFLIGHT;
		rd->obj = rd->cfg;
		rd->given = &rd->cfg->given;
		snprintf(rd->label, sizeof(rd->label), "[%s]", name);
		return 0;
	}
	arg = name + strcspn(name, " \t");
	if (*arg)
		*arg++ = '\0';
	arg = skip_space(arg);
	if (strcmp(name, "secret") != 0 && strcmp(name, "dir") != 0) {
		char unknown[300];

		snprintf(unknown, sizeof(unknown), "[%s%s%s]", name, *arg ? " " : "", arg);
		return fail(rd, "unknown section ", unknown);
	}
	end = arg + strlen(arg);
	if (end - arg < 3 || arg[0] != '"' || end[-1] != '"' ||
	    memchr(arg + 1, '"', (size_t)(end - arg - 2)))
		return fail(rd,
			    name[0] == 's'
				? "a secret section needs a quoted name: [secret \"NAME\"]"
				: "a dir section needs a quoted path: [dir \"/PATH\"]",
			    NULL);
	end[-1] = '\0';
	arg++;
	snprintf(origin, sizeof(origin), "%s:%u", rd->path, rd->lineno);
	snprintf(rd->label, sizeof(rd->label), "[%s \"%s\"]", name, arg);
	rd->in_section = true;
	return name[0] == 'd' ? open_dir(rd, arg, origin) : open_secret(rd, arg, origin);
}

/* A "[...]" line; anything after ']' other than a comment is refused. */
static int section_line(struct reader *rd, char *p)
{
	char *close = strchr(p, ']');
	char *rest;

	if (!close)
		return fail(rd, "section header without ']'", NULL);
	*close = '\0';
	rest = skip_space(close + 1);
	if (*rest && *rest != ';' && *rest != '#')
		return fail(rd, "unexpected text after section header", NULL);
	return open_section(rd, p + 1);
}

/* An unset ${VAR}: the key is skipped and the variable remembered, so that config_finish can
 * tell a variable the preflight will report (it is in require_env) from a config error. */
static int defer_unset_vars(struct reader *rd, const char *value)
{
	struct agent_error unset;
	const char *next = value;
	char var[256];

	while ((next = config_next_unset_var(next, var, sizeof(var)))) {
		if (strlist_contains(&rd->cfg->unset_vars, var))
			continue;
		config_unset_var_error(var, &unset);
		agent_error_prefix(&unset, "%s:%u", rd->path, rd->lineno);
		if (strlist_push(&rd->cfg->unset_vars, var) < 0 ||
		    strlist_push(&rd->cfg->unset_msgs, unset.msg) < 0)
			return fail(rd, "out of memory", NULL);
	}
	return 0;
}

static int key_line(struct reader *rd, const char *name, const char *value, bool continuation)
{
	const struct config_key *key;
	char *expanded = NULL, msg[400];
	int r;

	if (!rd->in_section)
		return fail(rd, "key before any section: ", name);
	key = config_key_find(rd->section, name);
	if (continuation && !config_key_is_list(key))
		return fail(
		    rd, "an indented line continues the previous key, which only a list may do: ",
		    name);
	if (!key) {
		snprintf(msg, sizeof(msg), "unknown key '%s' in %s", name, rd->label);
		return fail(rd, msg, NULL);
	}
	rd->prev = key;
	r = config_expand(value, &expanded, rd->err);
	if (r == -ENOENT)
		return defer_unset_vars(rd, value);
	if (r < 0)
		return located(rd, r);
	if (!continuation && !config_key_is_list(key) && (*rd->given & config_key_bit(key))) {
		free(expanded);
		snprintf(msg, sizeof(msg), "duplicate key '%s' in %s", name, rd->label);
		return fail(rd, msg, NULL);
	}
	r = config_key_set(key, rd->obj, rd->given, expanded, rd->err);
	free(expanded);
	return r < 0 ? located(rd, r) : 0;
}

/* Whether `name` is a list key of any section (which section it is in is key_line's check). */
static bool is_list_name(const char *name)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (config_key_is_list(&config_keys[i]) && strcmp(config_keys[i].name, name) == 0)
			return true;
	return false;
}

/* Over LINE_MAX_BYTES: a comment is dropped, a list is read, anything else is refused. */
static int long_line(struct reader *rd, char *line)
{
	char *p = line + strspn(line, " \t");
	char *sep, *w;
	size_t name_len, limit;

	if (*p == ';' || *p == '#')
		return 0;
	*find_chars_or_comment(line, NULL) = '\0';
	trim_end(line);
	sep = p + strcspn(p, "=:");
	name_len = (size_t)(sep - p);
	while (name_len > 0 && isspace((unsigned char)p[name_len - 1]))
		name_len--;
	if (p != line || !*sep || name_len == 0 || name_len >= 77)
		return fail(rd, "line too long", NULL);
	p[name_len] = '\0';
	if (!is_list_name(p))
		return fail(rd, "line too long", " (198 bytes at most; only a list may be longer)");
	/* The words must each fit a line, the first one after "KEY = ". */
	limit = LINE_MAX_BYTES - (name_len + 2) - 1;
	for (w = sep + 1 + strspn(sep + 1, " \t"); *w; w += strspn(w, " \t")) {
		size_t len = strcspn(w, " \t");

		if (len > limit)
			return fail(rd, "a word is too long for one line", NULL);
		limit = LINE_MAX_BYTES - 1;
		w += len;
	}
	return key_line(rd, p, skip_space(sep + 1), false);
}

static int parse_line(struct reader *rd, char *line, size_t n)
{
	char *start, *end, *value;
	bool indented;

	/* It would end the line's text early, and what follows would silently vanish. */
	if (memchr(line, '\0', n))
		return fail(rd, "contains a NUL byte (a config file is text)", NULL);
	if (n > LINE_MAX_BYTES + 1) /* counting its newline, as libinih did */
		return long_line(rd, line);
	if (rd->lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;
	trim_end(line);
	start = skip_space(line);
	indented = start > line;
	if (*start == '\0' || *start == ';' || *start == '#')
		return 0;
	/* An indented line under a list continues it even when it starts with '[': an IPv6
	 * address ("  [::1]:9092") in a wait_tcp list, as libinih reads it too. */
	if (*start == '[' && !(indented && rd->prev && config_key_is_list(rd->prev))) {
		if (indented && rd->prev)
			return fail(rd, "section header must not be indented", NULL);
		return section_line(rd, start);
	}
	if (indented && rd->prev) {
		*find_chars_or_comment(start, NULL) = '\0';
		trim_end(start);
		return key_line(rd, rd->prev->name, start, true);
	}
	end = find_chars_or_comment(start, "=:");
	if (*end != '=' && *end != ':')
		return agent_error_set(
		    rd->err, AGENT_FAIL_CONFIG, -EINVAL,
		    "%s:%u: syntax error (expected 'key = value' or '[section]')", rd->path,
		    rd->lineno);
	*end = '\0';
	trim_end(start);
	value = end + 1;
	*find_chars_or_comment(value, NULL) = '\0';
	value = skip_space(value);
	trim_end(value);
	return key_line(rd, start, value, false);
}

int config_load_file(struct config *cfg, const char *path, struct agent_error *err)
{
	struct reader rd = {.cfg = cfg, .err = err, .path = path};
	char *line = NULL;
	size_t cap = 0;
	struct stat sb;
	ssize_t n;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -errno,
				       "cannot read config file %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode)) {
		r = agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				    "cannot read config file %s: not a regular file", path);
		goto out;
	}
	free(cfg->config_path);
	cfg->config_path = strdup(path);
	if (!cfg->config_path) {
		r = agent_error_set(err, AGENT_FAIL_CONFIG, -ENOMEM, "out of memory");
		goto out;
	}
	while (r == 0 && (n = getline(&line, &cap, f)) >= 0) {
		rd.lineno++;
		r = parse_line(&rd, line, (size_t)n);
	}
	if (r == 0 && ferror(f))
		r = agent_error_set(err, AGENT_FAIL_CONFIG, -EIO, "%s: cannot read config file: %s",
				    path, strerror(errno));
out:
	fclose(f);
	free(line);
	return r;
}
