/* Reading the INI config file with libinih.
 *
 * Debian's libinih (r55) is built with INI_HANDLER_LINENO 0, INI_MAX_LINE 200, inline ';'
 * comments (after whitespace), multi-line continuation (an indented line after a key
 * continues it) and no callback on section headers. So we feed it through our own line
 * reader: that gives us line numbers for messages, lets us refuse over-long lines instead of
 * having inih silently split them, and lets us see every section header (an empty or repeated
 * [secret "x"] is still noticed). Section headers are interpreted here; key lines go through
 * inih to the handler below.
 */
#include "config/internal.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum section_kind { SECTION_NONE, SECTION_AGENT, SECTION_PREFLIGHT, SECTION_SECRET, SECTION_DIR };

struct ini_state {
	struct config *cfg;
	struct agent_error *err;
	FILE *file;
	const char *path;
	unsigned lineno;
	char *line;
	size_t linecap;

	bool indented; /* the current line starts with whitespace */
	bool key_seen; /* a key was given since the last section header (inih's prev_name) */
	enum section_kind kind;
	size_t index;		  /* the current secret or dir */
	char label[320];	  /* "[agent]", "[secret \"x\"]": for messages */
	unsigned long seen;	  /* keys given in the current secret/dir section */
	unsigned long seen_agent; /* [agent] and [preflight] may be split over several */
	unsigned long seen_preflight;

	char *split; /* rest of an over-long list line, fed to inih as continuation lines */

	bool failed;
	unsigned fail_line;
};

static int fail_at(struct ini_state *st, const char *fmt, const char *detail)
{
	char where[64];

	snprintf(where, sizeof(where), "%u", st->lineno);
	agent_error_set(st->err, AGENT_FAIL_CONFIG, -EINVAL, "%s:%s: %s%s", st->path, where, fmt,
			detail ? detail : "");
	st->failed = true;
	st->fail_line = st->lineno;
	return 0;
}

/* Parses the text between '[' and ']'. */
static int open_section(struct ini_state *st, char *name)
{
	char msg[CONFIG_MSG_MAX], origin[PATH_MAX + 32];
	char *arg, *end;

	while (isspace((unsigned char)*name))
		name++;
	end = name + strlen(name);
	while (end > name && isspace((unsigned char)end[-1]))
		*--end = '\0';
	st->seen = 0;
	st->key_seen = false;
	if (strcmp(name, "agent") == 0 || strcmp(name, "preflight") == 0) {
		st->kind = name[0] == 'a' ? SECTION_AGENT : SECTION_PREFLIGHT;
		snprintf(st->label, sizeof(st->label), "[%s]", name);
		return 0;
	}
	arg = name + strcspn(name, " \t");
	if (*arg)
		*arg++ = '\0';
	while (isspace((unsigned char)*arg))
		arg++;
	if (strcmp(name, "secret") != 0 && strcmp(name, "dir") != 0) {
		char unknown[300];

		snprintf(unknown, sizeof(unknown), "[%s%s%s]", name, *arg ? " " : "", arg);
		return fail_at(st, "unknown section ", unknown);
	}
	end = arg + strlen(arg);
	if (end - arg < 3 || arg[0] != '"' || end[-1] != '"' ||
	    memchr(arg + 1, '"', (size_t)(end - arg - 2)))
		return fail_at(st,
			       name[0] == 's'
				   ? "a secret section needs a quoted name: [secret \"NAME\"]"
				   : "a dir section needs a quoted path: [dir \"/PATH\"]",
			       NULL);
	end[-1] = '\0';
	arg++;
	snprintf(origin, sizeof(origin), "%s:%u", st->path, st->lineno);
	snprintf(st->label, sizeof(st->label), "[%s \"%s\"]", name, arg);
	if (name[0] == 's') {
		if (!config_add_secret(st->cfg, arg, origin, msg, sizeof(msg)))
			return fail_at(st, msg, NULL);
		st->kind = SECTION_SECRET;
		st->index = st->cfg->nsecrets - 1;
	} else {
		if (!config_add_dir(st->cfg, arg, origin, msg, sizeof(msg)))
			return fail_at(st, msg, NULL);
		st->kind = SECTION_DIR;
		st->index = st->cfg->ndirs - 1;
	}
	return 0;
}

/* Interprets a "[...]" line; anything after ']' other than a comment is refused. */
static void section_line(struct ini_state *st, char *p)
{
	char *close = strchr(p, ']');
	char *rest;

	if (!close) {
		fail_at(st, "section header without ']'", NULL);
		return;
	}
	*close = '\0';
	for (rest = close + 1; isspace((unsigned char)*rest); rest++)
		;
	if (*rest && *rest != ';' && *rest != '#') {
		fail_at(st, "unexpected text after section header", NULL);
		return;
	}
	open_section(st, p + 1);
}

