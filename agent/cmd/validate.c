/* `secret-agent validate`: checks keys and certificates before they are deployed. Prints
 * public facts only (fingerprints, subjects, dates), never a byte of the secret.
 *
 * env: sources are scrubbed after reading, as in every other command: validate has no child,
 * but fewer copies of a key in memory is still fewer. */
#include "cmd/commands.h"
#include "base/exit_codes.h"
#include "secret_fs/source.h"
#include "secret_fs/validate.h"

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

static void usage(FILE *out)
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

/* Returns 0, or an exit code for a usage error (already reported). */
static int parse_args(int argc, char **argv, struct validate_opts *o, bool *help)
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
				fprintf(
				    stderr,
				    "secret-agent: validate: unknown --type '%s' (auto, ed25519, "
				    "x509, tls-cert, tls-key)\n",
				    optarg);
				return EXIT_USAGE;
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
				fprintf(
				    stderr,
				    "secret-agent: validate: --warn-days takes a number of days "
				    "(0 to 36500), not '%s'\n",
				    optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			*help = true;
			return 0;
		case ':':
			fprintf(stderr, "secret-agent: validate: %s needs a value\n\n",
				argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "secret-agent: validate: unknown option '%s'\n\n",
				argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "secret-agent: validate: no SOURCE given\n\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o->type == SFS_TYPE_TLS_KEY && !o->cert_spec) {
		fprintf(stderr, "secret-agent: validate: --type tls-key needs --cert SOURCE\n");
		return EXIT_USAGE;
	}
	return 0;
}

static size_t max_bytes_for(enum sfs_secret_type type)
{
	return type == SFS_TYPE_ED25519 || type == SFS_TYPE_TLS_KEY ? SFS_MAX_KEY_BYTES
								    : SFS_MAX_SECRET_BYTES;
}

/* Reads one SOURCE. Returns 0 or an exit code, with the one-line reason in `err`. */
static int read_source(const char *spec, size_t max, struct sfs_secret *out, struct sfs_error *err)
{
	struct sfs_source src = {0};
	struct sfs_read_opts ropts = {.max_bytes = max, .keep_env = false};
	int r, rc = EXIT_OK;

	r = sfs_source_parse(spec, &src, err);
	if (r == 0)
		r = sfs_source_read(&src, &ropts, out, err);
	if (r == -ENOENT && src.kind == SFS_SOURCE_ENV && src.ref) {
		/* The wording every command uses for keys, the plain one otherwise. */
		if (max == SFS_MAX_KEY_BYTES)
			sfs_error_set(
			    err, r, "No signing key available: environment variable %s is not set",
			    src.ref);
		rc = EXIT_CONFIG;
	} else if (r == -ENOMEM)
		rc = EXIT_SOFTWARE;
	else if (r < 0)
		rc = EXIT_INVALID;
	sfs_source_free(&src);
	return rc;
}

static int read_partner(const char *spec, const char *what, struct partner *p)
{
	struct sfs_error err = {0};
	int rc;

	if (!spec)
		return EXIT_OK;
	rc = read_source(spec, SFS_MAX_SECRET_BYTES, &p->bytes, &err);
	if (rc != EXIT_OK) {
		fprintf(stderr, "%s: %s (%s)\n", spec, err.msg, what);
		return rc;
	}
	p->present = true;
	return EXIT_OK;
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

/* Validates one SOURCE and reports it. Returns its exit code. */
static int validate_one(const char *spec, const struct validate_opts *o, const struct partner *cert,
			const struct partner *ca, json_object *list)
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
	int rc;

	res.type = o->type;
	rc = read_source(spec, max_bytes_for(o->type), &bytes, &err);
	if (rc == EXIT_OK) {
		req.data = bytes.data;
		req.len = bytes.len;
		if (sfs_validate(&req, &res, &err) < 0)
			rc = err.code == -ENOMEM ? EXIT_SOFTWARE : EXIT_INVALID;
	}
	if (rc != EXIT_OK)
		fprintf(stderr, "%s: %s\n", spec, err.msg);
	if (o->json)
		json_object_array_add(list, json_result(spec, o, &res, rc ? err.msg : NULL));
	else if (rc == EXIT_OK)
		print_text(spec, o, &res);
	else
		printf("source: %s\ntype: %s\nstatus: invalid\n\n", spec, sfs_type_name(res.type));
	sfs_validate_result_free(&res);
	sfs_secret_free(&bytes);
	return rc;
}

/* The most telling code wins: unset env (78) over invalid (65). */
static int worse(int a, int b)
{
	if (a == EXIT_SOFTWARE || b == EXIT_SOFTWARE)
		return EXIT_SOFTWARE;
	if (a == EXIT_CONFIG || b == EXIT_CONFIG)
		return EXIT_CONFIG;
	return a ? a : b;
}

int cmd_validate(int argc, char **argv)
{
	struct validate_opts o = {.type = SFS_TYPE_AUTO};
	struct partner cert = {0}, ca = {0};
	json_object *doc = NULL, *list = NULL;
	bool help = false;
	int rc;

	rc = parse_args(argc, argv, &o, &help);
	if (rc != EXIT_OK)
		return rc;
	if (help) {
		usage(stdout);
		return EXIT_OK;
	}
	rc = agent_process_setup();
	if (rc != EXIT_OK)
		return rc;
	if (o.json) {
		doc = json_object_new_object();
		list = json_object_new_array();
		json_object_object_add(doc, "results", list);
	}
	rc = read_partner(o.cert_spec, "certificate given with --cert", &cert);
	if (rc == EXIT_OK)
		rc = read_partner(o.ca_spec, "CA bundle given with --ca", &ca);
	if (rc == EXIT_OK)
		for (int i = optind; i < argc; i++)
			rc = worse(rc, validate_one(argv[i], &o, &cert, &ca, list));
	if (doc) {
		json_object_object_add(doc, "valid", json_object_new_boolean(rc == EXIT_OK));
		puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(doc);
	}
	fflush(stdout);
	sfs_secret_free(&cert.bytes);
	sfs_secret_free(&ca.bytes);
	return rc;
}
