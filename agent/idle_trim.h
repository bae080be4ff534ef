/* Giving back memory before the agent goes idle for the service's lifetime.
 *
 * Startup touches a lot of library code only once (OpenSSL and libsodium initialisation,
 * validation, NSS lookups); those pages stay in the agent's RSS although nothing uses them
 * while it sleeps in epoll_wait. Clean, read-only file-backed pages are dropped from the
 * process (they stay in the page cache and fault back in if a rotation needs them again),
 * and free heap is returned to the kernel. Pages a process has written (relocations, data)
 * are never touched.
 */
#ifndef AGENT_IDLE_TRIM_H
#define AGENT_IDLE_TRIM_H

#include <stddef.h>

/* Returns how many KiB of mappings were released (best effort; 0 when /proc is missing). */
size_t idle_trim_memory(void);

#endif
