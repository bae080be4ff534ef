/* Giving back memory before the agent goes idle for the service's lifetime.
 *
 * Startup touches a lot of library code only once (OpenSSL and libsodium initialisation,
 * validation, NSS lookups); those pages stay in the agent's RSS although nothing uses them
 * while it sleeps in epoll_wait. The read-only segments of the program and its libraries
 * (found with dl_iterate_phdr, so no /proc is needed) are dropped from the process: they stay
 * in the page cache and fault back in if a rotation needs them again. Free heap is returned
 * to the kernel. Writable segments (relocated data, RELRO) and libraries with text
 * relocations are never touched.
 */
#ifndef AGENT_IDLE_TRIM_H
#define AGENT_IDLE_TRIM_H

#include <stddef.h>

/* Returns how many KiB of mappings were released (best effort). */
size_t idle_trim_memory(void);

#endif
