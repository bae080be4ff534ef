#include "fs_io.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static int grow(struct sfs_secret *buf, size_t new_cap)
{
	struct sfs_secret bigger;
	int r = sfs_secret_alloc(&bigger, new_cap, NULL);

	if (r < 0)
		return r;
	if (buf->len)
		memcpy(bigger.data, buf->data, buf->len);
	bigger.len = buf->len;
	/* sfs_secret_free wipes the old copy before releasing it. */
	sfs_secret_free(buf);
	*buf = bigger;
	return 0;
}

int fs_read_secret_fd(int fd, size_t hint, size_t max_bytes, struct sfs_secret *out)
{
	/* One byte beyond the limit tells "exactly max" from "too large". */
	size_t limit = max_bytes + 1;
	size_t cap = hint + 1;
	struct sfs_secret buf = {0};
	int r;

	if (cap < 256)
		cap = 256;
	if (cap > limit)
		cap = limit;
	r = sfs_secret_alloc(&buf, cap, NULL);
	if (r < 0)
		goto out;

	for (;;) {
		ssize_t n;

		if (buf.len == buf.cap) {
			size_t next;

			if (buf.cap >= limit) {
				r = -EFBIG;
				goto out;
			}
			next = buf.cap * 2 < limit ? buf.cap * 2 : limit;
			r = grow(&buf, next);
			if (r < 0)
				goto out;
		}
		n = read(fd, buf.data + buf.len, buf.cap - buf.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		buf.len += (size_t)n;
	}
	if (buf.len > max_bytes) {
		r = -EFBIG;
		goto out;
	}
	*out = buf;
	buf = (struct sfs_secret){0};
	r = 0;
out:
	sfs_secret_free(&buf);
	return r;
}

int fs_write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
