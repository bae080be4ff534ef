#include "secret_fs/atomic_write.h"

#include "fs_io.h"
#include "secret_fs/secure_mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* ".NAME.XXXXXX": the dot keeps it out of globs, the suffix makes it unguessable. */
#define TEMP_SUFFIX_LEN	  6
#define TEMP_EXTRA	  (1 + 1 + TEMP_SUFFIX_LEN)
#define MAX_TEMP_ATTEMPTS 100

static void release(struct sfs_staged *st)
{
	if (st->dirfd >= 0)
		close(st->dirfd);
	st->dirfd = -1;
	st->name[0] = '\0';
	st->tmpname[0] = '\0';
	st->unchanged = false;
}

/* A zeroed struct has dirfd 0 but no name: it was never staged and owns nothing. */
static bool is_live(const struct sfs_staged *st)
{
	return st->dirfd >= 0 && st->name[0] != '\0';
}

static int check_name(const char *name, const char *path, struct sfs_error *err)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return sfs_error_set(err, -EINVAL, "%s does not end in a file name", path);
	if (len + TEMP_EXTRA > NAME_MAX)
		return sfs_error_set(err, -ENAMETOOLONG, "the file name of %s is too long", path);
	return 0;
}

static bool owner_matches(const struct stat *st, const struct sfs_owner *owner)
{
	if (owner->chown)
		return st->st_uid == owner->uid && st->st_gid == owner->gid;
	/* Without chown a rewrite would make the file ours: only then is it already right. */
	return st->st_uid == geteuid();
}

/* True when `name` already is a regular file with exactly these bytes, owner and mode. The
 * existing content is secret too, so it is read into secure memory. */
static bool already_there(int dirfd, const char *name, const void *data, size_t len,
			  const struct sfs_file_opts *opts)
{
	struct sfs_secret current = {0};
	struct stat before, st;
	bool same = false;
	int fd;

	if (fstatat(dirfd, name, &before, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(before.st_mode) ||
	    (size_t)before.st_size != len || (before.st_mode & 07777) != opts->mode ||
	    !owner_matches(&before, &opts->owner))
		return false;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || st.st_ino != before.st_ino || st.st_dev != before.st_dev)
		goto out;
	if (fs_read_secret_fd(fd, len, len, &current) < 0)
		goto out;
	same = current.len == len && (len == 0 || memcmp(current.data, data, len) == 0);
out:
	sfs_secret_free(&current);
	close(fd);
	return same;
}

/* Whether fsync buys anything in this directory. The rename alone already guarantees that no
 * reader ever sees a partial file or a wrong mode, with or without fsync; fsync adds only
 * durability: after a power loss a rename can survive while the data blocks it points to did
 * not (a zero-length or torn file). That matters for a file read after a reboot before its
 * writer runs again, so it is kept on disk-backed filesystems unless the caller re-creates
 * the file at every start (sfs_file_opts.skip_sync). On tmpfs and ramfs nothing survives a
 * power loss and fsync has nothing to flush, so the calls (two per file, one of them on the
 * directory) are skipped. An unknown filesystem keeps them. */
static bool wants_fsync(int dirfd)
{
	struct statfs fs;

	if (fstatfs(dirfd, &fs) < 0)
		return true;
	return fs.f_type != TMPFS_MAGIC && fs.f_type != RAMFS_MAGIC;
}

