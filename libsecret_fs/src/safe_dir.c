#include "secret_fs/safe_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Linux follows at most 40 links per lookup; a legitimate system link chain is far shorter. */
#define MAX_LINKS_FOLLOWED 40
/* mkdirat/openat races (someone creating or removing the same name) are retried this often. */
#define MAX_RACE_RETRIES 8

struct walk {
	const struct sfs_dir_opts *opts;
	int cur;		/* O_PATH (or O_RDONLY) fd of the directory reached so far */
	struct stat cur_st;	/* its stat: the "directory holding" the next component */
	char shown[PATH_MAX];	/* the path reached so far, for messages */
	char pending[PATH_MAX]; /* components still to walk */
	int links_followed;
	struct sfs_error *err;
};

/* Pops the next component from w->pending into `name`, skipping empty and "." components.
 * Returns 1, 0 when nothing is left, or -ENAMETOOLONG (a link target can hold any bytes: a
 * cut name could match another directory). */
static int next_component(struct walk *w, char name[NAME_MAX + 1], bool *is_last)
{
	char *p = w->pending;
	size_t n;

	for (;;) {
		while (*p == '/')
			p++;
		if (!*p) {
			w->pending[0] = '\0';
			return 0;
		}
		n = strcspn(p, "/");
		if (!(n == 1 && p[0] == '.'))
			break;
		p += n;
	}
	if (n > NAME_MAX)
		return sfs_error_set(w->err, -ENAMETOOLONG, "a path component below %s is too long",
				     w->shown);
	memcpy(name, p, n);
	name[n] = '\0';
	p += strcspn(p, "/");
	memmove(w->pending, p, strlen(p) + 1);
	for (p = w->pending; *p == '/' || (p[0] == '.' && (p[1] == '/' || !p[1])); p++)
		;
	*is_last = !*p;
	return 1;
}

static void shown_push(struct walk *w, const char *name)
{
	size_t len = strlen(w->shown);

	if (len == 1)
		len = 0; /* "/" */
	snprintf(w->shown + len, sizeof(w->shown) - len, "/%s", name);
}

static void shown_pop(struct walk *w)
{
	char *slash = strrchr(w->shown, '/');

	if (slash == w->shown || !slash)
		strcpy(w->shown, "/");
	else
		*slash = '\0';
}

/* The path a component would have, for messages, without changing w->shown. */
static const char *component_path(const struct walk *w, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s", w->shown, strcmp(w->shown, "/") == 0 ? "" : "/", name);
	return buf;
}

static void enter(struct walk *w, int fd, const struct stat *st)
{
	close(w->cur);
	w->cur = fd;
	w->cur_st = *st;
}

static bool in_sticky_world_writable(const struct stat *parent)
{
	return (parent->st_mode & S_ISVTX) && (parent->st_mode & S_IWOTH);
}

static int follow_link(struct walk *w, const char *name, const struct stat *link_st)
{
	char where[PATH_MAX + NAME_MAX + 2];
	char target[PATH_MAX];
	ssize_t n;
	size_t rest_len;

	component_path(w, name, where, sizeof(where));
	/* Only root can plant a root-owned link in a root-owned directory: those are system
	 * links (/var/run -> /run). Anything else could redirect a root write anywhere. */
	if (link_st->st_uid != 0 || w->cur_st.st_uid != 0)
		return sfs_error_set(
		    w->err, -ELOOP,
		    "refusing symlink at %s (owned by uid %u, in a directory owned "
		    "by uid %u): symlinks on the way to a target are never followed "
		    "unless root owns both",
		    where, (unsigned)link_st->st_uid, (unsigned)w->cur_st.st_uid);
	if (++w->links_followed > MAX_LINKS_FOLLOWED)
		return sfs_error_set(w->err, -ELOOP, "too many levels of symlinks at %s", where);
	n = readlinkat(w->cur, name, target, sizeof(target));
	if (n < 0)
		return sfs_error_set(w->err, -errno, "cannot read symlink %s: %s", where,
				     strerror(errno));
	if ((size_t)n >= sizeof(target) || n == 0)
		return sfs_error_set(w->err, -ENAMETOOLONG, "symlink %s has an unusable target",
				     where);
	target[n] = '\0';
	rest_len = strlen(w->pending);
	if ((size_t)n + 1 + rest_len >= sizeof(w->pending))
		return sfs_error_set(w->err, -ENAMETOOLONG, "path through symlink %s is too long",
				     where);
	/* The link target is walked with the same rules, component by component. */
	memmove(w->pending + n + 1, w->pending, rest_len + 1);
	memcpy(w->pending, target, (size_t)n);
	w->pending[n] = '/';
	if (target[0] == '/') {
		struct stat st;
		int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (root < 0 || fstat(root, &st) < 0) {
			int r = -errno;

			if (root >= 0)
				close(root);
			return sfs_error_set(w->err, r, "cannot open /: %s", strerror(-r));
		}
		enter(w, root, &st);
		strcpy(w->shown, "/");
	}
	return 0;
}

