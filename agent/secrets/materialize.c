#include "secrets/materialize.h"

#include "base/log.h"
#include "base/observe.h"
#include "secret_fs/atomic_write.h"
#include "secret_fs/safe_dir.h"
#include "secret_fs/secure_mem.h"
#include "secret_fs/source.h"
#include "secret_fs/validate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

/* Everything one application holds for one secret; secret bytes only in secure memory. */
struct work {
	bool selected;		  /* in the caller's set */
	bool read;		  /* raw holds the source bytes */
	bool active;		  /* source changed (or first time): validate and write */
	struct sfs_secret raw;	  /* source bytes as read */
	unsigned char hash[32];	  /* SHA-256 of raw */
	struct sfs_secret output; /* canonical bytes to write (validated) */
	bool validated;		  /* output is set */
	bool check_only;	  /* outside the set, checked against a changed partner only */
	char fingerprint[65];	  /* public-key fingerprint, or "" */
	struct sfs_staged staged; /* valid when is_staged */
	bool is_staged;
};

static bool is_read_once(const struct sfs_source *src)
{
	/* An env var is scrubbed after the first read and stdin is consumed: neither can be read
	 * again, so rotation only ever re-reads files and credentials. */
	return src->kind == SFS_SOURCE_ENV || src->kind == SFS_SOURCE_STDIN;
}

/* Root, or an agent that kept CAP_CHOWN after dropping to the service user (privileged_watcher,
 * docs/design.md §8): files and directories can be given to their configured owner. Otherwise
 * nothing is chowned and an owner other than ourselves is refused. Asked once per application (the
 * answer changes only with the privilege drop, between two applications). */
static bool probe_can_chown(void)
{
	cap_flag_value_t has = CAP_CLEAR;
	cap_t caps;

	if (geteuid() == 0)
		return true;
	caps = cap_get_proc();
	if (!caps)
		return false;
	if (cap_get_flag(caps, CAP_CHOWN, CAP_EFFECTIVE, &has) < 0)
		has = CAP_CLEAR;
	cap_free(caps);
	return has == CAP_SET;
}

/* Whether `gid` is the agent's group or one of its supplementary groups: then an unprivileged
 * fchown may give a file that group (the owner staying the agent's own uid). */
