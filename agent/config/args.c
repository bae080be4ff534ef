/* Command-line flags shared by run, materialize, watch and check-config.
 *
 * Two passes: the first checks the shape of the command line (unknown flags, missing values:
 * exit 64) and finds --config; the file is loaded; the second pass applies the flags over it,
 * so a flag wins wherever --config appears. A malformed flag value is a usage error (64), not
 * a config error (78): the fix is on the command line. Flag values are not ${VAR}-expanded:
 * the shell that built the command line already did that.
 */
#include "config/config.h"
#include "config/internal.h"
#include "config/keys.h"
#include "config/values.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Command-line options that are not config keys; every other flag is a key's (keys.c). */
enum flag_kind {
	FLAG_CONFIG, /* --config FILE */
	FLAG_SECRET, /* --secret name=...,from=... */
	FLAG_NOTIFY, /* --notify-pidfile FILE (watch only) */
	FLAG_KEY,    /* a key's flag */
};

static const struct {
	const char *name;
	enum flag_kind kind;
} options[] = {
    {"config", FLAG_CONFIG},
    {"secret", FLAG_SECRET},
    {"notify-pidfile", FLAG_NOTIFY},
};

/* One flag occurrence: which flag, its value (NULL for a bare boolean). */
struct occurrence {
	enum flag_kind kind;
	const char *name;
	const struct config_key *key; /* FLAG_KEY */
	const char *value;
};

static bool find_flag(const char *name, size_t len, struct occurrence *occ)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0) {
			occ->kind = options[i].kind;
			occ->name = options[i].name;
			occ->key = NULL;
			return true;
		}
	}
	occ->key = config_key_find_flag(name, len);
	if (!occ->key)
		return false;
	occ->kind = FLAG_KEY;
	occ->name = occ->key->flag;
	return true;
}

static bool is_option(const char *arg)
{
	return arg[0] == '-' && arg[1] != '\0';
}

/* Reads the flag at argv[*i] (advancing past its value). Returns 0 or -EINVAL with err
 * (AGENT_FAIL_USAGE). */
static int next_flag(int argc, char **argv, int *i, bool allow_notify, struct occurrence *occ,
		     struct agent_error *err)
{
	const char *arg = argv[*i];
	const char *name = arg + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);

	if (strncmp(arg, "--", 2) != 0 || len == 0)
		return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL, "unknown option '%s'", arg);
	if (!find_flag(name, len, occ) || (occ->kind == FLAG_NOTIFY && !allow_notify))
		return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL, "unknown option '--%.*s'",
				       (int)len, name);
	if (eq) {
		occ->value = eq + 1;
	} else if (occ->kind == FLAG_KEY && config_key_takes_bool(occ->key)) {
		bool ignored;

		/* "--signal-group no" must not leave "no" behind as the command to run. */
		if (*i + 1 < argc && config_parse_bool(argv[*i + 1], &ignored) == 0)
			occ->value = argv[++*i];
		else
			occ->value = NULL;
	} else {
		if (*i + 1 >= argc)
			return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
					       "option '--%s' needs a value", occ->name);
		occ->value = argv[++*i];
	}
	(*i)++;
	return 0;
}

/* Makes a --secret error a usage error under "--secret NAME: ". */
static int secret_usage_error(struct agent_error *err, const char *name, int r)
{
	err->failure = AGENT_FAIL_USAGE;
	agent_error_prefix(err, "--secret %s", name);
	return r;
}

