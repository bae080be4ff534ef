#include "secret_fs/source.h"

#include "fs_io.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static bool is_env_name(const char *name)
{
	if (!*name || strchr(name, '='))
		return false;
	for (const char *p = name; *p; p++)
		if (!isprint((unsigned char)*p) || *p == ' ')
			return false;
	return true;
}

/* "word:rest" with a lowercase word and no '/' before the colon looks like a source kind; an
 * unknown one ("evn:KEY") is almost certainly a typo, not a file named that way (which can
 * still be given as ./evn:KEY or file:evn:KEY). */
static bool looks_like_kind(const char *spec, size_t *kind_len)
{
	const char *colon = strchr(spec, ':');

	if (!colon || colon == spec)
		return false;
	for (const char *p = spec; p < colon; p++)
		if (!islower((unsigned char)*p))
			return false;
	*kind_len = (size_t)(colon - spec);
	return true;
}

int sfs_source_parse(const char *spec, struct sfs_source *out, struct sfs_error *err)
{
	enum sfs_source_kind kind;
	const char *ref;
	size_t kind_len;
	int r;

	out->kind = SFS_SOURCE_FILE;
	out->ref = NULL;
	out->spec = NULL;
	if (!spec || !*spec)
		return sfs_error_set(err, -EINVAL,
				     "empty secret source (expected env:NAME, "
				     "file:PATH, cred:NAME or -)");

	if (strcmp(spec, "-") == 0) {
		kind = SFS_SOURCE_STDIN;
		ref = "-";
	} else if (strncmp(spec, "env:", 4) == 0) {
		kind = SFS_SOURCE_ENV;
		ref = spec + 4;
		if (!is_env_name(ref))
			return sfs_error_set(
			    err, -EINVAL, "source %s does not name an environment variable", spec);
	} else if (strncmp(spec, "file:", 5) == 0) {
		kind = SFS_SOURCE_FILE;
		ref = spec + 5;
		if (!*ref)
			return sfs_error_set(err, -EINVAL, "source %s has no path", spec);
	} else if (strncmp(spec, "cred:", 5) == 0) {
		kind = SFS_SOURCE_CRED;
		ref = spec + 5;
		if (!*ref || strchr(ref, '/') || strcmp(ref, ".") == 0 || strcmp(ref, "..") == 0)
			return sfs_error_set(err, -EINVAL,
					     "source %s must name a credential (no '/')", spec);
	} else if (looks_like_kind(spec, &kind_len)) {
		return sfs_error_set(err, -EINVAL,
				     "unknown source kind \"%.*s:\" in %s (expected env:, file:, "
				     "cred: or -; write file:%s for a file of that name)",
				     (int)kind_len, spec, spec, spec);
	} else {
		kind = SFS_SOURCE_FILE;
		ref = spec;
	}

	out->ref = strdup(ref);
	out->spec = strdup(spec);
	if (!out->ref || !out->spec) {
		r = sfs_error_set(err, -ENOMEM, "out of memory parsing source %s", spec);
		sfs_source_free(out);
		return r;
	}
	out->kind = kind;
	return 0;
}

void sfs_source_free(struct sfs_source *src)
{
	if (!src)
		return;
	free(src->ref);
	free(src->spec);
	src->ref = NULL;
	src->spec = NULL;
}

int sfs_source_path(const struct sfs_source *src, char *buf, size_t bufsize, struct sfs_error *err)
{
	const char *dir;
	int n;

	switch (src->kind) {
	case SFS_SOURCE_FILE:
		n = snprintf(buf, bufsize, "%s", src->ref);
		break;
	case SFS_SOURCE_CRED:
		dir = getenv("CREDENTIALS_DIRECTORY");
		if (!dir || !*dir)
			return sfs_error_set(err, -ENOENT,
					     "source %s needs $CREDENTIALS_DIRECTORY, which is not "
					     "set (is the service started with LoadCredential=?)",
					     src->spec);
		n = snprintf(buf, bufsize, "%s/%s", dir, src->ref);
		break;
	default:
		return sfs_error_set(err, -EINVAL, "source %s has no file path", src->spec);
	}
	if (n < 0 || (size_t)n >= bufsize)
		return sfs_error_set(err, -ENAMETOOLONG, "the path of source %s is too long",
				     src->spec);
	return 0;
}

/* The kernel shows /proc/PID/environ from the block the process started with
 * (env_start..env_end, fields 50 and 51 of /proc/self/stat). environ may no longer point there
 * for a variable that was setenv'ed since, so that block is searched on its own. */
static bool initial_env_block(char **start, char **end)
{
	char buf[2048];
	unsigned long long env_start = 0, env_end = 0;
	const char *p;
	ssize_t n;
	int field;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: count from the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return false;
	for (field = 2; *p && field < 50; p++)
		if (*p == ' ')
			field++;
	if (field != 50 || sscanf(p, "%llu %llu", &env_start, &env_end) != 2 || env_start == 0 ||
	    env_end <= env_start)
		return false;
	*start = (char *)(uintptr_t)env_start;
	*end = (char *)(uintptr_t)env_end;
	return true;
}

static bool wipe_entry(char *entry, size_t entry_max, const char *name, size_t name_len)
{
	if (entry_max <= name_len || strncmp(entry, name, name_len) != 0 || entry[name_len] != '=')
		return false;
	sodium_memzero(entry + name_len + 1,
		       strnlen(entry + name_len + 1, entry_max - name_len - 1));
	return true;
}

