/* `secret-agent status`: asks a running agent's status listener what it serves and prints it
 * for people (text) or programs (--json). The Kubernetes exec probe for images without curl:
 * exit 0 when /readyz says ready, 1 when not, 69 when nothing answers.
 *
 * Plain HTTP/1.1 over one socket per request ("Connection: close", read to the end): the
 * listener is on loopback and its answers are small, so no client library is needed. Only
 * what /metrics exposes is printed: names, types, public fingerprints, dates, subjects.
 */
#include "base/exit_codes.h"
#include "cmd/commands.h"
#include "config/config.h"
#include "observe/status_addr.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STATUS_TIMEOUT_MS 5000
#define STATUS_MAX_REPLY  (4u << 20)
#define STATUS_MAX_LABELS 4

void cmd_status_usage(FILE *out)
{
	fprintf(out,
		"usage: secret-agent status [--status-listen ADDR | --config FILE] [--json]\n"
		"\n"
		"Queries the status listener of a running agent (/readyz and /metrics) and prints\n"
		"its secrets, fingerprints, last writes, rejected rotations and certificate\n"
		"expiries. ADDR is IPV4:PORT or [IPV6]:PORT; without it, [agent] status_listen is\n"
		"read from FILE (default: $SECRET_AGENT_CONFIG).\n"
		"\n"
		"  --json   one JSON object on stdout\n"
		"\n"
		"exit: 0 ready, 1 not ready, 64 usage, 69 unreachable, 78 configuration\n");
}

/* ---- one HTTP request ------------------------------------------------------------------ */

struct reply {
	int status;
	char *body; /* NUL-terminated, malloc'ed */
};

static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
	struct timespec ts;
	uint64_t now;
	struct pollfd pfd = {.fd = fd, .events = events};
	int r;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
		if (now >= deadline_ms)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(deadline_ms - now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static uint64_t deadline_from_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + STATUS_TIMEOUT_MS;
}

/* Returns 0 with *out filled, or a negative errno (-EPROTO: not an HTTP answer). */
static int http_get(const struct sockaddr_storage *ss, socklen_t sslen, const char *host,
		    const char *path, struct reply *out)
{
	uint64_t deadline = deadline_from_now();
	char req[512], *buf = NULL, *grown, *body;
	size_t len = 0, cap = 0, sent = 0, reqlen;
	int fd, r, soerr = 0, status;
	socklen_t elen = sizeof(soerr);
	ssize_t n;

	reqlen =
	    (size_t)snprintf(req, sizeof(req),
			     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: secret-agent-status\r\n"
			     "Accept: text/plain\r\nConnection: close\r\n\r\n",
			     path, host);
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)ss, sslen) < 0) {
		if (errno != EINPROGRESS) {
			r = -errno;
			goto out;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			goto out;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0 || soerr) {
			r = soerr ? -soerr : -errno;
			goto out;
		}
	}
	while (sent < reqlen) {
		n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0)
				goto out;
			continue;
		}
		if (n < 0) {
			r = -errno;
			goto out;
		}
		sent += (size_t)n;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 16384;
			if (cap > STATUS_MAX_REPLY + 1) {
				r = -EFBIG;
				goto out;
			}
			grown = realloc(buf, cap);
			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			buf = grown;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EAGAIN) {
			r = wait_fd(fd, POLLIN, deadline);
			if (r < 0)
				goto out;
			continue;
		}
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf) {
		r = -EPROTO;
		goto out;
	}
	buf[len] = '\0';
	body = strstr(buf, "\r\n\r\n");
	if (!body || sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1) {
		r = -EPROTO;
		goto out;
	}
	body += 4;
	memmove(buf, body, strlen(body) + 1);
	out->status = status;
	out->body = buf;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

/* ---- the metrics, read back ------------------------------------------------------------ */

struct label {
	char name[32];
	char value[640];
};

