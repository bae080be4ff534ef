/* libFuzzer harness: the metrics registry rendered for /metrics, and `secret-agent status`'s
 * reading of that rendering. The input is a program: secrets with config-valid names, types,
 * fingerprints, writes with certificates whose subjects are arbitrary bytes, rotations by
 * result, notifications by action (arbitrary bytes too), restarts and readiness.
 *
 * Invariants, beyond no crash/leak/UB:
 *  - the rendering is text format 0.0.4: "# HELP"/"# TYPE" comments, and sample lines
 *    name{label="value",...} value, label values UTF-8 with \\ \" \n escaped and no other
 *    escape, no series twice, every line ended by a line feed;
 *  - status's reading (its --json document) gives back every secret by name with its type,
 *    fingerprint, last write, rotation counts, rejected flag and certificates (subjects and
 *    notAfter), the notification counts by action, the restarts and readiness;
 *  - the input itself, read by status as a /metrics body, is read without crash or UB. */
#include "agent_entry.h"

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SECRETS 8
#define MAX_CERTS   3
#define MAX_ACTIONS 4

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned byte(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint64_t bytes(struct input *in, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | byte(in);
	return v;
}

/* Up to max bytes, as many as the next byte says, without NUL. */
static void field(struct input *in, char *out, size_t max)
{
	size_t n = byte(in) % (max + 1), k = 0;

	while (n-- && in->left) {
		unsigned c = byte(in);
		if (c)
			out[k++] = (char)c;
	}
	out[k] = '\0';
}

struct cert {
	char subject[512];
	long long not_after;
};

struct secret {
	char name[65];
	const char *type;
	char fingerprint[72];
	bool written;
	double when;
	struct cert certs[MAX_CERTS];
	size_t ncerts;
	uint64_t rotations[3];
	bool rejected;
};

struct action {
	char name[3 * 16 + 1];
	uint64_t ok, failed;
};

static const char *const TYPES[] = {"opaque", "ed25519", "x509", "tls-cert", "tls-key"};

/* The length of the well-formed UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0], len, min;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (unsigned k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if ((k = utf8_len(s + i, n - i)) == 0)
			return false;
	return true;
}

/* What a label value reads back as: bytes outside UTF-8 become U+FFFD (out: 3x + 1). */
static void utf8_fixed(const char *in, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), k;

	for (size_t i = 0; i < n; i += k ? k : 1) {
		k = utf8_len(s + i, n - i);
		if (k == 0) {
			memcpy(out, "\xef\xbf\xbd", 3);
			out += 3;
		} else {
			memcpy(out, s + i, k);
			out += k;
		}
	}
	*out = '\0';
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void fail(const char *why, const char *line)
{
	fprintf(stderr, "metrics: %s: %.300s\n", why, line);
	abort();
}

/* Checks one sample line; *series_end receives where the value begins (minus the space). */
static void check_sample(const char *line, const char **series_end)
{
	const char *p = line;
	char *end;

	if (!name_char(*p, true))
		fail("bad metric name", line);
	while (name_char(*p, false))
		p++;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (!name_char(*p, true))
				fail("bad label name", line);
			while (name_char(*p, false))
				p++;
			if (p[0] != '=' || p[1] != '"')
				fail("label without =\"", line);
			for (p += 2; *p != '"'; p++) {
				if (!*p)
					fail("unterminated label value", line);
				if (*p == '\\') {
					p++;
					if (*p != '\\' && *p != '"' && *p != 'n')
						fail("bad escape", line);
				}
			}
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				fail("label not followed by , or }", line);
		}
		p++;
	}
	*series_end = p;
	if (*p != ' ')
		fail("no space before the value", line);
	p++;
	if (strcmp(p, "+Inf") && strcmp(p, "-Inf") && strcmp(p, "NaN")) {
		(void)strtod(p, &end);
		if (end == p || *end != '\0')
			fail("bad value", line);
	}
}

