/* Users and groups, names or numeric ids: through NSS (getpwnam_r & co.), or in the static
 * build from /etc/passwd and /etc/group alone.
 *
 * A numeric id needs no passwd/group entry: containers often run as an arbitrary uid
 * (OpenShift, `docker run -u 1234`). Supplementary groups are only taken for a user given by
 * name alone, as initgroups() would; a numeric uid or an explicit group means exactly that
 * group and no others, so nothing is granted that the operator did not write.
 *
 * Why the static build reads the files itself (IDENTITY_FILES_ONLY): a statically linked glibc
 * still follows the image's /etc/nsswitch.conf, and for any service besides its built-in
 * `files` (`systemd`, `sss`, `ldap`...) it dlopen()s the module, which loads a second, shared
 * libc into the process when the image has one, or fails the lookup with EINVAL ("passwd:
 * sss" alone) when it has not. A container's users are the image's files; reading them with
 * fgetpwent_r/fgetgrent_r loads nothing, and skips nscd's socket and nsswitch.conf.
 */
#include "proc/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Parses a decimal id; (id_t)-1 is refused because it means "unchanged" to set*id(). */
static bool parse_id(const char *s, unsigned long *out)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 10)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v >= UINT32_MAX)
		return false;
	*out = v;
	return true;
}

/* getpw*_r/getgr*_r with a buffer that grows on ERANGE. *buf is freed by the caller. */
static size_t initial_bufsize(int which)
{
	long n = sysconf(which);

	return n > 0 ? (size_t)n : 16384;
}

#ifdef IDENTITY_FILES_ONLY

#ifndef IDENTITY_PASSWD_FILE
#define IDENTITY_PASSWD_FILE "/etc/passwd"
#endif
#ifndef IDENTITY_GROUP_FILE
#define IDENTITY_GROUP_FILE "/etc/group"
#endif

/* The file in memory, read as a stream: fgetpwent_r and fgetgrent_r seek back and forth around
 * every entry, which on a file is two lseek calls per line and on memory none. NULL with errno
 * set (ENOENT: no such file); *buf is the caller's to free after fclose. */
static FILE *open_db(const char *path, char **buf)
{
	struct stat st;
	size_t len = 0;
	FILE *f = NULL;
	int fd, saved;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		saved = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (1 << 24)) {
		saved = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto out;
	}
	/* One byte more: an empty file still makes a stream (fmemopen refuses size 0). */
	*buf = calloc(1, (size_t)st.st_size + 1);
	if (!*buf) {
		saved = ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, *buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	f = fmemopen(*buf, len ? len : 1, "r");
	saved = errno;
out:
	close(fd);
	if (!f) {
		free(*buf);
		*buf = NULL;
		errno = saved;
	}
	return f;
}

/* The NSS calls' contract (0 and *found NULL when there is no such entry, else an errno),
 * answered from the files. A missing file has no entries. fgetpwent_r/fgetgrent_r put the
 * stream back at the start of the entry on ERANGE, so the same entry is read again with the
 * grown buffer. */
static int files_getpw(const char *name, uid_t uid, struct passwd *pw, char *buf, size_t size,
		       struct passwd **found)
{
	char *db;
	FILE *f = open_db(IDENTITY_PASSWD_FILE, &db);
	int r;

	*found = NULL;
	if (!f)
		return errno == ENOENT ? 0 : errno;
	while ((r = fgetpwent_r(f, pw, buf, size, found)) == 0) {
		if (name ? strcmp((*found)->pw_name, name) == 0 : (*found)->pw_uid == uid)
			break;
		*found = NULL;
	}
	fclose(f);
	free(db);
	if (r == ENOENT) /* end of file */
		r = 0;
	if (r != 0)
		*found = NULL;
	return r;
}

static int files_getgr(const char *name, gid_t gid, struct group *gr, char *buf, size_t size,
		       struct group **found)
{
	char *db;
	FILE *f = open_db(IDENTITY_GROUP_FILE, &db);
	int r;

	*found = NULL;
	if (!f)
		return errno == ENOENT ? 0 : errno;
	while ((r = fgetgrent_r(f, gr, buf, size, found)) == 0) {
		if (name ? strcmp((*found)->gr_name, name) == 0 : (*found)->gr_gid == gid)
			break;
		*found = NULL;
	}
	fclose(f);
	free(db);
	if (r == ENOENT)
		r = 0;
	if (r != 0)
		*found = NULL;
	return r;
}