static int go_up(struct walk *w)
{
	struct stat st;
	int fd = openat(w->cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = -errno;

		if (fd >= 0)
			close(fd);
		return sfs_error_set(w->err, r, "cannot open the parent of %s: %s", w->shown,
				     strerror(-r));
	}
	enter(w, fd, &st);
	shown_pop(w);
	return 0;
}

/* Gives a directory we just created its owner and mode. fchown before fchmod: a chown may
 * clear mode bits. */
static int settle_created(struct walk *w, int fd, const char *where, bool is_last)
{
	const struct sfs_dir_opts *o = w->opts;
	bool as_target_owner = is_last || !o->parents_root_owned;
	mode_t mode = is_last ? o->mode : o->parent_mode;

	if (as_target_owner && o->owner.chown && fchown(fd, o->owner.uid, o->owner.gid) < 0)
		return sfs_error_set(w->err, -errno, "cannot give %s to uid %u gid %u: %s", where,
				     (unsigned)o->owner.uid, (unsigned)o->owner.gid,
				     strerror(errno));
	if (fchmod(fd, mode) < 0)
		return sfs_error_set(w->err, -errno, "cannot set mode %04o on %s: %s",
				     (unsigned)mode, where, strerror(errno));
	return 0;
}

static int check_existing(struct walk *w, int fd, const struct stat *st, const char *where,
			  bool is_last)
{
	const struct sfs_dir_opts *o = w->opts;

	if (in_sticky_world_writable(&w->cur_st) && st->st_uid != 0 && st->st_uid != o->owner.uid)
		return sfs_error_set(w->err, -EPERM,
				     "refusing directory %s (owned by uid %u): it lies in the "
				     "world-writable sticky directory %s, so only root or uid %u "
				     "may own it",
				     where, (unsigned)st->st_uid, w->shown, (unsigned)o->owner.uid);
	if (!is_last || !o->enforce_final || st->st_uid != o->owner.uid)
		return 0;
	if (o->owner.chown && st->st_gid != o->owner.gid && fchown(fd, (uid_t)-1, o->owner.gid) < 0)
		return sfs_error_set(w->err, -errno, "cannot set group %u on %s: %s",
				     (unsigned)o->owner.gid, where, strerror(errno));
	if ((st->st_mode & 07777) != o->mode && fchmod(fd, o->mode) < 0)
		return sfs_error_set(w->err, -errno, "cannot set mode %04o on %s: %s",
				     (unsigned)o->mode, where, strerror(errno));
	return 0;
}

/* Walks one component `name` below w->cur: opens it (creating when allowed), following only
 * trusted links. On return w->cur is the component's directory, or w->pending has been
 * extended by a followed link's target. */
