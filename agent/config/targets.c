/* Comparing targets as files rather than as text: "/x/k.pem", "/x/./k.pem" and
 * "/link-to-x/k.pem" are one file, and two secrets writing it would overwrite each other. */
#include "config/targets.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

int config_normalize_path(const char *in, char *out, size_t outsize)
{
	size_t len = 0;

	if (outsize < 2)
		return -ENAMETOOLONG;
	for (const char *p = in; *p;) {
		size_t n;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.')) {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 0 && out[len] != '/')
				len--;
			out[len] = '\0';
			p += n;
			continue;
		}
		if (len + 1 + n + 1 > outsize)
			return -ENAMETOOLONG;
		out[len++] = '/';
		memcpy(out + len, p, n);
		len += n;
		out[len] = '\0';
		p += n;
	}
	if (len == 0)
		memcpy(out, "/", 2);
	return 0;
}

/* The identity of an existing file, or false. */
static bool file_id(const char *path, bool follow, dev_t *dev, ino_t *ino)
{
	struct stat st;

	if ((follow ? stat(path, &st) : lstat(path, &st)) < 0)
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

static bool same_file(const char *a, const char *b, bool follow)
{
	dev_t da, db;
	ino_t ia, ib;

	return file_id(a, follow, &da, &ia) && file_id(b, follow, &db, &ib) && da == db && ia == ib;
}

bool config_same_target(const char *a, const char *b)
{
	char na[PATH_MAX], nb[PATH_MAX];
	char *slash_a, *slash_b;

	if (config_normalize_path(a, na, sizeof(na)) < 0 ||
	    config_normalize_path(b, nb, sizeof(nb)) < 0)
		return strcmp(a, b) == 0;
	if (strcmp(na, nb) == 0)
		return true;
	if (same_file(na, nb, false))
		return true;
	/* The same name in the same directory, however that directory was reached. */
	slash_a = strrchr(na, '/');
	slash_b = strrchr(nb, '/');
	if (strcmp(slash_a + 1, slash_b + 1) != 0)
		return false;
	*slash_a = '\0';
	*slash_b = '\0';
	return same_file(*na ? na : "/", *nb ? nb : "/", true);
}