/* libinih r55 strips inline comments from "key = value" lines but not from continuation
 * lines; do it here with the same rule (';' after whitespace) so both behave alike. */
static void strip_inline_comment(char *line)
{
	for (char *p = line + 1; *p; p++) {
		if (*p == ';' && isspace((unsigned char)p[-1])) {
			p[0] = '\n';
			p[1] = '\0';
			return;
		}
	}
}

/* Copies `lead` and as many words of st->split as fit into str (num bytes with '\n' and
 * NUL), leaving the rest in st->split. A continuation chunk (empty lead) starts with a space,
 * so inih and handle_key take it as a continuation of the list. */
static char *next_chunk(struct ini_state *st, char *str, int num, const char *lead)
{
	size_t room = (size_t)num - 2, used = strlen(lead), start = used;
	char *w = st->split;

	memcpy(str, lead, used);
	for (;;) {
		size_t len;

		while (*w == ' ' || *w == '\t')
			w++;
		if (!*w)
			break;
		len = strcspn(w, " \t");
		if (used + 1 + len > room) {
			if (used == start) {
				fail_at(st, "a word is too long for one line", NULL);
				return NULL;
			}
			break;
		}
		str[used++] = ' ';
		memcpy(str + used, w, len);
		used += len;
		w += len;
	}
	st->split = *w ? w : NULL;
	st->indented = (*lead == '\0');
	str[used++] = '\n';
	str[used] = '\0';
	return str;
}

/* libinih r55 reads at most INI_MAX_LINE bytes per line and would take the rest of a longer
 * line as a line of its own. A long comment is dropped here; a long list (require_env, ...)
 * is cut into continuation lines at word boundaries; anything else is refused. */
