/* Typed values of the configuration: parsing and the plan's formatting. Pure functions on text
 * and numbers (no config object), shared by the key table, the flags and the tests. Each parser
 * returns 0 or -EINVAL and leaves its output untouched on failure. */
#ifndef AGENT_CONFIG_VALUES_H
#define AGENT_CONFIG_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Parsers shared with the flags and tests. Return 0 or -EINVAL. */
int config_parse_duration_ms(const char *s, uint64_t *out); /* "100ms", "5s", "2m", "0" */
int config_parse_mode(const char *s, mode_t *out);	    /* octal, <= 07777 */
int config_parse_signal(const char *s, int *out);	    /* "SIGHUP", "HUP", "1" */

/* (config_parse_duration_ms, config_parse_mode and config_parse_signal are in config.h.) */

/* yes/no, true/false, on/off, 1/0 (any case). */
int config_parse_bool(const char *s, bool *out);
/* A non-negative decimal integer up to `max`. */
int config_parse_uint(const char *s, unsigned max, unsigned *out);
/* A listening address: IPv4 "A.B.C.D:PORT" or IPv6 "[ADDR]:PORT", port 1 to 65535. */
int config_parse_listen_address(const char *s);
/* "100ms", "5s", "2m", "0": the shortest exact form, for the plan. */
void config_format_duration(uint64_t ms, char *buf, size_t bufsize);
/* "SIGHUP" for 1, or the number. */
void config_format_signal(int sig, char *buf, size_t bufsize);
/* [A-Za-z0-9._:@+-]{1,64}: names appear in logs, messages and `cert =`/`ca =` references. */
bool config_secret_name_ok(const char *name);

#endif