#define getpwnam_r(name, pw, buf, size, found) files_getpw(name, 0, pw, buf, size, found)
#define getpwuid_r(uid, pw, buf, size, found)  files_getpw(NULL, uid, pw, buf, size, found)
#define getgrnam_r(name, gr, buf, size, found) files_getgr(name, 0, gr, buf, size, found)
#define getgrgid_r(gid, gr, buf, size, found)  files_getgr(NULL, gid, gr, buf, size, found)

/* getgrouplist() over the group file: the primary group first, then every group that lists
 * `user` as a member, each once. Same contract: -1 with *ngroups set to the number needed
 * when they do not fit. */
static int files_grouplist(const char *user, gid_t primary, gid_t *groups, int *ngroups)
{
	size_t size = initial_bufsize(_SC_GETGR_R_SIZE_MAX);
	struct group gr, *found;
	int max = *ngroups, n = 0, r;
	char *buf = malloc(size);
	char *db = NULL;
	FILE *f;

	if (!buf)
		return -1;
	if (max > 0)
		groups[0] = primary;
	n = 1;
	f = open_db(IDENTITY_GROUP_FILE, &db);
	while (f) {
		bool member = false, seen = false;

		r = fgetgrent_r(f, &gr, buf, size, &found);
		if (r == ERANGE && size <= (1u << 20)) {
			char *grown = realloc(buf, size * 2);

			if (!grown)
				break;
			buf = grown;
			size *= 2;
			continue;
		}
		if (r != 0)
			break;
		for (char **m = found->gr_mem; m && *m; m++)
			if (strcmp(*m, user) == 0)
				member = true;
		if (!member)
			continue;
		for (int i = 0; i < n && i < max; i++)
			if (groups[i] == found->gr_gid)
				seen = true;
		if (seen)
			continue;
		if (n < max)
			groups[n] = found->gr_gid;
		n++;
	}
	if (f)
		fclose(f);
	free(db);
	free(buf);
	*ngroups = n;
	return n > max ? -1 : n;
}

#define getgrouplist(user, gid, groups, ngroups) files_grouplist(user, gid, groups, ngroups)

#endif /* IDENTITY_FILES_ONLY */

/* getpw*_r and getgr*_r fill a caller's buffer and answer ERANGE when it is too small: grow
 * it and ask again. `call` makes the one lookup. Returns 0 (found or not: see *found) or a
 * negative errno. */
static int lookup_growing(int sc_name, char **buf, int (*call)(void *query, char *buf, size_t size),
			  void *query)
{
	size_t size = initial_bufsize(sc_name);
	int r;

	for (;;) {
		char *grown = realloc(*buf, size);

		if (!grown)
			return -ENOMEM;
		*buf = grown;
		r = call(query, *buf, size);
		if (r != ERANGE || size > (1u << 20))
			break;
		size *= 2;
	}
	/* "Not found" is reported as 0 with *found NULL, or by some NSS modules as an errno. */
	if (r == ENOENT || r == ESRCH || r == EBADF || r == EPERM)
		r = 0;
	return -r;
}

struct user_query {
	const char *name; /* by name, or by uid when NULL */
	uid_t uid;
	struct passwd *pw;
	struct passwd **found;
};

static int user_call(void *query, char *buf, size_t size)
{
	struct user_query *q = query;

	return q->name ? getpwnam_r(q->name, q->pw, buf, size, q->found)
		       : getpwuid_r(q->uid, q->pw, buf, size, q->found);
}

struct group_query {
	const char *name; /* by name, or by gid when NULL */
	gid_t gid;
	struct group *gr;
	struct group **found;
};

static int group_call(void *query, char *buf, size_t size)
{
	struct group_query *q = query;

	return q->name ? getgrnam_r(q->name, q->gr, buf, size, q->found)
		       : getgrgid_r(q->gid, q->gr, buf, size, q->found);
}

static int lookup_user(const char *name, uid_t uid, struct passwd *pw, char **buf,
		       struct passwd **found)
{
	struct user_query q = {.name = name, .uid = uid, .pw = pw, .found = found};