/* "name=a,from=env:X,to=/p": values cannot contain commas (docs/secret-agent.1.scd, OPTIONS). */
static int apply_secret_flag(struct config *cfg, const char *spec, struct agent_error *err)
{
	char *copy = strdup(spec);
	char *save = NULL, *name = NULL;
	struct secret_cfg *s;
	uint64_t seen = 0;
	int r = 0;

	if (!copy)
		return agent_error_set(err, AGENT_FAIL_USAGE, -ENOMEM, "out of memory");
	/* The name is needed first (it creates the secret), wherever it appears. It gets its own
	 * copy: the items are cut out of `copy` a second time below. */
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (strncmp(item, "name=", 5) != 0)
			continue;
		if (name) {
			r = agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
					    "--secret '%s': name given twice", spec);
			goto out;
		}
		name = strdup(item + 5);
		if (!name) {
			r = agent_error_set(err, AGENT_FAIL_USAGE, -ENOMEM, "out of memory");
			goto out;
		}
	}
	if (!name) {
		r = agent_error_set(
		    err, AGENT_FAIL_USAGE, -EINVAL,
		    "--secret needs name=NAME (e.g. name=key,from=env:VAR,to=/path), got '%s'",
		    spec);
		goto out;
	}
	s = config_add_secret(cfg, name, "--secret", err);
	if (!s) {
		err->failure = AGENT_FAIL_USAGE;
		agent_error_prefix(err, "--secret");
		r = -EINVAL;
		goto out;
	}
	strcpy(copy, spec);
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		const struct config_key *key;
		char *eq = strchr(item, '=');

		if (!eq) {
			r = agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
					    "--secret %s: '%s' is not key=value", name, item);
			goto out;
		}
		*eq = '\0';
		if (strcmp(item, "name") == 0)
			continue;
		key = config_key_find(CONFIG_SECRET, item);
		if (!key) {
			r = agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
					    "--secret %s: unknown key '%s'", name, item);
			goto out;
		}
		/* As in the file: a key given twice is refused, not silently the last one. */
		if (seen & config_key_bit(key)) {
			r = agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
					    "--secret %s: '%s' given twice", name, item);
			goto out;
		}
		seen |= config_key_bit(key);
		r = config_key_set(key, s, &s->given, eq + 1, err);
		if (r < 0) {
			secret_usage_error(err, name, r);
			goto out;
		}
	}
out:
	free(name);
	free(copy);
	return r;
}

static int apply_flag(struct config *cfg, const struct occurrence *occ, struct agent_error *err)
{
	const char *value = occ->value ? occ->value : "yes";
	int r;

	switch (occ->kind) {
	case FLAG_CONFIG:
		return 0;
	case FLAG_SECRET:
		return apply_secret_flag(cfg, occ->value, err);
	case FLAG_NOTIFY:
		if (!*value)
			return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
					       "--notify-pidfile needs a path");
		free(cfg->notify_pidfile);
		cfg->notify_pidfile = strdup(value);
		return cfg->notify_pidfile
			   ? 0
			   : agent_error_set(err, AGENT_FAIL_USAGE, -ENOMEM, "out of memory");
	case FLAG_KEY:
		break;
	}
	r = config_key_set(occ->key, cfg, &cfg->given, value, err);
	if (r < 0) {
		err->failure = AGENT_FAIL_USAGE;
		agent_error_prefix(err, "--%s", occ->name);
	}
	return r;
}

bool config_args_want_help(int argc, char **argv, int idx)
{
	for (int i = idx; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0 || !is_option(argv[i]))
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

int config_parse_args(struct config *cfg, int argc, char **argv, int *idx,
		      bool allow_notify_pidfile, struct agent_error *err)
{
	const char *config_file = NULL;
	struct occurrence occ;
	int i, end, r;

	/* Pass 1: shape of the command line, and where the config file is. */
	for (i = *idx; i < argc && is_option(argv[i]) && strcmp(argv[i], "--") != 0;) {
		r = next_flag(argc, argv, &i, allow_notify_pidfile, &occ, err);
		if (r < 0)
			return r;
		if (occ.kind == FLAG_CONFIG) {
			if (config_file)
				return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
						       "--config given twice");
			if (!*occ.value)
				return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
						       "--config needs a file name");
			config_file = occ.value;
		}
	}
	end = i;
	if (!config_file) {
		const char *from_env = getenv("SECRET_AGENT_CONFIG");

		if (from_env && *from_env)
			config_file = from_env;
	}
	if (config_file) {
		r = config_load_file(cfg, config_file, err);
		if (r < 0)
			return r;
	}

	/* Pass 2: flags over the file. */
	for (i = *idx; i < end;) {
		r = next_flag(argc, argv, &i, allow_notify_pidfile, &occ, err);
		if (r < 0)
			return r;
		r = apply_flag(cfg, &occ, err);
		if (r < 0)
			return r;
	}
	if (end < argc && strcmp(argv[end], "--") == 0)
		end++;
	*idx = end;
	return 0;
}
