/* libFuzzer harness: arbitrary bytes as the INI config file: the line reader, libinih, ${VAR}
 * expansion (against a fixed environment), every key setter and the final checks, then the
 * check-config plan.
 *
 * The plan is not INI, so "the plan parses again" is checked through a translation: every
 * plan line says one resolved setting, and is written back as the INI key that sets exactly
 * that (owners as numeric uid/gid, modes and durations in the plan's spelling, '$' doubled).
 * Invariants, beyond no crash/leak/UB:
 *   1. Parsing is a function of the bytes: a second parse gives the same plan or message.
 *   2. Round trip: a config that passes the final checks prints a plan whose INI translation
 *      passes too and prints the same plan (origins and the file name aside).
 *      Skipped when a value has no INI spelling (surrounding spaces, " ;", control bytes).
 */
#include "agent_entry.h"
#include "fuzz_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct text {
	char *buf;
	size_t len;
};

/* Runs the adapter on `path`: the plan on success, else the message (both in `out`). */
static int plan_of(const char *path, struct text *out)
{
	char msg[1024] = "";
	FILE *f = open_memstream(&out->buf, &out->len);
	int r;

	if (!f)
		abort();
	r = fuzz_config_plan(path, f, msg, sizeof(msg));
	if (r < 0)
		fputs(msg, f);
	fclose(f);
	return r;
}

/* Appends "key = value" when the value has an INI spelling. */
static bool put_key(FILE *ini, const char *key, const char *value)
{
	char spelled[512];

	if (!fuzz_ini_value(value, spelled, sizeof(spelled)))
		return false;
	fprintf(ini, "%s = %s\n", key, spelled);
	return true;
}

/* A list one item per line: the first after "key =", the others as indented continuation
 * lines (items never hold whitespace). */