	return lookup_growing(_SC_GETPW_R_SIZE_MAX, buf, user_call, &q);
}

static int lookup_group(const char *name, gid_t gid, struct group *gr, char **buf,
			struct group **found)
{
	struct group_query q = {.name = name, .gid = gid, .gr = gr, .found = found};

	return lookup_growing(_SC_GETGR_R_SIZE_MAX, buf, group_call, &q);
}

int identity_resolve_group(const char *group, gid_t *out)
{
	struct group gr, *found = NULL;
	unsigned long id;
	char *buf = NULL;
	int r;

	if (parse_id(group, &id)) {
		*out = (gid_t)id;
		return 0;
	}
	r = lookup_group(group, 0, &gr, &buf, &found);
	if (r == 0 && !found)
		r = -ENOENT;
	if (r == 0)
		*out = found->gr_gid;
	free(buf);
	return r;
}

static int copy_passwd(const struct passwd *pw, struct identity *out, char *msg, size_t msgsize)
{
	if (strlen(pw->pw_name) >= sizeof(out->name) ||
	    (pw->pw_dir && strlen(pw->pw_dir) >= sizeof(out->home))) {
		snprintf(msg, msgsize, "user name or home directory of uid %u is too long",
			 (unsigned)pw->pw_uid);
		return -ENAMETOOLONG;
	}
	strcpy(out->name, pw->pw_name);
	strcpy(out->home, pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/");
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	return 0;
}

static int supplementary_groups(struct identity *out, char *msg, size_t msgsize)
{
	int n = (int)(sizeof(out->groups) / sizeof(out->groups[0]));

	if (getgrouplist(out->name, out->gid, out->groups, &n) < 0) {
		snprintf(msg, msgsize, "user '%s' is in %d groups, more than the %zu supported",
			 out->name, n, sizeof(out->groups) / sizeof(out->groups[0]));
		return -E2BIG;
	}
	out->ngroups = (size_t)n;
	return 0;
}

int identity_resolve(const char *user, const char *group, struct identity *out, char *msg,
		     size_t msgsize)
{
	struct passwd pw, *found = NULL;
	char *buf = NULL, *user_part = NULL;
	const char *colon;
	unsigned long id;
	bool numeric;
	int r;

	memset(out, 0, sizeof(*out));
	strcpy(out->home, "/");
	if (msg && msgsize)
		msg[0] = '\0';
	/* "user:group" is accepted as in `docker run -u`. */
	colon = strchr(user, ':');
	if (colon) {
		if (group) {
			snprintf(msg, msgsize, "user '%s' names a group and a group is also given",
				 user);
			r = -EINVAL;
			goto out;
		}
		user_part = strndup(user, (size_t)(colon - user));
		if (!user_part) {
			r = -ENOMEM;
			goto out;
		}
		group = colon + 1;
		user = user_part;
	}
	if (*user == '\0' || (group && *group == '\0')) {
		snprintf(msg, msgsize, "empty user or group name");
		r = -EINVAL;
		goto out;
	}
	numeric = parse_id(user, &id);
	r = numeric ? lookup_user(NULL, (uid_t)id, &pw, &buf, &found)
		    : lookup_user(user, 0, &pw, &buf, &found);
	if (r < 0) {
		snprintf(msg, msgsize, "cannot look up user '%s': %s", user, strerror(-r));
		goto out;
	}
	if (found) {
		r = copy_passwd(found, out, msg, msgsize);
		if (r < 0)
			goto out;
	} else if (numeric) {
		out->uid = (uid_t)id;
		out->gid = (gid_t)id;
	} else {
		snprintf(msg, msgsize, "unknown user '%s'", user);
		r = -ENOENT;
		goto out;
	}
	if (group) {
		r = identity_resolve_group(group, &out->gid);
		if (r < 0) {
			snprintf(msg, msgsize,
				 r == -ENOENT ? "unknown group '%s'" : "cannot look up group '%s'",
				 group);
			goto out;
		}
		out->by_name = false;
		out->ngroups = 0;
	} else if (!numeric) {
		out->by_name = true;
		r = supplementary_groups(out, msg, msgsize);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free(buf);
	free(user_part);
	return r;
}