struct sample {
	char name[96];
	struct label labels[STATUS_MAX_LABELS];
	int nlabels;
	double value;
};

/* One line of the text format; false for comments, blanks and lines we do not understand. */
static bool parse_sample(const char *line, struct sample *s)
{
	const char *p = line;
	size_t n = strcspn(p, "{ ");
	char *end;

	if (*p == '#' || *p == '\0' || n == 0 || n >= sizeof(s->name))
		return false;
	memcpy(s->name, p, n);
	s->name[n] = '\0';
	s->nlabels = 0;
	p += n;
	if (*p == '{') {
		p++;
		while (*p && *p != '}') {
			struct label *l;
			size_t k = strcspn(p, "=");
			size_t v = 0;

			if (s->nlabels == STATUS_MAX_LABELS || k == 0 || k >= sizeof(l->name) ||
			    p[k] != '=' || p[k + 1] != '"')
				return false;
			l = &s->labels[s->nlabels++];
			memcpy(l->name, p, k);
			l->name[k] = '\0';
			for (p += k + 2; *p && *p != '"'; p++) {
				char c = *p;
				if (c == '\\' && p[1]) {
					p++;
					c = *p == 'n' ? '\n' : *p;
				}
				if (v + 1 < sizeof(l->value))
					l->value[v++] = c;
			}
			l->value[v] = '\0';
			if (*p != '"')
				return false;
			p++;
			if (*p == ',')
				p++;
		}
		if (*p != '}')
			return false;
		p++;
	}
	while (*p == ' ')
		p++;
	s->value = strtod(p, &end);
	/* Counts and timestamps: a value no integer can hold (NaN, an infinity, beyond 9e18)
	 * is not one the agent sends, and would not convert. */
	return end != p && s->value > -9e18 && s->value < 9e18;
}

static const char *label(const struct sample *s, const char *name)
{
	for (int i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i].name, name) == 0)
			return s->labels[i].value;
	return NULL;
}

struct cert_view {
	unsigned index;
	char subject[640];
	double not_after;
};

struct secret_view {
	char name[640];
	char type[32];
	char fingerprint[128];
	bool has_write;
	double last_write;
	double rotations[3]; /* applied, rejected, unchanged */
	bool rejected;
	struct cert_view *certs;
	size_t ncerts;
};

struct status_view {
	char version[64];
	bool ready;
	struct secret_view *secrets;
	size_t nsecrets;
	double child_restarts;
	json_object *notifications; /* {"signal": {"ok": N, "failed": N}} */
};

static struct secret_view *secret_view(struct status_view *v, const char *name)
{
	struct secret_view *grown;

