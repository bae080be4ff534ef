/* Helpers shared by the harnesses that need files: one private temporary directory per
 * process (removed at exit), and writing an input into it. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The process's scratch directory, created on first use (abort() when it cannot be). */
const char *fuzz_tmpdir(void);

/* Writes `len` bytes to `name` inside fuzz_tmpdir() (replacing it) and returns its path
 * (static buffer, valid until the next call). */
const char *fuzz_write_file(const char *name, const void *data, size_t len);

/* Removes everything below `dir` (not `dir` itself), without following symlinks. */
void fuzz_empty_dir(const char *dir);

/* A string that is safe to place after "key = " on an INI line and reads back, ${}-expanded,
 * as `value`: no surrounding whitespace, no leading ';' and no "<space>;" (inih comments), no
 * control byte, at most
 * FUZZ_INI_VALUE_MAX bytes (a config line holds 198 at most). '$' is doubled. Returns false
 * when no such spelling exists. */
#define FUZZ_INI_VALUE_MAX 160
bool fuzz_ini_value(const char *value, char *out, size_t outsize);

/* Reads a memstream-like buffer: compares two texts line by line, ignoring lines that start
 * with one of the `skip` prefixes (NULL-terminated). */
bool fuzz_same_lines(const char *a, const char *b, const char *const *skip);

#endif