static bool is_own_group(gid_t gid)
{
	gid_t groups[256];
	int n;

	if (gid == getegid())
		return true;
	n = getgroups((int)(sizeof(groups) / sizeof(groups[0])), groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* The owner and group secret `s` gets, as struct sfs_owner: always its configured ids. Root and
 * CAP_CHOWN may give any; otherwise only our own uid with our own gid or one of our
 * supplementary groups. Anything else is refused (-EPERM, the reason in `why`): a file is
 * never written with other ids than configured (docs/design.md §10.1). */
static int secret_owner(const struct materializer *m, const struct secret_cfg *s,
			struct sfs_owner *out, char *why, size_t why_size)
{
	if (!m->can_chown && s->uid != geteuid()) {
		snprintf(why, why_size,
			 "cannot give %s to uid %u: the agent runs as uid %u and may not chown",
			 s->to, (unsigned)s->uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (!m->can_chown && !is_own_group(s->gid)) {
		snprintf(why, why_size,
			 "cannot give %s to gid %u: the agent runs as uid %u, which is not in that "
			 "group, and may not chown",
			 s->to, (unsigned)s->gid, (unsigned)geteuid());
		return -EPERM;
	}
	*out = (struct sfs_owner){.uid = s->uid, .gid = s->gid, .chown = true};
	return 0;
}

int materializer_init(struct materializer *m, struct config *cfg)
{
	m->cfg = cfg;
	m->first_done = false;
	m->dirs_pending = false;
	m->durable = true;
	m->rt = calloc(cfg->nsecrets ? cfg->nsecrets : 1, sizeof(*m->rt));
	m->kept = calloc(cfg->nsecrets ? cfg->nsecrets : 1, sizeof(*m->kept));
	if (!m->rt || !m->kept) {
		materializer_free(m);
		return -ENOMEM;
	}
	return 0;
}

void materializer_free(struct materializer *m)
{
	if (m->kept)
		for (size_t i = 0; i < m->cfg->nsecrets; i++)
			sfs_secret_free(&m->kept[i]);
	free(m->kept);
	m->kept = NULL;
	free(m->rt);
	m->rt = NULL;
}

/* Half of a pair: a tls-key with its certificate, a tls-cert with its CA, or the certificate
 * or CA another secret names. Its bytes are kept for checking the other half later. */
static bool is_paired(const struct config *cfg, size_t i)
{
	const struct secret_cfg *s = &cfg->secrets[i];

	if ((s->type == SFS_TYPE_TLS_KEY && s->cert_index >= 0) ||
	    (s->type == SFS_TYPE_TLS_CERT && s->ca_index >= 0))
		return true;
	for (size_t j = 0; j < cfg->nsecrets; j++) {
		const struct secret_cfg *o = &cfg->secrets[j];

		if ((o->type == SFS_TYPE_TLS_KEY && o->cert_index == (int)i) ||
		    (o->type == SFS_TYPE_TLS_CERT && o->ca_index == (int)i))
			return true;
	}
	return false;
}

static enum agent_failure failure_for_write(int r)
{
	return (r == -EPERM || r == -EACCES || r == -ELOOP) ? AGENT_FAIL_NOPERM
							    : AGENT_FAIL_CANTCREAT;
}

/* Keeps the first failure in `acc`, except that a missing env var (a configuration failure)
 * wins, as in the preflight. Returns the code kept: 0 while nothing failed. */
static int keep_worse(struct agent_error *acc, int have, int r, const struct agent_error *e)
{
	if (r >= 0)
		return have;
	if (have == 0 || e->failure == AGENT_FAIL_CONFIG) {
		*acc = *e;
		return r;
	}
	return have;
}

static void fmt_uint(char *buf, size_t size, unsigned long v)
{
	snprintf(buf, size, "%lu", v);
}

/* --- [dir] sections ------------------------------------------------------------------------ */

static int make_one_dir(const struct materializer *m, const struct dir_cfg *d,
			struct agent_error *aerr)
{
	struct sfs_error err = {0};
	struct sfs_dir_opts opts = {
	    .owner = {.uid = d->uid, .gid = d->gid, .chown = m->can_chown},
	    .mode = d->mode,
	    /* A [dir]'s missing parents are shared ground (/app): root-owned, world-searchable. */
	    .parent_mode = 0755,
	    .parents_root_owned = true,
	    .enforce_final = true,
	    .create = true,
	};
	char mode[8], uid[16], have[16];
	struct stat st;
	int fd = -1, r;

	snprintf(mode, sizeof(mode), "%04o", (unsigned)d->mode);
	fmt_uint(uid, sizeof(uid), d->uid);
	if (!m->can_chown && d->uid != geteuid()) {
		r = agent_error_logged(
		    aerr, AGENT_FAIL_NOPERM, -EPERM,
		    "cannot give %s to uid %u: the agent runs as uid %u and may not chown", d->path,
		    (unsigned)d->uid, (unsigned)geteuid());
		goto fail;
	}
	r = sfs_dir_open(d->path, &opts, &fd, &err);
	if (r < 0) {
		agent_error_from_sfs(aerr, failure_for_write(r), &err);
		aerr->reported = true;
		goto fail;
	}
	r = fstat(fd, &st) < 0 ? -errno : 0;
	close(fd);
	if (r < 0) {
		agent_error_logged(aerr, AGENT_FAIL_CANTCREAT, r, "cannot stat %s: %s", d->path,
				   strerror(-r));
		goto fail;
	}
	/* Never chmod or chown someone else's directory (docs/design.md §6): say so and go on. */
	if (st.st_uid != d->uid) {
		fmt_uint(have, sizeof(have), st.st_uid);
		log_event(LOG_WARN, "dir_left_as_is", NULL,
			  (const char *[]){"path", d->path, "uid", have, "wanted_uid", uid, NULL},
			  "%s already exists and belongs to uid %s: its owner and mode are left "
			  "as they are",
			  d->path, have);
		return 0;
	}
	log_event(LOG_INFO, "dir_ready", NULL,
		  (const char *[]){"path", d->path, "mode", mode, "uid", uid, NULL}, NULL);
	return 0;
fail:
	log_event(LOG_ERROR, "dir_failed", NULL, (const char *[]){"path", d->path, NULL}, "%s",
		  aerr->msg);
	return r;
}

/* Every directory is tried; the first failure is returned. */
static int make_dirs_now(struct materializer *m, struct agent_error *err)
{
	int first = 0;

	for (size_t i = 0; i < m->cfg->ndirs; i++) {
		struct agent_error e;
		int r = make_one_dir(m, &m->cfg->dirs[i], &e);

		if (r < 0 && first == 0) {
			first = r;
			*err = e;
		}
	}
	return first;
}

int materializer_make_dirs(struct materializer *m, struct agent_error *err)
{
	if (!m->first_done) {
		m->dirs_pending = true;
		return 0;
	}
	m->can_chown = probe_can_chown();
	return make_dirs_now(m, err);
}

/* --- reading ------------------------------------------------------------------------------ */

/* Logs why a source could not be read and fills `aerr` under `failure`. */
static int read_failed(const struct secret_cfg *s, const struct sfs_error *err,
		       enum agent_failure failure, struct agent_error *aerr)
{
	log_event(LOG_ERROR, "secret_unavailable", s->name,
		  (const char *[]){"source", s->source.spec, NULL}, "%s", err->msg);
	agent_error_from_sfs(aerr, failure, err);
	aerr->reported = true;
	return aerr->code;
}

/* How a secret's source is read: keys have the smaller size limit. Variables are scrubbed only
 * after every source was read (scrub_env_sources): one variable may feed several secrets. */
static struct sfs_read_opts read_opts(const struct secret_cfg *s)
{
	return (struct sfs_read_opts){
	    .max_bytes = secret_type_is_key(s->type) ? SFS_MAX_KEY_BYTES : SFS_MAX_SECRET_BYTES,
	    .keep_env = true,
	};
}

/* Reads one source into w->raw. Returns 0 or a negative errno (logged). */
static int read_secret(const struct secret_cfg *s, struct work *w, struct agent_error *aerr)
{
	struct sfs_read_opts opts = read_opts(s);
	struct sfs_error err = {0};
	int r;

	r = sfs_source_read(&s->source, &opts, &w->raw, &err);
	if (r == 0) {
		w->read = true;
		sfs_hash(w->raw.data, w->raw.len, w->hash);
		return 0;
	}
	/* An empty variable is as absent as an unset one (the preflight treats it the same). */
	if (s->source.kind == SFS_SOURCE_ENV && (r == -ENOENT || r == -ENODATA)) {
		if (secret_type_is_key(s->type))
			sfs_error_set(
			    &err, r, "No signing key available: environment variable %s is not set",
			    s->source.ref);
		else
			sfs_error_set(&err, r, "Required environment variable %s is not set",
				      s->source.ref);
		return read_failed(s, &err, AGENT_FAIL_CONFIG, aerr);
	}
	if (r == -ENOMEM)
		return read_failed(s, &err, AGENT_FAIL_SOFTWARE, aerr);
	/* Too large or empty is what the content is, like any other invalid secret. */
	/* So is a source that is not a regular file (a FIFO, a socket): refused, never waited on.
	 */
	if (r == -EFBIG || r == -ENODATA || r == -EINVAL)
		return read_failed(s, &err, AGENT_FAIL_INVALID, aerr);
	/* A configured source file that is missing or unreadable is for the operator to fix,
	 * like the rest of the configuration (sysexits has no "input missing" among our codes). */
	return read_failed(s, &err, AGENT_FAIL_CONFIG, aerr);
}

/* After the last read: every env: variable that was read is wiped and unset, unless a secret
 * reading it asked for scrub_env = no (then the child is meant to see it). */
static void scrub_env_sources(const struct config *cfg, const struct work *works)
{
	for (size_t i = 0; i < cfg->nsecrets; i++) {
		const struct secret_cfg *s = &cfg->secrets[i];
		bool keep = false;

		if (!works[i].read || s->source.kind != SFS_SOURCE_ENV)
			continue;
		for (size_t j = 0; j < cfg->nsecrets && !keep; j++) {
			const struct secret_cfg *o = &cfg->secrets[j];

			keep = o->source.kind == SFS_SOURCE_ENV && !o->scrub_env &&
			       strcmp(o->source.ref, s->source.ref) == 0;
		}
		if (!keep)
			sfs_env_scrub(s->source.ref);
	}
}

/* --- validation --------------------------------------------------------------------------- */

/* Logs why secret `s` is invalid and fills `aerr` under `failure`. */
static int invalid(const struct secret_cfg *s, const char *reason, int code,
		   enum agent_failure failure, struct agent_error *aerr)
{
	log_event(LOG_ERROR, "invalid_secret", s->name,
		  (const char *[]){"source", s->source.spec, NULL}, "%s", reason);
	return agent_error_logged(aerr, failure, code, "%s: %s", s->name, reason);
}

/* The current content of a partner that is not being applied itself: the canonical bytes it
 * was last applied with, kept in secure memory. Never its target, which after the drop belongs
 * to the service (a FIFO there would block, a link redirect), and never its source, which may
 * already hold a newer version that was not validated yet. */
static const struct sfs_secret *current_bytes(const struct materializer *m, size_t j,
					      struct sfs_error *err)
{
	const struct sfs_secret *kept = &m->kept[j];

	if (kept->data)
		return kept;
	sfs_error_set(err, -ENOENT, "%s has no validated version to check against",
		      m->cfg->secrets[j].name);
	return NULL;
}

/* A secret outside the set whose partner changed: its current content, to check the pair. */
static int load_for_check(const struct materializer *m, size_t i, struct work *w,
			  struct agent_error *aerr)
{
	const struct secret_cfg *s = &m->cfg->secrets[i];
	struct sfs_error err = {0};
	const struct sfs_secret *cur = current_bytes(m, i, &err);
	int r = cur ? sfs_secret_from(&w->raw, cur->data, cur->len, &err) : -ENOENT;

	if (r < 0)
		return invalid(s, err.msg, r,
			       r == -ENOMEM ? AGENT_FAIL_SOFTWARE : AGENT_FAIL_INVALID, aerr);
	w->read = true;
	w->check_only = true;
	return 0;
}

/* Content of partner secret j (a tls-key's certificate, a tls-cert's CA): its new canonical
 * bytes when it is part of this application, else the bytes it was last applied with. */
static int partner_content(struct materializer *m, struct work *works, int j,
			   const unsigned char **data, size_t *len, struct sfs_error *err)
{
	struct work *pw = &works[j];
	const struct sfs_secret *cur;

	if (pw->validated) {
		*data = pw->output.data;
		*len = pw->output.len;
		return 0;
	}
	if (pw->read) {
		*data = pw->raw.data;
		*len = pw->raw.len;
		return 0;
	}
	cur = current_bytes(m, (size_t)j, err);
	if (!cur)
		return -ENOENT;
	*data = cur->data;
	*len = cur->len;
	return 0;
}

static int partner_for_request(struct materializer *m, struct work *works,
			       const struct secret_cfg *s, int j, const char *what,
			       const unsigned char **data, size_t *len, struct agent_error *aerr)
{
	struct sfs_error err = {0};
	char reason[SFS_ERROR_MAX + 128];
	int r;

	if (j < 0 || (r = partner_content(m, works, j, data, len, &err)) == 0)
		return 0;
	snprintf(reason, sizeof(reason), "its %s %s is not available: %s", what,
		 m->cfg->secrets[j].name, err.msg);
	return invalid(s, reason, r, AGENT_FAIL_INVALID, aerr);
}

/* Validates secret i's raw bytes into its output. Returns 0 or a negative errno (logged). */
static int validate_secret(struct materializer *m, struct work *works, size_t i,
			   struct agent_error *aerr)
{
	const struct secret_cfg *s = &m->cfg->secrets[i];
	struct work *w = &works[i];
	struct sfs_validate_req req = {
	    .type = s->type,
	    .data = w->raw.data,
	    .len = w->raw.len,
	    .domain = s->domain,
	    .key_id = s->key_id,
	    /* The library reads 0 as its default: a configured 0 means no warning window. */
	    .warn_days = m->cfg->warn_days ? (int)m->cfg->warn_days : -1,
	    .omit_expired = s->omit_expired,
	};
	struct sfs_validate_result res = {0};
	struct sfs_error err = {0};
	int code = 0, r;

	if (s->type == SFS_TYPE_OPAQUE) {
		/* Opaque bytes are written exactly as they came: nothing to parse or normalise, and
		 * the source buffer itself becomes the output (its hash is already taken). */
		w->output = w->raw;
		w->raw = (struct sfs_secret){0};
		w->validated = true;
		w->fingerprint[0] = '\0';
		return 0;
	}
	if (s->type == SFS_TYPE_TLS_KEY)
		code = partner_for_request(m, works, s, s->cert_index, "certificate", &req.cert,
					   &req.cert_len, aerr);
	if (s->type == SFS_TYPE_TLS_CERT)
		code =
		    partner_for_request(m, works, s, s->ca_index, "CA", &req.ca, &req.ca_len, aerr);
	if (code < 0)
		goto out;
	r = sfs_validate(&req, &res, &err);
	if (r < 0 && w->check_only)
		sfs_error_prefix(
		    &err, "checked again because %s changed",
		    m->cfg->secrets[s->type == SFS_TYPE_TLS_KEY ? s->cert_index : s->ca_index]
			.name);
	if (r < 0) {
		code = invalid(s, err.msg, r,
			       r == -ENOMEM ? AGENT_FAIL_SOFTWARE : AGENT_FAIL_INVALID, aerr);
		goto out;
	}
	for (unsigned k = 0; k < res.warnings.count; k++)
		log_event(LOG_WARN, "secret_warning", s->name,
			  (const char *[]){"source", s->source.spec, NULL}, "%s",
			  res.warnings.msg[k]);
	/* The canonical buffer moves to the work item: secret bytes are never copied twice. */
	w->output = res.canonical;
	res.canonical = (struct sfs_secret){0};
	w->validated = true;
	/* Keys: the public key's; certificates: the first (leaf) certificate's. */
	if (res.has_key_info)
		snprintf(w->fingerprint, sizeof(w->fingerprint), "%s", res.fingerprint_sha256);
	else if (res.ncerts > 0)
		snprintf(w->fingerprint, sizeof(w->fingerprint), "%s", res.certs[0].sha256);
	else
		w->fingerprint[0] = '\0';
out:
	sfs_validate_result_free(&res);
	return code;
}

/* Partners first, so a tls-key is checked against its certificate's canonical new bytes. */
static int validation_rank(enum sfs_secret_type t)
{
	switch (t) {
	case SFS_TYPE_TLS_CERT:
		return 1;
	case SFS_TYPE_TLS_KEY:
		return 2;
	default:
		return 0;
	}
}

/* A key whose certificate changed must still match it even when the key itself did not
 * change: such a secret is validated again (and rewritten only if its bytes differ). */
static bool partner_changed(const struct config *cfg, const struct work *works, size_t i)
{
	const struct secret_cfg *s = &cfg->secrets[i];

	if (s->type == SFS_TYPE_TLS_KEY && s->cert_index >= 0 && works[s->cert_index].active)
		return true;
	if (s->type == SFS_TYPE_TLS_CERT && s->ca_index >= 0 && works[s->ca_index].active)
		return true;
	return false;
}

/* --- writing ------------------------------------------------------------------------------ */

static const struct dir_cfg *dir_section_for(const struct config *cfg, const char *dir)
{
	for (size_t i = 0; i < cfg->ndirs; i++)
		if (strcmp(cfg->dirs[i].path, dir) == 0)
			return &cfg->dirs[i];
	return NULL;
}

/* The target directories one pass (an application, or the start-up rotation check) has walked:
 * secrets that share a directory walk it once per pass instead of once each (three system
 * calls per path component). An entry is a directory walked and checked with the same options
 * moments earlier in the same pass; every entry is closed when the pass ends, so the next pass
 * walks again and sees whatever changed in between. */
#define DIR_CACHE_SIZE 8

struct dir_cache {
	struct {
		char path[PATH_MAX];
		struct sfs_dir_opts opts;
		int fd;
	} e[DIR_CACHE_SIZE];
	size_t n;
};

static bool same_dir_opts(const struct sfs_dir_opts *a, const struct sfs_dir_opts *b)
{
	return a->owner.uid == b->owner.uid && a->owner.gid == b->owner.gid &&
	       a->owner.chown == b->owner.chown && a->mode == b->mode &&
	       a->parent_mode == b->parent_mode && a->parents_root_owned == b->parents_root_owned &&
	       a->enforce_final == b->enforce_final && a->create == b->create;
}

static void dir_cache_close(struct dir_cache *dc)
{
	for (size_t i = 0; i < dc->n; i++)
		close(dc->e[i].fd);
	dc->n = 0;
}

/* sfs_dir_open through the pass's cache: *fd is the caller's own descriptor either way. */
static int dir_open_cached(struct dir_cache *dc, const char *dir, const struct sfs_dir_opts *opts,
			   int *fd, struct sfs_error *err)
{
	int r;

	for (size_t i = 0; i < dc->n; i++) {
		if (strcmp(dc->e[i].path, dir) != 0 || !same_dir_opts(&dc->e[i].opts, opts))
			continue;
		*fd = fcntl(dc->e[i].fd, F_DUPFD_CLOEXEC, 3);
		if (*fd >= 0)
			return 0;
		break; /* out of descriptors: walk as usual, and say so from there */
	}
	r = sfs_dir_open(dir, opts, fd, err);
	if (r < 0 || dc->n >= DIR_CACHE_SIZE || strlen(dir) >= sizeof(dc->e[0].path))
		return r;
	dc->e[dc->n].fd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (dc->e[dc->n].fd < 0)
		return r;
	strcpy(dc->e[dc->n].path, dir);
	dc->e[dc->n].opts = *opts;
	dc->n++;
	return r;
}

/* Opens the target's directory with the ownership rules of docs/design.md §13: created directories
 * get the secret's owner and 0700, unless a [dir] section describes the directory. */
static int open_target_dir(const struct materializer *m, struct dir_cache *dc,
			   const struct sfs_owner *owner, const char *dir, bool create, int *fd,
			   struct sfs_error *err)
{
	const struct dir_cfg *d = dir_section_for(m->cfg, dir);
	struct sfs_dir_opts opts = {
	    .owner = *owner,
	    .mode = 0700,
	    .parent_mode = 0700,
	    .create = create,
	};

	if (d) {
		opts.owner.uid = d->uid;
		opts.owner.gid = d->gid;
		opts.mode = d->mode;
		opts.parent_mode = 0755;
		opts.parents_root_owned = true;
	}
	return dir_open_cached(dc, dir, &opts, fd, err);
}

static int split_target(const char *to, char *dir, size_t size, const char **name)
{
	const char *slash = strrchr(to, '/');

	if (!slash || to[0] != '/' || strlen(to) >= size)
		return -EINVAL;
	if (slash == to)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)(slash - to), to);
	*name = slash + 1;
	return 0;
}

/* Returns 0 or a negative errno (logged). */
static int stage_secret(const struct materializer *m, struct dir_cache *dc,
			const struct secret_cfg *s, struct work *w, struct agent_error *aerr)
{
	struct sfs_file_opts fopts = {.mode = s->mode, .skip_sync = !m->durable};
	struct sfs_error err = {0};
	char dir[PATH_MAX], why[SFS_ERROR_MAX];
	const char *name;
	int fd = -1, r;

	if (split_target(s->to, dir, sizeof(dir), &name) < 0) {
		r = sfs_error_set(&err, -EINVAL, "target %s is not an absolute file path", s->to);
		goto out;
	}
	r = secret_owner(m, s, &fopts.owner, why, sizeof(why));
	if (r < 0) {
		sfs_error_set(&err, r, "%s", why);
		goto out;
	}
	r = open_target_dir(m, dc, &fopts.owner, dir, true, &fd, &err);
	if (r < 0)
		goto out;
	r = sfs_stage(fd, name, s->to, w->output.data, w->output.len, &fopts, &w->staged, &err);
	if (r == 0)
		w->is_staged = true;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		log_event(LOG_ERROR, "write_failed", s->name, (const char *[]){"path", s->to, NULL},
			  "%s", err.msg);
		agent_error_from_sfs(aerr, failure_for_write(r), &err);
		aerr->reported = true;
	}
	return r;
}

static void log_written(const struct secret_cfg *s, const struct work *w, bool changed)
{
	char mode[8], uid[16], gid[16];

	snprintf(mode, sizeof(mode), "%04o", (unsigned)s->mode);
	/* secret_owner() lets nothing be written with other ids than these. */
	fmt_uint(uid, sizeof(uid), s->uid);
	fmt_uint(gid, sizeof(gid), s->gid);
	/* The fingerprint comes last: for a secret without one, NULL ends the field list. */
	log_event(LOG_INFO, "secret_written", s->name,
		  (const char *[]){"path", s->to, "mode", mode, "uid", uid, "gid", gid, "changed",
				   changed ? "true" : "false", "fingerprint",
				   w->fingerprint[0] ? w->fingerprint : NULL, NULL},
		  NULL);
}

static void log_validated_in_place(const struct secret_cfg *s, const struct work *w)
{
	log_event(LOG_INFO, "secret_validated", s->name,
		  (const char *[]){"source", s->source.spec, "fingerprint",
				   w->fingerprint[0] ? w->fingerprint : NULL, NULL},
		  "validated in place (no target)");
}

/* Without root or CAP_CHOWN a file meant for another user or group would silently get ours
 * (docs/design.md §10.1, §13): every such secret of the set is named before anything is read. */
static int check_ownership_possible(const struct materializer *m, const bool *which,
				    struct agent_error *err)
{
	const struct config *cfg = m->cfg;
	int code = 0;

	if (m->can_chown)
		return 0;
	for (size_t i = 0; i < cfg->nsecrets; i++) {
		const struct secret_cfg *s = &cfg->secrets[i];
		struct sfs_owner owner;
		char why[SFS_ERROR_MAX];

		if ((which && !which[i]) || !s->to ||
		    secret_owner(m, s, &owner, why, sizeof(why)) == 0)
			continue;
		code = agent_error_logged(err, AGENT_FAIL_NOPERM, -EPERM, "%s", why);
		log_event(LOG_ERROR, "write_failed", s->name, (const char *[]){"path", s->to, NULL},
			  "%s", err->msg);
	}
	return code;
}

static void free_works(struct work *works, size_t n)
{
	if (!works)
		return;
	for (size_t i = 0; i < n; i++) {
		if (works[i].is_staged)
			sfs_abort(&works[i].staged);
		sfs_secret_free(&works[i].raw);
		sfs_secret_free(&works[i].output);
	}
	free(works);
}

static int commit_one(struct materializer *m, size_t i, struct work *w, size_t *changed_count,
		      struct agent_error *aerr)
{
	const struct secret_cfg *s = &m->cfg->secrets[i];
	struct secret_runtime *rt = &m->rt[i];
	struct sfs_error err = {0};
	unsigned char out_hash[32];
	bool changed;

	sfs_hash(w->output.data, w->output.len, out_hash);
	if (s->to) {
		changed = !w->staged.unchanged;
		w->is_staged = false;
		if (sfs_commit(&w->staged, &err) < 0) {
			log_event(LOG_ERROR, "write_failed", s->name,
				  (const char *[]){"path", s->to, NULL}, "%s", err.msg);
			agent_error_from_sfs(aerr, AGENT_FAIL_CANTCREAT, &err);
			aerr->reported = true;
			return aerr->code;
		}
		log_written(s, w, changed);
	} else {
		changed = rt->applied && memcmp(out_hash, rt->output_hash, sizeof(out_hash)) != 0;
		log_validated_in_place(s, w);
	}
	rt->applied = true;
	rt->changed = changed;
	memcpy(rt->source_hash, w->hash, sizeof(rt->source_hash));
	memcpy(rt->output_hash, out_hash, sizeof(rt->output_hash));
	memcpy(rt->fingerprint, w->fingerprint, sizeof(rt->fingerprint));
	if (changed)
		(*changed_count)++;
	observe_secret_written(&(const struct observe_write){
	    .secret = s->name,
	    .type = s->type,
	    .fingerprint = w->fingerprint,
	    .data = w->output.data,
	    .len = w->output.len,
	    .changed = changed,
	});
	/* What the other half of a pair is checked against from now on (the buffer moves). */
	if (is_paired(m->cfg, i)) {
		sfs_secret_free(&m->kept[i]);
		m->kept[i] = w->output;
		w->output = (struct sfs_secret){0};
	}
	return 0;
}

int materializer_apply(struct materializer *m, const bool *which, size_t *nchanged,
		       struct agent_error *err)
{
	const struct config *cfg = m->cfg;
	size_t n = cfg->nsecrets, changed_count = 0;
	struct dir_cache dirs = {.n = 0};
	struct work *works = NULL;
	struct agent_error local, e;
	int code;

	if (!err)
		err = &local;
	if (nchanged)
		*nchanged = 0;
	for (size_t i = 0; i < n; i++)
		m->rt[i].changed = false;
	m->can_chown = probe_can_chown();
	code = check_ownership_possible(m, which, err);
	if (code < 0)
		return code;
	works = calloc(n ? n : 1, sizeof(*works));
	if (!works) {
		log_error("internal_error", NULL, "out of memory");
		return agent_error_logged(err, AGENT_FAIL_SOFTWARE, -ENOMEM, "out of memory");
	}

	/* 1. Read every selected source before validating anything; every failure is named. The
	 * env: sources come first and are scrubbed right after the last of them: one variable
	 * may feed several secrets, and the value leaves the environment before anything else
	 * (standard input, a slow file) is waited on. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			const struct secret_cfg *s = &cfg->secrets[i];
			struct work *w = &works[i];

			if ((s->source.kind == SFS_SOURCE_ENV) != (pass == 0))
				continue;
			w->selected = !which || which[i];
			if (!w->selected || (m->first_done && is_read_once(&s->source)))
				continue;
			code = keep_worse(err, code, read_secret(s, w, &e), &e);
			if (!w->read)
				continue;
			w->active = !m->rt[i].applied ||
				    memcmp(w->hash, m->rt[i].source_hash, sizeof(w->hash)) != 0;
			if (!w->active)
				log_debug("secret_unchanged", s->name,
					  "source unchanged since last applied");
		}
		if (pass == 0)
			scrub_env_sources(cfg, works);
	}
	if (code < 0)
		goto out;

	/* 2. Validate what changed and what must still match a changed partner (a key outside the
	 * set is loaded from its current file for that); every invalid secret is named, and
	 * nothing is written if any is invalid. */
	for (int rank = 0; rank <= 2; rank++) {
		for (size_t i = 0; i < n; i++) {
			struct work *w = &works[i];
			if (validation_rank(cfg->secrets[i].type) != rank)
				continue;
			if (!w->active && !partner_changed(cfg, works, i))
				continue;
			if (!w->read) {
				code = keep_worse(err, code, load_for_check(m, i, w, &e), &e);
				if (!w->read)
					continue;
			}
			code = keep_worse(err, code, validate_secret(m, works, i, &e), &e);
		}
	}
	if (code < 0)
		goto out;

	/* 3. Only now that everything is valid: the [dir] sections (targets may be created inside
	 * them), then every target staged; any failure aborts all, so earlier targets stay as they
	 * were before this application. */
	if (m->dirs_pending) {
		code = make_dirs_now(m, err);
		if (code < 0)
			goto out;
		m->dirs_pending = false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!works[i].validated || works[i].check_only || !cfg->secrets[i].to)
			continue;
		code = stage_secret(m, &dirs, &cfg->secrets[i], &works[i], err);
		if (code < 0)
			goto out;
	}

	/* 4. Commit: every temp renamed over its target. */
	for (size_t i = 0; i < n; i++)
		if (works[i].validated && !works[i].check_only)
			code = keep_worse(err, code,
					  commit_one(m, i, &works[i], &changed_count, &e), &e);
	m->first_done = true;
	if (nchanged)
		*nchanged = changed_count;
out:
	dir_cache_close(&dirs);
	free_works(works, n);
	return code;
}

