/* How this library sets OpenSSL up. Internal. */
#ifndef SFS_OPENSSL_SETUP_H
#define SFS_OPENSSL_SETUP_H

#include "secret_fs/error.h"

#include <stdbool.h>

/* Initialises OpenSSL on first use (no openssl.cnf, no cipher table, no error strings) and
 * is cheap after that. Returns 0 or -EIO. */
int sfs_openssl_ready(struct sfs_error *err);

/* True once sfs_openssl_ready succeeded. Until then this library has not touched OpenSSL, and
 * clearing its error queue would only start it. */
bool sfs_openssl_started(void);

/* How many blocks OpenSSL has allocated or reallocated so far, when its allocator is the
 * library's (sfs_openssl_heap_wiped). Initialising OpenSSL allocates: 0 proves that nothing
 * in the process has started it. Not synchronised: for tests and diagnostics. */
unsigned long sfs_openssl_allocations(void);

#endif
