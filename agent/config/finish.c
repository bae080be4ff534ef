/* Defaults that depend on other settings, identities, and cross-references between secrets.
 * After this, every later stage reads resolved numbers and never parses text again. */
#include "config/config.h"
#include "config/internal.h"
#include "config/keys.h"
#include "config/strlist.h"
#include "config/targets.h"
#include "proc/identity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A secret given by --secret is fixed on the command line (64); one from the file in it (78). */
static enum agent_failure origin_failure(const char *origin)
{
	return strcmp(origin, "--secret") == 0 ? AGENT_FAIL_USAGE : AGENT_FAIL_CONFIG;
}

/* Owner and group of a secret or dir: its own `owner` (group: its own, else that user's
 * primary group), else the [agent] user with [agent] group (what the service runs as), else
 * the invoking uid/gid. */
static int resolve_owner(const struct config *cfg, const char *owner, const char *group, uid_t *uid,
			 gid_t *gid, char *msg, size_t msgsize)
{
	struct identity id;
	int r;

	if (owner) {
		r = identity_resolve(owner, group, &id, msg, msgsize);
		if (r < 0)
			return r;
		*uid = id.uid;
		*gid = id.gid;
		return 0;
	}
	*uid = cfg->uid;
	*gid = cfg->gid;
	if (group) {
		r = identity_resolve_group(group, gid);
		if (r < 0) {
			snprintf(msg, msgsize, "unknown group '%s'", group);
			return r;
		}
	}
	return 0;
}

static int link_partners(struct config *cfg, struct secret_cfg *s, struct agent_error *err)
{
	enum agent_failure failure = origin_failure(s->origin);

	if (s->type == SFS_TYPE_TLS_KEY && !s->cert)
		return agent_error_set(err, failure, -EINVAL,
				       "%s: secret '%s': a tls-key needs 'cert = NAME' naming its "
				       "tls-cert secret",
				       s->origin, s->name);
	if (s->cert) {
		const struct secret_cfg *c = config_find_secret(cfg, s->cert);

		if (s->type != SFS_TYPE_TLS_KEY)
			return agent_error_set(
			    err, failure, -EINVAL,
			    "%s: secret '%s': 'cert' applies to type tls-key only", s->origin,
			    s->name);
		if (!c || c->type != SFS_TYPE_TLS_CERT)
			return agent_error_set(
			    err, failure, -EINVAL,
			    "%s: secret '%s': cert = %s does not name a tls-cert "
			    "secret",
			    s->origin, s->name, s->cert);
		s->cert_index = (int)(c - cfg->secrets);
	}
	if (s->ca) {
		const struct secret_cfg *c = config_find_secret(cfg, s->ca);

		if (s->type != SFS_TYPE_TLS_CERT)
			return agent_error_set(
			    err, failure, -EINVAL,
			    "%s: secret '%s': 'ca' applies to type tls-cert only", s->origin,
			    s->name);
		if (!c || c == s || (c->type != SFS_TYPE_X509 && c->type != SFS_TYPE_TLS_CERT))
			return agent_error_set(
			    err, failure, -EINVAL,
			    "%s: secret '%s': ca = %s does not name an x509 secret", s->origin,
			    s->name, s->ca);
		s->ca_index = (int)(c - cfg->secrets);
	}
	return 0;
}

static int finish_secret(struct config *cfg, struct secret_cfg *s, struct agent_error *err)
{
	char msg[AGENT_ERROR_MAX];
	enum agent_failure failure = origin_failure(s->origin);

	if (!s->from)
		return agent_error_set(
		    err, failure, -EINVAL,
		    "%s: secret '%s' has no 'from' (env:NAME, file:PATH, cred:NAME "
		    "or -)",
		    s->origin, s->name);
	for (const struct secret_cfg *o = cfg->secrets; o < s; o++) {
		if (!s->to || !o->to)
			continue;
		if (strcmp(o->to, s->to) == 0)
			return agent_error_set(err, failure, -EINVAL,
					       "%s: secret '%s' writes to %s, as secret '%s' does",
					       s->origin, s->name, s->to, o->name);
		if (config_same_target(o->to, s->to))
			return agent_error_set(
			    err, failure, -EINVAL,
			    "%s: secret '%s' writes to %s, the same file as secret '%s' (%s)",
			    s->origin, s->name, s->to, o->name, o->to);
	}
	if ((s->domain || s->key_id) && !config_type_is_key(s->type))
		return agent_error_set(
		    err, failure, -EINVAL,
		    "%s: secret '%s': 'domain' and 'key_id' apply to ed25519 and "
		    "tls-key secrets only",
		    s->origin, s->name);
	if (s->omit_expired && s->type != SFS_TYPE_X509)
		return agent_error_set(err, failure, -EINVAL,
				       "%s: secret '%s': 'omit_expired' applies to type x509 only",
				       s->origin, s->name);
	if (!config_key_given(s->given, CONFIG_SECRET, "mode"))
		s->mode = (s->type == SFS_TYPE_X509 || s->type == SFS_TYPE_TLS_CERT) ? 0444 : 0400;
	if (!config_key_given(s->given, CONFIG_SECRET, "scrub_env"))
		s->scrub_env = s->source.kind == SFS_SOURCE_ENV;
	if (resolve_owner(cfg, s->owner, s->group, &s->uid, &s->gid, msg, sizeof(msg)) < 0)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL, "%s: secret '%s': %s",
				       s->origin, s->name, msg);
	return link_partners(cfg, s, err);
}

bool config_is_required_env(const struct config *cfg, const char *name)
{
	return strlist_contains(&cfg->require_env, name);
}

int config_finish(struct config *cfg, struct agent_error *err)
{
	char msg[AGENT_ERROR_MAX];

	for (size_t i = 0; i < cfg->unset_vars.n; i++)
		if (!config_is_required_env(cfg, cfg->unset_vars.items[i]))
			return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL, "%s",
					       cfg->unset_msgs.items[i]);

	if (cfg->user) {
		struct identity *id = &cfg->user_id;

		if (identity_resolve(cfg->user, cfg->group, id, msg, sizeof(msg)) < 0)
			return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL, "[agent] user: %s",
					       msg);
		cfg->has_user = true;
		cfg->uid = id->uid;
		cfg->gid = id->gid;
	} else if (cfg->group) {
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "[agent] group is set without [agent] user; set both");
	} else {
		cfg->has_user = false;
		cfg->uid = getuid();
		cfg->gid = getgid();
	}

	for (size_t i = 0; i < cfg->nsecrets; i++) {
		int r = finish_secret(cfg, &cfg->secrets[i], err);

		if (r < 0)
			return r;
	}

	for (size_t i = 0; i < cfg->ndirs; i++) {
		struct dir_cfg *d = &cfg->dirs[i];

		if (resolve_owner(cfg, d->owner, d->group, &d->uid, &d->gid, msg, sizeof(msg)) < 0)
			return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
					       "%s: [dir \"%s\"]: %s", d->origin, d->path, msg);
	}

	if (cfg->on_change == ON_CHANGE_EXEC && !cfg->on_change_exec)
		return agent_error_set(err, AGENT_FAIL_CONFIG, -EINVAL,
				       "on_change exec: needs a path");
	return 0;
}
