/* Internal I/O helpers shared by source reading and atomic writing. Not part of the API. */
#ifndef SECRET_FS_FS_IO_H
#define SECRET_FS_FS_IO_H

#include "secret_fs/secure_mem.h"

#include <stddef.h>

/* Reads `fd` to EOF straight into secure memory: the bytes never pass through an ordinary
 * buffer. `hint` sizes the first allocation (e.g. st_size); the buffer grows by allocating a
 * bigger one, copying and wiping the old. Reads at most max_bytes + 1 bytes so that oversize
 * content is detected without reading it all. Returns 0, -EFBIG (more than max_bytes; `out` is
 * left empty) or a negative errno from read/allocation. */
int fs_read_secret_fd(int fd, size_t hint, size_t max_bytes, struct sfs_secret *out);

/* Writes all `len` bytes, retrying short writes and EINTR. Returns 0 or a negative errno. */
int fs_write_all(int fd, const void *data, size_t len);

#endif
