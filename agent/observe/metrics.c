#include "observe/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct secret_entry {
	char *name;
	char *type;
	char *fingerprint; /* NULL until written */
	bool written;
	double last_write;
	uint64_t rotations[3]; /* by enum rotation_result */
	bool rejected;
	struct observed_cert *certs;
	size_t ncerts;
};

struct notification_entry {
	char *action;
	uint64_t ok, failed;
};

struct metrics {
	char *version;
	bool ready;
	struct secret_entry *secrets;
	size_t nsecrets;
	struct notification_entry *notifications;
	size_t nnotifications;
	uint64_t child_restarts;
	unsigned certs_expiring, certs_expired;
};

static const char *const rotation_result_names[] = {
    [ROTATION_APPLIED] = "applied",
    [ROTATION_REJECTED] = "rejected",
    [ROTATION_UNCHANGED] = "unchanged",
};

/* The length of the well-formed UTF-8 sequence at `s` (1 to 4), or 0 when it is not one
 * (stray continuation, overlong form, surrogate, beyond U+10FFFF, cut short). */
static size_t utf8_sequence(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
			   ? 4
			   : 0;
	}
	return 0;
}

/* A copy of `v` as it is rendered: each byte outside well-formed UTF-8 replaced by U+FFFD.
 * Keys that would render alike are one key. NULL on -ENOMEM. */
static char *utf8_copy(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	char *out = malloc(3 * strlen(v) + 1), *o = out;

	if (!out)
		return NULL;
	while (*p) {
		size_t n = utf8_sequence(p);

		if (n == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		} else {
			memcpy(o, p, n);
			o += n;
			p += n;
		}
	}
	*o = '\0';
	return out;
}

int metrics_new(struct metrics **out, const char *version)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->version = strdup(version ? version : "");
	if (!m->version) {
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nsecrets; i++) {
		free(m->secrets[i].name);
		free(m->secrets[i].type);
		free(m->secrets[i].fingerprint);
		free(m->secrets[i].certs);
	}
	for (size_t i = 0; i < m->nnotifications; i++)
		free(m->notifications[i].action);
	free(m->secrets);
	free(m->notifications);
	free(m->version);
	free(m);
}

static struct secret_entry *find_secret(struct metrics *m, const char *name)
{
	for (size_t i = 0; i < m->nsecrets; i++)
		if (strcmp(m->secrets[i].name, name) == 0)
			return &m->secrets[i];
	return NULL;
}

/* Finds or adds the entry of `name`; the type is set when given. NULL on -ENOMEM. */
static struct secret_entry *secret_entry(struct metrics *m, const char *name, const char *type)
{
	struct secret_entry *e = find_secret(m, name), *grown;
	char *t;

	if (!e) {
		grown = realloc(m->secrets, (m->nsecrets + 1) * sizeof(*grown));
		if (!grown)
			return NULL;
		m->secrets = grown;
		e = &m->secrets[m->nsecrets];
		*e = (struct secret_entry){.name = strdup(name)};
		if (!e->name)
			return NULL;
		m->nsecrets++;
	}
	if (type && (!e->type || strcmp(e->type, type) != 0)) {
		t = strdup(type);
		if (!t)
			return NULL;
		free(e->type);
		e->type = t;
	}
	return e;
}

int metrics_secret_declare(struct metrics *m, const char *secret, const char *type)
{
	if (!m || !secret)
		return -EINVAL;
	return secret_entry(m, secret, type) ? 0 : -ENOMEM;
}

int metrics_secret_written(struct metrics *m, const char *secret, const char *type,
			   const char *fingerprint, const struct observed_cert *certs,
			   size_t ncerts, double when)
{
	struct secret_entry *e;
	struct observed_cert *copy = NULL;
	char *fp;

	if (!m || !secret)
		return -EINVAL;
	e = secret_entry(m, secret, type);
	if (!e)
		return -ENOMEM;
	fp = strdup(fingerprint ? fingerprint : "");
	if (!fp)
		return -ENOMEM;
	if (ncerts > 0) {
		copy = malloc(ncerts * sizeof(*copy));
		if (!copy) {
			free(fp);
			return -ENOMEM;
		}
		memcpy(copy, certs, ncerts * sizeof(*copy));
	}
	free(e->fingerprint);
	e->fingerprint = fp;
	free(e->certs);
	e->certs = copy;
	e->ncerts = ncerts;
	e->written = true;
	e->last_write = when;
	return 0;
}

