/* `secret-agent validate`: checks keys and certificates before they are deployed. Prints
 * public facts only (fingerprints, subjects, dates), never a byte of the secret.
 *
 * env: sources are scrubbed after reading, as in every other command: validate has no child,
 * but fewer copies of a key in memory is still fewer. */
#include "secret_fs/validate.h"

#include "cmd/commands.h"
#include "proc/process_setup.h"
#include "secret_fs/source.h"
#include "secrets/materialize.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct validate_opts {
	enum sfs_secret_type type;
	const char *domain;
	const char *key_id;
	const char *cert_spec;
	const char *ca_spec;
	int warn_days; /* as sfs_validate_req: 0 default, < 0 disabled */
	bool json;
};

struct partner {
	struct sfs_secret bytes; /* certificate or CA bundle read once for every SOURCE */
	bool present;
};

void cmd_validate_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: secret-agent validate [--type auto|ed25519|x509|tls-cert|tls-key]\n"
	    "                             [--domain TAG] [--key-id ID] [--cert SOURCE]\n"
	    "                             [--ca SOURCE] [--warn-days N] [--json] SOURCE...\n"
	    "\n"
	    "Validates each SOURCE (env:NAME, file:PATH, cred:NAME, - for stdin, or a path)\n"
	    "as a key or certificate and prints its public facts: fingerprints of a key,\n"
	    "subject, issuer and expiry of each certificate. Nothing is written.\n"
	    "\n"
	    "  --type T         auto (default: from the PEM label), ed25519, x509 (CA bundle),\n"
	    "                   tls-cert, tls-key\n"
	    "  --domain TAG     Ed25519 domain-separation tag for the signing self-test\n"
	    "  --key-id ID      expected key id: SHA-256 fingerprint prefix (16-64 hex) or\n"
	    "                   JWK thumbprint (43 base64url); anything else is an unchecked "
	    "label\n"
	    "  --cert SOURCE    the certificate a tls-key must match (required for tls-key)\n"
	    "  --ca SOURCE      CA bundle a tls-cert's chain must verify against\n"
	    "  --warn-days N    warn when a certificate expires within N days (30; 0: never)\n"
	    "  --json           one JSON document on stdout\n"
	    "\n"
	    "exit: 0 all valid, 64 usage error, 65 a source is invalid, 78 an env: source is "
	    "unset\n");
}

static int parse_warn_days(const char *s, int *out)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 36500)
		return -EINVAL;
	*out = v == 0 ? -1 : (int)v;
	return 0;
}

/* Returns 0 or -EINVAL with the usage error in `err`. */
static int parse_args(int argc, char **argv, struct validate_opts *o, bool *help,
		      struct agent_error *err)
{
	static const struct option longopts[] = {
	    {"type", required_argument, NULL, 't'},
	    {"domain", required_argument, NULL, 'd'},
	    {"key-id", required_argument, NULL, 'k'},
	    {"cert", required_argument, NULL, 'c'},
	    {"ca", required_argument, NULL, 'a'},
	    {"warn-days", required_argument, NULL, 'w'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (sfs_type_parse(optarg, &o->type) < 0 || o->type == SFS_TYPE_OPAQUE) {
				return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
						       "unknown --type '%s' (auto, ed25519, x509, "
						       "tls-cert, tls-key)",
						       optarg);
			}
			break;
		case 'd':
			o->domain = optarg;
			break;
		case 'k':
			o->key_id = optarg;
			break;
		case 'c':
			o->cert_spec = optarg;
			break;
		case 'a':
			o->ca_spec = optarg;
			break;
		case 'w':
			if (parse_warn_days(optarg, &o->warn_days) < 0) {
				return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
						       "--warn-days takes a number of days (0 to "
						       "36500), not '%s'",
						       optarg);
			}
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			*help = true;
			return 0;
		case ':':
			return agent_error_usage(err, "%s needs a value", argv[optind - 1]);
		default:
			return agent_error_usage(err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		return agent_error_usage(err, "no SOURCE given");
	}
	if (o->type == SFS_TYPE_TLS_KEY && !o->cert_spec) {
		return agent_error_set(err, AGENT_FAIL_USAGE, -EINVAL,
				       "--type tls-key needs --cert SOURCE");
	}
	return 0;
}

static size_t max_bytes_for(enum sfs_secret_type type)
{
	return secret_type_is_key(type) ? SFS_MAX_KEY_BYTES : SFS_MAX_SECRET_BYTES;
}

/* Reads one SOURCE. Returns 0 or a negative errno, with the one-line reason in `err` and the
 * failure class in *failure. */
static int read_source(const char *spec, size_t max, struct sfs_secret *out, struct sfs_error *err,
		       enum agent_failure *failure)
{
	struct sfs_source src = {0};
	struct sfs_read_opts ropts = {.max_bytes = max, .keep_env = false};
	int r;