int sfs_env_scrub(const char *name)
{
	size_t name_len = strlen(name);
	char *start, *end;
	bool found = false;

	/* unsetenv alone only drops the pointer: the bytes stay where /proc/PID/environ reads
	 * them (the initial stack) or in the heap. Wipe every copy first. */
	for (char **e = environ; e && *e; e++)
		if (wipe_entry(*e, strlen(*e) + 1, name, name_len))
			found = true;
	if (initial_env_block(&start, &end)) {
		for (char *p = start; p < end;) {
			size_t len = strnlen(p, (size_t)(end - p));

			wipe_entry(p, len, name, name_len);
			p += len + 1;
		}
	}
	unsetenv(name);
	return found ? 0 : -ENOENT;
}

static int read_env(const struct sfs_source *src, const struct sfs_read_opts *opts,
		    size_t max_bytes, struct sfs_secret *out, struct sfs_error *err)
{
	const char *value = getenv(src->ref);
	size_t len;
	int r;

	if (!value)
		return sfs_error_set(err, -ENOENT, "environment variable %s is not set", src->ref);
	len = strlen(value);
	if (len == 0)
		return sfs_error_set(err, -ENODATA, "environment variable %s is empty", src->ref);
	if (len > max_bytes)
		return sfs_error_set(err, -EFBIG, "%s is larger than %zu bytes", src->spec,
				     max_bytes);
	r = sfs_secret_from(out, value, len, err);
	if (r < 0)
		return r;
	if (!opts->keep_env)
		sfs_env_scrub(src->ref);
	return 0;
}

static const char *file_type_name(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a file";
}

static int read_fd(int fd, const struct sfs_source *src, size_t max_bytes, struct sfs_secret *out,
		   struct sfs_error *err)
{
	struct stat st;
	size_t hint = 0;
	int r;

	if (fstat(fd, &st) < 0)
		return sfs_error_set(err, -errno, "cannot stat %s: %s", src->spec, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return sfs_error_set(err, -EISDIR, "%s is a directory, not a file", src->spec);
	/* A path names a regular file and nothing else: a FIFO or a device could make us wait
	 * forever for a writer or read without end. Standard input (a pipe, most of the time) is
	 * only reached through "-". */
	if (src->kind != SFS_SOURCE_STDIN && !S_ISREG(st.st_mode))
		return sfs_error_set(err, -EINVAL, "%s is %s, not a regular file%s", src->spec,
				     file_type_name(st.st_mode),
				     S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)
					 ? " (use - to read standard input)"
					 : "");
	if (S_ISREG(st.st_mode)) {
		if ((unsigned long long)st.st_size > max_bytes)
			return sfs_error_set(err, -EFBIG, "%s is larger than %zu bytes", src->spec,
					     max_bytes);
		hint = (size_t)st.st_size;
	}
	r = fs_read_secret_fd(fd, hint, max_bytes, out);
	if (r == -EFBIG)
		return sfs_error_set(err, r, "%s is larger than %zu bytes", src->spec, max_bytes);
	if (r < 0)
		return sfs_error_set(err, r, "cannot read %s: %s", src->spec, strerror(-r));
	if (out->len == 0) {
		sfs_secret_free(out);
		return sfs_error_set(err, -ENODATA, "%s is empty", src->spec);
	}
	return 0;
}

static int read_path(const struct sfs_source *src, size_t max_bytes, struct sfs_secret *out,
		     struct sfs_error *err)
{
	char path[PATH_MAX];
	int fd = -1;
	int r;

	r = sfs_source_path(src, path, sizeof(path), err);
	if (r < 0)
		return r;
	/* Following symlinks is intended here: a Kubernetes Secret volume is a symlink farm.
	 * O_NONBLOCK: opening a FIFO must not wait for a writer; read_fd then refuses anything but
	 * a regular file, on which the flag changes nothing. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT && src->kind == SFS_SOURCE_CRED)
			r = sfs_error_set(err, r, "%s: credential file %s does not exist",
					  src->spec, path);
		else if (r == -ENOENT)
			r = sfs_error_set(err, r, "%s does not exist", src->spec);
		else
			r = sfs_error_set(err, r, "cannot open %s: %s", src->spec, strerror(-r));
		goto out;
	}
	r = read_fd(fd, src, max_bytes, out, err);
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int sfs_source_read(const struct sfs_source *src, const struct sfs_read_opts *opts,
		    struct sfs_secret *out, struct sfs_error *err)
{
	static const struct sfs_read_opts defaults = {.max_bytes = SFS_MAX_SECRET_BYTES};
	size_t max_bytes;

	out->data = NULL;
	out->len = 0;
	out->cap = 0;
	if (!opts)
		opts = &defaults;
	max_bytes = opts->max_bytes ? opts->max_bytes : SFS_MAX_SECRET_BYTES;

	switch (src->kind) {
	case SFS_SOURCE_ENV:
		return read_env(src, opts, max_bytes, out, err);
	case SFS_SOURCE_STDIN:
		return read_fd(STDIN_FILENO, src, max_bytes, out, err);
	case SFS_SOURCE_FILE:
	case SFS_SOURCE_CRED:
		return read_path(src, max_bytes, out, err);
	}
	return sfs_error_set(err, -EINVAL, "unknown source kind in %s", src->spec);
}