int metrics_rotation(struct metrics *m, const char *secret, enum rotation_result result)
{
	struct secret_entry *e;

	if (!m || !secret || (unsigned)result > ROTATION_UNCHANGED)
		return -EINVAL;
	e = secret_entry(m, secret, NULL);
	if (!e)
		return -ENOMEM;
	e->rotations[result]++;
	/* The gauge follows the newest version seen: refused, or accepted (written or not). */
	e->rejected = result == ROTATION_REJECTED;
	return 0;
}

int metrics_notification(struct metrics *m, const char *action, bool ok)
{
	struct notification_entry *e = NULL, *grown;
	char *key;

	if (!m || !action)
		return -EINVAL;
	/* By the label it renders as: two actions that render alike are one series. */
	key = utf8_copy(action);
	if (!key)
		return -ENOMEM;
	for (size_t i = 0; i < m->nnotifications && !e; i++)
		if (strcmp(m->notifications[i].action, key) == 0)
			e = &m->notifications[i];
	if (!e) {
		grown = realloc(m->notifications, (m->nnotifications + 1) * sizeof(*grown));
		if (!grown) {
			free(key);
			return -ENOMEM;
		}
		m->notifications = grown;
		e = &m->notifications[m->nnotifications++];
		*e = (struct notification_entry){.action = key};
		key = NULL;
	}
	free(key);
	if (ok)
		e->ok++;
	else
		e->failed++;
	return 0;
}

void metrics_child_restart(struct metrics *m)
{
	if (m)
		m->child_restarts++;
}

void metrics_set_ready(struct metrics *m, bool ready)
{
	if (m)
		m->ready = ready;
}

bool metrics_is_ready(const struct metrics *m)
{
	return m && m->ready;
}

void metrics_set_certificates_expiring(struct metrics *m, unsigned expiring, unsigned expired)
{
	if (!m)
		return;
	m->certs_expiring = expiring;
	m->certs_expired = expired;
}

size_t metrics_secrets_written(const struct metrics *m)
{
	size_t n = 0;

	for (size_t i = 0; m && i < m->nsecrets; i++)
		n += m->secrets[i].written;
	return n;
}

/* A growing output buffer; `failed` sticks after the first allocation failure. */
struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static bool reserve(struct out *o, size_t more)
{
	size_t cap;
	char *grown;

	if (o->failed)
		return false;
	if (o->len + more + 1 <= o->cap)
		return true;
	cap = o->cap ? o->cap : 4096;
	while (cap < o->len + more + 1)
		cap *= 2;
	grown = realloc(o->buf, cap);
	if (!grown) {
		o->failed = true;
		return false;
	}
	o->buf = grown;
	o->cap = cap;
	return true;
}

static void put(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (!reserve(o, n))
		return;
	memcpy(o->buf + o->len, s, n + 1);
	o->len += n;
}