static int step(struct walk *w, const char *name, bool is_last)
{
	char where[PATH_MAX + NAME_MAX + 2];
	struct stat st;
	int fd = -1;
	int r = 0;

	component_path(w, name, where, sizeof(where));
	if (strcmp(name, "..") == 0)
		return go_up(w);

	for (int attempt = 0; attempt < MAX_RACE_RETRIES; attempt++) {
		/* A readable descriptor can be fchmod'ed (enforce_final) and synced; a directory we
		 * may only search is still passed through with O_PATH. */
		fd = openat(w->cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == EACCES)
			fd = openat(w->cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			if (fstat(fd, &st) < 0) {
				r = sfs_error_set(w->err, -errno, "cannot stat %s: %s", where,
						  strerror(errno));
				goto out;
			}
			r = check_existing(w, fd, &st, where, is_last);
			if (r < 0)
				goto out;
			enter(w, fd, &st);
			shown_push(w, name);
			return 0;
		}
		r = -errno;
		if (r != -ENOENT && r != -ELOOP && r != -ENOTDIR) {
			r = sfs_error_set(w->err, r, "cannot open directory %s: %s", where,
					  strerror(-r));
			goto out;
		}
		if (fstatat(w->cur, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISLNK(st.st_mode))
				return follow_link(w, name, &st);
			if (!S_ISDIR(st.st_mode)) {
				r = sfs_error_set(w->err, -ENOTDIR,
						  "%s exists and is not a directory", where);
				goto out;
			}
			continue; /* replaced between openat and fstatat: look again */
		}
		if (errno != ENOENT) {
			r = sfs_error_set(w->err, -errno, "cannot stat %s: %s", where,
					  strerror(errno));
			goto out;
		}
		if (!w->opts->create) {
			r = sfs_error_set(w->err, -ENOENT, "directory %s does not exist", where);
			goto out;
		}
		/* 0700 until owner and mode are settled: nobody else gets in meanwhile. */
		if (mkdirat(w->cur, name, 0700) < 0) {
			if (errno == EEXIST)
				continue;
			r = sfs_error_set(w->err, -errno, "cannot create directory %s: %s", where,
					  strerror(errno));
			goto out;
		}
		fd = openat(w->cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
				continue;
			r = sfs_error_set(w->err, -errno, "cannot open new directory %s: %s", where,
					  strerror(errno));
			goto out;
		}
		if (fstat(fd, &st) < 0) {
			r = sfs_error_set(w->err, -errno, "cannot stat %s: %s", where,
					  strerror(errno));
			goto out;
		}
		/* Only a directory that is still ours is the one we made; anything swapped in
		 * meanwhile is treated like any existing directory. */
		if (st.st_uid == geteuid())
			r = settle_created(w, fd, where, is_last);
		else
			r = check_existing(w, fd, &st, where, is_last);
		if (r < 0)
			goto out;
		if (fstat(fd, &st) < 0) {
			r = sfs_error_set(w->err, -errno, "cannot stat %s: %s", where,
					  strerror(errno));
			goto out;
		}
		enter(w, fd, &st);
		shown_push(w, name);
		return 0;
	}
	r = sfs_error_set(w->err, -EAGAIN, "%s keeps changing while it is opened", where);
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static int validate_path(const char *path, struct sfs_error *err)
{
	const char *p = path;

	if (!path || path[0] != '/')
		return sfs_error_set(err, -EINVAL, "directory path %s is not absolute",
				     path ? path : "(null)");
	if (strlen(path) >= PATH_MAX)
		return sfs_error_set(err, -ENAMETOOLONG, "directory path %s is too long", path);
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		/* ".." in a configured path is either a mistake or a trick; links may use it. */
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return sfs_error_set(err, -EINVAL, "directory path %s contains \"..\"",
					     path);
		if (n > NAME_MAX)
			return sfs_error_set(err, -ENAMETOOLONG,
					     "a component of directory path %s is too long", path);
		p += n;
	}
	return 0;
}

int sfs_dir_open(const char *path, const struct sfs_dir_opts *opts, int *dirfd_out,
		 struct sfs_error *err)
{
	struct walk w = {.opts = opts, .cur = -1, .err = err};
	char name[NAME_MAX + 1];
	bool is_last = false;
	int fd = -1;
	int r;

	*dirfd_out = -1;
	r = validate_path(path, err);
	if (r < 0)
		return r;
	strcpy(w.pending, path);
	strcpy(w.shown, "/");
	w.cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w.cur < 0 || fstat(w.cur, &w.cur_st) < 0) {
		r = sfs_error_set(err, -errno, "cannot open /: %s", strerror(errno));
		goto out;
	}
	while ((r = next_component(&w, name, &is_last)) > 0) {
		r = step(&w, name, is_last);
		if (r < 0)
			goto out;
	}
	if (r < 0)
		goto out;
	/* The walk may end on an O_PATH descriptor; callers need one they can fsync. A
	 * directory we may only search (mode 0300 or 0711) still serves for openat/renameat. */
	fd = openat(w.cur, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == EACCES)
		fd = openat(w.cur, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = sfs_error_set(err, -errno, "cannot open directory %s: %s", w.shown,
				  strerror(errno));
		goto out;
	}
	*dirfd_out = fd;
	r = 0;
out:
	if (w.cur >= 0)
		close(w.cur);
	return r;
}
