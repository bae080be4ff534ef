#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_format g_format = LOG_FORMAT_TEXT;
static enum log_level g_min = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_format format, enum log_level min_level)
{
	g_format = format;
	g_min = min_level;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < sizeof(level_names) / sizeof(level_names[0]) ? level_names[level]
									      : "info";
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

int log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

/* A growing line buffer; a log line longer than this is truncated, never split. */
struct line {
	char buf[4096];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->len + n >= sizeof(l->buf) - 2)
		n = sizeof(l->buf) - 2 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* A quoted string with '"', '\\' and control bytes escaped: JSON spells a control byte
 * \u00XX, logfmt \n or \xXX. */
static void put_quoted(struct line *l, const char *v, bool json)
{
	put(l, "\"", 1);
	for (const char *p = v; *p; p++) {
		char esc[8];
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(l, esc, 2);
		} else if (c == '\n' && !json) {
			put(l, "\\n", 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), json ? "\\u%04x" : "\\x%02x", c);
			puts_(l, esc);
		} else {
			put(l, p, 1);
		}
	}
	put(l, "\"", 1);
}

/* logfmt: bare when the value has no space, quote, '=' or control byte; else quoted. */
static void put_text_value(struct line *l, const char *v)
{
	bool quote = (*v == '\0');
	for (const char *p = v; *p; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20)
			quote = true;
	if (quote)
		put_quoted(l, v, false);
	else
		puts_(l, v);
}

static void put_field(struct line *l, bool first, const char *key, const char *value)
{
	if (g_format == LOG_FORMAT_JSON) {
		if (!first)
			put(l, ",", 1);
		put_quoted(l, key, true);
		put(l, ":", 1);
		put_quoted(l, value, true);
	} else {
		if (!first)
			put(l, " ", 1);
		puts_(l, key);
		put(l, "=", 1);
		put_text_value(l, value);
	}
}

/* UTC broken down by arithmetic. glibc's gmtime_r initialises the time zone on its first call
 * (it opens and parses /etc/localtime although a UTC conversion never uses it): a file read at
 * every start for nothing. Days to civil date after Howard Hinnant's days_from_civil inverse,
 * valid for any time_t this process can meet. */
static void utc_from_epoch(time_t t, struct tm *tm)
{
	long long days = t / 86400, secs = t % 86400;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	days += 719468; /* from 1970-01-01 to 0000-03-01 */
	long long era = (days >= 0 ? days : days - 146096) / 146097;
	long long doe = days - era * 146097;				       /* [0, 146096] */
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	       /* [0, 365] */
	long long mp = (5 * doy + 2) / 153;				       /* [0, 11] */
	long long mon = mp < 10 ? mp + 3 : mp - 9;			       /* [1, 12] */

	tm->tm_year = (int)(yoe + era * 400 + (mon <= 2) - 1900);
	tm->tm_mon = (int)(mon - 1);
	tm->tm_mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm->tm_hour = (int)(secs / 3600);
	tm->tm_min = (int)(secs / 60 % 60);
	tm->tm_sec = (int)(secs % 60);
}

void log_event(enum log_level level, const char *event, const char *secret,
	       const char *const *fields, const char *fmt, ...)
{
	struct line l = {.len = 0};
	char ts[80], msg[2048];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int saved_errno = errno;

	if (level < g_min)
		return;
	gettimeofday(&tv, NULL);
	utc_from_epoch(tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long)(tv.tv_usec / 1000));
	msg[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}

	if (g_format == LOG_FORMAT_JSON)
		put(&l, "{", 1);
	put_field(&l, true, "ts", ts);
	put_field(&l, false, "level", level_names[level]);
	put_field(&l, false, "event", event);
	if (secret)
		put_field(&l, false, "secret", secret);
	for (const char *const *f = fields; f && f[0] && f[1]; f += 2)
		put_field(&l, false, f[0], f[1]);
	if (msg[0])
		put_field(&l, false, "msg", msg);
	if (g_format == LOG_FORMAT_JSON)
		put(&l, "}", 1);
	l.buf[l.len++] = '\n';
	/* One write(2) per line so lines from the agent and its child never interleave mid-line. */
	ssize_t r = write(STDERR_FILENO, l.buf, l.len);
	(void)r;
	errno = saved_errno;
}
