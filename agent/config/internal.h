/* Shared between the config_*.c files only: the key setters used by both the INI reader and
 * the flags, ${VAR} expansion, and small helpers. Not for other modules (use config.h).
 *
 * Setters return 0, -ENOENT for a key the section does not have (the caller words "unknown
 * key"), or -EINVAL/-ENOMEM with `msg` holding one sentence without location; the caller
 * prefixes "FILE:LINE: " or the flag name and picks the failure class (struct agent_error).
 */
#ifndef AGENT_CONFIG_INTERNAL_H
#define AGENT_CONFIG_INTERNAL_H

#include "config/config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define CONFIG_MSG_MAX 768

/* snprintf into msg and return `code` (a negative errno). */
int config_msg(char *msg, size_t msgsize, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Lists */
int strlist_push(struct strlist *l, const char *item);
/* Appends the words of `text`, split on whitespace (and on commas when `commas`). */
int strlist_append_words(struct strlist *l, const char *text, bool commas);
void strlist_free(struct strlist *l);

/* Values */
int config_parse_bool(const char *s, bool *out);
/* "signal:NAME" | "restart" | "exec:/abs/path" | "none" */
int config_parse_on_change(struct config *cfg, const char *s, char *msg, size_t msgsize);
/* "100ms", "5s", "2m", "0": the shortest exact form, for the plan. */
void config_format_duration(uint64_t ms, char *buf, size_t bufsize);
/* "SIGHUP" for 1, or the number. */
void config_format_signal(int sig, char *buf, size_t bufsize);
/* [A-Za-z0-9._:@+-]{1,64}: names appear in logs, messages and `cert =`/`ca =` references. */
bool config_secret_name_ok(const char *name);

/* Sections */
struct secret_cfg *config_add_secret(struct config *cfg, const char *name, const char *origin,
				     char *msg, size_t msgsize);
struct dir_cfg *config_add_dir(struct config *cfg, const char *path, const char *origin, char *msg,
			       size_t msgsize);
struct secret_cfg *config_find_secret(const struct config *cfg, const char *name);

/* Keys. `index_out` (may be NULL) receives the key's position in its section's table, so
 * the INI reader can refuse a key given twice. */
bool config_key_is_list(const char *key);
int config_set_agent_key(struct config *cfg, const char *key, const char *value, int *index_out,
			 char *msg, size_t msgsize);
int config_set_preflight_key(struct config *cfg, const char *key, const char *value, int *index_out,
			     char *msg, size_t msgsize);
int config_set_secret_key(struct secret_cfg *s, const char *key, const char *value, int *index_out,
			  char *msg, size_t msgsize);
int config_set_dir_key(struct dir_cfg *d, const char *key, const char *value, int *index_out,
		       char *msg, size_t msgsize);

/* ${VAR} / ${VAR:-default} / $$ expansion against the environment. Returns 0 with *out
 * (heap) or -EINVAL (unset variable, bad reference: msg names it) or -ENOMEM. */
int config_expand(const char *in, char **out, char *msg, size_t msgsize);
/* Finds the next ${VAR} (without default) in `in` whose variable is unset: fills `name` and
 * returns where to continue, or NULL when there is none. */
const char *config_next_unset_var(const char *in, char *name, size_t namesize);

#endif