static void random_suffix(char out[TEMP_SUFFIX_LEN + 1])
{
	static const char alphabet[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static unsigned counter;
	unsigned char raw[TEMP_SUFFIX_LEN];

	/* Unpredictability is a nicety here, not the defence: O_EXCL|O_NOFOLLOW refuses any
	 * existing name and we try another. So a failed getrandom falls back to a counter. */
	if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != (ssize_t)sizeof(raw))
		for (size_t i = 0; i < sizeof(raw); i++)
			raw[i] = (unsigned char)((unsigned)getpid() * 31u + counter++ * 7u + i);
	for (size_t i = 0; i < TEMP_SUFFIX_LEN; i++)
		out[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
	out[TEMP_SUFFIX_LEN] = '\0';
}

static bool is_suffix_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Exactly the shape create_temp gives: ".NAME." then TEMP_SUFFIX_LEN letters or digits. */
static bool is_temp_name_of(const char *entry, const char *name, size_t name_len)
{
	const char *suffix;

	if (entry[0] != '.' || strncmp(entry + 1, name, name_len) != 0 ||
	    entry[1 + name_len] != '.')
		return false;
	suffix = entry + 1 + name_len + 1;
	for (size_t i = 0; i < TEMP_SUFFIX_LEN; i++)
		if (!is_suffix_char(suffix[i]))
			return false;
	return suffix[TEMP_SUFFIX_LEN] == '\0';
}

/* A temp file that a crash left between write and rename holds the whole secret, under a name
 * nothing ever looks at again. Before writing `name`, remove what earlier runs left for it:
 * only regular files (never a link, a directory or anything else), with a single link, whose
 * name has exactly our temp shape and whose owner is one we give temp files (the writer's
 * uid before fchown, the target's owner after). Anything else is left alone. A directory we
 * cannot list is skipped: this is hygiene, the write itself does not depend on it. Returns the
 * number of files removed. */
static unsigned remove_stale_temps(int dirfd, const char *name, const struct sfs_owner *owner)
{
	size_t name_len = strlen(name);
	unsigned removed = 0;
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return 0;
	}
	while ((de = readdir(dir))) {
		struct stat st;

		if (!is_temp_name_of(de->d_name, name, name_len))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_nlink != 1)
			continue;
		if (st.st_uid != geteuid() && !(owner->chown && st.st_uid == owner->uid))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(dir);
	return removed;
}

static int create_temp(int dirfd, const char *name, const char *path, char *tmpname, size_t tmpsize,
		       struct sfs_error *err)
{
	for (int i = 0; i < MAX_TEMP_ATTEMPTS; i++) {
		char suffix[TEMP_SUFFIX_LEN + 1];
		int fd;

		random_suffix(suffix);
		snprintf(tmpname, tmpsize, ".%s.%s", name, suffix);
		fd = openat(dirfd, tmpname, O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_WRONLY,
			    0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST) {
			int r = -errno;

			tmpname[0] = '\0';
			return sfs_error_set(err, r, "cannot create a temporary file beside %s: %s",
					     path, strerror(-r));
		}
	}
	tmpname[0] = '\0';
	return sfs_error_set(err, -EEXIST, "cannot find a free temporary name beside %s", path);
}

