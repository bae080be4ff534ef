/* libFuzzer harness: Secret volume layouts, built in a scratch directory from the input and
 * read the way rotation reads them: the source's path (file:), the bind-mount check, a
 * directory watch, and the bytes through the library's source reader (symlinks followed, as
 * a kubelet volume needs).
 *
 * The input is a little program. Each operation is one byte (op = b % 6) followed by its
 * operands: names are bytes indexing a table of kubelet-like names (..data, ..2026_..., key,
 * tls.crt...), link targets index a table of targets (..data/key, ../key, /, loops...),
 * contents are a length byte and that many bytes. After at most 24 operations the rest of the
 * input chooses the source path below the scratch directory, then a kubelet atomic swap
 * (new timestamped dir, ..data_tmp symlink, rename over ..data) is done while watched.
 *
 * Invariants, beyond no crash/leak/UB:
 *   1. The source path of file:P is P.
 *   2. The library reads exactly what open(2)+read(2) of P give, fails with -ENOENT exactly
 *      when P does not resolve, and with -EISDIR when it is a directory.
 *   3. A watch on P's directory that is armed sees the swap of ..data in that directory.
 */
#include "agent_entry.h"
#include "fuzz_util.h"
#include "secret_fs/secure_mem.h"
#include "secret_fs/source.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
    "..data",
    "..2026_01_01_00_00_00.1",
    "..2026_02_02_00_00_00.2",
    "..data_tmp",
    "key",
    "tls.crt",
    "tls.key",
    "ca.crt",
    "sub",
    "..data/key",
    "..data/sub",
    "sub/key",
    "..2026_01_01_00_00_00.1/key",
    "..2026_02_02_00_00_00.2/key",
    "key/",
    "..",
};
static const char *const targets[] = {
    "..data/key",
    "..2026_01_01_00_00_00.1",
    "..2026_02_02_00_00_00.2",
    "..data",
    "key",
    "../key",
    "/",
    "/nonexistent",
    ".",
    "..data/tls.crt",
    "sub/key",
    "..data_tmp",
    "..data/..data/key",
    "",
    "/dev/null",
    "../../../../../../etc/hostname",
};

#define NAME(b)	  names[(b) % (sizeof(names) / sizeof(names[0]))]
#define TARGET(b) targets[(b) % (sizeof(targets) / sizeof(targets[0]))]

struct input {
	const uint8_t *p, *end;
};

static int next(struct input *in)
{
	return in->p < in->end ? *in->p++ : -1;
}

/* Builds the tree; every operation may fail (that is part of the layout). */
static void build(int dir, struct input *in)
{
	for (int ops = 0; ops < 24; ops++) {
		int op = next(in), a, b, len;
		uint8_t content[256];

		if (op < 0 || op == 0xff) /* 0xff ends the program */
			return;
		switch (op % 6) {
		case 0:
			if ((a = next(in)) >= 0)
				mkdirat(dir, NAME(a), (op & 0x80) ? 0 : 0755);
			break;
		case 1:
			if ((a = next(in)) >= 0 && (b = next(in)) >= 0)
				(void)!symlinkat(TARGET(b), dir, NAME(a)); /* may fail: still a layout */
			break;
		case 2:
			if ((a = next(in)) < 0 || (len = next(in)) < 0)
				return;
			len %= 64;
			for (int i = 0; i < len; i++)
				content[i] = (uint8_t)((b = next(in)) < 0 ? 0 : b);
			{
				int fd = openat(dir, NAME(a),
						O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
						    O_CLOEXEC | O_NONBLOCK,
						(op & 0x80) ? 0 : 0644);
				if (fd >= 0) {
					if (write(fd, content, (size_t)len) < 0) {
						/* a short layout is still a layout */
					}
					close(fd);
				}
			}
			break;
		case 3:
			if ((a = next(in)) >= 0 && (b = next(in)) >= 0)
				renameat(dir, NAME(a), dir, NAME(b));
			break;
		case 4:
			if ((a = next(in)) >= 0)
				unlinkat(dir, NAME(a), (op & 0x80) ? AT_REMOVEDIR : 0);
			break;
		default:
			if ((a = next(in)) >= 0)
				(void)!fchmodat(dir, NAME(a), (op & 0x80) ? 0 : 0755, 0);
			break;
		}
	}
}

/* What the kernel gives for `path`: 0 with the bytes, or -errno. Never blocks: the layout has
 * no FIFO, and O_NONBLOCK covers a device the links may reach. */