/* Whether the agent, as it is now, could rotate secret `s`: give the file its configured ids,
 * reach the target's directory and create a file in it. Returns 0 or -errno with `why`. */
static int rotation_possible(const struct materializer *m, struct dir_cache *dc,
			     const struct secret_cfg *s, char *why, size_t why_size)
{
	struct sfs_owner owner;
	struct sfs_error err = {0};
	char dir[PATH_MAX];
	const char *name;
	int fd = -1, r;

	r = secret_owner(m, s, &owner, why, why_size);
	if (r < 0)
		return r;
	if (split_target(s->to, dir, sizeof(dir), &name) < 0) {
		snprintf(why, why_size, "target %s is not an absolute file path", s->to);
		return -EINVAL;
	}
	r = open_target_dir(m, dc, &owner, dir, false, &fd, &err);
	if (r < 0) {
		snprintf(why, why_size, "%s", err.msg);
		return r;
	}
	/* The kernel's own answer for our effective ids, capabilities and ACLs (faccessat2). */
	r = faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) < 0 ? -errno : 0;
	close(fd);
	/* A long directory is cut in the message rather than the message refused. */
	if (r < 0 &&
	    snprintf(why, why_size, "cannot create files in %s: %s", dir, strerror(-r)) < 0)
		why[0] = '\0';
	return r;
}