static void check_format(char *text, size_t len)
{
	char **series = NULL;
	size_t nseries = 0;

	if (strlen(text) != len || len == 0 || text[len - 1] != '\n')
		fail("not NUL-free text ended by a line feed", text);
	if (!utf8_ok((const unsigned char *)text, len))
		fail("not UTF-8", text);
	for (char *line = text, *nl; *line; line = nl + 1) {
		const char *end;

		nl = strchr(line, '\n');
		*nl = '\0';
		if (line[0] == '#') {
			if (strncmp(line, "# HELP ", 7) && strncmp(line, "# TYPE ", 7))
				fail("comment other than HELP/TYPE", line);
			continue;
		}
		check_sample(line, &end);
		series = realloc(series, (nseries + 1) * sizeof(*series));
		if (!series)
			abort();
		series[nseries] = strndup(line, (size_t)(end - line));
		if (!series[nseries++])
			abort();
	}
	qsort(series, nseries, sizeof(*series), cmp_str);
	for (size_t i = 0; i < nseries; i++) {
		if (i > 0 && strcmp(series[i - 1], series[i]) == 0)
			fail("series twice", series[i]);
	}
	for (size_t i = 0; i < nseries; i++)
		free(series[i]);
	free(series);
	/* Undo the splitting for the reader that follows. */
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\0')
			text[i] = '\n';
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail("json has no key", key);
	return v;
}