static int plain_read(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode)) {
		int r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;

		close(fd);
		return r;
	}
	n = read(fd, buf, cap);
	close(fd);
	if (n < 0)
		return -errno;
	*len = (size_t)n;
	return 0;
}

/* The kubelet's atomic update: a new timestamped dir, ..data_tmp -> it, renamed over ..data. */
static bool kubelet_swap(int dir)
{
	mkdirat(dir, "..2026_03_03_00_00_00.3", 0755);
	(void)!symlinkat("..2026_03_03_00_00_00.3", dir, "..data_tmp"); /* the rename decides */
	return renameat(dir, "..data_tmp", dir, "..data") == 0;
}

/* The layouts plant links to "/", "/dev/null" and "../../../../../../etc/hostname", then chmod,
 * create, rename and remove through them (a path such as "..data/key" follows ..data): as root
 * that changes the machine itself (seen: "/" and /dev/null chmod'ed to 0). So the harness runs
 * as nobody, for good, once its scratch directory is handed over: the worst a layout can then
 * do outside the scratch directory is what any user may. */
static void run_as_nobody(void)
{
	const uid_t nobody = 65534;

	if (geteuid() != 0)
		return;
	if (chown(fuzz_tmpdir(), nobody, nobody) < 0 || setgroups(0, NULL) < 0 ||
	    setresgid(nobody, nobody, nobody) < 0 || setresuid(nobody, nobody, nobody) < 0 ||
	    setuid(0) == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool initialised;
	struct input in = {data, data + size};
	char root[256], spec[PATH_MAX], path[PATH_MAX], msg[512], rel[48];
	uint8_t expect[512];
	size_t expect_len = 0, rel_len = 0;
	struct sfs_read_opts opts = {.max_bytes = 128};
	struct sfs_secret got = {0};
	struct sfs_error err = {0};
	struct fuzz_watch *w = NULL;
	bool is_mount;
	int dir, plain, r;

	if (!initialised) {
		if (sfs_init(NULL) < 0)
			abort();
		run_as_nobody();
		initialised = true;
	}
	/* The name ".." reaches the scratch directory itself: a chmod may have locked it. */
	chmod(fuzz_tmpdir(), 0700);
	snprintf(root, sizeof(root), "%s/vol", fuzz_tmpdir());
	chmod(root, 0700);
	fuzz_empty_dir(root);
	rmdir(root);
	if (mkdir(root, 0755) < 0 || (dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	build(dir, &in);

	/* The source path: printable bytes from the rest of the input, default "key". */
	while (in.p < in.end && rel_len < sizeof(rel) - 1) {
		uint8_t c = *in.p++;

		if (c >= 0x21 && c < 0x7f)
			rel[rel_len++] = (char)c;
	}
	rel[rel_len] = '\0';
	snprintf(spec, sizeof(spec), "file:%s/%s", root, rel_len ? rel : "key");
	if (fuzz_source_path(spec, path, sizeof(path), msg, sizeof(msg)) < 0 ||
	    strcmp(path, spec + 5) != 0)
		abort(); /* invariant 1 */

	fuzz_is_mount_point(NULL, path, &is_mount);

	/* Compared with what the kernel gives (plain_read reads more than max_bytes so that a
	 * larger file is known to be refused). */
	plain = plain_read(path, expect, sizeof(expect), &expect_len);
	r = sfs_source_read(
	    &(struct sfs_source){.kind = SFS_SOURCE_FILE, .ref = path, .spec = spec}, &opts, &got,
	    &err);
	if (r == 0 &&
	    (plain < 0 || got.len != expect_len || memcmp(got.data, expect, got.len) != 0))
		abort(); /* invariant 2 */
	if ((r == -ENOENT) != (plain == -ENOENT) || (plain == -EISDIR && r != -EISDIR))
		abort(); /* invariant 2 */
	sfs_secret_free(&got);

	/* The watch on P's directory sees a swap of ..data in it, when P is directly below the
	 * volume and the watch is armed. */
	if (fuzz_watch_start(&w, path) == 0) {
		bool direct = !strchr(rel_len ? rel : "key", '/');
		bool armed = fuzz_watch_armed(w) > 0;

		fuzz_watch_collect(w); /* events from before the swap */
		if (kubelet_swap(dir) && direct && armed && !fuzz_watch_collect(w))
			abort(); /* invariant 3 */
		fuzz_watch_stop(w);
	}
	close(dir);
	return 0;
}