__attribute__((format(printf, 2, 3))) static void putf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!reserve(o, 128))
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->failed = true;
		return;
	}
	if ((size_t)n >= o->cap - o->len) {
		if (!reserve(o, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
	}
	o->len += (size_t)n;
}

/* A label value as the text format wants it: UTF-8 with backslash, double quote and line feed
 * escaped. A byte that is not part of well-formed UTF-8 (a certificate may carry any bytes in
 * a subject) becomes U+FFFD, so a scraper never rejects the whole page for one label. */
static void put_label_value(struct out *o, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	if (!reserve(o, 3 * strlen(v)))
		return;
	while (*p) {
		size_t n = utf8_sequence(p);

		if (*p == '\\' || *p == '"') {
			o->buf[o->len++] = '\\';
			o->buf[o->len++] = (char)*p;
		} else if (*p == '\n') {
			o->buf[o->len++] = '\\';
			o->buf[o->len++] = 'n';
		} else if (n == 0) {
			memcpy(o->buf + o->len, "\xef\xbf\xbd", 3);
			o->len += 3;
			n = 1;
		} else {
			memcpy(o->buf + o->len, p, n);
			o->len += n;
		}
		p += n ? n : 1;
	}
	o->buf[o->len] = '\0';
}

static void put_label(struct out *o, const char *sep, const char *name, const char *value)
{
	put(o, sep);
	put(o, name);
	put(o, "=\"");
	put_label_value(o, value);
	put(o, "\"");
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	putf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int metrics_render(const struct metrics *m, char **out, size_t *len)
{
	struct out o = {0};

	family(&o, "secret_agent_build_info", "gauge", "Version of the running secret-agent.");
	put(&o, "secret_agent_build_info");
	put_label(&o, "{", "version", m->version);
	put(&o, "} 1\n");

	family(&o, "secret_agent_ready", "gauge",
	       "1 once every secret is written and the service has started.");
	putf(&o, "secret_agent_ready %d\n", m->ready ? 1 : 0);

	family(&o, "secret_agent_secret_info", "gauge",
	       "Type and public fingerprint of each written secret (empty for opaque).");
	for (size_t i = 0; i < m->nsecrets; i++) {
		const struct secret_entry *e = &m->secrets[i];
		if (!e->written)
			continue;
		put_label(&o, "secret_agent_secret_info{", "secret", e->name);
		put_label(&o, ",", "type", e->type ? e->type : "");
		put_label(&o, ",", "fingerprint", e->fingerprint ? e->fingerprint : "");
		put(&o, "} 1\n");
	}

	family(&o, "secret_agent_secret_last_write_timestamp_seconds", "gauge",
	       "When each secret was last written or validated in place.");
	for (size_t i = 0; i < m->nsecrets; i++) {
		const struct secret_entry *e = &m->secrets[i];
		if (!e->written)
			continue;
		put_label(&o, "secret_agent_secret_last_write_timestamp_seconds{", "secret",
			  e->name);
		putf(&o, "} %.3f\n", e->last_write);
	}

	family(&o, "secret_agent_rotations_total", "counter",
	       "Rotations of each secret by result: applied, rejected (old files kept), "
	       "unchanged.");
	for (size_t i = 0; i < m->nsecrets; i++) {
		const struct secret_entry *e = &m->secrets[i];
		for (int r = ROTATION_APPLIED; r <= ROTATION_UNCHANGED; r++) {
			put_label(&o, "secret_agent_rotations_total{", "secret", e->name);
			put_label(&o, ",", "result", rotation_result_names[r]);
			putf(&o, "} %" PRIu64 "\n", e->rotations[r]);
		}
	}

	family(&o, "secret_agent_secret_rejected", "gauge",
	       "1 while the newest source version of the secret is refused.");
	for (size_t i = 0; i < m->nsecrets; i++) {
		put_label(&o, "secret_agent_secret_rejected{", "secret", m->secrets[i].name);
		putf(&o, "} %d\n", m->secrets[i].rejected ? 1 : 0);
	}

	family(&o, "secret_agent_certificate_expiry_timestamp_seconds", "gauge",
	       "notAfter of every certificate written, by secret, index in the file and "
	       "subject.");
	for (size_t i = 0; i < m->nsecrets; i++) {
		const struct secret_entry *e = &m->secrets[i];
		for (size_t k = 0; k < e->ncerts; k++) {
			char index[16];
			snprintf(index, sizeof(index), "%u", e->certs[k].index);
			put_label(&o, "secret_agent_certificate_expiry_timestamp_seconds{",
				  "secret", e->name);
			put_label(&o, ",", "index", index);
			put_label(&o, ",", "subject", e->certs[k].subject);
			putf(&o, "} %" PRId64 "\n", e->certs[k].not_after);
		}
	}

	family(&o, "secret_agent_certificates_expiring", "gauge",
	       "Written certificates inside their warning window (not yet expired).");
	putf(&o, "secret_agent_certificates_expiring %u\n", m->certs_expiring);
	family(&o, "secret_agent_certificates_expired", "gauge",
	       "Written certificates past their notAfter.");
	putf(&o, "secret_agent_certificates_expired %u\n", m->certs_expired);

	family(&o, "secret_agent_notifications_total", "counter",
	       "Notifications of the service after a rotation, by action and result.");
	for (size_t i = 0; i < m->nnotifications; i++) {
		const struct notification_entry *e = &m->notifications[i];
		put_label(&o, "secret_agent_notifications_total{", "action", e->action);
		putf(&o, ",result=\"ok\"} %" PRIu64 "\n", e->ok);
		put_label(&o, "secret_agent_notifications_total{", "action", e->action);
		putf(&o, ",result=\"failed\"} %" PRIu64 "\n", e->failed);
	}

	family(&o, "secret_agent_child_restarts_total", "counter",
	       "Restarts of the supervised service.");
	putf(&o, "secret_agent_child_restarts_total %" PRIu64 "\n", m->child_restarts);

	if (o.failed) {
		free(o.buf);
		return -ENOMEM;
	}
	*out = o.buf;
	*len = o.len;
	return 0;
}