static void check_secret(json_object *o, const struct secret *s)
{
	json_object *rot = get(o, "rotations"), *certs = get(o, "certificates");
	const char *type = json_object_get_string(get(o, "type"));
	const char *fp = json_object_get_string(get(o, "fingerprint"));
	static const char *const results[] = {"applied", "rejected", "unchanged"};

	if (s->written) {
		if (strcmp(type ? type : "", s->type) != 0)
			fail("type differs", s->name);
		if (strcmp(fp ? fp : "", s->fingerprint) != 0)
			fail("fingerprint differs", s->name);
		if (fabs(json_object_get_double(get(o, "last_write_seconds")) - s->when) > 0.001)
			fail("last write differs", s->name);
	} else if (json_object_get_type(get(o, "last_write_seconds")) != json_type_null) {
		fail("unwritten secret has a last write", s->name);
	}
	for (int r = 0; r < 3; r++)
		if ((uint64_t)json_object_get_int64(get(rot, results[r])) != s->rotations[r])
			fail("rotation count differs", s->name);
	if (json_object_get_boolean(get(o, "rejected")) != s->rejected)
		fail("rejected differs", s->name);
	if (json_object_array_length(certs) != (s->written ? s->ncerts : 0))
		fail("certificate count differs", s->name);
	for (size_t k = 0; k < json_object_array_length(certs); k++) {
		json_object *c = json_object_array_get_idx(certs, k);
		const char *subject = json_object_get_string(get(c, "subject"));

		if (json_object_get_int(get(c, "index")) != (int)k ||
		    json_object_get_int64(get(c, "not_after_seconds")) != s->certs[k].not_after)
			fail("certificate differs", s->name);
		char want[3 * sizeof(s->certs[k].subject)];

		utf8_fixed(s->certs[k].subject, want);
		/* status keeps 639 bytes of a label. */
		if (strlen(want) < 640 && strcmp(subject, want) != 0)
			fail("subject differs", s->certs[k].subject);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct secret secrets[MAX_SECRETS] = {0};
	struct action actions[MAX_ACTIONS] = {0};
	size_t nsecrets = 0, nactions = 0;
	struct fuzz_metrics *m;
	struct fuzz_cert fc[MAX_CERTS];
	unsigned restarts, expiring, expired;
	bool ready;
	char *text, *json;
	size_t len;
	json_object *root, *arr, *notif;

	if (fuzz_metrics_new(&m, "1.2.3") < 0)
		abort();
	while (in.left) {
		unsigned op = byte(&in) % 4;
		struct secret *s;

		if (op == 0 && nsecrets < MAX_SECRETS) {
			/* A config-valid name: bytes mapped onto the name alphabet. */
			static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
						       "QRSTUVWXYZ0123456789._:@+-";
			char name[65];
			size_t n = 1 + byte(&in) % 64;

			for (size_t i = 0; i < n; i++)
				name[i] = alphabet[byte(&in) % (sizeof(alphabet) - 1)];
			name[n] = '\0';
			if (!fuzz_secret_name_ok(name))
				abort();
			for (s = secrets; s < secrets + nsecrets && strcmp(s->name, name); s++)
				;
			if (s == secrets + nsecrets) {
				memcpy(s->name, name, n + 1);
				s->type = TYPES[byte(&in) % 5];
				nsecrets++;
				if (fuzz_metrics_declare(m, s->name, s->type) < 0)
					abort();
			}
		} else if (op == 1 && nsecrets) {
			s = &secrets[byte(&in) % nsecrets];
			s->type = TYPES[byte(&in) % 5];
			s->fingerprint[0] = '\0';
			if (byte(&in) & 1) {
				uint64_t a = bytes(&in, 8), b = bytes(&in, 8);
				snprintf(s->fingerprint, sizeof(s->fingerprint),
					 "%016llx%016llx%016llx%016llx", (unsigned long long)a,
					 (unsigned long long)b, (unsigned long long)(a ^ b),
					 (unsigned long long)~a);
			}
			s->when = (double)bytes(&in, 4) + (double)(bytes(&in, 2) % 1000) / 1000.0;
			s->ncerts = byte(&in) % (MAX_CERTS + 1);
			for (size_t k = 0; k < s->ncerts; k++) {
				/* ASN.1 times: year 0 to 9999. */
				field(&in, s->certs[k].subject, 255);
				s->certs[k].not_after =
				    (long long)(bytes(&in, 5) % 315569520000ull) - 62167219200ll;
				fc[k].subject = s->certs[k].subject;
				fc[k].not_after = s->certs[k].not_after;
			}
			s->written = true;
			if (fuzz_metrics_written(m, s->name, s->type, s->fingerprint, fc, s->ncerts,
						 s->when) < 0)
				abort();
		} else if (op == 2 && nsecrets) {
			unsigned b = byte(&in);
			s = &secrets[b % nsecrets];
			int r = (int)((b >> 4) % 3);
			s->rotations[r]++;
			s->rejected = r == 1;
			if (fuzz_metrics_rotation(m, s->name, r) < 0)
				abort();
		} else if (op == 3) {
			char raw[17], name[3 * 16 + 1];
			bool ok = byte(&in) & 1;
			struct action *a;

			field(&in, raw, 16);
			utf8_fixed(raw, name);
			for (a = actions; a < actions + nactions && strcmp(a->name, name); a++)
				;
			if (a == actions + nactions) {
				if (nactions == MAX_ACTIONS)
					continue;
				snprintf(a->name, sizeof(a->name), "%s", name);
				nactions++;
			}
			if (ok)
				a->ok++;
			else
				a->failed++;
			if (fuzz_metrics_notification(m, raw, ok) < 0)
				abort();
		}
	}
	ready = size % 2;
	restarts = size % 5;
	expiring = (unsigned)(size % 7);
	expired = (unsigned)(size % 3);
	fuzz_metrics_misc(m, ready, restarts, expiring, expired);

	if (fuzz_metrics_render(m, &text, &len) < 0)
		abort();
	check_format(text, len);
	if (fuzz_status_metrics_json(text, ready, &json) < 0)
		abort();
	root = json_tokener_parse(json);
	if (!root)
		fail("status --json does not parse", json);
	if (strcmp(json_object_get_string(get(root, "version")), "1.2.3") != 0 ||
	    json_object_get_boolean(get(root, "ready")) != ready ||
	    json_object_get_int64(get(root, "child_restarts")) != restarts)
		fail("version, readiness or restarts differ", json);
	arr = get(root, "secrets");
	if (json_object_array_length(arr) != nsecrets)
		fail("secret count differs", json);
	for (size_t i = 0; i < nsecrets; i++) {
		json_object *o = NULL;

		for (size_t j = 0; j < json_object_array_length(arr) && !o; j++) {
			json_object *c = json_object_array_get_idx(arr, j);
			if (strcmp(json_object_get_string(get(c, "name")), secrets[i].name) == 0)
				o = c;
		}
		if (!o)
			fail("secret missing", secrets[i].name);
		check_secret(o, &secrets[i]);
	}
	notif = get(root, "notifications");
	for (size_t i = 0; i < nactions; i++) {
		json_object *counts = get(notif, actions[i].name);

		if ((uint64_t)json_object_get_int64(get(counts, "ok")) != actions[i].ok ||
		    (uint64_t)json_object_get_int64(get(counts, "failed")) != actions[i].failed)
			fail("notification counts differ", actions[i].name);
	}
	if ((size_t)json_object_object_length(notif) != nactions)
		fail("notification actions differ", json);
	json_object_put(root);
	free(json);
	free(text);
	fuzz_metrics_free(m);

	/* The same input as a /metrics body from an agent that is not ours: read without harm. */
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (fuzz_status_metrics_json(text, false, &json) < 0)
		abort();
	free(json);
	free(text);
	return 0;
}