static bool put_list(FILE *ini, const char *key, char *items)
{
	char spelled[512], *save = NULL;
	bool first = true;

	/* An indented line starting with '#' or ';' is a comment, for inih as for any INI. */
	if (strstr(items, " #") || strstr(items, " ;"))
		return put_key(ini, key, items);
	for (char *w = strtok_r(items, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (!fuzz_ini_value(w, spelled, sizeof(spelled)))
			return false;
		fprintf(ini, first ? "%s = %s\n" : "%.0s  %s\n", key, spelled);
		first = false;
	}
	return true;
}

/* "KEY: VALUE" of an indented plan line into key/value (pointers into `line`). */
static bool split_plan_line(char *line, char **key, char **value)
{
	char *colon;

	if (strncmp(line, "  ", 2) != 0)
		return false;
	*key = line + 2;
	colon = strstr(*key, ": ");
	if (!colon)
		return false;
	*colon = '\0';
	*value = colon + 2;
	return true;
}

/* Strips a suffix that starts at the last occurrence of `marker`. */
static void cut_at_last(char *s, const char *marker)
{
	char *last = NULL;

	for (char *p = strstr(s, marker); p; p = strstr(p + 1, marker))
		last = p;
	if (last)
		*last = '\0';
}

/* One indented plan line as INI; false when it cannot be written. */
static bool translate_key(FILE *ini, char *key, char *value)
{
	unsigned uid, gid;

	if (strcmp(key, "origin") == 0 || strcmp(key, "notify_pidfile") == 0)
		return true;
	if (strcmp(key, "user") == 0) {
		if (strncmp(value, "none (", 6) == 0)
			return true;
		cut_at_last(value, " (uid ");
		return put_key(ini, "user", value);
	}
	if (strcmp(key, "group") == 0 && strstr(value, " (gid ")) {
		cut_at_last(value, " (gid ");
		return put_key(ini, "group", value);
	}
	if (strcmp(key, "source") == 0)
		return put_key(ini, "from", value);
	if (strcmp(key, "target") == 0)
		return strcmp(value, "validated in place") == 0 || put_key(ini, "to", value);
	if (strcmp(key, "owner") == 0) {
		if (sscanf(value, "uid %u gid %u", &uid, &gid) != 2)
			return false;
		fprintf(ini, "owner = %u\ngroup = %u\n", uid, gid);
		return true;
	}
	if (strcmp(key, "domain") == 0 || strcmp(key, "key_id") == 0)
		return strcmp(value, "none") == 0 || put_key(ini, key, "fuzz.value");
	if (strncmp(key, "require_", 8) == 0 || strncmp(key, "wait_", 5) == 0)
		return strcmp(value, "none") == 0 || put_list(ini, key, value);
	/* "0 (inotify only)", "0 (never)" */
	if (strncmp(value, "0 (", 3) == 0)
		value[1] = '\0';
	return put_key(ini, key, value);
}

/* The plan as an INI file; false when some line has no INI spelling. */
static bool plan_to_ini(const char *plan, FILE *ini)
{
	char *copy = strdup(plan), *save = NULL;
	bool ok = true;

	if (!copy)
		abort();
	for (char *line = strtok_r(copy, "\n", &save); ok && line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		char *key, *value;

		if (strncmp(line, "config: ", 8) == 0 || strncmp(line, "secrets: ", 9) == 0)
			continue;
		if (strcmp(line, "agent:") == 0 || strcmp(line, "preflight:") == 0) {
			fprintf(ini, "[%.*s]\n", (int)len - 1, line);
		} else if (strncmp(line, "secret ", 7) == 0 && line[len - 1] == ':') {
			fprintf(ini, "[secret \"%.*s\"]\n", (int)len - 8, line + 7);
		} else if (strncmp(line, "dir ", 4) == 0 && line[len - 1] == ':') {
			/* [dir] names expand ${VAR} like values: a '$' is spelled "$$". */
			fputs("[dir \"", ini);
			for (const char *c = line + 4; c < line + len - 1; c++)
				fputs(*c == '$' ? "$$" : (char[]){*c, '\0'}, ini);
			fputs("\"]\n", ini);
		} else if (split_plan_line(line, &key, &value)) {
			ok = translate_key(ini, key, value);
		} else {
			ok = false;
		}
	}
	free(copy);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const skip[] = {"config: ", "origin: ", NULL};
	static bool initialised;
	struct text first = {0}, again = {0}, ini = {0}, replan = {0};
	const char *path;
	int r;

	if (!initialised) {
		/* A fixed environment for ${VAR}: set, empty, with spaces and a '$'. */
		setenv("FUZZ_HOST", "127.0.0.1:6379", 1);
		setenv("FUZZ_EMPTY", "", 1);
		setenv("FUZZ_WORDS", "A B", 1);
		setenv("FUZZ_DOLLAR", "$x", 1);
		setenv("FUZZ_USER", "root", 1);
		setenv("FUZZ_DIR", "/run/fuzz", 1);
		unsetenv("FUZZ_UNSET");
		initialised = true;
	}
	path = fuzz_write_file("agent.ini", data, size);
	r = plan_of(path, &first);
	path = fuzz_write_file("agent.ini", data, size);
	if (plan_of(path, &again) != r || again.len != first.len ||
	    memcmp(again.buf, first.buf, first.len) != 0)
		abort(); /* invariant 1 */
	if (r == 0) {
		FILE *f = open_memstream(&ini.buf, &ini.len);

		if (!f)
			abort();
		if (plan_to_ini(first.buf, f)) {
			fclose(f);
			path = fuzz_write_file("replan.ini", ini.buf, ini.len);
			if (plan_of(path, &replan) != 0 ||
			    !fuzz_same_lines(first.buf, replan.buf, skip)) {
				fprintf(stderr,
					"round trip failed:\n--- plan\n%s--- as INI\n%s--- "
					"gives\n%s\n",
					first.buf, ini.buf, replan.buf);
				abort(); /* invariant 2 */
			}
		} else {
			fclose(f);
		}
	}
	free(first.buf);
	free(again.buf);
	free(ini.buf);
	free(replan.buf);
	return 0;
}