	r = sfs_source_parse(spec, &src, err);
	if (r == 0)
		r = sfs_source_read(&src, &ropts, out, err);
	if (r == -ENOENT && src.kind == SFS_SOURCE_ENV && src.ref) {
		/* The wording every command uses for keys, the plain one otherwise. */
		if (max == SFS_MAX_KEY_BYTES)
			sfs_error_set(
			    err, r, "No signing key available: environment variable %s is not set",
			    src.ref);
		*failure = AGENT_FAIL_CONFIG;
	} else if (r == -ENOMEM)
		*failure = AGENT_FAIL_SOFTWARE;
	else if (r < 0)
		*failure = AGENT_FAIL_INVALID;
	sfs_source_free(&src);
	return r;
}

static int read_partner(const char *spec, const char *what, struct partner *p,
			enum agent_failure *failure)
{
	struct sfs_error err = {0};
	int r;

	if (!spec)
		return 0;
	r = read_source(spec, SFS_MAX_SECRET_BYTES, &p->bytes, &err, failure);
	if (r < 0) {
		fprintf(stderr, "%s: %s (%s)\n", spec, err.msg, what);
		return r;
	}
	p->present = true;
	return 0;
}

static void format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "unknown");
}

static bool is_ed25519_key(const struct sfs_validate_result *res)
{
	return res->has_key_info;
}

static void print_text(const char *spec, const struct validate_opts *o,
		       const struct sfs_validate_result *res)
{
	char date[64];

	printf("source: %s\ntype: %s\nstatus: valid\n", spec, sfs_type_name(res->type));
	if (res->key_algorithm)
		printf("algorithm: %s\n", res->key_algorithm);
	if (is_ed25519_key(res)) {
		printf("pkcs8-version: %d\n", res->pkcs8_version);
		printf("fingerprint-sha256: %s\n", res->fingerprint_sha256);
		printf("jwk-thumbprint: %s\n", res->jwk_thumbprint);
		if (o->key_id)
			printf("key-id: %s (%s)\n", o->key_id,
			       res->key_id_verified ? "matches" : "label, not checked");
		else
			printf("key-id: none\n");
		if (res->type == SFS_TYPE_ED25519)
			printf("domain: %s\n", o->domain ? o->domain : "none");
	}
	for (size_t i = 0; i < res->ncerts; i++) {
		const struct sfs_cert_summary *c = &res->certs[i];

		format_time(c->not_after, date, sizeof(date));
		printf("certificate %zu:\n  subject: %s\n  issuer: %s\n  notAfter: %s\n"
		       "  days-left: %ld\n  ca: %s\n  fingerprint-sha256: %s\n",
		       i + 1, c->subject, c->issuer, date, c->days_left, c->is_ca ? "yes" : "no",
		       c->sha256);
	}
	for (unsigned i = 0; i < res->warnings.count; i++)
		printf("warning: %s\n", res->warnings.msg[i]);
	if (res->warnings.dropped)
		printf("warning: %u more warnings not shown\n", res->warnings.dropped);
	printf("\n");
}

static json_object *json_result(const char *spec, const struct validate_opts *o,
				const struct sfs_validate_result *res, const char *reason)
{
	json_object *obj = json_object_new_object(), *warnings = json_object_new_array();
	char date[64];

	json_object_object_add(obj, "source", json_object_new_string(spec));
	json_object_object_add(obj, "type", json_object_new_string(sfs_type_name(res->type)));
	json_object_object_add(obj, "status", json_object_new_string(reason ? "invalid" : "valid"));
	if (reason)
		json_object_object_add(obj, "reason", json_object_new_string(reason));
	if (!reason && res->key_algorithm)
		json_object_object_add(obj, "algorithm",
				       json_object_new_string(res->key_algorithm));
	if (!reason && is_ed25519_key(res)) {
		json_object_object_add(obj, "pkcs8_version",
				       json_object_new_int(res->pkcs8_version));
		json_object_object_add(obj, "fingerprint_sha256",
				       json_object_new_string(res->fingerprint_sha256));
		json_object_object_add(obj, "jwk_thumbprint",
				       json_object_new_string(res->jwk_thumbprint));
		json_object_object_add(obj, "key_id",
				       o->key_id ? json_object_new_string(o->key_id) : NULL);
		json_object_object_add(obj, "key_id_verified",
				       json_object_new_boolean(res->key_id_verified));
		if (res->type == SFS_TYPE_ED25519)
			json_object_object_add(
			    obj, "domain", o->domain ? json_object_new_string(o->domain) : NULL);
	}
	if (!reason && res->ncerts) {
		json_object *certs = json_object_new_array();

		for (size_t i = 0; i < res->ncerts; i++) {
			const struct sfs_cert_summary *c = &res->certs[i];
			json_object *jc = json_object_new_object();

			json_object_object_add(jc, "subject", json_object_new_string(c->subject));
			json_object_object_add(jc, "issuer", json_object_new_string(c->issuer));
			format_time(c->not_before, date, sizeof(date));
			json_object_object_add(jc, "not_before", json_object_new_string(date));
			format_time(c->not_after, date, sizeof(date));
			json_object_object_add(jc, "not_after", json_object_new_string(date));
			json_object_object_add(jc, "days_left",
					       json_object_new_int64(c->days_left));
			json_object_object_add(jc, "is_ca", json_object_new_boolean(c->is_ca));
			json_object_object_add(jc, "fingerprint_sha256",
					       json_object_new_string(c->sha256));
			json_object_array_add(certs, jc);
		}
		json_object_object_add(obj, "certificates", certs);
	}
	for (unsigned i = 0; i < res->warnings.count; i++)
		json_object_array_add(warnings, json_object_new_string(res->warnings.msg[i]));
	json_object_object_add(obj, "warnings", warnings);
	return obj;
}