int sfs_stage(int dirfd, const char *name, const char *path, const void *data, size_t len,
	      const struct sfs_file_opts *opts, struct sfs_staged *out, struct sfs_error *err)
{
	struct stat st;
	int fd = -1;
	int r;

	out->dirfd = -1;
	out->name[0] = '\0';
	out->tmpname[0] = '\0';
	out->unchanged = false;
	out->stale_removed = 0;
	snprintf(out->path, sizeof(out->path), "%s", path ? path : (name ? name : "?"));
	path = out->path;
	r = check_name(name, path, err);
	if (r < 0)
		return r;
	/* Before anything else, unchanged content included: a leftover is removed even when
	 * the target needs no rewrite. */
	out->stale_removed = remove_stale_temps(dirfd, name, &opts->owner);
	out->durable = !opts->skip_sync && wants_fsync(dirfd);

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		return sfs_error_set(err, -EISDIR, "%s is a directory", path);

	out->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (out->dirfd < 0)
		return sfs_error_set(err, -errno, "cannot duplicate the directory of %s: %s", path,
				     strerror(errno));
	snprintf(out->name, sizeof(out->name), "%s", name);

	if (already_there(dirfd, name, data, len, opts)) {
		out->unchanged = true;
		return 0;
	}

	fd = create_temp(dirfd, name, path, out->tmpname, sizeof(out->tmpname), err);
	if (fd < 0) {
		r = fd;
		fd = -1;
		goto out;
	}
	/* Owner and mode are final before the first byte: no reader ever sees secret bytes
	 * under the wrong owner or mode. chown may clear mode bits, so it comes first. */
	if (opts->owner.chown && fchown(fd, opts->owner.uid, opts->owner.gid) < 0) {
		r = sfs_error_set(err, -errno, "cannot give %s to uid %u gid %u: %s", path,
				  (unsigned)opts->owner.uid, (unsigned)opts->owner.gid,
				  strerror(errno));
		goto out;
	}
	if (fchmod(fd, opts->mode) < 0) {
		r = sfs_error_set(err, -errno, "cannot set mode %04o on %s: %s",
				  (unsigned)opts->mode, path, strerror(errno));
		goto out;
	}
	r = fs_write_all(fd, data, len);
	if (r < 0) {
		r = sfs_error_set(err, r, "cannot write %s: %s", path, strerror(-r));
		goto out;
	}
	if (out->durable && fsync(fd) < 0) {
		r = sfs_error_set(err, -errno, "cannot sync %s: %s", path, strerror(errno));
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = sfs_error_set(err, -errno, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	return 0;
out:
	if (fd >= 0)
		close(fd);
	sfs_abort(out);
	return r;
}

int sfs_commit(struct sfs_staged *st, struct sfs_error *err)
{
	int r = 0;
	int syncfd;

	if (!is_live(st))
		return 0;
	if (st->unchanged || !st->tmpname[0])
		goto out;
	if (renameat(st->dirfd, st->tmpname, st->dirfd, st->name) < 0) {
		r = sfs_error_set(err, -errno, "cannot replace %s: %s", st->path, strerror(errno));
		unlinkat(st->dirfd, st->tmpname, 0);
		goto out;
	}
	st->tmpname[0] = '\0';
	/* The rename is durable only once the directory is synced. An O_PATH descriptor cannot
	 * be synced, so reopen it readable when needed. */
	if (!st->durable || fsync(st->dirfd) == 0)
		goto out;
	syncfd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* A directory we may write but not read cannot be synced by us; the rename stands. */
	if (syncfd < 0 && errno == EACCES)
		goto out;
	if (syncfd < 0 || fsync(syncfd) < 0)
		r = sfs_error_set(err, -errno,
				  "%s was replaced but its directory cannot be synced: %s",
				  st->path, strerror(errno));
	if (syncfd >= 0)
		close(syncfd);
out:
	release(st);
	return r;
}

void sfs_abort(struct sfs_staged *st)
{
	if (!st || !is_live(st))
		return;
	if (st->tmpname[0])
		unlinkat(st->dirfd, st->tmpname, 0);
	release(st);
}

int sfs_write_file(const char *path, const void *data, size_t len,
		   const struct sfs_dir_opts *dir_opts, const struct sfs_file_opts *opts,
		   bool *changed, struct sfs_error *err)
{
	char dir[PATH_MAX];
	struct sfs_dir_opts defaults;
	struct sfs_staged st = {.dirfd = -1};
	const char *slash;
	int dirfd = -1;
	int r;

	if (changed)
		*changed = false;
	if (!path || path[0] != '/')
		return sfs_error_set(err, -EINVAL, "target %s is not an absolute path",
				     path ? path : "(null)");
	if (strlen(path) >= sizeof(dir))
		return sfs_error_set(err, -ENAMETOOLONG, "target %s is too long", path);
	slash = strrchr(path, '/');
	if (slash == path)
		strcpy(dir, "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (!dir_opts) {
		defaults = (struct sfs_dir_opts){
		    .owner = opts->owner, .mode = 0700, .parent_mode = 0700, .create = true};
		dir_opts = &defaults;
	}
	r = sfs_dir_open(dir, dir_opts, &dirfd, err);
	if (r < 0)
		goto out;
	r = sfs_stage(dirfd, slash + 1, path, data, len, opts, &st, err);
	if (r < 0)
		goto out;
	if (changed)
		*changed = !st.unchanged;
	r = sfs_commit(&st, err);
	if (r < 0 && changed)
		*changed = false;
out:
	sfs_abort(&st);
	if (dirfd >= 0)
		close(dirfd);
	return r;
}
