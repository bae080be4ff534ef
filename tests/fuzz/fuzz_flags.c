/* libFuzzer harness: the command-line flags shared by run/materialize/watch/check-config,
 * including --secret name=...,from=...,to=... specs, then the final checks and the plan.
 * The input is the argument vector, one argument per line (at most 32); an input starting
 * with '!' parses as a command without --notify-pidfile. --config is left out (it would read
 * whatever file the input names), as is SECRET_AGENT_CONFIG.
 *
 * Invariants, beyond no crash/leak/UB:
 *   1. Parsing is a function of the arguments: a second parse gives the same plan or message
 *      and stops at the same argument.
 *   2. Parsing stops within the vector.
 *   3. A message about one --secret ("--secret NAME: ...") names a secret given by name=.
 *   4. Flags and file agree: when every argument is a --secret spec and they pass, the same
 *      secrets written as [secret "NAME"] sections of an INI file pass too, with the same
 *      plan (origins aside). Skipped when a value has no INI spelling.
 */
#include "agent_entry.h"
#include "fuzz_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 32

struct run {
	char *buf;
	size_t len;
	int r;
	int consumed;
};

static void parse(int argc, char **argv, bool allow_notify, struct run *out)
{
	char msg[1024] = "";
	FILE *f = open_memstream(&out->buf, &out->len);

	if (!f)
		abort();
	out->r = fuzz_flags_plan(argc, argv, allow_notify, &out->consumed, f, msg, sizeof(msg));
	if (out->r < 0)
		fputs(msg, f);
	fclose(f);
}

/* The value of name= in a --secret spec (the last one wins for this check), or NULL. */
static const char *spec_name(const char *spec, char *buf, size_t bufsize)
{
	const char *found = NULL;

	for (const char *p = spec; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (strncmp(p, "name=", 5) == 0) {
			size_t n = strcspn(p + 5, ",");

			if (n >= bufsize)
				return NULL;
			memcpy(buf, p + 5, n);
			buf[n] = '\0';
			found = buf;
		}
	}
	return found;
}

/* The spec of argv[i] when it is a --secret flag (advancing *i past a separate value). */
static const char *secret_spec(int argc, char **argv, int *i)
{
	if (strncmp(argv[*i], "--secret=", 9) == 0)
		return argv[*i] + 9;
	if (strcmp(argv[*i], "--secret") == 0 && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static void check_message_names_secret(int argc, char **argv, const char *msg)
{
	if (strncmp(msg, "--secret ", 9) != 0 || strncmp(msg, "--secret '", 10) == 0 ||
	    strncmp(msg, "--secret needs ", 15) == 0)
		return;
	/* Any argument may be the spec, whole or after "--secret=" (a flag may have taken
	 * "--secret" or "--secret=..." as its value). */
	for (int i = 0; i < 2 * argc; i++) {
		char name[128];
		const char *arg = argv[i / 2];
		const char *spec = i % 2 == 0			       ? arg
				   : strncmp(arg, "--secret=", 9) == 0 ? arg + 9
								       : NULL;
		const char *n = spec ? spec_name(spec, name, sizeof(name)) : NULL;

		if (n && strncmp(msg + 9, n, strlen(n)) == 0 &&
		    strncmp(msg + 9 + strlen(n), ": ", 2) == 0)
			return;
	}
	fprintf(stderr, "message does not name a secret given by name=: %s\n", msg);
	abort();
}

/* The --secret specs as INI sections; false when one cannot be written. */
static bool specs_to_ini(int argc, char **argv, FILE *ini)
{
	for (int i = 0; i < argc; i++) {
		const char *spec = secret_spec(argc, argv, &i);
		char *copy, *save = NULL, value[512];
		bool ok = true;

		if (!spec)
			return false;
		copy = strdup(spec);
		if (!copy)
			abort();
		for (char *item = strtok_r(copy, ",", &save); ok && item;
		     item = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(item, '=');

			*eq = '\0'; /* the spec passed: every item is key=value */
			if (strcmp(item, "name") == 0)
				fprintf(ini, "[secret \"%s\"]\n", eq + 1);
		}
		strcpy(copy, spec);
		for (char *item = strtok_r(copy, ",", &save); ok && item;
		     item = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(item, '=');

			*eq = '\0';
			if (strcmp(item, "name") == 0)
				continue;
			ok = fuzz_ini_value(eq + 1, value, sizeof(value));
			if (ok)
				fprintf(ini, "%s = %s\n", item, value);
		}
		free(copy);
		if (!ok)
			return false;
	}
	return true;
}

static void check_flags_match_file(int argc, char **argv, const struct run *flags)
{
	static const char *const skip[] = {"config: ", "origin: ", NULL};
	char *ini = NULL, *plan = NULL, msg[1024] = "";
	size_t ini_len = 0, plan_len = 0;
	FILE *f = open_memstream(&ini, &ini_len);
	bool whole;
	int r;

	if (!f)
		abort();
	whole = specs_to_ini(argc, argv, f);
	fclose(f);
	if (whole && ini_len > 0) {
		const char *path = fuzz_write_file("secrets.ini", ini, ini_len);

		f = open_memstream(&plan, &plan_len);
		if (!f)
			abort();
		r = fuzz_config_plan(path, f, msg, sizeof(msg));
		fclose(f);
		if (r < 0 || !fuzz_same_lines(flags->buf, plan, skip)) {
			fprintf(stderr,
				"flags and file disagree:\n--- flags give\n%s\n--- as INI\n%s"
				"--- gives\n%s%s\n",
				flags->buf, ini, plan, msg);
			abort(); /* invariant 4 */
		}
	}
	free(ini);
	free(plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool initialised;
	char *args[MAX_ARGS + 1], *copy;
	struct run first = {0}, again = {0};
	bool allow_notify = true;
	int argc = 0;

	if (!initialised) {
		unsetenv("SECRET_AGENT_CONFIG");
		setenv("FUZZ_KEY", "not a key", 1);
		initialised = true;
	}
	if (size > 0 && data[0] == '!') {
		allow_notify = false;
		data++;
		size--;
	}
	copy = malloc(size + 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *p = copy; argc < MAX_ARGS && p && (size_t)(p - copy) < size;) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		args[argc++] = p;
		p = nl ? nl + 1 : NULL;
	}
	args[argc] = NULL;
	for (int i = 0; i < argc; i++)
		if (strncmp(args[i], "--config", 8) == 0)
			goto out;

	parse(argc, args, allow_notify, &first);
	parse(argc, args, allow_notify, &again);
	if (first.r != again.r || first.consumed != again.consumed || first.len != again.len ||
	    memcmp(first.buf, again.buf, first.len) != 0)
		abort(); /* invariant 1 */
	if (first.consumed < 0 || first.consumed > argc)
		abort(); /* invariant 2 */
	if (first.r < 0)
		check_message_names_secret(argc, args, first.buf); /* invariant 3 */
	else if (first.consumed == argc)
		check_flags_match_file(argc, args, &first); /* invariant 4 */
out:
	free(again.buf);
	free(first.buf);
	free(copy);
	return 0;
}