/* Validates one SOURCE and reports it. Returns 0 or a negative errno with *failure set. */
static int validate_one(const char *spec, const struct validate_opts *o, const struct partner *cert,
			const struct partner *ca, json_object *list, enum agent_failure *failure)
{
	struct sfs_secret bytes = {0};
	struct sfs_validate_result res = {0};
	struct sfs_error err = {0};
	struct sfs_validate_req req = {
	    .type = o->type,
	    .domain = o->domain,
	    .key_id = o->key_id,
	    .cert = cert->present ? cert->bytes.data : NULL,
	    .cert_len = cert->present ? cert->bytes.len : 0,
	    .ca = ca->present ? ca->bytes.data : NULL,
	    .ca_len = ca->present ? ca->bytes.len : 0,
	    .warn_days = o->warn_days,
	};
	int r;

	res.type = o->type;
	r = read_source(spec, max_bytes_for(o->type), &bytes, &err, failure);
	if (r == 0) {
		req.data = bytes.data;
		req.len = bytes.len;
		r = sfs_validate(&req, &res, &err);
		if (r < 0)
			*failure = r == -ENOMEM ? AGENT_FAIL_SOFTWARE : AGENT_FAIL_INVALID;
	}
	if (r < 0)
		fprintf(stderr, "%s: %s\n", spec, err.msg);
	if (o->json)
		json_object_array_add(list, json_result(spec, o, &res, r < 0 ? err.msg : NULL));
	else if (r == 0)
		print_text(spec, o, &res);
	else
		printf("source: %s\ntype: %s\nstatus: invalid\n\n", spec, sfs_type_name(res.type));
	sfs_validate_result_free(&res);
	sfs_secret_free(&bytes);
	return r;
}

/* The most telling failure wins: internal over an unset env var over invalid. */
static int worse(int have, enum agent_failure *kept, int r, enum agent_failure next)
{
	if (r >= 0)
		return have;
	if (have == 0 || next == AGENT_FAIL_SOFTWARE ||
	    (next == AGENT_FAIL_CONFIG && *kept != AGENT_FAIL_SOFTWARE)) {
		*kept = next;
		return r;
	}
	return have;
}

int cmd_validate(int argc, char **argv, struct agent_error *err)
{
	struct validate_opts o = {.type = SFS_TYPE_AUTO};
	struct partner cert = {0}, ca = {0};
	json_object *doc = NULL, *list = NULL;
	enum agent_failure failure = AGENT_FAIL_SOFTWARE, one;
	bool help = false;
	int r;

	r = parse_args(argc, argv, &o, &help, err);
	if (r < 0)
		return r;
	if (help) {
		cmd_validate_usage(stdout);
		return 0;
	}
	r = agent_process_setup(err);
	if (r < 0)
		return r;
	if (o.json) {
		doc = json_object_new_object();
		list = json_object_new_array();
		json_object_object_add(doc, "results", list);
	}
	r = read_partner(o.cert_spec, "certificate given with --cert", &cert, &failure);
	if (r == 0)
		r = read_partner(o.ca_spec, "CA bundle given with --ca", &ca, &failure);
	if (r == 0)
		for (int i = optind; i < argc; i++) {
			int v = validate_one(argv[i], &o, &cert, &ca, list, &one);
			r = worse(r, &failure, v, one);
		}
	if (doc) {
		json_object_object_add(doc, "valid", json_object_new_boolean(r == 0));
		puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(doc);
	}
	fflush(stdout);
	sfs_secret_free(&cert.bytes);
	sfs_secret_free(&ca.bytes);
	/* Every failing SOURCE was named on stderr above. */
	if (r < 0)
		return agent_error_logged(err, failure, r, "validation failed");
	return 0;
}