	if (!name)
		return NULL;
	for (size_t i = 0; i < v->nsecrets; i++)
		if (strcmp(v->secrets[i].name, name) == 0)
			return &v->secrets[i];
	grown = realloc(v->secrets, (v->nsecrets + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	v->secrets = grown;
	grown = &v->secrets[v->nsecrets++];
	*grown = (struct secret_view){0};
	snprintf(grown->name, sizeof(grown->name), "%s", name);
	return grown;
}

static void add_sample(struct status_view *v, const struct sample *s)
{
	struct secret_view *sv;
	const char *result;

	if (strcmp(s->name, "secret_agent_build_info") == 0 && label(s, "version")) {
		snprintf(v->version, sizeof(v->version), "%s", label(s, "version"));
	} else if (strcmp(s->name, "secret_agent_child_restarts_total") == 0) {
		v->child_restarts = s->value;
	} else if (strcmp(s->name, "secret_agent_notifications_total") == 0) {
		const char *action = label(s, "action");
		json_object *entry;

		result = label(s, "result");
		if (!action || !result)
			return;
		if (!json_object_object_get_ex(v->notifications, action, &entry)) {
			entry = json_object_new_object();
			json_object_object_add(v->notifications, action, entry);
		}
		json_object_object_add(entry, result, json_object_new_int64((int64_t)s->value));
	} else if (strncmp(s->name, "secret_agent_", 13) == 0 &&
		   (sv = secret_view(v, label(s, "secret"))) != NULL) {
		if (strcmp(s->name, "secret_agent_secret_info") == 0) {
			snprintf(sv->type, sizeof(sv->type), "%s",
				 label(s, "type") ? label(s, "type") : "");
			snprintf(sv->fingerprint, sizeof(sv->fingerprint), "%s",
				 label(s, "fingerprint") ? label(s, "fingerprint") : "");
		} else if (strcmp(s->name, "secret_agent_secret_last_write_timestamp_seconds") ==
			   0) {
			sv->has_write = true;
			sv->last_write = s->value;
		} else if (strcmp(s->name, "secret_agent_rotations_total") == 0 &&
			   (result = label(s, "result")) != NULL) {
			int k = strcmp(result, "applied") == 0	   ? 0
				: strcmp(result, "rejected") == 0  ? 1
				: strcmp(result, "unchanged") == 0 ? 2
								   : -1;
			if (k >= 0)
				sv->rotations[k] = s->value;
		} else if (strcmp(s->name, "secret_agent_secret_rejected") == 0) {
			sv->rejected = s->value != 0;
		} else if (strcmp(s->name, "secret_agent_certificate_expiry_timestamp_seconds") ==
			   0) {
			struct cert_view *grown =
			    realloc(sv->certs, (sv->ncerts + 1) * sizeof(*grown));
			if (!grown)
				return;
			sv->certs = grown;
			grown = &sv->certs[sv->ncerts++];
			grown->index =
			    label(s, "index") ? (unsigned)strtoul(label(s, "index"), NULL, 10) : 0;
			snprintf(grown->subject, sizeof(grown->subject), "%s",
				 label(s, "subject") ? label(s, "subject") : "");
			grown->not_after = s->value;
		}
	}
}

static void parse_metrics(struct status_view *v, char *text)
{
	struct sample s;

	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (parse_sample(line, &s))
			add_sample(v, &s);
}

static void free_view(struct status_view *v)
{
	for (size_t i = 0; i < v->nsecrets; i++)
		free(v->secrets[i].certs);
	free(v->secrets);
	json_object_put(v->notifications);
}

/* ---- output ---------------------------------------------------------------------------- */

static void utc(double t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%.0f", t);
}

static void print_text(const struct status_view *v, const char *addr)
{
	double now = (double)time(NULL);
	char when[32];

	printf("secret-agent %s at %s: %s\n", v->version[0] ? v->version : "?", addr,
	       v->ready ? "ready" : "not ready");
	for (size_t i = 0; i < v->nsecrets; i++) {
		const struct secret_view *s = &v->secrets[i];

		printf("\nsecret %s%s%s%s\n", s->name, s->type[0] ? " (" : "", s->type,
		       s->type[0] ? ")" : "");
		printf("  fingerprint  %s\n", s->fingerprint[0] ? s->fingerprint : "none");
		if (s->has_write) {
			utc(s->last_write, when, sizeof(when));
			printf("  last write   %s\n", when);
		} else {
			printf("  last write   never\n");
		}
		printf("  rotations    %.0f applied, %.0f rejected, %.0f unchanged\n",
		       s->rotations[0], s->rotations[1], s->rotations[2]);
		if (s->rejected)
			printf("  REJECTED     the newest source version is refused; the previous "
			       "files stay in place\n");
		for (size_t k = 0; k < s->ncerts; k++) {
			const struct cert_view *c = &s->certs[k];
			/* Whole days, rounded towards zero either side of notAfter. */
			long long days = (long long)(c->not_after - now) / 86400;

			utc(c->not_after, when, sizeof(when));
			printf("  certificate %u  %s\n    %s %s (%s%lld days%s)\n", c->index,
			       c->subject, c->not_after <= now ? "EXPIRED" : "expires", when,
			       c->not_after <= now ? "" : "in ", days < 0 ? -days : days,
			       c->not_after <= now ? " ago" : "");
		}
	}
	printf("\nchild restarts: %.0f\n", v->child_restarts);
	json_object_object_foreach(v->notifications, action, counts)
	{
		json_object *ok = NULL, *failed = NULL;

		json_object_object_get_ex(counts, "ok", &ok);
		json_object_object_get_ex(counts, "failed", &failed);
		printf("notifications %s: %" PRId64 " ok, %" PRId64 " failed\n", action,
		       json_object_get_int64(ok), json_object_get_int64(failed));
	}
}

static json_object *view_json(const struct status_view *v, const char *addr)
{
	json_object *root = json_object_new_object(), *secrets = json_object_new_array();
	char when[32];

	json_object_object_add(root, "address", json_object_new_string(addr));
	json_object_object_add(root, "version", json_object_new_string(v->version));
	json_object_object_add(root, "ready", json_object_new_boolean(v->ready));
	for (size_t i = 0; i < v->nsecrets; i++) {
		const struct secret_view *s = &v->secrets[i];
		json_object *o = json_object_new_object(), *rot = json_object_new_object(),
			    *certs = json_object_new_array();

		json_object_object_add(o, "name", json_object_new_string(s->name));
		json_object_object_add(o, "type",
				       s->type[0] ? json_object_new_string(s->type) : NULL);
		json_object_object_add(o, "fingerprint",
				       s->fingerprint[0] ? json_object_new_string(s->fingerprint)
							 : NULL);
		if (s->has_write) {
			utc(s->last_write, when, sizeof(when));
			json_object_object_add(o, "last_write", json_object_new_string(when));
			json_object_object_add(o, "last_write_seconds",
					       json_object_new_double(s->last_write));
		} else {
			json_object_object_add(o, "last_write", NULL);
			json_object_object_add(o, "last_write_seconds", NULL);
		}
		json_object_object_add(rot, "applied",
				       json_object_new_int64((int64_t)s->rotations[0]));
		json_object_object_add(rot, "rejected",
				       json_object_new_int64((int64_t)s->rotations[1]));
		json_object_object_add(rot, "unchanged",
				       json_object_new_int64((int64_t)s->rotations[2]));
		json_object_object_add(o, "rotations", rot);
		json_object_object_add(o, "rejected", json_object_new_boolean(s->rejected));
		for (size_t k = 0; k < s->ncerts; k++) {
			json_object *c = json_object_new_object();

			utc(s->certs[k].not_after, when, sizeof(when));
			json_object_object_add(c, "index",
					       json_object_new_int((int)s->certs[k].index));
			json_object_object_add(c, "subject",
					       json_object_new_string(s->certs[k].subject));
			json_object_object_add(c, "not_after", json_object_new_string(when));
			json_object_object_add(
			    c, "not_after_seconds",
			    json_object_new_int64((int64_t)s->certs[k].not_after));
			json_object_array_add(certs, c);
		}
		json_object_object_add(o, "certificates", certs);
		json_object_array_add(secrets, o);
	}
	json_object_object_add(root, "secrets", secrets);
	json_object_object_add(root, "child_restarts",
			       json_object_new_int64((int64_t)v->child_restarts));
	json_object_object_add(root, "notifications", json_object_get(v->notifications));
	return root;
}

static const int JSON_FLAGS = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

static void print_json(const struct status_view *v, const char *addr)
{
	json_object *root = view_json(v, addr);

	printf("%s\n", json_object_to_json_string_ext(root, JSON_FLAGS));
	json_object_put(root);
}

int cmd_status_metrics_json(char *text, bool ready, char **json)
{
	struct status_view view = {.ready = ready};
	json_object *root;
	char *doc;

	view.notifications = json_object_new_object();
	if (!view.notifications)
		return -ENOMEM;
	parse_metrics(&view, text);
	root = view_json(&view, "");
	doc = strdup(json_object_to_json_string_ext(root, JSON_FLAGS));
	json_object_put(root);
	free_view(&view);
	if (!doc)
		return -ENOMEM;
	*json = doc;
	return 0;
}

/* ---- the address ----------------------------------------------------------------------- */

/* [agent] status_listen of the config file, read by the agent's own config reader (so the
 * syntax, ${VAR} expansion and errors are the same as for `run`). Loading a file reads no
 * source. Returns 0 with *out malloc'ed (NULL when the file sets none), or -errno. */
static int address_from_config(const char *path, char **out, struct agent_error *err)
{
	struct config cfg;
	int r;

	config_init(&cfg);
	r = config_load_file(&cfg, path, err);
	if (r == 0 && cfg.status_listen && !(*out = strdup(cfg.status_listen)))
		r = agent_error_set(err, AGENT_FAIL_SOFTWARE, -ENOMEM, "out of memory");
	config_free(&cfg);
	return r;
}

int cmd_status(int argc, char **argv, struct agent_error *err)
{
	const char *listen = NULL, *config = NULL;
	char *from_config = NULL, host[80];
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct reply ready = {0}, metrics = {0};
	struct status_view view = {0};
	bool json = false;
	int rc, r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cmd_status_usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--status-listen") == 0 && i + 1 < argc) {
			listen = argv[++i];
		} else if (strncmp(argv[i], "--status-listen=", 16) == 0) {
			listen = argv[i] + 16;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config = argv[i] + 9;
		} else {
			return agent_error_usage(err, "unexpected argument '%s'", argv[i]);
		}
	}
	if (listen && config) {
		return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
				       "give --status-listen or --config, not both");
	}
	if (!listen) {
		if (!config)
			config = getenv("SECRET_AGENT_CONFIG");
		if (!config || !*config) {
			return agent_error_set(
			    err, AGENT_FAIL_USAGE, -EINVAL,
			    "no address: give --status-listen ADDR or --config FILE");
		}
		r = address_from_config(config, &from_config, err);
		if (r < 0)
			return r;
		if (!from_config)
			return agent_error_set(err, AGENT_FAIL_CONFIG, -ENOENT,
					       "%s sets no [agent] status_listen: the agent has no "
					       "status listener",
					       config);
		listen = from_config;
	}
	if (status_addr_parse(listen, &ss, &sslen) < 0) {
		rc = agent_error_set(err, config ? AGENT_FAIL_CONFIG : AGENT_FAIL_USAGE, -EINVAL,
				     "'%s' is not IPV4:PORT or [IPV6]:PORT", listen);
		goto out;
	}
	snprintf(host, sizeof(host), "%s", listen);

	r = http_get(&ss, sslen, host, "/readyz", &ready);
	if (r == 0 && ready.status != 200 && ready.status != 503)
		r = -EPROTO;
	if (r == 0)
		r = http_get(&ss, sslen, host, "/metrics", &metrics);
	if (r == 0 && metrics.status != 200)
		r = -EPROTO;
	if (r < 0) {
		rc = agent_error_set(err, AGENT_FAIL_UNAVAILABLE, r, "no agent answers at %s: %s",
				     listen, r == -EPROTO ? "unexpected answer" : strerror(-r));
		goto out;
	}
	view.notifications = json_object_new_object();
	view.ready = ready.status == 200;
	parse_metrics(&view, metrics.body);
	if (json)
		print_json(&view, listen);
	else
		print_text(&view, listen);
	fflush(stdout);
	/* Not an error: the agent answered and is not ready (the probe's "no"). */
	rc = view.ready ? EXIT_OK : 1;
out:
	free_view(&view);
	free(ready.body);
	free(metrics.body);
	free(from_config);
	return rc;
}