bool materializer_source_stale(struct materializer *m, size_t i)
{
	const struct secret_cfg *s = &m->cfg->secrets[i];
	struct sfs_read_opts opts = read_opts(s);
	struct sfs_secret raw = {0};
	struct sfs_error err = {0};
	unsigned char hash[32];
	bool stale;

	if ((s->source.kind != SFS_SOURCE_FILE && s->source.kind != SFS_SOURCE_CRED) ||
	    !m->rt[i].applied)
		return false;
	if (sfs_source_read(&s->source, &opts, &raw, &err) < 0)
		return false;
	sfs_hash(raw.data, raw.len, hash);
	stale = memcmp(hash, m->rt[i].source_hash, sizeof(hash)) != 0;
	sfs_secret_free(&raw);
	return stale;
}

size_t materializer_check_rotation(struct materializer *m)
{
	const struct config *cfg = m->cfg;
	struct dir_cache dirs = {.n = 0};
	size_t impossible = 0;
	char uid[16];

	m->can_chown = probe_can_chown();
	fmt_uint(uid, sizeof(uid), geteuid());
	for (size_t i = 0; i < cfg->nsecrets; i++) {
		const struct secret_cfg *s = &cfg->secrets[i];
		char why[SFS_ERROR_MAX];

		if (!s->to ||
		    (s->source.kind != SFS_SOURCE_FILE && s->source.kind != SFS_SOURCE_CRED))
			continue;
		if (rotation_possible(m, &dirs, s, why, sizeof(why)) == 0)
			continue;
		impossible++;
		log_event(LOG_WARN, "rotation_impossible", s->name,
			  (const char *[]){"path", s->to, "uid", uid, "reason", why, NULL},
			  "%s was written at start but cannot be rotated as uid %s: every rotation "
			  "of it will be refused until this is fixed",
			  s->to, uid);
	}
	dir_cache_close(&dirs);
	return impossible;
}
