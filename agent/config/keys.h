/* The configuration schema: one row per key, and everything that is driven by it.
 *
 * A row says where the key lives ([agent], [preflight], [secret "NAME"], [dir "PATH"]), its
 * name in the file, its command-line flag, how its value is parsed and stored (the parser
 * writes the field at `offset` of the section's object: struct config for [agent] and
 * [preflight], struct secret_cfg, struct dir_cfg), its default, whether it is a list (values
 * append, over continuation lines too) and how check-config prints it. The INI reader, the
 * flags, --secret, the defaults, the plan and `check-config --list-keys` (which the shell
 * completion and the man page are tested against) all read this one table, so adding a key is
 * one row plus its struct field.
 */
#ifndef AGENT_CONFIG_KEYS_H
#define AGENT_CONFIG_KEYS_H

#include "base/error.h"
#include "config/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum config_section { CONFIG_AGENT, CONFIG_PREFLIGHT, CONFIG_SECRET, CONFIG_DIR };

struct config_key;

/* Parses an (expanded) value into the row's field of `obj`. Returns 0 or a negative errno with
 * `err` holding one sentence without location (AGENT_FAIL_CONFIG; the caller prefixes the
 * file and line or the flag, and turns it into a usage error for the command line). */
typedef int config_parse_fn(void *obj, const struct config_key *key, const char *value,
			    struct agent_error *err);

/* Prints the row's line(s) of the plan for `obj` (NULL: another row's printer covers it). */
typedef void config_print_fn(FILE *out, const struct config *cfg, const void *obj,
			     const struct config_key *key);

enum config_key_option {
	CONFIG_KEY_LIST = 1 << 0, /* repeatable: every value appends (also continuation lines) */
};

struct config_key {
	enum config_section section;
	const char *name;	/* key in the file (and in --secret specs) */
	const char *flag;	/* "--FLAG" without the dashes, or NULL */
	const char *value;	/* what the value looks like, for --list-keys ("DURATION") */
	config_parse_fn *parse; /* the value type: how the text becomes the field */
	size_t offset;		/* the field in the section's object */
	const char *def;	/* default, written as in the file and applied by `parse` */
	unsigned options;	/* enum config_key_option */
	config_print_fn *print; /* its plan line(s) */
};

extern const struct config_key config_keys[];
extern const size_t config_nkeys;

/* The row of `name` in `section`, or NULL. */
const struct config_key *config_key_find(enum config_section section, const char *name);
/* The row whose flag is the `len` bytes at `flag`, or NULL. */
const struct config_key *config_key_find_flag(const char *flag, size_t len);

/* Whether the key is a yes/no value (its flag may then stand alone: --signal-group). */
bool config_key_takes_bool(const struct config_key *key);

static inline bool config_key_is_list(const struct config_key *key)
{
	return key && (key->options & CONFIG_KEY_LIST);
}

/* The bit of `key` in a `given` mask (struct config, secret_cfg, dir_cfg). */
uint64_t config_key_bit(const struct config_key *key);
/* Whether the key `name` of `section` is set in `given`. */
bool config_key_given(uint64_t given, enum config_section section, const char *name);

/* Parses `value` for `key` into `obj` and records it in `*given`. */
int config_key_set(const struct config_key *key, void *obj, uint64_t *given, const char *value,
		   struct agent_error *err);

/* Applies the defaults of every row of `section` to `obj`. */
void config_keys_set_defaults(enum config_section section, void *obj);

/* Prints the plan lines of every row of `section` for `obj`. */
void config_keys_print(FILE *out, const struct config *cfg, enum config_section section,
		       const void *obj);

/* Whether a secret type holds a private key (ed25519, tls-key). */
bool config_type_is_key(enum sfs_secret_type type);

/* Prints every key, one per line: "SECTION KEY FLAG VALUE [list]" ("-" for no flag), for the
 * shell completion and the man page to be checked against (check-config --list-keys). */
void config_print_keys(FILE *out);

#endif