static char *split_long_line(struct ini_state *st, char *str, int num)
{
	char *p = st->line, *sep, *end;
	char lead[80];
	size_t name_len;

	p += strspn(p, " \t");
	if (*p == ';' || *p == '#') {
		strcpy(str, "\n");
		return str;
	}
	strip_inline_comment(st->line);
	end = st->line + strlen(st->line);
	while (end > st->line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	sep = p + strcspn(p, "=:");
	name_len = (size_t)(sep - p);
	while (name_len > 0 && isspace((unsigned char)p[name_len - 1]))
		name_len--;
	if (p != st->line || !*sep || name_len == 0 || name_len >= sizeof(lead) - 3) {
		fail_at(st, "line too long", NULL);
		return NULL;
	}
	snprintf(lead, sizeof(lead), "%.*s =", (int)name_len, p);
	lead[name_len] = '\0';
	if (!config_key_is_list(lead)) {
		char why[96];

		snprintf(why, sizeof(why), " (%d bytes at most; only a list may be longer)",
			 num - 2);
		fail_at(st, "line too long", why);
		return NULL;
	}
	lead[name_len] = ' ';
	st->split = sep + 1;
	return next_chunk(st, str, num, lead);
}

static char *read_line(char *str, int num, void *stream)
{
	struct ini_state *st = stream;
	ssize_t n;
	char *p;

	if (st->failed)
		return NULL;
	if (st->split)
		return next_chunk(st, str, num, "");
	n = getline(&st->line, &st->linecap, st->file);
	if (n < 0) {
		if (ferror(st->file)) {
			agent_error_set(st->err, AGENT_FAIL_CONFIG, -EINVAL,
					"%s: cannot read config file: %s", st->path,
					strerror(errno));
			st->failed = true;
			st->fail_line = st->lineno + 1;
		}
		return NULL;
	}
	st->lineno++;
	if (n > num - 1)
		return split_long_line(st, str, num);
	p = st->line;
	if (st->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	st->indented = isspace((unsigned char)*p) != 0;
	while (isspace((unsigned char)*p))
		p++;
	memcpy(str, st->line, (size_t)n + 1);
	if (st->indented && st->key_seen && *p && *p != ';' && *p != '#' && *p != '[')
		strip_inline_comment(str);
	if (*p == '[') {
		if (st->indented && st->key_seen) {
			fail_at(st, "section header must not be indented", NULL);
			return NULL;
		}
		section_line(st, p);
		if (st->failed)
			return NULL;
	}
	return str;
}

/* An unset ${VAR}: the key is skipped and the variable remembered, so that config_finish can
 * tell a variable the preflight will report (it is in require_env) from a config error. */
static int defer_unset_vars(struct ini_state *st, const char *value)
{
	char full[CONFIG_MSG_MAX + PATH_MAX + 32], var[256];
	const char *next = value;

	st->key_seen = true;
	while ((next = config_next_unset_var(next, var, sizeof(var)))) {
		bool known = false;

		for (size_t i = 0; i < st->cfg->unset_vars.n && !known; i++)
			known = strcmp(st->cfg->unset_vars.items[i], var) == 0;
		if (known)
			continue;
		/* The sentence config_expand would have given for this variable. */
		snprintf(full, sizeof(full),
			 "%s:%u: environment variable %s is not set (referenced as ${%s}; use "
			 "${%s:-default} for a default)",
			 st->path, st->lineno, var, var, var);
		if (strlist_push(&st->cfg->unset_vars, var) < 0 ||
		    strlist_push(&st->cfg->unset_msgs, full) < 0)
			return fail_at(st, "out of memory", NULL);
	}
	return 1;
}

static int handle_key(void *user, const char *section, const char *name, const char *value)
{
	struct ini_state *st = user;
	char msg[CONFIG_MSG_MAX];
	bool continuation = st->indented && st->key_seen;
	unsigned long *seen;
	char *expanded = NULL, var[256];
	int index = -1, r;

	(void)section;
	if (st->failed)
		return 1;
	if (st->kind == SECTION_NONE)
		return fail_at(st, "key before any section: ", name);
	if (continuation && !config_key_is_list(name))
		return fail_at(st,
			       "an indented line continues the previous key, which only a list "
			       "may do: ",
			       name);
	r = config_expand(value, &expanded, msg, sizeof(msg));
	if (r < 0 && config_next_unset_var(value, var, sizeof(var)))
		return defer_unset_vars(st, value);
	if (r < 0)
		return fail_at(st, msg, NULL);
	switch (st->kind) {
	case SECTION_AGENT:
		seen = &st->seen_agent;
		r = config_set_agent_key(st->cfg, name, expanded, &index, msg, sizeof(msg));
		break;
	case SECTION_PREFLIGHT:
		seen = &st->seen_preflight;
		r = config_set_preflight_key(st->cfg, name, expanded, &index, msg, sizeof(msg));
		break;
	case SECTION_SECRET:
		seen = &st->seen;
		r = config_set_secret_key(&st->cfg->secrets[st->index], name, expanded, &index, msg,
					  sizeof(msg));
		break;
	default:
		seen = &st->seen;
		r = config_set_dir_key(&st->cfg->dirs[st->index], name, expanded, &index, msg,
				       sizeof(msg));
		break;
	}
	free(expanded);
	if (r == -ENOENT) {
		snprintf(msg, sizeof(msg), "unknown key '%s' in %s", name, st->label);
		return fail_at(st, msg, NULL);
	}
	if (index >= 0 && !continuation && (*seen & (1UL << index)) && !config_key_is_list(name)) {
		snprintf(msg, sizeof(msg), "duplicate key '%s' in %s", name, st->label);
		return fail_at(st, msg, NULL);
	}
	if (r < 0)
		return fail_at(st, msg, NULL);
	if (index >= 0)
		*seen |= 1UL << index;
	st->key_seen = true;
	return 1;
}

int config_load_file(struct config *cfg, const char *path, struct agent_error *err)
{
	struct ini_state st = {.cfg = cfg, .err = err, .path = path};
	struct stat sb;
	int r = -EINVAL, parsed;

	st.file = fopen(path, "re");
	if (!st.file) {
		agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL, "cannot read config file %s: %s",
				path, strerror(errno));
		goto out;
	}
	if (fstat(fileno(st.file), &sb) < 0 || !S_ISREG(sb.st_mode)) {
		agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				"cannot read config file %s: not a regular file", path);
		goto out;
	}
	free(cfg->config_path);
	cfg->config_path = strdup(path);
	if (!cfg->config_path) {
		agent_error_set(err, AGENT_FAIL_CONFIG, -ENOMEM, "out of memory");
		goto out;
	}
	parsed = ini_parse_stream(read_line, &st, handle_key, &st);
	if (parsed > 0 && (!st.failed || (unsigned)parsed < st.fail_line)) {
		agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				"%s:%d: syntax error (expected 'key = value' or "
				"'[section]')",
				path, parsed);
		goto out;
	}
	if (st.failed)
		goto out;
	if (parsed < 0) {
		agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				"%s: cannot parse config file (out of memory)", path);
		goto out;
	}
	r = 0;
out:
	if (st.file)
		fclose(st.file);
	free(st.line);
	return r;
}
