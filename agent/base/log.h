/* Logging: one line per event on stderr, logfmt (`text`) or JSON (docs/design.md §11, §13).
 *
 * Every line carries ts=, level=, event= and, when it is about a secret, secret=NAME; then
 * optional key/value fields and a human message (msg=). Never pass secret bytes here: values
 * that may come from a secret are not accepted by design (only names, paths, fingerprints).
 */
#ifndef AGENT_LOG_H
#define AGENT_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_setup(enum log_format format, enum log_level min_level);
int log_parse_level(const char *s, enum log_level *out);   /* 0 or -EINVAL */
const char *log_level_name(enum log_level level);	   /* "debug", "info", ... */
int log_parse_format(const char *s, enum log_format *out); /* 0 or -EINVAL */

/* Logs one event. `secret` may be NULL. `fields` is NULL or a NULL-terminated array of
 * alternating keys and values, e.g. (const char *[]){"path", p, NULL}. `fmt` builds msg=. */
void log_event(enum log_level level, const char *event, const char *secret,
	       const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Shorthands without fields. */
#define log_info(event, secret, ...)  log_event(LOG_INFO, event, secret, NULL, __VA_ARGS__)
#define log_warn(event, secret, ...)  log_event(LOG_WARN, event, secret, NULL, __VA_ARGS__)
#define log_error(event, secret, ...) log_event(LOG_ERROR, event, secret, NULL, __VA_ARGS__)
#define log_debug(event, secret, ...) log_event(LOG_DEBUG, event, secret, NULL, __VA_ARGS__)

#endif
